//! Reloading the configuration of the running binary, with the real SIGHUP and the real
//! `POST /-/reload`: queries added, removed and refused, the others left alone.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::util::{
    expected::{assert_same_samples, expected_from},
    files::{temp_dir, write_file},
    http::get,
    process::{Process, hang_up, sim_config, start_binary_for},
    samples::{Samples, conversation_of, parse, value},
    sim::{Sim, afternoon_sim, start_simulator},
    wait::{wait_for_metrics, wait_until},
};

/// The file's head: the simulator, its credentials, no observations (so that the
/// aggregates requests the test counts are the queries' only).
fn config_text(sim: &Sim, queries: &[&str]) -> String {
    let mut text = format!(
        "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n\n[observations]\nenabled = false\n",
        url = sim.url
    );
    for query in queries {
        text.push_str(&query_text(query));
    }
    text
}

/// A query of hour buckets, whose next poll is far off: a poll a test sees came from a
/// start, not from the schedule.
fn query_text(name: &str) -> String {
    format!("\n[[queries]]\nname = \"{name}\"\ngranularity = \"PT1H\"\nmetrics = [\"nOffered\"]\n")
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

fn last_success(samples: &Samples, query: &str) -> Option<f64> {
    value(
        samples,
        "genesys_last_success_timestamp_seconds",
        &[("query", query)],
    )
}

/// Whether any series carries `query="NAME"`.
fn has_query(samples: &Samples, query: &str) -> bool {
    samples
        .keys()
        .any(|(_, labels)| labels.get("query").is_some_and(|q| q == query))
}

fn reload_successful(samples: &Samples) -> Option<f64> {
    value(
        samples,
        "genesys_exporter_config_last_reload_successful",
        &[],
    )
}

/// The binary on `sim`, observations off, with the query `a` of `query` (its text), once
/// `a` is up; and its file's path.
async fn start_polling_a(sim: &Sim, query: &str) -> (Process, String, TempDir, PathBuf) {
    let extra = format!("[observations]\nenabled = false\n{query}");
    let (process, url, dir) = start_binary_for(sim, &extra, &[]).await;
    let path = dir.path().join("genesys.toml");
    wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;
    (process, url, dir, path)
}

fn rewrite(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn sighup_adds_and_removes_queries_and_a_bad_file_changes_nothing() {
    let sim = start_simulator(afternoon_sim()).await;
    let extra = format!("[observations]\nenabled = false\n{}", query_text("a"));
    let (process, url, dir) = start_binary_for(&sim, &extra, &[]).await;
    let path = dir.path().join("genesys.toml");
    let before = wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;
    assert_eq!(reload_successful(&before), Some(1.0));
    let loaded_at = value(
        &before,
        "genesys_exporter_config_last_reload_success_timestamp_seconds",
        &[],
    )
    .unwrap();
    assert!(loaded_at > 0.0);
    let polled_a = last_success(&before, "a");
    let requests = sim.simulator.requests().aggregates;

    // Added: b starts, and the org is rebuilt: a is polled again, its data served until.
    rewrite(&path, &config_text(&sim, &["a", "b"]));
    hang_up(&process);
    let added = wait_for_metrics(&url, |s| {
        up(s, "b") == Some(1.0) && last_success(s, "a") > polled_a
    })
    .await;
    assert_eq!(sim.simulator.requests().aggregates, requests + 2);
    assert_eq!(up(&added, "a"), Some(1.0));
    // a's data stays published: the simulator's for the hour a polled by the wall clock.
    assert_same_samples(
        &conversation_of(&added, "a"),
        &expected_from(&sim, &added, "a", "PT1H", &["nOffered"]),
    );
    assert_eq!(reload_successful(&added), Some(1.0));
    process.wait_for_log("configuration reloaded").await;
    // The reload logs before it records its success and renders it, on a thread of its
    // own: wait for the render.
    const RELOADED: &str = "genesys_exporter_config_last_reload_success_timestamp_seconds";
    let reloaded = |s: &Samples| value(s, RELOADED, &[]).unwrap_or_default();
    let first_reload = reloaded(&wait_for_metrics(&url, |s| reloaded(s) > loaded_at).await);

    // Removed: a's series go, its self-metrics too.
    rewrite(&path, &config_text(&sim, &["b"]));
    hang_up(&process);
    let removed = wait_for_metrics(&url, |s| !has_query(s, "a")).await;
    assert_eq!(up(&removed, "b"), Some(1.0));
    wait_until("the second reload's end", || {
        process.log().matches("configuration reloaded").count() == 2
    })
    .await;
    let removed = wait_for_metrics(&url, |s| reloaded(s) > first_reload).await;

    // Refused: an unknown metric; b keeps running, the failure shows in the metrics and
    // the log names the problem.
    rewrite(
        &path,
        &config_text(&sim, &["b"]).replace("\"nOffered\"", "\"nOfered\""),
    );
    hang_up(&process);
    let failed = wait_for_metrics(&url, |s| reload_successful(s) == Some(0.0)).await;
    assert_eq!(up(&failed, "b"), Some(1.0));
    assert!(has_query(&failed, "b"));
    let log = process
        .wait_for_log("configuration reload failed; the previous configuration still runs")
        .await;
    assert!(log.contains("nOfered"), "{log}");
    assert_eq!(
        value(
            &failed,
            "genesys_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        ),
        value(
            &removed,
            "genesys_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        )
    );

    // A restart-only key is said to be so.
    rewrite(
        &path,
        &config_text(&sim, &["b"])
            .replace("[observations]", "max_connections = 64\n\n[observations]"),
    );
    hang_up(&process);
    let fixed = wait_for_metrics(&url, |s| reload_successful(s) == Some(1.0)).await;
    assert_eq!(up(&fixed, "b"), Some(1.0));
    process
        .wait_for_log("max_connections changed, which only a restart applies")
        .await;
}

async fn post(url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}/-/reload"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_reload_endpoint_needs_the_lifecycle_flag() {
    let sim = start_simulator(afternoon_sim()).await;
    let (_process, url, _dir) =
        start_binary_for(&sim, "[observations]\nenabled = false\n", &[]).await;
    let (status, body) = post(&url).await;
    assert_eq!(status, 403);
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    let reply = get(&format!("{url}/-/reload")).await;
    assert_eq!(reply.status, 405);

    let dir = temp_dir();
    let path = write_file(&dir, "genesys.toml", &config_text(&sim, &["a"]));
    let process = Process::start(&[
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--web.enable-lifecycle",
    ]);
    let url = process.metrics_url().await;
    wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;

    rewrite(&path, &config_text(&sim, &["a", "b"]));
    let (status, body) = post(&url).await;
    assert_eq!((status, body.as_str()), (200, "configuration reloaded\n"));
    // Answered once applied: b is already announced.
    let samples = parse(&get(&format!("{url}/metrics")).await.body);
    assert!(
        up(&samples, "b").is_some(),
        "b is listed once the reload answers"
    );

    rewrite(
        &path,
        &config_text(&sim, &["a", "b"]).replace("granularity = \"PT1H\"", "granularity = \"PT7M\""),
    );
    let (status, body) = post(&url).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("PT7M"), "{body}");
    assert!(!body.contains("demo-secret"), "{body}");
    let samples = parse(&get(&format!("{url}/metrics")).await.body);
    assert_eq!(reload_successful(&samples), Some(0.0));
}

#[tokio::test]
async fn a_changed_secret_asks_for_a_new_token_with_it() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, _dir, path) = start_polling_a(&sim, &query_text("a")).await;
    let tokens = sim.simulator.requests().token;

    // A rotated secret (which this simulator refuses, so that its use shows) and a new
    // query, whose first poll is the first request after the reload.
    rewrite(
        &path,
        &config_text(&sim, &["a", "c"]).replace("demo-secret", "rotated-secret"),
    );
    hang_up(&process);
    process
        .wait_for_log("new client settings or credentials")
        .await;
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_poll_failures_total", &[("query", "c")]) == Some(1.0)
    })
    .await;
    assert_eq!(up(&samples, "c"), Some(0.0));
    // Refused, so not cached: each task that asked for one was refused.
    assert!(sim.simulator.requests().token > tokens);
    assert!(!process.log().contains("rotated-secret"));
}

#[tokio::test]
async fn a_new_api_url_and_login_url_take_a_token_from_there_and_poll_there() {
    let first = start_simulator(afternoon_sim()).await;
    let second = start_simulator(afternoon_sim()).await;
    let (process, url, _dir, path) = start_polling_a(&first, &query_text("a")).await;
    let asked_first = first.simulator.requests();

    // The unchanged query starts again with the new client: a token and a poll from the
    // second simulator, and nothing more from the first.
    rewrite(&path, &config_text(&second, &["a"]));
    hang_up(&process);
    process.wait_for_log("a new client, with a new token").await;
    wait_until("a poll of the second simulator", || {
        second.simulator.requests().aggregates == 1
    })
    .await;
    let samples = wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;
    assert_eq!(reload_successful(&samples), Some(1.0));
    assert_eq!(second.simulator.requests().token, 1);
    let asked = first.simulator.requests();
    assert_eq!(
        (asked.token, asked.aggregates),
        (asked_first.token, asked_first.aggregates)
    );
}

/// The file of `config_text` with the observations on, every `refresh`.
fn observing_text(sim: &Sim, queries: &[&str], refresh: &str) -> String {
    config_text(sim, queries).replace(
        "enabled = false",
        &format!("enabled = true\nrefresh = \"{refresh}\""),
    )
}

#[tokio::test]
async fn a_new_observations_refresh_takes_effect() {
    let sim = start_simulator(afternoon_sim()).await;
    let extra = format!(
        "[observations]\nenabled = true\nrefresh = \"1h\"\n{}",
        query_text("a")
    );
    let (process, url, dir) = start_binary_for(&sim, &extra, &[]).await;
    let path = dir.path().join("genesys.toml");
    wait_for_metrics(&url, |s| up(s, "observations") == Some(1.0)).await;
    // One observation, of this many requests; the next would be an hour off.
    let one = sim.simulator.requests().observations;
    assert!(one > 0);

    // Restarted at once, then every 5 s: a second observation after the restart's is the
    // new refresh's.
    rewrite(&path, &observing_text(&sim, &["a"], "5s"));
    hang_up(&process);
    process.wait_for_log("configuration reloaded").await;
    wait_until("an observation at the new refresh", || {
        sim.simulator.requests().observations >= 3 * one
    })
    .await;
    let samples = wait_for_metrics(&url, |s| up(s, "observations") == Some(1.0)).await;
    assert_eq!(reload_successful(&samples), Some(1.0));
}

#[tokio::test]
async fn a_reload_over_the_api_budget_is_refused_with_the_arithmetic() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, _dir, path) = start_polling_a(&sim, &query_text("a")).await;

    // The observations every 5 s, in a hundredth of the limit: over budget.
    rewrite(
        &path,
        &observing_text(&sim, &["a"], "5s").replace(
            "[observations]",
            "api_budget_share = 0.01\n\n[observations]",
        ),
    );
    hang_up(&process);
    let failed = wait_for_metrics(&url, |s| reload_successful(s) == Some(0.0)).await;
    assert_eq!(up(&failed, "a"), Some(1.0));
    assert!(!has_query(&failed, "observations"));
    let log = process
        .wait_for_log("configuration reload failed; the previous configuration still runs")
        .await;
    assert!(log.contains("the API budget is exceeded"), "{log}");
    assert!(
        log.contains("allowed: api_budget_share 0.01 × 300 = 3 a minute"),
        "{log}"
    );
    assert_eq!(sim.simulator.requests().observations, 0);
}

/// A query like [`query_text`]'s, grouped by media type only: no queue names wanted.
fn by_media_text(name: &str) -> String {
    query_text(name).replace("metrics = ", "group_by = [\"mediaType\"]\nmetrics = ")
}

#[tokio::test]
async fn the_first_query_by_queue_starts_reading_the_queue_names() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, _dir, path) = start_polling_a(&sim, &by_media_text("a")).await;
    assert_eq!(sim.simulator.requests().queues, 0);

    // b is grouped by queue (the default): the queue list is read, and b's series get
    // their queue label, as the simulator's data for the hour b polled has them.
    rewrite(&path, &(config_text(&sim, &["b"]) + &by_media_text("a")));
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| {
        up(s, "b") == Some(1.0)
            && conversation_of(s, "b") == expected_from(&sim, s, "b", "PT1H", &["nOffered"])
    })
    .await;
    assert!(sim.simulator.requests().queues > 0);
    assert_eq!(reload_successful(&samples), Some(1.0));
}

#[tokio::test]
async fn a_relative_secret_file_is_read_beside_the_config_file_at_start_and_each_reload() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    write_file(&dir, "secret", "demo-secret\n");
    let text = |secret_file: &str| {
        config_text(&sim, &["a"]).replace(
            "client_secret = \"demo-secret\"",
            &format!("client_secret_file = \"{secret_file}\""),
        )
    };
    let path = write_file(&dir, "genesys.toml", &text("secret"));
    // Run from another directory, where no file of that name is.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args(["--config", path.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--web.enable-lifecycle"])
        .current_dir("/")
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_REGION");
    let process = Process::spawn(command);
    let url = process.metrics_url().await;
    wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;

    // A reload resolves the paths again, from the same directory.
    rewrite(&path, &text("rotated"));
    let (status, body) = post(&url).await;
    let dir = dir.path().display();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&format!(
            "client_secret_file: {dir}/rotated: no such file; give the path of a regular file that holds only the secret (relative paths are resolved from the directory of {dir}/genesys.toml; given in the environment, from the working directory)"
        )),
        "{body}"
    );
    std::fs::write(format!("{dir}/rotated"), "demo-secret\n").unwrap();
    let (status, body) = post(&url).await;
    assert_eq!((status, body.as_str()), (200, "configuration reloaded\n"));
}

/// The flow observations and the telephony are whole sources of their own: a reload that
/// turns them on starts them, one that turns them off stops them and their series go.
#[tokio::test]
async fn a_reload_turns_the_flow_observations_and_the_telephony_on_and_off() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, dir) = start_binary_for(&sim, "", &[]).await;
    wait_for_metrics(&url, |s| up(s, "default") == Some(1.0)).await;
    let path = dir.path().join("genesys.toml");
    let on = "[flow_observations]\nenabled = true\n\n[telephony]\nenabled = true\n";
    rewrite(&path, &sim_config(&sim, on));
    hang_up(&process);
    // The flow observations may run before the flow list's first read (a reload does not
    // wait for it): that they run at all is what the reload changes.
    wait_for_metrics(&url, |s| {
        up(s, "flow_observations").is_some() && up(s, "telephony") == Some(1.0)
    })
    .await;
    rewrite(&path, &sim_config(&sim, ""));
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| {
        !has_query(s, "flow_observations") && !has_query(s, "telephony")
    })
    .await;
    assert_eq!(up(&samples, "default"), Some(1.0));
}
