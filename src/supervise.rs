//! One supervisor for every long-running task: each query's poller, each org's directory
//! refresh (queue names and presences), and the reload handling. A panic in a task is a
//! bug (nothing from the API, the clients or the configuration should cause one): it is
//! logged with the task's name, counted, and the task starts again after a delay, while
//! everything else goes on.
//!
//! The delay is `retry_delay` after a task that had run for a while, and doubles at each
//! panic that follows a restart quickly, up to [`MAX_RESTART_DELAY`] (or `retry_delay` if
//! longer): a task that panics at once every time costs a log line and a restart every few
//! minutes, not a loop.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::org::Org;

/// The longest wait before a task that keeps panicking starts again (unless
/// `retry_delay` is longer).
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(300);

/// What is supervised, for the log lines.
#[derive(Debug, Clone)]
pub struct Task {
    /// What it is: "poller", "directory".
    pub kind: &'static str,
    /// Which one: a query's name; empty when the kind says it all.
    pub name: String,
    pub org: Org,
    /// The delay before the first restart.
    pub retry_delay: Duration,
}

/// Runs the future `start` makes on a task of its own, and after a panic counts it with
/// `panicked`, logs it and runs a fresh one after the delay. Ends when a run ends, or on
/// `shutdown`.
pub fn supervise<F, Fut>(
    task: Task,
    shutdown: CancellationToken,
    panicked: impl Fn() + Send + 'static,
    mut start: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let cap = MAX_RESTART_DELAY.max(task.retry_delay);
        let mut delay = task.retry_delay;
        loop {
            let started = Instant::now();
            let message = match tokio::spawn(start()).await {
                Ok(()) => return,
                Err(error) if error.is_panic() => panic_message(error.into_panic()),
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            };
            // A task that ran healthy for a while starts over from retry_delay.
            if started.elapsed() >= cap {
                delay = task.retry_delay;
            }
            panicked();
            tracing::error!(
                org = task.org.name(),
                task = task.kind,
                name = %task.name,
                panic = ?message,
                restart_in_seconds = delay.as_secs_f64(),
                "a task panicked (a bug, please report it); what it published stays, and it starts again after the delay"
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => return,
            }
            delay = delay.saturating_mul(2).min(cap);
        }
    })
}

/// `future`, with a panic in it caught and returned as its message: for work done in
/// place (the reload handling) rather than on a task of its own.
pub async fn contained<T>(future: impl Future<Output = T>) -> Result<T, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx: &mut Context<'_>| poll_contained(future.as_mut(), cx)).await
}

fn poll_contained<T>(
    future: Pin<&mut impl Future<Output = T>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, String>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
        Err(payload) => Poll::Ready(Err(panic_message(payload))),
    }
}

/// The text a panic was raised with.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => (*text).to_owned(),
            Err(_) => "(a panic without a message)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn task(retry_delay: Duration) -> Task {
        Task {
            kind: "test",
            name: String::new(),
            org: Org::unnamed(),
            retry_delay,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn quick_panics_double_the_delay_up_to_the_cap_and_a_clean_end_ends_it() {
        let runs = Arc::new(AtomicU32::new(0));
        let panics = Arc::new(AtomicU32::new(0));
        let (counting, counted) = (runs.clone(), panics.clone());
        let began = Instant::now();
        let supervisor = supervise(
            task(Duration::from_secs(100)),
            CancellationToken::new(),
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
            },
            move || {
                let run = counting.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run < 4 {
                        panic!("run {run}");
                    }
                }
            },
        );
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        assert_eq!(panics.load(Ordering::SeqCst), 4);
        // 100 + 200 + 300 (capped) + 300.
        assert_eq!(began.elapsed(), Duration::from_secs(900));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ran_healthy_restarts_after_retry_delay_again() {
        let runs = Arc::new(AtomicU32::new(0));
        let counting = runs.clone();
        let began = Instant::now();
        let supervisor = supervise(
            task(Duration::from_secs(10)),
            CancellationToken::new(),
            || {},
            move || {
                let run = counting.fetch_add(1, Ordering::SeqCst);
                async move {
                    match run {
                        0 => panic!("at once"),
                        1 => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            panic!("after an hour");
                        }
                        _ => {}
                    }
                }
            },
        );
        supervisor.await.unwrap();
        assert_eq!(began.elapsed(), Duration::from_secs(10 + 3600 + 10));
    }

    #[tokio::test]
    async fn a_panic_in_place_is_contained_as_its_message() {
        let caught = contained(async { panic!("in place") }).await;
        assert_eq!(caught.unwrap_err(), "in place");
        assert_eq!(contained(async { 7 }).await, Ok(7));
    }
}
