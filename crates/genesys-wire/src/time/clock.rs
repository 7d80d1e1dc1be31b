//! Where the pollers get the time from: the system clock, or a simulated one that tests
//! and demos start at a chosen instant and may move forward.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Where the poller gets the time from. Tests use [`Clock::starting_at`] with tokio's paused
/// time, so that a day of polling runs in milliseconds, or move it forward with
/// [`Clock::advance`] to let an exporter live through an hour at once.
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// The system clock moved by a fixed amount: `--demo-time`'s clock, which shows the
    /// simulated org at another instant while the process lives in real time. What it
    /// exports for Prometheus to compare with its own clock is mapped back ([`Clock::wall`]).
    Shifted {
        by: SignedDuration,
    },
    /// Wall time that starts at a given instant and advances `speed` times as fast as
    /// tokio's clock, plus whatever it was moved forward by. Clones share the moves.
    Simulated {
        start: Timestamp,
        origin: tokio::time::Instant,
        speed: u32,
        moved: Arc<Moves>,
    },
}

/// The instant `after` from now on tokio's clock, or about thirty years from now (as
/// tokio's own `sleep` does) when `after` is too long to add: a deadline computed from a
/// configured or announced duration never panics, whatever the duration.
pub fn deadline_after(after: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// How far a simulated clock was moved forward, and a way to wake its sleepers.
#[derive(Debug, Default)]
pub struct Moves {
    by: Mutex<Duration>,
    notify: tokio::sync::Notify,
}

impl Clock {
    /// The system clock moved so that it reads `start` now, and runs on from there in
    /// real time.
    pub fn shifted_to(start: Timestamp) -> Clock {
        Clock::Shifted {
            by: start.duration_since(Timestamp::now()),
        }
    }

    pub fn starting_at(start: Timestamp) -> Clock {
        Clock::fast_from(start, 1)
    }

    /// A clock that starts at `start` and runs `speed` times faster than tokio's clock: for
    /// tests of many buckets, where the bucket arithmetic moves faster than token lifetimes
    /// and timeouts, which stay on tokio's clock.
    pub fn fast_from(start: Timestamp, speed: u32) -> Clock {
        Clock::Simulated {
            start,
            origin: tokio::time::Instant::now(),
            speed: speed.max(1),
            moved: Arc::default(),
        }
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Shifted { by } => shift(Timestamp::now(), *by),
            Clock::Simulated {
                start,
                origin,
                speed,
                moved,
            } => {
                let by = *moved.by.lock().unwrap_or_else(|p| p.into_inner());
                let elapsed = origin.elapsed() * *speed + by;
                *start + SignedDuration::try_from(elapsed).expect("elapsed time is short")
            }
        }
    }

    /// The instant of the system clock (Prometheus's `time()`) at which this clock reads
    /// `at`: for the timestamps the exporter exports to say how fresh its data is, which
    /// the rules and dashboards compare with `time()`. A shifted clock's instants are moved
    /// back by its shift. A simulated clock's are their own: in a test it is the only clock,
    /// and what it exports is read on it.
    pub fn wall(&self, at: Timestamp) -> Timestamp {
        match self {
            Clock::Shifted { by } => shift(at, -*by),
            Clock::System | Clock::Simulated { .. } => at,
        }
    }

    /// Moves a simulated clock forward by `by`, as if that much time had passed at once,
    /// and wakes whoever sleeps on it. Only tests do this.
    ///
    /// # Panics
    ///
    /// On [`Clock::System`], which cannot be moved.
    pub fn advance(&self, by: Duration) {
        let Clock::Simulated { moved, .. } = self else {
            panic!("only a simulated clock can be moved");
        };
        *moved.by.lock().unwrap_or_else(|p| p.into_inner()) += by;
        moved.notify.notify_waiters();
    }

    /// Sleeps until `deadline`; returns at once if it has passed.
    pub async fn sleep_until(&self, deadline: Timestamp) {
        loop {
            let (moves, speed) = match self {
                Clock::System | Clock::Shifted { .. } => (None, 1),
                Clock::Simulated { moved, speed, .. } => (Some(moved.notify.notified()), *speed),
            };
            tokio::pin!(moves);
            // Listening before reading the time, so that a move in between is not missed.
            if let Some(moved) = moves.as_mut().as_pin_mut() {
                moved.enable();
            }
            let remaining = deadline.duration_since(self.now());
            let Ok(remaining) = Duration::try_from(remaining) else {
                return;
            };
            if remaining.is_zero() {
                return;
            }
            let remaining = remaining / speed;
            match moves.as_mut().as_pin_mut() {
                None => tokio::time::sleep(remaining).await,
                Some(moved) => {
                    tokio::select! {
                        () = tokio::time::sleep(remaining) => {}
                        () = moved => {}
                    }
                }
            }
        }
    }
}

/// `at` moved by `by`, saturating at the ends of time.
fn shift(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.saturating_add(by).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_simulated_clock_advances_with_tokio_time() {
        let clock = Clock::starting_at(ts("2026-08-20T10:00:00Z"));
        clock.sleep_until(ts("2026-08-20T10:15:00Z")).await;
        assert_eq!(clock.now(), ts("2026-08-20T10:15:00Z"));
        clock.sleep_until(ts("2026-08-20T10:00:00Z")).await;
        assert_eq!(
            clock.now(),
            ts("2026-08-20T10:15:00Z"),
            "a past deadline returns at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn moving_the_clock_forward_wakes_its_sleepers() {
        let clock = Clock::starting_at(ts("2026-08-20T10:00:00Z"));
        let sleeper = clock.clone();
        let woke = tokio::spawn(async move {
            sleeper.sleep_until(ts("2026-08-20T10:15:00Z")).await;
            tokio::time::Instant::now()
        });
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Not yet: ten more minutes to go.
        clock.advance(Duration::from_secs(240));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!woke.is_finished());
        // Now past the deadline.
        clock.advance(Duration::from_secs(900));
        let woke_at = woke.await.unwrap();
        assert_eq!(woke_at - started, Duration::from_secs(120));
        assert_eq!(clock.now(), ts("2026-08-20T10:21:00Z"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_clock_runs_its_speed_times_faster() {
        let clock = Clock::fast_from(ts("2026-08-20T10:00:00Z"), 60);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(clock.now(), ts("2026-08-20T10:02:00Z"));
        let before = tokio::time::Instant::now();
        clock.sleep_until(ts("2026-08-20T10:17:00Z")).await;
        assert_eq!(before.elapsed(), Duration::from_secs(15));
        assert_eq!(clock.now(), ts("2026-08-20T10:17:00Z"));
    }

    #[tokio::test]
    async fn a_shifted_clock_reads_its_instant_and_exports_the_systems() {
        // Bracketed by two reads of the system clock, moved by the shift: no margin.
        let before = Timestamp::now();
        let clock = Clock::shifted_to(ts("2026-12-03T14:00:00Z"));
        let Clock::Shifted { by } = clock else {
            unreachable!()
        };
        let now = clock.now();
        let after = Timestamp::now();
        assert!(before + by <= now && now <= after + by, "{now}");
        assert!(
            ts("2026-12-03T14:00:00Z") <= now
                && now <= ts("2026-12-03T14:00:00Z") + (after - before),
            "{now}"
        );
        // What it exports is on the system clock, whatever instant it shows.
        assert_eq!(clock.wall(now), now - by);
        let (before, wall, after) = (Timestamp::now(), clock.wall(clock.now()), Timestamp::now());
        assert!(before <= wall && wall <= after, "{wall}");
        // It sleeps in real time to its own instants.
        let started = std::time::Instant::now();
        clock
            .sleep_until(clock.now() + SignedDuration::from_millis(50))
            .await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Far shifts saturate rather than overflow.
        let far = Clock::Shifted {
            by: SignedDuration::MAX,
        };
        assert_eq!(far.now(), Timestamp::MAX);
        assert_eq!(far.wall(Timestamp::MIN), Timestamp::MIN);
        // The system and simulated clocks export their own instants.
        let at = ts("2026-08-20T10:00:00Z");
        assert_eq!(Clock::System.wall(at), at);
        assert_eq!(Clock::starting_at(at).wall(at), at);
    }
}
