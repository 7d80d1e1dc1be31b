//! What both benchmarks build their answers and publisher from: the default query for a
//! weekday afternoon bucket, on the simulator's org of a given size, and a publisher that
//! knows the queue names.

use std::collections::HashMap;
use std::sync::Arc;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_exporter::exposition::Publisher;
use genesys_exporter::metrics::{BreakerState, Metrics};
use genesys_sim::{SimulatedOrg, aggregate};
use genesys_wire::time::Interval;
use genesys_wire::{AggregateResponse, AggregationQuery};
use tokio::sync::watch;

pub const QUERY: &str = "default";
const MEDIA_TYPES: [&str; 4] = ["voice", "chat", "email", "callback"];

/// A weekday afternoon bucket, when every queue has traffic.
pub fn window() -> Interval {
    Interval {
        start: "2026-08-20T14:00:00Z".parse().unwrap(),
        end: "2026-08-20T14:15:00Z".parse().unwrap(),
    }
}

pub fn group_by() -> Vec<String> {
    vec!["queueId".into(), "mediaType".into()]
}

/// The simulated org of `queues` queues, each with the four media types.
pub fn org(queues: usize) -> SimulatedOrg {
    SimulatedOrg::with_queues(queues, MEDIA_TYPES.map(String::from).to_vec())
}

/// The simulator's answer to the default query for `org`.
pub fn answer(org: &SimulatedOrg) -> AggregateResponse {
    let query = AggregationQuery {
        interval: window().to_string(),
        granularity: Some("PT15M".into()),
        time_zone: Some("UTC".into()),
        group_by: group_by(),
        filter: None,
        metrics: DEFAULT_METRICS.iter().map(|m| m.to_string()).collect(),
    };
    aggregate(org, &query).expect("the default query is valid")
}

/// A publisher that knows every queue's name, as the exporter does once it has read the
/// queue list, so that each series carries the `queue` label too.
pub fn publisher(org: &SimulatedOrg) -> Publisher {
    // No client, so no breaker to open.
    let (_, closed_breaker) = watch::channel(BreakerState::Closed);
    let publisher = Publisher::new(Arc::new(Metrics::new([QUERY])), [QUERY], closed_breaker);
    let names: HashMap<String, String> = org
        .queues
        .iter()
        .map(|q| (q.id.clone(), q.name.clone()))
        .collect();
    publisher.set_queue_names(Arc::new(names), window().end);
    publisher
}
