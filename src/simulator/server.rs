//! The simulator's HTTP server: routing, request counting, error bodies.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as HttpBody;
use hyper::{Method, Request, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Simulator, faults, random};
use crate::genesys::aggregates::{JOBS_PATH, QUERY_PATH};
use crate::genesys::auth::TOKEN_PATH;
use crate::genesys::client::{ErrorBody, ErrorDetail};
use crate::genesys::queues::QUEUES_PATH;
use crate::http::{Body, json};

/// Request bodies larger than this get a 413, as the real API does for oversized requests.
const MAX_BODY_BYTES: usize = 1 << 20;

impl Simulator {
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

    /// Answers one request. Generic over the body so tests can call it without a socket.
    pub(super) async fn handle<B>(&self, request: Request<B>) -> Response<Body>
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
    // --- Errors

    pub(super) fn context_id(&self) -> String {
        random::uuid_from(self.state.seed ^ random::mix(self.next_serial()))
    }

    pub(super) fn error(&self, status: u16, code: &str, message: &str) -> Response<Body> {
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

    pub(super) fn error_with_field(
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

/// Reads a whole request body, answering 413 when it is too large.
pub(super) async fn read_body<B>(body: B) -> Result<Bytes, Response<Body>>
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::Method;

    use super::super::testing::{bearer, call, request};
    use super::*;
    use crate::genesys::auth::{OAuthError, TokenResponse};
    use crate::genesys::queues::QueuePage;
    use crate::simulator::{RequestCounts, SimulatorConfig, aggregate};

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
