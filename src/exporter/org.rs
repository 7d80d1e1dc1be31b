//! One org's part of the exporter: its client (token, retry budget, circuit breaker), its
//! queue names and presences, its API budget, a poller per query and its queue observer.
//! Nothing here is shared with another org but the publisher and the metrics registry, so
//! one org's outage, 429s or revoked client never slows or blanks another.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::changes::{QueryChanges, client_changed};
use super::supervise;
#[cfg(debug_assertions)]
use super::supervise::test_hook;
use crate::budget::{BudgetWatch, Load, ObservationLoad};
use crate::config::{OBSERVATIONS_QUERY, OrgSettings, Query, Settings};
use crate::error::Result;
use crate::exposition::Publisher;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use crate::observer::Observer;
use crate::org::Org;
use crate::poller::{self, QueryPoll};
use crate::presences::Presences;
use crate::queue_names::QueueNames;
use crate::schedule::QueryKind;
use genesys_wire::time::Clock;

/// What every org's tasks share: the publisher and registry, the clock and the shutdown.
pub(super) struct Shared {
    pub(super) publisher: Arc<Publisher>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    pub(super) shutdown: CancellationToken,
}

/// One org, running: its settings, what its tasks are started with, a poller per query,
/// and its queue names task and observer.
pub(super) struct OrgExporter {
    settings: OrgSettings,
    spawner: Spawner,
    pollers: BTreeMap<String, Poller>,
    background: Background,
}

/// An org checked by a reload and ready to apply: a new client when its client's
/// settings changed, and its new load on the API budget.
pub(super) struct Checked {
    settings: OrgSettings,
    client: Option<Arc<Client>>,
    load: Load,
}

impl OrgExporter {
    /// Builds `org`'s client and budget, and starts holding its series (none published
    /// yet). Nothing asks the API until [`OrgExporter::start`]. `/readyz` waits for its
    /// queries when `ready_waits` (at start-up); an org added by a reload never takes a
    /// ready exporter out of service.
    pub(super) fn new(
        shared: &Shared,
        settings: &Settings,
        org: OrgSettings,
        ready_waits: bool,
    ) -> Result<Self> {
        // Its series start at once: counters at 0, `genesys_up` 0 until its first poll.
        let observed = settings.observations.as_ref().map(|_| OBSERVATIONS_QUERY);
        let names = org.queries.iter().map(|q| q.name.as_str());
        let metrics = Arc::new(
            shared
                .metrics
                .add_org(&org.org, names.clone().chain(observed)),
        );
        for query in &org.queries {
            announce_metrics(&metrics, query);
        }
        let client = Arc::new(Client::new(&org.client, metrics.clone())?);
        let publisher = Arc::new(shared.publisher.add_org(
            org.org.clone(),
            names,
            ready_waits,
            client.breaker_state(),
            shared.clock.now(),
        ));
        let budget = Arc::new(BudgetWatch::new(
            Load::new(settings, &org, observation_load(settings)),
            metrics.clone(),
        ));
        let spawner = Spawner {
            org: org.org.clone(),
            client,
            publisher,
            names: Arc::new(QueueNames::new(metrics.clone(), settings.max_queue_pages)),
            metrics,
            clock: shared.clock.clone(),
            budget,
            presences: Arc::new(Presences::new()),
            retry_delay: settings.retry_delay,
            jobs: settings.jobs,
            max_series: settings.max_series_per_query,
            queue_names_refresh: settings.queue_names_refresh,
            shutdown: shared.shutdown.clone(),
        };
        Ok(OrgExporter {
            background: Background::new(&shared.shutdown),
            settings: org,
            spawner,
            pollers: BTreeMap::new(),
        })
    }

    pub(super) fn org(&self) -> &Org {
        &self.settings.org
    }

    pub(super) fn queries(&self) -> &[Query] {
        &self.settings.queries
    }

    /// Starts the queue names task, when `settings` want one; the answer says how many
    /// queues its first read found, for the budget check at start-up.
    pub(super) fn read_names(
        &mut self,
        settings: &Settings,
    ) -> Option<oneshot::Receiver<Option<usize>>> {
        wants_names(settings, &self.settings)
            .then(|| self.spawner.spawn_names(settings, &mut self.background))
    }

    /// The budget check at start-up, with `queues` found by the first read of the queue
    /// list (`None`: not read).
    pub(super) fn check_budget(&self, queues: Option<usize>) -> Result<()> {
        self.spawner.budget.at_start(queues)
    }

    /// Starts the observer and a poller per query.
    pub(super) fn start(&mut self, settings: &Settings) {
        self.spawner.spawn_observer(settings, &mut self.background);
        for query in &self.settings.queries {
            self.pollers
                .insert(query.name.clone(), self.spawner.spawn(query.clone()));
        }
    }

    /// Checks `org`, new in a reloaded configuration `settings`: its client can be built,
    /// and it fits its API budget with no queues known yet. Starts nothing, and shows
    /// nothing on `/metrics`: the client is built on a registry of its own, and dropped.
    /// Every error names the org (the budget's refusal does by itself).
    pub(super) fn check_new(
        settings: &Settings,
        org: &OrgSettings,
    ) -> std::result::Result<(), String> {
        Client::new(&org.client, Arc::new(Metrics::empty()))
            .map_err(|error| whose(&org.org, error))?;
        Load::new(settings, org, observation_load(settings))
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
        let client = if client_changed(&self.settings.client, &new.client) {
            let client = Client::new(&new.client, self.spawner.metrics.clone())
                .map_err(|error| whose(&new.org, error))?;
            Some(Arc::new(client))
        } else {
            None
        };
        let load = Load::new(settings, new, observation_load(settings));
        self.spawner
            .budget
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
        let running = *self.spawner.client.breaker_state().borrow();
        self.spawner.metrics.breaker.state(running);
    }

    /// Applies `checked`: new credentials to the running client; then, when there is a
    /// new client, the observations changed, or the queue names task is newly wanted,
    /// everything that asks the API starts again with it ([`OrgExporter::restart`]); else
    /// only the queries that changed ([`OrgExporter::apply_queries`]). `old` and `new`
    /// are the whole configurations, running and reloaded.
    pub(super) async fn apply(&mut self, checked: Checked, old: &Settings, new: &Settings) {
        let Checked {
            settings: wanted,
            client,
            load,
        } = checked;
        self.spawner.budget.reload(load);
        let (running, credentials) = (
            &self.settings.client.credentials,
            &wanted.client.credentials,
        );
        if client.is_none()
            && (running.client_id != credentials.client_id
                || running.client_secret.expose_secret()
                    != credentials.client_secret.expose_secret())
        {
            tracing::info!(
                org = self.settings.org.name(),
                client_id = %credentials.client_id,
                "configuration reload: new client credentials; the next request gets a new token with them"
            );
            self.spawner
                .client
                .replace_credentials(credentials.clone())
                .await;
        }
        let changes = QueryChanges::between(&self.settings.queries, &wanted.queries);
        let restart = client.is_some()
            || old.observations != new.observations
            || (wants_names(new, &wanted) && !wants_names(old, &self.settings));
        if restart {
            self.restart(old, new, &wanted, client, &changes).await;
        } else {
            self.apply_queries(&wanted, &changes).await;
        }
        tracing::info!(
            org = self.settings.org.name(),
            added = ?changes.added,
            changed = ?changes.changed,
            removed = ?changes.removed,
            restarted = restart,
            "configuration reloaded"
        );
        self.settings = wanted;
    }

    /// Applies the change of queries: unchanged ones keep their poller, data and
    /// schedule, removed ones stop and their series go, new ones start, changed ones
    /// start again.
    async fn apply_queries(&mut self, new: &OrgSettings, changes: &QueryChanges) {
        // Stopped first, so that no poll in flight publishes after its series went.
        for name in changes.removed.iter().chain(&changes.changed) {
            if let Some(poller) = self.pollers.remove(name) {
                poller.stop().await;
            }
            self.spawner.forget(name);
        }
        for query in new.queries.iter().filter(|q| changes.starts(&q.name)) {
            self.spawner.announce(query);
            self.pollers
                .insert(query.name.clone(), self.spawner.spawn(query.clone()));
        }
    }

    /// Stops every poller, the queue names task and the observer, and starts them again
    /// for `wanted`, with `client` when there is a new one. The data of unchanged queries
    /// stays published; their schedule starts again.
    async fn restart(
        &mut self,
        old: &Settings,
        new: &Settings,
        wanted: &OrgSettings,
        client: Option<Arc<Client>>,
        changes: &QueryChanges,
    ) {
        self.stop_tasks().await;
        if let Some(client) = client {
            tracing::info!(
                org = self.settings.org.name(),
                "configuration reload: the client's settings changed; a new client, with a new token, asks the API from now on"
            );
            self.spawner.publisher.set_breaker(client.breaker_state());
            self.spawner.client = client;
        }
        match (&old.observations, &new.observations) {
            (Some(_), None) => self.spawner.forget(OBSERVATIONS_QUERY),
            (None, Some(_)) => {
                self.spawner.metrics.poll.add(OBSERVATIONS_QUERY);
                self.spawner
                    .publisher
                    .add_query(OBSERVATIONS_QUERY, self.spawner.clock.now());
            }
            _ => {}
        }
        for name in changes.removed.iter().chain(&changes.changed) {
            self.spawner.forget(name);
        }
        for query in &wanted.queries {
            if changes.starts(&query.name) {
                self.spawner.announce(query);
            }
            self.pollers
                .insert(query.name.clone(), self.spawner.spawn(query.clone()));
        }
        if wants_names(new, wanted) {
            // Later reads are checked against the budget by the task itself.
            drop(self.spawner.spawn_names(new, &mut self.background));
        }
        self.spawner.spawn_observer(new, &mut self.background);
    }

    /// Stops every poller, the queue names task and the observer, and waits for them.
    async fn stop_tasks(&mut self) {
        let background = std::mem::replace(
            &mut self.background,
            Background::new(&self.spawner.shutdown),
        );
        background.stop().await;
        for (_, poller) in std::mem::take(&mut self.pollers) {
            poller.stop().await;
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
        let now = self.spawner.clock.now();
        self.spawner.publisher.remove_org(&self.settings.org, now);
        tracing::info!(
            org = self.settings.org.name(),
            "configuration reload: org removed; its series are gone"
        );
    }
}

/// `error`, naming `org` when it has a name.
fn whose(org: &Org, error: impl std::fmt::Display) -> String {
    match org.name() {
        Some(name) => format!("org {name}: {error}"),
        None => error.to_string(),
    }
}

/// The observations' load on the API budget, when they are on.
fn observation_load(settings: &Settings) -> Option<ObservationLoad> {
    settings.observations.as_ref().map(|o| ObservationLoad {
        refresh: o.refresh,
        queues_per_request: o.queues_per_request,
    })
}

/// Whether `org` needs the queue names task: the observations observe the queues of the
/// queue list (and need presence names), and queries grouped by queue show names.
fn wants_names(settings: &Settings, org: &OrgSettings) -> bool {
    settings.observations.is_some()
        || org
            .queries
            .iter()
            .any(|q| q.group_by.iter().any(|d| d == "queueId"))
}

/// Starts `query`'s poll metrics: its window, for a rolling one, or its skipped buckets.
fn announce_metrics(metrics: &Metrics, query: &Query) {
    match &query.kind {
        QueryKind::Rolling(rolling) => metrics.poll.rolling_window(&query.name, rolling.window),
        QueryKind::Buckets(_) => metrics.poll.buckets(&query.name),
    }
}

/// What a query's poller, the queue names task and the observer of one org need, for
/// those started at start-up and by reloads.
struct Spawner {
    org: Org,
    /// Replaced by a reload that changes the client's settings.
    client: Arc<Client>,
    /// The org's view of the shared publisher.
    publisher: Arc<Publisher>,
    /// The org's view of the shared registry: its series carry its `org` label.
    metrics: Arc<Metrics>,
    clock: Clock,
    budget: Arc<BudgetWatch>,
    names: Arc<QueueNames>,
    presences: Arc<Presences>,
    retry_delay: Duration,
    jobs: crate::genesys::jobs::JobOptions,
    max_series: usize,
    queue_names_refresh: Duration,
    shutdown: CancellationToken,
}

/// The queue names task and the observer, and what stops them.
struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    fn new(shutdown: &CancellationToken) -> Background {
        Background {
            stop: shutdown.child_token(),
            tasks: Vec::new(),
        }
    }

    /// Stops the tasks and waits for them to end.
    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A query's poller, and what stops it.
struct Poller {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Poller {
    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

impl Spawner {
    /// Starts `query`'s poller, under [`supervise`], until shutdown or its own stop.
    fn spawn(&self, query: Query) -> Poller {
        let stop = self.shutdown.child_token();
        let name = query.name.clone();
        let (client, publisher) = (self.client.clone(), self.publisher.clone());
        let (counts, clock, jobs) = (self.metrics.clone(), self.clock.clone(), self.jobs);
        let (retry_delay, max_series) = (self.retry_delay, self.max_series);
        let stopping = stop.clone();
        let start = move || {
            let mut poll = QueryPoll {
                query: query.clone(),
                client: client.clone(),
                publisher: publisher.clone(),
                metrics: counts.clone(),
                clock: clock.clone(),
                jobs,
                max_series,
            };
            let (clock, stop) = (clock.clone(), stopping.clone());
            async move {
                #[cfg(debug_assertions)]
                test_hook::panic_once(&poll.query.name);
                let kind = poll.query.kind.clone();
                poller::run_query(&kind, &clock, retry_delay, &mut poll, &stop).await;
            }
        };
        let (metrics, org) = (self.metrics.clone(), self.org.clone());
        let supervised = stop.clone();
        let task = tokio::spawn(async move {
            supervise(&org, &name, retry_delay, &metrics, &supervised, start).await;
        });
        Poller { stop, task }
    }

    /// Starts the series of `query`, new to the process.
    fn announce(&self, query: &Query) {
        self.metrics.poll.add(&query.name);
        announce_metrics(&self.metrics, query);
        self.publisher.add_query(&query.name, self.clock.now());
    }

    /// Ends the series of `query`, whose poller has stopped.
    fn forget(&self, query: &str) {
        self.metrics.poll.remove(query);
        self.publisher.remove_query(query, self.clock.now());
    }

    /// Starts the task that reads the queue names (and the presence names, for the
    /// observations) every `queue_names_refresh`, into `background`. Returns the count of
    /// queues of its first read, for the check of the budget at start-up.
    fn spawn_names(
        &self,
        settings: &Settings,
        background: &mut Background,
    ) -> oneshot::Receiver<Option<usize>> {
        // Names come from their own task, so that a queue list that is slow, hangs or
        // pages for ever never keeps the pollers from starting.
        let (first_read, first_names) = oneshot::channel::<Option<usize>>();
        let (names, client, publisher) = (
            self.names.clone(),
            self.client.clone(),
            self.publisher.clone(),
        );
        let (clock, budget) = (self.clock.clone(), self.budget.clone());
        let presences = settings
            .observations
            .as_ref()
            .map(|_| self.presences.clone());
        let every = self.queue_names_refresh;
        let stop = background.stop.clone();
        background.tasks.push(tokio::spawn(async move {
            let mut first_read = Some(first_read);
            loop {
                let found = tokio::select! {
                    found = refresh_names(&names, &client, &publisher, &clock) => found,
                    () = stop.cancelled() => return,
                };
                if let Some(presences) = &presences {
                    // A failure keeps the names known, and was logged.
                    tokio::select! {
                        _ = presences.refresh(&client) => {}
                        () = stop.cancelled() => return,
                    }
                }
                // The first read goes to the start-up check, unless it gave up waiting.
                let later = match first_read.take() {
                    Some(first_read) => first_read.send(found).err().flatten(),
                    None => found,
                };
                if let Some(queues) = later {
                    budget.directory_read(queues);
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = stop.cancelled() => return,
                }
            }
        }));
        first_names
    }

    /// Starts the queue observations of `settings`, if they are on, into `background`, at
    /// the refresh the budget holds.
    fn spawn_observer(&self, settings: &Settings, background: &mut Background) {
        let Some(observations) = &settings.observations else {
            return;
        };
        let observer = Observer {
            settings: observations.clone(),
            refresh: self.budget.observations_refresh(),
            client: self.client.clone(),
            publisher: self.publisher.clone(),
            metrics: self.metrics.clone(),
            queues: self.names.clone(),
            presences: self.presences.clone(),
            clock: self.clock.clone(),
            max_series: self.max_series,
        };
        let stop = background.stop.clone();
        let stopping = stop.clone();
        let start = move || {
            let mut observer = observer.clone();
            let stop = stopping.clone();
            async move {
                #[cfg(debug_assertions)]
                test_hook::panic_once(OBSERVATIONS_QUERY);
                observer.run(&stop).await;
            }
        };
        let (metrics, retry_delay, org) =
            (self.metrics.clone(), self.retry_delay, self.org.clone());
        background.tasks.push(tokio::spawn(async move {
            supervise(
                &org,
                OBSERVATIONS_QUERY,
                retry_delay,
                &metrics,
                &stop,
                start,
            )
            .await;
        }));
    }
}

/// Refreshes queue names and republishes with them; a failure keeps the names known.
/// Returns how many queues the list had, if it was read.
async fn refresh_names(
    names: &QueueNames,
    client: &Client,
    publisher: &Publisher,
    clock: &Clock,
) -> Option<usize> {
    let found = names.refresh(client).await.ok()?;
    publisher.set_queue_names(names.current(), clock.now());
    Some(found)
}
