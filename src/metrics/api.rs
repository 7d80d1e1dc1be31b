//! Requests to Genesys Cloud, by endpoint: how many went out, how many failed and why, the
//! tokens they took, the steady-state requests a minute planned (the API budget), how many
//! the retry policy repeated, and the rate-limit headroom left.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::error::{REQUEST_FAILURE_REASONS, RETRIED_REASONS};
use crate::genesys::wire::Endpoint;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

impl EndpointLabel {
    fn new(endpoint: Endpoint) -> EndpointLabel {
        EndpointLabel {
            endpoint: endpoint.as_str(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    endpoint: &'static str,
    reason: &'static str,
}

impl FailureLabels {
    fn new(endpoint: Endpoint, reason: &'static str) -> FailureLabels {
        FailureLabels {
            endpoint: endpoint.as_str(),
            reason,
        }
    }
}

/// Requests to Genesys Cloud: how many were sent, how many failed and why, the tokens
/// obtained, and the steady-state requests a minute planned.
#[derive(Clone)]
pub struct ApiMetrics {
    requests: Family<EndpointLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    token_refreshes: Counter,
    /// A family without labels, so that it has no series until the budget is worked out.
    budget: Family<Vec<(String, String)>, Gauge<f64, AtomicU64>>,
}

impl ApiMetrics {
    /// Registers the families, with every endpoint's requests and every endpoint and
    /// reason's failures at 0.
    pub(super) fn register(registry: &mut Registry) -> ApiMetrics {
        let metrics = ApiMetrics {
            requests: registered(
                registry,
                "genesys_api_requests",
                "HTTP requests sent to Genesys Cloud, by endpoint",
            ),
            failures: registered(
                registry,
                "genesys_api_failures",
                "Genesys Cloud requests that failed, by endpoint and reason",
            ),
            token_refreshes: registered(
                registry,
                "genesys_token_refreshes",
                "OAuth access tokens obtained",
            ),
            budget: registered(
                registry,
                "genesys_api_budget_requests_per_minute",
                "Requests a minute the configuration sends in steady state, for the queues found; compare with api_budget_share of 300",
            ),
        };
        // At 0 from the start, so that rate() and increase() see the first one.
        for endpoint in Endpoint::ALL {
            let _ = metrics
                .requests
                .get_or_create(&EndpointLabel::new(endpoint));
            for reason in REQUEST_FAILURE_REASONS {
                let _ = metrics
                    .failures
                    .get_or_create(&FailureLabels::new(endpoint, reason));
            }
        }
        metrics
    }

    /// A request to `endpoint` is sent.
    pub fn request(&self, endpoint: Endpoint) {
        self.requests
            .get_or_create(&EndpointLabel::new(endpoint))
            .inc();
    }

    /// A request to `endpoint` failed; `reason` is one of the bounded label values of
    /// [`crate::error::Error::reason`].
    pub fn failed(&self, endpoint: Endpoint, reason: &'static str) {
        self.failures
            .get_or_create(&FailureLabels::new(endpoint, reason))
            .inc();
    }

    /// An access token was obtained.
    pub fn token_refreshed(&self) {
        self.token_refreshes.inc();
    }

    /// The steady state sends `per_minute` requests a minute.
    pub fn budget(&self, per_minute: f64) {
        self.budget.get_or_create(&Vec::new()).set(per_minute);
    }
}

/// What the retry policy does and what it goes by: requests repeated, and the rate-limit
/// headroom whose end brings 429s. A group apart from [`ApiMetrics`] because the queue
/// names' metrics come between the two in `/metrics`, and each group registers its
/// families together.
#[derive(Clone)]
pub struct RetryMetrics {
    retries: Family<FailureLabels, Counter>,
    rate_limit_remaining: Family<EndpointLabel, Gauge>,
}

impl RetryMetrics {
    /// Registers the families, with every endpoint's retries at 0 for each reason the
    /// retry policy repeats a request for.
    pub(super) fn register(registry: &mut Registry) -> RetryMetrics {
        let metrics = RetryMetrics {
            retries: registered(
                registry,
                "genesys_api_retries",
                "Genesys Cloud requests repeated after a 429, a 5xx, a timeout or no answer, by endpoint and the reason of the failure before",
            ),
            rate_limit_remaining: registered(
                registry,
                "genesys_api_rate_limit_remaining",
                "Requests left in the current rate-limit window, from the last answer's inin-ratelimit-allowed minus inin-ratelimit-count",
            ),
        };
        for endpoint in Endpoint::ALL {
            for reason in RETRIED_REASONS {
                let _ = metrics
                    .retries
                    .get_or_create(&FailureLabels::new(endpoint, reason));
            }
        }
        metrics
    }

    /// A request to `endpoint` that failed for `reason` is sent again.
    pub fn retried(&self, endpoint: Endpoint, reason: &'static str) {
        self.retries
            .get_or_create(&FailureLabels::new(endpoint, reason))
            .inc();
    }

    /// An answer from `endpoint` said how many requests are left in the rate-limit window.
    pub fn rate_limit_remaining(&self, endpoint: Endpoint, remaining: i64) {
        self.rate_limit_remaining
            .get_or_create(&EndpointLabel::new(endpoint))
            .set(remaining);
    }
}
