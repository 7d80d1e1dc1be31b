//! A collection of the present (the queue observations, the agent states): one every
//! `refresh` from the first, a tick that runs long skipping the ticks it missed rather
//! than piling them up; without the permission (a 403) a warning once that names it,
//! `genesys_up{query}` 0, and the question asked again every hour; any other failure
//! retried at the next tick, warned once per run of failures. Written once here for every
//! such source.
//!
//! `refresh` is a watch channel, so that the API budget can stretch it while the exporter
//! runs: a change takes effect at once, from the start of the current tick.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Outcome;
use super::standing::{FORBIDDEN_RETRY, later};
use crate::error::Error;
use genesys_wire::Endpoint;
use genesys_wire::time::{Clock, Interval};

/// The data is dropped this many refreshes after the last successful collection.
pub const MAX_AGE_REFRESHES: u32 = 3;

/// What a source of the present is called in its log lines.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// What it collects, such as `queue observations`.
    pub what: &'static str,
    /// One collection of it, such as `queue observation`.
    pub one: &'static str,
    /// What a 403 keeps it from doing, such as `observe the queues`.
    pub forbidden: &'static str,
    /// Its `query` label.
    pub query: &'static str,
    /// The endpoint whose permission it needs.
    pub endpoint: Endpoint,
}

/// When a source of the present collects next, and what it logs of its outcomes.
#[derive(Debug, Clone)]
pub struct Present {
    subject: Subject,
    /// The refresh configured.
    configured: Duration,
    /// The refresh now: `configured`, unless the budget stretched it (`None` means
    /// `configured`).
    refresh: watch::Receiver<Option<Duration>>,
    clock: Clock,
    standing: Standing,
    /// When the last collection started.
    started: Option<Timestamp>,
}

/// What the last collection found out about asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Allowed,
    /// The list of what to collect for (the queues, the flows) has not been read yet.
    NotListed,
    Forbidden,
    /// Failed otherwise; retried at the next tick.
    Failing,
}

impl Present {
    pub fn new(
        subject: Subject,
        configured: Duration,
        refresh: watch::Receiver<Option<Duration>>,
        clock: Clock,
    ) -> Present {
        Present {
            subject,
            configured,
            refresh,
            clock,
            standing: Standing::Allowed,
            started: None,
        }
    }

    /// How long its data is served: [`MAX_AGE_REFRESHES`] refreshes, as the refresh is now.
    pub fn max_age(&self) -> Duration {
        self.refresh
            .borrow()
            .unwrap_or(self.configured)
            .checked_mul(MAX_AGE_REFRESHES)
            .unwrap_or(Duration::MAX)
    }

    /// [`Collector::next`](super::Collector::next): logs the last outcome, waits for the
    /// next tick (or an hour after a 403), and gives the instant to collect.
    pub async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        if let (Some(last), Some(started)) = (last, self.started) {
            self.note(last);
            let wait = match self.standing {
                Standing::Forbidden => Wait::Until(later(self.clock.now(), FORBIDDEN_RETRY)),
                _ => Wait::NextTick(started),
            };
            if !wait_for(
                wait,
                &self.clock,
                &mut self.refresh,
                self.configured,
                shutdown,
            )
            .await
            {
                return None;
            }
        }
        let now = self.clock.now();
        self.started = Some(now);
        Some(Interval {
            start: now,
            end: now,
        })
    }

    /// Logs `outcome` against the standing before it, and keeps the new standing.
    fn note(&mut self, outcome: &Outcome) {
        let Subject {
            what,
            one,
            forbidden,
            query,
            endpoint,
        } = self.subject;
        let was = self.standing;
        self.standing = match outcome {
            Ok(_) => Standing::Allowed,
            Err(Error::NoQueuesYet | Error::NoFlowsYet) => Standing::NotListed,
            Err(Error::Api { status: 403, .. }) => Standing::Forbidden,
            Err(_) => Standing::Failing,
        };
        match outcome {
            Ok(series) => {
                if was == Standing::Forbidden {
                    tracing::info!("{what} allowed again");
                } else if was == Standing::Failing {
                    tracing::info!("{what} succeed again");
                }
                tracing::debug!(query, series, "published");
            }
            Err(error @ (Error::NoQueuesYet | Error::NoFlowsYet)) => {
                if was != Standing::NotListed {
                    let list = match error {
                        Error::NoQueuesYet => Endpoint::Queues,
                        _ => Endpoint::Flows,
                    };
                    tracing::warn!(
                        "{error}; collecting {what} once it is (reading it needs {})",
                        list.permission()
                    );
                }
            }
            Err(error) => {
                if self.standing == Standing::Failing && was != Standing::Failing {
                    // Warned once per run of failures, not at every tick (5,760 a day
                    // at 15 s); genesys_poll_failures_total counts each.
                    tracing::warn!(%error, "{one} failed; its previous data stays until it is {MAX_AGE_REFRESHES} refreshes old, and it is tried again every refresh");
                } else if self.standing == Standing::Failing {
                    tracing::debug!(%error, "{one} failed again");
                } else if was != Standing::Forbidden {
                    tracing::warn!(
                        %error,
                        "cannot {forbidden}: grant the OAuth client's role {}; genesys_up{{query=\"{query}\"}} is 0, and they are asked for again every hour",
                        endpoint.permission()
                    );
                }
            }
        }
    }
}

/// What to wait for before the next collection, on the exporter's clock.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// The first tick after the collection that started then, as the refresh is now.
    NextTick(Timestamp),
    Until(Timestamp),
}

/// Waits on `clock` as `wait` says, following changes of `refresh`; false on shutdown.
async fn wait_for(
    wait: Wait,
    clock: &Clock,
    refresh: &mut watch::Receiver<Option<Duration>>,
    configured: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let mut watching = true;
    loop {
        let deadline = match wait {
            Wait::Until(deadline) => deadline,
            Wait::NextTick(started) => next_tick(
                started,
                refresh.borrow_and_update().unwrap_or(configured),
                clock.now(),
            ),
        };
        let following = matches!(wait, Wait::NextTick(_)) && watching;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return false,
            changed = refresh.changed(), if following => {
                // Without a sender the refresh stays as it is.
                watching = changed.is_ok();
            }
            () = clock.sleep_until(deadline) => return true,
        }
    }
}

/// The first tick `refresh` apart from `started` at or after `now` (and after `started`):
/// ticks missed while a collection ran long are skipped, not made up. Saturates at the
/// end of time.
fn next_tick(started: Timestamp, refresh: Duration, now: Timestamp) -> Timestamp {
    let refresh =
        i128::try_from(refresh.max(Duration::from_millis(1)).as_nanos()).unwrap_or(i128::MAX);
    let elapsed = now
        .as_nanosecond()
        .saturating_sub(started.as_nanosecond())
        .max(0);
    // The first whole number of refreshes, at least one, that reaches `elapsed`.
    let ticks = (elapsed.saturating_add(refresh - 1) / refresh).max(1);
    let tick = started
        .as_nanosecond()
        .saturating_add(ticks.saturating_mul(refresh));
    Timestamp::from_nanosecond(tick).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stretched_refresh_takes_effect_from_the_current_tick() {
        let s = Duration::from_secs;
        let clock = Clock::starting_at(ts("2026-08-20T14:07:00Z"));
        let elapsed =
            |since: Timestamp| Duration::try_from(clock.now().duration_since(since)).unwrap();
        let (stretch, mut refresh) = watch::channel(Some(s(15)));
        let shutdown = CancellationToken::new();
        let started = clock.now();
        let stretcher = tokio::spawn(async move {
            tokio::time::sleep(s(5)).await;
            stretch.send_replace(Some(s(40)));
            // Then the budget goes away: the refresh stays as it was last set.
            drop(stretch);
        });
        let next = Wait::NextTick(started);
        assert!(wait_for(next, &clock, &mut refresh, s(15), &shutdown).await);
        assert_eq!(
            elapsed(started),
            s(40),
            "40 s from the tick's start, not 15"
        );
        stretcher.await.unwrap();
        let started = clock.now();
        let next = Wait::NextTick(started);
        assert!(wait_for(next, &clock, &mut refresh, s(15), &shutdown).await);
        assert_eq!(elapsed(started), s(40));

        // A 403's hour does not follow the refresh; shutdown ends any wait.
        let (_keep, mut refresh) = watch::channel(None);
        let started = clock.now();
        let until = Wait::Until(later(started, FORBIDDEN_RETRY));
        assert!(wait_for(until, &clock, &mut refresh, s(15), &shutdown).await);
        assert_eq!(elapsed(started), FORBIDDEN_RETRY);
        shutdown.cancel();
        assert!(!wait_for(until, &clock, &mut refresh, s(15), &shutdown).await);
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_follow_the_exporters_clock_when_it_is_moved_or_runs_fast() {
        let s = Duration::from_secs;
        let shutdown = CancellationToken::new();
        let (_keep, mut refresh) = watch::channel(Some(s(15)));
        // Sixty times as fast as tokio's clock: a 15 s tick is a quarter of a tokio second.
        let fast = Clock::fast_from(ts("2026-08-20T14:07:00Z"), 60);
        let began = tokio::time::Instant::now();
        let next = Wait::NextTick(fast.now());
        assert!(wait_for(next, &fast, &mut refresh, s(15), &shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_millis(250));
        // Moved forward past the tick: the wait ends at once.
        let clock = Clock::starting_at(ts("2026-08-20T14:07:00Z"));
        let next = Wait::NextTick(clock.now());
        let mover = clock.clone();
        tokio::spawn(async move { mover.advance(s(20)) });
        let began = tokio::time::Instant::now();
        assert!(wait_for(next, &clock, &mut refresh, s(15), &shutdown).await);
        assert_eq!(began.elapsed(), Duration::ZERO);
    }

    #[test]
    fn a_long_collection_skips_the_ticks_it_missed() {
        let start = ts("2026-08-20T14:07:00Z");
        let refresh = Duration::from_secs(15);
        let at = |seconds: i64| start + jiff::SignedDuration::from_secs(seconds);
        // On time: the next tick.
        assert_eq!(next_tick(start, refresh, at(2)), at(15));
        // 40 s long: the ticks at 15 and 30 are gone, the next is at 45.
        assert_eq!(next_tick(start, refresh, at(40)), at(45));
        // Exactly on a tick: that one, at once.
        assert_eq!(next_tick(start, refresh, at(30)), at(30));
        // A clock that went back: the first tick after the start.
        assert_eq!(next_tick(start, refresh, at(-100)), at(15));
        // A refresh too long to add does not panic.
        assert_eq!(next_tick(start, Duration::MAX, start), Timestamp::MAX);
        assert_eq!(later(start, Duration::MAX), Timestamp::MAX);
    }
}
