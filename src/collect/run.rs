//! What every source shares: one collection's bookkeeping (timing, failure counting, the
//! too-many-series rule, publishing), the loop around it, and the supervisor that keeps a
//! source going through panics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Collector, Outcome};
use crate::budget::Pacer;
use crate::error::Error;
use crate::exposition::Publisher;
use crate::metrics::Metrics;
use crate::org::Org;
use crate::supervise::{Task, supervise};
use genesys_wire::time::{Clock, Interval};

/// Where an org's collections go, and the limits they keep.
#[derive(Clone)]
pub struct Outlet {
    /// The org's publisher: its series carry the org's label.
    pub publisher: Arc<Publisher>,
    /// The org's view of the registry.
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// The most series one collection may publish (`max_series_per_query`).
    pub max_series: usize,
    /// The org's start-up pacer, which each source's first collection waits for.
    pub pacer: Arc<Pacer>,
}

/// Collects from `collector` whenever it falls due, until `shutdown`.
pub async fn run(collector: &mut impl Collector, outlet: &Outlet, shutdown: &CancellationToken) {
    let mut last: Option<Outcome> = None;
    while let Some(window) = collector.next(last.as_ref(), shutdown).await {
        // The first collection (at start-up, after a rebuild or a restart) takes its turn
        // in the org's budget, so that sources started together do not ask all at once.
        if last.is_none() {
            let requests = outlet.pacer.requests_of(&collector.cost());
            tokio::select! {
                () = outlet.pacer.admit(requests) => {}
                () = shutdown.cancelled() => return,
            }
        }
        let outcome = tokio::select! {
            outcome = collect_once(collector, window, outlet) => outcome,
            () = shutdown.cancelled() => return,
        };
        last = Some(outcome);
    }
}

/// One collection of `window`: published whole on success, its previous data kept (until
/// its maximum age) on failure, and the self-metrics kept current either way.
async fn collect_once(
    collector: &mut impl Collector,
    window: Interval,
    outlet: &Outlet,
) -> Outcome {
    let name = collector.name().to_owned();
    let started = Instant::now();
    let outcome = collector.collect(window, outlet.max_series).await;
    // A collection's duration ends with the answer, before it is published; one that
    // found nothing to ask has none.
    if !matches!(outcome, Err(Error::NoQueuesYet)) {
        outlet.metrics.poll.took(&name, started.elapsed());
    }
    let now = outlet.clock.now();
    match outcome {
        Ok(samples) => {
            let series = samples.series();
            // Prometheus compares the last success with its own clock, `time()`.
            let wall = outlet.clock.wall(now);
            if window.start == window.end {
                outlet.metrics.poll.observed(&name, series, wall);
            } else {
                outlet.metrics.poll.succeeded(&name, window, series, wall);
            }
            let max_age = collector.max_age();
            outlet
                .publisher
                .publish(&name, window, samples, now, max_age);
            Ok(series)
        }
        Err(error) => {
            if matches!(error, Error::TooManySeries { .. }) {
                outlet
                    .metrics
                    .api
                    .failed(collector.endpoint(), error.reason());
            }
            outlet.metrics.poll.failed(&name);
            outlet.publisher.failed(&name, error.to_string(), now);
            Err(error)
        }
    }
}

/// Starts `collector` on a task of its own, under the [`supervise`] supervisor: a panic
/// in it (a bug: nothing from the API or the configuration should cause one) is logged with
/// its name, counted in `genesys_poller_panics_total`, and a fresh clone of it starts after
/// `retry_delay` (longer if it keeps panicking), while the other sources and the server go
/// on. Ends on `shutdown`.
pub fn spawn(
    collector: impl Collector,
    outlet: Outlet,
    org: Org,
    retry_delay: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let name = collector.name().to_owned();
    let task = Task {
        kind: "poller",
        name: name.clone(),
        org: org.clone(),
        retry_delay,
    };
    let (metrics, counted) = (outlet.metrics.clone(), name.clone());
    let stop = shutdown.clone();
    supervise(
        task,
        shutdown,
        move || metrics.poll.panicked(&counted),
        move || {
            let span = tracing::error_span!("poller", org = org.name(), query = %name);
            let (mut fresh, running, stop) = (collector.clone(), outlet.clone(), stop.clone());
            async move { run(&mut fresh, &running, &stop).await }.instrument(span)
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use jiff::Timestamp;
    use tokio::sync::watch;

    use super::*;
    use crate::budget::Cost;
    use crate::collect::{Readiness, too_many_series};
    use crate::error::Result;
    use crate::exposition::{Format, QuerySamples, flatten};
    use crate::metrics::BreakerState;
    use genesys_wire::{AggregateResponse, Endpoint};

    /// What a scripted collection does.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Offered(u32),
        Fail,
        TooMany,
        Panic,
    }

    /// A source that collects as its script says, one step a window, and ends with it;
    /// it notes when each collection began in `collected_at`.
    #[derive(Clone)]
    struct Scripted {
        script: Arc<Mutex<VecDeque<Step>>>,
        collected_at: Arc<Mutex<Vec<tokio::time::Instant>>>,
    }

    impl Scripted {
        fn new(steps: &[Step]) -> Scripted {
            Scripted::noting_into(steps, Arc::default())
        }

        /// A script whose collections are noted in `collected_at`, which others may share.
        fn noting_into(
            steps: &[Step],
            collected_at: Arc<Mutex<Vec<tokio::time::Instant>>>,
        ) -> Scripted {
            Scripted {
                script: Arc::new(Mutex::new(steps.iter().copied().collect())),
                collected_at,
            }
        }
    }

    fn window() -> Interval {
        "2026-08-20T10:00:00Z/2026-08-20T10:15:00Z".parse().unwrap()
    }

    impl Collector for Scripted {
        fn name(&self) -> &str {
            "q"
        }

        fn endpoint(&self) -> Endpoint {
            Endpoint::Aggregates
        }

        fn cost(&self) -> Cost {
            Cost::per_queues(Duration::from_secs(60), 1)
        }

        fn readiness(&self) -> Readiness {
            Readiness::Waits
        }

        fn max_age(&self) -> Duration {
            Duration::from_secs(3600)
        }

        async fn next(&mut self, _: Option<&Outcome>, _: &CancellationToken) -> Option<Interval> {
            let more = !self.script.lock().unwrap().is_empty();
            more.then(window)
        }

        async fn collect(&mut self, window: Interval, max_series: usize) -> Result<QuerySamples> {
            self.collected_at
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            let step = self.script.lock().unwrap().pop_front().unwrap();
            match step {
                Step::Offered(n) => Ok(offered(window, n)),
                Step::Fail => Err(Error::Internal("scripted failure".into())),
                Step::TooMany => Err(too_many_series("q", max_series)),
                Step::Panic => panic!("a scripted panic"),
            }
        }
    }

    /// An answer of one group with `n` conversations offered in `window`.
    fn offered(window: Interval, n: u32) -> QuerySamples {
        let answer: AggregateResponse = serde_json::from_value(serde_json::json!({
            "results": [{"group": {"mediaType": "voice"}, "data": [{
                "interval": window.to_string(),
                "metrics": [{"metric": "nOffered", "stats": {"count": n}}],
            }]}],
        }))
        .unwrap();
        flatten("q", &["mediaType".to_owned()], window, &answer)
    }

    fn outlet(clock: &Clock) -> Outlet {
        let metrics = Arc::new(Metrics::new(["q"]));
        let breaker = watch::channel(BreakerState::Closed).1;
        Outlet {
            publisher: Arc::new(Publisher::new(metrics.clone(), ["q"], breaker)),
            metrics,
            clock: clock.clone(),
            max_series: 10,
            pacer: Arc::new(Pacer::unlimited()),
        }
    }

    fn text(outlet: &Outlet) -> String {
        let exposition = outlet.publisher.current(outlet.clock.now());
        String::from_utf8(exposition.to_vec(Format::Text, false)).unwrap()
    }

    fn clock() -> Clock {
        Clock::starting_at(Timestamp::from_second(1_787_220_000).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_that_panics_is_counted_and_started_again_after_the_retry_delay() {
        let clock = clock();
        let outlet = outlet(&clock);
        let source = Scripted::new(&[Step::Panic, Step::Offered(7)]);
        let retry_delay = Duration::from_secs(30);
        let began = tokio::time::Instant::now();
        let task = spawn(
            source.clone(),
            outlet.clone(),
            Org::unnamed(),
            retry_delay,
            CancellationToken::new(),
        );
        task.await.unwrap();

        assert_eq!(began.elapsed(), retry_delay);
        assert!(source.script.lock().unwrap().is_empty(), "both steps ran");
        let metrics = &outlet.metrics;
        assert_eq!(
            metrics.sample("genesys_poller_panics_total{query=\"q\"}"),
            Some(1.0)
        );
        assert_eq!(metrics.sample("genesys_up{query=\"q\"}"), Some(1.0));
        assert!(
            text(&outlet)
                .contains("genesys_conversation_offered{query=\"q\",media_type=\"voice\"} 7"),
            "{}",
            text(&outlet)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_keeps_the_previous_data_and_too_many_series_counts_against_its_endpoint() {
        let clock = clock();
        let outlet = outlet(&clock);
        let mut source = Scripted::new(&[Step::Offered(4), Step::Fail, Step::TooMany]);
        run(&mut source, &outlet, &CancellationToken::new()).await;

        let metrics = &outlet.metrics;
        assert_eq!(
            metrics.sample("genesys_poll_failures_total{query=\"q\"}"),
            Some(2.0)
        );
        let too_many =
            "genesys_api_failures_total{endpoint=\"aggregates\",reason=\"too_many_series\"}";
        assert_eq!(metrics.sample(too_many), Some(1.0));
        let text = text(&outlet);
        assert!(text.contains("genesys_up{query=\"q\"} 0"), "{text}");
        assert!(
            text.contains("genesys_conversation_offered{query=\"q\",media_type=\"voice\"} 4"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_the_retry_delay_ends_the_supervision() {
        let clock = clock();
        let outlet = outlet(&clock);
        let source = Scripted::new(&[Step::Panic, Step::Offered(1)]);
        let shutdown = CancellationToken::new();
        let task = spawn(
            source.clone(),
            outlet.clone(),
            Org::unnamed(),
            Duration::from_secs(3600),
            shutdown.clone(),
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(source.script.lock().unwrap().len(), 1, "not started again");
        let panics = outlet
            .metrics
            .sample("genesys_poller_panics_total{query=\"q\"}");
        assert_eq!(panics, Some(1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn first_collections_take_turns_in_the_pacer_never_more_than_it_admits_a_minute() {
        let clock = clock();
        let mut outlet = outlet(&clock);
        outlet.pacer = Arc::new(Pacer::new(5));
        let at = Arc::new(Mutex::new(Vec::new()));
        let began = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let mut source = Scripted::noting_into(&[Step::Offered(1)], at.clone());
                let outlet = outlet.clone();
                tokio::spawn(async move {
                    run(&mut source, &outlet, &CancellationToken::new()).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let at = at.lock().unwrap().clone();
        assert_eq!(at.len(), 20);
        for minute in 0..4 {
            let start = began + Duration::from_secs(60 * minute);
            let in_it = at
                .iter()
                .filter(|at| **at >= start && at.duration_since(start) < Duration::from_secs(60))
                .count();
            assert_eq!(in_it, 5, "minute {minute}: {at:?}");
        }
    }
}
