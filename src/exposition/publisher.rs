//! The publisher: every org's queries' latest samples, and the exposition rendered from
//! them, swapped whole so that a scrape only copies a pointer.
//!
//! One process serves several orgs from one `/metrics`, each family once: the orgs share
//! one store, and each org's pollers hold a [`Publisher`] of their org, a cheap handle on
//! it whose methods touch that org's queries, queue names and circuit breaker only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use super::blocking::{off_the_workers, render_off_the_workers};
use super::flatten::QuerySamples;
use super::names::{NameMap, Names};
use super::render::Exposition;
use crate::metrics::{BreakerState, Metrics, OBSERVATION_DROP_REASONS};
use crate::org::Org;
use genesys_wire::catalogue::NameKind;
use genesys_wire::time::Interval;

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
    /// Whether readiness waits for it: the queries the org was added with do, the queue
    /// observations (published without being listed) do not, since a missing permission
    /// may keep them from ever publishing.
    required: bool,
    data: Option<Arc<QuerySamples>>,
    /// When `data` passes its maximum age.
    stale_at: Option<Timestamp>,
    status: QueryStatus,
}

/// One org's queries, and what its data is rendered with.
struct OrgState {
    /// The org's view of the metrics, for its `genesys_up` and expired series.
    metrics: Metrics,
    /// Its names by ID, per kind: the same ID may have another name in another org.
    names: Names,
    queries: BTreeMap<String, QueryState>,
}

/// The exposition last rendered, and what it was rendered from that can change without a
/// poll.
#[derive(Default)]
struct Rendered {
    exposition: Arc<Exposition>,
    /// When the oldest data rendered passes its maximum age.
    stale_at: Option<Timestamp>,
    /// Each org's circuit breaker state when it was rendered, in the order of `breakers`.
    breakers: Vec<(Org, BreakerState)>,
    /// The number of changes it was rendered after ([`Store::changes`]).
    covers: u64,
}

/// What every org's publisher shares.
struct Store {
    /// Any view of the one registry: rendering writes all of it.
    metrics: Arc<Metrics>,
    orgs: Mutex<BTreeMap<Org, OrgState>>,
    /// Each org's client's circuit breaker: while one is not closed, none of that org's
    /// queries is up. Replaced when a reload builds a new client. Apart from `orgs` so
    /// that a scrape checks them without waiting for a publish.
    breakers: RwLock<BTreeMap<Org, watch::Receiver<BreakerState>>>,
    /// Held through a render, so that renders follow each other and each one sees every
    /// change made before it began; `orgs` is held only to change it and to collect what
    /// to render, so that a render (tens of milliseconds at 200k series) keeps no other
    /// org's or query's publish, status or readiness waiting.
    rendering: Mutex<()>,
    current: RwLock<Rendered>,
    /// Changes to `orgs` so far, counted under its lock: a render that collects them
    /// covers every change up to the count it reads.
    changes: AtomicU64,
    /// Renders so far.
    renders: AtomicU64,
}

/// Holds every org's queries' latest data and the exposition rendered from it: a cheap
/// handle on a store that every org's publisher shares, for one org. [`Publisher::current`]
/// and the other store-wide methods see every org; [`Publisher::publish`] and the other
/// per-org methods touch this handle's org only, and do nothing once it was removed.
#[derive(Clone)]
pub struct Publisher {
    shared: Arc<Store>,
    org: Org,
}

impl Publisher {
    /// A publisher of the unnamed org (a configuration without `[[orgs]]`), which readiness
    /// waits for `queries` of: [`Publisher::add_org`] on an empty one.
    pub fn new<'a>(
        metrics: Arc<Metrics>,
        queries: impl IntoIterator<Item = &'a str>,
        breaker: watch::Receiver<BreakerState>,
    ) -> Publisher {
        Publisher::empty(metrics).add_org(
            Org::unnamed(),
            queries,
            true,
            breaker,
            Timestamp::UNIX_EPOCH,
        )
    }

    /// A publisher without any org yet, for a configuration with `[[orgs]]`: each is added
    /// with [`Publisher::add_org`]. The handle returned is for the store-wide methods; its
    /// per-org methods are for the unnamed org, which it does not have, and do nothing.
    pub fn empty(metrics: Arc<Metrics>) -> Publisher {
        let store = Store {
            metrics,
            orgs: Mutex::default(),
            breakers: RwLock::default(),
            rendering: Mutex::default(),
            current: RwLock::default(),
            changes: AtomicU64::new(0),
            renders: AtomicU64::new(0),
        };
        store.render(Timestamp::UNIX_EPOCH);
        Publisher {
            shared: Arc::new(store),
            org: Org::unnamed(),
        }
    }

    /// Starts holding `org` and its `queries`, whose client's circuit breaker is
    /// `breaker`, and its metrics' series ([`Metrics::add_org`]); readiness waits for the
    /// queries when `ready_waits` (an org added at start-up; one added by a reload never
    /// takes a ready exporter out of service). Returns the publisher its pollers use. An
    /// org already held keeps its data and takes `breaker`.
    pub fn add_org<'a>(
        &self,
        org: Org,
        queries: impl IntoIterator<Item = &'a str>,
        ready_waits: bool,
        breaker: watch::Receiver<BreakerState>,
        now: Timestamp,
    ) -> Publisher {
        let queries: Vec<&str> = queries.into_iter().collect();
        let shared = &self.shared;
        let mut orgs = shared.orgs.lock().expect("not poisoned");
        let state = orgs
            .entry(org.clone())
            .or_insert_with(|| shared.org_state(&org));
        state.metrics.start(queries.iter().copied());
        for query in queries {
            state.queries.entry(query.to_owned()).or_default().required |= ready_waits;
        }
        shared
            .breakers
            .write()
            .expect("not poisoned")
            .insert(org.clone(), breaker);
        let change = shared.changed();
        drop(orgs);
        shared.render_covering(now, change);
        Publisher {
            shared: self.shared.clone(),
            org,
        }
    }

    /// Forgets `org`, removed by a reload: its series, and every series of its metrics
    /// ([`Metrics::forget_org`]), leave the exposition at once. Its pollers must have
    /// stopped first; a publish on its publisher after this does nothing.
    pub fn remove_org(&self, org: &Org, now: Timestamp) {
        let shared = &self.shared;
        let mut orgs = shared.orgs.lock().expect("not poisoned");
        let removed = orgs.remove(org);
        shared.breakers.write().expect("not poisoned").remove(org);
        match removed {
            Some(state) => state.metrics.forget_org(),
            None => shared.metrics.for_org(org).forget_org(),
        }
        let change = shared.changed();
        drop(orgs);
        shared.render_covering(now, change);
    }

    /// The org this publisher's per-org methods touch.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// What to serve at `now`. Usually the exposition of the last publish; rendered anew
    /// when data in it has passed its maximum age, so that stale data is never served as
    /// current however long the next poll takes, or when an org's circuit breaker changed
    /// state, which its `genesys_up` follows.
    pub fn current(&self, now: Timestamp) -> Arc<Exposition> {
        let shared = &self.shared;
        if let Some(current) = shared.still_valid(now) {
            return current;
        }
        off_the_workers(|| {
            let _rendering = shared.rendering.lock().expect("not poisoned");
            // Another scrape may have rendered it while this one waited for the lock.
            if let Some(current) = shared.still_valid(now) {
                return current;
            }
            shared.render_in_turn(now)
        })
    }

    /// Follows the circuit breaker of this org's new client, built by a reload.
    pub fn set_breaker(&self, breaker: watch::Receiver<BreakerState>) {
        let mut breakers = self.shared.breakers.write().expect("not poisoned");
        if let Some(held) = breakers.get_mut(&self.org) {
            *held = breaker;
        }
    }

    /// Every org's queries' status, by org and name.
    pub fn statuses(&self) -> Vec<(Org, String, QueryStatus)> {
        self.each_query(|org, name, query| {
            Some((org.clone(), name.to_owned(), query.status.clone()))
        })
    }

    /// True once every query each org was added with has published data at least once.
    pub fn ready(&self) -> bool {
        self.waiting().is_empty()
    }

    /// The queries each org was added with that have not published data yet, by org and
    /// name.
    pub fn waiting(&self) -> Vec<(Org, String)> {
        self.each_query(|org, name, query| {
            (query.required && query.status.last_success.is_none())
                .then(|| (org.clone(), name.to_owned()))
        })
    }

    /// What `pick` takes of each org's each query, in org and name order.
    fn each_query<T>(&self, pick: impl Fn(&Org, &str, &QueryState) -> Option<T>) -> Vec<T> {
        let orgs = self.shared.orgs.lock().expect("not poisoned");
        orgs.iter()
            .flat_map(|(org, state)| {
                let pick = &pick;
                state
                    .queries
                    .iter()
                    .filter_map(move |(name, query)| pick(org, name, query))
            })
            .collect()
    }

    /// Runs `change` on this org's state and renders at `now`; does nothing for an org
    /// that is not held (removed by a reload).
    fn change(&self, now: Timestamp, change: impl FnOnce(&mut OrgState)) {
        let shared = &self.shared;
        let mut orgs = shared.orgs.lock().expect("not poisoned");
        let Some(state) = orgs.get_mut(&self.org) else {
            tracing::debug!(org = %self.org, "not held (removed by a reload?); ignored");
            return;
        };
        change(state);
        let change = shared.changed();
        drop(orgs);
        shared.render_covering(now, change);
    }

    /// Replaces `query`'s data after a successful poll at `at`; it is served until
    /// `max_age` after that, unless newer data replaces it first.
    pub fn publish(
        &self,
        query: &str,
        window: Interval,
        mut data: QuerySamples,
        at: Timestamp,
        max_age: Duration,
    ) {
        data.org = self.org.clone();
        self.change(at, |state| {
            let limits = &state.metrics.limits;
            limits.labels_cut(std::mem::take(&mut data.labels_cut));
            for (reason, dropped) in OBSERVATION_DROP_REASONS.into_iter().zip(data.dropped) {
                limits.observations_dropped(reason, dropped);
            }
            let entry = state.queries.entry(query.to_owned()).or_default();
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
        });
    }

    /// Puts this org's queue names on its published data, from `now` and at every publish
    /// after.
    pub fn set_queue_names(&self, names: NameMap, now: Timestamp) {
        self.set_names(NameKind::Queue, names, now);
    }

    /// Puts this org's names of `kind` on its published data, from `now` and at every
    /// publish after.
    pub fn set_names(&self, kind: NameKind, names: NameMap, now: Timestamp) {
        self.change(now, |state| state.names.set(kind, names));
    }

    /// Records a failed poll; the query's previous data stays until its maximum age.
    pub fn failed(&self, query: &str, error: String, at: Timestamp) {
        self.change(at, |state| {
            let status = &mut state.queries.entry(query.to_owned()).or_default().status;
            status.last_poll = Some(at);
            status.last_error = Some(error);
        });
    }

    /// Starts holding `query`, added by a reload. Readiness does not wait for it: a reload
    /// never takes a ready exporter out of service.
    pub fn add_query(&self, query: &str, now: Timestamp) {
        self.change(now, |state| {
            state.queries.entry(query.to_owned()).or_default();
        });
    }

    /// Forgets `query`, removed by a reload (or changed, before it starts again): its
    /// series leave the exposition at once. Its poller must have stopped first, or its
    /// next publish would bring it back.
    pub fn remove_query(&self, query: &str, now: Timestamp) {
        self.change(now, |state| {
            state.queries.remove(query);
        });
    }

    /// Renders again at `now`, for a change in the self-metrics that must show before the
    /// next poll (the outcome of a reload).
    pub fn render_now(&self, now: Timestamp) {
        self.shared.render(now);
    }
}

impl Store {
    /// A new org's state, holding no query yet.
    fn org_state(&self, org: &Org) -> OrgState {
        OrgState {
            metrics: self.metrics.for_org(org),
            names: Names::default(),
            queries: BTreeMap::new(),
        }
    }

    /// The exposition last rendered, if it is still what to serve at `now`.
    fn still_valid(&self, now: Timestamp) -> Option<Arc<Exposition>> {
        let current = self.current.read().expect("not poisoned");
        let valid = current.stale_at.is_none_or(|stale_at| now < stale_at)
            && self.breakers_unchanged(&current.breakers);
        valid.then(|| current.exposition.clone())
    }

    /// Whether every org's circuit breaker is still in the state `rendered` says.
    fn breakers_unchanged(&self, rendered: &[(Org, BreakerState)]) -> bool {
        let breakers = self.breakers.read().expect("not poisoned");
        breakers.len() == rendered.len()
            && breakers
                .iter()
                .zip(rendered)
                .all(|((org, now), (then_org, then))| org == then_org && *now.borrow() == *then)
    }

    /// Each org's circuit breaker's state now.
    fn breakers_now(&self) -> Vec<(Org, BreakerState)> {
        let breakers = self.breakers.read().expect("not poisoned");
        breakers
            .iter()
            .map(|(org, breaker)| (org.clone(), *breaker.borrow()))
            .collect()
    }

    /// Counts a change to `orgs`, whose lock the caller holds; returns its number.
    fn changed(&self) -> u64 {
        self.changes.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Renders at `now`, after any render under way, waiting off the async workers.
    fn render(&self, now: Timestamp) -> Arc<Exposition> {
        off_the_workers(|| {
            let _rendering = self.rendering.lock().expect("not poisoned");
            self.render_in_turn(now)
        })
    }

    /// Renders at `now` for change number `change`, unless a render that collected it is
    /// already in place. The changes made while a render is under way wait for the next
    /// one, which covers them all, rather than for one each: with many orgs, publishes
    /// come faster than whole expositions render, and one render per publish would fall
    /// ever further behind.
    fn render_covering(&self, now: Timestamp, change: u64) -> Arc<Exposition> {
        off_the_workers(|| {
            let _rendering = self.rendering.lock().expect("not poisoned");
            {
                let current = self.current.read().expect("not poisoned");
                if current.covers >= change {
                    return current.exposition.clone();
                }
            }
            self.render_in_turn(now)
        })
    }

    /// Drops data past its maximum age, sets each query's `genesys_up`, and renders what
    /// is left with the self-metrics ([`render_off_the_workers`] says where and how). The
    /// caller holds `rendering`.
    fn render_in_turn(&self, now: Timestamp) -> Arc<Exposition> {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let breakers = self.breakers_now();
        let mut orgs = self.orgs.lock().expect("not poisoned");
        let covers = self.changes.load(Ordering::SeqCst);
        for (org, state) in orgs.iter_mut() {
            let breaker = breakers
                .iter()
                .find(|(held, _)| held == org)
                .map_or(BreakerState::Closed, |(_, breaker)| *breaker);
            state.expire_and_set_up(org, now, breaker);
        }
        let held: Vec<(Arc<QuerySamples>, Names)> = orgs
            .values()
            .flat_map(|state| {
                state
                    .queries
                    .values()
                    .filter_map(|query| Some((query.data.clone()?, state.names.clone())))
            })
            .collect();
        let stale_at = orgs
            .values()
            .flat_map(|state| state.queries.values())
            .filter_map(|query| query.stale_at)
            .min();
        drop(orgs);
        let queries: Vec<(&QuerySamples, &Names)> =
            held.iter().map(|(data, names)| (&**data, names)).collect();
        render_off_the_workers(
            || Exposition::render(&queries, &self.metrics),
            |exposition: Exposition| {
                let exposition = Arc::new(exposition);
                let replaced = std::mem::replace(
                    &mut *self.current.write().expect("not poisoned"),
                    Rendered {
                        exposition: exposition.clone(),
                        stale_at,
                        breakers,
                        covers,
                    },
                );
                // Freed outside the lock, before memory is given back.
                drop(replaced);
                exposition
            },
        )
    }
}

impl OrgState {
    /// Drops the data of each query past its maximum age at `now`, and sets its
    /// `genesys_up`: 1 after a successful poll, while the org's circuit breaker is closed.
    fn expire_and_set_up(&mut self, org: &Org, now: Timestamp, breaker: BreakerState) {
        for (name, query) in self.queries.iter_mut() {
            if query.data.is_some() && query.stale_at.is_some_and(|stale_at| now >= stale_at) {
                query.data = None;
                query.stale_at = None;
                query.status.stale = true;
                self.metrics.poll.expired(name);
                tracing::warn!(
                    org = org.name(),
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
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::exposition::fixtures::{HOUR, entry, response, window};
    use crate::exposition::{Format, flatten};
    use genesys_wire::Stats;

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
    fn publishes_made_during_a_render_wait_for_one_more_render_between_them() {
        let publisher = Publisher::new(Arc::new(Metrics::new(["a", "b"])), ["a", "b"], closed());
        let shared = publisher.shared.clone();
        let publish = |query: &'static str| {
            let publisher = publisher.clone();
            move || {
                let resp = response(vec![(
                    vec![("queueId", query)],
                    vec![entry(
                        "nOffered",
                        Stats {
                            count: Some(1.0),
                            ..Stats::default()
                        },
                    )],
                )]);
                let data = flatten(query, &["queueId".into()], window(), &resp);
                publisher.publish(query, window(), data, Timestamp::UNIX_EPOCH, HOUR);
                // What this publish returns after shows its data.
                let text = publisher
                    .current(Timestamp::UNIX_EPOCH)
                    .to_vec(Format::Text, false);
                let text = String::from_utf8(text).unwrap();
                assert!(text.contains(&format!("queue_id=\"{query}\"")), "{text}");
            }
        };
        let (changes, renders) = (
            shared.changes.load(Ordering::SeqCst),
            shared.renders.load(Ordering::SeqCst),
        );
        // A render under way (the lock held here) while both publish.
        let rendering = shared.rendering.lock().unwrap();
        let threads = [
            std::thread::spawn(publish("a")),
            std::thread::spawn(publish("b")),
        ];
        while shared.changes.load(Ordering::SeqCst) < changes + 2 {
            std::thread::yield_now();
        }
        drop(rendering);
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(shared.renders.load(Ordering::SeqCst), renders + 1);
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
            publisher.statuses()[0].2.last_error.as_deref(),
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
        assert!(!publisher.statuses()[0].2.stale);

        // Half an hour after the last success: gone, at the first scrape after it.
        let stale = text(&publisher, "2026-08-20T10:46:30Z");
        assert!(!stale.contains("genesys_conversation_offered"), "{stale}");
        assert!(stale.contains("genesys_series{query=\"q\"} 0\n"), "{stale}");
        assert!(stale.contains("genesys_up{query=\"q\"} 0\n"), "{stale}");
        let status = &publisher.statuses()[0].2;
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
        assert!(!publisher.statuses()[0].2.stale);
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

    /// An org's publisher, and the sender of its circuit breaker's state.
    type OrgHandle = (Publisher, watch::Sender<BreakerState>);

    /// A store without the unnamed org, holding east and west, each with query `q`.
    fn two_orgs() -> (Arc<Metrics>, Publisher, [OrgHandle; 2]) {
        let metrics = Arc::new(Metrics::empty());
        let store = Publisher::empty(metrics.clone());
        let now = at("2026-08-20T10:16:30Z");
        let org = |name: &str| {
            let (breaker, state) = watch::channel(BreakerState::Closed);
            (
                store.add_org(Org::named(name), ["q"], true, state, now),
                breaker,
            )
        };
        let orgs = [org("east"), org("west")];
        (metrics, store, orgs)
    }

    #[test]
    fn two_orgs_publishing_one_query_name_share_each_family_block_with_their_own_queue_names() {
        let (_, store, [(east, _), (west, _)]) = two_orgs();
        let now = "2026-08-20T10:16:30Z";
        assert_eq!(
            store.waiting(),
            [
                (Org::named("east"), "q".to_string()),
                (Org::named("west"), "q".to_string())
            ]
        );
        for (org, name, count) in [(&east, "Sales", 2.0), (&west, "Ventes", 3.0)] {
            let names = HashMap::from([("x".to_string(), name.to_string())]);
            org.set_queue_names(Arc::new(names), at(now));
            org.publish("q", window(), offered(count), at(now), HOUR);
        }
        assert!(store.ready());
        let shown = text(&store, now);
        assert_eq!(
            shown
                .matches("# TYPE genesys_conversation_offered gauge")
                .count(),
            1
        );
        assert!(shown.contains("genesys_conversation_offered{org=\"east\",query=\"q\",queue_id=\"x\",queue=\"Sales\"} 2.0\ngenesys_conversation_offered{org=\"west\",query=\"q\",queue_id=\"x\",queue=\"Ventes\"} 3.0\n"), "{shown}");
        assert!(
            shown.contains("genesys_up{org=\"east\",query=\"q\"} 1\n"),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_up{org=\"west\",query=\"q\"} 1\n"),
            "{shown}"
        );
        assert!(!shown.contains("{query="), "no unnamed org: {shown}");
        let statuses = store.statuses();
        assert_eq!(statuses.len(), 2);
        assert_eq!(
            (&statuses[1].0, statuses[1].1.as_str()),
            (&Org::named("west"), "q")
        );
        // The store's own handle is for no org: its per-org methods do nothing.
        store.publish("q", window(), offered(9.0), at(now), HOUR);
        assert!(!text(&store, now).contains("} 9.0\n"));
    }

    #[test]
    fn an_open_breaker_takes_only_its_own_orgs_queries_down() {
        let (metrics, store, [(east, east_breaker), (west, _)]) = two_orgs();
        let now = "2026-08-20T10:16:30Z";
        for org in [&east, &west] {
            org.publish("q", window(), offered(1.0), at(now), HOUR);
        }
        east_breaker.send_replace(BreakerState::Open);
        metrics
            .for_org(&Org::named("east"))
            .breaker
            .state(BreakerState::Open);
        // The next scrape says so without waiting for a poll.
        let shown = text(&store, now);
        assert!(
            shown.contains("genesys_up{org=\"east\",query=\"q\"} 0\n"),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_up{org=\"west\",query=\"q\"} 1\n"),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_circuit_breaker_state{org=\"east\"} 2\n"),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_circuit_breaker_state{org=\"west\"} 0\n"),
            "{shown}"
        );
        // A reload's new client for east: its breaker is followed instead.
        east.set_breaker(closed());
        assert!(text(&store, now).contains("genesys_up{org=\"east\",query=\"q\"} 1\n"));
    }

    #[test]
    fn removing_an_org_drops_its_series_and_its_metrics() {
        let (metrics, store, [(east, _), (west, _)]) = two_orgs();
        let now = "2026-08-20T10:16:30Z";
        for org in [&east, &west] {
            org.publish("q", window(), offered(1.0), at(now), HOUR);
            metrics
                .for_org(org.org())
                .poll
                .succeeded("q", window(), 1, at(now));
        }
        east.publish("observations", window(), offered(4.0), at(now), HOUR);
        store.remove_org(&Org::named("east"), at(now));
        let shown = text(&store, now);
        assert!(!shown.contains("org=\"east\""), "{shown}");
        assert!(
            shown.contains(
                "genesys_conversation_offered{org=\"west\",query=\"q\",queue_id=\"x\"} 1.0\n"
            ),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_series{org=\"west\",query=\"q\"} 1\n"),
            "{shown}"
        );
        assert!(
            shown.contains("genesys_api_requests_total{org=\"west\",endpoint=\"token\"} 0\n"),
            "{shown}"
        );
        assert_eq!(store.statuses().len(), 1);
        // Its pollers' last publish, after: nothing comes back.
        east.publish("q", window(), offered(5.0), at(now), HOUR);
        east.failed("q", "late".into(), at(now));
        assert!(!text(&store, now).contains("org=\"east\""));
    }

    #[test]
    fn the_unnamed_org_beside_named_ones_has_no_org_label() {
        let metrics = Arc::new(Metrics::new(["q"]));
        let publisher = Publisher::new(metrics, ["q"], closed());
        let now = "2026-08-20T10:16:30Z";
        let east = publisher.add_org(Org::named("east"), ["q"], true, closed(), at(now));
        publisher.publish("q", window(), offered(1.0), at(now), HOUR);
        east.publish("q", window(), offered(2.0), at(now), HOUR);
        let shown = text(&publisher, now);
        assert!(shown.contains("genesys_conversation_offered{query=\"q\",queue_id=\"x\"} 1.0\ngenesys_conversation_offered{org=\"east\",query=\"q\",queue_id=\"x\"} 2.0\n"), "{shown}");
        assert!(shown.contains("genesys_up{query=\"q\"} 1\n"), "{shown}");
    }
}
