//! Starting the simulator and the exporter on 127.0.0.1:0, reading `/metrics` back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_exporter::config::{
    Config, DEFAULT_METRICS, ObservationsConfig, QueryConfig, Settings,
};
use genesys_exporter::genesys::wire::{
    AggregateResponse, AggregationQuery, OBSERVATION_METRICS, ObservationQuery,
};
use genesys_exporter::schedule::{Clock, Interval};
use genesys_exporter::simulator::{Org, Simulator, SimulatorConfig, aggregate};
use jiff::Timestamp;
use serde_json::Value as Json;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running simulator; stops when dropped.
pub struct Sim {
    pub simulator: Simulator,
    pub url: String,
    shutdown: CancellationToken,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The instant a test's simulator (and an in-process exporter) runs at unless the test
/// chooses another: a weekday afternoon, when every demo queue has traffic.
pub const AFTERNOON: &str = "2026-08-20T14:07:00Z";

/// The demo org's simulator, its clock starting at [`AFTERNOON`]: what a test that needs no
/// other settings passes to [`start_simulator`], and what others fill in the rest from.
pub fn afternoon_sim() -> SimulatorConfig {
    SimulatorConfig {
        clock: Clock::starting_at(AFTERNOON.parse().unwrap()),
        ..SimulatorConfig::default()
    }
}

/// Serves `config` on 127.0.0.1. Its clock must be a simulated one: a simulator on the
/// system clock answers observations (and starts surges) by the hour the suite runs at.
pub async fn start_simulator(config: SimulatorConfig) -> Sim {
    assert!(
        !matches!(config.clock, Clock::System),
        "a test's simulator runs at a fixed instant: start from afternoon_sim()"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let simulator = Simulator::new(config);
    let shutdown = CancellationToken::new();
    let serving = simulator.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move { serving.serve(listener, stop).await });
    Sim {
        simulator,
        url,
        shutdown,
    }
}

/// A configuration that points at `sim` with its demo credentials. The queue
/// observations are off, so that the requests a test counts and the faults it sets meet
/// only the aggregates; [`observing`] turns them on.
pub fn config_for(sim: &Sim, queries: Vec<QueryConfig>) -> Config {
    Config {
        client_id: Some("demo-client".into()),
        client_secret: Some("demo-secret".into()),
        api_url: Some(sim.url.clone()),
        login_url: Some(sim.url.clone()),
        queries,
        observations: ObservationsConfig {
            enabled: Some(false),
            ..ObservationsConfig::default()
        },
        ..Config::default()
    }
}

/// `config` with the queue observations on, every `refresh`.
pub fn observing(mut config: Config, refresh: Duration) -> Config {
    config.observations = ObservationsConfig {
        enabled: Some(true),
        refresh: Some(refresh),
        ..ObservationsConfig::default()
    };
    config
}

/// An exporter running in this process; stops when dropped.
pub struct Exporter {
    pub url: String,
    shutdown: CancellationToken,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start_exporter(config: Config, clock: Clock) -> Exporter {
    start_exporter_with(config.validate().unwrap(), clock).await
}

/// An exporter running in this process on checked settings, which a test may have changed
/// beyond what the configuration allows (such as a cool-down shorter than 30 s).
pub async fn start_exporter_with(settings: Settings, clock: Clock) -> Exporter {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        genesys_exporter::exporter::run(settings, listener, clock, stop)
            .await
            .unwrap()
    });
    Exporter { url, shutdown }
}

/// The demo org and an exporter whose clock starts on a weekday afternoon, when every
/// demo queue has traffic, once its default query has published.
pub async fn start_busy_afternoon() -> (Sim, Exporter) {
    let sim = start_simulator(afternoon_sim()).await;
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config_for(&sim, vec![]), clock).await;
    wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    (sim, exporter)
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub async fn get(url: &str) -> Reply {
    get_with(url, &[]).await
}

/// A GET of `url` with `headers`, given [`PATIENCE`] to answer (while tokio time runs).
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = reqwest::Client::new().get(url).timeout(PATIENCE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: response.text().await.unwrap(),
    }
}

// -- Waiting for events ----------------------------------------------------------------------
//
// Tests wait for what they expect to see (a sample on /metrics, a request counted by the
// simulator, a log line), never for a length of time, and give up after [`PATIENCE`] with a
// message that says what did not happen. Mind that /metrics shows the exporter's own series
// as of the end of the last poll (or the breaker's last change): what happens within a
// poll, such as a retry, shows only once the poll is over.

/// How long a test waits for something it expects before it fails: generous, for a CI
/// machine that runs the suite on two loaded cores.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How long [`pause`] lasts.
pub const PAUSE: Duration = Duration::from_millis(20);

/// A pause of a few milliseconds of real time between two looks at something awaited. A
/// blocking sleep on tokio's blocking pool rather than `tokio::time::sleep`, so that it
/// passes also while a test holds tokio's clock still ([`hold_time`]).
pub async fn pause() {
    tokio::task::spawn_blocking(|| std::thread::sleep(PAUSE))
        .await
        .unwrap();
}

/// Waits until `done` holds, looking again every few milliseconds; fails after
/// [`PATIENCE`], saying that `what` never happened.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}, in vain"
        );
        pause().await;
    }
}

/// Scrapes `/metrics` until `done` holds for its samples, and returns them; fails after
/// [`PATIENCE`], showing the exporter's own series as last scraped.
pub async fn wait_for_metrics(base: &str, done: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = parse(&get(&format!("{base}/metrics")).await.body);
        if done(&samples) {
            return samples;
        }
        if Instant::now() >= deadline {
            panic!(
                "/metrics did not reach the expected state within {PATIENCE:?}; it said:\n{}",
                own_series(&samples)
            );
        }
        pause().await;
    }
}

/// The exporter's series about itself, one a line: what a failed wait shows.
fn own_series(samples: &Samples) -> String {
    let lines: Vec<String> = samples
        .iter()
        .filter(|((name, _), _)| !name.starts_with("genesys_conversation_"))
        .map(|((name, labels), value)| format!("  {name}{labels:?} {value}"))
        .collect();
    lines.join("\n")
}

// -- Time the test moves itself ---------------------------------------------------------------

/// Holds tokio's clock still until dropped: from the call on, tokio time moves only when
/// the test calls `tokio::time::advance`, so every timer (token lifetimes, the circuit
/// breaker's cool-down, retry delays, request timeouts, a simulated [`Clock`], the
/// simulator's own waits) ends exactly when the test says, however slow the machine. Call
/// it first thing in a `#[tokio::test(start_paused = true)]`; `start_paused` (rather than
/// pausing later) keeps the clock on whole milliseconds, so that a timer of exactly the
/// time moved fires.
///
/// Paused time alone does not do with real sockets: whenever every task waits, even on a
/// socket, tokio jumps to the next timer, firing request timeouts. A blocking task stops
/// that while it runs (tokio documents it under `time::pause`, "Preventing auto-advance"),
/// and this one runs until the guard is dropped. Waits meanwhile pace themselves in real
/// time ([`pause`]).
///
/// Let no connection idle for 10 s or more of held time: the simulator's and the exporter's
/// servers then close it (their header-read timeout) at the very instant the client may
/// reuse it, which real time never lines up, and the request hangs with its timeout held
/// still too.
pub fn hold_time() -> HeldTime {
    let (release, released) = std::sync::mpsc::channel::<()>();
    // Returns once the guard, and with it the sender, is dropped.
    drop(tokio::task::spawn_blocking(move || released.recv()));
    HeldTime { _release: release }
}

/// Tokio's clock is held still while this lives; see [`hold_time`].
#[must_use = "time is held only while the guard lives"]
pub struct HeldTime {
    _release: std::sync::mpsc::Sender<()>,
}

/// Moves held time forward [`PAUSE`] at a time, each step followed by a pause as long in
/// real time and a scrape of `/metrics`, until `done` holds for the samples; returns them
/// and how far time moved. Small steps let what each one wakes (a backoff, a retry delay)
/// play out before the next, and a request in flight never sees held time run faster than
/// real time would: no request timeout fires that would not in real life.
pub async fn advance_until(base: &str, done: impl Fn(&Samples) -> bool) -> (Samples, Duration) {
    let deadline = Instant::now() + PATIENCE;
    let mut moved = Duration::ZERO;
    loop {
        let samples = parse(&get(&format!("{base}/metrics")).await.body);
        if done(&samples) {
            return (samples, moved);
        }
        if Instant::now() >= deadline {
            panic!(
                "/metrics did not reach the expected state within {PATIENCE:?} of real time \
                 ({moved:?} of tokio time moved); it said:\n{}",
                own_series(&samples)
            );
        }
        tokio::time::advance(PAUSE).await;
        moved += PAUSE;
        pause().await;
    }
}

/// (metric name, sorted labels) → value.
pub type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// The value of the sample `name` with exactly `labels`.
pub fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.get(&(name.to_string(), labels)).copied()
}

/// A strict reader of the text exposition format: panics on any line it cannot read.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().expect(line);
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').expect(line);
                (name.to_string(), parse_labels(rest, line))
            }
        };
        assert!(
            samples.insert((name, labels), value).is_none(),
            "duplicate series {line}"
        );
    }
    samples
}

fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect(line);
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect(line) {
                (_, '\\') => match chars.next().expect(line).1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    other => panic!("bad escape \\{other} in {line}"),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The exporter binary as a child process, its stderr collected as it comes.
pub struct Process {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Process {
    /// The binary with `args`, and no Genesys settings from this process's environment.
    pub fn start(args: &[&str]) -> Process {
        Process::start_with(args, &[])
    }

    /// [`Process::start`], with `env` in its environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
        command
            .args(args)
            .env_remove("GENESYS_CLIENT_ID")
            .env_remove("GENESYS_CLIENT_SECRET")
            .env_remove("GENESYS_REGION")
            .envs(env.iter().copied());
        Process::spawn(command)
    }

    /// Runs `command` with its stderr collected, logging at `info` unless it sets RUST_LOG.
    pub fn spawn(mut command: Command) -> Process {
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut collected = collected.lock().unwrap();
                collected.push_str(&line);
                collected.push('\n');
            }
        });
        Process { child, stderr }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle`, for at most [`PATIENCE`], and returns the
    /// log.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?} within {PATIENCE:?}; log so far:\n{log}"
            );
            pause().await;
        }
    }

    /// The address the exporter said it serves on.
    pub async fn metrics_url(&self) -> String {
        let log = self.wait_for_log("serving /metrics").await;
        let address = log
            .split("address=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        format!("http://{address}")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory of the test's own, removed with all it holds when dropped: keep it
/// as long as the test, or a process it started, reads from it.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("genesys-exporter-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// The exporter binary on 127.0.0.1:0, configured by a file with `sim`'s URL and demo
/// credentials followed by `extra` TOML, with `env` in its environment; with its base URL,
/// and the directory holding the file (keep it as long as the process).
pub async fn start_binary_for(
    sim: &Sim,
    extra: &str,
    env: &[(&str, &str)],
) -> (Process, String, TempDir) {
    let text = format!(
        "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n{extra}",
        url = sim.url
    );
    start_binary(&text, env).await
}

/// The binary with the configuration `text`, written as `genesys.toml` in the directory
/// returned, listening on a free port, with `env` added to its environment; and the base
/// URL it serves on.
pub async fn start_binary(text: &str, env: &[(&str, &str)]) -> (Process, String, TempDir) {
    let dir = temp_dir();
    let config = write_file(&dir, "genesys.toml", text);
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let process = Process::start_with(&args, env);
    let url = process.metrics_url().await;
    (process, url, dir)
}

/// Sends the process a SIGHUP: reload the configuration.
pub fn hang_up(process: &Process) {
    let status = Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Writes `text` to the file `name` in `dir` and returns its path.
pub fn write_file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// Settings for `sim`'s demo credentials with every wait of the retry policy, the
/// circuit breaker and the poller cut about a hundredfold, so that tests on real sockets
/// live through outages in real time: retry_delay 200 ms (30 s), backoff 10 ms doubling
/// to 100 ms (1 s to 30 s), cool-down 600 ms (60 s). Attempts and thresholds keep their
/// defaults: 4 attempts per request, the breaker opens after 5 failures.
pub fn fast_settings(sim: &Sim, queries: Vec<QueryConfig>) -> Settings {
    let mut settings = config_for(sim, queries).validate().unwrap();
    settings.retry_delay = Duration::from_millis(200);
    settings.orgs[0].client.retry.backoff_base = Duration::from_millis(10);
    settings.orgs[0].client.retry.backoff_max = Duration::from_millis(100);
    settings.orgs[0].client.breaker.cool_down = Duration::from_millis(600);
    settings.orgs[0].client.request_timeout = Duration::from_secs(5);
    settings
}

/// One bucket of the default query.
pub const BUCKET: Duration = Duration::from_secs(15 * 60);

/// The busy afternoon of [`start_busy_afternoon`] with [`fast_settings`], changed by
/// `adjust`, once it has published; with the clock, which the test moves forward.
pub async fn start_fast_afternoon(adjust: impl FnOnce(&mut Settings)) -> (Sim, Exporter, Clock) {
    let sim = start_simulator(afternoon_sim()).await;
    let mut settings = fast_settings(&sim, vec![]);
    adjust(&mut settings);
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter_with(settings, clock.clone()).await;
    wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    (sim, exporter, clock)
}

/// Sets a fault through the simulator's control endpoint, as JSON such as
/// `{"fault": "unavailable", "seconds": 30}`.
pub async fn set_fault(sim: &Sim, fault: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/simulator/faults", sim.url))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Clears every fault through the control endpoint.
pub async fn clear_faults(sim: &Sim) {
    let response = reqwest::Client::new()
        .delete(format!("{}/simulator/faults", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The exporter's samples now.
pub async fn scrape(exporter: &Exporter) -> Samples {
    parse(&get(&format!("{}/metrics", exporter.url)).await.body)
}

/// The value of a counter or gauge of the default query, or of an endpoint and reason;
/// 0 when the series is absent (a counter that never counted).
pub fn of(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or(0.0)
}

pub const DEFAULT: &[(&str, &str)] = &[("query", "default")];

/// `genesys_api_failures_total` or `genesys_api_retries_total` of the aggregates endpoint.
pub fn aggregates(samples: &Samples, name: &str, reason: &str) -> f64 {
    of(
        samples,
        name,
        &[("endpoint", "aggregates"), ("reason", reason)],
    )
}

/// The Genesys data series alone.
pub fn conversation(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((name, _), _)| name.starts_with("genesys_conversation_"))
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// The start and end of the default query's published interval.
pub fn published_window(samples: &Samples) -> (jiff::Timestamp, jiff::Timestamp) {
    published_window_of(samples, "default")
}

/// The start and end of the interval `query` last published.
pub fn published_window_of(samples: &Samples, query: &str) -> (jiff::Timestamp, jiff::Timestamp) {
    let at = |name| {
        let seconds = value(samples, name, &[("query", query)]).expect(name);
        jiff::Timestamp::from_second(seconds as i64).unwrap()
    };
    (
        at("genesys_interval_start_timestamp_seconds"),
        at("genesys_interval_end_timestamp_seconds"),
    )
}

/// The end of the published interval, as text such as `14:15`.
pub fn interval_end(samples: &Samples) -> String {
    let end = of(samples, "genesys_interval_end_timestamp_seconds", DEFAULT);
    jiff::Timestamp::from_second(end as i64)
        .unwrap()
        .strftime("%H:%M")
        .to_string()
}

/// An answer with its headers and body bytes as sent (reqwest here does not decompress).
pub struct RawReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

pub async fn get_raw(url: &str, headers: &[(&str, &str)]) -> RawReply {
    let mut request = reqwest::Client::new().get(url).timeout(PATIENCE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    RawReply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap(),
    }
}

/// Whether this run is CI's: `CI` set to anything but empty, `false` or `0`. `.ci/run`
/// installs every tool the tests need, so there a missing one fails its test.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "false" | "0"))
}

/// `program` when it is on PATH (it answers `version_arg`). When it is not: under CI the
/// test fails, saying how `.ci/run` installs it (`install`); outside CI the test is
/// skipped, and says so where a passing test's output is not hidden (see [`skipped`]).
pub fn required_tool(
    program: &'static str,
    version_arg: &str,
    install: &str,
) -> Option<&'static str> {
    if Command::new(program).arg(version_arg).output().is_ok() {
        return Some(program);
    }
    assert!(
        !under_ci(),
        "{program} is missing under CI: .ci/run installs it ({install})"
    );
    skipped(&format!("no {program} on PATH ({install})"));
    None
}

/// The tests skipped so far in this run, each with its reason.
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records that the calling test is skipped, for `reason`, and says so on the terminal
/// at once (written to the standard error itself, which the test harness does not hold
/// back as it does a passing test's output). When the run ends, one more line counts every
/// test skipped, after the harness's own summary: a skipped test still shows as `ok`,
/// since the harness has no way to mark a test skipped once it runs.
pub fn skipped(reason: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let line = format!("{test}: {reason}");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "\nSKIPPED {line}");
    let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        summary_at_exit();
    }
    skipped.push(line);
}

/// Prints the skipped tests when the test binary exits.
fn summary_at_exit() {
    extern "C" fn summary() {
        let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "SKIPPED {} test(s), counted as passed above; under CI=true they would fail:",
            skipped.len()
        );
        for line in skipped.iter() {
            let _ = writeln!(stderr, "  {line}");
        }
    }
    unsafe extern "C" {
        /// The C library's: runs `function` when the process exits, after the test
        /// harness's summary.
        fn atexit(function: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `summary` is an `extern "C" fn()` that stays valid for the whole process,
    // as atexit requires.
    unsafe {
        atexit(summary);
    }
}

/// What a finished command wrote, its standard output then its standard error.
pub fn output_text(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// promtool, or `None` outside CI when it is not installed. Under CI it must be there.
pub fn promtool() -> Option<&'static str> {
    required_tool("promtool", "--version", "apt-get install prometheus")
}

// -- What the exporter should publish ---------------------------------------------------------

/// The gauge base name of each default metric, written out by hand rather than derived by
/// the exporter's naming code, so that the tests check that code.
const NAMES: &[(&str, &str)] = &[
    ("nOffered", "offered"),
    ("nConnected", "connected"),
    ("tAnswered", "answered"),
    ("tAbandon", "abandon"),
    ("tHandle", "handle"),
    ("tTalk", "talk"),
    ("tHeld", "held"),
    ("tAcw", "acw"),
    ("tWait", "wait"),
    ("nOverSla", "over_sla"),
    ("nTransferred", "transferred"),
    ("oServiceLevel", "service_level"),
];

/// The default query's request (by queue and media type, in UTC) for `[start, end)` in
/// `granularity` buckets: how tests ask the simulator for its own data.
pub fn demo_request(
    start: Timestamp,
    end: Timestamp,
    granularity: &str,
    metrics: &[&str],
) -> AggregationQuery {
    AggregationQuery {
        interval: Interval { start, end }.to_string(),
        granularity: Some(granularity.into()),
        time_zone: Some("UTC".into()),
        group_by: vec!["queueId".into(), "mediaType".into()],
        filter: None,
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
    }
}

/// What the exporter should publish, computed from the simulator's own answer.
pub fn expected_samples(window_start: Timestamp, window_end: Timestamp) -> Samples {
    let request = demo_request(window_start, window_end, "PT15M", DEFAULT_METRICS);
    let org = Org::demo();
    let response = aggregate(&org, &request).unwrap();
    samples_of("default", &response, &org)
}

/// The series a query named `query` publishes from `response`, an answer of the demo
/// org's (grouped by queue and media type, of the default metrics or some of them) whose
/// groups each hold one data entry, for the published interval.
pub fn samples_of(query: &str, response: &AggregateResponse, org: &Org) -> Samples {
    let mut expected = Samples::new();
    for group in &response.results {
        let mut labels: BTreeMap<String, String> = [
            ("query", query.to_string()),
            (
                "queue_id",
                group.group.get("queueId").cloned().unwrap_or_default(),
            ),
            (
                "media_type",
                group.group.get("mediaType").cloned().unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // The exporter names each queue from the queue list.
        if let Some(id) = group.group.get("queueId") {
            let queue = org.queues.iter().find(|q| q.id == *id).unwrap();
            labels.insert("queue".into(), queue.name.clone());
        }
        assert!(group.data.len() <= 1, "one data entry per group");
        for data in &group.data {
            for entry in &data.metrics {
                let base = NAMES.iter().find(|(m, _)| *m == entry.metric).unwrap().1;
                let s = &entry.stats;
                let gauges: Vec<(String, Option<f64>)> = match &entry.metric[..1] {
                    "n" => vec![(base.to_string(), s.count)],
                    "t" => vec![
                        (format!("{base}_segments"), s.count),
                        (format!("{base}_seconds"), s.sum.map(|ms| ms / 1000.0)),
                        (format!("{base}_seconds_max"), s.max.map(|ms| ms / 1000.0)),
                        (format!("{base}_seconds_min"), s.min.map(|ms| ms / 1000.0)),
                    ],
                    _ => vec![
                        (format!("{base}_ratio"), s.ratio),
                        (format!("{base}_numerator"), s.numerator),
                        (format!("{base}_denominator"), s.denominator),
                        (format!("{base}_target_ratio"), s.target),
                    ],
                };
                for (name, value) in gauges {
                    if let Some(value) = value {
                        expected.insert(
                            (format!("genesys_conversation_{name}"), labels.clone()),
                            value,
                        );
                    }
                }
            }
        }
    }
    expected
}

/// The Genesys data series of `query` alone.
pub fn conversation_of(samples: &Samples, query: &str) -> Samples {
    conversation(samples)
        .into_iter()
        .filter(|((_, labels), _)| labels.get("query").is_some_and(|q| q == query))
        .collect()
}

/// What `query` (by queue and media type, of `metrics` in `granularity` buckets) should
/// publish for the interval `samples` says it published, from `sim`'s own data: for an
/// exporter that polls by the wall clock, such as the binary on a test's simulator.
pub fn expected_from(
    sim: &Sim,
    samples: &Samples,
    query: &str,
    granularity: &str,
    metrics: &[&str],
) -> Samples {
    let (start, end) = published_window_of(samples, query);
    let request = demo_request(start, end, granularity, metrics);
    let response = sim.simulator.aggregate(&request).unwrap();
    samples_of(query, &response, sim.simulator.org())
}

/// The same series with the same values, to the precision of the text format.
pub fn assert_same_samples(published: &Samples, expected: &Samples) {
    for (series, want) in expected {
        let got = published
            .get(series)
            .unwrap_or_else(|| panic!("missing {series:?}"));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{series:?}: {got} != {want}"
        );
    }
    let extra: Vec<_> = published
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "series the simulator has no data for: {extra:?}"
    );
}

// -- The repository's own files -----------------------------------------------------------

/// The repository, where the deployment files, the dashboards and the README are.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The path of a file given relative to the repository.
pub fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// A file of the repository, as text.
pub fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The rows of the first Markdown table in `text` whose header line starts with `header`,
/// each as its trimmed cells.
pub fn table_rows(text: &str, header: &str) -> Vec<Vec<String>> {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("no table {header}"));
    text[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// The files under `dir` whose names end with one of `extensions`, relative to the root.
pub fn files_under(dir: &str, extensions: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![path(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if extensions
                .iter()
                .any(|e| path.to_string_lossy().ends_with(e))
            {
                let relative = path.strip_prefix(ROOT).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// The dashboards in grafana/dashboards, by file name.
pub fn dashboards() -> Vec<(String, Json)> {
    let boards: Vec<(String, Json)> = files_under("grafana/dashboards", &[".json"])
        .into_iter()
        .map(|file| {
            let board =
                serde_json::from_str(&read(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let name = Path::new(&file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, board)
        })
        .collect();
    assert_eq!(boards.len(), 4, "four dashboards in grafana/dashboards");
    boards
}

/// Every panel, including those inside collapsed rows.
pub fn panels(board: &Json) -> Vec<&Json> {
    let mut all = Vec::new();
    for panel in board["panels"].as_array().unwrap() {
        all.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            all.extend(inner);
        }
    }
    all
}

// -- A child process's exit and memory ---------------------------------------------------------

/// The resident memory of process `pid` in bytes, from /proc (0 where there is no /proc).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

/// Waits for `process` to exit, for at most [`PATIENCE`], and returns its status; fails
/// (and the process is killed when dropped) if it is still running then, or if its
/// resident memory passes `max_rss` meanwhile.
pub async fn exit_of(process: &mut Process, max_rss: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            // The thread that collects stderr holds the other reference until the pipe's
            // end: then the log is whole.
            wait_until("its stderr read to the end", || {
                Arc::strong_count(&process.stderr) == 1
            })
            .await;
            return status;
        }
        let rss = rss_of(process.child.id());
        assert!(
            rss <= max_rss,
            "its memory grew to {rss} bytes, past {max_rss}; log:\n{}",
            process.log()
        );
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}; log:\n{}",
            process.log()
        );
        pause().await;
    }
}

/// The open file descriptors of process `pid`.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// The exporter binary in demo mode on 127.0.0.1, under the usual soft and hard limit of
/// 1024 open files (as a shell's `ulimit -n` sets them), with `extra` arguments.
pub fn start_demo_with_1024_files(extra: &[&str]) -> Process {
    // This process opens the hostile clients' sockets: let it have more than the child.
    let _ = rlimit::increase_nofile_limit(8192);
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_genesys-exporter"))
        .args([
            "--demo",
            "--demo-time",
            AFTERNOON,
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_REGION");
    Process::spawn(command)
}

/// Tries `attempt` until it succeeds, pausing between tries; fails after [`PATIENCE`],
/// saying what never worked and the last error.
pub async fn retry_until<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => assert!(
                Instant::now() < deadline,
                "{what}: still failing after {PATIENCE:?}: {error}"
            ),
        }
        pause().await;
    }
}

// -- TLS and basic auth -----------------------------------------------------------------------

/// A test CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
/// all made by rcgen, as PEM files in a directory of the test's own.
pub struct Pki {
    pub dir: TempDir,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_pem: String,
    /// The client's certificate and key, as `reqwest::Identity::from_pem` takes them.
    pub client_pem: String,
}

pub fn make_pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
        KeyPair,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "genesys-exporter test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        vec!["prometheus".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let dir = temp_dir();
    Pki {
        ca_file: write_file(&dir, "ca.pem", &ca.pem()),
        cert_file: write_file(&dir, "server.pem", &server_cert),
        key_file: write_file(&dir, "server-key.pem", &server_key),
        ca_pem: ca.pem(),
        client_pem: format!("{client_cert}{client_key}"),
        dir,
    }
}

/// An HTTPS client that trusts the test CA, with the client certificate if `identify`.
pub fn https_client(pki: &Pki, identify: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .timeout(PATIENCE);
    if identify {
        builder = builder.identity(reqwest::Identity::from_pem(pki.client_pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// A bcrypt hash of `password` at the lowest cost, which is quick in tests.
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// An observations query for every queue of `org` and every metric, in one request, as
/// the tests ask it of the simulator (written out here, not taken from the exporter's
/// request builder).
pub fn every_queue_observed(org: &Org) -> ObservationQuery {
    let predicates: Vec<serde_json::Value> = org
        .queues
        .iter()
        .map(|q| serde_json::json!({"dimension": "queueId", "value": q.id}))
        .collect();
    ObservationQuery {
        filter: serde_json::json!({"type": "or", "predicates": predicates}),
        metrics: OBSERVATION_METRICS.map(String::from).to_vec(),
        detail_metrics: Vec::new(),
    }
}
