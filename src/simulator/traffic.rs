//! The traffic model.
//!
//! Traffic is generated one minute at a time. An *atom* is one source of conversations: a
//! (queue, media type) pair, or the agent-direct voice calls that never enter a queue. For
//! every atom and every minute since the Unix epoch, a seeded hash decides how many
//! conversations arrived (a Poisson draw whose mean follows a daily curve) and what happened
//! to each of them: how long it waited, whether it was answered or abandoned, how long the
//! agent talked, held and wrapped up. A query bucket `[start, end)` is the sum of the minute
//! slots that start inside it, so buckets of any size agree with each other exactly.

use super::org::{MediaProfile, Org, SimQueue, daily_curve, media_profile};
use super::random::{Draws, fnv1a, mix};
use super::tally::{Tally, Target};

/// Agent-direct voice calls per minute across the org at the height of the day.
const AGENT_DIRECT_PEAK_PER_MINUTE: f64 = 0.8;

/// One source of conversations.
pub(super) struct Atom<'a> {
    /// `None` for agent-direct calls, which have no queue.
    queue: Option<&'a SimQueue>,
    media: &'a str,
    /// Seed of this atom's draws, from its queue id and media type.
    key: u64,
}

pub(super) fn atoms(org: &Org) -> Vec<Atom<'_>> {
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
        atoms.push(Atom {
            queue: None,
            media: voice,
            key: fnv1a(&[b"agent-direct", voice.as_bytes()]),
        });
    }
    atoms
}

impl Atom<'_> {
    /// The value of a groupBy or filter dimension, if this atom has one.
    pub(super) fn dimension(&self, name: &str) -> Option<&str> {
        match name {
            "queueId" => self.queue.map(|q| q.id.as_str()),
            "mediaType" => Some(self.media),
            "direction" => Some("inbound"),
            _ => None,
        }
    }

    /// Everything that happened in the minute slots `minutes`.
    pub(super) fn tally(&self, minutes: std::ops::Range<i64>) -> Tally {
        let mut tally = Tally::default();
        for minute in minutes {
            self.add_minute(minute, &mut tally);
        }
        tally
    }

    fn add_minute(&self, minute: i64, tally: &mut Tally) {
        let media = media_profile(self.media);
        let peak = match self.queue {
            Some(queue) => queue.profile.peak_per_minute * media.volume,
            None => AGENT_DIRECT_PEAK_PER_MINUTE,
        };
        let mut draws = Draws::new(self.key ^ mix(minute as u64));
        let arrivals = draws.poisson(peak * daily_curve(minute));
        let Some(queue) = self.queue else {
            for _ in 0..arrivals {
                tally.connected += 1;
                handled(&media, &mut draws, tally);
            }
            return;
        };
        if arrivals > 0 {
            tally.target = tally
                .target
                .merge(Target::One(queue.profile.service_level_target));
        }
        let wait_mean_s = media.wait_mean_s * queue.profile.wait_scale;
        let abandon = queue.profile.abandon * media.abandon_scale;
        for _ in 0..arrivals {
            tally.offered += 1;
            if draws.chance(abandon) {
                // Those who give up have typically waited longer than those who get through.
                let wait = draws.exponential_ms(wait_mean_s * 1.5, 1);
                tally.wait.record(wait);
                tally.abandon.record(wait);
                continue;
            }
            let wait = draws.exponential_ms(wait_mean_s, 1);
            tally.wait.record(wait);
            tally.answered.record(wait);
            if wait as f64 > media.sla_threshold_s * 1000.0 {
                tally.over_sla += 1;
            }
            tally.connected += 1;
            handled(&media, &mut draws, tally);
        }
    }
}

/// An agent's part of an answered conversation: talk, maybe hold, after-call work.
fn handled(media: &MediaProfile, draws: &mut Draws, tally: &mut Tally) {
    let talk = draws.exponential_ms(media.talk_mean_s, 5_000);
    tally.talk.record(talk);
    let mut handle = talk;
    if draws.chance(media.hold_probability) {
        let held = draws.exponential_ms(45.0, 1_000);
        tally.held.record(held);
        handle += held;
    }
    // Some conversations need no wrap-up at all; those have no tAcw segment.
    if draws.chance(0.9) {
        let acw = draws.exponential_ms(40.0, 1_000);
        tally.acw.record(acw);
        handle += acw;
    }
    tally.handle.record(handle);
    if draws.chance(0.07) {
        tally.transferred += 1;
    }
}
