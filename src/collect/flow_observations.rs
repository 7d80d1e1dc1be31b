//! The flow observations: every `refresh`, the conversations in each inbound and bot flow
//! of the directory's flow list now (`oFlow`), asked by `flowId` in chunks of at most 100,
//! published whole under `query="flow_observations"` as
//! `genesys_flow_conversations{flow_id, flow, flow_type}`, served until 3 × `refresh`
//! after the last success.
//!
//! Timed and refused as the queue observations are (see [`observations`](super::
//! observations)): ticks every `refresh`; without `analytics:flowObservation:view` (a 403)
//! it warns once, `genesys_up{query="flow_observations"}` is 0, and it asks again every
//! hour. Nothing waits for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::present::{Present, Subject};
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::FLOW_OBSERVATIONS_QUERY;
use crate::directory::{Directory, observed_flows};
use crate::error::{Error, Result};
use crate::exposition::{QuerySamples, gauge_samples};
use crate::genesys::client::Client;
use crate::genesys::observation_requests::requests_by;
use genesys_wire::catalogue::NameKind;
use genesys_wire::time::{Clock, Interval};
use genesys_wire::{
    Endpoint, FLOW_OBSERVATION_METRIC, FlowObservationResponse, MAX_FLOWS_PER_REQUEST,
};

/// The gauge, and its help.
pub const FLOW_CONVERSATIONS: &str = "genesys_flow_conversations";
const HELP: &str = "Genesys Cloud oFlow: conversations in the flow now";

/// Every inbound and bot flow of the directory, observed every refresh.
#[derive(Clone)]
pub struct FlowObservations {
    pub refresh: Duration,
    pub client: Arc<Client>,
    /// Where the flows to observe, with their types, come from.
    pub directory: Arc<Directory>,
    /// When it collects, and what it logs of its outcomes.
    present: Present,
}

impl FlowObservations {
    pub fn new(
        refresh: Duration,
        client: Arc<Client>,
        directory: Arc<Directory>,
        clock: Clock,
    ) -> FlowObservations {
        let subject = Subject {
            what: "flow observations",
            one: "flow observation",
            forbidden: "observe the flows",
            query: FLOW_OBSERVATIONS_QUERY,
            endpoint: Endpoint::FlowObservations,
        };
        // The budget never stretches this refresh: a channel whose sender is gone.
        let fixed = watch::channel(None).1;
        FlowObservations {
            refresh,
            client,
            directory,
            present: Present::new(subject, refresh, fixed, clock),
        }
    }
}

impl Collector for FlowObservations {
    fn name(&self) -> &str {
        FLOW_OBSERVATIONS_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::FlowObservations
    }

    fn cost(&self) -> Cost {
        Cost::flow_observations(self.refresh)
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
        let listed = self
            .directory
            .names(NameKind::Flow)
            .and_then(|flows| flows.listed())
            .ok_or(Error::NoFlowsYet)?;
        let flows = observed_flows(&listed);
        drop(listed);
        if flows.len() > max_series {
            return Err(too_many_series(FLOW_OBSERVATIONS_QUERY, max_series));
        }
        let ids: Vec<String> = flows.iter().map(|(id, _)| id.clone()).collect();
        let metrics = [FLOW_OBSERVATION_METRIC.to_owned()];
        let mut counts = Counts::default();
        for (request, chunk) in requests_by("flowId", &ids, &metrics, MAX_FLOWS_PER_REQUEST)
            .zip(ids.chunks(MAX_FLOWS_PER_REQUEST))
        {
            let response = self.client.flow_observations(&request).await?;
            counts.add(&response, chunk);
        }
        if counts.unplaced > 0 {
            tracing::debug!(
                groups = counts.unplaced,
                "flow observation groups without a flowId of the request were left out"
            );
        }
        Ok(samples(&flows, &counts.by_flow))
    }
}

/// The conversations in each flow, added up over an answer's groups.
#[derive(Debug, Default)]
struct Counts {
    by_flow: HashMap<String, f64>,
    /// Groups that could not be put on a flow of the request.
    unplaced: usize,
}

impl Counts {
    /// Adds the `oFlow` counts of `response`, the answer for the flows `asked`. A group
    /// without `flowId` is the one flow asked, if one was; a group of a flow not asked,
    /// or with a count that is not a count, is left out. Groups of one flow (one per media
    /// type, if the API splits them) add up.
    fn add(&mut self, response: &FlowObservationResponse, asked: &[String]) {
        for group in &response.results {
            let flow = match group.group.get("flowId") {
                Some(id) => asked.iter().find(|asked| *asked == id),
                None if asked.len() == 1 => asked.first(),
                None => None,
            };
            let Some(flow) = flow else {
                self.unplaced += 1;
                continue;
            };
            let count: f64 = group
                .data
                .iter()
                .filter(|entry| entry.metric == FLOW_OBSERVATION_METRIC)
                .filter_map(|entry| entry.stats.count)
                .filter(|count| count.is_finite() && *count >= 0.0)
                .sum();
            *self.by_flow.entry(flow.clone()).or_default() += count;
        }
    }
}

/// A sample per flow observed: its count, or 0 when the answer had none for it (nobody
/// in it).
fn samples(flows: &[(String, String)], counts: &HashMap<String, f64>) -> QuerySamples {
    let rows = flows
        .iter()
        .map(|(id, kind)| {
            let count = counts.get(id).copied().unwrap_or(0.0);
            (
                vec![
                    ("flow_id".to_owned(), id.clone()),
                    ("flow_type".to_owned(), kind.clone()),
                ],
                count,
            )
        })
        .collect();
    gauge_samples(
        FLOW_OBSERVATIONS_QUERY,
        FLOW_CONVERSATIONS,
        HELP,
        vec![(0, NameKind::Flow)],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> FlowObservationResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn counts_add_up_per_flow_and_a_group_without_a_flow_id_is_the_one_asked() {
        let asked: Vec<String> = vec!["f1".into(), "f2".into()];
        let mut counts = Counts::default();
        counts.add(
            &answer(
                r#"{"results": [
                  {"group": {"flowId": "f1", "mediaType": "voice"}, "data": [{"metric": "oFlow", "stats": {"count": 4}}]},
                  {"group": {"flowId": "f1", "mediaType": "message"}, "data": [{"metric": "oFlow", "stats": {"count": 3}}]},
                  {"group": {"flowId": "elsewhere"}, "data": [{"metric": "oFlow", "stats": {"count": 50}}]},
                  {"group": {}, "data": [{"metric": "oFlow", "stats": {"count": 60}}]},
                  {"group": {"flowId": "f2"}, "data": [{"metric": "oFlow", "stats": {"count": -1}}, {"metric": "oOther", "stats": {"count": 9}}]}
                ]}"#,
            ),
            &asked,
        );
        assert_eq!(counts.by_flow["f1"], 7.0);
        assert_eq!(counts.by_flow["f2"], 0.0, "a negative count is no count");
        assert_eq!(
            counts.unplaced, 2,
            "a flow not asked, and a group of no flow"
        );

        // Asked about one flow, an answer that does not echo it is that flow's.
        counts.add(
            &answer(r#"{"results": [{"group": {}, "data": [{"metric": "oFlow", "stats": {"count": 2}}]}]}"#),
            &asked[1..],
        );
        assert_eq!(counts.by_flow["f2"], 2.0);
        // An empty answer, or one without results, adds nothing.
        counts.add(&answer("{}"), &asked);
        assert_eq!(counts.by_flow.len(), 2);
    }

    #[test]
    fn every_flow_observed_has_a_sample_nobody_in_it_is_zero() {
        let flows = vec![
            ("f1".to_string(), "INBOUNDCALL".to_string()),
            ("f3".to_string(), "BOT".to_string()),
        ];
        let counts: HashMap<String, f64> = [("f1".to_string(), 7.0)].into();
        let samples = samples(&flows, &counts);
        assert_eq!(samples.series(), 2);
        let text = crate::exposition::fixtures::render(samples);
        assert!(
            text.ends_with(
                "genesys_flow_conversations{query=\"flow_observations\",flow_id=\"f1\",flow_type=\"INBOUNDCALL\"} 7.0\ngenesys_flow_conversations{query=\"flow_observations\",flow_id=\"f3\",flow_type=\"BOT\"} 0.0\n"
            ),
            "{text}"
        );
    }
}
