//! The span `[start, end)` that the API names in ISO 8601 as `start/end`: in a query's
//! `interval`, in every data entry of an answer, and in what the exporter publishes. The one
//! place that string is read and written.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

/// `[start, end)`: a bucket, a published window, a report's chunk or a query's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why a `start/end` string is not an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("expected ISO-8601 start/end")]
    NoSlash,
    #[error("the start is not an ISO-8601 instant with an offset")]
    Start,
    #[error("the end is not an ISO-8601 instant with an offset")]
    End,
    #[error("the start must be before the end")]
    Empty,
}

/// `2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z`, as the API writes it.
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", iso_millis(self.start), iso_millis(self.end))
    }
}

/// Reads `start/end` with any UTC offset on either instant (`...T12:00:00+02:00`), as the
/// API accepts; the instants are what count, not how they were written.
impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(text: &str) -> Result<Interval, IntervalError> {
        let (start, end) = text.split_once('/').ok_or(IntervalError::NoSlash)?;
        let start: Timestamp = start.trim().parse().map_err(|_| IntervalError::Start)?;
        let end: Timestamp = end.trim().parse().map_err(|_| IntervalError::End)?;
        if start >= end {
            return Err(IntervalError::Empty);
        }
        Ok(Interval { start, end })
    }
}

/// An instant as the API writes interval bounds: UTC with milliseconds and `Z`.
pub fn iso_millis(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_reads_back_what_it_writes() {
        let text = "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z";
        let interval: Interval = text.parse().unwrap();
        assert_eq!(interval.start, "2026-08-20T10:00:00Z".parse().unwrap());
        assert_eq!(interval.end, "2026-08-20T10:15:00Z".parse().unwrap());
        assert_eq!(interval.to_string(), text);
    }

    #[test]
    fn offsets_name_the_same_instants() {
        let local: Interval = "2026-08-20T12:00:00+02:00/2026-08-20T12:15:00+02:00"
            .parse()
            .unwrap();
        assert_eq!(
            local.to_string(),
            "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z"
        );
    }

    #[test]
    fn malformed_intervals_say_what_is_wrong() {
        for (text, error) in [
            ("2026-08-20T10:00:00Z", IntervalError::NoSlash),
            ("yesterday/2026-08-20T10:15:00Z", IntervalError::Start),
            ("2026-08-20T10:00:00Z/2026-08-20", IntervalError::End),
            (
                "2026-08-20T10:15:00Z/2026-08-20T10:00:00Z",
                IntervalError::Empty,
            ),
            (
                "2026-08-20T10:00:00Z/2026-08-20T10:00:00Z",
                IntervalError::Empty,
            ),
        ] {
            assert_eq!(text.parse::<Interval>(), Err(error), "{text}");
        }
    }
}
