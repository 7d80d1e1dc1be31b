//! The traffic model.
//!
//! Traffic is generated one minute at a time. An *atom* is one source of conversations: a
//! (queue, media type) pair, or the agent-direct voice calls that never enter a queue. For
//! every atom and every minute since the Unix epoch, a seeded hash decides how many
//! conversations arrived (a Poisson draw whose mean follows a daily curve) and what happened
//! to each of them: how long it waited, whether it was answered or abandoned, how long the
//! agent talked, held and wrapped up. A query bucket `[start, end)` is the sum of the minute
//! slots that start inside it, so buckets of any size agree with each other exactly.

use super::filter::Dimensions;
use super::random::{Draws, fnv1a, mix};
use super::simulated_org::{MediaProfile, SimQueue, SimulatedOrg, daily_curve, media_profile};
use super::surge::Surge;
use super::tally::{Tally, Target};

/// Agent-direct voice calls per minute across the org at the height of the day.
const AGENT_DIRECT_PEAK_PER_MINUTE: f64 = 0.8;

/// How long each caller of a standing backlog waits, in milliseconds. One arrives in every
/// minute slot and waits at least two minutes and the ring ([`crate::ALERT_MS`], checked in
/// `live`), so that at any instant the caller of the minute slot before is still waiting:
/// it arrived less than two minutes ago. And well under three minutes, the shipped
/// longest-wait alert's threshold, so that the backlog alone never fires it.
pub const BACKLOG_WAIT_MS: std::ops::Range<u64> = 125_000..150_000;

/// One source of conversations.
pub(super) struct Atom<'a> {
    /// `None` for agent-direct calls, which have no queue.
    queue: Option<&'a SimQueue>,
    media: &'a str,
    /// Seed of this atom's draws, from its queue id and media type.
    key: u64,
}

pub(super) fn atoms(org: &SimulatedOrg) -> Vec<Atom<'_>> {
    let mut atoms = Vec::new();
    for queue in &org.queues {
        for media in &org.media_types {
            atoms.push(Atom {
                queue: Some(queue),
                media,
                key: fnv1a(&[queue.id.as_bytes(), media.as_bytes()]),
            });
        }
    }
    if let Some(voice) = org.media_types.iter().find(|m| *m == "voice") {
        let key = match &org.name {
            None => fnv1a(&[b"agent-direct", voice.as_bytes()]),
            Some(name) => fnv1a(&[b"agent-direct", voice.as_bytes(), name.as_bytes()]),
        };
        atoms.push(Atom {
            queue: None,
            media: voice,
            key,
        });
    }
    atoms
}

impl Dimensions for Atom<'_> {
    fn dimension(&self, name: &str) -> Option<&str> {
        match name {
            "queueId" => self.queue.map(|q| q.id.as_str()),
            "mediaType" => Some(self.media),
            "direction" => Some("inbound"),
            _ => None,
        }
    }
}

impl<'a> Atom<'a> {
    pub(super) fn queue(&self) -> Option<&'a SimQueue> {
        self.queue
    }

    pub(super) fn media(&self) -> &'a str {
        self.media
    }

    /// The seed of this atom's draws: other models (flows, errors) salt it for streams of
    /// their own.
    pub(super) fn key(&self) -> u64 {
        self.key
    }

    /// How many conversations arrive in the minute slot `minute` on average (without a
    /// surge's extra callers).
    pub(super) fn mean(&self, minute: i64) -> f64 {
        match self.queue {
            Some(queue) => {
                let media = media_profile(self.media);
                queue.profile.peak_per_minute * media.volume * queue.profile.level(minute)
            }
            None => AGENT_DIRECT_PEAK_PER_MINUTE * daily_curve(minute),
        }
    }

    /// Everything that happened in the minute slots `minutes`, under `surge`.
    pub(super) fn tally(&self, minutes: std::ops::Range<i64>, surge: Option<&Surge>) -> Tally {
        let media = media_profile(self.media);
        let mut tally = Tally::default();
        for minute in minutes {
            self.each_conversation(minute, surge, |conversation| {
                conversation.add_to(&media, &mut tally);
            });
        }
        tally
    }

    /// Calls `visit` with each conversation that arrived in the minute slot `minute`.
    ///
    /// The main draws (how many arrived, then each one's fate) are those the model has
    /// always made, in the same order; when each arrived within its minute comes from a
    /// stream of its own, so that adding it changed no aggregate. A surge changes the
    /// fate of those that arrive at or after its start, and only theirs; the extra callers
    /// of a surge with `volume` above 1 come from streams of their own too, and so does the
    /// caller of a standing backlog ([`BACKLOG_WAIT_MS`]).
    pub(super) fn each_conversation(
        &self,
        minute: i64,
        surge: Option<&Surge>,
        mut visit: impl FnMut(Conversation),
    ) {
        let media = media_profile(self.media);
        let mean = self.mean(minute);
        let mut draws = Draws::new(self.key ^ mix(minute as u64));
        let mut offsets = Draws::new(mix(self.key ^ ARRIVAL_SALT) ^ mix(minute as u64));
        let minute_ms = minute.saturating_mul(60_000);
        let arrivals = draws.poisson(mean);
        for _ in 0..arrivals {
            let arrival_ms = minute_ms.saturating_add((offsets.unit() * 60_000.0) as i64);
            let Some(queue) = self.queue else {
                visit(Conversation {
                    arrival_ms,
                    queue: None,
                    wait_ms: 0,
                    handled: Some(handled(&media, &mut draws)),
                });
                continue;
            };
            visit(queued(queue, &media, surge, arrival_ms, &mut draws));
        }
        // The standing backlog's caller of this minute: answered or given up as the queue's
        // callers are, after a wait within BACKLOG_WAIT_MS whatever the surge.
        let backlog = |q: &&SimQueue| q.profile.has_backlog() && self.media == "voice";
        if let Some(queue) = self.queue.filter(backlog) {
            let mut draws = Draws::new(mix(self.key ^ BACKLOG_SALT) ^ mix(minute as u64));
            let arrival_ms = minute_ms.saturating_add((draws.unit() * 60_000.0) as i64);
            let span = BACKLOG_WAIT_MS.end - BACKLOG_WAIT_MS.start;
            let wait_ms = BACKLOG_WAIT_MS.start + (draws.unit() * span as f64) as u64;
            visit(Conversation {
                wait_ms,
                ..queued(queue, &media, surge, arrival_ms, &mut draws)
            });
        }
        // A surge's extra callers: as many again as usual times (volume - 1), those that
        // arrive from its start on.
        let Some((queue, surge)) = self.queue.zip(surge) else {
            return;
        };
        if !surge.is_on(queue) || surge.volume_multiplier() <= 1.0 {
            return;
        }
        let mut extra = Draws::new(mix(self.key ^ EXTRA_SALT) ^ mix(minute as u64));
        for _ in 0..extra.poisson(mean * (surge.volume_multiplier() - 1.0)) {
            let arrival_ms = minute_ms.saturating_add((extra.unit() * 60_000.0) as i64);
            let conversation = queued(queue, &media, Some(surge), arrival_ms, &mut extra);
            if surge.hits(queue, arrival_ms) {
                visit(conversation);
            }
        }
    }
}

/// The fate of a conversation that arrived at `arrival_ms` in `queue`: how long it waited,
/// whether it was answered and the agent's part, drawn from `draws`.
fn queued(
    queue: &SimQueue,
    media: &MediaProfile,
    surge: Option<&Surge>,
    arrival_ms: i64,
    draws: &mut Draws,
) -> Conversation {
    let (mut abandon, mut wait_scale) = (queue.profile.abandon, queue.profile.wait_scale);
    if let Some(surge) = surge.filter(|s| s.hits(queue, arrival_ms)) {
        abandon = surge.abandon_probability();
        wait_scale *= surge.wait_multiplier();
    }
    let abandon = abandon * media.abandon_scale;
    let wait_mean_s = media.wait_mean_s * wait_scale;
    let target = Some(queue.profile.service_level_target);
    if draws.chance(abandon) {
        // Those who give up have typically waited longer than those who get through.
        return Conversation {
            arrival_ms,
            queue: target,
            wait_ms: draws.exponential_ms(wait_mean_s * 1.5, 1),
            handled: None,
        };
    }
    let wait_ms = draws.exponential_ms(wait_mean_s, 1);
    Conversation {
        arrival_ms,
        queue: target,
        wait_ms,
        handled: Some(handled(media, draws)),
    }
}

/// Seeds the callers of a standing backlog, apart from the main draws.
const BACKLOG_SALT: u64 = 0xBAC4_106E;

/// Seeds a surge's extra callers, apart from the main draws.
const EXTRA_SALT: u64 = 0x5E86_E000;

/// Seeds the stream of arrival instants, apart from the main draws.
const ARRIVAL_SALT: u64 = 0xA441_7A15;

/// One conversation: when it arrived, how long it waited in queue and what came of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Conversation {
    /// Epoch milliseconds.
    pub(super) arrival_ms: i64,
    /// The service-level target of the queue it waited in; `None` for an agent-direct
    /// call, which never waits in a queue.
    pub(super) queue: Option<f64>,
    pub(super) wait_ms: u64,
    /// The agent's part; `None` when the caller gave up.
    pub(super) handled: Option<Handled>,
}

/// An agent's part of an answered conversation, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Handled {
    pub(super) talk_ms: u64,
    pub(super) held_ms: Option<u64>,
    pub(super) acw_ms: Option<u64>,
    pub(super) transferred: bool,
}

impl Conversation {
    /// The epoch millisecond at which it stopped waiting: answered or abandoned.
    pub(super) fn wait_end_ms(&self) -> i64 {
        self.arrival_ms.saturating_add_unsigned(self.wait_ms)
    }

    fn add_to(&self, media: &MediaProfile, tally: &mut Tally) {
        if let Some(target) = self.queue {
            tally.target = tally.target.merge(Target::One(target));
            tally.offered += 1;
            tally.wait.record(self.wait_ms);
            if self.handled.is_none() {
                tally.abandon.record(self.wait_ms);
                return;
            }
            tally.answered.record(self.wait_ms);
            if self.wait_ms as f64 > media.sla_threshold_s * 1000.0 {
                tally.over_sla += 1;
            }
        }
        let Some(handled) = self.handled else {
            return;
        };
        tally.connected += 1;
        tally.talk.record(handled.talk_ms);
        let mut handle = handled.talk_ms;
        if let Some(held) = handled.held_ms {
            tally.held.record(held);
            handle += held;
        }
        if let Some(acw) = handled.acw_ms {
            tally.acw.record(acw);
            handle += acw;
        }
        tally.handle.record(handle);
        if handled.transferred {
            tally.transferred += 1;
        }
    }
}

/// An agent's part of an answered conversation: talk, maybe hold, after-call work.
fn handled(media: &MediaProfile, draws: &mut Draws) -> Handled {
    let talk_ms = draws.exponential_ms(media.talk_mean_s, 5_000);
    let held_ms = draws
        .chance(media.hold_probability)
        .then(|| draws.exponential_ms(45.0, 1_000));
    // Some conversations need no wrap-up at all; those have no tAcw segment.
    let acw_ms = draws.chance(0.9).then(|| draws.exponential_ms(40.0, 1_000));
    Handled {
        talk_ms,
        held_ms,
        acw_ms,
        transferred: draws.chance(0.07),
    }
}
