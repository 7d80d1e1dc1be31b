//! API cost in steady state: exactly one aggregates request per query per bucket, and one
//! token request per token lifetime, counted by the simulator.

use std::time::Duration;

use genesys_exporter::config::QueryConfig;
use genesys_exporter::schedule::Clock;
use genesys_exporter::simulator::SimulatorConfig;
use jiff::Timestamp;

use crate::util::{config_for, get, parse, start_exporter, start_simulator, value};

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

/// Two queries with one-minute buckets run for seven buckets, on a clock 60 times faster
/// than real time (one bucket a second), against a simulator issuing 3-second tokens.
///
/// Why this is deterministic: the clock starts at 14:07:30 with a 30 s settle delay, so
/// the first poll (of 14:06-14:07) goes out at once, and each later bucket is due on a
/// whole real second: 14:07-14:08 at 14:08:30, one second later, and so on. The last poll
/// before the check at 6.5 s is at 6 s. Tokens are kept for 1.5 s (half of 3 s), which
/// falls half-way between two polls, so the renewals are at 2 s, 4 s and 6 s with half a
/// second of slack on either side: a poll would have to be late by that much to change
/// the counts. Paused tokio time cannot be used here: with real sockets it jumps ahead
/// whenever every task waits on I/O, firing request timeouts.
#[tokio::test]
async fn one_aggregates_request_per_query_per_bucket_and_one_token_per_lifetime() {
    let lifetime = 3;
    let sim = start_simulator(SimulatorConfig {
        token_lifetime: Duration::from_secs(lifetime),
        ..SimulatorConfig::default()
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

    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let samples = parse(&get(&format!("{}/metrics", exporter.url)).await.body);
    let counts = sim.simulator.requests();

    // Buckets ending 14:07, 14:08, ..., 14:13: the one at start-up and one a second after.
    let buckets = 7;
    for query in ["a", "b"] {
        let end = value(
            &samples,
            "genesys_interval_end_timestamp_seconds",
            &[("query", query)],
        );
        let expected_end: Timestamp = "2026-08-20T14:13:00Z".parse().unwrap();
        assert_eq!(end, Some(expected_end.as_second() as f64), "query {query}");
        assert_eq!(
            value(&samples, "genesys_up", &[("query", query)]),
            Some(1.0)
        );
    }
    assert_eq!(counts.aggregates, 2 * buckets, "{counts:?}");
    assert_eq!(counts.jobs, 0);

    // Requests go out at start-up (queue names, then the first polls) and at each second.
    let request_times: Vec<f64> = (0..buckets).map(|second| second as f64).collect();
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
