//! The simulator's HTTP server: the routes, the gateway every request passes before its
//! endpoint (counting, faults, the bearer check, the headers the real gateway adds), the
//! real API's error bodies, and serving on a socket.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::protocol::{API_PREFIX, DropConnection};
use super::{
    Simulator, agent_states, details, faults, ivr_api, jobs, oauth, presences, query,
    queue_observations, queues, surge,
};
use genesys_wire::AGENT_STATUS_COUNTS_PATH;
use genesys_wire::QUEUES_PATH;
use genesys_wire::TOKEN_PATH;
use genesys_wire::details::CONVERSATION_DETAILS_PATH;
use genesys_wire::{JOBS_PATH, QUERY_PATH};
use genesys_wire::{OBSERVATIONS_PATH, PRESENCES_PATH};

/// One endpoint the simulator serves. The router is built from [`ENDPOINTS`] and
/// `simulate --help` lists them, so that the list cannot drift from what is served.
pub struct Endpoint {
    /// The methods it answers, as `simulate --help` lists them; others get a 405.
    pub methods: &'static str,
    pub path: &'static str,
    pub what: &'static str,
    route: fn() -> MethodRouter<Simulator>,
}

/// A job's state, and a page of its results.
const JOB_PATH: &str = "/api/v2/analytics/conversations/aggregates/jobs/{id}";
const JOB_RESULTS_PATH: &str = "/api/v2/analytics/conversations/aggregates/jobs/{id}/results";

/// Every endpoint the simulator serves, in the order `simulate --help` lists them.
pub const ENDPOINTS: [Endpoint; 18] = [
    Endpoint {
        methods: "POST",
        path: TOKEN_PATH,
        what: "OAuth client credentials: an access token",
        route: || post(oauth::token).fallback(oauth::use_post),
    },
    Endpoint {
        methods: "POST",
        path: QUERY_PATH,
        what: "the conversation aggregates query",
        route: || post(query::answer).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "POST",
        path: JOBS_PATH,
        what: "an aggregates job, for intervals too large to answer at once",
        route: || post(jobs::submit).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "GET",
        path: JOB_PATH,
        what: "a job's state",
        route: || get_only(jobs::status),
    },
    Endpoint {
        methods: "GET",
        path: JOB_RESULTS_PATH,
        what: "a job's results, in cursor pages",
        route: || get_only(jobs::results),
    },
    Endpoint {
        methods: "GET",
        path: QUEUES_PATH,
        what: "the org's queues, in pages",
        route: || get_only(queues::list),
    },
    Endpoint {
        methods: "POST",
        path: OBSERVATIONS_PATH,
        what: "the queue observations query: waiting, interacting, agents",
        route: || post(queue_observations::answer).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "GET",
        path: PRESENCES_PATH,
        what: "the org's presence definitions",
        route: || get_only(presences::list),
    },
    Endpoint {
        methods: "POST",
        path: ivr_api::FLOW_AGGREGATES_PATH,
        what: "the flows aggregates query: entries, disconnects, exits, outcomes",
        route: || post(ivr_api::flows_aggregates).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "POST",
        path: ivr_api::FLOW_OBSERVATIONS_PATH,
        what: "the flow observations query: conversations in each flow now",
        route: || post(ivr_api::flow_observations).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "GET",
        path: ivr_api::FLOWS_PATH,
        what: "the org's Architect flows, in pages",
        route: || get_only(ivr_api::flows),
    },
    Endpoint {
        methods: "GET",
        path: ivr_api::FLOW_OUTCOMES_PATH,
        what: "the org's flow outcomes, in pages",
        route: || get_only(ivr_api::flow_outcomes),
    },
    Endpoint {
        methods: "POST",
        path: ivr_api::ACTION_AGGREGATES_PATH,
        what: "the data actions aggregates query: executions, their times and errors",
        route: || post(ivr_api::actions_aggregates).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "GET",
        path: ivr_api::ACTIONS_PATH,
        what: "the org's data actions, in pages",
        route: || get_only(ivr_api::actions),
    },
    Endpoint {
        methods: "POST",
        path: AGENT_STATUS_COUNTS_PATH,
        what: "the agent-state counts: the org's agents, each once, by routing status, presence, ...",
        route: || post(agent_states::answer).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "POST",
        path: CONVERSATION_DETAILS_PATH,
        what: "the conversation details query: each voice call, its Edge and voice quality",
        route: || post(details::answer).fallback(method_not_allowed),
    },
    Endpoint {
        methods: "GET, POST, DELETE",
        path: surge::SURGE_PATH,
        what: "the abandon surge: shown, set (JSON) or cleared (no token needed)",
        route: || control(surge::show, surge::set, surge::clear),
    },
    Endpoint {
        methods: "GET, POST, DELETE",
        path: faults::CONTROL_PATH,
        what: "the faults in force: listed, added (JSON) or cleared (no token needed)",
        route: || control(faults::list, faults::add, faults::clear),
    },
];

/// The endpoints as `simulate --help` lists them: one a line, methods, path and what.
pub fn endpoints_help() -> String {
    let mut help = String::from("Endpoints:\n");
    for endpoint in &ENDPOINTS {
        help.push_str(&format!(
            "  {:<17} {}\n  {:<17}   {}\n",
            endpoint.methods, endpoint.path, "", endpoint.what
        ));
    }
    help
}

/// Request bodies larger than this get a 413, as the real API does for oversized requests.
const MAX_BODY_BYTES: usize = 1 << 20;

impl Simulator {
    /// Serves until `shutdown` is cancelled.
    ///
    /// The router is wrapped in a hyper service of its own rather than served by
    /// `axum::serve`, so that it can drop a connection: a response marked
    /// [`DropConnection`] becomes an error, and hyper closes the connection of a request
    /// whose service failed without answering it (axum's own loop wants services that never
    /// fail).
    pub async fn serve(&self, listener: TcpListener, shutdown: CancellationToken) {
        if let Ok(address) = listener.local_addr() {
            tracing::debug!(%address, "simulator listening");
        }
        let router = self.router();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let router = router.clone();
            async move {
                let Ok(response) = router.oneshot(request).await;
                match response.extensions().get::<DropConnection>() {
                    Some(&dropped) => Err(dropped),
                    None => Ok(response),
                }
            }
        });
        serve_connections(listener, service, shutdown).await;
    }

    /// Every endpoint of [`ENDPOINTS`], behind the gateway. Unit tests call it without a
    /// socket.
    pub(super) fn router(&self) -> Router {
        ENDPOINTS
            .iter()
            .fold(Router::new(), |router, endpoint| {
                router.route(endpoint.path, (endpoint.route)())
            })
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(self.clone(), gateway))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }

    /// The answer the gateway gives in the endpoint's place, if any: like the real one, it
    /// lets a fault (or the rate limit) answer first, then wants a bearer token for the API,
    /// so that an unknown API path is a 401 before it is a 404.
    async fn intercept(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let api = path.starts_with(API_PREFIX);
        // The fault control and paths outside both hosts go straight to the router.
        if !api && path != TOKEN_PATH {
            return None;
        }
        let s = &self.state;
        let counter = match path {
            TOKEN_PATH => Some(&s.token_requests),
            QUERY_PATH => Some(&s.aggregates_requests),
            QUEUES_PATH => Some(&s.queues_requests),
            OBSERVATIONS_PATH => Some(&s.observations_requests),
            PRESENCES_PATH => Some(&s.presences_requests),
            ivr_api::FLOW_AGGREGATES_PATH => Some(&s.flow_aggregates_requests),
            ivr_api::FLOW_OBSERVATIONS_PATH => Some(&s.flow_observations_requests),
            ivr_api::FLOWS_PATH => Some(&s.flows_requests),
            ivr_api::FLOW_OUTCOMES_PATH => Some(&s.flow_outcomes_requests),
            ivr_api::ACTION_AGGREGATES_PATH => Some(&s.action_aggregates_requests),
            ivr_api::ACTIONS_PATH => Some(&s.actions_requests),
            AGENT_STATUS_COUNTS_PATH => Some(&s.agent_states_requests),
            CONVERSATION_DETAILS_PATH => Some(&s.conversation_details_requests),
            _ if path.starts_with(JOBS_PATH) => Some(&s.jobs_requests),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(answer) = self.fault(path).await {
            return Some(answer);
        }
        if api {
            return self.refuse_unauthorized(headers);
        }
        None
    }
}

/// How long requests in flight get to finish once shutdown is asked for, as in the
/// exporter's own serving loop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// A client that has not sent its request headers by then is dropped, and so is a
/// keep-alive connection idle for as long, as the exporter's own loop does.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `service` on `listener`, each connection on a task of its own, until `shutdown`
/// is cancelled; then waits up to [`DRAIN_TIMEOUT`] for the requests in flight.
async fn serve_connections<S>(listener: TcpListener, service: S, shutdown: CancellationToken)
where
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = Response,
            Error = DropConnection,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "simulator: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "simulator: connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("simulator: connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// What every request meets: [`Simulator::intercept`] before its endpoint, then the
/// gateway's headers on the answer, whoever gave it, and the count of 401s.
async fn gateway(State(sim): State<Simulator>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = match sim.intercept(&path, request.headers()).await {
        Some(answer) => answer,
        None => next.run(request).await,
    };
    sim.gateway_headers(&path, &mut response);
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        sim.state.unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    tracing::debug!(%method, %path, status = status.as_u16(), "simulator answered");
    response
}

/// A GET endpoint that, unlike axum's, does not also answer HEAD: the simulator never has.
/// A control endpoint: GET shows, POST sets, DELETE clears; other methods get a 405
/// naming those three.
fn control<S, TS, A, TA, C, TC>(show: S, set: A, clear: C) -> MethodRouter<Simulator>
where
    S: Handler<TS, Simulator>,
    A: Handler<TA, Simulator>,
    C: Handler<TC, Simulator>,
    TS: 'static,
    TA: 'static,
    TC: 'static,
{
    get(show)
        .post(set)
        .delete(clear)
        .head(faults::method_not_allowed)
        .fallback(faults::method_not_allowed)
}

fn get_only<H, T>(handler: H) -> MethodRouter<Simulator>
where
    H: Handler<T, Simulator>,
    T: 'static,
{
    get(handler)
        .head(method_not_allowed)
        .fallback(method_not_allowed)
}

async fn method_not_allowed(State(sim): State<Simulator>, method: Method) -> Response {
    sim.error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method.not.allowed",
        &format!("{method} is not allowed here"),
    )
}

async fn not_found(State(sim): State<Simulator>, uri: Uri) -> Response {
    sim.error(
        StatusCode::NOT_FOUND,
        "not.found",
        &format!("No resource at {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::Method;

    use super::super::testing::{basic, bearer, call, request};
    use super::*;
    use crate::{RequestCounts, SimulatorConfig, aggregate};
    use genesys_wire::{ErrorBody, OAuthError, TokenResponse};
    use genesys_wire::{OBSERVATIONS_PATH, PRESENCES_PATH, QueuePage};

    #[tokio::test]
    async fn the_endpoints_listed_are_those_served_with_their_methods() {
        let sim = Simulator::new(SimulatorConfig::default());
        let (client, token) = (basic("demo-client", "demo-secret"), bearer(&sim).await);
        for endpoint in &ENDPOINTS {
            let path = endpoint.path.replace("{id}", "no-such-job");
            let auth = match endpoint.path {
                TOKEN_PATH => client.as_str(),
                _ => token.as_str(),
            };
            let listed: Vec<&str> = endpoint.methods.split(", ").collect();
            for method in [Method::GET, Method::POST, Method::DELETE, Method::PUT] {
                let (status, body) =
                    call(&sim, request(method.clone(), &path, Some(auth), "")).await;
                let message = body["message"].as_str().unwrap_or_default();
                assert!(
                    !(status == 404 && message.starts_with("No resource at")),
                    "{method} {path} is not routed: {body}"
                );
                assert_eq!(
                    status == 405,
                    !listed.contains(&method.as_str()),
                    "{method} {path}: {status} {body}"
                );
            }
        }
        let (status, _) = call(
            &sim,
            request(Method::GET, "/api/v2/users", Some(&token), ""),
        )
        .await;
        assert_eq!(status, 404, "a path not listed is not served");
        assert!(JOB_PATH.starts_with(JOBS_PATH) && JOB_RESULTS_PATH.starts_with(JOB_PATH));
        let help = endpoints_help();
        for endpoint in &ENDPOINTS {
            let line = format!("{:<17} {}\n", endpoint.methods, endpoint.path);
            assert!(help.contains(&line), "{help}");
            assert!(help.contains(endpoint.what), "{help}");
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_the_real_413() {
        let sim = Simulator::new(SimulatorConfig::default());
        let client = basic("demo-client", "demo-secret");
        let token = bearer(&sim).await;
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        for (path, auth) in [
            (TOKEN_PATH, Some(client.as_str())),
            (QUERY_PATH, Some(token.as_str())),
            (JOBS_PATH, Some(token.as_str())),
            (faults::CONTROL_PATH, None),
        ] {
            let (status, body) = call(&sim, request(Method::POST, path, auth, &big)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (413, Some("request.entity.too.large")),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn faults_apply_before_the_bearer_check_and_head_is_not_get() {
        let sim = Simulator::new(SimulatorConfig::default());
        // JSON with the form content type `curl -d` sends.
        let fault = r#"{"fault": "unavailable", "requests": 1}"#;
        let (status, _) = call(
            &sim,
            request(Method::POST, faults::CONTROL_PATH, None, fault),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(&sim, request(Method::GET, QUEUES_PATH, None, "")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("service.unavailable"))
        );
        let auth = bearer(&sim).await;
        let Ok(head) = sim
            .router()
            .oneshot(request(Method::HEAD, QUEUES_PATH, Some(&auth), ""))
            .await;
        assert_eq!(head.status(), 405);
    }

    #[tokio::test]
    async fn the_api_wants_a_valid_bearer_token() {
        let sim = Simulator::new(SimulatorConfig::default());
        let (status, body) = call(&sim, request(Method::GET, QUEUES_PATH, None, "")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("authentication.required"))
        );
        assert_eq!(body["status"], 401);
        assert!(body["contextId"].is_string());
        let (status, body) = call(
            &sim,
            request(Method::GET, QUEUES_PATH, Some("Bearer made-up"), ""),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("bad.credentials"))
        );

        let auth = bearer(&sim).await;
        let (status, body) = call(
            &sim,
            request(Method::GET, "/api/v2/routing/skills", Some(&auth), ""),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not.found")));
        let (status, _) = call(&sim, request(Method::GET, QUERY_PATH, Some(&auth), "")).await;
        assert_eq!(status, 405);
        let (status, body) = call(
            &sim,
            request(Method::POST, QUERY_PATH, Some(&auth), "{\"metrics\": 3}"),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (400, Some("bad.request")));
        let (status, body) = call(
            &sim,
            request(
                Method::POST,
                QUERY_PATH,
                Some(&auth),
                r#"{"interval": "2026-08-20T10:00:00Z/2026-08-20T10:15:00Z", "metrics": ["nAnswered"]}"#,
            ),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid.value"))
        );
        assert_eq!(body["details"][0]["fieldName"], "metrics");
        assert_eq!(
            sim.requests(),
            RequestCounts {
                token: 1,
                aggregates: 3,
                queues: 2,
                jobs: 0,
                observations: 0,
                presences: 0,
                unauthorized: 2,
                ..RequestCounts::default()
            }
        );
    }

    #[tokio::test]
    async fn observations_and_presences_want_a_token_count_and_name_their_permission() {
        let sim = Simulator::new(SimulatorConfig {
            clock: genesys_wire::time::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap()),
            ..SimulatorConfig::default()
        });
        let body = serde_json::json!({
            "filter": {"type": "or", "predicates": [
                {"dimension": "queueId", "value": sim.org().queues[0].id}]},
            "metrics": ["oWaiting", "oOnQueueUsers"]})
        .to_string();
        let (status, _) = call(&sim, request(Method::POST, OBSERVATIONS_PATH, None, &body)).await;
        assert_eq!(status, 401);
        let auth = bearer(&sim).await;
        let (status, answer) = call(
            &sim,
            request(Method::POST, OBSERVATIONS_PATH, Some(&auth), &body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        // What the pure function answers at the simulator's (held) time.
        let expected = sim
            .observe(&serde_json::from_str(&body).unwrap(), sim.now())
            .unwrap();
        assert_eq!(answer, serde_json::to_value(&expected).unwrap());
        assert_eq!(answer["results"].as_array().unwrap().len(), 5);
        let (status, presences) =
            call(&sim, request(Method::GET, PRESENCES_PATH, Some(&auth), "")).await;
        assert_eq!(status, 200);
        assert_eq!(
            presences,
            serde_json::to_value(Simulator::presences()).unwrap()
        );

        // Missing or empty metrics, a body that is not a query, a GET.
        for (body, code, field) in [
            (
                r#"{"filter": {"type": "or"}}"#,
                "constraint.validation",
                "metrics",
            ),
            (
                r#"{"filter": {"type": "or"}, "metrics": []}"#,
                "constraint.validation",
                "metrics",
            ),
            (
                r#"{"filter": {"type": "or"}, "metrics": ["oBogus"]}"#,
                "invalid.value",
                "metrics",
            ),
            (r#"{"metrics": "oWaiting"}"#, "bad.request", "body"),
            ("[", "bad.request", "body"),
        ] {
            let (status, error) = call(
                &sim,
                request(Method::POST, OBSERVATIONS_PATH, Some(&auth), body),
            )
            .await;
            assert_eq!(
                (
                    status,
                    error["code"].as_str(),
                    error["details"][0]["fieldName"].as_str()
                ),
                (400, Some(code), Some(field)),
                "{body}: {error}"
            );
            assert!(error["contextId"].is_string());
        }
        let (status, _) = call(
            &sim,
            request(Method::GET, OBSERVATIONS_PATH, Some(&auth), ""),
        )
        .await;
        assert_eq!(status, 405);
        let counts = sim.requests();
        assert_eq!((counts.observations, counts.presences), (8, 1));

        // The forbidden fault names the permission each path needs.
        sim.add_fault("forbidden".parse().unwrap());
        for (method, path, permission) in [
            (
                Method::POST,
                OBSERVATIONS_PATH,
                "analytics:queueObservation:view",
            ),
            (
                Method::GET,
                PRESENCES_PATH,
                "presence:presenceDefinition:view",
            ),
            (Method::GET, QUEUES_PATH, "routing:queue:view"),
            (
                Method::POST,
                AGENT_STATUS_COUNTS_PATH,
                "analytics:agentState:view",
            ),
            (
                Method::POST,
                QUERY_PATH,
                "analytics:conversationAggregate:view",
            ),
            (
                Method::POST,
                CONVERSATION_DETAILS_PATH,
                "analytics:conversationDetail:view",
            ),
        ] {
            let (status, error) = call(&sim, request(method, path, Some(&auth), &body)).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (403, Some("missing.permissions"))
            );
            assert_eq!(error["messageParams"]["permissions"], permission, "{path}");
        }
    }

    #[tokio::test]
    async fn agent_states_read_repeated_group_by_keys_and_want_a_token() {
        let sim = Simulator::new(SimulatorConfig {
            clock: genesys_wire::time::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap()),
            ..SimulatorConfig::default()
        });
        let path = format!("{AGENT_STATUS_COUNTS_PATH}?groupBy=presence&groupBy=routingStatus");
        let body = serde_json::json!({"userFilter": {"type": "or", "predicates": [
            {"dimension": "divisionId", "value": sim.org().queues[5].division.id}]}})
        .to_string();
        assert_eq!(
            call(&sim, request(Method::POST, &path, None, &body))
                .await
                .0,
            401
        );
        let auth = bearer(&sim).await;
        let (status, answer) = call(&sim, request(Method::POST, &path, Some(&auth), &body)).await;
        assert_eq!(status, 200, "{answer}");
        let expected = sim
            .agent_state_counts(
                &["presence".into(), "routingStatus".into()],
                &serde_json::from_str(&body).unwrap(),
                sim.now(),
            )
            .unwrap();
        assert_eq!(answer, serde_json::to_value(&expected).unwrap());
        assert!(answer.get("segmentCounts").is_none());
        let (status, error) = call(
            &sim,
            request(
                Method::POST,
                &format!("{AGENT_STATUS_COUNTS_PATH}?groupBy=skill"),
                Some(&auth),
                "{}",
            ),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid.value"))
        );
        assert_eq!(sim.requests().agent_states, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_surge_is_set_shown_and_cleared_at_run_time() {
        let clock = genesys_wire::time::Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
        let sim = Simulator::new(SimulatorConfig {
            clock: clock.clone(),
            ..SimulatorConfig::default()
        });
        let control = |method: Method, body: &str| {
            let sim = sim.clone();
            let request = request(method, surge::SURGE_PATH, None, body);
            async move { call(&sim, request).await }
        };
        assert_eq!(
            control(Method::GET, "").await,
            (200, serde_json::Value::Null)
        );
        let (status, shown) = control(
            Method::POST,
            r#"{"queue": "Sales", "start": "2026-08-20T14:10:00Z"}"#,
        )
        .await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(
            shown,
            serde_json::json!({"queue": "Sales", "start": "2026-08-20T14:10:00Z",
                "abandon": 0.8, "wait_factor": 10.0, "volume": 2.0})
        );
        assert_eq!(control(Method::GET, "").await.1, shown);
        // Refused: the surge in force stays.
        for bad in [
            r#"{"queue": "Marketing"}"#,
            r#"{"queue": "Sales", "abandon": 2}"#,
            r#"{"queue": "Sales", "start": "at two"}"#,
            "Sales",
        ] {
            let (status, error) = control(Method::POST, bad).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (400, Some("bad.request")),
                "{bad}"
            );
        }
        assert_eq!(sim.surge().unwrap().queue, "Sales");
        // Without a start, it starts at the simulator's now; relative, from then.
        tokio::time::advance(Duration::from_secs(60)).await;
        let (_, shown) = control(Method::POST, r#"{"queue": "VIP", "start": "+2m"}"#).await;
        assert_eq!(shown["start"], "2026-08-20T14:10:00Z");
        let (_, shown) = control(Method::POST, r#"{"queue": "VIP", "abandon": 0.9}"#).await;
        assert_eq!(
            (shown["start"].as_str(), shown["abandon"].as_f64()),
            (Some("2026-08-20T14:08:00Z"), Some(0.9))
        );
        // The API answers under it at once.
        let vip = &sim.org().queues[5].id;
        let query: genesys_wire::ObservationQuery = serde_json::from_value(serde_json::json!({
            "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": vip}]},
            "metrics": ["oOnQueueUsers"]}))
        .unwrap();
        let auth = bearer(&sim).await;
        let (_, answer) = call(
            &sim,
            request(
                Method::POST,
                OBSERVATIONS_PATH,
                Some(&auth),
                &serde_json::to_string(&query).unwrap(),
            ),
        )
        .await;
        let on_queue: f64 = answer["results"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["stats"]["count"].as_f64().unwrap())
            .sum();
        assert_eq!(on_queue, 0.0);
        assert_eq!(
            answer,
            serde_json::to_value(sim.observe(&query, clock.now()).unwrap()).unwrap()
        );
        assert_eq!(
            control(Method::DELETE, "").await,
            (200, serde_json::Value::Null)
        );
        assert_eq!(sim.surge(), None);
        assert_eq!(control(Method::PUT, "").await.0, 405);
        // The control is no API request: no token, no count.
        assert_eq!(sim.requests().observations, 1);
    }

    /// Over real sockets, with reqwest as the client the exporter also uses.
    #[tokio::test(start_paused = true)]
    async fn a_token_is_refused_from_the_instant_its_lifetime_ends() {
        let sim = Simulator::new(SimulatorConfig {
            token_lifetime: Duration::from_secs(1),
            ..SimulatorConfig::default()
        });
        let token = bearer(&sim).await;
        let list = || request(Method::GET, QUEUES_PATH, Some(&token), "");
        assert_eq!(call(&sim, list()).await.0, 200);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(
            call(&sim, list()).await.0,
            200,
            "valid to its last millisecond"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        let (status, body) = call(&sim, list()).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(sim.requests().unauthorized, 1);
    }

    mod over_http {
        use super::*;

        async fn start(config: SimulatorConfig) -> (Simulator, String, CancellationToken) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let sim = Simulator::new(config);
            let shutdown = CancellationToken::new();
            tokio::spawn({
                let (sim, shutdown) = (sim.clone(), shutdown.clone());
                async move { sim.serve(listener, shutdown).await }
            });
            (sim, base, shutdown)
        }

        async fn get_token(http: &reqwest::Client, base: &str, secret: &str) -> reqwest::Response {
            http.post(format!("{base}{TOKEN_PATH}"))
                .basic_auth("demo-client", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        }

        async fn query(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
            http.post(format!("{base}{QUERY_PATH}"))
                .bearer_auth(token)
                .json(&serde_json::json!({
                "interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
                "groupBy": ["queueId", "mediaType"],
                "metrics": ["nOffered", "tAbandon", "oServiceLevel"]}))
                .send()
                .await
                .unwrap()
        }

        #[tokio::test]
        async fn token_query_revoke() {
            let (sim, base, shutdown) = start(SimulatorConfig::default()).await;
            let http = reqwest::Client::new();

            let refused = get_token(&http, &base, "wrong").await;
            assert_eq!(refused.status(), 401);
            let error: OAuthError = refused.json().await.unwrap();
            assert_eq!(error.error, "invalid_client");

            let token: TokenResponse = get_token(&http, &base, "demo-secret")
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(token.token_type, "bearer");

            let answer = query(&http, &base, &token.access_token).await;
            assert_eq!(answer.status(), 200);
            let answer = answer.text().await.unwrap();
            let expected = aggregate(
                sim.org(),
                &serde_json::from_value(serde_json::json!({
                "interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
                "groupBy": ["queueId", "mediaType"],
                "metrics": ["nOffered", "tAbandon", "oServiceLevel"]}))
                .unwrap(),
            )
            .unwrap();
            // Byte for byte what the pure function answers (compared as text because
            // decoding JSON floats need not give back the very same f64).
            assert_eq!(answer, serde_json::to_string(&expected).unwrap());
            assert!(!expected.results.is_empty());

            let queues = http
                .get(format!("{base}{QUEUES_PATH}?pageSize=100"))
                .bearer_auth(&token.access_token)
                .send()
                .await
                .unwrap();
            let page: QueuePage = queues.json().await.unwrap();
            assert_eq!(page.entities.len(), 6);
            assert_eq!(page.next_uri, None);

            sim.revoke_tokens();
            let revoked = query(&http, &base, &token.access_token).await;
            assert_eq!(revoked.status(), 401);
            let error: ErrorBody = revoked.json().await.unwrap();
            assert_eq!(error.code, "bad.credentials");

            // A new token works again.
            let token: TokenResponse = get_token(&http, &base, "demo-secret")
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(query(&http, &base, &token.access_token).await.status(), 200);
            assert_eq!(
                sim.requests(),
                RequestCounts {
                    token: 3,
                    aggregates: 3,
                    queues: 1,
                    jobs: 0,
                    observations: 0,
                    presences: 0,
                    unauthorized: 2,
                    ..RequestCounts::default()
                }
            );
            shutdown.cancel();
        }
    }
}
