//! Flattening the agent-state counts into samples under `query="agents"`: one answer per
//! breakdown value, each series with the value's labels first (none for the org;
//! `division_id` and `division`; `team_id`; `queue_id`, beside which the renderer puts
//! `queue`), then the enum's label, in lower snake case:
//! - `genesys_agents_routing_status{routing_status}`: the agents logged in, by routing
//!   status. When the answer has the array, each of the five known statuses is published,
//!   0 when the API left it out, so that an alert on `not_responding` has a series.
//! - `genesys_agents_presence{system_presence, presence}`: every agent by presence, named
//!   as the observations name it (the org presence's name, else its ID).
//! - `genesys_agents_segment{segment_type}`: sessions by segment type, as the API spells it.
//! - `genesys_agents_out_of_office`: the agents out of office, 0 when none.
//!
//! A gauge whose array the answer lacks has no series for that value. Two rows with the
//! same labels (a routing status written twice, two presences of one name) are added up.

use std::collections::HashMap;

use super::flatten::{Family, QuerySamples, Sample, TooManySeries};
use super::observation_gauges::{Presence, lower_snake_case};
use genesys_wire::AgentStateCountsResponse;
use genesys_wire::catalogue::NameKind;
use genesys_wire::labels::cap;

/// Every agent-state gauge: name and help.
pub const AGENT_GAUGES: [(&str, &str); 4] = [
    (
        "genesys_agents_routing_status",
        "Agents logged in, each counted once, by routing status (agent-state counts)",
    ),
    (
        "genesys_agents_presence",
        "Agents, each counted once, by presence (agent-state counts)",
    ),
    (
        "genesys_agents_segment",
        "Agents' sessions by the type of their current segment (agent-state counts)",
    ),
    (
        "genesys_agents_out_of_office",
        "Agents out of office (agent-state counts)",
    ),
];

const ROUTING_STATUS: usize = 0;
const PRESENCE: usize = 1;
const SEGMENT: usize = 2;
const OUT_OF_OFFICE: usize = 3;

/// The routing statuses published even when the API leaves them out (as 0).
const KNOWN_ROUTING_STATUSES: [&str; 5] = [
    "off_queue",
    "idle",
    "interacting",
    "not_responding",
    "communicating",
];

/// Builds the agent states' samples from the answers of one collection, one at a time,
/// stopping as soon as they would pass `max_series`.
pub struct AgentSamples<'a> {
    presences: &'a HashMap<String, Presence>,
    max_series: usize,
    samples: QuerySamples,
    /// Label sets → their index in `samples.groups`.
    groups: HashMap<Vec<(String, String)>, usize>,
    /// (gauge, group index) → the sample's index in its family.
    series: HashMap<(usize, usize), usize>,
}

impl<'a> AgentSamples<'a> {
    /// Samples with the `query` label `query`; `presences` are the org's presence names by
    /// ID.
    pub fn new(
        query: &str,
        presences: &'a HashMap<String, Presence>,
        max_series: usize,
    ) -> AgentSamples<'a> {
        AgentSamples {
            presences,
            max_series,
            samples: QuerySamples {
                query: query.to_owned(),
                // The queue breakdown's first label; the renderer checks its name.
                named: vec![(0, NameKind::Queue)],
                ..QuerySamples::default()
            },
            groups: HashMap::new(),
            series: HashMap::new(),
        }
    }

    /// Adds one breakdown value's answer; `breakdown` is its labels (empty for the org),
    /// in the order they are published.
    pub fn add(
        &mut self,
        breakdown: &[(&str, &str)],
        answer: &AgentStateCountsResponse,
    ) -> Result<(), TooManySeries> {
        let cuts = &mut self.samples.labels_cut;
        let base: Vec<(String, String)> = breakdown
            .iter()
            .map(|(name, value)| ((*name).to_owned(), cap(value, cuts).into_owned()))
            .collect();
        if let Some(rows) = &answer.routing_status_counts {
            for status in KNOWN_ROUTING_STATUSES {
                self.add_sample(ROUTING_STATUS, &base, &[("routing_status", status)], 0)?;
            }
            for row in rows {
                let status = match row.routing_status.as_str() {
                    "" => "unknown".to_owned(),
                    status => lower_snake_case(status),
                };
                self.add_sample(
                    ROUTING_STATUS,
                    &base,
                    &[("routing_status", &status)],
                    row.count,
                )?;
            }
        }
        for row in answer.presence_counts.iter().flatten() {
            let (system, name) = self.presence(&row.system_presence, &row.organization_presence_id);
            let labels = [
                ("system_presence", system.as_str()),
                ("presence", name.as_str()),
            ];
            self.add_sample(PRESENCE, &base, &labels, row.count)?;
        }
        for row in answer.segment_counts.iter().flatten() {
            let segment = match row.segment_type.as_str() {
                "" => "unknown".to_owned(),
                segment => segment.to_ascii_lowercase(),
            };
            self.add_sample(SEGMENT, &base, &[("segment_type", &segment)], row.count)?;
        }
        if let Some(rows) = &answer.is_out_of_office_counts {
            let out: u64 = rows
                .iter()
                .filter(|row| row.is_out_of_office)
                .fold(0, |sum, row| sum.saturating_add(row.count));
            self.add_sample(OUT_OF_OFFICE, &base, &[], out)?;
        }
        Ok(())
    }

    /// The system presence (lower snake case) and the name of the presence of a row: the
    /// org presence's name from its definition, else its ID, else the system presence.
    fn presence(&self, system: &str, id: &str) -> (String, String) {
        let known = self.presences.get(id);
        let system = match system {
            "" => known.map_or(String::new(), |p| lower_snake_case(&p.system_presence)),
            system => lower_snake_case(system),
        };
        let name = match known {
            Some(presence) if !presence.name.is_empty() => presence.name.clone(),
            _ if !id.is_empty() => id.to_owned(),
            _ => system.clone(),
        };
        (system, name)
    }

    /// Adds `count` to the series of `gauge` with `base` and `labels`, starting it if new.
    fn add_sample(
        &mut self,
        gauge: usize,
        base: &[(String, String)],
        labels: &[(&str, &str)],
        count: u64,
    ) -> Result<(), TooManySeries> {
        let cuts = &mut self.samples.labels_cut;
        let mut group_labels = base.to_vec();
        group_labels.extend(
            labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), cap(value, cuts).into_owned())),
        );
        let group = match self.groups.get(&group_labels) {
            Some(&group) => group,
            None => {
                if self.groups.len() >= self.max_series {
                    return Err(TooManySeries);
                }
                let group = self.samples.groups.len();
                self.samples.groups.push(group_labels.clone());
                self.groups.insert(group_labels, group);
                group
            }
        };
        let (name, help) = AGENT_GAUGES[gauge];
        let family = self
            .samples
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                help: help.to_owned(),
                samples: Vec::new(),
            });
        if let Some(&index) = self.series.get(&(gauge, group)) {
            family.samples[index].value += count as f64;
            return Ok(());
        }
        if self.series.len() >= self.max_series {
            return Err(TooManySeries);
        }
        self.series.insert((gauge, group), family.samples.len());
        family.samples.push(Sample {
            // Groups are fewer than series, which `max_series` bounds far below u32::MAX.
            group: group as u32,
            qualifier: None,
            value: count as f64,
        });
        Ok(())
    }

    pub fn finish(self) -> QuerySamples {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::fixtures::render;

    fn lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        lines.sort();
        lines
    }

    #[test]
    fn each_array_becomes_its_gauge_with_the_breakdown_labels_first() {
        let presences: HashMap<String, Presence> = [(
            "p-onq".to_string(),
            Presence {
                name: "Taking calls".into(),
                system_presence: "OnQueue".into(),
            },
        )]
        .into();
        let org: AgentStateCountsResponse = serde_json::from_str(
            r#"{"routingStatusCounts": [{"routingStatus": "IDLE", "count": 4}, {"routingStatus": "IDLE", "count": 1},
                                        {"routingStatus": "TELEPORTING", "count": 2}],
                "presenceCounts": [{"systemPresence": "ON_QUEUE", "organizationPresenceId": "p-onq", "count": 5},
                                   {"systemPresence": "BREAK", "organizationPresenceId": "p-new", "count": 1}],
                "segmentCounts": [{"segmentType": "interact", "count": 3}],
                "isOutOfOfficeCounts": [{"isOutOfOffice": false, "count": 9}]}"#,
        )
        .unwrap();
        let division: AgentStateCountsResponse = serde_json::from_str(
            r#"{"isOutOfOfficeCounts": [{"isOutOfOffice": true, "count": 2}]}"#,
        )
        .unwrap();
        let mut samples = AgentSamples::new("agents", &presences, usize::MAX);
        samples.add(&[], &org).unwrap();
        samples
            .add(&[("division_id", "d1"), ("division", "Home")], &division)
            .unwrap();
        let text = render(samples.finish());
        let q = r#"query="agents""#;
        let d = r#"query="agents",division_id="d1",division="Home""#;
        let mut expected = vec![
            format!("genesys_agents_out_of_office{{{q}}} 0.0"),
            format!("genesys_agents_out_of_office{{{d}}} 2.0"),
            format!(
                r#"genesys_agents_presence{{{q},system_presence="break",presence="p-new"}} 1.0"#
            ),
            format!(
                r#"genesys_agents_presence{{{q},system_presence="on_queue",presence="Taking calls"}} 5.0"#
            ),
            format!(r#"genesys_agents_segment{{{q},segment_type="interact"}} 3.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="communicating"}} 0.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="idle"}} 5.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="interacting"}} 0.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="not_responding"}} 0.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="off_queue"}} 0.0"#),
            format!(r#"genesys_agents_routing_status{{{q},routing_status="teleporting"}} 2.0"#),
        ];
        expected.sort();
        assert_eq!(lines(&text), expected);
    }

    #[test]
    fn an_answer_past_max_series_is_refused() {
        let presences = HashMap::new();
        let answer: AgentStateCountsResponse =
            serde_json::from_str(r#"{"routingStatusCounts": []}"#).unwrap();
        let mut samples = AgentSamples::new("agents", &presences, 5);
        assert!(samples.add(&[], &answer).is_ok(), "the five known statuses");
        assert!(samples.add(&[("team_id", "t")], &answer).is_err());
    }
}
