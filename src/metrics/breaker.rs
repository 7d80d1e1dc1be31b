//! The circuit breaker in front of Genesys Cloud: its state, and how often it opened.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;

/// The circuit breaker's state, as `genesys_circuit_breaker_state` shows it and the
/// publisher follows it for `genesys_up`. Defined here rather than with the breaker so that
/// the metrics need nothing from the client's layer above them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go out.
    #[default]
    Closed,
    /// One probe is out; everything else waits for its answer.
    HalfOpen,
    /// No requests until the cool-down ends.
    Open,
}

impl BreakerState {
    /// The value of `genesys_circuit_breaker_state`.
    fn gauge_value(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

/// The circuit breaker's metrics.
#[derive(Clone)]
pub struct BreakerMetrics {
    state: Gauge,
    opens: Counter,
}

impl BreakerMetrics {
    pub(super) fn register(registry: &mut Registry) -> BreakerMetrics {
        BreakerMetrics {
            state: registered(
                registry,
                "genesys_circuit_breaker_state",
                "0 closed (requests go out), 1 half-open (one probe is out), 2 open (no requests until the cool-down ends)",
            ),
            opens: registered(
                registry,
                "genesys_circuit_breaker_opens",
                "Times the circuit breaker opened",
            ),
        }
    }

    /// The breaker is in `state` now.
    pub fn state(&self, state: BreakerState) {
        self.state.set(state.gauge_value());
    }

    /// The breaker opened after repeated outage failures.
    pub fn opened(&self) {
        self.opens.inc();
    }
}
