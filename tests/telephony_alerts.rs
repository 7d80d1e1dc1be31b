//! How soon the voice quality and telephony alerts fire after the simulator's faults they
//! report, measured end to end as `source_alerts` measures the other sources' alerts: the
//! simulator and the exporter in this process on one simulated clock, on held time,
//! `/metrics` recorded every 15 s at the instants the exporter publishes ([`record`]), the
//! recording fed to a promtool test of the shipped `recording.rules.yml` and
//! `alerts.rules.yml`, and each alert's first firing read from promtool and confirmed by it.
//!
//! A weekday afternoon from 14:00, with `[voice_quality]` at its defaults (every 5 minutes,
//! a 2-minute settle delay) and `[telephony]` at its default (every minute), both from the
//! exporter's start. Three faults, each after a baseline longer than every `for` of the
//! alerts it may trip:
//! - 14:06, Edge HQ 2 goes offline: its trunks are neither enabled nor connected and stop
//!   pinging, which `GenesysTrunkDown` (2m) and `GenesysTrunkOptionsFailing` (5m) must
//!   leave alone, so the baseline is 6 minutes;
//! - 14:08, the trunk "Carrier A - Edge HQ 1" goes down: two minutes after the Edge, so
//!   that a trunk alert tripped by the offline Edge's trunks would show as pending before
//!   this trunk's fault;
//! - 14:20, Edge HQ 1 degrades: its calls that end from then on are poor.
//!   `GenesysVoiceQualityPoor` judges the calls counted in 15 minutes, and the exporter
//!   counts from its first read at 14:00, so it has judged whole healthy windows for 5
//!   minutes (its `for`) by 14:20.
//!
//! For each alert: nothing pending or firing before its fault; firing after it for exactly
//! the faulted entity, within the bound worked out by [`BOUNDS`], and nothing else ever
//! pending: the offline Edge; the down trunk (not the offline Edge's trunks, which are not
//! enabled, nor the Lab trunk, out of service); both proxies of the down trunk; the
//! degraded Edge and, by queue, every queue the simulator's calls say has the 20 calls in 15
//! minutes the alert needs (every queue's calls enter on every Edge, 45% of them on Edge
//! HQ 1, so each such queue gets far more than 5% poor calls; VIP has too few calls).

use std::collections::{BTreeMap, BTreeSet};

use genesys_exporter::config::{
    DEFAULT_TELEPHONY_REFRESH, DEFAULT_VOICE_QUALITY_REFRESH, DEFAULT_VOICE_QUALITY_SETTLE_DELAY,
    TelephonyConfig, VoiceQualityConfig,
};
use genesys_sim::{
    FailureSurge, SimulatedOrg, SimulatorConfig, call_quality, edges, trunks, voice_calls,
};
use genesys_wire::time::Clock;
use jiff::{SignedDuration, Timestamp};

use crate::util::{
    ci::promtool,
    clock::hold_time,
    exporter::{config_for, start_exporter},
    recording::{Recorder, record},
    rule_test::{documented_latencies, evaluated, first_firing, first_pending, written},
    samples::Samples,
    sim::{afternoon_sim, start_simulator},
};

const START: &str = "2026-08-20T14:00:00Z";

const OFFLINE_EDGE: &str = "Edge HQ 2";
const EDGE_OFFLINE: &str = "2026-08-20T14:06:00Z";
const DOWN_TRUNK: &str = "Carrier A - Edge HQ 1";
const TRUNK_DOWN: &str = "2026-08-20T14:08:00Z";
const DEGRADED_EDGE: &str = "Edge HQ 1";
const EDGE_DEGRADE: &str = "2026-08-20T14:20:00Z";

/// `[voice_quality]`'s defaults, and `[telephony]`'s.
const VOICE_REFRESH: SignedDuration = SignedDuration::from_mins(5);
const VOICE_SETTLE: SignedDuration = SignedDuration::from_mins(2);
const TELEPHONY_REFRESH: SignedDuration = SignedDuration::from_mins(1);

/// `GenesysVoiceQualityPoor`'s window, its least number of calls, its `for` and its share
/// of poor calls, and `[voice_quality]`'s default `mos_threshold`.
const JUDGED: SignedDuration = SignedDuration::from_mins(15);
const LEAST_CALLS: usize = 20;
const FOR_POOR: SignedDuration = SignedDuration::from_mins(5);
const POOR_SHARE: f64 = 0.05;
const MOS_THRESHOLD: f64 = 3.5;

/// The series the rules behind the alerts read.
const KEPT: &[&str] = &[
    "genesys_edge_online",
    "genesys_trunk_connected",
    "genesys_trunk_in_service",
    "genesys_trunk_enabled",
    "genesys_trunk_options_ok",
    "genesys_voice_mos_count",
    "genesys_voice_poor_calls_total",
];

/// Each alert's bound after its fault, worked out from the pipeline. Each ends with up to
/// 15 s each for the scrape and the alert's evaluation (30 s), 15 s more for the recording
/// rules where the alert reads them (the voice quality's), then the alert's `for`.
///
/// - Edge offline and trunk down (`for: 2m`): the next telephony read, at most a minute
///   after the fault, shows it: 1m + 30 s + 2m = 3m30s.
/// - Options failing (`for: 5m`): the same read shows the pings failing: 1m + 30 s + 5m =
///   6m30s.
/// - Voice quality, by Edge (`for: 5m`): a call is counted at the first read at least the
///   settle delay after its end, so the calls that end from the fault on are all counted
///   at most a refresh and a settle delay (7m) after the fault, with then at least the 5
///   minutes after it: a third of the 15 minutes judged, all of the Edge's calls in them
///   poor, far over 5%: 7m + 45 s + 5m = 12m45s.
/// - Voice quality, by queue: 45% of a queue's calls enter on the Edge (edges.rs), so the
///   same third makes about 15% of them poor; drawn at random, a queue may still fall
///   short of 5% at that read (here, after 3 degraded minutes, Sales with 3 poor of 64 and
///   Retention with none of 31 did), hardly at the next, with 10 degraded minutes (30%):
///   one refresh more, 17m45s.
const BOUNDS: [(&str, SignedDuration); 4] = [
    ("GenesysEdgeOffline", SignedDuration::from_secs(210)),
    ("GenesysTrunkDown", SignedDuration::from_secs(210)),
    ("GenesysTrunkOptionsFailing", SignedDuration::from_secs(390)),
    ("GenesysVoiceQualityPoor", SignedDuration::from_secs(765)),
];
/// `GenesysVoiceQualityPoor`'s bound by queue (see [`BOUNDS`]).
const BY_QUEUE_BOUND: SignedDuration = SignedDuration::from_secs(1065);

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn fault(target: &str, start: &str) -> FailureSurge {
    FailureSurge {
        target: target.into(),
        start: ts(start),
    }
}

/// The polls due at `t`: the telephony every minute from the start, the voice quality
/// every five minutes from it.
fn due(start: Timestamp, t: Timestamp) -> Vec<&'static str> {
    let every = |period: SignedDuration| t.duration_since(start).as_secs() % period.as_secs() == 0;
    let mut due = Vec::new();
    if every(TELEPHONY_REFRESH) {
        due.push("telephony");
    }
    if every(VOICE_REFRESH) {
        due.push("voice_quality");
    }
    due
}

/// A group of calls `GenesysVoiceQualityPoor` judges: a queue's, or an Edge's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group<'a> {
    Queue(&'a str),
    Edge(usize),
}

/// When `GenesysVoiceQualityPoor` fires for each group of the org's calls, as the
/// simulator's calls say, for the groups it ever fires for: at each voice read (every
/// [`VOICE_REFRESH`] from `start`), the calls judged are those counted by it and the two
/// before (each counts the calls that ended in the [`VOICE_REFRESH`] before a settle delay
/// ago), and the alert is pending from the first read from which they number
/// [`LEAST_CALLS`] or more, more than [`POOR_SHARE`] of them poor, at every read to `end`,
/// and fires `for` (5m) later. A group on the edge of a threshold (within 2% of it, what
/// `increase()`'s extrapolation may move) would leave the alert to chance, and fails.
fn judged_poor<'a>(
    org: &'a SimulatedOrg,
    degrade: &FailureSurge,
    (start, end): (Timestamp, Timestamp),
) -> BTreeMap<Group<'a>, Timestamp> {
    let first_read = start - VOICE_REFRESH - VOICE_SETTLE;
    let calls = voice_calls(org, None, first_read - SignedDuration::from_hours(4), end);
    let reads: Vec<Timestamp> = std::iter::successors(Some(start), |t| Some(*t + VOICE_REFRESH))
        .take_while(|t| *t <= end)
        .collect();
    let settle = VOICE_SETTLE;
    let groups = org
        .queues
        .iter()
        .map(|q| Group::Queue(&q.id))
        .chain((0..edges(org).len()).map(Group::Edge));
    let mut firing = BTreeMap::new();
    for group in groups {
        let judged: Vec<(usize, usize)> = reads
            .iter()
            .map(|read| {
                let until = (*read - settle).as_millisecond();
                let from = (*read - settle - JUDGED).max(first_read).as_millisecond();
                let judged: Vec<_> = calls
                    .iter()
                    .filter(|call| match group {
                        Group::Queue(id) => call.queue_id == Some(id),
                        Group::Edge(edge) => call.edge == edge,
                    })
                    .filter(|call| (from..until).contains(&call.end_ms))
                    .collect();
                let poor = judged
                    .iter()
                    .filter(|call| call_quality(org, Some(degrade), call).mos < MOS_THRESHOLD)
                    .count();
                (judged.len(), poor)
            })
            .collect();
        let near = |value: f64, threshold: f64| (value - threshold).abs() <= 0.02 * threshold;
        for (calls, poor) in &judged {
            let share = *poor as f64 / (*calls).max(1) as f64;
            assert!(
                !near(*calls as f64, LEAST_CALLS as f64) && !near(share, POOR_SHARE),
                "{group:?}'s calls judged at each read are on the edge of a threshold: {judged:?}"
            );
        }
        let bad = |(calls, poor): &(usize, usize)| {
            *calls >= LEAST_CALLS && *poor as f64 > POOR_SHARE * *calls as f64
        };
        let good_reads = judged.iter().rev().take_while(|j| bad(j)).count();
        if good_reads > 0 {
            firing.insert(group, reads[reads.len() - good_reads] + FOR_POOR);
        }
    }
    firing
}

fn signed(duration: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap()
}

#[tokio::test(start_paused = true)]
async fn each_voice_and_telephony_alert_fires_for_its_fault_within_its_bound_and_not_before() {
    let Some(promtool) = promtool() else { return };
    let _held = hold_time();
    let start = ts(START);
    // The defaults this test works out its timings from.
    assert_eq!(
        (VOICE_REFRESH, VOICE_SETTLE, TELEPHONY_REFRESH),
        (
            signed(DEFAULT_VOICE_QUALITY_REFRESH),
            signed(DEFAULT_VOICE_QUALITY_SETTLE_DELAY),
            signed(DEFAULT_TELEPHONY_REFRESH)
        )
    );
    let (edge_offline, trunk_down, edge_degrade) =
        (ts(EDGE_OFFLINE), ts(TRUNK_DOWN), ts(EDGE_DEGRADE));
    let degrade = fault(DEGRADED_EDGE, EDGE_DEGRADE);
    let clock = Clock::starting_at(start);
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        edge_offline: Some(fault(OFFLINE_EDGE, EDGE_OFFLINE)),
        trunk_down: Some(fault(DOWN_TRUNK, TRUNK_DOWN)),
        edge_degrade: Some(degrade.clone()),
        ..afternoon_sim()
    })
    .await;
    let mut config = config_for(&sim, Vec::new());
    config.voice_quality = VoiceQualityConfig {
        enabled: Some(true),
        ..VoiceQualityConfig::default()
    };
    config.telephony = TelephonyConfig {
        enabled: Some(true),
        ..TelephonyConfig::default()
    };
    let exporter = start_exporter(config, clock.clone()).await;

    let org = sim.simulator.org().clone();
    let edges = edges(&org);
    let edge_id = |name: &str| edges.iter().find(|e| e.name == name).unwrap().id.clone();
    let (offline_edge, degraded_edge) = (edge_id(OFFLINE_EDGE), edge_id(DEGRADED_EDGE));
    let down_trunk = trunks(&org, 0)
        .into_iter()
        .find(|trunk| trunk.name == DOWN_TRUNK)
        .unwrap();
    assert_eq!(down_trunk.proxies.len(), 2, "{DOWN_TRUNK}'s proxies");

    let end = edge_degrade + BY_QUEUE_BOUND;
    // When the simulator's calls say the voice alert fires: for the degraded Edge and every
    // queue but VIP, whose 4 to 11 calls in 15 minutes are too few to judge.
    let voice_firing = judged_poor(&org, &degrade, (start, end));
    let queue_name = |id: &str| org.queues.iter().find(|q| q.id == id).unwrap().name.clone();
    let judged: BTreeSet<String> = voice_firing
        .keys()
        .map(|group| match group {
            Group::Queue(id) => queue_name(id),
            Group::Edge(index) => edges[*index].name.to_owned(),
        })
        .collect();
    let mut expected: BTreeSet<String> = org.queues.iter().map(|q| q.name.clone()).collect();
    expected.remove("VIP");
    expected.insert(DEGRADED_EDGE.into());
    assert_eq!(judged, expected, "the groups the voice alert fires for");

    let keep = |samples: &Samples| samples.clone();
    let recorder = Recorder {
        due: &due,
        names: KEPT,
        keep: &keep,
    };
    let recorded = record(&exporter, &clock, (start, end), &recorder).await;
    drop(exporter);
    // The trunk alerts' quiet below is not for want of series: at the end every trunk on
    // Edge HQ 2 (offline) is unconnected too, the Lab trunk always was, and only the cloud
    // trunk is connected.
    let connected: BTreeMap<&str, f64> = recorded
        .last()
        .unwrap()
        .iter()
        .filter(|((name, _), _)| name == "genesys_trunk_connected")
        .map(|((_, labels), value)| (labels["trunk"].as_str(), *value))
        .collect();
    let unconnected = [DOWN_TRUNK, "Carrier A - Edge HQ 2", "Lab trunk"];
    let mut expected: BTreeMap<&str, f64> = unconnected.map(|t| (t, 0.0)).into();
    expected.insert("BYOC Cloud", 1.0);
    assert_eq!(connected, expected, "genesys_trunk_connected at the end");

    // What promtool is asked: when each alert first fired for each faulted entity; when
    // each alert was first pending or firing for anything; whether it ever was for
    // anything else.
    let range = end.duration_since(start).as_secs() as u64;
    let alert = |name: &str| format!("alertname='{name}'");
    let [offline, down, options, voice] = BOUNDS.map(|(name, _)| alert(name));
    let trunk = &down_trunk.id;
    let mut faulted = vec![
        (
            BOUNDS[0],
            edge_offline,
            format!("{offline},edge_id='{offline_edge}'"),
        ),
        (BOUNDS[1], trunk_down, format!("{down},trunk_id='{trunk}'")),
    ];
    for proxy in &down_trunk.proxies {
        let selector = format!("{options},trunk_id='{trunk}',proxy='{proxy}'");
        faulted.push((BOUNDS[2], trunk_down, selector));
    }
    let by_edge = format!("{voice},breakdown='edge'");
    let by_queue = format!("{voice},breakdown='queue'");
    let mut poor_queues = Vec::new();
    for group in voice_firing.keys() {
        let (bound, selector) = match group {
            Group::Edge(index) => (
                BOUNDS[3],
                format!("{by_edge},edge_id='{}'", edges[*index].id),
            ),
            Group::Queue(id) => {
                poor_queues.push(*id);
                let bound = ("GenesysVoiceQualityPoor", BY_QUEUE_BOUND);
                (bound, format!("{by_queue},queue_id='{id}'"))
            }
        };
        faulted.push((bound, edge_degrade, selector));
    }
    let anything_else = [
        format!("{offline},edge_id!='{offline_edge}'"),
        format!("{down},trunk_id!='{trunk}'"),
        format!("{options},trunk_id!='{trunk}'"),
        format!("{by_edge},edge_id!='{degraded_edge}'"),
        format!("{by_queue},queue_id!~'{}'", poor_queues.join("|")),
    ];
    // The voice alert's first firings the simulator's calls predict, by selector.
    let predicted: BTreeMap<&String, Timestamp> = faulted
        .iter()
        .filter(|(_, fault, _)| *fault == edge_degrade)
        .map(|(_, _, selector)| selector)
        .zip(voice_firing.values().copied())
        .collect();
    let mut exprs: Vec<String> = faulted
        .iter()
        .map(|(_, _, selector)| first_firing(selector, range))
        .collect();
    exprs.extend(BOUNDS.map(|(name, _)| first_pending(&alert(name), range)));
    exprs.extend(anything_else.iter().map(|s| first_pending(s, range)));
    let name = "an Edge offline, a trunk down, an Edge degraded";
    let values = evaluated(promtool, name, &recorded, &exprs, Vec::new());
    let at = |value: Option<f64>, expr: &str| {
        let value = value.unwrap_or_else(|| panic!("never: {expr}"));
        start + SignedDuration::from_secs(value as i64)
    };
    let (firsts, rest) = values.split_at(faulted.len());
    let (pending, quiet) = rest.split_at(BOUNDS.len());

    // Nothing before its fault.
    let faults = [edge_offline, trunk_down, trunk_down, edge_degrade];
    for (((name, _), fault), pending) in BOUNDS.iter().zip(faults).zip(pending) {
        let pending = at(*pending, name);
        assert!(
            pending >= fault,
            "{name} was pending or firing at {pending}, before its fault at {fault}"
        );
    }
    // Firing after it, within its bound, for the faulted Edge, trunk, proxies and queues.
    let mut measured: Vec<(&str, &str, SignedDuration)> = Vec::new();
    for (((name, bound), fault, selector), first) in faulted.iter().zip(firsts) {
        let fired = at(*first, selector);
        let after = fired.duration_since(*fault);
        eprintln!(
            "{name} fired for {{{selector}}} {} after its fault",
            written(after)
        );
        assert!(
            fired > *fault && after <= *bound,
            "{name} fired for {{{selector}}} at {fired}, {after:?} after its fault at \
             {fault}: the bound is {bound:?}"
        );
        measured.push((name, selector, after));
        if let Some(predicted) = predicted.get(selector) {
            assert_eq!(
                fired, *predicted,
                "{name} for {{{selector}}}, as the calls say"
            );
        }
    }
    // And for nothing else, ever.
    for (value, selector) in quiet.iter().zip(&anything_else) {
        assert_eq!(*value, None, "pending or firing for {{{selector}}}");
    }

    // docs/alerts.md gives exactly these figures: the run is deterministic. The voice
    // quality's cell gives the Edge's, then the range of the queues'.
    let by = |name: &str| -> Vec<(&str, SignedDuration)> {
        measured
            .iter()
            .filter(|(n, _, _)| *n == name)
            .map(|(_, selector, after)| (*selector, *after))
            .collect()
    };
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    for (name, _) in &BOUNDS[..3] {
        let afters: BTreeSet<String> = by(name).iter().map(|(_, a)| written(*a)).collect();
        assert_eq!(afters.len(), 1, "{name}'s faulted entities fired together");
        documented.insert(name.to_string(), afters.into_iter().next().unwrap());
    }
    let voice = by(BOUNDS[3].0);
    let voice_edge = voice.iter().find(|(s, _)| s.contains("edge_id")).unwrap().1;
    let queues: Vec<SignedDuration> = voice
        .iter()
        .filter(|(s, _)| s.contains("queue_id"))
        .map(|(_, after)| *after)
        .collect();
    let (fastest, slowest) = (queues.iter().min().unwrap(), queues.iter().max().unwrap());
    documented.insert(
        BOUNDS[3].0.to_string(),
        format!(
            "{} by Edge, {} to {} by queue",
            written(voice_edge),
            written(*fastest),
            written(*slowest)
        ),
    );
    assert_eq!(
        documented_latencies(&BOUNDS.map(|(name, _)| name)),
        documented,
        "docs/alerts.md's \"measured\" column, by alert"
    );
}
