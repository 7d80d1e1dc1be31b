//! API cost in steady state: exactly one aggregates request per query per bucket, and one
//! token request per token lifetime, counted by the simulator.

use std::time::Duration;

use genesys_exporter::config::QueryConfig;
use genesys_sim::SimulatorConfig;
use genesys_wire::time::Clock;
use jiff::{SignedDuration, Timestamp};

use crate::util::{
    clock::hold_time,
    exporter::{config_for, scrape, start_exporter},
    samples::{Samples, value},
    sim::{afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

/// How the token cache is documented to behave: a token is renewed at the first request
/// once it is within min(60 s, half its life) of expiring. Given the instants (seconds
/// from the start) at which requests go out, how many tokens that takes.
fn tokens_needed(request_times: &[f64], lifetime: f64) -> u64 {
    let usable = lifetime - (lifetime / 2.0).min(60.0);
    let mut issued: Option<f64> = None;
    let mut tokens = 0;
    for &t in request_times {
        if issued.is_none_or(|at| t >= at + usable) {
            issued = Some(t);
            tokens += 1;
        }
    }
    tokens
}

/// Both queries have published the bucket that ends at `end`.
fn both_published(samples: &Samples, end: Timestamp) -> bool {
    ["a", "b"].iter().all(|query| {
        value(
            samples,
            "genesys_interval_end_timestamp_seconds",
            &[("query", query)],
        ) == Some(end.as_second() as f64)
    })
}

/// Two queries with one-minute buckets run for seven buckets against a simulator issuing
/// 3-second tokens. The exporter's clock runs 60 times faster than tokio's, so that a
/// bucket takes a second of tokio time, which also times the tokens; and the test holds
/// tokio's clock and moves it a second at a time, so that each poll goes out at an exact
/// instant: 0 s, 1 s, ... 6 s.
///
/// The clock starts at 14:07:30 with a 30 s settle delay, so the first poll (of
/// 14:06-14:07) goes out at once, and each later bucket falls due on a whole second: the
/// one ending 14:08 at 14:08:30, one second later, and so on. A token is kept for 1.5 s
/// (half of 3 s): the one issued at 0 s serves the polls at 0 s and 1 s, and is renewed
/// for the poll at 2 s, and so on.
#[tokio::test(start_paused = true)]
async fn one_aggregates_request_per_query_per_bucket_and_one_token_per_lifetime() {
    let _time = hold_time();
    let lifetime = 3;
    let sim = start_simulator(SimulatorConfig {
        token_lifetime: Duration::from_secs(lifetime),
        ..afternoon_sim()
    })
    .await;
    let queries = ["a", "b"]
        .map(|name| QueryConfig {
            name: name.into(),
            granularity: Some("PT1M".into()),
            settle_delay: Some(Duration::from_secs(30)),
            ..QueryConfig::default()
        })
        .to_vec();
    let start: Timestamp = "2026-08-20T14:07:30Z".parse().unwrap();
    let clock = Clock::fast_from(start, 60);
    let exporter = start_exporter(config_for(&sim, queries), clock).await;

    // Buckets ending 14:07, 14:08, ..., 14:13: the one at start-up and one a second after.
    let buckets = 7;
    let first_end: Timestamp = "2026-08-20T14:07:00Z".parse().unwrap();
    let mut request_times = Vec::new();
    for second in 0..buckets {
        if second > 0 {
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let end = first_end + SignedDuration::from_mins(second);
        wait_for_metrics(&exporter.url, |s| both_published(s, end)).await;
        request_times.push(second as f64);

        // Time stands still until the next move: these counts are final for this second.
        let counts = sim.simulator.requests();
        let polled = second as u64 + 1;
        assert_eq!(counts.aggregates, 2 * polled, "at {second} s: {counts:?}");
        assert_eq!(
            counts.token,
            tokens_needed(&request_times, lifetime as f64),
            "at {second} s: {counts:?}"
        );
    }
    let samples = scrape(&exporter).await;
    for query in ["a", "b"] {
        assert_eq!(
            value(&samples, "genesys_up", &[("query", query)]),
            Some(1.0)
        );
    }

    // Requests went out at start-up (queue names, then the first polls) and at each second.
    let counts = sim.simulator.requests();
    assert_eq!(counts.aggregates, 2 * buckets as u64, "{counts:?}");
    assert_eq!(counts.jobs, 0);
    assert_eq!(counts.queues, 1, "the queue list once, at start-up");
    assert_eq!(tokens_needed(&request_times, lifetime as f64), 4);
    assert_eq!(
        counts.token,
        tokens_needed(&request_times, lifetime as f64),
        "{counts:?}"
    );
    assert_eq!(
        counts.unauthorized, 0,
        "no request went out with an expired token"
    );
    assert_eq!(
        value(&samples, "genesys_token_refreshes_total", &[]),
        Some(counts.token as f64),
        "the exporter counts the same tokens"
    );
}
