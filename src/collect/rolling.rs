//! A configured query's trailing window: read at once, then at each refresh (see
//! [`Rolling`] for the grid the refreshes fall on). A refresh that runs late reads the
//! latest window once, with no catch-up reads, and the next window ends later than that
//! one (no earlier, with a refresh under a minute); a read that fails is retried after
//! `retry_delay`, on the window that is the latest then. Nothing is "skipped": each read
//! covers the minutes of the ones it replaces.

use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::buckets::{Aggregates, log_outcome, readiness};
use super::standing::{self, Permission};
use super::{Collector, Outcome, Readiness};
use crate::budget::Cost;
use crate::config::Query;
use crate::error::Result;
use crate::exposition::QuerySamples;
use crate::schedule::Rolling;
use genesys_wire::Endpoint;
use genesys_wire::time::{Clock, Interval};

/// A query's trailing window, read every refresh.
#[derive(Clone)]
pub struct RollingWindow {
    pub query: Query,
    pub aggregates: Aggregates,
    pub cursor: WindowCursor,
    /// Watched for the sources whose permission may be missing: see [`standing`].
    pub permission: Option<Permission>,
}

impl Collector for RollingWindow {
    fn name(&self) -> &str {
        &self.query.name
    }

    fn endpoint(&self) -> Endpoint {
        self.query.source.endpoint()
    }

    fn cost(&self) -> Cost {
        Cost::rolling_query(&self.query.name, self.query.source, &self.cursor.rolling)
    }

    fn readiness(&self) -> Readiness {
        readiness(&self.query)
    }

    fn max_age(&self) -> Duration {
        self.query.max_age
    }

    async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        if let (Some(last), Some(window)) = (last, self.cursor.last) {
            log_outcome(&self.query.name, window, last);
        }
        let clock = self.cursor.clock.clone();
        let after =
            standing::wait_if_forbidden(&mut self.permission, last, &clock, shutdown).await?;
        self.cursor.next_due(after, shutdown).await
    }

    async fn collect(&mut self, window: Interval, max_series: usize) -> Result<QuerySamples> {
        self.aggregates
            .collect(&self.query, window, max_series)
            .await
    }
}

/// Which window is read next, and when.
#[derive(Debug, Clone)]
pub struct WindowCursor {
    pub rolling: Rolling,
    pub clock: Clock,
    pub retry_delay: Duration,
    /// The window read last.
    last: Option<Interval>,
    /// The earliest end the next window read may have: never one already read, or older.
    next_end: Timestamp,
}

impl WindowCursor {
    pub fn new(rolling: Rolling, clock: Clock, retry_delay: Duration) -> WindowCursor {
        WindowCursor {
            rolling,
            clock,
            retry_delay,
            last: None,
            next_end: Timestamp::MIN,
        }
    }

    /// Waits for the window due after the last read (`None` before the first; else
    /// whether it succeeded). `None` on `shutdown`.
    pub async fn next_due(
        &mut self,
        last_succeeded: Option<bool>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        let (rolling, clock) = (&self.rolling, &self.clock);
        let mut due = match (self.last, last_succeeded) {
            (Some(last), Some(true)) => {
                self.next_end = rolling.following_end(last.end);
                rolling.next_due(clock.now(), last)
            }
            (Some(_), Some(false)) => {
                tokio::select! {
                    () = tokio::time::sleep(self.retry_delay) => {}
                    () = shutdown.cancelled() => return None,
                }
                clock.now()
            }
            _ => clock.now(),
        };
        loop {
            tokio::select! {
                () = clock.sleep_until(due) => {}
                () = shutdown.cancelled() => return None,
            }
            let latest = rolling.latest(clock.now());
            if latest.end < self.next_end {
                // The clock went back: wait for the window after the last one read.
                due = rolling.due(self.next_end);
                continue;
            }
            self.last = Some(latest);
            return Some(latest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a cursor was asked to read, and when.
    struct Recorder {
        polled: Vec<(Interval, Timestamp)>,
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Reads a 10-minute window every minute from `start` for `time` of simulated time,
    /// each read failing when `failing` says so at its instant.
    async fn run_for(start: &str, time: Duration, failing: fn(Timestamp) -> bool) -> Recorder {
        let clock = Clock::starting_at(ts(start));
        let rolling = Rolling {
            window: Duration::from_secs(600),
            refresh: Duration::from_secs(60),
            settle_delay: Duration::from_secs(90),
        };
        let mut cursor = WindowCursor::new(rolling, clock.clone(), Duration::from_secs(30));
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(time).await;
            stop.cancel();
        });
        let mut recorder = Recorder { polled: Vec::new() };
        let mut last = None;
        while let Some(window) = cursor.next_due(last, &shutdown).await {
            let now = clock.now();
            recorder.polled.push((window, now));
            last = Some(!failing(now));
        }
        recorder
    }

    /// (window, when it was read), as text.
    fn polled(recorder: &Recorder) -> Vec<(String, String)> {
        recorder
            .polled
            .iter()
            .map(|(w, at)| (w.to_string(), at.to_string()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_rolling_window_is_read_at_once_then_each_minute_once_settled() {
        let recorder = run_for("2026-08-20T10:07:10Z", Duration::from_secs(150), |_| false).await;
        assert_eq!(
            polled(&recorder),
            [
                (
                    "2026-08-20T09:55:00.000Z/2026-08-20T10:05:00.000Z",
                    "2026-08-20T10:07:10Z"
                ),
                (
                    "2026-08-20T09:56:00.000Z/2026-08-20T10:06:00.000Z",
                    "2026-08-20T10:07:30Z"
                ),
                (
                    "2026-08-20T09:57:00.000Z/2026-08-20T10:07:00.000Z",
                    "2026-08-20T10:08:30Z"
                ),
                (
                    "2026-08-20T09:58:00.000Z/2026-08-20T10:08:00.000Z",
                    "2026-08-20T10:09:30Z"
                ),
            ]
            .map(|(w, at)| (w.to_string(), at.to_string()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_rolling_read_is_retried_on_the_window_latest_then_and_nothing_is_skipped() {
        // The API is down from 10:08 to 10:10:45.
        let recorder = run_for("2026-08-20T10:07:30Z", Duration::from_secs(300), |now| {
            now >= ts("2026-08-20T10:08:00Z") && now < ts("2026-08-20T10:10:45Z")
        })
        .await;
        let at: Vec<String> = recorder
            .polled
            .iter()
            .map(|(_, at)| at.to_string())
            .collect();
        assert_eq!(
            at,
            [
                "2026-08-20T10:07:30Z",
                // Fails, and is retried every 30 s ...
                "2026-08-20T10:08:30Z",
                "2026-08-20T10:09:00Z",
                "2026-08-20T10:09:30Z",
                "2026-08-20T10:10:00Z",
                "2026-08-20T10:10:30Z",
                // ... on the window latest then, until it succeeds; then on the grid again.
                "2026-08-20T10:11:00Z",
                "2026-08-20T10:11:30Z",
                "2026-08-20T10:12:30Z",
            ]
        );
        let ends: Vec<String> = recorder
            .polled
            .iter()
            .map(|(w, _)| w.end.strftime("%H:%M").to_string())
            .collect();
        assert_eq!(
            ends,
            [
                "10:06", "10:07", "10:07", "10:08", "10:08", "10:09", "10:09", "10:10", "10:11"
            ]
        );
    }
}
