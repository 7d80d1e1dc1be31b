//! The queue observations: every `refresh`, every queue of the directory's last read of
//! the queue list, in chunks of at most `queues_per_request` queue IDs (one request each),
//! published whole under `query="observations"`, served until 3 × `refresh` after the
//! last success.
//!
//! Ticks fall every `refresh` from the first observation; one that runs long does not pile
//! the missed ticks up, the next observation waits for the next tick. Without
//! `analytics:queueObservation:view` (a 403) it warns once, `genesys_up{query=
//! "observations"}` is 0, and it asks again every hour ([`Permission`]); any other failure
//! is retried at the next tick. The aggregates queries never wait on it.
//!
//! `refresh` is a watch channel, so that the API budget can stretch it while the exporter
//! runs: a change takes effect at once, from the start of the current tick.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::standing::Observing;
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::{OBSERVATIONS_QUERY, ObservationSettings};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::exposition::{ObservationSamples, QuerySamples};
use crate::genesys::client::Client;
use crate::genesys::observation_requests;
use genesys_wire::Endpoint;
use genesys_wire::time::{Clock, Interval};

/// The data is dropped this many refreshes after the last successful observation.
pub const MAX_AGE_REFRESHES: u32 = 3;

/// Every queue of the directory, observed every refresh.
#[derive(Clone)]
pub struct Observations {
    pub settings: ObservationSettings,
    /// The refresh now: `settings.refresh`, unless the budget stretched it (`None`, as
    /// the budget has it when observations are off, means `settings.refresh`).
    pub refresh: watch::Receiver<Option<Duration>>,
    pub client: Arc<Client>,
    /// Where the queues to observe, and the presences' names, come from.
    pub directory: Arc<Directory>,
    pub clock: Clock,
    standing: Observing,
    /// When the last observation started.
    started: Option<Timestamp>,
}

impl Observations {
    pub fn new(
        settings: ObservationSettings,
        refresh: watch::Receiver<Option<Duration>>,
        client: Arc<Client>,
        directory: Arc<Directory>,
        clock: Clock,
    ) -> Observations {
        Observations {
            settings,
            refresh,
            client,
            directory,
            clock,
            standing: Observing::new(
                "observe the queues",
                "queue observations",
                OBSERVATIONS_QUERY,
                Endpoint::Observations,
            ),
            started: None,
        }
    }
}

impl Collector for Observations {
    fn name(&self) -> &str {
        OBSERVATIONS_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Observations
    }

    fn cost(&self) -> Cost {
        Cost::per_queues(self.settings.refresh, self.settings.queues_per_request)
    }

    fn readiness(&self) -> Readiness {
        Readiness::DoesNotWait
    }

    fn max_age(&self) -> Duration {
        self.refresh
            .borrow()
            .unwrap_or(self.settings.refresh)
            .checked_mul(MAX_AGE_REFRESHES)
            .unwrap_or(Duration::MAX)
    }

    async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        if let (Some(last), Some(started)) = (last, self.started) {
            let configured = self.settings.refresh;
            let ticks = Ticks {
                clock: &self.clock,
                refresh: &mut self.refresh,
                configured,
            };
            if !wait_after(&mut self.standing, last, started, ticks, shutdown).await {
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

    async fn collect(&mut self, _: Interval, max_series: usize) -> Result<QuerySamples> {
        let Some(queue_ids) = self.directory.queues.listed() else {
            return Err(Error::NoQueuesYet);
        };
        let presences = self.directory.presences.current();
        let mut samples = ObservationSamples::new(OBSERVATIONS_QUERY, &presences, max_series);
        let requests = observation_requests::requests(
            &queue_ids,
            &self.settings.metrics,
            self.settings.queues_per_request,
        );
        for request in requests {
            let response = self.client.observations(&request).await?;
            samples
                .add(&response, self.clock.now())
                .map_err(|_| too_many_series(OBSERVATIONS_QUERY, max_series))?;
        }
        Ok(samples.finish())
    }
}

/// The ticks an observation follows: every `refresh` (`configured` unless the budget
/// stretched it) on `clock`.
pub(super) struct Ticks<'a> {
    pub clock: &'a Clock,
    pub refresh: &'a mut watch::Receiver<Option<Duration>>,
    pub configured: Duration,
}

/// Notes `last`, the outcome of the observation that started at `started`, and waits for
/// the next: the next tick, or after a 403 the hour. False on shutdown.
pub(super) async fn wait_after(
    standing: &mut Observing,
    last: &Outcome,
    started: Timestamp,
    ticks: Ticks<'_>,
    shutdown: &CancellationToken,
) -> bool {
    standing.note(last);
    let wait = match standing.retry_at(ticks.clock.now()) {
        Some(at) => Wait::Until(at),
        None => Wait::NextTick(started),
    };
    wait_for(wait, ticks.clock, ticks.refresh, ticks.configured, shutdown).await
}

/// What to wait for before the next observation, on the exporter's clock.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// The first tick after the observation that started then, as the refresh is now.
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
/// ticks missed while an observation ran long are skipped, not made up. Saturates at the
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
    use crate::collect::standing::{FORBIDDEN_RETRY, later};

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
    fn a_long_observation_skips_the_ticks_it_missed() {
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
