//! Time the test moves itself: tokio's clock held still, and moved in small steps.

use std::time::{Duration, Instant};

use super::http::get;
use super::samples::{Samples, parse};
use super::wait::{PATIENCE, PAUSE, own_series, pause};

/// Holds tokio's clock still until dropped: from the call on, tokio time moves only when
/// the test calls `tokio::time::advance`, so every timer (token lifetimes, the circuit
/// breaker's cool-down, retry delays, request timeouts, a simulated [`Clock`], the
/// simulator's own waits) ends exactly when the test says, however slow the machine. Call
/// it first thing in a `#[tokio::test(start_paused = true)]`; `start_paused` (rather than
/// pausing later) keeps the clock on whole milliseconds, so that a timer of exactly the
/// time moved fires.
///
/// Paused time alone does not do with real sockets: whenever every task waits, even on a
/// socket, tokio jumps to the next timer, firing request timeouts. A blocking task stops
/// that while it runs (tokio documents it under `time::pause`, "Preventing auto-advance"),
/// and this one runs until the guard is dropped. Waits meanwhile pace themselves in real
/// time ([`pause`]).
///
/// Let no connection idle for 10 s or more of held time: the simulator's and the exporter's
/// servers then close it (their header-read timeout) at the very instant the client may
/// reuse it, which real time never lines up, and the request hangs with its timeout held
/// still too.
pub fn hold_time() -> HeldTime {
    let (release, released) = std::sync::mpsc::channel::<()>();
    // Returns once the guard, and with it the sender, is dropped.
    drop(tokio::task::spawn_blocking(move || released.recv()));
    HeldTime { _release: release }
}

/// Tokio's clock is held still while this lives; see [`hold_time`].
#[must_use = "time is held only while the guard lives"]
pub struct HeldTime {
    _release: std::sync::mpsc::Sender<()>,
}

/// Moves held time forward by `by`, in steps short of the servers' idle timeout, each
/// followed by a moment of real time for what it woke to run.
pub async fn advance(by: Duration) {
    let step = Duration::from_secs(5);
    let mut left = by;
    while !left.is_zero() {
        let now = left.min(step);
        tokio::time::advance(now).await;
        left -= now;
        pause().await;
    }
}

/// Moves held time forward [`PAUSE`] at a time, each step followed by a pause as long in
/// real time and a scrape of `/metrics`, until `done` holds for the samples; returns them
/// and how far time moved. Small steps let what each one wakes (a backoff, a retry delay)
/// play out before the next, and a request in flight never sees held time run faster than
/// real time would: no request timeout fires that would not in real life.
pub async fn advance_until(base: &str, done: impl Fn(&Samples) -> bool) -> (Samples, Duration) {
    let deadline = Instant::now() + PATIENCE;
    let mut moved = Duration::ZERO;
    loop {
        let samples = parse(&get(&format!("{base}/metrics")).await.body);
        if done(&samples) {
            return (samples, moved);
        }
        if Instant::now() >= deadline {
            panic!(
                "/metrics did not reach the expected state within {PATIENCE:?} of real time \
                 ({moved:?} of tokio time moved); it said:\n{}",
                own_series(&samples)
            );
        }
        tokio::time::advance(PAUSE).await;
        moved += PAUSE;
        pause().await;
    }
}
