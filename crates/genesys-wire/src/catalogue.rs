//! The metric catalogues and groupBy dimensions of the three aggregates queries
//! (conversations, flows, data actions): which names the API accepts, and what kind of
//! number each metric is. [`Source`] knows, per query, its catalogue, its defaults, the
//! endpoint it asks and which of its dimensions are IDs that have names.

use crate::Endpoint;

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

/// The kind of a metric of any of the catalogues (conversations, flows, data actions), or
/// `None` for a name the API does not know. The catalogues share no name.
pub fn metric_kind(name: &str) -> Option<MetricKind> {
    let known = COUNT_METRICS.contains(&name)
        || OBSERVATION_METRICS.contains(&name)
        || TIMER_METRICS.contains(&name)
        || FLOW_METRICS.contains(&name)
        || ACTION_METRICS.contains(&name);
    if !known {
        return None;
    }
    match name.as_bytes().first() {
        Some(b'n') => Some(MetricKind::Count),
        Some(b'o') => Some(MetricKind::Observation),
        Some(b't') => Some(MetricKind::Timer),
        _ => None,
    }
}

/// Every metric name in the conversations' catalogue.
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

/// The flow aggregates query's metrics (`FlowAggregationQuery.metrics`).
pub const FLOW_METRICS: &[&str] = &[
    "nFlow",
    "nFlowMilestone",
    "nFlowOutcome",
    "nFlowOutcomeFailed",
    "oFlowMilestone",
    "tFlow",
    "tFlowDisconnect",
    "tFlowExit",
    "tFlowOutcome",
];

/// The flow aggregates query's groupBy dimensions (`FlowAggregationQuery.groupBy`).
pub const FLOW_DIMENSIONS: &[&str] = &[
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
    "endingLanguage",
    "entryReason",
    "entryType",
    "errorCode",
    "exitReason",
    "extendedDeliveryStatus",
    "externalContactId",
    "externalMediaCount",
    "externalOrganizationId",
    "externalTag",
    "firstQueue",
    "flaggedReason",
    "flowId",
    "flowInType",
    "flowMilestoneId",
    "flowName",
    "flowOutType",
    "flowOutcome",
    "flowOutcomeId",
    "flowOutcomeValue",
    "flowSubType",
    "flowType",
    "flowVersion",
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
    "outboundCampaignId",
    "outboundContactId",
    "outboundContactListId",
    "participantName",
    "peerId",
    "proposedAgentId",
    "provider",
    "purpose",
    "queueId",
    "recognitionFailureReason",
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
    "startingLanguage",
    "stationId",
    "teamId",
    "transferTargetAddress",
    "transferTargetName",
    "transferType",
    "usedRouting",
    "userId",
    "videoPresent",
    "waitingInteractionCount",
    "wrapUpCode",
];

/// The data actions aggregates query's one metric (`ActionAggregationQuery.metrics`).
pub const ACTION_METRICS: &[&str] = &["tTotalExecution"];

/// The data actions aggregates query's groupBy dimensions.
pub const ACTION_DIMENSIONS: &[&str] = &[
    "actionCategory",
    "actionId",
    "actionName",
    "correlationId",
    "errorType",
    "integrationId",
    "integrationName",
    "responseStatus",
];

/// A data action's dimension with a value per execution.
pub const ACTION_UNBOUNDED_DIMENSIONS: &[&str] = &["correlationId"];

/// An ID dimension whose names the exporter reads, and the label its name goes in,
/// beside the ID's: `queue` after `queue_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameKind {
    Queue,
    Flow,
    FlowOutcome,
    Action,
    Edge,
}

impl NameKind {
    pub const ALL: [NameKind; 5] = [
        NameKind::Queue,
        NameKind::Flow,
        NameKind::FlowOutcome,
        NameKind::Action,
        NameKind::Edge,
    ];

    /// The groupBy dimension that holds the ID.
    pub fn dimension(self) -> &'static str {
        match self {
            NameKind::Queue => "queueId",
            NameKind::Flow => "flowId",
            NameKind::FlowOutcome => "flowOutcomeId",
            NameKind::Action => "actionId",
            NameKind::Edge => "edgeId",
        }
    }

    /// The label of the ID, the dimension in snake case.
    pub fn id_label(self) -> &'static str {
        match self {
            NameKind::Queue => "queue_id",
            NameKind::Flow => "flow_id",
            NameKind::FlowOutcome => "flow_outcome_id",
            NameKind::Action => "action_id",
            NameKind::Edge => "edge_id",
        }
    }

    /// The label of the name.
    pub fn label(self) -> &'static str {
        match self {
            NameKind::Queue => "queue",
            NameKind::Flow => "flow",
            NameKind::FlowOutcome => "flow_outcome",
            NameKind::Action => "action",
            NameKind::Edge => "edge",
        }
    }

    /// The list the names are read from.
    pub fn endpoint(self) -> Endpoint {
        match self {
            NameKind::Queue => Endpoint::Queues,
            NameKind::Flow => Endpoint::Flows,
            NameKind::FlowOutcome => Endpoint::FlowOutcomes,
            NameKind::Action => Endpoint::Actions,
            NameKind::Edge => Endpoint::Edges,
        }
    }

    /// The kind whose ID `dimension` holds, if any.
    pub fn of_dimension(dimension: &str) -> Option<NameKind> {
        NameKind::ALL
            .into_iter()
            .find(|kind| kind.dimension() == dimension)
    }
}

/// What a `[[queries]]` table asks about (its `source`): each is a query of its own
/// endpoint, with its own catalogue and named IDs. (The defaults of a query that names no
/// metrics or groupBy are the configuration's; its gauges' names, the exposition's.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Conversations,
    Flows,
    Actions,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Conversations, Source::Flows, Source::Actions];

    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Conversations => "conversations",
            Source::Flows => "flows",
            Source::Actions => "actions",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|source| source.as_str() == text)
    }

    /// The synchronous query's endpoint.
    pub fn endpoint(self) -> Endpoint {
        match self {
            Source::Conversations => Endpoint::Aggregates,
            Source::Flows => Endpoint::FlowAggregates,
            Source::Actions => Endpoint::ActionAggregates,
        }
    }

    /// The synchronous query's path.
    pub fn path(self) -> &'static str {
        match self {
            Source::Conversations => crate::QUERY_PATH,
            Source::Flows => crate::FLOW_QUERY_PATH,
            Source::Actions => crate::ACTION_QUERY_PATH,
        }
    }

    /// Whether an answer too large for the synchronous query may be asked for as a job.
    /// Only the conversations' are: the flows' and actions' are asked synchronously.
    pub fn has_jobs(self) -> bool {
        self == Source::Conversations
    }

    /// Every metric the query accepts.
    pub fn metrics(self) -> Vec<&'static str> {
        match self {
            Source::Conversations => all_metrics().collect(),
            Source::Flows => FLOW_METRICS.to_vec(),
            Source::Actions => ACTION_METRICS.to_vec(),
        }
    }

    /// The query whose catalogue holds `metric` (the catalogues share no name).
    pub fn of_metric(metric: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|source| source.has_metric(metric))
    }

    pub fn has_metric(self, metric: &str) -> bool {
        match self {
            Source::Conversations => all_metrics().any(|m| m == metric),
            Source::Flows => FLOW_METRICS.contains(&metric),
            Source::Actions => ACTION_METRICS.contains(&metric),
        }
    }

    /// Every groupBy dimension the query accepts.
    pub fn dimensions(self) -> &'static [&'static str] {
        match self {
            Source::Conversations => DIMENSIONS,
            Source::Flows => FLOW_DIMENSIONS,
            Source::Actions => ACTION_DIMENSIONS,
        }
    }

    /// The dimensions with a value per conversation, caller or execution. The flows'
    /// are the conversations' (the flows' catalogue holds them all).
    pub fn is_unbounded(self, dimension: &str) -> bool {
        match self {
            Source::Conversations | Source::Flows => UNBOUNDED_DIMENSIONS.contains(&dimension),
            Source::Actions => ACTION_UNBOUNDED_DIMENSIONS.contains(&dimension),
        }
    }

    /// The ID dimensions of this query whose names go beside them.
    pub fn named_ids(self) -> &'static [NameKind] {
        match self {
            Source::Conversations => &[NameKind::Queue],
            Source::Flows => &[NameKind::Queue, NameKind::Flow, NameKind::FlowOutcome],
            Source::Actions => &[NameKind::Action],
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
            assert!(
                FLOW_DIMENSIONS.contains(name),
                "{name} is a flow dimension too"
            );
        }
        for name in ACTION_UNBOUNDED_DIMENSIONS {
            assert!(ACTION_DIMENSIONS.contains(name), "{name}");
        }
    }

    #[test]
    fn each_source_has_its_documented_catalogue_and_defaults_from_it() {
        assert_eq!(FLOW_METRICS.len(), 9);
        assert_eq!(FLOW_DIMENSIONS.len(), 100);
        assert_eq!(ACTION_DIMENSIONS.len(), 8);
        for source in Source::ALL {
            assert_eq!(Source::parse(source.as_str()), Some(source));
            for kind in source.named_ids() {
                assert!(source.dimensions().contains(&kind.dimension()), "{kind:?}");
            }
        }
        // The catalogues share no metric: a metric's kind is its own whatever the query.
        for metric in FLOW_METRICS.iter().chain(ACTION_METRICS) {
            assert!(!all_metrics().any(|m| m == *metric), "{metric}");
        }
        assert_eq!(metric_kind("nFlowOutcomeFailed"), Some(MetricKind::Count));
        assert_eq!(metric_kind("tTotalExecution"), Some(MetricKind::Timer));
        assert_eq!(metric_kind("oFlowMilestone"), Some(MetricKind::Observation));
        assert!(!Source::Flows.has_metric("nOffered"));
        assert!(Source::Flows.is_unbounded("conversationId"));
        assert!(Source::Actions.is_unbounded("correlationId"));
        assert_eq!(Source::parse("flow"), None);
        assert_eq!(Source::of_metric("nFlow"), Some(Source::Flows));
        assert_eq!(Source::of_metric("tTotalExecution"), Some(Source::Actions));
        assert_eq!(Source::of_metric("tHandle"), Some(Source::Conversations));
        assert_eq!(Source::of_metric("nBogus"), None);
        assert!(Source::Conversations.has_jobs() && !Source::Flows.has_jobs());
    }
}
