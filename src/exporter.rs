//! Wires the pieces together: one client, one publisher, a poller per query, the queue
//! observer, and the HTTP server, all stopped by one cancellation token; and checks the
//! API budget once the queue list has been read.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::budget::{BudgetWatch, Load, ObservationLoad};
use crate::config::{OBSERVATIONS_QUERY, Settings};
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
use crate::server::{self, State};

/// Runs the exporter on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish and returns.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
    shutdown: CancellationToken,
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
        queries: settings.queries.clone(),
        observations: settings.observations.as_ref().map(|o| o.refresh),
        clock: clock.clone(),
    });
    let options = http::Options {
        max_connections: settings.max_connections,
        web: settings.web.clone(),
        refused: metrics.server.refused_connections(),
    };
    let server = tokio::spawn(server::serve(listener, state, options, shutdown.clone()));

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

    let mut pollers = JoinSet::new();
    for query in &settings.queries {
        let retry_delay = settings.retry_delay;
        let (client, publisher) = (client.clone(), publisher.clone());
        let (counts, clock, jobs) = (metrics.clone(), clock.clone(), settings.jobs);
        let max_series = settings.max_series_per_query;
        let stop = shutdown.clone();
        let name = query.name.clone();
        let query = query.clone();
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
            let (clock, stop) = (clock.clone(), stop.clone());
            async move {
                #[cfg(debug_assertions)]
                test_hook::panic_once(&poll.query.name);
                let kind = poll.query.kind.clone();
                poller::run_query(&kind, &clock, retry_delay, &mut poll, &stop).await;
            }
        };
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        pollers.spawn(async move {
            supervise(&name, retry_delay, &metrics, &shutdown, start).await;
        });
    }

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
    let stopped = tokio::select! {
        stopped = &mut server => Some(stopped),
        () = shutdown.cancelled() => None,
    };
    let stopped = match stopped {
        Some(stopped) => {
            shutdown.cancel();
            stopped
        }
        None => server.await,
    };
    pollers.join_all().await;
    stopped.map_err(|error| {
        let message = match error.try_into_panic() {
            Ok(payload) => panic_message(payload),
            Err(error) => error.to_string(),
        };
        Error::Internal(format!("the HTTP server stopped: {message:?}"))
    })
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
