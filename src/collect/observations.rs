//! The queue observations: every `refresh`, every queue of the directory's last read of
//! the queue list, in chunks of at most `queues_per_request` queue IDs (one request each),
//! published whole under `query="observations"`, served until 3 × `refresh` after the
//! last success.
//!
//! Its timing and its 403 are those of every collection of the present ([`Present`]):
//! without `analytics:queueObservation:view` it warns once, `genesys_up{query=
//! "observations"}` is 0, and it asks again every hour. The aggregates queries never wait
//! on it; the API budget may stretch its refresh while the exporter runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::present::{Present, Subject};
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::{OBSERVATIONS_QUERY, ObservationSettings};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::exposition::{ObservationSamples, QuerySamples};
use crate::genesys::client::Client;
use crate::genesys::observation_requests;
use genesys_wire::Endpoint;
use genesys_wire::time::{Clock, Interval};

/// What the observations are called in the log.
const OBSERVATIONS: Subject = Subject {
    what: "queue observations",
    one: "queue observation",
    forbidden: "observe the queues",
    query: OBSERVATIONS_QUERY,
    endpoint: Endpoint::Observations,
};

/// Every queue of the directory, observed every refresh.
#[derive(Clone)]
pub struct Observations {
    pub settings: ObservationSettings,
    pub client: Arc<Client>,
    /// Where the queues to observe, and the presences' names, come from.
    pub directory: Arc<Directory>,
    pub clock: Clock,
    present: Present,
}

impl Observations {
    /// The observations under `settings`, at the refresh `refresh` holds (the budget may
    /// stretch it; `None`, as the budget has it when observations are off, means
    /// `settings.refresh`).
    pub fn new(
        settings: ObservationSettings,
        refresh: watch::Receiver<Option<Duration>>,
        client: Arc<Client>,
        directory: Arc<Directory>,
        clock: Clock,
    ) -> Observations {
        let present = Present::new(OBSERVATIONS, settings.refresh, refresh, clock.clone());
        Observations {
            settings,
            client,
            directory,
            clock,
            present,
        }
    }
}

impl Collector for Observations {
    fn name(&self) -> &str {
        OBSERVATIONS_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Observations
    }

    fn cost(&self) -> Cost {
        Cost::per_queues(self.settings.refresh, self.settings.queues_per_request)
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
        self.present.next(last, shutdown).await
    }

    async fn collect(&mut self, _: Interval, max_series: usize) -> Result<QuerySamples> {
        let Some(queue_ids) = self.directory.queues.listed() else {
            return Err(Error::NoQueuesYet);
        };
        let presences = self.directory.presences.current();
        let mut samples = ObservationSamples::new(OBSERVATIONS_QUERY, &presences, max_series);
        let requests = observation_requests::requests(
            &queue_ids,
            &self.settings.metrics,
            self.settings.queues_per_request,
        );
        for request in requests {
            let response = self.client.observations(&request).await?;
            samples
                .add(&response, self.clock.now())
                .map_err(|_| too_many_series(OBSERVATIONS_QUERY, max_series))?;
        }
        Ok(samples.finish())
    }
}
