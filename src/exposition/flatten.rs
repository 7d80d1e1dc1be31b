//! Flattening an aggregates response into samples: one per group, metric and stat, each
//! named by the rules of the naming module.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

use super::naming::{StatGauge, help_text, metric_gauges, snake_case};
use crate::org::Org;
use genesys_wire::catalogue::NameKind;
use genesys_wire::labels::cap;
use genesys_wire::time::Interval;
use genesys_wire::{AggregateResponse, GroupRef, GroupSink, SinkFull};

/// One query's samples from one poll.
#[derive(Debug, Default)]
pub struct QuerySamples {
    /// The org whose query it is: set by the publisher of that org at publish.
    pub(super) org: Org,
    pub(super) query: String,
    /// Per group, its label pairs in groupBy order (`queue_id`, `media_type`, ...).
    pub(super) groups: Vec<Vec<(String, String)>>,
    /// Which of those labels are IDs with names (`queue_id`, `flow_id`, ...), to put the
    /// name beside each.
    pub(super) named: Vec<(usize, NameKind)>,
    /// Gauge name → its help text and samples.
    pub(super) families: BTreeMap<String, Family>,
    /// The qualifiers that samples name, each once: an answer repeats a handful.
    pub(super) qualifiers: Vec<String>,
    /// Label values cut to `max_label_value_bytes`, counted at publish.
    pub(super) labels_cut: usize,
    /// Observation rows dropped as implausible, by reason (in the order of
    /// [`OBSERVATION_DROP_REASONS`](crate::metrics::OBSERVATION_DROP_REASONS)), counted
    /// at publish.
    pub(super) dropped: [usize; 3],
}

#[derive(Debug, Default)]
pub(super) struct Family {
    pub(super) help: String,
    pub(super) samples: Vec<Sample>,
}

/// One series' value: 16 bytes, since an answer can hold a million of them.
#[derive(Debug)]
pub(super) struct Sample {
    /// The index of its group in [`QuerySamples::groups`].
    pub(super) group: u32,
    /// Its qualifier, if its metric has one: see [`QuerySamples::qualifier`].
    pub(super) qualifier: Option<NonZeroU32>,
    pub(super) value: f64,
}

impl QuerySamples {
    pub fn series(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }

    /// `sample`'s qualifier: the one-based index it holds into `qualifiers`.
    pub(super) fn qualifier(&self, sample: &Sample) -> Option<&str> {
        sample
            .qualifier
            .map(|index| self.qualifiers[index.get() as usize - 1].as_str())
    }
}

/// One gauge `name`'s samples under the `query` label, a value per group: for a source with
/// one number per group (the flow observations). Each row is its labels, in order, and its
/// value; `named` says which labels are IDs with names to put beside them. Groups are put
/// in the order of their labels, and values are cut to `max_label_value_bytes`.
pub fn gauge_samples(
    query: &str,
    name: &str,
    help: &str,
    named: Vec<(usize, NameKind)>,
    mut rows: Vec<(Vec<(String, String)>, f64)>,
) -> QuerySamples {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut gauges = GaugeSet::new(query, named, usize::MAX);
    for (labels, value) in rows {
        gauges
            .add(name, help, labels, value)
            .expect("no answer has more than usize::MAX series");
    }
    gauges.finish()
}

/// Gauges of several names under one `query` label, each sample with labels of its own
/// (the telephony's Edges and trunks), at most `max_series` of them. Label values are cut
/// to `max_label_value_bytes`; a sample whose gauge and labels are already there is left
/// out (the first one stays), and so is a value that is not finite.
#[derive(Debug)]
pub struct GaugeSet {
    samples: QuerySamples,
    /// Each group's index in `samples.groups`, by its labels (as cut).
    groups: HashMap<Vec<(String, String)>, u32>,
    /// The gauges and groups sampled, for the duplicates.
    taken: std::collections::HashSet<(String, u32)>,
    max_series: usize,
}

impl GaugeSet {
    pub fn new(query: &str, named: Vec<(usize, NameKind)>, max_series: usize) -> GaugeSet {
        GaugeSet {
            samples: QuerySamples {
                query: query.to_owned(),
                named,
                ..QuerySamples::default()
            },
            groups: HashMap::new(),
            taken: Default::default(),
            max_series,
        }
    }

    /// Adds `value` to gauge `name` (of `help`) under `labels`, in order.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        mut labels: Vec<(String, String)>,
        value: f64,
    ) -> Result<(), TooManySeries> {
        if !value.is_finite() {
            return Ok(());
        }
        let mut cut = 0;
        for (_, label) in labels.iter_mut() {
            if let Cow::Owned(short) = cap(label, &mut cut) {
                *label = short;
            }
        }
        let group = match self.groups.get(&labels) {
            Some(&group) => group,
            None => {
                let group = u32::try_from(self.samples.groups.len()).unwrap_or(u32::MAX);
                self.samples.groups.push(labels.clone());
                self.samples.labels_cut += cut;
                self.groups.insert(labels, group);
                group
            }
        };
        if !self.taken.insert((name.to_owned(), group)) {
            return Ok(());
        }
        if self.samples.series() >= self.max_series {
            return Err(TooManySeries);
        }
        let family = self
            .samples
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                help: help.to_owned(),
                samples: Vec::new(),
            });
        family.samples.push(Sample {
            group,
            qualifier: None,
            value,
        });
        Ok(())
    }

    pub fn series(&self) -> usize {
        self.samples.series()
    }

    pub fn finish(self) -> QuerySamples {
        self.samples
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
/// with a million groups costs no more than the limit's worth of samples. See
/// [`Flattener`], which it feeds group by group.
pub fn flatten_bounded(
    query: &str,
    group_by: &[String],
    window: Interval,
    response: &AggregateResponse,
    max_series: usize,
) -> Result<QuerySamples, TooManySeries> {
    let mut flattener = Flattener::new(query, group_by, window, max_series);
    for group in &response.results {
        flattener
            .group(GroupRef::from(group))
            .map_err(|SinkFull| TooManySeries)?;
    }
    Ok(flattener.finish())
}

/// What a group that an answer holds twice (the same groupBy values) means: `Drop` for
/// an answer, until the reader says the groups are a job's pages ([`GroupSink::job_pages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeats {
    /// A broken answer: every repetition is dropped, with a warning, keeping the first.
    Drop,
    /// A job's result pages, which may carry one group's buckets on several pages: the
    /// first data entry of the window, wherever it came, is the group's.
    Merge,
}

/// Flattens an answer group by group as it is read (it is a [`GroupSink`]), so that a poll
/// never holds the parsed answer: only the samples, which are much smaller.
///
/// Groups are published in the order of their labels, the first groupBy dimension first:
/// all of a queue's media types together, whatever order the API chose. Besides a stable
/// order, this puts each queue's ID on neighbouring lines of every gauge, where gzip finds
/// it again; in the API's order (by media type first) its previous use was a whole gauge
/// back, beyond deflate's 32 KB window. Samples are taken in the API's order and put in
/// that order by [`Flattener::finish`].
///
/// A group that the answer holds twice (the same labels), and a metric twice in one
/// group, would make two identical series, which Prometheus rejects whole. The later one
/// is dropped, with a warning, rather than merged: the API never sends a group twice, so a
/// duplicate means the answer is broken, and there is no telling whether its two halves are
/// parts to add up or the same data sent twice (adding would double every count); for
/// percentiles and ratios without numerators no merge is right at all. Dropping keeps
/// every published number one the API actually said. (A job's pages are different: see
/// [`GroupSink::job_pages`].)
pub struct Flattener {
    query: String,
    group_by: Vec<String>,
    label_names: Vec<String>,
    window: Interval,
    max_series: usize,
    repeats: Repeats,
    /// Per metric, its gauges and the index of each one's family in `families`: a
    /// response repeats the same few metrics in every group, so their gauge names are
    /// built and looked up once per poll, not once per sample.
    gauges_of: HashMap<String, Vec<(&'static StatGauge, usize)>>,
    /// Gauge name and family, in the order first met; a `BTreeMap` at finish.
    families: Vec<(String, Family)>,
    /// Each group's groupBy values (`None` where the group lacks a dimension) → its index
    /// in `keys` if it had data for the window, or `NO_DATA`.
    seen: HashMap<Box<[Option<Box<str>>]>, usize>,
    /// Each qualifier met → its index into the samples' `qualifiers`, plus one.
    qualifiers: HashMap<String, NonZeroU32>,
    /// Per group with samples, in the order read: its entry in `seen`'s keys, kept by index.
    with_data: usize,
    samples: QuerySamples,
    series: usize,
    duplicates: usize,
    scratch: Vec<Option<Box<str>>>,
}

const NO_DATA: usize = usize::MAX;

impl Flattener {
    pub fn new(query: &str, group_by: &[String], window: Interval, max_series: usize) -> Flattener {
        Flattener {
            query: query.to_owned(),
            group_by: group_by.to_vec(),
            label_names: group_by.iter().map(|d| snake_case(d)).collect(),
            window,
            max_series,
            repeats: Repeats::Drop,
            gauges_of: HashMap::new(),
            families: Vec::new(),
            seen: HashMap::new(),
            qualifiers: HashMap::new(),
            with_data: 0,
            samples: QuerySamples {
                query: query.to_owned(),
                named: named_ids(group_by),
                ..QuerySamples::default()
            },
            series: 0,
            duplicates: 0,
            scratch: Vec::new(),
        }
    }

    /// The series taken so far.
    pub fn series(&self) -> usize {
        self.series
    }

    /// The samples, their groups in the order of their labels, after a warning if the
    /// answer repeated groups or metrics.
    pub fn finish(self) -> QuerySamples {
        let Flattener {
            query,
            label_names,
            window,
            seen,
            with_data,
            mut samples,
            families,
            duplicates,
            ..
        } = self;
        // A family is made when its metric is first met, and kept if a sample came.
        samples.families = families
            .into_iter()
            .filter(|(_, family)| !family.samples.is_empty())
            .collect();
        if duplicates > 0 {
            tracing::warn!(
                query,
                %window,
                duplicates,
                "the answer repeats groups or metrics; each repetition was dropped, keeping the first"
            );
        }
        let mut keys: Vec<(&[Option<Box<str>>], usize)> = seen
            .iter()
            .filter(|(_, index)| **index != NO_DATA)
            .map(|(key, index)| (&**key, *index))
            .collect();
        debug_assert_eq!(keys.len(), with_data);
        keys.sort_unstable();
        // rank[index read] = place in label order.
        let mut rank = vec![0u32; keys.len()];
        for (place, (_, index)) in keys.iter().enumerate() {
            rank[*index] = place as u32;
        }
        samples.groups = keys
            .iter()
            .map(|(key, _)| {
                label_names
                    .iter()
                    .zip(key.iter())
                    .map(|(label, value)| {
                        (label.clone(), value.as_deref().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .collect();
        drop(keys);
        drop(seen);
        for family in samples.families.values_mut() {
            for sample in &mut family.samples {
                sample.group = rank[sample.group as usize];
            }
            // Stable: a group's samples of one family stay in the order of its entries.
            family.samples.sort_by_key(|sample| sample.group);
            // Held until the next poll's samples replace them: without the room to grow.
            family.samples.shrink_to_fit();
        }
        samples
    }
}

impl GroupSink for Flattener {
    fn job_pages(&mut self) {
        self.repeats = Repeats::Merge;
    }

    /// Takes the group's data entry of the window only; an absent metric or stat produces
    /// no sample. Refuses the group that would pass `max_series`.
    fn group(&mut self, group: GroupRef<'_>) -> Result<(), SinkFull> {
        self.scratch.clear();
        // Cut before a group is known by its values: two values that are cut alike make
        // one group, the second dropped as a repeat, never two identical series.
        let cuts = &mut self.samples.labels_cut;
        self.scratch.extend(self.group_by.iter().map(|d| {
            group
                .group
                .get(d.as_str())
                .map(|v| Box::from(&*cap(v, cuts)))
        }));
        let data = group
            .data
            .iter()
            .find(|d| interval_is(&d.interval, self.window));
        let index = match self.seen.get_mut(&*self.scratch) {
            None => {
                let index = if data.is_some() {
                    self.with_data
                } else {
                    NO_DATA
                };
                self.seen
                    .insert(self.scratch.clone().into_boxed_slice(), index);
                index
            }
            Some(index)
                if self.repeats == Repeats::Merge && *index == NO_DATA && data.is_some() =>
            {
                *index = self.with_data;
                *index
            }
            Some(_) => {
                if self.repeats == Repeats::Drop {
                    self.duplicates += 1;
                }
                return Ok(());
            }
        };
        let Some(data) = data else {
            return Ok(());
        };
        self.with_data += 1;
        let mut seen: Vec<(&str, Option<Cow<'_, str>>)> = Vec::with_capacity(data.metrics.len());
        for entry in &data.metrics {
            let metric: &str = &entry.metric;
            let qualifier = entry
                .qualifier
                .as_deref()
                .map(|qualifier| cap(qualifier, &mut self.samples.labels_cut));
            if seen
                .iter()
                .any(|(m, q)| *m == metric && q.as_deref() == qualifier.as_deref())
            {
                self.duplicates += 1;
                continue;
            }
            seen.push((metric, qualifier.clone()));
            let qualifier = qualifier.as_deref();
            if !self.gauges_of.contains_key(metric) {
                let gauges = metric_gauges(metric)
                    .into_iter()
                    .map(|(gauge, name)| {
                        let family = match self.families.iter().position(|(n, _)| *n == name) {
                            Some(family) => family,
                            None => {
                                let help = help_text(metric, gauge.suffix);
                                self.families.push((
                                    name,
                                    Family {
                                        help,
                                        samples: Vec::new(),
                                    },
                                ));
                                self.families.len() - 1
                            }
                        };
                        (gauge, family)
                    })
                    .collect();
                self.gauges_of.insert(metric.to_owned(), gauges);
            }
            let qualifier = qualifier.map(|qualifier| self.qualifier_index(qualifier));
            for &(gauge, family) in &self.gauges_of[metric] {
                let Some(value) = gauge.value(&entry.stats) else {
                    continue;
                };
                self.series += 1;
                if self.series > self.max_series {
                    return Err(SinkFull);
                }
                // Fewer groups than bytes of the answer, whose size is bounded far below
                // four billion; refused rather than wrapped all the same.
                let group = u32::try_from(index).map_err(|_| SinkFull)?;
                self.families[family].1.samples.push(Sample {
                    group,
                    qualifier,
                    value,
                });
            }
        }
        Ok(())
    }
}

impl Flattener {
    /// `qualifier`'s one-based index into the samples' qualifiers, added if new.
    fn qualifier_index(&mut self, qualifier: &str) -> NonZeroU32 {
        if let Some(&index) = self.qualifiers.get(qualifier) {
            return index;
        }
        let list = &mut self.samples.qualifiers;
        list.push(qualifier.to_owned());
        let index = NonZeroU32::new(list.len() as u32).expect("one-based");
        self.qualifiers.insert(qualifier.to_owned(), index);
        index
    }
}

/// The groupBy dimensions that are IDs with names, by their place. A name whose label a
/// dimension of the query already makes (`flowOutcome` is `flow_outcome`) is left out: a
/// series may not have a label twice.
fn named_ids(group_by: &[String]) -> Vec<(usize, NameKind)> {
    let taken = |label: &str| group_by.iter().any(|d| snake_case(d) == label);
    group_by
        .iter()
        .enumerate()
        .filter_map(|(index, dimension)| Some((index, NameKind::of_dimension(dimension)?)))
        .filter(|(_, kind)| !taken(kind.label()))
        .collect()
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
    use crate::exposition::fixtures::{entry, offered, render, response, window};
    use genesys_wire::{IntervalData, Stats};

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
    fn a_repeated_group_is_dropped_but_a_job_page_may_carry_its_window() {
        let mut resp = response(vec![
            (vec![("queueId", "q1")], offered(1.0)),
            (vec![("queueId", "q1")], offered(2.0)),
            (vec![("queueId", "q1")], offered(3.0)),
        ]);
        // The first one has only another bucket.
        resp.results[0].data[0].interval =
            "2026-08-20T09:45:00.000Z/2026-08-20T10:00:00.000Z".into();
        let run = |job: bool| {
            let mut flattener = Flattener::new("q", &["queueId".into()], window(), usize::MAX);
            if job {
                flattener.job_pages();
            }
            for group in &resp.results {
                flattener.group(GroupRef::from(group)).unwrap();
            }
            render(flattener.finish())
        };
        assert!(!run(false).contains("genesys_conversation_offered{"));
        let merged = run(true);
        assert!(
            merged.contains("genesys_conversation_offered{query=\"q\",queue_id=\"q1\"} 2.0\n"),
            "{merged}"
        );
        assert!(!merged.contains("} 3.0"), "{merged}");
    }

    #[test]
    fn flow_ids_outcome_ids_and_action_ids_get_their_names_beside_them() {
        use crate::exposition::Names;
        let mut flows = response(vec![(
            vec![
                ("flowId", "f1"),
                ("flowType", "INBOUNDCALL"),
                ("flowOutcomeId", "o1"),
            ],
            vec![entry(
                "nFlowOutcomeFailed",
                Stats {
                    count: Some(4.0),
                    ..Stats::default()
                },
            )],
        )]);
        flows.results.push(
            response(vec![(
                vec![("flowId", "f2"), ("flowType", "INBOUNDCHAT")],
                vec![entry(
                    "nFlow",
                    Stats {
                        count: Some(9.0),
                        ..Stats::default()
                    },
                )],
            )])
            .results
            .remove(0),
        );
        let group_by: Vec<String> = ["flowId", "flowType", "flowOutcomeId"]
            .map(String::from)
            .to_vec();
        let samples = flatten("flows", &group_by, window(), &flows);
        let mut names = Names::default();
        let map = |pairs: &[(&str, &str)]| {
            std::sync::Arc::new(
                pairs
                    .iter()
                    .map(|(id, name)| (id.to_string(), name.to_string()))
                    .collect(),
            )
        };
        names.set(NameKind::Flow, map(&[("f1", "Main IVR")]));
        names.set(NameKind::FlowOutcome, map(&[("o1", "Payment taken")]));
        names.set(NameKind::Queue, map(&[("f1", "not a queue")]));
        let text = crate::exposition::fixtures::render_named(samples, &names);
        for line in [
            r#"genesys_flow_outcome_failed{query="flows",flow_id="f1",flow="Main IVR",flow_type="INBOUNDCALL",flow_outcome_id="o1",flow_outcome="Payment taken"} 4.0"#,
            // A flow without a known name, and entries without an outcome.
            r#"genesys_flow{query="flows",flow_id="f2",flow_type="INBOUNDCHAT",flow_outcome_id=""} 9.0"#,
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line}\nnot in\n{text}"
            );
        }

        let actions = response(vec![(
            vec![
                ("actionId", "a1"),
                ("errorType", "timeout"),
                ("responseStatus", "504"),
            ],
            vec![entry(
                "tTotalExecution",
                Stats {
                    count: Some(3.0),
                    sum: Some(4500.0),
                    max: Some(2000.0),
                    min: Some(1000.0),
                    ..Stats::default()
                },
            )],
        )]);
        let group_by: Vec<String> = ["actionId", "errorType", "responseStatus"]
            .map(String::from)
            .to_vec();
        let mut names = Names::default();
        names.set(NameKind::Action, map(&[("a1", "Lookup account")]));
        let text = crate::exposition::fixtures::render_named(
            flatten("actions", &group_by, window(), &actions),
            &names,
        );
        let labels = r#"{query="actions",action_id="a1",action="Lookup account",error_type="timeout",response_status="504"}"#;
        for line in [
            format!("genesys_data_action_executions{labels} 3.0"),
            format!("genesys_data_action_execution_seconds{labels} 4.5"),
            format!("genesys_data_action_execution_seconds_max{labels} 2.0"),
            format!("genesys_data_action_execution_seconds_min{labels} 1.0"),
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line}\nnot in\n{text}"
            );
        }
    }

    #[test]
    fn a_name_label_a_dimension_already_makes_is_left_out() {
        let group_by: Vec<String> = ["flowId", "flowOutcomeId", "flowOutcome"]
            .map(String::from)
            .to_vec();
        assert_eq!(named_ids(&group_by), [(0, NameKind::Flow)]);
        let group_by: Vec<String> = ["queueId", "flowOutcomeId"].map(String::from).to_vec();
        assert_eq!(
            named_ids(&group_by),
            [(0, NameKind::Queue), (1, NameKind::FlowOutcome)]
        );
    }

    #[test]
    fn one_gauge_samples_are_in_label_order_with_names_beside_ids() {
        use crate::exposition::Names;
        let row = |id: &str, kind: &str, value: f64| {
            (
                vec![
                    ("flow_id".to_string(), id.to_string()),
                    ("flow_type".to_string(), kind.to_string()),
                ],
                value,
            )
        };
        let samples = gauge_samples(
            "flow_observations",
            "genesys_flow_conversations",
            "conversations in the flow now",
            vec![(0, NameKind::Flow)],
            vec![row("f2", "INBOUNDCHAT", 0.0), row("f1", "INBOUNDCALL", 7.0)],
        );
        assert_eq!(samples.series(), 2);
        let mut names = Names::default();
        names.set(
            NameKind::Flow,
            std::sync::Arc::new([("f1".to_string(), "Main IVR".to_string())].into()),
        );
        let text = crate::exposition::fixtures::render_named(samples, &names);
        assert!(text.contains("# HELP genesys_flow_conversations conversations in the flow now\n"));
        assert!(
            text.contains(
                "genesys_flow_conversations{query=\"flow_observations\",flow_id=\"f1\",flow=\"Main IVR\",flow_type=\"INBOUNDCALL\"} 7.0\ngenesys_flow_conversations{query=\"flow_observations\",flow_id=\"f2\",flow_type=\"INBOUNDCHAT\"} 0.0\n"
            ),
            "{text}"
        );
        let empty = gauge_samples("q", "g", "h", Vec::new(), Vec::new());
        assert_eq!(empty.series(), 0);
    }

    #[test]
    fn samples_are_in_the_order_of_their_labels_in_group_by_order() {
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
