//! IVR flows against the simulator at a fixed instant: a flows query's gauges (of a bucket
//! or of a rolling window) are the simulator's own flow records of its interval, the flow
//! observations its flows now, with the flows' and outcomes' names beside their IDs; a 403
//! on the flow aggregates or the flow observations leaves every other source publishing,
//! and one on the flow lists leaves the IDs without names.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::config::{Config, FlowObservationsConfig, QueryConfig};
use genesys_sim::{FlowEnding, SimulatorConfig, flow_records, in_flows_now};
use genesys_wire::time::Clock;
use jiff::Timestamp;

use crate::util::{
    clock::{advance, hold_time},
    exporter::{config_for, observing, start_exporter},
    http::get,
    samples::{Samples, of, published_window_of, value},
    sim::{AFTERNOON, Sim, afternoon_sim, clear_faults, forbidden, start_simulator},
    wait::wait_for_metrics,
};

fn afternoon() -> Timestamp {
    AFTERNOON.parse().unwrap()
}

/// A flows query of PT15M buckets named `flows`.
fn flows_query() -> QueryConfig {
    QueryConfig {
        name: "flows".into(),
        source: Some("flows".into()),
        ..QueryConfig::default()
    }
}

/// The default conversations query, a flows query, and the flow observations every 7 s
/// (a refresh that never lines up with the servers' 10 s idle timeout).
fn config(sim: &Sim) -> Config {
    let mut config = config_for(
        sim,
        vec![
            QueryConfig {
                name: "default".into(),
                ..QueryConfig::default()
            },
            flows_query(),
        ],
    );
    config.flow_observations = FlowObservationsConfig {
        enabled: Some(true),
        refresh: Some(Duration::from_secs(10)),
    };
    config
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

/// The series of gauge `name` of `query`, by their labels but `query`.
fn series(samples: &Samples, name: &str, query: &str) -> BTreeMap<BTreeMap<String, String>, f64> {
    samples
        .iter()
        .filter(|((gauge, labels), _)| {
            gauge == name && labels.get("query").map(String::as_str) == Some(query)
        })
        .map(|((_, labels), value)| {
            let mut labels = labels.clone();
            labels.remove("query");
            (labels, *value)
        })
        .collect()
}

/// Labels from pairs.
fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Adds one to `key`'s count.
fn count(map: &mut BTreeMap<BTreeMap<String, String>, f64>, key: BTreeMap<String, String>) {
    *map.entry(key).or_default() += 1.0;
}

#[tokio::test]
async fn a_flows_query_publishes_the_simulators_flow_records_of_the_bucket_with_names() {
    let sim = start_simulator(afternoon_sim()).await;
    let exporter = start_exporter(config(&sim), Clock::starting_at(afternoon())).await;
    // Both queries polled: either may answer first.
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "flows") == Some(1.0) && up(s, "default") == Some(1.0)
    })
    .await;
    let (start, end) = published_window_of(&samples, "flows");
    assert_eq!(
        (start.to_string(), end.to_string()),
        ("2026-08-20T13:45:00Z".into(), "2026-08-20T14:00:00Z".into())
    );

    // The truth, counted here from the simulator's records of the bucket.
    let (mut entries, mut outcomes, mut failed, mut disconnects) = Default::default();
    sim.simulator.flow_truth(|org, architect, surges| {
        for record in flow_records(org, architect, surges, start, end) {
            let flow = [
                ("flow_id", record.flow.id.as_str()),
                ("flow", record.flow.name.as_str()),
                ("flow_type", record.flow.flow_type),
            ];
            let entry = labels(&[&flow[..], &[("flow_outcome_id", "")]].concat());
            count(&mut entries, entry.clone());
            if record.ending == FlowEnding::Disconnect {
                count(&mut disconnects, entry);
            }
            let outcome = labels(
                &[
                    &flow[..],
                    &[
                        ("flow_outcome_id", record.outcome.id.as_str()),
                        ("flow_outcome", record.outcome.name.as_str()),
                    ],
                ]
                .concat(),
            );
            count(&mut outcomes, outcome.clone());
            if !record.outcome_success {
                count(&mut failed, outcome);
            }
        }
    });
    let entries: BTreeMap<_, f64> = entries;
    assert!(
        entries.len() >= 3 && entries.values().sum::<f64>() > 100.0,
        "a busy afternoon: {entries:?}"
    );
    assert_eq!(series(&samples, "genesys_flow", "flows"), entries);
    assert_eq!(series(&samples, "genesys_flow_outcome", "flows"), outcomes);
    let nonzero = |published: BTreeMap<_, f64>| -> BTreeMap<_, f64> {
        published.into_iter().filter(|(_, v)| *v > 0.0).collect()
    };
    assert_eq!(
        nonzero(series(&samples, "genesys_flow_outcome_failed", "flows")),
        failed
    );
    assert_eq!(
        nonzero(series(
            &samples,
            "genesys_flow_disconnect_segments",
            "flows"
        )),
        disconnects
    );
    // Every name the simulator gives is beside its ID: "Main IVR", "Payment taken", ...
    let names: Vec<&str> = entries.keys().map(|l| l["flow"].as_str()).collect();
    assert!(names.contains(&"Main IVR"), "{names:?}");
    assert_eq!(up(&samples, "default"), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn the_flow_observations_are_the_simulators_flows_now() {
    let _held = hold_time();
    let clock = Clock::starting_at(afternoon());
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter(config(&sim), clock.clone()).await;
    let samples =
        wait_for_metrics(&exporter.url, |s| up(s, "flow_observations") == Some(1.0)).await;
    // Time is held: the observation was made at the clock's instant now.
    let now = clock.now();
    assert_eq!(now, afternoon(), "time is held");
    let mut expected = BTreeMap::new();
    sim.simulator.flow_truth(|org, architect, surges| {
        let counts = in_flows_now(org, architect, surges, now);
        for (flow, count) in architect.flows.iter().zip(counts) {
            expected.insert(
                labels(&[
                    ("flow_id", flow.id.as_str()),
                    ("flow", flow.name.as_str()),
                    ("flow_type", flow.flow_type),
                ]),
                count as f64,
            );
        }
    });
    assert!(
        expected.values().sum::<f64>() > 0.0,
        "callers in the IVR on a weekday afternoon"
    );
    assert_eq!(
        series(&samples, "genesys_flow_conversations", "flow_observations"),
        expected
    );
    assert_eq!(sim.simulator.requests().flow_observations, 1, "one chunk");
}

#[tokio::test(start_paused = true)]
async fn a_403_on_flow_aggregates_or_observations_leaves_every_other_source_publishing() {
    let _held = hold_time();
    let clock = Clock::starting_at(afternoon());
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        faults: vec![
            forbidden(genesys_wire::FLOW_QUERY_PATH),
            forbidden(genesys_wire::FLOW_OBSERVATIONS_PATH),
        ],
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter(
        observing(config(&sim), Duration::from_secs(7)),
        clock.clone(),
    )
    .await;
    let forbidden_on = |samples: &Samples, endpoint: &str| {
        of(
            samples,
            "genesys_api_failures_total",
            &[("endpoint", endpoint), ("reason", "forbidden")],
        )
    };
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "default") == Some(1.0)
            && up(s, "observations") == Some(1.0)
            && forbidden_on(s, "flow_aggregates") == 1.0
            && forbidden_on(s, "flow_observations") == 1.0
    })
    .await;
    assert_eq!(up(&samples, "flows"), Some(0.0));
    assert_eq!(up(&samples, "flow_observations"), Some(0.0));
    assert!(series(&samples, "genesys_flow", "flows").is_empty());
    // The names are read all the same, and the queue observations go on.
    assert!(sim.simulator.requests().flows >= 1);
    assert!(!series(&samples, "genesys_queue_waiting", "observations").is_empty());
    let page = get(&format!("{}/", exporter.url)).await.body;
    for row in [
        "<tr><td>flows</td><td>flows, PT15M buckets</td>",
        "<tr><td>flow_observations</td><td>conversations in flows, every 10s</td>",
        "failed: flow_aggregates: HTTP 403",
        "failed: flow_observations: HTTP 403",
    ] {
        assert!(page.contains(row), "{row} not in\n{page}");
    }
    // Ready: nothing waits for a source whose permission may never come.
    let ready = get(&format!("{}/readyz", exporter.url)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    // Neither is asked again within the hour.
    let asked = sim.simulator.requests();
    advance(Duration::from_secs(60)).await;
    let later = sim.simulator.requests();
    assert_eq!(later.flow_aggregates, asked.flow_aggregates);
    assert_eq!(later.flow_observations, asked.flow_observations);

    // Granted meanwhile: an hour after the refusal both publish, the query its latest
    // bucket, with none of the hour's counted as skipped.
    clear_faults(&sim).await;
    advance(Duration::from_secs(3600 - 60)).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "flows") == Some(1.0) && up(s, "flow_observations") == Some(1.0)
    })
    .await;
    assert_eq!(
        published_window_of(&samples, "flows").1.to_string(),
        "2026-08-20T15:00:00Z"
    );
    assert_eq!(
        value(
            &samples,
            "genesys_skipped_buckets_total",
            &[("query", "flows")]
        ),
        Some(0.0)
    );
    assert!(!series(&samples, "genesys_flow_conversations", "flow_observations").is_empty());
}

#[tokio::test]
async fn without_the_flow_lists_permissions_the_series_keep_their_ids_without_names() {
    let sim = start_simulator(SimulatorConfig {
        faults: vec![
            forbidden(genesys_wire::FLOWS_PATH),
            forbidden(genesys_wire::FLOW_OUTCOMES_PATH),
        ],
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter(config(&sim), Clock::starting_at(afternoon())).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "flows") == Some(1.0)).await;
    let entries = series(&samples, "genesys_flow", "flows");
    assert!(!entries.is_empty());
    for labels in entries.keys() {
        assert!(!labels["flow_id"].is_empty(), "{labels:?}");
        assert!(!labels.contains_key("flow"), "{labels:?}");
    }
    let outcomes = series(&samples, "genesys_flow_outcome", "flows");
    assert!(outcomes.keys().all(|l| !l.contains_key("flow_outcome")));
    let forbidden_on = |endpoint| {
        of(
            &samples,
            "genesys_api_failures_total",
            &[("endpoint", endpoint), ("reason", "forbidden")],
        )
    };
    assert_eq!(forbidden_on("flows"), 1.0);
    assert_eq!(forbidden_on("flow_outcomes"), 1.0);
    // Without the flow list there are no flows to observe: not up, and no request.
    assert_eq!(up(&samples, "flow_observations"), Some(0.0));
    assert_eq!(sim.simulator.requests().flow_observations, 0);
}

#[tokio::test]
async fn a_rolling_flows_query_counts_the_entries_of_its_window() {
    let sim = start_simulator(afternoon_sim()).await;
    let live = QueryConfig {
        name: "flows_live".into(),
        source: Some("flows".into()),
        window: Some(Duration::from_secs(600)),
        refresh: Some(Duration::from_secs(60)),
        ..QueryConfig::default()
    };
    let exporter = start_exporter(
        config_for(&sim, vec![live]),
        Clock::starting_at(afternoon()),
    )
    .await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "flows_live") == Some(1.0)).await;
    let (start, end) = published_window_of(&samples, "flows_live");
    assert_eq!(end.duration_since(start).as_secs(), 600);
    let mut entries = BTreeMap::new();
    sim.simulator.flow_truth(|org, architect, surges| {
        for record in flow_records(org, architect, surges, start, end) {
            count(
                &mut entries,
                labels(&[
                    ("flow_id", record.flow.id.as_str()),
                    ("flow", record.flow.name.as_str()),
                    ("flow_type", record.flow.flow_type),
                    ("flow_outcome_id", ""),
                ]),
            );
        }
    });
    assert!(entries.values().sum::<f64>() > 10.0, "{entries:?}");
    assert_eq!(series(&samples, "genesys_flow", "flows_live"), entries);
}
