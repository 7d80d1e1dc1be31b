//! The abandon-surge scenario: from a given instant one queue's agents all go off queue
//! (the staffing hole), its callers give up far more often and those who stay wait far
//! longer. Switched on from [`SimulatorConfig::surge`](super::SimulatorConfig), the command
//! line (`--demo-surge`, `simulate --surge`) or, while it runs, `POST /simulator/surge`.
//!
//! Only conversations that arrive at or after `start` are touched, so every aggregate of an
//! interval that ends before it is what it was without the surge; the traffic model reads
//! it conversation by conversation (`traffic`), the agent model minute by minute (`agents`).

use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::protocol::{JsonBody, error_response};
use super::{SimQueue, SimulatedOrg, Simulator};
use genesys_wire::ErrorBody;

/// Where the surge is set, shown and cleared at run time.
pub const SURGE_PATH: &str = "/simulator/surge";

/// The abandon probability of a surging queue's voice calls unless told otherwise (other
/// media types are abandoned less often, in the same proportion as without a surge). With
/// nobody on queue most callers give up, and the demo's live abandon alert then fires
/// within six minutes at any hour (see [`DEFAULT_SURGE_VOLUME`]).
pub const DEFAULT_SURGE_ABANDON: f64 = 0.8;

/// How many times longer a surging queue's callers wait unless told otherwise.
pub const DEFAULT_SURGE_WAIT_FACTOR: f64 = 10.0;

/// The largest wait factor accepted: waits stay within hours, never overflow.
pub const MAX_SURGE_WAIT_FACTOR: f64 = 100.0;

/// How many times as often a surging queue's callers call unless told otherwise: those
/// who give up call again. Twice the callers and 80% abandoning keep the live alert's
/// minimum of 10 offered in a 5-minute window and its 20% threshold well within reach of
/// every window from one minute after the start, even when the demo's Sales queue is at
/// its floor: `the_default_surge_pages_within_six_minutes_from_any_minute_of_a_week`, in
/// the exporter's tests/demo.rs, checks it.
pub const DEFAULT_SURGE_VOLUME: f64 = 2.0;

/// The largest volume factor accepted: the work of a query grows with it.
pub const MAX_SURGE_VOLUME: f64 = 10.0;

/// How many of the org's queue names the message for a surge on an unknown queue names.
const NAMED_QUEUES: usize = 12;

/// An abandon surge on one queue, from `start` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surge {
    /// The queue's ID or its name.
    pub queue: String,
    #[serde(serialize_with = "write_time", deserialize_with = "read_time")]
    pub start: Timestamp,
    /// The queue's abandon propensity from `start` on, replacing its own: the probability
    /// that a voice call is abandoned, 0 to 1.
    #[serde(default = "default_abandon")]
    pub abandon: f64,
    /// Multiplies the queue's waits from `start` on, 1 to [`MAX_SURGE_WAIT_FACTOR`].
    #[serde(default = "default_wait_factor")]
    pub wait_factor: f64,
    /// Multiplies the queue's callers from `start` on, 1 (the same callers) to
    /// [`MAX_SURGE_VOLUME`]; [`DEFAULT_SURGE_VOLUME`] unless told otherwise.
    #[serde(default = "default_volume")]
    pub volume: f64,
}

/// A surge as the command line and the control endpoint give it: the start may be left out
/// (it starts when it is set) or given relative to then.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SurgeSpec {
    pub queue: String,
    #[serde(default)]
    pub start: Option<Start>,
    #[serde(default = "default_abandon")]
    pub abandon: f64,
    #[serde(default = "default_wait_factor")]
    pub wait_factor: f64,
    #[serde(default = "default_volume")]
    pub volume: f64,
}

/// When a [`SurgeSpec`] starts: at an instant, or this long after it is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    At(Timestamp),
    After(SignedDuration),
}

fn default_abandon() -> f64 {
    DEFAULT_SURGE_ABANDON
}

fn default_wait_factor() -> f64 {
    DEFAULT_SURGE_WAIT_FACTOR
}

fn default_volume() -> f64 {
    DEFAULT_SURGE_VOLUME
}

fn write_time<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(time)
}

fn read_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl Start {
    /// The instant a start set at `now` means: `now` when left out, or counted from it.
    pub fn resolve(start: Option<Start>, now: Timestamp) -> Timestamp {
        match start {
            None => now,
            Some(Start::At(at)) => at,
            Some(Start::After(after)) => now.saturating_add(after).unwrap_or(now),
        }
    }
}

impl FromStr for Start {
    type Err = String;

    /// An RFC 3339 instant, or `+` and a duration (`+10m`, `+1h30m`, `+PT90S`).
    fn from_str(text: &str) -> Result<Start, String> {
        let text = text.trim();
        match text.strip_prefix('+') {
            Some(after) => after
                .parse::<SignedDuration>()
                .map(Start::After)
                .map_err(|error| format!("'{after}' is not a duration such as 10m: {error}")),
            None => text.parse().map(Start::At).map_err(|error| {
                format!("'{text}' is not an RFC 3339 time such as 2026-08-20T14:10:00Z: {error}")
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Start {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Start, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `Sales`, `Sales@2026-08-20T14:10:00Z`, `Sales@+10m,abandon=0.6,wait_factor=20,volume=2` on the
/// command line: the queue (ID or name), optionally `@` and when it starts, then optional
/// `key=value` fields. JSON works too, as for the control endpoint.
impl FromStr for SurgeSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<SurgeSpec, String> {
        let explain = |error: String| {
            format!(
                "surge '{text}': {error}; write it as QUEUE[@TIME][,abandon=P][,wait_factor=F][,volume=V], such as Sales@2026-08-20T14:10:00Z or Sales@+10m,abandon=0.6"
            )
        };
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|error| explain(error.to_string()));
        }
        let mut parts = text.split(',').map(str::trim);
        let head = parts.next().unwrap_or_default();
        let (queue, start) = match head.rsplit_once('@') {
            Some((queue, start)) => (queue, Some(start.parse().map_err(explain)?)),
            None => (head, None),
        };
        if queue.is_empty() {
            return Err(explain("no queue".into()));
        }
        let mut spec = SurgeSpec {
            queue: queue.to_string(),
            start,
            abandon: DEFAULT_SURGE_ABANDON,
            wait_factor: DEFAULT_SURGE_WAIT_FACTOR,
            volume: DEFAULT_SURGE_VOLUME,
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| explain(format!("'{part}' is not key=value")))?;
            let number: f64 = value
                .trim()
                .parse()
                .map_err(|_| explain(format!("{key}: '{value}' is not a number")))?;
            match key.trim() {
                "abandon" => spec.abandon = number,
                "wait_factor" => spec.wait_factor = number,
                "volume" => spec.volume = number,
                other => {
                    return Err(explain(format!(
                        "unknown field '{other}' (abandon, wait_factor, volume)"
                    )));
                }
            }
        }
        Ok(spec)
    }
}

impl SurgeSpec {
    /// The surge, set at `now`: a start left out is `now`, a relative one counts from it.
    pub fn starting(&self, now: Timestamp) -> Surge {
        let start = Start::resolve(self.start, now);
        Surge {
            queue: self.queue.clone(),
            start,
            abandon: self.abandon,
            wait_factor: self.wait_factor,
            volume: self.volume,
        }
    }
}

impl Surge {
    /// Whether the surge is on `queue`, named by its ID or its name.
    pub(super) fn is_on(&self, queue: &SimQueue) -> bool {
        self.queue == queue.id || self.queue == queue.name
    }

    /// Whether the surge is on `queue` at epoch millisecond `ms`.
    pub(super) fn hits(&self, queue: &SimQueue, ms: i64) -> bool {
        ms >= self.start.as_millisecond() && self.is_on(queue)
    }

    /// The abandon probability it sets, within 0 to 1 even for a surge [`Surge::check`]
    /// would refuse (NaN is 1: the callers give up).
    pub(super) fn abandon_probability(&self) -> f64 {
        if self.abandon.is_nan() {
            return 1.0;
        }
        self.abandon.clamp(0.0, 1.0)
    }

    /// The factor it multiplies waits by, within 1 to [`MAX_SURGE_WAIT_FACTOR`] even for a
    /// surge [`Surge::check`] would refuse (NaN is the largest), so that waits and their
    /// sums stay far from overflowing.
    pub(super) fn wait_multiplier(&self) -> f64 {
        if self.wait_factor.is_nan() {
            return MAX_SURGE_WAIT_FACTOR;
        }
        self.wait_factor.clamp(1.0, MAX_SURGE_WAIT_FACTOR)
    }

    /// The factor it multiplies callers by, within 1 to [`MAX_SURGE_VOLUME`] even for a
    /// surge [`Surge::check`] would refuse (NaN is 1).
    pub(super) fn volume_multiplier(&self) -> f64 {
        if self.volume.is_nan() {
            return 1.0;
        }
        self.volume.clamp(1.0, MAX_SURGE_VOLUME)
    }

    /// Refuses a surge on a queue `org` does not have, or with numbers out of range.
    pub fn check(&self, org: &SimulatedOrg) -> Result<(), String> {
        if !org.queues.iter().any(|q| self.is_on(q)) {
            // Named, up to a dozen: an org of a thousand queues makes no readable message.
            let mut names: Vec<&str> = org.queues.iter().map(|q| q.name.as_str()).collect();
            let more = names.len().saturating_sub(NAMED_QUEUES);
            names.truncate(NAMED_QUEUES);
            let more = match more {
                0 => String::new(),
                more => format!(" and {more} more"),
            };
            return Err(format!(
                "surge: no queue with the ID or name '{}'; the simulated queues are {}{more}",
                self.queue,
                names.join(", ")
            ));
        }
        if !(0.0..=1.0).contains(&self.abandon) {
            return Err(format!(
                "surge: abandon {} is not a probability from 0 to 1",
                self.abandon
            ));
        }
        if !(1.0..=MAX_SURGE_WAIT_FACTOR).contains(&self.wait_factor) {
            return Err(format!(
                "surge: wait_factor {} is not from 1 to {MAX_SURGE_WAIT_FACTOR}",
                self.wait_factor
            ));
        }
        if !(1.0..=MAX_SURGE_VOLUME).contains(&self.volume) {
            return Err(format!(
                "surge: volume {} is not from 1 to {MAX_SURGE_VOLUME}",
                self.volume
            ));
        }
        Ok(())
    }
}

impl Simulator {
    /// The surge in force (it may start in the future), if any.
    pub fn surge(&self) -> Option<Surge> {
        self.lock_surge().clone()
    }

    /// Sets the surge, replacing any other, or clears it with `None`. Refuses (and leaves
    /// the surge in force as it was) a surge that [`Surge::check`] refuses.
    pub fn set_surge(&self, surge: Option<Surge>) -> Result<(), String> {
        if let Some(surge) = &surge {
            surge.check(self.org())?;
        }
        tracing::info!(?surge, "simulator surge set");
        *self.lock_surge() = surge;
        Ok(())
    }

    fn lock_surge(&self) -> std::sync::MutexGuard<'_, Option<Surge>> {
        self.state
            .surge
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `GET SURGE_PATH`: the surge in force, or `null`.
pub(super) async fn show(State(sim): State<Simulator>) -> Response {
    Json(sim.surge()).into_response()
}

/// `POST SURGE_PATH` with a [`SurgeSpec`] as JSON sets it (a start left out is the
/// simulator's now); answers the surge in force.
pub(super) async fn set(
    State(sim): State<Simulator>,
    JsonBody(spec): JsonBody<SurgeSpec>,
) -> Response {
    let surge = spec.map(|spec| spec.starting(sim.now()));
    match surge.and_then(|surge| sim.set_surge(Some(surge))) {
        Ok(()) => show(State(sim)).await,
        Err(problem) => error_response(ErrorBody {
            message: format!(
                "not a surge: {problem}; send {{\"queue\": \"Sales\", \"start\": \"2026-08-20T14:10:00Z\", \"abandon\": 0.8}} or the like"
            ),
            code: "bad.request".into(),
            status: 400,
            ..ErrorBody::default()
        }),
    }
}

/// `DELETE SURGE_PATH` clears the surge.
pub(super) async fn clear(State(sim): State<Simulator>) -> Response {
    // Clearing cannot be refused.
    let _ = sim.set_surge(None);
    show(State(sim)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn surges_are_written_as_a_queue_a_start_and_fields() {
        let now = ts("2026-08-20T14:00:00Z");
        let spec: SurgeSpec = "Sales@2026-08-20T14:10:00Z".parse().unwrap();
        assert_eq!(
            spec.starting(now),
            Surge {
                queue: "Sales".into(),
                start: ts("2026-08-20T14:10:00Z"),
                abandon: 0.8,
                wait_factor: 10.0,
                volume: 2.0,
            }
        );
        let spec: SurgeSpec = "Technical Support@+10m, abandon=0.6, wait_factor=20, volume=2"
            .parse()
            .unwrap();
        let surge = spec.starting(now);
        assert_eq!(surge.queue, "Technical Support");
        assert_eq!(surge.start, ts("2026-08-20T14:10:00Z"));
        assert_eq!(
            (surge.abandon, surge.wait_factor, surge.volume),
            (0.6, 20.0, 2.0)
        );
        let spec: SurgeSpec = "Sales".parse().unwrap();
        assert_eq!(spec.starting(now).start, now, "from when it is set");
        let spec: SurgeSpec = r#"{"queue": "VIP", "start": "+PT90S"}"#.parse().unwrap();
        assert_eq!(spec.starting(now).start, ts("2026-08-20T14:01:30Z"));
        // Far past the end of time: it saturates rather than fails.
        let spec: SurgeSpec = "VIP@+1000000h".parse().unwrap();
        let _ = spec.starting(Timestamp::MAX);

        for (text, problem) in [
            ("Sales@14:10", "not an RFC 3339 time"),
            ("Sales@+soon", "not a duration"),
            ("@2026-08-20T14:10:00Z", "no queue"),
            ("Sales,abandon", "is not key=value"),
            ("Sales,abandon=lots", "is not a number"),
            ("Sales,speed=2", "unknown field 'speed'"),
            ("{\"start\": \"+1m\"}", "missing field `queue`"),
        ] {
            let error = text.parse::<SurgeSpec>().unwrap_err();
            assert!(error.contains(problem), "{text}: {error}");
            assert!(error.contains("such as Sales@"), "{error}");
        }
    }

    #[test]
    fn a_surge_is_checked_against_the_org() {
        let org = SimulatedOrg::demo();
        let surge = |queue: &str, abandon: f64, wait_factor: f64| Surge {
            queue: queue.into(),
            start: ts("2026-08-20T14:10:00Z"),
            abandon,
            wait_factor,
            volume: 1.0,
        };
        assert_eq!(surge("Sales", 0.5, 10.0).check(&org), Ok(()));
        let many = SimulatedOrg::with_queues(40, org.media_types.clone());
        let error = surge("Queue 0041", 0.5, 10.0).check(&many).unwrap_err();
        assert!(
            error.ends_with("Technical Support, VIP, Queue 0007, Queue 0008, Queue 0009, Queue 0010, Queue 0011, Queue 0012 and 28 more"),
            "{error}"
        );
        let by_id = surge(&org.queues[5].id, 1.0, 1.0);
        assert_eq!(by_id.check(&org), Ok(()));
        assert!(by_id.is_on(&org.queues[5]) && !by_id.is_on(&org.queues[0]));
        for (bad, problem) in [
            (
                surge("Salse", 0.5, 10.0),
                "no queue with the ID or name 'Salse'; the simulated queues are Sales, Support, Billing, Retention, Technical Support, VIP",
            ),
            (surge("Sales", 1.5, 10.0), "abandon 1.5"),
            (surge("Sales", f64::NAN, 10.0), "abandon NaN"),
            (surge("Sales", 0.5, 0.5), "wait_factor 0.5"),
            (surge("Sales", 0.5, f64::INFINITY), "wait_factor inf"),
            (
                Surge {
                    volume: 11.0,
                    ..surge("Sales", 0.5, 10.0)
                },
                "volume 11",
            ),
        ] {
            let error = bad.check(&org).unwrap_err();
            assert!(error.contains(problem), "{error}");
        }
        // It hits the queue from its start's millisecond on.
        let on = surge("Sales", 0.5, 10.0);
        let start = on.start.as_millisecond();
        assert!(!on.hits(&org.queues[0], start - 1));
        assert!(on.hits(&org.queues[0], start));
        assert!(!on.hits(&org.queues[1], start));
        // Written back as it is read.
        let json = serde_json::to_value(&on).unwrap();
        assert_eq!(json["start"], "2026-08-20T14:10:00Z");
        assert_eq!(serde_json::from_value::<Surge>(json).unwrap(), on);
    }
}
