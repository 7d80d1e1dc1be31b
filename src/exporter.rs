//! Wires the pieces together: one client, one publisher, a poller per query, the queue
//! observer, and the HTTP server, all stopped by one cancellation token; checks the API
//! budget once the queue list has been read and at each reload; and applies reloads of the
//! configuration: to the queries alone, or, when the client's settings or the
//! observations changed, by starting everything that asks the API again.

mod changes;
mod supervise;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::budget::{BudgetWatch, Load, ObservationLoad};
use crate::config::{OBSERVATIONS_QUERY, Query, Settings};
use crate::error::{Error, Result};
use crate::exposition::Publisher;
use crate::genesys::client::Client;
use crate::http;
use crate::metrics::Metrics;
use crate::observer::Observer;
use crate::poller::{self, QueryPoll};
use crate::presences::Presences;
use crate::queue_names::QueueNames;
use crate::schedule::{Clock, QueryKind};
use crate::server::{self, ReloadRequest, State};
use changes::{QueryChanges, client_changed, restart_only_changes};
use supervise::panic_message;
pub use supervise::supervise;
#[cfg(debug_assertions)]
use supervise::test_hook;

/// Reads and checks the whole configuration again, as at start-up; called off the
/// runtime, since it reads files.
pub type Loader = Arc<dyn Fn() -> Result<Settings> + Send + Sync>;

/// How the exporter reloads its configuration: `load` reads it anew, at each request
/// that comes on `requests` (SIGHUP, or `POST /-/reload` when `lifecycle`).
pub struct Reloads {
    pub load: Loader,
    pub requests: mpsc::Receiver<ReloadRequest>,
    /// Where the requests come from, handed to the server when `lifecycle`.
    pub sender: mpsc::Sender<ReloadRequest>,
    /// `--web.enable-lifecycle`: `POST /-/reload` reloads.
    pub lifecycle: bool,
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
    let names: Vec<&str> = settings.queries.iter().map(|q| q.name.as_str()).collect();
    let observed = settings.observations.as_ref().map(|_| OBSERVATIONS_QUERY);
    let metrics = Arc::new(Metrics::new(names.iter().copied().chain(observed)));
    for query in &settings.queries {
        match &query.kind {
            QueryKind::Rolling(rolling) => metrics.poll.rolling_window(&query.name, rolling.window),
            QueryKind::Buckets(_) => metrics.poll.buckets(&query.name),
        }
    }
    let budget = Arc::new(BudgetWatch::new(
        Load::new(&settings, observation_load(&settings)),
        metrics.clone(),
    ));
    let client = Arc::new(Client::new(&settings.client, metrics.clone())?);
    let publisher = Arc::new(Publisher::new(
        metrics.clone(),
        names.iter().copied(),
        client.breaker_state(),
    ));

    let state = Arc::new(State {
        publisher: publisher.clone(),
        queries: RwLock::new(settings.queries.clone()),
        observations: RwLock::new(settings.observations.as_ref().map(|o| o.refresh)),
        clock: clock.clone(),
        reloads: reloads.lifecycle.then(|| reloads.sender.clone()),
    });
    let options = http::Options {
        max_connections: settings.max_connections,
        web: settings.web.clone(),
        refused: metrics.server.refused_connections(),
    };
    let server = tokio::spawn(server::serve(
        listener,
        state.clone(),
        options,
        shutdown.clone(),
    ));

    let spawner = Spawner {
        client,
        publisher,
        metrics: metrics.clone(),
        clock,
        budget: budget.clone(),
        names: Arc::new(QueueNames::new(metrics.clone(), settings.max_queue_pages)),
        presences: Arc::new(Presences::new()),
        retry_delay: settings.retry_delay,
        jobs: settings.jobs,
        max_series: settings.max_series_per_query,
        queue_names_refresh: settings.queue_names_refresh,
        shutdown: shutdown.clone(),
    };
    let mut background = Background::new(&shutdown);
    let found = if wants_names(&settings) {
        let first_names = spawner.spawn_names(&settings, &mut background);
        // Names first when they come quickly, so that series are published with their
        // queue label from the start rather than gaining it a moment later as new series;
        // but waited for at most FIRST_NAMES_WAIT.
        tokio::select! {
            found = first_names => found.ok().flatten(),
            () = tokio::time::sleep(FIRST_NAMES_WAIT) => {
                tracing::warn!(
                    waited_seconds = FIRST_NAMES_WAIT.as_secs(),
                    "queue names not read yet; polling without them, and the queue label follows when they come"
                );
                None
            }
            () = shutdown.cancelled() => None,
        }
    } else {
        Some(0)
    };
    // Over budget at start-up: refused, like a configuration error.
    if let Err(refused) = budget.at_start(found) {
        shutdown.cancel();
        return Err(refused);
    }
    spawner.spawn_observer(&settings, &mut background);
    let mut running = Running {
        pollers: settings
            .queries
            .iter()
            .map(|query| (query.name.clone(), spawner.spawn(query.clone())))
            .collect(),
        settings,
        spawner,
        background,
    };

    // The server ends only on shutdown, unless it panicked: without it the exporter is of
    // no use, so the pollers are stopped too and the process exits with the error, for
    // systemd or Kubernetes to restart it.
    let mut server = server;
    let stopped = loop {
        tokio::select! {
            stopped = &mut server => break Some(stopped),
            () = shutdown.cancelled() => break None,
            Some(done) = reloads.requests.recv() => {
                let outcome = running.reload(&reloads.load, &state).await;
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

/// The observations' load on the API budget, when they are on.
fn observation_load(settings: &Settings) -> Option<ObservationLoad> {
    settings.observations.as_ref().map(|o| ObservationLoad {
        refresh: o.refresh,
        queues_per_request: o.queues_per_request,
    })
}

/// Whether `settings` need the queue names task: the observations observe the queues of
/// the queue list (and need presence names), and queries grouped by queue show names.
fn wants_names(settings: &Settings) -> bool {
    settings.observations.is_some()
        || settings
            .queries
            .iter()
            .any(|q| q.group_by.iter().any(|d| d == "queueId"))
}

/// What a query's poller, the queue names task and the observer need, for those started
/// at start-up and by reloads.
struct Spawner {
    /// Replaced by a reload that changes the client's settings.
    client: Arc<Client>,
    publisher: Arc<Publisher>,
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
        let metrics = self.metrics.clone();
        let supervised = stop.clone();
        let task = tokio::spawn(async move {
            supervise(&name, retry_delay, &metrics, &supervised, start).await;
        });
        Poller { stop, task }
    }

    /// Starts the series of `query`, new to the process.
    fn announce(&self, query: &Query) {
        self.metrics.poll.add(&query.name);
        match &query.kind {
            QueryKind::Rolling(rolling) => self
                .metrics
                .poll
                .rolling_window(&query.name, rolling.window),
            QueryKind::Buckets(_) => self.metrics.poll.buckets(&query.name),
        }
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
        let (metrics, retry_delay) = (self.metrics.clone(), self.retry_delay);
        background.tasks.push(tokio::spawn(async move {
            supervise(OBSERVATIONS_QUERY, retry_delay, &metrics, &stop, start).await;
        }));
    }

    /// Starts the queue names task (when `settings` want it) and the observer (when on).
    fn start_background(&self, settings: &Settings) -> Background {
        let mut background = Background::new(&self.shutdown);
        if wants_names(settings) {
            // Later reads are checked against the budget by the task itself.
            drop(self.spawn_names(settings, &mut background));
        }
        self.spawn_observer(settings, &mut background);
        background
    }
}

/// The configuration running, a poller per query, and the queue names task and observer.
struct Running {
    settings: Settings,
    spawner: Spawner,
    pollers: BTreeMap<String, Poller>,
    background: Background,
}

impl Running {
    /// Reads the configuration again with `load` and, only if all of it is valid and fits
    /// the API budget, applies it (see [`Running::apply`]). Returns the error's text on
    /// failure, when the running configuration stays.
    async fn reload(&mut self, load: &Loader, state: &State) -> std::result::Result<(), String> {
        tracing::info!("reloading the configuration");
        let (metrics, publisher, clock) = (
            self.spawner.metrics.clone(),
            self.spawner.publisher.clone(),
            self.spawner.clock.clone(),
        );
        match self.check(load).await {
            Ok((new, client)) => {
                self.apply(new, client, state).await;
                metrics.reload.succeeded(clock.now());
                publisher.render_now(clock.now());
                Ok(())
            }
            Err(error) => {
                metrics.reload.failed();
                // A client built for the refused configuration showed its breaker closed.
                let running = *self.spawner.client.breaker_state().borrow();
                metrics.breaker.state(running);
                publisher.render_now(clock.now());
                tracing::error!(%error, "configuration reload failed; the previous configuration still runs");
                Err(error)
            }
        }
    }

    /// Reads and checks the new configuration: valid, a client built when the client's
    /// settings changed, and within the API budget for the queues known now (which then
    /// holds the new load).
    async fn check(
        &self,
        load: &Loader,
    ) -> std::result::Result<(Settings, Option<Arc<Client>>), String> {
        let load = load.clone();
        let new = match tokio::task::spawn_blocking(move || load()).await {
            Ok(loaded) => loaded.map_err(|error| error.to_string())?,
            Err(error) => return Err(format!("reading the configuration failed: {error}")),
        };
        let client = if client_changed(&self.settings, &new) {
            let client = Client::new(&new.client, self.spawner.metrics.clone())
                .map_err(|error| error.to_string())?;
            Some(Arc::new(client))
        } else {
            None
        };
        self.spawner
            .budget
            .reload(Load::new(&new, observation_load(&new)))
            .map_err(|error| error.to_string())?;
        Ok((new, client))
    }

    /// Applies `new`, checked: new credentials to the running client; then, when there is
    /// a new `client`, the observations changed, or the queue names task is newly wanted,
    /// everything that asks the API starts again with it ([`Running::restart`]); else
    /// only the queries that changed ([`Running::apply_queries`]). Any other changed key
    /// is logged as needing a restart.
    async fn apply(&mut self, new: Settings, client: Option<Arc<Client>>, state: &State) {
        let (running, wanted) = (&self.settings.client.credentials, &new.client.credentials);
        if client.is_none()
            && (running.client_id != wanted.client_id
                || running.client_secret.expose_secret() != wanted.client_secret.expose_secret())
        {
            tracing::info!(
                client_id = %wanted.client_id,
                "configuration reload: new client credentials; the next request gets a new token with them"
            );
            self.spawner
                .client
                .replace_credentials(wanted.clone())
                .await;
        }
        for key in restart_only_changes(&self.settings, &new) {
            tracing::warn!(
                key,
                "configuration reload: {key} changed, which only a restart applies; it keeps its running value until then"
            );
        }
        let changes = QueryChanges::between(&self.settings.queries, &new.queries);
        let restart = client.is_some()
            || self.settings.observations != new.observations
            || (wants_names(&new) && !wants_names(&self.settings));
        if restart {
            self.restart(&new, client, &changes).await;
        } else {
            self.apply_queries(&new, &changes).await;
        }
        // The keys only a restart applies keep their running values.
        self.settings.client = new.client;
        self.settings.queries = new.queries;
        self.settings.observations = new.observations;
        self.settings.api_budget_share = new.api_budget_share;
        *state.queries.write().expect("not poisoned") = self.settings.queries.clone();
        *state.observations.write().expect("not poisoned") =
            self.settings.observations.as_ref().map(|o| o.refresh);
        tracing::info!(
            added = ?changes.added,
            changed = ?changes.changed,
            removed = ?changes.removed,
            restarted = restart,
            "configuration reloaded"
        );
    }

    /// Applies the change of queries: unchanged ones keep their poller, data and
    /// schedule, removed ones stop and their series go, new ones start, changed ones
    /// start again.
    async fn apply_queries(&mut self, new: &Settings, changes: &QueryChanges) {
        // Stopped first, so that no poll in flight publishes after its series went.
        for name in changes.removed.iter().chain(&changes.changed) {
            if let Some(poller) = self.pollers.remove(name) {
                poller.stop.cancel();
                let _ = poller.task.await;
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
    /// for `new`, with `client` when there is a new one. The data of unchanged queries
    /// stays published; their schedule starts again.
    async fn restart(
        &mut self,
        new: &Settings,
        client: Option<Arc<Client>>,
        changes: &QueryChanges,
    ) {
        let background = std::mem::replace(
            &mut self.background,
            Background::new(&self.spawner.shutdown),
        );
        background.stop().await;
        for (_, poller) in std::mem::take(&mut self.pollers) {
            poller.stop.cancel();
            let _ = poller.task.await;
        }
        if let Some(client) = client {
            tracing::info!(
                "configuration reload: the client's settings changed; a new client, with a new token, asks the API from now on"
            );
            self.spawner.publisher.set_breaker(client.breaker_state());
            self.spawner.client = client;
        }
        match (&self.settings.observations, &new.observations) {
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
        for query in &new.queries {
            if changes.starts(&query.name) {
                self.spawner.announce(query);
            }
            self.pollers
                .insert(query.name.clone(), self.spawner.spawn(query.clone()));
        }
        self.background = self.spawner.start_background(new);
    }

    /// Waits for every query's poller, the queue names task and the observer to end, on
    /// shutdown.
    async fn stop_all(self) {
        self.background.stop().await;
        for (_, poller) in self.pollers {
            poller.stop.cancel();
            let _ = poller.task.await;
        }
    }
}

/// How long the pollers wait at start-up for the first read of queue names: enough for a
/// healthy queue list of a few pages, short beside a bucket, so that a hanging or lying
/// queue list delays the first poll by no more than this.
const FIRST_NAMES_WAIT: Duration = Duration::from_secs(10);

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
