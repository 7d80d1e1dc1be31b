//! Every source of series is a [`Collector`]: when it falls due, what it asks the API, how
//! it flattens the answer into samples, its line in the API budget and whether `/readyz`
//! waits for it. [`run`] drives any of them: the failure counting, the too-many-series
//! rule, publishing and staleness are written there once, and [`spawn`] keeps each one
//! going through panics.
//!
//! The sources, one file each: [`buckets`] (the latest completed bucket of a configured
//! query, of conversations, flows or data actions), [`rolling`] (a trailing window,
//! refreshed), [`observations`] (every queue of the directory, now), [`agents`] (the
//! org's agents, each once, now), [`flow_observations`] (every inbound and bot flow of
//! the directory, now), [`telephony`] (the org's Edges and trunks, now) and
//! [`voice_quality`] (the calls that ended since the last read, each counted once into
//! histograms). The last five share their timing and 403 handling
//! ([`present`]); the flows and data actions queries a 403's hourly retry
//! ([`standing`]). [`sources`] lists what one org runs. A new source is a file
//! here implementing [`Collector`], and a line in [`sources`].

pub mod agents;
pub mod buckets;
pub mod flow_observations;
pub mod observations;
pub mod present;
pub mod rolling;
mod run;
mod source;
pub mod standing;
pub mod telephony;
pub mod voice_quality;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::budget::Cost;
use crate::error::{Error, Result};
use crate::exposition::QuerySamples;
use genesys_wire::Endpoint;
use genesys_wire::time::Interval;

pub use run::{Outlet, run, spawn};
pub use source::{Parts, Source, sources};

/// How a collection went: the series it published, or why it failed.
pub type Outcome = Result<usize>;

/// Whether `/readyz` waits for a source's first success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// It waits (a configured query, at start-up).
    Waits,
    /// It does not: a missing permission may keep the source from ever succeeding.
    DoesNotWait,
}

/// One source of series. Cloned to start it again after a panic, so it holds handles
/// (`Arc`s), not data.
pub trait Collector: Clone + Send + Sync + 'static {
    /// The `query` label of its series and self-metrics.
    fn name(&self) -> &str;

    /// The endpoint it asks, under which a too-many-series answer is counted.
    fn endpoint(&self) -> Endpoint;

    /// Its line in the org's API budget.
    fn cost(&self) -> Cost;

    fn readiness(&self) -> Readiness;

    /// How long its data is served after the collection that published it.
    fn max_age(&self) -> Duration;

    /// Waits until the next collection is due, after the outcome of the last one (`None`
    /// before the first), and says what it covers: a bucket, a rolling window, or for a
    /// collection of the present the instant (`start == end`). `None` on `shutdown`. Each
    /// source logs its outcomes here, as it sees them.
    fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = Option<Interval>> + Send;

    /// Asks the API about `window` and flattens the answers into at most `max_series`
    /// series; more is [`Error::TooManySeries`].
    fn collect(
        &mut self,
        window: Interval,
        max_series: usize,
    ) -> impl Future<Output = Result<QuerySamples>> + Send;
}

/// `query`'s refusal of an answer over `limit` series.
pub fn too_many_series(query: &str, limit: usize) -> Error {
    Error::TooManySeries {
        query: query.to_owned(),
        limit,
    }
}
