//! The simulator on 127.0.0.1 at a fixed instant, and its control endpoints.

use genesys_sim::{Fault, FaultSpec, SimulatedOrg, Simulator, SimulatorConfig};
use genesys_wire::time::Clock;
use genesys_wire::{OBSERVATION_METRICS, ObservationQuery};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running simulator; stops when dropped.
pub struct Sim {
    pub simulator: Simulator,
    pub url: String,
    shutdown: CancellationToken,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The instant a test's simulator (and an in-process exporter) runs at unless the test
/// chooses another: a weekday afternoon, when every demo queue has traffic.
pub const AFTERNOON: &str = "2026-08-20T14:07:00Z";

/// The demo org's simulator, its clock starting at [`AFTERNOON`]: what a test that needs no
/// other settings passes to [`start_simulator`], and what others fill in the rest from.
pub fn afternoon_sim() -> SimulatorConfig {
    SimulatorConfig {
        clock: Clock::starting_at(AFTERNOON.parse().unwrap()),
        ..SimulatorConfig::default()
    }
}

/// Serves `config` on 127.0.0.1. Its clock must be a simulated one: a simulator on the
/// system clock answers observations (and starts surges) by the hour the suite runs at.
pub async fn start_simulator(config: SimulatorConfig) -> Sim {
    assert!(
        !matches!(config.clock, Clock::System),
        "a test's simulator runs at a fixed instant: start from afternoon_sim()"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let simulator = Simulator::new(config);
    let shutdown = CancellationToken::new();
    let serving = simulator.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move { serving.serve(listener, stop).await });
    Sim {
        simulator,
        url,
        shutdown,
    }
}

/// A fault from the start: every request to `path` is refused with a 403 naming the
/// permission it needs.
pub fn forbidden(path: &str) -> FaultSpec {
    FaultSpec {
        fault: Fault::Forbidden,
        path: path.into(),
        after: 0.0,
        seconds: None,
        requests: None,
    }
}

/// Sets a fault through the simulator's control endpoint, as JSON such as
/// `{"fault": "unavailable", "seconds": 30}`.
pub async fn set_fault(sim: &Sim, fault: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/simulator/faults", sim.url))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Clears every fault through the control endpoint.
pub async fn clear_faults(sim: &Sim) {
    let response = reqwest::Client::new()
        .delete(format!("{}/simulator/faults", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// An observations query for every queue of `org` and every metric, in one request, as
/// the tests ask it of the simulator (written out here, not taken from the exporter's
/// request builder).
pub fn every_queue_observed(org: &SimulatedOrg) -> ObservationQuery {
    let predicates: Vec<serde_json::Value> = org
        .queues
        .iter()
        .map(|q| serde_json::json!({"dimension": "queueId", "value": q.id}))
        .collect();
    ObservationQuery {
        filter: serde_json::json!({"type": "or", "predicates": predicates}),
        metrics: OBSERVATION_METRICS.map(String::from).to_vec(),
        detail_metrics: Vec::new(),
    }
}
