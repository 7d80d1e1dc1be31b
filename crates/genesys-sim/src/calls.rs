//! Every voice call of the traffic model, one by one: the conversations whose voice
//! quality the details query reports, and which the Edges and trunks carry. They are the
//! aggregates' own conversations (the same draws), so a bucket's queued calls here are its
//! `nOffered` of voice.

use jiff::Timestamp;

use super::edges::edge_of;
use super::flows::minute_slots;
use super::random::{fnv1a, mix, uuid_from};
use super::simulated_org::SimulatedOrg;
use super::surge::Surge;
use super::traffic::atoms;

/// No call lasts longer: one the model would keep longer ends here, so that a reader may
/// look back this far from a call's end to its start.
pub const MAX_CALL_MS: i64 = 4 * 60 * 60 * 1000;

/// One voice conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceCall<'a> {
    /// Stable: the same call has the same ID in every answer.
    pub conversation_id: String,
    /// Epoch milliseconds: its arrival.
    pub start_ms: i64,
    /// Epoch milliseconds: when the caller gave up, or the agent's talk (and hold) ended.
    pub end_ms: i64,
    /// The queue it waited in; `None` for an agent-direct call.
    pub queue_id: Option<&'a str>,
    /// Epoch milliseconds: when an agent answered it (its wait's end); `None` when the
    /// caller gave up.
    pub answered_ms: Option<i64>,
    /// The Edge it entered on, an index into [`crate::edges`].
    pub edge: usize,
    /// Its place among the arrivals of its kind (queue or agent-direct) in its minute,
    /// from 0: the voice quality model lets at most the first of a minute be poor.
    pub arrival_index: u32,
    /// Seeds the draws of anything else about the call (its voice quality), apart from
    /// the traffic's.
    pub seed: u64,
}

/// Every voice call that arrived in the minute slots starting in `[start, end)`, under
/// `surge`, in a stable order.
pub fn voice_calls<'a>(
    org: &'a SimulatedOrg,
    surge: Option<&Surge>,
    start: Timestamp,
    end: Timestamp,
) -> Vec<VoiceCall<'a>> {
    let mut calls = Vec::new();
    for atom in atoms(org).into_iter().filter(|a| a.media() == "voice") {
        for minute in minute_slots(start, end) {
            let mut index = 0u32;
            atom.each_conversation(minute, surge, |conversation| {
                let seed = fnv1a(&[
                    &atom.key().to_le_bytes(),
                    &minute.to_le_bytes(),
                    &index.to_le_bytes(),
                ]);
                let arrival_index = index;
                index += 1;
                let mut end_ms = conversation.wait_end_ms();
                if let Some(handled) = conversation.handled {
                    let talk = handled.talk_ms.saturating_add(handled.held_ms.unwrap_or(0));
                    end_ms = end_ms.saturating_add_unsigned(talk);
                }
                let start_ms = conversation.arrival_ms;
                calls.push(VoiceCall {
                    conversation_id: uuid_from(seed),
                    start_ms,
                    end_ms: end_ms.min(start_ms.saturating_add(MAX_CALL_MS)),
                    queue_id: atom.queue().map(|q| q.id.as_str()),
                    answered_ms: conversation.handled.map(|_| conversation.wait_end_ms()),
                    edge: edge_of(mix(seed)),
                    arrival_index,
                    seed,
                });
            });
        }
    }
    calls
}

/// The voice calls going on at `now`: arrived at or before it, not yet ended.
pub fn voice_calls_active<'a>(
    org: &'a SimulatedOrg,
    surge: Option<&Surge>,
    now: Timestamp,
) -> Vec<VoiceCall<'a>> {
    let now_ms = now.as_millisecond();
    let since = Timestamp::from_millisecond(now_ms.saturating_sub(MAX_CALL_MS + 60_000))
        .unwrap_or(Timestamp::MIN);
    let until = Timestamp::from_millisecond(now_ms.saturating_add(60_000)).unwrap_or(now);
    let mut calls = voice_calls(org, surge, since, until);
    calls.retain(|call| call.start_ms <= now_ms && now_ms < call.end_ms);
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulated_org::SimulatedOrg;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_queued_calls_of_a_bucket_are_its_voice_offered() {
        let org = SimulatedOrg::demo();
        let (start, end) = (at("2026-08-20T14:00:00Z"), at("2026-08-20T14:15:00Z"));
        let calls = voice_calls(&org, None, start, end);
        for atom in atoms(&org).into_iter().filter(|a| a.media() == "voice") {
            let Some(queue) = atom.queue() else { continue };
            let offered = atom.tally(minute_slots(start, end), None).offered;
            let queued = calls
                .iter()
                .filter(|c| c.queue_id == Some(&queue.id))
                .count();
            assert_eq!(queued as u64, offered, "{}", queue.name);
        }
        let ids: std::collections::BTreeSet<_> = calls.iter().map(|c| &c.conversation_id).collect();
        assert_eq!(ids.len(), calls.len(), "each call has its own ID");
        assert!(
            calls.iter().any(|c| c.queue_id.is_none()),
            "agent-direct calls too"
        );
        for call in &calls {
            assert!(
                call.start_ms >= start.as_millisecond()
                    && call.start_ms < end.as_millisecond() + 60_000
            );
            assert!(call.start_ms <= call.end_ms && call.end_ms - call.start_ms <= MAX_CALL_MS);
        }
    }

    #[test]
    fn every_edge_carries_calls() {
        let org = SimulatedOrg::demo();
        let calls = voice_calls(
            &org,
            None,
            at("2026-08-20T14:00:00Z"),
            at("2026-08-20T15:00:00Z"),
        );
        for edge in 0..crate::edges(&org).len() {
            assert!(calls.iter().any(|c| c.edge == edge), "edge {edge}");
        }
    }

    #[test]
    fn the_calls_active_now_began_before_and_end_after() {
        let org = SimulatedOrg::demo();
        let now = at("2026-08-20T14:07:30Z");
        let active = voice_calls_active(&org, None, now);
        assert!(!active.is_empty());
        let all = voice_calls(
            &org,
            None,
            at("2026-08-20T10:00:00Z"),
            at("2026-08-20T14:10:00Z"),
        );
        let expected: Vec<_> = all
            .into_iter()
            .filter(|c| c.start_ms <= now.as_millisecond() && now.as_millisecond() < c.end_ms)
            .collect();
        assert_eq!(active, expected);
    }
}
