//! What the exporter should publish, computed from the simulator's own data.

use std::collections::BTreeMap;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_sim::{SimulatedOrg, aggregate};
use genesys_wire::time::Interval;
use genesys_wire::{AggregateResponse, AggregationQuery};
use jiff::Timestamp;

use super::samples::{Samples, published_window_of};
use super::sim::Sim;

/// The gauge base name of each default metric, written out by hand rather than derived by
/// the exporter's naming code, so that the tests check that code.
const NAMES: &[(&str, &str)] = &[
    ("nOffered", "offered"),
    ("nConnected", "connected"),
    ("tAnswered", "answered"),
    ("tAbandon", "abandon"),
    ("tHandle", "handle"),
    ("tTalk", "talk"),
    ("tHeld", "held"),
    ("tAcw", "acw"),
    ("tWait", "wait"),
    ("nOverSla", "over_sla"),
    ("nTransferred", "transferred"),
    ("oServiceLevel", "service_level"),
    ("nError", "error"),
    ("nStateTransitionError", "state_transition_error"),
];

/// The default query's request (by queue and media type, in UTC) for `[start, end)` in
/// `granularity` buckets: how tests ask the simulator for its own data.
pub fn demo_request(
    start: Timestamp,
    end: Timestamp,
    granularity: &str,
    metrics: &[&str],
) -> AggregationQuery {
    AggregationQuery {
        interval: Interval { start, end }.to_string(),
        granularity: Some(granularity.into()),
        time_zone: Some("UTC".into()),
        group_by: vec!["queueId".into(), "mediaType".into()],
        filter: None,
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
    }
}

/// What the exporter should publish, computed from the simulator's own answer.
pub fn expected_samples(window_start: Timestamp, window_end: Timestamp) -> Samples {
    let request = demo_request(window_start, window_end, "PT15M", DEFAULT_METRICS);
    let org = SimulatedOrg::demo();
    let response = aggregate(&org, &request).unwrap();
    samples_of("default", &response, &org)
}

/// The series a query named `query` publishes from `response`, an answer of the demo
/// org's (grouped by queue and media type, of the default metrics or some of them) whose
/// groups each hold one data entry, for the published interval.
pub fn samples_of(query: &str, response: &AggregateResponse, org: &SimulatedOrg) -> Samples {
    let mut expected = Samples::new();
    for group in &response.results {
        let mut labels: BTreeMap<String, String> = [
            ("query", query.to_string()),
            (
                "queue_id",
                group.group.get("queueId").cloned().unwrap_or_default(),
            ),
            (
                "media_type",
                group.group.get("mediaType").cloned().unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // The exporter names each queue from the queue list.
        if let Some(id) = group.group.get("queueId") {
            let queue = org.queues.iter().find(|q| q.id == *id).unwrap();
            labels.insert("queue".into(), queue.name.clone());
        }
        assert!(group.data.len() <= 1, "one data entry per group");
        for data in &group.data {
            for entry in &data.metrics {
                let base = NAMES.iter().find(|(m, _)| *m == entry.metric).unwrap().1;
                let s = &entry.stats;
                let gauges: Vec<(String, Option<f64>)> = match &entry.metric[..1] {
                    "n" => vec![(base.to_string(), s.count)],
                    "t" => vec![
                        (format!("{base}_segments"), s.count),
                        (format!("{base}_seconds"), s.sum.map(|ms| ms / 1000.0)),
                        (format!("{base}_seconds_max"), s.max.map(|ms| ms / 1000.0)),
                        (format!("{base}_seconds_min"), s.min.map(|ms| ms / 1000.0)),
                    ],
                    _ => vec![
                        (format!("{base}_ratio"), s.ratio),
                        (format!("{base}_numerator"), s.numerator),
                        (format!("{base}_denominator"), s.denominator),
                        (format!("{base}_target_ratio"), s.target),
                    ],
                };
                for (name, value) in gauges {
                    if let Some(value) = value {
                        expected.insert(
                            (format!("genesys_conversation_{name}"), labels.clone()),
                            value,
                        );
                    }
                }
            }
        }
    }
    expected
}

/// What `query` (by queue and media type, of `metrics` in `granularity` buckets) should
/// publish for the interval `samples` says it published, from `sim`'s own data: for an
/// exporter that polls by the wall clock, such as the binary on a test's simulator.
pub fn expected_from(
    sim: &Sim,
    samples: &Samples,
    query: &str,
    granularity: &str,
    metrics: &[&str],
) -> Samples {
    let (start, end) = published_window_of(samples, query);
    let request = demo_request(start, end, granularity, metrics);
    let response = sim.simulator.aggregate(&request).unwrap();
    samples_of(query, &response, sim.simulator.org())
}

/// The same series with the same values, to the precision of the text format.
pub fn assert_same_samples(published: &Samples, expected: &Samples) {
    for (series, want) in expected {
        let got = published
            .get(series)
            .unwrap_or_else(|| panic!("missing {series:?}"));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{series:?}: {got} != {want}"
        );
    }
    let extra: Vec<_> = published
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "series the simulator has no data for: {extra:?}"
    );
}
