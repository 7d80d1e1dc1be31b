//! Which interval to publish and when: granularity buckets and the most recent
//! *completed* one, or a rolling window ([`Rolling`]) read every refresh. Pure arithmetic
//! over instants that the [`Clock`](genesys_wire::time::Clock) gives, so it is tested
//! without sleeping; [`Interval`] is the `start/end` span the API speaks in.
//!
//! Sub-day buckets are aligned to UTC (15-minute buckets start at :00, :15, ...). Buckets
//! of a day or more start at midnight in the query's time zone, so a `P1D` bucket on a
//! daylight-saving day is 23 or 25 hours long, as the API counts it.

mod rolling;

use std::fmt;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp, ToSpan};

use genesys_wire::time::Interval;
pub use rolling::Rolling;

/// How a query picks the interval it reads, and when.
#[derive(Debug, Clone)]
pub enum QueryKind {
    /// Each completed bucket of the granularity, once it has settled.
    Buckets(Schedule),
    /// The trailing window, read every refresh.
    Rolling(Rolling),
}

/// `PT15M buckets`, or `10m window, every 1m`.
impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryKind::Buckets(schedule) => write!(f, "{} buckets", schedule.granularity),
            QueryKind::Rolling(rolling) => write!(f, "{rolling}"),
        }
    }
}

/// The length of one bucket, as the API's `granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// A whole number of minutes that divides a day evenly (PT1M ... PT12H, PT24H).
    SubDay {
        minutes: u32,
    },
    Day,
    Week,
    Month,
}

impl Granularity {
    /// Parses an ISO-8601 period such as `PT15M`, `PT1H`, `P1D`, `P1W` or `P1M`.
    pub fn parse(text: &str) -> Result<Granularity, String> {
        let invalid = || {
            format!(
                "'{text}' is not a granularity this exporter can align: use an ISO-8601 period that divides a day evenly (PT5M, PT15M, PT30M, PT1H, ...), or P1D, P1W or P1M"
            )
        };
        let span: Span = text.trim().parse().map_err(|_| invalid())?;
        let calendar = (
            span.get_years(),
            span.get_months(),
            span.get_weeks(),
            span.get_days(),
        );
        let clock_seconds =
            i64::from(span.get_hours()) * 3600 + span.get_minutes() * 60 + span.get_seconds();
        let sub_second = span.get_milliseconds() != 0
            || span.get_microseconds() != 0
            || span.get_nanoseconds() != 0;
        if span.is_negative() || sub_second {
            return Err(invalid());
        }
        match (calendar, clock_seconds) {
            ((0, 0, 0, 0), seconds)
                if seconds > 0 && seconds % 60 == 0 && 86_400 % seconds == 0 =>
            {
                Ok(Granularity::SubDay {
                    minutes: (seconds / 60) as u32,
                })
            }
            ((0, 0, 0, 1), 0) => Ok(Granularity::Day),
            ((0, 0, 1, 0), 0) | ((0, 0, 0, 7), 0) => Ok(Granularity::Week),
            ((0, 1, 0, 0), 0) => Ok(Granularity::Month),
            _ => Err(invalid()),
        }
    }

    /// The shortest a bucket can be (a month can be 28 days, a day 23 hours).
    pub fn shortest(self) -> Duration {
        let hours = match self {
            Granularity::SubDay { minutes } => return Duration::from_secs(u64::from(minutes) * 60),
            Granularity::Day => 23,
            Granularity::Week => 7 * 24 - 1,
            Granularity::Month => 28 * 24 - 1,
        };
        Duration::from_secs(hours * 3600)
    }

    /// The latest bucket boundary at or before `t`. Total: at the ends of the timestamp
    /// range (years -9999 and 9999), where a boundary may not exist, it saturates to the
    /// first timestamp.
    pub fn floor(self, t: Timestamp, tz: &TimeZone) -> Timestamp {
        let date = t.to_zoned(tz.clone()).date();
        let floored = match self {
            Granularity::SubDay { minutes } => {
                let step = i64::from(minutes) * 60;
                let second = t.as_second();
                Timestamp::from_second(second - second.rem_euclid(step)).ok()
            }
            Granularity::Day => midnight(date, tz),
            Granularity::Week => date
                .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
                .ok()
                .and_then(|monday| midnight(monday, tz)),
            Granularity::Month => midnight(date.first_of_month(), tz),
        };
        // A boundary after `t` (possible only where midnight does not exist) is no floor.
        floored
            .filter(|floored| *floored <= t)
            .unwrap_or(Timestamp::MIN)
    }

    /// The boundary `steps` buckets after (or before, if negative) the boundary `t`.
    /// Total: past the ends of the timestamp range it saturates to the last (or first)
    /// timestamp.
    pub fn step(self, t: Timestamp, tz: &TimeZone, steps: i64) -> Timestamp {
        let calendar_step = |span: Result<Span, jiff::Error>| {
            let date = t.to_zoned(tz.clone()).date();
            span.ok()
                .and_then(|span| date.checked_add(span).ok())
                .and_then(|date| midnight(date, tz))
        };
        let stepped = match self {
            Granularity::SubDay { minutes } => i64::from(minutes)
                .checked_mul(steps)
                .and_then(|minutes| minutes.checked_mul(60))
                .and_then(|seconds| t.checked_add(SignedDuration::from_secs(seconds)).ok()),
            Granularity::Day => calendar_step(Span::new().try_days(steps)),
            Granularity::Week => calendar_step(Span::new().try_weeks(steps)),
            Granularity::Month => calendar_step(Span::new().try_months(steps)),
        };
        let saturated = if steps >= 0 {
            Timestamp::MAX
        } else {
            Timestamp::MIN
        };
        stepped.unwrap_or(saturated)
    }
}

/// The first instant of `date` in `tz` (not always 00:00, where a clock change skips it);
/// `None` at the ends of the timestamp range.
fn midnight(date: Date, tz: &TimeZone) -> Option<Timestamp> {
    date.to_zoned(tz.clone())
        .and_then(|zoned| zoned.start_of_day())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// `t` moved by `by`, saturating at the ends of the timestamp range.
fn saturating_add(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A settle delay as a signed duration, saturating (no `Duration` the config takes is
/// that long, but the arithmetic is total anyway).
fn signed(delay: Duration) -> SignedDuration {
    SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX)
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granularity::SubDay { minutes } if minutes % 60 == 0 => {
                write!(f, "PT{}H", minutes / 60)
            }
            Granularity::SubDay { minutes } => write!(f, "PT{minutes}M"),
            Granularity::Day => f.write_str("P1D"),
            Granularity::Week => f.write_str("P1W"),
            Granularity::Month => f.write_str("P1M"),
        }
    }
}

/// One query's buckets: their length, the time zone they are aligned to, and how long
/// after a bucket ends its data is considered settled.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub granularity: Granularity,
    pub time_zone: TimeZone,
    pub settle_delay: Duration,
}

impl Schedule {
    /// The most recent bucket that ended at least the settle delay before `now`.
    pub fn latest_completed(&self, now: Timestamp) -> Interval {
        let settled = saturating_add(now, -signed(self.settle_delay));
        let end = self.granularity.floor(settled, &self.time_zone);
        Interval {
            start: self.granularity.step(end, &self.time_zone, -1),
            end,
        }
    }

    /// The bucket right after `window`.
    pub fn following(&self, window: Interval) -> Interval {
        Interval {
            start: window.end,
            end: self.granularity.step(window.end, &self.time_zone, 1),
        }
    }

    /// When `window`'s data has settled and it should be polled.
    pub fn due(&self, window: Interval) -> Timestamp {
        saturating_add(window.end, signed(self.settle_delay))
    }

    /// How many buckets lie from `from` (included) up to `to` (excluded).
    pub fn buckets_between(&self, from: Interval, to: Interval) -> u64 {
        let mut count = 0;
        let mut window = from;
        while window.start < to.start {
            count += 1;
            let next = self.following(window);
            // At the end of the timestamp range the buckets stop moving.
            if next.start <= window.start {
                break;
            }
            window = next;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn schedule(granularity: &str, zone: &str, settle_seconds: u64) -> Schedule {
        Schedule {
            granularity: Granularity::parse(granularity).unwrap(),
            time_zone: TimeZone::get(zone).unwrap(),
            settle_delay: Duration::from_secs(settle_seconds),
        }
    }

    #[test]
    fn granularities_parse_and_print_as_the_api_writes_them() {
        for (text, printed) in [
            ("PT15M", "PT15M"),
            ("PT1M", "PT1M"),
            ("PT30M", "PT30M"),
            ("PT1H", "PT1H"),
            ("PT60M", "PT1H"),
            ("PT24H", "PT24H"),
            ("P1D", "P1D"),
            ("P7D", "P1W"),
            ("P1W", "P1W"),
            ("P1M", "P1M"),
        ] {
            assert_eq!(
                Granularity::parse(text).unwrap().to_string(),
                printed,
                "{text}"
            );
        }
    }

    #[test]
    fn granularities_that_cannot_be_aligned_are_refused_with_examples() {
        for bad in [
            "PT7M", "PT90S", "PT0M", "P2D", "P1Y", "PT0.5S", "", "-PT15M", "PT25H",
        ] {
            let error = Granularity::parse(bad).unwrap_err();
            assert!(error.contains("PT15M"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_window_is_the_last_bucket_that_ended_a_settle_delay_ago() {
        let s = schedule("PT15M", "UTC", 90);
        // 10:16:00 minus 90 s is 10:14:30, so 10:00-10:15 has not settled yet.
        assert_eq!(
            s.latest_completed(ts("2026-08-20T10:16:00Z")),
            Interval {
                start: ts("2026-08-20T09:45:00Z"),
                end: ts("2026-08-20T10:00:00Z")
            }
        );
        // Exactly at 10:16:30 it has.
        assert_eq!(
            s.latest_completed(ts("2026-08-20T10:16:30Z")).end,
            ts("2026-08-20T10:15:00Z")
        );
        assert_eq!(
            s.due(s.latest_completed(ts("2026-08-20T10:16:30Z"))),
            ts("2026-08-20T10:16:30Z")
        );
    }

    #[test]
    fn sub_day_buckets_are_aligned_to_utc_whatever_the_time_zone() {
        let s = schedule("PT1H", "Asia/Kolkata", 0);
        // Kolkata is UTC+05:30; hourly buckets still start on the UTC hour.
        let window = s.latest_completed(ts("2026-08-20T10:40:00Z"));
        assert_eq!(window.start, ts("2026-08-20T09:00:00Z"));
        assert_eq!(window.end, ts("2026-08-20T10:00:00Z"));
    }

    #[test]
    fn daily_buckets_follow_midnight_in_the_time_zone_across_dst() {
        let s = schedule("P1D", "America/New_York", 90);
        // 2026-03-08 is the spring-forward day in New York: 23 hours long.
        let window = s.latest_completed(ts("2026-03-09T04:05:00Z"));
        assert_eq!(window.start, ts("2026-03-08T05:00:00Z"));
        assert_eq!(window.end, ts("2026-03-09T04:00:00Z"));
        assert_eq!(window.end.duration_since(window.start).as_hours(), 23);
        // 2026-11-01 falls back: 25 hours.
        let window = s.latest_completed(ts("2026-11-02T05:30:00Z"));
        assert_eq!(window.start, ts("2026-11-01T04:00:00Z"));
        assert_eq!(window.end, ts("2026-11-02T05:00:00Z"));
        assert_eq!(window.end.duration_since(window.start).as_hours(), 25);
        assert_eq!(
            s.following(window).start,
            ts("2026-11-02T05:00:00Z"),
            "the next bucket starts where this one ends"
        );
    }

    #[test]
    fn weekly_buckets_start_on_monday_and_monthly_on_the_first() {
        let week = schedule("P1W", "Europe/Berlin", 0);
        // Wednesday 2026-08-19 12:00 UTC: the last complete week is Mon 10 .. Mon 17 Aug.
        let window = week.latest_completed(ts("2026-08-19T12:00:00Z"));
        assert_eq!(window.start, ts("2026-08-09T22:00:00Z"));
        assert_eq!(window.end, ts("2026-08-16T22:00:00Z"));

        let month = schedule("P1M", "UTC", 0);
        let window = month.latest_completed(ts("2026-03-10T00:00:00Z"));
        assert_eq!(window.start, ts("2026-02-01T00:00:00Z"));
        assert_eq!(window.end, ts("2026-03-01T00:00:00Z"));
    }

    #[test]
    fn following_windows_neither_skip_nor_repeat_a_bucket() {
        let s = schedule("PT15M", "UTC", 90);
        let first = s.latest_completed(ts("2026-08-20T10:16:30Z"));
        let mut window = first;
        for _ in 0..96 {
            let next = s.following(window);
            assert_eq!(next.start, window.end);
            assert_eq!(next.end.duration_since(next.start).as_mins(), 15);
            window = next;
        }
        assert_eq!(window.start, ts("2026-08-21T10:00:00Z"));
        assert_eq!(s.buckets_between(first, window), 96);
    }

    #[test]
    fn a_late_poll_still_takes_the_next_bucket_in_sequence() {
        // The poller woke 40 minutes late. What it polls next comes from the last bucket
        // it published, not from the clock, so 10:15-10:30 is not skipped...
        let s = schedule("PT15M", "UTC", 90);
        let published = s.latest_completed(ts("2026-08-20T10:16:30Z"));
        let next = s.following(published);
        assert_eq!(next.start, ts("2026-08-20T10:15:00Z"));
        // ...and it is already due, so it is polled at once.
        assert!(s.due(next) < ts("2026-08-20T11:10:00Z"));
        // The clock alone would have jumped two buckets ahead.
        assert_eq!(
            s.buckets_between(next, s.latest_completed(ts("2026-08-20T11:10:00Z"))),
            2
        );
    }

    #[test]
    fn shortest_bucket_lengths() {
        assert_eq!(
            Granularity::parse("PT15M").unwrap().shortest(),
            Duration::from_secs(900)
        );
        assert_eq!(Granularity::Day.shortest(), Duration::from_secs(23 * 3600));
    }
}
