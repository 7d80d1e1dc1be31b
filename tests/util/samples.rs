//! `/metrics` read back as samples, strictly, and the series tests look up in them.

use std::collections::BTreeMap;

/// (metric name, sorted labels) → value.
pub type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// The value of the sample `name` with exactly `labels`.
pub fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.get(&(name.to_string(), labels)).copied()
}

/// A strict reader of the text exposition format: panics on any line it cannot read.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().expect(line);
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').expect(line);
                (name.to_string(), parse_labels(rest, line))
            }
        };
        assert!(
            samples.insert((name, labels), value).is_none(),
            "duplicate series {line}"
        );
    }
    samples
}

fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect(line);
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect(line) {
                (_, '\\') => match chars.next().expect(line).1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    other => panic!("bad escape \\{other} in {line}"),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The value of a counter or gauge of the default query, or of an endpoint and reason;
/// 0 when the series is absent (a counter that never counted).
pub fn of(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or(0.0)
}

pub const DEFAULT: &[(&str, &str)] = &[("query", "default")];

/// `genesys_api_failures_total` or `genesys_api_retries_total` of the aggregates endpoint.
pub fn aggregates(samples: &Samples, name: &str, reason: &str) -> f64 {
    of(
        samples,
        name,
        &[("endpoint", "aggregates"), ("reason", reason)],
    )
}

/// The Genesys data series alone.
pub fn conversation(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((name, _), _)| name.starts_with("genesys_conversation_"))
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// The start and end of the default query's published interval.
pub fn published_window(samples: &Samples) -> (jiff::Timestamp, jiff::Timestamp) {
    published_window_of(samples, "default")
}

/// The start and end of the interval `query` last published.
pub fn published_window_of(samples: &Samples, query: &str) -> (jiff::Timestamp, jiff::Timestamp) {
    let at = |name| {
        let seconds = value(samples, name, &[("query", query)]).expect(name);
        jiff::Timestamp::from_second(seconds as i64).unwrap()
    };
    (
        at("genesys_interval_start_timestamp_seconds"),
        at("genesys_interval_end_timestamp_seconds"),
    )
}

/// The end of the published interval, as text such as `14:15`.
pub fn interval_end(samples: &Samples) -> String {
    let end = of(samples, "genesys_interval_end_timestamp_seconds", DEFAULT);
    jiff::Timestamp::from_second(end as i64)
        .unwrap()
        .strftime("%H:%M")
        .to_string()
}

/// The Genesys data series of `query` alone.
pub fn conversation_of(samples: &Samples, query: &str) -> Samples {
    conversation(samples)
        .into_iter()
        .filter(|((_, labels), _)| labels.get("query").is_some_and(|q| q == query))
        .collect()
}
