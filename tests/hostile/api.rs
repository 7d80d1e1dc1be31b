//! A hostile Genesys Cloud: a fake upstream on 127.0.0.1, written here on raw TCP so that it
//! can say what no well-behaved server would (a Retry-After of 1e30, a 1 GiB body, a lying
//! `pageCount`, a redirect to another origin, a body a byte at a time), against the
//! exporter binary as a child process. Each case checks that the process keeps serving
//! `/healthz` and `/metrics`, that its peak memory (VmHWM) stays bounded, that the failure
//! shows in `genesys_up` and the failure reasons, and that nothing panicked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::util::{
    http::get,
    process::{Process, start_binary},
    samples::{Samples, value},
    wait::wait_for_metrics,
};

/// What the fake answers to one request.
enum Answer {
    /// A whole response: status, extra headers, body.
    Whole(u16, Vec<(String, String)>, Vec<u8>),
    /// A 200 whose body, `size` bytes of `prefix` then `filler`, is written as it is read,
    /// never held whole; the connection closes to end it.
    Stream {
        prefix: Vec<u8>,
        filler: Vec<u8>,
        size: u64,
    },
    /// A 200 whose body is written one byte per `every`.
    Trickle { body: Vec<u8>, every: Duration },
    /// Never answers.
    Hang,
}

fn json_answer(status: u16, body: Json) -> Answer {
    Answer::Whole(status, vec![], body.to_string().into_bytes())
}

/// A request as the fake saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    body: Json,
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// The fake upstream, counting the requests to each path prefix.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, handler.clone(), log.clone()));
            }
        });
        Fake { url, seen }
    }

    /// Requests so far whose path starts with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|path| path.starts_with(prefix)).count()
    }
}

/// One connection: requests read one after another (keep-alive) until it closes.
async fn serve(mut socket: TcpStream, handler: Handler, seen: Arc<Mutex<Vec<String>>>) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body =
            serde_json::from_slice(&buffer[head_end..head_end + length]).unwrap_or(Json::Null);
        buffer.drain(..head_end + length);
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        seen.lock().unwrap().push(path.clone());
        let answer = handler(&Seen { path, body });
        let keep = match answer {
            Answer::Whole(status, headers, body) => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let mut out = head.into_bytes();
                out.extend_from_slice(&body);
                socket.write_all(&out).await.is_ok()
            }
            Answer::Stream {
                prefix,
                filler,
                size,
            } => {
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                if socket.write_all(head).await.is_err() || socket.write_all(&prefix).await.is_err()
                {
                    return;
                }
                let block = filler.repeat((64 * 1024 / filler.len().max(1)).max(1));
                let mut sent = prefix.len() as u64;
                while sent < size {
                    if socket.write_all(&block).await.is_err() {
                        return;
                    }
                    sent += block.len() as u64;
                }
                false
            }
            Answer::Trickle { body, every } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\r\n",
                    body.len()
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for byte in body {
                    tokio::time::sleep(every).await;
                    if socket.write_all(&[byte]).await.is_err() {
                        return;
                    }
                }
                true
            }
            Answer::Hang => {
                std::future::pending::<()>().await;
                false
            }
        };
        if !keep {
            return;
        }
    }
}

const TOKEN: &str = "/oauth/token";
const AGGREGATES: &str = "/api/v2/analytics/conversations/aggregates/query";
const QUEUES: &str = "/api/v2/routing/queues";
const PRESENCES: &str = "/api/v2/presence/definitions";

fn token(expires_in: Json) -> Answer {
    let mut body = json!({"access_token": "tok", "token_type": "bearer"});
    if !expires_in.is_null() {
        body["expires_in"] = expires_in;
    }
    json_answer(200, body)
}

/// A valid answer for the interval asked, one group per `(queue, offered)`.
fn groups(seen: &Seen, groups: &[(&str, u64)]) -> Json {
    let interval = seen.body["interval"].as_str().unwrap_or_default();
    let results: Vec<Json> = groups
        .iter()
        .map(|(queue, offered)| json!({
            "group": {"queueId": queue, "mediaType": "voice"},
            "data": [{"interval": interval, "metrics": [{"metric": "nOffered", "stats": {"count": offered}}]}]
        }))
        .collect();
    json!({"results": results})
}

/// The exporter binary pointed at `fake`, with short timeouts and delays so that each case
/// plays out in a few seconds, and `extra` config lines.
async fn exporter(fake: &Fake, extra: &str) -> (Process, String, tempfile::TempDir) {
    let config = format!(
        "client_id = \"id\"\nclient_secret = \"secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n\
         request_timeout = \"2s\"\nconnect_timeout = \"1s\"\nretry_delay = \"1s\"\nretry_attempts = 1\n\
         {extra}\n[[queries]]\nname = \"q\"\ngroup_by = [\"queueId\", \"mediaType\"]\nmetrics = [\"nOffered\"]\n",
        url = fake.url
    );
    start_binary(&config, &[]).await
}

/// The process serves `/healthz` and `/metrics`, has not exited, never panicked, and its
/// peak resident memory stayed under `max_mb`.
async fn assert_alive_and_bounded(process: &mut Process, url: &str, max_mb: u64) {
    assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    assert_eq!(get(&format!("{url}/metrics")).await.status, 200);
    assert!(
        process.child.try_wait().unwrap().is_none(),
        "exited:\n{}",
        process.log()
    );
    let log = process.log();
    assert!(!log.contains("panicked"), "{log}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(
        peak_kb < max_mb * 1024,
        "peak RSS {peak_kb} kB, over {max_mb} MB"
    );
}

fn failures(samples: &Samples, endpoint: &str, reason: &str) -> f64 {
    value(
        samples,
        "genesys_api_failures_total",
        &[("endpoint", endpoint), ("reason", reason)],
    )
    .unwrap_or(0.0)
}

fn up(samples: &Samples) -> Option<f64> {
    value(samples, "genesys_up", &[("query", "q")])
}

/// An ordinary upstream but for `aggregates`, which answers as it says.
async fn fake_with(aggregates: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Fake {
    fake_with_queues(json!({"entities": [], "pageCount": 1}), aggregates).await
}

/// [`fake_with`], whose queue list answers `queues` at every page.
async fn fake_with_queues(
    queues: Json,
    aggregates: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
) -> Fake {
    Fake::start(move |seen| match seen.path.as_str() {
        TOKEN => token(json!(86400)),
        path if path.starts_with(QUEUES) => json_answer(200, queues.clone()),
        // Read with the queue names, for the queue observations (of no queue here).
        PRESENCES => json_answer(200, json!({"entities": []})),
        _ => aggregates(seen),
    })
    .await
}

#[tokio::test]
async fn huge_retry_after() {
    for retry_after in ["1e30", "inf", "999999"] {
        let fake = fake_with(move |_| {
            Answer::Whole(
                429,
                vec![("retry-after".into(), retry_after.into())],
                b"{}".to_vec(),
            )
        })
        .await;
        // The hold is capped at rate_limit_max_wait: the API is asked again after 2 s, not
        // after 11 days (999999) or never (1e30, inf: the old code panicked on those).
        let (mut process, url, _dir) = exporter(&fake, "rate_limit_max_wait = \"2s\"").await;
        let samples =
            wait_for_metrics(&url, |s| failures(s, "aggregates", "rate_limited") >= 2.0).await;
        assert_eq!(up(&samples), Some(0.0), "{retry_after}");
        assert!(fake.count(AGGREGATES) >= 2, "{retry_after}");
        assert_alive_and_bounded(&mut process, &url, 100).await;
    }
}

#[tokio::test]
async fn huge_zero_or_absent_token_lifetime() {
    for expires_in in [json!(i64::MAX), json!(u64::MAX), json!(0), Json::Null] {
        let lifetime = expires_in.clone();
        let fake = Fake::start(move |seen| match seen.path.as_str() {
            TOKEN => token(lifetime.clone()),
            path if path.starts_with(QUEUES) => {
                json_answer(200, json!({"entities": [], "pageCount": 1}))
            }
            // Refused, not retried: a poll a second.
            _ => json_answer(400, json!({"message": "no", "code": "bad.request"})),
        })
        .await;
        let (mut process, url, _dir) = exporter(&fake, "").await;
        wait_for_metrics(&url, |s| {
            value(s, "genesys_poll_failures_total", &[("query", "q")]).unwrap_or(0.0) >= 3.0
        })
        .await;
        // One token for every request, not one per request.
        assert_eq!(fake.count(TOKEN), 1, "expires_in {expires_in}");
        assert_alive_and_bounded(&mut process, &url, 100).await;
    }
}

#[tokio::test]
async fn a_one_gib_body_is_stopped_at_the_limit() {
    let fake = fake_with(|_| Answer::Stream {
        prefix: b"{\"results\": [".to_vec(),
        filler: b" ".to_vec(),
        size: 1 << 30,
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| failures(s, "aggregates", "too_large") >= 1.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert_alive_and_bounded(&mut process, &url, 120).await;
}

#[tokio::test]
async fn a_million_groups_are_stopped_by_the_size_or_series_limit() {
    let fake = fake_with(|_| {
        let group = br#"{"group": {"queueId": "q", "mediaType": "voice"}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]}]},"#;
        Answer::Stream {
            prefix: b"{\"results\": [".to_vec(),
            filler: group.to_vec(),
            size: group.len() as u64 * 1_000_000,
        }
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| failures(s, "aggregates", "too_large") >= 1.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert_alive_and_bounded(&mut process, &url, 120).await;

    // Within the size limit, more series than max_series_per_query: refused whole.
    let many: Vec<(String, u64)> = (0..50).map(|i| (format!("q{i}"), 1)).collect();
    let fake = fake_with(move |seen| {
        let many: Vec<(&str, u64)> = many.iter().map(|(q, n)| (q.as_str(), *n)).collect();
        json_answer(200, groups(seen, &many))
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "max_series_per_query = 10").await;
    let samples = wait_for_metrics(&url, |s| {
        failures(s, "aggregates", "too_many_series") >= 1.0
    })
    .await;
    assert_eq!(up(&samples), Some(0.0));
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn a_lying_page_count_costs_bounded_requests_and_pollers_publish() {
    let fake = Fake::start(|seen| match seen.path.as_str() {
        TOKEN => token(json!(86400)),
        path if path.starts_with(QUEUES) => {
            let entities: Vec<Json> = (0..100)
                .map(|i| json!({"id": format!("id{i}"), "name": "n"}))
                .collect();
            json_answer(
                200,
                json!({"entities": entities, "pageCount": 4294967295u64, "total": 0}),
            )
        }
        _ => json_answer(200, groups(seen, &[("id1", 5)])),
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "max_queue_pages = 5").await;
    let samples = wait_for_metrics(&url, |s| {
        up(s) == Some(1.0) && failures(s, "queues", "too_many_pages") >= 1.0
    })
    .await;
    assert_eq!(fake.count(QUEUES), 5, "the page cap");
    assert_eq!(
        value(
            &samples,
            "genesys_conversation_offered",
            &[("query", "q"), ("queue_id", "id1"), ("media_type", "voice")]
        ),
        Some(5.0)
    );
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let elsewhere = Fake::start(|seen| json_answer(200, groups(seen, &[("stolen", 1)]))).await;
    let target = format!("{}{AGGREGATES}", elsewhere.url);
    let fake =
        fake_with(move |_| Answer::Whole(302, vec![("location".into(), target.clone())], vec![]))
            .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| failures(s, "aggregates", "redirect") >= 1.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert_eq!(elsewhere.count(""), 0, "never followed");
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn the_same_group_twice_makes_one_series() {
    let fake =
        fake_with(|seen| json_answer(200, groups(seen, &[("q1", 3), ("q1", 4), ("q2", 1)]))).await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    // The strict parser of the tests refuses duplicate series.
    let samples = wait_for_metrics(&url, |s| up(s) == Some(1.0)).await;
    let offered = |queue| {
        value(
            &samples,
            "genesys_conversation_offered",
            &[("query", "q"), ("queue_id", queue), ("media_type", "voice")],
        )
    };
    assert_eq!(offered("q1"), Some(3.0), "the first is kept");
    assert_eq!(offered("q2"), Some(1.0));
    process.wait_for_log("each repetition was dropped").await;
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn an_error_message_with_control_characters_is_one_escaped_line() {
    let fake = fake_with(|_| {
        json_answer(
            400,
            json!({"message": "bad\nINFO forged log line\u{1b}[31m", "code": "bad.request"}),
        )
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    wait_for_metrics(&url, |s| failures(s, "aggregates", "bad_request") >= 2.0).await;
    let log = process.wait_for_log("poll failed").await;
    assert!(!log.contains('\u{1b}'), "ESC written: {log}");
    assert!(
        !log.lines().any(|line| line.starts_with("INFO forged")),
        "a forged line: {log}"
    );
    // Escaped in the message, and its backslashes again as a logfmt value: a logfmt
    // reader gets the message back.
    assert!(
        log.contains(r"bad\\nINFO forged log line\\u{1b}[31m"),
        "{log}"
    );
    // One line per failed attempt: each poll is one attempt (a 400 is not retried).
    let lines = log.lines().filter(|line| line.contains("forged")).count();
    let polls = log
        .lines()
        .filter(|line| line.contains("poll failed"))
        .count();
    assert_eq!(lines, polls, "{log}");
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn a_trickled_body_times_out() {
    let fake = fake_with(|seen| Answer::Trickle {
        body: groups(seen, &[("q1", 1)]).to_string().into_bytes(),
        every: Duration::from_millis(100),
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| failures(s, "aggregates", "timeout") >= 1.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn deep_nesting_big_numbers_and_lone_surrogates_are_decode_failures() {
    let deep = format!(
        "{{\"results\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        br#"{"results": [{"group": {}, "data": [{"interval": "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z", "metrics": [{"metric": "nOffered", "stats": {"count": 1e400}}]}]}]}"#.to_vec(),
        br#"{"results": [{"group": {"queueId": "\ud800"}, "data": []}]}"#.to_vec(),
    ];
    for body in bodies {
        let answer = body.clone();
        let fake = fake_with(move |_| Answer::Whole(200, vec![], answer.clone())).await;
        let (mut process, url, _dir) = exporter(&fake, "").await;
        let samples = wait_for_metrics(&url, |s| failures(s, "aggregates", "decode") >= 1.0).await;
        assert_eq!(up(&samples), Some(0.0));
        assert_alive_and_bounded(&mut process, &url, 100).await;
    }
}

#[tokio::test]
async fn a_hanging_token_endpoint_times_out_and_the_exporter_keeps_serving() {
    let hung = Arc::new(AtomicU64::new(0));
    let count = hung.clone();
    let fake = Fake::start(move |seen| match seen.path.as_str() {
        TOKEN => {
            count.fetch_add(1, Ordering::Relaxed);
            Answer::Hang
        }
        _ => json_answer(500, json!({})),
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| failures(s, "token", "timeout") >= 1.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert!(hung.load(Ordering::Relaxed) >= 1);
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

/// A token that cannot be an HTTP header value (`abc\ndef`): the old code panicked building
/// every request for the token's 24 hours, and `report` exited 101.
fn unsendable_token() -> Answer {
    json_answer(
        200,
        json!({"access_token": "abc\ndef", "expires_in": 86400}),
    )
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_is_an_oauth_failure_asked_again() {
    let fake = Fake::start(|seen| match seen.path.as_str() {
        TOKEN => unsendable_token(),
        _ => json_answer(500, json!({})),
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    // Refused at login, and asked again (never cached): each poll asks for a new token.
    let samples = wait_for_metrics(&url, |s| failures(s, "token", "oauth") >= 2.0).await;
    assert_eq!(up(&samples), Some(0.0));
    assert!(fake.count(TOKEN) >= 2);
    assert_eq!(fake.count(AGGREGATES), 0, "no request left with the token");
    let panics = value(&samples, "genesys_poller_panics_total", &[("query", "q")]);
    assert_eq!(panics, Some(0.0));
    let log = process.log();
    assert!(log.contains("cannot be sent in an HTTP header"), "{log}");
    assert!(!log.contains("abc"), "the token is never logged: {log}");
    // Warned once, however often it is asked again; asked again with backoff, not by
    // every poll.
    assert_eq!(
        log.matches("unusable access token; asking again").count(),
        1,
        "{log}"
    );
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

#[tokio::test]
async fn report_with_a_token_that_cannot_be_a_header_exits_1_with_the_reason() {
    let fake = Fake::start(|seen| match seen.path.as_str() {
        TOKEN => unsendable_token(),
        _ => json_answer(500, json!({})),
    })
    .await;
    let dir = crate::util::files::temp_dir();
    let config = crate::util::files::write_file(
        &dir,
        "config.toml",
        &format!(
            "client_id = \"id\"\nclient_secret = \"secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\nretry_attempts = 1\n",
            url = fake.url
        ),
    );
    let mut process = Process::start(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--from",
        "2026-08-17T00:00:00Z",
        "--to",
        "2026-08-17T01:00:00Z",
    ]);
    let mut status = None;
    for _ in 0..600 {
        status = process.child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.unwrap_or_else(|| panic!("report still running: {}", process.log()));
    let log = process.log();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("cannot be sent in an HTTP header"), "{log}");
}

/// A queue list whose first read is small and whose later reads have 10 KB names and new
/// IDs on every page, 40 pages long (the issue's probe had 100 KB names; each costs the
/// same once cut, and smaller pages keep the test quick): each read past `max_directory_bytes` is stopped, counted
/// (`genesys_directory_over_limit_total`, `too_large` on `queues`), and the names of the
/// last complete read stay on the series.
#[tokio::test]
async fn a_directory_past_its_bound_is_stopped_and_the_names_known_kept() {
    let reads = Arc::new(AtomicU64::new(0));
    let count = reads.clone();
    let fake = Fake::start(move |seen| match seen.path.as_str() {
        TOKEN => token(json!(86400)),
        path if path.starts_with(QUEUES) => {
            let page = count.fetch_add(1, Ordering::Relaxed);
            if page == 0 {
                return json_answer(
                    200,
                    json!({"entities": [{"id": "q1", "name": "Sales"}], "pageCount": 1}),
                );
            }
            let name = "n".repeat(10_000);
            let entities: Vec<Json> = (0..100)
                .map(|i| json!({"id": format!("p{page}-{i}"), "name": name}))
                .collect();
            json_answer(200, json!({"entities": entities, "pageCount": 40}))
        }
        PRESENCES => json_answer(200, json!({"entities": []})),
        _ => json_answer(200, groups(seen, &[("q1", 5)])),
    })
    .await;
    let (mut process, url, _dir) = exporter(
        &fake,
        "queue_names_refresh = \"1s\"\napi_budget_share = 1.0\nmax_directory_bytes = 1048576",
    )
    .await;
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_directory_over_limit_total", &[]).unwrap_or(0.0) >= 2.0
    })
    .await;
    assert!(failures(&samples, "queues", "too_large") >= 2.0);
    assert_eq!(value(&samples, "genesys_queue_names_up", &[]), Some(0.0));
    assert_eq!(value(&samples, "genesys_queue_names", &[]), Some(1.0));
    let named = samples.keys().any(|(name, labels)| {
        name == "genesys_conversation_offered"
            && labels.get("queue").map(String::as_str) == Some("Sales")
    });
    assert!(named, "the names of the last complete read stay");
    // Names of 10 KB are cut to 2 KiB as each page comes: a page of 100 holds some
    // 215 KB by the bound's account, and the read stops at the fifth page (5 x 215 KB >
    // 1 MiB), never at the 40th.
    let queue_requests = fake.count(QUEUES) as u64;
    let stopped_reads = value(&samples, "genesys_directory_over_limit_total", &[]).unwrap() as u64;
    assert!(
        queue_requests <= 1 + 6 * (stopped_reads + 1),
        "{queue_requests} requests for {stopped_reads} stopped reads"
    );
    process.wait_for_log("max_directory_bytes").await;
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

/// A queue named with 1 MB and a dimension value of 5,000 bytes: each label value is cut
/// to `max_label_value_bytes` with a trailing `…` and counted; the queue ID keeps the
/// series apart.
#[tokio::test]
async fn long_label_values_are_cut_and_counted() {
    let queues = json!({"entities": [
        {"id": "q1", "name": "s".repeat(1_000_000)},
        {"id": "q2", "name": "s".repeat(1_000_000)}], "pageCount": 1});
    let fake = fake_with_queues(queues, |seen| {
            let interval = seen.body["interval"].as_str().unwrap_or_default();
            json_answer(
                200,
                json!({"results": [
                    {"group": {"queueId": "q1", "mediaType": "m".repeat(5000)},
                     "data": [{"interval": interval, "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]}]},
                    {"group": {"queueId": "q2", "mediaType": "voice"},
                     "data": [{"interval": interval, "metrics": [{"metric": "nOffered", "stats": {"count": 2}}]}]}]}),
            )
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "max_label_value_bytes = 100").await;
    let samples = wait_for_metrics(&url, |s| {
        up(s) == Some(1.0) && value(s, "genesys_queue_names", &[]) == Some(2.0)
    })
    .await;
    let cut_name = format!("{}\u{2026}", "s".repeat(97));
    let cut_media = format!("{}\u{2026}", "m".repeat(97));
    let offered: Vec<_> = samples
        .iter()
        .filter(|((name, _), _)| name == "genesys_conversation_offered")
        .map(|((_, labels), value)| {
            (
                labels["queue_id"].clone(),
                labels["queue"].clone(),
                labels["media_type"].clone(),
                *value,
            )
        })
        .collect();
    assert_eq!(
        offered.len(),
        2,
        "two series, apart by queue_id: {offered:?}"
    );
    assert!(offered.contains(&("q1".into(), cut_name.clone(), cut_media, 1.0)));
    assert!(offered.contains(&("q2".into(), cut_name, "voice".into(), 2.0)));
    // Two names at every read of the list, and the media type at every poll.
    assert!(value(&samples, "genesys_label_values_truncated_total", &[]).unwrap() >= 3.0);
    assert_alive_and_bounded(&mut process, &url, 100).await;
}

/// A queue list page where one queue's name is `null` (and one's is left out): the page
/// is read, the other queues keep their names, and the `null` one is labelled as the one
/// without a name.
#[tokio::test]
async fn a_null_queue_name_is_read_as_absent_and_the_others_keep_theirs() {
    let queues = json!({"entities": [
        {"id": "q1", "name": "Sales"},
        {"id": "q2", "name": null, "division": {"id": null, "name": null}},
        {"id": "q3", "name": "Support"},
        {"id": "q4"}], "pageCount": 1});
    let fake = fake_with_queues(queues, |seen| {
        json_answer(
            200,
            groups(seen, &[("q1", 1), ("q2", 2), ("q3", 3), ("q4", 4)]),
        )
    })
    .await;
    let (mut process, url, _dir) = exporter(&fake, "").await;
    let samples = wait_for_metrics(&url, |s| {
        up(s) == Some(1.0) && value(s, "genesys_queue_names", &[]) == Some(4.0)
    })
    .await;
    assert_eq!(value(&samples, "genesys_queue_names_up", &[]), Some(1.0));
    let queue_label = |queue_id: &str| {
        samples
            .keys()
            .find(|(name, labels)| {
                name == "genesys_conversation_offered"
                    && labels.get("queue_id").map(String::as_str) == Some(queue_id)
            })
            .map(|(_, labels)| labels.get("queue").cloned())
    };
    assert_eq!(queue_label("q1"), Some(Some("Sales".into())));
    assert_eq!(queue_label("q3"), Some(Some("Support".into())));
    assert_eq!(queue_label("q2"), queue_label("q4"), "null reads as absent");
    assert!(queue_label("q2").is_some(), "q2's series is published");
    assert_eq!(failures(&samples, "queues", "decode"), 0.0);
    assert_alive_and_bounded(&mut process, &url, 100).await;
}
