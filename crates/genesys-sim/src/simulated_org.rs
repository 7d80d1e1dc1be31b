//! The simulated org: its queues (the six demo queues, then as many generated ones as
//! asked for), their divisions, how each media type behaves and how busy each hour of the
//! day is, weekdays and weekends.
//!
//! The demo org has no name. A named org ([`SimulatedOrg::named`]) has the same queue
//! names, but queue and division IDs of its own and traffic of its own, all drawn from its
//! name: a volume of its own (0.7 to 1.4 times the demo's) and each queue's a little more
//! or less (0.9 to 1.1), each queue's abandon propensity 0.9 to 1.2 times the demo queue's
//! (so Retention still abandons about a third of its calls, Sales few), and conversations
//! drawn from streams of its own.

use super::random::{Draws, fnv1a, mix, uuid_from};
use genesys_wire::Division;

/// The media types of the demo org.
pub const DEMO_MEDIA_TYPES: [&str; 4] = ["voice", "chat", "email", "callback"];

/// The floor under the demo's traffic ([`SimulatedOrg::with_floor`]), as a share of each
/// queue's peak.
pub const DEMO_FLOOR: f64 = 0.8;

/// How busy each queue is and how well it copes.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueProfile {
    /// Voice conversations offered per minute at the height of the working day; other media
    /// types get a fixed fraction of it.
    pub peak_per_minute: f64,
    /// Probability that an offered voice conversation is abandoned (other media types are
    /// abandoned less often).
    pub abandon: f64,
    /// Multiplies the media type's mean time in queue: understaffed queues wait longer.
    pub wait_scale: f64,
    /// The service-level target reported in `oServiceLevel.target`, e.g. 0.8.
    pub service_level_target: f64,
    /// The least traffic of any minute, as a share of the peak: 0 follows the daily curve
    /// down to its quiet nights and weekends; `--demo` sets [`DEMO_FLOOR`].
    pub floor: f64,
    /// Whether the queue is understaffed around the clock once its traffic has a floor:
    /// then it never catches up, and a voice caller is always waiting in it (the standing
    /// backlog, [`crate::BACKLOG_WAIT_MS`]). The demo's Retention queue.
    pub understaffed: bool,
}

impl QueueProfile {
    /// The queue's traffic in the minute slot `minute` as a share of its peak: the daily
    /// curve, never below the queue's floor.
    pub(super) fn level(&self, minute: i64) -> f64 {
        daily_curve(minute).max(self.floor)
    }

    /// Whether the queue keeps a standing backlog of voice callers: understaffed, with a
    /// floor under its traffic.
    pub(super) fn has_backlog(&self) -> bool {
        self.understaffed && self.floor > 0.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimQueue {
    pub id: String,
    pub name: String,
    pub division: Division,
    pub profile: QueueProfile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedOrg {
    /// `None` for the demo org; a named org's IDs and traffic are drawn from its name.
    pub name: Option<String>,
    pub queues: Vec<SimQueue>,
    pub media_types: Vec<String>,
}

/// Name, peak voice volume, abandon propensity, wait scale and service-level target.
const DEMO_QUEUES: [(&str, f64, f64, f64, f64); 6] = [
    ("Sales", 4.0, 0.05, 1.0, 0.8),
    ("Support", 6.0, 0.08, 1.3, 0.8),
    ("Billing", 2.0, 0.06, 1.0, 0.8),
    // Understaffed: long waits and a third of callers give up, so that an abandon-rate
    // alert has something to fire on in the demo; under a floor, a standing backlog.
    ("Retention", 2.5, 0.36, 3.0, 0.8),
    ("Technical Support", 3.0, 0.09, 1.5, 0.75),
    ("VIP", 0.8, 0.02, 0.4, 0.9),
];

impl SimulatedOrg {
    /// The demo org: six named queues, media types voice, chat, email and callback.
    /// "Retention" abandons about a third of its voice calls.
    pub fn demo() -> SimulatedOrg {
        SimulatedOrg::with_queues(
            DEMO_QUEUES.len(),
            DEMO_MEDIA_TYPES.iter().map(|m| m.to_string()).collect(),
        )
    }

    /// The org called `name` with the demo org's queues and media types:
    /// [`SimulatedOrg::demo`]'s counterpart for [`SimulatedOrg::named`].
    pub fn demo_named(name: &str) -> SimulatedOrg {
        SimulatedOrg::named(
            name,
            DEMO_QUEUES.len(),
            DEMO_MEDIA_TYPES.iter().map(|m| m.to_string()).collect(),
        )
    }

    /// This org with every queue's traffic kept at `floor` of its peak or more, whatever
    /// the hour and the day, and its understaffed queue (Retention) never without a voice
    /// caller waiting: what `--demo` serves, so that a demo is alive at any hour.
    pub fn with_floor(mut self, floor: f64) -> SimulatedOrg {
        for queue in &mut self.queues {
            queue.profile.floor = floor;
        }
        self
    }

    /// The floor under its traffic ([`SimulatedOrg::with_floor`]): its first queue's, 0
    /// for an org without queues.
    pub fn floor(&self) -> f64 {
        self.queues.first().map_or(0.0, |q| q.profile.floor)
    }

    /// `n` queues: the demo queues first, then "Queue 0007" and so on with profiles drawn
    /// from their index. Ids are UUID-shaped and the same in every run.
    pub fn with_queues(n: usize, media_types: Vec<String>) -> SimulatedOrg {
        let queues = (0..n).map(|index| sim_queue(index, None)).collect();
        SimulatedOrg {
            name: None,
            queues,
            media_types,
        }
    }

    /// The org called `name`, with `n` queues as [`SimulatedOrg::with_queues`] makes them
    /// (the same names), but IDs and traffic of its own, drawn from the name: the same name always
    /// gives the same org, two names two different ones.
    pub fn named(name: &str, n: usize, media_types: Vec<String>) -> SimulatedOrg {
        let queues = (0..n).map(|index| sim_queue(index, Some(name))).collect();
        SimulatedOrg {
            name: Some(name.to_string()),
            queues,
            media_types,
        }
    }
}

/// The seed of everything drawn from a named org's name.
fn org_seed(name: &str) -> u64 {
    fnv1a(&[b"org", name.as_bytes()])
}

fn sim_queue(index: usize, org: Option<&str>) -> SimQueue {
    let seed = org.map_or(0, org_seed);
    let id = uuid_from(mix(0x5155_4555 ^ index as u64) ^ seed);
    let mut queue = if let Some(&(name, peak, abandon, wait_scale, target)) = DEMO_QUEUES.get(index)
    {
        let division = if name == "VIP" {
            division("Premium", org)
        } else {
            division("Home", org)
        };
        SimQueue {
            id,
            name: name.to_string(),
            division,
            profile: QueueProfile {
                peak_per_minute: peak,
                abandon,
                wait_scale,
                service_level_target: target,
                floor: 0.0,
                understaffed: name == "Retention",
            },
        }
    } else {
        let mut draws = Draws::new(mix(0xB0B ^ index as u64) ^ seed);
        SimQueue {
            id,
            name: format!("Queue {:04}", index + 1),
            division: division("Home", org),
            profile: QueueProfile {
                peak_per_minute: 0.3 + 1.7 * draws.unit(),
                abandon: 0.03 + 0.07 * draws.unit(),
                wait_scale: 0.7 + 0.8 * draws.unit(),
                service_level_target: 0.8,
                floor: 0.0,
                understaffed: false,
            },
        }
    };
    if org.is_some() {
        let volume = 0.7 + 0.7 * Draws::new(seed).unit();
        let mut draws = Draws::new(mix(seed ^ 0x7EA7 ^ index as u64));
        queue.profile.peak_per_minute *= volume * (0.9 + 0.2 * draws.unit());
        queue.profile.abandon *= 0.9 + 0.3 * draws.unit();
    }
    queue
}

/// A division of the org called `org` (`None`: the demo org).
pub(super) fn division(name: &str, org: Option<&str>) -> Division {
    let id = match org {
        None => uuid_from(fnv1a(&[b"division", name.as_bytes()])),
        Some(org) => uuid_from(fnv1a(&[b"division", name.as_bytes(), org.as_bytes()])),
    };
    Division {
        id,
        name: name.to_string(),
    }
}

/// How each media type behaves. Unknown media types (an org configured with, say,
/// "message") get modest defaults rather than an error.
pub(super) struct MediaProfile {
    /// Share of the queue's voice volume.
    pub(super) volume: f64,
    /// Mean time in queue before an agent answers, seconds (before the queue's wait scale).
    pub(super) wait_mean_s: f64,
    /// Answered later than this is over the service level.
    pub(super) sla_threshold_s: f64,
    /// Multiplies the queue's abandon propensity.
    pub(super) abandon_scale: f64,
    pub(super) talk_mean_s: f64,
    pub(super) hold_probability: f64,
}

pub(super) fn media_profile(media: &str) -> MediaProfile {
    let (volume, wait_mean_s, sla_threshold_s, abandon_scale, talk_mean_s, hold_probability) =
        match media {
            "voice" => (1.0, 10.0, 20.0, 1.0, 300.0, 0.3),
            "chat" => (0.5, 30.0, 60.0, 0.8, 480.0, 0.0),
            "email" => (0.3, 5400.0, 14_400.0, 0.2, 360.0, 0.0),
            "callback" => (0.15, 40.0, 60.0, 0.5, 240.0, 0.2),
            _ => (0.2, 30.0, 60.0, 0.5, 300.0, 0.0),
        };
    MediaProfile {
        volume,
        wait_mean_s,
        sla_threshold_s,
        abandon_scale,
        talk_mean_s,
        hold_probability,
    }
}

/// Relative traffic at each hour of a weekday (UTC), 00:00 to 24:00, interpolated linearly
/// in between: busy 09:00–17:00 with a lunch dip, quiet but not silent at night.
const DAILY_CURVE: [f64; 25] = [
    0.03, 0.03, 0.03, 0.03, 0.03, 0.05, 0.15, 0.45, 0.85, 1.0, 1.0, 1.0, 0.85, 0.9, 1.0, 1.0, 0.95,
    0.85, 0.6, 0.35, 0.2, 0.12, 0.07, 0.04, 0.03,
];

/// Traffic on Saturdays and Sundays (UTC), as a share of a weekday's at the same time: the
/// contact center is open, but most customers wait for Monday.
pub const WEEKEND_SHARE: f64 = 0.25;

/// Relative traffic in the minute slot `minute` (minutes since the Unix epoch): the hour's
/// [`DAILY_CURVE`], times [`WEEKEND_SHARE`] on Saturdays and Sundays.
pub(super) fn daily_curve(minute: i64) -> f64 {
    let minute_of_day = minute.rem_euclid(1440);
    let hour = (minute_of_day / 60) as usize;
    let fraction = (minute_of_day % 60) as f64 / 60.0;
    let level = DAILY_CURVE[hour] + (DAILY_CURVE[hour + 1] - DAILY_CURVE[hour]) * fraction;
    if is_weekend(minute) {
        level * WEEKEND_SHARE
    } else {
        level
    }
}

/// Whether the minute slot falls on a Saturday or a Sunday, in UTC. The Unix epoch's day,
/// 1970-01-01, was a Thursday, so days 2 and 3 of each week of days since it are the
/// weekend.
fn is_weekend(minute: i64) -> bool {
    matches!(minute.div_euclid(1440).rem_euclid(7), 2 | 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekends_are_saturday_and_sunday_in_utc() {
        let minute = |time: &str| time.parse::<jiff::Timestamp>().unwrap().as_second() / 60;
        // 2026-08-20 is a Thursday; 22 and 23 August a Saturday and a Sunday.
        for (time, weekend) in [
            ("2026-08-20T14:00:00Z", false),
            ("2026-08-21T23:59:00Z", false),
            ("2026-08-22T00:00:00Z", true),
            ("2026-08-23T23:59:00Z", true),
            ("2026-08-24T00:00:00Z", false),
            ("1970-01-03T12:00:00Z", true),
            ("1969-12-28T12:00:00Z", true),
            ("1969-12-29T12:00:00Z", false),
        ] {
            assert_eq!(is_weekend(minute(time)), weekend, "{time}");
        }
        let thursday = minute("2026-08-20T14:00:00Z");
        let saturday = minute("2026-08-22T14:00:00Z");
        assert_eq!(daily_curve(saturday), daily_curve(thursday) * WEEKEND_SHARE);
    }

    #[test]
    fn a_floor_lifts_the_quiet_minutes_and_leaves_the_busy_ones() {
        let minute = |time: &str| time.parse::<jiff::Timestamp>().unwrap().as_second() / 60;
        let plain = SimulatedOrg::demo();
        let demo = SimulatedOrg::demo().with_floor(DEMO_FLOOR);
        assert_eq!((plain.floor(), demo.floor()), (0.0, DEMO_FLOOR));
        for (time, curve) in [
            // A Thursday afternoon, its night, and a Sunday night (a quarter of 0.03).
            ("2026-12-03T14:00:00Z", 1.0),
            ("2026-12-03T03:00:00Z", 0.03),
            ("2026-12-06T01:00:00Z", 0.0075),
        ] {
            let at = minute(time);
            assert!((daily_curve(at) - curve).abs() < 1e-12, "{time}");
            for (plain, demo) in plain.queues.iter().zip(&demo.queues) {
                assert_eq!(plain.profile.level(at), daily_curve(at));
                assert_eq!(demo.profile.level(at), daily_curve(at).max(DEMO_FLOOR));
            }
        }
        // Named orgs and generated queues take it too; nothing else changes.
        let east = SimulatedOrg::named("east", 8, plain.media_types.clone());
        let floored = east.clone().with_floor(0.5);
        assert!(floored.queues.iter().all(|q| q.profile.floor == 0.5));
        for (a, b) in east.queues.iter().zip(&floored.queues) {
            assert_eq!((&a.id, &a.name), (&b.id, &b.name));
        }
        // Under a floor, and only there, the understaffed Retention keeps a backlog.
        let backlogs = |org: &SimulatedOrg| -> Vec<String> {
            let queues = org.queues.iter().filter(|q| q.profile.has_backlog());
            queues.map(|q| q.name.clone()).collect()
        };
        assert_eq!(backlogs(&demo), ["Retention"]);
        assert_eq!(backlogs(&floored), ["Retention"]);
        assert!(backlogs(&plain).is_empty() && backlogs(&east).is_empty());
    }

    #[test]
    fn queue_ids_are_stable_and_uuid_shaped() {
        let demo = SimulatedOrg::demo();
        let names: Vec<&str> = demo.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Sales",
                "Support",
                "Billing",
                "Retention",
                "Technical Support",
                "VIP"
            ]
        );
        assert_eq!(demo.media_types, DEMO_MEDIA_TYPES);
        let many = SimulatedOrg::with_queues(57, demo.media_types.clone());
        assert_eq!(many.queues[..6], demo.queues[..]);
        assert_eq!(many.queues[6].name, "Queue 0007");
        assert_eq!(
            many,
            SimulatedOrg::with_queues(57, demo.media_types.clone())
        );
        let mut ids: Vec<&str> = many.queues.iter().map(|q| q.id.as_str()).collect();
        for id in &ids {
            let parts: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
            assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 57);
    }

    /// Each queue's offered conversations and abandoned ones on a weekday, by name.
    /// Sorted by name.
    fn offered_and_abandoned(org: &SimulatedOrg) -> Vec<(String, String, f64, f64)> {
        let query = genesys_wire::AggregationQuery {
            interval: "2026-08-20T00:00:00.000Z/2026-08-21T00:00:00.000Z".into(),
            granularity: None,
            time_zone: Some("UTC".into()),
            group_by: vec!["queueId".into()],
            filter: None,
            metrics: vec!["nOffered".into(), "tAbandon".into()],
        };
        let response = super::super::aggregate(org, &query).unwrap();
        let count = |data: &genesys_wire::IntervalData, metric: &str| {
            let entry = data.metrics.iter().find(|m| m.metric == metric);
            entry.and_then(|m| m.stats.count).unwrap_or(0.0)
        };
        let mut queues: Vec<(String, String, f64, f64)> = response
            .results
            .iter()
            .filter_map(|group| {
                let id = group.group.get("queueId")?;
                let queue = org.queues.iter().find(|q| q.id == *id).unwrap();
                let data = &group.data[0];
                Some((
                    queue.name.clone(),
                    id.clone(),
                    count(data, "nOffered"),
                    count(data, "tAbandon"),
                ))
            })
            .collect();
        queues.sort_by(|a, b| a.0.cmp(&b.0));
        queues
    }

    #[test]
    fn a_named_org_has_the_demo_queues_with_ids_and_traffic_of_its_own() {
        let media: Vec<String> = DEMO_MEDIA_TYPES.iter().map(|m| m.to_string()).collect();
        let demo = SimulatedOrg::demo();
        assert_eq!(demo.name, None);
        let east = SimulatedOrg::named("east", 8, media.clone());
        let west = SimulatedOrg::named("west", 8, media.clone());
        assert_eq!(east.name.as_deref(), Some("east"));
        assert_eq!(
            east,
            SimulatedOrg::named("east", 8, media.clone()),
            "the same name"
        );
        assert_eq!(
            SimulatedOrg::demo_named("east").queues[..],
            east.queues[..6]
        );
        for (a, b) in [(&east, &west), (&east, &demo), (&west, &demo)] {
            for (qa, qb) in a.queues.iter().zip(&b.queues) {
                assert_eq!(qa.name, qb.name);
                assert_eq!(qa.division.name, qb.division.name);
                assert_ne!(qa.id, qb.id, "{}", qa.name);
                assert_ne!(qa.division.id, qb.division.id, "{}", qa.name);
            }
        }
        let east_day = offered_and_abandoned(&east);
        let west_day = offered_and_abandoned(&west);
        assert_eq!(east_day, offered_and_abandoned(&east), "the same data");
        assert_eq!(east_day.len(), 8);
        for (e, w) in east_day.iter().zip(&west_day) {
            assert_eq!(e.0, w.0);
            assert_ne!(e.2, w.2, "nOffered of {}", e.0);
        }
        // Agent-direct calls (no queue) are the org's own too.
        let weekday_hour = {
            let start = 20_000 * 1440 + 10 * 60;
            start..start + 60
        };
        let direct = |org: &SimulatedOrg| {
            let atoms = super::super::traffic::atoms(org);
            let direct = atoms.last().unwrap();
            assert_eq!(direct.queue(), None);
            direct.tally(weekday_hour.clone(), None)
        };
        assert_ne!(direct(&east), direct(&demo));
        // So are its agents and the conversations observed now.
        let observed = |org: &SimulatedOrg| {
            let sales = org.queues.iter().find(|q| q.name == "Sales").unwrap();
            let query = genesys_wire::ObservationQuery {
                filter: serde_json::json!({"type": "or", "predicates": [
                    {"type": "dimension", "dimension": "queueId", "value": sales.id}]}),
                metrics: genesys_wire::OBSERVATION_METRICS
                    .iter()
                    .map(|m| m.to_string())
                    .collect(),
                detail_metrics: Vec::new(),
            };
            let now = "2026-08-20T14:07:00Z".parse().unwrap();
            let response = super::super::observe(org, None, &query, now).unwrap();
            let counts = response.results.iter().flat_map(|g| &g.data);
            counts.map(|entry| entry.stats.count).collect::<Vec<_>>()
        };
        assert_eq!(observed(&east), observed(&east.clone()));
        assert_ne!(observed(&east), observed(&west));
    }

    #[test]
    fn every_named_org_keeps_the_demo_stories() {
        let media: Vec<String> = DEMO_MEDIA_TYPES.iter().map(|m| m.to_string()).collect();
        for name in ["east", "west", "emea", "apac", "a", "org-with-a-long-name"] {
            let org = SimulatedOrg::named(name, 6, media.clone());
            for (queue, _, offered, abandoned) in offered_and_abandoned(&org) {
                let rate = abandoned / offered;
                match queue.as_str() {
                    "Retention" => assert!(rate > 0.22 && rate < 0.4, "{name}: {rate}"),
                    "Sales" => assert!(rate < 0.08, "{name}: {rate}"),
                    _ => assert!(rate < 0.15, "{name} {queue}: {rate}"),
                }
                assert!(offered > 300.0, "{name} {queue}: {offered}");
            }
            // Most of Retention's daytime voice buckets trip an abandon-rate alert.
            let retention = org.queues.iter().find(|q| q.name == "Retention").unwrap();
            let query = genesys_wire::AggregationQuery {
                interval: "2026-08-20T09:00:00.000Z/2026-08-20T17:00:00.000Z".into(),
                granularity: Some("PT15M".into()),
                time_zone: Some("UTC".into()),
                group_by: vec!["mediaType".into()],
                filter: Some(serde_json::json!({"type": "and", "predicates": [
                    {"type": "dimension", "dimension": "queueId", "value": retention.id},
                    {"type": "dimension", "dimension": "mediaType", "value": "voice"}]})),
                metrics: vec!["nOffered".into(), "tAbandon".into()],
            };
            let response = super::super::aggregate(&org, &query).unwrap();
            let firing = response.results[0]
                .data
                .iter()
                .filter(|d| {
                    let count = |metric: &str| {
                        let entry = d.metrics.iter().find(|m| m.metric == metric);
                        entry.and_then(|m| m.stats.count).unwrap_or(0.0)
                    };
                    let offered = count("nOffered");
                    offered >= 10.0 && count("tAbandon") / offered > 0.2
                })
                .count();
            assert!(firing >= 20, "{name}: {firing} of 32 buckets");
        }
    }
}
