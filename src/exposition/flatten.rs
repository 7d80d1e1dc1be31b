//! Flattening an aggregates response into samples: one per group, metric and stat, each
//! named by the rules of the naming module.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::naming::{StatGauge, help_text, metric_gauges, snake_case};
use crate::genesys::wire::{AggregateGroup, AggregateResponse};
use crate::org::Org;
use crate::schedule::Interval;

/// One query's samples from one poll.
#[derive(Debug, Default)]
pub struct QuerySamples {
    /// The org whose query it is: set by the publisher of that org at publish.
    pub(super) org: Org,
    pub(super) query: String,
    /// Per group, its label pairs in groupBy order (`queue_id`, `media_type`, ...).
    pub(super) groups: Vec<Vec<(String, String)>>,
    /// Which of those labels is `queue_id`, to put the queue's name beside it.
    pub(super) queue_id_label: Option<usize>,
    /// Gauge name → its help text and samples.
    pub(super) families: BTreeMap<String, Family>,
}

#[derive(Debug, Default)]
pub(super) struct Family {
    pub(super) help: String,
    pub(super) samples: Vec<Sample>,
}

#[derive(Debug)]
pub(super) struct Sample {
    pub(super) group: usize,
    pub(super) qualifier: Option<String>,
    pub(super) value: f64,
}

impl QuerySamples {
    pub fn series(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }
}

/// Turns the response to a query for `window` into samples. Each group contributes the
/// data entry of `window` only; an absent metric or stat produces no sample.
pub fn flatten(
    query: &str,
    group_by: &[String],
    window: Interval,
    response: &AggregateResponse,
) -> QuerySamples {
    flatten_bounded(query, group_by, window, response, usize::MAX)
        .expect("no answer has more than usize::MAX series")
}

/// The samples would pass the most series a query may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySeries;

/// [`flatten`], stopped as soon as the samples would pass `max_series`, so that an answer
/// with a million groups costs no more than the limit's worth of samples.
///
/// A group that the answer holds twice (the same labels), and a metric twice in one
/// group, would make two identical series, which Prometheus rejects whole. The later one
/// is dropped, with a warning, rather than merged: the API never sends a group twice, so a
/// duplicate means the answer is broken, and there is no telling whether its two halves are
/// parts to add up or the same data sent twice (adding would double every count); for
/// percentiles and ratios without numerators no merge is right at all. Dropping keeps
/// every published number one the API actually said.
pub fn flatten_bounded<'a>(
    query: &str,
    group_by: &[String],
    window: Interval,
    response: &'a AggregateResponse,
    max_series: usize,
) -> Result<QuerySamples, TooManySeries> {
    let label_names: Vec<String> = group_by.iter().map(|d| snake_case(d)).collect();
    let mut gauge_names_of: HashMap<&str, Vec<(&'static StatGauge, String)>> = HashMap::new();
    let mut samples = QuerySamples {
        query: query.to_owned(),
        queue_id_label: group_by.iter().position(|d| d == "queueId"),
        ..QuerySamples::default()
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
    let mut series = 0usize;
    let mut duplicates = 0usize;
    let mut previous: Option<&AggregateGroup> = None;
    let mut seen_metrics: HashSet<(&str, Option<&str>)> = HashSet::new();
    for group in groups {
        let labels = |group: &'a AggregateGroup| group_by.iter().map(|d| group.group.get(d));
        if previous.is_some_and(|previous| labels(previous).eq(labels(group))) {
            duplicates += 1;
            continue;
        }
        previous = Some(group);
        let Some(data) = group.data.iter().find(|d| interval_is(&d.interval, window)) else {
            continue;
        };
        let group_index = samples.groups.len();
        samples.groups.push(
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
        seen_metrics.clear();
        for entry in &data.metrics {
            if !seen_metrics.insert((entry.metric.as_str(), entry.qualifier.as_deref())) {
                duplicates += 1;
                continue;
            }
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
                series += 1;
                if series > max_series {
                    return Err(TooManySeries);
                }
                let family = match samples.families.get_mut(name.as_str()) {
                    Some(family) => family,
                    None => samples
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
    if duplicates > 0 {
        tracing::warn!(
            query,
            %window,
            duplicates,
            "the answer repeats groups or metrics; each repetition was dropped, keeping the first"
        );
    }
    Ok(samples)
}

/// Whether an API interval `start/end` starts where `window` does.
fn interval_is(interval: &str, window: Interval) -> bool {
    interval
        .parse::<Interval>()
        .is_ok_and(|interval| interval.start == window.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::fixtures::{entry, render, response, window};
    use crate::genesys::wire::{IntervalData, Stats};

    #[test]
    fn each_kind_of_metric_becomes_its_gauges_in_base_units() {
        let samples = flatten(
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
        assert_eq!(samples.series(), 9);
        let text = render(samples);
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
}
