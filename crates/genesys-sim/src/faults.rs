//! What makes the simulated Genesys Cloud misbehave: faults switched on from the
//! configuration, the command line (`simulate --fault unavailable,seconds=30`) or, while it
//! runs, `POST /simulator/faults`; and the per-minute rate limit the real API enforces,
//! announced in `inin-ratelimit-*` headers.
//!
//! A fault applies to requests whose path starts with its `path` (every API request by
//! default, `/oauth/token` for the login service; a `path` ending in `$` to that path
//! only), from `after` seconds after it is set,
//! for `seconds` seconds and at most `requests` requests, whichever ends first; unset,
//! until it is cleared. The first active fault that matches a request decides its answer.
//!
//! | `fault` | the answer |
//! |---|---|
//! | `rate_limited` (`retry_after`, default 1) | 429 `too.many.requests.retry.after` with `Retry-After`; unlimited, a 429 storm |
//! | `unavailable` | 503 `service.unavailable` |
//! | `gateway_timeout` | 504 `request.timeout` |
//! | `slow` (`delay` seconds) | the normal answer, that much later |
//! | `reset` | the connection closed without an answer |
//! | `revoke_tokens` | every token issued so far revoked, then the normal answer (once by default) |
//! | `forbidden` | 403 `missing.permissions`, naming the permission the path needs |
//! | `malformed` (`body`) | 200 with a broken body: `invalid_json`, `truncated`, `wrong_types`, `unknown_metric`, `missing_fields`, `out_of_range`, `html`, `empty` |

use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::Simulator;
use super::protocol::{API_PREFIX, JsonBody, drop_connection, error_response};
use genesys_wire::details::CONVERSATION_DETAILS_PATH;
use genesys_wire::{AGENT_STATUS_COUNTS_PATH, OBSERVATIONS_PATH, PRESENCES_PATH, QUEUES_PATH};
use genesys_wire::{Endpoint, ErrorBody};

/// Where faults are set, listed and cleared at run time.
pub const CONTROL_PATH: &str = "/simulator/faults";

/// Requests per minute the API accepts, as Genesys Cloud's default per OAuth client.
pub use genesys_wire::RATE_LIMIT_PER_MINUTE;

/// One fault and when it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub fault: Fault,
    /// Only requests whose path starts with this.
    #[serde(default = "api_paths")]
    pub path: String,
    /// Seconds from when it is set to when it starts.
    #[serde(default)]
    pub after: f64,
    /// Seconds it lasts once started; unset, until it is cleared or used up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// How many requests it applies to; unset, all of them (one for `revoke_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
}

fn api_paths() -> String {
    API_PREFIX.into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    RateLimited {
        #[serde(default = "one_second")]
        retry_after: u64,
    },
    Unavailable,
    GatewayTimeout,
    Slow {
        delay: f64,
    },
    Reset,
    RevokeTokens,
    Forbidden,
    Malformed {
        body: Malformed,
    },
}

fn one_second() -> u64 {
    1
}

/// The broken bodies a `malformed` fault answers with, each with status 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    InvalidJson,
    Truncated,
    WrongTypes,
    UnknownMetric,
    MissingFields,
    OutOfRange,
    Html,
    Empty,
}

impl Malformed {
    pub const ALL: [Malformed; 8] = [
        Malformed::InvalidJson,
        Malformed::Truncated,
        Malformed::WrongTypes,
        Malformed::UnknownMetric,
        Malformed::MissingFields,
        Malformed::OutOfRange,
        Malformed::Html,
        Malformed::Empty,
    ];

    /// The content type and body. Apart from its one fault, each is a well-formed answer.
    pub fn body(self) -> (&'static str, &'static str) {
        const JSON: &str = "application/json";
        match self {
            Malformed::InvalidJson => (JSON, r#"{"results": [{"group": {"queueId": }]}"#),
            Malformed::Truncated => (
                JSON,
                r#"{"results": [{"group": {"queueId": "9a3c1c56-0b8e-4b7f-9a70-2f1f5c1d0a11", "mediaType": "voice"}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"cou"#,
            ),
            Malformed::WrongTypes => (
                JSON,
                r#"{"results": [{"group": {"queueId": "9a3c1c56-0b8e-4b7f-9a70-2f1f5c1d0a11"}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"count": "877"}}]}]}]}"#,
            ),
            Malformed::UnknownMetric => (
                JSON,
                r#"{"results": [{"group": {"queueId": "9a3c1c56-0b8e-4b7f-9a70-2f1f5c1d0a11"}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"count": 877}}, {"metric": "nSurprises", "stats": {"count": 3}}]}]}]}"#,
            ),
            Malformed::MissingFields => (
                JSON,
                r#"{"results": [{"group": {"queueId": "9a3c1c56-0b8e-4b7f-9a70-2f1f5c1d0a11"}, "data": [{"metrics": [{"stats": {"count": 877}}]}]}]}"#,
            ),
            Malformed::OutOfRange => (
                JSON,
                r#"{"results": [{"group": {"queueId": "9a3c1c56-0b8e-4b7f-9a70-2f1f5c1d0a11"}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"count": -877}}]}]}]}"#,
            ),
            Malformed::Html => (
                "text/html; charset=utf-8",
                "<!DOCTYPE html>\n<html><head><title>Scheduled maintenance</title></head>\n<body><h1>We'll be back soon</h1></body></html>\n",
            ),
            Malformed::Empty => (JSON, ""),
        }
    }
}

/// `unavailable,seconds=30`, `rate_limited,retry_after=5,requests=1`, `malformed,body=html`
/// on the command line: the fault's name, then its fields as `key=value`. JSON works too.
impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultSpec, String> {
        let value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|error| error.to_string())
        } else {
            let mut parts = text.split(',').map(str::trim);
            let mut fields = serde_json::Map::new();
            fields.insert("fault".into(), parts.next().unwrap_or_default().into());
            for part in parts {
                let (key, value) = part
                    .split_once('=')
                    .ok_or_else(|| format!("'{part}' is not key=value"))?;
                let value = match value.parse::<f64>() {
                    // Whole numbers as integers, so that they fit the u64 fields.
                    Ok(number) if number.fract() == 0.0 && number >= 0.0 => {
                        serde_json::Value::from(number as u64)
                    }
                    Ok(number) => serde_json::Value::from(number),
                    Err(_) => value.into(),
                };
                fields.insert(key.into(), value);
            }
            Ok(serde_json::Value::Object(fields))
        };
        value
            .and_then(|value| serde_json::from_value(value).map_err(|error| error.to_string()))
            .map_err(|error| {
                format!(
                    "fault '{text}': {error}; write it as a fault name and key=value fields, such as unavailable,seconds=30 or malformed,body=html"
                )
            })
    }
}

/// Whether a fault set on `spec_path` applies to a request to `path`: a path it starts
/// with, or exactly the path when `spec_path` ends in `$` (`/api/v2/flows$` is the flow
/// list and not the outcome list below it).
fn covers(spec_path: &str, path: &str) -> bool {
    match spec_path.strip_suffix('$') {
        Some(exact) => path == exact,
        None => path.starts_with(spec_path),
    }
}

/// The faults in force and the rate-limit window, shared by every request.
#[derive(Default)]
pub(crate) struct Faults {
    active: Mutex<Vec<Active>>,
    window: Mutex<Option<RateWindow>>,
}

struct Active {
    spec: FaultSpec,
    starts: Instant,
    ends: Option<Instant>,
    requests_left: Option<u64>,
}

/// A fixed one-minute window of API requests.
struct RateWindow {
    started: Instant,
    count: u64,
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

impl Faults {
    pub(crate) fn add(&self, spec: FaultSpec) {
        let starts = Instant::now() + seconds(spec.after);
        let ends = spec.seconds.map(|s| starts + seconds(s));
        let requests_left = spec
            .requests
            .or(matches!(spec.fault, Fault::RevokeTokens).then_some(1));
        lock(&self.active).push(Active {
            spec,
            starts,
            ends,
            requests_left,
        });
    }

    fn clear(&self) {
        lock(&self.active).clear();
    }

    fn list(&self) -> Vec<FaultSpec> {
        lock(&self.active).iter().map(|a| a.spec.clone()).collect()
    }

    /// The fault that takes the request to `path`, if any; one request is used up.
    fn take(&self, path: &str) -> Option<Fault> {
        let now = Instant::now();
        let mut active = lock(&self.active);
        active.retain(|a| a.ends.is_none_or(|ends| now < ends) && a.requests_left != Some(0));
        let hit = active
            .iter_mut()
            .find(|a| now >= a.starts && covers(&a.spec.path, path))?;
        if let Some(left) = &mut hit.requests_left {
            *left -= 1;
        }
        Some(hit.spec.fault.clone())
    }

    /// Counts an API request in the current minute: its place in the window and the
    /// seconds until the window ends.
    fn count(&self) -> (u64, u64) {
        let now = Instant::now();
        let mut window = lock(&self.window);
        let window = match window.as_mut() {
            Some(current) if now.duration_since(current.started) < Duration::from_secs(60) => {
                current
            }
            _ => window.insert(RateWindow {
                started: now,
                count: 0,
            }),
        };
        window.count += 1;
        let reset = Duration::from_secs(60).saturating_sub(now.duration_since(window.started));
        (window.count, reset.as_secs_f64().ceil() as u64)
    }

    /// The requests made in the current window, and the seconds until it ends.
    fn budget(&self) -> (u64, u64) {
        let now = Instant::now();
        match lock(&self.window).as_ref() {
            Some(window) if now.duration_since(window.started) < Duration::from_secs(60) => {
                let left = Duration::from_secs(60) - now.duration_since(window.started);
                (window.count, left.as_secs_f64().ceil() as u64)
            }
            _ => (0, 60),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Simulator {
    /// Sets a fault.
    pub fn add_fault(&self, spec: FaultSpec) {
        tracing::info!(?spec, "simulator fault set");
        self.state.faults.add(spec);
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
        tracing::info!("simulator faults cleared");
    }

    /// The answer an active fault or the rate limit gives a request to `path`, or `None`
    /// to answer it normally. A `slow` fault waits here, then answers normally.
    pub(super) async fn fault(&self, path: &str) -> Option<Response> {
        let faults = &self.state.faults;
        if path.starts_with(API_PREFIX) {
            let (count, reset) = faults.count();
            if count > u64::from(RATE_LIMIT_PER_MINUTE) {
                return Some(self.too_many_requests(reset));
            }
        }
        let answer = match faults.take(path)? {
            Fault::RateLimited { retry_after } => self.too_many_requests(retry_after),
            Fault::Unavailable => self.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service.unavailable",
                "The service is currently unavailable",
            ),
            Fault::GatewayTimeout => self.error(
                StatusCode::GATEWAY_TIMEOUT,
                "request.timeout",
                "The request timed out before a response was received",
            ),
            Fault::Slow { delay } => {
                tokio::time::sleep(seconds(delay)).await;
                return None;
            }
            Fault::Reset => drop_connection(),
            Fault::RevokeTokens => {
                self.revoke_tokens();
                return None;
            }
            Fault::Forbidden => self.missing_permission(path),
            Fault::Malformed { body } => {
                let (content_type, body) = body.body();
                ([(CONTENT_TYPE, content_type)], body).into_response()
            }
        };
        Some(answer)
    }

    fn too_many_requests(&self, retry_after: u64) -> Response {
        let mut answer = self.error(
            StatusCode::TOO_MANY_REQUESTS,
            "too.many.requests.retry.after",
            &format!(
                "Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
            ),
        );
        answer
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
        answer
    }

    fn missing_permission(&self, path: &str) -> Response {
        let endpoint = if path.starts_with(QUEUES_PATH) {
            Endpoint::Queues
        } else if path.starts_with(OBSERVATIONS_PATH) {
            Endpoint::Observations
        } else if path.starts_with(PRESENCES_PATH) {
            Endpoint::Presences
        } else if path.starts_with(AGENT_STATUS_COUNTS_PATH) {
            Endpoint::AgentStatusCounts
        } else if path.starts_with(CONVERSATION_DETAILS_PATH) {
            Endpoint::ConversationDetails
        } else {
            Endpoint::Aggregates
        };
        let permission = super::ivr_api::permission(path).unwrap_or(endpoint.permission());
        let body = serde_json::json!({
            "message": format!("Unable to perform the requested action. You are missing the following permission(s): [{permission}]"),
            "code": "missing.permissions",
            "status": 403,
            "messageWithParams": "Unable to perform the requested action. You are missing the following permission(s): [{permissions}]",
            "messageParams": {"permissions": permission},
            "contextId": self.context_id(),
            "details": [],
            "errors": [],
        });
        (StatusCode::FORBIDDEN, Json(body)).into_response()
    }

    /// The headers the real API puts on every answer: the rate-limit budget on API
    /// answers, and a correlation id on all.
    pub(super) fn gateway_headers(&self, path: &str, answer: &mut Response) {
        let headers = answer.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&self.context_id()) {
            headers.insert("inin-correlation-id", id);
        }
        if path.starts_with(API_PREFIX) {
            let (count, reset) = self.state.faults.budget();
            headers.insert("inin-ratelimit-count", HeaderValue::from(count));
            headers.insert(
                "inin-ratelimit-allowed",
                HeaderValue::from(RATE_LIMIT_PER_MINUTE),
            );
            headers.insert("inin-ratelimit-reset", HeaderValue::from(reset));
        }
    }
}

/// `GET CONTROL_PATH`: the faults in force.
pub(super) async fn list(State(sim): State<Simulator>) -> Response {
    Json(sim.state.faults.list()).into_response()
}

/// `POST CONTROL_PATH` with a [`FaultSpec`] as JSON sets it; answers the faults in force.
pub(super) async fn add(
    State(sim): State<Simulator>,
    JsonBody(spec): JsonBody<FaultSpec>,
) -> Response {
    match spec {
        Ok(spec) => {
            sim.add_fault(spec);
            list(State(sim)).await
        }
        Err(problem) => error_response(ErrorBody {
            message: format!(
                "not a fault: {problem}; send {{\"fault\": \"unavailable\", \"seconds\": 30}} or the like"
            ),
            code: "bad.request".into(),
            status: 400,
            ..ErrorBody::default()
        }),
    }
}

/// `DELETE CONTROL_PATH` clears every fault.
pub(super) async fn clear(State(sim): State<Simulator>) -> Response {
    sim.clear_faults();
    list(State(sim)).await
}

pub(super) async fn method_not_allowed(State(sim): State<Simulator>, method: Method) -> Response {
    sim.error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method.not.allowed",
        &format!("{method} is not allowed here; use GET, POST or DELETE"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesys_wire::AggregateResponse;

    #[test]
    fn faults_are_written_as_a_name_and_fields_on_the_command_line() {
        let spec: FaultSpec = "rate_limited,retry_after=5,requests=2".parse().unwrap();
        assert_eq!(spec.fault, Fault::RateLimited { retry_after: 5 });
        assert_eq!(spec.requests, Some(2));
        assert_eq!(spec.path, "/api/v2/");
        let spec: FaultSpec = "slow,delay=0.5,path=/oauth/token".parse().unwrap();
        assert_eq!(spec.fault, Fault::Slow { delay: 0.5 });
        assert_eq!(spec.path, "/oauth/token");
        let spec: FaultSpec = "malformed, body=html, after=60".parse().unwrap();
        assert_eq!(
            spec.fault,
            Fault::Malformed {
                body: Malformed::Html
            }
        );
        assert_eq!(spec.after, 60.0);
        let json: FaultSpec = r#"{"fault": "unavailable", "seconds": 30}"#.parse().unwrap();
        assert_eq!(json.fault, Fault::Unavailable);
        assert_eq!(json.seconds, Some(30.0));

        let error = "unavialable,seconds=30".parse::<FaultSpec>().unwrap_err();
        assert!(error.contains("unknown variant `unavialable`"), "{error}");
        assert!(error.contains("such as unavailable,seconds=30"), "{error}");
        let error = "malformed".parse::<FaultSpec>().unwrap_err();
        assert!(error.contains("missing field `body`"), "{error}");
    }

    #[test]
    fn each_malformed_body_is_broken_in_its_own_way_only() {
        for kind in Malformed::ALL {
            let (content_type, body) = kind.body();
            let decoded = serde_json::from_str::<AggregateResponse>(body);
            let error = decoded.expect_err(&format!("{kind:?} decoded")).to_string();
            let expected = match kind {
                Malformed::InvalidJson => "expected value",
                Malformed::Truncated | Malformed::Empty => "EOF while parsing",
                Malformed::WrongTypes => "invalid type: string \"877\"",
                Malformed::UnknownMetric => "unknown metric 'nSurprises'",
                Malformed::MissingFields => "missing field `metric`",
                Malformed::OutOfRange => "count -877 is out of range",
                Malformed::Html => "expected value",
            };
            assert!(error.contains(expected), "{kind:?}: {error}");
            assert_eq!(
                content_type.starts_with("text/html"),
                kind == Malformed::Html
            );
        }
        // Without its fault, the unknown-metric body is a good answer.
        let (_, body) = Malformed::UnknownMetric.body();
        let repaired = body.replace("nSurprises", "nConnected");
        assert!(serde_json::from_str::<AggregateResponse>(&repaired).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_applies_from_its_start_for_its_time_or_its_requests() {
        let faults = Faults::default();
        faults.add("unavailable,after=10,seconds=5".parse().unwrap());
        faults.add("reset,requests=2,path=/oauth/token".parse().unwrap());
        assert_eq!(faults.take("/api/v2/routing/queues"), None);
        assert_eq!(faults.take("/oauth/token"), Some(Fault::Reset));
        assert_eq!(faults.take("/oauth/token"), Some(Fault::Reset));
        assert_eq!(faults.take("/oauth/token"), None, "used up");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(faults.take("/api/v2/x"), Some(Fault::Unavailable));
        assert_eq!(faults.take("/oauth/token"), None, "another path");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(faults.take("/api/v2/x"), None, "over");
        assert!(faults.list().is_empty());

        faults.add("revoke_tokens".parse().unwrap());
        assert_eq!(faults.take("/api/v2/x"), Some(Fault::RevokeTokens));
        assert_eq!(faults.take("/api/v2/x"), None, "revokes once by default");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_counts_requests_per_minute() {
        let faults = Faults::default();
        assert_eq!(faults.budget(), (0, 60));
        assert_eq!(faults.count(), (1, 60));
        tokio::time::advance(Duration::from_millis(20_500)).await;
        assert_eq!(faults.count(), (2, 40));
        assert_eq!(faults.budget(), (2, 40));
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(faults.count(), (1, 60), "a new window");
    }
}
