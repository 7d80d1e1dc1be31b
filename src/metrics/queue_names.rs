//! The queue names put on the `queue` label: whether the last refresh worked, and how many
//! are known. Each org reads its own queue list, and its series carry the org's label (none
//! for the unnamed org).

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

/// The queue-name metrics: one org's view of families every org's view shares.
#[derive(Clone)]
pub struct QueueNameMetrics {
    org: Org,
    up: Family<Org, Gauge>,
    known: Family<Org, Gauge>,
}

impl QueueNameMetrics {
    /// Registers the families, without any series: [`QueueNameMetrics::start`] starts an
    /// org's. The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> QueueNameMetrics {
        QueueNameMetrics {
            org: Org::unnamed(),
            up: registered(
                registry,
                "genesys_queue_names_up",
                "1 if the last refresh of queue names succeeded, 0 if it failed (a 403 means the OAuth client lacks routing:queue:view)",
            ),
            known: registered(
                registry,
                "genesys_queue_names",
                "Queue names known, for the queue label",
            ),
        }
    }

    /// The same families, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> QueueNameMetrics {
        QueueNameMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// Starts this view's org's series, at 0 until the first refresh.
    pub(super) fn start(&self) {
        let _ = self.up.get_or_create(&self.org);
        let _ = self.known.get_or_create(&self.org);
    }

    /// Removes every series of this view's org.
    pub(super) fn forget_org(&self) {
        self.up.remove(&self.org);
        self.known.remove(&self.org);
    }

    /// The queue list was read; `known` names are known now.
    pub fn refreshed(&self, known: usize) {
        self.up.get_or_create(&self.org).set(1);
        self.known.get_or_create(&self.org).set(known as i64);
    }

    /// The queue list could not be read; the names known stay.
    pub fn failed(&self) {
        self.up.get_or_create(&self.org).set(0);
    }
}
