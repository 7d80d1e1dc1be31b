//! The queue observations query (`POST /api/v2/analytics/queues/observations/query`)
//! answered as the real API would: what the queues' conversations ([`super::live`]) and
//! agents ([`super::agents`]) are doing at an instant.
//!
//! The shape, as `genesys-api.md` describes the real one:
//! - the filter picks queues (and media types) with `queueId` and `mediaType` predicates;
//!   other dimensions are a 400, and so is a filter of more than
//!   [`MAX_OBSERVATION_PREDICATES`] predicates or one that picks more than
//!   [`MAX_OBSERVATION_QUEUES`] queues;
//! - `metrics` is required: missing, empty or naming an unknown metric is a 400;
//!   `detailMetrics` is checked but no `observations` lists are given;
//! - the conversation metrics (oWaiting, oInteracting, oAlerting, oLongestWaiting,
//!   oLongestInteracting) come in one group per `{queueId, mediaType}`, each queue's media
//!   types in the org's order; the users metrics (oActiveUsers, oMemberUsers,
//!   oOnQueueUsers, oOffQueueUsers, oUserRoutingStatuses, oUserPresences) in one group per
//!   `{queueId}` after them, whatever the filter says of media types;
//! - counts are given when zero (nobody waiting is `count: 0`, not a missing entry);
//!   oOnQueueUsers has a row per on-queue routing status, oUserRoutingStatuses a row per
//!   routing status, oUserPresences a row per org presence ID, each row present when zero;
//! - oLongestWaiting and oLongestInteracting give in `calculatedMetricValue` the epoch
//!   millisecond at which the oldest conversation started waiting (interacting), with the
//!   number waiting (interacting) as `count`, and are absent when there is none;
//! - `systemToOrganizationMappings` maps each system presence to its org presence IDs.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::agents::{Agents, agents};
use super::filter::Filter;
use super::live::{Live, live};
use super::presences::{presence_id, system_to_organization_mappings};
use super::protocol::{JsonBody, bad_request};
use super::surge::Surge;
use super::traffic::{Atom, atoms};
use super::{SimQueue, SimulatedOrg, Simulator};
use genesys_wire::{
    ErrorBody, OBSERVATION_METRICS, ObservationEntry, ObservationGroup, ObservationQuery,
    ObservationResponse, ObservationStats,
};

/// Queues one observations request may pick. The real API documents no limit; public
/// clients ask for at most 100 at a time.
pub const MAX_OBSERVATION_QUEUES: usize = 1_000;

/// Predicates (in all clauses together) one observations filter may hold.
pub const MAX_OBSERVATION_PREDICATES: usize = 1_000;

/// The metrics that come in `{queueId, mediaType}` groups; the others come in `{queueId}`
/// groups.
const CONVERSATION_METRICS: [&str; 5] = [
    "oWaiting",
    "oInteracting",
    "oAlerting",
    "oLongestWaiting",
    "oLongestInteracting",
];

/// The on-queue routing statuses, in the order of oOnQueueUsers' rows.
const ON_QUEUE_STATUSES: [&str; 4] = ["IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING"];

/// Every routing status, in the order of oUserRoutingStatuses' rows.
const ROUTING_STATUSES: [&str; 5] = [
    "OFF_QUEUE",
    "IDLE",
    "INTERACTING",
    "NOT_RESPONDING",
    "COMMUNICATING",
];

/// Answers an observations query at instant `now`, under `surge`, as the real API would.
/// Validation errors are the real error body with status 400.
pub fn observe(
    org: &SimulatedOrg,
    surge: Option<&Surge>,
    query: &ObservationQuery,
    now: Timestamp,
) -> Result<ObservationResponse, ErrorBody> {
    let metrics = checked_metrics(query)?;
    let filter = Filter::parse(&query.filter)?;
    filter.check_dimensions(&["queueId", "mediaType"])?;
    filter.check_predicate_count(MAX_OBSERVATION_PREDICATES)?;

    // Each queue's atoms, and whether the filter picks each.
    let mut picked: Vec<(&SimQueue, Vec<(Atom, bool)>)> = Vec::new();
    for atom in atoms(org) {
        let Some(queue) = atom.queue() else { continue };
        let accepted = filter.accepts(&atom);
        match picked.last_mut() {
            Some((last, atoms)) if last.id == queue.id => atoms.push((atom, accepted)),
            _ => picked.push((queue, vec![(atom, accepted)])),
        }
    }
    picked.retain(|(_, atoms)| atoms.iter().any(|(_, accepted)| *accepted));
    if picked.len() > MAX_OBSERVATION_QUEUES {
        return Err(bad_request(
            "constraint.validation",
            "filter",
            format!(
                "The filter picks {} queues, more than {MAX_OBSERVATION_QUEUES}: ask for fewer at a time",
                picked.len()
            ),
        ));
    }

    let users_wanted = metrics.iter().any(|m| !CONVERSATION_METRICS.contains(m));
    let now_ms = now.as_millisecond();
    let mut results = Vec::new();
    for (queue, atoms) in picked {
        let mut interacting = 0;
        for (atom, accepted) in &atoms {
            if !accepted && !users_wanted {
                continue;
            }
            let live = live(atom, surge, now_ms);
            interacting += live.interacting;
            if !accepted {
                continue;
            }
            let data = conversation_entries(&metrics, &live);
            if !data.is_empty() {
                results.push(ObservationGroup {
                    group: [
                        ("queueId".to_string(), queue.id.clone()),
                        ("mediaType".to_string(), atom.media().to_string()),
                    ]
                    .into(),
                    data,
                });
            }
        }
        if users_wanted {
            let agents = agents(queue, &org.media_types, surge, now_ms, interacting);
            results.push(ObservationGroup {
                group: [("queueId".to_string(), queue.id.clone())].into(),
                data: users_entries(&metrics, &agents),
            });
        }
    }
    Ok(ObservationResponse {
        system_to_organization_mappings: system_to_organization_mappings(),
        results,
    })
}

/// The query's metrics, each once, in its order; or the real API's 400.
fn checked_metrics(query: &ObservationQuery) -> Result<Vec<&str>, ErrorBody> {
    if query.metrics.is_empty() {
        return Err(bad_request(
            "constraint.validation",
            "metrics",
            "metrics must not be empty".to_string(),
        ));
    }
    let known = |m: &String| OBSERVATION_METRICS.contains(&m.as_str());
    if let Some(unknown) = query.metrics.iter().find(|m| !known(m)) {
        return Err(bad_request(
            "invalid.value",
            "metrics",
            format!("Invalid metric '{unknown}'"),
        ));
    }
    let detail = |m: &String| known(m) && !m.starts_with("oLongest");
    if let Some(unknown) = query.detail_metrics.iter().find(|m| !detail(m)) {
        return Err(bad_request(
            "invalid.value",
            "detailMetrics",
            format!("Invalid detail metric '{unknown}'"),
        ));
    }
    let mut metrics: Vec<&str> = Vec::new();
    for metric in &query.metrics {
        if !metrics.contains(&metric.as_str()) {
            metrics.push(metric);
        }
    }
    Ok(metrics)
}

fn entry(metric: &str, qualifier: Option<&str>, count: u64) -> ObservationEntry {
    ObservationEntry {
        metric: metric.to_string(),
        qualifier: qualifier.map(str::to_string),
        stats: ObservationStats {
            count: Some(count as f64),
            calculated_metric_value: None,
        },
        truncated: false,
    }
}

fn conversation_entries(metrics: &[&str], live: &Live) -> Vec<ObservationEntry> {
    let longest = |metric: &str, count: u64, since: Option<i64>| {
        since.map(|ms| ObservationEntry {
            stats: ObservationStats {
                count: Some(count as f64),
                calculated_metric_value: Some(ms as f64),
            },
            ..entry(metric, None, count)
        })
    };
    metrics
        .iter()
        .filter_map(|&metric| match metric {
            "oWaiting" => Some(entry(metric, None, live.waiting)),
            "oInteracting" => Some(entry(metric, None, live.interacting)),
            "oAlerting" => Some(entry(metric, None, live.alerting)),
            "oLongestWaiting" => longest(metric, live.waiting, live.oldest_waiting_ms),
            "oLongestInteracting" => longest(metric, live.interacting, live.oldest_interacting_ms),
            _ => None,
        })
        .collect()
}

fn users_entries(metrics: &[&str], agents: &Agents) -> Vec<ObservationEntry> {
    let mut data = Vec::new();
    for &metric in metrics {
        match metric {
            "oActiveUsers" => data.push(entry(metric, None, agents.active)),
            "oMemberUsers" => data.push(entry(metric, None, agents.members)),
            "oOffQueueUsers" => data.push(entry(metric, None, agents.off_queue)),
            "oOnQueueUsers" | "oUserRoutingStatuses" => {
                let statuses: &[&str] = if metric == "oOnQueueUsers" {
                    &ON_QUEUE_STATUSES
                } else {
                    &ROUTING_STATUSES
                };
                for &status in statuses {
                    let count = match status {
                        "IDLE" => agents.idle,
                        "INTERACTING" => agents.interacting,
                        "COMMUNICATING" => agents.communicating,
                        "NOT_RESPONDING" => agents.not_responding,
                        _ => agents.off_queue,
                    };
                    data.push(entry(metric, Some(status), count));
                }
            }
            "oUserPresences" => {
                for (index, &count) in agents.presences.iter().enumerate() {
                    data.push(entry(metric, Some(&presence_id(index)), count));
                }
            }
            _ => {}
        }
    }
    data
}

impl Simulator {
    /// Answers an observations query at `now` under the surge in force, as the endpoint
    /// does: what a test expects the exporter to publish.
    pub fn observe(
        &self,
        query: &ObservationQuery,
        now: Timestamp,
    ) -> Result<ObservationResponse, ErrorBody> {
        observe(self.org(), self.surge().as_ref(), query, now)
    }
}

/// `POST OBSERVATIONS_PATH`: the queues now, by the simulator's clock.
pub(super) async fn answer(
    State(sim): State<Simulator>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, Response> {
    let bad = |problem: String, field: &str| {
        sim.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, field)
    };
    let body = body.map_err(|problem| bad(problem, "body"))?;
    if body.get("metrics").is_none_or(serde_json::Value::is_null) {
        return Err(sim.error_with_field(
            StatusCode::BAD_REQUEST,
            "constraint.validation",
            "metrics is required",
            "metrics",
        ));
    }
    let query: ObservationQuery =
        serde_json::from_value(body).map_err(|problem| bad(problem.to_string(), "body"))?;
    let now = sim.now();
    let surge = sim.surge();
    let state = Arc::clone(&sim.state);
    let response = sim
        .off_the_workers(move || observe(&state.config.org, surge.as_ref(), &query, now))
        .await?;
    Ok(Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::{queue_id, sales_surge};
    use super::*;
    use crate::{DEMO_MEDIA_TYPES, LOOKBACK_MINUTES, aggregate_with_surge};
    use genesys_wire::{AggregationQuery, Stats};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn query(filter: serde_json::Value, metrics: &[&str]) -> ObservationQuery {
        ObservationQuery {
            filter,
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            detail_metrics: Vec::new(),
        }
    }

    fn queues(ids: &[&str]) -> serde_json::Value {
        let predicates: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| serde_json::json!({"dimension": "queueId", "value": id}))
            .collect();
        serde_json::json!({"type": "or", "predicates": predicates})
    }

    fn group<'a>(
        response: &'a ObservationResponse,
        queue: &str,
        media: Option<&str>,
    ) -> &'a ObservationGroup {
        response
            .results
            .iter()
            .find(|g| {
                g.group.get("queueId").map(String::as_str) == Some(queue)
                    && g.group.get("mediaType").map(String::as_str) == media
            })
            .unwrap_or_else(|| panic!("no group {queue} {media:?}"))
    }

    /// The rows of `metric` in a group: qualifier → stats.
    fn rows<'a>(
        group: &'a ObservationGroup,
        metric: &str,
    ) -> BTreeMap<Option<&'a str>, &'a ObservationStats> {
        group
            .data
            .iter()
            .filter(|e| e.metric == metric)
            .map(|e| (e.qualifier.as_deref(), &e.stats))
            .collect()
    }

    fn count(group: &ObservationGroup, metric: &str) -> u64 {
        let rows = rows(group, metric);
        assert_eq!(rows.len(), 1, "{metric}: {rows:?}");
        rows[&None].count.unwrap() as u64
    }

    fn sum(group: &ObservationGroup, metric: &str) -> u64 {
        rows(group, metric)
            .values()
            .map(|s| s.count.unwrap() as u64)
            .sum()
    }

    fn status(group: &ObservationGroup, metric: &str, qualifier: &str) -> u64 {
        rows(group, metric)[&Some(qualifier)].count.unwrap() as u64
    }

    #[test]
    fn the_answer_has_the_real_shape() {
        let org = SimulatedOrg::demo();
        let (sales, vip) = (queue_id(&org, "Sales"), queue_id(&org, "VIP"));
        let now = ts("2026-08-20T14:07:00Z");
        let q = query(queues(&[&vip, &sales]), &OBSERVATION_METRICS);
        let response = observe(&org, None, &q, now).unwrap();
        // Per queue in the org's order: a group per media type, then the queue-only group.
        let keys: Vec<(String, Option<String>)> = response
            .results
            .iter()
            .map(|g| {
                (
                    g.group["queueId"].clone(),
                    g.group.get("mediaType").cloned(),
                )
            })
            .collect();
        let mut expected = Vec::new();
        for queue in [&sales, &vip] {
            for media in DEMO_MEDIA_TYPES {
                expected.push((queue.clone(), Some(media.to_string())));
            }
            expected.push((queue.clone(), None));
        }
        assert_eq!(keys, expected);
        assert_eq!(response.system_to_organization_mappings.len(), 10);
        let presence_ids: Vec<String> = Simulator::presences()
            .entities
            .into_iter()
            .map(|p| p.id)
            .collect();
        for queue in [&sales, &vip] {
            for media in DEMO_MEDIA_TYPES {
                let g = group(&response, queue, Some(media));
                let metrics: Vec<&str> = g.data.iter().map(|e| e.metric.as_str()).collect();
                let (waiting, interacting) = (count(g, "oWaiting"), count(g, "oInteracting"));
                count(g, "oAlerting");
                let mut present = vec!["oWaiting", "oInteracting", "oAlerting"];
                for (metric, number) in [
                    ("oLongestWaiting", waiting),
                    ("oLongestInteracting", interacting),
                ] {
                    let rows = rows(g, metric);
                    if number == 0 {
                        assert!(rows.is_empty(), "{metric} absent when there is none");
                        continue;
                    }
                    present.push(metric);
                    let since = rows[&None].calculated_metric_value.unwrap() as i64;
                    assert_eq!(rows[&None].count, Some(number as f64));
                    let age = now.as_millisecond() - since;
                    assert!(
                        (0..=LOOKBACK_MINUTES * 60_000).contains(&age),
                        "{metric}: {age} ms"
                    );
                }
                assert_eq!(metrics, present, "in the query's order");
                assert!(g.data.iter().all(|e| e.qualifier.is_none()));
            }
            let users = group(&response, queue, None);
            // One row per routing status, per presence; the invariants between them.
            let on_queue = rows(users, "oOnQueueUsers");
            assert_eq!(
                on_queue.keys().flatten().collect::<Vec<_>>(),
                [&"COMMUNICATING", &"IDLE", &"INTERACTING", &"NOT_RESPONDING"]
            );
            assert_eq!(rows(users, "oUserRoutingStatuses").len(), 5);
            let presences = rows(users, "oUserPresences");
            assert_eq!(presences.len(), 11);
            assert!(
                presence_ids
                    .iter()
                    .all(|id| presences.contains_key(&Some(id)))
            );
            let (active, members) = (count(users, "oActiveUsers"), count(users, "oMemberUsers"));
            let off_queue = count(users, "oOffQueueUsers");
            let on_queue = sum(users, "oOnQueueUsers");
            assert_eq!(on_queue + off_queue, active);
            assert_eq!(sum(users, "oUserRoutingStatuses"), active);
            assert_eq!(
                status(users, "oUserRoutingStatuses", "OFF_QUEUE"),
                off_queue
            );
            for s in ON_QUEUE_STATUSES {
                assert_eq!(
                    status(users, "oUserRoutingStatuses", s),
                    status(users, "oOnQueueUsers", s)
                );
            }
            assert_eq!(sum(users, "oUserPresences"), members);
            let mapping = &response.system_to_organization_mappings;
            let in_presence = |key: &str| -> u64 {
                mapping[key]
                    .iter()
                    .map(|id| status(users, "oUserPresences", id))
                    .sum()
            };
            assert_eq!(in_presence("ON_QUEUE"), on_queue);
            assert_eq!(in_presence("OFFLINE"), members - active);
            // A weekday afternoon: busy, staffed.
            assert!(active > members / 2 && on_queue > active / 2, "{queue}");
            let interacting: u64 = DEMO_MEDIA_TYPES
                .iter()
                .map(|m| count(group(&response, queue, Some(m)), "oInteracting"))
                .sum();
            assert_eq!(
                status(users, "oOnQueueUsers", "INTERACTING"),
                interacting.min(on_queue)
            );
        }
        let sales_voice = group(&response, &sales, Some("voice"));
        assert!(count(sales_voice, "oInteracting") >= 5);
        // The same question, the same answer.
        assert_eq!(observe(&org, None, &q, now).unwrap(), response);
    }

    #[test]
    fn nobody_waiting_is_a_zero_and_no_longest_wait() {
        let org = SimulatedOrg::demo();
        let vip = queue_id(&org, "VIP");
        let filter = serde_json::json!({"type": "and", "predicates": [
            {"dimension": "queueId", "value": vip},
            {"dimension": "mediaType", "value": "voice"}]});
        let q = query(filter, &["oLongestWaiting", "oWaiting"]);
        // VIP voice at night: a call every half hour or so, answered in seconds.
        let night = ts("2026-08-20T03:00:00Z");
        let response = observe(&org, None, &q, night).unwrap();
        assert_eq!(response.results.len(), 1, "no users group was asked for");
        let g = &response.results[0];
        assert_eq!(g.group["mediaType"], "voice");
        assert_eq!(count(g, "oWaiting"), 0);
        assert!(rows(g, "oLongestWaiting").is_empty());
        // Asked only for what is absent, the group has no data and is left out.
        let q = query(q.filter, &["oLongestWaiting"]);
        assert_eq!(observe(&org, None, &q, night).unwrap().results, vec![]);
    }

    #[test]
    fn the_filter_picks_queues_and_media_types() {
        let org = SimulatedOrg::demo();
        let (sales, vip) = (queue_id(&org, "Sales"), queue_id(&org, "VIP"));
        let now = ts("2026-08-20T14:07:00Z");
        let metrics = ["oWaiting", "oMemberUsers"];
        let keys = |filter: serde_json::Value| -> Vec<(String, Option<String>)> {
            observe(&org, None, &query(filter, &metrics), now)
                .unwrap()
                .results
                .into_iter()
                .map(|g| {
                    (
                        g.group["queueId"].clone(),
                        g.group.get("mediaType").cloned(),
                    )
                })
                .collect()
        };
        // mediaType alone: every queue's voice group, and every queue's users group.
        let voice = keys(serde_json::json!({"type": "and", "predicates": [
            {"dimension": "mediaType", "value": "voice"}]}));
        assert_eq!(voice.len(), 12);
        assert!(
            voice
                .iter()
                .all(|(_, m)| m.as_deref().is_none_or(|m| m == "voice"))
        );
        // Clauses: Sales, or VIP chat.
        let picked = keys(serde_json::json!({"type": "or",
            "predicates": [{"dimension": "queueId", "value": sales}],
            "clauses": [{"type": "and", "predicates": [
                {"dimension": "queueId", "value": vip},
                {"dimension": "mediaType", "value": "chat"}]}]}));
        assert_eq!(picked.len(), 5 + 2);
        assert!(picked.contains(&(vip.clone(), Some("chat".into()))));
        assert!(picked.contains(&(vip.clone(), None)));
        assert!(!picked.contains(&(vip.clone(), Some("voice".into()))));
        // A queue the org does not have: nothing.
        assert_eq!(keys(queues(&["00000000-0000-4000-8000-000000000000"])), []);
        // An empty filter restricts nothing: the whole org.
        assert_eq!(keys(serde_json::json!({"type": "or"})).len(), 30);
    }

    #[test]
    fn invalid_queries_get_the_real_error_codes() {
        let org = SimulatedOrg::demo();
        let now = ts("2026-08-20T14:07:00Z");
        let good = query(queues(&[&org.queues[0].id]), &["oWaiting"]);
        let error = |q: &ObservationQuery| {
            let e = observe(&org, None, q, now).unwrap_err();
            let field = e.details[0].field_name.clone().unwrap();
            (e.status, e.code, field)
        };
        let mut q = good.clone();
        q.metrics.clear();
        assert_eq!(
            error(&q),
            (400, "constraint.validation".into(), "metrics".into())
        );
        let mut q = good.clone();
        q.metrics.push("nOffered".into());
        assert_eq!(error(&q), (400, "invalid.value".into(), "metrics".into()));
        let mut q = good.clone();
        q.detail_metrics = vec!["oWaiting".into()];
        assert!(observe(&org, None, &q, now).is_ok());
        q.detail_metrics = vec!["oLongestWaiting".into()];
        assert_eq!(
            error(&q),
            (400, "invalid.value".into(), "detailMetrics".into())
        );
        let mut q = good.clone();
        q.filter = serde_json::json!({"type": "and", "predicates": [
            {"dimension": "direction", "value": "inbound"}]});
        assert_eq!(
            error(&q),
            (
                400,
                "invalid.value".into(),
                "filter.predicates.dimension".into()
            )
        );
        q.filter = serde_json::Value::Null;
        assert_eq!(error(&q).1, "bad.request");

        // Bounded: predicates, and the queues they pick.
        let ids: Vec<String> = (0..=MAX_OBSERVATION_PREDICATES)
            .map(|i| format!("queue-{i}"))
            .collect();
        let mut q = good.clone();
        q.filter = queues(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            error(&q),
            (400, "constraint.validation".into(), "filter".into())
        );
        let big = SimulatedOrg::with_queues(MAX_OBSERVATION_QUEUES + 1, vec!["voice".into()]);
        let mut q = good.clone();
        q.filter = serde_json::json!({"type": "or"});
        let e = observe(&big, None, &q, now).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.contains("1001 queues")),
            ("constraint.validation", true)
        );
        // At the limit it answers.
        let mut ids: Vec<&str> = big.queues.iter().map(|q| q.id.as_str()).collect();
        ids.truncate(MAX_OBSERVATION_QUEUES);
        let q = query(queues(&ids), &["oWaiting"]);
        assert_eq!(
            observe(&big, None, &q, now).unwrap().results.len(),
            MAX_OBSERVATION_QUEUES
        );
    }

    fn aggregates(
        org: &SimulatedOrg,
        surge: Option<&Surge>,
        interval: &str,
        queue: &str,
    ) -> Vec<(String, BTreeMap<String, Stats>)> {
        let q: AggregationQuery = serde_json::from_value(serde_json::json!({
            "interval": interval,
            "granularity": "PT1M",
            "groupBy": ["queueId", "mediaType"],
            "filter": {"type": "and", "predicates": [
                {"dimension": "queueId", "value": queue},
                {"dimension": "mediaType", "value": "voice"}]},
            "metrics": ["nOffered", "tWait", "tAbandon", "tAnswered"]}))
        .unwrap();
        let response = aggregate_with_surge(org, surge, &q).unwrap();
        response
            .results
            .into_iter()
            .flat_map(|g| g.data)
            .map(|d| {
                let metrics = d.metrics.into_iter().map(|m| (m.metric, m.stats)).collect();
                (d.interval, metrics)
            })
            .collect()
    }

    #[test]
    fn the_callers_waiting_now_are_in_the_aggregates_of_the_minutes_they_arrived_in() {
        let org = SimulatedOrg::demo();
        let sales = queue_id(&org, "Sales");
        let filter = serde_json::json!({"type": "and", "predicates": [
            {"dimension": "queueId", "value": sales},
            {"dimension": "mediaType", "value": "voice"}]});
        let q = query(filter, &["oWaiting", "oAlerting", "oLongestWaiting"]);
        let mut checked = 0;
        // Every 20 seconds of a busy quarter hour.
        for step in 0..45 {
            let now = ts("2026-08-20T14:00:00Z") + jiff::SignedDuration::from_secs(step * 20);
            let response = observe(&org, None, &q, now).unwrap();
            let g = &response.results[0];
            let waiting = count(g, "oWaiting");
            let Some(oldest) = rows(g, "oLongestWaiting")
                .get(&None)
                .map(|s| s.calculated_metric_value.unwrap() as i64)
            else {
                assert_eq!(waiting, 0);
                continue;
            };
            // The oldest caller arrived in some minute; that minute's nOffered counts it
            // and its tWait holds a wait at least as long as it has waited so far.
            let arrived = Timestamp::from_millisecond(oldest).unwrap();
            let minute_start =
                Timestamp::from_second(arrived.as_second().div_euclid(60) * 60).unwrap();
            let interval = format!(
                "{minute_start}/{}",
                minute_start + jiff::SignedDuration::from_secs(60)
            );
            let minutes = aggregates(&org, None, &interval, &sales);
            assert_eq!(minutes.len(), 1, "{interval}");
            let stats = &minutes[0].1;
            assert!(stats["nOffered"].count.unwrap() >= 1.0);
            let age = (now.as_millisecond() - oldest) as f64;
            assert!(
                stats["tWait"].max.unwrap() > age,
                "{now}: waited {age} ms, {stats:?}"
            );
            // Everyone waiting or alerting now arrived since the oldest did: the minutes
            // from its arrival to now offered at least that many.
            let since = format!(
                "{minute_start}/{}",
                Timestamp::from_second(now.as_second().div_euclid(60) * 60 + 60).unwrap()
            );
            let offered: f64 = aggregates(&org, None, &since, &sales)
                .iter()
                .map(|(_, s)| s["nOffered"].count.unwrap())
                .sum();
            assert!(offered >= (waiting + count(g, "oAlerting")) as f64);
            checked += 1;
        }
        assert!(
            checked >= 20,
            "{checked} of 45 instants had someone waiting"
        );
    }

    #[test]
    fn a_surge_empties_the_queue_and_lengthens_its_waits() {
        let org = SimulatedOrg::demo();
        let surge = sales_surge();
        let sales = queue_id(&org, "Sales");
        let q = query(serde_json::json!({"type": "or"}), &OBSERVATION_METRICS);
        // Up to its start, and on every other queue, nothing changes.
        let before = ts("2026-08-20T14:09:59.999Z");
        assert_eq!(
            observe(&org, Some(&surge), &q, before).unwrap(),
            observe(&org, None, &q, before).unwrap()
        );
        let later = ts("2026-08-20T14:15:00Z");
        let calm = observe(&org, None, &q, later).unwrap();
        let surging = observe(&org, Some(&surge), &q, later).unwrap();
        for (a, b) in calm.results.iter().zip(&surging.results) {
            assert_eq!(a.group, b.group);
            if a.group["queueId"] != sales {
                assert_eq!(a, b);
            }
        }
        // The staffing hole: nobody on queue, everyone logged in is off queue.
        let users = group(&surging, &sales, None);
        assert_eq!(sum(users, "oOnQueueUsers"), 0);
        assert_eq!(count(users, "oOffQueueUsers"), count(users, "oActiveUsers"));
        assert_eq!(
            status(users, "oUserRoutingStatuses", "OFF_QUEUE"),
            count(users, "oActiveUsers")
        );
        let on_queue_presence = &surging.system_to_organization_mappings["ON_QUEUE"][0];
        assert_eq!(status(users, "oUserPresences", on_queue_presence), 0);
        let calm_users = group(&calm, &sales, None);
        assert!(sum(calm_users, "oOnQueueUsers") > 40);
        // The callers pile up and wait: the model's figures for Sales voice at 14:15
        // (five minutes in): 9 waiting for up to 181 s, against 1 for 2 s without it.
        let age = |response: &ObservationResponse| {
            let g = group(response, &sales, Some("voice"));
            let since = rows(g, "oLongestWaiting")[&None]
                .calculated_metric_value
                .unwrap();
            (
                count(g, "oWaiting"),
                (later.as_millisecond() as f64 - since) / 1000.0,
            )
        };
        assert_eq!(age(&calm), (1, 1.983));
        assert_eq!(age(&surging), (9, 181.462));
        // Across the quarter hour after it starts, waits climb well past anything the
        // calm queue shows.
        let mut longest = (0.0f64, 0.0f64);
        for step in 3..=15 {
            let now = ts("2026-08-20T14:10:00Z") + jiff::SignedDuration::from_mins(step);
            for (seen, surge) in [(&mut longest.0, None), (&mut longest.1, Some(&surge))] {
                let response = observe(&org, surge, &q, now).unwrap();
                let g = group(&response, &sales, Some("voice"));
                if let Some(stats) = rows(g, "oLongestWaiting").get(&None) {
                    let age = now.as_millisecond() as f64 - stats.calculated_metric_value.unwrap();
                    *seen = seen.max(age / 1000.0);
                }
            }
        }
        assert!(longest.0 < 60.0 && longest.1 > 240.0, "{longest:?}");
    }

    #[test]
    fn any_instant_and_any_surge_get_an_answer() {
        let org = SimulatedOrg::demo();
        let q = query(serde_json::json!({"type": "or"}), &OBSERVATION_METRICS);
        for now in [Timestamp::MIN, Timestamp::UNIX_EPOCH, Timestamp::MAX] {
            for (abandon, wait_factor) in [(f64::NAN, f64::NAN), (-1.0, f64::INFINITY), (2.0, 0.0)]
            {
                let surge = Surge {
                    queue: "Sales".into(),
                    start: Timestamp::MIN,
                    abandon,
                    wait_factor,
                    volume: 1.0,
                };
                let response = observe(&org, Some(&surge), &q, now).unwrap();
                assert_eq!(response.results.len(), 30);
                let day = "2026-08-20T00:00:00Z/2026-08-21T00:00:00Z";
                assert!(!aggregates(&org, Some(&surge), day, &org.queues[0].id).is_empty());
            }
        }
    }
}
