//! The exporter's HTTP endpoints: `/metrics`, the landing page `/`, `/healthz`, `/readyz`,
//! and `POST /-/reload` with `--web.enable-lifecycle`.
//! `/metrics` only picks one of four prerendered bodies (two formats, each plain or
//! gzip-compressed), so a scrape costs the same whatever the number of series (but the first
//! uncompressed one after a publish, which inflates the plain text once).
//!
//! With a web config file that lists users, every endpoint but `/healthz` (which probes
//! need, and which tells nothing) asks for basic auth; its headers go on every answer.

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, HeaderMap, HeaderValue, RETRY_AFTER,
    VARY, WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::{
    AGENTS_QUERY, FLOW_OBSERVATIONS_QUERY, OBSERVATIONS_QUERY, Query, TELEPHONY_QUERY,
    VOICE_QUALITY_QUERY, written,
};
use crate::exposition::{Format, Publisher, QueryStatus, SharedBody};
use crate::http;
use crate::org::Org;
use crate::shard::Shard;
use crate::web_config::{Verdict, WebConfig};
use genesys_wire::catalogue::Source;
use genesys_wire::time::Clock;

pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every answer's body: `/metrics` bodies come in three parts (see [`SharedBody`]); the
/// other pages are one part and two empty ones.
pub type Body = Full<SharedBody>;

fn page(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let body = body.into().chain(Bytes::new()).chain(Bytes::new());
    http::response_of(status, content_type, body)
}

/// Asks the exporter to reload its configuration, and hears how it went: the error's
/// text on failure.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What the endpoints read.
pub struct State {
    pub publisher: Arc<Publisher>,
    /// The queries running, with their org, which a reload replaces: every org this
    /// process runs has one at least.
    pub queries: RwLock<Vec<(Org, Query)>>,
    /// Which orgs this process runs (`--shard`, `--total-shards`).
    pub shard: Shard,
    /// How often the queues are observed, when they are.
    pub observations: RwLock<Option<Duration>>,
    /// How often the agents are counted, when they are.
    pub agents: RwLock<Option<Duration>>,
    /// How often the flows are observed, when they are.
    pub flow_observations: RwLock<Option<Duration>>,
    /// How often the Edges and trunks are read, when they are.
    pub telephony: RwLock<Option<Duration>>,
    /// How often the calls that ended are read for their voice quality, when they are.
    pub voice_quality: RwLock<Option<Duration>>,
    /// Tells the publisher the time, against which data passes its maximum age.
    pub clock: Clock,
    /// Where `POST /-/reload` sends its request; `None` without `--web.enable-lifecycle`,
    /// and the endpoint then answers 403.
    pub reloads: Option<mpsc::Sender<ReloadRequest>>,
    /// Where the metrics are served: `/metrics` unless `--web.telemetry-path` says.
    pub telemetry_path: TelemetryPath,
}

/// The path the metrics are served on (`--web.telemetry-path`, as node_exporter has it):
/// an absolute path that none of the other endpoints has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryPath(String);

impl TelemetryPath {
    /// The endpoints it may not take.
    const TAKEN: [&str; 4] = ["/", "/healthz", "/readyz", "/-/reload"];

    /// The path, checked: it starts with `/`, is not another endpoint's, and holds only
    /// printable ASCII, no query or fragment: it is compared with the request's path as
    /// written, where anything else arrives percent-encoded.
    pub fn parse(path: &str) -> Result<TelemetryPath, String> {
        let problem = if !path.starts_with('/') {
            Some("it must start with /")
        } else if Self::TAKEN.contains(&path) {
            Some("another endpoint has it")
        } else if path
            .chars()
            .any(|c| c == '?' || c == '#' || !c.is_ascii_graphic())
        {
            Some("it may hold only printable ASCII without ? or # (percent-encode the rest)")
        } else if path.len() > 256 {
            Some("it is longer than 256 bytes")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(format!(
                "--web.telemetry-path {path:?}: {problem}; give a path such as /metrics (not {})",
                Self::TAKEN.join(", ")
            )),
            None => Ok(TelemetryPath(path.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TelemetryPath {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl Default for TelemetryPath {
    fn default() -> TelemetryPath {
        TelemetryPath("/metrics".into())
    }
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled; with `options.web`,
/// secured as its web config file says.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    options: http::Options,
    shutdown: CancellationToken,
) {
    let web = options.web.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let state = state.clone();
        let web = web.clone();
        async move {
            if http::head_bytes(&request) > http::MAX_HEAD_BYTES {
                return Ok(page(
                    431,
                    "text/plain; charset=utf-8",
                    "request headers larger than 64 KiB\n",
                ));
            }
            let response = match &web {
                Some(web) => secured(web, &state, &request).await,
                None => handle(&state, &request).await,
            };
            Ok::<_, Infallible>(response)
        }
    });
    http::serve_with(listener, service, options, shutdown).await;
}

/// The answer under the web config in force: 401 without the right credentials (but on
/// `/healthz`), 429 when too many checks of new credentials wait already, and the
/// configured headers on every answer. `/healthz` never looks at the file, so that a
/// broken or slow one costs probes nothing.
async fn secured(
    web: &Arc<WebConfig>,
    state: &State,
    request: &Request<Incoming>,
) -> Response<Body> {
    let open = request.uri().path() == "/healthz";
    let loaded = if open {
        web.in_force()
    } else {
        web.current().await
    };
    let client = request.extensions().get::<http::ClientAddr>().map(|c| c.0);
    let verdict = if open {
        Verdict::Allowed
    } else {
        web.authorized(&loaded, request.headers().get(AUTHORIZATION), client)
            .await
    };
    let mut response = match verdict {
        Verdict::Allowed => handle(state, request).await,
        Verdict::Denied => {
            let mut response = page(401, "text/plain; charset=utf-8", "unauthorized\n");
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"genesys-exporter\", charset=\"UTF-8\""),
            );
            response
        }
        Verdict::Busy => {
            let mut response = page(
                429,
                "text/plain; charset=utf-8",
                "too many credential checks waiting; try again later\n",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    };
    for (name, value) in loaded.headers() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

async fn handle(state: &State, request: &Request<Incoming>) -> Response<Body> {
    if request.uri().path() == "/-/reload" {
        return reload(state, request.method()).await;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = page(405, "text/plain; charset=utf-8", "only GET and HEAD\n");
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let telemetry = state.telemetry_path.as_str();
    match request.uri().path() {
        path if path == telemetry => metrics(state, request.headers()),
        "/" => page(200, "text/html; charset=utf-8", landing_page(state)),
        "/healthz" => page(200, "text/plain; charset=utf-8", "ok\n"),
        "/readyz" => readiness(state),
        _ => page(
            404,
            "text/plain; charset=utf-8",
            format!("not found; try {telemetry}, /healthz, /readyz or /\n"),
        ),
    }
}

/// `POST /-/reload`: reloads the configuration and says how it went, 200 or 500 with the
/// error (which never holds a secret); 403 unless `--web.enable-lifecycle` was given, as
/// Prometheus does.
async fn reload(state: &State, method: &Method) -> Response<Body> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != Method::POST && method != Method::PUT {
        let mut response = page(405, TEXT, "only POST or PUT\n");
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("POST, PUT"));
        return response;
    }
    let Some(reloads) = &state.reloads else {
        return page(
            403,
            TEXT,
            "lifecycle APIs are not enabled; start with --web.enable-lifecycle to reload with POST /-/reload (SIGHUP always reloads)\n",
        );
    };
    let (done, outcome) = oneshot::channel();
    if reloads.send(done).await.is_err() {
        return page(503, TEXT, "shutting down\n");
    }
    match outcome.await {
        Ok(Ok(())) => page(200, TEXT, "configuration reloaded\n"),
        Ok(Err(error)) => page(
            500,
            TEXT,
            format!("failed to reload the configuration; the previous one still runs: {error}\n"),
        ),
        Err(_) => page(503, TEXT, "shutting down\n"),
    }
}

/// Picks the prerendered body for the request's `Accept` and `Accept-Encoding`. Nothing
/// here grows with the number of series: the body's parts are shared, not copied (the
/// first uncompressed body after a publish is inflated, once for every scrape after it).
pub fn metrics(state: &State, headers: &HeaderMap) -> Response<Body> {
    let exposition = state.publisher.current(state.clock.now());
    let header = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .unwrap_or_default()
    };
    let openmetrics = wants_openmetrics(header(ACCEPT));
    let gzip = accepts_gzip(header(ACCEPT_ENCODING));
    let (format, content_type) = if openmetrics {
        (Format::OpenMetrics, OPENMETRICS_FORMAT)
    } else {
        (Format::Text, TEXT_FORMAT)
    };
    let mut response = http::response_of(200, content_type, exposition.body(format, gzip));
    let response_headers = response.headers_mut();
    if gzip {
        response_headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    // The body depends on both headers, so caches must key on them.
    response_headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    response
}

/// True when `Accept-Encoding` allows gzip: `gzip`, `x-gzip` or `*` with a q-value above 0,
/// unless gzip itself is listed with `q=0`.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for coding in accept_encoding.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let quality = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(quality);
        } else if name == "*" {
            any = Some(quality);
        }
    }
    gzip.or(any).is_some_and(|quality| quality > 0.0)
}

/// True when the Accept header prefers OpenMetrics to the text format, by q-value; on a
/// tie OpenMetrics wins, as it is what Prometheus lists first.
pub fn wants_openmetrics(accept: &str) -> bool {
    let mut openmetrics = 0.0_f32;
    let mut text = 0.0_f32;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default();
        let quality = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let is = |name: &str| media_type.eq_ignore_ascii_case(name);
        if is("application/openmetrics-text") {
            openmetrics = openmetrics.max(quality);
        } else if is("text/plain") || is("text/*") || media_type == "*/*" {
            text = text.max(quality);
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}

fn readiness(state: &State) -> Response<Body> {
    let waiting = state.publisher.waiting();
    if waiting.is_empty() {
        page(200, "text/plain; charset=utf-8", "ready\n")
    } else {
        page(
            503,
            "text/plain; charset=utf-8",
            format!(
                "not ready: no data published yet for {}\n",
                waiting
                    .iter()
                    .map(|(org, query)| query_of(org, query))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

fn landing_page(state: &State) -> String {
    let mut page = String::new();
    let version = env!("CARGO_PKG_VERSION");
    // A path of printable characters but ?, # and space; escaped for HTML all the same.
    let telemetry = escape_html(state.telemetry_path.as_str());
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>genesys-exporter</title></head><body>\n\
         <h1>genesys-exporter</h1>\n<p>Version {version}. Genesys Cloud conversation aggregates for Prometheus.</p>\n\
         <ul><li><a href=\"{telemetry}\">{telemetry}</a></li><li><a href=\"/healthz\">/healthz</a></li><li><a href=\"/readyz\">/readyz</a></li></ul>\n\
         <p>{}</p>\n\
         <h2>Queries</h2>\n<table border=\"1\" cellpadding=\"4\">\n\
         <tr><th>query</th><th>schedule</th><th>last poll</th><th>published interval</th><th>outcome</th></tr>\n",
        escape_html(&shard_line(state))
    );
    let statuses = state.publisher.statuses();
    let observed = |refresh: &RwLock<Option<Duration>>, what: &str| {
        refresh
            .read()
            .expect("not poisoned")
            .map(|refresh| format!("{what}, every {}", written(refresh)))
    };
    let observations = [
        (
            OBSERVATIONS_QUERY,
            observed(&state.observations, "queue state"),
        ),
        (AGENTS_QUERY, observed(&state.agents, "agent states")),
        (
            FLOW_OBSERVATIONS_QUERY,
            observed(&state.flow_observations, "conversations in flows"),
        ),
        (
            TELEPHONY_QUERY,
            observed(&state.telephony, "Edges and trunks"),
        ),
        (
            VOICE_QUALITY_QUERY,
            observed(
                &state.voice_quality,
                "voice quality of the calls that ended",
            ),
        ),
    ];
    let queries = state.queries.read().expect("not poisoned").clone();
    let mut rows: Vec<(Org, String, String)> = Vec::new();
    for (org, query) in &queries {
        // The source before the schedule, for a query of flows or data actions.
        let schedule = match query.source {
            Source::Conversations => query.kind.to_string(),
            source => format!("{source}, {}", query.kind),
        };
        rows.push((org.clone(), query.name.clone(), schedule));
        // Each org's sources of the present after its last query.
        let last_of_org = queries.iter().rev().find(|(o, _)| o == org);
        if last_of_org.is_some_and(|(_, last)| last.name == query.name) {
            for (name, schedule) in &observations {
                if let Some(schedule) = schedule {
                    rows.push((org.clone(), (*name).to_owned(), schedule.clone()));
                }
            }
        }
    }
    for (org, name, schedule) in rows {
        let status = statuses
            .iter()
            .find(|(o, query, _)| *o == org && *query == name)
            .map(|(_, _, status)| status.clone())
            .unwrap_or_default();
        query_row(&mut page, &query_of(&org, &name), &schedule, status);
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

/// The shard and the orgs it runs, from the queries running (every org runs one at least).
fn shard_line(state: &State) -> String {
    let queries = state.queries.read().expect("not poisoned");
    let mut orgs: Vec<&Org> = queries.iter().map(|(org, _)| org).collect();
    orgs.dedup();
    shard_runs(state.shard, &orgs)
}

/// `Shard 0 of 3 runs 2 orgs: east, west.`, read well for no org, one and many.
fn shard_runs(shard: Shard, orgs: &[&Org]) -> String {
    let (index, total) = (shard.index, shard.total);
    match orgs {
        [] => format!(
            "Shard {index} of {total} runs no org: none of the configuration's orgs is on this shard, so it serves only its own metrics."
        ),
        [only] if only.name().is_none() => {
            format!("Shard {index} of {total} runs the one org (no [[orgs]]).")
        }
        orgs => {
            let names: Vec<&str> = orgs.iter().filter_map(|org| org.name()).collect();
            format!(
                "Shard {index} of {total} runs {}: {}.",
                crate::shard::orgs_in_words(names.len()),
                names.join(", ")
            )
        }
    }
}

/// `q`, or `q (org "east")` for a named org's.
fn query_of(org: &Org, query: &str) -> String {
    match org.name() {
        Some(_) => format!("{query} ({org})"),
        None => query.to_owned(),
    }
}

/// A query's row of the landing page's table.
fn query_row(page: &mut String, name: &str, schedule: &str, status: QueryStatus) {
    let last_poll = status
        .last_poll
        .map_or("not yet".to_string(), |t| t.to_string());
    let window = match status.window {
        // An observation is of an instant, not an interval.
        Some(window) if window.start == window.end => format!("at {}", window.start),
        Some(window) => window.to_string(),
        None => "none".to_string(),
    };
    let mut outcome = match (&status.last_poll, &status.last_error) {
        (None, _) => "waiting for the first poll".to_string(),
        (Some(_), None) => "ok".to_string(),
        (Some(_), Some(error)) => format!("failed: {error}"),
    };
    if status.stale {
        outcome.push_str(" (no success for longer than max_age: its data is no longer served)");
    }
    let _ = writeln!(
        page,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape_html(name),
        schedule,
        last_poll,
        window,
        escape_html(&outcome)
    );
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_accept_header_gets_openmetrics() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(prometheus));
    }

    #[test]
    fn plain_clients_get_the_text_format() {
        assert!(!wants_openmetrics(""));
        assert!(!wants_openmetrics("*/*"));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        assert!(!wants_openmetrics(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9"
        ));
        assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
    }

    #[test]
    fn gzip_is_chosen_by_accept_encoding() {
        for (header, gzip) in [
            ("gzip", true),
            ("gzip, deflate, br", true),
            ("deflate, GZIP;q=0.5", true),
            ("x-gzip", true),
            ("*", true),
            ("", false),
            ("identity", false),
            ("br, deflate", false),
            ("gzip;q=0", false),
            ("gzip;q=0, *", false),
            ("*;q=0", false),
        ] {
            assert_eq!(accepts_gzip(header), gzip, "{header:?}");
        }
    }

    #[test]
    fn the_landing_page_says_which_orgs_the_shard_runs_in_words_that_read_well() {
        let shard = Shard::new(1, 3).unwrap();
        let (east, west) = (Org::named("east"), Org::named("west"));
        assert_eq!(
            shard_runs(shard, &[]),
            "Shard 1 of 3 runs no org: none of the configuration's orgs is on this shard, so it serves only its own metrics."
        );
        assert_eq!(
            shard_runs(shard, &[&east]),
            "Shard 1 of 3 runs 1 org: east."
        );
        assert_eq!(
            shard_runs(shard, &[&east, &west]),
            "Shard 1 of 3 runs 2 orgs: east, west."
        );
        assert_eq!(
            shard_runs(Shard::default(), &[&Org::unnamed()]),
            "Shard 0 of 1 runs the one org (no [[orgs]])."
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
