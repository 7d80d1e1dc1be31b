//! Wires the pieces together: one client, one publisher, a poller per query, the queue
//! observer, and the HTTP server, all stopped by one cancellation token; checks the API
//! budget once the queue list has been read; and applies reloads of the configuration to
//! the queries.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
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
    // The observations follow the refresh the budget holds, which it stretches when the
    // queue directory grows past it.
    let observation_load = settings.observations.as_ref().map(|o| ObservationLoad {
        refresh: o.refresh,
        queues_per_request: o.queues_per_request,
    });
    let budget = Arc::new(BudgetWatch::new(
        Load::new(&settings, observation_load),
        metrics.clone(),
    ));
    let client = Arc::new(Client::new(&settings.client, metrics.clone())?);
    let publisher = Arc::new(Publisher::new(
        metrics.clone(),
        names.iter().copied(),
        client.breaker_state(),
    ));

    let names = Arc::new(QueueNames::new(metrics.clone(), settings.max_queue_pages));
    let presences = Arc::new(Presences::new());
    // The observations observe the queues of the queue list, and need presence names.
    let wants_names = settings.observations.is_some()
        || settings
            .queries
            .iter()
            .any(|q| q.group_by.iter().any(|d| d == "queueId"));

    let state = Arc::new(State {
        publisher: publisher.clone(),
        queries: RwLock::new(settings.queries.clone()),
        observations: settings.observations.as_ref().map(|o| o.refresh),
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

    let found = if wants_names {
        // Names come from their own task, so that a queue list that is slow, hangs or
        // pages for ever never keeps the pollers from starting.
        let (first_read, first_names) = tokio::sync::oneshot::channel::<Option<usize>>();
        let (names, client, publisher) = (names.clone(), client.clone(), publisher.clone());
        let (clock, budget) = (clock.clone(), budget.clone());
        let presences = settings.observations.as_ref().map(|_| presences.clone());
        let every = settings.queue_names_refresh;
        let stop = shutdown.clone();
        tokio::spawn(async move {
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
        });
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

    let spawner = Spawner {
        client: client.clone(),
        publisher: publisher.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
        retry_delay: settings.retry_delay,
        jobs: settings.jobs,
        max_series: settings.max_series_per_query,
        shutdown: shutdown.clone(),
    };
    let mut running = Running {
        pollers: settings
            .queries
            .iter()
            .map(|query| (query.name.clone(), spawner.spawn(query.clone())))
            .collect(),
        settings: settings.clone(),
    };

    let mut pollers = JoinSet::new();
    // The queue observations, at the refresh the budget holds.
    if let Some(observations) = &settings.observations {
        let observer = Observer {
            settings: observations.clone(),
            refresh: budget.observations_refresh(),
            client: client.clone(),
            publisher: publisher.clone(),
            metrics: metrics.clone(),
            queues: names.clone(),
            presences: presences.clone(),
            clock: clock.clone(),
            max_series: settings.max_series_per_query,
        };
        let stop = shutdown.clone();
        let start = move || {
            let mut observer = observer.clone();
            let stop = stop.clone();
            async move {
                #[cfg(debug_assertions)]
                test_hook::panic_once(OBSERVATIONS_QUERY);
                observer.run(&stop).await;
            }
        };
        let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
        let retry_delay = settings.retry_delay;
        pollers.spawn(async move {
            supervise(OBSERVATIONS_QUERY, retry_delay, &metrics, &shutdown, start).await;
        });
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
                let outcome = running.reload(&reloads.load, &spawner, &state).await;
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
    pollers.join_all().await;
    running.stop_all().await;
    stopped.map_err(|error| {
        let message = match error.try_into_panic() {
            Ok(payload) => panic_message(payload),
            Err(error) => error.to_string(),
        };
        Error::Internal(format!("the HTTP server stopped: {message:?}"))
    })
}

/// What a query's poller needs, for those started at start-up and by reloads.
struct Spawner {
    client: Arc<Client>,
    publisher: Arc<Publisher>,
    metrics: Arc<Metrics>,
    clock: Clock,
    retry_delay: Duration,
    jobs: crate::genesys::jobs::JobOptions,
    max_series: usize,
    shutdown: CancellationToken,
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
}

/// The configuration running, and a poller per query.
struct Running {
    settings: Settings,
    pollers: BTreeMap<String, Poller>,
}

impl Running {
    /// Reads the configuration again with `load` and, only if all of it is valid, applies
    /// the change of queries: unchanged ones keep their poller, data and schedule, removed
    /// ones stop and their series go, new ones start, changed ones start again. Any other
    /// changed key is logged as needing a restart. Returns the error's text on failure,
    /// when the running configuration stays.
    async fn reload(
        &mut self,
        load: &Loader,
        spawner: &Spawner,
        state: &State,
    ) -> std::result::Result<(), String> {
        tracing::info!("reloading the configuration");
        let load = load.clone();
        let loaded = match tokio::task::spawn_blocking(move || load()).await {
            Ok(loaded) => loaded.map_err(|error| error.to_string()),
            Err(error) => Err(format!("reading the configuration failed: {error}")),
        };
        let new = match loaded {
            Ok(new) => new,
            Err(error) => {
                spawner.metrics.reload.failed();
                spawner.publisher.render_now(spawner.clock.now());
                tracing::error!(%error, "configuration reload failed; the previous configuration still runs");
                return Err(error);
            }
        };
        let (running, wanted) = (&self.settings.client.credentials, &new.client.credentials);
        if running.client_id != wanted.client_id
            || running.client_secret.expose_secret() != wanted.client_secret.expose_secret()
        {
            tracing::info!(
                client_id = %wanted.client_id,
                "configuration reload: new client credentials; the next request gets a new token with them"
            );
            spawner.client.replace_credentials(wanted.clone()).await;
            self.settings.client.credentials = wanted.clone();
        }
        for key in restart_only_changes(&self.settings, &new) {
            tracing::warn!(
                key,
                "configuration reload: {key} changed, which only a restart applies; it keeps its running value until then"
            );
        }
        let old: BTreeMap<&str, &Query> = self
            .settings
            .queries
            .iter()
            .map(|q| (q.name.as_str(), q))
            .collect();
        let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for query in &new.queries {
            match old.get(query.name.as_str()) {
                None => added.push(query.name.clone()),
                Some(running) if !same_query(running, query) => changed.push(query.name.clone()),
                Some(_) => {}
            }
        }
        for name in old.keys() {
            if !new.queries.iter().any(|q| q.name == *name) {
                removed.push((*name).to_owned());
            }
        }
        // Stopped first, so that no poll in flight publishes after its series went.
        for name in removed.iter().chain(&changed) {
            if let Some(poller) = self.pollers.remove(name) {
                poller.stop.cancel();
                let _ = poller.task.await;
            }
            spawner.forget(name);
        }
        for query in &new.queries {
            if added.contains(&query.name) || changed.contains(&query.name) {
                spawner.announce(query);
                self.pollers
                    .insert(query.name.clone(), spawner.spawn(query.clone()));
            }
        }
        self.settings.queries = new.queries;
        *state.queries.write().expect("not poisoned") = self.settings.queries.clone();
        spawner.metrics.reload.succeeded(spawner.clock.now());
        spawner.publisher.render_now(spawner.clock.now());
        tracing::info!(
            added = ?added,
            changed = ?changed,
            removed = ?removed,
            "configuration reloaded"
        );
        Ok(())
    }

    /// Waits for every query's poller to end, on shutdown.
    async fn stop_all(self) {
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

/// The keys, other than the queries, whose change a reload does not apply.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let (a, b) = (&old.client, &new.client);
    let web = |s: &Settings| s.web.as_ref().map(|w| w.path().to_owned());
    // The credentials are applied, not listed here.
    let same = [
        ("api_url or region", a.api_url == b.api_url),
        ("login_url or region", a.login_url == b.login_url),
        (
            "client timeouts, retry, breaker or max_response_bytes",
            format!(
                "{:?}",
                (
                    a.request_timeout,
                    a.connect_timeout,
                    a.max_response_bytes,
                    &a.retry,
                    &a.breaker
                )
            ) == format!(
                "{:?}",
                (
                    b.request_timeout,
                    b.connect_timeout,
                    b.max_response_bytes,
                    &b.retry,
                    &b.breaker
                )
            ),
        ),
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
        (
            "api_budget_share",
            old.api_budget_share == new.api_budget_share,
        ),
        ("observations", old.observations == new.observations),
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
    fn keys_other_than_queries_and_credentials_are_restart_only() {
        let old = settings(&[("a", "PT15M")], "127.0.0.1:1");
        let mut new = settings(&[("b", "PT1H")], "127.0.0.1:2");
        new.client.credentials.client_secret = "rotated".into();
        new.observations = None;
        assert_eq!(restart_only_changes(&old, &new), ["listen", "observations"]);
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
