//! Reading an aggregates answer (or a job's results page) one group at a time, its strings
//! borrowed from the body, each group handed to a [`GroupSink`] and dropped: the poller
//! never holds the parsed answer. Refused exactly as decoding the whole answer into
//! [`AggregateResponse`](super::AggregateResponse) would refuse it, with the same messages.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{AggregateGroup, Stats, check_entry, null_as_default, null_entries_as_absent};

/// One group of an aggregates answer (or of a job's results page) as read from its body,
/// its strings borrowed from the body where they hold no escape. An answer is read one
/// group at a time ([`read_groups`]), each handed to a [`GroupSink`] and dropped, so that
/// no tree of the whole answer is ever built.
#[derive(Debug, Default, Deserialize)]
pub struct GroupRef<'a> {
    #[serde(default, borrow, deserialize_with = "null_entries_as_absent")]
    pub group: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    pub data: Vec<IntervalDataRef<'a>>,
}

/// [`IntervalData`](super::IntervalData), borrowed.
#[derive(Debug, Deserialize)]
pub struct IntervalDataRef<'a> {
    #[serde(borrow)]
    pub interval: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    pub metrics: Vec<MetricEntryRef<'a>>,
}

/// [`MetricEntry`](super::MetricEntry), borrowed, and refused on the same grounds.
#[derive(Debug)]
pub struct MetricEntryRef<'a> {
    pub metric: Cow<'a, str>,
    pub qualifier: Option<Cow<'a, str>>,
    pub stats: Stats,
}

#[derive(Deserialize)]
struct WireMetricEntryRef<'a> {
    #[serde(borrow)]
    metric: Cow<'a, str>,
    #[serde(default, borrow)]
    qualifier: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "null_as_default")]
    stats: Stats,
}

impl<'de: 'a, 'a> Deserialize<'de> for MetricEntryRef<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireMetricEntryRef::deserialize(deserializer)?;
        check_entry(&wire.metric, &wire.stats).map_err(de::Error::custom)?;
        Ok(MetricEntryRef {
            metric: wire.metric,
            qualifier: wire.qualifier,
            stats: wire.stats,
        })
    }
}

impl<'a> From<&'a AggregateGroup> for GroupRef<'a> {
    fn from(group: &'a AggregateGroup) -> GroupRef<'a> {
        GroupRef {
            group: group
                .group
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                .collect(),
            data: group
                .data
                .iter()
                .map(|data| IntervalDataRef {
                    interval: Cow::Borrowed(&data.interval),
                    metrics: data
                        .metrics
                        .iter()
                        .map(|entry| MetricEntryRef {
                            metric: Cow::Borrowed(&entry.metric),
                            qualifier: entry.qualifier.as_deref().map(Cow::Borrowed),
                            stats: entry.stats.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// What takes an answer's groups as they are read.
pub trait GroupSink {
    /// Takes one group. `Err` stops reading: the sink wants no more (it says why itself).
    fn group(&mut self, group: GroupRef<'_>) -> Result<(), SinkFull>;

    /// The groups that follow come from a job's result pages, which may carry one group's
    /// buckets on several pages: a group seen again is no longer a broken answer.
    fn job_pages(&mut self) {}
}

/// A [`GroupSink`] refused a group and wants no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkFull;

/// What [`read_groups`] read besides the groups.
#[derive(Debug, Default, PartialEq)]
pub struct GroupsRead {
    /// How many groups the answer held (all handed to the sink).
    pub groups: usize,
    /// A job's results page's cursor to the next page.
    pub cursor: Option<String>,
}

/// Why [`read_groups`] stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The body is not an answer: the same refusal as decoding an [`AggregateResponse`](super::AggregateResponse).
    Json(serde_json::Error),
    /// The sink wanted no more groups.
    SinkFull,
}

/// Reads an aggregates answer or a job's results page (`{"results": [...], "cursor": ...}`)
/// from `body`, handing each group to `sink` as soon as it is read. An answer is refused
/// where decoding an [`AggregateResponse`](super::AggregateResponse) (or a [`JobResultsPage`](super::JobResultsPage)) would refuse it; the
/// sink may have taken some of its groups by then.
pub fn read_groups(body: &[u8], sink: &mut impl GroupSink) -> Result<GroupsRead, ReadError> {
    let mut full = false;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = AnswerSeed {
        sink,
        full: &mut full,
    }
    .deserialize(&mut deserializer)
    .and_then(|read| deserializer.end().map(|()| read));
    match read {
        Ok(read) => Ok(read),
        Err(_) if full => Err(ReadError::SinkFull),
        Err(error) => Err(ReadError::Json(error)),
    }
}

struct AnswerSeed<'s, S> {
    sink: &'s mut S,
    full: &'s mut bool,
}

impl<'de, S: GroupSink> DeserializeSeed<'de> for AnswerSeed<'_, S> {
    type Value = GroupsRead;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<GroupsRead, D::Error> {
        deserializer.deserialize_struct("JobResultsPage", &["results", "cursor"], self)
    }
}

impl<'de, S: GroupSink> Visitor<'de> for AnswerSeed<'_, S> {
    type Value = GroupsRead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct JobResultsPage")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GroupsRead, A::Error> {
        let mut read = GroupsRead::default();
        let (mut results, mut cursor) = (false, false);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "results" => {
                    if std::mem::replace(&mut results, true) {
                        return Err(de::Error::duplicate_field("results"));
                    }
                    read.groups = map.next_value_seed(GroupsSeed {
                        sink: &mut *self.sink,
                        full: &mut *self.full,
                    })?;
                }
                "cursor" => {
                    if std::mem::replace(&mut cursor, true) {
                        return Err(de::Error::duplicate_field("cursor"));
                    }
                    read.cursor = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(read)
    }
}

struct GroupsSeed<'s, S> {
    sink: &'s mut S,
    full: &'s mut bool,
}

impl<'de, S: GroupSink> DeserializeSeed<'de> for GroupsSeed<'_, S> {
    type Value = usize;

    /// `"results": null` is read as absent: no groups.
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: GroupSink> Visitor<'de> for GroupsSeed<'_, S> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_none<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut groups = 0;
        while let Some(group) = seq.next_element::<GroupRef<'de>>()? {
            groups += 1;
            if self.sink.group(group).is_err() {
                *self.full = true;
                return Err(de::Error::custom("the answer has more series than allowed"));
            }
        }
        Ok(groups)
    }
}
