//! The voice quality: every `refresh`, the voice calls that ended in the window since the
//! last read (less `settle_delay`, for their media statistics to arrive), read from the
//! conversation details latest-ended first, each counted once into the histograms of
//! [`VoiceMetrics`](crate::metrics::VoiceMetrics) by queue and by Edge. Published under
//! `query="voice_quality"`: `genesys_voice_read_ratio`, the share of the calls asked for
//! that the page cap let it read.
//!
//! The window is [the last read's end − `settle_delay`, now − `settle_delay`): the overlap
//! catches calls whose details arrived late, the ledger of IDs keeps them from counting
//! twice. After a failed or late refresh the next one starts where the last good one
//! ended, at most [`LOOK_BACK`] back. A refresh that fails on any page counts nothing: its
//! calls are counted only once every page it needed was read.
//!
//! Its timing and its 403 are those of every collection of the present ([`Present`]):
//! without `analytics:conversationDetail:view` it warns once,
//! `genesys_up{query="voice_quality"}` is 0, and it asks again every hour; no other source
//! waits on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::present::{Present, Subject};
use super::{Collector, Outcome, Readiness};
use crate::budget::Cost;
use crate::config::{VOICE_QUALITY_QUERY, VoiceQualitySettings};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::exposition::{NameMap, QuerySamples, gauge_samples};
use crate::genesys::client::Client;
use crate::metrics::{CallQuality, Metrics, Place};
use genesys_wire::Endpoint;
use genesys_wire::catalogue::NameKind;
use genesys_wire::details::{
    ConversationDetailsQuery, ConversationDetailsResponse, DetailConversation, DetailSession,
};
use genesys_wire::labels::cap;
use genesys_wire::time::{Clock, Interval};

/// How far back a refresh after a failed or late one reads, at most: calls that ended
/// before are not read, and the ledger forgets their IDs.
pub const LOOK_BACK: Duration = Duration::from_secs(3600);
/// How long before the window the request's interval starts: no call lasts longer, and
/// the API matches the interval by each conversation's start.
pub const LONGEST_CALL: Duration = Duration::from_secs(4 * 3600);
/// The gauge, and its help.
pub const READ_RATIO: &str = "genesys_voice_read_ratio";
const HELP: &str = "Share of the matching conversations the last voice quality refresh read: 1 when it read down to its window's start, else (page cap) conversations read / totalHits";
/// The message of the API's 400 past its paging cap.
const PAGING_CAP: &str = "Pagination may not exceed";

const VOICE_QUALITY: Subject = Subject {
    what: "voice quality reads",
    one: "voice quality read",
    forbidden: "read the calls' voice quality",
    query: VOICE_QUALITY_QUERY,
    endpoint: Endpoint::ConversationDetails,
};

/// The calls that ended, read every refresh and counted once.
#[derive(Clone)]
pub struct VoiceQuality {
    settings: VoiceQualitySettings,
    client: Arc<Client>,
    /// Where the queue and Edge names come from.
    directory: Arc<Directory>,
    /// Where the calls are counted, with the ledger of those counted.
    metrics: Arc<Metrics>,
    present: Present,
}

impl VoiceQuality {
    pub fn new(
        settings: VoiceQualitySettings,
        client: Arc<Client>,
        directory: Arc<Directory>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> VoiceQuality {
        // The budget never stretches this refresh: a channel whose sender is gone.
        let fixed = watch::channel(None).1;
        let present = Present::new(VOICE_QUALITY, settings.refresh, fixed, clock);
        VoiceQuality {
            settings,
            client,
            directory,
            metrics,
            present,
        }
    }

    /// The queue and Edge names the directory holds now.
    fn names(&self) -> Names {
        Names {
            queues: self.directory.queues.current(),
            edges: self
                .directory
                .names(NameKind::Edge)
                .map(|names| names.current())
                .unwrap_or_default(),
        }
    }

    /// Reads the pages of `window`; the calls of it, by ID, and the read ratio.
    async fn read(&self, window: Interval, names: &Names) -> Result<Read> {
        let asked = Interval {
            start: earlier(window.start, LONGEST_CALL),
            end: window.end,
        };
        let mut read = Read::default();
        let mut returned = 0u64;
        let mut total_hits = 0u64;
        let mut reached_start = false;
        for page in 1..=self.settings.max_pages_per_refresh {
            let query = ConversationDetailsQuery::voice_quality(
                asked.to_string(),
                self.settings.page_size,
                page,
            );
            let answer = match self.client.conversation_details(&query).await {
                Ok(answer) => answer,
                // Past the API's paging cap (which the configuration's bounds keep it
                // from reaching): as far as the page cap, no failure.
                Err(error) if past_paging_cap(&error) => break,
                Err(error) => return Err(error),
            };
            total_hits = answer.total_hits;
            let oldest = read.add(answer, window, names);
            returned = returned.saturating_add(oldest.returned);
            if oldest.empty || oldest.end.is_some_and(|end| end < window.start) {
                reached_start = true;
                break;
            }
        }
        read.ratio = read_ratio(reached_start, returned, total_hits);
        Ok(read)
    }
}

/// The share of the matching conversations read: 1 when the reading reached the window's
/// start; else (the page cap stopped it) those `returned` ÷ `total_hits`, at most 1, and
/// nothing when the answer gave no `totalHits` (a share of an unknown, not a 1).
fn read_ratio(reached_start: bool, returned: u64, total_hits: u64) -> Option<f64> {
    match (reached_start, total_hits) {
        (true, _) => Some(1.0),
        (false, 0) => None,
        (false, total) => Some((returned as f64 / total as f64).min(1.0)),
    }
}

/// Whether `error` is the API's 400 for a page past the 100,000 results it pages through.
fn past_paging_cap(error: &Error) -> bool {
    matches!(error, Error::Api { status: 400, message, .. } if message.contains(PAGING_CAP))
}

/// The names put beside the IDs.
struct Names {
    queues: NameMap,
    edges: NameMap,
}

/// One refresh's reading: the calls of its window by ID, and how much it read.
#[derive(Debug, Default)]
struct Read {
    calls: HashMap<String, CallQuality>,
    ratio: Option<f64>,
    /// Label values cut to `max_label_value_bytes`.
    labels_cut: usize,
}

/// What a page said of where the reading stands.
struct Page {
    /// Without conversations: past the end.
    empty: bool,
    returned: u64,
    /// The oldest `conversationEnd` on it.
    end: Option<Timestamp>,
}

impl Read {
    /// Keeps the calls of `answer` that ended in `window`, each once.
    fn add(
        &mut self,
        answer: ConversationDetailsResponse,
        window: Interval,
        names: &Names,
    ) -> Page {
        let conversations = answer.conversations.unwrap_or_default();
        let mut page = Page {
            empty: conversations.is_empty(),
            returned: conversations.len() as u64,
            end: None,
        };
        for conversation in &conversations {
            let Some(call) = read_call(conversation) else {
                continue;
            };
            page.end = Some(
                page.end
                    .map_or(call.end, |end: Timestamp| end.min(call.end)),
            );
            if call.end < window.start || call.end >= window.end {
                continue;
            }
            let call = CallQuality {
                queue: self.place(call.queue, &names.queues),
                edge: self.place(call.edge, &names.edges),
                ..call
            };
            self.calls.insert(call.conversation_id.clone(), call);
        }
        page
    }

    /// Every place of `names` with an ID, as [`Read::place`] labels it.
    fn listed(&mut self, names: &NameMap) -> Vec<Place> {
        names
            .keys()
            .filter(|id| !id.is_empty())
            .map(|id| {
                let place = Place {
                    id: id.clone(),
                    name: String::new(),
                };
                self.place(place, names)
            })
            .collect()
    }

    /// `place` with its name from `names`, both cut to `max_label_value_bytes`.
    fn place(&mut self, place: Place, names: &NameMap) -> Place {
        let name = names.get(&place.id).map(String::as_str).unwrap_or_default();
        Place {
            name: cap(name, &mut self.labels_cut).into_owned(),
            id: cap(&place.id, &mut self.labels_cut).into_owned(),
        }
    }
}

/// What is counted of one conversation, its places by ID only; `None` when it has no ID,
/// no end that parses, or no MOS.
fn read_call(conversation: &DetailConversation) -> Option<CallQuality> {
    if conversation.conversation_id.is_empty() {
        return None;
    }
    let end: Timestamp = conversation.conversation_end.as_deref()?.parse().ok()?;
    let mos = conversation
        .media_stats_min_conversation_mos
        .filter(|mos| mos.is_finite())?;
    let place = |id: Option<&str>| Place {
        id: id.unwrap_or_default().to_owned(),
        name: String::new(),
    };
    Some(CallQuality {
        conversation_id: conversation.conversation_id.clone(),
        end,
        mos,
        r_factor: conversation
            .media_stats_min_conversation_r_factor
            .filter(|r| r.is_finite()),
        packet_loss: packet_loss(conversation),
        queue: place(queue_of(conversation)),
        edge: place(edge_of(conversation)),
    })
}

/// Σ discarded ÷ Σ received packets over every media endpoint of the conversation; `None`
/// when none were received.
fn packet_loss(conversation: &DetailConversation) -> Option<f64> {
    let stats = conversation
        .participants
        .iter()
        .flat_map(|p| &p.sessions)
        .flat_map(|s| &s.media_endpoint_stats);
    let (mut received, mut discarded) = (0u64, 0u64);
    for stat in stats {
        received = received.saturating_add(stat.received_packets.unwrap_or(0));
        discarded = discarded.saturating_add(stat.discarded_packets.unwrap_or(0));
    }
    (received > 0).then(|| discarded as f64 / received as f64)
}

/// The `queueId` of the latest ACD segment (by `segmentStart`; one whose start does not
/// parse counts as the earliest).
fn queue_of(conversation: &DetailConversation) -> Option<&str> {
    conversation
        .participants
        .iter()
        .filter(|p| p.purpose == "acd")
        .flat_map(|p| &p.sessions)
        .flat_map(|s| &s.segments)
        .filter_map(|segment| {
            let queue = segment.queue_id.as_deref().filter(|q| !q.is_empty())?;
            let start = segment
                .segment_start
                .as_deref()
                .and_then(|start| start.parse::<Timestamp>().ok());
            Some((start, queue))
        })
        .max_by_key(|(start, _)| *start)
        .map(|(_, queue)| queue)
}

/// The `edgeId` of the customer's first voice session with one, else of the first
/// session with one.
fn edge_of(conversation: &DetailConversation) -> Option<&str> {
    fn edge(session: &DetailSession) -> Option<&str> {
        session.edge_id.as_deref().filter(|e| !e.is_empty())
    }
    let participants = &conversation.participants;
    participants
        .iter()
        .filter(|p| p.purpose == "customer")
        .flat_map(|p| &p.sessions)
        .filter(|s| s.media_type == "voice")
        .find_map(edge)
        .or_else(|| participants.iter().flat_map(|p| &p.sessions).find_map(edge))
}

/// The window a refresh at `now` reads: up to `now − settle_delay` (to the whole second
/// before), from where the last read ended (`read_until`) less `settle_delay`, but at
/// most [`LOOK_BACK`] back; the first read, one `refresh` back. Saturates at the ends of
/// time. Whole seconds, as `genesys_interval_start_timestamp_seconds` and
/// `genesys_interval_end_timestamp_seconds` publish them: what they say is the window read.
pub fn window(
    now: Timestamp,
    read_until: Option<Timestamp>,
    refresh: Duration,
    settle_delay: Duration,
) -> Interval {
    let end = whole_second(earlier(now, settle_delay));
    let start = match read_until {
        Some(last) => earlier(last, settle_delay).max(earlier(end, LOOK_BACK)),
        None => earlier(end, refresh),
    };
    Interval {
        start: start.min(end),
        end,
    }
}

/// `at` without its fraction of a second: the whole second at or before it.
fn whole_second(at: Timestamp) -> Timestamp {
    let floor = TimestampRound::new()
        .smallest(Unit::Second)
        .mode(RoundMode::Floor);
    at.round(floor).unwrap_or(at)
}

/// `at − before`, or the start of time.
fn earlier(at: Timestamp, before: Duration) -> Timestamp {
    SignedDuration::try_from(before)
        .ok()
        .and_then(|before| at.checked_sub(before).ok())
        .unwrap_or(Timestamp::MIN)
}

impl Collector for VoiceQuality {
    fn name(&self) -> &str {
        VOICE_QUALITY_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::ConversationDetails
    }

    fn cost(&self) -> Cost {
        Cost::voice_quality(&self.settings)
    }

    fn readiness(&self) -> Readiness {
        Readiness::DoesNotWait
    }

    fn max_age(&self) -> Duration {
        self.present.max_age()
    }

    async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        let now = self.present.next(last, shutdown).await?.end;
        Some(window(
            now,
            self.metrics.voice.read_until(),
            self.settings.refresh,
            self.settings.settle_delay,
        ))
    }

    async fn collect(&mut self, window: Interval, _: usize) -> Result<QuerySamples> {
        let names = self.names();
        let mut read = self.read(window, &names).await?;
        // Every queue and Edge listed has its series before its first call is counted, so
        // that increase() sees that call; only IDs the directory does not list yet start
        // above 0.
        let queues = read.listed(&names.queues);
        let edges = read.listed(&names.edges);
        self.metrics.voice.create(queues, edges);
        self.metrics.limits.labels_cut(read.labels_cut);
        let counted = self.metrics.voice.count(
            read.calls.into_values(),
            self.settings.mos_threshold,
            window.end,
            earlier(
                window.end,
                LOOK_BACK.saturating_add(self.settings.settle_delay),
            ),
        );
        tracing::debug!(counted, read_ratio = ?read.ratio, "voice quality read");
        Ok(gauge_samples(
            VOICE_QUALITY_QUERY,
            READ_RATIO,
            HELP,
            Vec::new(),
            read.ratio
                .map(|ratio| (Vec::new(), ratio))
                .into_iter()
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    fn conversation(json: &str) -> DetailConversation {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_the_apis_paging_cap_400_ends_the_reading_without_failing_it() {
        let api = |status: u16, message: &str| Error::Api {
            endpoint: Endpoint::ConversationDetails,
            status,
            code: "bad.request".into(),
            message: message.into(),
            permission: None,
            correlation_id: None,
        };
        assert!(past_paging_cap(&api(
            400,
            "Pagination may not exceed 100000 results."
        )));
        assert!(!past_paging_cap(&api(
            400,
            "Interval may not exceed 31 days."
        )));
        assert!(!past_paging_cap(&api(
            500,
            "Pagination may not exceed 100000 results."
        )));
    }

    #[test]
    fn the_read_ratio_is_a_share_of_the_total_hits_only_when_the_page_cap_stopped() {
        assert_eq!(read_ratio(true, 40, 0), Some(1.0));
        assert_eq!(read_ratio(true, 40, 900), Some(1.0));
        assert_eq!(read_ratio(false, 200, 800), Some(0.25));
        // Pages that shifted returned more than totalHits, which is approximate.
        assert_eq!(read_ratio(false, 210, 200), Some(1.0));
        // Stopped by the cap without a totalHits: how much is left is unknown, not 0.
        assert_eq!(read_ratio(false, 200, 0), None);
    }

    #[test]
    fn windows_overlap_by_the_settle_delay_and_catch_up_at_most_an_hour() {
        let now = at("2026-08-20T10:00:00Z");
        let (refresh, settle) = (minutes(5), minutes(2));
        // The first: one refresh, ending a settle delay ago.
        assert_eq!(
            window(now, None, refresh, settle),
            "2026-08-20T09:53:00Z/2026-08-20T09:58:00Z".parse().unwrap()
        );
        // The next: from the last end, less the settle delay.
        let last = at("2026-08-20T09:58:00Z");
        assert_eq!(
            window(now + minutes(5), Some(last), refresh, settle),
            "2026-08-20T09:56:00Z/2026-08-20T10:03:00Z".parse().unwrap()
        );
        // Late by 40 minutes: all of it; by two hours: the last hour only.
        assert_eq!(
            window(now + minutes(45), Some(last), refresh, settle).start,
            at("2026-08-20T09:56:00Z")
        );
        assert_eq!(
            window(now + minutes(120), Some(last), refresh, settle),
            "2026-08-20T10:58:00Z/2026-08-20T11:58:00Z".parse().unwrap()
        );
        // On whole seconds, whatever the fraction of `now`.
        let late = now + SignedDuration::from_millis(1_999);
        assert_eq!(
            window(late, None, refresh, settle),
            "2026-08-20T09:53:01Z/2026-08-20T09:58:01Z".parse().unwrap()
        );
        assert_eq!(
            window(
                late + minutes(5),
                Some(at("2026-08-20T09:58:01Z")),
                refresh,
                settle
            ),
            "2026-08-20T09:56:01Z/2026-08-20T10:03:01Z".parse().unwrap()
        );
        // A clock that went back never makes a window that ends before it starts.
        let back = window(now - minutes(30), Some(last), refresh, settle);
        assert_eq!(back.start, back.end);
        // At the ends of time it saturates.
        let first = window(Timestamp::MIN, None, refresh, settle);
        assert_eq!((first.start, first.end), (Timestamp::MIN, Timestamp::MIN));
        assert_eq!(earlier(now, Duration::MAX), Timestamp::MIN);
    }

    #[test]
    fn a_call_is_read_on_its_latest_acd_queue_and_its_customers_edge() {
        let call = read_call(&conversation(
            r#"{"conversationId": "c1", "conversationEnd": "2026-08-20T09:57:00.000Z",
              "mediaStatsMinConversationMos": 4.1, "mediaStatsMinConversationRFactor": 88.5,
              "participants": [
                {"purpose": "ivr", "sessions": [{"mediaType": "voice", "edgeId": "e-ivr"}]},
                {"purpose": "customer", "sessions": [
                  {"mediaType": "callback", "edgeId": "e-callback"},
                  {"mediaType": "voice", "edgeId": "e-customer", "mediaEndpointStats": [
                    {"receivedPackets": 1000, "discardedPackets": 3},
                    {"receivedPackets": 1000, "discardedPackets": 7}]}]},
                {"purpose": "acd", "sessions": [{"mediaType": "voice", "segments": [
                  {"segmentStart": "2026-08-20T09:50:00Z", "queueId": "q-first"},
                  {"segmentStart": "2026-08-20T09:52:00Z", "queueId": "q-transferred"},
                  {"segmentStart": "2026-08-20T09:53:00Z"}]}]},
                {"purpose": "agent", "sessions": [{"segments": [
                  {"segmentStart": "2026-08-20T09:55:00Z", "queueId": "q-agent"}]}]}]}"#,
        ))
        .unwrap();
        assert_eq!(call.conversation_id, "c1");
        assert_eq!(call.end, at("2026-08-20T09:57:00Z"));
        assert_eq!((call.mos, call.r_factor), (4.1, Some(88.5)));
        assert_eq!(call.queue.id, "q-transferred", "the latest ACD segment's");
        assert_eq!(call.edge.id, "e-customer", "the customer's voice session's");
        assert_eq!(call.packet_loss, Some(10.0 / 2000.0));
    }

    #[test]
    fn without_a_customer_edge_the_first_session_with_one_and_without_packets_no_loss() {
        let call = read_call(&conversation(
            r#"{"conversationId": "c2", "conversationEnd": "2026-08-20T09:57:00Z",
              "mediaStatsMinConversationMos": 2.0,
              "participants": [
                {"purpose": "customer", "sessions": [{"mediaType": "voice",
                  "mediaEndpointStats": [{"receivedPackets": 0, "discardedPackets": 4}]}]},
                {"purpose": "agent", "sessions": [{"mediaType": "voice", "edgeId": "e-agent"}]}]}"#,
        ))
        .unwrap();
        assert_eq!(call.edge.id, "e-agent");
        assert_eq!(call.queue.id, "", "an agent-direct call");
        assert_eq!(call.packet_loss, None, "nothing received: no ratio");
        assert_eq!(call.r_factor, None);
        // No ID, no end that parses, or no MOS: not a call to count.
        for json in [
            r#"{"conversationEnd": "2026-08-20T09:57:00Z", "mediaStatsMinConversationMos": 4}"#,
            r#"{"conversationId": "c", "conversationEnd": "yesterday", "mediaStatsMinConversationMos": 4}"#,
            r#"{"conversationId": "c", "mediaStatsMinConversationMos": 4}"#,
            r#"{"conversationId": "c", "conversationEnd": "2026-08-20T09:57:00Z"}"#,
        ] {
            assert_eq!(read_call(&conversation(json)), None, "{json}");
        }
    }

    #[test]
    fn a_page_keeps_the_calls_of_the_window_once_with_their_names() {
        let window: Interval = "2026-08-20T09:53:00Z/2026-08-20T09:58:00Z".parse().unwrap();
        let names = Names {
            queues: Arc::new([("q1".to_owned(), "Sales".to_owned())].into()),
            edges: NameMap::default(),
        };
        let call = |id: &str, end: &str| {
            format!(
                r#"{{"conversationId": "{id}", "conversationEnd": "{end}", "mediaStatsMinConversationMos": 4,
                   "participants": [{{"purpose": "acd", "sessions": [{{"segments": [{{"queueId": "q1"}}]}}]}},
                                    {{"purpose": "customer", "sessions": [{{"mediaType": "voice", "edgeId": "e1"}}]}}]}}"#
            )
        };
        let page: ConversationDetailsResponse = serde_json::from_str(&format!(
            r#"{{"totalHits": 9, "conversations": [{}, {}, {}, {}, {}]}}"#,
            call("late", "2026-08-20T09:58:00Z"),
            call("c1", "2026-08-20T09:57:59Z"),
            call("c1", "2026-08-20T09:57:59Z"),
            call("c2", "2026-08-20T09:53:00Z"),
            call("early", "2026-08-20T09:52:59Z"),
        ))
        .unwrap();
        let mut read = Read::default();
        let seen = read.add(page, window, &names);
        assert!(!seen.empty);
        assert_eq!(seen.returned, 5);
        assert_eq!(seen.end, Some(at("2026-08-20T09:52:59Z")));
        let mut ids: Vec<&str> = read.calls.keys().map(String::as_str).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["c1", "c2"], "the window's, each once");
        let c1 = &read.calls["c1"];
        assert_eq!(
            (c1.queue.name.as_str(), c1.edge.name.as_str()),
            ("Sales", "")
        );
        // A page past the end has no conversations key.
        let past: ConversationDetailsResponse =
            serde_json::from_str(r#"{"totalHits": 9}"#).unwrap();
        assert!(read.add(past, window, &names).empty);
    }
}
