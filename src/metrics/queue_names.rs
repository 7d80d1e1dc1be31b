//! The queue names put on the `queue` label: whether the last refresh worked, and how many
//! are known.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;

/// The queue-name metrics.
#[derive(Clone)]
pub struct QueueNameMetrics {
    up: Gauge,
    known: Gauge,
}

impl QueueNameMetrics {
    pub(super) fn register(registry: &mut Registry) -> QueueNameMetrics {
        QueueNameMetrics {
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

    /// The queue list was read; `known` names are known now.
    pub fn refreshed(&self, known: usize) {
        self.up.set(1);
        self.known.set(known as i64);
    }

    /// The queue list could not be read; the names known stay.
    pub fn failed(&self) {
        self.up.set(0);
    }
}
