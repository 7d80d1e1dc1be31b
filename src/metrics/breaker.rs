//! The circuit breaker in front of Genesys Cloud: its state, and how often it opened. Each
//! org's client has its own, and its series carry the org's label (none for the unnamed
//! org).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

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

/// The circuit breaker's metrics: one org's view of families every org's view shares.
#[derive(Clone)]
pub struct BreakerMetrics {
    org: Org,
    state: Family<Org, Gauge>,
    opens: Family<Org, Counter>,
}

impl BreakerMetrics {
    /// Registers the families, without any series: [`BreakerMetrics::start`] starts an
    /// org's. The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> BreakerMetrics {
        BreakerMetrics {
            org: Org::unnamed(),
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

    /// The same families, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> BreakerMetrics {
        BreakerMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Starts this view's org's series: the breaker closed, and opened 0 times.
    pub(super) fn start(&self) {
        let _ = self.state.get_or_create(&self.org);
        let _ = self.opens.get_or_create(&self.org);
    }

    /// Removes every series of this view's org.
    pub(super) fn forget_org(&self) {
        self.state.remove(&self.org);
        self.opens.remove(&self.org);
    }

    /// The breaker is in `state` now.
    pub fn state(&self, state: BreakerState) {
        self.state.get_or_create(&self.org).set(state.gauge_value());
    }

    /// The breaker opened after repeated outage failures.
    pub fn opened(&self) {
        self.opens.get_or_create(&self.org).inc();
    }
}
