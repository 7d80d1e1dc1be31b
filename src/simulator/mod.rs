//! The fake Genesys Cloud: an HTTP server speaking the same wire format as the real login
//! and API hosts, answering from deterministic synthetic data.
//!
//! This file owns the HTTP side: OAuth client credentials and the tokens it issues, bearer
//! checks, routing, the paged queue list, error bodies and request counting.
//!
//! One server plays both hosts (`login.<domain>` and `api.<domain>`), since their paths
//! do not overlap.
//!
//! What the data looks like and how an aggregates query is answered is pure (no I/O, no
//! clock, no global state), so the same query always gets the same answer, in tests as in
//! `--demo`: `org` is the org and its queues, `traffic` what happens each minute, drawn
//! from `random` and added up in `tally`, `filter` picks what a query covers, and `answer`
//! answers it.

mod answer;
pub mod faults;
mod filter;
mod jobs;
mod org;
mod random;
mod tally;
mod traffic;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as HttpBody;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::genesys::aggregates::{
    AggregateResponse, AggregationQuery, JOBS_PATH, JobSubmitted, QUERY_PATH,
};
use crate::genesys::auth::{OAuthError, TOKEN_PATH, TokenResponse};
use crate::genesys::client::{ErrorBody, ErrorDetail};
use crate::genesys::queues::{QUEUES_PATH, Queue, QueuePage};
use crate::http::{Body, json};

pub use answer::{MAX_INTERVAL_DAYS, MAX_RESULT_CELLS, MAX_SLOT_EVALUATIONS, aggregate};
pub use faults::{Fault, FaultSpec, Malformed};
pub use org::{DEMO_MEDIA_TYPES, Org, QueueProfile, SimQueue};

/// Request bodies larger than this get a 413, as the real API does for oversized requests.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The real queue list's default page size.
const DEFAULT_PAGE_SIZE: u32 = 25;

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// How long an issued token stays valid (`expires_in`).
    pub token_lifetime: Duration,
    pub org: Org,
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
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            client_id: "demo-client".to_string(),
            client_secret: SecretString::from("demo-secret"),
            token_lifetime: Duration::from_secs(86_400),
            org: Org::demo(),
            queue_page_size_max: 500,
            sync_result_limit: None,
            job_page_size: 50,
            job_pending_checks: 1,
            faults: Vec::new(),
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
    unauthorized: AtomicU64,
    faults: faults::Faults,
    jobs: jobs::Jobs,
    /// Changes to the org's queue list made at run time.
    directory: Mutex<Directory>,
}

/// Queue renames and deletions, and whether the queue list is refused with a 403.
#[derive(Default)]
struct Directory {
    renamed: HashMap<String, String>,
    deleted: Vec<String>,
    forbidden: bool,
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
                unauthorized: AtomicU64::new(0),
                jobs,
                directory: Mutex::default(),
                faults,
            }),
        }
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn serve(&self, listener: TcpListener, shutdown: CancellationToken) {
        if let Ok(address) = listener.local_addr() {
            tracing::debug!(%address, "simulator listening");
        }
        let simulator = self.clone();
        crate::http::serve(
            listener,
            move |request| {
                let simulator = simulator.clone();
                async move { simulator.handle(request).await }
            },
            shutdown,
        )
        .await;
    }

    pub fn requests(&self) -> RequestCounts {
        let s = &self.state;
        RequestCounts {
            token: s.token_requests.load(Ordering::Relaxed),
            aggregates: s.aggregates_requests.load(Ordering::Relaxed),
            queues: s.queues_requests.load(Ordering::Relaxed),
            jobs: s.jobs_requests.load(Ordering::Relaxed),
            unauthorized: s.unauthorized.load(Ordering::Relaxed),
        }
    }

    /// Makes every token issued so far invalid (the next API call with one gets a 401), as
    /// when an admin revokes a client's tokens. Tokens issued afterwards work.
    pub fn revoke_tokens(&self) {
        self.tokens().clear();
        tracing::debug!("simulator revoked all tokens");
    }

    /// Renames a queue in the queue list (the analytics data keeps its ID).
    pub fn rename_queue(&self, id: &str, name: &str) {
        self.directory()
            .renamed
            .insert(id.to_string(), name.to_string());
    }

    /// Takes a queue out of the queue list; its past data stays in the analytics.
    pub fn delete_queue(&self, id: &str) {
        self.directory().deleted.push(id.to_string());
    }

    /// Answers the queue list with `403 missing.permissions`, as for an OAuth client
    /// without `routing:queue:view`.
    pub fn forbid_queue_list(&self, forbidden: bool) {
        self.directory().forbidden = forbidden;
    }

    fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        self.state
            .directory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn org(&self) -> &Org {
        &self.state.config.org
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Nothing panics while holding the lock, but a poisoned map is still a valid map.
        self.state
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn next_serial(&self) -> u64 {
        self.state.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Answers one request. Generic over the body so tests can call it without a socket.
    async fn handle<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let mut response = self.route(request).await;
        self.gateway_headers(&path, &mut response);
        let status = response.status().as_u16();
        if status == 401 {
            self.state.unauthorized.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(%method, %path, status, "simulator answered");
        response
    }

    async fn route<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let path = request.uri().path();
        if path == faults::CONTROL_PATH {
            return self.control(request).await;
        }
        if path == TOKEN_PATH {
            self.state.token_requests.fetch_add(1, Ordering::Relaxed);
            if let Some(answer) = self.fault(path).await {
                return answer;
            }
            if request.method() != Method::POST {
                return self.error(405, "method.not.allowed", "Use POST for /oauth/token");
            }
            return self.token(request).await;
        }
        if !path.starts_with("/api/v2/") {
            return self.error(404, "not.found", &format!("No resource at {path}"));
        }
        let counter = match path {
            QUERY_PATH => Some(&self.state.aggregates_requests),
            QUEUES_PATH => Some(&self.state.queues_requests),
            _ if path.starts_with(JOBS_PATH) => Some(&self.state.jobs_requests),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(answer) = self.fault(path).await {
            return answer;
        }
        // Like the real gateway, authentication comes before routing.
        if let Some(refusal) = self.refuse_unauthorized(&request) {
            return refusal;
        }
        if let Some(rest) = request.uri().path().strip_prefix(JOBS_PATH) {
            return self
                .job_request(request.method().clone(), rest.to_string(), request)
                .await;
        }
        match (request.uri().path(), request.method()) {
            (QUERY_PATH, &Method::POST) => self.aggregates(request).await,
            (QUEUES_PATH, &Method::GET) => self.queues(&request),
            (QUERY_PATH | QUEUES_PATH, method) => self.error(
                405,
                "method.not.allowed",
                &format!("{method} is not allowed here"),
            ),
            (path, _) => self.error(404, "not.found", &format!("No resource at {path}")),
        }
    }

    // --- OAuth

    async fn token<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let oauth_error = |status, error: &str, description: &str| {
            json(
                status,
                &OAuthError {
                    error: error.to_string(),
                    description: Some(description.to_string()),
                    error_description: Some(description.to_string()),
                },
            )
        };
        match self.client_credentials_match(request.headers()) {
            None => return oauth_error(401, "invalid_client", "client not found"),
            Some(false) => return oauth_error(401, "invalid_client", "authentication failed"),
            Some(true) => {}
        }
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return oauth_error(
                400,
                "invalid_request",
                "expected an application/x-www-form-urlencoded body",
            );
        }
        let body = match read_body(request.into_body()).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        match form_value(&String::from_utf8_lossy(&body), "grant_type").as_deref() {
            Some("client_credentials") => {}
            None => return oauth_error(400, "invalid_request", "grant_type is required"),
            Some(_) => {
                return oauth_error(
                    400,
                    "unsupported_grant_type",
                    "only client_credentials is supported",
                );
            }
        }
        let token = self.issue_token();
        tracing::debug!("simulator issued a token");
        json(
            200,
            &TokenResponse {
                access_token: token,
                token_type: "bearer".to_string(),
                expires_in: self.state.config.token_lifetime.as_secs(),
            },
        )
    }

    /// `None` when no usable `Basic` credentials were sent or the client id is unknown,
    /// `Some(false)` for a known client with the wrong secret.
    fn client_credentials_match(&self, headers: &hyper::HeaderMap) -> Option<bool> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let config = &self.state.config;
        if id != config.client_id {
            return None;
        }
        Some(constant_time_eq(
            secret.as_bytes(),
            config.client_secret.expose_secret().as_bytes(),
        ))
    }

    /// A fresh token: 48 bytes of keyed hash output, base64url like a real token. Unique
    /// because each comes from its own serial number; unpredictable because of the seed.
    fn issue_token(&self) -> String {
        let token = self.token_for(self.next_serial());
        let now = Instant::now();
        let mut tokens = self.tokens();
        // Forget expired tokens so that the map stays as small as the set of valid ones.
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + self.state.config.token_lifetime);
        token
    }

    fn token_for(&self, serial: u64) -> String {
        let mut bytes = Vec::with_capacity(48);
        for i in 0..6u64 {
            let word = random::mix(self.state.seed ^ random::mix(serial.wrapping_mul(8) + i));
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Every access token issued so far, and then some: tokens share their serial numbers
    /// with context ids, so this is the token of every serial used. For tests that check
    /// no token leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        let used = self.state.serial.load(Ordering::Relaxed);
        (0..used).map(|serial| self.token_for(serial)).collect()
    }

    /// The 401 answer for a request without a valid bearer token, `None` when it has one.
    fn refuse_unauthorized<B>(&self, request: &Request<B>) -> Option<Response<Body>> {
        let Some(value) = request.headers().get(AUTHORIZATION) else {
            return Some(self.error(
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let valid = token.is_some_and(|token| {
            self.tokens()
                .get(token)
                .is_some_and(|expires| *expires > Instant::now())
        });
        (!valid).then(|| self.error(401, "bad.credentials", "Invalid login credentials."))
    }

    // --- API endpoints

    async fn aggregates<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let response = match self.answer_query(request).await {
            Ok(response) => response,
            Err(refusal) => return refusal,
        };
        let results: usize = response.results.iter().map(|g| g.data.len()).sum();
        match self.state.config.sync_result_limit {
            Some(limit) if results > limit => self.error(
                400,
                "response.entity.too.large",
                &format!(
                    "The response would hold {results} results, more than {limit}: use the asynchronous jobs API"
                ),
            ),
            _ => json(200, &response),
        }
    }

    /// Reads an aggregates query from the request body and answers it, or the error
    /// response the real API would give.
    async fn answer_query<B>(
        &self,
        request: Request<B>,
    ) -> Result<AggregateResponse, Response<Body>>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let body = read_body(request.into_body()).await?;
        let query: AggregationQuery = serde_json::from_slice(&body).map_err(|error| {
            self.error_with_field(400, "bad.request", &error.to_string(), "body")
        })?;
        // A month of minutes for many queues takes seconds: keep it off the async workers.
        let state = Arc::clone(&self.state);
        let answer =
            tokio::task::spawn_blocking(move || aggregate(&state.config.org, &query)).await;
        match answer {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(mut error)) => {
                error.context_id = Some(self.context_id());
                Err(json(error.status, &error))
            }
            Err(join_error) => {
                tracing::error!(%join_error, "simulator aggregate task failed");
                Err(self.error(500, "internal.server.error", "The query failed"))
            }
        }
    }

    fn queues<B>(&self, request: &Request<B>) -> Response<Body> {
        let mut page_number = 1u32;
        let mut page_size = DEFAULT_PAGE_SIZE;
        for pair in request.uri().query().unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let target = match key {
                "pageNumber" => &mut page_number,
                "pageSize" => &mut page_size,
                _ => continue,
            };
            match value.parse() {
                Ok(n) => *target = n,
                Err(_) => {
                    return self.error_with_field(
                        400,
                        "bad.request",
                        &format!("{key} must be a whole number, not '{value}'"),
                        key,
                    );
                }
            }
        }
        let max = self.state.config.queue_page_size_max;
        if page_size == 0 || page_size > max {
            return self.error_with_field(
                400,
                "invalid.value",
                &format!("pageSize must be between 1 and {max}"),
                "pageSize",
            );
        }
        if page_number == 0 {
            return self.error_with_field(
                400,
                "invalid.value",
                "pageNumber must be at least 1",
                "pageNumber",
            );
        }
        let directory = self.directory();
        if directory.forbidden {
            return self.error(
                403,
                "missing.permissions",
                "Unable to perform the requested action. You are missing the following permission(s): [routing:queue:view]",
            );
        }
        let queues: Vec<&SimQueue> = self
            .org()
            .queues
            .iter()
            .filter(|q| !directory.deleted.contains(&q.id))
            .collect();
        let total = queues.len() as u64;
        let page_count = total.div_ceil(u64::from(page_size)) as u32;
        let entities = queues
            .iter()
            .skip((page_number as usize - 1).saturating_mul(page_size as usize))
            .take(page_size as usize)
            .map(|q| Queue {
                id: q.id.clone(),
                name: directory.renamed.get(&q.id).unwrap_or(&q.name).clone(),
                division: Some(q.division.clone()),
            })
            .collect();
        let uri = |n: u32| format!("{QUEUES_PATH}?pageNumber={n}&pageSize={page_size}");
        let page = QueuePage {
            entities,
            page_number,
            page_size,
            total,
            page_count,
            next_uri: (page_number < page_count).then(|| uri(page_number + 1)),
        };
        // The real page also carries these links; `QueuePage` does not need them.
        json(
            200,
            &QueuePageWire {
                page: &page,
                first_uri: uri(1),
                self_uri: uri(page_number),
                last_uri: uri(page_count.max(1)),
            },
        )
    }

    /// `POST JOBS_PATH`, `GET JOBS_PATH/{id}` and `GET JOBS_PATH/{id}/results?cursor=`.
    async fn job_request<B>(
        &self,
        method: Method,
        rest: String,
        request: Request<B>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let refusal = |error| match error {
            jobs::JobError::Unknown => self.error(404, "not.found", "No such job"),
            jobs::JobError::NotReady => self.error(
                400,
                "bad.request",
                "The job's results are not available yet",
            ),
            jobs::JobError::BadCursor => {
                self.error_with_field(400, "invalid.value", "Invalid cursor", "cursor")
            }
        };
        match (method, segments.as_slice()) {
            (Method::POST, [""]) => match self.answer_query(request).await {
                Ok(response) => {
                    let job_id = self.context_id();
                    self.state.jobs.submit(job_id.clone(), response.results);
                    json(202, &JobSubmitted { job_id })
                }
                Err(refusal) => refusal,
            },
            (Method::GET, [id]) => match self.state.jobs.status(id) {
                Ok(status) => json(200, &status),
                Err(error) => refusal(error),
            },
            (Method::GET, [id, "results"]) => {
                let cursor = request
                    .uri()
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("cursor="));
                match self.state.jobs.page(id, cursor) {
                    Ok(page) => json(200, &page),
                    Err(error) => refusal(error),
                }
            }
            (Method::GET | Method::POST, _) => self.error(404, "not.found", "No such job resource"),
            (method, _) => self.error(
                405,
                "method.not.allowed",
                &format!("{method} is not allowed here"),
            ),
        }
    }

    // --- Errors

    fn context_id(&self) -> String {
        random::uuid_from(self.state.seed ^ random::mix(self.next_serial()))
    }

    fn error(&self, status: u16, code: &str, message: &str) -> Response<Body> {
        json(
            status,
            &ErrorBody {
                message: message.to_string(),
                code: code.to_string(),
                status,
                context_id: Some(self.context_id()),
                details: Vec::new(),
            },
        )
    }

    fn error_with_field(
        &self,
        status: u16,
        code: &str,
        message: &str,
        field: &str,
    ) -> Response<Body> {
        json(
            status,
            &ErrorBody {
                message: message.to_string(),
                code: code.to_string(),
                status,
                context_id: Some(self.context_id()),
                details: vec![ErrorDetail {
                    error_code: Some(code.to_string()),
                    field_name: Some(field.to_string()),
                }],
            },
        )
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct QueuePageWire<'a> {
    #[serde(flatten)]
    page: &'a QueuePage,
    first_uri: String,
    self_uri: String,
    last_uri: String,
}

/// Reads a whole request body, answering 413 when it is too large.
async fn read_body<B>(body: B) -> Result<Bytes, Response<Body>>
where
    B: HttpBody<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            let (status, code, message) = if error.downcast_ref::<LengthLimitError>().is_some() {
                (
                    413,
                    "request.entity.too.large",
                    "The request body is too large",
                )
            } else {
                (400, "bad.request", "The request body could not be read")
            };
            Err(json(
                status,
                &ErrorBody {
                    message: message.to_string(),
                    code: code.to_string(),
                    status,
                    ..ErrorBody::default()
                },
            ))
        }
    }
}

/// The first value of `key` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares secrets without an early exit, so response timing does not reveal how much of
/// a guessed secret was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use serde_json::Value;

    use super::*;

    fn request(method: Method, uri: &str, auth: Option<&str>, body: &str) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth);
        }
        builder
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    }

    async fn call(sim: &Simulator, request: Request<Full<Bytes>>) -> (u16, Value) {
        let response = sim.handle(request).await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    async fn bearer(sim: &Simulator) -> String {
        let auth = basic("demo-client", "demo-secret");
        let (status, body) = call(
            sim,
            request(
                Method::POST,
                TOKEN_PATH,
                Some(&auth),
                "grant_type=client_credentials",
            ),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        format!("Bearer {}", body["access_token"].as_str().unwrap())
    }

    #[tokio::test]
    async fn queues_are_paged_like_the_real_list() {
        let sim = Simulator::new(SimulatorConfig {
            org: Org::with_queues(57, vec!["voice".to_string()]),
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        let mut names = Vec::new();
        let mut uri = format!("{QUEUES_PATH}?pageNumber=1&pageSize=25");
        let mut pages = Vec::new();
        loop {
            let (status, body) = call(&sim, request(Method::GET, &uri, Some(&auth), "")).await;
            assert_eq!(status, 200, "{body}");
            let page: QueuePage = serde_json::from_value(body.clone()).unwrap();
            assert_eq!((page.total, page.page_count, page.page_size), (57, 3, 25));
            assert_eq!(body["selfUri"], uri.as_str());
            names.extend(page.entities.iter().map(|q| q.name.clone()));
            assert!(page.entities.iter().all(|q| q.division.is_some()));
            pages.push(page.entities.len());
            match page.next_uri {
                Some(next) => uri = next,
                None => break,
            }
        }
        assert_eq!(pages, [25, 25, 7]);
        assert_eq!(names.len(), 57);
        assert_eq!(names[0], "Sales");
        assert_eq!(names[56], "Queue 0057");
        assert_eq!(sim.requests().queues, 3);

        // Defaults: page 1 of 25.
        let (_, body) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(
            (body["pageNumber"].as_u64(), body["pageSize"].as_u64()),
            (Some(1), Some(25))
        );
        // Past the end: an empty page without a next link.
        let (status, body) = call(
            &sim,
            request(
                Method::GET,
                &format!("{QUEUES_PATH}?pageNumber=9"),
                Some(&auth),
                "",
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["entities"], serde_json::json!([]));
        assert!(body.get("nextUri").is_none());
        // Too large a page.
        let (status, body) = call(
            &sim,
            request(
                Method::GET,
                &format!("{QUEUES_PATH}?pageSize=501"),
                Some(&auth),
                "",
            ),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid.value"))
        );
        assert_eq!(body["details"][0]["fieldName"], "pageSize");
    }

    #[tokio::test]
    async fn the_token_endpoint_checks_client_and_grant() {
        let sim = Simulator::new(SimulatorConfig::default());
        let form = "grant_type=client_credentials";
        for (auth, description) in [
            (Some(basic("demo-client", "wrong")), "authentication failed"),
            (
                Some(basic("someone-else", "demo-secret")),
                "client not found",
            ),
            (None, "client not found"),
            (Some("Bearer demo-secret".to_string()), "client not found"),
        ] {
            let (status, body) = call(
                &sim,
                request(Method::POST, TOKEN_PATH, auth.as_deref(), form),
            )
            .await;
            assert_eq!(status, 401);
            assert_eq!(body["error"], "invalid_client");
            assert_eq!(body["error_description"], description);
        }
        let auth = basic("demo-client", "demo-secret");
        let (status, body) = call(
            &sim,
            request(Method::POST, TOKEN_PATH, Some(&auth), "grant_type=password"),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );

        let (status, first) =
            call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        assert_eq!(status, 200);
        assert_eq!(first["token_type"], "bearer");
        assert_eq!(first["expires_in"], 86_400);
        let (_, second) = call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        let (first, second) = (
            first["access_token"].as_str().unwrap(),
            second["access_token"].as_str().unwrap(),
        );
        assert_ne!(first, second);
        assert!(first.len() >= 40 && !first.contains("demo-secret"));

        let (status, _) = call(&sim, request(Method::GET, TOKEN_PATH, Some(&auth), "")).await;
        assert_eq!(status, 405);
        assert_eq!(
            sim.requests(),
            RequestCounts {
                token: 8,
                aggregates: 0,
                queues: 0,
                jobs: 0,
                unauthorized: 4
            }
        );
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
                unauthorized: 2
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_after_their_lifetime() {
        let sim = Simulator::new(SimulatorConfig {
            token_lifetime: Duration::from_secs(300),
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        tokio::time::advance(Duration::from_secs(299)).await;
        let (status, _) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(status, 200);
        tokio::time::advance(Duration::from_secs(1)).await;
        let (status, body) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("bad.credentials"))
        );
    }

    #[test]
    fn form_values_are_percent_decoded() {
        let body = "scope=a+b&grant%5Ftype=client%5Fcredentials&x=%zz%";
        assert_eq!(
            form_value(body, "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(form_value(body, "scope").as_deref(), Some("a b"));
        assert_eq!(form_value(body, "x").as_deref(), Some("%zz%"));
        assert_eq!(form_value(body, "missing"), None);
    }

    /// Over real sockets, with reqwest as the client the exporter also uses.
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
                    unauthorized: 2
                }
            );
            shutdown.cancel();
        }

        #[tokio::test]
        async fn an_expired_token_is_refused() {
            let (sim, base, shutdown) = start(SimulatorConfig {
                token_lifetime: Duration::from_secs(1),
                ..SimulatorConfig::default()
            })
            .await;
            let http = reqwest::Client::new();
            let token: TokenResponse = get_token(&http, &base, "demo-secret")
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(token.expires_in, 1);
            assert_eq!(query(&http, &base, &token.access_token).await.status(), 200);
            // Real sockets and paused time do not mix, so this waits in real time.
            tokio::time::sleep(Duration::from_millis(1_200)).await;
            let expired = query(&http, &base, &token.access_token).await;
            assert_eq!(expired.status(), 401);
            assert_eq!(sim.requests().unauthorized, 1);
            shutdown.cancel();
        }
    }
}
