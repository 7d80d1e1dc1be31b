//! What the real API's endpoints have in common, shared by the simulator's: its error
//! bodies, reading JSON bodies and query strings with its 400s, and the connection dropped
//! without an answer. Endpoints use it; the router in [`super::gateway`] wires them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::Simulator;
use super::random::{fnv1a, mix, uuid_from};
use genesys_wire::{ErrorBody, ErrorDetail};

/// Where the API's paths start: below it a request needs a bearer token and counts against
/// the rate limit.
pub(super) const API_PREFIX: &str = "/api/v2/";

impl Simulator {
    pub(super) fn context_id(&self) -> String {
        uuid_from(self.state.seed ^ mix(self.next_serial()))
    }

    /// The real API's error body.
    pub(super) fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        error_response(ErrorBody {
            message: message.to_string(),
            code: code.to_string(),
            status: status.as_u16(),
            context_id: Some(self.context_id()),
            details: Vec::new(),
        })
    }

    /// The real API's error body, naming the field at fault.
    pub(super) fn error_with_field(
        &self,
        status: StatusCode,
        code: &str,
        message: &str,
        field: &str,
    ) -> Response {
        error_response(ErrorBody {
            message: message.to_string(),
            code: code.to_string(),
            status: status.as_u16(),
            context_id: Some(self.context_id()),
            details: vec![ErrorDetail {
                error_code: Some(code.to_string()),
                field_name: Some(field.to_string()),
            }],
        })
    }
}

impl Simulator {
    /// Runs `work`, a pure answer that may take a while (a month of minutes, a thousand
    /// queues), on the blocking pool rather than the async workers. Its error is the real
    /// error body, with a context id of this request.
    pub(super) async fn off_the_workers<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ErrorBody> + Send + 'static,
    ) -> Result<T, Response> {
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(mut error)) => {
                error.context_id = Some(self.context_id());
                Err(error_response(error))
            }
            Err(join_error) => {
                tracing::error!(%join_error, "simulator query task failed");
                Err(self.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal.server.error",
                    "The query failed",
                ))
            }
        }
    }
}

/// A 400 answer in the real error shape, with a details entry naming the field.
pub(super) fn bad_request(code: &str, field: &str, message: String) -> ErrorBody {
    ErrorBody {
        // Pure code has no per-request randomness; the server replaces this with a fresh id.
        context_id: Some(uuid_from(fnv1a(&[message.as_bytes()]))),
        message,
        code: code.to_string(),
        status: 400,
        details: vec![ErrorDetail {
            error_code: Some(code.to_string()),
            field_name: Some(field.to_string()),
        }],
    }
}

/// An error body, answered with its own status.
pub(super) fn error_response(body: ErrorBody) -> Response {
    let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// The answer to a body that could not be read: 413 when it is over the router's limit.
pub(super) fn unreadable_body(rejection: BytesRejection) -> Response {
    let (status, code, message) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.entity.too.large",
            "The request body is too large",
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "bad.request",
            "The request body could not be read",
        )
    };
    error_response(ErrorBody {
        message: message.to_string(),
        code: code.to_string(),
        status: status.as_u16(),
        ..ErrorBody::default()
    })
}

/// A request body read as JSON, whatever its content type: the simulator never asked for
/// one (the `curl -d` example of docs/simulator.md sends a form type). A body that cannot
/// be read is answered here; JSON that does not fit is left to the endpoint, whose answer differs, as
/// serde's message (with the path to the field at fault) without axum's preamble.
pub(super) struct JsonBody<T>(pub Result<T, String>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(unreadable_body)?;
        let value = Json::from_bytes(&body).map(|Json(value)| value);
        Ok(JsonBody(value.map_err(|rejection| {
            std::error::Error::source(&rejection)
                .map_or_else(|| rejection.body_text(), ToString::to_string)
        })))
    }
}

/// The query string, as axum's `Query` reads it, refused with the real API's 400 body
/// rather than axum's plain text.
pub(super) struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<Simulator> for Params<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sim: &Simulator) -> Result<Self, Response> {
        match Query::from_request_parts(parts, sim).await {
            Ok(Query(params)) => Ok(Params(params)),
            Err(rejection) => Err(sim.error(
                StatusCode::BAD_REQUEST,
                "bad.request",
                &rejection.body_text(),
            )),
        }
    }
}

/// Marks a response that must not be sent: the connection is closed without an answer
/// instead, as when a peer resets it. [`Simulator::serve`] turns it into the error that
/// makes hyper do so.
#[derive(Debug, Clone, Copy)]
pub(super) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped without an answer, on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// A response that closes the connection instead of being sent.
pub(super) fn drop_connection() -> Response {
    let mut response = Response::default();
    response.extensions_mut().insert(DropConnection);
    response
}
