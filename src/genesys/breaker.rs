//! The circuit breaker in front of Genesys Cloud. After `failures` consecutive requests
//! that got a 503 or a 504, or no answer at all, it opens: for `cool_down` nothing is sent,
//! so that an outage or a maintenance window is not met with a stream of requests. Then one
//! request is let through as a probe; its answer closes the breaker or opens it again.
//!
//! Only outage signs count. A 400, 401, 403, 404, 429 or even a 500 means the API is there
//! and answering, so they reset the count.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::Error;
use crate::metrics::{BreakerMetrics, BreakerState, Metrics};
use genesys_wire::Endpoint;
use genesys_wire::time::deadline_after;

#[derive(Debug, Clone)]
pub struct BreakerSettings {
    /// Consecutive outage failures that open the breaker.
    pub failures: u32,
    /// How long it stays open before it lets one probe through.
    pub cool_down: Duration,
}

impl BreakerSettings {
    /// Shorter cool-downs would probe a service in maintenance more often than it can help.
    pub const MIN_COOL_DOWN: Duration = Duration::from_secs(30);
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; everything else waits for its answer.
    HalfOpen,
}

pub(crate) struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
    /// The state as the rest of the exporter sees it: the publisher follows it for
    /// `genesys_up`.
    shown: watch::Sender<BreakerState>,
    metrics: BreakerMetrics,
}

/// Leave to send one request. Its outcome must be [`Permit::record`]ed; a probe that is
/// dropped unanswered (its poll was cancelled) lets the next request probe instead.
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(settings: BreakerSettings, metrics: &Metrics) -> Breaker {
        let metrics = metrics.breaker.clone();
        metrics.state(BreakerState::Closed);
        Breaker {
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
            shown: watch::Sender::new(BreakerState::Closed),
            metrics,
        }
    }

    /// The breaker's state, now and as it changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<BreakerState> {
        self.shown.subscribe()
    }

    /// Leave to send a request to `endpoint`, or the error that says why not.
    pub(crate) fn admit(&self, endpoint: Endpoint) -> Result<Permit<'_>, Error> {
        let mut state = self.lock();
        let now = Instant::now();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now >= until => {
                self.set(&mut state, State::HalfOpen);
                tracing::info!("circuit breaker half-open: sending one probe request");
                true
            }
            State::Open { until } => {
                return Err(Error::CircuitOpen {
                    endpoint,
                    retry_in: Some(until - now),
                });
            }
            State::HalfOpen => {
                return Err(Error::CircuitOpen {
                    endpoint,
                    retry_in: None,
                });
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    /// True while requests are refused.
    pub(crate) fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { .. })
    }

    fn record(&self, outage: bool) {
        let mut state = self.lock();
        match (*state, outage) {
            (State::Closed { failures }, true) => {
                let failures = failures + 1;
                if failures >= self.settings.failures {
                    self.open(&mut state, failures);
                } else {
                    self.set(&mut state, State::Closed { failures });
                }
            }
            (State::Closed { .. }, false) => self.set(&mut state, State::Closed { failures: 0 }),
            (State::HalfOpen, true) => self.open(&mut state, self.settings.failures),
            (State::HalfOpen, false) => {
                self.set(&mut state, State::Closed { failures: 0 });
                tracing::info!("circuit breaker closed: Genesys Cloud answers again");
            }
            // A request let through before the breaker opened, answering late: the
            // cool-down stands either way.
            (State::Open { .. }, _) => {}
        }
    }

    fn open(&self, state: &mut State, failures: u32) {
        let cool_down = self.settings.cool_down;
        self.set(
            state,
            State::Open {
                until: deadline_after(cool_down),
            },
        );
        self.metrics.opened();
        tracing::warn!(
            failures,
            cool_down_seconds = cool_down.as_secs_f64(),
            "circuit breaker open: Genesys Cloud answered 503 or 504, or not at all; no requests until the cool-down ends, then one probe"
        );
    }

    fn set(&self, state: &mut State, new: State) {
        *state = new;
        let shown = match new {
            State::Closed { .. } => BreakerState::Closed,
            State::HalfOpen => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
        };
        self.metrics.state(shown);
        // Watchers hear of a change of state, not of a failure counted while closed.
        self.shown
            .send_if_modified(|old| std::mem::replace(old, shown) != shown);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, but a poisoned state is still a state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Permit<'_> {
    /// Tells the breaker how the request went: `outage` for a 503, a 504 or no answer.
    pub(crate) fn record(mut self, outage: bool) {
        self.recorded = true;
        self.breaker.record(outage);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            let mut state = self.breaker.lock();
            if *state == State::HalfOpen {
                self.breaker.set(
                    &mut state,
                    State::Open {
                        until: Instant::now(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, cool_down_seconds: u64) -> (Breaker, Metrics) {
        let metrics = Metrics::new([]);
        let settings = BreakerSettings {
            failures,
            cool_down: Duration::from_secs(cool_down_seconds),
        };
        (Breaker::new(settings, &metrics), metrics)
    }

    /// The state the breaker shows its watchers.
    fn shown(breaker: &Breaker) -> BreakerState {
        *breaker.subscribe().borrow()
    }

    fn fail(breaker: &Breaker) {
        breaker.admit(Endpoint::Aggregates).unwrap().record(true);
    }

    fn retry_in(breaker: &Breaker) -> Option<Duration> {
        match breaker.admit(Endpoint::Aggregates) {
            Err(Error::CircuitOpen { retry_in, .. }) => retry_in,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("admitted"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_n_consecutive_outage_failures_and_probes_once_after_the_cool_down() {
        let (breaker, metrics) = breaker(3, 30);
        fail(&breaker);
        fail(&breaker);
        // An answer in between starts the count again.
        breaker.admit(Endpoint::Aggregates).unwrap().record(false);
        fail(&breaker);
        fail(&breaker);
        assert_eq!(shown(&breaker), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(shown(&breaker), BreakerState::Open);
        assert_eq!(metrics.sample("genesys_circuit_breaker_state"), Some(2.0));
        assert_eq!(
            metrics.sample("genesys_circuit_breaker_opens_total"),
            Some(1.0)
        );
        assert!(breaker.is_open());
        assert_eq!(retry_in(&breaker), Some(Duration::from_secs(30)));

        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(retry_in(&breaker), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        let probe = breaker.admit(Endpoint::Aggregates).unwrap();
        assert_eq!(shown(&breaker), BreakerState::HalfOpen);
        // Only one probe at a time.
        assert_eq!(retry_in(&breaker), None);
        probe.record(true);
        assert_eq!(shown(&breaker), BreakerState::Open);
        assert_eq!(
            metrics.sample("genesys_circuit_breaker_opens_total"),
            Some(2.0)
        );
        assert_eq!(retry_in(&breaker), Some(Duration::from_secs(30)));

        tokio::time::advance(Duration::from_secs(30)).await;
        breaker.admit(Endpoint::Aggregates).unwrap().record(false);
        assert_eq!(shown(&breaker), BreakerState::Closed);
        assert!(breaker.admit(Endpoint::Queues).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_without_an_answer_lets_the_next_request_probe() {
        let (breaker, _) = breaker(1, 30);
        fail(&breaker);
        tokio::time::advance(Duration::from_secs(30)).await;
        drop(breaker.admit(Endpoint::Aggregates).unwrap());
        assert_eq!(shown(&breaker), BreakerState::Open);
        let probe = breaker.admit(Endpoint::Aggregates).unwrap();
        assert_eq!(shown(&breaker), BreakerState::HalfOpen);
        probe.record(false);
        assert_eq!(shown(&breaker), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_answer_does_not_cut_the_cool_down_short() {
        let (breaker, _) = breaker(1, 30);
        let late = breaker.admit(Endpoint::Aggregates).unwrap();
        fail(&breaker);
        late.record(false);
        assert!(breaker.is_open());
    }

    #[test]
    fn the_error_says_when_the_next_probe_goes_out() {
        let error = Error::CircuitOpen {
            endpoint: Endpoint::Aggregates,
            retry_in: Some(Duration::from_secs(42)),
        };
        assert_eq!(
            error.to_string(),
            "aggregates: not sent: the circuit breaker is open after repeated 503, 504 or unanswered requests; the next probe goes out in 42s"
        );
        assert_eq!(error.reason(), "circuit_open");
    }
}
