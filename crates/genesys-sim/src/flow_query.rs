//! The flows and data actions analytics, answered from the IVR model ([`super::flows`]):
//! the flows aggregates query, the actions aggregates query (both the shared aggregate
//! shape, checked and bucketed as the conversations query is, by [`Plan`]) and the flow
//! observations query.
//!
//! - Flows: a record is two facts, its entry (`nFlow`, `tFlow`, `tFlowDisconnect`,
//!   `tFlowExit`; no outcome dimensions) and its outcome (`nFlowOutcome`,
//!   `nFlowOutcomeFailed`, `tFlowOutcome`; with `flowOutcomeId`, `flowOutcome`,
//!   `flowOutcomeValue`). Grouped by an outcome dimension, the entry metrics come in groups
//!   without it and the outcome metrics in a group per outcome; grouped by none, both in the
//!   same group. `nFlowMilestone` and `oFlowMilestone` are accepted and never reported (the
//!   flows have no milestones).
//! - Actions: each execution is a fact of `tTotalExecution` (`count`, `sum`, `min`, `max`,
//!   milliseconds); `errorType` is absent for a 2xx `responseStatus`.
//! - Flow observations: `oFlow`, the conversations in each flow now, one group per flow the
//!   filter picks (by `flowId` and `mediaType`, the only dimensions it takes): the group
//!   echoes the `flowId`, and the `mediaType` when the filter names one; a count of 0 is
//!   given, not left out.

use jiff::Timestamp;

use super::answer::{Catalogue, Cells, Plan};
use super::architect::{Architect, SimFlow};
use super::filter::{Dimensions, Filter};
use super::flows::{
    FlowEnding, FlowFact, FlowRecord, Surges, each_record, flow_atoms, in_flows_now, minute_slots,
};
use super::protocol::bad_request;
use super::queue_observations::MAX_OBSERVATION_PREDICATES;
use super::simulated_org::SimulatedOrg;
use super::tally::Timer;
use genesys_wire::catalogue::{ACTION_DIMENSIONS, ACTION_METRICS, FLOW_DIMENSIONS, FLOW_METRICS};
use genesys_wire::{
    AggregateResponse, AggregationQuery, ErrorBody, ObservationEntry, ObservationGroup,
    ObservationQuery, ObservationStats, Stats,
};

/// Whether the flows query knows the dimension: the API notes' 100 groupBy values, which
/// are also its filter's dimensions here.
pub fn is_flow_dimension(name: &str) -> bool {
    FLOW_DIMENSIONS.contains(&name)
}

const FLOWS: Catalogue = Catalogue {
    is_metric: |name| FLOW_METRICS.contains(&name),
    is_dimension: is_flow_dimension,
};

const ACTIONS: Catalogue = Catalogue {
    is_metric: |name| ACTION_METRICS.contains(&name),
    is_dimension: |name| ACTION_DIMENSIONS.contains(&name),
};

/// What a group's bucket of flow facts adds up to.
#[derive(Debug, Clone, Default)]
struct FlowTally {
    flow: Timer,
    disconnect: Timer,
    exit: Timer,
    outcome: Timer,
    failed: u64,
}

impl FlowTally {
    fn metric(&self, name: &str) -> Option<Stats> {
        let count = |n: u64| {
            (n > 0).then(|| Stats {
                count: Some(n as f64),
                ..Stats::default()
            })
        };
        match name {
            "nFlow" => count(self.flow.count()),
            "tFlow" => self.flow.stats(),
            "tFlowDisconnect" => self.disconnect.stats(),
            "tFlowExit" => self.exit.stats(),
            "nFlowOutcome" => count(self.outcome.count()),
            "nFlowOutcomeFailed" => count(self.failed),
            "tFlowOutcome" => self.outcome.stats(),
            _ => None,
        }
    }
}

/// Answers a flows aggregates query under `surges`, as the real API would.
pub fn flow_aggregate(
    org: &SimulatedOrg,
    surges: Surges,
    query: &AggregationQuery,
) -> Result<AggregateResponse, ErrorBody> {
    let plan = Plan::new(query, &FLOWS)?;
    let mut cells: Cells<FlowTally> = Cells::new();
    each_record_in_buckets(org, surges, &plan, |index, record| {
        let entry = FlowFact {
            record,
            outcome: false,
        };
        if plan.accepts(&entry) {
            let cell = &mut plan.cells(&mut cells, plan.key(&entry))[index];
            let ms = record.flow_ms();
            cell.flow.record(ms);
            match record.ending {
                FlowEnding::Disconnect => cell.disconnect.record(ms),
                FlowEnding::SelfService => cell.exit.record(ms),
                FlowEnding::Queue => {}
            }
        }
        let outcome = FlowFact {
            record,
            outcome: true,
        };
        if plan.accepts(&outcome) {
            let cell = &mut plan.cells(&mut cells, plan.key(&outcome))[index];
            cell.outcome.record(record.outcome_ms);
            if !record.outcome_success {
                cell.failed += 1;
            }
        }
    })?;
    plan.answer(cells, FlowTally::metric)
}

/// Answers a data actions aggregates query under `surges`, as the real API would.
pub fn action_aggregate(
    org: &SimulatedOrg,
    surges: Surges,
    query: &AggregationQuery,
) -> Result<AggregateResponse, ErrorBody> {
    let plan = Plan::new(query, &ACTIONS)?;
    let mut cells: Cells<Timer> = Cells::new();
    each_record_in_buckets(org, surges, &plan, |index, record| {
        for call in record.calls.iter().filter(|c| plan.accepts(*c)) {
            plan.cells(&mut cells, plan.key(call))[index].record(call.duration_ms);
        }
    })?;
    plan.answer(cells, |timer, name| match name {
        "tTotalExecution" => timer.stats(),
        _ => None,
    })
}

/// Calls `visit` with each flow record of the plan's buckets and the bucket's index, or
/// refuses a query that would be too much work.
fn each_record_in_buckets(
    org: &SimulatedOrg,
    surges: Surges,
    plan: &Plan,
    mut visit: impl FnMut(usize, &FlowRecord),
) -> Result<(), ErrorBody> {
    let architect = Architect::of(org);
    let atoms = flow_atoms(org, &architect);
    plan.check_work(atoms.len())?;
    for (atom, flow) in &atoms {
        for (index, &(start, end)) in plan.buckets.iter().enumerate() {
            for minute in minute_slots(start, end) {
                each_record(&architect, atom, flow, minute, surges, |record| {
                    visit(index, &record);
                });
            }
        }
    }
    Ok(())
}

/// A flow as the observations filter sees it.
struct Picked<'a>(&'a SimFlow);

impl Dimensions for Picked<'_> {
    fn dimension(&self, name: &str) -> Option<&str> {
        match name {
            "flowId" => Some(&self.0.id),
            "mediaType" => Some(self.0.media_type),
            _ => None,
        }
    }
}

/// The answer to a flow observations query: `{"results": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FlowObservations {
    pub results: Vec<ObservationGroup>,
}

/// Answers a flow observations query at instant `now`, under `surges`, as the real API
/// would. Validation errors are the real error body with status 400.
pub fn observe_flows(
    org: &SimulatedOrg,
    surges: Surges,
    query: &ObservationQuery,
    now: Timestamp,
) -> Result<FlowObservations, ErrorBody> {
    let invalid = |problem: String| bad_request("invalid.value", "metrics", problem);
    if query.metrics.is_empty() {
        return Err(bad_request(
            "constraint.validation",
            "metrics",
            "metrics must not be empty".to_string(),
        ));
    }
    let metrics = query.metrics.iter().chain(&query.detail_metrics);
    if let Some(unknown) = metrics.into_iter().find(|m| *m != "oFlow") {
        return Err(invalid(format!(
            "Invalid metric '{unknown}': the flow observations query has oFlow only"
        )));
    }
    let filter = Filter::parse_for(&query.filter, is_flow_dimension)?;
    filter.check_dimensions(&["flowId", "mediaType"])?;
    filter.check_predicate_count(MAX_OBSERVATION_PREDICATES)?;
    let architect = Architect::of(org);
    let counts = in_flows_now(org, &architect, surges, now);
    let by_media = filter.mentions("mediaType");
    let results = architect
        .flows
        .iter()
        .zip(counts)
        .filter(|(flow, _)| filter.accepts(&Picked(flow)))
        .map(|(flow, count)| {
            let mut group = std::collections::BTreeMap::new();
            group.insert("flowId".to_string(), flow.id.clone());
            if by_media {
                group.insert("mediaType".to_string(), flow.media_type.to_string());
            }
            ObservationGroup {
                group,
                data: vec![ObservationEntry {
                    metric: "oFlow".to_string(),
                    qualifier: None,
                    stats: ObservationStats {
                        count: Some(count as f64),
                        calculated_metric_value: None,
                    },
                    truncated: false,
                }],
            }
        })
        .collect();
    Ok(FlowObservations { results })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::failure_surge::FailureSurge;
    use crate::flows::MAX_FLOW_MS;
    use crate::{aggregate, flow_records};
    use genesys_wire::IntervalData;

    /// A weekday afternoon hour of the demo, in four buckets.
    const HOUR: &str = "2026-08-20T14:00:00.000Z/2026-08-20T15:00:00.000Z";

    const ENTRY_AND_OUTCOME: [&str; 7] = [
        "nFlow",
        "nFlowOutcome",
        "nFlowOutcomeFailed",
        "tFlow",
        "tFlowDisconnect",
        "tFlowExit",
        "tFlowOutcome",
    ];

    fn query(interval: &str, group_by: &[&str], metrics: &[&str]) -> AggregationQuery {
        AggregationQuery {
            interval: interval.to_string(),
            granularity: Some("PT15M".to_string()),
            time_zone: None,
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            filter: None,
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn count(data: &IntervalData, metric: &str) -> u64 {
        let entry = data.metrics.iter().find(|m| m.metric == metric);
        entry.and_then(|m| m.stats.count).unwrap_or(0.0) as u64
    }

    /// `metric`'s count in each (group value of `dimension`, bucket) of a response; groups
    /// without the dimension are under "".
    fn counts(
        response: &AggregateResponse,
        dimension: &str,
        metric: &str,
    ) -> BTreeMap<(String, String), u64> {
        let mut counts = BTreeMap::new();
        for group in &response.results {
            let value = group.group.get(dimension).cloned().unwrap_or_default();
            for data in &group.data {
                let n = count(data, metric);
                if n > 0 {
                    *counts
                        .entry((value.clone(), data.interval.clone()))
                        .or_default() += n;
                }
            }
        }
        counts
    }

    fn demo() -> SimulatedOrg {
        SimulatedOrg::demo()
    }

    #[test]
    fn every_entry_reports_one_outcome_and_leaves_for_a_queue_or_in_the_ivr() {
        let org = demo();
        let q = query(
            HOUR,
            &["flowId", "flowType", "flowOutcomeId"],
            &ENTRY_AND_OUTCOME,
        );
        let response = flow_aggregate(&org, Surges::default(), &q).unwrap();
        // Entry metrics in groups without flowOutcomeId, outcome metrics in groups with it.
        for group in &response.results {
            let has_outcome = group.group.contains_key("flowOutcomeId");
            for data in &group.data {
                for entry in &data.metrics {
                    let outcome_metric = entry.metric.contains("Outcome");
                    assert_eq!(
                        outcome_metric, has_outcome,
                        "{}: {:?}",
                        entry.metric, group.group
                    );
                }
            }
            assert_eq!(group.data.len(), 4, "four buckets, all busy");
        }
        let entries = counts(&response, "flowId", "nFlow");
        let outcomes = counts(&response, "flowId", "nFlowOutcome");
        let disconnects = counts(&response, "flowId", "tFlowDisconnect");
        let exits = counts(&response, "flowId", "tFlowExit");
        assert_eq!(entries.len(), 3 * 4, "three flows, four buckets");
        assert_eq!(
            outcomes, entries,
            "one outcome per entry, per flow and bucket"
        );
        // The rest of the entries went on to the flow's queues: their offered conversations.
        let offered =
            aggregate(&org, &query(HOUR, &["queueId", "mediaType"], &["nOffered"])).unwrap();
        let architect = Architect::of(&org);
        for ((flow_id, interval), &n) in &entries {
            let flow = architect.flows.iter().find(|f| f.id == *flow_id).unwrap();
            let queued: u64 = offered
                .results
                .iter()
                .filter(|g| g.group["mediaType"] == flow.media_type)
                .filter(|g| {
                    let queue = org
                        .queues
                        .iter()
                        .find(|q| q.id == g.group["queueId"])
                        .unwrap();
                    let retention = ["Retention", "VIP"].contains(&queue.name.as_str());
                    match flow.name.as_str() {
                        "Main IVR" => !retention,
                        "Retention IVR" => retention,
                        _ => true,
                    }
                })
                .flat_map(|g| g.data.iter().filter(|d| d.interval == *interval))
                .map(|d| count(d, "nOffered"))
                .sum();
            let key = (flow_id.clone(), interval.clone());
            let ivr = disconnects.get(&key).copied().unwrap_or(0) + exits[&key];
            assert_eq!(n, queued + ivr, "{} {interval}", flow.name);
            assert!(queued > ivr, "{}: most callers reach a queue", flow.name);
        }
        // Grouped by queue, the entries that went on to it are its offered conversations.
        let by_queue = flow_aggregate(
            &org,
            Surges::default(),
            &query(HOUR, &["queueId", "mediaType"], &["nFlow"]),
        )
        .unwrap();
        let mut queued = counts(&by_queue, "queueId", "nFlow");
        let mut offered_voice_chat = BTreeMap::new();
        for group in offered
            .results
            .iter()
            .filter(|g| ["voice", "chat"].contains(&g.group["mediaType"].as_str()))
        {
            for data in &group.data {
                *offered_voice_chat
                    .entry((group.group["queueId"].clone(), data.interval.clone()))
                    .or_insert(0) += count(data, "nOffered");
            }
        }
        queued.retain(|(queue, _), _| !queue.is_empty());
        assert_eq!(queued, offered_voice_chat);
    }

    #[test]
    fn outcomes_fail_now_and_then_and_their_values_say_so() {
        let org = demo();
        let q = query(
            HOUR,
            &["flowName", "flowOutcome", "flowOutcomeValue"],
            &["nFlowOutcome", "nFlowOutcomeFailed"],
        );
        let response = flow_aggregate(&org, Surges::default(), &q).unwrap();
        let (mut all, mut failed) = (0, 0);
        for group in &response.results {
            let value = &group.group["flowOutcomeValue"];
            assert!(group.group["flowOutcome"].ends_with(&format!(":{value}")));
            for data in &group.data {
                let n = count(data, "nFlowOutcome");
                let f = count(data, "nFlowOutcomeFailed");
                assert_eq!(
                    f,
                    if value == "FAILURE" { n } else { 0 },
                    "{:?}",
                    group.group
                );
                all += n;
                failed += f;
            }
        }
        let share = failed as f64 / all as f64;
        assert!(
            share > 0.05 && share < 0.2,
            "{share}: below the alert's 20%"
        );
        let architect = Architect::of(&org);
        let names: Vec<&str> = architect.outcomes.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Caller identified",
                "Payment taken",
                "Self-service complete"
            ]
        );
    }

    #[test]
    fn action_executions_are_the_flows_calls() {
        let org = demo();
        let q = query(
            HOUR,
            &["actionName", "responseStatus", "errorType"],
            &["tTotalExecution"],
        );
        let actions = action_aggregate(&org, Surges::default(), &q).unwrap();
        let flows = flow_aggregate(
            &org,
            Surges::default(),
            &query(HOUR, &["flowOutcomeId"], &["nFlow", "nFlowOutcome"]),
        )
        .unwrap();
        let executions = |name: &str| -> u64 {
            let groups = actions
                .results
                .iter()
                .filter(|g| g.group["actionName"] == name);
            groups
                .flat_map(|g| &g.data)
                .map(|d| count(d, "tTotalExecution"))
                .sum()
        };
        let entries: u64 = counts(&flows, "flowOutcomeId", "nFlow").values().sum();
        assert_eq!(
            executions("Lookup account"),
            entries,
            "one lookup per entry"
        );
        // The truth, record by record, agrees call by call.
        let architect = Architect::of(&org);
        let interval: genesys_wire::time::Interval = HOUR.parse().unwrap();
        let records = flow_records(
            &org,
            &architect,
            Surges::default(),
            interval.start,
            interval.end,
        );
        assert_eq!(records.len() as u64, entries);
        for action in &architect.actions {
            let calls = records
                .iter()
                .flat_map(|r| &r.calls)
                .filter(|c| c.action.id == action.id)
                .count() as u64;
            assert_eq!(executions(&action.name), calls, "{}", action.name);
        }
        let payments = architect
            .outcomes
            .iter()
            .find(|o| o.name == "Payment taken")
            .unwrap();
        let paid = counts(&flows, "flowOutcomeId", "nFlowOutcome")
            .iter()
            .filter(|((id, _), _)| *id == payments.id)
            .map(|(_, n)| n)
            .sum::<u64>();
        assert!(
            executions("Check balance") >= paid,
            "every payment checks the balance"
        );
        assert!(executions("Create case") < entries / 3);
        // errorType is absent exactly for 2xx; most executions succeed.
        let (mut ok, mut all) = (0, 0);
        for group in &actions.results {
            let status = &group.group["responseStatus"];
            assert_eq!(
                group.group.contains_key("errorType"),
                status != "200",
                "{:?}",
                group.group
            );
            let n: u64 = group.data.iter().map(|d| count(d, "tTotalExecution")).sum();
            all += n;
            if status == "200" {
                ok += n;
            }
        }
        let share = ok as f64 / all as f64;
        assert!(share > 0.9 && share < 0.99, "{share}");
    }

    #[test]
    fn conversation_errors_are_few_and_grouped_by_edge_and_code() {
        let org = demo();
        let day = "2026-08-20T00:00:00.000Z/2026-08-21T00:00:00.000Z";
        let metrics = ["nOffered", "nError", "nStateTransitionError"];
        let mut q = query(day, &["mediaType"], &metrics);
        q.granularity = None;
        let plain = aggregate(&org, &q).unwrap();
        q.group_by = vec!["mediaType".into(), "edgeId".into(), "errorCode".into()];
        let grouped = aggregate(&org, &q).unwrap();
        // Grouped by edge and code, the errors come in groups of their own, the other
        // metrics as they were.
        let (mut errors, mut transitions, mut edges, mut codes) = (0, 0, Vec::new(), Vec::new());
        for group in &grouped.results {
            let data = &group.data[0];
            if let Some(edge) = group.group.get("edgeId") {
                assert_eq!(count(data, "nOffered"), 0);
                edges.push(edge.clone());
                codes.push(group.group["errorCode"].clone());
                errors += count(data, "nError");
                transitions += count(data, "nStateTransitionError");
            } else {
                let same = plain
                    .results
                    .iter()
                    .find(|g| g.group == group.group)
                    .unwrap();
                assert_eq!(count(data, "nOffered"), count(&same.data[0], "nOffered"));
                assert_eq!(count(data, "nError"), 0);
            }
            if group.group.contains_key("edgeId") {
                assert_eq!(group.group["mediaType"], "voice", "only calls meet Edges");
            }
        }
        edges.sort();
        edges.dedup();
        codes.sort();
        codes.dedup();
        let mut known = crate::edge_ids(&org);
        known.sort();
        assert_eq!((edges, codes.len()), (known, 3));
        let voice = plain
            .results
            .iter()
            .find(|g| g.group["mediaType"] == "voice")
            .unwrap();
        assert_eq!(count(&voice.data[0], "nError"), errors);
        assert_eq!(count(&voice.data[0], "nStateTransitionError"), transitions);
        let offered = count(&voice.data[0], "nOffered") as f64;
        // Bounded by the voice conversations (queued and agent-direct), near their rates.
        let rate = errors as f64 / offered;
        assert!((0.012..0.03).contains(&rate), "{rate}");
        let rate = transitions as f64 / offered;
        assert!((0.002..0.01).contains(&rate), "{rate}");
        // A filter on an error code picks that code's errors, and no conversation.
        let code = crate::ERROR_CODES[0];
        let of_code: u64 = grouped
            .results
            .iter()
            .filter(|g| g.group.get("errorCode").map(String::as_str) == Some(code))
            .map(|g| count(&g.data[0], "nError"))
            .sum();
        q.group_by = Vec::new();
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"dimension": "errorCode", "value": code}]}));
        let filtered = aggregate(&org, &q).unwrap();
        assert_eq!(filtered.results.len(), 1);
        let data = &filtered.results[0].data[0];
        assert_eq!(
            (count(data, "nError"), count(data, "nOffered")),
            (of_code, 0)
        );
        assert!(of_code > 0);
    }

    #[test]
    fn a_flow_surge_fails_its_outcomes_from_its_start_only() {
        let org = demo();
        let surge = FailureSurge {
            target: "Main IVR".into(),
            start: "2026-08-20T14:30:00Z".parse().unwrap(),
        };
        let surging = Surges {
            flow: Some(&surge),
            ..Surges::default()
        };
        let q = query(HOUR, &["flowName", "flowOutcomeId"], &ENTRY_AND_OUTCOME);
        let (calm, failing) = (
            flow_aggregate(&org, Surges::default(), &q).unwrap(),
            flow_aggregate(&org, surging, &q).unwrap(),
        );
        let before = |r: &AggregateResponse| {
            let mut r = r.clone();
            for group in &mut r.results {
                group
                    .data
                    .retain(|d| d.interval.as_str() < "2026-08-20T14:30");
            }
            r
        };
        assert_eq!(
            before(&calm),
            before(&failing),
            "nothing changes before the start"
        );
        for (a, b) in calm.results.iter().zip(&failing.results) {
            assert_eq!(a.group, b.group);
            if a.group["flowName"] != "Main IVR" {
                assert_eq!(a, b, "other flows carry on");
                continue;
            }
            for (a, b) in a
                .data
                .iter()
                .zip(&b.data)
                .filter(|(d, _)| d.interval.as_str() >= "2026-08-20T14:30")
            {
                assert_eq!(count(a, "nFlow"), count(b, "nFlow"), "the same callers");
                assert_eq!(count(a, "nFlowOutcome"), count(b, "nFlowOutcome"));
            }
        }
        // From the start, most of the flow's outcomes fail: bucket by bucket, all outcomes.
        let main = Architect::of(&org).flows[0].name.clone();
        let failed = |r: &AggregateResponse, metric: &str| -> BTreeMap<String, u64> {
            let mut counts = BTreeMap::new();
            for group in r.results.iter().filter(|g| g.group["flowName"] == main) {
                for data in group
                    .data
                    .iter()
                    .filter(|d| d.interval.as_str() >= "2026-08-20T14:30")
                {
                    *counts.entry(data.interval.clone()).or_default() += count(data, metric);
                }
            }
            counts
        };
        let (outcomes, failures) = (
            failed(&failing, "nFlowOutcome"),
            failed(&failing, "nFlowOutcomeFailed"),
        );
        assert_eq!(outcomes.len(), 2);
        for (interval, n) in &outcomes {
            let share = failures[interval] as f64 / *n as f64;
            assert!(share > 0.75, "{share} {interval}");
            let calm = failed(&calm, "nFlowOutcomeFailed")[interval] as f64 / *n as f64;
            assert!(calm < 0.2, "{calm} {interval}");
        }
    }

    #[test]
    fn an_action_surge_times_its_action_out_from_its_start_only() {
        let org = demo();
        let surge = FailureSurge {
            target: "Lookup account".into(),
            start: "2026-08-20T14:30:00Z".parse().unwrap(),
        };
        let surging = Surges {
            action: Some(&surge),
            ..Surges::default()
        };
        let answer = |interval: &str, surges| {
            let q = query(
                interval,
                &["actionName", "responseStatus", "errorType"],
                &["tTotalExecution"],
            );
            action_aggregate(&org, surges, &q).unwrap()
        };
        let before = "2026-08-20T14:00:00.000Z/2026-08-20T14:30:00.000Z";
        assert_eq!(answer(before, surging), answer(before, Surges::default()));
        let after = "2026-08-20T14:30:00.000Z/2026-08-20T15:00:00.000Z";
        let (calm, failing) = (answer(after, Surges::default()), answer(after, surging));
        let total = |r: &AggregateResponse, name: &str, status: Option<&str>| -> u64 {
            r.results
                .iter()
                .filter(|g| g.group["actionName"] == name)
                .filter(|g| status.is_none_or(|s| g.group["responseStatus"] == s))
                .flat_map(|g| &g.data)
                .map(|d| count(d, "tTotalExecution"))
                .sum()
        };
        let all = total(&failing, "Lookup account", None);
        assert_eq!(all, total(&calm, "Lookup account", None), "the same calls");
        let timeouts = total(&failing, "Lookup account", Some("504"));
        assert!(timeouts as f64 / all as f64 > 0.8, "{timeouts} of {all}");
        let slow = failing
            .results
            .iter()
            .find(|g| {
                g.group["actionName"] == "Lookup account" && g.group["responseStatus"] == "504"
            })
            .unwrap();
        assert_eq!(slow.group["errorType"], "timeout");
        for data in &slow.data {
            let stats = &data.metrics[0].stats;
            assert!(stats.min.unwrap() >= 10_000.0 && stats.max.unwrap() < 15_000.0);
        }
        for name in ["Check balance", "Create case"] {
            assert_eq!(total(&failing, name, Some("504")), 0, "{name} carries on");
            assert_eq!(total(&failing, name, None), total(&calm, name, None));
        }
    }

    #[test]
    fn the_same_query_gets_the_same_answer_and_orgs_have_their_own_flows() {
        let org = demo();
        let q = query(HOUR, &["flowId", "flowOutcomeId"], &ENTRY_AND_OUTCOME);
        let once = flow_aggregate(&org, Surges::default(), &q).unwrap();
        assert_eq!(
            once,
            flow_aggregate(&demo(), Surges::default(), &q).unwrap()
        );
        let east = SimulatedOrg::demo_named("east");
        let (a, b) = (Architect::of(&org), Architect::of(&east));
        for (x, y) in a.flows.iter().zip(&b.flows) {
            assert_eq!(x.name, y.name);
            assert_ne!(x.id, y.id);
        }
        assert_ne!(a.actions[0].id, b.actions[0].id);
        assert!(a.actions.iter().all(|x| x.id.starts_with("custom_-_")));
        // An org without chat has no chat flow; one without voice no IVR.
        let voice_only = SimulatedOrg::with_queues(6, vec!["voice".into()]);
        let names: Vec<String> = Architect::of(&voice_only)
            .flows
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["Main IVR", "Retention IVR"]);
    }

    #[test]
    fn unknown_names_are_refused_as_the_conversations_query_refuses_them() {
        let org = demo();
        let refused = |result: Result<AggregateResponse, ErrorBody>| {
            let error = result.unwrap_err();
            (
                error.status,
                error.code,
                error.details[0].field_name.clone().unwrap(),
            )
        };
        let flows = |group_by: &[&str], metrics: &[&str]| {
            flow_aggregate(&org, Surges::default(), &query(HOUR, group_by, metrics))
        };
        let actions = |group_by: &[&str], metrics: &[&str]| {
            action_aggregate(&org, Surges::default(), &query(HOUR, group_by, metrics))
        };
        let invalid = |field: &str| (400, "invalid.value".to_string(), field.to_string());
        assert_eq!(refused(flows(&[], &["nOffered"])), invalid("metrics"));
        assert_eq!(
            refused(flows(&["actionId"], &["nFlow"])),
            invalid("groupBy")
        );
        assert_eq!(refused(actions(&[], &["nFlow"])), invalid("metrics"));
        assert_eq!(
            refused(actions(&["flowId"], &["tTotalExecution"])),
            invalid("groupBy")
        );
        assert_eq!(refused(flows(&[], &[])).1, "constraint.validation");
        let mut q = query(HOUR, &[], &["tTotalExecution"]);
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"dimension": "queueId", "value": "x"}]}));
        assert_eq!(
            refused(action_aggregate(&org, Surges::default(), &q)).1,
            "invalid.value"
        );
        // A filter on the action's name picks its executions only.
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"dimension": "actionName", "value": "Create case"}]}));
        q.group_by = vec!["actionName".into()];
        let answer = action_aggregate(&org, Surges::default(), &q).unwrap();
        assert_eq!(answer.results.len(), 1);
        assert_eq!(answer.results[0].group["actionName"], "Create case");
        // Milestones are accepted, and there are none.
        assert_eq!(
            flows(&[], &["nFlowMilestone", "oFlowMilestone"])
                .unwrap()
                .results,
            []
        );
    }

    #[test]
    fn the_flows_query_knows_the_hundred_dimensions_of_the_api() {
        assert_eq!(FLOW_DIMENSIONS.len(), 100);
        assert!(is_flow_dimension("flowOutcomeId") && is_flow_dimension("wrapUpCode"));
        assert!(!is_flow_dimension("originatingSocialMediaPublic"));
        assert!(!is_flow_dimension("actionId"));
    }

    fn observation(filter: serde_json::Value, metrics: &[&str]) -> ObservationQuery {
        ObservationQuery {
            filter,
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
            detail_metrics: Vec::new(),
        }
    }

    #[test]
    fn flow_observations_count_the_callers_in_each_flow_now() {
        let org = demo();
        let architect = Architect::of(&org);
        let now: Timestamp = "2026-08-20T14:07:00Z".parse().unwrap();
        let ids: Vec<&str> = architect.flows.iter().map(|f| f.id.as_str()).collect();
        let predicates: Vec<_> = ids
            .iter()
            .map(|id| serde_json::json!({"type": "dimension", "dimension": "flowId", "value": id}))
            .collect();
        let q = observation(
            serde_json::json!({"type": "or", "predicates": predicates}),
            &["oFlow"],
        );
        let answer = observe_flows(&org, Surges::default(), &q, now).unwrap();
        // The truth, from the records of the minutes around now.
        let (from, to) = (
            now - jiff::SignedDuration::from_millis(MAX_FLOW_MS as i64 + 60_000),
            now + jiff::SignedDuration::from_millis(MAX_FLOW_MS as i64 + 60_000),
        );
        let records = flow_records(&org, &architect, Surges::default(), from, to);
        let now_ms = now.as_millisecond();
        assert_eq!(answer.results.len(), 3);
        for (group, flow) in answer.results.iter().zip(&architect.flows) {
            assert_eq!(
                group.group,
                [("flowId".to_string(), flow.id.clone())].into()
            );
            let inside = records
                .iter()
                .filter(|r| r.flow.id == flow.id && r.entered_ms <= now_ms && now_ms < r.left_ms)
                .count() as f64;
            assert_eq!(group.data[0].metric, "oFlow");
            assert_eq!(group.data[0].stats.count, Some(inside), "{}", flow.name);
            assert!(
                inside > 3.0,
                "{}: {inside} in the flow on a weekday afternoon",
                flow.name
            );
        }
        // Filtered by media type too, the group says which.
        let q = observation(
            serde_json::json!({"type": "and", "predicates": [
                {"dimension": "flowId", "value": ids[2]},
                {"dimension": "mediaType", "value": "chat"}]}),
            &["oFlow"],
        );
        let answer = observe_flows(&org, Surges::default(), &q, now).unwrap();
        assert_eq!(answer.results.len(), 1);
        assert_eq!(answer.results[0].group["mediaType"], "chat");
        assert_eq!(answer.results[0].group["flowId"], ids[2]);
        // A flow that is not asked for is not answered; a count of 0 is given.
        let quiet: Timestamp = "2026-08-23T03:00:00Z".parse().unwrap();
        let q = observation(
            serde_json::json!({"type": "or", "predicates": [predicates[1].clone()]}),
            &["oFlow"],
        );
        let answer = observe_flows(&SimulatedOrg::demo(), Surges::default(), &q, quiet).unwrap();
        assert_eq!(answer.results.len(), 1);
        assert!(answer.results[0].data[0].stats.count.is_some());
        // Other metrics and dimensions are refused.
        for (filter, metrics, field) in [
            (
                serde_json::json!({"type": "or", "predicates": [predicates[0].clone()]}),
                &["oWaiting"][..],
                "metrics",
            ),
            (
                serde_json::json!({"type": "or", "predicates": [predicates[0].clone()]}),
                &[][..],
                "metrics",
            ),
            (
                serde_json::json!({"type": "or", "predicates": [
                {"dimension": "queueId", "value": "x"}]}),
                &["oFlow"][..],
                "filter.predicates.dimension",
            ),
        ] {
            let error = observe_flows(&org, Surges::default(), &observation(filter, metrics), now)
                .unwrap_err();
            assert_eq!(error.status, 400);
            assert_eq!(error.details[0].field_name.as_deref(), Some(field));
        }
    }
}
