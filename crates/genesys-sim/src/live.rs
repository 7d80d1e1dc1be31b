//! What an atom's conversations are doing at an instant: the traffic model's conversations
//! (the very ones the aggregates count) followed through time.
//!
//! A conversation that arrived at `a` and waited `w` (the wait its `tWait` records) is
//! - *waiting* from `a` until it is abandoned at `a + w`, or, when it is answered, until
//!   the agent's phone starts ringing, [`ALERT_MS`] (or the whole wait, if shorter) before
//!   `a + w`;
//! - *alerting* while it rings, up to `a + w`;
//! - *interacting* from `a + w` while the agent talks and holds (not during wrap-up).
//!
//! So a caller waiting now is counted in `nOffered` and `tWait` of the minute it arrived in.
//! Only conversations that arrived in the last [`LOOKBACK_MINUTES`] are followed: an email
//! that has waited longer than that is no longer seen waiting.

use super::surge::Surge;
use super::traffic::{Atom, BACKLOG_WAIT_MS};

/// How far back the conversations still in progress are looked for. It bounds the work of
/// an observation (one traffic minute per atom per minute of it) and the longest wait and
/// interaction it can show.
pub const LOOKBACK_MINUTES: i64 = 120;

/// How long an answered conversation alerts (the agent's phone rings) at the end of its
/// wait, in milliseconds.
pub const ALERT_MS: u64 = 5_000;

// A standing backlog's caller still waits, not rings, two minutes after it arrived.
const _: () = assert!(BACKLOG_WAIT_MS.start >= 2 * 60_000 + ALERT_MS);

/// An atom's conversations at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Live {
    pub(super) waiting: u64,
    pub(super) alerting: u64,
    pub(super) interacting: u64,
    /// The epoch millisecond at which the longest-waiting conversation arrived.
    pub(super) oldest_waiting_ms: Option<i64>,
    /// The epoch millisecond at which the longest-interacting conversation was answered.
    pub(super) oldest_interacting_ms: Option<i64>,
}

/// The conversations of `atom` at epoch millisecond `now_ms`, under `surge`.
pub(super) fn live(atom: &Atom, surge: Option<&Surge>, now_ms: i64) -> Live {
    let mut live = Live::default();
    let now_minute = now_ms.div_euclid(60_000);
    for minute in now_minute.saturating_sub(LOOKBACK_MINUTES)..=now_minute {
        atom.each_conversation(minute, surge, |conversation| {
            let arrival = conversation.arrival_ms;
            if arrival > now_ms {
                return;
            }
            let answered = conversation.wait_end_ms();
            let Some(handled) = conversation.handled else {
                if now_ms < answered {
                    live.waiting += 1;
                    live.oldest_waiting_ms = earliest(live.oldest_waiting_ms, arrival);
                }
                return;
            };
            let rings = conversation.wait_ms.min(ALERT_MS);
            let ends = answered
                .saturating_add_unsigned(handled.talk_ms)
                .saturating_add_unsigned(handled.held_ms.unwrap_or(0));
            if now_ms < answered.saturating_sub_unsigned(rings) {
                live.waiting += 1;
                live.oldest_waiting_ms = earliest(live.oldest_waiting_ms, arrival);
            } else if now_ms < answered {
                live.alerting += 1;
            } else if now_ms < ends {
                live.interacting += 1;
                live.oldest_interacting_ms = earliest(live.oldest_interacting_ms, answered);
            }
        });
    }
    live
}

fn earliest(so_far: Option<i64>, candidate: i64) -> Option<i64> {
    Some(so_far.map_or(candidate, |t| t.min(candidate)))
}
