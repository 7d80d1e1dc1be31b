//! Genesys Cloud's wire format: every request and response body the exporter sends or
//! reads, as serde types, with the paths they travel on and the [`Endpoint`] names the
//! counters use. A leaf: the exporter and the simulator (`genesys-sim`) both build on it, and
//! it depends on neither.
//!
//! Every response field is optional on the wire, so almost every field here has a default:
//! a missing field, or one written `null`, means "nothing to report", never a decoding
//! error. The exceptions are what a number cannot be placed without: a data entry's
//! `interval` and a metric entry's `metric`. A response is also refused, as not answering the query, when it names a
//! metric that is not in the catalogue or holds a number no statistic can have (a negative
//! count or time, a ratio above 1). `groups.rs` reads an aggregates answer group by
//! group, refused on the same grounds, for the poller.
//!
//! Beside the wire types: the metric [`catalogue`] and groupBy dimensions, the [`region`]
//! URLs, and the [`time`] types both sides share (the injected clock, the `start/end`
//! interval).

pub mod catalogue;
pub mod details;
/// The length cap on label values taken from the API (`max_label_value_bytes`).
pub mod labels;
pub mod region;
pub mod telephony;
pub mod time;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::metric_kind;

mod groups;

pub use groups::{
    GroupRef, GroupSink, GroupsRead, IntervalDataRef, MetricEntryRef, ReadError, SinkFull,
    read_groups,
};

/// Reads a response field's `null` as its absence, the field's default: the API may write
/// either where it has nothing to say. (An `Option` field reads `null` as `None` itself.)
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// [`null_as_default`] for a map, whose `null` values are read as absent keys too: a group
/// whose `queueId` is `null` is a group without a `queueId`.
fn null_entries_as_absent<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    let map: BTreeMap<K, Option<V>> = null_as_default(deserializer)?;
    Ok(map
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect())
}

/// Requests a minute one OAuth client may send, Genesys Cloud's default; every endpoint
/// but the token's counts against it.
pub const RATE_LIMIT_PER_MINUTE: u32 = 300;

/// The API endpoints the exporter calls; the `endpoint` label of the request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Aggregates,
    Jobs,
    Queues,
    Observations,
    Presences,
    AgentStatusCounts,
    FlowAggregates,
    FlowObservations,
    Flows,
    FlowOutcomes,
    ActionAggregates,
    Actions,
    ConversationDetails,
    Edges,
    EdgeMetrics,
    Trunks,
    TrunkMetrics,
}

impl Endpoint {
    /// Every endpoint, for the counters that start at 0 for each.
    pub const ALL: [Endpoint; 18] = [
        Endpoint::Token,
        Endpoint::Aggregates,
        Endpoint::Jobs,
        Endpoint::Queues,
        Endpoint::Observations,
        Endpoint::Presences,
        Endpoint::AgentStatusCounts,
        Endpoint::FlowAggregates,
        Endpoint::FlowObservations,
        Endpoint::Flows,
        Endpoint::FlowOutcomes,
        Endpoint::ActionAggregates,
        Endpoint::Actions,
        Endpoint::ConversationDetails,
        Endpoint::Edges,
        Endpoint::EdgeMetrics,
        Endpoint::Trunks,
        Endpoint::TrunkMetrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Aggregates => "aggregates",
            Endpoint::Jobs => "jobs",
            Endpoint::Queues => "queues",
            Endpoint::Observations => "observations",
            Endpoint::Presences => "presences",
            Endpoint::AgentStatusCounts => "agent_status_counts",
            Endpoint::FlowAggregates => "flow_aggregates",
            Endpoint::FlowObservations => "flow_observations",
            Endpoint::Flows => "flows",
            Endpoint::FlowOutcomes => "flow_outcomes",
            Endpoint::ActionAggregates => "action_aggregates",
            Endpoint::Actions => "actions",
            Endpoint::ConversationDetails => "conversation_details",
            Endpoint::Edges => "edges",
            Endpoint::EdgeMetrics => "edge_metrics",
            Endpoint::Trunks => "trunks",
            Endpoint::TrunkMetrics => "trunk_metrics",
        }
    }

    /// The permission an OAuth client's role needs to call the endpoint.
    pub fn permission(self) -> &'static str {
        match self {
            Endpoint::Queues => "routing:queue:view",
            Endpoint::Observations => "analytics:queueObservation:view",
            Endpoint::Presences => "presence:presenceDefinition:view",
            Endpoint::AgentStatusCounts => "analytics:agentState:view",
            Endpoint::FlowAggregates => "analytics:flowAggregate:view",
            Endpoint::FlowObservations => "analytics:flowObservation:view",
            Endpoint::Flows => "architect:flow:view",
            Endpoint::FlowOutcomes => "architect:flowOutcome:view",
            // Or bridge:actions:view, which the API takes as well.
            Endpoint::ActionAggregates | Endpoint::Actions => "integrations:action:view",
            Endpoint::ConversationDetails => "analytics:conversationDetail:view",
            // The one permission of every telephony provider endpoint, writes included.
            Endpoint::Edges | Endpoint::EdgeMetrics | Endpoint::Trunks | Endpoint::TrunkMetrics => {
                "telephony:plugin:all"
            }
            Endpoint::Token | Endpoint::Aggregates | Endpoint::Jobs => {
                "analytics:conversationAggregate:view"
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error body every Genesys Cloud API endpoint answers with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub code: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
}

// --- OAuth

pub const TOKEN_PATH: &str = "/oauth/token";

/// The 200 answer of `POST /oauth/token`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub token_type: String,
    /// Lifetime in seconds; 0 when absent, which the token cache treats as unknown.
    #[serde(default, deserialize_with = "null_as_default")]
    pub expires_in: u64,
}

/// Never prints the token.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The error answer of `POST /oauth/token`, e.g. `{"error": "invalid_client", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

// --- Conversation aggregates

/// The endpoint the exporter polls.
pub const QUERY_PATH: &str = "/api/v2/analytics/conversations/aggregates/query";

/// The asynchronous form of the same query, for results too large to answer at once:
/// `POST` the query here, `GET {JOBS_PATH}/{jobId}` until it is fulfilled, then
/// `GET {JOBS_PATH}/{jobId}/results?cursor=...` page by page.
pub const JOBS_PATH: &str = "/api/v2/analytics/conversations/aggregates/jobs";

/// Body of `POST /api/v2/analytics/conversations/aggregates/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationQuery {
    /// ISO-8601 `start/end`.
    pub interval: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Passed through as the user wrote it; the API validates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<AggregateGroup>,
}

/// The answer to submitting a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSubmitted {
    pub job_id: String,
}

/// The state of a submitted job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub state: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Queued,
    Pending,
    Fulfilled,
    Failed,
    Cancelled,
    Expired,
    /// A state this crate does not know (the API may add one): not an error in itself,
    /// the job is waited for as a pending one, up to its timeout.
    #[serde(other)]
    Unknown,
}

/// One page of a fulfilled job's results; `cursor` is absent on the last page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResultsPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<AggregateGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One combination of groupBy values. A group may lack some of the requested keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateGroup {
    #[serde(default, deserialize_with = "null_entries_as_absent")]
    pub group: BTreeMap<String, String>,
    /// One entry per granularity bucket that had data; empty buckets are left out.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<IntervalData>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalData {
    /// ISO-8601 `start/end` of the bucket, in UTC.
    pub interval: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: Vec<MetricEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireMetricEntry")]
pub struct MetricEntry {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    #[serde(default)]
    pub stats: Stats,
}

/// A metric entry as read, before it is checked.
#[derive(Deserialize)]
struct WireMetricEntry {
    metric: String,
    #[serde(default)]
    qualifier: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    stats: Stats,
}

impl TryFrom<WireMetricEntry> for MetricEntry {
    type Error = String;

    fn try_from(wire: WireMetricEntry) -> Result<MetricEntry, String> {
        check_entry(&wire.metric, &wire.stats)?;
        Ok(MetricEntry {
            metric: wire.metric,
            qualifier: wire.qualifier,
            stats: wire.stats,
        })
    }
}

/// Whether a metric entry answers the query: a catalogue metric, with statistics in range.
fn check_entry(metric: &str, stats: &Stats) -> Result<(), String> {
    if metric_kind(metric).is_none() {
        return Err(format!(
            "unknown metric '{metric}', not in the Genesys metric catalogue"
        ));
    }
    stats
        .check()
        .map_err(|problem| format!("{metric}: {problem}"))
}

/// The statistics of one metric in one bucket. Timers are in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_negative: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_positive: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculated_metric_value: Option<f64>,
}

impl Stats {
    /// Every statistic is a count, a time or a ratio: none is negative, no ratio is above 1.
    /// (`calculatedMetricValue` is left alone: it is not exported and its range is not
    /// documented.)
    fn check(&self) -> Result<(), String> {
        let non_negative = [
            ("max", self.max),
            ("min", self.min),
            ("count", self.count),
            ("countNegative", self.count_negative),
            ("countPositive", self.count_positive),
            ("sum", self.sum),
            ("current", self.current),
            ("numerator", self.numerator),
            ("denominator", self.denominator),
            ("p95", self.p95),
            ("p99", self.p99),
        ];
        for (name, value) in non_negative {
            if let Some(value) = value
                && !(value.is_finite() && value >= 0.0)
            {
                return Err(format!("{name} {value} is out of range (negative)"));
            }
        }
        for (name, value) in [("ratio", self.ratio), ("target", self.target)] {
            if let Some(value) = value
                && !(0.0..=1.0).contains(&value)
            {
                return Err(format!("{name} {value} is out of range (0 to 1)"));
            }
        }
        Ok(())
    }
}

// --- Flow and data action aggregates: the conversations' query shape
// (`AggregationQuery`, answered as `AggregateResponse`), on paths of their own, without
// jobs.

pub const FLOW_QUERY_PATH: &str = "/api/v2/analytics/flows/aggregates/query";
pub const ACTION_QUERY_PATH: &str = "/api/v2/analytics/actions/aggregates/query";

// --- Routing queues

pub const QUEUES_PATH: &str = "/api/v2/routing/queues";

/// One page of queues. Unlike the aggregates query, this endpoint is paged: follow
/// `pageNumber` up to `pageCount`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuePage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub entities: Vec<Queue>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_number: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_size: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    /// Absent or null reads as empty: the list reader leaves such a queue out rather than
    /// failing the whole page.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<Division>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Division {
    /// Empty when the API leaves it out: such a division is not counted by.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

// --- Queue observations (real time)

/// The real-time state of queues. Not paged; the exporter asks for at most
/// `queues_per_request` queues at once.
pub const OBSERVATIONS_PATH: &str = "/api/v2/analytics/queues/observations/query";

/// Every observation metric, in the order docs/metrics.md lists them.
pub const OBSERVATION_METRICS: [&str; 11] = [
    "oWaiting",
    "oInteracting",
    "oAlerting",
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oActiveUsers",
    "oMemberUsers",
    "oUserRoutingStatuses",
    "oUserPresences",
    "oLongestWaiting",
    "oLongestInteracting",
];

/// Body of `POST /api/v2/analytics/queues/observations/query`: `filter` is the same shape
/// as the aggregates query's (`{"type": "or", "predicates": [{"dimension": "queueId",
/// "value": "<id>"}, ...]}`), `metrics` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationQuery {
    pub filter: serde_json::Value,
    pub metrics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail_metrics: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationResponse {
    /// System presence (`ON_QUEUE`, `BREAK`, ...) → the org presence definition IDs that
    /// map to it; `oUserPresences` rows are qualified by those IDs.
    #[serde(default, deserialize_with = "null_entries_as_absent")]
    pub system_to_organization_mappings: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<ObservationGroup>,
}

/// One group: `{queueId, mediaType}` for the conversation metrics, `{queueId}` alone for the
/// users metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservationGroup {
    #[serde(default, deserialize_with = "null_entries_as_absent")]
    pub group: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<ObservationEntry>,
}

/// One metric (and qualifier: a routing status, or an org presence ID) of one group.
/// `stats.count` is the number; for oLongestWaiting and oLongestInteracting,
/// `stats.calculatedMetricValue` is the epoch millisecond at which the oldest conversation
/// started waiting (interacting). Refused when read if its metric is not an observation
/// metric; a negative statistic is read, and dropped with its row by the exposition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "WireObservationEntry")]
pub struct ObservationEntry {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    #[serde(default)]
    pub stats: ObservationStats,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// An observation entry as read, before it is checked.
#[derive(Deserialize)]
struct WireObservationEntry {
    metric: String,
    #[serde(default)]
    qualifier: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    stats: ObservationStats,
    #[serde(default, deserialize_with = "null_as_default")]
    truncated: bool,
}

impl TryFrom<WireObservationEntry> for ObservationEntry {
    type Error = String;

    fn try_from(wire: WireObservationEntry) -> Result<ObservationEntry, String> {
        let metric = wire.metric;
        if !OBSERVATION_METRICS.contains(&metric.as_str()) {
            return Err(format!(
                "unknown metric '{metric}', not a queue observation metric"
            ));
        }
        let stats = wire.stats;
        for (name, value) in [
            ("count", stats.count),
            ("calculatedMetricValue", stats.calculated_metric_value),
        ] {
            // A negative one is left to the exposition, which drops that row alone and
            // counts it: one implausible row must not cost the whole observation.
            if let Some(value) = value
                && !value.is_finite()
            {
                return Err(format!("{metric}: {name} {value} is out of range"));
            }
        }
        Ok(ObservationEntry {
            metric,
            qualifier: wire.qualifier,
            stats,
            truncated: wire.truncated,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculated_metric_value: Option<f64>,
}

// --- Flow observations (real time)

/// The conversations in flows now. Not paged, no groupBy: the filter names the flows
/// (`flowId` predicates, at most [`MAX_FLOWS_PER_REQUEST`]), `metrics` is `["oFlow"]`.
/// The request body is [`ObservationQuery`]'s shape.
pub const FLOW_OBSERVATIONS_PATH: &str = "/api/v2/analytics/flows/observations/query";

/// The most flow IDs one flow observation request names: Genesys documents no limit, and
/// its other observation queries take 100.
pub const MAX_FLOWS_PER_REQUEST: usize = 100;

/// The flow observations' one metric.
pub const FLOW_OBSERVATION_METRIC: &str = "oFlow";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowObservationResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<FlowObservationGroup>,
}

/// One group: its keys are the filtered dimensions (`flowId`, and `mediaType` when
/// filtered), any of which may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowObservationGroup {
    #[serde(default, deserialize_with = "null_entries_as_absent")]
    pub group: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<FlowObservationEntry>,
}

/// One metric of a group; only `oFlow` is documented, and others are left alone by the
/// exposition rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowObservationEntry {
    #[serde(default, deserialize_with = "null_as_default")]
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub stats: ObservationStats,
}

// --- Telephony: Edges and trunks

/// `GET` with `pageNumber`, `pageSize`; a [`Listing`] of Edges (a [`NamedEntity`] to the
/// directory, which reads their names).
pub const EDGES_PATH: &str = "/api/v2/telephony/providers/edges";
/// `GET` with `edgeIds` (comma-separated, at most [`MAX_EDGE_IDS`]); a bare JSON array.
pub const EDGE_METRICS_PATH: &str = "/api/v2/telephony/providers/edges/metrics";
/// The most Edge IDs one metrics request names.
pub const MAX_EDGE_IDS: usize = 100;
/// `GET` with `pageNumber`, `pageSize` (filters `edge.id`, `trunkBase.id`); a [`Listing`].
pub const TRUNKS_PATH: &str = "/api/v2/telephony/providers/edges/trunks";
/// `GET` with `trunkIds` (comma-separated, at most [`MAX_TRUNK_IDS`]); a bare JSON array.
pub const TRUNK_METRICS_PATH: &str = "/api/v2/telephony/providers/edges/trunks/metrics";
/// The most trunk IDs one metrics request names.
pub const MAX_TRUNK_IDS: usize = 100;

// --- Flows, flow outcomes and data actions by name

/// `GET` with `pageNumber`, `pageSize` and `type` (repeated, lowercase); answered as a
/// [`Listing`] of [`FlowEntity`].
pub const FLOWS_PATH: &str = "/api/v2/flows";
/// `GET` with `pageNumber`, `pageSize`; a [`Listing`] of [`NamedEntity`].
pub const FLOW_OUTCOMES_PATH: &str = "/api/v2/flows/outcomes";
/// `GET` with `pageNumber`, `pageSize` (or `ids`, at most [`MAX_ACTION_IDS`]); a
/// [`Listing`] of [`NamedEntity`].
pub const ACTIONS_PATH: &str = "/api/v2/integrations/actions";
/// The most action IDs one `ids=` request names.
pub const MAX_ACTION_IDS: usize = 50;

/// One page of a paged list: follow `pageNumber` up to `pageCount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    #[serde(
        default = "Vec::new",
        deserialize_with = "null_as_default",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub entities: Vec<T>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_number: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_size: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub page_count: u32,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            entities: Vec::new(),
            page_number: 0,
            page_size: 0,
            total: 0,
            page_count: 0,
        }
    }
}

/// A flow outcome or a data action: its ID and name (the rest is not read). Each may be
/// absent or null (read as empty): one entity without an ID is left out by the reader,
/// rather than failing its whole list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedEntity {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// A flow: its ID, name and type (`INBOUNDCALL`, ...; any value is taken), each read as
/// [`NamedEntity`]'s are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowEntity {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default", rename = "type")]
    pub kind: String,
}

// --- Presence definitions

/// The org's presence definitions (not paged).
pub const PRESENCES_PATH: &str = "/api/v2/presence/definitions";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PresenceDefinitions {
    #[serde(default, deserialize_with = "null_as_default")]
    pub total: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub entities: Vec<PresenceDefinition>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinition {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `System` or `User`.
    #[serde(default, deserialize_with = "null_as_default", rename = "type")]
    pub kind: String,
    /// `Available`, `OnQueue`, `Break`, ... (unlike the mapping keys' `ON_QUEUE`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub system_presence: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deactivated: bool,
}

// --- Agent states (real time)

/// How many agents are in each routing status, presence, segment and out-of-office
/// state now, each agent counted once (unlike the queue observations, which count an
/// agent in every queue of theirs). Not paged; one request per breakdown value.
pub const AGENT_STATUS_COUNTS_PATH: &str = "/api/v2/analytics/agents/status/counts";

/// The `groupBy` query parameter's values, sent as repeated keys
/// (`?groupBy=presence&groupBy=routingStatus`); without any, the API counts by
/// `segmentType` alone. Each picks one array of the answer.
pub const AGENT_STATUS_GROUP_BY: [&str; 4] =
    ["segmentType", "presence", "routingStatus", "isOutOfOffice"];

/// The largest count an agent-state row is read as: no org has ten million agents. A
/// larger one is read as this (saturating), not refused.
pub const MAX_AGENT_COUNT: u64 = 10_000_000;

/// Body of `POST /api/v2/analytics/agents/status/counts`: which users to count. (The
/// `sessionFilter` is not used.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStateCountsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<AgentStateFilter>,
}

/// `{"type": "or", "predicates": [{"dimension": "divisionId", "value": "<id>"}]}`, with
/// optional `clauses` of the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStateFilter {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<AgentStatePredicate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clauses: Vec<AgentStateClause>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStateClause {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub predicates: Vec<AgentStatePredicate>,
}

/// One user dimension (`divisionId`, `teamId`, `queueId`, ...) and its value, always a
/// string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatePredicate {
    pub dimension: String,
    pub value: String,
}

impl AgentStateFilter {
    /// The users whose `dimension` is `value`.
    pub fn one(dimension: &str, value: &str) -> AgentStateFilter {
        AgentStateFilter {
            kind: "or".into(),
            predicates: vec![AgentStatePredicate {
                dimension: dimension.into(),
                value: value.into(),
            }],
            clauses: Vec::new(),
        }
    }
}

/// The answer: one array per `groupBy` asked for, each absent when not asked for (or when
/// the API has nothing to say). Enum values the exporter does not know are kept as
/// written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStateCountsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_counts: Option<Vec<SegmentTypeCount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_counts: Option<Vec<PresenceCount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_status_counts: Option<Vec<RoutingStatusCount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_out_of_office_counts: Option<Vec<OutOfOfficeCount>>,
}

/// Sessions in a segment type (`interact`, `wrapup`, `alert`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentTypeCount {
    #[serde(default, deserialize_with = "null_as_default")]
    pub segment_type: String,
    #[serde(default, deserialize_with = "agent_count")]
    pub count: u64,
}

/// Users in a system presence (`ON_QUEUE`, `BREAK`, ...) and org presence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceCount {
    #[serde(default, deserialize_with = "null_as_default")]
    pub system_presence: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub organization_presence_id: String,
    #[serde(default, deserialize_with = "agent_count")]
    pub count: u64,
}

/// Users in a routing status (`OFF_QUEUE`, `IDLE`, `INTERACTING`, `NOT_RESPONDING`,
/// `COMMUNICATING`, `UNKNOWN`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingStatusCount {
    #[serde(default, deserialize_with = "null_as_default")]
    pub routing_status: String,
    #[serde(default, deserialize_with = "agent_count")]
    pub count: u64,
}

/// Users out of office, or not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfOfficeCount {
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_out_of_office: bool,
    #[serde(default, deserialize_with = "agent_count")]
    pub count: u64,
}

/// A count as the API writes it, read saturating at [`MAX_AGENT_COUNT`]; `null` is read as
/// an absent count, 0; a negative or non-numeric one does not answer the query.
fn agent_count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let count = Option::<f64>::deserialize(deserializer)?.unwrap_or(0.0);
    if count.is_nan() || count < 0.0 {
        return Err(serde::de::Error::custom(format!(
            "count {count} is out of range (negative)"
        )));
    }
    Ok((count.round().min(MAX_AGENT_COUNT as f64)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_state_the_crate_does_not_know_is_read_not_refused() {
        let status: JobStatus =
            serde_json::from_str(r#"{"state":"RUNNING","expirationDate":"x"}"#).unwrap();
        assert_eq!(status.state, JobState::Unknown);
        let status: JobStatus = serde_json::from_str(r#"{"state":"FULFILLED"}"#).unwrap();
        assert_eq!(status.state, JobState::Fulfilled);
    }

    #[test]
    fn a_list_entity_without_an_id_or_with_null_fields_is_read_as_empty() {
        let page: Listing<FlowEntity> = serde_json::from_str(
            r#"{"entities": [{"id": "f1", "name": null, "type": null}, {"name": "No ID"}, {"id": null}],
                "pageCount": 1}"#,
        )
        .unwrap();
        let ids: Vec<&str> = page.entities.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["f1", "", ""]);
        assert_eq!(page.entities[0].name, "");
        assert_eq!(page.entities[0].kind, "");
        let page: Listing<NamedEntity> = serde_json::from_str(
            r#"{"entities": [{"name": "Lookup account"}, {"id": "a1", "name": null}]}"#,
        )
        .unwrap();
        assert_eq!(page.entities[0].id, "");
        assert_eq!(page.entities[1].name, "");
    }

    #[test]
    fn the_documented_response_example_decodes() {
        let body = r#"{"results": [
          {"group": {"mediaType": "voice", "queueId": "05f1c285-6777-4ccc-806f-8db085ae0793"},
           "data": [
             {"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
              "metrics": [
                {"metric": "nOffered",  "stats": {"count": 877}},
                {"metric": "tAnswered", "stats": {"max": 451577, "min": 2324, "count": 787, "sum": 40279740}},
                {"metric": "oServiceLevel", "stats": {"ratio": 0.4758620689655172, "numerator": 414,
                                                      "denominator": 870, "target": 0.8}}]}]}]}"#;
        let response: AggregateResponse = serde_json::from_str(body).unwrap();
        let group = &response.results[0];
        assert_eq!(group.group["mediaType"], "voice");
        let metrics = &group.data[0].metrics;
        assert_eq!(metrics[0].stats.count, Some(877.0));
        assert_eq!(metrics[1].stats.sum, Some(40279740.0));
        assert_eq!(metrics[2].stats.target, Some(0.8));
    }

    /// A one-group response whose only metric entry is `entry`.
    fn one_entry(entry: &str) -> String {
        format!(
            r#"{{"results": [{{"group": {{"queueId": "q"}}, "data": [{{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{entry}]}}]}}]}}"#
        )
    }

    /// The decoding error of [`one_entry`].
    fn refusal(entry: &str) -> String {
        serde_json::from_str::<AggregateResponse>(&one_entry(entry))
            .unwrap_err()
            .to_string()
    }

    /// [`refusal`], read group by group.
    fn read_refusal(entry: &str) -> String {
        let body = one_entry(entry);
        match read_groups(body.as_bytes(), &mut Counter(0)) {
            Err(ReadError::Json(error)) => error.to_string(),
            other => panic!("{entry}: {other:?}"),
        }
    }

    /// Counts groups, and wants no more than `usize::MAX`.
    struct Counter(usize);

    impl GroupSink for Counter {
        fn group(&mut self, _: GroupRef<'_>) -> Result<(), SinkFull> {
            self.0 += 1;
            if self.0 > 2 { Err(SinkFull) } else { Ok(()) }
        }
    }

    #[test]
    fn answers_read_group_by_group_are_refused_like_decoded_ones() {
        for body in [
            r#"{"results": [{"data": [{"metrics": []}]}]}"#,
            r#"{"results": [], "results": []}"#,
            r#"{"results": [{"group": {"queueId": 1}}]}"#,
            r#"{"results": []} trailing"#,
            r#"{"results": [{"group": {"queueId": "q\u00e9"}}], "cursor": 7}"#,
            "",
        ] {
            let decoded = serde_json::from_str::<JobResultsPage>(body).unwrap_err();
            match read_groups(body.as_bytes(), &mut Counter(0)) {
                Err(ReadError::Json(error)) => {
                    assert_eq!(error.to_string(), decoded.to_string(), "{body}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let mut counter = Counter(0);
        let read = read_groups(
            br#"{"other": [1, {"a": 2}], "results": [{"group": {"queueId": "q\"1"}}, {}], "cursor": "c"}"#,
            &mut counter,
        )
        .unwrap();
        assert_eq!(
            (read.groups, read.cursor.as_deref(), counter.0),
            (2, Some("c"), 2)
        );
        assert!(matches!(
            read_groups(br#"{"results": [{}, {}, {}, {}]}"#, &mut Counter(0)),
            Err(ReadError::SinkFull)
        ));
    }

    #[test]
    fn a_response_that_does_not_answer_the_query_is_refused() {
        for (entry, problem) in [
            (
                r#"{"metric": "nBogus", "stats": {"count": 1}}"#,
                "unknown metric 'nBogus', not in the Genesys metric catalogue",
            ),
            (
                r#"{"metric": "nOffered", "stats": {"count": -877}}"#,
                "nOffered: count -877 is out of range (negative)",
            ),
            (
                r#"{"metric": "tHandle", "stats": {"sum": -1.5}}"#,
                "tHandle: sum -1.5 is out of range (negative)",
            ),
            (
                r#"{"metric": "oServiceLevel", "stats": {"ratio": 4.2}}"#,
                "oServiceLevel: ratio 4.2 is out of range (0 to 1)",
            ),
            (r#"{"stats": {"count": 1}}"#, "missing field `metric`"),
            (
                r#"{"metric": "nOffered", "stats": {"count": "877"}}"#,
                "invalid type: string \"877\", expected f64",
            ),
            (
                r#"{"metric": "nOffered", "stats": {"count": 1e999}}"#,
                "number out of range",
            ),
        ] {
            let error = refusal(entry);
            assert!(error.starts_with(problem), "{entry}: {error}");
            assert_eq!(
                read_refusal(entry),
                error,
                "read group by group, the same refusal"
            );
        }
        let error = serde_json::from_str::<AggregateResponse>(
            r#"{"results": [{"data": [{"metrics": []}]}]}"#,
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("missing field `interval`"));
    }

    #[test]
    fn an_observation_answer_is_checked_like_an_aggregates_one() {
        let body = r#"{"systemToOrganizationMappings": {"ON_QUEUE": ["p1"]}, "results": [
          {"group": {"queueId": "q1", "mediaType": "voice"},
           "data": [{"metric": "oWaiting", "stats": {"count": 3}},
                    {"metric": "oLongestWaiting", "stats": {"count": 1, "calculatedMetricValue": 1787230858678}}]},
          {"group": {"queueId": "q1"},
           "data": [{"metric": "oUserPresences", "qualifier": "p1", "stats": {"count": 2}}]}]}"#;
        let response: ObservationResponse = serde_json::from_str(body).unwrap();
        assert_eq!(response.system_to_organization_mappings["ON_QUEUE"], ["p1"]);
        assert_eq!(
            response.results[0].data[1].stats.calculated_metric_value,
            Some(1787230858678.0)
        );
        assert_eq!(response.results[1].data[0].qualifier.as_deref(), Some("p1"));

        let refusal = |entry: &str| {
            serde_json::from_str::<ObservationResponse>(&format!(
                r#"{{"results": [{{"group": {{"queueId": "q"}}, "data": [{entry}]}}]}}"#
            ))
            .unwrap_err()
            .to_string()
        };
        for (entry, problem) in [
            (
                r#"{"metric": "nOffered", "stats": {"count": 1}}"#,
                "unknown metric 'nOffered', not a queue observation metric",
            ),
            (
                r#"{"metric": "oWaiting", "stats": {"count": 1e999}}"#,
                "number out of range",
            ),
            (r#"{"stats": {"count": 1}}"#, "missing field `metric`"),
        ] {
            let error = refusal(entry);
            assert!(error.starts_with(problem), "{entry}: {error}");
        }
        // A negative statistic is read: the exposition drops its row alone.
        let negative: ObservationResponse = serde_json::from_str(
            r#"{"results": [{"group": {"queueId": "q"}, "data": [
              {"metric": "oWaiting", "stats": {"count": -1}},
              {"metric": "oLongestWaiting", "stats": {"calculatedMetricValue": -5}}]}]}"#,
        )
        .unwrap();
        assert_eq!(negative.results[0].data[0].stats.count, Some(-1.0));
    }

    #[test]
    fn optional_fields_may_be_missing() {
        let response: AggregateResponse = serde_json::from_str(
            r#"{"results": [{"data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered"}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(response.results[0].group.len(), 0);
        assert_eq!(
            response.results[0].data[0].metrics[0].stats,
            Stats::default()
        );
        assert_eq!(
            serde_json::from_str::<AggregateResponse>("{}").unwrap(),
            AggregateResponse::default()
        );
    }

    #[test]
    fn a_queue_whose_division_lacks_an_id_does_not_spoil_its_page() {
        let page: QueuePage = serde_json::from_str(
            r#"{"entities": [{"id": "q1", "name": "Sales", "division": {"name": "Home"}},
                             {"id": "q2", "division": null}], "pageCount": 1}"#,
        )
        .unwrap();
        let divisions: Vec<_> = page.entities.iter().map(|q| q.division.clone()).collect();
        assert_eq!(
            divisions,
            [
                Some(Division {
                    id: String::new(),
                    name: "Home".into()
                }),
                None
            ]
        );
    }

    #[test]
    fn an_agent_state_answer_keeps_unknown_values_and_bounds_its_counts() {
        let body = r#"{"segmentCounts": [{"segmentType": "interact", "count": 12}, {"segmentType": "hologram", "count": 1}],
          "presenceCounts": [{"systemPresence": "ON_QUEUE", "organizationPresenceId": "p1", "count": 20},
                             {"systemPresence": "TELEPORTING", "count": 1e12}],
          "routingStatusCounts": [{"routingStatus": "NOT_RESPONDING", "count": 1}, {"count": 2}],
          "somethingNew": [1, 2]}"#;
        let answer: AgentStateCountsResponse = serde_json::from_str(body).unwrap();
        let segments = answer.segment_counts.unwrap();
        assert_eq!(
            (segments[1].segment_type.as_str(), segments[1].count),
            ("hologram", 1)
        );
        let presences = answer.presence_counts.unwrap();
        assert_eq!(presences[1].system_presence, "TELEPORTING");
        assert_eq!(presences[1].organization_presence_id, "");
        assert_eq!(presences[1].count, MAX_AGENT_COUNT, "saturated");
        let statuses = answer.routing_status_counts.unwrap();
        assert_eq!(
            (statuses[1].routing_status.as_str(), statuses[1].count),
            ("", 2)
        );
        // A null count is an absent one, as every field of the answer may be.
        let nulls: AgentStateCountsResponse = serde_json::from_str(
            r#"{"isOutOfOfficeCounts": [{"isOutOfOffice": true, "count": null}]}"#,
        )
        .unwrap();
        assert_eq!(nulls.is_out_of_office_counts.unwrap()[0].count, 0);
        assert_eq!(answer.is_out_of_office_counts, None, "absent, not empty");
        assert_eq!(
            serde_json::from_str::<AgentStateCountsResponse>("{}").unwrap(),
            AgentStateCountsResponse::default()
        );
        for (body, problem) in [
            (
                r#"{"routingStatusCounts": [{"routingStatus": "IDLE", "count": -1}]}"#,
                "count -1 is out of range",
            ),
            (
                r#"{"routingStatusCounts": [{"routingStatus": "IDLE", "count": "3"}]}"#,
                "invalid type: string",
            ),
            (
                r#"{"isOutOfOfficeCounts": {"true": 3}}"#,
                "invalid type: map",
            ),
        ] {
            let error = serde_json::from_str::<AgentStateCountsResponse>(body).unwrap_err();
            assert!(error.to_string().starts_with(problem), "{body}: {error}");
        }
        // The request as the API documents it.
        let request = AgentStateCountsRequest {
            user_filter: Some(AgentStateFilter::one("divisionId", "d1")),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"userFilter": {"type": "or", "predicates": [{"dimension": "divisionId", "value": "d1"}]}})
        );
        assert_eq!(
            serde_json::to_string(&AgentStateCountsRequest::default()).unwrap(),
            "{}"
        );
    }

    /// Every member of every object in `value`, as JSON pointers.
    fn members(value: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, member) in map {
                    let pointer = format!("{at}/{key}");
                    members(member, &pointer, out);
                    out.push(pointer);
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    members(item, &format!("{at}/{index}"), out);
                }
            }
            _ => {}
        }
    }

    /// `answer` with its member at `pointer` set to `null`, and with it left out.
    fn nulled_and_left_out(answer: &serde_json::Value, pointer: &str) -> (String, String) {
        let mut nulled = answer.clone();
        *nulled.pointer_mut(pointer).unwrap() = serde_json::Value::Null;
        let mut left_out = answer.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        left_out
            .pointer_mut(parent)
            .and_then(serde_json::Value::as_object_mut)
            .unwrap()
            .remove(key);
        (nulled.to_string(), left_out.to_string())
    }

    /// For every member of `answer` (which must name every field a `T` writes): `null`
    /// there reads as if the member were left out, and the members at the `required` paths
    /// (pointers without array indices) are refused either way. `read` decodes a body, for comparing.
    fn null_reads_as_absent(
        answer: serde_json::Value,
        required: &[&str],
        read: impl Fn(&str) -> Result<String, String>,
    ) {
        let mut pointers = Vec::new();
        members(&answer, "", &mut pointers);
        assert!(read(&answer.to_string()).is_ok(), "{answer}");
        for pointer in pointers {
            let (nulled, left_out) = nulled_and_left_out(&answer, &pointer);
            let path: String = pointer
                .split('/')
                .filter(|segment| !segment.is_empty() && segment.parse::<usize>().is_err())
                .map(|segment| format!("/{segment}"))
                .collect();
            if required.contains(&path.as_str()) {
                assert!(read(&nulled).is_err(), "{pointer} is required: {nulled}");
                assert!(
                    read(&left_out).is_err(),
                    "{pointer} is required: {left_out}"
                );
            } else {
                let as_null = read(&nulled);
                assert!(as_null.is_ok(), "{pointer}: {as_null:?}");
                assert_eq!(as_null, read(&left_out), "{pointer}");
            }
        }
    }

    /// A `T` decoded, for comparing: its Debug form, or the refusal.
    fn decode<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        body: &str,
    ) -> Result<String, String> {
        serde_json::from_str::<T>(body)
            .map(|value| format!("{value:?}"))
            .map_err(|error| error.to_string())
    }

    /// [`null_reads_as_absent`] for a `T`, after checking that `answer` names every field
    /// a `T` writes.
    fn null_reads_as_absent_in<T>(answer: serde_json::Value, required: &[&str])
    where
        T: serde::de::DeserializeOwned + Serialize + std::fmt::Debug,
    {
        let full: T = serde_json::from_value(answer.clone()).unwrap();
        let (mut written, mut named) = (Vec::new(), Vec::new());
        members(&serde_json::to_value(&full).unwrap(), "", &mut written);
        members(&answer, "", &mut named);
        for pointer in written {
            assert!(
                named.contains(&pointer),
                "the answer lacks {pointer}: {answer}"
            );
        }
        null_reads_as_absent(answer, required, decode::<T>);
    }

    /// An answer read group by group, checked against decoding it whole: the same groups
    /// and cursor, or the same refusal.
    fn read_and_decoded(body: &str) -> Result<String, String> {
        struct Collect(Vec<String>);
        impl GroupSink for Collect {
            fn group(&mut self, group: GroupRef<'_>) -> Result<(), SinkFull> {
                self.0.push(format!("{group:?}"));
                Ok(())
            }
        }
        let mut sink = Collect(Vec::new());
        let read = match read_groups(body.as_bytes(), &mut sink) {
            Ok(read) => Ok(format!("{:?} {:?}", sink.0, read.cursor)),
            Err(ReadError::Json(error)) => Err(error.to_string()),
            Err(ReadError::SinkFull) => unreachable!("the sink takes every group"),
        };
        let whole = serde_json::from_str::<JobResultsPage>(body)
            .map(|page| {
                let groups: Vec<_> = page
                    .results
                    .iter()
                    .map(|group| format!("{:?}", GroupRef::from(group)))
                    .collect();
                format!("{groups:?} {:?}", page.cursor)
            })
            .map_err(|error| error.to_string());
        assert_eq!(read, whole, "{body}");
        read
    }

    /// Each answer below names every field its type reads; each field in turn is written
    /// `null`, and compared with the answer without it.
    #[test]
    fn a_null_field_reads_as_an_absent_one_in_every_answer() {
        use serde_json::json;
        let aggregates = json!({"results": [{"group": {"queueId": "q1", "mediaType": "voice"},
            "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
              "metrics": [{"metric": "oServiceLevel", "qualifier": "x", "stats": {
                "max": 5, "min": 1, "count": 3, "countNegative": 0, "countPositive": 3,
                "sum": 9, "current": 2, "ratio": 0.5, "numerator": 1, "denominator": 2,
                "target": 0.8, "p95": 4, "p99": 5, "calculatedMetricValue": 7}}]}]}],
            "cursor": "c"});
        let mut aggregates_only = aggregates.clone();
        aggregates_only.as_object_mut().unwrap().remove("cursor");
        let queues = json!({"entities": [
            {"id": "q1", "name": "Sales", "division": {"id": "d1", "name": "Home"}},
            {"id": "q2", "name": "Support"}],
            "pageNumber": 1, "pageSize": 100, "total": 2, "pageCount": 1, "nextUri": "/next"});
        let observations = json!({"systemToOrganizationMappings": {"ON_QUEUE": ["p1"]},
            "results": [{"group": {"queueId": "q1", "mediaType": "voice"},
              "data": [{"metric": "oUserPresences", "qualifier": "p1", "truncated": true,
                        "stats": {"count": 2, "calculatedMetricValue": 7}}]}]});
        let flow_observations = json!({"results": [{"group": {"flowId": "f1", "mediaType": "voice"},
            "data": [{"metric": "oFlow", "qualifier": "x", "stats": {"count": 2, "calculatedMetricValue": 7}}]}]});
        let outcomes = json!({"entities": [{"id": "o1", "name": "Paid"}],
            "pageNumber": 1, "pageSize": 100, "total": 1, "pageCount": 1});
        let flows = json!({"entities": [{"id": "f1", "name": "Main", "type": "INBOUNDCALL"}],
            "pageNumber": 1, "pageSize": 100, "total": 1, "pageCount": 1});
        let presences = json!({"total": 1, "entities": [{"id": "p1", "name": "Available",
            "type": "System", "systemPresence": "Available", "deactivated": true}]});
        let agent_states = json!({
            "segmentCounts": [{"segmentType": "interact", "count": 2}],
            "presenceCounts": [{"systemPresence": "ON_QUEUE", "organizationPresenceId": "p1", "count": 3}],
            "routingStatusCounts": [{"routingStatus": "IDLE", "count": 1}],
            "isOutOfOfficeCounts": [{"isOutOfOffice": true, "count": 4}]});
        let error = json!({"message": "m", "code": "bad.request", "status": 400, "contextId": "c",
            "details": [{"errorCode": "e", "fieldName": "f"}]});
        let token = json!({"access_token": "t", "token_type": "bearer", "expires_in": 86400});
        let oauth_error =
            json!({"error": "invalid_client", "description": "d", "error_description": "e"});
        let job = json!({"jobId": "j1"});
        let job_status = json!({"state": "FAILED", "errorMessage": "m"});

        let aggregate_required: &[&str] =
            &["/results/data/interval", "/results/data/metrics/metric"];
        type Check = fn(serde_json::Value, &[&str]);
        let answers: [(serde_json::Value, &[&str], Check); 15] = [
            (
                aggregates_only,
                aggregate_required,
                null_reads_as_absent_in::<AggregateResponse>,
            ),
            (
                aggregates.clone(),
                aggregate_required,
                null_reads_as_absent_in::<JobResultsPage>,
            ),
            (aggregates, aggregate_required, |answer, required| {
                null_reads_as_absent(answer, required, read_and_decoded)
            }),
            (queues, &[], null_reads_as_absent_in::<QueuePage>),
            (
                observations,
                &["/results/data/metric"],
                null_reads_as_absent_in::<ObservationResponse>,
            ),
            (
                flow_observations,
                &[],
                null_reads_as_absent_in::<FlowObservationResponse>,
            ),
            (
                outcomes,
                &[],
                null_reads_as_absent_in::<Listing<NamedEntity>>,
            ),
            (flows, &[], null_reads_as_absent_in::<Listing<FlowEntity>>),
            (
                presences,
                &["/entities/id"],
                null_reads_as_absent_in::<PresenceDefinitions>,
            ),
            (
                agent_states,
                &[],
                null_reads_as_absent_in::<AgentStateCountsResponse>,
            ),
            (error, &[], null_reads_as_absent_in::<ErrorBody>),
            (
                token,
                &["/access_token"],
                null_reads_as_absent_in::<TokenResponse>,
            ),
            (
                oauth_error,
                &["/error"],
                null_reads_as_absent_in::<OAuthError>,
            ),
            (job, &["/jobId"], null_reads_as_absent_in::<JobSubmitted>),
            (
                job_status,
                &["/state"],
                null_reads_as_absent_in::<JobStatus>,
            ),
        ];
        for (answer, required, check) in answers {
            check(answer, required);
        }
    }
}
