//! The exporter's own metrics: one registry that lives as long as the process, grouped in a
//! struct that registers itself. They are rendered beside the Genesys data at every publish.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabel {
    pub query: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub endpoint: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    pub up: Family<QueryLabel, Gauge>,
    pub last_success: Family<QueryLabel, FloatGauge>,
    pub interval_start: Family<QueryLabel, FloatGauge>,
    pub interval_end: Family<QueryLabel, FloatGauge>,
    pub poll_duration: Family<QueryLabel, FloatGauge>,
    pub polls_failed: Family<QueryLabel, Counter>,
    pub buckets_skipped: Family<QueryLabel, Counter>,
    pub series: Family<QueryLabel, Gauge>,
    pub api_requests: Family<EndpointLabel, Counter>,
    pub api_failures: Family<FailureLabels, Counter>,
    pub token_refreshes: Counter,
    pub queue_names_up: Gauge,
    pub queue_names: Gauge,
    pub api_retries: Family<FailureLabels, Counter>,
    pub rate_limit_remaining: Family<EndpointLabel, Gauge>,
    pub breaker_state: Gauge,
    pub breaker_opens: Counter,
}

/// The circuit breaker's state, as `genesys_circuit_breaker_state` shows it and the
/// publisher follows it for `genesys_up`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go out.
    #[default]
    Closed,
    /// One probe is out; everything else waits for its answer.
    HalfOpen,
    /// No requests until the cool-down ends.
    Open,
}

impl BreakerState {
    /// The value of `genesys_circuit_breaker_state`.
    pub fn gauge_value(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

impl Metrics {
    /// Registers every metric, with `genesys_up` at 0 for each query until its first
    /// successful poll.
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            up: Family::default(),
            last_success: Family::default(),
            interval_start: Family::default(),
            interval_end: Family::default(),
            poll_duration: Family::default(),
            polls_failed: Family::default(),
            buckets_skipped: Family::default(),
            series: Family::default(),
            api_requests: Family::default(),
            api_failures: Family::default(),
            token_refreshes: Counter::default(),
            queue_names_up: Gauge::default(),
            queue_names: Gauge::default(),
            api_retries: Family::default(),
            rate_limit_remaining: Family::default(),
            breaker_state: Gauge::default(),
            breaker_opens: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "genesys_up",
            "1 if the query's last poll succeeded, 0 if it failed or has not run yet",
            metrics.up.clone(),
        );
        registry.register(
            "genesys_last_success_timestamp_seconds",
            "When the query last published data, as a Unix time",
            metrics.last_success.clone(),
        );
        registry.register(
            "genesys_interval_start_timestamp_seconds",
            "Start of the interval whose data is published, as a Unix time",
            metrics.interval_start.clone(),
        );
        registry.register(
            "genesys_interval_end_timestamp_seconds",
            "End (exclusive) of the interval whose data is published, as a Unix time",
            metrics.interval_end.clone(),
        );
        registry.register(
            "genesys_poll_duration_seconds",
            "How long the query's last poll took, from request to published snapshot",
            metrics.poll_duration.clone(),
        );
        registry.register(
            "genesys_poll_failures",
            "Polls that failed and left the previous data in place",
            metrics.polls_failed.clone(),
        );
        registry.register(
            "genesys_skipped_buckets",
            "Buckets that completed while polls were failing and were never published",
            metrics.buckets_skipped.clone(),
        );
        registry.register(
            "genesys_series",
            "Series the query's last successful poll published",
            metrics.series.clone(),
        );
        registry.register(
            "genesys_api_requests",
            "HTTP requests sent to Genesys Cloud, by endpoint",
            metrics.api_requests.clone(),
        );
        registry.register(
            "genesys_api_failures",
            "Genesys Cloud requests that failed, by endpoint and reason",
            metrics.api_failures.clone(),
        );
        registry.register(
            "genesys_token_refreshes",
            "OAuth access tokens obtained",
            metrics.token_refreshes.clone(),
        );
        registry.register(
            "genesys_queue_names_up",
            "1 if the last refresh of queue names succeeded, 0 if it failed (a 403 means the OAuth client lacks routing:queue:view)",
            metrics.queue_names_up.clone(),
        );
        registry.register(
            "genesys_queue_names",
            "Queue names known, for the queue label",
            metrics.queue_names.clone(),
        );
        registry.register(
            "genesys_api_retries",
            "Genesys Cloud requests repeated after a 429, a 5xx, a timeout or no answer, by endpoint and the reason of the failure before",
            metrics.api_retries.clone(),
        );
        registry.register(
            "genesys_api_rate_limit_remaining",
            "Requests left in the current rate-limit window, from the last answer's inin-ratelimit-allowed minus inin-ratelimit-count",
            metrics.rate_limit_remaining.clone(),
        );
        registry.register(
            "genesys_circuit_breaker_state",
            "0 closed (requests go out), 1 half-open (one probe is out), 2 open (no requests until the cool-down ends)",
            metrics.breaker_state.clone(),
        );
        registry.register(
            "genesys_circuit_breaker_opens",
            "Times the circuit breaker opened",
            metrics.breaker_opens.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "genesys_exporter_build_info",
            "Always 1; the version label tells which build runs",
            build_info,
        );
        for query in queries {
            metrics.up.get_or_create(&QueryLabel::new(query)).set(0);
        }
        Metrics {
            registry,
            ..metrics
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
}

impl QueryLabel {
    pub fn new(query: &str) -> QueryLabel {
        QueryLabel {
            query: query.to_owned(),
        }
    }
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

    #[test]
    fn text_format_names_counters_with_their_total_suffix() {
        let metrics = Metrics::new(["default"]);
        metrics
            .api_requests
            .get_or_create(&EndpointLabel {
                endpoint: "aggregates",
            })
            .inc();
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
