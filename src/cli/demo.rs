//! `--demo`: a simulator in this process for each org, and the configuration pointed at
//! them, at start-up and at every reload.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{
    AgentsConfig, Config, FlowObservationsConfig, QueryConfig, Settings, VoiceQualityConfig,
};
use crate::error::Error;
use crate::org::Org;
use crate::shard::Shard;
use genesys_sim::{DEMO_FLOOR, SimulatedOrg, Simulator, SimulatorConfig, TEAM_NAMES, team_id};

/// A simulator the demo started, and the org it plays (`None`: the one org of a
/// configuration without `[[orgs]]`).
#[derive(Clone)]
pub(super) struct DemoClient {
    org: Option<String>,
    url: String,
    client_id: String,
    client_secret: secrecy::SecretString,
    /// The org's data, for the teams and queues the demo's agent states count.
    data: SimulatedOrg,
}

impl DemoClient {
    /// Points the keys of an org (at the top level or in its table) at this simulator.
    fn point(
        &self,
        urls: (&mut Option<String>, &mut Option<String>),
        region: &mut Option<String>,
        client_id: &mut Option<String>,
        secret: (&mut Option<secrecy::SecretString>, &mut Option<PathBuf>),
    ) {
        (*urls.0, *urls.1) = (Some(self.url.clone()), Some(self.url.clone()));
        *region = None;
        *client_id = Some(self.client_id.clone());
        (*secret.0, *secret.1) = (Some(self.client_secret.clone()), None);
    }
}

/// Points `demo`'s org in `config` at its simulator: the top-level keys, or its
/// `[[orgs]]` table (one the file no longer has is left out).
pub(super) fn point_at(config: &mut Config, demo: &DemoClient) {
    match &demo.org {
        None => demo.point(
            (&mut config.api_url, &mut config.login_url),
            &mut config.region,
            &mut config.client_id,
            (&mut config.client_secret, &mut config.client_secret_file),
        ),
        Some(name) => {
            if let Some(org) = config.orgs.iter_mut().find(|o| o.name == *name) {
                demo.point(
                    (&mut org.api_url, &mut org.login_url),
                    &mut org.region,
                    &mut org.client_id,
                    (&mut org.client_secret, &mut org.client_secret_file),
                );
            }
        }
    }
}

/// The org `--demo` simulates: `queues` queues (the six demo queues first) handling
/// `media_types`, on the simulator's daily curve but never below [`DEMO_FLOOR`] of their
/// peak, so that the demo has traffic, callers waiting and room for a surge to page at any
/// hour of any day.
pub fn demo_org(queues: usize, media_types: Vec<String>) -> SimulatedOrg {
    SimulatedOrg::with_queues(queues, media_types).with_floor(DEMO_FLOOR)
}

/// The queries of `--demo` when the configuration names none: the default bucket query,
/// and `live`, a rolling window of the last five minutes read every minute, for live
/// abandon rates and service levels. Five, not ten: the live abandon alert must fire
/// within six minutes of a jump, and a ten-minute window dilutes a jump too long (see the
/// arithmetic in deploy/prometheus/alerts.rules.yml).
pub fn demo_queries() -> Vec<QueryConfig> {
    let live = QueryConfig {
        name: "live".into(),
        window: Some(Duration::from_secs(300)),
        refresh: Some(Duration::from_secs(60)),
        group_by: Some(vec!["queueId".into(), "mediaType".into()]),
        metrics: Some(
            [
                "nOffered",
                "tAbandon",
                "tAnswered",
                "tWait",
                "nOverSla",
                "oServiceLevel",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..QueryConfig::default()
    };
    let default = QueryConfig {
        name: "default".into(),
        ..QueryConfig::default()
    };
    vec![default, live]
}

/// The queries of `--demo` beside [`demo_queries`], for the IVR page and its alerts: the
/// flows and the data actions, each as 15-minute buckets (`flows`, `actions`) and as a
/// rolling window of the last ten minutes read every minute (`flows_live`,
/// `actions_live`), which the failure and disconnect alerts read; with the default
/// metrics and groupings of each source.
pub fn demo_ivr_queries() -> Vec<QueryConfig> {
    let query = |name: &str, source: &str, rolling: bool| QueryConfig {
        name: name.into(),
        source: Some(source.into()),
        window: rolling.then_some(Duration::from_secs(600)),
        refresh: rolling.then_some(Duration::from_secs(60)),
        ..QueryConfig::default()
    };
    vec![
        query("flows", "flows", false),
        query("flows_live", "flows", true),
        query("actions", "actions", false),
        query("actions_live", "actions", true),
    ]
}

/// The most queues of each org the demo's agent states count one by one: the six demo
/// queues, however many `--demo-queues` adds (each is a request every refresh).
const DEMO_AGENT_QUEUES: usize = 6;

/// The most simulated orgs whose teams and queues the demo's agent states list. `[agents]`
/// is shared by the orgs, so each org asks for every org's: (1 org + 10 divisions + 3
/// teams and 6 queues an org) requests every 30 s, 22 + 18 N a minute for N orgs, beside
/// the demo's other 15.30 (the start-up arithmetic of one demo org: 55.30 with 40 for
/// its agents). 37.30 + 18 N is within the 150 allowed for N = 6 (145.30), not for 7
/// (163.30): past 6, the demo would refuse to start.
const DEMO_AGENT_LISTED_ORGS: usize = 6;

/// The agent states of `--demo` when the configuration does not say: on, by org, by
/// division (the demo's queues are in two), by team and by queue, the teams and the first
/// queues of each simulated org in `orgs` listed. `[agents]` is shared by the orgs, so
/// with several each also asks for the others' teams and queues, and counts nobody in
/// them; with more than [`DEMO_AGENT_LISTED_ORGS`], by org and division only, which
/// costs each org the same whatever their number.
pub fn demo_agents(orgs: &[&SimulatedOrg]) -> AgentsConfig {
    if orgs.len() > DEMO_AGENT_LISTED_ORGS {
        return AgentsConfig {
            enabled: Some(true),
            by: Some(["org", "division"].map(String::from).to_vec()),
            ..AgentsConfig::default()
        };
    }
    let teams = orgs
        .iter()
        .flat_map(|org| (0..TEAM_NAMES.len()).map(|index| team_id(org, index)))
        .collect();
    let queues = orgs
        .iter()
        .flat_map(|org| org.queues.iter().take(DEMO_AGENT_QUEUES))
        .map(|queue| queue.id.clone())
        .collect();
    AgentsConfig {
        enabled: Some(true),
        by: Some(
            ["org", "division", "team", "queue"]
                .map(String::from)
                .to_vec(),
        ),
        teams: Some(teams),
        queues: Some(queues),
        ..AgentsConfig::default()
    }
}

/// Whether no key of the `[agents]` table is written.
fn unwritten(agents: &AgentsConfig) -> bool {
    let AgentsConfig {
        enabled,
        refresh,
        by,
        teams,
        queues,
    } = agents;
    enabled.is_none() && refresh.is_none() && by.is_none() && teams.is_none() && queues.is_none()
}

/// The flows in the IVR now, observed in `--demo` when the configuration does not say.
pub fn demo_flow_observations() -> FlowObservationsConfig {
    FlowObservationsConfig {
        enabled: Some(true),
        ..FlowObservationsConfig::default()
    }
}

/// How often the demo reads the calls' voice quality: the shortest refresh, so that calls
/// show within a couple of minutes of starting (the settle delay and a refresh).
pub const DEMO_VOICE_QUALITY_REFRESH: Duration = Duration::from_secs(60);

/// Turns on the voice quality of `--demo`, whose table does not enable or disable it:
/// read every [`DEMO_VOICE_QUALITY_REFRESH`] unless the table says, its other keys as
/// written or by default.
fn demo_voice_quality(table: &mut VoiceQualityConfig) {
    table.enabled = Some(true);
    table.refresh.get_or_insert(DEMO_VOICE_QUALITY_REFRESH);
}

/// What `--demo` sets where `config` does not say: the queries when it names none, the
/// agent states when it has no `[agents]` table (none of its keys written: a table's keys
/// a demo must not replace), the flow observations, the voice quality and the telephony
/// when their tables do not enable or disable them; for the simulated orgs of `demos`.
pub(super) fn fill_in(config: &mut Config, demos: &[DemoClient]) {
    if config.queries.is_empty() {
        config.queries = demo_queries();
        config.queries.extend(demo_ivr_queries());
    }
    if unwritten(&config.agents) {
        let orgs: Vec<&SimulatedOrg> = demos.iter().map(|demo| &demo.data).collect();
        config.agents = demo_agents(&orgs);
    }
    if config.flow_observations.enabled.is_none() {
        config.flow_observations = demo_flow_observations();
    }
    if config.voice_quality.enabled.is_none() {
        demo_voice_quality(&mut config.voice_quality);
    }
    // The Edges and trunks, at the table's refresh or the default.
    config.telephony.enabled.get_or_insert(true);
}

/// `--demo-time` without `--demo`: the exporter's clock shifted to meet simulators run
/// apart (`simulate --time`), as `benches/load.sh`'s orgs mode does. A shifted clock would
/// ask a real org for the wrong intervals, so every org must be served on this machine.
pub(super) fn local_simulators_only(settings: &Settings) -> Result<(), Error> {
    for org in &settings.orgs {
        for url in [&org.client.api_url, &org.client.login_url] {
            if !on_this_machine(url) {
                let whose = org
                    .org
                    .name()
                    .map_or("the org".to_string(), |name| format!("org {name}"));
                return Err(Error::Config(format!(
                    "--demo-time without --demo is for simulators on this machine \
                     (genesys-exporter simulate --time), but {whose} is served at {url}; \
                     point api_url and login_url at 127.0.0.1, add --demo, or drop --demo-time"
                )));
            }
        }
    }
    Ok(())
}

/// Whether `url`'s host is a loopback address or `localhost`.
fn on_this_machine(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Where the demo points the orgs that another shard runs: nothing is served there, and
/// this process never polls them (its shard is fixed from start-up).
const ANOTHER_SHARDS_ORG: &str = "http://127.0.0.1:0";

/// Starts a simulator in this process for each org of `config` that `shard` runs (one for
/// a configuration without `[[orgs]]`), configured as `simulator` says, with the org's own
/// data of `size` (queues and media types, and the floor of `simulator`'s org) and its own
/// credentials, and points the org at it. The orgs of other shards get no simulator; they
/// are pointed at [`ANOTHER_SHARDS_ORG`], so that the configuration stays valid and the
/// same on every shard.
pub(super) async fn start_demo(
    config: &mut Config,
    simulator: SimulatorConfig,
    size: (usize, Vec<String>),
    shard: Shard,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<DemoClient>> {
    if let Some(surge) = &simulator.surge {
        surge.check(&simulator.org).map_err(Error::Config)?;
        tracing::info!(queue = %surge.queue, start = %surge.start, abandon = surge.abandon, "demo mode: an abandon surge is set");
    }
    if let Some(surge) = &simulator.flow_surge {
        surge.check_flow(&simulator.org).map_err(Error::Config)?;
        tracing::info!(flow = %surge.target, start = %surge.start, "demo mode: a flow surge is set");
    }
    if let Some(surge) = &simulator.action_surge {
        surge.check_action(&simulator.org).map_err(Error::Config)?;
        tracing::info!(action = %surge.target, start = %surge.start, "demo mode: an action surge is set");
    }
    if let Some(degrade) = &simulator.edge_degrade {
        degrade.check_edge(&simulator.org).map_err(Error::Config)?;
        tracing::info!(edge = %degrade.target, start = %degrade.start, "demo mode: an Edge's calls turn poor");
    }
    if let Some(surge) = &simulator.agents_surge {
        surge.check(&simulator.org).map_err(Error::Config)?;
        tracing::info!(queue = %surge.queue, start = %surge.start, "demo mode: the agents of a queue stop answering");
    }
    if let Some(fault) = &simulator.edge_offline {
        fault.check_edge(&simulator.org).map_err(Error::Config)?;
        tracing::info!(edge = %fault.target, start = %fault.start, "demo mode: an Edge goes offline");
    }
    if let Some(fault) = &simulator.trunk_down {
        fault.check_trunk(&simulator.org).map_err(Error::Config)?;
        tracing::info!(trunk = %fault.target, start = %fault.start, "demo mode: a trunk goes down");
    }
    let orgs: Vec<Option<String>> = if config.orgs.is_empty() {
        vec![None]
    } else {
        config.orgs.iter().map(|o| Some(o.name.clone())).collect()
    };
    let mut started = Vec::new();
    for org in orgs {
        let mut simulator = simulator.clone();
        if let Some(name) = &org {
            let floor = simulator.org.floor();
            simulator.org = SimulatedOrg::named(name, size.0, size.1.clone()).with_floor(floor);
            simulator.client_id = format!("demo-client-{name}");
            simulator.client_secret = format!("demo-secret-{name}").into();
        }
        let runs = shard.runs(&match &org {
            Some(name) => Org::named(name),
            None => Org::unnamed(),
        });
        let listener = match runs {
            true => Some(TcpListener::bind("127.0.0.1:0").await?),
            false => None,
        };
        let url = match &listener {
            Some(listener) => format!("http://{}", listener.local_addr()?),
            None => ANOTHER_SHARDS_ORG.to_owned(),
        };
        let demo = DemoClient {
            org,
            url,
            client_id: simulator.client_id.clone(),
            client_secret: simulator.client_secret.clone(),
            data: simulator.org.clone(),
        };
        point_at(config, &demo);
        let Some(listener) = listener else {
            tracing::info!(org = demo.org.as_deref(), %shard, "demo mode: no simulator for this org, which another shard runs");
            started.push(demo);
            continue;
        };
        tracing::info!(url = %demo.url, org = demo.org.as_deref(), "demo mode: serving the simulated Genesys Cloud API");
        started.push(demo);
        let simulator = Simulator::new(simulator);
        let stop = shutdown.clone();
        tokio::spawn(async move { simulator.serve(listener, stop).await });
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TelephonyConfig;

    fn credentials() -> Config {
        Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            ..Config::default()
        }
    }

    /// `--demo`'s simulator of the org without `[[orgs]]`.
    fn demo() -> [DemoClient; 1] {
        [DemoClient {
            org: None,
            url: "http://127.0.0.1:1".into(),
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            data: demo_org(6, vec!["voice".into()]),
        }]
    }

    #[test]
    fn a_shifted_clock_without_the_demo_takes_loopback_hosts_only() {
        for url in [
            "http://127.0.0.1:9872",
            "http://127.1.2.3",
            "http://localhost:80/",
            "http://[::1]:9872",
        ] {
            assert!(on_this_machine(url), "{url}");
        }
        for url in [
            "https://api.mypurecloud.ie",
            "http://127.0.0.1.example.com",
            "http://10.0.0.1",
            "not a URL",
        ] {
            assert!(!on_this_machine(url), "{url}");
        }
    }

    #[test]
    fn the_demo_counts_the_agents_by_org_division_and_each_orgs_teams_and_queues() {
        let (east, west) = (
            SimulatedOrg::demo_named("east"),
            SimulatedOrg::named("west", 8, vec!["voice".into()]),
        );
        let config = Config {
            agents: demo_agents(&[&east, &west]),
            ..credentials()
        };
        let agents = config.validate().unwrap().agents.unwrap();
        use crate::config::Breakdown::*;
        assert_eq!(agents.by, [Org, Division, Team, Queue]);
        let teams = |org: &SimulatedOrg| [0, 1, 2].map(|index| team_id(org, index));
        assert_eq!(agents.teams, [teams(&east), teams(&west)].concat());
        // The six demo queues of each org, not the ones --demo-queues adds.
        let queues = |org: &SimulatedOrg| -> Vec<String> {
            org.queues[..6].iter().map(|q| q.id.clone()).collect()
        };
        assert_eq!(agents.queues, [queues(&east), queues(&west)].concat());
        assert_eq!(agents.requests(), 1 + 10 + 6 + 12);
    }

    #[test]
    fn past_six_orgs_the_demo_counts_the_agents_by_org_and_division_only() {
        let orgs: Vec<SimulatedOrg> = (1..=7)
            .map(|n| SimulatedOrg::demo_named(&format!("org-{n}")))
            .collect();
        let refs: Vec<&SimulatedOrg> = orgs.iter().collect();
        let agents = |orgs: &[&SimulatedOrg]| {
            let config = Config {
                agents: demo_agents(orgs),
                ..credentials()
            };
            config.validate().unwrap().agents.unwrap()
        };
        use crate::config::Breakdown::*;
        // Six orgs: each org's 3 teams and 6 queues listed, 1 + 10 + 6 × 9 requests.
        let six = agents(&refs[..6]);
        assert_eq!(six.by, [Org, Division, Team, Queue]);
        assert_eq!(six.requests(), 65);
        // Seven: by org and division, 1 + 10 requests, as for one org without lists.
        let seven = agents(&refs);
        assert_eq!(seven.by, [Org, Division]);
        assert!(seven.teams.is_empty() && seven.queues.is_empty());
        assert_eq!(seven.requests(), 11);
    }

    #[test]
    fn the_demo_turns_the_agents_on_only_without_an_agents_table() {
        let mut config = credentials();
        fill_in(&mut config, &demo());
        assert_eq!(config.agents.enabled, Some(true));
        // A table without `enabled` is off, as it is without --demo; its keys stay.
        let mut config = credentials();
        config.agents = AgentsConfig {
            refresh: Some(Duration::from_secs(60)),
            by: Some(vec!["org".into()]),
            ..AgentsConfig::default()
        };
        fill_in(&mut config, &demo());
        assert_eq!(config.agents.enabled, None);
        assert_eq!(config.agents.refresh, Some(Duration::from_secs(60)));
        assert_eq!(config.agents.by, Some(vec!["org".into()]));
    }

    #[test]
    fn the_demo_observes_the_flows_unless_told_not_to() {
        let mut config = credentials();
        fill_in(&mut config, &demo());
        assert!(config.validate().unwrap().flow_observations.is_some());
        let mut config = Config {
            flow_observations: FlowObservationsConfig {
                enabled: Some(false),
                ..FlowObservationsConfig::default()
            },
            ..credentials()
        };
        fill_in(&mut config, &demo());
        assert_eq!(config.validate().unwrap().flow_observations, None);
    }

    #[test]
    fn the_demo_reads_the_voice_quality_every_minute_and_the_telephony_unless_told_not_to() {
        let mut config = credentials();
        fill_in(&mut config, &demo());
        let settings = config.validate().unwrap();
        let voice = settings.voice_quality.unwrap();
        assert_eq!(voice.refresh, Duration::from_secs(60));
        // The rest as by default.
        assert_eq!(
            (voice.settle_delay, voice.page_size, voice.mos_threshold),
            (Duration::from_secs(120), 100, 3.5)
        );
        assert_eq!(settings.telephony, Some(Duration::from_secs(60)));

        // A table that turns either off keeps it off; one that does not say keeps its keys.
        let mut config = Config {
            voice_quality: VoiceQualityConfig {
                enabled: Some(false),
                ..VoiceQualityConfig::default()
            },
            telephony: TelephonyConfig {
                enabled: Some(false),
                ..TelephonyConfig::default()
            },
            ..credentials()
        };
        fill_in(&mut config, &demo());
        let settings = config.validate().unwrap();
        assert_eq!((settings.voice_quality, settings.telephony), (None, None));
        let mut config = Config {
            voice_quality: VoiceQualityConfig {
                refresh: Some(Duration::from_secs(600)),
                mos_threshold: Some(4.0),
                ..VoiceQualityConfig::default()
            },
            telephony: TelephonyConfig {
                refresh: Some(Duration::from_secs(300)),
                ..TelephonyConfig::default()
            },
            ..credentials()
        };
        fill_in(&mut config, &demo());
        let settings = config.validate().unwrap();
        let voice = settings.voice_quality.unwrap();
        assert_eq!(
            (voice.refresh, voice.mos_threshold),
            (Duration::from_secs(600), 4.0)
        );
        assert_eq!(settings.telephony, Some(Duration::from_secs(300)));
    }

    #[test]
    fn the_demo_reads_the_flows_and_data_actions_in_buckets_and_rolling_windows() {
        let mut config = credentials();
        fill_in(&mut config, &demo());
        let settings = config.validate().unwrap();
        let kinds: Vec<(&str, &str, String)> = settings.orgs[0]
            .queries
            .iter()
            .map(|q| (q.name.as_str(), q.source.as_str(), q.kind.to_string()))
            .collect();
        let buckets = || "PT15M buckets".to_string();
        let rolling = || "10m window, every 1m".to_string();
        assert_eq!(
            kinds,
            [
                ("default", "conversations", buckets()),
                ("live", "conversations", "5m window, every 1m".to_string()),
                ("flows", "flows", buckets()),
                ("flows_live", "flows", rolling()),
                ("actions", "actions", buckets()),
                ("actions_live", "actions", rolling()),
            ]
        );
    }

    #[test]
    fn a_configuration_with_queries_of_its_own_keeps_them() {
        let mut config = Config {
            queries: vec![QueryConfig {
                name: "mine".into(),
                ..QueryConfig::default()
            }],
            ..credentials()
        };
        fill_in(&mut config, &demo());
        let names: Vec<&str> = config.queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["mine"]);
    }

    #[test]
    fn the_demo_reads_the_default_buckets_and_a_live_rolling_window() {
        let config = Config {
            queries: demo_queries(),
            ..credentials()
        };
        let settings = config.validate().unwrap();
        let kinds: Vec<(&str, String)> = settings.orgs[0]
            .queries
            .iter()
            .map(|q| (q.name.as_str(), q.kind.to_string()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("default", "PT15M buckets".to_string()),
                ("live", "5m window, every 1m".to_string())
            ]
        );
        let live = &settings.orgs[0].queries[1];
        assert_eq!(live.group_by, ["queueId", "mediaType"]);
        assert_eq!(
            live.metrics,
            [
                "nOffered",
                "tAbandon",
                "tAnswered",
                "tWait",
                "nOverSla",
                "oServiceLevel"
            ]
        );
    }
}
