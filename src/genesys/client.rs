//! The Genesys Cloud API: one method per call the exporter makes, each with a cached
//! client-credentials token, renewed and sent once more if the API refuses it. Requests go
//! out through [`Transport`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::auth::{Credentials, TokenCache};
use super::breaker::{Breaker, BreakerSettings};
use super::retry::{Answer, Retrier, RetrySettings};
use super::transport::{Reply, Transport};
use crate::error::{Error, Result};
use crate::metrics::{BreakerState, Metrics};
use genesys_wire::catalogue::Source;
use genesys_wire::details::{
    CONVERSATION_DETAILS_PATH, ConversationDetailsQuery, ConversationDetailsResponse,
};
use genesys_wire::telephony::{EdgeMetrics, TrunkMetrics};
use genesys_wire::{
    AGENT_STATUS_COUNTS_PATH, AgentStateCountsRequest, AgentStateCountsResponse, AggregateResponse,
    AggregationQuery, Endpoint, FLOW_OBSERVATIONS_PATH, FlowObservationResponse, GroupSink,
    GroupsRead, JOBS_PATH, JobResultsPage, JobStatus, JobSubmitted, Listing, OBSERVATIONS_PATH,
    ObservationQuery, ObservationResponse, PRESENCES_PATH, PresenceDefinitions,
};
use genesys_wire::{EDGE_METRICS_PATH, TRUNK_METRICS_PATH};

/// How long a request may take, from sending it to the last byte of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting (TCP and TLS) may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes one answer may have: `max_response_bytes`. The answers that grow with an
/// org are a synchronous aggregates answer and a job's results page. With the default 14
/// metrics, one queue and media type takes about 1.4 KB of JSON per bucket, so 16 MiB holds
/// some 12,000 groups: 3,000 queues with four media types each, more than the largest orgs
/// in Genesys Cloud's published sizing have, and Genesys refuses a synchronous answer much
/// larger than that itself (400 `response.entity.too.large`, which sends the query to the
/// job API in pages). A poll's peak memory is under 3.5 times its answer besides the
/// answer's own bytes (`tests/poll_memory.rs`), so this keeps one poll's peak to about
/// 75 MB at worst.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Where the client connects and how long it waits.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub api_url: String,
    pub login_url: String,
    pub credentials: Credentials,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Reading an answer stops past this many bytes, and the request fails.
    pub max_response_bytes: u64,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
}

/// `query` as a JSON body; the query types always serialize, but if one did not, the
/// poll fails rather than the process.
fn to_json(endpoint: Endpoint, query: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(query).map_err(|error| {
        Error::Internal(format!("{endpoint}: the query did not serialize: {error}"))
    })
}

/// The Genesys Cloud API, authenticated with a cached client-credentials token.
pub struct Client {
    transport: Arc<Transport>,
    api_url: String,
    tokens: TokenCache,
    breaker_state: watch::Receiver<BreakerState>,
    metrics: Arc<Metrics>,
}

impl Client {
    pub fn new(settings: &ClientSettings, metrics: Arc<Metrics>) -> Result<Client> {
        let breaker = Breaker::new(settings.breaker.clone(), &metrics);
        let breaker_state = breaker.subscribe();
        let retrier = Retrier::new(settings.retry.clone(), breaker, &metrics);
        let transport = Arc::new(Transport::new(
            settings.request_timeout,
            settings.connect_timeout,
            settings.max_response_bytes,
            retrier,
            &metrics,
        )?);
        let tokens = TokenCache::new(
            transport.clone(),
            &settings.login_url,
            settings.credentials.clone(),
        );
        Ok(Client {
            transport,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            tokens,
            breaker_state,
            metrics,
        })
    }

    /// The state of the circuit breaker that every request passes, now and as it changes.
    pub fn breaker_state(&self) -> watch::Receiver<BreakerState> {
        self.breaker_state.clone()
    }

    /// The metrics the client counts its requests in.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// `POST /api/v2/analytics/conversations/aggregates/query`.
    pub async fn aggregates(&self, query: &AggregationQuery) -> Result<AggregateResponse> {
        self.source_aggregates(Source::Conversations, query).await
    }

    /// `source`'s synchronous aggregates query: conversations, flows or data actions.
    pub async fn source_aggregates(
        &self,
        source: Source,
        query: &AggregationQuery,
    ) -> Result<AggregateResponse> {
        self.post_query(source.endpoint(), source.path(), query)
            .await
    }

    /// `POST /api/v2/analytics/flows/observations/query`: the conversations in flows now.
    pub async fn flow_observations(
        &self,
        query: &ObservationQuery,
    ) -> Result<FlowObservationResponse> {
        self.post_query(Endpoint::FlowObservations, FLOW_OBSERVATIONS_PATH, query)
            .await
    }

    /// `POST /api/v2/analytics/conversations/details/query`: one page of conversations.
    pub async fn conversation_details(
        &self,
        query: &ConversationDetailsQuery,
    ) -> Result<ConversationDetailsResponse> {
        self.post_query(
            Endpoint::ConversationDetails,
            CONVERSATION_DETAILS_PATH,
            query,
        )
        .await
    }

    /// One page of a paged list at `path` (`pageNumber` counting from 1), with `filters`
    /// (such as `type=inboundcall`) added to the query string.
    pub async fn list_page<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        page_number: u32,
        page_size: u32,
        filters: &[(&str, &str)],
    ) -> Result<Listing<T>> {
        let unusable = |why: String| Error::Config(format!("api_url {why}"));
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.api_url))
            .map_err(|error| unusable(format!("is not a URL: {error}")))?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("pageNumber", &page_number.to_string())
                .append_pair("pageSize", &page_size.to_string());
            for (key, value) in filters {
                pairs.append_pair(key, value);
            }
        }
        self.call(endpoint, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// `GET /api/v2/telephony/providers/edges/metrics?edgeIds=...`: the metrics of `ids`
    /// (at most [`MAX_EDGE_IDS`](genesys_wire::MAX_EDGE_IDS)), a bare array; anything
    /// else is refused as unreadable.
    pub async fn edge_metrics(&self, ids: &[String]) -> Result<Vec<EdgeMetrics>> {
        self.get_by_ids(Endpoint::EdgeMetrics, EDGE_METRICS_PATH, "edgeIds", ids)
            .await
    }

    /// `GET /api/v2/telephony/providers/edges/trunks/metrics?trunkIds=...`: the metrics of
    /// `ids` (at most [`MAX_TRUNK_IDS`](genesys_wire::MAX_TRUNK_IDS)), a bare array.
    pub async fn trunk_metrics(&self, ids: &[String]) -> Result<Vec<TrunkMetrics>> {
        self.get_by_ids(Endpoint::TrunkMetrics, TRUNK_METRICS_PATH, "trunkIds", ids)
            .await
    }

    /// `GET path?key=a,b,c`: the IDs comma-separated in one value, as the API takes them.
    async fn get_by_ids<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        key: &str,
        ids: &[String],
    ) -> Result<T> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.api_url))
            .map_err(|error| Error::Config(format!("api_url is not a URL: {error}")))?;
        url.query_pairs_mut().append_pair(key, &ids.join(","));
        self.call(endpoint, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// Submits `query` as an asynchronous job.
    pub async fn submit_job(&self, query: &AggregationQuery) -> Result<JobSubmitted> {
        self.post_query(Endpoint::Jobs, JOBS_PATH, query).await
    }

    /// `POST /api/v2/analytics/queues/observations/query`: the queues' state now. An
    /// answer with a metric that is not an observation metric, or a negative or non-finite
    /// statistic, is refused as unreadable.
    pub async fn observations(&self, query: &ObservationQuery) -> Result<ObservationResponse> {
        self.post_query(Endpoint::Observations, OBSERVATIONS_PATH, query)
            .await
    }

    /// `POST /api/v2/analytics/agents/status/counts?groupBy=...`: the agents `request`
    /// picks, each counted once, by the `group_by` values (repeated keys). A negative
    /// count is refused as unreadable; enum values not known are kept.
    pub async fn agent_status_counts(
        &self,
        group_by: &[&str],
        request: &AgentStateCountsRequest,
    ) -> Result<AgentStateCountsResponse> {
        let keys: Vec<String> = group_by.iter().map(|g| format!("groupBy={g}")).collect();
        let path = format!("{AGENT_STATUS_COUNTS_PATH}?{}", keys.join("&"));
        self.post_query(Endpoint::AgentStatusCounts, &path, request)
            .await
    }

    /// `GET /api/v2/presence/definitions`: the org's presences (not paged).
    pub async fn presences(&self) -> Result<PresenceDefinitions> {
        let url = format!("{}{PRESENCES_PATH}", self.api_url);
        self.call(Endpoint::Presences, reqwest::Method::GET, &url, None)
            .await
    }

    /// `POST`s `query` as JSON to `path`: the synchronous query and a job's submission
    /// take the same body.
    async fn post_query<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &impl Serialize,
    ) -> Result<T> {
        let body = to_json(endpoint, query)?;
        let url = format!("{}{path}", self.api_url);
        self.call(endpoint, reqwest::Method::POST, &url, Some(body.into()))
            .await
    }

    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus> {
        let url = self.job_url(job_id, &[])?;
        self.call(Endpoint::Jobs, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// One page of a fulfilled job's results: the first without a cursor, then each with
    /// the cursor the previous page returned.
    pub async fn job_results(&self, job_id: &str, cursor: Option<&str>) -> Result<JobResultsPage> {
        let mut url = self.job_url(job_id, &["results"])?;
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        self.call(Endpoint::Jobs, reqwest::Method::GET, url.as_str(), None)
            .await
    }

    /// `{JOBS_PATH}/{job_id}/{tail...}`, with the id percent-encoded.
    fn job_url(&self, job_id: &str, tail: &[&str]) -> Result<reqwest::Url> {
        let unusable = |why: &str| Error::Config(format!("api_url {why}"));
        let mut url = reqwest::Url::parse(&format!("{}{JOBS_PATH}", self.api_url))
            .map_err(|error| unusable(&format!("is not a URL: {error}")))?;
        url.path_segments_mut()
            .map_err(|()| unusable("cannot have a path"))?
            .push(job_id)
            .extend(tail);
        Ok(url)
    }

    /// [`Client::source_aggregates`], its groups handed to `sink` as they are read rather
    /// than kept: `false` when the sink wanted no more.
    pub async fn aggregates_into(
        &self,
        source: Source,
        query: &AggregationQuery,
        sink: &mut impl GroupSink,
    ) -> Result<bool> {
        let endpoint = source.endpoint();
        let body = to_json(endpoint, query)?;
        let url = format!("{}{}", self.api_url, source.path());
        let reply = self
            .reply(endpoint, reqwest::Method::POST, &url, Some(body.into()))
            .await?;
        self.read_groups(endpoint, reply, sink)
            .map(|read| read.is_some())
    }

    /// [`Client::job_results`], its groups handed to `sink` as they are read: the page's
    /// group count and cursor, or `None` when the sink wanted no more.
    pub async fn job_results_into(
        &self,
        job_id: &str,
        cursor: Option<&str>,
        sink: &mut impl GroupSink,
    ) -> Result<Option<GroupsRead>> {
        let mut url = self.job_url(job_id, &["results"])?;
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let reply = self
            .reply(Endpoint::Jobs, reqwest::Method::GET, url.as_str(), None)
            .await?;
        self.read_groups(Endpoint::Jobs, reply, sink)
    }

    fn read_groups(
        &self,
        endpoint: Endpoint,
        reply: Reply,
        sink: &mut impl GroupSink,
    ) -> Result<Option<GroupsRead>> {
        reply
            .read_groups(endpoint, sink)
            .map_err(|error| self.transport.failed(endpoint, error))
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
        self.reply(endpoint, method, url, body)
            .await?
            .decode(endpoint)
            .map_err(|error| self.transport.failed(endpoint, error))
    }

    /// [`Client::call`]'s successful answer, not yet decoded.
    async fn reply(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<Reply> {
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
            // The one line of this failed attempt, with what the API said.
            tracing::info!(
                error = %reply.summary(endpoint),
                "access token refused (401); renewing it and retrying once"
            );
            let renewed = self.tokens.renew(&token).await?;
            reply = send(renewed).await?;
        }
        if !reply.status.is_success() {
            // Counted and logged as it came in; what is left is to say what to do.
            return Err(reply.api_error(endpoint));
        }
        Ok(reply)
    }
}
