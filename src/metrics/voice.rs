//! The voice quality of the calls that ended: a histogram each of MOS, R-factor and packet
//! loss, and a counter of poor calls, each call counted once into the series of its queue
//! and into those of its Edge. Unlike the Genesys data, which are gauges republished whole,
//! these are cumulative for as long as the process lives, so they live in the registry.
//!
//! The group keeps, per org, the ledger that makes "once" hold: the conversation IDs
//! counted (forgotten once older than the reader's look-back, and bounded) and how far the
//! calls have been read, so that a reload, which starts the reader again, neither counts a
//! call twice nor skips the calls that ended meanwhile.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

/// The buckets of `genesys_voice_mos`.
pub const MOS_BUCKETS: [f64; 10] = [1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 5.0];
/// The buckets of `genesys_voice_r_factor`.
pub const R_FACTOR_BUCKETS: [f64; 7] = [50.0, 60.0, 70.0, 80.0, 85.0, 90.0, 93.0];
/// The buckets of `genesys_voice_packet_loss_ratio`.
pub const PACKET_LOSS_BUCKETS: [f64; 7] = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
/// The most label sets (queues and Edges, by ID and name) one org's calls are counted
/// under; past it a call is counted under [`OTHER`].
pub const MAX_VOICE_LABEL_SETS: usize = 10_000;
/// The ID (and name) the calls of the queues and Edges past [`MAX_VOICE_LABEL_SETS`] are
/// counted under: `queue_id="other"`, `edge_id="other"`. Never an empty ID, which
/// Prometheus reads as no label: the queue and Edge series would then be one series.
pub const OTHER: &str = "other";
/// The most conversation IDs one org's ledger holds; past it the oldest are forgotten
/// first. Twice the 100,000 results one details query pages through.
pub const MAX_COUNTED_IDS: usize = 200_000;

/// One call, read: what is counted of it, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct CallQuality {
    pub conversation_id: String,
    /// When it ended.
    pub end: Timestamp,
    pub mos: f64,
    pub r_factor: Option<f64>,
    /// Discarded ÷ received packets; `None` when none were received.
    pub packet_loss: Option<f64>,
    /// The queue's and the Edge's ID and name, `""` when unknown.
    pub queue: Place,
    pub edge: Place,
}

/// A queue or an Edge: its ID and name.
#[derive(Debug, Clone, Default, Hash, PartialEq, Eq)]
pub struct Place {
    pub id: String,
    pub name: String,
}

/// The series a call is counted in: its queue's, or its Edge's.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum By {
    Queue(Place),
    Edge(Place),
}

impl By {
    fn place(&self) -> &Place {
        match self {
            By::Queue(place) | By::Edge(place) => place,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct CallLabels {
    org: Org,
    by: By,
}

impl EncodeLabelSet for CallLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        self.org.encode(encoder)?;
        let (id, name) = match &self.by {
            By::Queue(_) => ("queue_id", "queue"),
            By::Edge(_) => ("edge_id", "edge"),
        };
        let place = self.by.place();
        (id, place.id.as_str()).encode(encoder.encode_label())?;
        (name, place.name.as_str()).encode(encoder.encode_label())
    }
}

type Histograms = Family<CallLabels, Histogram, fn() -> Histogram>;

/// One org's ledger: the label sets its calls are counted under, and the calls counted.
#[derive(Debug, Default)]
struct Ledger {
    label_sets: HashSet<By>,
    /// Whether the label sets past [`MAX_VOICE_LABEL_SETS`] were warned of.
    warned: bool,
    /// Each call counted, by conversation ID, with its end.
    counted: HashMap<String, Timestamp>,
    /// The end of the last window read whole (or as far as its pages went).
    read_until: Option<Timestamp>,
}

/// The voice quality metrics: one org's view of families every org's view shares.
#[derive(Clone)]
pub struct VoiceMetrics {
    org: Org,
    ledgers: Arc<Mutex<HashMap<Org, Ledger>>>,
    mos: Histograms,
    r_factor: Histograms,
    packet_loss: Histograms,
    poor: Family<CallLabels, Counter>,
}

impl VoiceMetrics {
    pub(super) fn register(registry: &mut Registry) -> VoiceMetrics {
        let histogram =
            |registry: &mut Registry, name: &str, help: &str, new: fn() -> Histogram| {
                let family = Histograms::new_with_constructor(new);
                registry.register(name, help, family.clone());
                family
            };
        VoiceMetrics {
            org: Org::unnamed(),
            ledgers: Arc::default(),
            mos: histogram(
                registry,
                "genesys_voice_mos",
                "Genesys Cloud calls that ended, by their lowest MOS (mediaStatsMinConversationMos), each counted once by queue and once by Edge",
                || Histogram::new(MOS_BUCKETS),
            ),
            r_factor: histogram(
                registry,
                "genesys_voice_r_factor",
                "Genesys Cloud calls that ended, by their lowest R-factor, each counted once by queue and once by Edge",
                || Histogram::new(R_FACTOR_BUCKETS),
            ),
            packet_loss: histogram(
                registry,
                "genesys_voice_packet_loss_ratio",
                "Genesys Cloud calls that ended, by discarded / received packets over their media endpoints, each counted once by queue and once by Edge",
                || Histogram::new(PACKET_LOSS_BUCKETS),
            ),
            poor: registered(
                registry,
                "genesys_voice_poor_calls",
                "Genesys Cloud calls that ended with a MOS below [voice_quality] mos_threshold, by queue and by Edge",
            ),
        }
    }

    pub(super) fn for_org(&self, org: &Org) -> VoiceMetrics {
        VoiceMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Removes every series of this view's org, and forgets what it counted: the org, or
    /// its voice quality, is gone.
    pub fn forget_org(&self) {
        let ledger = self.ledgers().remove(&self.org);
        for by in ledger.map(|l| l.label_sets).unwrap_or_default() {
            let labels = self.labels(by);
            self.mos.remove(&labels);
            self.r_factor.remove(&labels);
            self.packet_loss.remove(&labels);
            self.poor.remove(&labels);
        }
    }

    /// The end of the last window whose calls were counted, if any was.
    pub fn read_until(&self) -> Option<Timestamp> {
        self.ledgers().get(&self.org).and_then(|l| l.read_until)
    }

    /// Counts each of `calls` not counted before, a MOS below `poor_below` as poor; notes
    /// that the calls were read up to `read_until`, and forgets the IDs of calls that
    /// ended before `forget_before` (no window reads them again). How many were new.
    pub fn count(
        &self,
        calls: impl IntoIterator<Item = CallQuality>,
        poor_below: f64,
        read_until: Timestamp,
        forget_before: Timestamp,
    ) -> usize {
        let mut ledgers = self.ledgers();
        let ledger = ledgers.entry(self.org.clone()).or_default();
        let mut new = 0;
        for call in calls {
            if ledger.counted.contains_key(&call.conversation_id) {
                continue;
            }
            ledger
                .counted
                .insert(call.conversation_id.clone(), call.end);
            new += 1;
            // A call without a queue (agent-direct) is counted by its Edge only, one
            // without an Edge by its queue only: an empty ID is no label to Prometheus.
            let places = [By::Queue(call.queue.clone()), By::Edge(call.edge.clone())];
            for by in places.into_iter().filter(|by| !by.place().id.is_empty()) {
                let by = self.bounded(ledger, by);
                self.observe(self.labels(by), &call, poor_below);
            }
        }
        ledger.read_until = Some(ledger.read_until.map_or(read_until, |t| t.max(read_until)));
        forget(&mut ledger.counted, forget_before);
        new
    }

    /// Creates at 0 the series of each of `queues` and `edges` (those with an ID, within
    /// [`MAX_VOICE_LABEL_SETS`]) not created yet, so that `increase()` sees the first
    /// calls counted in them.
    pub fn create(
        &self,
        queues: impl IntoIterator<Item = Place>,
        edges: impl IntoIterator<Item = Place>,
    ) {
        let mut ledgers = self.ledgers();
        let ledger = ledgers.entry(self.org.clone()).or_default();
        let places = queues
            .into_iter()
            .map(By::Queue)
            .chain(edges.into_iter().map(By::Edge));
        for by in places.filter(|by| !by.place().id.is_empty()) {
            if ledger.label_sets.contains(&by) || ledger.label_sets.len() >= MAX_VOICE_LABEL_SETS {
                continue;
            }
            ledger.label_sets.insert(by.clone());
            let labels = self.labels(by);
            // Each guard dropped at once: the series exists, at 0.
            drop(self.mos.get_or_create(&labels));
            drop(self.r_factor.get_or_create(&labels));
            drop(self.packet_loss.get_or_create(&labels));
            drop(self.poor.get_or_create(&labels));
        }
    }

    /// `by`, or [`OTHER`] of its kind when `by` is new and there is no room.
    fn bounded(&self, ledger: &mut Ledger, by: By) -> By {
        if ledger.label_sets.contains(&by) {
            return by;
        }
        if ledger.label_sets.len() < MAX_VOICE_LABEL_SETS {
            ledger.label_sets.insert(by.clone());
            return by;
        }
        if !ledger.warned {
            ledger.warned = true;
            tracing::warn!(
                "the voice quality histograms have {MAX_VOICE_LABEL_SETS} queue and Edge label sets; calls of further queues and Edges are counted under queue_id=\"{OTHER}\" and edge_id=\"{OTHER}\""
            );
        }
        let other = Place {
            id: OTHER.to_owned(),
            name: OTHER.to_owned(),
        };
        let other = match by {
            By::Queue(_) => By::Queue(other),
            By::Edge(_) => By::Edge(other),
        };
        ledger.label_sets.insert(other.clone());
        other
    }

    fn observe(&self, labels: CallLabels, call: &CallQuality, poor_below: f64) {
        self.mos.get_or_create(&labels).observe(call.mos);
        if let Some(r_factor) = call.r_factor {
            self.r_factor.get_or_create(&labels).observe(r_factor);
        }
        if let Some(loss) = call.packet_loss {
            self.packet_loss.get_or_create(&labels).observe(loss);
        }
        // Created (at 0, unless `create` made it already) with every call, so that
        // increase() sees the first poor one.
        let poor = self.poor.get_or_create(&labels);
        if call.mos < poor_below {
            poor.inc();
        }
    }

    fn labels(&self, by: By) -> CallLabels {
        CallLabels {
            org: self.org.clone(),
            by,
        }
    }

    fn ledgers(&self) -> std::sync::MutexGuard<'_, HashMap<Org, Ledger>> {
        // A panic while counting leaves counts that are still counts.
        self.ledgers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Forgets the calls that ended before `before`, and past [`MAX_COUNTED_IDS`] the oldest.
fn forget(counted: &mut HashMap<String, Timestamp>, before: Timestamp) {
    counted.retain(|_, end| *end >= before);
    if counted.len() > MAX_COUNTED_IDS {
        // By the end, latest first: calls that ended at the same instant are cut too.
        let mut by_end: Vec<(String, Timestamp)> = counted.drain().collect();
        by_end.sort_unstable_by_key(|(_, end)| std::cmp::Reverse(*end));
        by_end.truncate(MAX_COUNTED_IDS);
        counted.extend(by_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn call(id: &str, mos: f64, queue: &str, edge: &str) -> CallQuality {
        let place = |id: &str| Place {
            id: id.to_owned(),
            name: if id.is_empty() {
                String::new()
            } else {
                format!("{id} name")
            },
        };
        CallQuality {
            conversation_id: id.to_owned(),
            end: "2026-08-20T10:00:00Z".parse().unwrap(),
            mos,
            r_factor: Some(mos * 20.0),
            packet_loss: Some(0.004),
            queue: place(queue),
            edge: place(edge),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn each_call_is_counted_once_by_queue_and_once_by_edge() {
        let metrics = Metrics::new([]);
        let voice = &metrics.voice;
        let (until, before) = (at("2026-08-20T10:05:00Z"), at("2026-08-20T09:00:00Z"));
        let calls = [
            call("c1", 4.25, "q1", "e1"),
            call("c2", 2.25, "q1", "e2"),
            call("c1", 4.25, "q1", "e1"),
        ];
        assert_eq!(voice.count(calls.clone(), 3.5, until, before), 2);
        assert_eq!(voice.count(calls, 3.5, until, before), 0, "counted already");
        assert_eq!(voice.read_until(), Some(until));
        let text = metrics.encode_text();
        for line in [
            "# TYPE genesys_voice_mos histogram\n",
            "genesys_voice_mos_bucket{le=\"2.5\",queue_id=\"q1\",queue=\"q1 name\"} 1\n",
            "genesys_voice_mos_bucket{le=\"4.2\",queue_id=\"q1\",queue=\"q1 name\"} 1\n",
            "genesys_voice_mos_bucket{le=\"4.4\",queue_id=\"q1\",queue=\"q1 name\"} 2\n",
            "genesys_voice_mos_bucket{le=\"+Inf\",queue_id=\"q1\",queue=\"q1 name\"} 2\n",
            "genesys_voice_mos_count{queue_id=\"q1\",queue=\"q1 name\"} 2\n",
            "genesys_voice_mos_sum{queue_id=\"q1\",queue=\"q1 name\"} 6.5\n",
            "genesys_voice_mos_count{edge_id=\"e1\",edge=\"e1 name\"} 1\n",
            "genesys_voice_r_factor_bucket{le=\"50.0\",edge_id=\"e2\",edge=\"e2 name\"} 1\n",
            "genesys_voice_packet_loss_ratio_bucket{le=\"0.005\",edge_id=\"e2\",edge=\"e2 name\"} 1\n",
            "# TYPE genesys_voice_poor_calls_total counter\n",
            "genesys_voice_poor_calls_total{queue_id=\"q1\",queue=\"q1 name\"} 1\n",
            "genesys_voice_poor_calls_total{edge_id=\"e1\",edge=\"e1 name\"} 0\n",
            "genesys_voice_poor_calls_total{edge_id=\"e2\",edge=\"e2 name\"} 1\n",
        ] {
            assert!(text.contains(line), "{line}not in:\n{text}");
        }
        let openmetrics = metrics.encode_openmetrics();
        assert!(openmetrics.contains("# TYPE genesys_voice_poor_calls counter\n"));
        assert!(openmetrics.contains("# TYPE genesys_voice_mos histogram\n"));
    }

    #[test]
    fn a_call_without_packets_has_no_loss_and_ids_older_than_the_look_back_are_forgotten() {
        let metrics = Metrics::new([]);
        let voice = &metrics.voice;
        let mut quiet = call("c1", 4.0, "q1", "e1");
        quiet.packet_loss = None;
        quiet.r_factor = None;
        voice.count([quiet.clone()], 3.5, at("2026-08-20T10:05:00Z"), quiet.end);
        let text = metrics.encode_text();
        assert!(text.contains("genesys_voice_mos_count{queue_id=\"q1\",queue=\"q1 name\"} 1\n"));
        assert!(
            !text.contains("genesys_voice_packet_loss_ratio_count"),
            "{text}"
        );
        // Past the look-back its ID is forgotten: were it read again, it would count again,
        // which is why the reader never reads a window that old.
        let later = at("2026-08-20T10:00:01Z");
        assert_eq!(voice.count([], 3.5, later, later), 0);
        assert_eq!(voice.count([quiet], 3.5, later, later), 1);
    }

    #[test]
    fn a_call_without_a_queue_or_an_edge_is_counted_only_where_it_has_one() {
        let metrics = Metrics::new([]);
        let voice = &metrics.voice;
        let end = at("2026-08-20T10:05:00Z");
        let calls = [
            call("direct", 2.0, "", "e1"),
            call("edgeless", 4.0, "q1", ""),
            call("nowhere", 4.0, "", ""),
        ];
        assert_eq!(voice.count(calls, 3.5, end, end), 3);
        let text = metrics.encode_text();
        // An empty ID is no label to Prometheus: the queue's and the Edge's empty series
        // would be one series, twice on the page.
        assert!(!text.contains("_id=\"\""), "{text}");
        for line in [
            "genesys_voice_mos_count{edge_id=\"e1\",edge=\"e1 name\"} 1\n",
            "genesys_voice_poor_calls_total{edge_id=\"e1\",edge=\"e1 name\"} 1\n",
            "genesys_voice_mos_count{queue_id=\"q1\",queue=\"q1 name\"} 1\n",
        ] {
            assert!(text.contains(line), "{line}not in:\n{text}");
        }
        let counts = text
            .lines()
            .filter(|l| l.starts_with("genesys_voice_mos_count"))
            .count();
        assert_eq!(counts, 2, "{text}");
    }

    #[test]
    fn the_listed_queues_and_edges_start_at_zero_before_their_first_call() {
        let metrics = Metrics::new([]);
        let voice = &metrics.voice;
        let place = |id: &str| Place {
            id: id.to_owned(),
            name: format!("{id} name"),
        };
        voice.create([place("q1"), place("")], [place("e1")]);
        let text = metrics.encode_text();
        for line in [
            "genesys_voice_mos_count{queue_id=\"q1\",queue=\"q1 name\"} 0\n",
            "genesys_voice_r_factor_count{queue_id=\"q1\",queue=\"q1 name\"} 0\n",
            "genesys_voice_packet_loss_ratio_count{edge_id=\"e1\",edge=\"e1 name\"} 0\n",
            "genesys_voice_poor_calls_total{queue_id=\"q1\",queue=\"q1 name\"} 0\n",
            "genesys_voice_poor_calls_total{edge_id=\"e1\",edge=\"e1 name\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}not in:\n{text}");
        }
        assert!(
            !text.contains("_id=\"\""),
            "no series without an ID: {text}"
        );
        // Counting then adds to them, and the org's series all go with it.
        let end = at("2026-08-20T10:05:00Z");
        voice.count([call("c1", 2.0, "q1", "e1")], 3.5, end, end);
        let text = metrics.encode_text();
        assert!(
            text.contains("genesys_voice_poor_calls_total{queue_id=\"q1\",queue=\"q1 name\"} 1\n")
        );
        voice.forget_org();
        assert!(!metrics.encode_text().contains("genesys_voice_mos_count"));
    }

    #[test]
    fn label_sets_past_the_bound_count_under_other() {
        let metrics = Metrics::new([]);
        let voice = &metrics.voice;
        let end = at("2026-08-20T10:05:00Z");
        let calls = (0..MAX_VOICE_LABEL_SETS / 2 + 1)
            .map(|i| call(&format!("c{i}"), 4.0, &format!("q{i}"), &format!("e{i}")));
        voice.count(calls, 3.5, end, end - jiff::SignedDuration::from_hours(1));
        let text = metrics.encode_text();
        let series = text
            .lines()
            .filter(|l| l.starts_with("genesys_voice_mos_count{"))
            .count();
        assert_eq!(
            series,
            MAX_VOICE_LABEL_SETS + 2,
            "and the other queues' and Edges'"
        );
        assert!(text.contains("genesys_voice_mos_count{queue_id=\"other\",queue=\"other\"} 1\n"));
        assert!(text.contains("genesys_voice_mos_count{edge_id=\"other\",edge=\"other\"} 1\n"));
        assert!(!text.contains("_id=\"\""), "{text}");
    }

    #[test]
    fn forgetting_an_org_removes_its_voice_series_and_its_ledger() {
        let metrics = Metrics::empty();
        let east = metrics.add_org(&Org::named("east"), []);
        let west = metrics.add_org(&Org::named("west"), []);
        let end = at("2026-08-20T10:05:00Z");
        let before = end - jiff::SignedDuration::from_hours(1);
        east.voice
            .count([call("c1", 3.0, "q1", "e1")], 3.5, end, before);
        west.voice
            .count([call("c1", 3.0, "q1", "e1")], 3.5, end, before);
        let text = metrics.encode_text();
        assert!(text.contains(
            "genesys_voice_poor_calls_total{org=\"east\",queue_id=\"q1\",queue=\"q1 name\"} 1\n"
        ));
        east.forget_org();
        let text = metrics.encode_text();
        assert!(!text.contains("org=\"east\""), "{text}");
        assert!(
            text.contains(
                "genesys_voice_mos_count{org=\"west\",edge_id=\"e1\",edge=\"e1 name\"} 1\n"
            )
        );
        assert_eq!(east.voice.read_until(), None);
        assert_eq!(west.voice.read_until(), Some(end));
    }

    #[test]
    fn the_ledger_keeps_the_newest_ids_past_its_bound() {
        let mut counted = HashMap::new();
        let start = at("2026-08-20T10:00:00Z");
        for i in 0..MAX_COUNTED_IDS as i64 + 10 {
            counted.insert(
                format!("c{i}"),
                start + jiff::SignedDuration::from_millis(i),
            );
        }
        forget(&mut counted, start);
        assert_eq!(counted.len(), MAX_COUNTED_IDS);
        assert!(!counted.contains_key("c9") && counted.contains_key("c10"));
    }

    #[test]
    fn the_ledger_keeps_its_bound_when_calls_end_at_the_same_instant() {
        let end = at("2026-08-20T10:00:00Z");
        let mut counted: HashMap<String, Timestamp> = (0..MAX_COUNTED_IDS + 10)
            .map(|i| (format!("c{i}"), end))
            .collect();
        counted.insert("earlier".into(), end - jiff::SignedDuration::from_secs(1));
        forget(&mut counted, end - jiff::SignedDuration::from_hours(1));
        assert_eq!(counted.len(), MAX_COUNTED_IDS);
        assert!(
            !counted.contains_key("earlier"),
            "the earliest-ended go first"
        );
    }
}
