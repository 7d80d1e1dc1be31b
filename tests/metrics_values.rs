//! `/metrics` carries exactly the simulator's data for the published interval.

use std::collections::BTreeSet;
use std::time::Duration;

use genesys_exporter::cli::demo_queries;
use genesys_exporter::error::REQUEST_FAILURE_REASONS;
use genesys_wire::time::Clock;

use crate::util::{
    expected::{assert_same_samples, expected_samples},
    exporter::{config_for, observing, start_busy_afternoon, start_exporter},
    http::{get, get_with},
    samples::{Samples, parse, published_window, value},
    sim::{afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

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

    // The same samples either way, but for the process metrics' values, read at each
    // scrape.
    let without_eof = openmetrics.body.trim_end_matches("# EOF\n");
    let published = |body: &str| {
        let mut samples = parse(body);
        samples.retain(|(name, _), _| !name.starts_with("process_"));
        samples
    };
    assert_eq!(published(without_eof), published(&text.body));
    assert!(parse(&text.body).contains_key(&("process_open_fds".to_owned(), Default::default())));
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
    let sim = start_simulator(genesys_sim::SimulatorConfig {
        sync_result_limit: Some(5),
        job_page_size: 4,
        ..afternoon_sim()
    })
    .await;
    let mut config = config_for(&sim, vec![]);
    config.job_poll_interval = Some(std::time::Duration::from_millis(50));
    let clock = genesys_wire::time::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let exporter = start_exporter(config, clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
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

#[tokio::test]
async fn every_counter_with_a_bounded_label_set_is_at_0_from_the_start() {
    let sim = start_simulator(afternoon_sim()).await;
    let clock = Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let config = observing(config_for(&sim, demo_queries()), Duration::from_secs(15));
    let exporter = start_exporter(config, clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]).is_some()
    })
    .await;
    let label_sets = |name: &str| -> BTreeSet<Vec<(String, String)>> {
        samples
            .keys()
            .filter(|(n, _)| n == name)
            .map(|(_, labels)| labels.clone().into_iter().collect())
            .collect()
    };
    let endpoints = [
        "token",
        "aggregates",
        "jobs",
        "queues",
        "observations",
        "presences",
        "agent_status_counts",
        "flow_aggregates",
        "flow_observations",
        "flows",
        "flow_outcomes",
        "action_aggregates",
        "actions",
        "conversation_details",
        "edges",
        "edge_metrics",
        "trunks",
        "trunk_metrics",
    ];
    let by_reason = |reasons: &[&str]| -> BTreeSet<Vec<(String, String)>> {
        endpoints
            .iter()
            .flat_map(|endpoint| {
                reasons.iter().map(move |reason| {
                    vec![
                        ("endpoint".to_string(), endpoint.to_string()),
                        ("reason".to_string(), reason.to_string()),
                    ]
                })
            })
            .collect()
    };
    assert_eq!(
        label_sets("genesys_api_failures_total"),
        by_reason(REQUEST_FAILURE_REASONS)
    );
    assert_eq!(
        label_sets("genesys_api_retries_total"),
        by_reason(&["rate_limited", "server_error", "transport", "timeout"])
    );
    let by_endpoint: BTreeSet<Vec<(String, String)>> = endpoints
        .iter()
        .map(|endpoint| vec![("endpoint".to_string(), endpoint.to_string())])
        .collect();
    assert_eq!(label_sets("genesys_api_requests_total"), by_endpoint);
    for ((name, labels), count) in &samples {
        if name == "genesys_api_failures_total" || name == "genesys_api_retries_total" {
            assert_eq!(
                *count, 0.0,
                "{name} {labels:?}: the simulator fails nothing"
            );
        }
    }
    // Every query counts failed polls, the observations included; only bucket queries
    // skip buckets.
    for query in ["default", "live", "observations"] {
        assert_eq!(
            value(&samples, "genesys_poll_failures_total", &[("query", query)]),
            Some(0.0),
            "{query}"
        );
        assert_eq!(
            value(&samples, "genesys_poller_panics_total", &[("query", query)]),
            Some(0.0),
            "{query}"
        );
    }
    let query = |name: &str| vec![("query".to_string(), name.to_string())];
    assert_eq!(
        label_sets("genesys_skipped_buckets_total"),
        BTreeSet::from([query("default")])
    );
    assert_eq!(
        value(
            &samples,
            "genesys_skipped_buckets_total",
            &[("query", "default")]
        ),
        Some(0.0)
    );
}
