//! Flattening an aggregates response into Prometheus samples, and the published snapshot:
//! every query's latest samples plus the self-metrics, encoded once per poll in both
//! exposition formats and swapped whole, so that a scrape only copies a pointer.
//!
//! Naming, with B = the Genesys metric without its type letter, in snake case:
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
use jiff::{SignedDuration, Timestamp};

use crate::genesys::catalogue::{MetricKind, metric_kind};
use crate::genesys::wire::{AggregateGroup, AggregateResponse, Stats};
use crate::metrics::{BREAKER_CLOSED, Metrics, QueryLabel};
use crate::queue_names::NameMap;
use crate::schedule::Interval;

pub const PREFIX: &str = "genesys_conversation_";

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

/// One gauge a metric kind has: its name suffix and the stat it reads. `core` gauges are
/// the ones the API returns by default, which the report always has a column for.
pub struct StatGauge {
    pub suffix: &'static str,
    stat: fn(&Stats) -> Option<f64>,
    /// Timers are divided by 1000, not multiplied by 0.001, so that 58913 ms is 58.913.
    divisor: f64,
    pub core: bool,
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
    core: bool,
) -> StatGauge {
    StatGauge {
        suffix,
        stat,
        divisor,
        core,
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
    let Some(kind) = metric_kind(metric) else {
        return Vec::new();
    };
    let base = base_name(metric);
    stat_gauges(kind)
        .iter()
        .map(|gauge| format!("{PREFIX}{base}{}", gauge.suffix))
        .collect()
}

fn help_text(metric: &str, suffix: &str) -> String {
    let what = match suffix {
        "" => "count",
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

/// One query's samples from one poll.
#[derive(Debug, Default)]
pub struct Flattened {
    query: String,
    /// Per group, its label pairs in groupBy order (`queue_id`, `media_type`, ...).
    groups: Vec<Vec<(String, String)>>,
    /// Which of those labels is `queue_id`, to put the queue's name beside it.
    queue_id_label: Option<usize>,
    /// Gauge name → its help text and samples.
    families: BTreeMap<String, Family>,
}

#[derive(Debug, Default)]
struct Family {
    help: String,
    samples: Vec<Sample>,
}

#[derive(Debug)]
struct Sample {
    group: usize,
    qualifier: Option<String>,
    value: f64,
}

impl Flattened {
    pub fn series(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }
}

/// Turns the response to a query for `window` into samples. Each group contributes the
/// data entry of `window` only; an absent metric or stat produces no sample.
pub fn flatten<'a>(
    query: &str,
    group_by: &[String],
    window: Interval,
    response: &'a AggregateResponse,
) -> Flattened {
    let label_names: Vec<String> = group_by.iter().map(|d| snake_case(d)).collect();
    let mut gauge_names_of: HashMap<&str, Vec<(&'static StatGauge, String)>> = HashMap::new();
    let mut flattened = Flattened {
        query: query.to_owned(),
        queue_id_label: group_by.iter().position(|d| d == "queueId"),
        ..Flattened::default()
    };
    // Groups in the order of their labels, the first groupBy dimension first: all of a
    // queue's media types together, whatever order the API chose. Besides a stable order,
    // this puts each queue's ID on neighbouring lines of every gauge, where gzip finds it
    // again; in the API's order (by media type first) its previous use was a whole gauge
    // back, beyond deflate's 32 KB window.
    let mut groups: Vec<&AggregateGroup> = response.results.iter().collect();
    groups.sort_by(|a, b| {
        let labels = |group: &'a AggregateGroup| group_by.iter().map(|d| group.group.get(d));
        labels(a).cmp(labels(b))
    });
    for group in groups {
        let Some(data) = group.data.iter().find(|d| interval_is(&d.interval, window)) else {
            continue;
        };
        let group_index = flattened.groups.len();
        flattened.groups.push(
            group_by
                .iter()
                .zip(&label_names)
                .map(|(dimension, label)| {
                    (
                        label.clone(),
                        group.group.get(dimension).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        );
        for entry in &data.metrics {
            // A response repeats the same few metrics in every group: their gauge names are
            // built once per poll, not once per sample.
            let gauges = match gauge_names_of.get(entry.metric.as_str()) {
                Some(gauges) => gauges,
                None => gauge_names_of
                    .entry(&entry.metric)
                    .or_insert_with(|| metric_gauges(&entry.metric)),
            };
            for (gauge, name) in gauges {
                let Some(value) = gauge.value(&entry.stats) else {
                    continue;
                };
                let family = match flattened.families.get_mut(name.as_str()) {
                    Some(family) => family,
                    None => flattened
                        .families
                        .entry(name.clone())
                        .or_insert_with(|| Family {
                            help: help_text(&entry.metric, gauge.suffix),
                            samples: Vec::new(),
                        }),
                };
                family.samples.push(Sample {
                    group: group_index,
                    qualifier: entry.qualifier.clone(),
                    value,
                });
            }
        }
    }
    flattened
}

/// Each gauge of a catalogue metric with its full name; none for an unknown metric.
fn metric_gauges(metric: &str) -> Vec<(&'static StatGauge, String)> {
    let Some(kind) = metric_kind(metric) else {
        return Vec::new();
    };
    let base = base_name(metric);
    stat_gauges(kind)
        .iter()
        .map(|gauge| (gauge, format!("{PREFIX}{base}{}", gauge.suffix)))
        .collect()
}

/// Whether an API interval `start/end` starts where `window` does.
fn interval_is(interval: &str, window: Interval) -> bool {
    interval
        .parse::<Interval>()
        .is_ok_and(|interval| interval.start == window.start)
}

/// Writes every query's gauges, family by family so that each gauge appears once with all
/// queries' samples under it, as both formats require. Gauge lines are the same in the text
/// format and in OpenMetrics, so they are written once for both.
///
/// Written by hand rather than through prometheus-client's encoder because every group has
/// a sample in nearly every family: its labels (the query, the groupBy dimensions, the
/// queue's name after `queue_id` where it is known) are escaped once per group here and
/// copied into each of its lines, which made rendering about three times faster.
fn write_gauges(out: &mut String, queries: &[Arc<Flattened>], names: &HashMap<String, String>) {
    let labels: Vec<Vec<String>> = queries
        .iter()
        .map(|query| {
            query
                .groups
                .iter()
                .map(|group| group_labels(query, group, names))
                .collect()
        })
        .collect();
    let gauges: BTreeSet<&String> = queries.iter().flat_map(|q| q.families.keys()).collect();
    for name in gauges {
        let help = queries
            .iter()
            .find_map(|q| q.families.get(name))
            .map(|f| f.help.as_str())
            .unwrap_or_default();
        for (comment, text) in [("# HELP ", help), ("# TYPE ", "gauge")] {
            out.push_str(comment);
            out.push_str(name);
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        for (query, labels) in queries.iter().zip(&labels) {
            let Some(family) = query.families.get(name) else {
                continue;
            };
            for sample in &family.samples {
                out.push_str(name);
                out.push('{');
                out.push_str(&labels[sample.group]);
                if let Some(qualifier) = &sample.qualifier {
                    out.push_str(",qualifier=\"");
                    escape_label_value(out, qualifier);
                    out.push('"');
                }
                out.push_str("} ");
                push_value(out, sample.value);
                out.push('\n');
            }
        }
    }
}

/// `query="q",queue_id="...",queue="Sales",media_type="voice"`: a group's labels.
fn group_labels(
    query: &Flattened,
    group: &[(String, String)],
    names: &HashMap<String, String>,
) -> String {
    let mut labels = String::with_capacity(128);
    let mut label = |name: &str, value: &str| {
        if !labels.is_empty() {
            labels.push(',');
        }
        labels.push_str(name);
        labels.push_str("=\"");
        escape_label_value(&mut labels, value);
        labels.push('"');
    };
    label("query", &query.query);
    for (index, (name, value)) in group.iter().enumerate() {
        label(name, value);
        if query.queue_id_label == Some(index)
            && let Some(queue) = names.get(value)
        {
            label("queue", queue);
        }
    }
    labels
}

/// Label values escape backslash, double quote and line feed, in both formats.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as prometheus-client writes it (`877.0`, `0.475`), and the spellings both
/// formats want for values JSON cannot carry but arithmetic could produce.
fn push_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        out.push_str(dtoa::Buffer::new().format_finite(value));
    }
}

/// A body sent in two parts that are never joined: the part both formats share, then the
/// format's own. hyper writes both with one vectored write.
pub type TwoParts = Chain<Bytes, Bytes>;

/// The exposition formats `/metrics` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0, ending in `# EOF`.
    OpenMetrics,
}

/// What `/metrics` serves, rendered and compressed once per publish (and again when a
/// query's data passes its maximum age or the circuit breaker changes state), so that a
/// scrape only picks one of four bodies. The Genesys gauges, nearly all of every body, are the same in
/// both formats, so they are kept once, plain and compressed, and each body is them
/// followed by the format's tail: the self-metrics, and `# EOF` for OpenMetrics.
#[derive(Debug, Default)]
pub struct Exposition {
    gauges: Bytes,
    text_tail: Bytes,
    openmetrics_tail: Bytes,
    /// The gzip header and the gauges compressed up to a flush; see [`gzip_parts`].
    gzip_head: Bytes,
    text_gzip_tail: Bytes,
    openmetrics_gzip_tail: Bytes,
    /// When the oldest data rendered here passes its maximum age.
    stale_at: Option<Timestamp>,
    /// The circuit breaker's state when this was rendered.
    breaker_state: i64,
}

impl Exposition {
    /// The body in `format`, gzip-compressed if `gzip`. Costs two reference counts, however
    /// many series there are.
    pub fn body(&self, format: Format, gzip: bool) -> TwoParts {
        let (head, tail) = match (format, gzip) {
            (Format::Text, false) => (&self.gauges, &self.text_tail),
            (Format::OpenMetrics, false) => (&self.gauges, &self.openmetrics_tail),
            (Format::Text, true) => (&self.gzip_head, &self.text_gzip_tail),
            (Format::OpenMetrics, true) => (&self.gzip_head, &self.openmetrics_gzip_tail),
        };
        head.clone().chain(tail.clone())
    }

    /// The body in one piece, copied: for tests and tools, not for serving.
    pub fn to_vec(&self, format: Format, gzip: bool) -> Vec<u8> {
        let mut body = self.body(format, gzip);
        body.copy_to_bytes(body.remaining()).to_vec()
    }

    /// The bytes held, once each, by all four bodies.
    pub fn held_bytes(&self) -> usize {
        [
            &self.gauges,
            &self.text_tail,
            &self.openmetrics_tail,
            &self.gzip_head,
            &self.text_gzip_tail,
            &self.openmetrics_gzip_tail,
        ]
        .iter()
        .map(|part| part.len())
        .sum()
    }
}

/// How a query's polls have gone, for the landing page and `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct QueryStatus {
    pub last_poll: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub window: Option<Interval>,
    pub last_error: Option<String>,
    /// The data passed its maximum age and is no longer served.
    pub stale: bool,
}

#[derive(Default)]
struct QueryState {
    data: Option<Arc<Flattened>>,
    /// When `data` passes its maximum age.
    stale_at: Option<Timestamp>,
    status: QueryStatus,
}

/// Holds every query's latest data and the exposition rendered from it.
pub struct Publisher {
    metrics: Arc<Metrics>,
    state: Mutex<BTreeMap<String, QueryState>>,
    names: Mutex<NameMap>,
    current: RwLock<Arc<Exposition>>,
}

impl Publisher {
    pub fn new<'a>(metrics: Arc<Metrics>, queries: impl IntoIterator<Item = &'a str>) -> Publisher {
        let state = queries
            .into_iter()
            .map(|q| (q.to_owned(), QueryState::default()))
            .collect();
        let publisher = Publisher {
            metrics,
            state: Mutex::new(state),
            names: Mutex::default(),
            current: RwLock::new(Arc::default()),
        };
        publisher.render(
            &mut publisher.state.lock().expect("not poisoned"),
            Timestamp::UNIX_EPOCH,
        );
        publisher
    }

    /// What to serve at `now`. Usually the exposition of the last publish; rendered anew
    /// when data in it has passed its maximum age, so that stale data is never served as
    /// current however long the next poll takes, or when the circuit breaker changed
    /// state, which `genesys_up` follows.
    pub fn current(&self, now: Timestamp) -> Arc<Exposition> {
        let current = self.current.read().expect("not poisoned").clone();
        if self.still_valid(&current, now) {
            return current;
        }
        let mut state = self.state.lock().expect("not poisoned");
        // Another scrape may have rendered it while this one waited for the lock.
        let current = self.current.read().expect("not poisoned").clone();
        if self.still_valid(&current, now) {
            return current;
        }
        self.render(&mut state, now)
    }

    fn still_valid(&self, exposition: &Exposition, now: Timestamp) -> bool {
        exposition.stale_at.is_none_or(|stale_at| now < stale_at)
            && exposition.breaker_state == self.metrics.breaker_state.get()
    }

    /// Every query's status, by name.
    pub fn statuses(&self) -> Vec<(String, QueryStatus)> {
        let state = self.state.lock().expect("not poisoned");
        state
            .iter()
            .map(|(name, query)| (name.clone(), query.status.clone()))
            .collect()
    }

    /// True once every query has published data at least once.
    pub fn ready(&self) -> bool {
        let state = self.state.lock().expect("not poisoned");
        state
            .values()
            .all(|query| query.status.last_success.is_some())
    }

    /// Replaces `query`'s data after a successful poll at `at`; it is served until
    /// `max_age` after that, unless newer data replaces it first.
    pub fn publish(
        &self,
        query: &str,
        window: Interval,
        data: Flattened,
        at: Timestamp,
        max_age: Duration,
    ) {
        let mut state = self.state.lock().expect("not poisoned");
        let entry = state.entry(query.to_owned()).or_default();
        entry.data = Some(Arc::new(data));
        // A max age too long for a timestamp never comes.
        entry.stale_at = SignedDuration::try_from(max_age)
            .ok()
            .and_then(|max_age| at.checked_add(max_age).ok());
        let status = &mut entry.status;
        status.last_poll = Some(at);
        status.last_success = Some(at);
        status.window = Some(window);
        status.last_error = None;
        status.stale = false;
        self.render(&mut state, at);
    }

    /// Puts queue names on the published data, from `now` and at every publish after.
    pub fn set_queue_names(&self, names: NameMap, now: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        *self.names.lock().expect("not poisoned") = names;
        self.render(&mut state, now);
    }

    /// Records a failed poll; the query's previous data stays until its maximum age.
    pub fn failed(&self, query: &str, error: String, at: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        let status = &mut state.entry(query.to_owned()).or_default().status;
        status.last_poll = Some(at);
        status.last_error = Some(error);
        self.render(&mut state, at);
    }

    /// Drops data past its maximum age, sets each query's `genesys_up`, and renders what
    /// is left with the self-metrics.
    fn render(&self, state: &mut BTreeMap<String, QueryState>, now: Timestamp) -> Arc<Exposition> {
        let breaker_state = self.metrics.breaker_state.get();
        for (name, query) in state.iter_mut() {
            if query.data.is_some() && query.stale_at.is_some_and(|stale_at| now >= stale_at) {
                query.data = None;
                query.stale_at = None;
                query.status.stale = true;
                self.metrics
                    .series
                    .get_or_create(&QueryLabel::new(name))
                    .set(0);
                tracing::warn!(
                    query = %name,
                    last_success = ?query.status.last_success,
                    "no successful poll for longer than max_age; no longer serving the query's old data"
                );
            }
            let status = &query.status;
            let up = status.last_success.is_some()
                && status.last_error.is_none()
                && breaker_state == BREAKER_CLOSED;
            self.metrics
                .up
                .get_or_create(&QueryLabel::new(name))
                .set(i64::from(up));
        }
        let queries: Vec<Arc<Flattened>> = state
            .values()
            .filter_map(|query| query.data.clone())
            .collect();
        let stale_at = state.values().filter_map(|query| query.stale_at).min();
        let names = self.names.lock().expect("not poisoned").clone();
        // Lines are up to about 150 bytes: a first guess on the large side saves copies of a
        // growing String, and the pages it reserves but does not write are never touched.
        let series: usize = queries.iter().map(|q| q.series()).sum();
        let mut gauges = String::with_capacity(series * 160 + 4096);
        write_gauges(&mut gauges, &queries, &names);

        let text_tail = self.metrics.encode_text();
        let mut openmetrics_tail = self.metrics.encode_openmetrics();
        openmetrics_tail.push_str("# EOF\n");
        let (gzip_head, [text_gzip_tail, openmetrics_gzip_tail]) = gzip_parts(
            gauges.as_bytes(),
            [text_tail.as_bytes(), openmetrics_tail.as_bytes()],
        );

        let exposition = Arc::new(Exposition {
            gauges: gauges.into(),
            text_tail: text_tail.into(),
            openmetrics_tail: openmetrics_tail.into(),
            gzip_head,
            text_gzip_tail,
            openmetrics_gzip_tail,
            stale_at,
            breaker_state,
        });
        *self.current.write().expect("not poisoned") = exposition.clone();
        exposition
    }
}

/// gzip of `shared` followed by each of `tails`, as a head common to all and one rest per
/// tail: `head + rest[i]` is one gzip member whose content is `shared + tails[i]`. So the
/// Genesys gauges, nearly all of both bodies, are compressed and kept once; compressing is
/// the larger part of a publish.
///
/// A deflate stream is a sequence of blocks. `shared` is compressed up to a sync flush,
/// which ends its blocks on a byte boundary without closing the stream; each tail is then
/// compressed on its own, and its blocks follow. They refer to nothing before them, so
/// head and rest make one ordinary deflate stream, in the gzip header and trailer (CRC-32
/// and length of the whole plain content) that RFC 1952 lays out.
/// Level 2: on 50k series, zlib-rs makes the text 6.7 times smaller in 12 ms at level 1 (a
/// different, quicker algorithm), 9.4 times in 17 ms at level 2, and 10.4 times in 42 ms at
/// the default level 6. Every scrape moves the body, so a third less of it is worth 5 ms
/// once per poll; the last tenth is not worth 25 ms more.
pub fn gzip_parts<const N: usize>(shared: &[u8], tails: [&[u8]; N]) -> (Bytes, [Bytes; N]) {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let level = Compression::new(2);
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(shared.len() / 3), level);
    encoder.get_mut().extend_from_slice(&HEADER);
    encoder
        .write_all(shared)
        .expect("writing to a Vec cannot fail");
    encoder.flush().expect("writing to a Vec cannot fail");
    // Taken out rather than finished, since finishing would close the stream. (Dropping the
    // encoder then finishes into the emptied Vec, which is dropped with it.)
    let head = std::mem::take(encoder.get_mut());
    drop(encoder);
    let mut shared_crc = Crc::new();
    shared_crc.update(shared);
    let rests = tails.map(|tail| {
        let mut rest = DeflateEncoder::new(Vec::new(), level);
        rest.write_all(tail).expect("writing to a Vec cannot fail");
        let mut rest = rest.finish().expect("writing to a Vec cannot fail");
        let mut tail_crc = Crc::new();
        tail_crc.update(tail);
        let mut crc = Crc::new();
        crc.combine(&shared_crc);
        crc.combine(&tail_crc);
        rest.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE: the plain length modulo 2^32, which is what `amount` counts.
        rest.extend_from_slice(&crc.amount().to_le_bytes());
        Bytes::from(rest)
    });
    (head.into(), rests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::catalogue::all_metrics;
    use crate::genesys::wire::{AggregateGroup, IntervalData, MetricEntry};

    const HOUR: Duration = Duration::from_secs(3600);

    fn window() -> Interval {
        Interval {
            start: "2026-08-20T10:00:00Z".parse().unwrap(),
            end: "2026-08-20T10:15:00Z".parse().unwrap(),
        }
    }

    fn entry(metric: &str, stats: Stats) -> MetricEntry {
        MetricEntry {
            metric: metric.into(),
            qualifier: None,
            stats,
        }
    }

    /// A group's (dimension, value) pairs and its metrics.
    type Group<'a> = (Vec<(&'a str, &'a str)>, Vec<MetricEntry>);

    fn response(groups: Vec<Group>) -> AggregateResponse {
        AggregateResponse {
            results: groups
                .into_iter()
                .map(|(group, metrics)| AggregateGroup {
                    group: group
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                    data: vec![IntervalData {
                        interval: "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z".into(),
                        metrics,
                    }],
                })
                .collect(),
        }
    }

    fn render(flattened: Flattened) -> String {
        let publisher = Publisher::new(Arc::new(Metrics::new(["q"])), ["q"]);
        publisher.publish("q", window(), flattened, Timestamp::UNIX_EPOCH, HOUR);
        String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap()
    }

    fn gunzip(body: &[u8]) -> String {
        use std::io::Read;
        let mut plain = String::new();
        flate2::read::GzDecoder::new(body)
            .read_to_string(&mut plain)
            .unwrap();
        plain
    }

    #[test]
    fn each_gzip_body_is_one_stream_of_the_shared_part_and_its_tail() {
        let shared: String = (0..20_000)
            .map(|i| {
                format!(
                    "genesys_conversation_offered{{queue_id=\"q{}\"}} {i}.0\n",
                    i % 300
                )
            })
            .collect();
        for (shared, tails) in [
            (
                shared.as_str(),
                ["# text tail\n", "# openmetrics tail\n# EOF\n"],
            ),
            ("", ["only a tail\n", ""]),
            (shared.as_str(), ["", "x"]),
        ] {
            let (head, rests) = gzip_parts(shared.as_bytes(), tails.map(str::as_bytes));
            for (rest, tail) in rests.iter().zip(tails) {
                let body = [&head[..], &rest[..]].concat();
                // One gzip member: a reader that stops after the first member sees it all.
                assert_eq!(gunzip(&body), format!("{shared}{tail}"));
                let mut multi = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::MultiGzDecoder::new(&body[..]),
                    &mut multi,
                )
                .unwrap();
                assert_eq!(multi, format!("{shared}{tail}"));
            }
        }
        let (head, rests) = gzip_parts(shared.as_bytes(), [b"".as_slice()]);
        let compressed = head.len() + rests[0].len();
        assert!(compressed * 5 < shared.len(), "compressed: {compressed}");
    }

    #[test]
    fn base_names_are_snake_case_without_the_type_letter() {
        assert_eq!(base_name("tHandle"), "handle");
        assert_eq!(base_name("nOverSla"), "over_sla");
        assert_eq!(base_name("oServiceLevel"), "service_level");
        assert_eq!(base_name("tAgentVideoConnected"), "agent_video_connected");
    }

    #[test]
    fn every_catalogue_gauge_name_is_unique_and_lint_clean() {
        let mut seen = BTreeSet::new();
        for metric in all_metrics() {
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

    #[test]
    fn each_kind_of_metric_becomes_its_gauges_in_base_units() {
        let flattened = flatten(
            "q",
            &["queueId".into(), "mediaType".into()],
            window(),
            &response(vec![(
                vec![("queueId", "q1"), ("mediaType", "voice")],
                vec![
                    entry(
                        "nOffered",
                        Stats {
                            count: Some(877.0),
                            ..Stats::default()
                        },
                    ),
                    entry(
                        "tAnswered",
                        Stats {
                            max: Some(451577.0),
                            min: Some(2324.0),
                            count: Some(787.0),
                            sum: Some(40279740.0),
                            ..Stats::default()
                        },
                    ),
                    entry(
                        "oServiceLevel",
                        Stats {
                            ratio: Some(0.5),
                            numerator: Some(414.0),
                            denominator: Some(828.0),
                            target: Some(0.8),
                            ..Stats::default()
                        },
                    ),
                ],
            )]),
        );
        assert_eq!(flattened.series(), 9);
        let text = render(flattened);
        let labels = r#"{query="q",queue_id="q1",media_type="voice"}"#;
        for line in [
            format!("genesys_conversation_offered{labels} 877.0"),
            format!("genesys_conversation_answered_segments{labels} 787.0"),
            format!("genesys_conversation_answered_seconds{labels} 40279.74"),
            format!("genesys_conversation_answered_seconds_max{labels} 451.577"),
            format!("genesys_conversation_answered_seconds_min{labels} 2.324"),
            format!("genesys_conversation_service_level_ratio{labels} 0.5"),
            format!("genesys_conversation_service_level_numerator{labels} 414.0"),
            format!("genesys_conversation_service_level_denominator{labels} 828.0"),
            format!("genesys_conversation_service_level_target_ratio{labels} 0.8"),
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "missing {line} in\n{text}"
            );
        }
        assert!(text.contains("# TYPE genesys_conversation_offered gauge\n"));
        assert!(
            !text.contains("genesys_conversation_answered_seconds_p95"),
            "absent stat, no series"
        );
    }

    #[test]
    fn a_missing_dimension_is_an_empty_label_and_other_buckets_are_ignored() {
        let mut resp = response(vec![(
            vec![("mediaType", "voice")],
            vec![entry(
                "nConnected",
                Stats {
                    count: Some(3.0),
                    ..Stats::default()
                },
            )],
        )]);
        resp.results[0].data.push(IntervalData {
            interval: "2026-08-20T09:45:00.000Z/2026-08-20T10:00:00.000Z".into(),
            metrics: vec![entry(
                "nConnected",
                Stats {
                    count: Some(99.0),
                    ..Stats::default()
                },
            )],
        });
        let text = render(flatten(
            "q",
            &["queueId".into(), "mediaType".into()],
            window(),
            &resp,
        ));
        assert!(text.contains("genesys_conversation_connected{query=\"q\",queue_id=\"\",media_type=\"voice\"} 3.0\n"), "{text}");
        assert!(!text.contains("99.0"));
    }

    #[test]
    fn samples_are_in_the_order_of_their_labels_in_group_by_order() {
        let offered = |n| {
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(n),
                    ..Stats::default()
                },
            )]
        };
        // As the API sorts them: by media type, then queue.
        let resp = response(vec![
            (vec![("mediaType", "chat"), ("queueId", "q1")], offered(1.0)),
            (vec![("mediaType", "chat"), ("queueId", "q2")], offered(2.0)),
            (
                vec![("mediaType", "voice"), ("queueId", "q1")],
                offered(3.0),
            ),
            (
                vec![("mediaType", "voice"), ("queueId", "q2")],
                offered(4.0),
            ),
        ]);
        let text = render(flatten(
            "q",
            &["queueId".into(), "mediaType".into()],
            window(),
            &resp,
        ));
        let values: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("genesys_conversation_offered{"))
            .map(|line| line.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(values, ["1.0", "3.0", "2.0", "4.0"], "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let resp = response(vec![(
            vec![("queueId", "a\"b\\c\nd é")],
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(1.0),
                    ..Stats::default()
                },
            )],
        )]);
        let text = render(flatten("q", &["queueId".into()], window(), &resp));
        assert!(text.contains(r#"queue_id="a\"b\\c\nd é""#), "{text}");
    }

    #[test]
    fn two_queries_share_one_family_block_per_gauge() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["a", "b"])), ["a", "b"]);
        assert!(!publisher.ready());
        for query in ["a", "b"] {
            let resp = response(vec![(
                vec![("queueId", "x")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(1.0),
                        ..Stats::default()
                    },
                )],
            )]);
            publisher.publish(
                query,
                window(),
                flatten(query, &["queueId".into()], window(), &resp),
                Timestamp::UNIX_EPOCH,
                HOUR,
            );
        }
        assert!(publisher.ready());
        let exposition = publisher.current(Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(exposition.to_vec(Format::Text, false)).unwrap();
        assert_eq!(
            text.matches("# TYPE genesys_conversation_offered gauge")
                .count(),
            1
        );
        assert_eq!(text.matches("genesys_conversation_offered{").count(), 2);
        let openmetrics = String::from_utf8(exposition.to_vec(Format::OpenMetrics, false)).unwrap();
        assert!(openmetrics.ends_with("# EOF\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn queue_names_go_beside_queue_ids_once_known() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["q"])), ["q"]);
        let resp = response(vec![
            (
                vec![("queueId", "id-1"), ("mediaType", "voice")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(2.0),
                        ..Stats::default()
                    },
                )],
            ),
            (
                vec![("queueId", "id-2"), ("mediaType", "voice")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(3.0),
                        ..Stats::default()
                    },
                )],
            ),
        ]);
        let group_by = ["queueId".to_string(), "mediaType".to_string()];
        publisher.publish(
            "q",
            window(),
            flatten("q", &group_by, window(), &resp),
            Timestamp::UNIX_EPOCH,
            HOUR,
        );
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-1\",media_type=\"voice\"} 2.0\n"), "{text}");

        let names = HashMap::from([("id-1".to_string(), "Sales \"EU\"".to_string())]);
        publisher.set_queue_names(Arc::new(names), Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-1\",queue=\"Sales \\\"EU\\\"\",media_type=\"voice\"} 2.0\n"), "{text}");
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-2\",media_type=\"voice\"} 3.0\n"), "an unknown queue has no name label: {text}");
    }

    #[test]
    fn a_failed_poll_keeps_the_previous_data() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["q"])), ["q"]);
        let resp = response(vec![(
            vec![("queueId", "x")],
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(7.0),
                    ..Stats::default()
                },
            )],
        )]);
        publisher.publish(
            "q",
            window(),
            flatten("q", &["queueId".into()], window(), &resp),
            Timestamp::UNIX_EPOCH,
            HOUR,
        );
        publisher.failed("q", "HTTP 400".into(), Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"x\"} 7.0\n"));
        assert_eq!(
            publisher.statuses()[0].1.last_error.as_deref(),
            Some("HTTP 400")
        );
    }

    fn offered(count: f64) -> Flattened {
        let resp = response(vec![(
            vec![("queueId", "x")],
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(count),
                    ..Stats::default()
                },
            )],
        )]);
        flatten("q", &["queueId".into()], window(), &resp)
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn text(publisher: &Publisher, now: &str) -> String {
        String::from_utf8(publisher.current(at(now)).to_vec(Format::Text, false)).unwrap()
    }

    #[test]
    fn data_past_its_max_age_is_dropped_even_without_a_poll() {
        let metrics = Arc::new(Metrics::new(["q"]));
        let publisher = Publisher::new(metrics.clone(), ["q"]);
        let sample = "genesys_conversation_offered{query=\"q\",queue_id=\"x\"} 7.0\n";
        let half_hour = Duration::from_secs(1800);
        metrics.series.get_or_create(&QueryLabel::new("q")).set(1);
        publisher.publish(
            "q",
            window(),
            offered(7.0),
            at("2026-08-20T10:16:30Z"),
            half_hour,
        );
        publisher.failed("q", "HTTP 503".into(), at("2026-08-20T10:31:30Z"));
        assert!(text(&publisher, "2026-08-20T10:46:29Z").contains(sample));
        assert!(!publisher.statuses()[0].1.stale);

        // Half an hour after the last success: gone, at the first scrape after it.
        let stale = text(&publisher, "2026-08-20T10:46:30Z");
        assert!(!stale.contains("genesys_conversation_offered"), "{stale}");
        assert!(stale.contains("genesys_series{query=\"q\"} 0\n"), "{stale}");
        assert!(stale.contains("genesys_up{query=\"q\"} 0\n"), "{stale}");
        let status = &publisher.statuses()[0].1;
        assert!(status.stale);
        assert_eq!(status.last_success, Some(at("2026-08-20T10:16:30Z")));
        assert!(publisher.ready(), "it did publish once");

        // A successful poll brings data back.
        publisher.publish(
            "q",
            window(),
            offered(9.0),
            at("2026-08-20T10:50:00Z"),
            half_hour,
        );
        assert!(text(&publisher, "2026-08-20T10:50:00Z").contains("} 9.0\n"));
        assert!(!publisher.statuses()[0].1.stale);
    }

    #[test]
    fn up_is_1_after_a_successful_poll_while_the_breaker_is_closed() {
        let metrics = Arc::new(Metrics::new(["q", "r"]));
        let publisher = Publisher::new(metrics.clone(), ["q", "r"]);
        let now = "2026-08-20T10:16:30Z";
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 0\n"));
        publisher.publish("q", window(), offered(1.0), at(now), HOUR);
        let shown = text(&publisher, now);
        assert!(shown.contains("genesys_up{query=\"q\"} 1\n"), "{shown}");
        assert!(shown.contains("genesys_up{query=\"r\"} 0\n"), "{shown}");

        // The breaker opens while another query polls: q is down too, and the next
        // scrape says so without waiting for a poll.
        metrics.breaker_state.set(crate::metrics::BREAKER_OPEN);
        let shown = text(&publisher, now);
        assert!(shown.contains("genesys_up{query=\"q\"} 0\n"), "{shown}");
        assert!(
            shown.contains("genesys_circuit_breaker_state 2\n"),
            "{shown}"
        );
        metrics.breaker_state.set(BREAKER_CLOSED);
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 1\n"));

        publisher.failed("q", "HTTP 503".into(), at(now));
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 0\n"));
    }
}
