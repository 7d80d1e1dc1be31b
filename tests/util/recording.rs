//! `/metrics` recorded on held time: a scrape every 15 s, each at the instant every poll due
//! then has published, as the alert tests feed them to promtool.

use std::time::{Duration, Instant};

use genesys_wire::time::Clock;
use jiff::Timestamp;

use super::exporter::Exporter;
use super::http::get;
use super::samples::{Samples, parse, value};
use super::wait::{PATIENCE, pause};

/// The scrape interval, the rule evaluation interval, and each step of held time.
pub const STEP: Duration = Duration::from_secs(15);

/// When each query last published.
pub const LAST_SUCCESS: &str = "genesys_last_success_timestamp_seconds";

/// The gauge that tells the rules a rolling query from a bucket query.
pub const WINDOW_GAUGE: &str = "genesys_query_window_seconds";

pub fn seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

fn last_success(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, LAST_SUCCESS, &[("query", query)])
}

/// Moves held time forward one step: 10 s, a moment of real time, then 5 s, so that the
/// servers' 10 s idle timeout closes an idle connection before the next poll, never at the
/// same instant (see [`super::clock::hold_time`]).
pub async fn step() {
    tokio::time::advance(Duration::from_secs(10)).await;
    pause().await;
    tokio::time::advance(STEP - Duration::from_secs(10)).await;
}

/// The lines of a `/metrics` body named in `names`, [`LAST_SUCCESS`]'s and
/// [`WINDOW_GAUGE`]'s, read: a strict parse of the whole body takes longer than the poll
/// it waits for.
fn read_named(body: &str, names: &[&str]) -> Samples {
    let wanted = |line: &str| {
        let named = |name: &str| {
            line.starts_with(name) && matches!(line.as_bytes().get(name.len()), Some(b'{' | b' '))
        };
        named(LAST_SUCCESS) || named(WINDOW_GAUGE) || names.iter().any(|name| named(name))
    };
    let lines: Vec<&str> = body.lines().filter(|line| wanted(line)).collect();
    parse(&lines.join("\n"))
}

/// The series of `names` (and [`WINDOW_GAUGE`]'s) on `/metrics` once every query in `due`
/// has published at `t`; fails after [`PATIENCE`].
pub async fn published(exporter: &Exporter, t: Timestamp, due: &[&str], names: &[&str]) -> Samples {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = read_named(&get(&format!("{}/metrics", exporter.url)).await.body, names);
        let at: Vec<Option<f64>> = due.iter().map(|q| last_success(&samples, q)).collect();
        if at.iter().all(|at| *at == Some(seconds(t))) {
            return samples
                .into_iter()
                .filter(|((name, _), _)| name != LAST_SUCCESS)
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {due:?} to publish at {t}; they last did at {at:?}"
        );
        // A moment of real time, shorter than `pause`: over hundreds of steps, every
        // millisecond waited past the poll's end counts.
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2)))
            .await
            .unwrap();
    }
}

/// What a recording asks of each scrape.
pub struct Recorder<'a> {
    /// The queries whose poll falls due at an instant, given the run's start and it.
    pub due: &'a dyn Fn(Timestamp, Timestamp) -> Vec<&'static str>,
    /// The metric names read from `/metrics`.
    pub names: &'a [&'a str],
    /// The samples kept of each scrape.
    pub keep: &'a dyn Fn(&Samples) -> Samples,
}

/// Samples the exporter every [`STEP`] from `start` to `end`, each once every poll due at
/// that instant has published.
pub async fn record(
    exporter: &Exporter,
    clock: &Clock,
    (start, end): (Timestamp, Timestamp),
    recorder: &Recorder<'_>,
) -> Vec<Samples> {
    let mut recorded = Vec::new();
    let mut t = start;
    loop {
        assert_eq!(clock.now(), t, "time is held");
        let due = (recorder.due)(start, t);
        let samples = published(exporter, t, &due, recorder.names).await;
        recorded.push((recorder.keep)(&samples));
        if t >= end {
            return recorded;
        }
        step().await;
        t += STEP;
    }
}

/// Whether a poll published `settle` after each end of a `period` (seconds, from the
/// epoch: whole minutes, quarters of an hour) falls due at `t`.
pub fn settled_at(t: Timestamp, settle: Duration, period: i64) -> bool {
    let settled = t - jiff::SignedDuration::try_from(settle).unwrap();
    settled.as_second().rem_euclid(period) == 0
}
