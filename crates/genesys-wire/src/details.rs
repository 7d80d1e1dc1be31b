//! `POST /api/v2/analytics/conversations/details/query`: one conversation per entry, with
//! its participants, sessions, media statistics and segments; the voice quality source
//! reads each call's MOS from it.
//!
//! Every response field may be absent or `null` (read as absent), and a page past the end
//! has no `conversations` key at all. Times stay strings here: the reader parses them and
//! skips a conversation whose times it cannot read, rather than failing its page.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

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
        deserialize_with = "lenient_page",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversations: Option<Vec<DetailConversation>>,
    /// Approximate, and it changes while data arrives.
    #[serde(default, deserialize_with = "lenient")]
    pub total_hits: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailConversation {
    #[serde(default, deserialize_with = "lenient")]
    pub conversation_id: String,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_start: Option<String>,
    /// Absent while the conversation goes on.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_end: Option<String>,
    /// The lowest estimated average MOS of the conversation's audio streams.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_stats_min_conversation_mos: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_stats_min_conversation_r_factor: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub participants: Vec<DetailParticipant>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailParticipant {
    /// `customer`, `acd`, `agent`, `ivr`, ...; any value is taken.
    #[serde(default, deserialize_with = "lenient")]
    pub purpose: String,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sessions: Vec<DetailSession>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailSession {
    #[serde(default, deserialize_with = "lenient")]
    pub media_type: String,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub edge_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub media_endpoint_stats: Vec<MediaEndpointStat>,
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub segments: Vec<DetailSegment>,
}

/// One voice leg's media statistics; `received` includes the invalid, duplicate and
/// discarded packets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaEndpointStat {
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_mos: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_r_factor: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_packets: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub discarded_packets: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailSegment {
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment_start: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_id: Option<String>,
}

/// A field of the wrong type reads as absent, so that one odd value costs its field, not
/// its page (and so every refresh until the page is past the look-back).
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// A list whose entries of the wrong shape are left out; anything but a list is empty.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Array(entries) => entries
            .into_iter()
            .filter_map(|entry| serde_json::from_value(entry).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// The page's conversations: absent or `null` is none (a page past the end), a list keeps
/// its entries of the right shape, anything else fails the page.
fn lenient_page<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Array(entries) => Ok(Some(
            entries
                .into_iter()
                .filter_map(|entry| serde_json::from_value(entry).ok())
                .collect(),
        )),
        other => Err(serde::de::Error::custom(format!(
            "conversations: expected a list, found {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
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
    fn a_field_or_entry_of_the_wrong_type_costs_itself_not_the_page() {
        let page: ConversationDetailsResponse = serde_json::from_str(
            r#"{"totalHits":"many","conversations":[7,{"conversationId":"c1",
              "conversationEnd":12,"mediaStatsMinConversationMos":"4.1",
              "mediaStatsMinConversationRFactor":88.5,
              "participants":[{"purpose":"customer","sessions":{"not":"a list"}},
                {"purpose":["acd"],"sessions":[{"mediaType":"voice","edgeId":"e1",
                  "mediaEndpointStats":[{"receivedPackets":-5,"discardedPackets":2}]}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(page.total_hits, 0);
        let conversations = page.conversations.unwrap();
        assert_eq!(conversations.len(), 1, "the 7 is left out");
        let conversation = &conversations[0];
        assert_eq!(conversation.conversation_end, None);
        assert_eq!(conversation.media_stats_min_conversation_mos, None);
        assert_eq!(
            conversation.media_stats_min_conversation_r_factor,
            Some(88.5)
        );
        assert!(conversation.participants[0].sessions.is_empty());
        assert_eq!(conversation.participants[1].purpose, "");
        let stats = &conversation.participants[1].sessions[0].media_endpoint_stats[0];
        assert_eq!(
            (stats.received_packets, stats.discarded_packets),
            (None, Some(2))
        );
        let error = serde_json::from_str::<ConversationDetailsResponse>(r#"{"conversations":{}}"#)
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a list, found an object"),
            "{error}"
        );
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
