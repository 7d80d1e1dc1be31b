//! Rolling windows: the trailing `window` that ends on the latest whole minute at or before
//! `now − settle_delay`, read again every `refresh`.
//!
//! Reads fall due on a fixed grid: `settle_delay` past each multiple of `refresh` since
//! the Unix epoch. With a refresh of whole minutes every instant of the grid is a whole
//! minute plus the settle delay, the first moment a new window has settled: a 1-minute
//! refresh with the default 90 s settle delay reads at hh:mm:30 the window that ended at
//! hh:(mm−1):00. A read that comes late (the process stalled, a poll was slow, the clock
//! jumped) reads the latest window once and goes back on the grid: no burst of catch-up
//! reads, and the next read's window ends later than this one's. A refresh under a minute
//! reads the same window again until its end moves (data in it is still settling), but
//! never goes back.
//!
//! All of it is total: arithmetic on nanoseconds in `i128`, saturating at the ends of the
//! timestamp range, so no instant or duration makes it panic.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use genesys_wire::time::Interval;

const MINUTE: i128 = 60_000_000_000;

/// One rolling query's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rolling {
    /// The window's length, a whole number of minutes (the config checks it).
    pub window: Duration,
    /// How often the window is read.
    pub refresh: Duration,
    /// How long the data of a minute is given to settle before a window ending at it is
    /// read.
    pub settle_delay: Duration,
}

impl Rolling {
    /// The window to read at `now`: `[end − window, end)`, where `end` is the latest whole
    /// minute at or before `now − settle_delay`.
    pub fn latest(&self, now: Timestamp) -> Interval {
        let end = (nanos(now) - span(self.settle_delay)).div_euclid(MINUTE) * MINUTE;
        Interval {
            start: timestamp(end - span(self.window)),
            end: timestamp(end),
        }
    }

    /// The earliest end the read after a read of the window ending at `end` may have: a
    /// minute later, or the same end with a refresh under a minute.
    pub fn following_end(&self, end: Timestamp) -> Timestamp {
        if self.refresh >= Duration::from_secs(60) {
            timestamp(nanos(end) + MINUTE)
        } else {
            end
        }
    }

    /// When the window ending at `end` is read: the first instant of the grid at or after
    /// `end + settle_delay`.
    pub fn due(&self, end: Timestamp) -> Timestamp {
        self.tick_at_or_after(nanos(end) + span(self.settle_delay))
    }

    /// When to read next, at `now`, after reading `read`: the first instant of the grid
    /// after `now` whose window ends no earlier than [`Rolling::following_end`]. On time,
    /// that is one refresh later; late, the next instant of the grid, never one already
    /// past.
    pub fn next_due(&self, now: Timestamp, read: Interval) -> Timestamp {
        let settled = nanos(self.following_end(read.end)) + span(self.settle_delay);
        self.tick_at_or_after(settled.max(nanos(now) + 1))
    }

    /// The first instant of the grid at or after `t` nanoseconds since the epoch.
    fn tick_at_or_after(&self, t: i128) -> Timestamp {
        let (offset, step) = (span(self.settle_delay), span(self.refresh).max(1));
        // ceil((t − offset) / step), for either sign.
        let steps = -(offset - t).div_euclid(step);
        timestamp(offset.saturating_add(steps.saturating_mul(step)))
    }
}

/// `10m window, every 1m`, as the landing page shows it.
impl fmt::Display for Rolling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refresh = self.refresh.as_secs();
        write!(f, "{}m window, every ", self.window.as_secs() / 60)?;
        if refresh % 60 == 0 {
            write!(f, "{}m", refresh / 60)
        } else {
            write!(f, "{refresh}s")
        }
    }
}

fn nanos(t: Timestamp) -> i128 {
    t.as_nanosecond()
}

/// A duration in nanoseconds; every `Duration` fits in an `i128`.
fn span(duration: Duration) -> i128 {
    duration.as_nanos() as i128
}

/// The instant `t` nanoseconds after the epoch, saturating at the ends of the range.
fn timestamp(t: i128) -> Timestamp {
    let clamped = t.clamp(nanos(Timestamp::MIN), nanos(Timestamp::MAX));
    Timestamp::from_nanosecond(clamped).unwrap_or(if t < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn rolling(window_minutes: u64, refresh_seconds: u64, settle_seconds: u64) -> Rolling {
        Rolling {
            window: Duration::from_secs(window_minutes * 60),
            refresh: Duration::from_secs(refresh_seconds),
            settle_delay: Duration::from_secs(settle_seconds),
        }
    }

    #[test]
    fn the_window_ends_on_the_latest_whole_minute_a_settle_delay_ago() {
        let r = rolling(10, 60, 90);
        // 10:16:29 − 90 s = 10:14:59: the minute 10:14-10:15 has not settled yet.
        assert_eq!(
            r.latest(ts("2026-08-20T10:16:29Z")).to_string(),
            "2026-08-20T10:04:00.000Z/2026-08-20T10:14:00.000Z"
        );
        assert_eq!(
            r.latest(ts("2026-08-20T10:16:30Z")).to_string(),
            "2026-08-20T10:05:00.000Z/2026-08-20T10:15:00.000Z"
        );
    }

    #[test]
    fn reads_are_due_a_settle_delay_after_each_whole_minute() {
        let r = rolling(10, 60, 90);
        let read = r.latest(ts("2026-08-20T10:16:30Z"));
        let next = r.next_due(ts("2026-08-20T10:16:30Z"), read);
        assert_eq!(next, ts("2026-08-20T10:17:30Z"));
        assert_eq!(r.latest(next).end, ts("2026-08-20T10:16:00Z"));
        assert_eq!(r.due(ts("2026-08-20T10:16:00Z")), next);
        // A 5-minute refresh reads windows ending on the five minutes.
        let r = rolling(10, 300, 90);
        assert_eq!(
            r.due(ts("2026-08-20T10:11:00Z")),
            ts("2026-08-20T10:16:30Z")
        );
    }

    #[test]
    fn a_late_read_takes_the_latest_window_and_the_next_is_back_on_the_grid() {
        let r = rolling(10, 60, 90);
        // Due at 10:17:30, woken at 10:25:10: one read of the window ending 10:23 ...
        let late = ts("2026-08-20T10:25:10Z");
        let read = r.latest(late);
        assert_eq!(read.end, ts("2026-08-20T10:23:00Z"));
        // ... and the next at 10:25:30, ending a minute later: no catch-up, no repeat.
        let next = r.next_due(late, read);
        assert_eq!(next, ts("2026-08-20T10:25:30Z"));
        assert_eq!(r.latest(next).end, ts("2026-08-20T10:24:00Z"));
    }

    #[test]
    fn a_refresh_of_ninety_seconds_never_repeats_a_window_even_when_late() {
        let r = rolling(10, 90, 90);
        let mut now = ts("2026-08-20T10:00:00Z");
        let mut last = None;
        for late_by in [0, 50, 0, 89, 10, 0, 200, 0, 1] {
            now += jiff::SignedDuration::from_secs(late_by);
            let read = r.latest(now);
            if let Some(last) = last {
                assert!(read.end >= r.following_end(last), "{read} after {last}");
            }
            last = Some(read.end);
            now = r.next_due(now, read);
        }
    }

    #[test]
    fn a_refresh_under_a_minute_reads_a_window_again_but_never_goes_back() {
        let r = rolling(10, 30, 90);
        let first = ts("2026-08-20T10:16:30Z");
        let read = r.latest(first);
        let next = r.next_due(first, read);
        assert_eq!(next, ts("2026-08-20T10:17:00Z"));
        assert_eq!(r.latest(next), read, "the end has not moved yet");
        assert_eq!(r.next_due(next, read), ts("2026-08-20T10:17:30Z"));
    }

    #[test]
    fn arithmetic_saturates_at_the_ends_of_time() {
        let r = Rolling {
            window: Duration::MAX,
            refresh: Duration::ZERO,
            settle_delay: Duration::MAX,
        };
        let read = r.latest(Timestamp::MIN);
        assert_eq!(read.start, Timestamp::MIN);
        assert_eq!(r.next_due(Timestamp::MAX, read), Timestamp::MAX);
        assert_eq!(r.due(Timestamp::MAX), Timestamp::MAX);
    }

    #[test]
    fn it_prints_as_the_landing_page_shows_it() {
        assert_eq!(rolling(10, 60, 90).to_string(), "10m window, every 1m");
        assert_eq!(rolling(60, 45, 90).to_string(), "60m window, every 45s");
    }
}
