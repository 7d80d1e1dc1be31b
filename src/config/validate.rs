//! Checking the configuration as written: every key is checked, and every problem is
//! reported at once, each naming its key and the fix, so that one run shows them all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::checks::{within_bounds, written};
use super::suggest::did_you_mean;
use super::{
    Config, DEFAULT_API_BUDGET_SHARE, DEFAULT_FLOW_OBSERVATIONS_REFRESH, DEFAULT_LISTEN,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, DEFAULT_MAX_DIRECTORY_BYTES,
    DEFAULT_MAX_SERIES_PER_QUERY, DEFAULT_OBSERVATIONS_REFRESH, DEFAULT_QUEUE_NAMES_REFRESH,
    DEFAULT_REPORT_CHUNK_DAYS, DEFAULT_RETRY_DELAY, FLOW_OBSERVATIONS_QUERY,
    MAX_FLOW_OBSERVATIONS_REFRESH, MIN_FLOW_OBSERVATIONS_REFRESH, MIN_OBSERVATIONS_REFRESH,
    OBSERVATIONS_QUERY, ObservationSettings, Settings,
};
use crate::error::{Error, Result};
use crate::genesys::auth::Credentials;
use crate::genesys::breaker::BreakerSettings;
use crate::genesys::client::{
    ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
use crate::genesys::jobs::JobOptions;
use crate::genesys::observation_requests::MAX_QUEUES_PER_REQUEST;
use crate::genesys::queue_list::DEFAULT_MAX_PAGES;
use crate::genesys::retry::RetrySettings;
use crate::shard::Shard;
use crate::web_config::WebConfig;
use genesys_wire::labels::{DEFAULT_MAX_LABEL_VALUE_BYTES, MIN_MAX_LABEL_VALUE_BYTES};
use genesys_wire::{OBSERVATION_METRICS, RATE_LIMIT_PER_MINUTE};

impl Config {
    /// Checks every key, and reports all problems at once, each with its fix.
    pub fn validate(self) -> Result<Settings> {
        let mut problems = Vec::new();
        let listen = self.listen(&mut problems);
        let jobs = JobOptions::default();
        for (key, value, default) in [
            (
                "request_timeout",
                self.request_timeout,
                DEFAULT_REQUEST_TIMEOUT,
            ),
            (
                "connect_timeout",
                self.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
            ),
            ("retry_delay", self.retry_delay, DEFAULT_RETRY_DELAY),
            (
                "queue_names_refresh",
                self.queue_names_refresh,
                DEFAULT_QUEUE_NAMES_REFRESH,
            ),
            (
                "job_poll_interval",
                self.job_poll_interval,
                jobs.poll_interval,
            ),
            ("job_timeout", self.job_timeout, jobs.timeout),
        ] {
            if value == Some(Duration::ZERO) {
                problems.push(format!("{key}: must be longer than zero, such as \"30s\""));
            } else {
                within_bounds(key, value, default, &mut problems);
            }
        }
        let retry = self.retry(&mut problems);
        let breaker = self.breaker(&mut problems);
        if self.report_chunk_days == Some(0) {
            problems.push("report_chunk_days: must be at least 1".into());
        }
        let limits = self.limits(&mut problems);
        let (max_connections, web) = self.web(&mut problems);
        let max_connections_per_client = self
            .max_connections_per_client
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT);
        if !(1..=MAX_CONNECTIONS_LIMIT).contains(&max_connections_per_client) {
            problems.push(format!(
                "max_connections_per_client: {max_connections_per_client} is out of range; use 1 to {MAX_CONNECTIONS_LIMIT} (default {DEFAULT_MAX_CONNECTIONS_PER_CLIENT})"
            ));
        }
        let api_budget_share = self.api_budget_share(&mut problems);
        let observations = self.observations(&mut problems);
        let agents = self.agents(&mut problems);
        let flow_observations = self.flow_observations(&mut problems);
        let telephony = self.telephony(&mut problems);
        let voice_quality = self.voice_quality(&mut problems);
        let shared = ClientSettings {
            request_timeout: self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            max_response_bytes: limits.response_bytes,
            retry,
            breaker,
            // Each org's own, set by `orgs`.
            api_url: String::new(),
            login_url: String::new(),
            credentials: Credentials {
                client_id: String::new(),
                client_secret: SecretString::from(""),
            },
        };
        let orgs = self.orgs(&shared, &mut problems);
        let shard = self.shard().unwrap_or_else(|problem| {
            problems.push(problem);
            Shard::default()
        });

        if !problems.is_empty() {
            return Err(Error::Config(problems.join("\n  ")));
        }
        let job_defaults = JobOptions::default();
        Ok(Settings {
            orgs,
            shard,
            listen,
            retry_delay: self.retry_delay.unwrap_or(DEFAULT_RETRY_DELAY),
            queue_names_refresh: self
                .queue_names_refresh
                .unwrap_or(DEFAULT_QUEUE_NAMES_REFRESH),
            jobs: JobOptions {
                poll_interval: self.job_poll_interval.unwrap_or(job_defaults.poll_interval),
                timeout: self.job_timeout.unwrap_or(job_defaults.timeout),
                // A job's pages add up to one answer, bounded as one.
                max_groups: limits.series,
            },
            report_chunk_days: self.report_chunk_days.unwrap_or(DEFAULT_REPORT_CHUNK_DAYS),
            max_series_per_query: limits.series,
            max_queue_pages: limits.queue_pages,
            max_directory_bytes: limits.directory_bytes,
            max_label_value_bytes: limits.label_value_bytes,
            max_connections,
            max_connections_per_client,
            web,
            api_budget_share,
            observations,
            agents,
            flow_observations,
            telephony,
            voice_quality,
        })
    }

    /// The `[flow_observations]` table checked: its refresh, `None` when disabled (the
    /// default: it needs a permission the other sources do not).
    fn flow_observations(&self, problems: &mut Vec<String>) -> Option<Duration> {
        let table = &self.flow_observations;
        if !table.enabled.unwrap_or(false) {
            return None;
        }
        if let Some(index) = self
            .queries
            .iter()
            .position(|q| q.name == FLOW_OBSERVATIONS_QUERY)
        {
            problems.push(format!(
                "queries[{index}].name: '{FLOW_OBSERVATIONS_QUERY}' is the query label of the flow observations; rename the query, or set enabled = false under [flow_observations]"
            ));
        }
        let refresh = table.refresh.unwrap_or(DEFAULT_FLOW_OBSERVATIONS_REFRESH);
        if !(MIN_FLOW_OBSERVATIONS_REFRESH..=MAX_FLOW_OBSERVATIONS_REFRESH).contains(&refresh) {
            problems.push(format!(
                "flow_observations.refresh: {} is out of range; use {} to {} (default {}): each refresh costs a request per 100 flows",
                written(refresh),
                written(MIN_FLOW_OBSERVATIONS_REFRESH),
                written(MAX_FLOW_OBSERVATIONS_REFRESH),
                written(DEFAULT_FLOW_OBSERVATIONS_REFRESH)
            ));
        }
        Some(refresh)
    }

    /// The `[observations]` table checked; `None` when disabled.
    fn observations(&self, problems: &mut Vec<String>) -> Option<ObservationSettings> {
        let table = &self.observations;
        if !table.enabled.unwrap_or(true) {
            return None;
        }
        if let Some(index) = self
            .queries
            .iter()
            .position(|q| q.name == OBSERVATIONS_QUERY)
        {
            problems.push(format!(
                "queries[{index}].name: '{OBSERVATIONS_QUERY}' is the query label of the queue observations; rename the query, or set enabled = false under [observations]"
            ));
        }
        let refresh = table.refresh.unwrap_or(DEFAULT_OBSERVATIONS_REFRESH);
        if refresh < MIN_OBSERVATIONS_REFRESH || refresh > MAX_OBSERVATIONS_REFRESH {
            problems.push(format!(
                "observations.refresh: {} is out of range; use {} to {} (default {}): each refresh costs a request per queues_per_request queues",
                written(refresh),
                written(MIN_OBSERVATIONS_REFRESH),
                written(MAX_OBSERVATIONS_REFRESH),
                written(DEFAULT_OBSERVATIONS_REFRESH)
            ));
        }
        let metrics: Vec<String> = match &table.metrics {
            Some(metrics) => metrics.clone(),
            None => OBSERVATION_METRICS.iter().map(|m| m.to_string()).collect(),
        };
        if metrics.is_empty() {
            problems.push(
                "observations.metrics: empty; list at least one, such as oWaiting, or set enabled = false".into(),
            );
        }
        for (index, metric) in metrics.iter().enumerate() {
            if !OBSERVATION_METRICS.contains(&metric.as_str()) {
                let did_you_mean = did_you_mean(metric, OBSERVATION_METRICS)
                    .map(|did_you_mean| format!("{did_you_mean} "))
                    .unwrap_or_default();
                problems.push(format!(
                    "observations.metrics: '{metric}' is not a queue observation metric; {did_you_mean}use some of {}",
                    OBSERVATION_METRICS.join(", ")
                ));
            } else if metrics[..index].contains(metric) {
                problems.push(format!(
                    "observations.metrics: '{metric}' is listed twice; list it once"
                ));
            }
        }
        let per_request = table.queues_per_request.unwrap_or(MAX_QUEUES_PER_REQUEST);
        if !(1..=MAX_QUEUES_PER_REQUEST).contains(&per_request) {
            problems.push(format!(
                "observations.queues_per_request: {per_request} is out of range; use 1 to {MAX_QUEUES_PER_REQUEST} (default {MAX_QUEUES_PER_REQUEST})"
            ));
        }
        Some(ObservationSettings {
            refresh,
            metrics,
            queues_per_request: per_request,
        })
    }

    /// This process's shard of the orgs: `shard` of `total_shards`, shard 0 of 1 without
    /// them; checked.
    pub fn shard(&self) -> std::result::Result<Shard, String> {
        Shard::new(self.shard.unwrap_or(0), self.total_shards.unwrap_or(1))
    }

    /// The share of the API's requests a minute the steady state may use, in (0, 1].
    fn api_budget_share(&self, problems: &mut Vec<String>) -> f64 {
        let share = self.api_budget_share.unwrap_or(DEFAULT_API_BUDGET_SHARE);
        if !(share > 0.0 && share <= 1.0) {
            problems.push(format!(
                "api_budget_share: {share} is out of range; give the share of the API's {RATE_LIMIT_PER_MINUTE} requests a minute the exporter may plan to use, above 0 and at most 1 (default {DEFAULT_API_BUDGET_SHARE})"
            ));
        }
        share
    }

    /// The HTTP server's connection cap, and the web config file read and checked.
    fn web(&self, problems: &mut Vec<String>) -> (usize, Option<Arc<WebConfig>>) {
        let max_connections = self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if !(1..=MAX_CONNECTIONS_LIMIT).contains(&max_connections) {
            problems.push(format!(
                "max_connections: {max_connections} is out of range; use 1 to {MAX_CONNECTIONS_LIMIT} (default {DEFAULT_MAX_CONNECTIONS}), and keep it below the open-files limit"
            ));
        }
        let web = self.web_config_file.as_ref().and_then(|path| {
            WebConfig::load(path)
                .map_err(|error| {
                    // Most of its errors start with the path already.
                    let shown = path.display().to_string();
                    let error = match error.starts_with(&shown) {
                        true => error,
                        false => format!("{shown}: {error}"),
                    };
                    problems.push(format!(
                        "web_config_file (--web.config.file) {error}{}",
                        self.relative_paths(Some(
                            "with --web.config.file or GENESYS_EXPORTER_WEB_CONFIG_FILE"
                        ))
                    ))
                })
                .ok()
                .map(Arc::new)
        });
        (max_connections, web)
    }

    fn listen(&self, problems: &mut Vec<String>) -> SocketAddr {
        let default = DEFAULT_LISTEN
            .parse()
            .expect("DEFAULT_LISTEN is an address");
        let Some(text) = &self.listen else {
            return default;
        };
        parse_listen(text).unwrap_or_else(|| {
            problems.push(format!(
                "listen: '{text}' is not an address and port such as {DEFAULT_LISTEN} or :9871"
            ));
            default
        })
    }

    fn retry(&self, problems: &mut Vec<String>) -> RetrySettings {
        let defaults = RetrySettings::default();
        let attempts = self.retry_attempts.unwrap_or(defaults.attempts);
        if !(1..=RetrySettings::MAX_ATTEMPTS).contains(&attempts) {
            problems.push(format!(
                "retry_attempts: {attempts} is out of range; use 1 (no retries) to {} (default {})",
                RetrySettings::MAX_ATTEMPTS,
                defaults.attempts
            ));
        }
        within_bounds(
            "rate_limit_max_wait",
            self.rate_limit_max_wait,
            defaults.rate_limit_max_wait,
            problems,
        );
        RetrySettings {
            attempts,
            rate_limit_max_wait: self
                .rate_limit_max_wait
                .unwrap_or(defaults.rate_limit_max_wait),
            ..defaults
        }
    }

    /// The bounds on what one answer may cost: its bytes, its series, the queue list's pages.
    fn limits(&self, problems: &mut Vec<String>) -> Limits {
        const MIN_RESPONSE_BYTES: u64 = 64 * 1024;
        const MAX_RESPONSE_BYTES: u64 = 1 << 30;
        let response_bytes = self
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        if !(MIN_RESPONSE_BYTES..=MAX_RESPONSE_BYTES).contains(&response_bytes) {
            problems.push(format!(
                "max_response_bytes: {response_bytes} is out of range; use {MIN_RESPONSE_BYTES} (64 KiB) to {MAX_RESPONSE_BYTES} (1 GiB), default {DEFAULT_MAX_RESPONSE_BYTES} (16 MiB)"
            ));
        }
        const MAX_SERIES: u64 = 10_000_000;
        let series = self
            .max_series_per_query
            .unwrap_or(DEFAULT_MAX_SERIES_PER_QUERY);
        if !(1..=MAX_SERIES).contains(&series) {
            problems.push(format!(
                "max_series_per_query: {series} is out of range; use 1 to {MAX_SERIES}, default {DEFAULT_MAX_SERIES_PER_QUERY}"
            ));
        }
        let queue_pages = self.max_queue_pages.unwrap_or(DEFAULT_MAX_PAGES);
        if !(1..=100_000).contains(&queue_pages) {
            problems.push(format!(
                "max_queue_pages: {queue_pages} is out of range; use 1 to 100000 pages of 100 queues, default {DEFAULT_MAX_PAGES}"
            ));
        }
        const MIN_DIRECTORY_BYTES: u64 = 64 * 1024;
        const MAX_DIRECTORY_BYTES: u64 = 1 << 30;
        let directory_bytes = self
            .max_directory_bytes
            .unwrap_or(DEFAULT_MAX_DIRECTORY_BYTES);
        if !(MIN_DIRECTORY_BYTES..=MAX_DIRECTORY_BYTES).contains(&directory_bytes) {
            problems.push(format!(
                "max_directory_bytes: {directory_bytes} is out of range; use {MIN_DIRECTORY_BYTES} (64 KiB) to {MAX_DIRECTORY_BYTES} (1 GiB), default {DEFAULT_MAX_DIRECTORY_BYTES} (32 MiB)"
            ));
        }
        const MAX_LABEL_VALUE: u64 = 1 << 20;
        let label_value_bytes = self
            .max_label_value_bytes
            .unwrap_or(DEFAULT_MAX_LABEL_VALUE_BYTES as u64);
        if !(MIN_MAX_LABEL_VALUE_BYTES as u64..=MAX_LABEL_VALUE).contains(&label_value_bytes) {
            problems.push(format!(
                "max_label_value_bytes: {label_value_bytes} is out of range; use {MIN_MAX_LABEL_VALUE_BYTES} to {MAX_LABEL_VALUE}, default {DEFAULT_MAX_LABEL_VALUE_BYTES}"
            ));
        }
        Limits {
            response_bytes,
            series: usize::try_from(series.min(MAX_SERIES)).unwrap_or(usize::MAX),
            queue_pages,
            directory_bytes,
            label_value_bytes: usize::try_from(label_value_bytes.min(MAX_LABEL_VALUE))
                .unwrap_or(DEFAULT_MAX_LABEL_VALUE_BYTES),
        }
    }

    fn breaker(&self, problems: &mut Vec<String>) -> BreakerSettings {
        let defaults = BreakerSettings::default();
        let failures = self.breaker_failures.unwrap_or(defaults.failures);
        if failures == 0 {
            problems.push(format!(
                "breaker_failures: must be at least 1 (default {})",
                defaults.failures
            ));
        }
        let cool_down = self.breaker_cool_down.unwrap_or(defaults.cool_down);
        if cool_down < BreakerSettings::MIN_COOL_DOWN {
            problems.push(format!(
                "breaker_cool_down: {}s is too short to let Genesys Cloud recover; use at least {}s (default {}s)",
                cool_down.as_secs_f64(),
                BreakerSettings::MIN_COOL_DOWN.as_secs(),
                defaults.cool_down.as_secs()
            ));
        }
        within_bounds(
            "breaker_cool_down",
            self.breaker_cool_down,
            defaults.cool_down,
            problems,
        );
        BreakerSettings {
            failures,
            cool_down,
        }
    }
}

/// The checked bounds of [`Config::limits`].
struct Limits {
    response_bytes: u64,
    series: usize,
    queue_pages: u32,
    directory_bytes: u64,
    label_value_bytes: usize,
}

/// The highest `max_connections`: each connection is a file descriptor, and the hard
/// limit on those is rarely above a million.
const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// The longest `[observations] refresh`: state "now" an hour old is no longer real time.
const MAX_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(3600);

/// A listen address: an IP address and port, or `:PORT` for every IPv4 interface, as Go
/// exporters (node_exporter's `--web.listen-address=:9100`) write it.
fn parse_listen(text: &str) -> Option<SocketAddr> {
    match text.strip_prefix(':') {
        Some(port) => Some(SocketAddr::from(([0, 0, 0, 0], port.parse::<u16>().ok()?))),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::load::tests::{config, problems};
    use crate::config::{DURATION_FLOORS, DURATION_LIMITS};
    use crate::schedule::{QueryKind, Rolling};
    use genesys_wire::catalogue::{NameKind, Source};

    const CREDENTIALS: &str =
        "client_id = \"id\"\nclient_secret = \"secret\"\nregion = \"eu-west-1\"\n";

    #[test]
    fn a_minimal_config_gets_the_default_query() {
        let settings = config(CREDENTIALS).validate().unwrap();
        assert_eq!(
            settings.orgs[0].client.api_url,
            "https://api.mypurecloud.ie"
        );
        assert_eq!(
            settings.orgs[0].client.login_url,
            "https://login.mypurecloud.ie"
        );
        assert_eq!(settings.listen, "0.0.0.0:9871".parse().unwrap());
        let query = &settings.orgs[0].queries[0];
        assert_eq!(query.name, "default");
        let QueryKind::Buckets(schedule) = &query.kind else {
            panic!("a bucket query: {:?}", query.kind);
        };
        assert_eq!(schedule.granularity.to_string(), "PT15M");
        assert_eq!(schedule.settle_delay, Duration::from_secs(90));
        assert_eq!(settings.api_budget_share, 0.5);
        assert_eq!(query.group_by, ["queueId", "mediaType"]);
        assert_eq!(query.metrics.len(), 14);
        for metric in ["oServiceLevel", "nError", "nStateTransitionError"] {
            assert!(query.metrics.contains(&metric.to_string()), "{metric}");
        }
    }

    #[test]
    fn the_shard_keys_choose_the_orgs_this_process_runs() {
        let orgs: String = ["east", "west", "north", "south"]
            .iter()
            .map(|name| {
                format!("[[orgs]]\nname = \"{name}\"\nclient_id = \"i\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n")
            })
            .collect();
        let settings = config(&orgs).validate().unwrap();
        assert_eq!(settings.shard, Shard::default());
        assert_eq!(settings.sharded().orgs.len(), 4);
        // East and west hash to shard 2 of 3, north and south to 0 (see shard.rs).
        let names = |shard: u32| {
            let text = format!("shard = {shard}\ntotal_shards = 3\n{orgs}");
            let settings = config(&text).validate().unwrap().sharded();
            settings
                .orgs
                .iter()
                .map(|o| o.org.name().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(0), ["north", "south"]);
        assert!(names(1).is_empty());
        assert_eq!(names(2), ["east", "west"]);
        // Without [[orgs]], shard 0 runs the one org.
        let unnamed = |shard: u32| {
            let text = format!("shard = {shard}\ntotal_shards = 2\n{CREDENTIALS}");
            config(&text).validate().unwrap().sharded().orgs.len()
        };
        assert_eq!((unnamed(0), unnamed(1)), (1, 0));
    }

    #[test]
    fn a_shard_past_the_total_is_refused_naming_both() {
        let error = problems(&format!("shard = 3\ntotal_shards = 3\n{CREDENTIALS}"));
        assert!(
            error.contains("shard: 3 is not below total_shards 3; shards are numbered 0 to 2"),
            "{error}"
        );
        let error = problems(&format!("shard = 1\n{CREDENTIALS}"));
        assert!(
            error.contains("shard: 1 is not below total_shards 1"),
            "{error}"
        );
        let error = problems(&format!("total_shards = 1001\n{CREDENTIALS}"));
        assert!(
            error.contains("total_shards: 1001 is out of range; use 1 to 1000"),
            "{error}"
        );
    }

    #[test]
    fn api_url_and_login_url_override_the_region() {
        let settings = config(
            "client_id = \"id\"\nclient_secret = \"s\"\napi_url = \"http://127.0.0.1:1/\"\nlogin_url = \"http://127.0.0.1:2\"\n",
        )
        .validate()
        .unwrap();
        assert_eq!(settings.orgs[0].client.api_url, "http://127.0.0.1:1");
        assert_eq!(settings.orgs[0].client.login_url, "http://127.0.0.1:2");
    }

    #[test]
    fn missing_credentials_name_the_keys_and_the_variables() {
        let error = problems("region = \"eu-west-1\"");
        assert!(error.contains("client_id: missing"), "{error}");
        assert!(error.contains("GENESYS_CLIENT_ID"), "{error}");
        assert!(error.contains("client_secret: missing"), "{error}");
    }

    #[test]
    fn an_unknown_region_lists_the_known_ones() {
        let error = problems("client_id = \"a\"\nclient_secret = \"b\"\nregion = \"eu-west-9\"");
        assert!(
            error.contains("region: unknown region 'eu-west-9'"),
            "{error}"
        );
        assert!(error.contains("eu-central-1"), "{error}");
        let error = problems("client_id = \"a\"\nclient_secret = \"b\"\nregion = \"eu-west1\"");
        assert!(
            error.contains(
                "region: unknown region 'eu-west1'; did you mean 'eu-west-1'? use a region name"
            ),
            "{error}"
        );
        let error =
            problems("client_id = \"a\"\nclient_secret = \"b\"\nregion = \"mypurecloud.i\"");
        assert!(error.contains("did you mean 'mypurecloud.ie'?"), "{error}");
    }

    #[test]
    fn misspelt_metrics_and_dimensions_get_the_nearest_name_or_the_catalogue_command() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"q\"\nmetrics = [\"tHandel\", \"oServiceLvl\", \"nBogusCount\"]\ngroup_by = [\"meidaType\", \"colour\"]\n[observations]\nmetrics = [\"oWaitng\"]\n"
        ));
        for expected in [
            "queries[0].metrics: 'tHandel' is not in the Genesys metric catalogue; did you mean 'tHandle'? (genesys-exporter catalogue lists them all)",
            "queries[0].metrics: 'oServiceLvl' is not in the Genesys metric catalogue; did you mean 'oServiceLevel'? (genesys-exporter catalogue lists them all)",
            "queries[0].metrics: 'nBogusCount' is not in the Genesys metric catalogue; genesys-exporter catalogue lists them all",
            "queries[0].group_by: 'meidaType' is not a Genesys groupBy dimension; did you mean 'mediaType'? (genesys-exporter catalogue lists them all)",
            "queries[0].group_by: 'colour' is not a Genesys groupBy dimension; genesys-exporter catalogue lists them all",
            "observations.metrics: 'oWaitng' is not a queue observation metric; did you mean 'oWaiting'? use some of",
        ] {
            assert!(error.contains(expected), "{expected}\nnot in: {error}");
        }
    }

    #[test]
    fn query_problems_are_all_reported_with_their_keys() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"q\"\ngranularity = \"PT7M\"\nmetrics = [\"nOffered\", \"thandle\"]\ngroup_by = [\"queueId\", \"colour\", \"conversationId\"]\n"
        ));
        assert!(error.contains("queries[0].granularity: 'PT7M'"), "{error}");
        assert!(error.contains("queries[0].metrics: 'thandle'"), "{error}");
        assert!(error.contains("did you mean 'tHandle'"), "{error}");
        assert!(error.contains("queries[0].group_by: 'colour'"), "{error}");
        assert!(
            error.contains("queries[0].group_by: 'conversationId' has a value per conversation"),
            "{error}"
        );
        assert!(error.contains("allow_unbounded_labels"), "{error}");
    }

    #[test]
    fn unbounded_labels_can_be_allowed_explicitly() {
        let settings = config(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"q\"\ngroup_by = [\"ani\"]\nallow_unbounded_labels = true\n"
        ))
        .validate()
        .unwrap();
        assert_eq!(settings.orgs[0].queries[0].group_by, ["ani"]);
    }

    #[test]
    fn a_settle_delay_longer_than_the_bucket_is_refused() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"q\"\ngranularity = \"PT5M\"\nsettle_delay = \"10m\"\n"
        ));
        assert!(
            error.contains("queries[0].settle_delay: 600s is longer than the granularity PT5M"),
            "{error}"
        );
    }

    #[test]
    fn query_names_must_be_simple_and_unique() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"a b\"\n[[queries]]\nname = \"x\"\n[[queries]]\nname = \"x\"\n"
        ));
        assert!(error.contains("queries[0].name: 'a b'"), "{error}");
        assert!(
            error.contains("queries[2].name: 'x' is used twice"),
            "{error}"
        );
    }

    #[test]
    fn the_secret_can_come_from_a_file_and_never_shows_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-a-file\n").unwrap();
        let settings = config(&format!(
            "client_id = \"id\"\nregion = \"eu-west-1\"\nclient_secret_file = \"{}\"\n",
            path.display()
        ))
        .validate()
        .unwrap();
        assert_eq!(
            settings.orgs[0]
                .client
                .credentials
                .client_secret
                .expose_secret(),
            "from-a-file"
        );
        assert!(!format!("{settings:?}").contains("from-a-file"));
    }

    #[test]
    fn resilience_settings_have_defaults_and_can_be_set() {
        let settings = config(CREDENTIALS).validate().unwrap();
        let client = &settings.orgs[0].client;
        assert_eq!(client.retry.attempts, 4);
        assert_eq!(client.retry.rate_limit_max_wait, Duration::from_secs(180));
        assert_eq!(client.breaker.failures, 5);
        assert_eq!(client.breaker.cool_down, Duration::from_secs(60));
        // Two 15-minute buckets.
        assert_eq!(
            settings.orgs[0].queries[0].max_age,
            Duration::from_secs(1800)
        );

        let settings = config(&format!(
            "{CREDENTIALS}retry_attempts = 2\nrate_limit_max_wait = \"1m\"\nbreaker_failures = 3\nbreaker_cool_down = \"45s\"\n[[queries]]\nname = \"q\"\ngranularity = \"P1D\"\n[[queries]]\nname = \"r\"\nmax_age = \"1h\"\n"
        ))
        .validate()
        .unwrap();
        let client = &settings.orgs[0].client;
        assert_eq!(client.retry.attempts, 2);
        assert_eq!(client.retry.rate_limit_max_wait, Duration::from_secs(60));
        assert_eq!(client.breaker.failures, 3);
        assert_eq!(client.breaker.cool_down, Duration::from_secs(45));
        // Two days of 23 hours, the shortest a day can be.
        assert_eq!(
            settings.orgs[0].queries[0].max_age,
            Duration::from_secs(2 * 23 * 3600)
        );
        assert_eq!(
            settings.orgs[0].queries[1].max_age,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn resilience_settings_out_of_range_are_refused_with_the_fix() {
        let error = problems(&format!(
            "{CREDENTIALS}retry_attempts = 0\nbreaker_failures = 0\nbreaker_cool_down = \"5s\"\n[[queries]]\nname = \"q\"\nmax_age = \"10m\"\n"
        ));
        assert!(
            error.contains("retry_attempts: 0 is out of range; use 1 (no retries) to 10"),
            "{error}"
        );
        assert!(
            error.contains("breaker_failures: must be at least 1"),
            "{error}"
        );
        assert!(
            error.contains(
                "breaker_cool_down: 5s is too short to let Genesys Cloud recover; use at least 30s"
            ),
            "{error}"
        );
        assert!(
            error.contains("queries[0].max_age: 600s is shorter than one PT15M bucket"),
            "{error}"
        );
    }

    #[test]
    fn resource_limits_have_defaults_and_bounds() {
        let settings = config(CREDENTIALS).validate().unwrap();
        assert_eq!(settings.orgs[0].client.max_response_bytes, 16 * 1024 * 1024);
        assert_eq!(settings.max_series_per_query, 250_000);
        assert_eq!(settings.jobs.max_groups, 250_000);
        assert_eq!(settings.max_queue_pages, 1000);
        assert_eq!(settings.max_directory_bytes, 32 * 1024 * 1024);
        assert_eq!(settings.max_label_value_bytes, 2048);
        let error = problems(&format!(
            "{CREDENTIALS}max_response_bytes = 10\nmax_series_per_query = 0\nmax_queue_pages = 0\nmax_directory_bytes = 10\nmax_label_value_bytes = 3\n"
        ));
        for key in [
            "max_directory_bytes: 10 is out of range",
            "max_label_value_bytes: 3 is out of range",
            "max_response_bytes: 10 is out of range",
            "max_series_per_query: 0 is out of range",
            "max_queue_pages: 0 is out of range",
        ] {
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn every_duration_key_has_an_upper_bound_named_with_the_fix() {
        let huge = u64::MAX >> 1;
        let mut toml = String::from(CREDENTIALS);
        for (key, _) in DURATION_LIMITS.iter().filter(|(k, _)| *k != "max_age") {
            toml.push_str(&format!("{key} = {huge}\n"));
        }
        toml.push_str(&format!("[[queries]]\nname = \"q\"\nmax_age = {huge}\n"));
        let error = problems(&toml);
        for (key, bound) in DURATION_LIMITS {
            let key = match *key {
                "max_age" => "queries[0].max_age".to_owned(),
                key => key.to_owned(),
            };
            let said = format!(
                "{key}: {huge}s is too long; use at most {}",
                written(*bound)
            );
            assert!(error.contains(&said), "{said}\n{error}");
        }
        assert!(
            error.contains(
                "breaker_cool_down: 9223372036854775807s is too long; use at most 1h (default 1m)"
            ),
            "{error}"
        );

        // The bounds themselves are accepted, and written as the parser reads them.
        let mut toml = String::from(CREDENTIALS);
        for (key, bound) in DURATION_LIMITS.iter().filter(|(k, _)| *k != "max_age") {
            toml.push_str(&format!("{key} = \"{}\"\n", written(*bound)));
        }
        toml.push_str("[[queries]]\nname = \"q\"\nmax_age = \"8784h\"\n");
        config(&toml).validate().unwrap();
    }

    #[test]
    fn timeouts_below_their_floor_are_refused_naming_the_floor_and_why() {
        let error = problems(&format!(
            "{CREDENTIALS}connect_timeout = \"1ns\"\nrequest_timeout = \"30ms\"\njob_timeout = \"9s\"\n"
        ));
        for said in [
            "connect_timeout: 1ns is too short; use at least 1s (default 10s): a connection to Genesys Cloud (TCP and TLS) can take a second to set up",
            "request_timeout: 30ms is too short; use at least 1s (default 30s): an answer from Genesys Cloud can take seconds",
            "job_timeout: 9s is too short; use at least 10s (default 10m): an asynchronous job takes seconds to minutes to finish",
        ] {
            assert!(error.contains(said), "{said}\n{error}");
        }
        // The floors themselves are accepted, and each is below its key's upper bound.
        let mut toml = String::from(CREDENTIALS);
        for (key, floor, _) in DURATION_FLOORS {
            toml.push_str(&format!("{key} = \"{}\"\n", written(*floor)));
            let (_, limit) = DURATION_LIMITS.iter().find(|(k, _)| k == key).unwrap();
            assert!(floor < limit, "{key}");
        }
        config(&toml).validate().unwrap();
    }

    #[test]
    fn a_missing_relative_web_config_file_is_named_resolved_with_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesys.toml");
        std::fs::write(
            &path,
            format!("{CREDENTIALS}web_config_file = \"web.yml\"\n"),
        )
        .unwrap();
        let error = Config::load(Some(&path)).unwrap().validate().unwrap_err();
        let dir = dir.path().display();
        let said = format!(
            "web_config_file (--web.config.file) {dir}/web.yml: no such file (relative paths are resolved from the directory of {dir}/genesys.toml; given with --web.config.file or GENESYS_EXPORTER_WEB_CONFIG_FILE, from the working directory)"
        );
        assert!(error.to_string().contains(&said), "{said}\n{error}");
    }

    #[test]
    fn observations_are_on_by_default_and_checked_when_set() {
        let settings = config(CREDENTIALS).validate().unwrap();
        let observations = settings.observations.unwrap();
        assert_eq!(observations.refresh, Duration::from_secs(15));
        assert_eq!(observations.metrics, OBSERVATION_METRICS);
        assert_eq!(observations.queues_per_request, 100);

        let settings = config(&format!(
            "{CREDENTIALS}[observations]\nrefresh = \"1m\"\nmetrics = [\"oWaiting\", \"oLongestWaiting\"]\nqueues_per_request = 20\n"
        ))
        .validate()
        .unwrap();
        assert_eq!(
            settings.observations,
            Some(ObservationSettings {
                refresh: Duration::from_secs(60),
                metrics: vec!["oWaiting".into(), "oLongestWaiting".into()],
                queues_per_request: 20,
            })
        );

        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"observations\"\n[observations]\nrefresh = \"2s\"\nmetrics = [\"owaiting\", \"nOffered\", \"oAlerting\", \"oAlerting\"]\nqueues_per_request = 101\n"
        ));
        for said in [
            "queries[0].name: 'observations' is the query label of the queue observations; rename the query, or set enabled = false under [observations]",
            "observations.refresh: 2s is out of range; use 5s to 1h (default 15s)",
            "observations.metrics: 'owaiting' is not a queue observation metric; did you mean 'oWaiting'? use some of oWaiting, oInteracting,",
            "observations.metrics: 'nOffered' is not a queue observation metric; use some of",
            "observations.metrics: 'oAlerting' is listed twice",
            "observations.queues_per_request: 101 is out of range; use 1 to 100 (default 100)",
        ] {
            assert!(error.contains(said), "{said}\n{error}");
        }
        let error = problems(&format!(
            "{CREDENTIALS}[observations]\nmetrics = []\nqueues_per_request = 0\nrefresh = \"2h\"\n"
        ));
        for said in [
            "observations.metrics: empty",
            "observations.queues_per_request: 0 is out of range",
            "observations.refresh: 2h is out of range",
        ] {
            assert!(error.contains(said), "{said}\n{error}");
        }
        use figment::providers::Format;
        let error = figment::Figment::new()
            .merge(figment::providers::Toml::string(
                "[observations]\nrefersh = \"1m\"\n",
            ))
            .extract::<Config>()
            .unwrap_err();
        assert!(error.to_string().contains("refersh"), "{error}");

        // Disabled: nothing of it is checked, and a query may take the name.
        let settings = config(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"observations\"\n[observations]\nenabled = false\nrefresh = \"1s\"\n"
        ))
        .validate()
        .unwrap();
        assert_eq!(settings.observations, None);
        assert_eq!(settings.orgs[0].queries[0].name, "observations");
    }

    #[test]
    fn a_listen_address_may_be_a_port_alone_as_in_go_exporters() {
        for (written, listen) in [
            (":9871", "0.0.0.0:9871"),
            ("127.0.0.1:9100", "127.0.0.1:9100"),
            ("[::1]:9871", "[::1]:9871"),
        ] {
            assert_eq!(
                parse_listen(written),
                Some(listen.parse().unwrap()),
                "{written}"
            );
        }
        for wrong in [":", ":http", ":65536", "9871", "localhost:9871"] {
            assert_eq!(parse_listen(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn a_bad_listen_address_is_named_with_an_example() {
        let error = problems(&format!("{CREDENTIALS}listen = \"localhost\"\n"));
        assert!(
            error.contains("listen: 'localhost' is not an address and port such as 0.0.0.0:9871"),
            "{error}"
        );
    }

    #[test]
    fn a_rolling_query_reads_its_window_every_refresh_without_a_granularity() {
        let settings = config(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"live\"\nwindow = \"10m\"\nrefresh = \"1m\"\n"
        ))
        .validate()
        .unwrap();
        let query = &settings.orgs[0].queries[0];
        let QueryKind::Rolling(rolling) = query.kind else {
            panic!("a rolling query: {:?}", query.kind);
        };
        assert_eq!(
            rolling,
            Rolling {
                window: Duration::from_secs(600),
                refresh: Duration::from_secs(60),
                settle_delay: Duration::from_secs(90),
            }
        );
        // Three refreshes.
        assert_eq!(query.max_age, Duration::from_secs(180));
        let interval = rolling.latest("2026-08-20T10:16:30Z".parse().unwrap());
        let request = query.request(interval);
        assert_eq!(request.granularity, None);
        assert_eq!(
            request.interval,
            "2026-08-20T10:05:00.000Z/2026-08-20T10:15:00.000Z"
        );
    }

    #[test]
    fn rolling_windows_out_of_range_are_refused_with_the_fix() {
        let mut index = 0;
        let mut query = |keys: &str| {
            index += 1;
            format!("[[queries]]\nname = \"q{index}\"\n{keys}\n")
        };
        let error = problems(&format!(
            "{CREDENTIALS}{}{}{}{}{}{}{}{}",
            query("window = \"10m\"\nrefresh = \"1m\"\ngranularity = \"PT5M\""),
            query("window = \"10m\""),
            query("refresh = \"1m\""),
            query("window = \"90s\"\nrefresh = \"10s\""),
            query("window = \"25h\"\nrefresh = \"2h\""),
            query("window = \"0s\"\nrefresh = \"1.5s\""),
            query("window = \"10m\"\nrefresh = \"1m\"\nmax_age = \"30s\"\nsettle_delay = \"2h\""),
            query("window = \"24h\"\nrefresh = \"30s\"\nmax_age = \"30s\""),
        ));
        for said in [
            "queries[0]: granularity and window/refresh are both set; a query reads either granularity buckets or a rolling window: remove granularity, or window and refresh",
            "queries[1].refresh: missing; a rolling window needs both window and refresh, such as window = \"10m\" and refresh = \"1m\" (or remove window to read granularity buckets)",
            "queries[2].window: missing;",
            "queries[3].window: 90s is not a whole number of minutes",
            "queries[3].refresh: 10s is out of range; use 30s to 1h",
            "queries[4].window: 25h is out of range; use 1m to 24h (for longer spans, a query with granularity = \"P1D\")",
            "queries[4].refresh: 2h is out of range",
            "queries[5].window: 0s is out of range",
            "queries[5].refresh: 1.5s is not a whole number of seconds",
            "queries[6].max_age: 30s is shorter than the refresh, so data would be dropped before the next refresh; make it at least 1m (default three refreshes, 3m)",
            "queries[6].settle_delay: 2h is too long for a rolling window; use at most 1h (default 90s)",
        ] {
            assert!(error.contains(said), "{said}\n{error}");
        }
        // The bounds themselves are fine.
        assert!(!error.contains("queries[7]."), "{error}");
    }

    #[test]
    fn the_api_budget_share_is_a_share_of_the_limit() {
        let settings = config(&format!("{CREDENTIALS}api_budget_share = 1.0\n"))
            .validate()
            .unwrap();
        assert_eq!(settings.api_budget_share, 1.0);
        for bad in ["0.0", "1.5", "-0.5", "nan"] {
            let error = problems(&format!("{CREDENTIALS}api_budget_share = {bad}\n"));
            assert!(
                error.contains("api_budget_share: ")
                    && error.contains(
                        "is out of range; give the share of the API's 300 requests a minute"
                    ),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn a_bad_time_zone_is_named() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"q\"\ntime_zone = \"Mars/Olympus\"\n"
        ));
        assert!(
            error.contains("queries[0].time_zone: 'Mars/Olympus'"),
            "{error}"
        );
    }

    #[test]
    fn flows_and_actions_queries_get_their_own_defaults() {
        let settings = config(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"flows\"\nsource = \"flows\"\n[[queries]]\nname = \"actions_live\"\nsource = \"actions\"\nwindow = \"10m\"\nrefresh = \"1m\"\n[[queries]]\nname = \"q\"\nsource = \"conversations\"\n"
        ))
        .validate()
        .unwrap();
        let [flows, actions, conversations] = &settings.orgs[0].queries[..] else {
            panic!("three queries");
        };
        assert_eq!(flows.source, Source::Flows);
        assert_eq!(
            flows.metrics,
            [
                "nFlow",
                "nFlowOutcome",
                "nFlowOutcomeFailed",
                "tFlow",
                "tFlowDisconnect",
                "tFlowExit",
                "tFlowOutcome"
            ]
        );
        assert_eq!(flows.group_by, ["flowId", "flowType", "flowOutcomeId"]);
        let QueryKind::Buckets(schedule) = &flows.kind else {
            panic!("buckets: {:?}", flows.kind);
        };
        assert_eq!(schedule.granularity.to_string(), "PT15M");
        assert_eq!(actions.source, Source::Actions);
        assert_eq!(actions.metrics, ["tTotalExecution"]);
        assert_eq!(
            actions.group_by,
            ["actionId", "errorType", "responseStatus"]
        );
        assert!(matches!(actions.kind, QueryKind::Rolling(_)));
        assert_eq!(conversations.source, Source::Conversations);
        assert_eq!(conversations.group_by, ["queueId", "mediaType"]);
        // The request is the conversations' shape, for the source's own endpoint.
        let body = serde_json::to_value(flows.request(genesys_wire::time::Interval {
            start: "2026-08-20T10:00:00Z".parse().unwrap(),
            end: "2026-08-20T10:15:00Z".parse().unwrap(),
        }))
        .unwrap();
        assert_eq!(body["groupBy"][2], "flowOutcomeId");
        assert_eq!(body["granularity"], "PT15M");
        // Flow observations are off unless asked for, and refreshed every 30 s.
        assert_eq!(settings.flow_observations, None);
        assert_eq!(
            settings.name_lists(&settings.orgs[0]),
            [
                NameKind::Queue,
                NameKind::Flow,
                NameKind::FlowOutcome,
                NameKind::Action
            ]
        );
    }

    #[test]
    fn a_flows_or_actions_query_names_its_source_in_its_problems() {
        let error = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"f\"\nsource = \"flows\"\nmetrics = [\"nOffered\", \"nFlowOutcomes\"]\ngroup_by = [\"flowID\", \"conversationId\"]\n[[queries]]\nname = \"a\"\nsource = \"actions\"\nmetrics = [\"tHandle\"]\ngroup_by = [\"queueId\", \"correlationId\"]\n[[queries]]\nname = \"t\"\nsource = \"flow\"\n"
        ));
        for expected in [
            "queries[0].metrics: 'nOffered' is not a flows metric; use some of nFlow, nFlowMilestone, nFlowOutcome, nFlowOutcomeFailed, oFlowMilestone, tFlow, tFlowDisconnect, tFlowExit, tFlowOutcome",
            "queries[0].metrics: 'nFlowOutcomes' is not a flows metric; did you mean 'nFlowOutcome'? use some of nFlow,",
            "queries[0].group_by: 'flowID' is not a flows groupBy dimension; did you mean 'flowId'? (genesys-exporter catalogue lists them all)",
            "queries[0].group_by: 'conversationId' has a value per conversation or caller",
            "queries[1].metrics: 'tHandle' is not an actions metric; use some of tTotalExecution",
            "queries[1].group_by: 'queueId' is not an actions groupBy dimension; use some of actionCategory, actionId, actionName, correlationId, errorType, integrationId, integrationName, responseStatus",
            "queries[1].group_by: 'correlationId' has a value per conversation or caller",
            "queries[2].source: 'flow' is not a source; did you mean 'flows'? use one of conversations, flows, actions (default conversations)",
        ] {
            assert!(error.contains(expected), "{expected}\nnot in: {error}");
        }
    }

    #[test]
    fn flow_observations_are_checked_when_enabled() {
        let settings = config(&format!(
            "{CREDENTIALS}[flow_observations]\nenabled = true\n"
        ))
        .validate()
        .unwrap();
        assert_eq!(settings.flow_observations, Some(Duration::from_secs(30)));
        assert_eq!(
            settings.name_lists(&settings.orgs[0]),
            [NameKind::Queue, NameKind::Flow],
            "the flows to observe, without their outcomes"
        );
        let error = problems(&format!(
            "{CREDENTIALS}[flow_observations]\nenabled = true\nrefresh = \"5s\"\n[[queries]]\nname = \"flow_observations\"\n"
        ));
        for expected in [
            "flow_observations.refresh: 5s is out of range; use 10s to 1h (default 30s)",
            "queries[0].name: 'flow_observations' is the query label of the flow observations",
        ] {
            assert!(error.contains(expected), "{expected}\nnot in: {error}");
        }
        // Disabled, the name is free.
        config(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"flow_observations\"\n"
        ))
        .validate()
        .unwrap();
    }
}
