//! What runs: `genesys_exporter_build_info`, whose labels name the build (and which
//! `--version` prints), how the last reload of the configuration went, and this process's
//! shard and the orgs it runs.

use std::sync::atomic::AtomicU64;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::shard::Shard;

/// What this binary was built from: the labels of `genesys_exporter_build_info`, and
/// what `--version` prints. As prometheus/common's version collector has them (version,
/// revision, branch, goversion, goos, goarch), with the Rust compiler's version for Go's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Build {
    pub version: &'static str,
    /// The git commit, when built from a git checkout; `unknown` otherwise.
    pub revision: &'static str,
    /// The git branch (`HEAD` when detached), or `unknown`.
    pub branch: &'static str,
    pub rustversion: &'static str,
    /// The target's operating system and architecture, as Rust names them (`linux`,
    /// `x86_64`).
    pub os: &'static str,
    pub arch: &'static str,
}

/// This binary's build; `build.rs` finds the revision, the branch and the Rust version.
pub const BUILD: Build = Build {
    version: env!("CARGO_PKG_VERSION"),
    revision: env!("EXPORTER_BUILD_REVISION"),
    branch: env!("EXPORTER_BUILD_BRANCH"),
    rustversion: env!("EXPORTER_BUILD_RUST_VERSION"),
    os: std::env::consts::OS,
    arch: std::env::consts::ARCH,
};

impl Build {
    /// What `--version` prints, in the layout of node_exporter's and every exporter built
    /// with prometheus/common: the program, version, branch and revision on one line, then
    /// the toolchain and the platform.
    pub fn version_text(&self) -> String {
        format!(
            "genesys-exporter, version {} (branch: {}, revision: {})\n  rust version:     {}\n  platform:         {}/{}\n",
            self.version, self.branch, self.revision, self.rustversion, self.os, self.arch
        )
    }
}

/// Registers `genesys_exporter_build_info`, which never changes after.
pub(super) fn register(registry: &mut Registry) {
    let build_info: Family<Build, Gauge> = registered(
        registry,
        "genesys_exporter_build_info",
        "A metric with a constant '1' value labeled by version, revision, branch, rustversion, os and arch from which genesys-exporter was built",
    );
    build_info.get_or_create(&BUILD).set(1);
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

/// The labels of `genesys_exporter_shard_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard: String,
    total_shards: String,
}

/// Which shard this process is (`genesys_exporter_shard_info`), and how many orgs it runs
/// (`genesys_exporter_orgs`): shard 0 of 1 and no org until the runtime says.
#[derive(Clone)]
pub struct ShardMetrics {
    info: Family<ShardLabels, Gauge>,
    orgs: Gauge,
}

impl ShardMetrics {
    pub(super) fn register(registry: &mut Registry) -> ShardMetrics {
        let metrics = ShardMetrics {
            info: registered(
                registry,
                "genesys_exporter_shard_info",
                "A metric with a constant '1' value labeled by this process's shard and the number of shards the orgs are split into (--shard, --total-shards)",
            ),
            orgs: registered(
                registry,
                "genesys_exporter_orgs",
                "The orgs this process runs: those of its shard",
            ),
        };
        metrics.set_shard(Shard::default());
        metrics
    }

    /// This process is `shard`.
    pub fn set_shard(&self, shard: Shard) {
        self.info.clear();
        let labels = ShardLabels {
            shard: shard.index.to_string(),
            total_shards: shard.total.to_string(),
        };
        self.info.get_or_create(&labels).set(1);
    }

    /// It runs `orgs` orgs.
    pub fn set_orgs(&self, orgs: usize) {
        self.orgs.set(i64::try_from(orgs).unwrap_or(i64::MAX));
    }
}
