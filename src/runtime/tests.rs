//! An org's tasks, started and reloaded against the simulator, both at a fixed instant.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::org_runtime::{OrgRuntime, Shared};
use crate::config::{Config, ObservationsConfig, QueryConfig, Settings};
use crate::exposition::{Format, Publisher};
use crate::metrics::Metrics;
use genesys_sim::{Simulator, SimulatorConfig};
use genesys_wire::time::Clock;

/// The simulator on a port of its own, until the test ends.
struct Sim {
    simulator: Simulator,
    url: String,
    _stop: tokio_util::sync::DropGuard,
}

async fn simulator() -> Sim {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let simulator = Simulator::new(SimulatorConfig {
        clock: afternoon(),
        ..SimulatorConfig::default()
    });
    let stop = CancellationToken::new();
    let serving = simulator.clone();
    let stopping = stop.clone();
    tokio::spawn(async move { serving.serve(listener, stopping).await });
    Sim {
        simulator,
        url,
        _stop: stop.drop_guard(),
    }
}

/// Settings that poll `sim` for `queries`, each of the default query's metrics in 15-minute
/// buckets by media type, without the observations.
fn settings(sim: &Sim, queries: &[&str], secret: &str) -> Settings {
    Config {
        client_id: Some("demo-client".into()),
        client_secret: Some(secret.into()),
        api_url: Some(sim.url.clone()),
        login_url: Some(sim.url.clone()),
        queries: queries
            .iter()
            .map(|name| QueryConfig {
                name: (*name).into(),
                granularity: Some("PT15M".into()),
                group_by: Some(vec!["mediaType".into()]),
                ..QueryConfig::default()
            })
            .collect(),
        observations: ObservationsConfig {
            enabled: Some(false),
            ..ObservationsConfig::default()
        },
        ..Config::default()
    }
    .validate()
    .unwrap()
}

/// A clock from a weekday afternoon, when every demo queue has traffic.
fn afternoon() -> Clock {
    Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap())
}

/// What the org runtimes share, on the afternoon's clock.
fn shared() -> Shared {
    let metrics = Arc::new(Metrics::empty());
    Shared {
        publisher: Arc::new(Publisher::empty(metrics.clone())),
        metrics,
        clock: afternoon(),
        shutdown: CancellationToken::new(),
    }
}

/// When `query` last published, if it has.
fn last_success(shared: &Shared, query: &str) -> Option<jiff::Timestamp> {
    let statuses = shared.publisher.statuses();
    let (_, _, status) = statuses.iter().find(|(_, name, _)| name == query)?;
    status.last_success
}

/// Waits until `query` has published after `since` (`None`: at all).
async fn published(
    shared: &Shared,
    query: &str,
    since: Option<jiff::Timestamp>,
) -> jiff::Timestamp {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(at) = last_success(shared, query).filter(|at| Some(*at) > since) {
            return at;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{query} never published"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The series of `/metrics` with a `query="<query>"` label.
fn series_of(shared: &Shared, query: &str) -> Vec<String> {
    let exposition = shared.publisher.current(shared.clock.now());
    let text = String::from_utf8(exposition.to_vec(Format::Text, false)).unwrap();
    let label = format!("query=\"{query}\"");
    text.lines()
        .filter(|line| line.starts_with("genesys_conversation_") && line.contains(&label))
        .map(str::to_owned)
        .collect()
}

/// An org of `settings`, started as at start-up.
async fn started(shared: &Shared, settings: &Settings) -> OrgRuntime {
    let mut org = OrgRuntime::new(shared, settings, settings.orgs[0].clone(), true).unwrap();
    assert!(org.read_directory(settings).is_none(), "no query by queue");
    org.check_budget(None).unwrap();
    org.start();
    org
}

/// Checks and applies `new` to `org`, running `old`.
async fn reload(org: &mut OrgRuntime, old: &Settings, new: &Settings) {
    let checked = org.check(new, &new.orgs[0]).unwrap();
    org.apply(checked, old, new).await;
}

#[tokio::test]
async fn an_added_query_rebuilds_the_org_and_the_unchanged_query_keeps_its_data_meanwhile() {
    let sim = simulator().await;
    let shared = shared();
    let old = settings(&sim, &["a"], "demo-secret");
    let mut org = started(&shared, &old).await;
    let first = published(&shared, "a", None).await;
    let a = series_of(&shared, "a");
    assert!(!a.is_empty(), "a publishes series");
    let requests = sim.simulator.requests().aggregates;

    let new = settings(&sim, &["a", "b"], "demo-secret");
    reload(&mut org, &old, &new).await;
    // Rebuilt: a's data is served as it was until a's next poll replaces it.
    assert_eq!(series_of(&shared, "a"), a);
    published(&shared, "b", None).await;
    published(&shared, "a", Some(first)).await;
    assert_eq!(
        sim.simulator.requests().aggregates,
        requests + 2,
        "a again, and b"
    );
    // The same bucket at the same simulated instant: the same numbers.
    assert_eq!(series_of(&shared, "a"), a);
    org.stop().await;
}

#[tokio::test]
async fn a_removed_query_stops_and_its_series_leave_at_once() {
    let sim = simulator().await;
    let shared = shared();
    let old = settings(&sim, &["a", "b"], "demo-secret");
    let mut org = started(&shared, &old).await;
    published(&shared, "a", None).await;
    published(&shared, "b", None).await;

    let new = settings(&sim, &["b"], "demo-secret");
    reload(&mut org, &old, &new).await;
    assert!(series_of(&shared, "a").is_empty());
    assert!(
        last_success(&shared, "a").is_none(),
        "a's status is gone too"
    );
    assert!(!series_of(&shared, "b").is_empty(), "b's data stays");
    org.stop().await;
}

#[tokio::test]
async fn a_reload_that_changes_nothing_of_the_org_leaves_its_tasks_running() {
    let sim = simulator().await;
    let shared = shared();
    let old = settings(&sim, &["a"], "demo-secret");
    let mut org = started(&shared, &old).await;
    published(&shared, "a", None).await;
    let running = org.stop_token();

    let mut new = settings(&sim, &["a"], "demo-secret");
    new.api_budget_share = 0.5;
    reload(&mut org, &old, &new).await;
    assert!(!running.is_cancelled(), "not stopped, so not rebuilt");
    org.stop().await;
}

#[tokio::test]
async fn new_credentials_make_a_new_client_whose_token_is_asked_for_with_them() {
    let sim = simulator().await;
    let shared = shared();
    let old = settings(&sim, &["a"], "demo-secret");
    let mut org = started(&shared, &old).await;
    let first = published(&shared, "a", None).await;
    let tokens = sim.simulator.requests().token;

    // The simulator knows only the demo secret: a new one is refused at the next login.
    let new = settings(&sim, &["a"], "rotated-secret");
    reload(&mut org, &old, &new).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while sim.simulator.requests().token == tokens {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new token asked for"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        last_success(&shared, "a"),
        Some(first),
        "refused: no new data"
    );
    org.stop().await;
}

#[tokio::test]
async fn a_reload_that_panics_is_counted_answered_as_failed_and_the_next_one_runs() {
    let sim = simulator().await;
    let settings = settings(&sim, &["a"], "demo-secret");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let loads = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (counting, reloaded) = (loads.clone(), settings.clone());
    // The first read of the configuration panics (a bug, injected through the loader).
    let load: super::Loader = Arc::new(move || {
        if counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("a reload bug");
        }
        Ok(reloaded.clone())
    });
    let (sender, requests) = tokio::sync::mpsc::channel(1);
    let reloads = super::Reloads {
        load,
        requests,
        sender: sender.clone(),
        lifecycle: false,
        telemetry_path: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(super::run_reloading(
        settings,
        listener,
        afternoon(),
        shutdown.clone(),
        reloads,
    ));
    let reload = || async {
        let (done, outcome) = tokio::sync::oneshot::channel();
        sender.send(done).await.unwrap();
        outcome.await.unwrap()
    };
    let refused = reload().await.unwrap_err();
    assert!(refused.contains("a reload bug"), "{refused}");
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        text.contains("genesys_exporter_config_reload_panics_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("genesys_exporter_config_last_reload_successful 0\n"),
        "{text}"
    );
    reload().await.unwrap();
    assert!(!running.is_finished(), "the exporter goes on");
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
