//! One org, running: its client (token, retry budget, circuit breaker), its directory and
//! API budget, and a task per source. Nothing here is shared with another org but the
//! publisher and the metrics registry, so one org's outage, 429s or revoked client never
//! slows or blanks another.
//!
//! A reload that changes anything of the org rebuilds it whole: every task stops, and
//! starts again with the new settings. What it had learned stays: the published data of
//! its unchanged queries, its directory, and its client unless the client's settings
//! changed.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::changes::{QueryChanges, client_changed};
use crate::budget::{BudgetWatch, Load, Pacer};
use crate::collect::{self, Outlet, Parts, Readiness, Source};
use crate::config::{OrgSettings, Settings, VOICE_QUALITY_QUERY};
use crate::directory::{Directory, Refresh};
use crate::error::Result;
use crate::exposition::Publisher;
use crate::genesys::auth::Credentials;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use crate::org::Org;
use genesys_wire::catalogue::NameKind;
use genesys_wire::time::Clock;

/// What every org's tasks share: the publisher and registry, the clock and the shutdown.
pub(super) struct Shared {
    pub(super) publisher: Arc<Publisher>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    pub(super) shutdown: CancellationToken,
}

/// One org, running.
pub(super) struct OrgRuntime {
    settings: OrgSettings,
    parts: Parts,
    /// The org's view of the shared publisher.
    publisher: Arc<Publisher>,
    budget: Arc<BudgetWatch>,
    /// What the first collections of its sources wait for, sized from the budget.
    pacer: Arc<Pacer>,
    /// Built, and waiting for [`OrgRuntime::start`].
    sources: Vec<Source>,
    /// The names of its sources, running or about to.
    names: Vec<String>,
    /// Its tasks, and what stops them.
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
    shutdown: CancellationToken,
    retry_delay: Duration,
    max_series: usize,
}

/// An org checked by a reload and ready to apply: a new client when its client's
/// settings changed, and its new load on the API budget.
pub(super) struct Checked {
    settings: OrgSettings,
    client: Option<Arc<Client>>,
    load: Load,
}

impl OrgRuntime {
    /// Builds `org`'s client, directory, budget and sources, and starts holding its series
    /// (none published yet). Nothing asks the API until [`OrgRuntime::start`]. `/readyz`
    /// waits for its queries when `ready_waits` (at start-up); an org added by a reload
    /// never takes a ready exporter out of service.
    pub(super) fn new(
        shared: &Shared,
        settings: &Settings,
        org: OrgSettings,
        ready_waits: bool,
    ) -> Result<OrgRuntime> {
        let metrics = Arc::new(shared.metrics.for_org(&org.org));
        let client = Arc::new(Client::new(&org.client, metrics.clone())?);
        let load = load_of(settings, &org, client.clone());
        let budget = Arc::new(BudgetWatch::new(load, metrics.clone()));
        let parts = parts_of(
            settings,
            client,
            metrics,
            budget.observations_refresh(),
            shared.clock.clone(),
        );
        let sources = collect::sources(settings, &org, &parts);
        // Every series of its sources starts before the first render shows any.
        parts.metrics.start(sources.iter().map(|s| s.name.as_str()));
        let publisher = Arc::new(shared.publisher.add_org(
            org.org.clone(),
            waiting(&sources),
            ready_waits,
            parts.client.breaker_state(),
            shared.clock.now(),
        ));
        let mut running = OrgRuntime {
            settings: org,
            parts,
            publisher,
            pacer: Arc::new(Pacer::new(budget.start_room())),
            budget,
            sources: Vec::new(),
            names: Vec::new(),
            tasks: Vec::new(),
            stop: shared.shutdown.child_token(),
            shutdown: shared.shutdown.clone(),
            retry_delay: settings.retry_delay,
            max_series: settings.max_series_per_query,
        };
        running.hold(sources);
        Ok(running)
    }

    /// Holds `sources`, to start next.
    fn hold(&mut self, sources: Vec<Source>) {
        self.names = sources.iter().map(|s| s.name.clone()).collect();
        self.sources = sources;
    }

    pub(super) fn org(&self) -> &Org {
        &self.settings.org
    }

    pub(super) fn settings(&self) -> &OrgSettings {
        &self.settings
    }

    /// Starts the directory task, when `settings` want one; the answer says how many
    /// queues its first read found, for the budget check at start-up.
    pub(super) fn read_directory(
        &mut self,
        settings: &Settings,
    ) -> Option<oneshot::Receiver<Option<usize>>> {
        let lists = settings.name_lists(&self.settings);
        // A reload may have removed the query that needed a list, or every list.
        let now = self.parts.clock.now();
        self.parts
            .directory
            .forget_unread(&lists, &self.publisher, now);
        if lists.is_empty() {
            return None;
        }
        let refresh = Refresh {
            client: self.parts.client.clone(),
            publisher: self.publisher.clone(),
            budget: self.budget.clone(),
            clock: self.parts.clock.clone(),
            every: settings.queue_names_refresh,
            queues: lists.contains(&NameKind::Queue),
            presences: settings.observations.is_some() || settings.agents.is_some(),
            lists: lists
                .into_iter()
                .filter(|kind| *kind != NameKind::Queue)
                .collect(),
            metrics: self.parts.metrics.clone(),
            retry_delay: self.retry_delay,
            pacer: self.pacer.clone(),
        };
        let (task, first) = self
            .parts
            .directory
            .clone()
            .spawn(refresh, self.stop.clone());
        self.tasks.push(task);
        Some(first)
    }

    /// The budget check at start-up, with `queues` found by the first read of the queue
    /// list (`None`: not read).
    pub(super) fn check_budget(&self, queues: Option<usize>) -> Result<()> {
        self.budget.at_start(queues)
    }

    /// Starts every source built.
    pub(super) fn start(&mut self) {
        // Sized for the budget checked last, with the queues known now.
        self.pacer.set_queues(self.budget.queues());
        self.pacer.set_capacity(self.budget.start_room());
        let outlet = Outlet {
            publisher: self.publisher.clone(),
            metrics: self.parts.metrics.clone(),
            clock: self.parts.clock.clone(),
            max_series: self.max_series,
            pacer: self.pacer.clone(),
        };
        for source in std::mem::take(&mut self.sources) {
            let task = source.start(
                outlet.clone(),
                self.settings.org.clone(),
                self.retry_delay,
                self.stop.clone(),
            );
            self.tasks.push(task);
        }
    }

    /// Checks `org`, new in a reloaded configuration `settings`: its client can be built,
    /// and it fits its API budget with no queues known yet. Starts nothing, and shows
    /// nothing on `/metrics`: it is built on a registry of its own, and dropped. Every
    /// error names the org (the budget's refusal does by itself).
    pub(super) fn check_new(
        settings: &Settings,
        org: &OrgSettings,
    ) -> std::result::Result<(), String> {
        let client = Client::new(&org.client, Arc::new(Metrics::empty()))
            .map_err(|error| whose(&org.org, error))?;
        load_of(settings, org, Arc::new(client))
            .check(0)
            .map_err(|error| error.to_string())
    }

    /// Checks `new`, this org's part of a reloaded configuration: a client built when the
    /// client's settings changed, and within the API budget for the queues known now.
    /// Changes nothing. Every error names the org.
    pub(super) fn check(
        &self,
        settings: &Settings,
        new: &OrgSettings,
    ) -> std::result::Result<Checked, String> {
        let client = if client_changed(&self.settings.client, &new.client)
            || !same_credentials(&self.settings.client.credentials, &new.client.credentials)
        {
            let client = Client::new(&new.client, self.parts.metrics.clone())
                .map_err(|error| whose(&new.org, error))?;
            Some(Arc::new(client))
        } else {
            None
        };
        let asking = client.clone().unwrap_or_else(|| self.parts.client.clone());
        let load = load_of(settings, new, asking);
        self.budget
            .check_reload(&load)
            .map_err(|error| error.to_string())?;
        Ok(Checked {
            settings: new.clone(),
            client,
            load,
        })
    }

    /// After a refused reload: the breaker shown is the running client's again (a client
    /// built for the refused configuration showed its breaker closed).
    pub(super) fn show_running_breaker(&self) {
        let running = *self.parts.client.breaker_state().borrow();
        self.parts.metrics.breaker.state(running);
    }

    /// Applies `checked`, this org's part of the reloaded configuration `new` (`old` is
    /// the one running). Nothing changed: nothing happens. Else the org is rebuilt whole:
    /// its tasks stop, the series of its removed and changed queries go, and everything
    /// starts again, with a new client when its settings or credentials changed.
    pub(super) async fn apply(&mut self, checked: Checked, old: &Settings, new: &Settings) {
        let Checked {
            settings: wanted,
            client,
            load,
        } = checked;
        self.budget.reload(load);
        let changes = QueryChanges::between(&self.settings.queries, &wanted.queries);
        let rebuild = client.is_some()
            || !changes.is_empty()
            || old.observations != new.observations
            || old.agents != new.agents
            || old.flow_observations != new.flow_observations
            || old.telephony != new.telephony
            || old.voice_quality != new.voice_quality
            || old.name_lists(&self.settings) != new.name_lists(&wanted);
        if !rebuild {
            tracing::info!(
                org = self.settings.org.name(),
                restarted = false,
                "configuration reloaded; nothing of the org changed"
            );
            return;
        }
        self.stop_tasks().await;
        if let Some(client) = client {
            tracing::info!(
                org = self.settings.org.name(),
                "configuration reload: new client settings or credentials; a new client, with a new token, asks the API from now on"
            );
            self.publisher.set_breaker(client.breaker_state());
            self.parts.client = client;
        }
        self.settings = wanted;
        let sources = collect::sources(new, &self.settings, &self.parts);
        let gone = self
            .names
            .iter()
            .filter(|name| !sources.iter().any(|s| &s.name == *name));
        for name in gone.chain(&changes.changed) {
            self.forget(name);
        }
        let metrics = &self.parts.metrics;
        metrics.start(sources.iter().map(|s| s.name.as_str()));
        self.publisher.add_org(
            self.settings.org.clone(),
            waiting(&sources),
            false,
            self.parts.client.breaker_state(),
            self.parts.clock.now(),
        );
        self.hold(sources);
        drop(self.read_directory(new));
        self.start();
        tracing::info!(
            org = self.settings.org.name(),
            added = ?changes.added,
            changed = ?changes.changed,
            removed = ?changes.removed,
            restarted = true,
            "configuration reloaded"
        );
    }

    /// What stops the tasks running now; a rebuild cancels it.
    #[cfg(test)]
    pub(super) fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Ends the series of `name`, whose task has stopped.
    fn forget(&self, name: &str) {
        self.parts.metrics.poll.remove(name);
        if name == VOICE_QUALITY_QUERY {
            // Its histograms go with it: counts that no longer grow are not counts.
            self.parts.metrics.voice.forget_org();
        }
        self.publisher.remove_query(name, self.parts.clock.now());
    }

    /// Stops every task and waits for them.
    async fn stop_tasks(&mut self) {
        let stop = std::mem::replace(&mut self.stop, self.shutdown.child_token());
        stop.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    /// Stops everything the org runs, on shutdown.
    pub(super) async fn stop(mut self) {
        self.stop_tasks().await;
    }

    /// Stops everything the org runs, and takes its series off `/metrics`: a reload
    /// removed it.
    pub(super) async fn remove(mut self) {
        self.stop_tasks().await;
        let now = self.parts.clock.now();
        self.publisher.remove_org(&self.settings.org, now);
        tracing::info!(
            org = self.settings.org.name(),
            "configuration reload: org removed; its series are gone"
        );
    }
}

/// What an org's sources are built with under `settings`, with an empty directory.
fn parts_of(
    settings: &Settings,
    client: Arc<Client>,
    metrics: Arc<Metrics>,
    observations_refresh: watch::Receiver<Option<Duration>>,
    clock: Clock,
) -> Parts {
    Parts {
        client,
        directory: Arc::new(Directory::new(
            metrics.clone(),
            settings.max_queue_pages,
            settings.max_directory_bytes,
        )),
        metrics,
        observations_refresh,
        clock,
    }
}

/// `org`'s load under `settings`, from the sources it would run with `client`.
fn load_of(settings: &Settings, org: &OrgSettings, client: Arc<Client>) -> Load {
    let metrics = Arc::new(Metrics::empty());
    let (_, observations_refresh) = watch::channel(None);
    let parts = parts_of(
        settings,
        client,
        metrics,
        observations_refresh,
        Clock::System,
    );
    let sources = collect::sources(settings, org, &parts);
    Load::new(settings, org, sources.into_iter().map(|s| s.cost))
}

/// The names of the sources `/readyz` waits for.
fn waiting(sources: &[Source]) -> impl Iterator<Item = &str> {
    sources
        .iter()
        .filter(|s| s.readiness == Readiness::Waits)
        .map(|s| s.name.as_str())
}

/// Whether the two are the same client ID and secret.
fn same_credentials(a: &Credentials, b: &Credentials) -> bool {
    a.client_id == b.client_id && a.client_secret.expose_secret() == b.client_secret.expose_secret()
}

/// `error`, naming `org` when it has a name.
fn whose(org: &Org, error: impl std::fmt::Display) -> String {
    match org.name() {
        Some(name) => format!("org {name}: {error}"),
        None => error.to_string(),
    }
}
