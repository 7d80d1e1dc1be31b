//! The API budget: a configuration over its share of the 300 requests a minute is refused
//! at start-up (exit 2) with its arithmetic, and the figure the exporter publishes is the
//! one worked out by hand for the configuration and the queues the simulator lists.

use std::time::Duration;

use genesys_exporter::config::QueryConfig;
use genesys_sim::{SimulatedOrg, SimulatorConfig};
use genesys_wire::time::Clock;

use crate::util::{
    exporter::{config_for, start_exporter},
    process::exit_on_config,
    samples::value,
    sim::{afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

/// `text` with every run of spaces made one, so that lines compare whatever the padding.
fn squeezed(text: &str) -> String {
    text.split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn an_over_budget_configuration_is_refused_at_start_with_its_arithmetic() {
    // The demo org: six queues.
    let sim = start_simulator(afternoon_sim()).await;
    let config = format!(
        "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n\
         api_budget_share = 0.01\n\
         [[queries]]\nname = \"default\"\n\
         [[queries]]\nname = \"live\"\nwindow = \"10m\"\nrefresh = \"30s\"\n\
         [[queries]]\nname = \"hour\"\nwindow = \"1h\"\nrefresh = \"30s\"\n",
        url = sim.url
    );
    let (status, log) = exit_on_config(&config, &["--listen", "127.0.0.1:0"]).await;
    assert_eq!(status.code(), Some(2), "{log}");

    // By hand: a 15-minute bucket, two reads a minute for each rolling query, the six
    // queues observed in one request every 15 s, and one page of the queue list and the
    // presence definitions an hour: 1/15 + 2 + 2 + 4 + 1/60 + 1/60 = 8.10 a minute. 1% of
    // 300 is 3.
    let said = squeezed(&log);
    for line in [
        "configuration: the API budget is exceeded: in steady state the exporter would send 8.10 requests a minute, more than api_budget_share = 0.01 of the 300 one OAuth client may send (3 a minute):",
        "query default (PT15M buckets) 1 request every PT15M = 0.07 a minute",
        "query live (10m window, every 30s) 1 request every 30s = 2.00 a minute",
        "query hour (60m window, every 30s) 1 request every 30s = 2.00 a minute",
        "observations (6 queues, 100 a request) 1 request every 15s = 4.00 a minute",
        "queue list (6 queues, 100 a page) 1 request every 1h = 0.02 a minute",
        "presence definitions 1 request every 1h = 0.02 a minute",
        "total: 8.10 requests a minute; allowed: api_budget_share 0.01 × 300 = 3 a minute",
        "to fit: refresh the rolling queries less often; or drop queries you do not need; or raise api_budget_share to 0.03 (if nothing else uses this OAuth client)",
    ] {
        assert!(said.contains(line), "{line}\nnot in:\n{log}");
    }
    // The queue list was read, to count the queues; no query was polled.
    let counts = sim.simulator.requests();
    assert_eq!(counts.queues, 1, "{counts:?}");
    assert_eq!(counts.aggregates, 0, "{counts:?}");
    assert_eq!(counts.observations, 0, "{counts:?}");
}

#[tokio::test]
async fn the_budget_gauge_is_the_figure_worked_out_by_hand() {
    // 250 queues: three pages of the queue list.
    let org = SimulatedOrg::with_queues(250, vec!["voice".into()]);
    let sim = start_simulator(SimulatorConfig {
        org,
        ..afternoon_sim()
    })
    .await;
    let queries = vec![
        QueryConfig {
            name: "default".into(),
            ..QueryConfig::default()
        },
        QueryConfig {
            name: "live".into(),
            window: Some(Duration::from_secs(600)),
            refresh: Some(Duration::from_secs(60)),
            ..QueryConfig::default()
        },
        QueryConfig {
            name: "daily".into(),
            granularity: Some("P1D".into()),
            ..QueryConfig::default()
        },
    ];
    let mut config = config_for(&sim, queries);
    config.queue_names_refresh = Some(Duration::from_secs(1800));
    let clock = Clock::starting_at("2026-08-20T14:07:30Z".parse().unwrap());
    let exporter = start_exporter(config, clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_api_budget_requests_per_minute", &[]).is_some()
    })
    .await;

    // A bucket every 15 minutes, a read every minute, a day counted at its shortest (23
    // hours), and three pages of the queue list every 30 minutes.
    let by_hand = 1.0 / 15.0 + 1.0 + 1.0 / (23.0 * 60.0) + 3.0 / 30.0;
    let published = value(&samples, "genesys_api_budget_requests_per_minute", &[]).unwrap();
    assert!(
        (published - by_hand).abs() < 1e-9,
        "published {published}, by hand {by_hand}"
    );
    // The queue list took as many pages as the budget counts.
    assert_eq!(sim.simulator.requests().queues, 3);
}
