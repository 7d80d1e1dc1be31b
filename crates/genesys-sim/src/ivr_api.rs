//! The IVR's endpoints: the flows and actions aggregates queries and the flow observations
//! query ([`super::flow_query`]), and the Architect lists that name what they count: flows
//! (`type=` filter, lowercase, repeated or comma-separated), flow outcomes, and data actions
//! (`ids=`, comma-separated, at most [`MAX_ACTION_IDS`]). The lists are paged like the queue
//! list, with at most [`MAX_LIST_PAGE_SIZE`] a page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Simulator;
use super::flow_query::{action_aggregate, flow_aggregate, observe_flows};
use super::flows::{Architect, Surges};
use super::protocol::{JsonBody, Params, error_response};
use super::queues::PageParams;
use genesys_wire::{AggregationQuery, Division, ObservationQuery};

pub const FLOW_AGGREGATES_PATH: &str = "/api/v2/analytics/flows/aggregates/query";
pub const FLOW_OBSERVATIONS_PATH: &str = "/api/v2/analytics/flows/observations/query";
pub const FLOWS_PATH: &str = "/api/v2/flows";
pub const FLOW_OUTCOMES_PATH: &str = "/api/v2/flows/outcomes";
pub const ACTION_AGGREGATES_PATH: &str = "/api/v2/analytics/actions/aggregates/query";
pub const ACTIONS_PATH: &str = "/api/v2/integrations/actions";

/// The largest `pageSize` the flows, outcomes and actions lists accept (the API does not
/// document one; public clients use 100).
pub const MAX_LIST_PAGE_SIZE: u32 = 100;

/// The most IDs one `ids=` of the actions list may hold, as the API documents.
pub const MAX_ACTION_IDS: usize = 50;

/// The permission each of these endpoints needs, for the 403 of a `forbidden` fault.
pub(super) fn permission(path: &str) -> Option<&'static str> {
    Some(match path {
        FLOW_AGGREGATES_PATH => "analytics:flowAggregate:view",
        FLOW_OBSERVATIONS_PATH => "analytics:flowObservation:view",
        FLOWS_PATH => "architect:flow:view",
        FLOW_OUTCOMES_PATH => "architect:flowOutcome:view",
        ACTION_AGGREGATES_PATH | ACTIONS_PATH => "integrations:action:view",
        _ => return None,
    })
}

impl Simulator {
    /// Runs `work` on the org, its flows, outcomes and actions, and the surges they are
    /// answered under (the abandon surge in force, the flow and action surges configured):
    /// what the flows and actions endpoints answer from, for tests to compute the truth
    /// with [`crate::flow_records`] and [`crate::in_flows_now`].
    pub fn flow_truth<T>(
        &self,
        work: impl FnOnce(&super::SimulatedOrg, &Architect, Surges) -> T,
    ) -> T {
        let abandon = self.surge();
        let config = &self.state.config;
        let architect = Architect::of(&config.org);
        let surges = Surges {
            abandon: abandon.as_ref(),
            flow: config.flow_surge.as_ref(),
            action: config.action_surge.as_ref(),
        };
        work(&config.org, &architect, surges)
    }
}

/// `POST FLOW_AGGREGATES_PATH` and `POST ACTION_AGGREGATES_PATH`: the answer at once (these
/// have no jobs).
async fn aggregates(
    sim: Simulator,
    query: Result<AggregationQuery, String>,
    answer: fn(
        &super::SimulatedOrg,
        Surges,
        &AggregationQuery,
    ) -> Result<genesys_wire::AggregateResponse, genesys_wire::ErrorBody>,
) -> Result<Response, Response> {
    let query = query.map_err(|problem| {
        sim.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, "body")
    })?;
    let worker = sim.clone();
    let response = sim
        .off_the_workers(move || worker.flow_truth(|org, _, surges| answer(org, surges, &query)))
        .await?;
    Ok(Json(response).into_response())
}

pub(super) async fn flows_aggregates(
    State(sim): State<Simulator>,
    JsonBody(query): JsonBody<AggregationQuery>,
) -> Result<Response, Response> {
    aggregates(sim, query, flow_aggregate).await
}

pub(super) async fn actions_aggregates(
    State(sim): State<Simulator>,
    JsonBody(query): JsonBody<AggregationQuery>,
) -> Result<Response, Response> {
    aggregates(sim, query, action_aggregate).await
}

/// `POST FLOW_OBSERVATIONS_PATH`, answered at the simulator's time.
pub(super) async fn flow_observations(
    State(sim): State<Simulator>,
    JsonBody(query): JsonBody<ObservationQuery>,
) -> Result<Response, Response> {
    let query = query.map_err(|problem| {
        sim.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, "body")
    })?;
    let now = sim.now();
    let worker = sim.clone();
    let response = sim
        .off_the_workers(move || {
            worker.flow_truth(|org, _, surges| observe_flows(org, surges, &query, now))
        })
        .await?;
    Ok(Json(response).into_response())
}

/// The query string's parameters in order; a parameter may repeat (`type=a&type=b`).
type Pairs = Vec<(String, String)>;

/// Every value of parameter `name`, comma-separated ones split.
fn values<'a>(pairs: &'a Pairs, name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .collect()
}

fn first(pairs: &Pairs, name: &str) -> Option<String> {
    let value = pairs.iter().find(|(key, _)| key == name);
    value.map(|(_, value)| value.clone())
}

/// One page of `entities` as the Architect and integrations lists answer it, with the links
/// (`query` is what the links repeat besides the paging, e.g. `&type=inboundcall`).
fn listing(
    sim: &Simulator,
    path: &str,
    query: &str,
    pairs: &Pairs,
    entities: Vec<Value>,
) -> Response {
    let page = PageParams {
        page_number: first(pairs, "pageNumber"),
        page_size: first(pairs, "pageSize"),
    };
    let (page_number, page_size) = match sim.checked_page(page, MAX_LIST_PAGE_SIZE) {
        Ok(page) => page,
        Err(error) => return error_response(error),
    };
    let total = entities.len() as u64;
    let page_count = total.div_ceil(u64::from(page_size)) as u32;
    let uri = |n: u32| format!("{path}?pageNumber={n}&pageSize={page_size}{query}");
    let entities: Vec<Value> = entities
        .into_iter()
        .skip((page_number as usize - 1).saturating_mul(page_size as usize))
        .take(page_size as usize)
        .collect();
    let mut page = json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count.max(1)),
    });
    if page_number < page_count {
        page["nextUri"] = uri(page_number + 1).into();
    }
    if page_number > 1 {
        page["previousUri"] = uri(page_number - 1).into();
    }
    Json(page).into_response()
}

fn division(division: &Division) -> Value {
    json!({
        "id": division.id,
        "name": division.name,
        "selfUri": format!("/api/v2/authorization/divisions/{}", division.id),
    })
}

/// `GET FLOWS_PATH?type=&pageNumber=&pageSize=`: the org's flows, those of the `type`s
/// asked for (lowercase, as the API takes them) when any is.
pub(super) async fn flows(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let types: Vec<String> = values(&pairs, "type")
        .into_iter()
        .map(str::to_uppercase)
        .collect();
    let architect = Architect::of(sim.org());
    let entities = architect
        .flows
        .iter()
        .filter(|flow| types.is_empty() || types.iter().any(|t| t == flow.flow_type))
        .map(|flow| {
            json!({
                "id": flow.id,
                "name": flow.name,
                "type": flow.flow_type,
                "division": division(&flow.division),
                "active": true,
                "system": false,
                "deleted": false,
                "selfUri": format!("{FLOWS_PATH}/{}", flow.id),
            })
        })
        .collect();
    let query: String = values(&pairs, "type")
        .iter()
        .map(|t| format!("&type={t}"))
        .collect();
    Ok(listing(&sim, FLOWS_PATH, &query, &pairs, entities))
}

/// `GET FLOW_OUTCOMES_PATH?pageNumber=&pageSize=`: the org's flow outcomes.
pub(super) async fn flow_outcomes(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let architect = Architect::of(sim.org());
    let entities = architect
        .outcomes
        .iter()
        .map(|outcome| {
            json!({
                "id": outcome.id,
                "name": outcome.name,
                "division": division(&outcome.division),
                "selfUri": format!("{FLOW_OUTCOMES_PATH}/{}", outcome.id),
            })
        })
        .collect();
    Ok(listing(&sim, FLOW_OUTCOMES_PATH, "", &pairs, entities))
}

/// `GET ACTIONS_PATH?ids=&pageNumber=&pageSize=`: the org's data actions, those of the
/// `ids` when given (at most [`MAX_ACTION_IDS`]; more is a 400).
pub(super) async fn actions(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let ids = values(&pairs, "ids");
    if ids.len() > MAX_ACTION_IDS {
        return Err(sim.error_with_field(
            StatusCode::BAD_REQUEST,
            "invalid.value",
            &format!(
                "ids holds {} IDs, more than the limit of {MAX_ACTION_IDS}: ask in several requests",
                ids.len()
            ),
            "ids",
        ));
    }
    let architect = Architect::of(sim.org());
    let entities = architect
        .actions
        .iter()
        .filter(|action| ids.is_empty() || ids.contains(&action.id.as_str()))
        .map(|action| {
            json!({
                "id": action.id,
                "name": action.name,
                "integrationId": action.integration_id,
                "category": action.category,
                "version": 1,
                "secure": false,
                "selfUri": format!("{ACTIONS_PATH}/{}", action.id),
            })
        })
        .collect();
    let query = match ids.is_empty() {
        true => String::new(),
        false => format!("&ids={}", ids.join(",")),
    };
    Ok(listing(&sim, ACTIONS_PATH, &query, &pairs, entities))
}
