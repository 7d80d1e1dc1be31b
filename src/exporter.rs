//! Wires the pieces together: one client, one publisher, a poller per query, and the
//! HTTP server, all stopped by one cancellation token.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::error::Result;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use crate::poller::{self, QueryJob};
use crate::schedule::Clock;
use crate::server::{self, State};
use crate::snapshot::Publisher;

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
    let publisher = Arc::new(Publisher::new(metrics.clone(), names.iter().copied()));

    let mut pollers = JoinSet::new();
    for query in &settings.queries {
        let schedule = query.schedule.clone();
        let clock = clock.clone();
        let retry_delay = settings.retry_delay;
        let shutdown = shutdown.clone();
        let mut job = QueryJob {
            query: query.clone(),
            client: client.clone(),
            publisher: publisher.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        };
        pollers.spawn(async move {
            poller::run(&schedule, &clock, retry_delay, &mut job, &shutdown).await;
        });
    }

    let state = Arc::new(State {
        publisher,
        queries: settings.queries.clone(),
        clock,
    });
    server::serve(listener, state, shutdown.clone()).await;
    pollers.join_all().await;
    Ok(())
}
