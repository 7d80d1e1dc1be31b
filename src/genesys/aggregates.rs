//! The conversation aggregates query: request and response types as they are on the wire,
//! and the catalogue of metric names and groupBy dimensions the API accepts.
//!
//! Every response field is optional on the wire, so almost every field here has a default:
//! a missing field means "nothing to report", never a decoding error. The exceptions are
//! what a number cannot be placed without: a data entry's `interval` and a metric entry's
//! `metric`. A response is also refused, as not answering the query, when it names a
//! metric that is not in the catalogue or holds a number no statistic can have (a negative
//! count or time, a ratio above 1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    #[serde(default)]
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
}

/// One page of a fulfilled job's results; `cursor` is absent on the last page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResultsPage {
    #[serde(default)]
    pub results: Vec<AggregateGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One combination of groupBy values. A group may lack some of the requested keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateGroup {
    #[serde(default)]
    pub group: BTreeMap<String, String>,
    /// One entry per granularity bucket that had data; empty buckets are left out.
    #[serde(default)]
    pub data: Vec<IntervalData>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalData {
    /// ISO-8601 `start/end` of the bucket, in UTC.
    pub interval: String,
    #[serde(default)]
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
    #[serde(default)]
    stats: Stats,
}

impl TryFrom<WireMetricEntry> for MetricEntry {
    type Error = String;

    fn try_from(wire: WireMetricEntry) -> Result<MetricEntry, String> {
        let metric = wire.metric;
        if metric_kind(&metric).is_none() {
            return Err(format!(
                "unknown metric '{metric}', not in the Genesys metric catalogue"
            ));
        }
        wire.stats
            .check()
            .map_err(|problem| format!("{metric}: {problem}"))?;
        Ok(MetricEntry {
            metric,
            qualifier: wire.qualifier,
            stats: wire.stats,
        })
    }
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

/// What a metric measures, told by the first letter of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// `n*`: a count, in `stats.count`.
    Count,
    /// `o*`: an observation, such as a ratio with its numerator and denominator.
    Observation,
    /// `t*`: a timer in milliseconds; `stats.count` is the number of segments measured.
    Timer,
}

pub const COUNT_METRICS: &[&str] = &[
    "nBlindTransferred",
    "nBotInteractions",
    "nCallbackAttempts",
    "nCallbackOverSla",
    "nCallbackScheduled",
    "nCfcOffered",
    "nCobrowseSessions",
    "nConnected",
    "nConsult",
    "nConsultTransferred",
    "nConversations",
    "nError",
    "nOffered",
    "nOutbound",
    "nOutboundAbandoned",
    "nOutboundAttempted",
    "nOutboundConnected",
    "nOverSla",
    "nStateTransitionError",
    "nTakeover",
    "nTransferred",
    "nAgentDeclined",
    "nAlertExpired",
];

pub const OBSERVATION_METRICS: &[&str] = &[
    "oAudioMessageCount",
    "oCallbackServiceLevel",
    "oExternalAudioMessageCount",
    "oExternalMediaCount",
    "oMediaCount",
    "oMessageCount",
    "oMessageSegmentCount",
    "oMessageTurn",
    "oServiceLevel",
    "oServiceTarget",
    "oSkillExpressionApplications",
];

pub const TIMER_METRICS: &[&str] = &[
    "tAbandon",
    "tAcd",
    "tActiveCallback",
    "tActiveCallbackComplete",
    "tAcw",
    "tAgentResponseTime",
    "tAgentVideoConnected",
    "tAlert",
    "tAnswered",
    "tAverageAgentResponseTime",
    "tAverageCustomerResponseTime",
    "tBarging",
    "tCallbackAbandon",
    "tCallbackConnect",
    "tCallbackNotReached",
    "tCallbackVirtualWait",
    "tCfcAbandon",
    "tCfcAcd",
    "tCfcAnswered",
    "tCfcFlowOut",
    "tCoaching",
    "tCoachingComplete",
    "tConnected",
    "tContacting",
    "tDialing",
    "tFirstConnect",
    "tFirstDial",
    "tFirstEngagement",
    "tFirstResponse",
    "tFlowOut",
    "tHandle",
    "tHeld",
    "tHeldComplete",
    "tIvr",
    "tMonitoring",
    "tMonitoringComplete",
    "tNotResponding",
    "tPark",
    "tParkComplete",
    "tScreenMonitoring",
    "tShortAbandon",
    "tSnippetRecord",
    "tTalk",
    "tTalkComplete",
    "tTransmitting",
    "tUserResponseTime",
    "tVoicemail",
    "tWait",
];

/// The kind of a catalogue metric, or `None` for a name the API does not know.
pub fn metric_kind(name: &str) -> Option<MetricKind> {
    if COUNT_METRICS.contains(&name) {
        Some(MetricKind::Count)
    } else if OBSERVATION_METRICS.contains(&name) {
        Some(MetricKind::Observation)
    } else if TIMER_METRICS.contains(&name) {
        Some(MetricKind::Timer)
    } else {
        None
    }
}

/// Every metric name in the catalogue.
pub fn all_metrics() -> impl Iterator<Item = &'static str> {
    COUNT_METRICS
        .iter()
        .chain(OBSERVATION_METRICS)
        .chain(TIMER_METRICS)
        .copied()
}

pub const DIMENSIONS: &[&str] = &[
    "activeRouting",
    "activeSkillId",
    "addressFrom",
    "addressTo",
    "agentAssistantId",
    "agentBullseyeRing",
    "agentOwned",
    "agentRank",
    "agentScore",
    "ani",
    "assignerId",
    "authenticated",
    "conversationId",
    "conversationInitiator",
    "convertedFrom",
    "convertedTo",
    "customerParticipation",
    "deliveryStatus",
    "destinationAddress",
    "direction",
    "disconnectType",
    "divisionId",
    "dnis",
    "edgeId",
    "eligibleAgentCount",
    "errorCode",
    "extendedDeliveryStatus",
    "externalContactId",
    "externalMediaCount",
    "externalOrganizationId",
    "externalTag",
    "firstQueue",
    "flaggedReason",
    "flowInType",
    "flowOutType",
    "groupId",
    "interactionType",
    "journeyActionId",
    "journeyActionMapId",
    "journeyActionMapVersion",
    "journeyCustomerId",
    "journeyCustomerIdType",
    "journeyCustomerSessionId",
    "journeyCustomerSessionIdType",
    "knowledgeBaseId",
    "mediaCount",
    "mediaType",
    "messageType",
    "originatingDirection",
    "originatingSocialMediaPublic",
    "outboundCampaignId",
    "outboundContactId",
    "outboundContactListId",
    "participantName",
    "peerId",
    "proposedAgentId",
    "provider",
    "purpose",
    "queueId",
    "remote",
    "removedSkillId",
    "requestedLanguageId",
    "requestedRouting",
    "requestedRoutingSkillId",
    "roomId",
    "routingPriority",
    "routingRing",
    "routingRule",
    "routingRuleType",
    "scoredAgentId",
    "selectedAgentId",
    "selectedAgentRank",
    "selfServed",
    "sessionDnis",
    "sessionId",
    "skillExpressionId",
    "stationId",
    "teamId",
    "usedRouting",
    "userId",
    "videoPresent",
    "waitingInteractionCount",
    "wrapUpCode",
];

/// Dimensions with a value per conversation, caller or address. As Prometheus labels they
/// would create a new series for nearly every conversation, so the exporter refuses them
/// unless a query says `allow_unbounded_labels = true`.
pub const UNBOUNDED_DIMENSIONS: &[&str] = &[
    "addressFrom",
    "addressTo",
    "ani",
    "conversationId",
    "destinationAddress",
    "dnis",
    "externalContactId",
    "journeyCustomerId",
    "journeyCustomerSessionId",
    "outboundContactId",
    "participantName",
    "peerId",
    "roomId",
    "sessionDnis",
    "sessionId",
];

pub fn is_dimension(name: &str) -> bool {
    DIMENSIONS.contains(&name)
}

pub fn is_unbounded_dimension(name: &str) -> bool {
    UNBOUNDED_DIMENSIONS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_metric_has_the_kind_its_first_letter_names() {
        for name in all_metrics() {
            let expected = match name.as_bytes()[0] {
                b'n' => MetricKind::Count,
                b'o' => MetricKind::Observation,
                b't' => MetricKind::Timer,
                other => panic!("{name} starts with {}", other as char),
            };
            assert_eq!(metric_kind(name), Some(expected), "{name}");
        }
        assert_eq!(metric_kind("nAnswered"), None, "nAnswered does not exist");
    }

    #[test]
    fn unbounded_dimensions_are_all_real_dimensions() {
        for name in UNBOUNDED_DIMENSIONS {
            assert!(is_dimension(name), "{name}");
        }
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

    /// The decoding error of a one-group response whose only metric entry is `entry`.
    fn refusal(entry: &str) -> String {
        let body = format!(
            r#"{{"results": [{{"group": {{"queueId": "q"}}, "data": [{{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{entry}]}}]}}]}}"#
        );
        serde_json::from_str::<AggregateResponse>(&body)
            .unwrap_err()
            .to_string()
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
        }
        let error = serde_json::from_str::<AggregateResponse>(
            r#"{"results": [{"data": [{"metrics": []}]}]}"#,
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("missing field `interval`"));
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
}
