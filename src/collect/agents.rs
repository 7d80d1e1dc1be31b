//! The agent states: every `refresh`, one agent-state counts request per breakdown value
//! (the org; each division of the directory's last read of the queue list, up to
//! [`MAX_AGENT_DIVISIONS`] by name; each team and queue listed), each counting every
//! agent once by routing status, presence, segment and out-of-office, published whole
//! under `query="agents"`, served until 3 × `refresh` after the last success.
//!
//! Its timing and its 403 are those of every collection of the present ([`Present`]):
//! without `analytics:agentState:view` it warns once, `genesys_up{query="agents"}` is 0,
//! and it asks again every hour; no other source waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::present::{Present, Subject};
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::{AGENTS_QUERY, AgentSettings, Breakdown, MAX_AGENT_DIVISIONS};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::exposition::{AgentSamples, QuerySamples};
use crate::genesys::client::Client;
use genesys_wire::time::{Clock, Interval};
use genesys_wire::{AGENT_STATUS_GROUP_BY, AgentStateCountsRequest, AgentStateFilter, Endpoint};

/// What the agent states are called in the log.
const AGENT_STATES: Subject = Subject {
    what: "agent states",
    one: "agent-state count",
    forbidden: "count the agents",
    query: AGENTS_QUERY,
    endpoint: Endpoint::AgentStatusCounts,
};

/// The org's agents, counted every refresh by each breakdown value.
#[derive(Clone)]
pub struct Agents {
    settings: AgentSettings,
    client: Arc<Client>,
    /// Where the divisions, and the presences' names, come from.
    directory: Arc<Directory>,
    present: Present,
    /// Whether the divisions past [`MAX_AGENT_DIVISIONS`] were warned of.
    warned: Arc<AtomicBool>,
}

/// One request of a collection: the breakdown value's labels and whom it counts.
struct Count {
    labels: Vec<(&'static str, String)>,
    filter: Option<AgentStateFilter>,
}

impl Agents {
    pub fn new(
        settings: AgentSettings,
        client: Arc<Client>,
        directory: Arc<Directory>,
        clock: Clock,
    ) -> Agents {
        // The budget never stretches the agents' refresh: a channel that stays as it is.
        let (_, refresh) = watch::channel(None);
        let present = Present::new(AGENT_STATES, settings.refresh, refresh, clock);
        Agents {
            settings,
            client,
            directory,
            present,
            warned: Arc::default(),
        }
    }

    /// The requests of one collection, in the order of `by`; [`Error::NoQueuesYet`] when
    /// there are none because the divisions are not known yet (the queue list has not
    /// been read), so that the agent states are down rather than up and empty.
    fn counts(&self) -> Result<Vec<Count>> {
        let mut counts = Vec::new();
        let mut unknown_divisions = false;
        let one = |labels, dimension, value: &str| Count {
            labels,
            filter: Some(AgentStateFilter::one(dimension, value)),
        };
        for by in &self.settings.by {
            match by {
                Breakdown::Org => counts.push(Count {
                    labels: Vec::new(),
                    filter: None,
                }),
                Breakdown::Division => {
                    // Before the queue list is read, no division is known yet.
                    let Some(divisions) = self.directory.queues.divisions() else {
                        unknown_divisions = true;
                        continue;
                    };
                    if divisions.len() > MAX_AGENT_DIVISIONS
                        && !self.warned.swap(true, Ordering::Relaxed)
                    {
                        tracing::warn!(
                            divisions = divisions.len(),
                            "the queue list has more divisions than the agent states count ({MAX_AGENT_DIVISIONS}, within the API budget); the first {MAX_AGENT_DIVISIONS} by name are counted"
                        );
                    }
                    for division in divisions.iter().take(MAX_AGENT_DIVISIONS) {
                        let labels = vec![
                            ("division_id", division.id.clone()),
                            ("division", division.name.clone()),
                        ];
                        counts.push(one(labels, "divisionId", &division.id));
                    }
                }
                Breakdown::Team => {
                    for team in &self.settings.teams {
                        counts.push(one(vec![("team_id", team.clone())], "teamId", team));
                    }
                }
                Breakdown::Queue => {
                    for queue in &self.settings.queues {
                        counts.push(one(vec![("queue_id", queue.clone())], "queueId", queue));
                    }
                }
            }
        }
        if counts.is_empty() && unknown_divisions {
            return Err(Error::NoQueuesYet);
        }
        Ok(counts)
    }
}

impl Collector for Agents {
    fn name(&self) -> &str {
        AGENTS_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::AgentStatusCounts
    }

    fn cost(&self) -> Cost {
        Cost::agents(&self.settings)
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
        let presences = self.directory.presences.current();
        let mut samples = AgentSamples::new(AGENTS_QUERY, &presences, max_series);
        for count in self.counts()? {
            let request = AgentStateCountsRequest {
                user_filter: count.filter,
            };
            let answer = self
                .client
                .agent_status_counts(&AGENT_STATUS_GROUP_BY, &request)
                .await?;
            let labels: Vec<(&str, &str)> = count
                .labels
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            samples
                .add(&labels, &answer)
                .map_err(|_| too_many_series(AGENTS_QUERY, max_series))?;
        }
        Ok(samples.finish())
    }
}
