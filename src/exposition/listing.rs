//! What `genesys-exporter catalogue` prints: every metric a query may name with its kind and
//! the gauges it becomes, every groupBy dimension with its label, and every queue
//! observation metric with its gauge and labels, all by the naming rules of this module's
//! siblings, so that the list cannot drift from what `/metrics` serves.

use std::fmt::Write;

use super::naming::{base_name, snake_case, stat_gauges};
use super::observation_gauges::{OBSERVATION_GAUGES, Qualifier};
use genesys_wire::catalogue::{self, MetricKind};

/// The heading of each section, as printed.
pub const METRICS_HEADING: &str = "Metrics, for metrics in [[queries]]";
pub const DIMENSIONS_HEADING: &str = "Dimensions, for group_by in [[queries]]";
pub const OBSERVATIONS_HEADING: &str = "Queue observation metrics, for metrics in [observations]";

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
    let mut metrics: Vec<&str> = catalogue::all_metrics().collect();
    metrics.sort_unstable();
    let rows: Vec<[String; 3]> = metrics
        .iter()
        .map(|metric| {
            let kind = catalogue::metric_kind(metric).expect("a catalogue metric has a kind");
            let base = base_name(metric);
            let name = |suffix: &str| format!("genesys_conversation_{base}{suffix}");
            let (always, returned): (Vec<_>, Vec<_>) = stat_gauges(kind)
                .iter()
                .partition(|gauge| gauge.returned_by_default);
            let mut gauges = always
                .iter()
                .map(|gauge| name(gauge.suffix))
                .collect::<Vec<_>>()
                .join(", ");
            if !returned.is_empty() {
                let extra: Vec<String> = returned.iter().map(|gauge| name(gauge.suffix)).collect();
                write!(gauges, "; when the API returns them: {}", extra.join(", ")).unwrap();
            }
            [metric.to_string(), kind_name(kind).to_string(), gauges]
        })
        .collect();
    section(
        &mut out,
        METRICS_HEADING,
        "timers are milliseconds in the API and seconds in the gauges; the default query asks for nOffered, nConnected, tAnswered, tAbandon, tHandle, tTalk, tHeld, tAcw, tWait, nOverSla, nTransferred and oServiceLevel",
        ["metric", "kind", "gauges"],
        &rows,
    );

    let rows: Vec<[String; 3]> = catalogue::DIMENSIONS
        .iter()
        .map(|dimension| {
            let bounded = if catalogue::is_unbounded_dimension(dimension) {
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
        &mut out,
        DIMENSIONS_HEADING,
        "each becomes a label on every gauge of the query; an unbounded one has a value per conversation or caller",
        ["dimension", "label", "note"],
        &rows,
    );

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
        let metrics = rows(&listing, METRICS_HEADING);
        assert_eq!(metrics.len(), catalogue::all_metrics().count());
        for metric in catalogue::all_metrics() {
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
        assert_eq!(
            metrics["tHandle"][1],
            "genesys_conversation_handle_segments, genesys_conversation_handle_seconds, genesys_conversation_handle_seconds_max, genesys_conversation_handle_seconds_min; when the API returns them: genesys_conversation_handle_seconds_p95, genesys_conversation_handle_seconds_p99"
        );
    }

    #[test]
    fn every_dimension_is_listed_with_its_label_and_whether_it_is_unbounded() {
        let listing = catalogue();
        let dimensions = rows(&listing, DIMENSIONS_HEADING);
        assert_eq!(dimensions.len(), catalogue::DIMENSIONS.len());
        for dimension in catalogue::DIMENSIONS {
            let row = &dimensions[dimension];
            assert_eq!(row[0], snake_case(dimension), "{dimension}");
            assert_eq!(
                row.get(1).is_some_and(|note| note.starts_with("unbounded")),
                catalogue::is_unbounded_dimension(dimension),
                "{dimension}"
            );
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
