//! `POST /api/v2/analytics/conversations/details/query`: one conversation per entry, with
//! its participants, sessions, media statistics and segments; the voice quality source
//! reads each call's MOS from it.
//!
//! Every response field may be absent or `null` (read as absent), and a page past the end
//! has no `conversations` key at all. Times stay strings here: the reader parses them and
//! skips a conversation whose times it cannot read, rather than failing its page.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::null_as_default;

/// The synchronous details query.
pub const CONVERSATION_DETAILS_PATH: &str = "/api/v2/analytics/conversations/details/query";
/// The largest `paging.pageSize` the exporter asks for (the API's documented maximum is
/// not settled; 100 is what every known client uses).
pub const MAX_DETAILS_PAGE_SIZE: u32 = 100;
/// Paging may not pass this many results (`pageNumber × pageSize`): a 400, "Pagination may
/// not exceed 100000 results."
pub const MAX_DETAILS_RESULTS: u64 = 100_000;

/// Body of the details query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetailsQuery {
    /// ISO-8601 `start/end`. The API matches it by the *day* of each conversation's start.
    pub interval: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    /// Filters in the analytics filter grammar, passed as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversation_filters: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_filters: Vec<serde_json::Value>,
}

impl ConversationDetailsQuery {
    /// The voice quality source's query: ended voice conversations with a MOS, the latest
    /// ended first, page `page_number` (from 1) of `page_size`.
    pub fn voice_quality(interval: String, page_size: u32, page_number: u32) -> Self {
        ConversationDetailsQuery {
            interval,
            order: Some("desc".to_owned()),
            order_by: Some("conversationEnd".to_owned()),
            paging: Some(Paging {
                page_size,
                page_number,
            }),
            conversation_filters: vec![json!({
                "type": "and",
                "predicates": [
                    {"type": "dimension", "dimension": "conversationEnd", "operator": "exists"},
                    {"type": "dimension", "dimension": "mediaStatsMinConversationMos", "operator": "exists"}
                ]
            })],
            segment_filters: vec![json!({
                "type": "and",
                "predicates": [{"type": "dimension", "dimension": "mediaType", "value": "voice"}]
            })],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    pub page_size: u32,
    /// From 1.
    pub page_number: u32,
}

/// One page of the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetailsResponse {
    /// Absent on a page past the end.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversations: Option<Vec<DetailConversation>>,
    /// Approximate, and it changes while data arrives.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_hits: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailConversation {
    #[serde(default, deserialize_with = "null_as_default")]
    pub conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_start: Option<String>,
    /// Absent while the conversation goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_end: Option<String>,
    /// The lowest estimated average MOS of the conversation's audio streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_stats_min_conversation_mos: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_stats_min_conversation_r_factor: Option<f64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub participants: Vec<DetailParticipant>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailParticipant {
    /// `customer`, `acd`, `agent`, `ivr`, ...; any value is taken.
    #[serde(default, deserialize_with = "null_as_default")]
    pub purpose: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sessions: Vec<DetailSession>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailSession {
    #[serde(default, deserialize_with = "null_as_default")]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub media_endpoint_stats: Vec<MediaEndpointStat>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub segments: Vec<DetailSegment>,
}

/// One voice leg's media statistics; `received` includes the invalid, duplicate and
/// discarded packets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaEndpointStat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_mos: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_r_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_packets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded_packets: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailSegment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_past_the_end_has_no_conversations_and_reads_as_none() {
        let page: ConversationDetailsResponse =
            serde_json::from_str(r#"{"totalHits": 120}"#).unwrap();
        assert_eq!(page.conversations, None);
        assert_eq!(page.total_hits, 120);
        let page: ConversationDetailsResponse =
            serde_json::from_str(r#"{"conversations": null, "totalHits": null}"#).unwrap();
        assert_eq!(page, ConversationDetailsResponse::default());
    }

    #[test]
    fn a_conversation_reads_its_quality_edge_and_queue() {
        let page: ConversationDetailsResponse = serde_json::from_str(
            r#"{"totalHits":1,"conversations":[{
              "conversationId":"c1","conversationStart":"2026-08-15T10:01:02.123Z",
              "conversationEnd":"2026-08-15T10:05:40.001Z","originatingDirection":"inbound",
              "mediaStatsMinConversationMos":4.38,"mediaStatsMinConversationRFactor":90.9,
              "participants":[
               {"purpose":"customer","sessions":[{"mediaType":"voice","edgeId":"e1",
                 "mediaEndpointStats":[{"codecs":["audio/opus"],"minMos":4.38,"minRFactor":90.9,
                   "receivedPackets":13998,"discardedPackets":3,"eventTime":"x"}],
                 "segments":[{"segmentType":"interact","disconnectType":"endpoint"}]}]},
               {"purpose":"acd","sessions":[{"mediaType":"voice","segments":[
                 {"segmentStart":"2026-08-15T10:01:20.000Z","segmentType":"interact","queueId":"q1"}]}]}]}]}"#,
        )
        .unwrap();
        let conversation = &page.conversations.unwrap()[0];
        assert_eq!(conversation.media_stats_min_conversation_mos, Some(4.38));
        let customer = &conversation.participants[0].sessions[0];
        assert_eq!(customer.edge_id.as_deref(), Some("e1"));
        assert_eq!(
            customer.media_endpoint_stats[0].received_packets,
            Some(13998)
        );
        let acd = &conversation.participants[1];
        assert_eq!(acd.purpose, "acd");
        assert_eq!(acd.sessions[0].segments[0].queue_id.as_deref(), Some("q1"));
    }

    #[test]
    fn the_voice_quality_query_asks_for_ended_voice_calls_with_a_mos_latest_first() {
        let query = ConversationDetailsQuery::voice_quality("a/b".into(), 100, 2);
        let body = serde_json::to_value(&query).unwrap();
        assert_eq!(body["orderBy"], "conversationEnd");
        assert_eq!(body["order"], "desc");
        assert_eq!(body["paging"], json!({"pageSize": 100, "pageNumber": 2}));
        let predicates = &body["conversationFilters"][0]["predicates"];
        assert_eq!(predicates[0]["dimension"], "conversationEnd");
        assert_eq!(predicates[1]["dimension"], "mediaStatsMinConversationMos");
        assert_eq!(body["segmentFilters"][0]["predicates"][0]["value"], "voice");
    }
}
