//! Wires the pieces together: one client, one publisher, a poller per query, and the
//! HTTP server, all stopped by one cancellation token.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::error::Result;
use crate::exposition::Publisher;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use crate::poller::{self, QueryPoll};
use crate::queue_names::QueueNames;
use crate::schedule::Clock;
use crate::server::{self, State};

/// Runs the exporter on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish and returns.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<()> {
    let names: Vec<&str> = settings.queries.iter().map(|q| q.name.as_str()).collect();
    let metrics = Arc::new(Metrics::new(names.iter().copied()));
    let client = Arc::new(Client::new(&settings.client, metrics.clone())?);
    let publisher = Arc::new(Publisher::new(
        metrics.clone(),
        names.iter().copied(),
        client.breaker_state(),
    ));

    let names = Arc::new(QueueNames::new(metrics.clone(), settings.max_queue_pages));
    let wants_names = settings
        .queries
        .iter()
        .any(|q| q.group_by.iter().any(|d| d == "queueId"));

    let state = Arc::new(State {
        publisher: publisher.clone(),
        queries: settings.queries.clone(),
        clock: clock.clone(),
    });
    let server = tokio::spawn(server::serve(listener, state, shutdown.clone()));

    if wants_names {
        // Names come from their own task, so that a queue list that is slow, hangs or
        // pages for ever never keeps the pollers from starting.
        let (first_read, first_names) = tokio::sync::oneshot::channel::<()>();
        let (names, client, publisher) = (names.clone(), client.clone(), publisher.clone());
        let clock = clock.clone();
        let every = settings.queue_names_refresh;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut first_read = Some(first_read);
            loop {
                tokio::select! {
                    _ = refresh_names(&names, &client, &publisher, &clock) => {}
                    () = stop.cancelled() => return,
                }
                if let Some(first_read) = first_read.take() {
                    let _ = first_read.send(());
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
            _ = first_names => {}
            () = tokio::time::sleep(FIRST_NAMES_WAIT) => {
                tracing::warn!(
                    waited_seconds = FIRST_NAMES_WAIT.as_secs(),
                    "queue names not read yet; polling without them, and the queue label follows when they come"
                );
            }
            () = shutdown.cancelled() => {}
        }
    }

    let mut pollers = JoinSet::new();
    for query in &settings.queries {
        let schedule = query.schedule.clone();
        let clock = clock.clone();
        let retry_delay = settings.retry_delay;
        let shutdown = shutdown.clone();
        let mut poll = QueryPoll {
            query: query.clone(),
            client: client.clone(),
            publisher: publisher.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            jobs: settings.jobs,
            max_series: settings.max_series_per_query,
        };
        pollers.spawn(async move {
            poller::run(&schedule, &clock, retry_delay, &mut poll, &shutdown).await;
        });
    }

    pollers.join_all().await;
    server.await.expect("the server task does not panic");
    Ok(())
}

/// How long the pollers wait at start-up for the first read of queue names: enough for a
/// healthy queue list of a few pages, short beside a bucket, so that a hanging or lying
/// queue list delays the first poll by no more than this.
const FIRST_NAMES_WAIT: Duration = Duration::from_secs(10);

/// Refreshes queue names and republishes with them; a failure keeps the names known.
async fn refresh_names(names: &QueueNames, client: &Client, publisher: &Publisher, clock: &Clock) {
    if names.refresh(client).await.is_ok() {
        publisher.set_queue_names(names.current(), clock.now());
    }
}
