//! `POST /api/v2/analytics/conversations/details/query`: the org's voice calls, one
//! conversation each ([`super::details_shape`]), with the real API's quirks:
//!
//! - the interval picks conversations by the UTC *day* of their start: every call that
//!   started on a day the interval touches, not only those in it;
//! - paging by `pageNumber` (from 1) and `pageSize` (25 by default, at most 100), never
//!   past 100,000 results, and a page past the end has no `conversations` key at all;
//! - intervals of at most 31 days with a filter, 7 without.
//!
//! Only the calls that have started by the simulator's clock exist; those not yet ended
//! have no end and no MOS. The filters read are those the voice quality source sends
//! (plus a few alike); any other is refused, as the API refuses what it cannot read.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Simulator;
use super::calls::voice_calls;
use super::details_filter::Matcher;
use super::details_shape::conversation;
use super::edges::edges;
use super::failure_surge::FailureSurge;
use super::protocol::{JsonBody, bad_request};
use super::simulated_org::SimulatedOrg;
use super::surge::Surge;
use genesys_wire::ErrorBody;
use genesys_wire::details::{ConversationDetailsQuery, MAX_DETAILS_PAGE_SIZE, MAX_DETAILS_RESULTS};
use genesys_wire::time::Interval;

/// The page size when the query gives none.
pub const DEFAULT_DETAILS_PAGE_SIZE: u32 = 25;
/// The longest interval of a query with a filter, in days.
pub const MAX_FILTERED_DAYS: i64 = 31;
/// The longest interval of a query without one, in days.
pub const MAX_UNFILTERED_DAYS: i64 = 7;

const DAY_MS: i64 = 86_400_000;

/// The answer to `query` at `now`, under the abandon surge and the Edge degrade fault: a
/// page of `{"totalHits", "conversations"}`.
pub fn conversation_details(
    org: &SimulatedOrg,
    surge: Option<&Surge>,
    degrade: Option<&FailureSurge>,
    query: &ConversationDetailsQuery,
    now: Timestamp,
) -> Result<Value, ErrorBody> {
    let (page_size, page_number) = paging(query)?;
    let interval = interval(query)?;
    let descending = order(query)?;
    let by_end = order_by(query)?;
    let matcher = Matcher::new(&query.conversation_filters, &query.segment_filters)?;

    let now_ms = now.as_millisecond();
    let mut calls = calls_of_days(org, surge, interval, now_ms);
    calls.retain(|call| matcher.matches(call, now_ms));
    // Ongoing calls have no end: they sort after every ended one.
    let key = |call: &super::VoiceCall| {
        let ended = call.end_ms <= now_ms;
        let at = match (by_end, ended) {
            (false, _) => call.start_ms,
            (true, true) => call.end_ms,
            (true, false) => i64::MAX,
        };
        (at, call.conversation_id.clone())
    };
    calls.sort_by_cached_key(key);
    if descending {
        calls.reverse();
    }

    let total_hits = calls.len();
    let skip = (page_number as usize - 1).saturating_mul(page_size as usize);
    let edges = edges(org);
    let page: Vec<Value> = calls
        .iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|call| conversation(org, &edges, degrade, call, now_ms))
        .collect();
    let mut answer = json!({"totalHits": total_hits});
    if !page.is_empty() {
        answer["conversations"] = Value::Array(page);
    }
    Ok(answer)
}

/// Every call that started on a UTC day `interval` touches, up to `now_ms`: only those
/// days' minutes up to now are drawn.
fn calls_of_days<'a>(
    org: &'a SimulatedOrg,
    surge: Option<&Surge>,
    interval: Interval,
    now_ms: i64,
) -> Vec<super::VoiceCall<'a>> {
    let first_day = interval.start.as_millisecond().div_euclid(DAY_MS);
    // The end is not in the interval: one ending at midnight does not touch the next day.
    let last_day = (interval.end.as_millisecond() - 1).div_euclid(DAY_MS);
    let until_ms = now_ms
        .div_euclid(60_000)
        .saturating_add(1)
        .saturating_mul(60_000);
    let mut calls = Vec::new();
    for day in first_day..=last_day {
        let start_ms = day.saturating_mul(DAY_MS);
        let end_ms = start_ms.saturating_add(DAY_MS).min(until_ms);
        if start_ms >= end_ms {
            break;
        }
        let (Ok(start), Ok(end)) = (
            Timestamp::from_millisecond(start_ms),
            Timestamp::from_millisecond(end_ms),
        ) else {
            continue;
        };
        calls.extend(voice_calls(org, surge, start, end));
    }
    calls.retain(|call| call.start_ms <= now_ms);
    calls
}

fn paging(query: &ConversationDetailsQuery) -> Result<(u32, u32), ErrorBody> {
    let (size, number) = query.paging.map_or((DEFAULT_DETAILS_PAGE_SIZE, 1), |p| {
        (p.page_size, p.page_number)
    });
    if !(1..=MAX_DETAILS_PAGE_SIZE).contains(&size) {
        return Err(bad_request(
            "constraint.validation",
            "paging.pageSize",
            format!("pageSize must be from 1 to {MAX_DETAILS_PAGE_SIZE}, not {size}"),
        ));
    }
    if number < 1 {
        return Err(bad_request(
            "constraint.validation",
            "paging.pageNumber",
            "pageNumber counts from 1".to_string(),
        ));
    }
    if u64::from(size) * u64::from(number) > MAX_DETAILS_RESULTS {
        return Err(bad_request(
            "bad.request",
            "paging",
            format!("Pagination may not exceed {MAX_DETAILS_RESULTS} results."),
        ));
    }
    Ok((size, number))
}

fn interval(query: &ConversationDetailsQuery) -> Result<Interval, ErrorBody> {
    let interval: Interval = query.interval.parse().map_err(|why| {
        bad_request(
            "invalid.date",
            "interval",
            format!("Invalid interval '{}': {why}", query.interval),
        )
    })?;
    let filtered = !query.conversation_filters.is_empty() || !query.segment_filters.is_empty();
    let (days, without) = if filtered {
        (MAX_FILTERED_DAYS, "")
    } else {
        (MAX_UNFILTERED_DAYS, " without a filter")
    };
    if interval.end.duration_since(interval.start).as_secs() > days * 86_400 {
        return Err(bad_request(
            "constraint.validation",
            "interval",
            format!("The interval is too long: at most {days} days{without}"),
        ));
    }
    Ok(interval)
}

/// Whether the order is descending; `unordered` is answered in ascending order.
fn order(query: &ConversationDetailsQuery) -> Result<bool, ErrorBody> {
    match query.order.as_deref() {
        None | Some("asc") | Some("unordered") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(bad_request(
            "invalid.value",
            "order",
            format!("Invalid order '{other}': asc, desc or unordered"),
        )),
    }
}

/// Whether the conversations are ordered by their end (else by their start).
fn order_by(query: &ConversationDetailsQuery) -> Result<bool, ErrorBody> {
    match query.order_by.as_deref() {
        None | Some("conversationStart") => Ok(false),
        Some("conversationEnd") => Ok(true),
        Some(other) => Err(bad_request(
            "invalid.value",
            "orderBy",
            format!(
                "Invalid orderBy '{other}': the simulator orders by conversationStart or conversationEnd"
            ),
        )),
    }
}

impl Simulator {
    /// Answers a details query at the simulator's now, under its surge and Edge degrade
    /// fault, as the endpoint does.
    pub fn conversation_details(
        &self,
        query: &ConversationDetailsQuery,
    ) -> Result<Value, ErrorBody> {
        let config = &self.state.config;
        let surge = self.surge();
        conversation_details(
            &config.org,
            surge.as_ref(),
            config.edge_degrade.as_ref(),
            query,
            self.now(),
        )
    }
}

/// `POST CONVERSATION_DETAILS_PATH`.
pub(super) async fn answer(
    State(sim): State<Simulator>,
    JsonBody(body): JsonBody<ConversationDetailsQuery>,
) -> Result<Response, Response> {
    let query = body.map_err(|problem| {
        sim.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, "body")
    })?;
    let worker = sim.clone();
    let page = sim
        .off_the_workers(move || worker.conversation_details(&query))
        .await?;
    Ok(Json(page).into_response())
}

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::super::testing::{bearer, call, request};
    use super::*;
    use crate::{SimulatorConfig, call_quality, voice_calls};
    use genesys_wire::details::{ConversationDetailsResponse, DetailConversation};
    use genesys_wire::time::Clock;

    const NOW: &str = "2026-08-20T15:00:00Z";

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn at(now: &str) -> Simulator {
        Simulator::new(SimulatorConfig {
            clock: Clock::starting_at(ts(now)),
            ..SimulatorConfig::default()
        })
    }

    fn voice_query(interval: &str, page_size: u32, page_number: u32) -> ConversationDetailsQuery {
        ConversationDetailsQuery::voice_quality(interval.into(), page_size, page_number)
    }

    fn page(sim: &Simulator, query: &ConversationDetailsQuery) -> ConversationDetailsResponse {
        serde_json::from_value(sim.conversation_details(query).unwrap()).unwrap()
    }

    /// Every page of `query` from 1 until one comes back without conversations.
    fn all_pages(sim: &Simulator, query: &ConversationDetailsQuery) -> Vec<DetailConversation> {
        let mut all = Vec::new();
        let mut query = query.clone();
        loop {
            let answer = page(sim, &query);
            let Some(conversations) = answer.conversations else {
                return all;
            };
            all.extend(conversations);
            query.paging.as_mut().unwrap().page_number += 1;
        }
    }

    /// The calls of the day of `day` (UTC) that have ended by `now`, latest end first.
    fn ended_calls_of_day<'a>(
        org: &'a SimulatedOrg,
        day: &str,
        now: &str,
    ) -> Vec<crate::VoiceCall<'a>> {
        let start = ts(&format!("{day}T00:00:00Z"));
        let end = start.checked_add(jiff::Span::new().hours(24)).unwrap();
        let mut calls = voice_calls(org, None, start, end);
        calls.retain(|c| c.end_ms <= ts(now).as_millisecond());
        calls.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.end_ms),
                std::cmp::Reverse(c.conversation_id.clone()),
            )
        });
        calls
    }

    #[tokio::test]
    async fn the_endpoint_answers_the_voice_quality_query_and_counts_it() {
        let sim = at(NOW);
        let query = voice_query("2026-08-20T14:00:00.000Z/2026-08-20T14:59:00.000Z", 100, 1);
        let body = serde_json::to_string(&query).unwrap();
        let path = genesys_wire::details::CONVERSATION_DETAILS_PATH;
        assert_eq!(
            call(&sim, request(Method::POST, path, None, &body)).await.0,
            401
        );
        let auth = bearer(&sim).await;
        let (status, answer) = call(&sim, request(Method::POST, path, Some(&auth), &body)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, sim.conversation_details(&query).unwrap());
        let expected = ended_calls_of_day(sim.org(), "2026-08-20", NOW);
        assert_eq!(answer["totalHits"], expected.len());
        let first = &answer["conversations"][0];
        assert_eq!(
            first["conversationId"],
            expected[0].conversation_id.as_str()
        );
        let (status, error) = call(
            &sim,
            request(Method::POST, path, Some(&auth), "{\"paging\": 1}"),
        )
        .await;
        assert_eq!((status, error["code"].as_str()), (400, Some("bad.request")));
        assert_eq!(sim.requests().conversation_details, 3);
    }

    #[test]
    fn every_conversation_reports_its_calls_quality_queue_and_edge() {
        let sim = at(NOW);
        let org = sim.org();
        let edges = crate::edges(org);
        let calls = ended_calls_of_day(org, "2026-08-20", NOW);
        let answer = page(
            &sim,
            &voice_query("2026-08-20T14:00:00Z/2026-08-20T14:01:00Z", 100, 3),
        );
        let conversations = answer.conversations.unwrap();
        assert_eq!(conversations.len(), 100);
        for (conversation, call) in conversations.iter().zip(&calls[200..300]) {
            assert_eq!(conversation.conversation_id, call.conversation_id);
            let quality = call_quality(org, None, call);
            assert_eq!(
                conversation.media_stats_min_conversation_mos,
                Some(quality.mos)
            );
            assert_eq!(
                conversation.media_stats_min_conversation_r_factor,
                Some(quality.r_factor)
            );
            let customer = &conversation.participants[0];
            assert_eq!(customer.purpose, "customer");
            let session = &customer.sessions[0];
            assert_eq!(
                session.edge_id.as_deref(),
                Some(edges[call.edge].id.as_str())
            );
            // The conversation's MOS is its streams' lowest; the packets add up.
            let stats: Vec<_> = conversation
                .participants
                .iter()
                .flat_map(|p| &p.sessions)
                .flat_map(|s| &s.media_endpoint_stats)
                .collect();
            let lowest = stats
                .iter()
                .map(|s| s.min_mos.unwrap())
                .fold(f64::MAX, f64::min);
            assert_eq!(lowest, quality.mos);
            assert_eq!(
                stats
                    .iter()
                    .map(|s| s.received_packets.unwrap())
                    .sum::<u64>(),
                quality.received
            );
            assert_eq!(
                stats
                    .iter()
                    .map(|s| s.discarded_packets.unwrap())
                    .sum::<u64>(),
                quality.discarded
            );
            let acd = conversation
                .participants
                .iter()
                .find(|p| p.purpose == "acd");
            let queue = acd.map(|p| p.sessions[0].segments[0].queue_id.as_deref().unwrap());
            assert_eq!(queue, call.queue_id);
            let agent = conversation
                .participants
                .iter()
                .find(|p| p.purpose == "agent");
            assert_eq!(agent.is_some(), call.answered_ms.is_some());
            if let Some(agent) = agent {
                assert_eq!(agent.sessions[0].edge_id, session.edge_id);
                assert!(agent.sessions[0].media_endpoint_stats[0].min_mos.unwrap() >= quality.mos);
            }
        }
    }
}
