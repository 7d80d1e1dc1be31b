//! Wires the pieces together: one publisher and registry, each org's part (its client,
//! directory and sources: [`org_runtime`]), and the HTTP server, all stopped by one cancellation
//! token; checks each org's API budget once its queue list has been read and at each
//! reload; and applies reloads of the configuration: orgs added and removed, and each
//! changed org rebuilt.

mod changes;
mod org_runtime;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Query, Settings};
use crate::error::{Error, Result};
use crate::exposition::Publisher;
use crate::http;
use crate::metrics::Metrics;
use crate::org::Org;
use crate::server::{self, ReloadRequest, State, TelemetryPath};
use crate::supervise::{contained, panic_message};
use changes::restart_only_changes;
use genesys_wire::time::Clock;
use org_runtime::{OrgRuntime, Shared};

/// Reads and checks the whole configuration again, as at start-up; called off the
/// runtime, since it reads files.
pub type Loader = Arc<dyn Fn() -> Result<Settings> + Send + Sync>;

/// How the exporter reloads its configuration: `load` reads it anew, at each request
/// that comes on `requests` (SIGHUP, or `POST /-/reload` when `lifecycle`); and the
/// server's flags, which a reload does not change.
pub struct Reloads {
    pub load: Loader,
    pub requests: mpsc::Receiver<ReloadRequest>,
    /// Where the requests come from, handed to the server when `lifecycle`.
    pub sender: mpsc::Sender<ReloadRequest>,
    /// `--web.enable-lifecycle`: `POST /-/reload` reloads.
    pub lifecycle: bool,
    /// `--web.telemetry-path`: where the metrics are served.
    pub telemetry_path: TelemetryPath,
}

/// Runs the exporter on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish and returns. Its configuration is never reloaded.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<()> {
    let (sender, requests) = mpsc::channel(1);
    let load: Loader = Arc::new(|| Err(Error::Config("this exporter cannot reload".into())));
    let reloads = Reloads {
        load,
        requests,
        sender,
        lifecycle: false,
        telemetry_path: TelemetryPath::default(),
    };
    run_reloading(settings, listener, clock, shutdown, reloads).await
}

/// [`run`], reloading the configuration at each request of `reloads`.
pub async fn run_reloading(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
    shutdown: CancellationToken,
    mut reloads: Reloads,
) -> Result<()> {
    // Its own token, so that a refusal at start-up stops what was started before it.
    let shutdown = shutdown.child_token();
    // Only this shard's orgs become runtimes: the budget, readiness and the landing page
    // see no other.
    let settings = settings.sharded();
    log_shard(&settings);
    let metrics = Arc::new(Metrics::empty());
    metrics.shard.set_shard(settings.shard);
    // Counted before the orgs are added, whose series are rendered as they are: a scrape
    // while they start (their queue names may take FIRST_NAMES_WAIT) sees the orgs this
    // process runs, not 0.
    metrics.shard.set_orgs(settings.orgs.len());
    let publisher = Arc::new(Publisher::empty(metrics.clone()));
    let state = Arc::new(State {
        publisher: publisher.clone(),
        queries: RwLock::new(Vec::new()),
        shard: settings.shard,
        observations: RwLock::new(settings.observations.as_ref().map(|o| o.refresh)),
        agents: RwLock::new(settings.agents.as_ref().map(|a| a.refresh)),
        flow_observations: RwLock::new(settings.flow_observations),
        telephony: RwLock::new(settings.telephony),
        voice_quality: RwLock::new(settings.voice_quality.as_ref().map(|v| v.refresh)),
        clock: clock.clone(),
        reloads: reloads.lifecycle.then(|| reloads.sender.clone()),
        telemetry_path: reloads.telemetry_path.clone(),
    });
    let shared = Shared {
        publisher,
        metrics: metrics.clone(),
        clock,
        shutdown: shutdown.clone(),
    };
    let mut orgs = BTreeMap::new();
    for org in &settings.orgs {
        let exporter = OrgRuntime::new(&shared, &settings, org.clone(), true)
            .inspect_err(|_| shutdown.cancel())?;
        orgs.insert(org.org.clone(), exporter);
    }
    let mut running = Running {
        settings,
        orgs,
        shared,
    };
    running.show_queries(&state);

    if let Some(web) = &running.settings.web {
        web.report_to(metrics.server.web_config());
    }
    let options = http::Options {
        max_connections: running.settings.max_connections,
        max_connections_per_client: running.settings.max_connections_per_client,
        web: running.settings.web.clone(),
        refused: metrics.server.refused_connections(),
    };
    let server = tokio::spawn(server::serve(
        listener,
        state.clone(),
        options,
        shutdown.clone(),
    ));
    // Over budget at start-up: refused, like a configuration error.
    if let Err(refused) = running.start().await {
        shutdown.cancel();
        running.stop_all().await;
        return Err(refused);
    }

    // The server ends only on shutdown, unless it panicked: without it the exporter is of
    // no use, so the pollers are stopped too and the process exits with the error, for
    // systemd or Kubernetes to restart it.
    let mut server = server;
    let stopped = loop {
        tokio::select! {
            stopped = &mut server => break Some(stopped),
            () = shutdown.cancelled() => break None,
            Some(done) = reloads.requests.recv() => {
                // A panic while reloading (a bug) is contained: counted, logged, the reload
                // answered as failed, and the next request handled as usual. What it had
                // applied by then stays applied.
                let outcome = match contained(running.reload(&reloads.load, &state)).await {
                    Ok(outcome) => outcome,
                    Err(message) => Err(reload_panicked(&metrics, &message)),
                };
                // The asker may have gone (a signal does not wait for the outcome).
                let _ = done.send(outcome);
            }
        }
    };
    let stopped = match stopped {
        Some(stopped) => {
            shutdown.cancel();
            stopped
        }
        None => server.await,
    };
    running.stop_all().await;
    stopped.map_err(|error| {
        let message = match error.try_into_panic() {
            Ok(payload) => panic_message(payload),
            Err(error) => error.to_string(),
        };
        Error::Internal(format!("the HTTP server stopped: {message:?}"))
    })
}

/// Says once which shard this process is and which orgs it runs, none being fine.
fn log_shard(settings: &Settings) {
    let names: Vec<&str> = settings
        .orgs
        .iter()
        .map(|o| o.org.name().unwrap_or("the org without [[orgs]]"))
        .collect();
    tracing::info!(
        shard = settings.shard.index,
        total_shards = settings.shard.total,
        orgs = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        },
        "{} runs {}",
        settings.shard,
        crate::shard::orgs_in_words(names.len())
    );
}

/// Counts and logs a panic of the reload handling, and says it as the reload's error.
fn reload_panicked(metrics: &Metrics, message: &str) -> String {
    metrics.reload.panicked();
    tracing::error!(
        task = "reload",
        panic = ?message,
        "the reload panicked (a bug, please report it); the exporter goes on, and handles the next reload as usual"
    );
    format!("the reload panicked (a bug, please report it): {message:?}")
}

/// The configuration running, and each org's part of it.
struct Running {
    settings: Settings,
    orgs: BTreeMap<Org, OrgRuntime>,
    shared: Shared,
}

impl Running {
    /// Starts every org: first the queue names, waited for together, then the budget
    /// check of each, then the pollers and observers. Refuses an org over budget.
    async fn start(&mut self) -> Result<()> {
        let settings = &self.settings;
        // One cap for the process, before any read takes a label value from the API.
        genesys_wire::labels::set_max_label_value_bytes(settings.max_label_value_bytes);
        let first_names: Vec<_> = self
            .orgs
            .values_mut()
            .map(|org| org.read_directory(settings))
            .collect();
        // Names first when they come quickly, so that series are published with their
        // queue label from the start rather than gaining it a moment later as new series;
        // but waited for at most FIRST_NAMES_WAIT, for all orgs together.
        let deadline = tokio::time::Instant::now() + FIRST_NAMES_WAIT;
        let mut found = Vec::new();
        for (org, first) in self.orgs.values().zip(first_names) {
            let Some(first) = first else {
                found.push(Some(0));
                continue;
            };
            // Biased: a read that has come counts, even past the deadline.
            let queues = tokio::select! {
                biased;
                queues = first => queues.ok().flatten(),
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        org = org.org().name(),
                        waited_seconds = FIRST_NAMES_WAIT.as_secs(),
                        "queue names not read yet; polling without them, and the queue label follows when they come"
                    );
                    None
                }
                () = self.shared.shutdown.cancelled() => None,
            };
            found.push(queues);
        }
        for (org, queues) in self.orgs.values().zip(found) {
            org.check_budget(queues)?;
        }
        for org in self.orgs.values_mut() {
            org.start();
        }
        Ok(())
    }

    /// Reads the configuration again with `load` and, only if all of it is valid and
    /// every org fits its API budget, applies it. Returns the error's text on failure,
    /// when the running configuration stays.
    async fn reload(&mut self, load: &Loader, state: &State) -> std::result::Result<(), String> {
        tracing::info!("reloading the configuration");
        let (metrics, publisher, clock) = (
            self.shared.metrics.clone(),
            self.shared.publisher.clone(),
            self.shared.clock.clone(),
        );
        let outcome = match self.check(load).await {
            Ok((new, plan)) => {
                self.apply(new, plan).await;
                metrics.shard.set_orgs(self.orgs.len());
                self.show_queries(state);
                *state.observations.write().expect("not poisoned") =
                    self.settings.observations.as_ref().map(|o| o.refresh);
                *state.agents.write().expect("not poisoned") =
                    self.settings.agents.as_ref().map(|a| a.refresh);
                *state.flow_observations.write().expect("not poisoned") =
                    self.settings.flow_observations;
                *state.telephony.write().expect("not poisoned") = self.settings.telephony;
                *state.voice_quality.write().expect("not poisoned") =
                    self.settings.voice_quality.as_ref().map(|v| v.refresh);
                metrics.reload.succeeded(clock.wall(clock.now()));
                Ok(())
            }
            Err(error) => {
                metrics.reload.failed();
                for org in self.orgs.values() {
                    org.show_running_breaker();
                }
                tracing::error!(%error, "configuration reload failed; the previous configuration still runs");
                Err(error)
            }
        };
        publisher.render_now(clock.now());
        outcome
    }

    /// Reads and checks the new configuration: valid, and each org checked (a client
    /// built for it when new or when its client's settings changed, and within its API
    /// budget). Changes nothing.
    async fn check(&self, load: &Loader) -> std::result::Result<(Settings, Vec<Plan>), String> {
        let load = load.clone();
        let new = match tokio::task::spawn_blocking(move || load()).await {
            Ok(loaded) => loaded.map_err(|error| error.to_string())?,
            Err(error) if error.is_panic() => {
                let message = panic_message(error.into_panic());
                return Err(reload_panicked(&self.shared.metrics, &message));
            }
            Err(error) => return Err(format!("reading the configuration failed: {error}")),
        };
        let running = self.settings.shard;
        if new.shard != running {
            return Err(format!(
                "shard or total_shards changed, from {running} to {}: a process keeps its shard until it restarts; restart it to run the new shard, or put shard and total_shards back",
                new.shard
            ));
        }
        // Orgs added to the file start only on the shard they hash to.
        let new = new.sharded();
        let mut plan = Vec::new();
        for org in &new.orgs {
            let step = match self.orgs.get(&org.org) {
                Some(running) => Plan::Change(Box::new(running.check(&new, org)?)),
                None => {
                    OrgRuntime::check_new(&new, org)?;
                    Plan::Add
                }
            };
            plan.push(step);
        }
        Ok((new, plan))
    }

    /// Applies `new`, checked into `plan`: orgs no longer configured stop and their series
    /// go, new ones start, the others apply their changes. Any other changed key is
    /// logged as needing a restart, and keeps its running value.
    async fn apply(&mut self, new: Settings, plan: Vec<Plan>) {
        for key in restart_only_changes(&self.settings, &new) {
            tracing::warn!(
                key,
                "configuration reload: {key} changed, which only a restart applies; it keeps its running value until then"
            );
        }
        let removed: Vec<Org> = self
            .orgs
            .keys()
            .filter(|org| !new.orgs.iter().any(|o| o.org == **org))
            .cloned()
            .collect();
        for org in removed {
            if let Some(running) = self.orgs.remove(&org) {
                running.remove().await;
            }
        }
        // The keys only a restart applies keep their running values.
        let mut settings = self.settings.clone();
        settings.orgs = new.orgs.clone();
        settings.observations = new.observations.clone();
        settings.agents = new.agents.clone();
        settings.flow_observations = new.flow_observations;
        settings.telephony = new.telephony;
        settings.voice_quality = new.voice_quality.clone();
        settings.api_budget_share = new.api_budget_share;
        for (org, step) in new.orgs.iter().zip(plan) {
            match step {
                Plan::Change(checked) => {
                    if let Some(running) = self.orgs.get_mut(&org.org) {
                        running.apply(*checked, &self.settings, &settings).await;
                    }
                }
                Plan::Add => {
                    tracing::info!(
                        org = org.org.name(),
                        "configuration reload: new org; it starts"
                    );
                    // Checked already: only a client that cannot be built fails here.
                    match OrgRuntime::new(&self.shared, &settings, org.clone(), false) {
                        Ok(mut added) => {
                            // Checked at 0 queues already: this logs and publishes it.
                            let _ = added.check_budget(None);
                            // Its budget was checked without queues; the task checks its
                            // reads.
                            drop(added.read_directory(&settings));
                            added.start();
                            self.orgs.insert(org.org.clone(), added);
                        }
                        Err(error) => {
                            tracing::error!(org = org.org.name(), %error, "the new org cannot start");
                        }
                    }
                }
            }
        }
        self.settings = settings;
    }

    /// Shows the queries running on the landing page.
    fn show_queries(&self, state: &State) {
        let queries: Vec<(Org, Query)> = self
            .orgs
            .values()
            .flat_map(|org| {
                org.settings()
                    .queries
                    .iter()
                    .map(|q| (org.org().clone(), q.clone()))
            })
            .collect();
        *state.queries.write().expect("not poisoned") = queries;
    }

    /// Waits for every org's tasks to end, on shutdown.
    async fn stop_all(self) {
        for (_, org) in self.orgs {
            org.stop().await;
        }
    }
}

/// What a reload does to one org of the new configuration.
enum Plan {
    /// It runs: apply its changes.
    Change(Box<org_runtime::Checked>),
    /// It is new, and checked: start it.
    Add,
}

/// How long the pollers wait at start-up for the first read of queue names: enough for a
/// healthy queue list of a few pages, short beside a bucket, so that a hanging or lying
/// queue list delays the first poll by no more than this.
const FIRST_NAMES_WAIT: Duration = Duration::from_secs(10);
