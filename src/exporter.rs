//! Wires the pieces together: one client, one publisher, a poller per query, the queue
//! observer, and the HTTP server, all stopped by one cancellation token; checks the API
//! budget once the queue list has been read and at each reload; and applies reloads of the
//! configuration: to the queries alone, or, when the client's settings or the
//! observations changed, by starting everything that asks the API again.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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

/// The queries a reload adds, changes and removes, by name.
#[derive(Debug, Default)]
struct QueryChanges {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
}

impl QueryChanges {
    fn between(old: &[Query], new: &[Query]) -> QueryChanges {
        let mut changes = QueryChanges::default();
        for query in new {
            match old.iter().find(|q| q.name == query.name) {
                None => changes.added.push(query.name.clone()),
                Some(running) if !same_query(running, query) => {
                    changes.changed.push(query.name.clone());
                }
                Some(_) => {}
            }
        }
        for query in old {
            if !new.iter().any(|q| q.name == query.name) {
                changes.removed.push(query.name.clone());
            }
        }
        changes
    }

    /// Whether `query` starts anew: added or changed.
    fn starts(&self, query: &str) -> bool {
        self.added.iter().chain(&self.changed).any(|q| q == query)
    }
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

/// True when the two queries ask the same thing on the same schedule.
fn same_query(a: &Query, b: &Query) -> bool {
    // The schedule's time zone has no equality of its own; its name and the rest of the
    // schedule, as written, say the same.
    let schedule = |q: &Query| match &q.kind {
        QueryKind::Buckets(s) => format!("{} {:?}", s.granularity, s.settle_delay),
        QueryKind::Rolling(r) => format!("{r:?}"),
    };
    a.name == b.name
        && schedule(a) == schedule(b)
        && a.time_zone_name == b.time_zone_name
        && a.group_by == b.group_by
        && a.metrics == b.metrics
        && a.filter == b.filter
        && a.max_age == b.max_age
}

/// Whether the client's settings other than its credentials changed (`region`,
/// `api_url`, `login_url`, timeouts, retry, breaker, `max_response_bytes`): a reload
/// builds a new client for them.
fn client_changed(old: &Settings, new: &Settings) -> bool {
    let settings = |s: &Settings| {
        let c = &s.client;
        format!(
            "{:?}",
            (
                &c.api_url,
                &c.login_url,
                c.request_timeout,
                c.connect_timeout,
                c.max_response_bytes,
                &c.retry,
                &c.breaker
            )
        )
    };
    settings(old) != settings(new)
}

/// The keys, other than the queries, the client's settings, the observations and the API
/// budget share, whose change a reload does not apply.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let web = |s: &Settings| s.web.as_ref().map(|w| w.path().to_owned());
    let same = [
        ("listen", old.listen == new.listen),
        ("retry_delay", old.retry_delay == new.retry_delay),
        (
            "queue_names_refresh",
            old.queue_names_refresh == new.queue_names_refresh,
        ),
        (
            "job_poll_interval or job_timeout",
            format!("{:?}", old.jobs) == format!("{:?}", new.jobs),
        ),
        (
            "max_series_per_query",
            old.max_series_per_query == new.max_series_per_query,
        ),
        (
            "max_queue_pages",
            old.max_queue_pages == new.max_queue_pages,
        ),
        (
            "max_connections",
            old.max_connections == new.max_connections,
        ),
        ("web_config_file", web(old) == web(new)),
    ];
    same.into_iter()
        .filter(|(_, same)| !same)
        .map(|(key, _)| key)
        .collect()
}

/// Runs the poller that `start` makes until it returns (on `shutdown`). A panic in it (a
/// bug: nothing from the API or the configuration should cause one) stops only that
/// poller: it is logged with the query's name, counted in `genesys_poller_panics_total`,
/// and a fresh poller starts after `retry_delay`, while the other queries and the server
/// go on.
pub async fn supervise<F, P>(
    query: &str,
    retry_delay: Duration,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    mut start: F,
) where
    F: FnMut() -> P,
    P: Future<Output = ()> + Send + 'static,
{
    loop {
        let span = tracing::error_span!("poller", query);
        let outcome = tokio::spawn(start().instrument(span)).await;
        let message = match outcome {
            Ok(()) => return,
            Err(error) if error.is_panic() => panic_message(error.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        };
        metrics.poll.panicked(query);
        tracing::error!(
            query,
            panic = ?message,
            retry_delay_seconds = retry_delay.as_secs_f64(),
            "poller panicked (a bug, please report it); its previous data stays, and it restarts after retry_delay"
        );
        tokio::select! {
            () = tokio::time::sleep(retry_delay) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The text a panic was raised with.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => (*text).to_owned(),
            Err(_) => "(a panic without a message)".to_owned(),
        },
    }
}

/// For tests of the binary only, and only in debug builds: the first poll of the query
/// named by `GENESYS_TEST_PANIC_QUERY` panics, once per process, so that a
/// test can see a poller's panic contained.
#[cfg(debug_assertions)]
mod test_hook {
    use std::sync::atomic::{AtomicBool, Ordering};

    static DONE: AtomicBool = AtomicBool::new(false);

    pub(super) fn panic_once(query: &str) {
        let wanted = std::env::var("GENESYS_TEST_PANIC_QUERY");
        if wanted.is_ok_and(|name| name == query) && !DONE.swap(true, Ordering::SeqCst) {
            panic!("test hook: the first poll of query {query} panics");
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Settings from a configuration of `queries` (name, granularity) and `listen`.
    fn settings(queries: &[(&str, &str)], listen: &str) -> Settings {
        let config = crate::config::Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            listen: Some(listen.into()),
            queries: queries
                .iter()
                .map(|(name, granularity)| crate::config::QueryConfig {
                    name: (*name).into(),
                    granularity: Some((*granularity).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        config.validate().unwrap()
    }

    #[test]
    fn a_query_is_unchanged_only_when_all_it_asks_is_the_same() {
        let old = settings(&[("a", "PT15M"), ("b", "PT15M")], "127.0.0.1:1");
        let new = settings(&[("a", "PT15M"), ("b", "PT1H")], "127.0.0.1:1");
        assert!(same_query(&old.queries[0], &new.queries[0]));
        assert!(!same_query(&old.queries[1], &new.queries[1]));
        let mut fewer = new.queries[0].clone();
        fewer.metrics.pop();
        assert!(!same_query(&old.queries[0], &fewer));
    }

    #[test]
    fn keys_other_than_queries_client_and_observations_are_restart_only() {
        let old = settings(&[("a", "PT15M")], "127.0.0.1:1");
        let mut new = settings(&[("b", "PT1H")], "127.0.0.1:2");
        new.client.credentials.client_secret = "rotated".into();
        new.observations = None;
        new.client.api_url = "https://api.example.test".parse().unwrap();
        assert_eq!(restart_only_changes(&old, &new), ["listen"]);
        assert!(client_changed(&old, &new));
        assert!(!client_changed(&old, &old.clone()));
        assert!(restart_only_changes(&old, &old.clone()).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_poller_that_panics_is_counted_and_restarted_after_the_retry_delay() {
        let metrics = Metrics::new(["q", "other"]);
        let panics =
            |query| metrics.sample(&format!("genesys_poller_panics_total{{query=\"{query}\"}}"));
        assert_eq!((panics("q"), panics("other")), (Some(0.0), Some(0.0)));

        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        let shutdown = CancellationToken::new();
        let retry_delay = Duration::from_secs(30);
        let began = tokio::time::Instant::now();
        let start = move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    panic!("a fake poll's first call panics");
                }
            }
        };
        supervise("q", retry_delay, &metrics, &shutdown, start).await;

        // Started twice: once to panic, then again after the delay, returning normally.
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        assert_eq!(began.elapsed(), retry_delay);
        assert_eq!((panics("q"), panics("other")), (Some(1.0), Some(0.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_the_retry_delay_ends_the_supervision() {
        let metrics = Metrics::new(["q"]);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let start = move || {
            stop.cancel();
            async { panic!("always") }
        };
        supervise("q", Duration::from_secs(3600), &metrics, &shutdown, start).await;
        assert_eq!(
            metrics.sample("genesys_poller_panics_total{query=\"q\"}"),
            Some(1.0)
        );
    }
}
