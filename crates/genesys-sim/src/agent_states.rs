//! The agent-state counts (`POST /api/v2/analytics/agents/status/counts`): the org's
//! agents as people, each counted once however many queues they are a member of.
//!
//! # People
//!
//! [`super::agents`] staffs each queue with counts; here those counts become people, so
//! that the org and the queue observations agree on who is who:
//! - A person is in one *state*: on queue in a routing status (IDLE, INTERACTING,
//!   COMMUNICATING, NOT_RESPONDING, in presence "Taking calls"), logged in but off queue
//!   (OFF_QUEUE) in one of the other presences, or not logged in ("Offline", no routing
//!   status), in the office or out of it.
//! - Each queue has, in each state, exactly the agents its observations show. Its
//!   INTERACTING agents are split 7 : 1 : 2 between the `interact`, `hold` and `wrapup`
//!   segments; COMMUNICATING agents are in an `interact` segment of their own call,
//!   NOT_RESPONDING ones in an `alert` (the conversation ringing unanswered); one in ten
//!   of the members not logged in (rounded down) is out of office.
//! - Queues pair up in the org's order (the first with the second, the third with the
//!   fourth, ...). In each state, a third (rounded down) of the smaller of the pair's two
//!   counts are the same people, members of both queues: both queues' observations count
//!   them, the org once. So the org's agents are fewer than the queues' members added up.
//! - A person's *home* is their first queue: their division is its division, and their
//!   team is one of [`TEAM_NAMES`], by the home queue's place in the org (modulo three).
//! - A `userFilter` picks people by `queueId` (a member of the queue), `divisionId` or
//!   `teamId`, with `and`/`or` and clauses as the API has them; other dimensions are a 400.
//!
//! # The answer
//!
//! `groupBy` (repeated keys) picks the arrays; without it, `segmentCounts` alone. Each
//! array has a row per value with people in it (none for a zero): routing statuses count
//! the people logged in, presences and out-of-office everyone, segments the sessions of
//! those on a conversation. Invariants (tested): the routing statuses add up to the
//! people logged in, the presences and the out-of-office rows to all of them, and any
//! count of the org is the sum of its divisions'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use std::collections::HashMap;

use super::agents::{Agents, agents_under, apportion};
use super::filter::{Filter, Subject};
use super::live::live;
use super::presences::{OFFLINE, ON_QUEUE, PRESENCE_COUNT, presence_id, system_presence};
use super::protocol::{JsonBody, Params, bad_request};
use super::queue_observations::ROUTING_STATUSES;
use super::random::{fnv1a, uuid_from};
use super::surge::Surges;
use super::traffic::atoms;
use super::{SimulatedOrg, Simulator};
use genesys_wire::{
    AGENT_STATUS_GROUP_BY, AgentStateCountsRequest, AgentStateCountsResponse, ErrorBody,
    OutOfOfficeCount, PresenceCount, RoutingStatusCount, SegmentTypeCount,
};

/// The org's teams, in the order people are placed in them.
pub const TEAM_NAMES: [&str; 3] = ["Team Atlas", "Team Borealis", "Team Cygnus"];

/// The user dimensions a `userFilter` may name here.
const USER_DIMENSIONS: [&str; 3] = ["queueId", "divisionId", "teamId"];

/// On queue: the routing status, and the segment of the session (none for IDLE).
const ON_QUEUE_STATES: [(&str, Option<&str>); 6] = [
    ("IDLE", None),
    ("INTERACTING", Some("interact")),
    ("INTERACTING", Some("hold")),
    ("INTERACTING", Some("wrapup")),
    ("COMMUNICATING", Some("interact")),
    ("NOT_RESPONDING", Some("alert")),
];

/// Shares of the INTERACTING agents in the interact, hold and wrapup segments.
const INTERACTING_SEGMENTS: [f64; 3] = [7.0, 1.0, 2.0];

/// States, by index: the on-queue ones, then off queue in each presence, then logged out
/// in the office, then out of it.
const OFF_QUEUE_FIRST: usize = ON_QUEUE_STATES.len();
const LOGGED_OUT: usize = OFF_QUEUE_FIRST + PRESENCE_COUNT;
const OUT_OF_OFFICE: usize = LOGGED_OUT + 1;
const STATE_COUNT: usize = OUT_OF_OFFICE + 1;

/// Segment types in the order of the answer's rows.
const SEGMENT_TYPES: [&str; 4] = ["interact", "hold", "wrapup", "alert"];

/// The ID of the team at `index` of [`TEAM_NAMES`] in `org` (a named org's are its own).
pub fn team_id(org: &SimulatedOrg, index: usize) -> String {
    let name = TEAM_NAMES[index % TEAM_NAMES.len()];
    let org_name = org.name.as_deref().unwrap_or_default();
    uuid_from(fnv1a(&[b"team", name.as_bytes(), org_name.as_bytes()]))
}

/// Some people in one state, with the same queues (one, or the two of a pair) and home.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cohort {
    state: usize,
    people: u64,
    /// Indexes into the org's queues; the first is home.
    queues: (usize, Option<usize>),
}

/// A cohort as a filter sees it.
struct Person<'a> {
    org: &'a SimulatedOrg,
    cohort: &'a Cohort,
}

impl Subject for Person<'_> {
    fn has(&self, dimension: &str, value: Option<&str>) -> bool {
        let (home, other) = self.cohort.queues;
        let queue = |index: usize| self.org.queues[index].id.as_str();
        let own: Vec<String> = match dimension {
            "queueId" => std::iter::once(home)
                .chain(other)
                .map(|i| queue(i).to_string())
                .collect(),
            "divisionId" => vec![self.org.queues[home].division.id.clone()],
            "teamId" => vec![team_id(self.org, home)],
            _ => Vec::new(),
        };
        match value {
            Some(value) => own.iter().any(|own| own == value),
            None => !own.is_empty(),
        }
    }
}

/// The agents of one queue by state.
fn queue_states(agents: &Agents) -> [u64; STATE_COUNT] {
    let mut states = [0; STATE_COUNT];
    let segments = apportion(agents.interacting, &INTERACTING_SEGMENTS);
    states[0] = agents.idle;
    states[1..4].copy_from_slice(&segments);
    states[4] = agents.communicating;
    states[5] = agents.not_responding;
    for (presence, &count) in agents.presences.iter().enumerate() {
        if presence != ON_QUEUE && presence != OFFLINE {
            states[OFF_QUEUE_FIRST + presence] = count;
        }
    }
    let offline = agents.presences[OFFLINE];
    states[OUT_OF_OFFICE] = offline / 10;
    states[LOGGED_OUT] = offline - offline / 10;
    states
}

/// The org's people at `now` under `surges`, in cohorts.
fn people(org: &SimulatedOrg, surges: Surges, now: Timestamp) -> Vec<Cohort> {
    let now_ms = now.as_millisecond();
    let index: HashMap<&str, usize> = org
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| (q.id.as_str(), i))
        .collect();
    // The conversations interacting on each queue, as the observations count them.
    let mut interacting = vec![0; org.queues.len()];
    for atom in atoms(org) {
        if let Some(i) = atom.queue().and_then(|q| index.get(q.id.as_str())) {
            interacting[*i] += live(&atom, surges.abandon, now_ms).interacting;
        }
    }
    let states: Vec<[u64; STATE_COUNT]> = org
        .queues
        .iter()
        .zip(interacting)
        .map(|(queue, interacting)| {
            queue_states(&agents_under(
                queue,
                &org.media_types,
                surges,
                now_ms,
                interacting,
            ))
        })
        .collect();
    let mut cohorts = Vec::new();
    for first in (0..states.len()).step_by(2) {
        let second = (first + 1 < states.len()).then_some(first + 1);
        for (state, &a) in states[first].iter().enumerate() {
            let Some(second) = second else {
                cohorts.push(Cohort {
                    state,
                    people: a,
                    queues: (first, None),
                });
                continue;
            };
            let b = states[second][state];
            let shared = a.min(b) / 3;
            cohorts.push(Cohort {
                state,
                people: a - shared,
                queues: (first, None),
            });
            cohorts.push(Cohort {
                state,
                people: b - shared,
                queues: (second, None),
            });
            cohorts.push(Cohort {
                state,
                people: shared,
                queues: (first, Some(second)),
            });
        }
    }
    cohorts.retain(|c| c.people > 0);
    cohorts
}

/// Answers an agent-state counts request at `now` under `surges`, counting by `group_by`
/// (the `groupBy` values; none is `segmentType`), as the real API would. Validation
/// errors are the real error body with status 400.
pub(super) fn count_under(
    org: &SimulatedOrg,
    surges: Surges,
    group_by: &[String],
    request: &AgentStateCountsRequest,
    now: Timestamp,
) -> Result<AgentStateCountsResponse, ErrorBody> {
    if let Some(unknown) = group_by
        .iter()
        .find(|g| !AGENT_STATUS_GROUP_BY.contains(&g.as_str()))
    {
        return Err(bad_request(
            "invalid.value",
            "groupBy",
            format!(
                "Invalid groupBy '{unknown}': use {}",
                AGENT_STATUS_GROUP_BY.join(", ")
            ),
        ));
    }
    let filter = match &request.user_filter {
        Some(filter) => {
            let value = serde_json::to_value(filter).unwrap_or_default();
            Some(Filter::parse_for(&value, |d| USER_DIMENSIONS.contains(&d))?)
        }
        None => None,
    };
    let mut totals = [0u64; STATE_COUNT];
    for cohort in people(org, surges, now) {
        let person = Person {
            org,
            cohort: &cohort,
        };
        if filter.as_ref().is_none_or(|f| f.accepts(&person)) {
            totals[cohort.state] += cohort.people;
        }
    }
    let wants =
        |g: &str| group_by.iter().any(|w| w == g) || (group_by.is_empty() && g == "segmentType");
    Ok(AgentStateCountsResponse {
        segment_counts: wants("segmentType").then(|| segment_counts(&totals)),
        presence_counts: wants("presence").then(|| presence_counts(&totals)),
        routing_status_counts: wants("routingStatus").then(|| routing_status_counts(&totals)),
        is_out_of_office_counts: wants("isOutOfOffice").then(|| out_of_office_counts(&totals)),
    })
}

fn segment_counts(totals: &[u64; STATE_COUNT]) -> Vec<SegmentTypeCount> {
    SEGMENT_TYPES
        .iter()
        .map(|&segment| SegmentTypeCount {
            segment_type: segment.to_string(),
            count: ON_QUEUE_STATES
                .iter()
                .zip(totals)
                .filter(|((_, s), _)| *s == Some(segment))
                .map(|(_, count)| count)
                .sum(),
        })
        .filter(|row| row.count > 0)
        .collect()
}

fn presence_counts(totals: &[u64; STATE_COUNT]) -> Vec<PresenceCount> {
    let mut by_presence = [0u64; PRESENCE_COUNT];
    by_presence[ON_QUEUE] = totals[..OFF_QUEUE_FIRST].iter().sum();
    by_presence[OFFLINE] = totals[LOGGED_OUT] + totals[OUT_OF_OFFICE];
    for (presence, count) in by_presence.iter_mut().enumerate() {
        *count += totals[OFF_QUEUE_FIRST + presence];
    }
    by_presence
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(presence, &count)| PresenceCount {
            system_presence: system_presence(presence),
            organization_presence_id: presence_id(presence),
            count,
        })
        .collect()
}

fn routing_status_counts(totals: &[u64; STATE_COUNT]) -> Vec<RoutingStatusCount> {
    ROUTING_STATUSES
        .iter()
        .map(|&status| RoutingStatusCount {
            routing_status: status.to_string(),
            count: match status {
                "OFF_QUEUE" => totals[OFF_QUEUE_FIRST..LOGGED_OUT].iter().sum(),
                _ => ON_QUEUE_STATES
                    .iter()
                    .zip(totals)
                    .filter(|((s, _), _)| *s == status)
                    .map(|(_, count)| count)
                    .sum(),
            },
        })
        .filter(|row| row.count > 0)
        .collect()
}

fn out_of_office_counts(totals: &[u64; STATE_COUNT]) -> Vec<OutOfOfficeCount> {
    let everyone: u64 = totals.iter().sum();
    [
        (false, everyone - totals[OUT_OF_OFFICE]),
        (true, totals[OUT_OF_OFFICE]),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(is_out_of_office, count)| OutOfOfficeCount {
        is_out_of_office,
        count,
    })
    .collect()
}

/// Answers an agent-state counts request at `now` under the abandon surge `surge` (no
/// agents surge), as the endpoint would: what a test computes its expectations from.
pub fn agent_state_counts(
    org: &SimulatedOrg,
    surge: Option<&super::Surge>,
    group_by: &[String],
    request: &AgentStateCountsRequest,
    now: Timestamp,
) -> Result<AgentStateCountsResponse, ErrorBody> {
    let surges = Surges {
        abandon: surge,
        agents: None,
    };
    count_under(org, surges, group_by, request, now)
}

impl Simulator {
    /// Answers an agent-state counts request at `now` under the surges in force, as the
    /// endpoint does.
    pub fn agent_state_counts(
        &self,
        group_by: &[String],
        request: &AgentStateCountsRequest,
        now: Timestamp,
    ) -> Result<AgentStateCountsResponse, ErrorBody> {
        self.under_surges(|surges| count_under(self.org(), surges, group_by, request, now))
    }
}

/// `POST AGENT_STATUS_COUNTS_PATH?groupBy=...`: the org's agents now, by the simulator's
/// clock.
pub(super) async fn answer(
    State(sim): State<Simulator>,
    Params(params): Params<Vec<(String, String)>>,
    JsonBody(body): JsonBody<AgentStateCountsRequest>,
) -> Result<Response, Response> {
    let request = body.map_err(|problem| {
        sim.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, "body")
    })?;
    let group_by: Vec<String> = params
        .into_iter()
        .filter(|(key, _)| key == "groupBy")
        .map(|(_, value)| value)
        .collect();
    let response = sim
        .answer_now(move |org, surges, now| count_under(org, surges, &group_by, &request, now))
        .await?;
    Ok(Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surge::AgentsSurge;
    use crate::{DEMO_MEDIA_TYPES, observe};
    use genesys_wire::{AgentStateFilter, AgentStatePredicate, ObservationQuery};

    const ALL: [&str; 4] = AGENT_STATUS_GROUP_BY;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn group_by(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn filtered(kind: &str, predicates: &[(&str, &str)]) -> AgentStateCountsRequest {
        AgentStateCountsRequest {
            user_filter: Some(AgentStateFilter {
                kind: kind.into(),
                predicates: predicates
                    .iter()
                    .map(|(dimension, value)| AgentStatePredicate {
                        dimension: dimension.to_string(),
                        value: value.to_string(),
                    })
                    .collect(),
                clauses: Vec::new(),
            }),
        }
    }

    fn count(org: &SimulatedOrg, request: &AgentStateCountsRequest, now: Timestamp) -> Counts {
        Counts::of(&agent_state_counts(org, None, &group_by(&ALL), request, now).unwrap())
    }

    /// An answer as value → count, per array.
    #[derive(Debug, Default, PartialEq)]
    struct Counts {
        statuses: HashMap<String, u64>,
        presences: HashMap<String, u64>,
        segments: HashMap<String, u64>,
        out_of_office: HashMap<bool, u64>,
    }

    impl Counts {
        fn of(answer: &AgentStateCountsResponse) -> Counts {
            let mut counts = Counts::default();
            for row in answer.routing_status_counts.iter().flatten() {
                counts
                    .statuses
                    .insert(row.routing_status.clone(), row.count);
            }
            for row in answer.presence_counts.iter().flatten() {
                counts
                    .presences
                    .insert(row.organization_presence_id.clone(), row.count);
            }
            for row in answer.segment_counts.iter().flatten() {
                counts.segments.insert(row.segment_type.clone(), row.count);
            }
            for row in answer.is_out_of_office_counts.iter().flatten() {
                counts.out_of_office.insert(row.is_out_of_office, row.count);
            }
            counts
        }

        fn add(&mut self, other: &Counts) {
            for (k, v) in &other.statuses {
                *self.statuses.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &other.presences {
                *self.presences.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &other.segments {
                *self.segments.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &other.out_of_office {
                *self.out_of_office.entry(*k).or_default() += v;
            }
        }

        fn everyone(&self) -> u64 {
            self.presences.values().sum()
        }

        fn logged_in(&self) -> u64 {
            self.everyone()
                - self
                    .presences
                    .get(&presence_id(OFFLINE))
                    .copied()
                    .unwrap_or(0)
        }
    }

    /// The users rows of one queue's observation, as counts of the same shape.
    fn observed(org: &SimulatedOrg, queue: &str, now: Timestamp) -> Counts {
        let query: ObservationQuery = serde_json::from_value(serde_json::json!({
            "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": queue}]},
            "metrics": ["oUserRoutingStatuses", "oUserPresences"]}))
        .unwrap();
        let answer = observe(org, None, &query, now).unwrap();
        let mut counts = Counts::default();
        for row in &answer.results[0].data {
            let count = row.stats.count.unwrap() as u64;
            let qualifier = row.qualifier.clone().unwrap();
            if count == 0 {
                continue;
            }
            match row.metric.as_str() {
                "oUserRoutingStatuses" => counts.statuses.insert(qualifier, count),
                _ => counts.presences.insert(qualifier, count),
            };
        }
        counts
    }

    #[test]
    fn each_queue_counts_the_agents_its_observations_show_and_the_org_each_person_once() {
        for (org, now) in [
            (SimulatedOrg::demo(), ts("2026-08-20T14:07:00Z")),
            (SimulatedOrg::demo(), ts("2026-08-20T03:00:00Z")),
            (
                SimulatedOrg::demo_named("east").with_floor(0.8),
                ts("2026-08-22T22:41:00Z"),
            ),
            (
                SimulatedOrg::with_queues(41, DEMO_MEDIA_TYPES.map(String::from).to_vec()),
                ts("2026-08-20T11:30:00Z"),
            ),
        ] {
            let org_wide = count(&org, &AgentStateCountsRequest::default(), now);
            let mut queues_added = Counts::default();
            for queue in &org.queues {
                let by_queue = count(&org, &filtered("or", &[("queueId", &queue.id)]), now);
                let observed = observed(&org, &queue.id, now);
                assert_eq!(by_queue.statuses, observed.statuses, "{}", queue.name);
                assert_eq!(by_queue.presences, observed.presences, "{}", queue.name);
                queues_added.add(&by_queue);
            }
            // People in two queues are counted by both, by the org once.
            assert!(org_wide.everyone() < queues_added.everyone(), "{now}");
            // Routing statuses count those logged in; presences and out of office all.
            assert_eq!(
                org_wide.statuses.values().sum::<u64>(),
                org_wide.logged_in()
            );
            assert_eq!(
                org_wide.out_of_office.values().sum::<u64>(),
                org_wide.everyone()
            );
            let in_sessions: u64 = org_wide.segments.values().sum();
            let busy = ["INTERACTING", "COMMUNICATING", "NOT_RESPONDING"]
                .map(|s| org_wide.statuses.get(s).copied().unwrap_or(0));
            assert_eq!(in_sessions, busy.iter().sum::<u64>());
            // The divisions, and the teams, add up to the org.
            let mut divisions: Vec<&str> =
                org.queues.iter().map(|q| q.division.id.as_str()).collect();
            divisions.sort_unstable();
            divisions.dedup();
            for (dimension, values) in [
                (
                    "divisionId",
                    divisions.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                ),
                (
                    "teamId",
                    (0..TEAM_NAMES.len()).map(|t| team_id(&org, t)).collect(),
                ),
            ] {
                let mut added = Counts::default();
                for value in &values {
                    added.add(&count(&org, &filtered("or", &[(dimension, value)]), now));
                }
                assert_eq!(added, org_wide, "{dimension} at {now}");
            }
        }
    }

    #[test]
    fn a_pair_of_queues_shares_people_whom_and_and_or_count_once() {
        let org = SimulatedOrg::demo();
        let now = ts("2026-08-20T14:07:00Z");
        let (sales, support) = (org.queues[0].id.as_str(), org.queues[1].id.as_str());
        let one = |id| count(&org, &filtered("or", &[("queueId", id)]), now).everyone();
        let both = count(
            &org,
            &filtered("and", &[("queueId", sales), ("queueId", support)]),
            now,
        );
        let either = count(
            &org,
            &filtered("or", &[("queueId", sales), ("queueId", support)]),
            now,
        );
        assert!(both.everyone() > 0, "Sales and Support share people");
        assert_eq!(
            either.everyone() + both.everyone(),
            one(sales) + one(support)
        );
        // Billing pairs with Retention, not with Sales.
        let apart = filtered("and", &[("queueId", sales), ("queueId", &org.queues[2].id)]);
        assert_eq!(count(&org, &apart, now).everyone(), 0);
    }

    #[test]
    fn group_by_picks_the_arrays_and_bad_requests_are_refused() {
        let org = SimulatedOrg::demo();
        let now = ts("2026-08-20T14:07:00Z");
        let all = AgentStateCountsRequest::default();
        let answer = agent_state_counts(&org, None, &[], &all, now).unwrap();
        assert!(answer.segment_counts.is_some_and(|rows| !rows.is_empty()));
        assert_eq!(
            (
                answer.presence_counts,
                answer.routing_status_counts,
                answer.is_out_of_office_counts
            ),
            (None, None, None),
            "segmentType alone without groupBy"
        );
        let answer =
            agent_state_counts(&org, None, &group_by(&["routingStatus"]), &all, now).unwrap();
        assert!(answer.segment_counts.is_none() && answer.routing_status_counts.is_some());
        // No zero rows.
        assert!(
            answer
                .routing_status_counts
                .unwrap()
                .iter()
                .all(|r| r.count > 0)
        );

        for (group_by, request, field, problem) in [
            (
                group_by(&["adherence"]),
                all.clone(),
                "groupBy",
                "Invalid groupBy 'adherence'",
            ),
            (
                Vec::new(),
                filtered("or", &[("skillId", "s")]),
                "filter.predicates.dimension",
                "Invalid dimension 'skillId'",
            ),
            (
                Vec::new(),
                filtered("xor", &[("queueId", "q")]),
                "filter",
                "unknown variant `xor`",
            ),
        ] {
            let error = agent_state_counts(&org, None, &group_by, &request, now).unwrap_err();
            assert_eq!(error.status, 400);
            assert_eq!(error.details[0].field_name.as_deref(), Some(field));
            assert!(error.message.contains(problem), "{}", error.message);
        }
    }

    #[test]
    fn an_agents_surge_turns_the_queues_agents_on_queue_not_responding() {
        let org = SimulatedOrg::demo();
        let now = ts("2026-08-20T14:07:00Z");
        let support = filtered("or", &[("queueId", &org.queues[1].id)]);
        let calm = count(&org, &support, now);
        let surge = AgentsSurge {
            queue: "Support".into(),
            start: now,
        };
        let surges = Surges {
            abandon: None,
            agents: Some(&surge),
        };
        let stalled =
            Counts::of(&count_under(&org, surges, &group_by(&ALL), &support, now).unwrap());
        let on_queue: u64 = ["IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING"]
            .map(|s| calm.statuses.get(s).copied().unwrap_or(0))
            .iter()
            .sum();
        assert!(on_queue > 10);
        assert_eq!(stalled.statuses.get("NOT_RESPONDING"), Some(&on_queue));
        assert_eq!(
            stalled.statuses.get("OFF_QUEUE"),
            calm.statuses.get("OFF_QUEUE")
        );
        assert_eq!(stalled.segments.get("alert"), Some(&on_queue));
        assert_eq!(stalled.presences, calm.presences);
    }
}
