//! The fake Genesys Cloud: an HTTP server speaking the same wire format as the real login
//! and API hosts, answering from deterministic synthetic data.
//!
//! One server plays both hosts (`login.<domain>` and `api.<domain>`), since their paths
//! do not overlap. `gateway` routes requests, counts them and shapes error bodies; `oauth`
//! issues tokens and checks them; `queues` serves the paged queue list; `query` and `jobs`
//! answer the aggregates query, at once or as a job; [`queue_observations`] the
//! queue observations query; `presences` the presence definitions; [`ivr_api`] the flows
//! and data actions endpoints, answered by [`flow_query`] from the IVR model in [`flows`]
//! (the flows, outcomes and data actions [`architect`] names), while `errors` adds
//! conversation errors to the aggregates; [`faults`] makes it all misbehave, [`surge`]
//! plays an abandon surge on one queue (or its agents not answering) and [`failure_surge`]
//! a flow or a data action that starts failing; `agent_states` answers the agent-state
//! counts; `details` answers the conversation details query from the voice calls of
//! `calls` on the Edges of `edges`, with the voice quality `quality` gives each call.
//! This file holds the configuration and the state they share.
//!
//! What the data looks like and how a query is answered is pure (no I/O, no global state,
//! the instant of an observation given), so the same query always gets the same answer,
//! in tests as in `--demo`: `simulated_org` is the org and its queues, `traffic` what happens each
//! minute, drawn from `random` and added up in `tally`, `filter` picks what a query covers,
//! and `answer` answers it; `live` follows the same conversations to an instant, `agents`
//! staffs the queues, `queue_observations` answers from both, and `agent_states` makes
//! people of the queues' agents and counts them.

mod agent_states;
mod agents;
mod answer;
pub mod architect;
mod calls;
mod details;
mod details_filter;
mod details_shape;
mod edges;
mod errors;
pub mod failure_surge;
pub mod faults;
mod filter;
pub mod flow_query;
pub mod flows;
mod gateway;
pub mod ivr_api;
mod jobs;
mod live;
mod oauth;
mod presences;
mod protocol;
mod quality;
mod query;
pub mod queue_observations;
mod queues;
mod random;
mod simulated_org;
pub mod surge;
mod tally;
#[cfg(test)]
mod testing;
mod traffic;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use tokio::time::Instant;

pub use agent_states::{TEAM_NAMES, agent_state_counts, team_id};
pub use answer::{
    MAX_INTERVAL_DAYS, MAX_RESULT_CELLS, MAX_SLOT_EVALUATIONS, aggregate, aggregate_with_surge,
};
pub use architect::{Architect, SimAction, SimFlow, SimOutcome};
pub use calls::{MAX_CALL_MS, VoiceCall, voice_calls, voice_calls_active};
pub use details::{
    DEFAULT_DETAILS_PAGE_SIZE, MAX_FILTERED_DAYS, MAX_UNFILTERED_DAYS, conversation_details,
};
pub use edges::{SimEdge, edge_ids, edges};
pub use errors::{ERROR_CODES, ERROR_RATE, STATE_TRANSITION_ERROR_RATE};
pub use failure_surge::{FailureSurge, FailureSurgeSpec};
pub use faults::{Fault, FaultSpec, Malformed};
pub use flow_query::{FlowObservations, action_aggregate, flow_aggregate, observe_flows};
pub use flows::{ActionCall, FlowEnding, FlowRecord, Surges, flow_records, in_flows_now};
pub use gateway::{ENDPOINTS, Endpoint, endpoints_help};
pub use live::{ALERT_MS, LOOKBACK_MINUTES};
pub use presences::{presence_definitions, system_to_organization_mappings};
pub use quality::{CallQuality, PACKETS_PER_SECOND, call_quality, mos_of};
pub use queue_observations::observe;
pub use simulated_org::{DEMO_FLOOR, DEMO_MEDIA_TYPES, QueueProfile, SimQueue, SimulatedOrg};
pub use surge::{AgentsSurge, AgentsSurgeSpec, Surge, SurgeSpec};
pub use traffic::BACKLOG_WAIT_MS;

use genesys_wire::time::Clock;
use genesys_wire::{AggregateResponse, AggregationQuery, ErrorBody, PresenceDefinitions};

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// How long an issued token stays valid (`expires_in`).
    pub token_lifetime: Duration,
    pub org: SimulatedOrg,
    /// The largest `pageSize` the queue list accepts; larger asks get a 400.
    pub queue_page_size_max: u32,
    /// Above this many group × bucket results, the synchronous query answers
    /// `400 response.entity.too.large`, as the real one does for large answers.
    pub sync_result_limit: Option<usize>,
    /// Groups per page of a job's results.
    pub job_page_size: usize,
    /// Looks at a job's state that answer PENDING before it is FULFILLED.
    pub job_pending_checks: u32,
    /// Faults in force from the start; more can be set while it runs.
    pub faults: Vec<FaultSpec>,
    /// The time observations are answered at: share the exporter's simulated clock in
    /// tests and with `--demo-time`.
    pub clock: Clock,
    /// An abandon surge set from the start (it may start later); it can be changed while
    /// it runs. One on a queue the org does not have is ignored, with a warning.
    pub surge: Option<Surge>,
    /// A flow whose outcomes start failing ([`failure_surge`]); one on a flow the org does
    /// not have is ignored, with a warning.
    pub flow_surge: Option<FailureSurge>,
    /// A data action that starts timing out ([`failure_surge`]); one on an action the org
    /// does not have is ignored, with a warning.
    pub action_surge: Option<FailureSurge>,
    /// An agents-stop-answering surge set from the start (it may start later). One on a
    /// queue the org does not have is ignored, with a warning.
    pub agents_surge: Option<AgentsSurge>,
    /// An Edge (by name or ID) whose calls turn poor: those ending at or after its start
    /// ([`quality`]). One on an Edge the org does not have is ignored, with a warning.
    pub edge_degrade: Option<FailureSurge>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            client_id: "demo-client".to_string(),
            client_secret: SecretString::from("demo-secret"),
            token_lifetime: Duration::from_secs(86_400),
            org: SimulatedOrg::demo(),
            queue_page_size_max: 500,
            sync_result_limit: None,
            job_page_size: 50,
            job_pending_checks: 1,
            faults: Vec::new(),
            clock: Clock::System,
            surge: None,
            flow_surge: None,
            action_surge: None,
            agents_surge: None,
            edge_degrade: None,
        }
    }
}

/// Whether a surge set from the start is kept: one `check` refuses is ignored, with a
/// warning.
fn ignored_unless(check: Result<(), String>, warning: &str) -> bool {
    match check {
        Ok(()) => true,
        Err(problem) => {
            tracing::warn!(%problem, "{warning}");
            false
        }
    }
}

/// How many requests each endpoint has received, and how many of all requests were
/// answered 401 (bad client credentials at the token endpoint, or a missing, unknown,
/// expired or revoked bearer token at the API).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub token: u64,
    pub aggregates: u64,
    pub queues: u64,
    pub jobs: u64,
    pub observations: u64,
    pub presences: u64,
    pub flow_aggregates: u64,
    pub flow_observations: u64,
    pub flows: u64,
    pub flow_outcomes: u64,
    pub action_aggregates: u64,
    pub actions: u64,
    pub agent_states: u64,
    pub conversation_details: u64,
    pub unauthorized: u64,
}

/// A running fake Genesys Cloud. Cheap to clone; clones share tokens and counters.
#[derive(Clone)]
pub struct Simulator {
    state: Arc<State>,
}

struct State {
    config: SimulatorConfig,
    /// Random per process, so that tokens cannot be predicted from the issue counter.
    seed: u64,
    /// Numbers tokens and context ids, so that each is unique.
    serial: AtomicU64,
    /// Valid tokens and when they expire. Revoking clears it.
    tokens: Mutex<HashMap<String, Instant>>,
    token_requests: AtomicU64,
    aggregates_requests: AtomicU64,
    queues_requests: AtomicU64,
    jobs_requests: AtomicU64,
    observations_requests: AtomicU64,
    presences_requests: AtomicU64,
    flow_aggregates_requests: AtomicU64,
    flow_observations_requests: AtomicU64,
    flows_requests: AtomicU64,
    flow_outcomes_requests: AtomicU64,
    action_aggregates_requests: AtomicU64,
    actions_requests: AtomicU64,
    agent_states_requests: AtomicU64,
    conversation_details_requests: AtomicU64,
    unauthorized: AtomicU64,
    faults: faults::Faults,
    jobs: jobs::Jobs,
    /// Changes to the org's queue list made at run time.
    directory: Mutex<queues::Directory>,
    /// The abandon surge in force, if any.
    surge: Mutex<Option<Surge>>,
    /// The agents surge in force, if any.
    agents_surge: Mutex<Option<AgentsSurge>>,
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Simulator {
        let jobs = jobs::Jobs::new(config.job_pending_checks, config.job_page_size);
        // `RandomState` is seeded from the OS per process: randomness without a `rand` crate.
        let seed = RandomState::new().hash_one(std::process::id());
        let faults = faults::Faults::default();
        for spec in &config.faults {
            faults.add(spec.clone());
        }
        let mut config = config;
        let org = &config.org;
        let flow_kept =
            |s: &FailureSurge| ignored_unless(s.check_flow(org), "simulator flow surge ignored");
        let action_kept = |s: &FailureSurge| {
            ignored_unless(s.check_action(org), "simulator action surge ignored")
        };
        config.flow_surge = config.flow_surge.clone().filter(flow_kept);
        config.action_surge = config.action_surge.clone().filter(action_kept);
        let edge_kept =
            |s: &FailureSurge| ignored_unless(s.check_edge(org), "simulator Edge degrade ignored");
        config.edge_degrade = config.edge_degrade.clone().filter(edge_kept);
        let surge = config
            .surge
            .clone()
            .filter(|surge| ignored_unless(surge.check(&config.org), "simulator surge ignored"));
        let agents_surge = config.agents_surge.clone().filter(|surge| {
            ignored_unless(surge.check(&config.org), "simulator agents surge ignored")
        });
        Simulator {
            state: Arc::new(State {
                config,
                seed,
                serial: AtomicU64::new(0),
                tokens: Mutex::new(HashMap::new()),
                token_requests: AtomicU64::new(0),
                aggregates_requests: AtomicU64::new(0),
                queues_requests: AtomicU64::new(0),
                jobs_requests: AtomicU64::new(0),
                observations_requests: AtomicU64::new(0),
                presences_requests: AtomicU64::new(0),
                flow_aggregates_requests: AtomicU64::new(0),
                flow_observations_requests: AtomicU64::new(0),
                flows_requests: AtomicU64::new(0),
                flow_outcomes_requests: AtomicU64::new(0),
                action_aggregates_requests: AtomicU64::new(0),
                actions_requests: AtomicU64::new(0),
                agent_states_requests: AtomicU64::new(0),
                conversation_details_requests: AtomicU64::new(0),
                unauthorized: AtomicU64::new(0),
                jobs,
                directory: Mutex::default(),
                faults,
                surge: Mutex::new(surge),
                agents_surge: Mutex::new(agents_surge),
            }),
        }
    }

    pub fn requests(&self) -> RequestCounts {
        let s = &self.state;
        RequestCounts {
            token: s.token_requests.load(Ordering::Relaxed),
            aggregates: s.aggregates_requests.load(Ordering::Relaxed),
            queues: s.queues_requests.load(Ordering::Relaxed),
            jobs: s.jobs_requests.load(Ordering::Relaxed),
            observations: s.observations_requests.load(Ordering::Relaxed),
            presences: s.presences_requests.load(Ordering::Relaxed),
            flow_aggregates: s.flow_aggregates_requests.load(Ordering::Relaxed),
            flow_observations: s.flow_observations_requests.load(Ordering::Relaxed),
            flows: s.flows_requests.load(Ordering::Relaxed),
            flow_outcomes: s.flow_outcomes_requests.load(Ordering::Relaxed),
            action_aggregates: s.action_aggregates_requests.load(Ordering::Relaxed),
            actions: s.actions_requests.load(Ordering::Relaxed),
            agent_states: s.agent_states_requests.load(Ordering::Relaxed),
            conversation_details: s.conversation_details_requests.load(Ordering::Relaxed),
            unauthorized: s.unauthorized.load(Ordering::Relaxed),
        }
    }

    pub fn org(&self) -> &SimulatedOrg {
        &self.state.config.org
    }

    /// The simulator's time: what "now" means to an observation.
    pub fn now(&self) -> Timestamp {
        self.state.config.clock.now()
    }

    /// Answers an aggregates query under the surge in force, as the endpoint does.
    pub fn aggregate(&self, query: &AggregationQuery) -> Result<AggregateResponse, ErrorBody> {
        aggregate_with_surge(self.org(), self.surge().as_ref(), query)
    }

    /// Answers a flows aggregates query under the surges in force, as the endpoint does.
    pub fn flow_aggregate(&self, query: &AggregationQuery) -> Result<AggregateResponse, ErrorBody> {
        self.flow_truth(|org, _, surges| flow_aggregate(org, surges, query))
    }

    /// Answers a data actions aggregates query under the surges in force, as the endpoint
    /// does.
    pub fn action_aggregate(
        &self,
        query: &AggregationQuery,
    ) -> Result<AggregateResponse, ErrorBody> {
        self.flow_truth(|org, _, surges| action_aggregate(org, surges, query))
    }

    /// The org's presence definitions, as `GET /api/v2/presence/definitions` serves them.
    pub fn presences() -> PresenceDefinitions {
        presence_definitions()
    }

    fn next_serial(&self) -> u64 {
        self.state.serial.fetch_add(1, Ordering::Relaxed)
    }
}
