//! The one retry policy that every request to Genesys Cloud goes through (token,
//! aggregates, queues, and any endpoint added later), as the official SDKs behave:
//!
//! | answer | what happens |
//! |---|---|
//! | 429 | wait its `Retry-After` plus up to `backoff_base` of jitter, then retry; give up once the waits for one request would pass `rate_limit_max_wait` (180 s) |
//! | 5xx except 501, no answer, timeout | exponential backoff with full jitter, at most `attempts` attempts |
//! | anything else | returned to the caller: 2xx, and refusals that repeating cannot fix (400, 403, 404, 501); a 401 is the caller's to handle (one token renewal, one retry) |
//!
//! backon supplies the backoff sequence and the retry loop; this module decides what is
//! worth repeating and how long to wait. Every attempt also passes the circuit breaker
//! ([`super::breaker`]), and a `Retry-After` longer than the cap holds back every request
//! until it has passed, so that the exporter never calls sooner than the API asked. Each
//! failed request is counted and logged in one line with its ININ-Correlation-Id.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use tokio::time::Instant;

use super::breaker::Breaker;
use crate::error::{Error, Result};
use crate::metrics::{ApiMetrics, Metrics, RetryMetrics};
use genesys_wire::Endpoint;
use genesys_wire::time::deadline_after;

#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// Attempts per request, the first included, for answers worth repeating.
    pub attempts: u32,
    /// The first backoff delay, doubled for each further retry up to `backoff_max`; also
    /// the most jitter added to a `Retry-After`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The most one request waits in total on 429s before it gives up.
    pub rate_limit_max_wait: Duration,
}

impl RetrySettings {
    /// The most attempts the configuration may ask for.
    pub const MAX_ATTEMPTS: u32 = 10;
}

impl Default for RetrySettings {
    /// Four attempts for 429s, 5xx (but 501), timeouts and requests without an answer.
    /// Between them an exponential backoff of 1 s, 2 s, 4 s, ... up to 30 s, each drawn at
    /// random from zero up to that (full jitter); the backoff is not a config key, tests
    /// shorten it. As the official Go SDK, a 429 is waited out unless that takes longer
    /// than 180 s.
    fn default() -> Self {
        RetrySettings {
            attempts: 4,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            rate_limit_max_wait: Duration::from_secs(180),
        }
    }
}

/// What the policy reads of an HTTP answer. The transport's reply is one; the trait keeps
/// this module from depending on the transport that depends on it.
pub(crate) trait Answer {
    fn status(&self) -> StatusCode;
    /// A 429's `Retry-After`.
    fn retry_after(&self) -> Option<Duration>;
    /// What the answer said, without advice, for the log line of a failed attempt.
    fn summary(&self, endpoint: Endpoint) -> String;
    /// The failure reason of an error answer: the reason of the error the caller makes of
    /// it, so that each failure is counted under the one reason it is reported with.
    fn reason(&self, endpoint: Endpoint) -> &'static str;
}

/// What an attempt's outcome calls for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Hand it to the caller: a success, a refusal that repeating cannot fix, or a request
    /// that was not sent.
    Final,
    /// 429: wait as long as the API asked, when it said.
    RateLimited(Option<Duration>),
    /// 5xx other than 501, no answer, or a timeout: the API may be down.
    Unavailable,
}

fn verdict(outcome: &Result<impl Answer>) -> Verdict {
    match outcome {
        Err(Error::Transport { .. }) => Verdict::Unavailable,
        Err(_) => Verdict::Final,
        Ok(reply) => match reply.status().as_u16() {
            429 => Verdict::RateLimited(reply.retry_after()),
            // Not Implemented will not become implemented by asking again.
            501 => Verdict::Final,
            500..=599 => Verdict::Unavailable,
            _ => Verdict::Final,
        },
    }
}

/// The outcomes the circuit breaker counts: the API is down or unreachable.
fn is_outage(outcome: &Result<impl Answer>) -> bool {
    match outcome {
        Err(Error::Transport { .. }) => true,
        Err(_) => false,
        Ok(reply) => matches!(reply.status().as_u16(), 503 | 504),
    }
}

/// An attempt worth repeating, and why.
struct Repeatable<A> {
    outcome: Result<A>,
    verdict: Verdict,
}

/// A hold on every request after a 429, never longer than `rate_limit_max_wait`.
#[derive(Debug, Clone, Copy)]
struct Hold {
    until: Instant,
    /// The `Retry-After` was past the cap: requests are refused until `until` rather than
    /// waiting for it, so a poll fails at once and the previous data stays.
    refuse: bool,
}

/// Sends requests under the retry policy and the circuit breaker.
pub(crate) struct Retrier {
    settings: RetrySettings,
    breaker: Breaker,
    /// Until when Genesys Cloud asked, by a 429's `Retry-After`, not to be called.
    rate_limited_until: Mutex<Option<Hold>>,
    api: ApiMetrics,
    retry: RetryMetrics,
}

impl Retrier {
    pub(crate) fn new(settings: RetrySettings, breaker: Breaker, metrics: &Metrics) -> Retrier {
        Retrier {
            settings,
            breaker,
            rate_limited_until: Mutex::new(None),
            api: metrics.api.clone(),
            retry: metrics.retry.clone(),
        }
    }

    /// Runs `attempt` until its outcome is final or the policy gives up, and returns the
    /// last outcome: a reply (of any status) or the error of a request without an answer.
    pub(crate) async fn send<A, F, Fut>(&self, endpoint: Endpoint, mut attempt: F) -> Result<A>
    where
        A: Answer,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<A>>,
    {
        let mut waited = self.wait_out_rate_limit(endpoint).await?;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.backoff_base)
            .with_max_delay(self.settings.backoff_max)
            .with_factor(2.0)
            .with_max_times(self.settings.attempts.saturating_sub(1) as usize);
        let result = (|| {
            // Admitted when the attempt starts, not when it was planned.
            let admitted = self
                .breaker
                .admit(endpoint)
                .map(|permit| (permit, attempt()));
            async move {
                let (permit, sent) = match admitted {
                    Ok(admitted) => admitted,
                    Err(refused) => return Ok(Err(refused)),
                };
                let outcome = sent.await;
                permit.record(is_outage(&outcome));
                match verdict(&outcome) {
                    Verdict::Final => Ok(outcome),
                    verdict => {
                        if let Verdict::RateLimited(Some(after)) = verdict {
                            self.hold_off(after);
                        }
                        Err(Repeatable { outcome, verdict })
                    }
                }
            }
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        // Once the breaker is open, the next attempt would be refused anyway.
        .when(|_| !self.breaker.is_open())
        .adjust(|failed, backoff| self.delay(failed.verdict, backoff, &mut waited))
        .notify(|failed, wait| self.report(endpoint, &failed.outcome, Some(wait)))
        .await;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(failed) => failed.outcome,
        };
        self.report(endpoint, &outcome, None);
        outcome
    }

    /// How long to wait before the next attempt, or `None` to give up. `backoff` is the
    /// exponential sequence's next delay, `None` once the attempts are used up.
    fn delay(
        &self,
        verdict: Verdict,
        backoff: Option<Duration>,
        waited: &mut Duration,
    ) -> Option<Duration> {
        let backoff = backoff?;
        match verdict {
            Verdict::RateLimited(Some(after)) => {
                if waited.saturating_add(after) > self.settings.rate_limit_max_wait {
                    return None;
                }
                let wait = after + self.settings.backoff_base.mul_f64(fastrand::f64());
                *waited += wait;
                Some(wait)
            }
            // Full jitter: anywhere from nothing to the backoff delay, so that clients
            // that failed together do not come back together.
            _ => Some(backoff.mul_f64(fastrand::f64())),
        }
    }

    /// Holds back every request for `after` from now, unless already held back longer;
    /// never for longer than `rate_limit_max_wait`, so that a bogus `Retry-After` (`1e30`,
    /// `inf`, days) cannot silence the exporter: after the cap it asks again, and a real
    /// rate limit answers another 429.
    fn hold_off(&self, after: Duration) {
        let cap = self.settings.rate_limit_max_wait;
        let hold = Hold {
            until: deadline_after(after.min(cap)),
            refuse: after > cap,
        };
        let mut held = self.lock_rate_limit();
        if held.is_none_or(|held| held.until < hold.until) {
            *held = Some(hold);
        }
    }

    /// Waits until Genesys Cloud's last `Retry-After` has passed, if that was within the
    /// cap, and returns how long it waited; refuses to send, until the capped hold ends,
    /// if it was not.
    async fn wait_out_rate_limit(&self, endpoint: Endpoint) -> Result<Duration> {
        let hold = *self.lock_rate_limit();
        let Some((wait, refuse)) = hold.and_then(|hold| {
            let wait = hold.until.checked_duration_since(Instant::now())?;
            (!wait.is_zero()).then_some((wait, hold.refuse))
        }) else {
            return Ok(Duration::ZERO);
        };
        if refuse || wait > self.settings.rate_limit_max_wait {
            return Err(Error::RateLimited {
                endpoint,
                retry_in: wait,
            });
        }
        let wait = wait + self.settings.backoff_base.mul_f64(fastrand::f64());
        tracing::debug!(
            %endpoint,
            wait_seconds = wait.as_secs_f64(),
            "waiting for the rate limit to pass"
        );
        tokio::time::sleep(wait).await;
        Ok(wait)
    }

    /// Counts a failed request, and logs it if it is retried, with the wait before the
    /// next attempt. The last failure is not logged here: it goes back to the caller (a
    /// poll, the queue names, a report), which logs it once with what it means, so that
    /// each failed attempt makes one log line, not two. Successes and requests that were
    /// not sent are not failed requests.
    fn report(
        &self,
        endpoint: Endpoint,
        outcome: &Result<impl Answer>,
        retry_in: Option<Duration>,
    ) {
        let (reason, what) = match outcome {
            Ok(reply) if reply.status().is_success() => return,
            Ok(reply) => (reply.reason(endpoint), reply.summary(endpoint)),
            Err(error @ (Error::Transport { .. } | Error::TooLarge { .. })) => {
                (error.reason(), error.to_string())
            }
            Err(_) => return,
        };
        self.api.failed(endpoint, reason);
        if let Some(wait) = retry_in {
            self.retry.retried(endpoint, reason);
            tracing::warn!(
                error = %what,
                retry_in_seconds = wait.as_secs_f64(),
                "Genesys Cloud request failed; retrying"
            );
        }
    }

    fn lock_rate_limit(&self) -> std::sync::MutexGuard<'_, Option<Hold>> {
        self.rate_limited_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::error::status_reason;
    use crate::genesys::breaker::BreakerSettings;
    use crate::genesys::transport::Reply;

    /// What the fake API answers to one attempt.
    #[derive(Clone, Copy)]
    enum Reaction {
        Status(u16),
        TooMany { retry_after: u64 },
        Silence,
        TimedOut,
    }
    use Reaction::*;

    fn outcome(answer: Reaction) -> Result<Reply> {
        let reply = |status, retry_after: Option<u64>| {
            Ok(Reply {
                status: StatusCode::from_u16(status).unwrap(),
                body: Bytes::from_static(br#"{"message": "m", "code": "c", "status": 0}"#),
                correlation_id: Some("corr-1".into()),
                content_type: "application/json".into(),
                retry_after: retry_after.map(Duration::from_secs),
                location: None,
            })
        };
        match answer {
            Status(status) => reply(status, None),
            TooMany { retry_after } => reply(429, Some(retry_after)),
            Silence | TimedOut => Err(Error::Transport {
                endpoint: Endpoint::Aggregates,
                detail: "no answer".into(),
                timeout: matches!(answer, TimedOut),
            }),
        }
    }

    fn retrier(settings: RetrySettings, breaker: BreakerSettings) -> (Retrier, Metrics) {
        let metrics = Metrics::new(["q"]);
        let breaker = Breaker::new(breaker, &metrics);
        (Retrier::new(settings, breaker, &metrics), metrics)
    }

    fn defaults() -> (Retrier, Metrics) {
        retrier(RetrySettings::default(), BreakerSettings::default())
    }

    /// Answers with `answers` in order, repeating the last, and records when each attempt
    /// went out, in seconds since the script was made.
    struct Script {
        answers: Vec<Reaction>,
        sent: Mutex<Vec<f64>>,
        start: Instant,
    }

    impl Script {
        fn new(answers: &[Reaction]) -> Script {
            Script {
                answers: answers.to_vec(),
                sent: Mutex::new(Vec::new()),
                start: Instant::now(),
            }
        }

        async fn attempt(&self) -> Result<Reply> {
            let answer = {
                let mut sent = self.sent.lock().unwrap();
                sent.push(self.start.elapsed().as_secs_f64());
                self.answers[(sent.len() - 1).min(self.answers.len() - 1)]
            };
            outcome(answer)
        }

        async fn run(&self, retrier: &Retrier) -> Result<Reply> {
            retrier.send(Endpoint::Aggregates, || self.attempt()).await
        }

        fn sent(&self) -> Vec<f64> {
            self.sent.lock().unwrap().clone()
        }
    }

    fn status(outcome: Result<Reply>) -> u16 {
        outcome.unwrap().status.as_u16()
    }

    /// `genesys_api_failures_total` of the aggregates endpoint for `reason`.
    fn failures(metrics: &Metrics, reason: &str) -> u64 {
        count(metrics, "genesys_api_failures_total", reason)
    }

    /// `genesys_api_retries_total` of the aggregates endpoint for `reason`.
    fn retries(metrics: &Metrics, reason: &str) -> u64 {
        count(metrics, "genesys_api_retries_total", reason)
    }

    fn count(metrics: &Metrics, counter: &str, reason: &str) -> u64 {
        let series = format!("{counter}{{endpoint=\"aggregates\",reason=\"{reason}\"}}");
        metrics.sample(&series).map_or(0, |count| count as u64)
    }

    #[test]
    fn every_outcome_it_repeats_is_counted_under_a_reason_the_retries_start_at_zero_for() {
        let reactions = (100..=599).map(Status).chain([Silence, TimedOut]);
        let mut repeated = 0;
        for reaction in reactions {
            let outcome = outcome(reaction);
            if verdict(&outcome) == Verdict::Final {
                continue;
            }
            repeated += 1;
            let reason = match &outcome {
                Ok(reply) => status_reason(reply.status.as_u16()),
                Err(error) => error.reason(),
            };
            assert!(crate::error::RETRIED_REASONS.contains(&reason), "{reason}");
        }
        assert_eq!(
            repeated,
            1 + 99 + 2,
            "a 429, the 5xx but 501, no answer, a timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_waits_its_retry_after_plus_at_most_a_second_of_jitter() {
        let (retrier, metrics) = defaults();
        let script = Script::new(&[TooMany { retry_after: 7 }, Status(200)]);
        assert_eq!(status(script.run(&retrier).await), 200);
        let sent = script.sent();
        assert_eq!(sent.len(), 2);
        assert!((7.0..=8.0).contains(&sent[1]), "retried after {}s", sent[1]);
        assert_eq!(failures(&metrics, "rate_limited"), 1);
        assert_eq!(retries(&metrics, "rate_limited"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_past_the_cap_is_not_waited_for_and_holds_back_later_requests_up_to_the_cap()
     {
        let (retrier, metrics) = defaults();
        let script = Script::new(&[TooMany { retry_after: 600 }, Status(200)]);
        assert_eq!(status(script.run(&retrier).await), 429);
        assert_eq!(script.sent(), [0.0]);
        assert_eq!(retries(&metrics, "rate_limited"), 0);

        // Two minutes later: nothing is sent while the hold lasts, and the hold is the cap
        // (180 s), not the 600 s asked for.
        tokio::time::advance(Duration::from_secs(120)).await;
        match script.run(&retrier).await {
            Err(Error::RateLimited { retry_in, .. }) => {
                assert_eq!(retry_in, Duration::from_secs(60));
            }
            other => panic!("{:?}", other.map(|reply| reply.status)),
        }
        assert_eq!(script.sent().len(), 1);

        // Once the capped hold has passed, a request goes out.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(status(script.run(&retrier).await), 200);
        let sent = script.sent();
        assert_eq!(sent[1], 180.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_saturates_and_holds_back_only_up_to_the_cap() {
        // 1e30, inf and 999999 s: each read (saturating), none overflowing an instant.
        for header in ["1e30", "inf", "999999", "1.8e19"] {
            let (retrier, _) = defaults();
            let after = crate::genesys::transport::retry_after_seconds(header);
            assert!(after.is_some(), "{header}");
            let sent = Mutex::new(0);
            let answer = || async {
                *sent.lock().unwrap() += 1;
                let mut reply = outcome(TooMany { retry_after: 0 })?;
                reply.retry_after = after;
                Ok(reply)
            };
            let first = retrier.send(Endpoint::Aggregates, answer).await;
            assert_eq!(status(first), 429, "{header}");
            tokio::time::advance(Duration::from_secs(181)).await;
            let later = retrier.send(Endpoint::Aggregates, answer).await;
            assert_eq!(status(later), 429, "asked again after the cap: {header}");
            assert_eq!(*sent.lock().unwrap(), 2, "{header}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_on_429s_for_one_request_stop_at_the_cap() {
        let (retrier, metrics) = retrier(
            RetrySettings {
                attempts: 100,
                ..RetrySettings::default()
            },
            BreakerSettings::default(),
        );
        // A storm: 429 with Retry-After 50 for ever.
        let script = Script::new(&[TooMany { retry_after: 50 }]);
        assert_eq!(status(script.run(&retrier).await), 429);
        // Waits of 50 to 51 s: three fit in 180 s, a fourth would not.
        assert_eq!(script.sent().len(), 4);
        assert_eq!(failures(&metrics, "rate_limited"), 4);
        assert_eq!(retries(&metrics, "rate_limited"), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_back_off_exponentially_with_full_jitter_a_bounded_number_of_times() {
        let (retrier, metrics) = retrier(
            RetrySettings {
                attempts: 5,
                ..RetrySettings::default()
            },
            BreakerSettings {
                failures: 100,
                ..BreakerSettings::default()
            },
        );
        let script = Script::new(&[Status(500)]);
        assert_eq!(status(script.run(&retrier).await), 500);
        let sent = script.sent();
        assert_eq!(sent.len(), 5);
        // Delays drawn from [0, 1], [0, 2], [0, 4] and [0, 8] seconds.
        for (i, pair) in sent.windows(2).enumerate() {
            let delay = pair[1] - pair[0];
            assert!(delay <= f64::from(1 << i), "delay {i} was {delay}s");
        }
        assert_eq!(failures(&metrics, "server_error"), 5);
        assert_eq!(retries(&metrics, "server_error"), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_lost_connections_and_503s_are_retried() {
        let (retrier, metrics) = defaults();
        let script = Script::new(&[TimedOut, Silence, Status(503), Status(200)]);
        assert_eq!(status(script.run(&retrier).await), 200);
        assert_eq!(script.sent().len(), 4);
        for reason in ["timeout", "transport", "server_error"] {
            assert_eq!(failures(&metrics, reason), 1, "{reason}");
            assert_eq!(retries(&metrics, reason), 1, "{reason}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_that_repeating_cannot_fix_are_sent_once() {
        for refusal in [400, 401, 403, 404, 501] {
            let (retrier, metrics) = defaults();
            let script = Script::new(&[Status(refusal), Status(200)]);
            assert_eq!(status(script.run(&retrier).await), refusal);
            assert_eq!(script.sent().len(), 1, "{refusal}");
            let reason = status_reason(refusal);
            assert_eq!(failures(&metrics, reason), 1, "{refusal}");
            assert_eq!(retries(&metrics, reason), 0, "{refusal}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_when_the_breaker_opens() {
        let (retrier, _) = retrier(
            RetrySettings {
                attempts: 10,
                ..RetrySettings::default()
            },
            BreakerSettings {
                failures: 3,
                ..BreakerSettings::default()
            },
        );
        let script = Script::new(&[Status(504)]);
        assert_eq!(status(script.run(&retrier).await), 504);
        assert_eq!(script.sent().len(), 3);
        assert!(retrier.breaker.is_open());
        let refused = script.run(&retrier).await;
        assert!(matches!(refused, Err(Error::CircuitOpen { .. })));
        assert_eq!(script.sent().len(), 3, "nothing sent while open");
    }
}
