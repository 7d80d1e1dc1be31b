//! What runs: `genesys_exporter_build_info`, whose version label names the build.

use prometheus_client::encoding::EncodeLabelSet;
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
