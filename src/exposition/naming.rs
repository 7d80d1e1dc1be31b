//! How Genesys Cloud metrics are named as Prometheus gauges, with B = the Genesys metric
//! without its type letter, in snake case:
//!
//! | Genesys stat          | gauge                                              |
//! |-----------------------|----------------------------------------------------|
//! | `nX` count            | `genesys_conversation_B`                           |
//! | `tX` count            | `genesys_conversation_B_segments`                  |
//! | `tX` sum, max, min    | `..._B_seconds`, `..._B_seconds_max`, `..._seconds_min` (ms / 1000) |
//! | `tX` p95, p99         | `..._B_seconds_p95`, `..._B_seconds_p99`           |
//! | `oX` ratio, numerator, denominator, target | `..._B_ratio`, `_numerator`, `_denominator`, `_target_ratio` |
//! | `oX` count, sum, max, min | `..._B_observations`, `_observed`, `_observed_max`, `_observed_min` |
//!
//! Stats the table does not name (current, countNegative, countPositive,
//! calculatedMetricValue) are not exported.
//!
//! The flows query's metrics follow the same table with the prefix `genesys_` alone, since
//! each of their B starts with `flow` (`nFlowOutcome` → `genesys_flow_outcome`,
//! `tFlowDisconnect` → `genesys_flow_disconnect_segments`). The data actions query's one
//! metric, `tTotalExecution`, is named by hand: `genesys_data_action_executions` (its
//! count) and `genesys_data_action_execution_seconds` (and `_max`, `_min`, `_p95`,
//! `_p99`). A metric's catalogue says which rule names it: the catalogues share no name.

use genesys_wire::Stats;
use genesys_wire::catalogue::{MetricKind, Source, metric_kind};

const PREFIX: &str = "genesys_conversation_";
const FLOW_PREFIX: &str = "genesys_";
const ACTION_PREFIX: &str = "genesys_data_action_";

/// The full name of `metric`'s gauge of `suffix`, `base` being its [`base_name`].
fn gauge_name(metric: &str, base: &str, suffix: &str) -> String {
    match Source::of_metric(metric) {
        Some(Source::Flows) => format!("{FLOW_PREFIX}{base}{suffix}"),
        // A count of executions, not of segments.
        Some(Source::Actions) if suffix == "_segments" => format!("{ACTION_PREFIX}executions"),
        Some(Source::Actions) => format!("{ACTION_PREFIX}execution{suffix}"),
        Some(Source::Conversations) | None => format!("{PREFIX}{base}{suffix}"),
    }
}

/// A report's column of `metric`'s gauge of `suffix`: the gauge's name without
/// `genesys_conversation_`, or `genesys_` for the flows' and data actions' (`handle_seconds`,
/// `flow_outcome`, `data_action_executions`).
pub fn column_name(metric: &str, suffix: &str) -> String {
    let name = gauge_name(metric, &base_name(metric), suffix);
    let short = name
        .strip_prefix(PREFIX)
        .or_else(|| name.strip_prefix(FLOW_PREFIX))
        .unwrap_or(&name);
    short.to_owned()
}

/// `tHandle` → `handle`, `nOverSla` → `over_sla`, `oServiceLevel` → `service_level`.
pub fn base_name(metric: &str) -> String {
    snake_case(metric.get(1..).unwrap_or_default())
}

/// `queueId` → `queue_id`: how groupBy dimensions become label names.
pub fn snake_case(camel: &str) -> String {
    let mut name = String::with_capacity(camel.len() + 4);
    for (index, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

/// One gauge a metric kind has: its name suffix and the stat it reads.
pub struct StatGauge {
    pub suffix: &'static str,
    stat: fn(&Stats) -> Option<f64>,
    /// Timers are divided by 1000, not multiplied by 0.001, so that 58913 ms is 58.913.
    divisor: f64,
    /// The API returns the stat by default, so the report always has a column for it; the
    /// others get one only where an answer has them.
    pub returned_by_default: bool,
}

impl StatGauge {
    /// The gauge's value in base units, if the API gave the stat.
    pub fn value(&self, stats: &Stats) -> Option<f64> {
        (self.stat)(stats).map(|value| value / self.divisor)
    }
}

const fn gauge(
    suffix: &'static str,
    stat: fn(&Stats) -> Option<f64>,
    divisor: f64,
    returned_by_default: bool,
) -> StatGauge {
    StatGauge {
        suffix,
        stat,
        divisor,
        returned_by_default,
    }
}

const MS: f64 = 1000.0;

const COUNT_GAUGES: &[StatGauge] = &[gauge("", |s| s.count, 1.0, true)];
const TIMER_GAUGES: &[StatGauge] = &[
    gauge("_segments", |s| s.count, 1.0, true),
    gauge("_seconds", |s| s.sum, MS, true),
    gauge("_seconds_max", |s| s.max, MS, true),
    gauge("_seconds_min", |s| s.min, MS, true),
    gauge("_seconds_p95", |s| s.p95, MS, false),
    gauge("_seconds_p99", |s| s.p99, MS, false),
];
const OBSERVATION_GAUGES: &[StatGauge] = &[
    gauge("_ratio", |s| s.ratio, 1.0, true),
    gauge("_numerator", |s| s.numerator, 1.0, true),
    gauge("_denominator", |s| s.denominator, 1.0, true),
    gauge("_target_ratio", |s| s.target, 1.0, true),
    gauge("_observations", |s| s.count, 1.0, false),
    gauge("_observed", |s| s.sum, 1.0, false),
    gauge("_observed_max", |s| s.max, 1.0, false),
    gauge("_observed_min", |s| s.min, 1.0, false),
];

pub fn stat_gauges(kind: MetricKind) -> &'static [StatGauge] {
    match kind {
        MetricKind::Count => COUNT_GAUGES,
        MetricKind::Timer => TIMER_GAUGES,
        MetricKind::Observation => OBSERVATION_GAUGES,
    }
}

/// The full names of every gauge a catalogue metric can produce.
pub fn gauge_names(metric: &str) -> Vec<String> {
    metric_gauges(metric)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

/// Each gauge of a catalogue metric with its full name; none for an unknown metric.
pub(super) fn metric_gauges(metric: &str) -> Vec<(&'static StatGauge, String)> {
    let Some(kind) = metric_kind(metric) else {
        return Vec::new();
    };
    let base = base_name(metric);
    stat_gauges(kind)
        .iter()
        .map(|gauge| (gauge, gauge_name(metric, &base, gauge.suffix)))
        .collect()
}

pub(super) fn help_text(metric: &str, suffix: &str) -> String {
    let what = match suffix {
        "" => "count",
        "_segments" if metric == "tTotalExecution" => "number of executions",
        "_segments" => "number of segments measured",
        "_seconds" => "total, in seconds",
        "_seconds_max" => "longest segment, in seconds",
        "_seconds_min" => "shortest segment, in seconds",
        "_seconds_p95" => "95th percentile, in seconds",
        "_seconds_p99" => "99th percentile, in seconds",
        "_ratio" => "ratio",
        "_numerator" => "ratio numerator",
        "_denominator" => "ratio denominator",
        "_target_ratio" => "target ratio",
        "_observations" => "number of observations",
        "_observed" => "sum of observed values",
        "_observed_max" => "largest observed value",
        "_observed_min" => "smallest observed value",
        _ => "value",
    };
    format!("Genesys Cloud {metric} {what}, for the published interval")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use genesys_wire::catalogue::{Source, all_metrics};

    #[test]
    fn base_names_are_snake_case_without_the_type_letter() {
        assert_eq!(base_name("tHandle"), "handle");
        assert_eq!(base_name("nOverSla"), "over_sla");
        assert_eq!(base_name("oServiceLevel"), "service_level");
        assert_eq!(base_name("tAgentVideoConnected"), "agent_video_connected");
    }

    #[test]
    fn flow_and_data_action_metrics_are_named_by_their_own_rules() {
        let names = |metric| gauge_names(metric).join(" ");
        assert_eq!(names("nFlow"), "genesys_flow");
        assert_eq!(names("nFlowOutcomeFailed"), "genesys_flow_outcome_failed");
        assert_eq!(
            names("tFlowDisconnect"),
            "genesys_flow_disconnect_segments genesys_flow_disconnect_seconds genesys_flow_disconnect_seconds_max genesys_flow_disconnect_seconds_min genesys_flow_disconnect_seconds_p95 genesys_flow_disconnect_seconds_p99"
        );
        assert_eq!(
            names("tFlow"),
            "genesys_flow_segments genesys_flow_seconds genesys_flow_seconds_max genesys_flow_seconds_min genesys_flow_seconds_p95 genesys_flow_seconds_p99"
        );
        assert!(names("oFlowMilestone").starts_with("genesys_flow_milestone_ratio "));
        assert_eq!(
            names("tTotalExecution"),
            "genesys_data_action_executions genesys_data_action_execution_seconds genesys_data_action_execution_seconds_max genesys_data_action_execution_seconds_min genesys_data_action_execution_seconds_p95 genesys_data_action_execution_seconds_p99"
        );
        assert_eq!(
            help_text("tTotalExecution", "_segments"),
            "Genesys Cloud tTotalExecution number of executions, for the published interval"
        );
        for metric in Source::Flows.metrics() {
            for name in gauge_names(metric) {
                assert!(
                    name == "genesys_flow" || name.starts_with("genesys_flow_"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn every_catalogue_gauge_name_is_unique_and_lint_clean() {
        let mut seen = BTreeSet::new();
        let every_metric = Source::ALL.into_iter().flat_map(Source::metrics);
        assert!(every_metric.clone().count() > all_metrics().count());
        for metric in every_metric {
            for name in gauge_names(metric) {
                for bad in ["_count", "_sum", "_total", "_bucket"] {
                    assert!(!name.ends_with(bad), "{name}");
                }
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}"
                );
                assert!(seen.insert(name.clone()), "{name} twice");
            }
        }
    }
}
