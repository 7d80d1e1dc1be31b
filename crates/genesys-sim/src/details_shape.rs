//! One voice call written as the details query's conversation: the customer's leg on its
//! Edge, the queue's ACD leg when it waited in one, the agent's leg once answered, with
//! the media statistics of each voice stream once the call has ended.
//!
//! The conversation's MOS and R-factor are the lowest of its streams' (the customer's:
//! the agent's are at least as good) and the streams' packets add up to the call's, so
//! that [`call_quality`] is what a reader of the answer finds.

use serde_json::{Value, json};

use super::calls::VoiceCall;
use super::edges::SimEdge;
use super::failure_surge::FailureSurge;
use super::quality::{CallQuality, call_quality};
use super::random::{Draws, uuid_from};
use super::simulated_org::SimulatedOrg;
use genesys_wire::time::iso_millis;

/// Seeds the draws of the answer's details (latency, routing delay) apart from the call's.
const SHAPE_SALT: u64 = 0x5BA9_E000;

/// `call` as the details query answers it at epoch millisecond `now_ms`: ongoing calls
/// have no end and no media statistics yet.
pub(super) fn conversation(
    org: &SimulatedOrg,
    edges: &[SimEdge],
    degrade: Option<&FailureSurge>,
    call: &VoiceCall,
    now_ms: i64,
) -> Value {
    let ended = call.end_ms <= now_ms;
    let mut draws = Draws::new(call.seed ^ SHAPE_SALT);
    let edge = edges.get(call.edge);
    let quality = ended.then(|| call_quality(org, degrade, call));
    let answered = call.answered_ms.filter(|&ms| ms <= now_ms);
    let [customer_stats, agent_stats] = streams(call, quality, edge, &mut draws);

    let mut participants = vec![participant(
        "customer",
        call,
        1,
        voice_session(
            call,
            1,
            edge,
            customer_stats,
            segment(call.start_ms, call.end_ms, now_ms, None, "endpoint"),
        ),
    )];
    if let Some(queue_id) = call.queue_id {
        // The flow routes the call to its queue a moment after it arrives.
        let routed = call
            .start_ms
            .saturating_add(1_000 + (draws.unit() * 2_000.0) as i64);
        let wait_end = call.answered_ms.unwrap_or(call.end_ms);
        let acd_start = routed.min(wait_end).max(call.start_ms.saturating_add(1));
        let disconnect = if call.answered_ms.is_some() {
            "transfer"
        } else {
            "peer"
        };
        let acd = segment(
            acd_start,
            wait_end.max(acd_start),
            now_ms,
            Some(queue_id),
            disconnect,
        );
        let mut acd = participant("acd", call, 2, voice_session(call, 2, None, None, acd));
        if let Some(queue) = org.queues.iter().find(|q| q.id == queue_id) {
            acd["participantName"] = json!(queue.name);
        }
        participants.push(acd);
    }
    if let Some(answered) = answered {
        let talk = segment(answered, call.end_ms, now_ms, call.queue_id, "client");
        let session = voice_session(call, 3, edge, agent_stats, talk);
        participants.push(participant("agent", call, 3, session));
    }

    let mut conversation = json!({
        "conversationId": call.conversation_id,
        "conversationStart": iso(call.start_ms),
        "originatingDirection": "inbound",
        "participants": participants,
    });
    if let Some(division) = call
        .queue_id
        .and_then(|id| org.queues.iter().find(|q| q.id == id))
    {
        conversation["divisionIds"] = json!([division.division.id]);
    }
    if let Some(quality) = quality {
        conversation["conversationEnd"] = json!(iso(call.end_ms));
        conversation["mediaStatsMinConversationMos"] = json!(quality.mos);
        conversation["mediaStatsMinConversationRFactor"] = json!(quality.r_factor);
    }
    conversation
}

/// The media statistics of the customer's and the agent's streams (none before the call
/// ends, none for an agent who never answered). The customer's are the call's quality;
/// the agent's at least as good; the packets are the call's, shared by time on the line.
fn streams(
    call: &VoiceCall,
    quality: Option<CallQuality>,
    edge: Option<&SimEdge>,
    draws: &mut Draws,
) -> [Option<Value>; 2] {
    let Some(quality) = quality else {
        return [None, None];
    };
    let customer_ms = call.end_ms.saturating_sub(call.start_ms).max(0) as u64;
    let agent_ms = call.answered_ms.map_or(0, |answered| {
        call.end_ms.saturating_sub(answered).max(0) as u64
    });
    let share = |total: u64| -> u64 {
        let line_ms = customer_ms + agent_ms;
        if line_ms == 0 {
            return 0;
        }
        (u128::from(total) * u128::from(agent_ms) / u128::from(line_ms)) as u64
    };
    let (agent_received, agent_discarded) = (share(quality.received), share(quality.discarded));
    let codec = match edge.map(|e| e.deployment) {
        Some("CDM") => "audio/opus",
        _ => "audio/PCMU",
    };
    let latency = (20.0 + (4.5 - quality.mos).max(0.0) * 60.0 + draws.unit() * 20.0) as u64;
    let stats = |mos: f64, r_factor: f64, received: u64, discarded: u64| {
        json!([{
            "codecs": [codec],
            "minMos": mos,
            "minRFactor": r_factor,
            "maxLatencyMs": latency,
            "receivedPackets": received,
            "discardedPackets": discarded,
            "invalidPackets": 0,
            "duplicatePackets": 0,
            "overrunPackets": 0,
            "underrunPackets": discarded,
            "eventTime": iso(call.end_ms),
        }])
    };
    let customer = stats(
        quality.mos,
        quality.r_factor,
        quality.received - agent_received,
        quality.discarded - agent_discarded,
    );
    let agent = call.answered_ms.map(|_| {
        let mos = (quality.mos + draws.unit() * 0.15).min(quality.mos.max(4.41));
        let r_factor = (quality.r_factor + draws.unit() * 3.0).min(quality.r_factor.max(93.2));
        let (mos, r_factor) = (
            (mos * 100.0).round() / 100.0,
            (r_factor * 10.0).round() / 10.0,
        );
        stats(mos, r_factor, agent_received, agent_discarded)
    });
    [Some(customer), agent]
}

fn participant(purpose: &str, call: &VoiceCall, index: u64, session: Value) -> Value {
    json!({
        "participantId": uuid_from(call.seed ^ (index << 56)),
        "purpose": purpose,
        "sessions": [session],
    })
}

fn voice_session(
    call: &VoiceCall,
    index: u64,
    edge: Option<&SimEdge>,
    stats: Option<Value>,
    segment: Value,
) -> Value {
    let mut session = json!({
        "sessionId": uuid_from(call.seed ^ (index << 48)),
        "mediaType": "voice",
        "direction": "inbound",
        "segments": [segment],
    });
    if let Some(edge) = edge {
        session["edgeId"] = json!(edge.id);
    }
    if let Some(stats) = stats {
        session["mediaEndpointStats"] = stats;
    }
    session
}

/// An `interact` segment; its end and how it ended only once `now_ms` has reached it.
fn segment(
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
    queue_id: Option<&str>,
    disconnect: &str,
) -> Value {
    let mut segment = json!({"segmentStart": iso(start_ms), "segmentType": "interact"});
    if let Some(queue_id) = queue_id {
        segment["queueId"] = json!(queue_id);
    }
    if end_ms <= now_ms {
        segment["segmentEnd"] = json!(iso(end_ms));
        segment["disconnectType"] = json!(disconnect);
    }
    segment
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| String::new(), iso_millis)
}
