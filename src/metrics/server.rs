//! The exporter's own HTTP server: connections turned away at its connection cap.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use super::registered;

/// The server metrics.
#[derive(Clone)]
pub struct ServerMetrics {
    refused: Counter,
}

impl ServerMetrics {
    pub(super) fn register(registry: &mut Registry) -> ServerMetrics {
        ServerMetrics {
            refused: registered(
                registry,
                "genesys_exporter_connections_refused",
                "Connections closed as soon as accepted because max_connections were open",
            ),
        }
    }

    /// The counter the serving loop counts refused connections on.
    pub fn refused_connections(&self) -> Counter {
        self.refused.clone()
    }
}
