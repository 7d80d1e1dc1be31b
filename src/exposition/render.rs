//! Rendering: every org's queries' samples, then the self-metrics, in the Prometheus text
//! format and in OpenMetrics, each plain and gzip-compressed.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use bytes::buf::Chain;
use bytes::{Buf, Bytes};
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

use super::flatten::QuerySamples;
use crate::metrics::Metrics;

/// Writes every query's gauges, each with its org's queue names, family by family so that
/// each gauge appears once with all queries' (of every org) samples under it, as both
/// formats require. Gauge lines are the same in the text
/// format and in OpenMetrics, so they are written once for both.
///
/// Written by hand rather than through prometheus-client's encoder because every group has
/// a sample in nearly every family: its labels (the org if named, the query, the groupBy
/// dimensions, the queue's name after `queue_id` where it is known) are escaped once per group here and
/// copied into each of its lines, which made rendering about three times faster.
pub(super) fn write_gauges(
    out: &mut String,
    queries: &[(&QuerySamples, &HashMap<String, String>)],
) {
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
    // The exact length but for the values and the qualifiers' escapes, so that the text
    // is written without copies of a growing String, nor room it never uses.
    let mut length = 0;
    for ((query, _), labels) in queries.iter().zip(&labels) {
        for (name, family) in &query.families {
            length += 2 * name.len() + family.help.len() + 24;
            for sample in &family.samples {
                // `name{labels} value\n`, the value at most 24 characters.
                length += name.len() + labels[sample.group].len() + 28;
                if let Some(qualifier) = &sample.qualifier {
                    length += qualifier.len() + 13;
                }
            }
        }
    }
    out.reserve(length);
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

/// `org="east",query="q",queue_id="...",queue="Sales",media_type="voice"`: a group's
/// labels, without `org` for the unnamed org.
fn group_labels(
    query: &QuerySamples,
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
    if let Some(org) = query.org.name() {
        label("org", org);
    }
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

/// A body in two shared parts that are never joined: the gauges both formats share, then
/// the format's own tail. Both are reference-counted, so handing a body out copies
/// nothing; hyper writes both parts with one vectored write.
pub type SharedBody = Chain<Bytes, Bytes>;

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
/// scrape only picks one of four bodies. The Genesys gauges, nearly all of every body, are
/// the same in both formats, so they are kept once, plain and compressed, and each body is
/// them followed by the format's tail: the self-metrics, and `# EOF` for OpenMetrics.
#[derive(Debug, Default)]
pub struct Exposition {
    gauges: Bytes,
    text_tail: Bytes,
    openmetrics_tail: Bytes,
    /// The gzip header and the gauges compressed up to a flush; see [`gzip_parts`].
    gzip_head: Bytes,
    text_gzip_tail: Bytes,
    openmetrics_gzip_tail: Bytes,
}

impl Exposition {
    /// Renders `queries`' gauges, each with the queue's name beside each queue ID that its
    /// names know, followed by the self-metrics.
    pub(super) fn render(
        queries: &[(&QuerySamples, &HashMap<String, String>)],
        metrics: &Metrics,
    ) -> Exposition {
        let mut gauges = String::new();
        write_gauges(&mut gauges, queries);

        let text_tail = metrics.encode_text();
        let mut openmetrics_tail = metrics.encode_openmetrics();
        openmetrics_tail.push_str("# EOF\n");
        let (gzip_head, [text_gzip_tail, openmetrics_gzip_tail]) = gzip_parts(
            gauges.as_bytes(),
            [text_tail.as_bytes(), openmetrics_tail.as_bytes()],
        );
        Exposition {
            gauges: gauges.into(),
            text_tail: text_tail.into(),
            openmetrics_tail: openmetrics_tail.into(),
            gzip_head,
            text_gzip_tail,
            openmetrics_gzip_tail,
        }
    }

    /// The body in `format`, gzip-compressed if `gzip`. Costs two reference counts, however
    /// many series there are.
    pub fn body(&self, format: Format, gzip: bool) -> SharedBody {
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
fn gzip_parts<const N: usize>(shared: &[u8], tails: [&[u8]; N]) -> (Bytes, [Bytes; N]) {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let level = Compression::new(2);
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(shared.len() / 8), level);
    encoder.get_mut().extend_from_slice(&HEADER);
    encoder
        .write_all(shared)
        .expect("writing to a Vec cannot fail");
    encoder.flush().expect("writing to a Vec cannot fail");
    // Taken out rather than finished, since finishing would close the stream. (Dropping the
    // encoder then finishes into the emptied Vec, which is dropped with it.)
    let mut head = std::mem::take(encoder.get_mut());
    // Held until the next publish: without the room deflating reserved.
    head.shrink_to_fit();
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
    use crate::exposition::fixtures::{entry, render, response, window};
    use crate::exposition::flatten;
    use crate::genesys::wire::Stats;

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
