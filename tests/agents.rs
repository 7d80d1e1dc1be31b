//! The agent states against the simulator: every gauge is the simulator's own count of its
//! people, org-wide and per breakdown value; the agents surge turns a queue's agents
//! NOT_RESPONDING; a 403 on the agent states leaves every other source publishing; a
//! division breakdown without the queue list is down, not blank; a breakdown past the API
//! budget, and a bad `[agents]` table, are refused at start; a reload turns them on and
//! off.
//!
//! Time is held and the simulator shares the exporter's clock, so that the instant of each
//! count is known exactly and its answer can be computed again here.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::config::{AgentsConfig, Config};
use genesys_sim::{AgentsSurge, Fault, FaultSpec, Simulator, SimulatorConfig, TEAM_NAMES, team_id};
use genesys_wire::time::Clock;
use genesys_wire::{
    AGENT_STATUS_COUNTS_PATH, AGENT_STATUS_GROUP_BY, AgentStateCountsRequest, AgentStateFilter,
};
use jiff::Timestamp;

use crate::util::{
    clock::{advance, hold_time},
    exporter::{config_for, start_exporter, start_exporter_with},
    http::get,
    process::{exit_on_config, hang_up, sim_config, start_binary_for},
    samples::{Samples, of, value},
    sim::{AFTERNOON, Sim, afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

/// A refresh that never lines up with the servers' 10 s idle timeout (see [`hold_time`]).
const REFRESH: Duration = Duration::from_secs(7);

/// The simulator at [`AFTERNOON`], its clock shared with the exporter.
async fn simulator(faults: Vec<FaultSpec>) -> (Sim, Clock) {
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = start_simulator(SimulatorConfig {
        faults,
        clock: clock.clone(),
        ..afternoon_sim()
    })
    .await;
    (sim, clock)
}

/// `config` counting the agents by `by`, with `teams` and `queues` where given.
fn counting(mut config: Config, by: &[&str], teams: Vec<String>, queues: Vec<String>) -> Config {
    config.agents = AgentsConfig {
        enabled: Some(true),
        by: Some(by.iter().map(|b| b.to_string()).collect()),
        teams: (!teams.is_empty()).then_some(teams),
        queues: (!queues.is_empty()).then_some(queues),
        ..AgentsConfig::default()
    };
    config
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

/// One breakdown value as this test names it: its labels, and the predicate that picks
/// its people (none for the org).
type Value = (Vec<(&'static str, String)>, Option<(&'static str, String)>);

/// Every breakdown value of `by`, worked out from the simulator's org (not the
/// exporter's directory): the org, each division of its queues, each of its teams, and
/// `queues` (by name).
fn breakdown(sim: &Simulator, queues: &[&str]) -> Vec<Value> {
    let org = sim.org();
    let mut values: Vec<Value> = vec![(Vec::new(), None)];
    let mut divisions: Vec<_> = org.queues.iter().map(|q| q.division.clone()).collect();
    divisions.sort_by(|a, b| a.name.cmp(&b.name));
    divisions.dedup();
    assert_eq!(divisions.len(), 2, "Home and Premium");
    for division in divisions {
        let labels = vec![
            ("division_id", division.id.clone()),
            ("division", division.name.clone()),
        ];
        values.push((labels, Some(("divisionId", division.id))));
    }
    for team in 0..TEAM_NAMES.len() {
        let id = team_id(org, team);
        values.push((vec![("team_id", id.clone())], Some(("teamId", id))));
    }
    for name in queues {
        let queue = org.queues.iter().find(|q| q.name == *name).unwrap();
        let labels = vec![
            ("queue_id", queue.id.clone()),
            ("queue", queue.name.clone()),
        ];
        values.push((labels, Some(("queueId", queue.id.clone()))));
    }
    values
}

/// The series the exporter should publish for `values` at `now`: the simulator's answer
/// for each, every routing status it knows present (0 when the answer leaves it out),
/// presences named from the simulator's definitions.
fn expected(sim: &Simulator, values: &[Value], now: Timestamp) -> Samples {
    let definitions = Simulator::presences();
    let group_by: Vec<String> = AGENT_STATUS_GROUP_BY.map(String::from).to_vec();
    let mut samples = Samples::new();
    for (labels, predicate) in values {
        let request = AgentStateCountsRequest {
            user_filter: predicate
                .as_ref()
                .map(|(dimension, value)| AgentStateFilter::one(dimension, value)),
        };
        let answer = sim.agent_state_counts(&group_by, &request, now).unwrap();
        let mut base: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        base.insert("query".into(), "agents".into());
        let mut put = |name: &str, extra: &[(&str, &str)], count: u64| {
            let mut labels = base.clone();
            for (k, v) in extra {
                labels.insert(k.to_string(), v.to_string());
            }
            samples.insert((name.to_string(), labels), count as f64);
        };
        for status in [
            "off_queue",
            "idle",
            "interacting",
            "not_responding",
            "communicating",
        ] {
            put(
                "genesys_agents_routing_status",
                &[("routing_status", status)],
                0,
            );
        }
        for row in answer.routing_status_counts.unwrap() {
            let status = row.routing_status.to_lowercase();
            put(
                "genesys_agents_routing_status",
                &[("routing_status", &status)],
                row.count,
            );
        }
        for row in answer.presence_counts.unwrap() {
            let definition = definitions
                .entities
                .iter()
                .find(|d| d.id == row.organization_presence_id)
                .unwrap();
            let system = row.system_presence.to_lowercase();
            let labels = [
                ("system_presence", system.as_str()),
                ("presence", definition.name.as_str()),
            ];
            put("genesys_agents_presence", &labels, row.count);
        }
        for row in answer.segment_counts.unwrap() {
            put(
                "genesys_agents_segment",
                &[("segment_type", &row.segment_type)],
                row.count,
            );
        }
        let out: u64 = answer
            .is_out_of_office_counts
            .unwrap()
            .iter()
            .filter(|row| row.is_out_of_office)
            .map(|row| row.count)
            .sum();
        put("genesys_agents_out_of_office", &[], out);
    }
    samples
}

/// The agent-state series the exporter publishes.
fn published(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((name, labels), _)| {
            name.starts_with("genesys_agents_")
                && labels.get("query").map(String::as_str) == Some("agents")
        })
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// The value of `name` with `labels` and `query="agents"`, 0 when absent.
fn agents(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut labels = labels.to_vec();
    labels.push(("query", "agents"));
    value(samples, name, &labels).unwrap_or(0.0)
}

#[tokio::test(start_paused = true)]
async fn every_agent_gauge_is_the_simulators_count_of_its_people() {
    let _held = hold_time();
    let (sim, clock) = simulator(Vec::new()).await;
    let org = sim.simulator.org();
    let teams: Vec<String> = (0..TEAM_NAMES.len()).map(|t| team_id(org, t)).collect();
    let queues = ["Sales", "VIP"];
    let queue_ids = queues
        .iter()
        .map(|name| {
            org.queues
                .iter()
                .find(|q| q.name == *name)
                .unwrap()
                .id
                .clone()
        })
        .collect();
    let config = counting(
        config_for(&sim, vec![]),
        &["org", "division", "team", "queue"],
        teams,
        queue_ids,
    );
    let exporter = start_exporter(config, clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, |s| up(s, "agents") == Some(1.0)).await;
    let now = clock.now();
    assert_eq!(now, AFTERNOON.parse::<Timestamp>().unwrap(), "time is held");
    let wanted = expected(&sim.simulator, &breakdown(&sim.simulator, &queues), now);
    assert_eq!(published(&samples), wanted);
    // One request per breakdown value: the org, two divisions, three teams, two queues.
    assert_eq!(sim.simulator.requests().agent_states, 8);
    // The landing page lists the agent states beside the queries, with their instant.
    let page = get(&format!("{}/", exporter.url)).await.body;
    assert!(
        page.contains(&format!(
            "<tr><td>agents</td><td>agent states, every 30s</td><td>{now}</td><td>at {now}</td><td>ok</td></tr>"
        )),
        "{page}"
    );

    // What that covers, by hand: each person once, the divisions adding up to the org.
    let statuses = [
        "off_queue",
        "idle",
        "interacting",
        "not_responding",
        "communicating",
    ];
    let org_wide = |status| {
        agents(
            &samples,
            "genesys_agents_routing_status",
            &[("routing_status", status)],
        )
    };
    let logged_in: f64 = statuses.iter().map(|s| org_wide(s)).sum();
    let offline = agents(
        &samples,
        "genesys_agents_presence",
        &[("system_presence", "offline"), ("presence", "Offline")],
    );
    let everyone: f64 = wanted
        .iter()
        .filter(|((name, labels), _)| name == "genesys_agents_presence" && labels.len() == 3)
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        logged_in + offline,
        everyone,
        "routing statuses count those logged in"
    );
    assert!(org_wide("interacting") > 0.0 && org_wide("off_queue") > 0.0);
    for status in statuses {
        let by_division: f64 = wanted
            .iter()
            .filter(|((name, labels), _)| {
                name == "genesys_agents_routing_status"
                    && labels.contains_key("division_id")
                    && labels["routing_status"] == status
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(by_division, org_wide(status), "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_agents_surge_turns_a_queues_agents_on_queue_not_responding() {
    let _held = hold_time();
    let (sim, clock) = simulator(Vec::new()).await;
    let start: Timestamp = "2026-08-20T14:07:07Z".parse().unwrap();
    sim.simulator
        .set_agents_surge(Some(AgentsSurge {
            queue: "Support".into(),
            start,
        }))
        .unwrap();
    let support = sim.simulator.org().queues[1].id.clone();
    let config = counting(
        config_for(&sim, vec![]),
        &["queue"],
        vec![],
        vec![support.clone()],
    );
    // Shorter than the servers' 10 s idle timeout (see hold_time), and than allowed.
    let mut settings = config.validate().unwrap();
    settings.agents.as_mut().unwrap().refresh = REFRESH;
    let exporter = start_exporter_with(settings, clock.clone()).await;
    let status = |samples: &Samples, status: &str| {
        let labels = [
            ("queue_id", support.as_str()),
            ("queue", "Support"),
            ("routing_status", status),
        ];
        agents(samples, "genesys_agents_routing_status", &labels)
    };
    let on_queue = ["idle", "interacting", "communicating", "not_responding"];
    let before = wait_for_metrics(&exporter.url, |s| up(s, "agents") == Some(1.0)).await;
    let answering: f64 = on_queue.iter().map(|s| status(&before, s)).sum();
    assert!(answering > 10.0, "Support is staffed at 14:07");
    assert!(status(&before, "not_responding") <= 1.0);
    // The next count, 7 s later in the same minute, is under the surge.
    advance(REFRESH).await;
    assert_eq!(clock.now(), start);
    let counted = |s: &Samples| {
        of(
            s,
            "genesys_last_success_timestamp_seconds",
            &[("query", "agents")],
        ) == start.as_millisecond() as f64 / 1000.0
    };
    let after = wait_for_metrics(&exporter.url, counted).await;
    assert_eq!(status(&after, "not_responding"), answering);
    for answering in ["idle", "interacting", "communicating"] {
        assert_eq!(status(&after, answering), 0.0, "{answering}");
    }
    assert_eq!(status(&after, "off_queue"), status(&before, "off_queue"));
}

#[tokio::test]
async fn a_403_on_the_agent_states_leaves_every_other_source_publishing() {
    let forbidden = FaultSpec {
        fault: Fault::Forbidden,
        path: AGENT_STATUS_COUNTS_PATH.into(),
        after: 0.0,
        seconds: None,
        requests: None,
    };
    let sim = start_simulator(SimulatorConfig {
        faults: vec![forbidden],
        ..afternoon_sim()
    })
    .await;
    let extra = "[agents]\nenabled = true\n[observations]\nrefresh = \"5s\"\n";
    let (process, url, _dir) = start_binary_for(&sim, extra, &[]).await;
    let samples = wait_for_metrics(&url, |s| {
        up(s, "agents") == Some(0.0)
            && up(s, "observations") == Some(1.0)
            && up(s, "default") == Some(1.0)
    })
    .await;
    let refused = [("endpoint", "agent_status_counts"), ("reason", "forbidden")];
    assert_eq!(
        of(&samples, "genesys_api_failures_total", &refused),
        1.0,
        "asked once, not retried"
    );
    assert!(published(&samples).is_empty());
    // The observations carry on refreshing; the agents are not asked again within the hour.
    let observed = sim.simulator.requests().observations;
    wait_for_metrics(&url, |_| {
        sim.simulator.requests().observations >= observed + 2
    })
    .await;
    assert_eq!(sim.simulator.requests().agent_states, 1);
    let log = process.log();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot count the agents"))
        .collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(
        warned[0].contains("role analytics:agentState:view;"),
        "{log}"
    );
    assert!(warned[0].contains("asked for again every hour"), "{log}");
}

/// By division alone, before the queue list is read (here: never, without
/// `routing:queue:view`), there is nothing to count: the agent states are down, not up
/// with no series, so that GenesysAgentStatesFailing tells why the dashboard is blank.
#[tokio::test(start_paused = true)]
async fn a_division_breakdown_without_the_queue_list_is_down_not_blank() {
    let _held = hold_time();
    let queues_forbidden = FaultSpec {
        fault: Fault::Forbidden,
        path: genesys_wire::QUEUES_PATH.into(),
        after: 0.0,
        seconds: None,
        requests: None,
    };
    let (sim, clock) = simulator(vec![queues_forbidden]).await;
    let config = counting(config_for(&sim, vec![]), &["division"], vec![], vec![]);
    let exporter = start_exporter(config, clock).await;
    let agents = [("query", "agents")];
    let samples = wait_for_metrics(&exporter.url, |s| {
        of(s, "genesys_poll_failures_total", &agents) >= 1.0
            || of(s, "genesys_last_success_timestamp_seconds", &agents) > 0.0
    })
    .await;
    assert_eq!(up(&samples, "agents"), Some(0.0));
    assert_eq!(
        of(&samples, "genesys_last_success_timestamp_seconds", &agents),
        0.0,
        "nothing was published"
    );
    assert_eq!(sim.simulator.requests().agent_states, 0);
    assert!(published(&samples).is_empty());
}

#[tokio::test]
async fn a_breakdown_past_the_api_budget_is_refused_at_start_with_its_arithmetic() {
    let sim = start_simulator(afternoon_sim()).await;
    let queues: Vec<String> = (0..60).map(|i| format!("\"queue-{i}\"")).collect();
    let extra = format!(
        "[agents]\nenabled = true\nrefresh = \"20s\"\nby = [\"org\", \"queue\"]\nqueues = [{}]\n",
        queues.join(", ")
    );
    let config = sim_config(&sim, &extra);
    let (status, log) = exit_on_config(&config, &["--listen", "127.0.0.1:0"]).await;
    assert_eq!(status.code(), Some(2), "{log}");
    // By hand: 61 requests every 20 s is 183 a minute; with the default bucket query, the
    // six queues observed every 15 s, the queue list and the presences hourly, 187.10;
    // half of 300 is 150.
    let said: String = log
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for line in [
        "the API budget is exceeded: in steady state the exporter would send 187.10 requests a minute, more than api_budget_share = 0.5 of the 300 one OAuth client may send (150 a minute):",
        "agents (1 org + 60 queues) 61 requests every 20s = 183.00 a minute",
        "to fit: count the agents less often ([agents] refresh) or by fewer breakdowns ([agents] by, teams, queues)",
    ] {
        assert!(said.contains(line), "{line}\n{log}");
    }
}

#[tokio::test]
async fn a_bad_agents_table_is_refused_naming_each_key_and_the_fix() {
    let config = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n\
                  [agents]\nenabled = true\nrefresh = \"1s\"\nby = [\"org\", \"skill\", \"team\"]\n";
    let (status, log) = exit_on_config(config, &["--check-config"]).await;
    assert_eq!(status.code(), Some(2), "{log}");
    for problem in [
        "agents.refresh: 1s is out of range; use 10s to 1h (default 30s)",
        "agents.by: 'skill' is not a breakdown; use some of org, division, team, queue",
        "agents.by: 'team' needs agents.teams, the team IDs to count (one request each per refresh); list them, or drop 'team'",
    ] {
        assert!(log.contains(problem), "{problem}\n{log}");
    }
    let (status, log) = exit_on_config("[agents]\nenabeld = true\n", &["--check-config"]).await;
    assert_eq!(status.code(), Some(2));
    assert!(log.contains("did you mean 'enabled'?"), "{log}");
}

#[tokio::test]
async fn a_reload_turns_the_agent_states_on_and_off() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, dir) = start_binary_for(&sim, "", &[]).await;
    wait_for_metrics(&url, |s| up(s, "default") == Some(1.0)).await;
    let path = dir.path().join("genesys.toml");
    std::fs::write(&path, sim_config(&sim, "[agents]\nenabled = true\n")).unwrap();
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| up(s, "agents") == Some(1.0)).await;
    assert!(!published(&samples).is_empty());
    std::fs::write(&path, sim_config(&sim, "")).unwrap();
    hang_up(&process);
    wait_for_metrics(&url, |s| {
        up(s, "agents").is_none() && published(s).is_empty()
    })
    .await;
    assert_eq!(up(&samples, "default"), Some(1.0));
}
