//! Wires the pieces together: one client, one publisher, a poller per query, and the
//! HTTP server, all stopped by one cancellation token.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::error::Result;
use crate::exposition::Publisher;
use crate::genesys::client::Client;
use crate::http;
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

    let names = Arc::new(QueueNames::new(metrics.clone()));
    let wants_names = settings
        .queries
        .iter()
        .any(|q| q.group_by.iter().any(|d| d == "queueId"));

    let state = Arc::new(State {
        publisher: publisher.clone(),
        queries: settings.queries.clone(),
        clock: clock.clone(),
    });
    let options = http::Options {
        max_connections: settings.max_connections,
        web: settings.web.clone(),
        refused: metrics.server.refused_connections(),
    };
    let server = tokio::spawn(server::serve(listener, state, options, shutdown.clone()));

    if wants_names {
        // Names first, so that series are published with their queue label from the start
        // rather than gaining it a moment later as new series.
        tokio::select! {
            _ = refresh_names(&names, &client, &publisher, &clock) => {}
            () = shutdown.cancelled() => {}
        }
        let (names, client, publisher) = (names.clone(), client.clone(), publisher.clone());
        let clock = clock.clone();
        let every = settings.queue_names_refresh;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = shutdown.cancelled() => return,
                }
                refresh_names(&names, &client, &publisher, &clock).await;
            }
        });
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
        };
        pollers.spawn(async move {
            poller::run(&schedule, &clock, retry_delay, &mut poll, &shutdown).await;
        });
    }

    pollers.join_all().await;
    server.await.expect("the server task does not panic");
    Ok(())
}

/// Refreshes queue names and republishes with them; a failure keeps the names known.
async fn refresh_names(names: &QueueNames, client: &Client, publisher: &Publisher, clock: &Clock) {
    if names.refresh(client).await.is_ok() {
        publisher.set_queue_names(names.current(), clock.now());
    }
}
