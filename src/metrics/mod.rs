//! The exporter's own metrics, in one registry that lives as long as the process and is
//! rendered beside the Genesys data at every publish. As in kube-rs's controller-rs, they
//! are grouped by concern, each group registers its own families and is the only code that
//! touches them, and the rest of the crate says what happened through the group's methods
//! (`metrics.poll.failed(query)`, `metrics.api.request(endpoint)`).
//!
//! The client and the circuit breaker count into these groups, so the module sits below
//! [`crate::genesys`] and takes nothing from it but the [`Endpoint`] label.
//!
//! Several orgs share one registry, and so one `/metrics` with each family once: each org
//! has a view of it ([`Metrics::for_org`]) whose org-scoped groups (poll, api, retry,
//! queue names, breaker) put the org's label first on every series they write, and none for
//! the unnamed org of a configuration without `[[orgs]]`, whose series stay as they were.
//! The process-wide groups (server, reload, build info, shard) never have an org label.
//!
//! [`Endpoint`]: genesys_wire::Endpoint

mod api;
mod breaker;
mod limits;
mod poll;
mod process;
mod process_resources;
mod queue_names;
mod server;
mod tasks;
mod voice;

use std::sync::Arc;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::registry::{Metric, Registry};

use crate::org::Org;

pub use api::{ApiMetrics, RetryMetrics};
pub use breaker::{BreakerMetrics, BreakerState};
pub use limits::{LimitMetrics, OBSERVATION_DROP_REASONS};
pub use poll::PollMetrics;
pub use process::{BUILD, Build, ReloadMetrics, ShardMetrics};
pub use queue_names::QueueNameMetrics;
pub use server::ServerMetrics;
pub use tasks::{DIRECTORY, TASKS, TaskMetrics};
pub use voice::{
    CallQuality, MAX_VOICE_LABEL_SETS, MOS_BUCKETS, PACKET_LOSS_BUCKETS, Place, R_FACTOR_BUCKETS,
    VoiceMetrics,
};

/// Every group, and the registry they are registered in: one org's view of them. Cheap to
/// clone; every view of one registry shares its families.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// The `process_*` metrics, read whenever they are encoded: apart from `registry`,
    /// which is rendered once per publish, since they are read at each scrape.
    process: Arc<Registry>,
    org: Org,
    pub poll: PollMetrics,
    pub api: ApiMetrics,
    pub queue_names: QueueNameMetrics,
    pub retry: RetryMetrics,
    pub breaker: BreakerMetrics,
    pub server: ServerMetrics,
    pub reload: ReloadMetrics,
    pub shard: ShardMetrics,
    pub tasks: TaskMetrics,
    pub limits: LimitMetrics,
    pub voice: VoiceMetrics,
}

impl Metrics {
    /// Registers every metric and starts the unnamed org (a configuration without
    /// `[[orgs]]`), with `genesys_up` at 0 for each of `queries` until its first successful
    /// poll; the view is the unnamed org's.
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a str>) -> Metrics {
        let metrics = Metrics::empty();
        metrics.start(queries);
        metrics
    }

    /// Registers every metric, without any org's series: for a configuration with
    /// `[[orgs]]`, whose orgs each start with [`Metrics::add_org`]. The view is the unnamed
    /// org's, for the process-wide groups and for rendering.
    pub fn empty() -> Metrics {
        let mut registry = Registry::default();
        // The registration order is the order in /metrics, which stays as it was.
        let poll = PollMetrics::register(&mut registry);
        let api = ApiMetrics::register(&mut registry);
        let queue_names = QueueNameMetrics::register(&mut registry);
        let retry = RetryMetrics::register(&mut registry);
        let breaker = BreakerMetrics::register(&mut registry);
        process::register(&mut registry);
        let server = ServerMetrics::register(&mut registry);
        let reload = ReloadMetrics::register(&mut registry);
        let shard = ShardMetrics::register(&mut registry);
        let tasks = TaskMetrics::register(&mut registry);
        let limits = LimitMetrics::register(&mut registry);
        let voice = VoiceMetrics::register(&mut registry);
        let mut process = Registry::default();
        process_resources::register(&mut process);
        Metrics {
            registry: Arc::new(registry),
            process: Arc::new(process),
            org: Org::unnamed(),
            poll,
            api,
            queue_names,
            retry,
            breaker,
            server,
            reload,
            shard,
            tasks,
            limits,
            voice,
        }
    }

    /// The view of `org`: the same registry and families, its org-scoped series labelled
    /// with `org`. Starts nothing; see [`Metrics::add_org`].
    pub fn for_org(&self, org: &Org) -> Metrics {
        Metrics {
            registry: self.registry.clone(),
            process: self.process.clone(),
            org: org.clone(),
            poll: self.poll.for_org(org),
            api: self.api.for_org(org),
            queue_names: self.queue_names.for_org(org),
            retry: self.retry.for_org(org),
            breaker: self.breaker.for_org(org),
            server: self.server.clone(),
            reload: self.reload.clone(),
            shard: self.shard.clone(),
            tasks: self.tasks.for_org(org),
            limits: self.limits.for_org(org),
            voice: self.voice.for_org(org),
        }
    }

    /// The view of `org`, started with `queries` (see [`Metrics::start`]).
    pub fn add_org<'a>(&self, org: &Org, queries: impl IntoIterator<Item = &'a str>) -> Metrics {
        let metrics = self.for_org(org);
        metrics.start(queries);
        metrics
    }

    /// Starts this view's org's series: every counter at 0 for each label combination
    /// known in advance (endpoints, failure and retry reasons), so that `rate()` and
    /// `increase()` see the first one; the queue-name and breaker gauges at 0; and
    /// `genesys_up` at 0 for each of `queries` until its first successful poll.
    pub fn start<'a>(&self, queries: impl IntoIterator<Item = &'a str>) {
        for query in queries {
            self.poll.add(query);
        }
        self.api.start();
        self.queue_names.start();
        self.retry.start();
        self.breaker.start();
        self.tasks.start();
        self.limits.start();
    }

    /// Removes every series of this view's org, which a reload removed: every query's, and
    /// every endpoint's. The process-wide series stay.
    pub fn forget_org(&self) {
        self.poll.forget_org();
        self.api.forget_org();
        self.queue_names.forget_org();
        self.retry.forget_org();
        self.breaker.forget_org();
        self.tasks.forget_org();
        self.limits.forget_org();
        self.voice.forget_org();
    }

    /// The org of this view.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// The registry in the OpenMetrics text format, without the `# EOF` line nor the
    /// process metrics.
    pub fn encode_openmetrics(&self) -> String {
        encode_openmetrics(&self.registry)
    }

    /// The registry in the Prometheus text format 0.0.4, without the process metrics.
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode_openmetrics())
    }

    /// The `process_*` metrics as they are now, in OpenMetrics.
    pub fn encode_process_openmetrics(&self) -> String {
        encode_openmetrics(&self.process)
    }

    /// The `process_*` metrics as they are now, in the text format 0.0.4.
    pub fn encode_process_text(&self) -> String {
        openmetrics_to_text(&self.encode_process_openmetrics())
    }

    /// The value of `series` (a name and its labels, as the text format writes them), if
    /// it has one: tests read the metrics as a scrape does.
    #[cfg(test)]
    pub(crate) fn sample(&self, series: &str) -> Option<f64> {
        (self.encode_text() + &self.encode_process_text())
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }
}

fn encode_openmetrics(registry: &Registry) -> String {
    let mut out = String::new();
    encode_registry(&mut out, registry).expect("writing to a String cannot fail");
    out
}

/// A new metric, registered as `name` with `help`. Groups build their families with it
/// field by field, so that a family's registration order is its field's order.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// prometheus-client writes only OpenMetrics. The formats differ, for what this registry
/// holds, in one place: OpenMetrics names a counter family without `_total` in `# HELP`
/// and `# TYPE` while its samples carry it, and the 0.0.4 format wants the names equal.
fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        let comment = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match comment {
            Some((prefix, rest)) => {
                let name = rest.split(' ').next().unwrap_or_default();
                text.push_str(prefix);
                text.push_str(name);
                if counters.contains(&name) {
                    text.push_str("_total");
                }
                text.push_str(&rest[name.len()..]);
            }
            None if line.starts_with("# UNIT ") || line == "# EOF" => continue,
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesys_wire::Endpoint;

    #[test]
    fn text_format_names_counters_with_their_total_suffix() {
        let metrics = Metrics::new(["default"]);
        metrics.api.request(Endpoint::Aggregates);
        let text = metrics.encode_text();
        assert!(text.contains("# TYPE genesys_api_requests_total counter\n"));
        assert!(text.contains("# HELP genesys_api_requests_total HTTP requests"));
        assert!(text.contains("genesys_api_requests_total{endpoint=\"aggregates\"} 1\n"));
        assert!(text.contains("# TYPE genesys_up gauge\n"));
        assert!(text.contains("genesys_up{query=\"default\"} 0\n"));
        assert!(!text.contains("# EOF"));

        let openmetrics = metrics.encode_openmetrics();
        assert!(openmetrics.contains("# TYPE genesys_api_requests counter\n"));
    }

    #[test]
    fn build_info_carries_the_version_revision_and_toolchain() {
        let text = Metrics::new([]).encode_text();
        let line = text
            .lines()
            .find(|line| line.starts_with("genesys_exporter_build_info{"))
            .unwrap();
        let expected = format!(
            "genesys_exporter_build_info{{version=\"{}\",revision=\"{}\",branch=\"{}\",rustversion=\"{}\",os=\"{}\",arch=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            BUILD.revision,
            BUILD.branch,
            BUILD.rustversion,
            std::env::consts::OS,
            std::env::consts::ARCH,
        );
        assert_eq!(line, expected);
    }

    #[test]
    fn the_shard_info_is_shard_0_of_1_until_set_and_then_only_the_set_one() {
        let metrics = Metrics::empty();
        let text = metrics.encode_text();
        assert!(text.contains("genesys_exporter_shard_info{shard=\"0\",total_shards=\"1\"} 1\n"));
        assert!(text.contains("genesys_exporter_orgs 0\n"));
        metrics
            .for_org(&Org::named("east"))
            .shard
            .set_shard(crate::shard::Shard::new(2, 3).unwrap());
        metrics.shard.set_orgs(4);
        let text = metrics.encode_text();
        let info: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("genesys_exporter_shard_info{"))
            .collect();
        assert_eq!(
            info,
            ["genesys_exporter_shard_info{shard=\"2\",total_shards=\"3\"} 1"]
        );
        assert!(text.contains("genesys_exporter_orgs 4\n"));
    }

    #[test]
    fn each_org_view_labels_its_series_with_its_org_first() {
        let metrics = Metrics::empty();
        let east = metrics.add_org(&Org::named("east"), ["q"]);
        let west = metrics.add_org(&Org::named("west"), ["q"]);
        east.poll.up("q", true);
        west.api.request(Endpoint::Aggregates);
        west.breaker.state(BreakerState::Open);
        let text = metrics.encode_text();
        assert!(
            text.contains("genesys_up{org=\"east\",query=\"q\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("genesys_up{org=\"west\",query=\"q\"} 0\n"),
            "{text}"
        );
        assert!(!text.contains("genesys_up{query"), "no unnamed org: {text}");
        assert!(
            text.contains("genesys_api_requests_total{org=\"west\",endpoint=\"aggregates\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "genesys_api_failures_total{org=\"east\",endpoint=\"token\",reason=\"oauth\"} 0\n"
            ),
            "counters start at 0 for each org: {text}"
        );
        assert!(
            text.contains("genesys_circuit_breaker_state{org=\"west\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("genesys_circuit_breaker_state{org=\"east\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("genesys_token_refreshes_total{org=\"east\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("genesys_queue_names_up{org=\"east\"} 0\n"),
            "{text}"
        );
        // Process-wide series never have an org.
        assert!(
            text.contains("genesys_exporter_config_last_reload_successful 1\n"),
            "{text}"
        );
        assert_eq!(east.org(), &Org::named("east"));
    }

    #[test]
    fn the_unnamed_org_has_no_org_label() {
        let metrics = Metrics::new(["q"]);
        metrics.api.token_refreshed();
        metrics.api.budget(12.0);
        metrics.queue_names.refreshed(3);
        let text = metrics.encode_text();
        for line in [
            "genesys_up{query=\"q\"} 0\n",
            "genesys_poller_panics_total{query=\"q\"} 0\n",
            "genesys_token_refreshes_total 1\n",
            "genesys_api_budget_requests_per_minute 12.0\n",
            "genesys_queue_names_up 1\n",
            "genesys_queue_names 3\n",
            "genesys_circuit_breaker_state 0\n",
            "genesys_circuit_breaker_opens_total 0\n",
            "genesys_api_retries_total{endpoint=\"aggregates\",reason=\"timeout\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        assert!(!text.contains("org="), "{text}");
    }

    #[test]
    fn forgetting_an_org_removes_its_series_only() {
        let metrics = Metrics::new(["q"]);
        let east = metrics.add_org(&Org::named("east"), ["q"]);
        let west = metrics.add_org(&Org::named("west"), ["q"]);
        for view in [&metrics, &east, &west] {
            view.poll.failed("q");
            view.poll
                .rolling_window("r", std::time::Duration::from_secs(60));
            view.api.budget(1.0);
            view.api.token_refreshed();
            view.retry.rate_limit_remaining(Endpoint::Aggregates, 10);
            view.breaker.opened();
            view.queue_names.refreshed(1);
        }
        let before = metrics.encode_text();
        east.forget_org();
        let after = metrics.encode_text();
        assert!(!after.contains("org=\"east\""), "{after}");
        let lines = |text: &str, org: &str| -> Vec<String> {
            text.lines()
                .filter(|line| !line.starts_with('#') && !line.contains("org=\"east\""))
                .filter(|line| org.is_empty() || line.contains(org))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(lines(&after, ""), lines(&before, ""));
        assert!(after.contains("genesys_up{org=\"west\",query=\"q\"} 0\n"));
        assert!(after.contains("genesys_query_window_seconds{query=\"r\"} 60.0\n"));
        assert!(after.contains("genesys_circuit_breaker_opens_total{org=\"west\"} 1\n"));

        // It can come back, its counters from 0.
        let east = metrics.add_org(&Org::named("east"), ["q"]);
        let text = metrics.encode_text();
        assert!(text.contains("genesys_poll_failures_total{org=\"east\",query=\"q\"} 0\n"));
        assert!(!text.contains("genesys_query_window_seconds{org=\"east\""));
        drop(east);
    }
}
