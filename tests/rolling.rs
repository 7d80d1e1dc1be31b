//! Rolling windows against the simulator on real sockets: each refresh publishes exactly
//! the simulator's totals over `[end − window, end)`, the window moves by whole minutes,
//! and a late refresh (the clock jumped forward, or an answer was slow) reads the latest
//! window once: no burst of catch-up reads, no window read twice or going back, and no
//! "skipped bucket".
//!
//! The exporter's clock runs 60 times as fast as tokio's, which the test holds and moves
//! itself ([`hold_time`]): a refresh of a minute is a second of tokio time, and each read
//! goes out at an exact instant. The clock starts at 14:07:30, the instant at which the
//! window ending 14:06 has settled (the default settle delay, 90 s), so every later
//! refresh falls due on a whole second of tokio time.

use std::time::Duration;

use genesys_exporter::cli::demo_queries;
use genesys_exporter::config::QueryConfig;
use genesys_sim::{Fault, FaultSpec, SimulatedOrg, aggregate};
use genesys_wire::time::{Clock, Interval};
use genesys_wire::{
    AggregateGroup, AggregateResponse, IntervalData, MetricEntry, QUERY_PATH, Stats,
};
use jiff::{SignedDuration, Timestamp};

use crate::util::{
    clock::hold_time,
    expected::{assert_same_samples, demo_request, samples_of},
    exporter::{Exporter, config_for, start_exporter},
    samples::{Samples, conversation, value},
    sim::{Sim, afternoon_sim, start_simulator},
    wait::{wait_for_metrics, wait_until},
};

/// The demo's `live` query: the last five minutes by queue and media type, read every
/// minute.
fn live() -> QueryConfig {
    let live = demo_queries().into_iter().find(|q| q.name == "live");
    live.expect("the demo runs a query named live")
}

/// The live query's window, in minutes.
fn window_minutes() -> i64 {
    let window = live().window.expect("live is a rolling query");
    i64::try_from(window.as_secs() / 60).expect("a window of at most a day")
}

const LIVE: &[(&str, &str)] = &[("query", "live")];

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// `end` moved by `minutes`.
fn minutes_after(end: Timestamp, minutes: i64) -> Timestamp {
    end + SignedDuration::from_mins(minutes)
}

/// The window the live query last published, from its interval gauges.
fn published(samples: &Samples) -> Option<Interval> {
    let at = |name| {
        let seconds = value(samples, name, LIVE)?;
        Timestamp::from_second(seconds as i64).ok()
    };
    Some(Interval {
        start: at("genesys_interval_start_timestamp_seconds")?,
        end: at("genesys_interval_end_timestamp_seconds")?,
    })
}

/// The simulator's totals over `window`, added up from its answer minute by minute (not
/// from an answer to the exporter's own request), as one data entry per group: counts and
/// sums added, the largest max and the smallest min, the service level's numerator and
/// denominator added and their ratio taken again.
fn minute_sums(org: &SimulatedOrg, window: Interval) -> AggregateResponse {
    let metrics = live().metrics.unwrap();
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let request = demo_request(window.start, window.end, "PT1M", &metrics);
    let minutes = aggregate(org, &request).unwrap();
    let results = minutes
        .results
        .into_iter()
        .map(|group| {
            let mut totals: Vec<MetricEntry> = Vec::new();
            for entry in group.data.into_iter().flat_map(|data| data.metrics) {
                match totals.iter_mut().find(|t| t.metric == entry.metric) {
                    Some(total) => add(&mut total.stats, &entry.stats),
                    None => totals.push(entry),
                }
            }
            AggregateGroup {
                group: group.group,
                data: vec![IntervalData {
                    interval: window.to_string(),
                    metrics: totals,
                }],
            }
        })
        .collect();
    AggregateResponse { results }
}

fn add(total: &mut Stats, minute: &Stats) {
    let plus = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    let by = |a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64| match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    };
    total.count = plus(total.count, minute.count);
    total.sum = plus(total.sum, minute.sum);
    total.max = by(total.max, minute.max, f64::max);
    total.min = by(total.min, minute.min, f64::min);
    total.numerator = plus(total.numerator, minute.numerator);
    total.denominator = plus(total.denominator, minute.denominator);
    if let (Some(numerator), Some(denominator)) = (total.numerator, total.denominator) {
        total.ratio = Some(numerator / denominator);
    }
    if total.target != minute.target {
        total.target = None;
    }
}

/// A simulator, and an exporter with the live query alone whose clock starts at `start`
/// and runs 60 times as fast as tokio's, once it has published.
async fn start_live(start: &str) -> (Sim, Exporter, Clock) {
    let sim = start_simulator(afternoon_sim()).await;
    let clock = Clock::fast_from(ts(start), 60);
    let exporter = start_exporter(config_for(&sim, vec![live()]), clock.clone()).await;
    wait_for_metrics(&exporter.url, |s| value(s, "genesys_up", LIVE) == Some(1.0)).await;
    (sim, exporter, clock)
}

/// Waits until the live query has published the window that ends at `end`, checks its
/// series are the simulator's totals over the window before it, and returns the
/// samples.
async fn assert_publishes(exporter: &Exporter, end: Timestamp) -> Samples {
    let samples = wait_for_metrics(&exporter.url, |s| {
        published(s).is_some_and(|window| window.end >= end)
    })
    .await;
    let window = published(&samples).unwrap();
    let expected = Interval {
        start: minutes_after(end, -window_minutes()),
        end,
    };
    assert_eq!(window, expected, "the trailing window up to {end}");
    let org = SimulatedOrg::demo();
    let totals = samples_of("live", &minute_sums(&org, window), &org);
    assert!(totals.len() > 50, "the demo org is busy at {end}");
    assert_same_samples(&conversation(&samples), &totals);
    assert_eq!(
        value(&samples, "genesys_query_window_seconds", LIVE),
        Some(window_minutes() as f64 * 60.0)
    );
    samples
}

/// The aggregates requests the simulator has had.
fn reads(sim: &Sim) -> u64 {
    sim.simulator.requests().aggregates
}

#[tokio::test(start_paused = true)]
async fn each_refresh_publishes_the_simulators_totals_over_the_trailing_window() {
    let _time = hold_time();
    let (sim, exporter, _clock) = start_live("2026-08-20T14:07:30Z").await;
    let first = ts("2026-08-20T14:06:00Z");
    for minute in 0..4 {
        if minute > 0 {
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let samples = assert_publishes(&exporter, minutes_after(first, minute)).await;
        // Time stands still until the next move: one read per refresh, no more.
        assert_eq!(reads(&sim), minute as u64 + 1);
        assert_eq!(value(&samples, "genesys_up", LIVE), Some(1.0));
    }
    // Nothing counted as skipped buckets.
    let samples = assert_publishes(&exporter, minutes_after(first, 3)).await;
    assert_eq!(value(&samples, "genesys_skipped_buckets_total", LIVE), None);
}

#[tokio::test(start_paused = true)]
async fn a_clock_that_jumps_forward_reads_the_latest_window_once_and_goes_on_from_there() {
    let _time = hold_time();
    let (sim, exporter, clock) = start_live("2026-08-20T14:07:30Z").await;
    assert_publishes(&exporter, ts("2026-08-20T14:06:00Z")).await;

    // Seven minutes and twenty seconds pass at once: 14:14:50, whose latest settled
    // window ends 14:13. One read of it, not one for each minute missed.
    clock.advance(Duration::from_secs(7 * 60 + 20));
    assert_publishes(&exporter, ts("2026-08-20T14:13:00Z")).await;
    assert_eq!(reads(&sim), 2);

    // Then a minute at a time again, from 14:15:30: neither 14:13 again nor 14:07 to 14:12.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_publishes(&exporter, ts("2026-08-20T14:14:00Z")).await;
    assert_eq!(reads(&sim), 3);
    tokio::time::advance(Duration::from_secs(1)).await;
    let samples = assert_publishes(&exporter, ts("2026-08-20T14:15:00Z")).await;
    assert_eq!(reads(&sim), 4);
    assert_eq!(value(&samples, "genesys_skipped_buckets_total", LIVE), None);
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_delays_the_refreshes_after_it_without_a_burst_or_a_repeat() {
    let _time = hold_time();
    let (sim, exporter, _clock) = start_live("2026-08-20T14:07:30Z").await;
    assert_publishes(&exporter, ts("2026-08-20T14:06:00Z")).await;
    sim.simulator.add_fault(FaultSpec {
        fault: Fault::Slow { delay: 2.5 },
        path: QUERY_PATH.into(),
        after: 0.0,
        seconds: None,
        requests: Some(1),
    });

    // At 14:08:30 the window ending 14:07 is read, and its answer takes 2.5 minutes of
    // the exporter's time: the refreshes due at 14:09:30 and 14:10:30 pass meanwhile.
    tokio::time::advance(Duration::from_secs(1)).await;
    wait_until("the slow read reaches the simulator", || reads(&sim) == 2).await;
    tokio::time::advance(Duration::from_millis(2500)).await;
    assert_publishes(&exporter, ts("2026-08-20T14:07:00Z")).await;
    assert_eq!(
        reads(&sim),
        2,
        "no catch-up reads when the slow one ends, at 14:11"
    );

    // The next refresh is the next one due, at 14:11:30, of the latest window.
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_publishes(&exporter, ts("2026-08-20T14:10:00Z")).await;
    assert_eq!(reads(&sim), 3);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_publishes(&exporter, ts("2026-08-20T14:11:00Z")).await;
    assert_eq!(reads(&sim), 4);
}
