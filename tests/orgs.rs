//! Several orgs in one process: each org's data, from its own simulator, under its `org`
//! label; one org's outage never slows or blanks another; reloads add and remove orgs;
//! `report --org` reports on one.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::config::{Config, DEFAULT_METRICS, ObservationsConfig, OrgConfig, Settings};
use genesys_sim::aggregate;
use genesys_wire::time::Clock;
use jiff::Timestamp;
use serde_json::json;

use crate::util::{
    expected::{assert_same_samples, demo_request, samples_of},
    exporter::{BUCKET, start_exporter_with},
    files::{temp_dir, write_file},
    http::get,
    orgs::{config_text, has_org, hourly_up, org_data, simulated},
    process::{hang_up, output_text, start_binary},
    samples::{Samples, parse, value},
    sim::{Sim, clear_faults, set_fault},
    wait::wait_for_metrics,
};

/// The `[[orgs]]` table of the org `name` served by `sim`.
fn org_table(name: &str, sim: &Sim) -> OrgConfig {
    OrgConfig::at(
        name,
        &format!("{name}-client"),
        &format!("{name}-secret"),
        &sim.url,
    )
}

/// Two orgs, east and west, each on its own simulator, running the default query; no
/// observations, so that only the aggregates requests run. The retry policy's and
/// breaker's waits are cut a hundredfold, as in `util::fast_settings`.
fn two_orgs(east: &Sim, west: &Sim) -> Settings {
    let config = Config {
        orgs: vec![org_table("east", east), org_table("west", west)],
        observations: ObservationsConfig {
            enabled: Some(false),
            ..ObservationsConfig::default()
        },
        ..Config::default()
    };
    let mut settings = config.validate().unwrap();
    settings.retry_delay = Duration::from_millis(200);
    for org in &mut settings.orgs {
        org.client.retry.backoff_base = Duration::from_millis(10);
        org.client.retry.backoff_max = Duration::from_millis(100);
        org.client.breaker.cool_down = Duration::from_millis(600);
    }
    settings
}

fn of_org<'a>(org: &'a str, labels: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = labels.to_vec();
    labels.push(("org", org));
    labels
}

fn up(samples: &Samples, org: &str) -> Option<f64> {
    value(samples, "genesys_up", &of_org(org, &[("query", "default")]))
}

/// The end of the interval `org` publishes, as `14:15`.
fn interval_end(samples: &Samples, org: &str) -> String {
    let labels = of_org(org, &[("query", "default")]);
    let end = value(samples, "genesys_interval_end_timestamp_seconds", &labels)
        .unwrap_or_else(|| panic!("no interval for org {org}"));
    Timestamp::from_second(end as i64)
        .unwrap()
        .strftime("%H:%M")
        .to_string()
}

/// `org`'s Genesys data series, without their org label.
fn data_of(samples: &Samples, org: &str) -> Samples {
    samples
        .iter()
        .filter(|((name, labels), _)| {
            name.starts_with("genesys_conversation_") && labels.get("org").is_some_and(|o| o == org)
        })
        .map(|((name, labels), value)| {
            let mut labels = labels.clone();
            labels.remove("org");
            ((name.clone(), labels), *value)
        })
        .collect()
}

/// What the default query publishes for `org` over [start, end), from the simulator's
/// own answer.
fn expected(org: &str, start: &str, end: &str) -> Samples {
    let request = demo_request(
        start.parse().unwrap(),
        end.parse().unwrap(),
        "PT15M",
        DEFAULT_METRICS,
    );
    let data = org_data(org);
    samples_of("default", &aggregate(&data, &request).unwrap(), &data)
}

/// A weekday afternoon, when every queue of both orgs has traffic.
const AFTERNOON: &str = "2026-08-20T14:07:00Z";

#[tokio::test]
async fn each_org_publishes_its_own_data_under_its_org_label() {
    let (east, west) = (simulated("east").await, simulated("west").await);
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter_with(two_orgs(&east, &west), clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "east") == Some(1.0) && up(s, "west") == Some(1.0)
    })
    .await;

    for org in ["east", "west"] {
        assert_eq!(interval_end(&samples, org), "14:00");
        let expected = expected(org, "2026-08-20T13:45:00Z", "2026-08-20T14:00:00Z");
        assert_same_samples(&data_of(&samples, org), &expected);
    }
    // Two orgs' data, not one org's twice: the same queue name, different IDs and counts.
    let sales = |org: &str| -> (String, f64) {
        samples
            .iter()
            .find(|((name, labels), _)| {
                name == "genesys_conversation_offered"
                    && labels.get("org").is_some_and(|o| o == org)
                    && labels.get("queue").is_some_and(|q| q == "Sales")
                    && labels.get("media_type").is_some_and(|m| m == "voice")
            })
            .map(|((_, labels), value)| (labels["queue_id"].clone(), *value))
            .unwrap_or_else(|| panic!("no Sales voice offered for {org}"))
    };
    let (east_sales, west_sales) = (sales("east"), sales("west"));
    assert_ne!(east_sales.0, west_sales.0, "each org has its own queue IDs");
    // Each org's own requests: its token, its queue list, its aggregates.
    for sim in [&east, &west] {
        let requests = sim.simulator.requests();
        assert_eq!(requests.token, 1);
        assert!(requests.aggregates >= 1 && requests.queues >= 1);
        assert_eq!(requests.unauthorized, 0);
    }
    // The landing page and /readyz name the org of each query.
    let landing = get(&exporter.url).await.body;
    for org in ["east", "west"] {
        assert!(
            landing.contains(&format!("<td>default (org &quot;{org}&quot;)</td>")),
            "{landing}"
        );
    }
    assert_eq!(get(&format!("{}/readyz", exporter.url)).await.status, 200);
    // Self-metrics are per org too; the process's own are not.
    for org in ["east", "west"] {
        let requests = value(
            &samples,
            "genesys_api_requests_total",
            &[("org", org), ("endpoint", "aggregates")],
        );
        assert!(requests.is_some_and(|n| n >= 1.0), "{org}: {requests:?}");
        assert_eq!(
            value(&samples, "genesys_circuit_breaker_state", &[("org", org)]),
            Some(0.0)
        );
    }
    assert!(
        samples
            .keys()
            .filter(|(name, _)| name.starts_with("genesys_exporter_"))
            .all(|(_, labels)| !labels.contains_key("org"))
    );
    assert!(
        samples
            .keys()
            .filter(
                |(name, _)| name.starts_with("genesys_") && !name.starts_with("genesys_exporter_")
            )
            .all(|(_, labels)| labels.contains_key("org")),
        "every org-scoped series names its org"
    );
}

#[tokio::test]
async fn one_orgs_503_storm_never_slows_or_blanks_another() {
    let (east, west) = (simulated("east").await, simulated("west").await);
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter_with(two_orgs(&east, &west), clock.clone()).await;
    let before = wait_for_metrics(&exporter.url, |s| {
        up(s, "east") == Some(1.0) && up(s, "west") == Some(1.0)
    })
    .await;
    let east_before = data_of(&before, "east");

    // East answers every request 503; then the next bucket (14:00–14:15) completes.
    set_fault(&east, json!({"fault": "unavailable"})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| {
        // East's breaker has opened: open (2), or half-open (1) while a probe is out. It
        // cycles between the two every cool-down while the 503s last, and the gauge shows
        // the state of the last publish: waiting for one of them alone is a race.
        let breaker = value(s, "genesys_circuit_breaker_state", &[("org", "east")]);
        interval_end(s, "west") == "14:15" && breaker.is_some_and(|state| state >= 1.0)
    })
    .await;
    // West published the new bucket, its own data, on its own healthy client.
    let expected_west = expected("west", "2026-08-20T14:00:00Z", "2026-08-20T14:15:00Z");
    assert_same_samples(&data_of(&samples, "west"), &expected_west);
    assert_eq!(up(&samples, "west"), Some(1.0));
    assert_eq!(
        value(
            &samples,
            "genesys_circuit_breaker_state",
            &[("org", "west")]
        ),
        Some(0.0)
    );
    let failures = |org: &str| {
        value(
            &samples,
            "genesys_api_failures_total",
            &[
                ("org", org),
                ("endpoint", "aggregates"),
                ("reason", "server_error"),
            ],
        )
    };
    assert_eq!(failures("west"), Some(0.0));
    assert!(failures("east").is_some_and(|n| n >= 1.0));
    // East is down, but its last good data is still served (within its max age).
    assert_eq!(up(&samples, "east"), Some(0.0));
    assert_eq!(interval_end(&samples, "east"), "14:00");
    assert_eq!(data_of(&samples, "east"), east_before);

    // East recovers on its own and catches up on the latest bucket.
    clear_faults(&east).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "east") == Some(1.0) && interval_end(s, "east") == "14:15"
    })
    .await;
    let expected_east = expected("east", "2026-08-20T14:00:00Z", "2026-08-20T14:15:00Z");
    assert_same_samples(&data_of(&samples, "east"), &expected_east);
}

#[tokio::test]
async fn a_reload_starts_a_new_org_and_removes_a_dropped_one() {
    let (east, west) = (simulated("east").await, simulated("west").await);
    let (process, url, dir) = start_binary(&config_text(&[("east", &east)]), &[]).await;
    let samples = wait_for_metrics(&url, |s| hourly_up(s, "east") == Some(1.0)).await;
    let last_success = |s: &Samples, org: &str| {
        value(
            s,
            "genesys_last_success_timestamp_seconds",
            &[("org", org), ("query", "hourly")],
        )
    };
    let east_polled = last_success(&samples, "east");
    assert!(!has_org(&samples, "west"));

    // West added: it starts; east goes on untouched (not polled again).
    write_file(
        &dir,
        "genesys.toml",
        &config_text(&[("east", &east), ("west", &west)]),
    );
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| hourly_up(s, "west") == Some(1.0)).await;
    assert_eq!(last_success(&samples, "east"), east_polled);
    assert_eq!(east.simulator.requests().aggregates, 1);
    assert_eq!(
        value(
            &samples,
            "genesys_exporter_config_last_reload_successful",
            &[]
        ),
        Some(1.0)
    );

    // North added, with a client its Genesys does not know: the reload is accepted, north
    // fails on its own, and the ready exporter stays ready.
    let three = config_text(&[("east", &east), ("west", &west), ("north", &east)]);
    write_file(&dir, "genesys.toml", &three);
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| {
        let labels = [("org", "north"), ("query", "hourly")];
        value(s, "genesys_poll_failures_total", &labels).is_some_and(|n| n >= 1.0)
    })
    .await;
    assert_eq!(hourly_up(&samples, "north"), Some(0.0));
    assert_eq!(hourly_up(&samples, "west"), Some(1.0));
    assert_eq!(get(&format!("{url}/readyz")).await.status, 200);

    // East and north removed: every series of theirs leaves /metrics; west stays.
    write_file(&dir, "genesys.toml", &config_text(&[("west", &west)]));
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| !has_org(s, "east") && !has_org(s, "north")).await;
    assert_eq!(hourly_up(&samples, "west"), Some(1.0));
    assert_eq!(west.simulator.requests().aggregates, 1);

    // Refused reloads change west too (a query of its own): nothing of it applies.
    let with_west_new = |text: String| {
        text.replace(
            "\n[[orgs]]\nname = \"north\"",
            "\n[[orgs.queries]]\nname = \"west_new\"\ngranularity = \"PT1H\"\n\n[[orgs]]\nname = \"north\"",
        )
    };
    let untouched = |samples: &Samples| {
        assert!(
            !samples
                .keys()
                .any(|(_, labels)| labels.get("query").is_some_and(|q| q == "west_new"))
        );
        assert!(!has_org(samples, "north"));
        assert_eq!(hourly_up(samples, "west"), Some(1.0));
        assert_eq!(west.simulator.requests().aggregates, 1);
    };

    // An org that fails validation: refused, named, and the running orgs stay.
    let broken = with_west_new(config_text(&[("west", &west), ("north", &east)]))
        .replace("client_id = \"north-client\"\n", "");
    write_file(&dir, "genesys.toml", &broken);
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_exporter_config_last_reload_successful", &[]) == Some(0.0)
    })
    .await;
    untouched(&samples);
    process.wait_for_log("orgs[1].client_id: missing").await;

    // A new org over its own API budget: west's two hourly queries and queue list cost
    // 0.05 requests a minute, north's window read every 30 s 2 more, and 0.005 of 300
    // allows 1.5. Refused, named, and nothing of north shows.
    let greedy = format!(
        "api_budget_share = 0.005\n{}\n[[orgs.queries]]\nname = \"live\"\nwindow = \"5m\"\nrefresh = \"30s\"\n",
        with_west_new(config_text(&[("west", &west), ("north", &east)]))
    );
    write_file(&dir, "genesys.toml", &greedy);
    hang_up(&process);
    process
        .wait_for_log("the API budget of org north is exceeded")
        .await;
    untouched(&parse(&get(&format!("{url}/metrics")).await.body));
}

#[tokio::test]
async fn check_config_lists_each_orgs_queries() {
    let (east, west) = (simulated("east").await, simulated("west").await);
    let dir = temp_dir();
    // West, the last table, gets a query of its own.
    let text = config_text(&[("east", &east), ("west", &west)])
        + "\n[[orgs.queries]]\nname = \"daily\"\ngranularity = \"P1D\"\n";
    let path = write_file(&dir, "genesys.toml", &text);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .args(["--config", path.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let said = output_text(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("configuration is valid: org east: 1 queries (hourly)"),
        "{said}"
    );
    assert!(
        said.contains("configuration is valid: org west: 2 queries (hourly, daily)"),
        "{said}"
    );
}

#[tokio::test]
async fn report_org_reports_on_the_named_org_only() {
    let (east, west) = (simulated("east").await, simulated("west").await);
    let dir = temp_dir();
    let path = write_file(
        &dir,
        "genesys.toml",
        &config_text(&[("east", &east), ("west", &west)]),
    );
    let report = |extra: &[&str]| {
        let args = [
            "report",
            "--config",
            path.to_str().unwrap(),
            "--from",
            "2026-08-20T12:00:00Z",
            "--to",
            "2026-08-20T13:00:00Z",
            "--granularity",
            "PT1H",
            "--group-by",
            "queueId",
            "--metrics",
            "nOffered",
            "--format",
            "csv",
        ];
        let args: Vec<String> = args.iter().chain(extra).map(|a| a.to_string()).collect();
        // Off the runtime, which serves the simulators the report asks.
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
                .args(&args)
                .output()
                .unwrap()
        })
    };

    let output = report(&["--org", "west"]).await.unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("interval_start,interval_end,queue_id,queue,offered")
    );
    let reported: BTreeMap<String, f64> = rows
        .map(|row| {
            let cells: Vec<&str> = row.split(',').collect();
            (cells[2].to_owned(), cells[4].parse().unwrap())
        })
        .collect();
    let mut request = demo_request(
        "2026-08-20T12:00:00Z".parse().unwrap(),
        "2026-08-20T13:00:00Z".parse().unwrap(),
        "PT1H",
        &["nOffered"],
    );
    request.group_by = vec!["queueId".into()];
    let answer = aggregate(&org_data("west"), &request).unwrap();
    let expected: BTreeMap<String, f64> = answer
        .results
        .iter()
        .map(|group| {
            let count = group.data[0].metrics[0].stats.count.unwrap();
            (group.group["queueId"].clone(), count)
        })
        .collect();
    assert_eq!(reported, expected);
    assert_eq!(east.simulator.requests().aggregates, 0, "east is not asked");

    // Several orgs and no --org: the choice is named.
    let output = report(&[]).await.unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", output_text(&output));
    let text = output_text(&output);
    assert!(
        text.contains("the configuration has several orgs; choose one with --org (east, west)"),
        "{text}"
    );
    let output = report(&["--org", "north"]).await.unwrap();
    assert!(
        output_text(&output)
            .contains("--org north: no [[orgs]] table has that name; use one of east, west"),
        "{}",
        output_text(&output)
    );
}
