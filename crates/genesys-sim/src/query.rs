//! The synchronous aggregates query, and answering a query read off a request for it and
//! for a job: the answer itself is worked out off the async workers.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::protocol::JsonBody;
use super::{Simulator, aggregate_with_surge};
use genesys_wire::{AggregateResponse, AggregationQuery};

/// `POST QUERY_PATH`: the answer at once, unless it holds more results than the
/// configured limit, as the real API refuses large answers.
pub(super) async fn answer(
    State(sim): State<Simulator>,
    JsonBody(query): JsonBody<AggregationQuery>,
) -> Result<Response, Response> {
    let response = sim.answer_query(query).await?;
    let results: usize = response.results.iter().map(|g| g.data.len()).sum();
    match sim.state.config.sync_result_limit {
        Some(limit) if results > limit => Err(sim.error(
            StatusCode::BAD_REQUEST,
            "response.entity.too.large",
            &format!(
                "The response would hold {results} results, more than {limit}: use the asynchronous jobs API"
            ),
        )),
        _ => Ok(Json(response).into_response()),
    }
}

impl Simulator {
    /// Answers an aggregates query read from a request body, or gives the error answer the
    /// real API would.
    pub(super) async fn answer_query(
        &self,
        query: Result<AggregationQuery, String>,
    ) -> Result<AggregateResponse, Response> {
        let query = query.map_err(|problem| {
            self.error_with_field(StatusCode::BAD_REQUEST, "bad.request", &problem, "body")
        })?;
        let state = Arc::clone(&self.state);
        let surge = self.surge();
        self.off_the_workers(move || {
            aggregate_with_surge(&state.config.org, surge.as_ref(), &query)
        })
        .await
    }
}
