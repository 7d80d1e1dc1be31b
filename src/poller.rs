//! One poller per query, of one of two kinds.
//!
//! Buckets: at start-up it polls the most recent completed bucket at once; after that it
//! wakes when the next bucket has ended and settled. A poll that runs late takes the next
//! bucket in sequence, so none is skipped or repeated; a poll that fails is retried after
//! `retry_delay`, and if newer buckets completed meanwhile it jumps to the latest one and
//! logs and counts the ones it skipped: after an outage the latest data matters, and the
//! buckets in between would take a request each.
//!
//! Rolling windows: it reads the latest window at once, then at each refresh (see
//! [`Rolling`] for the grid the refreshes fall on). A refresh that runs late reads the
//! latest window once, with no catch-up reads, and the next window ends later than that
//! one (no earlier, with a refresh under a minute); a read that fails is retried after
//! `retry_delay`, on the window that is the latest then. Nothing is "skipped": each read
//! covers the minutes of the ones it replaces.
//!
//! `genesys_up` is not set here: the publisher derives it from the last poll's outcome
//! and the circuit breaker's state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::Query;
use crate::error::{Error, Result};
use crate::exposition::{Flattener, Publisher};
use crate::genesys::client::Client;
use crate::genesys::jobs::{self, JobOptions};
use crate::metrics::Metrics;
use crate::schedule::{QueryKind, Rolling, Schedule};
use genesys_wire::Endpoint;
use genesys_wire::time::{Clock, Interval};

/// What a poller does with each window that is due (a bucket or a rolling window): poll
/// it, or hear that some buckets were skipped. (Not to be confused with an aggregates job,
/// [`crate::genesys::jobs`].)
pub trait PollBucket {
    fn poll(&mut self, window: Interval) -> impl Future<Output = Result<()>> + Send;
    /// `buckets` buckets from `from` on were never published because polls failed.
    fn skipped(&mut self, buckets: u64, from: Interval, to: Interval);
}

/// Polls `bucket` as `kind` says, buckets or a rolling window, until `shutdown`.
pub async fn run_query(
    kind: &QueryKind,
    clock: &Clock,
    retry_delay: Duration,
    bucket: &mut impl PollBucket,
    shutdown: &CancellationToken,
) {
    match kind {
        QueryKind::Buckets(schedule) => run(schedule, clock, retry_delay, bucket, shutdown).await,
        QueryKind::Rolling(rolling) => {
            run_rolling(rolling, clock, retry_delay, bucket, shutdown).await
        }
    }
}

/// Polls `bucket` on `schedule` until `shutdown`.
pub async fn run(
    schedule: &Schedule,
    clock: &Clock,
    retry_delay: Duration,
    bucket: &mut impl PollBucket,
    shutdown: &CancellationToken,
) {
    let mut next = schedule.latest_completed(clock.now());
    loop {
        tokio::select! {
            () = clock.sleep_until(schedule.due(next)) => {}
            () = shutdown.cancelled() => return,
        }
        let outcome = tokio::select! {
            outcome = bucket.poll(next) => outcome,
            () = shutdown.cancelled() => return,
        };
        if outcome.is_ok() {
            next = schedule.following(next);
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_delay) => {}
            () = shutdown.cancelled() => return,
        }
        let latest = schedule.latest_completed(clock.now());
        if latest.start > next.start {
            bucket.skipped(schedule.buckets_between(next, latest), next, latest);
            next = latest;
        }
    }
}

/// Polls the latest window of `rolling` through `poll` at once and then at each refresh,
/// until `shutdown`.
pub async fn run_rolling(
    rolling: &Rolling,
    clock: &Clock,
    retry_delay: Duration,
    poll: &mut impl PollBucket,
    shutdown: &CancellationToken,
) {
    let mut due = clock.now();
    // The earliest end the next window read may have: never one already read, or older.
    let mut next_end = Timestamp::MIN;
    loop {
        tokio::select! {
            () = clock.sleep_until(due) => {}
            () = shutdown.cancelled() => return,
        }
        let latest = rolling.latest(clock.now());
        if latest.end < next_end {
            // The clock went back: wait for the window after the last one read.
            due = rolling.due(next_end);
            continue;
        }
        let outcome = tokio::select! {
            outcome = poll.poll(latest) => outcome,
            () = shutdown.cancelled() => return,
        };
        if outcome.is_ok() {
            next_end = rolling.following_end(latest.end);
            due = rolling.next_due(clock.now(), latest);
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_delay) => {}
            () = shutdown.cancelled() => return,
        }
        due = clock.now();
    }
}

/// A configured query's poll: ask the API, flatten, publish, and keep the self-metrics
/// current.
pub struct QueryPoll {
    pub query: Query,
    pub client: Arc<Client>,
    pub publisher: Arc<Publisher>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub jobs: JobOptions,
    /// The most series one answer may publish (`max_series_per_query`).
    pub max_series: usize,
}

impl PollBucket for QueryPoll {
    async fn poll(&mut self, window: Interval) -> Result<()> {
        let timer = self.metrics.poll.timer(&self.query.name);
        let request = self.query.request(window);
        // The answer is flattened as it is read, group by group: the poll never holds it
        // parsed, only its samples.
        let mut flattener = Flattener::new(
            &self.query.name,
            &self.query.group_by,
            window,
            self.max_series,
        );
        let outcome = jobs::aggregates_into(
            &self.client,
            &request,
            jobs::JobPolicy::WhenTooLarge,
            self.jobs,
            |_| {},
            &mut flattener,
        )
        .await;
        // A poll's duration ends with the answer, before it is published.
        drop(timer);
        let now = self.clock.now();
        let outcome = outcome.and_then(|complete| {
            if complete {
                return Ok(flattener.finish());
            }
            let error = Error::TooManySeries {
                query: self.query.name.clone(),
                limit: self.max_series,
            };
            self.metrics
                .api
                .failed(Endpoint::Aggregates, error.reason());
            Err(error)
        });
        match outcome {
            Ok(data) => {
                let series = data.series();
                self.metrics
                    .poll
                    .succeeded(&self.query.name, window, series, now);
                self.publisher
                    .publish(&self.query.name, window, data, now, self.query.max_age);
                tracing::info!(query = %self.query.name, %window, series, "published");
                Ok(())
            }
            Err(error) => {
                self.metrics.poll.failed(&self.query.name);
                tracing::error!(query = %self.query.name, %window, %error, "poll failed; the previous data stays until it is max_age old");
                self.publisher
                    .failed(&self.query.name, error.to_string(), now);
                Err(error)
            }
        }
    }

    fn skipped(&mut self, buckets: u64, from: Interval, to: Interval) {
        self.metrics.poll.skipped(&self.query.name, buckets);
        // Only bucket queries skip buckets.
        let QueryKind::Buckets(schedule) = &self.query.kind else {
            return;
        };
        let mut bucket = from;
        while bucket.start < to.start {
            tracing::warn!(
                query = %self.query.name,
                bucket = %bucket,
                latest = %to,
                "bucket skipped: it completed while polls failed; polling the latest instead"
            );
            let next = schedule.following(bucket);
            if next.start <= bucket.start {
                break;
            }
            bucket = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use bytes::Bytes;
    use jiff::Timestamp;
    use reqwest::StatusCode;

    use super::*;
    use crate::error::Error;
    use crate::genesys::breaker::{Breaker, BreakerSettings};
    use crate::genesys::retry::{Retrier, RetrySettings};
    use crate::genesys::transport::Reply;
    use crate::schedule::Granularity;
    use genesys_wire::Endpoint;

    /// Records what it was asked to poll, failing while `failing` says so.
    struct Recorder {
        clock: Clock,
        polled: Vec<(Interval, Timestamp)>,
        skipped: Vec<u64>,
        failing: fn(Timestamp) -> bool,
    }

    impl PollBucket for Recorder {
        async fn poll(&mut self, window: Interval) -> Result<()> {
            let now = self.clock.now();
            self.polled.push((window, now));
            if (self.failing)(now) {
                return Err(Error::Transport {
                    endpoint: Endpoint::Aggregates,
                    detail: "down".into(),
                    timeout: false,
                });
            }
            Ok(())
        }

        fn skipped(&mut self, buckets: u64, _: Interval, _: Interval) {
            self.skipped.push(buckets);
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn fifteen_minutes() -> Schedule {
        Schedule {
            granularity: Granularity::parse("PT15M").unwrap(),
            time_zone: jiff::tz::TimeZone::UTC,
            settle_delay: Duration::from_secs(90),
        }
    }

    /// Runs a recorder from `start` for `hours` of simulated time.
    async fn run_for(start: &str, hours: u64, failing: fn(Timestamp) -> bool) -> Recorder {
        let kind = QueryKind::Buckets(fifteen_minutes());
        run_kind_for(&kind, start, Duration::from_secs(hours * 3600), failing).await
    }

    /// Runs a recorder as `kind` says from `start` for `time` of simulated time.
    async fn run_kind_for(
        kind: &QueryKind,
        start: &str,
        time: Duration,
        failing: fn(Timestamp) -> bool,
    ) -> Recorder {
        let clock = Clock::starting_at(ts(start));
        let mut recorder = Recorder {
            clock: clock.clone(),
            polled: Vec::new(),
            skipped: Vec::new(),
            failing,
        };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(time).await;
            stop.cancel();
        });
        run_query(
            kind,
            &clock,
            Duration::from_secs(30),
            &mut recorder,
            &shutdown,
        )
        .await;
        recorder
    }

    fn ten_minutes_every_minute() -> QueryKind {
        QueryKind::Rolling(Rolling {
            window: Duration::from_secs(600),
            refresh: Duration::from_secs(60),
            settle_delay: Duration::from_secs(90),
        })
    }

    /// (window, when it was polled), as text.
    fn polled(recorder: &Recorder) -> Vec<(String, String)> {
        recorder
            .polled
            .iter()
            .map(|(w, at)| (w.to_string(), at.to_string()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_rolling_window_is_read_at_once_then_each_minute_once_settled() {
        let kind = ten_minutes_every_minute();
        let recorder = run_kind_for(
            &kind,
            "2026-08-20T10:07:10Z",
            Duration::from_secs(150),
            |_| false,
        )
        .await;
        assert_eq!(
            polled(&recorder),
            [
                (
                    "2026-08-20T09:55:00.000Z/2026-08-20T10:05:00.000Z",
                    "2026-08-20T10:07:10Z"
                ),
                (
                    "2026-08-20T09:56:00.000Z/2026-08-20T10:06:00.000Z",
                    "2026-08-20T10:07:30Z"
                ),
                (
                    "2026-08-20T09:57:00.000Z/2026-08-20T10:07:00.000Z",
                    "2026-08-20T10:08:30Z"
                ),
                (
                    "2026-08-20T09:58:00.000Z/2026-08-20T10:08:00.000Z",
                    "2026-08-20T10:09:30Z"
                ),
            ]
            .map(|(w, at)| (w.to_string(), at.to_string()))
        );
        assert!(recorder.skipped.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_rolling_read_is_retried_on_the_window_latest_then_and_nothing_is_skipped() {
        // The API is down from 10:08 to 10:10:45.
        let kind = ten_minutes_every_minute();
        let recorder = run_kind_for(
            &kind,
            "2026-08-20T10:07:30Z",
            Duration::from_secs(300),
            |now| now >= ts("2026-08-20T10:08:00Z") && now < ts("2026-08-20T10:10:45Z"),
        )
        .await;
        let at: Vec<String> = recorder
            .polled
            .iter()
            .map(|(_, at)| at.to_string())
            .collect();
        assert_eq!(
            at,
            [
                "2026-08-20T10:07:30Z",
                // Fails, and is retried every 30 s ...
                "2026-08-20T10:08:30Z",
                "2026-08-20T10:09:00Z",
                "2026-08-20T10:09:30Z",
                "2026-08-20T10:10:00Z",
                "2026-08-20T10:10:30Z",
                // ... on the window latest then, until it succeeds; then on the grid again.
                "2026-08-20T10:11:00Z",
                "2026-08-20T10:11:30Z",
                "2026-08-20T10:12:30Z",
            ]
        );
        let ends: Vec<String> = recorder
            .polled
            .iter()
            .map(|(w, _)| w.end.strftime("%H:%M").to_string())
            .collect();
        assert_eq!(
            ends,
            [
                "10:06", "10:07", "10:07", "10:08", "10:08", "10:09", "10:09", "10:10", "10:11"
            ]
        );
        assert!(recorder.skipped.is_empty(), "no bucket is skipped");
    }

    #[tokio::test(start_paused = true)]
    async fn polls_at_once_then_at_each_boundary_plus_the_settle_delay() {
        let recorder = run_for("2026-08-20T10:07:00Z", 1, |_| false).await;
        let polled: Vec<(String, String)> = recorder
            .polled
            .iter()
            .map(|(w, at)| (w.to_string(), at.to_string()))
            .collect();
        assert_eq!(
            polled,
            [
                (
                    "2026-08-20T09:45:00.000Z/2026-08-20T10:00:00.000Z",
                    "2026-08-20T10:07:00Z"
                ),
                (
                    "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
                    "2026-08-20T10:16:30Z"
                ),
                (
                    "2026-08-20T10:15:00.000Z/2026-08-20T10:30:00.000Z",
                    "2026-08-20T10:31:30Z"
                ),
                (
                    "2026-08-20T10:30:00.000Z/2026-08-20T10:45:00.000Z",
                    "2026-08-20T10:46:30Z"
                ),
                (
                    "2026-08-20T10:45:00.000Z/2026-08-20T11:00:00.000Z",
                    "2026-08-20T11:01:30Z"
                ),
            ]
            .map(|(w, at)| (w.to_string(), at.to_string()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_day_of_polling_publishes_every_bucket_exactly_once() {
        let recorder = run_for("2026-08-20T00:00:00Z", 24, |_| false).await;
        let windows: Vec<Interval> = recorder.polled.iter().map(|(w, _)| *w).collect();
        // The bucket that was complete at start-up, then the 96 of the day that follow it.
        assert_eq!(windows.len(), 97);
        assert_eq!(windows[0].start, ts("2026-08-19T23:30:00Z"));
        for pair in windows.windows(2) {
            assert_eq!(pair[1].start, pair[0].end, "no gap, no repeat");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_outage_it_jumps_to_the_latest_bucket_and_counts_the_skipped_ones() {
        // The API is down from 10:00 to 10:50.
        let recorder = run_for("2026-08-20T10:07:00Z", 1, |now| {
            now >= ts("2026-08-20T10:00:00Z") && now < ts("2026-08-20T10:50:00Z")
        })
        .await;
        let failures = recorder
            .polled
            .iter()
            .filter(|(_, at)| *at < ts("2026-08-20T10:50:00Z"))
            .count();
        // Every 30 s from 10:07:00 up to 10:49:30: no tight loop.
        assert_eq!(failures, 86);
        // 09:45 was retried until 10:16:30, when 10:00 completed: one skipped bucket, and
        // likewise at 10:31:30 and 10:46:30.
        assert_eq!(recorder.skipped, [1, 1, 1]);
        let first_success = recorder
            .polled
            .iter()
            .find(|(_, at)| *at >= ts("2026-08-20T10:50:00Z"))
            .unwrap();
        assert_eq!(first_success.0.start, ts("2026-08-20T10:30:00Z"));
        assert_eq!(first_success.1, ts("2026-08-20T10:50:00Z"));
    }

    /// Polls through a retrier, with the retry policy and breaker of the defaults, an API
    /// that always answers 503.
    struct Outage<'a> {
        retrier: &'a Retrier,
        requests: &'a AtomicU32,
    }

    impl PollBucket for Outage<'_> {
        async fn poll(&mut self, _: Interval) -> Result<()> {
            let requests = self.requests;
            let reply = self
                .retrier
                .send(Endpoint::Aggregates, || async {
                    requests.fetch_add(1, Ordering::Relaxed);
                    Ok(Reply {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        body: Bytes::new(),
                        correlation_id: None,
                        content_type: String::new(),
                        retry_after: None,
                        location: None,
                    })
                })
                .await?;
            Err(reply.api_error(Endpoint::Aggregates))
        }

        fn skipped(&mut self, _: u64, _: Interval, _: Interval) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_ten_minute_outage_costs_a_bounded_number_of_requests() {
        // The defaults: 4 attempts per request, the breaker opens after 5 failures and
        // probes every 60 s, the poller retries every 30 s.
        let metrics = Metrics::new([]);
        let breaker = Breaker::new(BreakerSettings::default(), &metrics);
        let retrier = Retrier::new(RetrySettings::default(), breaker, &metrics);
        let requests = AtomicU32::new(0);
        let mut outage = Outage {
            retrier: &retrier,
            requests: &requests,
        };
        let clock = Clock::starting_at(ts("2026-08-20T10:07:00Z"));
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            stop.cancel();
        });
        let retry_delay = Duration::from_secs(30);
        run(
            &fifteen_minutes(),
            &clock,
            retry_delay,
            &mut outage,
            &shutdown,
        )
        .await;
        // The first poll, at 0 s: 4 attempts, all within 7 s. The second, 30 s after it
        // ended: 1 attempt, the fifth failure, which opens the breaker. Then one probe
        // per 60 s cool-down: 9 more before 600 s. Without the breaker it would be 4
        // attempts every 30 s or so, about 80.
        assert_eq!(requests.load(Ordering::Relaxed), 4 + 1 + 9);
    }
}
