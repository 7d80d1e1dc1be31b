//! Checking one `[[queries]]` table: its name, metrics, dimensions and filter, and its
//! schedule, buckets of a granularity or a rolling window.

use std::time::Duration;

use jiff::tz::TimeZone;

use super::checks::{is_simple_name, suggestion, within_bounds, written};
use super::suggest::did_you_mean;
use super::{
    DEFAULT_GRANULARITY, DEFAULT_MAX_AGE_BUCKETS, DEFAULT_MAX_AGE_REFRESHES, DEFAULT_SETTLE_DELAY,
    Query, QueryConfig, default_group_by, default_metrics,
};
use crate::schedule::{Granularity, QueryKind, Rolling, Schedule};
use genesys_wire::catalogue::Source;

/// Checks one query, adding its problems under `key`; `None` if it has any.
pub(super) fn check_query(
    key: &str,
    query: &QueryConfig,
    problems: &mut Vec<String>,
) -> Option<Query> {
    let before = problems.len();
    let source = check_source(key, query, problems);
    let name = &query.name;
    if !is_simple_name(name) {
        problems.push(format!(
            "{key}.name: '{name}' must be letters, digits, '_' or '-' (it becomes the query label)"
        ));
    }

    let is_rolling = query.window.is_some() || query.refresh.is_some();
    if is_rolling && query.granularity.is_some() {
        problems.push(format!(
            "{key}: granularity and window/refresh are both set; a query reads either granularity buckets or a rolling window: remove granularity, or window and refresh"
        ));
    }
    let granularity = if is_rolling {
        None
    } else {
        let text = query.granularity.as_deref().unwrap_or(DEFAULT_GRANULARITY);
        Granularity::parse(text)
            .map_err(|error| problems.push(format!("{key}.granularity: {error}")))
            .ok()
    };

    let time_zone_name = query.time_zone.clone().unwrap_or_else(|| "UTC".into());
    let time_zone = TimeZone::get(&time_zone_name)
        .map_err(|_| {
            problems.push(format!(
                "{key}.time_zone: '{time_zone_name}' is not an IANA time zone such as Europe/Dublin or UTC"
            ))
        })
        .ok();

    let settle_delay = query.settle_delay.unwrap_or(DEFAULT_SETTLE_DELAY);
    let rolling = is_rolling
        .then(|| check_rolling(key, query, settle_delay, problems))
        .flatten();
    if let Some(granularity) = granularity
        && settle_delay > granularity.shortest()
    {
        problems.push(format!(
            "{key}.settle_delay: {}s is longer than the granularity {granularity}; shorten it (default {}s) or use a longer granularity",
            settle_delay.as_secs(),
            DEFAULT_SETTLE_DELAY.as_secs()
        ));
    }

    let metrics: Vec<String> = match &query.metrics {
        Some(metrics) => metrics.clone(),
        None => default_metrics(source)
            .iter()
            .map(|m| m.to_string())
            .collect(),
    };
    if metrics.is_empty() {
        problems.push(format!(
            "{key}.metrics: empty; list at least one metric, such as {}",
            default_metrics(source)[0]
        ));
    }
    for metric in &metrics {
        if !source.has_metric(metric) {
            problems.push(format!(
                "{key}.metrics: {}",
                not_in_catalogue(source, metric)
            ));
        }
    }

    let group_by: Vec<String> = match &query.group_by {
        Some(group_by) => group_by.clone(),
        None => default_group_by(source)
            .iter()
            .map(|d| d.to_string())
            .collect(),
    };
    for dimension in &group_by {
        if !source.dimensions().contains(&dimension.as_str()) {
            problems.push(format!(
                "{key}.group_by: {}",
                not_a_dimension(source, dimension)
            ));
        } else if source.is_unbounded(dimension) && !query.allow_unbounded_labels {
            problems.push(format!(
                "{key}.group_by: '{dimension}' has a value per conversation or caller and would create unbounded Prometheus series; remove it, or set allow_unbounded_labels = true in this query if you really mean it"
            ));
        }
    }

    let max_age = match (query.max_age, granularity) {
        _ if is_rolling => rolling_max_age(key, query, problems),
        (Some(max_age), Some(granularity)) if max_age < granularity.shortest() => {
            problems.push(format!(
                "{key}.max_age: {}s is shorter than one {granularity} bucket, so data would be dropped before the next bucket is due; make it at least {}s (default two buckets)",
                max_age.as_secs(),
                granularity.shortest().as_secs()
            ));
            max_age
        }
        (Some(max_age), _) => {
            let default = granularity.map(|g| g.shortest() * DEFAULT_MAX_AGE_BUCKETS);
            within_bounds(
                &format!("{key}.max_age"),
                Some(max_age),
                default.unwrap_or_default(),
                problems,
            );
            max_age
        }
        (None, Some(granularity)) => granularity.shortest() * DEFAULT_MAX_AGE_BUCKETS,
        (None, None) => Duration::ZERO,
    };

    if let Some(filter) = &query.filter
        && !filter.is_object()
    {
        problems.push(format!(
            "{key}.filter: must be a table such as {{type = \"or\", predicates = [...]}}, as the API's filter"
        ));
    }

    if problems.len() > before {
        return None;
    }
    let kind = match rolling {
        Some(rolling) => QueryKind::Rolling(rolling),
        None => QueryKind::Buckets(Schedule {
            granularity: granularity?,
            time_zone: time_zone?,
            settle_delay,
        }),
    };
    Some(Query {
        name: name.clone(),
        source,
        kind,
        time_zone_name,
        group_by,
        metrics,
        filter: query.filter.clone(),
        max_age,
    })
}

/// The query's `source`, conversations when it has none; a source the exporter does not
/// know is a problem (and checked as conversations, so that its other keys are too).
fn check_source(key: &str, query: &QueryConfig, problems: &mut Vec<String>) -> Source {
    let Some(text) = &query.source else {
        return Source::Conversations;
    };
    Source::parse(text).unwrap_or_else(|| {
        let known: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
        let did_you_mean = did_you_mean(text, known.iter().copied())
            .map(|did_you_mean| format!("{did_you_mean} "))
            .unwrap_or_default();
        problems.push(format!(
            "{key}.source: '{text}' is not a source; {did_you_mean}use one of {} (default conversations)",
            known.join(", ")
        ));
        Source::Conversations
    })
}

/// Why `metric` is not a metric of `source`'s query, with the nearest that is.
fn not_in_catalogue(source: Source, metric: &str) -> String {
    match source {
        Source::Conversations => format!(
            "'{metric}' is not in the Genesys metric catalogue{}",
            suggestion(metric, source.metrics().into_iter())
        ),
        // Short lists: named in full.
        Source::Flows | Source::Actions => {
            let known = source.metrics();
            let did_you_mean = did_you_mean(metric, known.iter().copied())
                .map(|did_you_mean| format!("{did_you_mean} "))
                .unwrap_or_default();
            let article = if source == Source::Actions { "an" } else { "a" };
            format!(
                "'{metric}' is not {article} {source} metric; {did_you_mean}use some of {}",
                known.join(", ")
            )
        }
    }
}

/// Why `dimension` is not a groupBy dimension of `source`'s query, with the nearest that
/// is.
fn not_a_dimension(source: Source, dimension: &str) -> String {
    let known = source.dimensions().iter().copied();
    match source {
        Source::Conversations => format!(
            "'{dimension}' is not a Genesys groupBy dimension{}",
            suggestion(dimension, known)
        ),
        Source::Flows => format!(
            "'{dimension}' is not a flows groupBy dimension{}",
            suggestion(dimension, known)
        ),
        Source::Actions => {
            let did_you_mean = did_you_mean(dimension, known)
                .map(|did_you_mean| format!("{did_you_mean} "))
                .unwrap_or_default();
            format!(
                "'{dimension}' is not an actions groupBy dimension; {did_you_mean}use some of {}",
                source.dimensions().join(", ")
            )
        }
    }
}

/// The shortest and longest rolling window: the API counts by the minute, and a window
/// longer than a day is a bucket query's job (`granularity = "P1D"`).
pub const ROLLING_WINDOW_LIMITS: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(86_400));
/// The shortest and longest refresh of a rolling window: more often than every 30 s spends
/// the API's requests on data that moves by the minute; less often than hourly is what
/// bucket queries are for.
pub const ROLLING_REFRESH_LIMITS: (Duration, Duration) =
    (Duration::from_secs(30), Duration::from_secs(3600));
/// The longest settle delay of a rolling window: live data an hour old is no longer live.
pub const ROLLING_MAX_SETTLE_DELAY: Duration = Duration::from_secs(3600);

/// Checks a rolling query's `window`, `refresh` and `settle_delay`; `None` if any is
/// missing or out of range.
fn check_rolling(
    key: &str,
    query: &QueryConfig,
    settle_delay: Duration,
    problems: &mut Vec<String>,
) -> Option<Rolling> {
    let before = problems.len();
    let (window, refresh) = match (query.window, query.refresh) {
        (Some(window), Some(refresh)) => (window, refresh),
        (window, _) => {
            let (missing, given) = match window {
                None => ("window", "refresh"),
                Some(_) => ("refresh", "window"),
            };
            problems.push(format!(
                "{key}.{missing}: missing; a rolling window needs both window and refresh, such as window = \"10m\" and refresh = \"1m\" (or remove {given} to read granularity buckets)"
            ));
            return None;
        }
    };
    let (shortest, longest) = ROLLING_WINDOW_LIMITS;
    if window.subsec_nanos() != 0 || window.as_secs() % 60 != 0 {
        problems.push(format!(
            "{key}.window: {} is not a whole number of minutes, which the API counts in; use such as \"10m\"",
            written(window)
        ));
    } else if !(shortest..=longest).contains(&window) {
        problems.push(format!(
            "{key}.window: {} is out of range; use {} to {} (for longer spans, a query with granularity = \"P1D\")",
            written(window),
            written(shortest),
            written(longest)
        ));
    }
    let (shortest, longest) = ROLLING_REFRESH_LIMITS;
    if refresh.subsec_nanos() != 0 {
        problems.push(format!(
            "{key}.refresh: {} is not a whole number of seconds; use such as \"1m\"",
            written(refresh)
        ));
    } else if !(shortest..=longest).contains(&refresh) {
        problems.push(format!(
            "{key}.refresh: {} is out of range; use {} to {}, such as \"1m\"",
            written(refresh),
            written(shortest),
            written(longest)
        ));
    }
    if settle_delay > ROLLING_MAX_SETTLE_DELAY {
        problems.push(format!(
            "{key}.settle_delay: {} is too long for a rolling window; use at most {} (default {})",
            written(settle_delay),
            written(ROLLING_MAX_SETTLE_DELAY),
            written(DEFAULT_SETTLE_DELAY)
        ));
    }
    (problems.len() == before).then_some(Rolling {
        window,
        refresh,
        settle_delay,
    })
}

/// A rolling query's `max_age`: at least one refresh, by default
/// [`DEFAULT_MAX_AGE_REFRESHES`] of them.
fn rolling_max_age(key: &str, query: &QueryConfig, problems: &mut Vec<String>) -> Duration {
    let refresh = query.refresh.unwrap_or_default();
    let default = refresh.saturating_mul(DEFAULT_MAX_AGE_REFRESHES);
    let Some(max_age) = query.max_age else {
        return default;
    };
    if max_age < refresh {
        problems.push(format!(
            "{key}.max_age: {} is shorter than the refresh, so data would be dropped before the next refresh; make it at least {} (default three refreshes, {})",
            written(max_age),
            written(refresh),
            written(default)
        ));
    }
    within_bounds(&format!("{key}.max_age"), Some(max_age), default, problems);
    max_age
}
