//! The sources one org runs, built from its settings, each ready to start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::agents::Agents;
use super::buckets::{Aggregates, BucketCursor, Buckets};
use super::flow_observations::FlowObservations;
use super::observations::Observations;
use super::rolling::{RollingWindow, WindowCursor};
use super::standing;
use super::telephony::Telephony;
use super::voice_quality::VoiceQuality;
use super::{Collector, Outlet, Readiness, spawn};
use crate::budget::Cost;
use crate::config::{OrgSettings, Settings};
use crate::directory::Directory;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use crate::org::Org;
use crate::schedule::QueryKind;
use genesys_wire::time::Clock;

/// What an org's collectors are built with.
#[derive(Clone)]
pub struct Parts {
    pub client: Arc<Client>,
    /// The org's view of the registry.
    pub metrics: Arc<Metrics>,
    pub directory: Arc<Directory>,
    /// The observations' refresh in force (the budget may stretch it).
    pub observations_refresh: watch::Receiver<Option<Duration>>,
    pub clock: Clock,
}

/// A collector ready to start, with what the org needs to know of it first.
pub struct Source {
    pub name: String,
    pub cost: Cost,
    pub readiness: Readiness,
    start:
        Box<dyn FnOnce(Outlet, Org, Duration, CancellationToken) -> JoinHandle<()> + Send + Sync>,
}

impl Source {
    pub fn new(collector: impl Collector) -> Source {
        Source {
            name: collector.name().to_owned(),
            cost: collector.cost(),
            readiness: collector.readiness(),
            start: Box::new(move |outlet, org, retry_delay, stop| {
                spawn(collector, outlet, org, retry_delay, stop)
            }),
        }
    }

    /// Starts it under [`spawn`]'s supervisor, until `stop`.
    pub fn start(
        self,
        outlet: Outlet,
        org: Org,
        retry_delay: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        (self.start)(outlet, org, retry_delay, stop)
    }
}

/// Every source `org` runs under `settings`: a collector per configured query, of its
/// kind, and the queue observations, the agent states, the flow observations and the
/// telephony and the voice quality when they are on. Starts each query's poll metrics
/// (its window, or its skipped buckets) in `parts.metrics`.
pub fn sources(settings: &Settings, org: &OrgSettings, parts: &Parts) -> Vec<Source> {
    let aggregates = Aggregates {
        client: parts.client.clone(),
        jobs: settings.jobs,
    };
    let (clock, retry_delay) = (parts.clock.clone(), settings.retry_delay);
    let mut sources: Vec<Source> = org
        .queries
        .iter()
        .map(|query| match &query.kind {
            QueryKind::Buckets(schedule) => {
                parts.metrics.poll.buckets(&query.name);
                Source::new(Buckets {
                    query: query.clone(),
                    schedule: schedule.clone(),
                    aggregates: aggregates.clone(),
                    metrics: parts.metrics.clone(),
                    cursor: BucketCursor::new(schedule.clone(), clock.clone(), retry_delay),
                    permission: standing::of_query(query),
                })
            }
            QueryKind::Rolling(rolling) => {
                parts
                    .metrics
                    .poll
                    .rolling_window(&query.name, rolling.window);
                Source::new(RollingWindow {
                    query: query.clone(),
                    aggregates: aggregates.clone(),
                    cursor: WindowCursor::new(*rolling, clock.clone(), retry_delay),
                    permission: standing::of_query(query),
                })
            }
        })
        .collect();
    if let Some(observations) = &settings.observations {
        sources.push(Source::new(Observations::new(
            observations.clone(),
            parts.observations_refresh.clone(),
            parts.client.clone(),
            parts.directory.clone(),
            clock.clone(),
        )));
    }
    if let Some(agents) = &settings.agents {
        sources.push(Source::new(Agents::new(
            agents.clone(),
            parts.client.clone(),
            parts.directory.clone(),
            clock.clone(),
        )));
    }
    if let Some(refresh) = settings.flow_observations {
        sources.push(Source::new(FlowObservations::new(
            refresh,
            parts.client.clone(),
            parts.directory.clone(),
            clock.clone(),
        )));
    }
    if let Some(refresh) = settings.telephony {
        sources.push(Source::new(Telephony::new(
            refresh,
            parts.client.clone(),
            settings.max_queue_pages,
            clock.clone(),
        )));
    }
    if let Some(voice_quality) = &settings.voice_quality {
        sources.push(Source::new(VoiceQuality::new(
            voice_quality.clone(),
            parts.client.clone(),
            parts.directory.clone(),
            parts.metrics.clone(),
            clock,
        )));
    }
    sources
}
