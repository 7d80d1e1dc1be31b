//! The synchronous aggregates query, and reading a query off a request for it and for a
//! job: the answer itself is worked out off the async workers.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::{Request, Response};

use super::server::read_body;
use super::{Simulator, aggregate};
use crate::genesys::aggregates::{AggregateResponse, AggregationQuery};
use crate::http::{Body, json};

impl Simulator {
    pub(super) async fn aggregates<B>(&self, request: Request<B>) -> Response<Body>
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
    pub(super) async fn answer_query<B>(
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
}
