//! Rendering: every org's queries' samples, then the self-metrics, in the Prometheus text
//! format and in OpenMetrics, gzip-compressed as they are written, and plain when asked.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::OnceLock;

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc, Decompress, FlushDecompress};

use super::blocking::off_the_workers;
use super::flatten::QuerySamples;
use super::names::Names;
use crate::metrics::Metrics;

/// Writes every query's gauges, each with its org's queue names, family by family so that
/// each gauge appears once with all queries' (of every org) samples under it, as both
/// formats require. Gauge lines are the same in the text format and in OpenMetrics, so they
/// are written once for both.
///
/// The text goes to `sink` in chunks of about [`CHUNK`] bytes, never whole: the publisher
/// deflates each chunk while it is still in the cache, and the whole text, 4.9 times the
/// JSON it came from, is never held.
///
/// Written by hand rather than through prometheus-client's encoder because every group has
/// a sample in nearly every family: its labels (the org if named, the query, the groupBy
/// dimensions, the queue's name after `queue_id` where it is known) are escaped once per group here and
/// copied into each of its lines, which made rendering about three times faster.
pub(super) fn write_gauges(queries: &[(&QuerySamples, &Names)], mut sink: impl FnMut(&str)) {
    let labels: Vec<Vec<String>> = queries
        .iter()
        .map(|(query, names)| {
            query
                .groups
                .iter()
                .map(|group| group_labels(query, group, names))
                .collect()
        })
        .collect();
    let mut out = String::with_capacity(CHUNK + 1024);
    let gauges: BTreeSet<&String> = queries
        .iter()
        .flat_map(|(q, _)| q.families.keys())
        .collect();
    for name in gauges {
        let help = queries
            .iter()
            .find_map(|(q, _)| q.families.get(name))
            .map(|f| f.help.as_str())
            .unwrap_or_default();
        for (comment, text) in [("# HELP ", help), ("# TYPE ", "gauge")] {
            out.push_str(comment);
            out.push_str(name);
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        for ((query, _), labels) in queries.iter().zip(&labels) {
            let Some(family) = query.families.get(name) else {
                continue;
            };
            for sample in &family.samples {
                out.push_str(name);
                out.push('{');
                out.push_str(&labels[sample.group as usize]);
                if let Some(qualifier) = query.qualifier(sample) {
                    out.push_str(",qualifier=\"");
                    escape_label_value(&mut out, qualifier);
                    out.push('"');
                }
                out.push_str("} ");
                push_value(&mut out, sample.value);
                out.push('\n');
                if out.len() >= CHUNK {
                    sink(&out);
                    out.clear();
                }
            }
        }
    }
    if !out.is_empty() {
        sink(&out);
    }
}

/// How much rendered text is handed to deflate at a time: small enough to stay in the
/// cache, large enough that deflate's per-call cost does not count.
const CHUNK: usize = 64 * 1024;

/// `org="east",query="q",queue_id="...",queue="Sales",media_type="voice"`: a group's
/// labels, without `org` for the unnamed org.
fn group_labels(query: &QuerySamples, group: &[(String, String)], names: &Names) -> String {
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
    if let Some(org) = query.org.name() {
        label("org", org);
    }
    label("query", &query.query);
    for (index, (name, value)) in group.iter().enumerate() {
        label(name, value);
        // Checked by name too: a source whose labels vary by group (the agent states'
        // breakdowns) names the position of an ID that not every group has there.
        if let Some(&(_, kind)) = query.named.iter().find(|(named, _)| *named == index)
            && name == kind.id_label()
            && let Some(name) = names.get(kind, value)
        {
            label(kind.label(), name);
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

/// A body in three parts that are never joined: the gauges both formats share, then the
/// format's self-metrics as published, both shared, then the process metrics read for this
/// body (with, gzipped, the end of the stream). Handing a body out copies nothing that was
/// rendered at the publish; hyper writes the parts with one vectored write.
pub type SharedBody = Chain<Chain<Bytes, Bytes>, Bytes>;

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
/// scrape only picks one of four bodies and adds the process metrics, read as it asks. The
/// Genesys gauges, nearly all of every body, are the same in both formats, so they are kept
/// once, and each body is them followed by the format's tail: the self-metrics as they were
/// at the publish (so that `genesys_up` and the gauges always agree), the `process_*`
/// metrics as they are at the scrape, as client_golang reads them, and `# EOF` for
/// OpenMetrics.
///
/// The gauges are kept compressed only: Prometheus asks for gzip (unless its scrape
/// config sets `enable_compression: false`), and the plain text is about nine times
/// larger. The first uncompressed scrape after a publish inflates them (a few milliseconds
/// at 50k series), and the plain text is then kept beside them until the next publish
/// replaces both.
#[derive(Default)]
pub struct Exposition {
    /// The gzip header and the gauges compressed up to a flush; see [`GzipHead`].
    gzip_head: Bytes,
    /// The CRC-32 of the plain gauges.
    gauges_crc: Crc,
    /// The length of the plain gauges.
    gauges_len: usize,
    /// The plain gauges, once an uncompressed scrape has asked for them.
    gauges: OnceLock<Bytes>,
    text_tail: Tail,
    openmetrics_tail: Tail,
    /// Where the process metrics are read; none in the empty exposition before the first
    /// render.
    metrics: Option<Metrics>,
}

/// The self-metrics of one format, as they were at the publish: plain, and deflated up to
/// a flush, to follow the gauges' [`GzipHead`].
#[derive(Default)]
struct Tail {
    plain: Bytes,
    deflated: Bytes,
    crc: Crc,
}

impl Tail {
    fn new(plain: String) -> Tail {
        let mut deflated = GzipHead::without_header();
        deflated.write(plain.as_bytes());
        let (deflated, crc, _) = deflated.finish();
        Tail {
            plain: plain.into(),
            deflated,
            crc,
        }
    }
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("gauges_len", &self.gauges_len)
            .field("held_bytes", &self.held_bytes())
            .finish_non_exhaustive()
    }
}

impl Exposition {
    /// Renders `queries`' gauges, each with the queue's name beside each queue ID that its
    /// names know, followed by the self-metrics; each body adds `metrics`' process metrics
    /// as they are when it is asked for.
    pub(super) fn render(queries: &[(&QuerySamples, &Names)], metrics: &Metrics) -> Exposition {
        let mut head = GzipHead::new();
        write_gauges(queries, |chunk| head.write(chunk.as_bytes()));
        let (gzip_head, gauges_crc, gauges_len) = head.finish();
        Exposition {
            gzip_head,
            gauges_crc,
            gauges_len,
            gauges: OnceLock::new(),
            text_tail: Tail::new(metrics.encode_text()),
            openmetrics_tail: Tail::new(metrics.encode_openmetrics()),
            metrics: Some(metrics.clone()),
        }
    }

    /// The body in `format`, gzip-compressed if `gzip`: the gauges and self-metrics shared
    /// (reference counts however many series there are, but for the first uncompressed
    /// body after a publish, which inflates the gauges), and the process metrics read now.
    pub fn body(&self, format: Format, gzip: bool) -> SharedBody {
        let (tail, mut process) = match format {
            Format::Text => (&self.text_tail, self.process(Metrics::encode_process_text)),
            Format::OpenMetrics => (
                &self.openmetrics_tail,
                self.process(Metrics::encode_process_openmetrics),
            ),
        };
        if format == Format::OpenMetrics {
            process.push_str("# EOF\n");
        }
        if gzip {
            let rest = gzip_rest([&self.gauges_crc, &tail.crc], process.as_bytes());
            self.gzip_head
                .clone()
                .chain(tail.deflated.clone())
                .chain(rest)
        } else {
            let gauges = self.plain_gauges().clone();
            gauges.chain(tail.plain.clone()).chain(Bytes::from(process))
        }
    }

    /// The process metrics, read now, encoded by `encode`.
    fn process(&self, encode: fn(&Metrics) -> String) -> String {
        self.metrics.as_ref().map(encode).unwrap_or_default()
    }

    /// The body in one piece, copied: for tests and tools, not for serving.
    pub fn to_vec(&self, format: Format, gzip: bool) -> Vec<u8> {
        let mut body = self.body(format, gzip);
        body.copy_to_bytes(body.remaining()).to_vec()
    }

    /// The bytes held between scrapes: the compressed gauges, both tails plain and
    /// compressed, and the plain gauges once an uncompressed body has been asked for.
    pub fn held_bytes(&self) -> usize {
        [
            &self.gzip_head,
            &self.text_tail.plain,
            &self.text_tail.deflated,
            &self.openmetrics_tail.plain,
            &self.openmetrics_tail.deflated,
        ]
        .into_iter()
        .chain(self.gauges.get())
        .map(|part| part.len())
        .sum()
    }

    /// The plain gauges, inflated from the gzip head the first time they are asked for, off
    /// the async workers (tens of milliseconds at a million series). Concurrent first
    /// scrapes wait for one inflation rather than each making a copy.
    fn plain_gauges(&self) -> &Bytes {
        if let Some(gauges) = self.gauges.get() {
            return gauges;
        }
        off_the_workers(|| {
            self.gauges
                .get_or_init(|| inflate_head(&self.gzip_head, self.gauges_len))
        })
    }
}

/// The gzip header of every body: deflate, no flags, no time, unknown OS (RFC 1952).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Level 2: on 50k series, zlib-rs makes the text 6.7 times smaller in 12 ms at level 1 (a
/// different, quicker algorithm), 9.4 times in 17 ms at level 2, and 10.4 times in 42 ms at
/// the default level 6. Every scrape moves the body, so a third less of it is worth 5 ms
/// once per poll; the last tenth is not worth 25 ms more.
pub const GZIP_LEVEL: Compression = Compression::new(2);

/// The head both gzip bodies share: the gzip header and the gauges, deflated as they are
/// written and ended on a sync flush, which ends the deflate blocks on a byte boundary
/// without closing the stream. Each body's rest ([`gzip_rest`]) follows it, so that the
/// gauges, nearly all of both bodies, are compressed and kept once; compressing is the
/// larger part of a publish.
struct GzipHead {
    encoder: DeflateEncoder<Vec<u8>>,
    crc: Crc,
    len: usize,
}

impl GzipHead {
    fn new() -> GzipHead {
        let mut head = GzipHead::without_header();
        head.encoder.get_mut().extend_from_slice(&GZIP_HEADER);
        head
    }

    /// Deflate blocks only, ended on a sync flush like a head's: a tail that follows one.
    fn without_header() -> GzipHead {
        GzipHead {
            encoder: DeflateEncoder::new(Vec::with_capacity(CHUNK), GZIP_LEVEL),
            crc: Crc::new(),
            len: 0,
        }
    }

    fn write(&mut self, plain: &[u8]) {
        self.encoder
            .write_all(plain)
            .expect("writing to a Vec cannot fail");
        self.crc.update(plain);
        self.len += plain.len();
    }

    /// The head, and the CRC-32 and length of what was written.
    fn finish(mut self) -> (Bytes, Crc, usize) {
        self.encoder.flush().expect("writing to a Vec cannot fail");
        // Taken out rather than finished, since finishing would close the stream. (Dropping
        // the encoder then finishes into the emptied Vec, which is dropped with it.)
        let mut head = std::mem::take(self.encoder.get_mut());
        // Held until the next publish: without the room deflating reserved.
        head.shrink_to_fit();
        (head.into(), self.crc, self.len)
    }
}

/// The end of a gzip member whose deflate blocks so far (a [`GzipHead`] and any tail after
/// it, each ended on a sync flush, referring to nothing before it) hold content with
/// `crcs`: `last` in final stored blocks, then the trailer, the CRC-32 and length of the
/// whole plain content (RFC 1952). Storing takes no deflate state: a scrape writes the few
/// hundred bytes of process metrics as they are.
fn gzip_rest<const N: usize>(crcs: [&Crc; N], last: &[u8]) -> Bytes {
    let mut rest = Vec::with_capacity(last.len() + 5 * (last.len() / 65_535 + 1) + 8);
    // Stored blocks (RFC 1951 3.2.4), at most 65,535 bytes each, the last one final; the
    // sync flush before them left the stream on a byte boundary.
    let mut blocks = last.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        rest.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let length = u16::try_from(block.len()).expect("chunks of at most u16::MAX");
        rest.push(u8::from(blocks.peek().is_none()));
        rest.extend_from_slice(&length.to_le_bytes());
        rest.extend_from_slice(&(!length).to_le_bytes());
        rest.extend_from_slice(block);
    }
    let mut last_crc = Crc::new();
    last_crc.update(last);
    let mut crc = Crc::new();
    for part in crcs {
        crc.combine(part);
    }
    crc.combine(&last_crc);
    rest.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the plain length modulo 2^32, which is what `amount` counts.
    rest.extend_from_slice(&crc.amount().to_le_bytes());
    Bytes::from(rest)
}

/// The plain content of a [`GzipHead`]: its deflate blocks, which end on a sync flush.
fn inflate_head(head: &[u8], plain_len: usize) -> Bytes {
    let Some(blocks) = head.get(GZIP_HEADER.len()..) else {
        // The empty exposition, before the first render.
        return Bytes::new();
    };
    let mut plain = Vec::with_capacity(plain_len);
    let mut inflater = Decompress::new(false);
    loop {
        let read = inflater.total_in() as usize;
        let Some(rest) = blocks.get(read..).filter(|rest| !rest.is_empty()) else {
            break;
        };
        let written = plain.len();
        plain.reserve(CHUNK);
        inflater
            .decompress_vec(rest, &mut plain, FlushDecompress::Sync)
            .expect("the exposition's own deflate stream inflates");
        if inflater.total_in() as usize == read && plain.len() == written {
            break;
        }
    }
    debug_assert_eq!(
        plain.len(),
        plain_len,
        "the head inflates to what was written"
    );
    // Held until the next publish: without the room a small text was given.
    plain.shrink_to_fit();
    plain.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::fixtures::{self, entry, render, response, window};
    use crate::exposition::flatten;
    use genesys_wire::Stats;

    fn gunzip(body: &[u8]) -> String {
        use std::io::Read;
        let mut plain = String::new();
        flate2::read::GzDecoder::new(body)
            .read_to_string(&mut plain)
            .unwrap();
        plain
    }

    /// The head and rests as a publish makes them, the shared part written in chunks of
    /// `chunk` bytes.
    fn gzip_parts<const N: usize>(
        shared: &str,
        chunk: usize,
        tails: [&str; N],
    ) -> (Bytes, usize, [Bytes; N]) {
        let mut head = GzipHead::new();
        for piece in shared.as_bytes().chunks(chunk.max(1)) {
            head.write(piece);
        }
        let (head, crc, len) = head.finish();
        (
            head,
            len,
            tails.map(|tail| gzip_rest([&crc], tail.as_bytes())),
        )
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
        for (shared, chunk, tails) in [
            (
                shared.as_str(),
                CHUNK,
                ["# text tail\n", "# openmetrics tail\n# EOF\n"],
            ),
            (shared.as_str(), 7, ["# text tail\n", "x"]),
            ("", CHUNK, ["only a tail\n", ""]),
            (shared.as_str(), CHUNK, ["", "x"]),
        ] {
            let (head, len, rests) = gzip_parts(shared, chunk, tails);
            assert_eq!(len, shared.len());
            assert_eq!(inflate_head(&head, len), shared.as_bytes());
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
        let (head, _, rests) = gzip_parts(&shared, CHUNK, [""]);
        let compressed = head.len() + rests[0].len();
        assert!(compressed * 5 < shared.len(), "compressed: {compressed}");
    }

    #[test]
    fn the_plain_gauges_are_inflated_once_for_the_first_uncompressed_body() {
        let ids: Vec<String> = (0..5_000).map(|i| format!("q{i}")).collect();
        let resp = response(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (vec![("queueId", id.as_str())], fixtures::offered(i as f64)))
                .collect(),
        );
        let samples = || flatten("q", &["queueId".into()], window(), &resp);
        let gauges = render(samples());
        assert!(gauges.len() > 2 * CHUNK, "several chunks: {}", gauges.len());
        let samples = samples();
        let metrics = Metrics::new(["q"]);
        let exposition = Exposition::render(&[(&samples, &Names::default())], &metrics);
        let compressed = exposition.held_bytes();
        assert!(exposition.gauges.get().is_none(), "nothing plain held yet");

        let text = String::from_utf8(exposition.to_vec(Format::Text, false)).unwrap();
        let published = format!("{gauges}{}", metrics.encode_text());
        assert_process_metrics_follow(&text, &published);
        assert_eq!(exposition.held_bytes(), compressed + gauges.len());
        let openmetrics = exposition.to_vec(Format::OpenMetrics, false);
        assert!(openmetrics.starts_with(gauges.as_bytes()));
        assert_eq!(
            exposition
                .body(Format::Text, false)
                .first_ref()
                .first_ref()
                .as_ptr(),
            exposition
                .body(Format::OpenMetrics, false)
                .first_ref()
                .first_ref()
                .as_ptr(),
            "inflated once, shared by both formats"
        );
        assert_process_metrics_follow(&gunzip(&exposition.to_vec(Format::Text, true)), &published);
        let openmetrics = String::from_utf8(exposition.to_vec(Format::OpenMetrics, true)).ok();
        assert!(openmetrics.is_none(), "gzipped");
        let openmetrics = gunzip(&exposition.to_vec(Format::OpenMetrics, true));
        let published = format!("{gauges}{}", metrics.encode_openmetrics());
        assert_process_metrics_follow(&openmetrics, &published);
        assert!(openmetrics.ends_with("# EOF\n"));
    }

    #[test]
    fn a_stored_last_part_of_any_length_ends_the_stream() {
        let shared = "shared gauges\n".repeat(1000);
        let (head, _, _) = gzip_parts(&shared, CHUNK, [""]);
        let mut head_only = GzipHead::new();
        head_only.write(shared.as_bytes());
        let (_, shared_crc, _) = head_only.finish();
        let tail = Tail::new("self metrics\n".repeat(100));
        for length in [0, 1, 65_535, 65_536, 200_000] {
            let last: String = "p".repeat(length);
            let rest = gzip_rest([&shared_crc, &tail.crc], last.as_bytes());
            let body = [head.as_ref(), tail.deflated.as_ref(), rest.as_ref()].concat();
            let plain = format!("{shared}{}{last}", String::from_utf8_lossy(&tail.plain));
            assert_eq!(gunzip(&body), plain, "{length} bytes stored");
        }
    }

    /// `body` is `published` followed by the process metrics, as far as this system has
    /// them.
    fn assert_process_metrics_follow(body: &str, published: &str) {
        let process = body
            .strip_prefix(published)
            .unwrap_or_else(|| panic!("not the published text first ({} bytes)", body.len()));
        #[cfg(target_os = "linux")]
        assert!(
            process.starts_with("# HELP process_cpu_seconds"),
            "{process}"
        );
        assert_eq!(
            process
                .lines()
                .filter(|line| line.starts_with("process_"))
                .count(),
            if cfg!(target_os = "linux") {
                6
            } else {
                usize::from(cfg!(unix))
            },
            "{process}"
        );
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
}
