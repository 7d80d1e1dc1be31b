//! `--demo`: a simulator in this process for each org, and the configuration pointed at
//! them, at start-up and at every reload.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{AgentsConfig, Config, QueryConfig};
use crate::error::Error;
use genesys_sim::{DEMO_FLOOR, SimulatedOrg, Simulator, SimulatorConfig};

/// A simulator the demo started, and the org it plays (`None`: the one org of a
/// configuration without `[[orgs]]`).
#[derive(Clone)]
pub(super) struct DemoClient {
    org: Option<String>,
    url: String,
    client_id: String,
    client_secret: secrecy::SecretString,
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

/// The agent states of `--demo` when the configuration does not say: on, by org and by
/// division (the demo's queues are in two).
pub fn demo_agents() -> AgentsConfig {
    AgentsConfig {
        enabled: Some(true),
        by: Some(vec!["org".into(), "division".into()]),
        ..AgentsConfig::default()
    }
}

/// `agents` as `--demo` runs it: [`demo_agents`] when the configuration has no `[agents]`
/// table (none of its keys written), else the table as written, whose keys a demo must
/// not replace.
pub(super) fn with_demo_agents(agents: &mut AgentsConfig) {
    let AgentsConfig {
        enabled,
        refresh,
        by,
        teams,
        queues,
    } = agents;
    let unwritten = enabled.is_none()
        && refresh.is_none()
        && by.is_none()
        && teams.is_none()
        && queues.is_none();
    if unwritten {
        *agents = demo_agents();
    }
}

/// Starts a simulator in this process for each org of `config` (one for a configuration
/// without `[[orgs]]`), configured as `simulator` says, with the org's own data of `size`
/// (queues and media types, and the floor of `simulator`'s org) and its own credentials,
/// and points the org at it.
pub(super) async fn start_demo(
    config: &mut Config,
    simulator: SimulatorConfig,
    size: (usize, Vec<String>),
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
    if let Some(surge) = &simulator.agents_surge {
        surge.check(&simulator.org).map_err(Error::Config)?;
        tracing::info!(queue = %surge.queue, start = %surge.start, "demo mode: the agents of a queue stop answering");
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
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tracing::info!(%url, org = org.as_deref(), "demo mode: serving the simulated Genesys Cloud API");
        let demo = DemoClient {
            org,
            url,
            client_id: simulator.client_id.clone(),
            client_secret: simulator.client_secret.clone(),
        };
        point_at(config, &demo);
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

    #[test]
    fn the_demo_turns_the_agents_on_only_without_an_agents_table() {
        let mut unwritten = AgentsConfig::default();
        with_demo_agents(&mut unwritten);
        assert_eq!(unwritten.enabled, Some(true));
        assert_eq!(unwritten.by, Some(vec!["org".into(), "division".into()]));
        // A table without `enabled` is off, as it is without --demo; its keys stay.
        let mut written = AgentsConfig {
            refresh: Some(Duration::from_secs(60)),
            by: Some(vec!["org".into()]),
            ..AgentsConfig::default()
        };
        with_demo_agents(&mut written);
        assert_eq!(written.enabled, None);
        assert_eq!(written.refresh, Some(Duration::from_secs(60)));
        assert_eq!(written.by, Some(vec!["org".into()]));
    }

    #[test]
    fn the_demo_counts_the_agents_by_org_and_division() {
        let config = Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            agents: demo_agents(),
            ..Config::default()
        };
        let agents = config.validate().unwrap().agents.unwrap();
        assert_eq!(
            agents.by,
            [
                crate::config::Breakdown::Org,
                crate::config::Breakdown::Division
            ]
        );
    }

    #[test]
    fn the_demo_reads_the_default_buckets_and_a_live_rolling_window() {
        let config = Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            queries: demo_queries(),
            ..Config::default()
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
