//! Flattening queue observations into samples under `query="observations"`: one gauge per
//! observation metric, `genesys_queue_` plus the metric's name without its `o`, in snake
//! case (`oOnQueueUsers` → `genesys_queue_on_queue_users`).
//!
//! Labels: `queue_id` (and `queue`, put beside it by the renderer), `media_type` where the
//! group has one (the users metrics come in queue-only groups), and from the qualifier:
//! `routing_status` for oOnQueueUsers and oUserRoutingStatuses, `presence` and
//! `system_presence` for oUserPresences, all in lower snake case but the presence's name.
//!
//! A count the API returned is published, zeros included, so that "nobody waiting" differs
//! from "no data". The two oLongest* metrics hold the epoch millisecond the oldest
//! conversation started; they become its age at the observation, in seconds, and no
//! series when the API left them out.
//!
//! Implausible rows are dropped and counted (`genesys_observations_dropped_total`): a
//! group whose keys are not `queueId` (and `mediaType` for the conversation metrics), a
//! count below 0 or above 10^7, and an `oLongest*` start of 0 or after the observation.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;

use super::flatten::{Family, QuerySamples, Sample, TooManySeries};
use super::naming::snake_case;
use genesys_wire::catalogue::NameKind;
use genesys_wire::labels::{cap, cap_owned};
use genesys_wire::{ObservationEntry, ObservationGroup, ObservationResponse};

/// An org presence: its name as the org wrote it, and the system presence it stands for
/// as the definitions spell it (`OnQueue`, `Break`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub name: String,
    pub system_presence: String,
}

/// Presences by their ID.
pub type PresenceMap = std::sync::Arc<HashMap<String, Presence>>;

/// The largest count an observation row may hold: no queue has ten million members or
/// conversations waiting. Larger, or negative, the row is dropped.
pub const MAX_COUNT: f64 = 1e7;

/// Indexes into [`OBSERVATION_DROP_REASONS`](crate::metrics::OBSERVATION_DROP_REASONS).
const UNEXPECTED_GROUP: usize = 0;
const COUNT_OUT_OF_RANGE: usize = 1;
const LONGEST_OUT_OF_RANGE: usize = 2;

/// What a metric's qualifier becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `routing_status`.
    RoutingStatus,
    /// `presence` and `system_presence`.
    Presence,
    /// None expected; one the API sends anyway is kept as `qualifier`, as for aggregates.
    Other,
}

/// One observation metric's gauge.
#[derive(Debug)]
pub struct ObservationGauge {
    pub metric: &'static str,
    pub name: &'static str,
    pub qualifier: Qualifier,
    /// Whether its groups have a media type: the conversation metrics do, the users
    /// metrics come in queue-only groups.
    pub by_media_type: bool,
    pub help: &'static str,
}

const fn gauge(
    metric: &'static str,
    name: &'static str,
    qualifier: Qualifier,
    by_media_type: bool,
    help: &'static str,
) -> ObservationGauge {
    ObservationGauge {
        metric,
        name,
        qualifier,
        by_media_type,
        help,
    }
}

/// Every observation metric's gauge, in the order of
/// [`OBSERVATION_METRICS`](genesys_wire::OBSERVATION_METRICS).
pub const OBSERVATION_GAUGES: [ObservationGauge; 11] = {
    use Qualifier::{Other, Presence, RoutingStatus};
    [
        gauge(
            "oWaiting",
            "genesys_queue_waiting",
            Other,
            true,
            "Conversations waiting in the queue now (Genesys Cloud oWaiting)",
        ),
        gauge(
            "oInteracting",
            "genesys_queue_interacting",
            Other,
            true,
            "Conversations of the queue connected to an agent now (oInteracting)",
        ),
        gauge(
            "oAlerting",
            "genesys_queue_alerting",
            Other,
            true,
            "Conversations of the queue alerting (ringing) at an agent now (oAlerting)",
        ),
        gauge(
            "oOnQueueUsers",
            "genesys_queue_on_queue_users",
            RoutingStatus,
            false,
            "Members of the queue on queue now, by routing status (oOnQueueUsers)",
        ),
        gauge(
            "oOffQueueUsers",
            "genesys_queue_off_queue_users",
            Other,
            false,
            "Members of the queue logged in but off queue now (oOffQueueUsers)",
        ),
        gauge(
            "oActiveUsers",
            "genesys_queue_active_users",
            Other,
            false,
            "Members of the queue who have joined it now (oActiveUsers)",
        ),
        gauge(
            "oMemberUsers",
            "genesys_queue_member_users",
            Other,
            false,
            "Members of the queue, joined or not (oMemberUsers)",
        ),
        gauge(
            "oUserRoutingStatuses",
            "genesys_queue_user_routing_statuses",
            RoutingStatus,
            false,
            "Members of the queue by routing status now, off queue included (oUserRoutingStatuses)",
        ),
        gauge(
            "oUserPresences",
            "genesys_queue_user_presences",
            Presence,
            false,
            "Members of the queue by presence now (oUserPresences)",
        ),
        gauge(
            "oLongestWaiting",
            "genesys_queue_longest_waiting_seconds",
            Other,
            true,
            "How long the longest-waiting conversation of the queue has waited, in seconds (oLongestWaiting)",
        ),
        gauge(
            "oLongestInteracting",
            "genesys_queue_longest_interacting_seconds",
            Other,
            true,
            "How long the longest interaction of the queue has lasted, in seconds (oLongestInteracting)",
        ),
    ]
};

/// The gauge of an observation metric.
pub fn observation_gauge(metric: &str) -> Option<&'static ObservationGauge> {
    OBSERVATION_GAUGES.iter().find(|g| g.metric == metric)
}

/// `NOT_RESPONDING` → `not_responding`, `OnQueue` → `on_queue`, `Available` →
/// `available`: routing statuses and system presences as label values.
pub fn lower_snake_case(name: &str) -> String {
    if name.chars().any(|c| c.is_ascii_lowercase()) {
        snake_case(name).replace("__", "_")
    } else {
        name.to_ascii_lowercase()
    }
}

/// Builds one observation's samples from the answers to its requests, one at a time, so
/// that each answer can be freed once added, and the whole stops as soon as it would pass
/// `max_series`.
///
/// A group that the answers hold twice, or a metric and qualifier twice in one group, is
/// dropped with a warning, keeping the first, as [`flatten_bounded`](super::flatten_bounded)
/// does for aggregates. Two presence rows that come out with the same labels (two org
/// presences of the same name and system presence) are added up: the gauge counts the
/// members in a presence of that name.
pub struct ObservationSamples<'a> {
    presences: &'a HashMap<String, Presence>,
    max_series: usize,
    samples: QuerySamples,
    /// Group label sets → their index in `samples.groups`.
    groups: HashMap<Vec<(String, String)>, usize>,
    /// The answers' groups seen so far.
    seen: HashSet<BTreeMap<String, String>>,
    /// (gauge, group index) → (family name, sample index): one series each.
    series: HashMap<(&'static str, usize), usize>,
    duplicates: usize,
}

impl<'a> ObservationSamples<'a> {
    /// Samples with the `query` label `query`; `presences` are the org's presence names by
    /// ID.
    pub fn new(
        query: &str,
        presences: &'a HashMap<String, Presence>,
        max_series: usize,
    ) -> ObservationSamples<'a> {
        ObservationSamples {
            presences,
            max_series,
            samples: QuerySamples {
                query: query.to_owned(),
                named: vec![(0, NameKind::Queue)],
                ..QuerySamples::default()
            },
            groups: HashMap::new(),
            seen: HashSet::new(),
            series: HashMap::new(),
            duplicates: 0,
        }
    }

    /// Adds the groups of one answer, received at `observed_at`.
    pub fn add<'r>(
        &mut self,
        response: &'r ObservationResponse,
        observed_at: Timestamp,
    ) -> Result<(), TooManySeries> {
        // Each queue's groups together, whatever order the API chose: a stable order, and
        // the queue's ID on neighbouring lines where gzip finds it again.
        let mut groups: Vec<&ObservationGroup> = response.results.iter().collect();
        let key = |group: &'r ObservationGroup| {
            (group.group.get("queueId"), group.group.get("mediaType"))
        };
        groups.sort_by(|a, b| key(a).cmp(&key(b)));
        let mut metrics_seen: HashSet<(&str, Option<&str>)> = HashSet::new();
        for group in groups {
            // A group without data publishes nothing; not remembering it keeps a hostile
            // answer of empty groups from growing `seen` without bound.
            if group.data.is_empty() {
                continue;
            }
            // The groups asked for are by queue, or by queue and media type: a group with
            // other keys (or without a queue) would add its rows to another's, and is
            // dropped whole, before it is remembered.
            let expected = group.group.contains_key("queueId")
                && group
                    .group
                    .keys()
                    .all(|key| key == "queueId" || key == "mediaType");
            if !expected {
                self.drop_rows(UNEXPECTED_GROUP, group.data.len());
                continue;
            }
            if !self.seen.insert(group.group.clone()) {
                self.duplicates += 1;
                continue;
            }
            // Each group remembered must be worth a series at least.
            if self.seen.len() > self.max_series {
                return Err(TooManySeries);
            }
            let cuts = &mut self.samples.labels_cut;
            let mut labels = vec![(
                "queue_id".to_owned(),
                cap(group.group.get("queueId").map_or("", String::as_str), cuts).into_owned(),
            )];
            let media_type = group.group.get("mediaType");
            if let Some(media_type) = media_type {
                labels.push(("media_type".to_owned(), cap(media_type, cuts).into_owned()));
            }
            metrics_seen.clear();
            for entry in &group.data {
                if !metrics_seen.insert((entry.metric.as_str(), entry.qualifier.as_deref())) {
                    self.duplicates += 1;
                    continue;
                }
                // A conversation metric comes by queue and media type, a users metric by
                // queue alone; either in the other's group would be counted twice.
                if observation_gauge(&entry.metric)
                    .is_some_and(|gauge| gauge.by_media_type != media_type.is_some())
                {
                    self.drop_rows(UNEXPECTED_GROUP, 1);
                    continue;
                }
                self.add_entry(&labels, entry, response, observed_at)?;
            }
        }
        Ok(())
    }

    fn add_entry(
        &mut self,
        labels: &[(String, String)],
        entry: &ObservationEntry,
        response: &ObservationResponse,
        observed_at: Timestamp,
    ) -> Result<(), TooManySeries> {
        let Some(gauge) = observation_gauge(&entry.metric) else {
            return Ok(());
        };
        let value = if gauge.name.ends_with("_seconds") {
            let Some(started) = entry.stats.calculated_metric_value else {
                return Ok(());
            };
            // The epoch millisecond the oldest conversation started: 0 (which would be a
            // wait of 56 years) or one after the observation is no start at all.
            let now = observed_at.as_millisecond() as f64;
            if !(started > 0.0 && started <= now) {
                self.drop_rows(LONGEST_OUT_OF_RANGE, 1);
                return Ok(());
            }
            (now - started) / 1000.0
        } else {
            let Some(count) = entry.stats.count else {
                return Ok(());
            };
            if !(0.0..=MAX_COUNT).contains(&count) {
                self.drop_rows(COUNT_OUT_OF_RANGE, 1);
                return Ok(());
            }
            count
        };
        let mut labels = labels.to_vec();
        if let Some(qualifier) = &entry.qualifier {
            let cuts = &mut self.samples.labels_cut;
            match gauge.qualifier {
                Qualifier::RoutingStatus => {
                    let status = lower_snake_case(qualifier);
                    labels.push(("routing_status".into(), cap_owned(status, cuts)));
                }
                Qualifier::Presence => {
                    let (name, system) = self.presence(qualifier, response);
                    let cuts = &mut self.samples.labels_cut;
                    labels.push(("presence".into(), cap_owned(name, cuts)));
                    labels.push(("system_presence".into(), cap_owned(system, cuts)));
                }
                Qualifier::Other => {
                    labels.push(("qualifier".into(), cap(qualifier, cuts).into_owned()));
                }
            }
        }
        let group = match self.groups.get(&labels) {
            Some(&group) => group,
            None => {
                let group = self.samples.groups.len();
                self.samples.groups.push(labels.clone());
                self.groups.insert(labels, group);
                group
            }
        };
        let family = self
            .samples
            .families
            .entry(gauge.name.to_owned())
            .or_insert_with(|| Family {
                help: gauge.help.to_owned(),
                samples: Vec::new(),
            });
        if let Some(&index) = self.series.get(&(gauge.name, group)) {
            if gauge.qualifier == Qualifier::Presence {
                family.samples[index].value += value;
            } else {
                self.duplicates += 1;
            }
            return Ok(());
        }
        if self.series.len() >= self.max_series {
            return Err(TooManySeries);
        }
        self.series
            .insert((gauge.name, group), family.samples.len());
        family.samples.push(Sample {
            // Groups are fewer than series, which `max_series` bounds far below u32::MAX.
            group: group as u32,
            qualifier: None,
            value,
        });
        Ok(())
    }

    /// Notes `rows` dropped for `reason`, an index into
    /// [`OBSERVATION_DROP_REASONS`](crate::metrics::OBSERVATION_DROP_REASONS).
    fn drop_rows(&mut self, reason: usize, rows: usize) {
        let dropped = &mut self.samples.dropped[reason];
        *dropped = dropped.saturating_add(rows);
    }

    /// The name and system presence of the org presence `id`: from its definition, else
    /// the ID and the system presence the answer maps it from (empty if none does).
    fn presence(&self, id: &str, response: &ObservationResponse) -> (String, String) {
        let known = self.presences.get(id);
        let name = match known {
            Some(presence) if !presence.name.is_empty() => presence.name.clone(),
            _ => id.to_owned(),
        };
        let system = match known {
            Some(presence) if !presence.system_presence.is_empty() => {
                lower_snake_case(&presence.system_presence)
            }
            _ => response
                .system_to_organization_mappings
                .iter()
                .find(|(_, ids)| ids.iter().any(|mapped| mapped == id))
                .map(|(system, _)| lower_snake_case(system))
                .unwrap_or_default(),
        };
        (name, system)
    }

    /// The samples, after a warning if any answer repeated itself or held implausible
    /// rows.
    pub fn finish(self) -> QuerySamples {
        let [unexpected, counts, longest] = self.samples.dropped;
        if unexpected + counts + longest > 0 {
            tracing::warn!(
                query = %self.samples.query,
                unexpected_group = unexpected,
                count_out_of_range = counts,
                longest_out_of_range = longest,
                "the observations hold implausible rows; they were dropped (genesys_observations_dropped_total)"
            );
        }
        if self.duplicates > 0 {
            tracing::warn!(
                query = %self.samples.query,
                duplicates = self.duplicates,
                "the observations repeat groups or metrics; each repetition was dropped, keeping the first"
            );
        }
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::fixtures::render;
    use genesys_wire::OBSERVATION_METRICS;

    fn now() -> Timestamp {
        "2026-08-20T14:07:00Z".parse().unwrap()
    }

    fn flatten(json: &str, presences: &HashMap<String, Presence>) -> String {
        let response: ObservationResponse = serde_json::from_str(json).unwrap();
        let mut samples = ObservationSamples::new("observations", presences, usize::MAX);
        samples.add(&response, now()).unwrap();
        render(samples.finish())
    }

    fn lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        lines.sort();
        lines
    }

    /// An answer as the API documents it: conversation metrics by queue and media type,
    /// users metrics by queue alone, one row per routing status or presence ID.
    const ANSWER: &str = r#"{
      "systemToOrganizationMappings": {"ON_QUEUE": ["p-onq"], "BREAK": ["p-brk", "p-lunch"], "AVAILABLE": ["p-av"]},
      "results": [
        {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
          {"metric": "oWaiting", "stats": {"count": 3}},
          {"metric": "oInteracting", "stats": {"count": 0}},
          {"metric": "oAlerting", "stats": {"count": 1}},
          {"metric": "oLongestWaiting", "stats": {"count": 1, "calculatedMetricValue": 1787234710500}},
          {"metric": "oLongestInteracting", "stats": {"count": 1, "calculatedMetricValue": 1787234800000}}]},
        {"group": {"queueId": "q1", "mediaType": "chat"}, "data": [
          {"metric": "oWaiting", "stats": {"count": 0}}]},
        {"group": {"queueId": "q1"}, "data": [
          {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
          {"metric": "oOnQueueUsers", "qualifier": "NOT_RESPONDING", "stats": {"count": 1}},
          {"metric": "oOffQueueUsers", "stats": {"count": 4}},
          {"metric": "oActiveUsers", "stats": {"count": 7}},
          {"metric": "oMemberUsers", "stats": {"count": 9}},
          {"metric": "oUserRoutingStatuses", "qualifier": "OFF_QUEUE", "stats": {"count": 4}},
          {"metric": "oUserRoutingStatuses", "qualifier": "IDLE", "stats": {"count": 2}},
          {"metric": "oUserPresences", "qualifier": "p-onq", "stats": {"count": 3}},
          {"metric": "oUserPresences", "qualifier": "p-brk", "stats": {"count": 1}},
          {"metric": "oUserPresences", "qualifier": "p-lunch", "stats": {"count": 2}},
          {"metric": "oUserPresences", "qualifier": "p-new", "stats": {"count": 5}}]}
      ]}"#;

    fn definitions() -> HashMap<String, Presence> {
        [
            ("p-onq", "On Queue", "OnQueue"),
            ("p-brk", "Coffee", "Break"),
            ("p-lunch", "Lunch", "Break"),
        ]
        .into_iter()
        .map(|(id, name, system)| {
            (
                id.to_string(),
                Presence {
                    name: name.into(),
                    system_presence: system.into(),
                },
            )
        })
        .collect()
    }

    #[test]
    fn every_metric_becomes_its_gauge_with_the_labels_of_its_group_and_qualifier() {
        let text = flatten(ANSWER, &definitions());
        let q = r#"query="observations",queue_id="q1""#;
        // 14:07:00 is 1787234820000 ms: the oldest caller waits 109.5 s, and the longest
        // interaction started 20 s before.
        let expected = [
            format!("genesys_queue_active_users{{{q}}} 7.0"),
            format!("genesys_queue_alerting{{{q},media_type=\"voice\"}} 1.0"),
            format!("genesys_queue_interacting{{{q},media_type=\"voice\"}} 0.0"),
            format!("genesys_queue_longest_interacting_seconds{{{q},media_type=\"voice\"}} 20.0"),
            format!("genesys_queue_longest_waiting_seconds{{{q},media_type=\"voice\"}} 109.5"),
            format!("genesys_queue_member_users{{{q}}} 9.0"),
            format!("genesys_queue_off_queue_users{{{q}}} 4.0"),
            format!("genesys_queue_on_queue_users{{{q},routing_status=\"idle\"}} 2.0"),
            format!("genesys_queue_on_queue_users{{{q},routing_status=\"not_responding\"}} 1.0"),
            format!(
                "genesys_queue_user_presences{{{q},presence=\"Coffee\",system_presence=\"break\"}} 1.0"
            ),
            format!(
                "genesys_queue_user_presences{{{q},presence=\"Lunch\",system_presence=\"break\"}} 2.0"
            ),
            format!(
                "genesys_queue_user_presences{{{q},presence=\"On Queue\",system_presence=\"on_queue\"}} 3.0"
            ),
            // Not among the definitions nor mapped: its ID, and no system presence.
            format!(
                "genesys_queue_user_presences{{{q},presence=\"p-new\",system_presence=\"\"}} 5.0"
            ),
            format!("genesys_queue_user_routing_statuses{{{q},routing_status=\"idle\"}} 2.0"),
            format!("genesys_queue_user_routing_statuses{{{q},routing_status=\"off_queue\"}} 4.0"),
            format!("genesys_queue_waiting{{{q},media_type=\"chat\"}} 0.0"),
            format!("genesys_queue_waiting{{{q},media_type=\"voice\"}} 3.0"),
        ];
        assert_eq!(
            lines(&text),
            expected.iter().map(String::as_str).collect::<Vec<_>>()
        );
        for gauge in &OBSERVATION_GAUGES {
            assert!(
                text.contains(&format!("# HELP {} {}\n", gauge.name, gauge.help)),
                "{text}"
            );
        }
    }

    #[test]
    fn without_presence_definitions_presences_are_ids_mapped_to_system_presences() {
        let text = flatten(ANSWER, &HashMap::new());
        let q = r#"query="observations",queue_id="q1""#;
        for line in [
            format!(
                "genesys_queue_user_presences{{{q},presence=\"p-onq\",system_presence=\"on_queue\"}} 3.0\n"
            ),
            format!(
                "genesys_queue_user_presences{{{q},presence=\"p-brk\",system_presence=\"break\"}} 1.0\n"
            ),
            format!(
                "genesys_queue_user_presences{{{q},presence=\"p-lunch\",system_presence=\"break\"}} 2.0\n"
            ),
        ] {
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
    }

    #[test]
    fn repeated_groups_and_rows_are_dropped_and_same_named_presences_added_up() {
        let presences: HashMap<String, Presence> = [("a", "Lunch"), ("b", "Lunch")]
            .into_iter()
            .map(|(id, name)| {
                (
                    id.to_string(),
                    Presence {
                        name: name.into(),
                        system_presence: "Meal".into(),
                    },
                )
            })
            .collect();
        let text = flatten(
            r#"{"results": [
              {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
                {"metric": "oWaiting", "stats": {"count": 3}},
                {"metric": "oWaiting", "stats": {"count": 30}}]},
              {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
                {"metric": "oWaiting", "stats": {"count": 300}}]},
              {"group": {"queueId": "q1"}, "data": [
                {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
                {"metric": "oOnQueueUsers", "qualifier": "idle", "stats": {"count": 20}},
                {"metric": "oUserPresences", "qualifier": "a", "stats": {"count": 1}},
                {"metric": "oUserPresences", "qualifier": "b", "stats": {"count": 2}},
                {"metric": "oUserPresences", "qualifier": "b", "stats": {"count": 200}}]}]}"#,
            &presences,
        );
        assert_eq!(
            lines(&text),
            [
                r#"genesys_queue_on_queue_users{query="observations",queue_id="q1",routing_status="idle"} 2.0"#,
                r#"genesys_queue_user_presences{query="observations",queue_id="q1",presence="Lunch",system_presence="meal"} 3.0"#,
                r#"genesys_queue_waiting{query="observations",queue_id="q1",media_type="voice"} 3.0"#,
            ]
        );
    }

    #[test]
    fn unexpected_groups_impossible_counts_and_starts_are_dropped_and_counted() {
        let presences = definitions();
        // 14:07:00 is 1787234820000 ms.
        let json = r#"{"results": [
          {"group": {"queueId": "q1"}, "data": [
            {"metric": "oUserPresences", "qualifier": "p-onq", "stats": {"count": 319}},
            {"metric": "oMemberUsers", "stats": {"count": 10000001}},
            {"metric": "oOffQueueUsers", "stats": {"count": 10000000}},
            {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": -3}},
            {"metric": "oWaiting", "stats": {"count": 5}}]},
          {"group": {"queueId": "q1", "divisionId": "d"}, "data": [
            {"metric": "oUserPresences", "qualifier": "p-onq", "stats": {"count": 319}}]},
          {"group": {"mediaType": "voice"}, "data": [
            {"metric": "oWaiting", "stats": {"count": 1}}]},
          {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
            {"metric": "oUserPresences", "qualifier": "p-onq", "stats": {"count": 319}},
            {"metric": "oLongestWaiting", "stats": {"count": 1, "calculatedMetricValue": 0}},
            {"metric": "oLongestInteracting", "stats": {"count": 1, "calculatedMetricValue": 1787234820001}},
            {"metric": "oWaiting", "stats": {"count": 2}}]},
          {"group": {"queueId": "q1", "mediaType": "chat"}, "data": [
            {"metric": "oLongestWaiting", "stats": {"count": 1, "calculatedMetricValue": 1787234820000}},
            {"metric": "oLongestInteracting", "stats": {"count": 1, "calculatedMetricValue": -5}}]}
        ]}"#;
        let response: ObservationResponse = serde_json::from_str(json).unwrap();
        let mut samples = ObservationSamples::new("observations", &presences, usize::MAX);
        samples.add(&response, now()).unwrap();
        let samples = samples.finish();
        // unexpected: the divisionId group, the queueless group, oWaiting by queue alone,
        // oUserPresences by media type; counts: 10^7 + 1 and -3; longest: 0, -5 and 1 ms
        // after the observation.
        assert_eq!(samples.dropped, [4, 2, 3]);
        let text = render(samples);
        let q = r#"query="observations",queue_id="q1""#;
        assert_eq!(
            lines(&text),
            [
                format!("genesys_queue_longest_waiting_seconds{{{q},media_type=\"chat\"}} 0.0"),
                format!("genesys_queue_off_queue_users{{{q}}} 10000000.0"),
                format!(
                    "genesys_queue_user_presences{{{q},presence=\"On Queue\",system_presence=\"on_queue\"}} 319.0"
                ),
                format!("genesys_queue_waiting{{{q},media_type=\"voice\"}} 2.0"),
            ]
        );
    }

    #[test]
    fn long_label_values_are_cut_and_counted() {
        let long = "n".repeat(5000);
        let presences: HashMap<String, Presence> = HashMap::new();
        let json = format!(
            r#"{{"results": [{{"group": {{"queueId": "q1", "mediaType": "{long}"}}, "data": [
              {{"metric": "oWaiting", "qualifier": "{long}", "stats": {{"count": 1}}}}]}}]}}"#
        );
        let response: ObservationResponse = serde_json::from_str(&json).unwrap();
        let mut samples = ObservationSamples::new("observations", &presences, usize::MAX);
        samples.add(&response, now()).unwrap();
        let samples = samples.finish();
        assert_eq!(samples.labels_cut, 2);
        let text = render(samples);
        let cut = format!("{}\u{2026}", "n".repeat(2045));
        assert!(
            text.contains(&format!("media_type=\"{cut}\",qualifier=\"{cut}\"}} 1.0")),
            "{text}"
        );
    }

    #[test]
    fn absent_statistics_make_no_series_and_series_are_bounded() {
        let text = flatten(
            r#"{"results": [{"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
                {"metric": "oWaiting", "stats": {}},
                {"metric": "oLongestWaiting", "stats": {"count": 0}},
                {"metric": "oAlerting", "qualifier": "x", "stats": {"count": 1}}]}]}"#,
            &HashMap::new(),
        );
        assert_eq!(
            lines(&text),
            [
                r#"genesys_queue_alerting{query="observations",queue_id="q1",media_type="voice",qualifier="x"} 1.0"#
            ]
        );

        let response: ObservationResponse = serde_json::from_str(ANSWER).unwrap();
        let presences = HashMap::new();
        let mut bounded = ObservationSamples::new("observations", &presences, 17);
        bounded.add(&response, now()).unwrap();
        assert_eq!(bounded.finish().series(), 17);
        let mut bounded = ObservationSamples::new("observations", &presences, 16);
        assert_eq!(bounded.add(&response, now()), Err(TooManySeries));
    }

    #[test]
    fn groups_that_publish_nothing_cannot_grow_without_bound() {
        let presences = HashMap::new();
        // A hostile answer: many groups without data, then many whose only entry has no
        // value. Neither publishes a series; neither may be remembered past the bound.
        let empty: Vec<String> = (0..10_000)
            .map(|i| format!(r#"{{"group": {{"queueId": "e{i}"}}, "data": []}}"#))
            .collect();
        let response: ObservationResponse =
            serde_json::from_str(&format!(r#"{{"results": [{}]}}"#, empty.join(","))).unwrap();
        let mut samples = ObservationSamples::new("observations", &presences, 10);
        samples.add(&response, now()).unwrap();
        assert_eq!(samples.finish().series(), 0);

        let valueless: Vec<String> = (0..11)
            .map(|i| {
                format!(r#"{{"group": {{"queueId": "v{i}"}}, "data": [{{"metric": "oWaiting", "stats": {{}}}}]}}"#)
            })
            .collect();
        let response: ObservationResponse =
            serde_json::from_str(&format!(r#"{{"results": [{}]}}"#, valueless.join(","))).unwrap();
        let mut samples = ObservationSamples::new("observations", &presences, 10);
        assert_eq!(samples.add(&response, now()), Err(TooManySeries));
    }

    #[test]
    fn answers_to_several_requests_add_up_to_one_observation() {
        let presences = HashMap::new();
        let mut samples = ObservationSamples::new("observations", &presences, usize::MAX);
        for queue in ["q2", "q1", "q2"] {
            let response: ObservationResponse = serde_json::from_str(&format!(
                r#"{{"results": [{{"group": {{"queueId": "{queue}"}}, "data": [{{"metric": "oMemberUsers", "stats": {{"count": 1}}}}]}}]}}"#
            ))
            .unwrap();
            samples.add(&response, now()).unwrap();
        }
        let text = render(samples.finish());
        assert_eq!(
            lines(&text),
            [
                r#"genesys_queue_member_users{query="observations",queue_id="q1"} 1.0"#,
                r#"genesys_queue_member_users{query="observations",queue_id="q2"} 1.0"#,
            ]
        );
    }

    #[test]
    fn gauge_names_follow_the_naming_rule_and_cover_every_metric() {
        for (gauge, metric) in OBSERVATION_GAUGES.iter().zip(OBSERVATION_METRICS) {
            assert_eq!(gauge.metric, metric);
            let base = snake_case(&metric[1..]);
            let expected = if metric.starts_with("oLongest") {
                format!("genesys_queue_{base}_seconds")
            } else {
                format!("genesys_queue_{base}")
            };
            assert_eq!(gauge.name, expected);
        }
        assert_eq!(lower_snake_case("NOT_RESPONDING"), "not_responding");
        assert_eq!(lower_snake_case("OnQueue"), "on_queue");
        assert_eq!(lower_snake_case("ON_QUEUE"), "on_queue");
        assert_eq!(lower_snake_case("Available"), "available");
    }

    #[test]
    fn a_named_orgs_observations_carry_its_org_first() {
        use std::sync::Arc;
        use std::time::Duration;

        use tokio::sync::watch;

        use crate::exposition::{Format, Publisher};
        use crate::metrics::{BreakerState, Metrics};
        use crate::org::Org;

        let store = Publisher::empty(Arc::new(Metrics::empty()));
        let east = store.add_org(
            Org::named("east"),
            [],
            true,
            watch::channel(BreakerState::Closed).1,
            now(),
        );
        let names = HashMap::from([("q1".to_string(), "Sales".to_string())]);
        east.set_queue_names(Arc::new(names), now());
        let response: ObservationResponse = serde_json::from_str(ANSWER).unwrap();
        let presences = definitions();
        let mut samples = ObservationSamples::new("observations", &presences, usize::MAX);
        samples.add(&response, now()).unwrap();
        east.publish(
            "observations",
            genesys_wire::time::Interval {
                start: now(),
                end: now(),
            },
            samples.finish(),
            now(),
            Duration::from_secs(60),
        );
        let text = String::from_utf8(store.current(now()).to_vec(Format::Text, false)).unwrap();
        assert!(
            text.contains(r#"genesys_queue_waiting{org="east",query="observations",queue_id="q1",queue="Sales",media_type="voice"} 3.0"#),
            "{text}"
        );
        assert!(
            store.ready(),
            "readiness does not wait for the observations"
        );
    }
}
