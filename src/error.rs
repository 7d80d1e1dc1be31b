//! The crate's one error type. Each variant says what went wrong and what to do about it;
//! [`Error::reason`] turns it into a bounded label value for the failure counters.

use std::time::Duration;

use genesys_wire::Endpoint;

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

    /// The login service issued a token that cannot be sent: it holds a byte an HTTP
    /// header value may not have (a line break, a control character). Never cached.
    #[error(
        "{endpoint}: the login service issued an access token that cannot be sent in an HTTP header (it holds a control character or line break); it is not kept, and a new one is asked for at the next poll. Check that login_url is Genesys Cloud's login service"
    )]
    UnusableToken { endpoint: Endpoint },

    /// The API answered with an error status.
    #[error("{endpoint}: HTTP {status} {code}: {message}{}{}", remedy(*.endpoint, *.status, .permission.as_deref()), correlation(.correlation_id))]
    Api {
        endpoint: Endpoint,
        status: u16,
        code: String,
        message: String,
        /// For a 403: the permission the error body says is missing, if it names one.
        permission: Option<String>,
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

    /// Not sent, because the circuit breaker is open: Genesys Cloud kept answering 503 or
    /// 504, or not at all. `retry_in` is `None` while another request probes it.
    #[error("{endpoint}: not sent: {}", circuit(*.retry_in))]
    CircuitOpen {
        endpoint: Endpoint,
        retry_in: Option<Duration>,
    },

    /// An answer larger than `max_response_bytes`: its reading was stopped at the limit.
    #[error(
        "{endpoint}: the answer is larger than max_response_bytes ({limit} bytes); it was not read further. Raise max_response_bytes if an org this large is expected, or narrow the query (filter, fewer metrics or groupBy dimensions)"
    )]
    TooLarge { endpoint: Endpoint, limit: u64 },

    /// Genesys Cloud found a flows or data actions answer too large to give at once, and
    /// those queries have no jobs to page it.
    #[error(
        "{endpoint}: the answer is too large for the synchronous query (400 response.entity.too.large), and this query has no asynchronous jobs to page it; narrow the query: a shorter window or granularity, a filter, or fewer groupBy dimensions"
    )]
    TooLargeWithoutJobs { endpoint: Endpoint },

    /// An answer that would publish more series than `max_series_per_query`.
    #[error(
        "query {query}: the answer holds more than max_series_per_query ({limit}) series; nothing of it was published. Narrow the query (filter, fewer metrics or groupBy dimensions), or raise max_series_per_query"
    )]
    TooManySeries { query: String, limit: usize },

    /// A list (of queues, flows, ...) did not end within `max_queue_pages` pages.
    #[error(
        "{endpoint}: the list did not end within max_queue_pages ({limit}) pages of 100; the names known so far are kept. Raise max_queue_pages if the org has more than {} of them", u64::from(*.limit) * 100
    )]
    TooManyPages { endpoint: Endpoint, limit: u32 },

    /// The names of a directory read (a list of names, or the presences) would pass
    /// `max_directory_bytes`, with those of the other kind held: the read was stopped.
    #[error(
        "{endpoint}: the names read would pass max_directory_bytes ({limit} bytes, every name of the org together: queues, presences, flows, flow outcomes, data actions); the read was stopped and the names known so far are kept. Raise max_directory_bytes if the org's directory is this large"
    )]
    DirectoryTooLarge { endpoint: Endpoint, limit: u64 },

    /// Not sent, because Genesys Cloud asked (with a 429's Retry-After) to wait longer than
    /// `rate_limit_max_wait`.
    #[error(
        "{endpoint}: not sent: Genesys Cloud rate-limited this client for another {}s, longer than rate_limit_max_wait; it is asked again after that",
        .retry_in.as_secs()
    )]
    RateLimited {
        endpoint: Endpoint,
        retry_in: Duration,
    },

    /// The queue observations have no queues to observe, or the agent states no
    /// divisions to count: the queue list has not been read.
    #[error("the queue list has not been read yet")]
    NoQueuesYet,

    /// The flow observations have no flows to observe: the flow list has not been read.
    #[error("no flows to observe: the flow list has not been read yet")]
    NoFlowsYet,

    /// A part of the exporter stopped that should not have (a bug); the message says which.
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

impl Error {
    /// A label value for the failure counters, from a small fixed set.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Transport { timeout: true, .. } => "timeout",
            Error::Transport { .. } => "transport",
            Error::OAuth { .. } | Error::UnusableToken { .. } => "oauth",
            Error::Api { status, .. } => status_reason(*status),
            Error::Decode { .. } => "decode",
            Error::Job { .. } => "job_failed",
            Error::CircuitOpen { .. } => "circuit_open",
            Error::RateLimited { .. } => "rate_limited",
            Error::TooLarge { .. } | Error::TooLargeWithoutJobs { .. } => "too_large",
            Error::TooManySeries { .. } => "too_many_series",
            Error::TooManyPages { .. } => "too_many_pages",
            Error::DirectoryTooLarge { .. } => "too_large",
            Error::NoQueuesYet => "no_queues",
            Error::NoFlowsYet => "no_flows",
            Error::Internal(_) => "internal",
        }
    }
}

/// Every `reason` a failed request is counted under in `genesys_api_failures_total`: what
/// [`Error::reason`] gives for the errors of a request, and [`status_reason`] for every
/// status. The counters start at 0 for each endpoint and reason, so that `increase()` and
/// `rate()` see the first failure.
pub const REQUEST_FAILURE_REASONS: &[&str] = &[
    "transport",
    "timeout",
    "oauth",
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "redirect",
    "rate_limited",
    "server_error",
    "other_status",
    "decode",
    "too_large",
    "too_many_series",
    "too_many_pages",
    "circuit_open",
    "job_failed",
];

/// The reasons the retry policy repeats a request for, in `genesys_api_retries_total`: a
/// 429, a 5xx, no answer, a timeout.
pub const RETRIED_REASONS: &[&str] = &["rate_limited", "server_error", "transport", "timeout"];

/// The failure reason of an HTTP status.
pub fn status_reason(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        // Genesys Cloud never redirects; a 3xx is not followed (see the transport).
        300..=399 => "redirect",
        429 => "rate_limited",
        500..=599 => "server_error",
        _ => "other_status",
    }
}

/// What to do about an error status, said after the API's own message.
fn remedy(endpoint: Endpoint, status: u16, permission: Option<&str>) -> String {
    match status {
        400 if matches!(
            endpoint,
            Endpoint::Aggregates
                | Endpoint::Jobs
                | Endpoint::FlowAggregates
                | Endpoint::ActionAggregates
        ) =>
        {
            " (the query was rejected; fix the query's metrics, group_by, filter or granularity)"
                .into()
        }
        401 => " (the access token was refused twice; check the OAuth client is active)".into(),
        403 => format!(
            " (grant the OAuth client's role the permission {} in every division whose queues should be seen)",
            permission.unwrap_or(endpoint.permission())
        ),
        404 => format!(
            " (Genesys Cloud has no {endpoint} endpoint at this address; check region, or api_url and login_url)"
        ),
        429 => {
            " (rate limited: an OAuth client gets about 300 requests a minute, shared by everything using it; give the exporter its own OAuth client)"
                .into()
        }
        300..=399 => {
            " (Genesys Cloud never redirects, so the redirect was not followed; check region, or api_url and login_url, and any proxy between)"
                .into()
        }
        501 => String::new(),
        500..=599 => {
            " (Genesys Cloud is failing or down for maintenance; the request was retried with backoff)"
                .into()
        }
        _ => String::new(),
    }
}

/// The most characters of API text (a message, a code, a correlation ID) that reach a log
/// line or an error: enough for any real Genesys message, short enough that one answer
/// cannot flood the log.
pub const API_TEXT_MAX_CHARS: usize = 300;

/// Text from the API made safe for a one-line log: control characters (and the Unicode
/// line and paragraph separators) shown escaped (`\n`, `\u{1b}`) rather than written, so
/// that an answer cannot end a log line and forge the next, and cut to
/// [`API_TEXT_MAX_CHARS`] characters, with `…` where it was cut.
pub fn api_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(API_TEXT_MAX_CHARS + 8));
    for (count, c) in text.chars().enumerate() {
        if count == API_TEXT_MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn correlation(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" [ININ-Correlation-Id {id}]"),
        None => String::new(),
    }
}

fn circuit(retry_in: Option<Duration>) -> String {
    let why = "the circuit breaker is open after repeated 503, 504 or unanswered requests";
    match retry_in {
        Some(wait) => format!("{why}; the next probe goes out in {}s", wait.as_secs()),
        None => format!("{why}; a probe request is in flight"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_of_a_failed_request_is_one_the_counters_start_at_zero() {
        for status in 100..=599 {
            assert!(
                REQUEST_FAILURE_REASONS.contains(&status_reason(status)),
                "{status}"
            );
        }
        let endpoint = Endpoint::Aggregates;
        let errors = [
            Error::Transport {
                endpoint,
                detail: String::new(),
                timeout: true,
            },
            Error::Transport {
                endpoint,
                detail: String::new(),
                timeout: false,
            },
            Error::OAuth {
                endpoint,
                status: 401,
                error: String::new(),
                description: String::new(),
            },
            Error::Job {
                job_id: String::new(),
                state: String::new(),
                message: String::new(),
            },
            Error::Decode {
                endpoint,
                detail: String::new(),
                correlation_id: None,
            },
            Error::CircuitOpen {
                endpoint,
                retry_in: None,
            },
            Error::RateLimited {
                endpoint,
                retry_in: Duration::ZERO,
            },
            Error::TooLarge { endpoint, limit: 1 },
            Error::TooLargeWithoutJobs { endpoint },
            Error::TooManySeries {
                query: String::new(),
                limit: 1,
            },
            Error::TooManyPages { endpoint, limit: 1 },
            Error::DirectoryTooLarge { endpoint, limit: 1 },
        ];
        for error in &errors {
            assert!(
                REQUEST_FAILURE_REASONS.contains(&error.reason()),
                "{error:?}"
            );
        }
        for reason in RETRIED_REASONS {
            assert!(REQUEST_FAILURE_REASONS.contains(reason), "{reason}");
        }
    }

    #[test]
    fn api_text_is_one_line_escaped_and_cut() {
        assert_eq!(
            api_text("bad\nINFO forged line\u{1b}[31m\r\u{2028}"),
            "bad\\nINFO forged line\\u{1b}[31m\\r\\u{2028}"
        );
        assert_eq!(api_text("plain é"), "plain é");
        let long = api_text(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), API_TEXT_MAX_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn a_redirect_has_its_own_reason() {
        assert_eq!(status_reason(302), "redirect");
        assert_eq!(status_reason(307), "redirect");
    }
}
