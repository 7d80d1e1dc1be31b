//! Sending a request to Genesys Cloud and reading its answer. Every request, whatever its
//! endpoint, goes through `Transport::execute` and so through the retry policy and the
//! circuit breaker of [`super::retry`]; an error answer's body is read here for what it says.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::retry::{Answer, Retrier};
use crate::error::{Error, Result, api_text, status_reason};
use crate::metrics::{ApiMetrics, Metrics, RetryMetrics};
use genesys_wire::catalogue::Source;
use genesys_wire::{
    Endpoint, ErrorBody, GroupSink, GroupsRead, OAuthError, ReadError, read_groups,
};

/// Sends requests and counts them; shared by the token cache and the API client.
pub struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) api: ApiMetrics,
    retry: RetryMetrics,
    retrier: Retrier,
    /// The most bytes an answer may have; reading stops there.
    max_response_bytes: u64,
}

/// A whole HTTP answer, read before it is judged.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    pub correlation_id: Option<String>,
    pub content_type: String,
    /// A 429's `Retry-After`, in seconds on the wire.
    pub retry_after: Option<Duration>,
    /// A 3xx's `Location`, escaped; the redirect is never followed.
    pub location: Option<String>,
}

impl Transport {
    pub(crate) fn new(
        request_timeout: Duration,
        connect_timeout: Duration,
        max_response_bytes: u64,
        retrier: Retrier,
        metrics: &Metrics,
    ) -> Result<Transport> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("genesys-exporter/", env!("CARGO_PKG_VERSION")))
            .timeout(request_timeout)
            .connect_timeout(connect_timeout)
            // Genesys Cloud never redirects: a 3xx comes from something in between (a
            // proxy, a captive portal, a wrong URL) and may point at another origin, whose
            // answer must not be published nor sent the token. It is an error of its own.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| Error::Config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Transport {
            http,
            api: metrics.api.clone(),
            retry: metrics.retry.clone(),
            retrier,
            max_response_bytes,
        })
    }

    /// Sends a request under the retry policy and the circuit breaker, and returns the
    /// last answer whatever its status, or the error of a request that got none. Each
    /// attempt and each failure is counted.
    pub(crate) async fn execute(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply> {
        // Bodies are bytes in memory, so a request that was built clones; one that was not
        // (a header that cannot be one) is an error, never sent.
        if request.try_clone().is_none() {
            return Err(self.failed(endpoint, unbuilt(endpoint, request)));
        }
        self.retrier
            .send(endpoint, || self.attempt(endpoint, request.try_clone()))
            .await
    }

    /// Sends one request and reads the whole answer, up to `max_response_bytes`.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        request: Option<reqwest::RequestBuilder>,
    ) -> Result<Reply> {
        let Some(request) = request else {
            return Err(Error::Internal(format!(
                "{endpoint}: the request could not be copied for another attempt"
            )));
        };
        self.api.request(endpoint);
        let transport_error = |error: reqwest::Error| Error::Transport {
            endpoint,
            timeout: error.is_timeout(),
            // Without the URL: it is known, and the error chain says what failed.
            detail: error_chain(&error.without_url()),
        };
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let correlation_id = header("inin-correlation-id").map(|id| api_text(&id));
        let location = header("location").map(|to| api_text(&to));
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after").and_then(|value| retry_after_seconds(&value));
        let number = |name| header(name).and_then(|value| value.trim().parse::<i64>().ok());
        if let (Some(allowed), Some(count)) = (
            number("inin-ratelimit-allowed"),
            number("inin-ratelimit-count"),
        ) {
            let remaining = allowed.saturating_sub(count).max(0);
            self.retry.rate_limit_remaining(endpoint, remaining);
        }
        let body = self
            .read_body(endpoint, &mut response)
            .await
            .map_err(|error| match error {
                BodyError::Read(error) => transport_error(error),
                BodyError::TooLarge => Error::TooLarge {
                    endpoint,
                    limit: self.max_response_bytes,
                },
            })?;
        Ok(Reply {
            status,
            body,
            correlation_id,
            content_type,
            retry_after,
            location,
        })
    }

    /// Reads the body chunk by chunk as it arrives, and stops (dropping the connection)
    /// as soon as it would pass the limit: a huge answer is never held whole. A declared
    /// `Content-Length` past the limit is refused before reading anything.
    async fn read_body(
        &self,
        endpoint: Endpoint,
        response: &mut reqwest::Response,
    ) -> Result<Bytes, BodyError> {
        let limit = self.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(BodyError::TooLarge);
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                tracing::debug!(%endpoint, limit, "answer past max_response_bytes; not read further");
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Counts `error` as a failure of `endpoint` and hands it back. Callers log it: they
    /// know whether it matters (a failed poll) or was said already (a known 403).
    pub(crate) fn failed(&self, endpoint: Endpoint, error: Error) -> Error {
        self.api.failed(endpoint, error.reason());
        tracing::debug!(%error, "Genesys Cloud request failed");
        error
    }
}

/// The error of a request that could not be built, without its URL or header values.
fn unbuilt(endpoint: Endpoint, request: reqwest::RequestBuilder) -> Error {
    let detail = match request.build() {
        Err(error) => error_chain(&error.without_url()),
        Ok(_) => "its body is not in memory".to_owned(),
    };
    Error::Internal(format!(
        "{endpoint}: the request could not be built: {detail}"
    ))
}

/// Why an answer's body was not read whole.
enum BodyError {
    Read(reqwest::Error),
    TooLarge,
}

/// A `Retry-After` in seconds. (It may also be an HTTP date; Genesys Cloud sends seconds.)
/// Saturating: `1e30` and `inf` are [`Duration::MAX`], which the retry policy caps.
pub fn retry_after_seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds >= 0.0).then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

impl Answer for Reply {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    fn reason(&self, endpoint: Endpoint) -> &'static str {
        if self.oauth_refusal(endpoint).is_some() {
            "oauth"
        } else if self.is_too_large_without_jobs(endpoint) {
            // Reported as too large (no job pages it), so counted as such.
            "too_large"
        } else {
            status_reason(self.status.as_u16())
        }
    }

    /// "aggregates: HTTP 503 service.unavailable: ... [ININ-Correlation-Id ...]".
    fn summary(&self, endpoint: Endpoint) -> String {
        let (code, message) = self.code_and_message();
        let mut summary = format!(
            "{endpoint}: HTTP {} {code}: {message}",
            self.status.as_u16()
        );
        if let Some(id) = &self.correlation_id {
            summary.push_str(&format!(" [ININ-Correlation-Id {id}]"));
        }
        summary
    }
}

impl Reply {
    /// Whether this is the 400 `response.entity.too.large` of a query without jobs (flows,
    /// data actions), which fails the poll as [`Error::TooLargeWithoutJobs`].
    fn is_too_large_without_jobs(&self, endpoint: Endpoint) -> bool {
        let without_jobs = Source::ALL
            .iter()
            .any(|source| source.endpoint() == endpoint && !source.has_jobs());
        without_jobs
            && self.status == StatusCode::BAD_REQUEST
            && self.code_and_message().0 == "response.entity.too.large"
    }

    /// The login service's refusal to issue a token, in the OAuth error format (RFC 6749
    /// 5.2: `invalid_client` for a wrong client ID or secret, `unauthorized_client`,
    /// `invalid_grant`, ...). Only a 4xx but 429 of the token endpoint is one: a 429 or
    /// 5xx is the service being busy or down, whatever its body says.
    pub(crate) fn oauth_refusal(&self, endpoint: Endpoint) -> Option<OAuthError> {
        let refused = self.status.is_client_error() && self.status != StatusCode::TOO_MANY_REQUESTS;
        if endpoint != Endpoint::Token || !refused {
            return None;
        }
        serde_json::from_slice::<OAuthError>(&self.body)
            .ok()
            .filter(|refusal| !refusal.error.is_empty())
    }

    /// The error that a non-2xx answer stands for, from the Genesys error body if it has one.
    pub(crate) fn api_error(&self, endpoint: Endpoint) -> Error {
        let (code, message) = self.code_and_message();
        let permission = (self.status == StatusCode::FORBIDDEN)
            .then(|| missing_permission(&self.body))
            .flatten();
        Error::Api {
            endpoint,
            status: self.status.as_u16(),
            code,
            message,
            permission,
            correlation_id: self.correlation_id.clone(),
        }
    }

    /// The Genesys error body's code and message, or the body's first line if it is not one.
    /// Both escaped and cut ([`api_text`]): they go into log lines. A redirect's message
    /// says where it pointed.
    fn code_and_message(&self) -> (String, String) {
        if self.status.is_redirection() {
            let to = self.location.as_deref().unwrap_or("nowhere (no Location)");
            return (String::new(), format!("redirected to {to}; not followed"));
        }
        let parsed = serde_json::from_slice::<ErrorBody>(&self.body).unwrap_or_default();
        let message = if parsed.message.is_empty() {
            snippet(&self.body)
        } else {
            api_text(&parsed.message)
        };
        (api_text(&parsed.code), message)
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, endpoint: Endpoint) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|error| self.decode_error(endpoint, &error))
    }

    /// Reads an aggregates answer or a job's results page group by group into `sink`
    /// ([`read_groups`]): `Ok(None)` when the sink wanted no more, refused as [`decode`]
    /// would refuse the answer.
    ///
    /// [`decode`]: Reply::decode
    pub(crate) fn read_groups(
        &self,
        endpoint: Endpoint,
        sink: &mut impl GroupSink,
    ) -> Result<Option<GroupsRead>> {
        match read_groups(&self.body, sink) {
            Ok(read) => Ok(Some(read)),
            Err(ReadError::SinkFull) => Ok(None),
            Err(ReadError::Json(error)) => Err(self.decode_error(endpoint, &error)),
        }
    }

    fn decode_error(&self, endpoint: Endpoint, error: &serde_json::Error) -> Error {
        {
            let content_type = match self.content_type.as_str() {
                "" => "no Content-Type",
                other => other,
            };
            let what = if self.body.iter().all(u8::is_ascii_whitespace) {
                "an empty body"
            } else if content_type.starts_with("text/html")
                || self.body.trim_ascii_start().starts_with(b"<")
            {
                "an HTML page instead of JSON"
            } else {
                json_error_kind(error)
            };
            Error::Decode {
                endpoint,
                // serde's message may quote the body: escaped and cut like any API text.
                detail: format!(
                    "{what} in a {}-byte body ({}): {}",
                    self.body.len(),
                    api_text(content_type),
                    api_text(&error.to_string())
                ),
                correlation_id: self.correlation_id.clone(),
            }
        }
    }
}

/// The permission a 403's body says is missing: a `domain:entity:action` name among the
/// values of its `messageParams` or, failing that, in its `message`.
fn missing_permission(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let params = body["messageParams"].as_object().into_iter().flatten();
    let texts = params
        .filter_map(|(_, value)| value.as_str())
        .chain(body["message"].as_str());
    let is_permission = |word: &&str| {
        let parts: Vec<&str> = word.split(':').collect();
        parts.len() == 3
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '_' || c == '-')
            })
    };
    texts
        .flat_map(|text| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '*' | '_' | '-')))
        })
        .find(is_permission)
        .map(str::to_owned)
}

/// A short name for what is wrong with a JSON body.
pub(crate) fn json_error_kind(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "wrong fields, types or values",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// The first line of a body that is not a Genesys error, for the log.
fn snippet(body: &[u8]) -> String {
    // Only the start is looked at, however large the body.
    let text = String::from_utf8_lossy(&body[..body.len().min(4 * 160)]);
    let line = text.lines().next().unwrap_or_default().trim();
    let mut short = api_text(&line.chars().take(160).collect::<String>());
    if line.chars().nth(160).is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::breaker::{Breaker, BreakerSettings};
    use crate::genesys::retry::RetrySettings;
    use genesys_wire::AggregateResponse;

    #[tokio::test]
    async fn a_request_that_cannot_be_built_is_an_error_never_sent_nor_a_panic() {
        let metrics = Metrics::new(["q"]);
        let breaker = Breaker::new(BreakerSettings::default(), &metrics);
        let retrier = Retrier::new(RetrySettings::default(), breaker, &metrics);
        let second = Duration::from_secs(1);
        let transport = Transport::new(second, second, 1024, retrier, &metrics).unwrap();
        // Port 9 on 127.0.0.1: nothing is sent, as the request fails to build first.
        let request = transport
            .http
            .get("http://127.0.0.1:9/api/v2/presence/definitions")
            .bearer_auth("abc\ndef");
        let error = transport
            .execute(Endpoint::Presences, request)
            .await
            .err()
            .expect("an error");
        let text = error.to_string();
        assert!(matches!(error, Error::Internal(_)), "{text}");
        assert!(text.contains("could not be built"), "{text}");
        assert!(
            !text.contains("abc"),
            "no header value in the error: {text}"
        );
        let requests = metrics.sample("genesys_api_requests_total{endpoint=\"presences\"}");
        assert_eq!(requests, Some(0.0), "never sent");
    }

    fn reply(status: u16, content_type: &str, body: &'static str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from_static(body.as_bytes()),
            correlation_id: Some("c0ffee".into()),
            content_type: content_type.into(),
            retry_after: None,
            location: None,
        }
    }

    #[test]
    fn a_too_large_answer_is_counted_as_too_large_where_no_job_follows() {
        let too_large = reply(
            400,
            "application/json",
            r#"{"message": "The response is too large", "code": "response.entity.too.large", "status": 400}"#,
        );
        assert_eq!(too_large.reason(Endpoint::FlowAggregates), "too_large");
        assert_eq!(too_large.reason(Endpoint::ActionAggregates), "too_large");
        assert_eq!(
            too_large.reason(Endpoint::Aggregates),
            "bad_request",
            "the conversations' answer goes on as a job"
        );
        let rejected = reply(
            400,
            "application/json",
            r#"{"message": "bad metric", "code": "bad.request", "status": 400}"#,
        );
        assert_eq!(rejected.reason(Endpoint::FlowAggregates), "bad_request");
    }

    #[test]
    fn a_403_names_the_permission_its_body_says_is_missing() {
        let from_params = reply(
            403,
            "application/json",
            r#"{"message": "You are missing the following permission(s): [{permissions}]", "code": "missing.permissions", "status": 403,
                "messageParams": {"permissions": "routing:queue:view"}}"#,
        );
        let error = from_params.api_error(Endpoint::Aggregates).to_string();
        assert!(
            error.contains(
                "grant the OAuth client's role the permission routing:queue:view in every division"
            ),
            "{error}"
        );
        assert!(error.contains("[ININ-Correlation-Id c0ffee]"), "{error}");

        let from_message = reply(
            403,
            "application/json",
            r#"{"message": "Unable to perform the requested action. You are missing the following permission(s): [analytics:conversationAggregate:view]", "code": "missing.permissions", "status": 403}"#,
        );
        assert!(matches!(
            from_message.api_error(Endpoint::Aggregates),
            Error::Api { permission: Some(p), .. } if p == "analytics:conversationAggregate:view"
        ));

        // Without a name in the body, the one the endpoint needs.
        let silent = reply(403, "text/plain", "Forbidden");
        let error = silent.api_error(Endpoint::Queues);
        assert!(matches!(
            error,
            Error::Api {
                permission: None,
                ..
            }
        ));
        assert!(
            error
                .to_string()
                .contains("the permission routing:queue:view")
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(retry_after_seconds("5"), Some(Duration::from_secs(5)));
        assert_eq!(
            retry_after_seconds(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after_seconds("1e30"), Some(Duration::MAX));
        assert_eq!(retry_after_seconds("-1"), None);
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    }

    #[test]
    fn an_unreadable_body_is_described_by_what_it_is() {
        let decode = |reply: Reply| {
            reply
                .decode::<AggregateResponse>(Endpoint::Aggregates)
                .unwrap_err()
                .to_string()
        };
        let empty = decode(reply(200, "application/json", ""));
        assert!(
            empty.starts_with(
                "aggregates: unreadable response: an empty body in a 0-byte body (application/json)"
            ),
            "{empty}"
        );
        let html = decode(reply(
            200,
            "text/html",
            "<html><body>Maintenance</body></html>",
        ));
        assert!(html.contains("an HTML page instead of JSON"), "{html}");
        assert!(
            !html.contains("Maintenance"),
            "the body is not quoted: {html}"
        );
        let cut = decode(reply(200, "application/json", r#"{"results": [{"gro"#));
        assert!(cut.contains("truncated JSON"), "{cut}");
        assert!(cut.ends_with("[ININ-Correlation-Id c0ffee]"), "{cut}");
    }

    #[test]
    fn the_failure_log_line_says_what_the_api_said_without_advice() {
        let unavailable = reply(
            503,
            "application/json",
            r#"{"message": "The service is currently unavailable", "code": "service.unavailable", "status": 503}"#,
        );
        assert_eq!(
            unavailable.summary(Endpoint::Aggregates),
            "aggregates: HTTP 503 service.unavailable: The service is currently unavailable [ININ-Correlation-Id c0ffee]"
        );
        let gateway = reply(
            502,
            "text/html",
            "<html>\n<h1>502 Bad Gateway</h1>\n</html>",
        );
        assert_eq!(
            gateway.summary(Endpoint::Token),
            "token: HTTP 502 : <html> [ININ-Correlation-Id c0ffee]"
        );
    }
}
