//! A configured query's completed buckets. At start-up it polls the most recent completed
//! bucket at once; after that it wakes when the next bucket has ended and settled. A poll
//! that runs late takes the next bucket in sequence, so none is skipped or repeated; a
//! poll that fails is retried after `retry_delay`, and if newer buckets completed
//! meanwhile it jumps to the latest one and logs and counts the ones it skipped: after an
//! outage the latest data matters, and the buckets in between would take a request each.
//!
//! `genesys_up` is not set here: the publisher derives it from the last poll's outcome
//! and the circuit breaker's state.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::standing::{self, Permission};
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::Query;
use crate::error::Result;
use crate::exposition::{Flattener, QuerySamples};
use crate::genesys::client::Client;
use crate::genesys::jobs::{self, JobOptions};
use crate::metrics::Metrics;
use crate::schedule::Schedule;
use genesys_wire::Endpoint;
use genesys_wire::catalogue::Source;
use genesys_wire::time::{Clock, Interval};

/// A query's completed buckets, polled as they settle.
#[derive(Clone)]
pub struct Buckets {
    pub query: Query,
    pub schedule: Schedule,
    pub aggregates: Aggregates,
    pub metrics: Arc<Metrics>,
    pub cursor: BucketCursor,
    /// Watched for the sources whose permission may be missing: see [`standing`].
    pub permission: Option<Permission>,
}

impl Collector for Buckets {
    fn name(&self) -> &str {
        &self.query.name
    }

    fn endpoint(&self) -> Endpoint {
        self.query.source.endpoint()
    }

    fn cost(&self) -> Cost {
        Cost::bucket_query(&self.query.name, self.query.source, &self.schedule)
    }

    fn readiness(&self) -> Readiness {
        readiness(&self.query)
    }

    fn max_age(&self) -> Duration {
        self.query.max_age
    }

    async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        if let (Some(last), Some(window)) = (last, self.cursor.next) {
            log_outcome(&self.query.name, window, last);
        }
        let clock = self.cursor.clock.clone();
        let after =
            standing::wait_if_forbidden(&mut self.permission, last, &clock, shutdown).await?;
        let due = self.cursor.next_due(after, shutdown).await?;
        if let Some(skipped) = due.skipped {
            self.metrics.poll.skipped(&self.query.name, skipped.buckets);
            self.log_skipped(skipped.from, due.window);
        }
        Some(due.window)
    }

    async fn collect(&mut self, window: Interval, max_series: usize) -> Result<QuerySamples> {
        self.aggregates
            .collect(&self.query, window, max_series)
            .await
    }
}

impl Buckets {
    /// Logs each bucket from `from` up to `latest`, skipped because polls failed.
    fn log_skipped(&self, from: Interval, latest: Interval) {
        let mut bucket = from;
        while bucket.start < latest.start {
            tracing::warn!(
                query = %self.query.name,
                bucket = %bucket,
                latest = %latest,
                "bucket skipped: it completed while polls failed; polling the latest instead"
            );
            let next = self.schedule.following(bucket);
            if next.start <= bucket.start {
                break;
            }
            bucket = next;
        }
    }
}

/// Whether `/readyz` waits for a configured query: for the conversations' queries, and
/// not for the flows' and data actions', whose permission may be missing for good.
pub(super) fn readiness(query: &Query) -> Readiness {
    if query.source == Source::Conversations {
        Readiness::Waits
    } else {
        Readiness::DoesNotWait
    }
}

/// Logs a configured query's poll of `window`.
pub(super) fn log_outcome(query: &str, window: Interval, outcome: &Outcome) {
    match outcome {
        Ok(series) => tracing::info!(query, %window, series, "published"),
        Err(error) => tracing::error!(
            query,
            %window,
            %error,
            "poll failed; the previous data stays until it is max_age old"
        ),
    }
}

/// An org's aggregates query: asks for a query's window, synchronously or as a job when
/// the answer is too large, and flattens the answer as it is read.
#[derive(Clone)]
pub struct Aggregates {
    pub client: Arc<Client>,
    pub jobs: JobOptions,
}

impl Aggregates {
    /// `query`'s answer for `window`, as at most `max_series` series.
    pub async fn collect(
        &self,
        query: &Query,
        window: Interval,
        max_series: usize,
    ) -> Result<QuerySamples> {
        let request = query.request(window);
        // The answer is flattened as it is read, group by group: the poll never holds it
        // parsed, only its samples.
        let mut flattener = Flattener::new(&query.name, &query.group_by, window, max_series);
        let complete = jobs::aggregates_into(
            &self.client,
            query.source,
            &request,
            jobs::JobPolicy::WhenTooLarge,
            self.jobs,
            |_| {},
            &mut flattener,
        )
        .await?;
        if complete {
            Ok(flattener.finish())
        } else {
            Err(too_many_series(&query.name, max_series))
        }
    }
}

/// Which bucket is polled next, and when.
#[derive(Debug, Clone)]
pub struct BucketCursor {
    pub schedule: Schedule,
    pub clock: Clock,
    pub retry_delay: Duration,
    /// The bucket polled last, or next: `None` before the first.
    next: Option<Interval>,
}

/// The bucket due, and what was skipped to reach it.
#[derive(Debug, Clone, Copy)]
pub struct Due {
    pub window: Interval,
    pub skipped: Option<Skipped>,
}

/// `buckets` buckets from `from` on were never published because polls failed.
#[derive(Debug, Clone, Copy)]
pub struct Skipped {
    pub buckets: u64,
    pub from: Interval,
}

impl BucketCursor {
    pub fn new(schedule: Schedule, clock: Clock, retry_delay: Duration) -> BucketCursor {
        BucketCursor {
            schedule,
            clock,
            retry_delay,
            next: None,
        }
    }

    /// Waits for the bucket due after the last poll (`None` before the first; else
    /// whether it succeeded). `None` on `shutdown`.
    pub async fn next_due(
        &mut self,
        last_succeeded: Option<bool>,
        shutdown: &CancellationToken,
    ) -> Option<Due> {
        let (schedule, clock) = (&self.schedule, &self.clock);
        let mut skipped = None;
        let next = match (self.next, last_succeeded) {
            (Some(last), Some(true)) => schedule.following(last),
            (Some(last), Some(false)) => {
                tokio::select! {
                    () = tokio::time::sleep(self.retry_delay) => {}
                    () = shutdown.cancelled() => return None,
                }
                let latest = schedule.latest_completed(clock.now());
                if latest.start > last.start {
                    skipped = Some(Skipped {
                        buckets: schedule.buckets_between(last, latest),
                        from: last,
                    });
                    latest
                } else {
                    last
                }
            }
            _ => schedule.latest_completed(clock.now()),
        };
        self.next = Some(next);
        tokio::select! {
            () = clock.sleep_until(schedule.due(next)) => {}
            () = shutdown.cancelled() => return None,
        }
        Some(Due {
            window: next,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use bytes::Bytes;
    use jiff::Timestamp;
    use reqwest::StatusCode;

    use super::*;
    use crate::genesys::breaker::{Breaker, BreakerSettings};
    use crate::genesys::retry::{Retrier, RetrySettings};
    use crate::genesys::transport::Reply;
    use crate::schedule::Granularity;

    /// What a cursor was asked to poll, and when, and the buckets it skipped.
    struct Recorder {
        polled: Vec<(Interval, Timestamp)>,
        skipped: Vec<u64>,
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

    /// A token cancelled after `time` of (paused) time.
    fn cancelled_after(time: Duration) -> CancellationToken {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(time).await;
            stop.cancel();
        });
        shutdown
    }

    /// Polls 15-minute buckets from `start` for `hours` of simulated time, each poll
    /// failing when `failing` says so at its instant.
    async fn run_for(start: &str, hours: u64, failing: fn(Timestamp) -> bool) -> Recorder {
        let clock = Clock::starting_at(ts(start));
        let mut cursor =
            BucketCursor::new(fifteen_minutes(), clock.clone(), Duration::from_secs(30));
        let shutdown = cancelled_after(Duration::from_secs(hours * 3600));
        let mut recorder = Recorder {
            polled: Vec::new(),
            skipped: Vec::new(),
        };
        let mut last = None;
        while let Some(due) = cursor.next_due(last, &shutdown).await {
            if let Some(skipped) = due.skipped {
                recorder.skipped.push(skipped.buckets);
            }
            let now = clock.now();
            recorder.polled.push((due.window, now));
            last = Some(!failing(now));
        }
        recorder
    }

    /// An answer of 503, as an API in an outage gives.
    fn unavailable() -> Reply {
        Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Bytes::new(),
            correlation_id: None,
            content_type: String::new(),
            retry_after: None,
            location: None,
        }
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

    #[tokio::test(start_paused = true)]
    async fn a_ten_minute_outage_costs_a_bounded_number_of_requests() {
        // The defaults: 4 attempts per request, the breaker opens after 5 failures and
        // probes every 60 s, the poller retries every 30 s.
        let metrics = Metrics::new([]);
        let breaker = Breaker::new(BreakerSettings::default(), &metrics);
        let retrier = Retrier::new(RetrySettings::default(), breaker, &metrics);
        let requests = AtomicU32::new(0);
        let clock = Clock::starting_at(ts("2026-08-20T10:07:00Z"));
        let shutdown = cancelled_after(Duration::from_secs(600));
        let mut cursor = BucketCursor::new(fifteen_minutes(), clock, Duration::from_secs(30));
        let mut last = None;
        while cursor.next_due(last, &shutdown).await.is_some() {
            let sent = retrier.send(Endpoint::Aggregates, || async {
                requests.fetch_add(1, Ordering::Relaxed);
                Ok(unavailable())
            });
            // Still 503 after the retries, or not sent while the breaker is open.
            tokio::select! {
                _ = sent => last = Some(false),
                () = shutdown.cancelled() => break,
            }
        }
        // The first poll, at 0 s: 4 attempts, all within 7 s. The second, 30 s after it
        // ended: 1 attempt, the fifth failure, which opens the breaker. Then one probe
        // per 60 s cool-down: 9 more before 600 s. Without the breaker it would be 4
        // attempts every 30 s or so, about 80.
        assert_eq!(requests.load(Ordering::Relaxed), 4 + 1 + 9);
    }
}
