//! The small checks every part of validation shares: the bounds of each duration key, how a duration is written back in a message, and the nearest known name.

use std::time::Duration;

use super::Config;
use super::suggest::did_you_mean;

impl Config {
    /// Refuses a query, shared or an org's, named `label`: the `query` label of `what`,
    /// a source turned on under `[table]`.
    pub(super) fn label_taken(
        &self,
        label: &str,
        what: &str,
        table: &str,
        problems: &mut Vec<String>,
    ) {
        let shared = self.queries.iter().map(|q| ("", q));
        let of_orgs = self
            .orgs
            .iter()
            .flat_map(|org| org.queries.iter().map(move |q| (org.name.as_str(), q)));
        for (org, query) in shared.chain(of_orgs) {
            if query.name == label {
                let whose = match org {
                    "" => String::new(),
                    org => format!(" (org {org})"),
                };
                problems.push(format!(
                    "queries: the name '{label}'{whose} is the query label of {what}; rename the query, or set enabled = false under [{table}]"
                ));
            }
        }
    }
}

/// The longest each duration key may be. Each is far beyond any sensible setting, and
/// short enough that no deadline computed from it can overflow (an `Instant` plus a
/// duration of centuries panics), so a typo is refused at `--check-config` rather than
/// crashing the exporter hours later. Keys not listed have bounds of their own:
/// `settle_delay` is at most one bucket.
pub const DURATION_LIMITS: &[(&str, Duration)] = &[
    ("request_timeout", Duration::from_secs(10 * 60)),
    ("connect_timeout", Duration::from_secs(5 * 60)),
    ("retry_delay", Duration::from_secs(3600)),
    ("queue_names_refresh", Duration::from_secs(7 * 86_400)),
    ("job_poll_interval", Duration::from_secs(5 * 60)),
    ("job_timeout", Duration::from_secs(86_400)),
    ("rate_limit_max_wait", Duration::from_secs(3600)),
    ("breaker_cool_down", Duration::from_secs(3600)),
    ("max_age", MAX_MAX_AGE),
];

/// The shortest some duration keys may be, and why: below these nothing can work against
/// Genesys Cloud, so a slip (`"30ms"` for `"30s"`) is refused at `--check-config` rather
/// than failing every request once running. The other keys need only be longer than
/// zero; a query's durations have bounds of their own (a bucket, a refresh).
pub const DURATION_FLOORS: &[(&str, Duration, &str)] = &[
    (
        "request_timeout",
        Duration::from_secs(1),
        "an answer from Genesys Cloud can take seconds",
    ),
    (
        "connect_timeout",
        Duration::from_secs(1),
        "a connection to Genesys Cloud (TCP and TLS) can take a second to set up",
    ),
    (
        "job_timeout",
        Duration::from_secs(10),
        "an asynchronous job takes seconds to minutes to finish",
    ),
];

/// The longest `max_age` of a query.
pub(super) const MAX_MAX_AGE: Duration = Duration::from_secs(366 * 86_400);

/// Adds a problem if `value` of `key` (`queries[0].max_age` for `max_age`) is shorter
/// than the key's floor in [`DURATION_FLOORS`] or longer than its bound in
/// [`DURATION_LIMITS`].
pub(super) fn within_bounds(
    key: &str,
    value: Option<Duration>,
    default: Duration,
    problems: &mut Vec<String>,
) {
    let name = key.rsplit('.').next().unwrap_or(key);
    let Some(value) = value else {
        return;
    };
    if let Some(&(_, floor, why)) = DURATION_FLOORS.iter().find(|(k, ..)| *k == name)
        && value < floor
    {
        problems.push(format!(
            "{key}: {} is too short; use at least {} (default {}): {why}",
            written(value),
            written(floor),
            written(default)
        ));
    }
    let Some(&(_, bound)) = DURATION_LIMITS.iter().find(|(k, _)| *k == name) else {
        return;
    };
    if value > bound {
        problems.push(format!(
            "{key}: {} is too long; use at most {} (default {})",
            written(value),
            written(bound),
            written(default)
        ));
    }
}

/// Whether `name` (of a query or an org) is letters, digits, `_` and `-` only: it
/// becomes a label value, and shows in messages and on the landing page as written.
pub(super) fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A duration as it can be written in the file: "1ns", "30ms", "90s", "15m", "24h" (no
/// days: the duration parser takes none).
pub fn written(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if duration.subsec_nanos() != 0 {
        return match duration.as_nanos() {
            nanos if nanos < 1_000_000 => format!("{nanos}ns"),
            nanos if nanos < 1_000_000_000 && nanos % 1_000_000 == 0 => {
                format!("{}ms", nanos / 1_000_000)
            }
            _ => format!("{}s", duration.as_secs_f64()),
        };
    }
    match seconds {
        0 => "0s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// "; did you mean 'tHandle'?" for a name near a known one (by edit distance), and where
/// to find them all: the `catalogue` subcommand lists every metric and dimension.
pub(super) fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let listed = "genesys-exporter catalogue lists them all";
    match did_you_mean(name, known) {
        Some(did_you_mean) => format!("; {did_you_mean} ({listed})"),
        None => format!("; {listed}"),
    }
}
