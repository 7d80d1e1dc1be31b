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
use super::architect::Architect;
use super::flow_query::{action_aggregate, flow_aggregate, observe_flows};
use super::flows::Surges;
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
pub(super) type Pairs = Vec<(String, String)>;

/// Every value of parameter `name`, comma-separated ones split.
pub(super) fn values<'a>(pairs: &'a Pairs, name: &str) -> Vec<&'a str> {
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
pub(super) fn listing(
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

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::super::testing::{bearer, call, request};
    use super::*;
    use crate::{FaultSpec, RequestCounts, SimulatorConfig};
    use genesys_wire::time::Clock;

    fn sim() -> Simulator {
        Simulator::new(SimulatorConfig {
            clock: Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap()),
            ..SimulatorConfig::default()
        })
    }

    async fn get(sim: &Simulator, auth: &str, uri: &str) -> (u16, Value) {
        call(sim, request(Method::GET, uri, Some(auth), "")).await
    }

    #[tokio::test]
    async fn the_lists_are_paged_and_filtered_like_the_real_ones() {
        let sim = sim();
        let auth = bearer(&sim).await;
        let architect = Architect::of(sim.org());
        // Flows, two a page: every flow once, type in capitals, with its division.
        let mut uri = format!("{FLOWS_PATH}?pageSize=2");
        let mut names = Vec::new();
        loop {
            let (status, page) = get(&sim, &auth, &uri).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(
                (page["total"].as_u64(), page["pageCount"].as_u64()),
                (Some(3), Some(2))
            );
            for flow in page["entities"].as_array().unwrap() {
                let known = architect.flows.iter().find(|f| f.id == flow["id"]).unwrap();
                assert_eq!(flow["name"], known.name.as_str());
                assert_eq!(flow["type"], known.flow_type);
                assert_eq!(flow["division"]["name"], "Home");
                names.push(known.name.clone());
            }
            match page["nextUri"].as_str() {
                Some(next) => uri = next.to_string(),
                None => break,
            }
        }
        assert_eq!(names, ["Main IVR", "Retention IVR", "Web Chat"]);
        // type= takes the lowercase names, repeated or comma-separated.
        for (query, expected) in [
            ("type=inboundcall", vec!["Main IVR", "Retention IVR"]),
            ("type=inboundchat", vec!["Web Chat"]),
            (
                "type=inboundcall&type=inboundchat",
                vec!["Main IVR", "Retention IVR", "Web Chat"],
            ),
            (
                "type=inboundchat,inboundcall",
                vec!["Main IVR", "Retention IVR", "Web Chat"],
            ),
            ("type=bot", vec![]),
        ] {
            let (_, page) = get(&sim, &auth, &format!("{FLOWS_PATH}?{query}")).await;
            let names: Vec<&str> = page["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, expected, "{query}");
            assert_eq!(page["pageSize"], 25, "the default page size");
        }
        // Outcomes.
        let (_, page) = get(&sim, &auth, FLOW_OUTCOMES_PATH).await;
        let outcomes: Vec<(&str, &str)> = page["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["id"].as_str().unwrap(), o["name"].as_str().unwrap()))
            .collect();
        let known: Vec<(&str, &str)> = architect
            .outcomes
            .iter()
            .map(|o| (o.id.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(outcomes, known);
        // Actions, all or by ids.
        let (_, page) = get(&sim, &auth, ACTIONS_PATH).await;
        assert_eq!(page["total"], 3);
        let lookup = &architect.actions[0];
        assert_eq!(
            page["entities"][0]["integrationId"],
            lookup.integration_id.as_str()
        );
        assert_eq!(page["entities"][0]["category"], "CRM");
        let ids = format!("{},{},no-such-action", lookup.id, architect.actions[2].id);
        let (_, page) = get(&sim, &auth, &format!("{ACTIONS_PATH}?ids={ids}")).await;
        let names: Vec<&str> = page["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Lookup account", "Create case"]);
        assert_eq!(
            sim.requests(),
            RequestCounts {
                token: 1,
                flows: 7,
                flow_outcomes: 1,
                actions: 2,
                ..RequestCounts::default()
            }
        );
    }

    #[tokio::test]
    async fn too_large_pages_too_many_ids_and_no_token_are_refused() {
        let sim = sim();
        let auth = bearer(&sim).await;
        for path in [FLOWS_PATH, FLOW_OUTCOMES_PATH, ACTIONS_PATH] {
            let (status, body) = get(&sim, &auth, &format!("{path}?pageSize=101")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("invalid.value")),
                "{path}"
            );
            assert_eq!(body["details"][0]["fieldName"], "pageSize");
            let (status, _) = get(&sim, &auth, &format!("{path}?pageSize=100")).await;
            assert_eq!(status, 200, "{path}: 100 is allowed");
            let (status, body) = get(&sim, &auth, &format!("{path}?pageNumber=first")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("bad.request")),
                "{path}"
            );
            let (status, body) = call(&sim, request(Method::GET, path, None, "")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (401, Some("authentication.required"))
            );
        }
        let ids = |n: usize| {
            (0..n)
                .map(|i| format!("id-{i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let (status, _) = get(&sim, &auth, &format!("{ACTIONS_PATH}?ids={}", ids(50))).await;
        assert_eq!(status, 200, "50 IDs are allowed");
        let (status, body) = get(&sim, &auth, &format!("{ACTIONS_PATH}?ids={}", ids(51))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid.value"))
        );
        assert_eq!(body["details"][0]["fieldName"], "ids");
        assert!(body["message"].as_str().unwrap().contains("51"), "{body}");
    }

    #[tokio::test]
    async fn a_fault_can_refuse_one_endpoint_naming_its_permission() {
        let sim = sim();
        let auth = bearer(&sim).await;
        for (path, permission) in [
            (FLOWS_PATH, "architect:flow:view"),
            (FLOW_OUTCOMES_PATH, "architect:flowOutcome:view"),
            (ACTIONS_PATH, "integrations:action:view"),
            (FLOW_AGGREGATES_PATH, "analytics:flowAggregate:view"),
            (FLOW_OBSERVATIONS_PATH, "analytics:flowObservation:view"),
            (ACTION_AGGREGATES_PATH, "integrations:action:view"),
        ] {
            sim.clear_faults();
            sim.add_fault(
                format!("forbidden,path={path}$")
                    .parse::<FaultSpec>()
                    .unwrap(),
            );
            let method = if path.contains("/query") {
                Method::POST
            } else {
                Method::GET
            };
            let (status, body) = call(&sim, request(method, path, Some(&auth), "{}")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (403, Some("missing.permissions"))
            );
            assert!(
                body["message"].as_str().unwrap().contains(permission),
                "{body}"
            );
            // The other endpoints answer as usual.
            let other = if path == FLOWS_PATH {
                FLOW_OUTCOMES_PATH
            } else {
                FLOWS_PATH
            };
            assert_eq!(get(&sim, &auth, other).await.0, 200, "{path}");
        }
    }

    #[tokio::test]
    async fn the_queries_answer_what_the_pure_functions_answer() {
        let flow = crate::FailureSurge {
            target: "Main IVR".into(),
            start: "2026-08-20T13:30:00Z".parse().unwrap(),
        };
        let sim = Simulator::new(SimulatorConfig {
            clock: Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap()),
            flow_surge: Some(flow.clone()),
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        let query = AggregationQuery {
            interval: "2026-08-20T13:00:00.000Z/2026-08-20T14:00:00.000Z".into(),
            granularity: Some("PT15M".into()),
            time_zone: None,
            group_by: vec!["flowId".into(), "flowType".into(), "flowOutcomeId".into()],
            filter: None,
            metrics: ["nFlow", "nFlowOutcome", "nFlowOutcomeFailed", "tFlow"]
                .map(String::from)
                .to_vec(),
        };
        let body = serde_json::to_string(&query).unwrap();
        let (status, answer) = call(
            &sim,
            request(Method::POST, FLOW_AGGREGATES_PATH, Some(&auth), &body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let surges = Surges {
            flow: Some(&flow),
            ..Surges::default()
        };
        let expected = flow_aggregate(sim.org(), surges, &query).unwrap();
        assert_eq!(answer, serde_json::to_value(&expected).unwrap());
        assert_ne!(
            expected,
            flow_aggregate(sim.org(), Surges::default(), &query).unwrap()
        );
        assert_eq!(expected, sim.flow_aggregate(&query).unwrap());

        let query = AggregationQuery {
            group_by: vec![
                "actionId".into(),
                "errorType".into(),
                "responseStatus".into(),
            ],
            metrics: vec!["tTotalExecution".into()],
            ..query
        };
        let body = serde_json::to_string(&query).unwrap();
        let (status, answer) = call(
            &sim,
            request(Method::POST, ACTION_AGGREGATES_PATH, Some(&auth), &body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer,
            serde_json::to_value(sim.action_aggregate(&query).unwrap()).unwrap()
        );

        let ids: Vec<Value> = Architect::of(sim.org())
            .flows
            .iter()
            .map(|f| json!({"type": "dimension", "dimension": "flowId", "value": f.id}))
            .collect();
        let body = json!({"filter": {"type": "or", "predicates": ids}, "metrics": ["oFlow"]});
        let (status, answer) = call(
            &sim,
            request(
                Method::POST,
                FLOW_OBSERVATIONS_PATH,
                Some(&auth),
                &body.to_string(),
            ),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let counts = sim.flow_truth(|org, architect, surges| {
            crate::in_flows_now(org, architect, surges, sim.now())
        });
        let answered: Vec<u64> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["data"][0]["stats"]["count"].as_f64().unwrap() as u64)
            .collect();
        assert_eq!(answered, counts);
        // Bad bodies and unknown names get the real 400s.
        for (path, body, code) in [
            (FLOW_AGGREGATES_PATH, "[", "bad.request"),
            (
                FLOW_AGGREGATES_PATH,
                r#"{"interval": "2026-08-20T13:00:00Z/2026-08-20T14:00:00Z", "metrics": ["nOffered"]}"#,
                "invalid.value",
            ),
            (
                ACTION_AGGREGATES_PATH,
                r#"{"interval": "2026-08-20T13:00:00Z/2026-08-20T14:00:00Z", "metrics": ["tTotalExecution"], "groupBy": ["queueId"]}"#,
                "invalid.value",
            ),
            (
                FLOW_OBSERVATIONS_PATH,
                r#"{"metrics": ["oFlow"]}"#,
                "bad.request",
            ),
        ] {
            let (status, error) = call(&sim, request(Method::POST, path, Some(&auth), body)).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (400, Some(code)),
                "{path} {body}"
            );
        }
        let counts = sim.requests();
        assert_eq!(
            (
                counts.flow_aggregates,
                counts.action_aggregates,
                counts.flow_observations
            ),
            (3, 2, 2)
        );
    }
}
