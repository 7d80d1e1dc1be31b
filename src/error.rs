//! The crate's one error type. Each variant says what went wrong and what to do about it;
//! [`Error::reason`] turns it into a bounded label value for the failure counters.

use crate::genesys::client::Endpoint;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable; the message names the key and the fix.
    #[error("configuration: {0}")]
    Config(String),

    /// No HTTP answer at all: DNS, connect, TLS, reset, or the request timed out.
    #[error("{endpoint}: request failed: {detail}")]
    Transport {
        endpoint: Endpoint,
        detail: String,
        timeout: bool,
    },

    /// The OAuth endpoint refused to issue a token.
    #[error(
        "{endpoint}: the login service refused the client credentials (HTTP {status}, {error}: {description}); check client_id and client_secret, and that the OAuth client uses the Client Credentials grant"
    )]
    OAuth {
        endpoint: Endpoint,
        status: u16,
        error: String,
        description: String,
    },

    /// The API answered with an error status.
    #[error("{endpoint}: HTTP {status} {code}: {message}{}{}", remedy(*.status, code), correlation(.correlation_id))]
    Api {
        endpoint: Endpoint,
        status: u16,
        code: String,
        message: String,
        correlation_id: Option<String>,
    },

    /// An asynchronous aggregates job ended without results.
    #[error("jobs: job {job_id} ended {state}: {message}")]
    Job {
        job_id: String,
        state: String,
        message: String,
    },

    /// The API answered 2xx with a body that is not what the endpoint documents.
    #[error("{endpoint}: unreadable response: {detail}{}", correlation(.correlation_id))]
    Decode {
        endpoint: Endpoint,
        detail: String,
        correlation_id: Option<String>,
    },
}

impl Error {
    /// A label value for the failure counters, from a small fixed set.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Transport { timeout: true, .. } => "timeout",
            Error::Transport { .. } => "transport",
            Error::OAuth { .. } => "oauth",
            Error::Api { status, .. } => match status {
                400 => "bad_request",
                401 => "unauthorized",
                403 => "forbidden",
                404 => "not_found",
                429 => "rate_limited",
                500..=599 => "server_error",
                _ => "other_status",
            },
            Error::Decode { .. } => "decode",
            Error::Job { .. } => "job_failed",
        }
    }
}

fn remedy(status: u16, code: &str) -> &'static str {
    match (status, code) {
        (401, _) => " (the access token was refused twice; check the OAuth client is active)",
        (403, _) => {
            " (grant the OAuth client's role analytics:conversationAggregate:view in every division of the queues)"
        }
        (400, _) => {
            " (the query was rejected; fix the query's metrics, group_by, filter or granularity)"
        }
        _ => "",
    }
}

fn correlation(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" [ININ-Correlation-Id {id}]"),
        None => String::new(),
    }
}
