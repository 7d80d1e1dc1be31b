//! How soon each alert on the newer sources fires after the simulator's surge it reports,
//! measured end to end as `alert_latency` measures the queue alerts: the simulator and the
//! exporter in this process on one simulated clock, on held time, `/metrics` recorded every
//! 15 s at the instants the exporter publishes ([`record`]), the recording fed to a
//! promtool test of the shipped `recording.rules.yml` and `alerts.rules.yml`, and each
//! alert's first firing read from promtool and confirmed by it.
//!
//! A weekday afternoon from 14:00, with the agent states by org and division every 15 s,
//! a rolling flows query and a rolling actions query (10-minute windows, refreshed every
//! minute, 90 s settle delay, as the demo's `flows_live` and `actions_live`) and the
//! default conversations query in 15-minute buckets. Three surges, each at its own instant,
//! each after a baseline longer than every `for` of the alerts it may trip:
//! - 14:06, a flow surge on "Main IVR": its outcomes fail;
//! - 14:07, an agents surge on Support (division Home): its agents on queue stop answering;
//! - 14:08, an action surge on "Lookup account": it times out.
//!
//! For each alert: nothing pending or firing before its surge, firing after it for the
//! surged flow, action or division (and the whole org, which Support's agents tip over the
//! threshold too) and for nothing else, within the bound worked out by [`BOUNDS`].
//! `GenesysFlowDisconnectRateHigh` and `GenesysConversationErrorsHigh` have no surge: they
//! must stay quiet all along (the promtool unit tests in `sources.test.yml` cover them
//! firing).

use std::time::Duration;

use genesys_exporter::config::{AgentsConfig, DEFAULT_SETTLE_DELAY, QueryConfig};
use genesys_sim::{AgentsSurge, FailureSurge, SimulatorConfig};
use genesys_wire::time::Clock;
use jiff::{SignedDuration, Timestamp};

use crate::util::{
    ci::promtool,
    clock::hold_time,
    exporter::{config_for, start_exporter},
    recording::{Recorder, STEP, record, settled_at},
    rule_test::{documented_latencies, evaluated, first_firing, first_pending, written},
    samples::Samples,
    sim::{afternoon_sim, start_simulator},
};

const START: &str = "2026-08-20T14:00:00Z";

const FLOW: &str = "Main IVR";
const FLOW_SURGE: &str = "2026-08-20T14:06:00Z";
const QUEUE: &str = "Support";
/// Support's division.
const DIVISION: &str = "Home";
const AGENTS_SURGE: &str = "2026-08-20T14:07:00Z";
const ACTION: &str = "Lookup account";
const ACTION_SURGE: &str = "2026-08-20T14:08:00Z";

/// The rolling queries' window and refresh.
const WINDOW: Duration = Duration::from_secs(600);
const REFRESH: Duration = Duration::from_secs(60);

/// The gauges the rules behind the alerts read.
const KEPT: &[&str] = &[
    "genesys_agents_routing_status",
    "genesys_flow",
    "genesys_flow_disconnect_segments",
    "genesys_flow_outcome",
    "genesys_flow_outcome_failed",
    "genesys_data_action_executions",
    "genesys_conversation_offered",
    "genesys_conversation_error",
];

/// Each alert's bound after its surge, worked out from the pipeline. Every one ends with
/// up to 15 s each for the scrape, the recording rule and the alert's evaluation (45 s),
/// then the alert's `for`.
///
/// - Agents (`for: 5m`): the surge turns Support's agents Not Responding at once; the next
///   count is at most one refresh (15 s) later: 15 s + 45 s + 5m = 6m.
/// - Flow outcomes failing (`for: 5m`): before the surge about 12% of Main IVR's outcomes
///   fail ((5% × 1 + 100% × 0.1 + 3% × 0.2) / 1.3: callers going on to a queue, hanging up,
///   served by the flow alone, flows.rs); from it about 86% ((85% + 100% × 0.1 + 85% ×
///   0.2) / 1.3). The window's rate passes 30% once a share f > 0.18 / 0.74 ≈ 0.24 of it
///   lies after the surge, 2m26s of 10 minutes; at most 3m30s with callers drawn at
///   random. Windows end on whole minutes (+ 60 s) and are published 90 s after their end:
///   3m30s + 1m + 1m30s + 45 s + 5m = 11m45s.
/// - Data action failing (`for: 5m`): 5% fail before, 90% + 10% × 5% ≈ 90.5% from the
///   surge on; the window passes 10% once f > 0.05 / 0.855 ≈ 0.06, 35 s; at most 1 minute:
///   1m + 1m + 1m30s + 45 s + 5m = 9m15s.
const BOUNDS: [(&str, SignedDuration); 3] = [
    (
        "GenesysFlowOutcomeFailureRateHigh",
        SignedDuration::from_secs(705),
    ),
    (
        "GenesysAgentsNotRespondingHigh",
        SignedDuration::from_secs(360),
    ),
    (
        "GenesysDataActionFailureRateHigh",
        SignedDuration::from_secs(555),
    ),
];

/// The alerts no surge of the simulator drives, quiet throughout the run: the flow surge
/// fails outcomes, yet its callers still go on to their queue (an IVR that cannot identify
/// a caller hands them to an agent), so no more of them hang up in the IVR.
const QUIET_ALERTS: [&str; 2] = [
    "GenesysFlowDisconnectRateHigh",
    "GenesysConversationErrorsHigh",
];

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn rolling(name: &str, source: &str) -> QueryConfig {
    QueryConfig {
        name: name.into(),
        source: Some(source.into()),
        window: Some(WINDOW),
        refresh: Some(REFRESH),
        ..QueryConfig::default()
    }
}

/// The queries whose poll falls due at `t`: every one at the start; the agent states
/// every 15 s from it; the rolling windows and the buckets a settle delay after each whole
/// minute and each quarter of an hour.
fn due(start: Timestamp, t: Timestamp) -> Vec<&'static str> {
    let mut due = vec!["agents"];
    if t == start || settled_at(t, DEFAULT_SETTLE_DELAY, 60) {
        due.extend(["flows_live", "actions_live"]);
    }
    if t == start || settled_at(t, DEFAULT_SETTLE_DELAY, 15 * 60) {
        due.push("default");
    }
    due
}

#[tokio::test(start_paused = true)]
async fn each_source_alert_fires_for_its_surge_within_its_bound_and_not_before() {
    let Some(promtool) = promtool() else { return };
    let _held = hold_time();
    let start = ts(START);
    let (flow_surge, agents_surge, action_surge) =
        (ts(FLOW_SURGE), ts(AGENTS_SURGE), ts(ACTION_SURGE));
    let clock = Clock::starting_at(start);
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        flow_surge: Some(FailureSurge {
            target: FLOW.into(),
            start: flow_surge,
        }),
        agents_surge: Some(AgentsSurge {
            queue: QUEUE.into(),
            start: agents_surge,
        }),
        action_surge: Some(FailureSurge {
            target: ACTION.into(),
            start: action_surge,
        }),
        ..afternoon_sim()
    })
    .await;
    let queries = vec![
        QueryConfig {
            name: "default".into(),
            ..QueryConfig::default()
        },
        rolling("flows_live", "flows"),
        rolling("actions_live", "actions"),
    ];
    let mut config = config_for(&sim, queries);
    config.agents = AgentsConfig {
        enabled: Some(true),
        refresh: Some(STEP),
        by: Some(vec!["org".into(), "division".into()]),
        ..AgentsConfig::default()
    };
    let exporter = start_exporter(config, clock.clone()).await;

    let surges = [flow_surge, agents_surge, action_surge];
    let end = surges
        .iter()
        .zip(BOUNDS)
        .map(|(s, (_, bound))| *s + bound)
        .max()
        .unwrap();
    let keep = |samples: &Samples| samples.clone();
    let recorder = Recorder {
        due: &due,
        names: KEPT,
        keep: &keep,
    };
    let recorded = record(&exporter, &clock, (start, end), &recorder).await;
    drop(exporter);

    // What promtool is asked, per alert: when it first fired for the surged entity; when it
    // was first pending or firing for anything; when it first fired for anything else.
    let range = end.duration_since(start).as_secs() as u64;
    let alert = |name: &str| format!("alertname='{name}'");
    let [flows, agents, actions] = BOUNDS.map(|(name, _)| alert(name));
    let mut exprs = vec![
        first_firing(&format!("{flows},flow='{FLOW}'"), range),
        first_firing(&format!("{agents},division='{DIVISION}'"), range),
        first_firing(&format!("{agents},division_id=''"), range),
        first_firing(&format!("{actions},action='{ACTION}'"), range),
    ];
    let firsts = exprs.len();
    exprs.extend(BOUNDS.map(|(name, _)| first_pending(&alert(name), range)));
    let anything_else = [
        first_firing(&format!("{flows},flow!='{FLOW}'"), range),
        first_firing(
            &format!("{agents},division_id!='',division!='{DIVISION}'"),
            range,
        ),
        first_firing(&format!("{actions},action!='{ACTION}'"), range),
    ];
    exprs.extend(anything_else.iter().cloned());
    exprs.extend(QUIET_ALERTS.map(|name| first_pending(&alert(name), range)));
    let name = "a flow, an agents and an action surge";
    let values = evaluated(promtool, name, &recorded, &exprs, Vec::new());
    let at = |value: Option<f64>, expr: &str| {
        let value = value.unwrap_or_else(|| panic!("never: {expr}"));
        start + SignedDuration::from_secs(value as i64)
    };
    let instants: Vec<Timestamp> = values[..firsts + BOUNDS.len()]
        .iter()
        .zip(&exprs)
        .map(|(value, expr)| at(*value, expr))
        .collect();
    let (fired, pending) = instants.split_at(firsts);

    // Nothing before its surge.
    for (((name, _), surge), pending) in BOUNDS.iter().zip(surges).zip(pending) {
        assert!(
            *pending >= surge,
            "{name} was pending or firing at {pending}, before its surge at {surge}"
        );
    }
    // Firing after it, within its bound: the flow; Support's division and the org; the
    // action.
    let cases = [
        (BOUNDS[0], flow_surge, fired[0], FLOW),
        (BOUNDS[1], agents_surge, fired[1], DIVISION),
        (BOUNDS[1], agents_surge, fired[2], "the org"),
        (BOUNDS[2], action_surge, fired[3], ACTION),
    ];
    for ((name, bound), surge, fired, entity) in cases {
        let after = fired.duration_since(surge);
        eprintln!(
            "{name} fired for {entity} {} after its surge",
            written(after)
        );
        assert!(
            fired > surge && after <= bound,
            "{name} fired for {entity} at {fired}, {after:?} after its surge at {surge}: \
             the bound is {bound:?}"
        );
    }
    // And for nothing else, and the alert without a surge not at all.
    let quiet = &values[firsts + BOUNDS.len()..];
    let quiet_exprs = &exprs[firsts + BOUNDS.len()..];
    for (value, expr) in quiet.iter().zip(quiet_exprs) {
        assert_eq!(*value, None, "{expr}");
    }

    // docs/alerts.md gives exactly these figures: the run is deterministic.
    let measured = [
        ("GenesysFlowOutcomeFailureRateHigh", flow_surge, fired[0]),
        ("GenesysAgentsNotRespondingHigh", agents_surge, fired[1]),
        ("GenesysDataActionFailureRateHigh", action_surge, fired[3]),
    ];
    let measured: std::collections::BTreeMap<String, String> = measured
        .iter()
        .map(|(name, surge, fired)| (name.to_string(), written(fired.duration_since(*surge))))
        .collect();
    assert_eq!(
        documented_latencies(&BOUNDS.map(|(name, _)| name)),
        measured,
        "docs/alerts.md's \"measured\" column, by alert"
    );
}
