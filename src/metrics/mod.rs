//! The exporter's own metrics, in one registry that lives as long as the process and is
//! rendered beside the Genesys data at every publish. As in kube-rs's controller-rs, they
//! are grouped by concern, each group registers its own families and is the only code that
//! touches them, and the rest of the crate says what happened through the group's methods
//! (`metrics.poll.failed(query)`, `metrics.api.request(endpoint)`).
//!
//! The client and the circuit breaker count into these groups, so the module sits below
//! [`crate::genesys`] and takes nothing from it but the [`Endpoint`] label.
//!
//! [`Endpoint`]: crate::genesys::wire::Endpoint

mod api;
mod breaker;
mod poll;
mod process;
mod queue_names;
mod server;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::registry::{Metric, Registry};

pub use api::{ApiMetrics, RetryMetrics};
pub use breaker::{BreakerMetrics, BreakerState};
pub use poll::{PollMetrics, PollTimer};
pub use process::ReloadMetrics;
pub use queue_names::QueueNameMetrics;
pub use server::ServerMetrics;

/// Every group, and the registry they are registered in.
pub struct Metrics {
    registry: Registry,
    pub poll: PollMetrics,
    pub api: ApiMetrics,
    pub queue_names: QueueNameMetrics,
    pub retry: RetryMetrics,
    pub breaker: BreakerMetrics,
    pub server: ServerMetrics,
    pub reload: ReloadMetrics,
}

impl Metrics {
    /// Registers every metric, with `genesys_up` at 0 for each of `queries` until its first
    /// successful poll.
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut registry = Registry::default();
        // The registration order is the order in /metrics, which stays as it was.
        let poll = PollMetrics::register(&mut registry, queries);
        let api = ApiMetrics::register(&mut registry);
        let queue_names = QueueNameMetrics::register(&mut registry);
        let retry = RetryMetrics::register(&mut registry);
        let breaker = BreakerMetrics::register(&mut registry);
        process::register(&mut registry);
        let server = ServerMetrics::register(&mut registry);
        let reload = ReloadMetrics::register(&mut registry);
        Metrics {
            registry,
            poll,
            api,
            queue_names,
            retry,
            breaker,
            server,
            reload,
        }
    }

    /// The registry in the OpenMetrics text format, without the `# EOF` line.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        encode_registry(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// The registry in the Prometheus text format 0.0.4.
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode_openmetrics())
    }

    /// The value of `series` (a name and its labels, as the text format writes them), if
    /// it has one: tests read the metrics as a scrape does.
    #[cfg(test)]
    pub(crate) fn sample(&self, series: &str) -> Option<f64> {
        self.encode_text()
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }
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
    use crate::genesys::wire::Endpoint;

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
    fn build_info_carries_the_crate_version() {
        let text = Metrics::new([]).encode_text();
        let expected = format!(
            "genesys_exporter_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&expected), "{text}");
    }
}
