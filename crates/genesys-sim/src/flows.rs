//! The IVR model: what each conversation did in its flow before it reached a queue, the
//! outcome it reported and the data actions it called ([`super::architect`] names them).
//!
//! Flows: "Main IVR" (INBOUNDCALL) is in front of every voice queue but Retention and VIP,
//! which "Retention IVR" (INBOUNDCALL) serves; "Web Chat" (INBOUNDCHAT) is in front of every
//! chat queue, when the org handles chat. Email, callbacks and agent-direct calls pass no
//! flow.
//!
//! Entries, drawn per (queue, media type) atom and minute slot, each a [`FlowRecord`]:
//! - every conversation the traffic model offers the queue (its usual callers, the
//!   standing backlog's, an abandon surge's extra ones) entered the queue's flow first and
//!   left it *for the queue* at the instant it arrived there;
//! - besides them, callers who hung up in the flow (`tFlowDisconnect`, about
//!   [`DISCONNECT_SHARE`] of the atom's mean) and callers served by the flow alone
//!   (`tFlowExit`, about [`SELF_SERVICE_SHARE`]), from streams of their own.
//!
//! So, per flow and per any bucket (a record counts in the minute slot of the instant it
//! leaves the flow, as a conversation in that of its arrival):
//! `nFlow = tFlowDisconnect.count + tFlowExit.count + Σ nOffered` of the flow's (queue,
//! media type) pairs, and `nFlow` grouped by `queueId` is the queue's `nOffered` exactly.
//!
//! Outcomes: every entry reports exactly one outcome, success or failure, so a flow's
//! `nFlowOutcome` summed over its outcomes is its `nFlow`, and `nFlowOutcomeFailed` counts
//! those that failed. Callers who go on to a queue report "Caller identified" (failed for
//! about [`QUEUED_FAILURE`] of them), callers who hang up report it failed, callers served
//! by the flow "Payment taken" (40%) or "Self-service complete" (failed for about
//! [`SELF_SERVICE_FAILURE`]). A flow surge fails [`FLOW_SURGE_FAILURE`] of the outcomes of
//! the records leaving its flow from its start on.
//!
//! Data actions: every entry calls "Lookup account"; "Payment taken" and a fifth of the
//! others call "Check balance"; a quarter of those going to a queue call "Create case".
//! Each execution takes a few hundred milliseconds and answers `200` (about 95%), `404`
//! (error type `not_found`) or `500` (`internal_error`); under an action surge,
//! [`ACTION_SURGE_TIMEOUT`] of the action's executions answer `504` (`timeout`) after
//! [`ACTION_SURGE_DURATION_MS`]. Calls are dated with their record.
//!
//! Everything is drawn from streams salted off the atom's own ([`Atom::key`]), one fork per
//! record, so that a surge changing one record's fate changes no other record's draws.

use std::ops::Range;

use jiff::Timestamp;

use super::architect::{
    Architect, CALLER_IDENTIFIED, CHECK_BALANCE, CREATE_CASE, LOOKUP_ACCOUNT, PAYMENT_TAKEN,
    SELF_SERVICE_COMPLETE, SimAction, SimFlow, SimOutcome,
};
use super::failure_surge::{
    ACTION_SURGE_DURATION_MS, ACTION_SURGE_TIMEOUT, FLOW_SURGE_FAILURE, FailureSurge,
};
use super::filter::Dimensions;
use super::random::{Draws, mix};
use super::surge::Surge;
use super::traffic::{Atom, atoms};
use super::{SimQueue, SimulatedOrg};

/// Callers who hang up in the flow, as a share of the conversations it sends to its queues.
pub const DISCONNECT_SHARE: f64 = 0.1;

/// Callers served by the flow alone, as a share of the conversations it sends to its queues.
pub const SELF_SERVICE_SHARE: f64 = 0.2;

/// The share of "Caller identified" outcomes of callers going on to a queue that fail.
pub const QUEUED_FAILURE: f64 = 0.05;

/// The share of the outcomes of callers served by the flow alone that fail.
pub const SELF_SERVICE_FAILURE: f64 = 0.03;

/// The longest time in a flow, in milliseconds: it bounds how far ahead an observation
/// looks for callers who are in a flow now and reach their queue later.
pub const MAX_FLOW_MS: u64 = 240_000;

/// How an entry left its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnding {
    /// Transferred to the flow's queue: the conversation the queue was offered.
    Queue,
    /// The caller hung up in the flow (`tFlowDisconnect`).
    Disconnect,
    /// Served by the flow alone, and gone (`tFlowExit`).
    SelfService,
}

/// One conversation's passage through a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord<'a> {
    pub flow: &'a SimFlow,
    /// The queue it went on to, for [`FlowEnding::Queue`].
    pub queue: Option<&'a SimQueue>,
    pub ending: FlowEnding,
    /// Epoch milliseconds.
    pub entered_ms: i64,
    pub left_ms: i64,
    /// The one outcome it reported, whether it succeeded, and when (ms after entering).
    pub outcome: &'a SimOutcome,
    pub outcome_success: bool,
    pub outcome_ms: u64,
    /// The data actions it called, in order.
    pub calls: Vec<ActionCall<'a>>,
}

/// One execution of a data action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCall<'a> {
    pub action: &'a SimAction,
    pub duration_ms: u64,
    /// `"200"`, `"404"`, `"500"`, or `"504"` under an action surge.
    pub response_status: &'static str,
    /// Absent for 2xx: `not_found`, `internal_error`, `timeout`.
    pub error_type: Option<&'static str>,
}

impl FlowRecord<'_> {
    /// Milliseconds in the flow (`tFlow`).
    pub fn flow_ms(&self) -> u64 {
        self.left_ms.saturating_sub(self.entered_ms).max(0) as u64
    }
}

/// What can change the flows' records: the abandon surge (its extra callers pass the flow
/// too), a flow surge and an action surge.
#[derive(Debug, Clone, Copy, Default)]
pub struct Surges<'a> {
    pub abandon: Option<&'a Surge>,
    pub flow: Option<&'a FailureSurge>,
    pub action: Option<&'a FailureSurge>,
}

/// The atoms whose conversations pass a flow, with their flow.
pub(super) fn flow_atoms<'a>(
    org: &'a SimulatedOrg,
    architect: &'a Architect,
) -> Vec<(Atom<'a>, &'a SimFlow)> {
    atoms(org)
        .into_iter()
        .filter_map(|atom| {
            let flow = architect.flow_of(&atom)?;
            Some((atom, flow))
        })
        .collect()
}

/// Seeds the records of the conversations going on to a queue, apart from the main draws.
const FLOW_SALT: u64 = 0xF10E_0001;
/// Seeds the callers who never reach a queue.
const IVR_SALT: u64 = 0xF10E_0002;

/// Calls `visit` with each record of `atom` (behind `flow`) in the minute slot `minute`.
pub(super) fn each_record<'a>(
    architect: &'a Architect,
    atom: &Atom<'a>,
    flow: &'a SimFlow,
    minute: i64,
    surges: Surges,
    mut visit: impl FnMut(FlowRecord<'a>),
) {
    let queue = atom.queue();
    let mut queued = Draws::new(mix(atom.key() ^ FLOW_SALT) ^ mix(minute as u64));
    atom.each_conversation(minute, surges.abandon, |conversation| {
        let mut draws = queued.fork();
        let left_ms = conversation.arrival_ms;
        visit(record(
            architect,
            flow,
            queue,
            FlowEnding::Queue,
            left_ms,
            surges,
            &mut draws,
        ));
    });
    let mut ivr = Draws::new(mix(atom.key() ^ IVR_SALT) ^ mix(minute as u64));
    let mean = atom.mean(minute);
    let disconnects = ivr.poisson(mean * DISCONNECT_SHARE);
    let self_served = ivr.poisson(mean * SELF_SERVICE_SHARE);
    let minute_ms = minute.saturating_mul(60_000);
    let endings = std::iter::repeat_n(FlowEnding::Disconnect, disconnects as usize).chain(
        std::iter::repeat_n(FlowEnding::SelfService, self_served as usize),
    );
    for ending in endings {
        let mut draws = ivr.fork();
        let left_ms = minute_ms.saturating_add((draws.unit() * 60_000.0) as i64);
        visit(record(
            architect, flow, None, ending, left_ms, surges, &mut draws,
        ));
    }
}

/// One record's fate, drawn from its own stream.
fn record<'a>(
    architect: &'a Architect,
    flow: &'a SimFlow,
    queue: Option<&'a SimQueue>,
    ending: FlowEnding,
    left_ms: i64,
    surges: Surges,
    draws: &mut Draws,
) -> FlowRecord<'a> {
    let mean_s = match ending {
        FlowEnding::Queue => 40.0,
        FlowEnding::Disconnect => 25.0,
        FlowEnding::SelfService => 90.0,
    };
    let flow_ms = draws.exponential_ms(mean_s, 3_000).min(MAX_FLOW_MS);
    let (outcome, failure) = match ending {
        FlowEnding::Queue => (CALLER_IDENTIFIED, QUEUED_FAILURE),
        FlowEnding::Disconnect => (CALLER_IDENTIFIED, 1.0),
        FlowEnding::SelfService if draws.chance(0.4) => (PAYMENT_TAKEN, SELF_SERVICE_FAILURE),
        FlowEnding::SelfService => (SELF_SERVICE_COMPLETE, SELF_SERVICE_FAILURE),
    };
    let surging = surges
        .flow
        .is_some_and(|s| s.hits(&flow.id, &flow.name, left_ms));
    let failure = if surging {
        failure.max(FLOW_SURGE_FAILURE)
    } else {
        failure
    };
    let outcome_success = !draws.chance(failure);
    // The outcome is reached on the way through: within the time in the flow.
    let outcome_ms = ((0.3 + 0.7 * draws.unit()) * flow_ms as f64) as u64;
    let mut wanted = vec![LOOKUP_ACCOUNT];
    if outcome == PAYMENT_TAKEN || draws.chance(0.2) {
        wanted.push(CHECK_BALANCE);
    }
    if ending == FlowEnding::Queue && draws.chance(0.25) {
        wanted.push(CREATE_CASE);
    }
    let calls = wanted
        .into_iter()
        .map(|index| {
            let action = &architect.actions[index];
            call(action, left_ms, surges.action, &mut draws.fork())
        })
        .collect();
    FlowRecord {
        flow,
        queue,
        ending,
        entered_ms: left_ms.saturating_sub_unsigned(flow_ms),
        left_ms,
        outcome: &architect.outcomes[outcome],
        outcome_success,
        outcome_ms,
        calls,
    }
}

/// One execution of `action` dated `at_ms`, drawn from its own stream.
fn call<'a>(
    action: &'a SimAction,
    at_ms: i64,
    surge: Option<&FailureSurge>,
    draws: &mut Draws,
) -> ActionCall<'a> {
    let duration_ms = draws.exponential_ms(0.35, 20);
    let status = draws.unit();
    let timeout_ms = {
        let span = ACTION_SURGE_DURATION_MS.end - ACTION_SURGE_DURATION_MS.start;
        ACTION_SURGE_DURATION_MS.start + (draws.unit() * span as f64) as u64
    };
    let surging = surge.is_some_and(|s| s.hits(&action.id, &action.name, at_ms));
    let (duration_ms, response_status, error_type) = if surging && status < ACTION_SURGE_TIMEOUT {
        (timeout_ms, "504", Some("timeout"))
    } else if status < 0.95 {
        (duration_ms, "200", None)
    } else if status < 0.98 {
        (duration_ms, "404", Some("not_found"))
    } else {
        (duration_ms, "500", Some("internal_error"))
    };
    ActionCall {
        action,
        duration_ms,
        response_status,
        error_type,
    }
}

/// The minute slots whose start lies in `[start, end)`.
pub(super) fn minute_slots(start: Timestamp, end: Timestamp) -> Range<i64> {
    let ceil_minute = |ts: Timestamp| -(-ts.as_millisecond()).div_euclid(60_000);
    ceil_minute(start)..ceil_minute(end)
}

/// Every flow record of the minute slots starting in `[start, end)` (as a query bucket
/// counts them), under `surges`, in a stable order: the truth the flows and actions
/// aggregates add up, for tests to compare an exporter's figures with.
pub fn flow_records<'a>(
    org: &'a SimulatedOrg,
    architect: &'a Architect,
    surges: Surges,
    start: Timestamp,
    end: Timestamp,
) -> Vec<FlowRecord<'a>> {
    let mut records = Vec::new();
    for (atom, flow) in flow_atoms(org, architect) {
        for minute in minute_slots(start, end) {
            each_record(architect, &atom, flow, minute, surges, |r| records.push(r));
        }
    }
    records
}

/// How many conversations are in each of the org's flows at `now` (entered at or before
/// it, not yet left), in the order of [`Architect::flows`]: the truth of `oFlow`.
pub fn in_flows_now(
    org: &SimulatedOrg,
    architect: &Architect,
    surges: Surges,
    now: Timestamp,
) -> Vec<u64> {
    let mut counts = vec![0; architect.flows.len()];
    let now_ms = now.as_millisecond();
    let now_minute = now_ms.div_euclid(60_000);
    // A record leaves in its minute slot; one in a flow now leaves within MAX_FLOW_MS.
    let last = now_minute.saturating_add((MAX_FLOW_MS / 60_000) as i64 + 1);
    for (atom, flow) in flow_atoms(org, architect) {
        let index = architect.flows.iter().position(|f| f.id == flow.id);
        let Some(index) = index else { continue };
        for minute in now_minute..=last {
            each_record(architect, &atom, flow, minute, surges, |r| {
                if r.entered_ms <= now_ms && now_ms < r.left_ms {
                    counts[index] += 1;
                }
            });
        }
    }
    counts
}

/// A record as the flows query sees it: its entry (no outcome dimensions), or its outcome.
pub(super) struct FlowFact<'r, 'a> {
    pub(super) record: &'r FlowRecord<'a>,
    pub(super) outcome: bool,
}

impl Dimensions for FlowFact<'_, '_> {
    fn dimension(&self, name: &str) -> Option<&str> {
        let record = self.record;
        let outcome = self.outcome.then_some(record.outcome);
        match name {
            "flowId" => Some(&record.flow.id),
            "flowName" => Some(&record.flow.name),
            "flowType" => Some(record.flow.flow_type),
            "mediaType" => Some(record.flow.media_type),
            "divisionId" => Some(&record.flow.division.id),
            "direction" | "originatingDirection" => Some("inbound"),
            "queueId" => record.queue.map(|q| q.id.as_str()),
            "flowOutcomeId" => outcome.map(|o| o.id.as_str()),
            "flowOutcomeValue" => outcome.map(|_| {
                if record.outcome_success {
                    "SUCCESS"
                } else {
                    "FAILURE"
                }
            }),
            "flowOutcome" => outcome.map(|o| {
                if record.outcome_success {
                    o.success.as_str()
                } else {
                    o.failure.as_str()
                }
            }),
            _ => None,
        }
    }
}

impl Dimensions for ActionCall<'_> {
    fn dimension(&self, name: &str) -> Option<&str> {
        let action = self.action;
        match name {
            "actionId" => Some(&action.id),
            "actionName" => Some(&action.name),
            "actionCategory" => Some(&action.category),
            "integrationId" => Some(&action.integration_id),
            "integrationName" => Some(&action.integration_name),
            "responseStatus" => Some(self.response_status),
            "errorType" => self.error_type,
            _ => None,
        }
    }
}
