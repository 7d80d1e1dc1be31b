//! The telephony against the simulator: every Edge and trunk gauge is the simulator's own
//! state and metrics, the trunks' inbound calls its voice calls going on, worked out again
//! here; the cloud media Edge has no hardware series; an Edge going offline and a trunk
//! going down show from their start; a 403 on any one telephony endpoint, or a metrics
//! answer that is not an array, leaves the rest, and every other source, publishing; more
//! trunks than a page are read in pages and chunks of 100; a bad `[telephony]` table is
//! refused.
//!
//! Time is held and the simulator shares the exporter's clock, so that the instant of each
//! read is known exactly and its answer can be computed again here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use genesys_exporter::config::{Config, Settings, TelephonyConfig};
use genesys_sim::{FailureSurge, FaultSpec, Simulator, SimulatorConfig, voice_calls_active};
use genesys_wire::time::Clock;
use genesys_wire::{EDGE_METRICS_PATH, EDGES_PATH, TRUNK_METRICS_PATH, TRUNKS_PATH};
use jiff::Timestamp;

use crate::util::{
    clock::{advance, hold_time},
    exporter::{config_for, observing, start_exporter, start_exporter_with},
    files::read,
    http::get,
    process::exit_on_config,
    samples::{Samples, of, value},
    sim::{AFTERNOON, Sim, afternoon_sim, forbidden, start_simulator},
    tables::table_rows,
    wait::wait_for_metrics,
};

/// A refresh that never lines up with the servers' 10 s idle timeout (see [`hold_time`]);
/// shorter than allowed, so set on the checked settings.
const REFRESH: Duration = Duration::from_secs(7);

/// The simulator at [`AFTERNOON`] as `config` says, its clock shared with the exporter.
async fn simulator(config: SimulatorConfig) -> (Sim, Clock) {
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        ..config
    })
    .await;
    (sim, clock)
}

/// `config` reading the Edges and trunks.
fn reading_telephony(mut config: Config) -> Config {
    config.telephony = TelephonyConfig {
        enabled: Some(true),
        ..TelephonyConfig::default()
    };
    config
}

/// Settings for `sim` reading the telephony every [`REFRESH`].
fn settings(sim: &Sim) -> Settings {
    let mut settings = reading_telephony(config_for(sim, vec![]))
        .validate()
        .unwrap();
    settings.telephony = Some(REFRESH);
    settings
}

/// The requests to the Edges list, their metrics, the trunks list and theirs.
fn requests(sim: &Simulator) -> (u64, u64, u64, u64) {
    let counts = sim.requests();
    let (edges, trunks) = (counts.edges, counts.trunks);
    (edges, counts.edge_metrics, trunks, counts.trunk_metrics)
}

/// The `code` spans of a table cell.
fn code_spans(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

/// The telephony series the exporter publishes.
fn published(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((name, labels), _)| {
            (name.starts_with("genesys_edge_") || name.starts_with("genesys_trunk_"))
                && labels.get("query").map(String::as_str) == Some("telephony")
        })
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// The names of the gauges in `samples`, each once.
fn gauges(samples: &Samples) -> Vec<String> {
    let mut names: Vec<String> = samples.keys().map(|(name, _)| name.clone()).collect();
    names.dedup();
    names
}

/// The series the exporter should publish at `now`: the Edges and trunks as the
/// simulator's shared truth has them (names, sites, deployment, trunks' Edges and
/// proxies), its metrics as it answers them, turned into ratios here, and each trunk's
/// inbound calls counted from the voice calls going on.
fn expected(sim: &Simulator, now: Timestamp) -> Samples {
    let org = sim.org();
    let telephony = sim.telephony(now);
    let edges = genesys_sim::edges(org);
    let mut samples = Samples::new();
    let mut put = |name: &str, labels: &[(&str, &str)], value: f64| {
        let mut labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert("query".into(), "telephony".into());
        samples.insert((name.to_string(), labels), value);
    };
    for edge in &edges {
        let base = [
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
            ("site", edge.site),
        ];
        put("genesys_edge_online", &base, 1.0);
        let info = [
            base.as_slice(),
            &[
                ("status_code", "ACTIVE"),
                ("deployment_type", edge.deployment),
            ],
        ]
        .concat();
        put("genesys_edge_info", &info, 1.0);
    }
    for entry in telephony.edge_metrics() {
        let id = entry.edge.as_ref().unwrap().id.clone();
        let name = edges.iter().find(|e| e.id == id).unwrap().name;
        let base = [("edge_id", id.as_str()), ("edge", name)];
        let uptime = entry.up_time_msec.unwrap() as f64 / 1000.0;
        put("genesys_edge_uptime_seconds", &base, uptime);
        for cpu in entry.processors.iter().filter(|p| p.cpu_id == "total") {
            let ratio = cpu.active_time_pct.unwrap() / 100.0;
            put("genesys_edge_cpu_active_ratio", &base, ratio);
        }
        for memory in &entry.memory {
            let ratio = memory.available_bytes.unwrap() / memory.total_bytes.unwrap();
            let labels = [base.as_slice(), &[("type", memory.kind.as_str())]].concat();
            put("genesys_edge_memory_available_ratio", &labels, ratio);
        }
        for disk in &entry.disks {
            let ratio = disk.available_bytes.unwrap() / disk.total_bytes.unwrap();
            let labels = [
                base.as_slice(),
                &[("partition", disk.partition_name.as_str())],
            ]
            .concat();
            put("genesys_edge_disk_available_ratio", &labels, ratio);
        }
        for network in &entry.networks {
            let ratio = network.utilization_pct.unwrap() / 100.0;
            let labels = [base.as_slice(), &[("interface", network.ifname.as_str())]].concat();
            put("genesys_edge_network_utilization_ratio", &labels, ratio);
        }
    }
    // The calls going on on each Edge, each carried by the Edge's one connected trunk.
    let mut calls = vec![0u64; edges.len()];
    for call in voice_calls_active(org, None, now) {
        calls[call.edge] += 1;
    }
    let metrics = telephony.trunk_metrics();
    for (trunk, entry) in genesys_sim::trunks(org, 0).iter().zip(&metrics) {
        let edge = &edges[trunk.edge];
        let base = [
            ("trunk_id", trunk.id.as_str()),
            ("trunk", trunk.name.as_str()),
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
        ];
        let state = [&base[..2], &[("trunk_type", "EXTERNAL")], &base[2..]].concat();
        let in_service = if trunk.in_service { 1.0 } else { 0.0 };
        put("genesys_trunk_in_service", &state, in_service);
        put("genesys_trunk_enabled", &state, 1.0);
        put("genesys_trunk_connected", &state, in_service);
        for proxy in &trunk.proxies {
            let labels = [base.as_slice(), &[("proxy", *proxy)]].concat();
            put("genesys_trunk_options_ok", &labels, 1.0);
            if trunk.registers {
                put("genesys_trunk_registered", &labels, 1.0);
            }
        }
        let inbound = if trunk.in_service {
            calls[trunk.edge]
        } else {
            0
        };
        put("genesys_trunk_inbound_calls", &base, inbound as f64);
        let calls = entry.calls.as_ref().unwrap();
        let outbound = calls.outbound_call_count.unwrap() as f64;
        put("genesys_trunk_outbound_calls", &base, outbound);
        let mismatches = entry.qos.as_ref().unwrap().mismatch_count.unwrap() as f64;
        put("genesys_trunk_qos_mismatches", &base, mismatches);
    }
    samples
}

#[tokio::test(start_paused = true)]
async fn every_telephony_gauge_is_the_simulators_edges_trunks_and_calls() {
    let _held = hold_time();
    let (sim, clock) = simulator(afternoon_sim()).await;
    let exporter = start_exporter_with(settings(&sim), clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "telephony") == Some(1.0)).await;
    let now = clock.now();
    assert_eq!(now, AFTERNOON.parse::<Timestamp>().unwrap(), "time is held");
    let wanted = expected(&sim.simulator, now);
    assert_eq!(published(&samples), wanted);
    // Every gauge of the spec is there, and the calls are real ones.
    assert_eq!(gauges(&wanted).len(), 15, "{:?}", gauges(&wanted));
    let inbound: f64 = wanted
        .iter()
        .filter(|((name, _), _)| name == "genesys_trunk_inbound_calls")
        .map(|(_, v)| v)
        .sum();
    assert!(inbound > 10.0, "{inbound} calls at 14:07");
    // The cloud media Edge reports its uptime, and no hardware.
    let cloud = genesys_sim::edges(sim.simulator.org())[2].clone();
    assert_eq!(cloud.deployment, "CDM");
    let of_cloud: Vec<&str> = samples
        .keys()
        .filter(|(_, labels)| labels.get("edge_id") == Some(&cloud.id))
        .filter(|(name, _)| name.starts_with("genesys_edge_"))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        of_cloud,
        [
            "genesys_edge_info",
            "genesys_edge_online",
            "genesys_edge_uptime_seconds"
        ]
    );
    // The landing page lists it beside the queries, with its instant.
    let page = get(&format!("{}/", exporter.url)).await.body;
    assert!(
        page.contains(&format!(
            "<tr><td>telephony</td><td>Edges and trunks, every 7s</td><td>{now}</td><td>at {now}</td><td>ok</td></tr>"
        )),
        "{page}"
    );
    // docs/telephony.md names each gauge and its labels as published.
    let rows = table_rows(
        &read("docs/telephony.md"),
        "| gauge | labels | what it is |",
    );
    let documented: Vec<(String, BTreeSet<String>)> = rows
        .iter()
        .map(|row| (row[0].trim_matches('`').to_owned(), code_spans(&row[1])))
        .collect();
    let mut published: Vec<(String, BTreeSet<String>)> = wanted
        .keys()
        .map(|(name, labels)| {
            let labels = labels.keys().filter(|l| *l != "query").cloned().collect();
            (name.clone(), labels)
        })
        .collect();
    published.dedup();
    let mut documented_sorted = documented.clone();
    documented_sorted.sort();
    assert_eq!(documented_sorted, published);
    // One request each: a page of each list, a chunk of each metrics.
    assert_eq!(requests(&sim.simulator), (1, 1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn an_offline_edge_and_a_down_trunk_show_from_their_start() {
    let _held = hold_time();
    let start: Timestamp = "2026-08-20T14:07:07Z".parse().unwrap();
    let fault = |target: &str| {
        Some(FailureSurge {
            target: target.into(),
            start,
        })
    };
    let (sim, clock) = simulator(SimulatorConfig {
        edge_offline: fault("Edge HQ 2"),
        trunk_down: fault("Carrier A - Edge HQ 1"),
        ..afternoon_sim()
    })
    .await;
    let edges = genesys_sim::edges(sim.simulator.org());
    let trunks = genesys_sim::trunks(sim.simulator.org(), 0);
    let (hq1, hq2) = (&edges[0], &edges[1]);
    let exporter = start_exporter_with(settings(&sim), clock.clone()).await;
    let online = |s: &Samples, edge: &genesys_sim::SimEdge| {
        let labels = [
            ("query", "telephony"),
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
            ("site", edge.site),
        ];
        value(s, "genesys_edge_online", &labels)
    };
    let trunk = |s: &Samples, name: &str, index: usize| {
        let trunk = &trunks[index];
        let edge = &edges[trunk.edge];
        let labels = [
            ("query", "telephony"),
            ("trunk_id", trunk.id.as_str()),
            ("trunk", trunk.name.as_str()),
            ("trunk_type", "EXTERNAL"),
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
        ];
        value(s, name, &labels)
    };
    let options = |s: &Samples, index: usize| -> Vec<f64> {
        let id = &trunks[index].id;
        s.iter()
            .filter(|((name, labels), _)| {
                name == "genesys_trunk_options_ok" && labels.get("trunk_id") == Some(id)
            })
            .map(|(_, v)| *v)
            .collect()
    };
    let cpu_of = |s: &Samples, edge: &genesys_sim::SimEdge| {
        let labels = [
            ("query", "telephony"),
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
        ];
        value(s, "genesys_edge_cpu_active_ratio", &labels)
    };

    let before = wait_for_metrics(&exporter.url, |s| up(s, "telephony") == Some(1.0)).await;
    assert_eq!(published(&before), expected(&sim.simulator, clock.now()));
    assert_eq!(online(&before, hq2), Some(1.0));
    assert_eq!(trunk(&before, "genesys_trunk_connected", 0), Some(1.0));
    assert_eq!(options(&before, 0), [1.0, 1.0]);

    // The next read, 7 s later, is at the start of both.
    advance(REFRESH).await;
    assert_eq!(clock.now(), start);
    let read = |s: &Samples| {
        of(
            s,
            "genesys_last_success_timestamp_seconds",
            &[("query", "telephony")],
        ) == start.as_millisecond() as f64 / 1000.0
    };
    let after = wait_for_metrics(&exporter.url, read).await;
    // Edge HQ 2: offline, no metrics; its trunks neither enabled nor connected, and no
    // options status to alert on.
    assert_eq!(online(&after, hq2), Some(0.0));
    assert_eq!(cpu_of(&after, hq2), None);
    assert!(cpu_of(&after, hq1).is_some());
    for index in [1, 3] {
        assert_eq!(trunks[index].edge, 1);
        assert_eq!(trunk(&after, "genesys_trunk_enabled", index), Some(0.0));
        assert_eq!(trunk(&after, "genesys_trunk_connected", index), Some(0.0));
        assert!(options(&after, index).is_empty());
    }
    // Carrier A on Edge HQ 1: in service, enabled, not connected, both proxies failing:
    // what GenesysTrunkDown and GenesysTrunkOptionsFailing fire on.
    assert_eq!(trunk(&after, "genesys_trunk_in_service", 0), Some(1.0));
    assert_eq!(trunk(&after, "genesys_trunk_enabled", 0), Some(1.0));
    assert_eq!(trunk(&after, "genesys_trunk_connected", 0), Some(0.0));
    assert_eq!(options(&after, 0), [0.0, 0.0]);
    let inbound = |index: usize| {
        let trunk = &trunks[index];
        let edge = &edges[trunk.edge];
        let labels = [
            ("query", "telephony"),
            ("trunk_id", trunk.id.as_str()),
            ("trunk", trunk.name.as_str()),
            ("edge_id", edge.id.as_str()),
            ("edge", edge.name),
        ];
        of(&after, "genesys_trunk_inbound_calls", &labels)
    };
    assert_eq!(
        (inbound(0), inbound(1)),
        (0.0, 0.0),
        "no trunk carries calls"
    );
    assert!(inbound(2) > 0.0, "the cloud trunk still does");
    // Untouched: the cloud media Edge and its trunk.
    assert_eq!(online(&after, &edges[2]), Some(1.0));
    assert_eq!(trunk(&after, "genesys_trunk_connected", 2), Some(1.0));
}

/// The telephony series of each of the four parts, by the gauge names it publishes.
/// The gauges of the parts read from `paths`, sorted.
fn parts_gauges(paths: &[&str]) -> Vec<&'static str> {
    let mut gauges: Vec<&str> = paths.iter().flat_map(|p| part_gauges(p)).copied().collect();
    gauges.sort();
    gauges
}

fn part_gauges(path: &str) -> &'static [&'static str] {
    match path {
        EDGES_PATH => &["genesys_edge_info", "genesys_edge_online"],
        EDGE_METRICS_PATH => &[
            "genesys_edge_cpu_active_ratio",
            "genesys_edge_disk_available_ratio",
            "genesys_edge_memory_available_ratio",
            "genesys_edge_network_utilization_ratio",
            "genesys_edge_uptime_seconds",
        ],
        TRUNKS_PATH => &[
            "genesys_trunk_connected",
            "genesys_trunk_enabled",
            "genesys_trunk_in_service",
            "genesys_trunk_options_ok",
            "genesys_trunk_registered",
        ],
        _ => &[
            "genesys_trunk_inbound_calls",
            "genesys_trunk_outbound_calls",
            "genesys_trunk_qos_mismatches",
        ],
    }
}

#[tokio::test]
async fn a_403_on_any_telephony_endpoint_leaves_the_rest_and_every_other_source_publishing() {
    let paths = [
        EDGES_PATH,
        EDGE_METRICS_PATH,
        TRUNKS_PATH,
        TRUNK_METRICS_PATH,
    ];
    for path in paths {
        let fault: FaultSpec = forbidden(&format!("{path}$"));
        let sim = start_simulator(SimulatorConfig {
            faults: vec![fault],
            ..afternoon_sim()
        })
        .await;
        let config = observing(reading_telephony(config_for(&sim, vec![])), REFRESH);
        let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
        let exporter = start_exporter(config, clock).await;
        let samples = wait_for_metrics(&exporter.url, |s| {
            up(s, "telephony") == Some(1.0)
                && up(s, "observations") == Some(1.0)
                && up(s, "default") == Some(1.0)
        })
        .await;
        // The metrics are asked by the IDs of their list: without the list, neither.
        let missing: Vec<&str> = match path {
            EDGES_PATH => [part_gauges(EDGES_PATH), part_gauges(EDGE_METRICS_PATH)].concat(),
            TRUNKS_PATH => [part_gauges(TRUNKS_PATH), part_gauges(TRUNK_METRICS_PATH)].concat(),
            _ => part_gauges(path).to_vec(),
        };
        let mut wanted = parts_gauges(&paths);
        wanted.retain(|g| !missing.contains(g));
        assert_eq!(gauges(&published(&samples)), wanted, "{path} forbidden");
        let endpoint = match path {
            EDGES_PATH => "edges",
            EDGE_METRICS_PATH => "edge_metrics",
            TRUNKS_PATH => "trunks",
            _ => "trunk_metrics",
        };
        let refused = [("endpoint", endpoint), ("reason", "forbidden")];
        assert!(
            of(&samples, "genesys_api_failures_total", &refused) >= 1.0,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_metrics_answer_that_is_not_an_array_is_a_decode_failure_of_that_part_alone() {
    // An object where the trunk metrics' bare array belongs.
    let fault: FaultSpec = format!("malformed,body=wrong_types,path={TRUNK_METRICS_PATH}$")
        .parse()
        .unwrap();
    let sim = start_simulator(SimulatorConfig {
        faults: vec![fault],
        ..afternoon_sim()
    })
    .await;
    let config = reading_telephony(config_for(&sim, vec![]));
    let exporter = start_exporter(config, Clock::starting_at(AFTERNOON.parse().unwrap())).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "telephony") == Some(1.0)).await;
    let unreadable = [("endpoint", "trunk_metrics"), ("reason", "decode")];
    assert_eq!(of(&samples, "genesys_api_failures_total", &unreadable), 1.0);
    let wanted = parts_gauges(&[EDGES_PATH, EDGE_METRICS_PATH, TRUNKS_PATH]);
    assert_eq!(gauges(&published(&samples)), wanted);
}

#[tokio::test(start_paused = true)]
async fn every_telephony_endpoint_refused_is_down_and_asked_again_only_in_an_hour() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatorConfig {
        faults: vec![forbidden(EDGES_PATH)],
        ..afternoon_sim()
    })
    .await;
    let mut settings = settings(&sim);
    settings.observations = observing(config_for(&sim, vec![]), REFRESH)
        .validate()
        .unwrap()
        .observations;
    let exporter = start_exporter_with(settings, clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "telephony") == Some(0.0)
            && up(s, "observations") == Some(1.0)
            && up(s, "default") == Some(1.0)
    })
    .await;
    assert!(published(&samples).is_empty());
    let refused = [("endpoint", "edges"), ("reason", "forbidden")];
    assert_eq!(of(&samples, "genesys_api_failures_total", &refused), 1.0);
    // Three refreshes later: the observations were read again, the telephony not.
    let observed = sim.simulator.requests().observations;
    advance(3 * REFRESH).await;
    wait_for_metrics(&exporter.url, |_| {
        sim.simulator.requests().observations >= observed + 2
    })
    .await;
    assert_eq!(
        requests(&sim.simulator),
        (1, 0, 1, 0),
        "not asked again within the hour"
    );
}

#[tokio::test(start_paused = true)]
async fn more_trunks_than_a_page_are_read_in_pages_and_chunks_of_100() {
    let _held = hold_time();
    let (sim, clock) = simulator(SimulatorConfig {
        lab_trunks: 150,
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter_with(settings(&sim), clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "telephony") == Some(1.0)).await;
    let trunks = genesys_sim::trunks(sim.simulator.org(), 150);
    assert_eq!(trunks.len(), 154);
    let in_service: Vec<(String, f64)> = samples
        .iter()
        .filter(|((name, _), _)| name == "genesys_trunk_in_service")
        .map(|((_, labels), v)| (labels["trunk"].clone(), *v))
        .collect();
    assert_eq!(in_service.len(), 154, "every trunk, once");
    for trunk in &trunks {
        let published = in_service.iter().find(|(name, _)| *name == trunk.name);
        let expected = if trunk.in_service { 1.0 } else { 0.0 };
        assert_eq!(published.map(|(_, v)| *v), Some(expected), "{}", trunk.name);
    }
    let inbound = samples
        .keys()
        .filter(|(name, _)| name == "genesys_trunk_inbound_calls")
        .count();
    assert_eq!(inbound, 154, "the metrics of every trunk");
    // Two pages of trunks and two requests of their metrics; one of each for the Edges.
    assert_eq!(requests(&sim.simulator), (1, 1, 2, 2));
}

#[tokio::test]
async fn a_bad_telephony_table_is_refused_naming_each_key_and_the_fix() {
    let credentials = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n";
    let config = format!(
        "{credentials}[[queries]]\nname = \"telephony\"\n[telephony]\nenabled = true\nrefresh = \"10s\"\n"
    );
    let (status, log) = exit_on_config(&config, &["--check-config"]).await;
    assert_eq!(status.code(), Some(2), "{log}");
    for problem in [
        "telephony.refresh: 10s is out of range; use 15s to 1h (default 1m): each refresh costs 4 requests per 100 Edges and trunks",
        "queries: the name 'telephony' is the query label of the Edges and trunks; rename the query, or set enabled = false under [telephony]",
    ] {
        assert!(log.contains(problem), "{problem}\n{log}");
    }
    let (status, log) = exit_on_config("[telephony]\nenabeld = true\n", &["--check-config"]).await;
    assert_eq!(status.code(), Some(2));
    assert!(log.contains("did you mean 'enabled'?"), "{log}");
    // A valid one says what it reads, and the permission it needs.
    let config = format!("{credentials}[telephony]\nenabled = true\nrefresh = \"2m\"\n");
    let (status, log) = exit_on_config(&config, &["--check-config"]).await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("telephony: the Edges and trunks every 2m (needs telephony:plugin:all)"),
        "{log}"
    );
}
