//! The metric catalogue and groupBy dimensions of the conversation aggregates query: which
//! names the API accepts, and what kind of number each metric is.

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
}
