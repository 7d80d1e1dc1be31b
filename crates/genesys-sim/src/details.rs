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
    // Ongoing calls have no end: they sort after every ended one. Ties go by ID.
    let key = |call: &super::VoiceCall| match (by_end, call.end_ms <= now_ms) {
        (false, _) => call.start_ms,
        (true, true) => call.end_ms,
        (true, false) => i64::MAX,
    };
    calls.sort_unstable_by(|a, b| (key(a), &a.conversation_id).cmp(&(key(b), &b.conversation_id)));
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

    /// The answers at a fixed instant (a simulator's clock runs on in a test that is not
    /// on paused time).
    struct Fixed {
        org: SimulatedOrg,
        now: Timestamp,
    }

    fn at(now: &str) -> Fixed {
        Fixed {
            org: SimulatedOrg::demo(),
            now: ts(now),
        }
    }

    trait Answers {
        fn conversation_details(
            &self,
            query: &ConversationDetailsQuery,
        ) -> Result<Value, ErrorBody>;
        fn org(&self) -> &SimulatedOrg;
    }

    impl Answers for Fixed {
        fn conversation_details(
            &self,
            query: &ConversationDetailsQuery,
        ) -> Result<Value, ErrorBody> {
            conversation_details(&self.org, None, None, query, self.now)
        }
        fn org(&self) -> &SimulatedOrg {
            &self.org
        }
    }

    impl Answers for Simulator {
        fn conversation_details(
            &self,
            query: &ConversationDetailsQuery,
        ) -> Result<Value, ErrorBody> {
            Simulator::conversation_details(self, query)
        }
        fn org(&self) -> &SimulatedOrg {
            Simulator::org(self)
        }
    }

    fn held_at(now: &str, degrade: Option<FailureSurge>) -> Simulator {
        Simulator::new(SimulatorConfig {
            clock: Clock::starting_at(ts(now)),
            edge_degrade: degrade,
            ..SimulatorConfig::default()
        })
    }

    fn voice_query(interval: &str, page_size: u32, page_number: u32) -> ConversationDetailsQuery {
        ConversationDetailsQuery::voice_quality(interval.into(), page_size, page_number)
    }

    fn page(sim: &impl Answers, query: &ConversationDetailsQuery) -> ConversationDetailsResponse {
        serde_json::from_value(sim.conversation_details(query).unwrap()).unwrap()
    }

    /// Every page of `query` from 1 until one comes back without conversations.
    fn all_pages(sim: &impl Answers, query: &ConversationDetailsQuery) -> Vec<DetailConversation> {
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

    #[tokio::test(start_paused = true)]
    async fn the_endpoint_answers_the_voice_quality_query_and_counts_it() {
        let sim = held_at(NOW, None);
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
            if let Some(acd) = acd {
                let routed = acd.sessions[0].segments[0]
                    .segment_start
                    .as_deref()
                    .unwrap();
                assert!(
                    ts(routed).as_millisecond() > call.start_ms,
                    "routed after it arrived"
                );
            }
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

    #[test]
    fn pages_concatenate_to_the_days_ended_calls_latest_first() {
        let sim = at(NOW);
        let query = voice_query("2026-08-20T14:00:00Z/2026-08-20T14:59:00Z", 100, 1);
        let first = page(&sim, &query);
        // What one page of a whole day costs (printed with --nocapture).
        let midnight = at("2026-08-21T00:00:00Z");
        let started = std::time::Instant::now();
        let whole_day = page(&midnight, &query);
        eprintln!(
            "one page of a full day of {} calls: {:?}",
            whole_day.total_hits,
            started.elapsed()
        );
        let all = all_pages(&sim, &query);
        let expected = ended_calls_of_day(sim.org(), "2026-08-20", NOW);
        let ids: Vec<&str> = all.iter().map(|c| c.conversation_id.as_str()).collect();
        let expected_ids: Vec<&str> = expected
            .iter()
            .map(|c| c.conversation_id.as_str())
            .collect();
        assert!(
            ids == expected_ids,
            "the pages are the day's calls, in order"
        );
        assert_eq!(first.total_hits as usize, expected.len());
        assert!(expected.len() > 5_000, "most of a day: {}", expected.len());
        // The page past the end has totalHits and no conversations key.
        let past = (expected.len() / 100 + 2) as u32;
        let answer = sim
            .conversation_details(&voice_query(&query.interval, 100, past))
            .unwrap();
        assert_eq!(answer, json!({"totalHits": expected.len()}));
    }

    #[test]
    fn pages_order_by_start_or_end_either_way() {
        // Early in the day: a few pages.
        let now = "2026-08-20T07:00:00Z";
        let sim = at(now);
        let calls = ended_calls_of_day(sim.org(), "2026-08-20", now);
        assert!(calls.len() > 300, "{}", calls.len());
        let order = |by: &str, order: Option<&str>| {
            let mut query = voice_query("2026-08-20T10:00:00Z/2026-08-20T10:01:00Z", 100, 1);
            query.order_by = Some(by.into());
            query.order = order.map(Into::into);
            let ids: Vec<String> = all_pages(&sim, &query)
                .into_iter()
                .map(|c| c.conversation_id)
                .collect();
            ids
        };
        let sorted = |key: fn(&crate::VoiceCall) -> i64| {
            let mut calls = calls.clone();
            calls.sort_by_key(|c| (key(c), c.conversation_id.clone()));
            calls
                .into_iter()
                .map(|c| c.conversation_id)
                .collect::<Vec<_>>()
        };
        let by_start = sorted(|c| c.start_ms);
        let mut by_end = sorted(|c| c.end_ms);
        assert!(
            order("conversationStart", None) == by_start,
            "ascending by default"
        );
        assert!(order("conversationEnd", Some("asc")) == by_end, "by end");
        by_end.reverse();
        assert!(
            order("conversationEnd", Some("desc")) == by_end,
            "latest end first"
        );
        let mut query = voice_query("2026-08-20T10:00:00Z/2026-08-20T10:01:00Z", 10, 1);
        query.order_by = None;
        query.order = None;
        let first = page(&sim, &query).conversations.unwrap();
        let ids: Vec<&str> = first.iter().map(|c| c.conversation_id.as_str()).collect();
        assert_eq!(ids, by_start[..10], "by start unless told");
    }

    #[test]
    fn the_interval_matches_whole_days_of_conversation_start() {
        let sim = at("2026-08-21T09:00:00Z");
        let hits = |interval: &str| page(&sim, &voice_query(interval, 1, 1)).total_hits as usize;
        let now = "2026-08-21T09:00:00Z";
        let day_20 = ended_calls_of_day(sim.org(), "2026-08-20", now).len();
        let day_21 = ended_calls_of_day(sim.org(), "2026-08-21", now).len();
        assert!(day_20 > 10_000 && day_21 > 100, "{day_20} {day_21}");
        assert_eq!(
            hits("2026-08-20T23:30:00Z/2026-08-20T23:31:00Z"),
            day_20,
            "one minute"
        );
        assert_eq!(
            hits("2026-08-20T23:59:00Z/2026-08-21T00:01:00Z"),
            day_20 + day_21
        );
        assert_eq!(
            hits("2026-08-20T12:00:00Z/2026-08-21T00:00:00Z"),
            day_20,
            "the end is out"
        );
        assert_eq!(
            hits("2026-08-22T00:00:00Z/2026-08-23T00:00:00Z"),
            0,
            "the future"
        );
    }

    #[test]
    fn ongoing_calls_appear_once_they_have_ended() {
        let mut sim = at("2026-08-20T14:07:30Z");
        let org = SimulatedOrg::demo();
        let active = crate::voice_calls_active(&org, None, sim.now);
        let ongoing = &active[0];
        let query = |id: &str, ended: bool| {
            let operator = if ended { "exists" } else { "notExists" };
            ConversationDetailsQuery {
                conversation_filters: vec![json!({"type": "and", "predicates": [
                    {"dimension": "conversationId", "value": id},
                    {"dimension": "conversationEnd", "operator": operator}]})],
                ..voice_query("2026-08-20T14:00:00Z/2026-08-20T14:10:00Z", 100, 1)
            }
        };
        assert_eq!(
            page(&sim, &query(&ongoing.conversation_id, true)).total_hits,
            0
        );
        let answer = page(&sim, &query(&ongoing.conversation_id, false));
        let conversation = &answer.conversations.unwrap()[0];
        assert_eq!(conversation.conversation_end, None);
        assert_eq!(conversation.media_stats_min_conversation_mos, None);
        let ended = sim.now.as_millisecond();
        let hits = page(
            &sim,
            &voice_query("2026-08-20T14:00:00Z/2026-08-20T14:10:00Z", 1, 1),
        )
        .total_hits;
        let ended_by = |ms: i64| {
            ended_calls_of_day(
                &org,
                "2026-08-20",
                &Timestamp::from_millisecond(ms).unwrap().to_string(),
            )
            .len() as u64
        };
        assert_eq!(hits, ended_by(ended));
        // The clock moves past its end.
        sim.now = Timestamp::from_millisecond(ongoing.end_ms).unwrap();
        let answer = page(&sim, &query(&ongoing.conversation_id, true));
        let conversation = &answer.conversations.unwrap()[0];
        let quality = call_quality(&org, None, ongoing);
        assert_eq!(
            conversation.media_stats_min_conversation_mos,
            Some(quality.mos)
        );
        let hits = page(
            &sim,
            &voice_query("2026-08-20T14:00:00Z/2026-08-20T14:10:00Z", 1, 1),
        )
        .total_hits;
        assert_eq!(hits, ended_by(ongoing.end_ms));
        assert!(hits > ended_by(ended));
    }

    #[test]
    fn paging_and_intervals_past_the_caps_are_refused_as_the_api_does() {
        let sim = at(NOW);
        let refused =
            |query: &ConversationDetailsQuery| sim.conversation_details(query).unwrap_err();
        let day = "2026-08-20T14:00:00Z/2026-08-20T14:01:00Z";
        let error = refused(&voice_query(day, 100, 1001));
        assert_eq!(
            (error.status, error.message.as_str()),
            (400, "Pagination may not exceed 100000 results.")
        );
        assert!(
            sim.conversation_details(&voice_query(day, 100, 1000))
                .is_ok(),
            "up to 100000"
        );
        let error = refused(&voice_query(day, 101, 1));
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "constraint.validation")
        );
        assert!(
            error.message.contains("pageSize must be from 1 to 100"),
            "{}",
            error.message
        );
        assert_eq!(refused(&voice_query(day, 10, 0)).status, 400);
        // 31 days with a filter, 7 without.
        let month = "2026-07-20T00:00:00Z/2026-08-20T00:00:00Z";
        assert!(sim.conversation_details(&voice_query(month, 1, 1)).is_ok());
        let error = refused(&voice_query(
            "2026-07-20T00:00:00Z/2026-08-20T00:00:01Z",
            1,
            1,
        ));
        assert_eq!(error.message, "The interval is too long: at most 31 days");
        let bare = |interval: &str| ConversationDetailsQuery {
            interval: interval.into(),
            order: None,
            order_by: None,
            paging: None,
            conversation_filters: Vec::new(),
            segment_filters: Vec::new(),
        };
        let week = sim.conversation_details(&bare("2026-08-13T15:00:00Z/2026-08-20T15:00:00Z"));
        assert_eq!(
            week.unwrap()["conversations"].as_array().unwrap().len(),
            25,
            "25 by default"
        );
        let error = refused(&bare("2026-08-13T14:59:59Z/2026-08-20T15:00:00Z"));
        assert_eq!(
            error.message,
            "The interval is too long: at most 7 days without a filter"
        );
        assert_eq!(
            refused(&bare("2026-08-20T15:00:00Z/2026-08-20T14:00:00Z")).code,
            "invalid.date"
        );
    }

    #[test]
    fn filters_the_simulator_cannot_read_are_refused_naming_them() {
        let sim = at(NOW);
        let with = |conversation: Value, segment: Value| ConversationDetailsQuery {
            conversation_filters: vec![conversation],
            segment_filters: vec![segment],
            ..voice_query("2026-08-20T14:00:00Z/2026-08-20T14:01:00Z", 1, 1)
        };
        let voice =
            json!({"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]});
        let ended = json!({"type": "and", "predicates": [{"dimension": "conversationEnd", "operator": "exists"}]});
        for (conversation, segment, named) in [
            (
                json!({"type": "and", "predicates": [{"dimension": "divisionId", "value": "d"}]}),
                voice.clone(),
                "divisionId",
            ),
            (
                json!({"type": "and", "predicates": [{"type": "metric", "metric": "tTalk", "range": {"gt": 1}}]}),
                voice.clone(),
                "metric",
            ),
            (
                json!({"type": "xor", "predicates": []}),
                voice.clone(),
                "xor",
            ),
            (
                ended.clone(),
                json!({"type": "and", "predicates": [{"dimension": "queueId", "value": "q"}]}),
                "queueId",
            ),
        ] {
            let error = sim
                .conversation_details(&with(conversation, segment))
                .unwrap_err();
            assert_eq!((error.status, error.code.as_str()), (400, "invalid.value"));
            assert!(error.message.contains(named), "{}", error.message);
        }
        // Every call is an inbound voice call: another media type or direction matches none.
        let chat =
            json!({"type": "or", "predicates": [{"dimension": "mediaType", "value": "chat"}]});
        assert_eq!(page(&sim, &with(ended.clone(), chat)).total_hits, 0);
        let outbound = json!({"type": "and", "predicates": [{"dimension": "originatingDirection", "value": "outbound"}]});
        assert_eq!(page(&sim, &with(outbound, voice.clone())).total_hits, 0);
        let all = page(&sim, &with(ended, voice)).total_hits;
        assert_eq!(
            all as usize,
            ended_calls_of_day(sim.org(), "2026-08-20", NOW).len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_edge_degrade_reaches_the_answer_for_that_edges_calls() {
        let start = ts("2026-08-20T14:00:00Z");
        let hq1 = crate::edges(&SimulatedOrg::demo())[0].clone();
        let degrade = FailureSurge {
            target: "Edge HQ 1".into(),
            start,
        };
        let sim = held_at(NOW, Some(degrade.clone()));
        // The latest ended first: the pages down to the fault's start.
        let mut all = Vec::new();
        for number in 1.. {
            let query = voice_query("2026-08-20T14:00:00Z/2026-08-20T14:01:00Z", 100, number);
            all.extend(page(&sim, &query).conversations.unwrap());
            let oldest = all.last().unwrap().conversation_end.as_deref().unwrap();
            if ts(oldest) < start {
                break;
            }
        }
        let calls = ended_calls_of_day(sim.org(), "2026-08-20", NOW);
        let mut degraded = 0;
        for (conversation, call) in all.iter().zip(&calls) {
            let mos = conversation.media_stats_min_conversation_mos.unwrap();
            assert_eq!(mos, call_quality(sim.org(), Some(&degrade), call).mos);
            let on_hq1 = conversation.participants[0].sessions[0].edge_id.as_deref()
                == Some(hq1.id.as_str());
            if on_hq1 && call.end_ms >= start.as_millisecond() {
                degraded += 1;
                assert!(mos < 3.0, "{conversation:?}");
            }
        }
        assert!(degraded > 300, "{degraded}");
        assert!(
            all.iter()
                .any(|c| c.media_stats_min_conversation_mos.unwrap() >= 4.0)
        );
    }
}
