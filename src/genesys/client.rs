//! The HTTP client for the Genesys Cloud API.

use serde::{Deserialize, Serialize};

/// The error body every Genesys Cloud API endpoint answers with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
}

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::aggregates::{
    AggregateResponse, AggregationQuery, JOBS_PATH, JobResultsPage, JobStatus, JobSubmitted,
    QUERY_PATH,
};
use super::auth::{Credentials, TokenCache};
use super::queues::{QUEUES_PATH, QueuePage};
use crate::error::{Error, Result};
use crate::metrics::{EndpointLabel, FailureLabels, Metrics};

/// The API endpoints the exporter calls; the `endpoint` label of the request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Aggregates,
    Jobs,
    Queues,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Aggregates => "aggregates",
            Endpoint::Jobs => "jobs",
            Endpoint::Queues => "queues",
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the client connects and how long it waits.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub api_url: String,
    pub login_url: String,
    pub credentials: Credentials,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

/// Sends requests and counts them; shared by the token cache and the API client.
pub struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: Arc<Metrics>,
}

/// A whole HTTP answer, read before it is judged.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    pub correlation_id: Option<String>,
    content_type: String,
}

impl Transport {
    /// Sends one request and reads the whole answer. Counts the request, and the failure if
    /// there is no answer.
    pub(crate) async fn execute(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply> {
        self.metrics
            .api_requests
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.as_str(),
            })
            .inc();
        let transport_error = |error: reqwest::Error| Error::Transport {
            endpoint,
            timeout: error.is_timeout(),
            // Without the URL: it is known, and the error chain says what failed.
            detail: error_chain(&error.without_url()),
        };
        let response = request
            .send()
            .await
            .map_err(|error| self.failed(endpoint, transport_error(error)))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let correlation_id = header("inin-correlation-id");
        let content_type = header("content-type").unwrap_or_default();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.failed(endpoint, transport_error(error)))?;
        Ok(Reply {
            status,
            body,
            correlation_id,
            content_type,
        })
    }

    /// Counts `error` as a failure of `endpoint` and hands it back. Callers log it: they
    /// know whether it matters (a failed poll) or was said already (a known 403).
    pub(crate) fn failed(&self, endpoint: Endpoint, error: Error) -> Error {
        self.metrics
            .api_failures
            .get_or_create(&FailureLabels {
                endpoint: endpoint.as_str(),
                reason: error.reason(),
            })
            .inc();
        tracing::debug!(%error, "Genesys Cloud request failed");
        error
    }
}

impl Reply {
    /// The error that a non-2xx answer stands for, from the Genesys error body if it has one.
    pub(crate) fn api_error(&self, endpoint: Endpoint) -> Error {
        let parsed = serde_json::from_slice::<ErrorBody>(&self.body).unwrap_or_default();
        let message = if parsed.message.is_empty() {
            snippet(&self.body)
        } else {
            parsed.message
        };
        Error::Api {
            endpoint,
            status: self.status.as_u16(),
            code: parsed.code,
            message,
            correlation_id: self.correlation_id.clone(),
        }
    }

    fn decode<T: DeserializeOwned>(&self, endpoint: Endpoint) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|error| {
            let content_type = match self.content_type.as_str() {
                "" => "no Content-Type",
                other => other,
            };
            Error::Decode {
                endpoint,
                detail: format!(
                    "{} in a {}-byte body ({content_type}): {error}",
                    json_error_kind(&error),
                    self.body.len()
                ),
                correlation_id: self.correlation_id.clone(),
            }
        })
    }
}

/// A short name for what is wrong with a JSON body.
pub(crate) fn json_error_kind(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "wrong fields or types",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// The first line of a body that is not a Genesys error, for the log.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or_default().trim();
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    if short.is_empty() {
        "(empty body)".into()
    } else {
        short
    }
}

/// "a: b: c" from an error and its sources; reqwest's own Display says only the outer part.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The Genesys Cloud API, authenticated with a cached client-credentials token.
pub struct Client {
    transport: Arc<Transport>,
    api_url: String,
    tokens: TokenCache,
}

impl Client {
    pub fn new(settings: &ClientSettings, metrics: Arc<Metrics>) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("genesys-exporter/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|error| Error::Config(format!("cannot build the HTTP client: {error}")))?;
        let transport = Arc::new(Transport { http, metrics });
        let tokens = TokenCache::new(
            transport.clone(),
            &settings.login_url,
            settings.credentials.clone(),
        );
        Ok(Client {
            transport,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            tokens,
        })
    }

    /// The metrics the client counts its requests in.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.transport.metrics.clone()
    }

    /// `POST /api/v2/analytics/conversations/aggregates/query`.
    pub async fn aggregates(&self, query: &AggregationQuery) -> Result<AggregateResponse> {
        let body = serde_json::to_vec(query).expect("the query type always serializes");
        let url = format!("{}{QUERY_PATH}", self.api_url);
        self.call(
            Endpoint::Aggregates,
            reqwest::Method::POST,
            &url,
            Some(body.into()),
        )
        .await
    }

    /// Submits `query` as an asynchronous job.
    pub async fn submit_job(&self, query: &AggregationQuery) -> Result<JobSubmitted> {
        let body = serde_json::to_vec(query).expect("the query type always serializes");
        let url = format!("{}{JOBS_PATH}", self.api_url);
        self.call(
            Endpoint::Jobs,
            reqwest::Method::POST,
            &url,
            Some(body.into()),
        )
        .await
    }

    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus> {
        let url = self.job_url(job_id, &[]);
        self.call(Endpoint::Jobs, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// One page of a fulfilled job's results: the first without a cursor, then each with
    /// the cursor the previous page returned.
    pub async fn job_results(&self, job_id: &str, cursor: Option<&str>) -> Result<JobResultsPage> {
        let mut url = self.job_url(job_id, &["results"]);
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        self.call(Endpoint::Jobs, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// `{JOBS_PATH}/{job_id}/{tail...}`, with the id percent-encoded.
    fn job_url(&self, job_id: &str, tail: &[&str]) -> reqwest::Url {
        let mut url = reqwest::Url::parse(&format!("{}{JOBS_PATH}", self.api_url))
            .expect("api_url was checked to be an http(s) URL");
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .push(job_id)
            .extend(tail);
        url
    }

    /// One page of `GET /api/v2/routing/queues`, counting pages from 1.
    pub async fn queues_page(&self, page_number: u32, page_size: u32) -> Result<QueuePage> {
        let url = format!(
            "{}{QUEUES_PATH}?pageNumber={page_number}&pageSize={page_size}",
            self.api_url
        );
        self.call(Endpoint::Queues, reqwest::Method::GET, &url, None)
            .await
    }

    /// One API call to `url`. A 401 means the token is no longer valid: renew it and try
    /// once more.
    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<T> {
        let send = |token: SecretString| {
            let mut request = self
                .transport
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose_secret());
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            self.transport.execute(endpoint, request)
        };
        let token = self.tokens.token().await?;
        let mut reply = send(token.clone()).await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            tracing::info!(%endpoint, "access token refused (401); renewing it and retrying once");
            let renewed = self.tokens.renew(&token).await?;
            reply = send(renewed).await?;
        }
        if !reply.status.is_success() {
            return Err(self.transport.failed(endpoint, reply.api_error(endpoint)));
        }
        reply
            .decode(endpoint)
            .map_err(|error| self.transport.failed(endpoint, error))
    }
}
