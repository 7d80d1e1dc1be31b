//! Data actions against the simulator: an actions query's gauges are the simulator's own
//! action calls of the bucket, with the actions' names beside their IDs; a 403 on the
//! action aggregates leaves every other source publishing.

use std::collections::BTreeMap;

use genesys_exporter::config::QueryConfig;
use genesys_sim::{SimulatorConfig, flow_records};
use genesys_wire::time::Clock;

use crate::util::{
    exporter::{config_for, start_exporter},
    http::get,
    samples::{Samples, of, published_window_of, value},
    sim::{AFTERNOON, afternoon_sim, forbidden, start_simulator},
    wait::wait_for_metrics,
};

type Series = BTreeMap<BTreeMap<String, String>, f64>;

/// The default conversations query and an actions query of PT15M buckets named `actions`.
fn queries() -> Vec<QueryConfig> {
    vec![
        QueryConfig {
            name: "default".into(),
            ..QueryConfig::default()
        },
        QueryConfig {
            name: "actions".into(),
            source: Some("actions".into()),
            ..QueryConfig::default()
        },
    ]
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

/// The series of gauge `name` of the actions query, by their labels but `query`.
fn actions(samples: &Samples, name: &str) -> Series {
    samples
        .iter()
        .filter(|((gauge, labels), _)| {
            gauge == name && labels.get("query").map(String::as_str) == Some("actions")
        })
        .map(|((_, labels), value)| {
            let mut labels = labels.clone();
            labels.remove("query");
            (labels, *value)
        })
        .collect()
}

#[tokio::test]
async fn an_actions_query_publishes_the_simulators_action_calls_of_the_bucket_with_names() {
    let sim = start_simulator(afternoon_sim()).await;
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config_for(&sim, queries()), clock).await;
    // Both queries polled: either may answer first.
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "actions") == Some(1.0) && up(s, "default") == Some(1.0)
    })
    .await;
    let (start, end) = published_window_of(&samples, "actions");

    // The truth, from the simulator's records: per action, error type and status, the
    // executions, their total and their longest time, in seconds.
    let (mut executions, mut seconds, mut longest) = (Series::new(), Series::new(), Series::new());
    sim.simulator.flow_truth(|org, architect, surges| {
        for record in flow_records(org, architect, surges, start, end) {
            for call in &record.calls {
                let labels: BTreeMap<String, String> = [
                    ("action_id", call.action.id.as_str()),
                    ("action", call.action.name.as_str()),
                    ("error_type", call.error_type.unwrap_or_default()),
                    ("response_status", call.response_status),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                let took = call.duration_ms as f64 / 1000.0;
                *executions.entry(labels.clone()).or_default() += 1.0;
                *seconds.entry(labels.clone()).or_default() += took;
                let max = longest.entry(labels).or_default();
                *max = max.max(took);
            }
        }
    });
    assert!(
        executions.values().sum::<f64>() > 50.0,
        "a busy afternoon: {executions:?}"
    );
    assert!(
        executions.keys().any(|l| l["response_status"] != "200"),
        "some fail: {executions:?}"
    );
    assert_eq!(
        actions(&samples, "genesys_data_action_executions"),
        executions
    );
    assert_eq!(
        actions(&samples, "genesys_data_action_execution_seconds_max"),
        longest
    );
    // Sums of milliseconds, divided by 1000 once: equal to a rounding.
    let published = actions(&samples, "genesys_data_action_execution_seconds");
    assert_eq!(
        published.keys().collect::<Vec<_>>(),
        seconds.keys().collect::<Vec<_>>()
    );
    for (labels, total) in &seconds {
        assert!((published[labels] - total).abs() < 1e-6, "{labels:?}");
    }
    let names: Vec<&str> = executions.keys().map(|l| l["action"].as_str()).collect();
    assert!(names.contains(&"Lookup account"), "{names:?}");
    assert_eq!(up(&samples, "default"), Some(1.0));
}

#[tokio::test]
async fn a_403_on_action_aggregates_leaves_every_other_source_publishing() {
    let sim = start_simulator(SimulatorConfig {
        faults: vec![forbidden(genesys_wire::ACTION_QUERY_PATH)],
        ..afternoon_sim()
    })
    .await;
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config_for(&sim, queries()), clock).await;
    let forbidden = [("endpoint", "action_aggregates"), ("reason", "forbidden")];
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "default") == Some(1.0) && of(s, "genesys_api_failures_total", &forbidden) == 1.0
    })
    .await;
    assert_eq!(up(&samples, "actions"), Some(0.0));
    assert!(actions(&samples, "genesys_data_action_executions").is_empty());
    assert!(
        samples
            .keys()
            .any(|(name, labels)| name == "genesys_conversation_offered"
                && labels.get("queue").is_some()),
        "the conversations query publishes, with queue names"
    );
    let ready = get(&format!("{}/readyz", exporter.url)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        sim.simulator.requests().action_aggregates,
        1,
        "a 403 is not retried"
    );
}
