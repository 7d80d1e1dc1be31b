//! The publisher: every query's latest samples, and the exposition rendered from them,
//! swapped whole so that a scrape only copies a pointer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use super::flatten::QuerySamples;
use super::render::Exposition;
use crate::metrics::{BreakerState, Metrics};
use crate::queue_names::NameMap;
use crate::schedule::Interval;

/// How a query's polls have gone, for the landing page and `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct QueryStatus {
    pub last_poll: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub window: Option<Interval>,
    pub last_error: Option<String>,
    /// The data passed its maximum age and is no longer served.
    pub stale: bool,
}

#[derive(Default)]
struct QueryState {
    /// Whether readiness waits for it: the queries the publisher was made with do, the
    /// queue observations (published without being listed) do not, since a missing
    /// permission may keep them from ever publishing.
    required: bool,
    data: Option<Arc<QuerySamples>>,
    /// When `data` passes its maximum age.
    stale_at: Option<Timestamp>,
    status: QueryStatus,
}

/// The exposition last rendered, and what it was rendered from that can change without a
/// poll.
#[derive(Default)]
struct Rendered {
    exposition: Arc<Exposition>,
    /// When the oldest data rendered passes its maximum age.
    stale_at: Option<Timestamp>,
    /// The circuit breaker's state when it was rendered.
    breaker: BreakerState,
}

/// Holds every query's latest data and the exposition rendered from it.
pub struct Publisher {
    metrics: Arc<Metrics>,
    state: Mutex<BTreeMap<String, QueryState>>,
    names: Mutex<NameMap>,
    /// The client's circuit breaker: while it is not closed, no query is up. Replaced
    /// when a reload builds a new client.
    breaker: RwLock<watch::Receiver<BreakerState>>,
    current: RwLock<Rendered>,
}

impl Publisher {
    pub fn new<'a>(
        metrics: Arc<Metrics>,
        queries: impl IntoIterator<Item = &'a str>,
        breaker: watch::Receiver<BreakerState>,
    ) -> Publisher {
        let state = queries
            .into_iter()
            .map(|q| {
                let state = QueryState {
                    required: true,
                    ..QueryState::default()
                };
                (q.to_owned(), state)
            })
            .collect();
        let publisher = Publisher {
            metrics,
            state: Mutex::new(state),
            names: Mutex::default(),
            breaker: RwLock::new(breaker),
            current: RwLock::default(),
        };
        publisher.render(
            &mut publisher.state.lock().expect("not poisoned"),
            Timestamp::UNIX_EPOCH,
        );
        publisher
    }

    /// What to serve at `now`. Usually the exposition of the last publish; rendered anew
    /// when data in it has passed its maximum age, so that stale data is never served as
    /// current however long the next poll takes, or when the circuit breaker changed
    /// state, which `genesys_up` follows.
    pub fn current(&self, now: Timestamp) -> Arc<Exposition> {
        if let Some(current) = self.still_valid(now) {
            return current;
        }
        let mut state = self.state.lock().expect("not poisoned");
        // Another scrape may have rendered it while this one waited for the lock.
        if let Some(current) = self.still_valid(now) {
            return current;
        }
        self.render(&mut state, now)
    }

    /// The exposition last rendered, if it is still what to serve at `now`.
    fn still_valid(&self, now: Timestamp) -> Option<Arc<Exposition>> {
        let current = self.current.read().expect("not poisoned");
        let valid = current.stale_at.is_none_or(|stale_at| now < stale_at)
            && current.breaker == self.breaker_now();
        valid.then(|| current.exposition.clone())
    }

    /// The state of the client's circuit breaker now.
    fn breaker_now(&self) -> BreakerState {
        *self.breaker.read().expect("not poisoned").borrow()
    }

    /// Follows the circuit breaker of a new client, built by a reload.
    pub fn set_breaker(&self, breaker: watch::Receiver<BreakerState>) {
        *self.breaker.write().expect("not poisoned") = breaker;
    }

    /// Every query's status, by name.
    pub fn statuses(&self) -> Vec<(String, QueryStatus)> {
        let state = self.state.lock().expect("not poisoned");
        state
            .iter()
            .map(|(name, query)| (name.clone(), query.status.clone()))
            .collect()
    }

    /// True once every query the publisher was made with has published data at least once.
    pub fn ready(&self) -> bool {
        self.waiting().is_empty()
    }

    /// The queries the publisher was made with that have not published data yet.
    pub fn waiting(&self) -> Vec<String> {
        let state = self.state.lock().expect("not poisoned");
        state
            .iter()
            .filter(|(_, query)| query.required && query.status.last_success.is_none())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Replaces `query`'s data after a successful poll at `at`; it is served until
    /// `max_age` after that, unless newer data replaces it first.
    pub fn publish(
        &self,
        query: &str,
        window: Interval,
        data: QuerySamples,
        at: Timestamp,
        max_age: Duration,
    ) {
        let mut state = self.state.lock().expect("not poisoned");
        let entry = state.entry(query.to_owned()).or_default();
        entry.data = Some(Arc::new(data));
        // A max age too long for a timestamp never comes.
        entry.stale_at = SignedDuration::try_from(max_age)
            .ok()
            .and_then(|max_age| at.checked_add(max_age).ok());
        let status = &mut entry.status;
        status.last_poll = Some(at);
        status.last_success = Some(at);
        status.window = Some(window);
        status.last_error = None;
        status.stale = false;
        self.render(&mut state, at);
    }

    /// Puts queue names on the published data, from `now` and at every publish after.
    pub fn set_queue_names(&self, names: NameMap, now: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        *self.names.lock().expect("not poisoned") = names;
        self.render(&mut state, now);
    }

    /// Records a failed poll; the query's previous data stays until its maximum age.
    pub fn failed(&self, query: &str, error: String, at: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        let status = &mut state.entry(query.to_owned()).or_default().status;
        status.last_poll = Some(at);
        status.last_error = Some(error);
        self.render(&mut state, at);
    }

    /// Starts holding `query`, added by a reload. Readiness does not wait for it: a reload
    /// never takes a ready exporter out of service.
    pub fn add_query(&self, query: &str, now: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        state.entry(query.to_owned()).or_default();
        self.render(&mut state, now);
    }

    /// Forgets `query`, removed by a reload (or changed, before it starts again): its
    /// series leave the exposition at once. Its poller must have stopped first, or its
    /// next publish would bring it back.
    pub fn remove_query(&self, query: &str, now: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        state.remove(query);
        self.render(&mut state, now);
    }

    /// Renders again at `now`, for a change in the self-metrics that must show before the
    /// next poll (the outcome of a reload).
    pub fn render_now(&self, now: Timestamp) {
        let mut state = self.state.lock().expect("not poisoned");
        self.render(&mut state, now);
    }

    /// Drops data past its maximum age, sets each query's `genesys_up`, and renders what
    /// is left with the self-metrics.
    fn render(&self, state: &mut BTreeMap<String, QueryState>, now: Timestamp) -> Arc<Exposition> {
        let breaker = self.breaker_now();
        for (name, query) in state.iter_mut() {
            if query.data.is_some() && query.stale_at.is_some_and(|stale_at| now >= stale_at) {
                query.data = None;
                query.stale_at = None;
                query.status.stale = true;
                self.metrics.poll.expired(name);
                tracing::warn!(
                    query = %name,
                    last_success = ?query.status.last_success,
                    "no successful poll for longer than max_age; no longer serving the query's old data"
                );
            }
            let status = &query.status;
            let up = status.last_success.is_some()
                && status.last_error.is_none()
                && breaker == BreakerState::Closed;
            self.metrics.poll.up(name, up);
        }
        let queries: Vec<Arc<QuerySamples>> = state
            .values()
            .filter_map(|query| query.data.clone())
            .collect();
        let stale_at = state.values().filter_map(|query| query.stale_at).min();
        let names = self.names.lock().expect("not poisoned").clone();
        let exposition = Arc::new(Exposition::render(&queries, &names, &self.metrics));
        *self.current.write().expect("not poisoned") = Rendered {
            exposition: exposition.clone(),
            stale_at,
            breaker,
        };
        exposition
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::exposition::fixtures::{HOUR, entry, response, window};
    use crate::exposition::{Format, flatten};
    use crate::genesys::wire::Stats;

    /// A circuit breaker that stays closed.
    fn closed() -> watch::Receiver<BreakerState> {
        watch::channel(BreakerState::Closed).1
    }

    #[test]
    fn two_queries_share_one_family_block_per_gauge() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["a", "b"])), ["a", "b"], closed());
        assert!(!publisher.ready());
        for query in ["a", "b"] {
            let resp = response(vec![(
                vec![("queueId", "x")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(1.0),
                        ..Stats::default()
                    },
                )],
            )]);
            publisher.publish(
                query,
                window(),
                flatten(query, &["queueId".into()], window(), &resp),
                Timestamp::UNIX_EPOCH,
                HOUR,
            );
        }
        assert!(publisher.ready());
        let exposition = publisher.current(Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(exposition.to_vec(Format::Text, false)).unwrap();
        assert_eq!(
            text.matches("# TYPE genesys_conversation_offered gauge")
                .count(),
            1
        );
        assert_eq!(text.matches("genesys_conversation_offered{").count(), 2);
        let openmetrics = String::from_utf8(exposition.to_vec(Format::OpenMetrics, false)).unwrap();
        assert!(openmetrics.ends_with("# EOF\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn queue_names_go_beside_queue_ids_once_known() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["q"])), ["q"], closed());
        let resp = response(vec![
            (
                vec![("queueId", "id-1"), ("mediaType", "voice")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(2.0),
                        ..Stats::default()
                    },
                )],
            ),
            (
                vec![("queueId", "id-2"), ("mediaType", "voice")],
                vec![entry(
                    "nOffered",
                    Stats {
                        count: Some(3.0),
                        ..Stats::default()
                    },
                )],
            ),
        ]);
        let group_by = ["queueId".to_string(), "mediaType".to_string()];
        publisher.publish(
            "q",
            window(),
            flatten("q", &group_by, window(), &resp),
            Timestamp::UNIX_EPOCH,
            HOUR,
        );
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-1\",media_type=\"voice\"} 2.0\n"), "{text}");

        let names = HashMap::from([("id-1".to_string(), "Sales \"EU\"".to_string())]);
        publisher.set_queue_names(Arc::new(names), Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-1\",queue=\"Sales \\\"EU\\\"\",media_type=\"voice\"} 2.0\n"), "{text}");
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"id-2\",media_type=\"voice\"} 3.0\n"), "an unknown queue has no name label: {text}");
    }

    #[test]
    fn a_failed_poll_keeps_the_previous_data() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["q"])), ["q"], closed());
        let resp = response(vec![(
            vec![("queueId", "x")],
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(7.0),
                    ..Stats::default()
                },
            )],
        )]);
        publisher.publish(
            "q",
            window(),
            flatten("q", &["queueId".into()], window(), &resp),
            Timestamp::UNIX_EPOCH,
            HOUR,
        );
        publisher.failed("q", "HTTP 400".into(), Timestamp::UNIX_EPOCH);
        let text = String::from_utf8(
            publisher
                .current(Timestamp::UNIX_EPOCH)
                .to_vec(Format::Text, false),
        )
        .unwrap();
        assert!(text.contains("genesys_conversation_offered{query=\"q\",queue_id=\"x\"} 7.0\n"));
        assert_eq!(
            publisher.statuses()[0].1.last_error.as_deref(),
            Some("HTTP 400")
        );
    }

    fn offered(count: f64) -> QuerySamples {
        let resp = response(vec![(
            vec![("queueId", "x")],
            vec![entry(
                "nOffered",
                Stats {
                    count: Some(count),
                    ..Stats::default()
                },
            )],
        )]);
        flatten("q", &["queueId".into()], window(), &resp)
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn text(publisher: &Publisher, now: &str) -> String {
        String::from_utf8(publisher.current(at(now)).to_vec(Format::Text, false)).unwrap()
    }

    #[test]
    fn data_past_its_max_age_is_dropped_even_without_a_poll() {
        let metrics = Arc::new(Metrics::new(["q"]));
        let publisher = Publisher::new(metrics.clone(), ["q"], closed());
        let sample = "genesys_conversation_offered{query=\"q\",queue_id=\"x\"} 7.0\n";
        let half_hour = Duration::from_secs(1800);
        metrics
            .poll
            .succeeded("q", window(), 1, at("2026-08-20T10:16:30Z"));
        publisher.publish(
            "q",
            window(),
            offered(7.0),
            at("2026-08-20T10:16:30Z"),
            half_hour,
        );
        publisher.failed("q", "HTTP 503".into(), at("2026-08-20T10:31:30Z"));
        assert!(text(&publisher, "2026-08-20T10:46:29Z").contains(sample));
        assert!(!publisher.statuses()[0].1.stale);

        // Half an hour after the last success: gone, at the first scrape after it.
        let stale = text(&publisher, "2026-08-20T10:46:30Z");
        assert!(!stale.contains("genesys_conversation_offered"), "{stale}");
        assert!(stale.contains("genesys_series{query=\"q\"} 0\n"), "{stale}");
        assert!(stale.contains("genesys_up{query=\"q\"} 0\n"), "{stale}");
        let status = &publisher.statuses()[0].1;
        assert!(status.stale);
        assert_eq!(status.last_success, Some(at("2026-08-20T10:16:30Z")));
        assert!(publisher.ready(), "it did publish once");

        // A successful poll brings data back.
        publisher.publish(
            "q",
            window(),
            offered(9.0),
            at("2026-08-20T10:50:00Z"),
            half_hour,
        );
        assert!(text(&publisher, "2026-08-20T10:50:00Z").contains("} 9.0\n"));
        assert!(!publisher.statuses()[0].1.stale);
    }

    #[test]
    fn up_is_1_after_a_successful_poll_while_the_breaker_is_closed() {
        let metrics = Arc::new(Metrics::new(["q", "r"]));
        let (breaker, state) = watch::channel(BreakerState::Closed);
        let publisher = Publisher::new(metrics.clone(), ["q", "r"], state);
        let now = "2026-08-20T10:16:30Z";
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 0\n"));
        publisher.publish("q", window(), offered(1.0), at(now), HOUR);
        let shown = text(&publisher, now);
        assert!(shown.contains("genesys_up{query=\"q\"} 1\n"), "{shown}");
        assert!(shown.contains("genesys_up{query=\"r\"} 0\n"), "{shown}");

        // The breaker opens while another query polls: q is down too, and the next
        // scrape says so without waiting for a poll.
        breaker.send_replace(BreakerState::Open);
        metrics.breaker.state(BreakerState::Open);
        let shown = text(&publisher, now);
        assert!(shown.contains("genesys_up{query=\"q\"} 0\n"), "{shown}");
        assert!(
            shown.contains("genesys_circuit_breaker_state 2\n"),
            "{shown}"
        );
        breaker.send_replace(BreakerState::Closed);
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 1\n"));

        publisher.failed("q", "HTTP 503".into(), at(now));
        assert!(text(&publisher, now).contains("genesys_up{query=\"q\"} 0\n"));
    }
}
