//! The fault matrix: the exporter against the simulator playing each fault, on real
//! sockets. The fault matrix of docs/resilience.md points at these tests.
//!
//! Each test starts on the busy afternoon with the demo data of 13:45–14:00 published,
//! switches a fault on through the simulator's control endpoint, and moves the exporter's
//! clock a bucket forward so that the 14:00–14:15 bucket falls due at once. Waits are cut
//! about a hundredfold ([`fast_settings`]); the retry policy's exact waits, and the
//! defaults, are tested with paused time in `src/genesys/retry.rs`. Where a test asserts
//! what happens within a wait (a request timeout, the breaker's cool-down), it holds tokio's
//! clock and moves it itself ([`hold_time`]), so that no slow moment on a loaded machine
//! changes the outcome.

use std::time::Duration;

use genesys_sim::Malformed;
use jiff::Timestamp;
use serde_json::json;

use crate::util::{
    clock::{advance_until, hold_time},
    expected::expected_samples,
    exporter::{BUCKET, fast_settings, scrape, start_exporter_with, start_fast_afternoon},
    http::get,
    samples::{DEFAULT, Samples, aggregates, conversation, interval_end, of},
    sim::{afternoon_sim, clear_faults, set_fault, start_simulator},
    wait::{pause, wait_for_metrics, wait_until},
};

const FAILURES: &str = "genesys_api_failures_total";
const RETRIES: &str = "genesys_api_retries_total";

/// The published data is exactly the simulator's for the bucket that ends at `end`
/// (`HH:MM` on the afternoon), computed from its own data.
fn assert_serves_bucket(samples: &Samples, end: &str) {
    let end: Timestamp = format!("2026-08-20T{end}:00Z").parse().unwrap();
    let start = end - jiff::SignedDuration::from_mins(15);
    let expected = expected_samples(start, end);
    let published = conversation(samples);
    assert!(expected.len() > 100);
    assert_eq!(published.len(), expected.len(), "series published");
    for (series, want) in &expected {
        let got = published[series];
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{series:?}: {got} != {want}"
        );
    }
    assert_eq!(interval_end(samples), end.strftime("%H:%M").to_string());
    assert_eq!(of(samples, "genesys_up", DEFAULT), 1.0);
}

fn up(samples: &Samples) -> f64 {
    of(samples, "genesys_up", DEFAULT)
}

fn polls_failed(samples: &Samples) -> f64 {
    of(samples, "genesys_poll_failures_total", DEFAULT)
}

fn breaker(samples: &Samples) -> f64 {
    of(samples, "genesys_circuit_breaker_state", &[])
}

fn opens(samples: &Samples) -> f64 {
    of(samples, "genesys_circuit_breaker_opens_total", &[])
}

async fn landing_page(url: &str) -> String {
    get(&format!("{url}/")).await.body
}

#[tokio::test]
async fn a_429_is_waited_out_then_retried() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    set_fault(
        &sim,
        json!({"fault": "rate_limited", "retry_after": 1, "requests": 1}),
    )
    .await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| interval_end(s) == "14:15").await;
    assert_serves_bucket(&samples, "14:15");
    // The first poll, then the 429 and its retry.
    assert_eq!(sim.simulator.requests().aggregates, 3);
    assert_eq!(aggregates(&samples, FAILURES, "rate_limited"), 1.0);
    assert_eq!(aggregates(&samples, RETRIES, "rate_limited"), 1.0);
    assert_eq!(polls_failed(&samples), 0.0);
    // The simulator's budget: 300 API requests a minute, the three polls and the queue
    // list's page used.
    let counts = sim.simulator.requests();
    assert_eq!(counts.queues, 1);
    let remaining = &[("endpoint", "aggregates")];
    assert_eq!(
        of(&samples, "genesys_api_rate_limit_remaining", remaining),
        (300 - counts.aggregates - counts.queues) as f64
    );
}

#[tokio::test]
async fn a_429_storm_costs_the_attempts_of_each_poll_and_keeps_the_data() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    let published = conversation(&scrape(&exporter).await);
    set_fault(&sim, json!({"fault": "rate_limited", "retry_after": 0})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| polls_failed(s) >= 2.0).await;
    // Each poll made its 4 attempts and gave up; the previous bucket is still served.
    assert_eq!(
        aggregates(&samples, FAILURES, "rate_limited"),
        4.0 * polls_failed(&samples)
    );
    assert_eq!(conversation(&samples), published);
    assert_eq!(interval_end(&samples), "14:00");
    assert_eq!(up(&samples), 0.0);
    assert_eq!(breaker(&samples), 0.0, "429s are not an outage");

    clear_faults(&sim).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s) == 1.0).await;
    assert_serves_bucket(&samples, "14:15");
    let sent = sim.simulator.requests().aggregates as f64 - 1.0;
    let failed = polls_failed(&samples);
    assert!(
        (4.0 * failed + 1.0..=4.0 * failed + 4.0).contains(&sent),
        "{sent} requests for {failed} failed polls"
    );
}

#[tokio::test]
async fn a_retry_after_past_the_cap_holds_back_every_request_until_it_ends() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    set_fault(&sim, json!({"fault": "rate_limited", "retry_after": 600})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| polls_failed(s) >= 3.0).await;
    // One 429, not waited for (600 s is past the 180 s cap), and nothing sent since.
    assert_eq!(sim.simulator.requests().aggregates, 2);
    assert_eq!(aggregates(&samples, FAILURES, "rate_limited"), 1.0);
    assert_eq!(aggregates(&samples, RETRIES, "rate_limited"), 0.0);
    assert_eq!(up(&samples), 0.0);
    let page = landing_page(&exporter.url).await;
    assert!(
        page.contains("not sent: Genesys Cloud rate-limited this client for another"),
        "{page}"
    );
}

#[tokio::test]
async fn a_503_or_504_is_retried_with_backoff() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    for (fault, end) in [("unavailable", "14:15"), ("gateway_timeout", "14:30")] {
        let before = sim.simulator.requests().aggregates;
        set_fault(&sim, json!({"fault": fault, "requests": 2})).await;
        clock.advance(BUCKET);
        let samples = wait_for_metrics(&exporter.url, |s| interval_end(s) == end).await;
        assert_serves_bucket(&samples, end);
        assert_eq!(sim.simulator.requests().aggregates - before, 3, "{fault}");
        assert_eq!(polls_failed(&samples), 0.0);
        assert_eq!(breaker(&samples), 0.0, "two failures do not open it");
    }
    let samples = scrape(&exporter).await;
    assert_eq!(aggregates(&samples, FAILURES, "server_error"), 4.0);
    assert_eq!(aggregates(&samples, RETRIES, "server_error"), 4.0);
}

/// Tokio's clock is held still, and moved only while no ordinary answer is on its way, so
/// that the slow answer times out at 500 ms and an ordinary one never does, however slow
/// the machine.
#[tokio::test(start_paused = true)]
async fn an_answer_slower_than_the_timeout_is_retried() {
    let _time = hold_time();
    let timeout = Duration::from_millis(500);
    let (sim, exporter, clock) = start_fast_afternoon(|settings| {
        settings.orgs[0].client.request_timeout = timeout;
    })
    .await;
    set_fault(&sim, json!({"fault": "slow", "delay": 2, "requests": 1})).await;
    clock.advance(BUCKET);
    wait_until("the poll of 14:00-14:15", || {
        sim.simulator.requests().aggregates == 2
    })
    .await;
    // The simulator holds its answer back for 2 s; the exporter gives up after 500 ms, and
    // retries after a backoff of at most 10 ms. Time moves a millisecond at a time until
    // the retry is out, then stands still while the simulator answers it.
    tokio::time::advance(timeout).await;
    let mut since_timeout = Duration::ZERO;
    while sim.simulator.requests().aggregates == 2 {
        assert!(
            since_timeout < timeout,
            "no retry {since_timeout:?} after the timeout"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        since_timeout += Duration::from_millis(1);
        pause().await;
    }
    let samples = wait_for_metrics(&exporter.url, |s| interval_end(s) == "14:15").await;
    assert_serves_bucket(&samples, "14:15");
    assert_eq!(sim.simulator.requests().aggregates, 3);
    assert_eq!(aggregates(&samples, FAILURES, "timeout"), 1.0);
    assert_eq!(aggregates(&samples, RETRIES, "timeout"), 1.0);
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    set_fault(&sim, json!({"fault": "reset", "requests": 1})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| interval_end(s) == "14:15").await;
    assert_serves_bucket(&samples, "14:15");
    assert_eq!(sim.simulator.requests().aggregates, 3);
    assert_eq!(aggregates(&samples, FAILURES, "transport"), 1.0);
    assert_eq!(aggregates(&samples, RETRIES, "transport"), 1.0);
}

#[tokio::test]
async fn a_token_revoked_mid_run_is_renewed_once_and_the_request_retried() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    set_fault(&sim, json!({"fault": "revoke_tokens"})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| interval_end(s) == "14:15").await;
    assert_serves_bucket(&samples, "14:15");
    let counts = sim.simulator.requests();
    assert_eq!(
        (counts.token, counts.aggregates, counts.unauthorized),
        (2, 3, 1)
    );
    assert_eq!(aggregates(&samples, FAILURES, "unauthorized"), 1.0);
    assert_eq!(of(&samples, "genesys_token_refreshes_total", &[]), 2.0);
    assert_eq!(polls_failed(&samples), 0.0);
}

#[tokio::test]
async fn a_403_names_the_missing_permission_and_is_not_retried() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    let published = conversation(&scrape(&exporter).await);
    set_fault(&sim, json!({"fault": "forbidden"})).await;
    clock.advance(BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| polls_failed(s) >= 2.0).await;
    // One request per poll: each poll's failure is its only request.
    assert_eq!(
        aggregates(&samples, FAILURES, "forbidden"),
        polls_failed(&samples)
    );
    assert_eq!(aggregates(&samples, RETRIES, "forbidden"), 0.0);
    assert_eq!(conversation(&samples), published);
    assert_eq!(up(&samples), 0.0);
    let page = landing_page(&exporter.url).await;
    assert!(page.contains("HTTP 403 missing.permissions"), "{page}");
    assert!(
        page.contains("grant the OAuth client&#39;s role the permission analytics:conversationAggregate:view in every division"),
        "{page}"
    );
    assert!(page.contains("ININ-Correlation-Id"), "{page}");

    clear_faults(&sim).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s) == 1.0).await;
    assert_serves_bucket(&samples, "14:15");
}

#[tokio::test]
async fn a_400_or_a_404_is_not_retried_and_says_what_to_fix() {
    let sim = start_simulator(afternoon_sim()).await;
    let colour = serde_json::from_value(json!({
        "name": "default",
        "filter": {"type": "or", "predicates": [
            {"type": "dimension", "dimension": "colour", "operator": "matches", "value": "red"}]}
    }))
    .unwrap();
    let bad_query = fast_settings(&sim, vec![colour]);
    let mut wrong_url = fast_settings(&sim, vec![]);
    wrong_url.orgs[0].client.api_url = format!("{}/nowhere", sim.url);
    let clock = genesys_wire::time::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    for (settings, reason, advice) in [
        (
            bad_query,
            "bad_request",
            "fix the query&#39;s metrics, group_by, filter or granularity",
        ),
        (
            wrong_url,
            "not_found",
            "Genesys Cloud has no aggregates endpoint at this address; check region, or api_url and login_url",
        ),
    ] {
        let exporter = start_exporter_with(settings, clock.clone()).await;
        let samples = wait_for_metrics(&exporter.url, |s| polls_failed(s) >= 2.0).await;
        assert_eq!(
            aggregates(&samples, FAILURES, reason),
            polls_failed(&samples),
            "{reason}: one request per poll"
        );
        assert_eq!(aggregates(&samples, RETRIES, reason), 0.0);
        assert_eq!(up(&samples), 0.0);
        let page = landing_page(&exporter.url).await;
        assert!(page.contains(advice), "{page}");
    }
}

#[tokio::test]
async fn every_malformed_body_fails_the_poll_and_keeps_the_previous_data() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    for kind in Malformed::ALL {
        let before = scrape(&exporter).await;
        let (published, end) = (conversation(&before), interval_end(&before));
        set_fault(&sim, json!({"fault": "malformed", "body": kind})).await;
        clock.advance(BUCKET);
        let samples = wait_for_metrics(&exporter.url, |s| {
            polls_failed(s) >= polls_failed(&before) + 2.0
        })
        .await;
        assert_eq!(conversation(&samples), published, "{kind:?}");
        assert_eq!(interval_end(&samples), end, "{kind:?}");
        assert_eq!(up(&samples), 0.0);
        // A decoding failure per poll, not retried.
        let decode =
            aggregates(&samples, FAILURES, "decode") - aggregates(&before, FAILURES, "decode");
        assert_eq!(
            decode,
            polls_failed(&samples) - polls_failed(&before),
            "{kind:?}"
        );
        let page = landing_page(&exporter.url).await;
        let problem = match kind {
            Malformed::InvalidJson => "invalid JSON",
            Malformed::Truncated => "truncated JSON",
            Malformed::WrongTypes => "invalid type: string",
            Malformed::UnknownMetric => "unknown metric &#39;nSurprises&#39;",
            Malformed::MissingFields => "missing field `metric`",
            Malformed::OutOfRange => "count -877 is out of range",
            Malformed::Html => "an HTML page instead of JSON",
            Malformed::Empty => "an empty body",
        };
        assert!(
            page.contains("aggregates: unreadable response: ") && page.contains(problem),
            "{kind:?}: {page}"
        );

        clear_faults(&sim).await;
        wait_for_metrics(&exporter.url, |s| up(s) == 1.0 && interval_end(s) != end).await;
    }
    assert_eq!(aggregates(&scrape(&exporter).await, RETRIES, "decode"), 0.0);
}

/// Tokio's clock is held still and moved by the test in small steps, so that what happens
/// during a cool-down, and at its end, is exact however slow the machine.
#[tokio::test(start_paused = true)]
async fn the_breaker_opens_stops_calling_then_probes_once_per_cool_down() {
    let _time = hold_time();
    // A poll every 200 ms (the retry delay) while it is open: four within a cool-down.
    let cool_down = Duration::from_secs(1);
    let polls_per_cool_down = 4.0;
    let (sim, exporter, clock) = start_fast_afternoon(|settings| {
        settings.orgs[0].client.breaker.cool_down = cool_down;
    })
    .await;
    set_fault(&sim, json!({"fault": "gateway_timeout"})).await;
    clock.advance(BUCKET);
    // Five consecutive 504s: the first poll's 4 attempts and the next poll's first, with
    // the backoffs and the retry delay between them.
    let (samples, _) = advance_until(&exporter.url, |s| {
        breaker(s) == 2.0 && polls_failed(s) == 2.0
    })
    .await;
    let opened = sim.simulator.requests().aggregates;
    assert_eq!(opened, 1 + 5);
    assert_eq!(opens(&samples), 1.0);
    assert_eq!(up(&samples), 0.0);
    assert_eq!(
        interval_end(&samples),
        "14:00",
        "still serving the last data"
    );

    // Polls go on, but nothing is sent during the cool-down.
    let failed = polls_failed(&samples);
    let (_, moved) = advance_until(&exporter.url, |s| {
        polls_failed(s) == failed + polls_per_cool_down
    })
    .await;
    assert!(moved < cool_down, "{moved:?}");
    assert_eq!(
        sim.simulator.requests().aggregates,
        opened,
        "sent during the cool-down"
    );
    let page = landing_page(&exporter.url).await;
    assert!(
        page.contains("not sent: the circuit breaker is open"),
        "{page}"
    );

    // At its end, one probe, which fails and opens it again; then a quiet cool-down again.
    let failed = failed + polls_per_cool_down + 1.0;
    let (samples, _) = advance_until(&exporter.url, |s| {
        opens(s) == 2.0 && polls_failed(s) == failed
    })
    .await;
    assert_eq!(breaker(&samples), 2.0);
    assert_eq!(sim.simulator.requests().aggregates, opened + 1);
    advance_until(&exporter.url, |s| {
        polls_failed(s) == failed + polls_per_cool_down
    })
    .await;
    assert_eq!(
        sim.simulator.requests().aggregates,
        opened + 1,
        "sent during the second cool-down"
    );

    // The next probe finds the API back: closed, and the bucket published.
    clear_faults(&sim).await;
    let (samples, _) = advance_until(&exporter.url, |s| up(s) == 1.0).await;
    assert_eq!(breaker(&samples), 0.0);
    assert_serves_bucket(&samples, "14:15");
    assert_eq!(sim.simulator.requests().aggregates, opened + 2);
}

#[tokio::test]
async fn a_ten_minute_outage_costs_a_bounded_number_of_requests() {
    // Ten minutes of 503, with every wait a hundredth of its default: a 6 s outage,
    // polls retried every 300 ms, a 600 ms cool-down.
    let (sim, exporter, clock) = start_fast_afternoon(|settings| {
        settings.retry_delay = Duration::from_millis(300);
    })
    .await;
    set_fault(&sim, json!({"fault": "unavailable", "seconds": 6})).await;
    clock.advance(BUCKET);
    wait_for_metrics(&exporter.url, |s| up(s) == 0.0).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s) == 1.0).await;
    assert_serves_bucket(&samples, "14:15");
    let sent = sim.simulator.requests().aggregates - 1;
    // 5 requests open the breaker, then at most one probe per 600 ms cool-down (10 in
    // 6 s), then the probe that succeeds. Without the breaker: 4 attempts per poll,
    // a poll every 300 ms or so, about 80.
    assert!(sent <= 5 + 10 + 1, "{sent} requests");
    // The 5 that open it and the probe that succeeds, at least.
    assert!(sent > 5, "{sent} requests");
    assert!(of(&samples, "genesys_circuit_breaker_opens_total", &[]) >= 1.0);
}

#[tokio::test]
async fn after_an_outage_the_latest_bucket_is_published_and_the_skipped_ones_counted() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    set_fault(&sim, json!({"fault": "unavailable"})).await;
    // 14:52: 14:00–14:15 and 14:15–14:30 completed during the outage; 14:30–14:45 is
    // the latest.
    clock.advance(3 * BUCKET);
    let samples = wait_for_metrics(&exporter.url, |s| {
        of(s, "genesys_skipped_buckets_total", DEFAULT) == 2.0
    })
    .await;
    assert_eq!(interval_end(&samples), "14:00");
    clear_faults(&sim).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s) == 1.0).await;
    assert_serves_bucket(&samples, "14:45");
    assert_eq!(of(&samples, "genesys_skipped_buckets_total", DEFAULT), 2.0);
}

#[tokio::test]
async fn data_older_than_max_age_is_dropped_and_returns_with_the_api() {
    // The default max age: two 15-minute buckets.
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;
    let published = conversation(&scrape(&exporter).await);
    let succeeded = of(
        &scrape(&exporter).await,
        "genesys_last_success_timestamp_seconds",
        DEFAULT,
    );
    set_fault(&sim, json!({"fault": "unavailable"})).await;

    // 14:27: twenty minutes old, still served.
    clock.advance(Duration::from_secs(20 * 60));
    let samples = wait_for_metrics(&exporter.url, |s| polls_failed(s) >= 1.0).await;
    assert_eq!(conversation(&samples), published);
    assert_eq!(up(&samples), 0.0);

    // 14:38: 31 minutes old. Dropped, while the last success still tells its age.
    clock.advance(Duration::from_secs(11 * 60));
    let samples = scrape(&exporter).await;
    assert_eq!(conversation(&samples), Samples::new());
    assert_eq!(of(&samples, "genesys_series", DEFAULT), 0.0);
    assert_eq!(up(&samples), 0.0);
    let last_success = of(&samples, "genesys_last_success_timestamp_seconds", DEFAULT);
    assert_eq!(last_success, succeeded);
    assert!(
        (1_787_234_820.0..1_787_234_821.0).contains(&last_success),
        "14:07"
    );
    let page = landing_page(&exporter.url).await;
    assert!(page.contains("its data is no longer served"), "{page}");

    clear_faults(&sim).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s) == 1.0).await;
    assert_serves_bucket(&samples, "14:30");
}
