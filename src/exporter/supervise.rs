//! Keeping a poller going: a panic in one is logged, counted and followed by a fresh
//! poller, while the rest of the exporter goes on.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::org::Org;

/// Runs the poller that `start` makes until it returns (on `shutdown`). A panic in it (a
/// bug: nothing from the API or the configuration should cause one) stops only that
/// poller: it is logged with the query's name, counted in `genesys_poller_panics_total`,
/// and a fresh poller starts after `retry_delay`, while the other queries and the server
/// go on.
pub async fn supervise<F, P>(
    org: &Org,
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
        let span = tracing::error_span!("poller", org = org.name(), query);
        let outcome = tokio::spawn(start().instrument(span)).await;
        let message = match outcome {
            Ok(()) => return,
            Err(error) if error.is_panic() => panic_message(error.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        };
        metrics.poll.panicked(query);
        tracing::error!(
            org = org.name(),
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
pub(super) fn panic_message(payload: Box<dyn Any + Send>) -> String {
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
pub(super) mod test_hook {
    use std::sync::atomic::{AtomicBool, Ordering};

    static DONE: AtomicBool = AtomicBool::new(false);

    pub(in crate::exporter) fn panic_once(query: &str) {
        let wanted = std::env::var("GENESYS_TEST_PANIC_QUERY");
        if wanted.is_ok_and(|name| name == query) && !DONE.swap(true, Ordering::SeqCst) {
            panic!("test hook: the first poll of query {query} panics");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
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
        supervise(
            &Org::unnamed(),
            "q",
            retry_delay,
            &metrics,
            &shutdown,
            start,
        )
        .await;

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
        supervise(
            &Org::unnamed(),
            "q",
            Duration::from_secs(3600),
            &metrics,
            &shutdown,
            start,
        )
        .await;
        assert_eq!(
            metrics.sample("genesys_poller_panics_total{query=\"q\"}"),
            Some(1.0)
        );
    }
}
