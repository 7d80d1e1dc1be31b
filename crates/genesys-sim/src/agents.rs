//! The agents of a queue at an instant: how many are members, logged in, on queue (and in
//! which routing status) or off queue, and in which presence.
//!
//! - *Members* are fixed per queue: enough to carry its peak load (offered conversations a
//!   minute times their mean handle time, over every media type) with a margin.
//! - *Active* (logged-in) members follow the traffic's daily curve: from 5% of the members
//!   at night to 95% at the height of the day. About 80% of them (75% to 85%, drawn per
//!   minute) are *on queue*, the rest *off queue*.
//! - On queue, as many as there are conversations interacting on the queue (all media
//!   types; an agent takes one at a time) are INTERACTING; of the rest up to two are
//!   COMMUNICATING (a call of their own), maybe one NOT_RESPONDING, the others IDLE.
//! - Presences: on-queue members are in "Taking calls" (`ON_QUEUE`), members not logged in
//!   in "Offline", and off-queue members spread over the other presences.
//! - A [`Surge`] on the queue takes every agent off queue from its start: the would-be
//!   on-queue agents are "In a meeting", so no one is on queue (the staffing hole).
//! - An [`AgentsSurge`](super::AgentsSurge) on the queue leaves its agents on queue but
//!   not answering from its start: every one of them is NOT_RESPONDING ([`agents_under`]).
//!
//! Invariants (tested): the on-queue statuses add up to the on-queue users; the routing
//! statuses (OFF_QUEUE and the on-queue ones) add up to the active users; on queue plus
//! off queue is active; the presences add up to the members; "Taking calls" holds exactly
//! the on-queue users, "Offline" exactly the members not logged in.

use super::SimQueue;
use super::presences::{MEETING, OFF_QUEUE_WEIGHTS, OFFLINE, ON_QUEUE, PRESENCE_COUNT};
use super::random::{Draws, fnv1a, mix};
use super::simulated_org::media_profile;
use super::surge::{Surge, Surges};

/// The largest membership of a queue, whatever its volume.
const MAX_MEMBERS: u64 = 10_000;

/// The agents of one queue at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Agents {
    pub(super) members: u64,
    pub(super) active: u64,
    pub(super) idle: u64,
    pub(super) interacting: u64,
    pub(super) communicating: u64,
    pub(super) not_responding: u64,
    pub(super) off_queue: u64,
    /// Members in each org presence, in the order of the presence definitions.
    pub(super) presences: [u64; PRESENCE_COUNT],
}

impl Agents {
    pub(super) fn on_queue(&self) -> u64 {
        self.idle + self.interacting + self.communicating + self.not_responding
    }
}

/// The members of `queue` in an org with `media_types`.
pub(super) fn members(queue: &SimQueue, media_types: &[String]) -> u64 {
    let load: f64 = media_types
        .iter()
        .map(|media| {
            let media = media_profile(media);
            // Talk, hold, and the wrap-up nine conversations in ten need.
            let handle_s = media.talk_mean_s + media.hold_probability * 45.0 + 0.9 * 40.0;
            queue.profile.peak_per_minute * media.volume * handle_s / 60.0
        })
        .sum();
    ((load * 1.3).ceil() as u64)
        .saturating_add(2)
        .min(MAX_MEMBERS)
}

/// The agents of `queue` at epoch millisecond `now_ms`, when `interacting` of its
/// conversations are interacting.
pub(super) fn agents(
    queue: &SimQueue,
    media_types: &[String],
    surge: Option<&Surge>,
    now_ms: i64,
    interacting: u64,
) -> Agents {
    let members = members(queue, media_types);
    let minute = now_ms.div_euclid(60_000);
    let key = fnv1a(&[queue.id.as_bytes(), b"agents"]);
    let mut draws = Draws::new(key ^ mix(minute as u64));
    let logged_in = 0.05 + 0.9 * queue.profile.level(minute);
    let active = ((members as f64 * logged_in).round() as u64).min(members);
    let share = 0.75 + 0.1 * draws.unit();
    let rostered = ((active as f64 * share).round() as u64).min(active);
    let communicating_draw = (draws.unit() * 3.0) as u64;
    let not_responding_draw = u64::from(draws.chance(0.3));

    let surging = surge.is_some_and(|s| s.hits(queue, now_ms));
    let on_queue = if surging { 0 } else { rostered };
    let interacting = interacting.min(on_queue);
    let rest = on_queue - interacting;
    let communicating = communicating_draw.min(rest);
    let not_responding = not_responding_draw.min(rest - communicating);
    let idle = rest - communicating - not_responding;
    let off_queue = active - on_queue;

    // Off-queue presences: weights that drift every ten minutes, shared out exactly.
    let mut spread = Draws::new(key ^ mix((minute.div_euclid(10) as u64) ^ 0x5EED));
    let weights = OFF_QUEUE_WEIGHTS.map(|w| w * (0.5 + spread.unit()));
    let mut presences = apportion(active - rostered, &weights);
    presences[OFFLINE] = members - active;
    presences[ON_QUEUE] = on_queue;
    // In a surge the agents who would be on queue are in a meeting instead.
    presences[MEETING] += rostered - on_queue;
    Agents {
        members,
        active,
        idle,
        interacting,
        communicating,
        not_responding,
        off_queue,
        presences,
    }
}

/// [`agents`] under both surges: under an agents surge on the queue, every agent on queue
/// is NOT_RESPONDING.
pub(super) fn agents_under(
    queue: &SimQueue,
    media_types: &[String],
    surges: Surges,
    now_ms: i64,
    interacting: u64,
) -> Agents {
    let mut agents = agents(queue, media_types, surges.abandon, now_ms, interacting);
    if surges.agents.is_some_and(|s| s.hits(queue, now_ms)) {
        agents.not_responding = agents.on_queue();
        (agents.idle, agents.interacting, agents.communicating) = (0, 0, 0);
    }
    agents
}

/// `total` shared out in proportion to `weights` (largest remainders, ties to the first),
/// so that the shares add up to `total` exactly. Zero weights get nothing; with no weight
/// at all, nothing is shared.
pub(super) fn apportion<const N: usize>(total: u64, weights: &[f64; N]) -> [u64; N] {
    let mut shares = [0u64; N];
    let sum: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if sum <= 0.0 || total == 0 {
        return shares;
    }
    let mut remainders = [0f64; N];
    let mut given = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w > 0.0) {
            remainders[i] = -1.0;
            continue;
        }
        let quota = total as f64 * w / sum;
        shares[i] = (quota.floor() as u64).min(total - given);
        given += shares[i];
        remainders[i] = quota - quota.floor();
    }
    let mut order: Vec<usize> = (0..N).filter(|&i| remainders[i] >= 0.0).collect();
    order.sort_by(|&a, &b| remainders[b].total_cmp(&remainders[a]).then(a.cmp(&b)));
    for &i in order.iter().cycle().take((total - given) as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sales_surge;
    use crate::{DEMO_MEDIA_TYPES, SimulatedOrg};

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn check_invariants(a: &Agents) {
        assert_eq!(a.on_queue() + a.off_queue, a.active, "{a:?}");
        assert!(a.active <= a.members, "{a:?}");
        assert_eq!(a.presences.iter().sum::<u64>(), a.members, "{a:?}");
        assert_eq!(a.presences[ON_QUEUE], a.on_queue(), "{a:?}");
        assert_eq!(a.presences[OFFLINE], a.members - a.active, "{a:?}");
        assert!(a.communicating <= 2 && a.not_responding <= 1, "{a:?}");
    }

    #[test]
    fn shares_add_up_exactly() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), [4, 3, 3]);
        assert_eq!(apportion(7, &[0.0, 2.0, 5.0]), [0, 2, 5]);
        assert_eq!(apportion(1, &[1.0, 3.0]), [0, 1]);
        assert_eq!(apportion(5, &[0.0, 0.0]), [0, 0]);
        assert_eq!(apportion(5, &[f64::NAN, 1.0]), [0, 5]);
        assert_eq!(apportion(0, &[1.0, 1.0]), [0, 0]);
        for total in [0u64, 1, 17, 999, 10_000] {
            let shares = apportion(total, &OFF_QUEUE_WEIGHTS);
            assert_eq!(shares.iter().sum::<u64>(), total);
            assert_eq!(shares[ON_QUEUE] + shares[OFFLINE], 0);
        }
    }

    #[test]
    fn members_carry_the_peak_load_and_log_in_with_the_daily_curve() {
        let org = SimulatedOrg::demo();
        let members: Vec<u64> = org
            .queues
            .iter()
            .map(|q| members(q, &org.media_types))
            .collect();
        // Sales: voice 4/min × (300 + 13.5 + 36) s, chat 2 × 516, email 1.2 × 396,
        // callback 0.6 × 285, over 60 s: 51.3 agents busy at peak; × 1.3 up, + 2.
        assert_eq!(members[0], 69);
        assert_eq!(members, [69, 102, 36, 44, 52, 16]);
        let sales = &org.queues[0];
        let night = agents(sales, &org.media_types, None, ms("2026-08-20T03:00:00Z"), 0);
        let day = agents(
            sales,
            &org.media_types,
            None,
            ms("2026-08-20T14:00:00Z"),
            30,
        );
        check_invariants(&night);
        check_invariants(&day);
        // 5% + 90% × 0.03 of 69 at 03:00 (5.3); 95% at 14:00 (65.55).
        assert_eq!((night.active, day.active), (5, 66));
        assert_eq!(day.interacting, 30);
        // At the demo's floor, the night is staffed as for 80% of the peak: 77% of 69.
        let floored = SimulatedOrg::demo().with_floor(0.8);
        let lifted = agents(
            &floored.queues[0],
            &org.media_types,
            None,
            ms("2026-08-20T03:00:00Z"),
            0,
        );
        check_invariants(&lifted);
        assert_eq!(lifted.active, 53);
        assert!(
            (49..=56).contains(&day.on_queue()),
            "75% to 85% of 66: {day:?}"
        );
        // More conversations than agents on queue: all of them interact, no one idles.
        let swamped = agents(
            sales,
            &org.media_types,
            None,
            ms("2026-08-20T14:00:00Z"),
            500,
        );
        check_invariants(&swamped);
        assert_eq!(swamped.interacting, swamped.on_queue());
        assert_eq!(
            swamped.idle + swamped.communicating + swamped.not_responding,
            0
        );
    }

    #[test]
    fn the_invariants_hold_every_minute_of_a_day_for_many_queues() {
        let org = SimulatedOrg::with_queues(40, DEMO_MEDIA_TYPES.map(String::from).to_vec());
        let midnight = ms("2026-08-20T00:00:00Z");
        for queue in &org.queues {
            for minute in (0..1440).step_by(7) {
                let now = midnight + minute * 60_000;
                let a = agents(queue, &org.media_types, None, now, (minute % 40) as u64);
                check_invariants(&a);
            }
        }
    }

    #[test]
    fn an_agents_surge_leaves_the_agents_on_queue_not_responding() {
        let org = SimulatedOrg::demo();
        let support = &org.queues[1];
        let surge = crate::AgentsSurge {
            queue: "Support".into(),
            start: "2026-08-20T14:10:00Z".parse().unwrap(),
        };
        let surges = Surges {
            abandon: None,
            agents: Some(&surge),
        };
        let (before, during) = (ms("2026-08-20T14:09:59.999Z"), ms("2026-08-20T14:10:00Z"));
        assert_eq!(
            agents_under(support, &org.media_types, surges, before, 20),
            agents(support, &org.media_types, None, before, 20),
            "not yet"
        );
        let calm = agents(support, &org.media_types, None, during, 20);
        let stalled = agents_under(support, &org.media_types, surges, during, 20);
        assert_eq!(stalled.on_queue() + stalled.off_queue, stalled.active);
        assert_eq!(stalled.presences[ON_QUEUE], stalled.on_queue());
        assert!(calm.on_queue() > 10, "{calm:?}");
        assert_eq!(stalled.not_responding, calm.on_queue());
        assert_eq!(
            stalled.idle + stalled.interacting + stalled.communicating,
            0
        );
        assert_eq!(
            (stalled.off_queue, stalled.presences),
            (calm.off_queue, calm.presences),
            "still on queue, in the same presences"
        );
        // Another queue carries on.
        assert_eq!(
            agents_under(&org.queues[0], &org.media_types, surges, during, 5),
            agents(&org.queues[0], &org.media_types, None, during, 5)
        );
    }

    #[test]
    fn a_surge_takes_every_agent_off_queue_into_a_meeting() {
        let org = SimulatedOrg::demo();
        let sales = &org.queues[0];
        let surge = sales_surge();
        let before = ms("2026-08-20T14:09:59.999Z");
        let during = ms("2026-08-20T14:10:00Z");
        let calm = agents(sales, &org.media_types, None, during, 20);
        let quiet = agents(sales, &org.media_types, Some(&surge), before, 20);
        assert_eq!(
            quiet,
            agents(sales, &org.media_types, None, before, 20),
            "not yet"
        );
        let hole = agents(sales, &org.media_types, Some(&surge), during, 20);
        check_invariants(&hole);
        assert_eq!((hole.on_queue(), hole.interacting), (0, 0));
        assert_eq!(hole.active, calm.active);
        assert_eq!(hole.off_queue, hole.active);
        assert_eq!(
            hole.presences[MEETING],
            calm.presences[MEETING] + calm.on_queue()
        );
        // Another queue carries on.
        let support = &org.queues[1];
        assert_eq!(
            agents(support, &org.media_types, Some(&surge), during, 5),
            agents(support, &org.media_types, None, during, 5)
        );
    }
}
