//! What runs: `genesys_exporter_build_info`, whose version label names the build, and
//! how the last reload of the configuration went.

use std::sync::atomic::AtomicU64;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Registers `genesys_exporter_build_info`, which never changes after.
pub(super) fn register(registry: &mut Registry) {
    let build_info: Family<BuildLabels, Gauge> = registered(
        registry,
        "genesys_exporter_build_info",
        "Always 1; the version label tells which build runs",
    );
    build_info
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
}

/// Whether the last reload of the configuration succeeded, and when one last did; as
/// Prometheus has them, both are set at start-up (1, and the start time), which counts as
/// the first successful load.
#[derive(Clone)]
pub struct ReloadMetrics {
    successful: Gauge,
    success_at: Gauge<f64, AtomicU64>,
    panics: Counter,
}

impl ReloadMetrics {
    pub(super) fn register(registry: &mut Registry) -> ReloadMetrics {
        let metrics = ReloadMetrics {
            successful: registered(
                registry,
                "genesys_exporter_config_last_reload_successful",
                "1 if the last reload of the configuration succeeded (or none was asked for), 0 if it failed and the previous configuration still runs",
            ),
            success_at: registered(
                registry,
                "genesys_exporter_config_last_reload_success_timestamp_seconds",
                "When the configuration was last loaded successfully, at start-up or by a reload, as a Unix time",
            ),
            panics: registered(
                registry,
                "genesys_exporter_config_reload_panics",
                "Times a reload of the configuration panicked (a bug); it was answered as failed, and the next one runs as usual",
            ),
        };
        metrics.succeeded(Timestamp::now());
        metrics
    }

    /// The configuration was loaded and applied at `at`.
    pub fn succeeded(&self, at: Timestamp) {
        self.successful.set(1);
        self.success_at.set(at.as_millisecond() as f64 / 1000.0);
    }

    /// A reload failed; the previous configuration still runs.
    pub fn failed(&self) {
        self.successful.set(0);
    }

    /// A reload panicked, and failed.
    pub fn panicked(&self) {
        self.panics.inc();
        self.failed();
    }
}
