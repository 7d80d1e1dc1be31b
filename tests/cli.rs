//! The binary: configuration errors, a query the API rejects, and shutdown.

use std::time::{Duration, Instant};

use genesys_exporter::config::DEFAULT_METRICS;

use crate::util::{
    expected::{assert_same_samples, expected_from},
    files::{temp_dir, write_file},
    http::get,
    process::Process,
    samples::{conversation_of, parse, value},
    sim::{AFTERNOON, afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

fn wait_for_exit(process: &mut Process, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            // The log is whole once the thread that collects stderr let go of it.
            while std::sync::Arc::strong_count(&process.stderr) > 1 {
                assert!(
                    started.elapsed() < limit,
                    "stderr still open after {limit:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            return status;
        }
        assert!(started.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_bad_config_exits_2_naming_each_key() {
    let dir = temp_dir();
    let path = write_file(
        &dir,
        "bad.toml",
        "client_id = \"id\"\nregion = \"eu-west1\"\n[[queries]]\nname = \"q\"\nmetrics = [\"nBogus\", \"tHandel\"]\ngroup_by = [\"queueID\"]\ngranularity = \"PT7M\"\n",
    );
    let mut process = Process::start(&["--config", path.to_str().unwrap()]);
    let status = wait_for_exit(&mut process, Duration::from_secs(10));
    assert_eq!(status.code(), Some(2));
    let log = process.log();
    for key in [
        "client_secret: missing",
        "region: unknown region 'eu-west1'; did you mean 'eu-west-1'?",
        "queries[0].metrics: 'nBogus' is not in the Genesys metric catalogue; genesys-exporter catalogue lists them all",
        "queries[0].metrics: 'tHandel' is not in the Genesys metric catalogue; did you mean 'tHandle'?",
        "queries[0].group_by: 'queueID' is not a Genesys groupBy dimension; did you mean 'queueId'?",
        "queries[0].granularity: 'PT7M'",
    ] {
        assert!(log.contains(key), "{key} not in {log}");
    }
}

#[test]
fn a_missing_config_file_and_a_typo_in_a_key_are_errors() {
    let mut missing = Process::start(&["--config", "/nonexistent/genesys.toml"]);
    assert_eq!(
        wait_for_exit(&mut missing, Duration::from_secs(10)).code(),
        Some(2)
    );
    assert!(
        missing
            .log()
            .contains("/nonexistent/genesys.toml: no such file")
    );

    let dir = temp_dir();
    let path = write_file(&dir, "typo.toml", "client_idd = \"x\"\n");
    let mut typo = Process::start(&["--config", path.to_str().unwrap()]);
    assert_eq!(
        wait_for_exit(&mut typo, Duration::from_secs(10)).code(),
        Some(2)
    );
    let log = typo.log();
    assert!(
        log.contains(&format!(
            "client_idd: unknown key in the file {}; did you mean 'client_id'?",
            path.display()
        )),
        "{log}"
    );

    let mut variable = Process::start_with(
        &["--check-config"],
        &[("GENESYS_EXPORTER_LISTN", "127.0.0.1:9871")],
    );
    assert_eq!(
        wait_for_exit(&mut variable, Duration::from_secs(10)).code(),
        Some(2)
    );
    let log = variable.log();
    assert!(
        log.contains(
            "listn: unknown key in the environment variable GENESYS_EXPORTER_LISTN; did you mean 'listen'?"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn a_rejected_query_is_logged_and_counted_while_the_rest_keeps_serving() {
    let sim = start_simulator(afternoon_sim()).await;
    let config = format!(
        "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n\
         [[queries]]\nname = \"good\"\n\
         [[queries]]\nname = \"broken\"\nfilter = {{ type = \"or\", predicates = [{{ type = \"dimension\", dimension = \"colour\", operator = \"matches\", value = \"red\" }}] }}\n",
        url = sim.url
    );
    let dir = temp_dir();
    let path = write_file(&dir, "rejected.toml", &config);
    let mut process = Process::start(&[
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = process.metrics_url().await;

    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_up", &[("query", "good")]) == Some(1.0)
            && value(s, "genesys_poll_failures_total", &[("query", "broken")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(&samples, "genesys_up", &[("query", "broken")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "genesys_api_failures_total",
            &[("endpoint", "aggregates"), ("reason", "bad_request")]
        ),
        Some(1.0)
    );
    let log = process.wait_for_log("poll failed").await;
    assert!(log.contains("HTTP 400"), "{log}");
    assert!(
        log.contains("colour"),
        "the API's own message is logged: {log}"
    );
    assert!(process.child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    let readiness = get(&format!("{url}/readyz")).await;
    assert_eq!(readiness.status, 503);
    assert!(readiness.body.contains("broken"));
    let landing = get(&format!("{url}/")).await.body;
    assert!(
        landing.contains("failed: aggregates: HTTP 400"),
        "{landing}"
    );
    // The good query's data is there, the simulator's for the interval it polled by the
    // wall clock, and the text parses.
    let good = parse(&get(&format!("{url}/metrics")).await.body);
    assert_same_samples(
        &conversation_of(&good, "good"),
        &expected_from(&sim, &good, "good", "PT15M", DEFAULT_METRICS),
    );
}

#[tokio::test]
async fn sigterm_stops_the_demo_cleanly_within_five_seconds() {
    let mut process = Process::start(&[
        "--demo",
        "--demo-time",
        AFTERNOON,
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = process.metrics_url().await;
    assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    let pid = process.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_for_exit(&mut process, Duration::from_secs(5));
    assert!(status.success(), "{status:?}\n{}", process.log());
    assert!(process.log().contains("stopped"));
}

#[tokio::test]
async fn sigint_stops_it_too() {
    let mut process = Process::start(&[
        "--demo",
        "--demo-time",
        AFTERNOON,
        "--listen",
        "127.0.0.1:0",
    ]);
    process.metrics_url().await;
    let pid = process.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(wait_for_exit(&mut process, Duration::from_secs(5)).success());
}

#[tokio::test]
async fn environment_variables_configure_it_without_a_file() {
    let sim = start_simulator(afternoon_sim()).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("GENESYS_CLIENT_ID", "demo-client")
        .env("GENESYS_CLIENT_SECRET", "demo-secret")
        .env("GENESYS_EXPORTER_API_URL", &sim.url)
        .env("GENESYS_EXPORTER_LOGIN_URL", &sim.url)
        .env("GENESYS_EXPORTER_RETRY_DELAY", "5s");
    let process = Process::spawn(command);
    let url = process.metrics_url().await;
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(&samples, "genesys_token_refreshes_total", &[]),
        Some(1.0)
    );
    assert_eq!(sim.simulator.requests().token, 1);
}

#[test]
fn the_example_config_is_valid() {
    let dir = temp_dir();
    let secret = write_file(&dir, "example-secret", "s3cret\n");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/config.example.toml"),
            "--check-config",
        ])
        .env("GENESYS_EXPORTER_CLIENT_SECRET_FILE", &secret);
    let mut process = Process::spawn(command);
    let status = wait_for_exit(&mut process, Duration::from_secs(10));
    assert!(status.success(), "{}", process.log());
    assert!(
        process
            .log()
            .contains("configuration is valid: 3 queries (queues, live, daily)"),
        "{}",
        process.log()
    );
}

#[test]
fn the_catalogue_command_prints_every_name_a_configuration_may_use() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .arg("catalogue")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed, genesys_exporter::exposition::catalogue());
    for name in [
        "tHandle",
        "genesys_conversation_service_level_target_ratio",
        "queue_id",
        "oLongestWaiting",
        "genesys_queue_user_presences",
    ] {
        assert!(printed.contains(name), "{name} not in {printed}");
    }
}
