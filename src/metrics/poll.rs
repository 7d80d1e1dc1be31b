//! Each query's polls: whether its data is up, which interval it covers, what the last
//! poll cost and how many series it published; and the window of each rolling query. Each
//! series carries its org's label first (none for the unnamed org).

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;
use genesys_wire::time::Interval;

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct QueryLabel {
    #[prometheus(flatten)]
    org: Org,
    query: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The poll metrics, by query, of one org: a view of families that every org's view
/// shares.
#[derive(Clone)]
pub struct PollMetrics {
    org: Org,
    /// Every (org, query) that has series, so that forgetting an org finds its queries.
    known: Arc<Mutex<BTreeSet<QueryLabel>>>,
    up: Family<QueryLabel, Gauge>,
    last_success: Family<QueryLabel, FloatGauge>,
    interval_start: Family<QueryLabel, FloatGauge>,
    interval_end: Family<QueryLabel, FloatGauge>,
    duration: Family<QueryLabel, FloatGauge>,
    failures: Family<QueryLabel, Counter>,
    skipped_buckets: Family<QueryLabel, Counter>,
    series: Family<QueryLabel, Gauge>,
    panics: Family<QueryLabel, Counter>,
    window: Family<QueryLabel, FloatGauge>,
}

impl PollMetrics {
    /// Registers the poll metrics, without any series: [`PollMetrics::add`] starts a
    /// query's. The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> PollMetrics {
        PollMetrics {
            org: Org::unnamed(),
            known: Arc::default(),
            up: registered(
                registry,
                "genesys_up",
                "1 if the query's last poll succeeded, 0 if it failed or has not run yet",
            ),
            last_success: registered(
                registry,
                "genesys_last_success_timestamp_seconds",
                "When the query last published data, as a Unix time",
            ),
            interval_start: registered(
                registry,
                "genesys_interval_start_timestamp_seconds",
                "Start of the interval whose data is published, as a Unix time",
            ),
            interval_end: registered(
                registry,
                "genesys_interval_end_timestamp_seconds",
                "End (exclusive) of the interval whose data is published, as a Unix time",
            ),
            duration: registered(
                registry,
                "genesys_poll_duration_seconds",
                "How long the query's last poll took, from request to published snapshot",
            ),
            failures: registered(
                registry,
                "genesys_poll_failures",
                "Polls that failed and left the previous data in place",
            ),
            skipped_buckets: registered(
                registry,
                "genesys_skipped_buckets",
                "Buckets that completed while polls were failing and were never published",
            ),
            series: registered(
                registry,
                "genesys_series",
                "Series the query's last successful poll published",
            ),
            panics: registered(
                registry,
                "genesys_poller_panics",
                "Times the query's poller panicked and was restarted after retry_delay",
            ),
            window: registered(
                registry,
                "genesys_query_window_seconds",
                "The length of a rolling query's window; only rolling queries have it",
            ),
        }
    }

    /// The same families, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> PollMetrics {
        PollMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    /// The labels of `query` of this view's org, which has series from now on.
    fn label(&self, query: &str) -> QueryLabel {
        let label = QueryLabel {
            org: self.org.clone(),
            query: query.to_owned(),
        };
        let mut known = self.known.lock().expect("not poisoned");
        if !known.contains(&label) {
            known.insert(label.clone());
        }
        label
    }

    /// Removes every series of every query of this view's org.
    pub(super) fn forget_org(&self) {
        let queries: Vec<String> = self
            .known
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|label| label.org == self.org)
            .map(|label| label.query.clone())
            .collect();
        for query in queries {
            self.remove(&query);
        }
    }

    /// Starts `query`'s series: `genesys_up` at 0 until its first successful poll, its
    /// counters at 0.
    pub fn add(&self, query: &str) {
        self.up(query, false);
        // At 0 from the start, so that an alert on increase() sees the first one.
        let label = self.label(query);
        let _ = self.panics.get_or_create(&label);
        let _ = self.failures.get_or_create(&label);
    }

    /// Removes every series of `query`, which a reload removed or changed: its counters
    /// start again from 0 if it comes back, which `rate()` and `increase()` take as a
    /// counter reset.
    pub fn remove(&self, query: &str) {
        let label = QueryLabel {
            org: self.org.clone(),
            query: query.to_owned(),
        };
        self.known.lock().expect("not poisoned").remove(&label);
        self.up.remove(&label);
        self.last_success.remove(&label);
        self.interval_start.remove(&label);
        self.interval_end.remove(&label);
        self.duration.remove(&label);
        self.failures.remove(&label);
        self.skipped_buckets.remove(&label);
        self.series.remove(&label);
        self.panics.remove(&label);
        self.window.remove(&label);
    }

    /// `query` reads buckets: its skipped buckets are counted, from 0. Rolling queries and
    /// the observations skip none, and have no such series.
    pub fn buckets(&self, query: &str) {
        let _ = self.skipped_buckets.get_or_create(&self.label(query));
    }

    /// A poll of `query` took `duration`, up to its answer (before it was published).
    pub fn took(&self, query: &str, duration: Duration) {
        self.duration
            .get_or_create(&self.label(query))
            .set(duration.as_secs_f64());
    }

    /// A poll of `query` published `series` series for `window` at `at`.
    pub fn succeeded(&self, query: &str, window: Interval, series: usize, at: Timestamp) {
        let label = self.label(query);
        self.last_success
            .get_or_create(&label)
            .set(at.as_millisecond() as f64 / 1000.0);
        self.interval_start
            .get_or_create(&label)
            .set(window.start.as_second() as f64);
        self.interval_end
            .get_or_create(&label)
            .set(window.end.as_second() as f64);
        self.series.get_or_create(&label).set(series as i64);
    }

    /// `query` is a rolling query over a `window` this long.
    pub fn rolling_window(&self, query: &str, window: Duration) {
        self.window
            .get_or_create(&self.label(query))
            .set(window.as_secs_f64());
    }

    /// An observation (a poll without an interval, such as the queue observations) of
    /// `query` published `series` series at `at`.
    pub fn observed(&self, query: &str, series: usize, at: Timestamp) {
        let label = self.label(query);
        self.last_success
            .get_or_create(&label)
            .set(at.as_millisecond() as f64 / 1000.0);
        self.series.get_or_create(&label).set(series as i64);
    }

    /// A poll of `query` failed; its previous data stays.
    pub fn failed(&self, query: &str) {
        self.failures.get_or_create(&self.label(query)).inc();
    }

    /// `query`'s poller panicked; it is restarted.
    pub fn panicked(&self, query: &str) {
        self.panics.get_or_create(&self.label(query)).inc();
    }

    /// `buckets` buckets of `query` completed while its polls failed and will never be
    /// published.
    pub fn skipped(&self, query: &str, buckets: u64) {
        self.skipped_buckets
            .get_or_create(&self.label(query))
            .inc_by(buckets);
    }

    /// Whether `query`'s data is up: its last poll succeeded and requests go out.
    pub fn up(&self, query: &str, up: bool) {
        self.up.get_or_create(&self.label(query)).set(i64::from(up));
    }

    /// `query`'s data passed its maximum age and is no longer served.
    pub fn expired(&self, query: &str) {
        self.series.get_or_create(&self.label(query)).set(0);
    }
}
