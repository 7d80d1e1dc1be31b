//! What `genesys-exporter catalogue` prints: every metric a query may name with its kind and
//! the gauges it becomes, every groupBy dimension with its label (for each source of
//! `[[queries]]`: conversations, flows, data actions), and every queue
//! observation metric with its gauge and labels, all by the naming rules of this module's
//! siblings, so that the list cannot drift from what `/metrics` serves.

use std::fmt::Write;

use super::naming::{metric_gauges, snake_case};
use super::observation_gauges::{OBSERVATION_GAUGES, Qualifier};
use crate::config::default_metrics;
use genesys_wire::catalogue::{self, MetricKind, Source};

/// The heading of each section, as printed.
pub const METRICS_HEADING: &str = "Metrics, for metrics in [[queries]]";
pub const DIMENSIONS_HEADING: &str = "Dimensions, for group_by in [[queries]]";
pub const FLOW_METRICS_HEADING: &str =
    "Flow metrics, for metrics in [[queries]] with source = \"flows\"";
pub const FLOW_DIMENSIONS_HEADING: &str =
    "Flow dimensions, for group_by in [[queries]] with source = \"flows\"";
pub const ACTION_METRICS_HEADING: &str =
    "Data action metrics, for metrics in [[queries]] with source = \"actions\"";
pub const ACTION_DIMENSIONS_HEADING: &str =
    "Data action dimensions, for group_by in [[queries]] with source = \"actions\"";
pub const OBSERVATIONS_HEADING: &str = "Queue observation metrics, for metrics in [observations]";

/// The headings of `source`'s metrics and dimensions.
pub fn headings(source: Source) -> (&'static str, &'static str) {
    match source {
        Source::Conversations => (METRICS_HEADING, DIMENSIONS_HEADING),
        Source::Flows => (FLOW_METRICS_HEADING, FLOW_DIMENSIONS_HEADING),
        Source::Actions => (ACTION_METRICS_HEADING, ACTION_DIMENSIONS_HEADING),
    }
}

/// The kind of a metric as the listing names it.
pub fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Count => "count",
        MetricKind::Observation => "observation",
        MetricKind::Timer => "timer",
    }
}

/// The whole listing, in three sections of aligned columns, each name on a line of its
/// own so that `grep` finds it.
pub fn catalogue() -> String {
    let mut out = String::new();
    for source in Source::ALL {
        source_sections(&mut out, source);
    }

    let rows: Vec<[String; 3]> = OBSERVATION_GAUGES
        .iter()
        .map(|gauge| {
            let mut labels = vec!["queue_id", "queue"];
            if gauge.by_media_type {
                labels.push("media_type");
            }
            match gauge.qualifier {
                Qualifier::RoutingStatus => labels.push("routing_status"),
                Qualifier::Presence => labels.extend(["presence", "system_presence"]),
                Qualifier::Other => {}
            }
            [
                gauge.metric.to_string(),
                gauge.name.to_string(),
                labels.join(", "),
            ]
        })
        .collect();
    section(
        &mut out,
        OBSERVATIONS_HEADING,
        "all are observed unless [observations] metrics names some; each gauge has query=\"observations\"",
        ["metric", "gauge", "labels"],
        &rows,
    );
    out
}

/// The metrics and dimensions of `source`'s queries.
fn source_sections(out: &mut String, source: Source) {
    let (metrics_heading, dimensions_heading) = headings(source);
    let mut metrics = source.metrics();
    metrics.sort_unstable();
    let rows: Vec<[String; 3]> = metrics
        .iter()
        .map(|metric| {
            let kind = catalogue::metric_kind(metric).expect("a catalogue metric has a kind");
            let (always, returned): (Vec<_>, Vec<_>) = metric_gauges(metric)
                .into_iter()
                .partition(|(gauge, _)| gauge.returned_by_default);
            let names = |gauges: Vec<(_, String)>| {
                gauges
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut gauges = names(always);
            if !returned.is_empty() {
                write!(gauges, "; when the API returns them: {}", names(returned)).unwrap();
            }
            [metric.to_string(), kind_name(kind).to_string(), gauges]
        })
        .collect();
    let defaults = default_metrics(source);
    let (last, first) = defaults.split_last().expect("every source has defaults");
    let asks = match first {
        [] => last.to_string(),
        first => format!("{} and {last}", first.join(", ")),
    };
    section(
        out,
        metrics_heading,
        &format!(
            "timers are milliseconds in the API and seconds in the gauges; the default query asks for {asks}"
        ),
        ["metric", "kind", "gauges"],
        &rows,
    );

    let rows: Vec<[String; 3]> = source
        .dimensions()
        .iter()
        .map(|dimension| {
            let bounded = if source.is_unbounded(dimension) {
                "unbounded: only with allow_unbounded_labels = true"
            } else {
                ""
            };
            [
                dimension.to_string(),
                snake_case(dimension),
                bounded.to_string(),
            ]
        })
        .collect();
    section(
        out,
        dimensions_heading,
        "each becomes a label on every gauge of the query; an unbounded one has a value per conversation, caller or execution",
        ["dimension", "label", "note"],
        &rows,
    );
}

/// A heading, a note, column titles and rows, in columns as wide as their longest cell;
/// the last column is not padded.
fn section(out: &mut String, heading: &str, note: &str, titles: [&str; 3], rows: &[[String; 3]]) {
    if !out.is_empty() {
        out.push('\n');
    }
    writeln!(out, "{heading} ({} names; {note}):", rows.len()).unwrap();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].len())
            .chain([titles[column].len()])
            .max()
            .unwrap_or_default()
    };
    let (first, second) = (width(0), width(1));
    let mut line = |cells: [&str; 3]| {
        let text = format!("  {:first$}  {:second$}  {}", cells[0], cells[1], cells[2]);
        writeln!(out, "{}", text.trim_end()).unwrap();
    };
    line(titles);
    for row in rows {
        line([&row[0], &row[1], &row[2]]);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::exposition::gauge_names;
    use genesys_wire::OBSERVATION_METRICS;

    /// The rows of the section under `heading`, each split into its name and the rest.
    fn rows<'a>(listing: &'a str, heading: &str) -> BTreeMap<&'a str, Vec<&'a str>> {
        let section = listing
            .split("\n\n")
            .find(|section| section.starts_with(heading))
            .unwrap_or_else(|| panic!("no section {heading}"));
        section
            .lines()
            .skip(2)
            .map(|line| {
                let cells: Vec<&str> = line.split("  ").filter(|c| !c.is_empty()).collect();
                (
                    cells[0].trim(),
                    cells[1..].iter().map(|c| c.trim()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn every_metric_is_listed_with_its_kind_and_every_gauge_it_becomes() {
        let listing = catalogue();
        for source in Source::ALL {
            let metrics = rows(&listing, headings(source).0);
            assert_eq!(metrics.len(), source.metrics().len(), "{source}");
            for metric in source.metrics() {
                let row = &metrics[metric];
                let kind = catalogue::metric_kind(metric).unwrap();
                assert_eq!(row[0], kind_name(kind), "{metric}");
                let listed: Vec<&str> = row[1]
                    .split([',', ';', ':'])
                    .map(str::trim)
                    .filter(|word| word.starts_with("genesys_"))
                    .collect();
                assert_eq!(listed, gauge_names(metric), "{metric}");
            }
        }
        let actions = rows(&listing, ACTION_METRICS_HEADING);
        assert_eq!(
            actions["tTotalExecution"][1],
            "genesys_data_action_executions, genesys_data_action_execution_seconds, genesys_data_action_execution_seconds_max, genesys_data_action_execution_seconds_min; when the API returns them: genesys_data_action_execution_seconds_p95, genesys_data_action_execution_seconds_p99"
        );
        assert!(listing.contains("(9 names; timers are milliseconds in the API and seconds in the gauges; the default query asks for nFlow, nFlowOutcome, nFlowOutcomeFailed, tFlow, tFlowDisconnect, tFlowExit and tFlowOutcome):"), "{listing}");
        assert_eq!(
            rows(&listing, METRICS_HEADING)["tHandle"][1],
            "genesys_conversation_handle_segments, genesys_conversation_handle_seconds, genesys_conversation_handle_seconds_max, genesys_conversation_handle_seconds_min; when the API returns them: genesys_conversation_handle_seconds_p95, genesys_conversation_handle_seconds_p99"
        );
    }

    #[test]
    fn every_dimension_is_listed_with_its_label_and_whether_it_is_unbounded() {
        let listing = catalogue();
        for source in Source::ALL {
            let dimensions = rows(&listing, headings(source).1);
            assert_eq!(dimensions.len(), source.dimensions().len(), "{source}");
            for dimension in source.dimensions() {
                let row = &dimensions[dimension];
                assert_eq!(row[0], snake_case(dimension), "{dimension}");
                assert_eq!(
                    row.get(1).is_some_and(|note| note.starts_with("unbounded")),
                    source.is_unbounded(dimension),
                    "{source} {dimension}"
                );
            }
        }
    }

    #[test]
    fn every_queue_observation_metric_is_listed_with_its_gauge_and_labels() {
        let listing = catalogue();
        let observations = rows(&listing, OBSERVATIONS_HEADING);
        assert_eq!(observations.len(), OBSERVATION_METRICS.len());
        for gauge in &OBSERVATION_GAUGES {
            assert_eq!(observations[gauge.metric][0], gauge.name);
        }
        assert_eq!(
            observations["oUserPresences"][1],
            "queue_id, queue, presence, system_presence"
        );
        assert_eq!(observations["oWaiting"][1], "queue_id, queue, media_type");
    }
}
