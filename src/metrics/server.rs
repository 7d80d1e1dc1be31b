//! The exporter's own HTTP server: connections turned away at its connection cap, and
//! whether changes of the web config file are taken.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::web_config::WebConfigMetrics;

/// The server metrics.
#[derive(Clone)]
pub struct ServerMetrics {
    refused: Counter,
    web_config: WebConfigMetrics,
}

impl ServerMetrics {
    pub(super) fn register(registry: &mut Registry) -> ServerMetrics {
        let last_reload_successful: Gauge = registered(
            registry,
            "genesys_exporter_web_config_last_reload_successful",
            "1 if the last change of the web config file was taken (or none was made), 0 if it was refused or did not check out and the last good one stays in force",
        );
        // Without a web config file, there is nothing to refuse.
        last_reload_successful.set(1);
        ServerMetrics {
            refused: registered(
                registry,
                "genesys_exporter_connections_refused",
                "Connections closed as soon as accepted because max_connections were open and none idle, or the client held max_connections_per_client",
            ),
            web_config: WebConfigMetrics {
                last_reload_successful,
                reloads_refused: registered(
                    registry,
                    "genesys_exporter_web_config_reloads_refused",
                    "Changes of the web config file refused because they would turn TLS on or off, or drop basic auth or client certificates",
                ),
            },
        }
    }

    /// The counter the serving loop counts refused connections on.
    pub fn refused_connections(&self) -> Counter {
        self.refused.clone()
    }

    /// The metrics a web config file shows whether its changes are taken on.
    pub fn web_config(&self) -> WebConfigMetrics {
        self.web_config.clone()
    }
}
