//! What the exporter refused or cut of the API's data to stay within its limits: label
//! values cut to `max_label_value_bytes`, observation rows dropped as implausible, and
//! directory reads stopped at `max_directory_bytes`. Each series carries its org's label
//! first (none for the unnamed org); the reasons are a fixed set.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

/// Why an observation row was dropped: the `reason` label of
/// `genesys_observations_dropped_total`.
pub const OBSERVATION_DROP_REASONS: [&str; 3] = [
    "unexpected_group",
    "count_out_of_range",
    "longest_out_of_range",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    #[prometheus(flatten)]
    org: Org,
    reason: &'static str,
}

/// The limit metrics: one org's view of families every org's view shares.
#[derive(Clone)]
pub struct LimitMetrics {
    org: Org,
    labels_cut: Family<Org, Counter>,
    observations_dropped: Family<ReasonLabels, Counter>,
    directory_over_limit: Family<Org, Counter>,
}

impl LimitMetrics {
    pub(super) fn register(registry: &mut Registry) -> LimitMetrics {
        LimitMetrics {
            org: Org::unnamed(),
            labels_cut: registered(
                registry,
                "genesys_label_values_truncated",
                "Label values from the API cut to max_label_value_bytes (queue, presence names, dimension values, qualifiers)",
            ),
            observations_dropped: registered(
                registry,
                "genesys_observations_dropped",
                "Queue observation rows dropped as implausible, by reason",
            ),
            directory_over_limit: registered(
                registry,
                "genesys_directory_over_limit",
                "Directory reads (queue list, presences) stopped at max_directory_bytes; the names known were kept",
            ),
        }
    }

    pub(super) fn for_org(&self, org: &Org) -> LimitMetrics {
        LimitMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Starts this view's org's counters at 0.
    pub(super) fn start(&self) {
        let _ = self.labels_cut.get_or_create(&self.org);
        for reason in OBSERVATION_DROP_REASONS {
            let _ = self
                .observations_dropped
                .get_or_create(&self.reason(reason));
        }
        let _ = self.directory_over_limit.get_or_create(&self.org);
    }

    pub(super) fn forget_org(&self) {
        self.labels_cut.remove(&self.org);
        for reason in OBSERVATION_DROP_REASONS {
            self.observations_dropped.remove(&self.reason(reason));
        }
        self.directory_over_limit.remove(&self.org);
    }

    fn reason(&self, reason: &'static str) -> ReasonLabels {
        ReasonLabels {
            org: self.org.clone(),
            reason,
        }
    }

    /// `count` label values were cut.
    pub fn labels_cut(&self, count: usize) {
        if count > 0 {
            self.labels_cut
                .get_or_create(&self.org)
                .inc_by(count as u64);
        }
    }

    /// `count` observation rows were dropped for `reason`, one of
    /// [`OBSERVATION_DROP_REASONS`].
    pub fn observations_dropped(&self, reason: &'static str, count: usize) {
        if count > 0 {
            self.observations_dropped
                .get_or_create(&self.reason(reason))
                .inc_by(count as u64);
        }
    }

    /// A directory read passed `max_directory_bytes`.
    pub fn directory_over_limit(&self) {
        self.directory_over_limit.get_or_create(&self.org).inc();
    }
}
