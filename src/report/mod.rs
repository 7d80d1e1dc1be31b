//! `genesys-exporter report`: aggregates for any range and granularity, one row per
//! interval and group, written as JSON, CSV or an aligned table.
//!
//! The range is cut into chunks of whole buckets, at most `report_chunk_days` long, one
//! request each. Every bucket of the range gets a row for every group seen anywhere in the
//! range, empty where the API returned nothing, so that each group's series is regular.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use serde::ser::{SerializeMap, Serializer};

mod terminal;

pub use terminal::{TABLE_WIDTH, fit};

use crate::config::{Query, Settings};
use crate::directory::QueueNames;
use crate::error::{Error, Result};
use crate::exposition::NameMap;
use crate::exposition::{column_name, snake_case, stat_gauges};
use crate::genesys::client::Client;
use crate::genesys::jobs::{self, JobPolicy};
use crate::schedule::QueryKind;
use genesys_wire::MetricEntry;
use genesys_wire::catalogue::metric_kind;
use genesys_wire::time::{Interval, iso_millis};

/// How [`Table::write`] writes a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Table,
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: Query,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Whether each chunk is asked for at once or as an asynchronous job.
    pub job_policy: JobPolicy,
}

/// A finished report: columns, and rows of cells in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// A column's name (the CSV header and JSON key) and what its numbers measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub unit: Unit,
}

/// What a column holds; the table format rounds each unit to its own precision (JSON and
/// CSV keep every digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A bucket's start or end.
    Time,
    /// A group's dimension value or queue name.
    Text,
    /// A count: whole numbers.
    Count,
    /// Seconds: one decimal.
    Seconds,
    /// A ratio between 0 and 1: three decimals.
    Ratio,
    /// An observed value: two decimals.
    Value,
}

impl Unit {
    /// The unit of a metric column with this name suffix (see `exposition::stat_gauges`).
    fn of_suffix(suffix: &str) -> Unit {
        match suffix {
            "" | "_segments" | "_observations" | "_numerator" | "_denominator" => Unit::Count,
            "_ratio" | "_target_ratio" => Unit::Ratio,
            seconds if seconds.starts_with("_seconds") => Unit::Seconds,
            _ => Unit::Value,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Time(Timestamp),
    Text(String),
    Number(f64),
    Empty,
}

/// The buckets of `[from, to)`; both ends must be bucket boundaries.
pub fn buckets(query: &Query, from: Timestamp, to: Timestamp) -> Result<Vec<Interval>> {
    let QueryKind::Buckets(schedule) = &query.kind else {
        return Err(Error::Config(format!(
            "query {}: a rolling window ({}) has no buckets to report; give --granularity, such as PT15M, to report its metrics in buckets",
            query.name, query.kind
        )));
    };
    let (granularity, zone) = (schedule.granularity, &schedule.time_zone);
    if from >= to {
        return Err(Error::Config(format!(
            "--from {from} is not before --to {to}"
        )));
    }
    for (flag, t) in [("--from", from), ("--to", to)] {
        let floor = granularity.floor(t, zone);
        if floor != t {
            return Err(Error::Config(format!(
                "{flag} {t} is not on a {granularity} bucket boundary in {}; use {floor} or {}",
                query.time_zone_name,
                granularity.step(floor, zone, 1)
            )));
        }
    }
    let mut windows = Vec::new();
    let mut start = from;
    while start < to {
        let end = granularity.step(start, zone, 1);
        windows.push(Interval { start, end });
        start = end;
    }
    Ok(windows)
}

/// Consecutive buckets grouped into requests of at most `days` (at least one bucket each).
pub fn chunks(buckets: &[Interval], days: u32) -> Vec<Interval> {
    let longest = jiff::SignedDuration::from_hours(24 * i64::from(days));
    let mut chunks: Vec<Interval> = Vec::new();
    for bucket in buckets {
        match chunks.last_mut() {
            Some(chunk) if bucket.end.duration_since(chunk.start) <= longest => {
                chunk.end = bucket.end;
            }
            _ => chunks.push(*bucket),
        }
    }
    chunks
}

/// Fetches the report. `progress` is told (chunks done, chunks in all, job pages so far).
pub async fn fetch(
    client: &Client,
    settings: &Settings,
    request: &Request,
    mut progress: impl FnMut(usize, usize, usize),
) -> Result<Table> {
    // The queue names of the report's column are cut as the exporter's labels are.
    genesys_wire::labels::set_max_label_value_bytes(settings.max_label_value_bytes);
    let query = &request.query;
    let buckets = buckets(query, request.from, request.to)?;
    let chunks = chunks(&buckets, settings.report_chunk_days);

    let names = if query.group_by.iter().any(|d| d == "queueId") {
        let names = QueueNames::new(client.metrics(), settings.max_queue_pages);
        // Without routing:queue:view the report still has IDs; the warning says why.
        let _ = names.refresh(client, settings.max_directory_bytes).await;
        names.current()
    } else {
        NameMap::default()
    };

    // group → bucket start → metrics
    let mut data: BTreeMap<BTreeMap<String, String>, BTreeMap<Timestamp, Vec<MetricEntry>>> =
        BTreeMap::new();
    let mut pages = 0;
    progress(0, chunks.len(), 0);
    for (done, chunk) in chunks.iter().enumerate() {
        let body = query.request(*chunk);
        let response = jobs::aggregates(
            client,
            query.source,
            &body,
            request.job_policy,
            settings.jobs,
            |_| {
                pages += 1;
            },
        )
        .await?;
        for group in response.results {
            let series = data.entry(group.group).or_default();
            for entry in group.data {
                let start = bucket_start(&entry.interval, &buckets)?;
                series.entry(start).or_default().extend(entry.metrics);
            }
        }
        progress(done + 1, chunks.len(), pages);
    }
    Ok(tabulate(query, &buckets, &data, &names))
}

/// Where an API interval starts, checked to be one of the report's buckets.
fn bucket_start(interval: &str, buckets: &[Interval]) -> Result<Timestamp> {
    let start = interval.parse::<Interval>().map(|interval| interval.start);
    match start {
        Ok(start) if buckets.binary_search_by(|b| b.start.cmp(&start)).is_ok() => Ok(start),
        _ => Err(Error::Decode {
            endpoint: genesys_wire::Endpoint::Aggregates,
            detail: format!(
                "the API answered for interval '{interval}', which is not a bucket of the report"
            ),
            correlation_id: None,
        }),
    }
}

fn tabulate(
    query: &Query,
    buckets: &[Interval],
    data: &BTreeMap<BTreeMap<String, String>, BTreeMap<Timestamp, Vec<MetricEntry>>>,
    names: &NameMap,
) -> Table {
    let has_queue = query.group_by.iter().any(|d| d == "queueId");
    let column = |name: &str, unit| Column {
        name: name.into(),
        unit,
    };
    let mut columns = vec![
        column("interval_start", Unit::Time),
        column("interval_end", Unit::Time),
    ];
    columns.extend(
        query
            .group_by
            .iter()
            .map(|d| column(&snake_case(d), Unit::Text)),
    );
    if has_queue {
        columns.push(column("queue", Unit::Text));
    }

    // Metric columns: the stats the API returns by default always, the others only
    // where some row has them, and each timer's average beside its total.
    let present = |metric: &str, suffix: &str| {
        data.values()
            .flat_map(|series| series.values())
            .flatten()
            .any(|entry| {
                entry.metric == metric
                    && stat_gauges(metric_kind(metric).expect("checked metric"))
                        .iter()
                        .any(|g| g.suffix == suffix && g.value(&entry.stats).is_some())
            })
    };
    let mut metric_columns: Vec<(String, Column, Source)> = Vec::new();
    for metric in &query.metrics {
        let kind = metric_kind(metric).expect("configured metrics are checked");
        for gauge in stat_gauges(kind) {
            // Named as the gauges are, without their prefix.
            let name = column_name(metric, gauge.suffix);
            if gauge.returned_by_default || present(metric, gauge.suffix) {
                metric_columns.push((
                    metric.clone(),
                    column(&name, Unit::of_suffix(gauge.suffix)),
                    Source::Stat(gauge.suffix),
                ));
            }
            if gauge.suffix == "_seconds" {
                metric_columns.push((
                    metric.clone(),
                    column(&format!("{name}_avg"), Unit::Seconds),
                    Source::Average,
                ));
            }
        }
    }
    columns.extend(metric_columns.iter().map(|(_, column, _)| column.clone()));

    let empty_group = BTreeMap::new();
    let groups: Vec<&BTreeMap<String, String>> = if data.is_empty() {
        vec![&empty_group]
    } else {
        data.keys().collect()
    };
    let mut rows = Vec::with_capacity(buckets.len() * groups.len());
    for bucket in buckets {
        for group in &groups {
            let mut row = vec![Cell::Time(bucket.start), Cell::Time(bucket.end)];
            for dimension in &query.group_by {
                row.push(
                    group
                        .get(dimension)
                        .map_or(Cell::Empty, |v| Cell::Text(v.clone())),
                );
            }
            if has_queue {
                let name = group.get("queueId").and_then(|id| names.get(id));
                row.push(name.map_or(Cell::Empty, |n| Cell::Text(n.clone())));
            }
            let entries = data
                .get(*group)
                .and_then(|series| series.get(&bucket.start));
            for (metric, _, source) in &metric_columns {
                let stats = entries
                    .and_then(|entries| entries.iter().find(|e| &e.metric == metric))
                    .map(|e| &e.stats);
                let kind = metric_kind(metric).expect("checked metric");
                let value = stats.and_then(|stats| match source {
                    Source::Stat(suffix) => stat_gauges(kind)
                        .iter()
                        .find(|g| g.suffix == *suffix)
                        .and_then(|g| g.value(stats)),
                    Source::Average => match (stats.sum, stats.count) {
                        (Some(sum), Some(count)) if count > 0.0 => Some(sum / 1000.0 / count),
                        _ => None,
                    },
                });
                row.push(value.map_or(Cell::Empty, Cell::Number));
            }
            rows.push(row);
        }
    }
    Table { columns, rows }
}

/// Where a metric column's values come from.
enum Source {
    Stat(&'static str),
    /// A timer's sum / count, in seconds.
    Average,
}

impl Table {
    pub fn write(&self, format: ReportFormat, out: &mut impl Write) -> std::io::Result<()> {
        match format {
            ReportFormat::Json => self.write_json(out),
            ReportFormat::Csv => self.write_csv(out),
            ReportFormat::Table => terminal::write(self, out),
        }
    }

    /// The table with only the columns named, in that order.
    pub fn select(&self, names: &[String]) -> Result<Table> {
        let indices = names
            .iter()
            .map(|name| {
                self.columns
                    .iter()
                    .position(|c| &c.name == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            self.columns.iter().map(|c| c.name.as_str()).collect();
                        Error::Config(format!(
                            "--columns {name}: this report has no such column; it has {}",
                            known.join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<usize>>>()?;
        Ok(self.with_columns(&indices))
    }

    /// The table with the columns at `indices`, in that order.
    fn with_columns(&self, indices: &[usize]) -> Table {
        Table {
            columns: indices.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|row| indices.iter().map(|&i| row[i].clone()).collect())
                .collect(),
        }
    }

    fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut serializer = serde_json::Serializer::pretty(&mut *out);
        let rows = self.rows.iter().map(|row| Row {
            columns: &self.columns,
            cells: row,
        });
        serializer.collect_seq(rows)?;
        out.write_all(b"\n")
    }

    fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        let written = (|| {
            writer.write_record(self.columns.iter().map(|c| &c.name))?;
            for row in &self.rows {
                writer.write_record(row.iter().map(Cell::to_string))?;
            }
            writer.flush().map_err(csv::Error::from)
        })();
        // csv wraps the writer's own error as kind Other: unwrapped, a closed pipe still
        // says BrokenPipe.
        written.map_err(|error| match error.into_kind() {
            csv::ErrorKind::Io(error) => error,
            kind => std::io::Error::other(format!("{kind:?}")),
        })
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Time(time) => f.write_str(&iso_millis(*time)),
            Cell::Text(text) => f.write_str(text),
            Cell::Number(number) => write!(f, "{number}"),
            Cell::Empty => Ok(()),
        }
    }
}

/// One row as a JSON object whose keys keep the column order.
struct Row<'a> {
    columns: &'a [Column],
    cells: &'a [Cell],
}

impl serde::Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, cell) in self.columns.iter().zip(self.cells) {
            let key = &column.name;
            match cell {
                Cell::Time(time) => map.serialize_entry(key, &iso_millis(*time))?,
                Cell::Text(text) => map.serialize_entry(key, text)?,
                Cell::Number(number) => map.serialize_entry(key, number)?,
                Cell::Empty => map.serialize_entry(key, &())?,
            }
        }
        map.end()
    }
}

/// Writes the report to `path` all at once: into a temporary file beside it, renamed into
/// place only when complete, so that a failure never leaves a partial file behind.
pub fn write_file(table: &Table, format: ReportFormat, path: &Path) -> std::io::Result<()> {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
    let written = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        table.write(format, &mut file)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The `queries` tables, checked.
    fn queries(queries: serde_json::Value) -> Vec<Query> {
        let config: Config = figment::Figment::new()
            .merge(figment::providers::Serialized::defaults(
                serde_json::json!({
                    "client_id": "id", "client_secret": "s", "region": "eu-west-1",
                    "queries": queries,
                }),
            ))
            .extract()
            .unwrap();
        config.validate().unwrap().orgs.remove(0).queries
    }

    fn query(granularity: &str, zone: &str) -> Query {
        let table =
            serde_json::json!([{"name": "r", "granularity": granularity, "time_zone": zone}]);
        queries(table).remove(0)
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_reports_columns_are_named_as_the_gauges_of_its_source() {
        let queries = queries(serde_json::json!([
            {"name": "a", "source": "actions", "group_by": ["actionId"]},
            {"name": "f", "source": "flows", "metrics": ["nFlow", "tFlowOutcome"], "group_by": ["flowId"]},
            {"name": "c", "metrics": ["tHandle"], "group_by": ["mediaType"]},
        ]));
        let names = |query: &Query| -> Vec<String> {
            let bucket = buckets(
                query,
                ts("2026-08-20T12:00:00Z"),
                ts("2026-08-20T12:15:00Z"),
            );
            tabulate(
                query,
                &bucket.unwrap(),
                &BTreeMap::new(),
                &NameMap::default(),
            )
            .columns
            .into_iter()
            .map(|c| c.name)
            .skip(3)
            .collect()
        };
        assert_eq!(
            names(&queries[0]),
            [
                "data_action_executions",
                "data_action_execution_seconds",
                "data_action_execution_seconds_avg",
                "data_action_execution_seconds_max",
                "data_action_execution_seconds_min"
            ]
        );
        assert_eq!(
            names(&queries[1]),
            [
                "flow",
                "flow_outcome_segments",
                "flow_outcome_seconds",
                "flow_outcome_seconds_avg",
                "flow_outcome_seconds_max",
                "flow_outcome_seconds_min"
            ]
        );
        assert_eq!(
            names(&queries[2]),
            [
                "handle_segments",
                "handle_seconds",
                "handle_seconds_avg",
                "handle_seconds_max",
                "handle_seconds_min"
            ]
        );
    }

    #[test]
    fn daily_buckets_cover_the_range_in_local_days() {
        let q = query("P1D", "America/New_York");
        let days = buckets(&q, ts("2026-03-07T05:00:00Z"), ts("2026-03-10T04:00:00Z")).unwrap();
        let hours: Vec<i64> = days
            .iter()
            .map(|w| w.end.duration_since(w.start).as_hours())
            .collect();
        assert_eq!(hours, [24, 23, 24], "8 March springs forward");
    }

    #[test]
    fn chunks_are_whole_buckets_and_never_longer_than_asked() {
        let q = query("PT1H", "UTC");
        let hours = buckets(&q, ts("2026-08-17T00:00:00Z"), ts("2026-08-20T06:00:00Z")).unwrap();
        assert_eq!(hours.len(), 78);
        let days = chunks(&hours, 1);
        let spans: Vec<String> = days.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            spans,
            [
                "2026-08-17T00:00:00.000Z/2026-08-18T00:00:00.000Z",
                "2026-08-18T00:00:00.000Z/2026-08-19T00:00:00.000Z",
                "2026-08-19T00:00:00.000Z/2026-08-20T00:00:00.000Z",
                "2026-08-20T00:00:00.000Z/2026-08-20T06:00:00.000Z",
            ]
        );
        // A bucket longer than the chunk size is a chunk of its own.
        let months = buckets(
            &query("P1M", "UTC"),
            ts("2026-01-01T00:00:00Z"),
            ts("2026-03-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(chunks(&months, 7).len(), 2);
    }

    #[test]
    fn a_rolling_query_has_no_buckets_to_report() {
        let live = queries(serde_json::json!([{"name": "live", "window": "10m", "refresh": "1m"}]))
            .remove(0);
        let error = buckets(
            &live,
            ts("2026-08-17T01:00:00Z"),
            ts("2026-08-17T02:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(error, Error::Config(_)));
        assert!(
            error.to_string().contains(
                "query live: a rolling window (10m window, every 1m) has no buckets to report; give --granularity"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_range_must_start_before_it_ends() {
        let q = query("PT15M", "UTC");
        let error =
            buckets(&q, ts("2026-08-17T01:00:00Z"), ts("2026-08-17T01:00:00Z")).unwrap_err();
        assert!(error.to_string().contains("is not before"), "{error}");
    }
}
