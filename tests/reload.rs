//! Reloading the configuration of the running binary, with the real SIGHUP and the real
//! `POST /-/reload`: queries added, removed and refused, the others left alone.

use std::path::Path;

use genesys_exporter::simulator::SimulatorConfig;

use crate::util::{
    Process, Samples, Sim, start_binary_for, start_simulator, temp_dir, value, wait_for_metrics,
    write_file,
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

fn hang_up(process: &Process) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
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

fn rewrite(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn sighup_adds_and_removes_queries_and_a_bad_file_changes_nothing() {
    let sim = start_simulator(SimulatorConfig::default()).await;
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

    // Added: b starts; a is not polled again.
    rewrite(&path, &config_text(&sim, &["a", "b"]));
    hang_up(&process);
    let added = wait_for_metrics(&url, |s| up(s, "b") == Some(1.0)).await;
    assert_eq!(sim.simulator.requests().aggregates, requests + 1);
    assert_eq!(last_success(&added, "a"), polled_a);
    assert_eq!(up(&added, "a"), Some(1.0));
    assert!(
        added
            .keys()
            .any(|(name, labels)| name == "genesys_conversation_offered"
                && labels.get("query").is_some_and(|q| q == "a")),
        "a's data stays published"
    );
    assert_eq!(reload_successful(&added), Some(1.0));
    process.wait_for_log("configuration reloaded").await;

    // Removed: a's series go, its self-metrics too.
    rewrite(&path, &config_text(&sim, &["b"]));
    hang_up(&process);
    let removed = wait_for_metrics(&url, |s| !has_query(s, "a")).await;
    assert_eq!(up(&removed, "b"), Some(1.0));
    crate::util::wait_until("the second reload's end", || {
        process.log().matches("configuration reloaded").count() == 2
    })
    .await;
    let removed = crate::util::parse(&crate::util::get(&format!("{url}/metrics")).await.body);

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
    let sim = start_simulator(SimulatorConfig::default()).await;
    let (_process, url, _dir) =
        start_binary_for(&sim, "[observations]\nenabled = false\n", &[]).await;
    let (status, body) = post(&url).await;
    assert_eq!(status, 403);
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    let get = crate::util::get(&format!("{url}/-/reload")).await;
    assert_eq!(get.status, 405);

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
    let samples = crate::util::parse(&crate::util::get(&format!("{url}/metrics")).await.body);
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
    let samples = crate::util::parse(&crate::util::get(&format!("{url}/metrics")).await.body);
    assert_eq!(reload_successful(&samples), Some(0.0));
}

#[tokio::test]
async fn a_changed_secret_asks_for_a_new_token_with_it() {
    let sim = start_simulator(SimulatorConfig::default()).await;
    let extra = format!("[observations]\nenabled = false\n{}", query_text("a"));
    let (process, url, dir) = start_binary_for(&sim, &extra, &[]).await;
    let path = dir.path().join("genesys.toml");
    wait_for_metrics(&url, |s| up(s, "a") == Some(1.0)).await;
    let tokens = sim.simulator.requests().token;

    // A rotated secret (which this simulator refuses, so that its use shows) and a new
    // query, whose first poll is the first request after the reload.
    rewrite(
        &path,
        &config_text(&sim, &["a", "c"]).replace("demo-secret", "rotated-secret"),
    );
    hang_up(&process);
    process.wait_for_log("new client credentials").await;
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_poll_failures_total", &[("query", "c")]) == Some(1.0)
    })
    .await;
    assert_eq!(up(&samples, "c"), Some(0.0));
    assert_eq!(sim.simulator.requests().token, tokens + 1);
    assert!(!process.log().contains("rotated-secret"));
}
