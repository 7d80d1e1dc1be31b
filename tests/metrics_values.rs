//! `/metrics` carries exactly the simulator's data for the published interval.

use std::collections::BTreeMap;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_exporter::genesys::wire::AggregationQuery;
use genesys_exporter::simulator::{Org, aggregate};
use jiff::Timestamp;

use crate::util::{Samples, get, get_with, parse, published_window, start_busy_afternoon, value};

/// The gauge base name of each default metric, written out by hand rather than derived by
/// the exporter's naming code, so that this test checks that code.
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
];

/// What the exporter should publish, computed from the simulator's own answer.
pub fn expected_samples(window_start: Timestamp, window_end: Timestamp) -> Samples {
    let request = AggregationQuery {
        interval: format!(
            "{}/{}",
            window_start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            window_end.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        ),
        granularity: Some("PT15M".into()),
        time_zone: Some("UTC".into()),
        group_by: vec!["queueId".into(), "mediaType".into()],
        filter: None,
        metrics: DEFAULT_METRICS.iter().map(|m| m.to_string()).collect(),
    };
    let org = Org::demo();
    let response = aggregate(&org, &request).unwrap();
    let mut expected = Samples::new();
    for group in &response.results {
        let mut labels: BTreeMap<String, String> = [
            ("query", "default".to_string()),
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

/// The same series with the same values, to the precision of the text format.
fn assert_same_samples(published: &Samples, expected: &Samples) {
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

#[tokio::test]
async fn metrics_equal_the_simulators_data_for_the_published_interval() {
    let (_sim, exporter) = start_busy_afternoon().await;
    let samples = parse(&get(&format!("{}/metrics", exporter.url)).await.body);

    let (start, end) = published_window(&samples);
    assert_eq!(start.to_string(), "2026-08-20T13:45:00Z");
    assert_eq!(end.to_string(), "2026-08-20T14:00:00Z");

    let published: Samples = samples
        .into_iter()
        .filter(|((name, _), _)| name.starts_with("genesys_conversation_"))
        .collect();
    let expected = expected_samples(start, end);
    assert!(
        expected.len() > 100,
        "the demo org is busy on a weekday afternoon"
    );
    assert_same_samples(&published, &expected);

    // Every kind of metric is there, and so are the groups the API left a dimension out of.
    for name in [
        "offered",
        "handle_seconds",
        "handle_segments",
        "service_level_ratio",
    ] {
        assert!(
            published
                .keys()
                .any(|(n, _)| *n == format!("genesys_conversation_{name}")),
            "{name}"
        );
    }
    assert!(
        published
            .keys()
            .any(|(_, labels)| labels["queue_id"].is_empty())
    );

    let series = value(
        &parse(&get(&format!("{}/metrics", exporter.url)).await.body),
        "genesys_series",
        &[("query", "default")],
    );
    assert_eq!(series, Some(expected.len() as f64));
}

#[tokio::test]
async fn the_scrapers_accept_header_picks_the_format() {
    let (_sim, exporter) = start_busy_afternoon().await;
    let url = format!("{}/metrics", exporter.url);

    let text = get(&url).await;
    assert_eq!(text.status, 200);
    assert_eq!(
        text.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        text.body
            .contains("# TYPE genesys_api_requests_total counter\n")
    );
    assert!(!text.body.contains("# EOF"));

    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let openmetrics = get_with(&url, &[("accept", prometheus)]).await;
    assert_eq!(
        openmetrics.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        openmetrics
            .body
            .contains("# TYPE genesys_api_requests counter\n")
    );
    assert!(openmetrics.body.ends_with("# EOF\n"));

    // The same samples either way.
    let without_eof = openmetrics.body.trim_end_matches("# EOF\n");
    assert_eq!(parse(without_eof), parse(&text.body));
}

#[tokio::test]
async fn landing_page_health_and_readiness() {
    let (_sim, exporter) = start_busy_afternoon().await;

    let landing = get(&format!("{}/", exporter.url)).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains(env!("CARGO_PKG_VERSION")));
    assert!(landing.body.contains("href=\"/metrics\""));
    assert!(
        landing
            .body
            .contains("2026-08-20T13:45:00.000Z/2026-08-20T14:00:00.000Z")
    );
    assert!(landing.body.contains("<td>ok</td>"));

    assert_eq!(get(&format!("{}/healthz", exporter.url)).await.status, 200);
    assert_eq!(
        get(&format!("{}/readyz", exporter.url)).await.body,
        "ready\n"
    );
    assert_eq!(get(&format!("{}/nope", exporter.url)).await.status, 404);
}

#[tokio::test]
async fn a_poll_too_large_for_the_synchronous_query_goes_through_a_job() {
    let sim = crate::util::start_simulator(genesys_exporter::simulator::SimulatorConfig {
        sync_result_limit: Some(5),
        job_page_size: 4,
        ..Default::default()
    })
    .await;
    let mut config = crate::util::config_for(&sim, vec![]);
    config.job_poll_interval = Some(std::time::Duration::from_millis(50));
    let clock =
        genesys_exporter::schedule::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let exporter = crate::util::start_exporter(config, clock).await;
    let samples = crate::util::wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    let counts = sim.simulator.requests();
    assert_eq!(counts.aggregates, 1, "refused once");
    assert!(counts.jobs >= 4, "submitted, looked at, paged: {counts:?}");
    // Same data as the synchronous answer would have had.
    let published: Samples = samples
        .into_iter()
        .filter(|((name, _), _)| name.starts_with("genesys_conversation_"))
        .collect();
    let expected = expected_samples(
        "2026-08-20T13:45:00Z".parse().unwrap(),
        "2026-08-20T14:00:00Z".parse().unwrap(),
    );
    assert_same_samples(&published, &expected);
}
