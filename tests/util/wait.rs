//! Waiting for events, never for a length of time.
//!
//! Tests wait for what they expect to see (a sample on /metrics, a request counted by the
//! simulator, a log line), never for a length of time, and give up after [`PATIENCE`] with a
//! message that says what did not happen. Mind that /metrics shows the exporter's own series
//! as of the end of the last poll (or the breaker's last change): what happens within a
//! poll, such as a retry, shows only once the poll is over.

use std::time::{Duration, Instant};

use super::http::get;
use super::samples::{Samples, parse};

/// How long a test waits for something it expects before it fails: generous, for a CI
/// machine that runs the suite on two loaded cores.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How long [`pause`] lasts.
pub const PAUSE: Duration = Duration::from_millis(20);

/// A pause of a few milliseconds of real time between two looks at something awaited. A
/// blocking sleep on tokio's blocking pool rather than `tokio::time::sleep`, so that it
/// passes also while a test holds tokio's clock still ([`hold_time`]).
pub async fn pause() {
    tokio::task::spawn_blocking(|| std::thread::sleep(PAUSE))
        .await
        .unwrap();
}

/// Waits until `done` holds, looking again every few milliseconds; fails after
/// [`PATIENCE`], saying that `what` never happened.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}, in vain"
        );
        pause().await;
    }
}

/// Scrapes `/metrics` until `done` holds for its samples, and returns them; fails after
/// [`PATIENCE`], showing the exporter's own series as last scraped.
pub async fn wait_for_metrics(base: &str, done: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = parse(&get(&format!("{base}/metrics")).await.body);
        if done(&samples) {
            return samples;
        }
        if Instant::now() >= deadline {
            panic!(
                "/metrics did not reach the expected state within {PATIENCE:?}; it said:\n{}",
                own_series(&samples)
            );
        }
        pause().await;
    }
}

/// The exporter's series about itself, one a line: what a failed wait shows.
pub(super) fn own_series(samples: &Samples) -> String {
    let lines: Vec<String> = samples
        .iter()
        .filter(|((name, _), _)| !name.starts_with("genesys_conversation_"))
        .map(|((name, labels), value)| format!("  {name}{labels:?} {value}"))
        .collect();
    lines.join("\n")
}

/// Tries `attempt` until it succeeds, pausing between tries; fails after [`PATIENCE`],
/// saying what never worked and the last error.
pub async fn retry_until<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => assert!(
                Instant::now() < deadline,
                "{what}: still failing after {PATIENCE:?}: {error}"
            ),
        }
        pause().await;
    }
}
