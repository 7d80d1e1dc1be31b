//! The queue observations against the simulator: every gauge is the simulator's own answer,
//! queues are asked about in chunks, a 403 on observations or presences is survived, and
//! old data goes.
//!
//! Time is held ([`hold_time`]) and the simulator shares the exporter's clock, so that the
//! instant of each observation is known exactly and its answer can be computed again here.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::config::Config;
use genesys_sim::{Fault, FaultSpec, Malformed, SimulatedOrg, Simulator, SimulatorConfig, observe};
use genesys_wire::time::Clock;
use genesys_wire::{OBSERVATIONS_PATH, ObservationResponse, PRESENCES_PATH};
use jiff::Timestamp;

use crate::util::{
    clock::{advance, hold_time},
    exporter::{config_for, observing, scrape, start_exporter},
    http::get,
    process::start_binary_for,
    samples::{Samples, of, value},
    sim::{
        Sim, afternoon_sim, clear_faults, every_queue_observed, forbidden, set_fault,
        start_simulator,
    },
    wait::{wait_for_metrics, wait_until},
};

/// A weekday afternoon, when every demo queue has callers and agents.
fn afternoon() -> Timestamp {
    "2026-08-20T14:07:00Z".parse().unwrap()
}

/// A refresh that never lines up with the servers' 10 s idle timeout (see [`hold_time`]).
const REFRESH: Duration = Duration::from_secs(7);

const OBSERVED: &[(&str, &str)] = &[("query", "observations")];

/// The simulator, its clock shared with the exporter, and faults from the start.
async fn simulator(org: SimulatedOrg, faults: Vec<FaultSpec>) -> (Sim, Clock) {
    let clock = Clock::starting_at(afternoon());
    let sim = start_simulator(SimulatorConfig {
        org,
        faults,
        clock: clock.clone(),
        ..afternoon_sim()
    })
    .await;
    (sim, clock)
}

/// The default aggregates query, and the observations every [`REFRESH`].
fn config(sim: &Sim) -> Config {
    observing(config_for(sim, vec![]), REFRESH)
}

/// The gauge of each observation metric, written out here rather than taken from the
/// exporter's naming code, so that the test checks that code.
const GAUGES: [(&str, &str); 11] = [
    ("oWaiting", "genesys_queue_waiting"),
    ("oInteracting", "genesys_queue_interacting"),
    ("oAlerting", "genesys_queue_alerting"),
    ("oOnQueueUsers", "genesys_queue_on_queue_users"),
    ("oOffQueueUsers", "genesys_queue_off_queue_users"),
    ("oActiveUsers", "genesys_queue_active_users"),
    ("oMemberUsers", "genesys_queue_member_users"),
    (
        "oUserRoutingStatuses",
        "genesys_queue_user_routing_statuses",
    ),
    ("oUserPresences", "genesys_queue_user_presences"),
    ("oLongestWaiting", "genesys_queue_longest_waiting_seconds"),
    (
        "oLongestInteracting",
        "genesys_queue_longest_interacting_seconds",
    ),
];

/// What the simulator says of every queue of `org` at `now`, asked in one request.
fn simulated(sim: &Sim, now: Timestamp) -> ObservationResponse {
    let org = sim.simulator.org();
    observe(org, None, &every_queue_observed(org), now).unwrap()
}

/// The series the exporter should publish for `response`, answered at `now`: presences
/// named from the simulator's definitions when `named`, else by their ID; the system
/// presence from the answer's mappings (`ON_QUEUE` → `on_queue`), which the test takes
/// from where the exporter does not when the names are known.
fn expected(sim: &Sim, response: &ObservationResponse, now: Timestamp, named: bool) -> Samples {
    let org = sim.simulator.org();
    let definitions = Simulator::presences();
    let now_ms = now.as_millisecond() as f64;
    let mut samples = Samples::new();
    for group in &response.results {
        let id = &group.group["queueId"];
        let queue = &org.queues.iter().find(|q| q.id == *id).unwrap().name;
        let mut base: BTreeMap<String, String> = [
            ("query", "observations"),
            ("queue_id", id.as_str()),
            ("queue", queue.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some(media_type) = group.group.get("mediaType") {
            base.insert("media_type".into(), media_type.clone());
        }
        for entry in &group.data {
            let name = GAUGES.iter().find(|(m, _)| *m == entry.metric).unwrap().1;
            let mut labels = base.clone();
            if let Some(qualifier) = &entry.qualifier {
                if entry.metric == "oUserPresences" {
                    let system = response
                        .system_to_organization_mappings
                        .iter()
                        .find(|(_, ids)| ids.contains(qualifier))
                        .map(|(system, _)| system.to_lowercase())
                        .unwrap();
                    let presence = match named {
                        true => definitions
                            .entities
                            .iter()
                            .find(|d| d.id == *qualifier)
                            .unwrap()
                            .name
                            .clone(),
                        false => qualifier.clone(),
                    };
                    labels.insert("presence".into(), presence);
                    labels.insert("system_presence".into(), system);
                } else {
                    labels.insert("routing_status".into(), qualifier.to_lowercase());
                }
            }
            let value = if entry.metric.starts_with("oLongest") {
                let started = entry.stats.calculated_metric_value.unwrap();
                ((now_ms - started) / 1000.0).max(0.0)
            } else {
                entry.stats.count.unwrap()
            };
            assert!(
                samples.insert((name.to_string(), labels), value).is_none(),
                "the simulator repeats {name}"
            );
        }
    }
    samples
}

/// The observation series the exporter publishes.
fn observed(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((_, labels), _)| labels.get("query").map(String::as_str) == Some("observations"))
        .filter(|((name, _), _)| name.starts_with("genesys_queue_"))
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// Fails, naming the series that differ (not every series there is), unless the exporter
/// published exactly `wanted`.
fn assert_published(samples: &Samples, wanted: &Samples) {
    let published = observed(samples);
    let mut differences: Vec<String> = Vec::new();
    for (series, value) in wanted {
        match published.get(series) {
            Some(got) if got == value => {}
            got => differences.push(format!("{series:?}: published {got:?}, wanted {value}")),
        }
    }
    for (series, value) in &published {
        if !wanted.contains_key(series) {
            differences.push(format!("{series:?}: published {value}, wanted none"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} series differ:\n{}",
        differences.len(),
        wanted.len(),
        differences[..differences.len().min(20)].join("\n")
    );
}

/// The aggregates are published, and the observations were refused once.
fn refused_once_beside_the_aggregates(samples: &Samples) -> bool {
    let forbidden = [("endpoint", "observations"), ("reason", "forbidden")];
    up(samples, "default") == Some(1.0)
        && of(samples, "genesys_api_failures_total", &forbidden) == 1.0
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

#[tokio::test(start_paused = true)]
async fn every_gauge_is_the_simulators_observation_with_names_and_ages() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatedOrg::demo(), Vec::new()).await;
    let exporter = start_exporter(config(&sim), clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "observations") == Some(1.0)).await;
    let now = clock.now();
    assert_eq!(now, afternoon(), "time is held");
    let response = simulated(&sim, now);
    let wanted = expected(&sim, &response, now, true);
    assert_published(&samples, &wanted);

    // What that covers: queue-only groups, qualifiers, named presences, ages and zeros.
    let has = |name: &str, test: &dyn Fn(&BTreeMap<String, String>, f64) -> bool| {
        wanted
            .iter()
            .any(|((n, labels), value)| n == name && test(labels, *value))
    };
    assert!(has("genesys_queue_member_users", &|l, _| !l
        .contains_key("media_type")));
    assert!(has(
        "genesys_queue_on_queue_users",
        &|l, _| l["routing_status"] == "idle"
    ));
    assert!(has("genesys_queue_user_routing_statuses", &|l, _| {
        l["routing_status"] == "off_queue"
    }));
    assert!(has("genesys_queue_user_presences", &|l, _| {
        l["presence"] == "Taking calls" && l["system_presence"] == "on_queue"
    }));
    assert!(has("genesys_queue_longest_waiting_seconds", &|_, v| v > 0.0));
    assert!(
        has("genesys_queue_waiting", &|_, v| v == 0.0),
        "zeros are kept"
    );
    assert_eq!(sim.simulator.requests().observations, 1);
    assert_eq!(sim.simulator.requests().presences, 1);
    // The landing page lists the observations beside the queries, with their instant.
    let page = get(&format!("{}/", exporter.url)).await.body;
    assert!(
        page.contains(&format!(
            "<tr><td>observations</td><td>queue state, every 7s</td><td>{now}</td><td>at {now}</td><td>ok</td></tr>"
        )),
        "{page}"
    );

    // A refresh later: the simulator's data then, with the ages grown.
    advance(REFRESH).await;
    let later = clock.now();
    let samples = wait_for_metrics(&exporter.url, |s| {
        of(s, "genesys_last_success_timestamp_seconds", OBSERVED)
            == later.as_millisecond() as f64 / 1000.0
    })
    .await;
    let response = simulated(&sim, later);
    assert_published(&samples, &expected(&sim, &response, later, true));
    assert_eq!(sim.simulator.requests().observations, 2);
}

#[tokio::test(start_paused = true)]
async fn two_hundred_and_fifty_queues_are_three_requests_a_refresh() {
    let _held = hold_time();
    let (sim, clock) = simulator(
        SimulatedOrg::with_queues(250, vec!["voice".into()]),
        Vec::new(),
    )
    .await;
    let mut config = config(&sim);
    config.observations.queues_per_request = Some(100);
    let exporter = start_exporter(config, clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "observations") == Some(1.0)).await;
    assert_eq!(sim.simulator.requests().observations, 3);
    let queues: std::collections::BTreeSet<&String> = samples
        .keys()
        .filter(|(name, _)| name == "genesys_queue_member_users")
        .map(|(_, labels)| &labels["queue_id"])
        .collect();
    assert_eq!(queues.len(), 250, "every queue, from every chunk");

    for refreshes in 2..=4 {
        advance(REFRESH).await;
        wait_until("three more observation requests", || {
            sim.simulator.requests().observations == 3 * refreshes
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_403_on_observations_leaves_the_aggregates_running_and_is_asked_again_hourly() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatedOrg::demo(), vec![forbidden(OBSERVATIONS_PATH)]).await;
    let exporter = start_exporter(config(&sim), clock).await;
    let samples = wait_for_metrics(&exporter.url, refused_once_beside_the_aggregates).await;
    assert_eq!(up(&samples, "observations"), Some(0.0));
    assert!(observed(&samples).is_empty());
    assert_eq!(
        sim.simulator.requests().observations,
        1,
        "a 403 is not retried"
    );
    let page = get(&format!("{}/", exporter.url)).await.body;
    assert!(
        page.contains("<tr><td>observations</td><td>queue state, every 7s</td>")
            && page.contains("failed: observations: HTTP 403"),
        "{page}"
    );

    // Not asked again at the next refreshes, but an hour later.
    advance(REFRESH * 5).await;
    assert_eq!(sim.simulator.requests().observations, 1);
    clear_faults(&sim).await;
    advance(Duration::from_secs(3600) - REFRESH * 5 - Duration::from_secs(5)).await;
    assert_eq!(sim.simulator.requests().observations, 1);
    advance(Duration::from_secs(5)).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "observations") == Some(1.0)).await;
    assert_eq!(sim.simulator.requests().observations, 2);
    assert!(!observed(&samples).is_empty());
    assert_eq!(up(&samples, "default"), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn without_presence_view_presences_are_their_ids_with_the_mapped_system_presence() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatedOrg::demo(), vec![forbidden(PRESENCES_PATH)]).await;
    let exporter = start_exporter(config(&sim), clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "observations") == Some(1.0)).await;
    let now = clock.now();
    let response = simulated(&sim, now);
    assert_published(&samples, &expected(&sim, &response, now, false));
    assert_eq!(sim.simulator.requests().presences, 1);
}

#[tokio::test(start_paused = true)]
async fn observations_older_than_three_refreshes_are_dropped() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatedOrg::demo(), Vec::new()).await;
    let exporter = start_exporter(config(&sim), clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "observations") == Some(1.0)).await;
    let published = clock.now();
    let series = observed(&samples);
    assert!(!series.is_empty());

    // From now on every observation fails; the data stays until 3 refreshes have passed.
    set_fault(
        &sim,
        serde_json::json!({"fault": "malformed", "body": "invalid_json", "path": OBSERVATIONS_PATH}),
    )
    .await;
    advance(REFRESH * 3 - Duration::from_millis(100)).await;
    wait_until("two failed observations", || {
        sim.simulator.requests().observations == 3
    })
    .await;
    let samples = scrape(&exporter).await;
    assert_eq!(observed(&samples), series, "still served, as it was");
    assert_eq!(up(&samples, "observations"), Some(0.0));

    advance(Duration::from_millis(100)).await;
    assert_eq!(clock.now(), published + REFRESH * 3);
    let samples = scrape(&exporter).await;
    assert!(observed(&samples).is_empty(), "dropped at 3 refreshes");
    assert_eq!(
        of(&samples, "genesys_series", OBSERVED),
        0.0,
        "and counted as gone"
    );
}

#[tokio::test]
async fn each_missing_permission_is_warned_about_once_naming_it() {
    let sim = start_simulator(SimulatorConfig {
        faults: vec![forbidden(OBSERVATIONS_PATH), forbidden(PRESENCES_PATH)],
        ..afternoon_sim()
    })
    .await;
    // Reads of the queue list and the presences twice a second fit the API budget only
    // with all of it.
    let extra = "queue_names_refresh = \"500ms\"\napi_budget_share = 1.0\n[observations]\nrefresh = \"5s\"\n";
    let (process, url, _dir) = start_binary_for(&sim, extra, &[]).await;
    let samples = wait_for_metrics(&url, refused_once_beside_the_aggregates).await;
    assert_eq!(up(&samples, "observations"), Some(0.0));
    wait_until("five refused reads of the presence definitions", || {
        sim.simulator.requests().presences >= 5
    })
    .await;
    let log = process.log();
    for (warning, permission) in [
        (
            "cannot read presence names",
            "presence:presenceDefinition:view",
        ),
        (
            "cannot observe the queues",
            "analytics:queueObservation:view",
        ),
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(warning)).collect();
        assert_eq!(lines.len(), 1, "{log}");
        assert!(lines[0].contains(&format!("role {permission};")), "{log}");
    }
}

#[tokio::test]
async fn a_run_of_failed_observations_is_warned_about_once_and_its_end_is_told() {
    let broken = FaultSpec {
        fault: Fault::Malformed {
            body: Malformed::InvalidJson,
        },
        ..forbidden(OBSERVATIONS_PATH)
    };
    let sim = start_simulator(SimulatorConfig {
        faults: vec![broken],
        ..afternoon_sim()
    })
    .await;
    let extra = "[observations]\nrefresh = \"5s\"\n";
    let (process, url, _dir) = start_binary_for(&sim, extra, &[]).await;
    wait_for_metrics(&url, |s| {
        of(s, "genesys_poll_failures_total", OBSERVED) >= 2.0
    })
    .await;
    clear_faults(&sim).await;
    wait_for_metrics(&url, |s| up(s, "observations") == Some(1.0)).await;
    let log = process
        .wait_for_log("queue observations succeed again")
        .await;
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" level=warn ") && l.contains("queue observation failed"))
        .collect();
    assert_eq!(warned.len(), 1, "{log}");
}
