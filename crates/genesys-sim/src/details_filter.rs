//! The details query's filters, as far as the simulator reads them: conversation
//! predicates on `conversationEnd` and `mediaStatsMinConversationMos` (`exists`,
//! `notExists`), `conversationId` and `originatingDirection` (`matches`), and the segment
//! predicate `mediaType` (`matches`). Each filter is `and` or `or` over its predicates;
//! the filters of a list all hold. Anything else is refused with a 400 naming it, rather
//! than ignored: a filter read wrongly would answer the wrong calls without a word.

use serde::Deserialize;

use super::calls::VoiceCall;
use super::protocol::bad_request;
use genesys_wire::ErrorBody;

/// The filters of a details query, read.
#[derive(Debug)]
pub(super) struct Matcher {
    conversation: Vec<Filter>,
    segment: Vec<Filter>,
}

#[derive(Debug)]
struct Filter {
    any: bool,
    predicates: Vec<Predicate>,
}

#[derive(Debug)]
enum Predicate {
    /// `conversationEnd` or `mediaStatsMinConversationMos` exists (`true`) or not: both
    /// exist once the call has ended.
    Ended(bool),
    ConversationId(String),
    Direction(String),
    MediaType(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterText {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    predicates: Vec<PredicateText>,
    #[serde(default)]
    clauses: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PredicateText {
    #[serde(rename = "type")]
    kind: Option<String>,
    dimension: Option<String>,
    operator: Option<String>,
    value: Option<String>,
    range: Option<serde_json::Value>,
}

impl Matcher {
    pub(super) fn new(
        conversation: &[serde_json::Value],
        segment: &[serde_json::Value],
    ) -> Result<Matcher, ErrorBody> {
        let read = |filters: &[serde_json::Value], field: &str, segments: bool| {
            filters
                .iter()
                .map(|filter| Filter::read(filter, field, segments))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Matcher {
            conversation: read(conversation, "conversationFilters", false)?,
            segment: read(segment, "segmentFilters", true)?,
        })
    }

    /// Whether `call` passes every filter at epoch millisecond `now_ms`.
    pub(super) fn matches(&self, call: &VoiceCall, now_ms: i64) -> bool {
        self.conversation
            .iter()
            .chain(&self.segment)
            .all(|filter| filter.matches(call, now_ms))
    }
}

impl Filter {
    fn read(value: &serde_json::Value, field: &str, segments: bool) -> Result<Filter, ErrorBody> {
        let refuse = |message: String| bad_request("invalid.value", field, message);
        let text: FilterText = serde_json::from_value(value.clone())
            .map_err(|why| refuse(format!("Invalid {field} entry {value}: {why}")))?;
        let any = match text.kind.as_str() {
            "and" => false,
            "or" => true,
            other => return Err(refuse(format!("Invalid filter type '{other}': and or or"))),
        };
        if !text.clauses.is_empty() {
            return Err(refuse(format!(
                "The simulator reads no clauses in {field}; write predicates"
            )));
        }
        let predicates = text
            .predicates
            .iter()
            .map(|p| Predicate::read(p, segments).map_err(&refuse))
            .collect::<Result<_, _>>()?;
        Ok(Filter { any, predicates })
    }

    fn matches(&self, call: &VoiceCall, now_ms: i64) -> bool {
        let mut each = self.predicates.iter().map(|p| p.matches(call, now_ms));
        if self.any {
            each.any(|holds| holds)
        } else {
            each.all(|holds| holds)
        }
    }
}

impl Predicate {
    fn read(text: &PredicateText, segments: bool) -> Result<Predicate, String> {
        let kind = text.kind.as_deref().unwrap_or("dimension");
        let dimension = text.dimension.as_deref().unwrap_or_default();
        if kind != "dimension" || text.range.is_some() {
            return Err(format!(
                "The simulator reads only dimension predicates without a range, not {kind} '{}'",
                text.dimension
                    .as_deref()
                    .or(text.value.as_deref())
                    .unwrap_or("")
            ));
        }
        let operator = text.operator.as_deref().unwrap_or("matches");
        let value = || {
            text.value
                .clone()
                .ok_or_else(|| format!("The predicate on '{dimension}' matches no value"))
        };
        match (segments, dimension, operator) {
            (false, "conversationEnd" | "mediaStatsMinConversationMos", "exists") => {
                Ok(Predicate::Ended(true))
            }
            (false, "conversationEnd" | "mediaStatsMinConversationMos", "notExists") => {
                Ok(Predicate::Ended(false))
            }
            (false, "conversationId", "matches") => Ok(Predicate::ConversationId(value()?)),
            (false, "originatingDirection", "matches") => Ok(Predicate::Direction(value()?)),
            (true, "mediaType", "matches") => Ok(Predicate::MediaType(value()?)),
            (false, ..) => Err(format!(
                "The simulator cannot filter conversations by '{dimension}' ({operator}): it reads conversationEnd and mediaStatsMinConversationMos (exists, notExists), conversationId and originatingDirection (matches)"
            )),
            (true, ..) => Err(format!(
                "The simulator cannot filter segments by '{dimension}' ({operator}): it reads mediaType (matches)"
            )),
        }
    }

    fn matches(&self, call: &VoiceCall, now_ms: i64) -> bool {
        match self {
            Predicate::Ended(exists) => (call.end_ms <= now_ms) == *exists,
            Predicate::ConversationId(id) => call.conversation_id == *id,
            // Every simulated call comes in, and every one is voice.
            Predicate::Direction(direction) => direction == "inbound",
            Predicate::MediaType(media) => media == "voice",
        }
    }
}
