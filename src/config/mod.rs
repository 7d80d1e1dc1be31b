//! Configuration: the keys as written ([`Config`]), loaded from a TOML file and the
//! environment by [`Config::load`] (`load.rs`), then checked in one place by
//! [`Config::validate`] (`validate.rs`) into the [`Settings`] the rest of the program
//! runs on.
//!
//! The defaults of the Genesys client's settings live with the types that own them
//! (`RetrySettings::default()`, `BreakerSettings::default()`, `JobOptions::default()`,
//! the client's timeouts); config reads them from there, and holds only the defaults of
//! its own keys.

mod agents;
mod checks;
mod load;
mod orgs;
mod query;
mod suggest;
mod telephony;
mod validate;
mod voice_quality;

pub use checks::{DURATION_FLOORS, DURATION_LIMITS, written};
pub use load::{MAX_CONFIG_BYTES, MAX_SECRET_BYTES, SECRET_KEYS, SHORT_ENV_KEYS};
pub use query::{ROLLING_MAX_SETTLE_DELAY, ROLLING_REFRESH_LIMITS, ROLLING_WINDOW_LIMITS};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::genesys::client::ClientSettings;
use crate::genesys::jobs::JobOptions;
use crate::org::Org;
use crate::schedule::QueryKind;
use crate::shard::Shard;
use crate::web_config::WebConfig;
use genesys_wire::AggregationQuery;
use genesys_wire::catalogue::{NameKind, Source};
use genesys_wire::time::Interval;

/// Where `/metrics` is served unless `listen` or `--listen` says otherwise. The one place
/// the default port is written: validation, messages and `--help` all name this.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9871";
/// The most connections the server holds at once: far more than the few scrapers an
/// exporter has, and half of the usual 1024 file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The most connections one client address may hold: far more than Prometheus servers
/// (one each per target) or a NAT in front of a few of them need, and an eighth of the
/// default `max_connections`, so that one address cannot hold the server.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;
pub const DEFAULT_GRANULARITY: &str = "PT15M";
pub const DEFAULT_GROUP_BY: &[&str] = &["queueId", "mediaType"];
pub const DEFAULT_METRICS: &[&str] = &[
    "nOffered",
    "nConnected",
    "tAnswered",
    "tAbandon",
    "tHandle",
    "tTalk",
    "tHeld",
    "tAcw",
    "tWait",
    "nOverSla",
    "nTransferred",
    "oServiceLevel",
    // Conversations that hit an error (edge, trunk, media, configuration) and requests to
    // change a conversation's state that failed: GenesysConversationErrorsHigh reads them.
    "nError",
    "nStateTransitionError",
];
/// A flows query's defaults: entries, outcomes and their failures, and the times in flow,
/// in one request. The entry metrics come back in groups without `flowOutcomeId`, the
/// outcome metrics in groups per outcome.
pub const FLOW_DEFAULT_METRICS: &[&str] = &[
    "nFlow",
    "nFlowOutcome",
    "nFlowOutcomeFailed",
    "tFlow",
    "tFlowDisconnect",
    "tFlowExit",
    "tFlowOutcome",
];
pub const FLOW_DEFAULT_GROUP_BY: &[&str] = &["flowId", "flowType", "flowOutcomeId"];
/// A data actions query's defaults: its one metric, by action and how each execution
/// ended.
pub const ACTION_DEFAULT_METRICS: &[&str] = &["tTotalExecution"];
pub const ACTION_DEFAULT_GROUP_BY: &[&str] = &["actionId", "errorType", "responseStatus"];

/// The metrics of a query of `source` that names none.
pub fn default_metrics(source: Source) -> &'static [&'static str] {
    match source {
        Source::Conversations => DEFAULT_METRICS,
        Source::Flows => FLOW_DEFAULT_METRICS,
        Source::Actions => ACTION_DEFAULT_METRICS,
    }
}

/// The groupBy of a query of `source` that names none.
pub fn default_group_by(source: Source) -> &'static [&'static str] {
    match source {
        Source::Conversations => DEFAULT_GROUP_BY,
        Source::Flows => FLOW_DEFAULT_GROUP_BY,
        Source::Actions => ACTION_DEFAULT_GROUP_BY,
    }
}

pub const DEFAULT_SETTLE_DELAY: Duration = Duration::from_secs(90);
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(30);
pub const DEFAULT_QUEUE_NAMES_REFRESH: Duration = Duration::from_secs(3600);
pub const DEFAULT_REPORT_CHUNK_DAYS: u32 = 7;
/// The most series one query's answer may publish (`max_series_per_query`). The default
/// query makes 38 gauges per queue and media type, so this is some 6,500 queue and media
/// type pairs, beyond the largest orgs (and past what one Prometheus target should
/// carry); an answer with more fails the poll, and the previous data stays.
pub const DEFAULT_MAX_SERIES_PER_QUERY: u64 = 250_000;
/// The most bytes an org's directory may hold: its names and IDs of every kind (queues,
/// presences, flows, flow outcomes, data actions) together, each counted with 96 bytes of
/// overhead (`max_directory_bytes`). 32 MiB holds
/// 100,000 queues with 200-byte names; a read past it is stopped and the names known kept.
pub const DEFAULT_MAX_DIRECTORY_BYTES: u64 = 32 * 1024 * 1024;
/// A query's data is dropped when it is this many buckets older than its last success.
pub const DEFAULT_MAX_AGE_BUCKETS: u32 = 2;
/// A rolling query's data is dropped when it is this many refreshes older than its last
/// success: one failed refresh and its retry do not blank a live dashboard, and data
/// minutes old is not served as live.
pub const DEFAULT_MAX_AGE_REFRESHES: u32 = 3;
/// The share of the API's requests a minute the exporter may plan to use
/// (`api_budget_share`); the rest is left for retries and for other users of the OAuth
/// client.
pub const DEFAULT_API_BUDGET_SHARE: f64 = 0.5;
/// How often the queues are observed (`[observations] refresh`), and the shortest allowed:
/// each refresh costs a request per `queues_per_request` queues.
pub const DEFAULT_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(15);
pub const MIN_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(5);
/// The `query` label of the observation gauges; no aggregates query may take it.
pub const OBSERVATIONS_QUERY: &str = "observations";
/// How often the flows are observed (`[flow_observations] refresh`), and the bounds:
/// each refresh costs a request per 100 flows.
pub const DEFAULT_FLOW_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(30);
pub const MIN_FLOW_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(10);
pub const MAX_FLOW_OBSERVATIONS_REFRESH: Duration = Duration::from_secs(3600);
/// The `query` label of the flow observation gauges; no aggregates query may take it.
pub const FLOW_OBSERVATIONS_QUERY: &str = "flow_observations";

/// How often the agents are counted (`[agents] refresh`), and the shortest allowed: each
/// refresh costs a request per breakdown value.
pub const DEFAULT_AGENTS_REFRESH: Duration = Duration::from_secs(30);
pub const MIN_AGENTS_REFRESH: Duration = Duration::from_secs(10);
/// The `query` label of the agent-state gauges; no aggregates query may take it.
pub const AGENTS_QUERY: &str = "agents";
/// The `query` label of the voice quality source; no aggregates query may take it.
pub const VOICE_QUALITY_QUERY: &str = "voice_quality";

/// How often the Edges and trunks are read (`[telephony] refresh`), and the bounds: each
/// refresh costs 4 requests per 100 Edges and trunks.
pub const DEFAULT_TELEPHONY_REFRESH: Duration = Duration::from_secs(60);
pub const MIN_TELEPHONY_REFRESH: Duration = Duration::from_secs(15);
pub const MAX_TELEPHONY_REFRESH: Duration = Duration::from_secs(3600);
/// The `query` label of the telephony gauges; no aggregates query may take it.
pub const TELEPHONY_QUERY: &str = "telephony";

/// The configuration as written, before it is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Resolved as every path in the file is: see [`Config::file`].
    #[serde(default, deserialize_with = "load::relative_to_file")]
    pub client_secret_file: Option<PathBuf>,
    pub region: Option<String>,
    pub api_url: Option<String>,
    pub login_url: Option<String>,
    pub listen: Option<String>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub request_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub retry_delay: Option<Duration>,
    #[serde(default)]
    pub queries: Vec<QueryConfig>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub queue_names_refresh: Option<Duration>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub job_poll_interval: Option<Duration>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub job_timeout: Option<Duration>,
    pub report_chunk_days: Option<u32>,
    pub retry_attempts: Option<u32>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub rate_limit_max_wait: Option<Duration>,
    pub breaker_failures: Option<u32>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub breaker_cool_down: Option<Duration>,
    pub max_response_bytes: Option<u64>,
    pub max_series_per_query: Option<u64>,
    pub max_queue_pages: Option<u32>,
    pub max_directory_bytes: Option<u64>,
    pub max_label_value_bytes: Option<u64>,
    /// The most HTTP connections served at once; more are closed as soon as accepted.
    pub max_connections: Option<usize>,
    /// The most of them one client address may hold.
    pub max_connections_per_client: Option<usize>,
    /// A Prometheus exporter-toolkit web config file: TLS, basic auth, headers.
    #[serde(default, deserialize_with = "load::relative_to_file")]
    pub web_config_file: Option<PathBuf>,
    /// The share of the API's 300 requests a minute the steady state may use.
    pub api_budget_share: Option<f64>,
    #[serde(default)]
    pub observations: ObservationsConfig,
    #[serde(default)]
    pub agents: AgentsConfig,
    #[serde(default)]
    pub flow_observations: FlowObservationsConfig,
    #[serde(default)]
    pub telephony: TelephonyConfig,
    #[serde(default)]
    pub voice_quality: VoiceQualityConfig,
    /// The orgs, each with its own OAuth client; without any, the keys above name the one
    /// org.
    #[serde(default)]
    pub orgs: Vec<OrgConfig>,
    /// This process's shard of the orgs (`--shard`), below `total_shards`.
    pub shard: Option<u32>,
    /// How many processes share the orgs (`--total-shards`).
    pub total_shards: Option<u32>,
    /// The configuration file read, if any. A relative path in it is resolved from its
    /// directory when it is read, as Prometheus does (a path from the environment or a
    /// flag, from the working directory); a reload reads it, and resolves them, again.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// One `[[orgs]]` table as written: an org, its OAuth client, where it is, and the queries
/// it runs beside the shared `[[queries]]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    pub name: String,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Resolved as every path in the file is: see [`Config::file`].
    #[serde(default, deserialize_with = "load::relative_to_file")]
    pub client_secret_file: Option<PathBuf>,
    pub region: Option<String>,
    pub api_url: Option<String>,
    pub login_url: Option<String>,
    #[serde(default)]
    pub queries: Vec<QueryConfig>,
}

/// The `[observations]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationsConfig {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
    pub metrics: Option<Vec<String>>,
    pub queues_per_request: Option<usize>,
}

/// The `[agents]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
    /// Breakdowns: `org`, `division`, `team`, `queue`.
    pub by: Option<Vec<String>>,
    /// The team IDs a `team` breakdown counts, one request each.
    pub teams: Option<Vec<String>>,
    /// The queue IDs a `queue` breakdown counts, one request each.
    pub queues: Option<Vec<String>>,
}

/// The `[flow_observations]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowObservationsConfig {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
}

/// The `[telephony]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelephonyConfig {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
}

/// The `[voice_quality]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceQualityConfig {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub settle_delay: Option<Duration>,
    pub page_size: Option<u32>,
    pub max_pages_per_refresh: Option<u32>,
    pub mos_threshold: Option<f64>,
    /// Only for the API budget's arithmetic.
    pub expected_calls_per_hour: Option<u64>,
}

/// One `[[queries]]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    pub name: String,
    /// `conversations` (the default), `flows` or `actions`: which aggregates query.
    pub source: Option<String>,
    pub granularity: Option<String>,
    /// A rolling window's length, instead of `granularity` (with `refresh`).
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub window: Option<Duration>,
    /// How often a rolling window is read.
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub refresh: Option<Duration>,
    pub group_by: Option<Vec<String>>,
    pub metrics: Option<Vec<String>>,
    pub filter: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub settle_delay: Option<Duration>,
    pub time_zone: Option<String>,
    #[serde(default)]
    pub allow_unbounded_labels: bool,
    #[serde(default, deserialize_with = "load::optional_duration")]
    pub max_age: Option<Duration>,
}

/// The checked configuration that the rest of the program runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// At least one: the unnamed org of a configuration without `[[orgs]]`, or one per
    /// table; after [`Settings::sharded`], only those of this process's shard (maybe none).
    pub orgs: Vec<OrgSettings>,
    /// Which of the orgs this process runs; fixed from start-up on.
    pub shard: Shard,
    pub listen: SocketAddr,
    pub retry_delay: Duration,
    pub queue_names_refresh: Duration,
    pub jobs: JobOptions,
    /// The longest interval one report request covers.
    pub report_chunk_days: u32,
    /// The most series one query's answer may publish.
    pub max_series_per_query: usize,
    /// The most pages of the queue list one refresh reads.
    pub max_queue_pages: u32,
    /// The most bytes one org's queue and presence names may hold together.
    pub max_directory_bytes: u64,
    /// The longest label value taken from the API, in bytes.
    pub max_label_value_bytes: usize,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// The web config file, checked, when one is given.
    pub web: Option<Arc<WebConfig>>,
    /// The share of the API's requests a minute the steady state may use, in (0, 1].
    pub api_budget_share: f64,
    /// The queue observations, unless `[observations] enabled = false`.
    pub observations: Option<ObservationSettings>,
    /// The agent states, when `[agents] enabled = true`.
    pub agents: Option<AgentSettings>,
    /// The flow observations' refresh, when `[flow_observations] enabled = true`.
    pub flow_observations: Option<Duration>,
    /// The Edges' and trunks' refresh, when `[telephony] enabled = true`.
    pub telephony: Option<Duration>,
    /// The voice quality, when `[voice_quality] enabled = true`.
    pub voice_quality: Option<VoiceQualitySettings>,
}

impl Settings {
    /// The settings of this process's shard: without the orgs other shards run.
    pub fn sharded(mut self) -> Settings {
        let shard = self.shard;
        self.orgs.retain(|org| shard.runs(&org.org));
        self
    }

    /// The lists of names `org`'s directory reads (besides the presences): the queue list
    /// for the queue observations, the agent states' divisions and queries grouped by queue; the flows for a flows
    /// query or the flow observations; the flow outcomes for a flows query; the data
    /// actions for an actions query; the Edges for a query grouped by Edge; the queues and
    /// the Edges for the voice quality's `queue` and `edge` labels. None: no directory task.
    pub fn name_lists(&self, org: &OrgSettings) -> Vec<NameKind> {
        let of = |source: Source| org.queries.iter().any(|q| q.source == source);
        let by = |dimension: &str| {
            org.queries
                .iter()
                .any(|q| q.group_by.iter().any(|d| d == dimension))
        };
        let by_queue = by("queueId");
        [
            (
                NameKind::Queue,
                self.observations.is_some()
                    || self.agents.is_some()
                    || self.voice_quality.is_some()
                    || by_queue,
            ),
            (
                NameKind::Flow,
                of(Source::Flows) || self.flow_observations.is_some(),
            ),
            (NameKind::FlowOutcome, of(Source::Flows)),
            (NameKind::Action, of(Source::Actions)),
            (NameKind::Edge, by("edgeId") || self.voice_quality.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, wanted)| wanted.then_some(kind))
        .collect()
    }
}

/// One org, checked: its OAuth client and the queries it runs (the shared ones first).
#[derive(Debug, Clone)]
pub struct OrgSettings {
    pub org: Org,
    pub client: ClientSettings,
    pub queries: Vec<Query>,
}

/// The checked `[observations]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationSettings {
    /// How often every queue is observed; the data is dropped 3 refreshes after the last
    /// success.
    pub refresh: Duration,
    pub metrics: Vec<String>,
    /// The most queue IDs one request names.
    pub queues_per_request: usize,
}

pub use agents::{AgentSettings, Breakdown, MAX_AGENT_DIVISIONS};
pub use voice_quality::{
    DEFAULT_VOICE_QUALITY_REFRESH, DEFAULT_VOICE_QUALITY_SETTLE_DELAY, VoiceQualitySettings,
};

/// A checked query: what to ask the API and when.
#[derive(Debug, Clone)]
pub struct Query {
    pub name: String,
    /// Which aggregates query it is.
    pub source: Source,
    /// Buckets or a rolling window, and their timing.
    pub kind: QueryKind,
    pub time_zone_name: String,
    pub group_by: Vec<String>,
    pub metrics: Vec<String>,
    pub filter: Option<serde_json::Value>,
    /// How long after its last successful poll the query's data is still served.
    pub max_age: Duration,
}

impl Query {
    /// The API request for `interval`: in buckets of the query's granularity, or for a
    /// rolling window without `granularity`, which the API then takes as the whole
    /// interval, answering one data entry per group for the window.
    pub fn request(&self, interval: Interval) -> AggregationQuery {
        let granularity = match &self.kind {
            QueryKind::Buckets(schedule) => Some(schedule.granularity.to_string()),
            QueryKind::Rolling(_) => None,
        };
        AggregationQuery {
            interval: interval.to_string(),
            granularity,
            time_zone: Some(self.time_zone_name.clone()),
            group_by: self.group_by.clone(),
            filter: self.filter.clone(),
            metrics: self.metrics.clone(),
        }
    }
}
