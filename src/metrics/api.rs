//! Requests to Genesys Cloud, by endpoint: how many went out, how many failed and why, the
//! tokens they took, the steady-state requests a minute planned (the API budget), how many
//! the retry policy repeated, and the rate-limit headroom left. Each series carries its
//! org's label first (none for the unnamed org).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::error::{REQUEST_FAILURE_REASONS, RETRIED_REASONS};
use crate::org::Org;
use genesys_wire::Endpoint;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    #[prometheus(flatten)]
    org: Org,
    endpoint: &'static str,
}

impl EndpointLabel {
    fn new(org: &Org, endpoint: Endpoint) -> EndpointLabel {
        EndpointLabel {
            org: org.clone(),
            endpoint: endpoint.as_str(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    #[prometheus(flatten)]
    org: Org,
    endpoint: &'static str,
    reason: &'static str,
}

impl FailureLabels {
    fn new(org: &Org, endpoint: Endpoint, reason: &'static str) -> FailureLabels {
        FailureLabels {
            org: org.clone(),
            endpoint: endpoint.as_str(),
            reason,
        }
    }
}

/// Requests to Genesys Cloud: how many were sent, how many failed and why, the tokens
/// obtained, and the steady-state requests a minute planned; one org's view of families
/// every org's view shares.
#[derive(Clone)]
pub struct ApiMetrics {
    org: Org,
    requests: Family<EndpointLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    /// By org only: no label at all for the unnamed org.
    token_refreshes: Family<Org, Counter>,
    /// By org only, so that an org has no series until its budget is worked out.
    budget: Family<Org, Gauge<f64, AtomicU64>>,
}

impl ApiMetrics {
    /// Registers the families, without any series: [`ApiMetrics::start`] starts an
    /// org's. The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> ApiMetrics {
        ApiMetrics {
            org: Org::unnamed(),
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
        }
    }

    /// The same families, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> ApiMetrics {
        ApiMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Starts this view's org's series: every endpoint's requests, every endpoint and
    /// reason's failures and the tokens obtained at 0, so that rate() and increase() see
    /// the first one.
    pub(super) fn start(&self) {
        for endpoint in Endpoint::ALL {
            let _ = self
                .requests
                .get_or_create(&EndpointLabel::new(&self.org, endpoint));
            for reason in REQUEST_FAILURE_REASONS {
                let _ = self
                    .failures
                    .get_or_create(&FailureLabels::new(&self.org, endpoint, reason));
            }
        }
        let _ = self.token_refreshes.get_or_create(&self.org);
    }

    /// Removes every series of this view's org.
    pub(super) fn forget_org(&self) {
        for endpoint in Endpoint::ALL {
            self.requests
                .remove(&EndpointLabel::new(&self.org, endpoint));
            for reason in REQUEST_FAILURE_REASONS {
                self.failures
                    .remove(&FailureLabels::new(&self.org, endpoint, reason));
            }
        }
        self.token_refreshes.remove(&self.org);
        self.budget.remove(&self.org);
    }

    /// A request to `endpoint` is sent.
    pub fn request(&self, endpoint: Endpoint) {
        self.requests
            .get_or_create(&EndpointLabel::new(&self.org, endpoint))
            .inc();
    }

    /// A request to `endpoint` failed; `reason` is one of the bounded label values of
    /// [`crate::error::Error::reason`].
    pub fn failed(&self, endpoint: Endpoint, reason: &'static str) {
        self.failures
            .get_or_create(&FailureLabels::new(&self.org, endpoint, reason))
            .inc();
    }

    /// An access token was obtained.
    pub fn token_refreshed(&self) {
        self.token_refreshes.get_or_create(&self.org).inc();
    }

    /// The steady state sends `per_minute` requests a minute.
    pub fn budget(&self, per_minute: f64) {
        self.budget.get_or_create(&self.org).set(per_minute);
    }
}

/// What the retry policy does and what it goes by: requests repeated, and the rate-limit
/// headroom whose end brings 429s. A group apart from [`ApiMetrics`] because the queue
/// names' metrics come between the two in `/metrics`, and each group registers its
/// families together. One org's view of families every org's view shares.
#[derive(Clone)]
pub struct RetryMetrics {
    org: Org,
    retries: Family<FailureLabels, Counter>,
    rate_limit_remaining: Family<EndpointLabel, Gauge>,
}

impl RetryMetrics {
    /// Registers the families, without any series: [`RetryMetrics::start`] starts an
    /// org's. The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> RetryMetrics {
        RetryMetrics {
            org: Org::unnamed(),
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
        }
    }

    /// The same families, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> RetryMetrics {
        RetryMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Starts this view's org's series: every endpoint's retries at 0 for each reason the
    /// retry policy repeats a request for.
    pub(super) fn start(&self) {
        for endpoint in Endpoint::ALL {
            for reason in RETRIED_REASONS {
                let _ = self
                    .retries
                    .get_or_create(&FailureLabels::new(&self.org, endpoint, reason));
            }
        }
    }

    /// Removes every series of this view's org.
    pub(super) fn forget_org(&self) {
        for endpoint in Endpoint::ALL {
            for reason in RETRIED_REASONS {
                self.retries
                    .remove(&FailureLabels::new(&self.org, endpoint, reason));
            }
            self.rate_limit_remaining
                .remove(&EndpointLabel::new(&self.org, endpoint));
        }
    }

    /// A request to `endpoint` that failed for `reason` is sent again.
    pub fn retried(&self, endpoint: Endpoint, reason: &'static str) {
        self.retries
            .get_or_create(&FailureLabels::new(&self.org, endpoint, reason))
            .inc();
    }

    /// An answer from `endpoint` said how many requests are left in the rate-limit window.
    pub fn rate_limit_remaining(&self, endpoint: Endpoint, remaining: i64) {
        self.rate_limit_remaining
            .get_or_create(&EndpointLabel::new(&self.org, endpoint))
            .set(remaining);
    }
}
