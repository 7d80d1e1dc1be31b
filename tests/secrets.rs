//! No secret leaks. The exporter binary runs with distinctive credentials, logging all it
//! can (RUST_LOG=trace, its dependencies included), through every fault the simulator
//! plays; then neither the client secret, nor its Basic-auth encoding, nor any access
//! token the simulator issued may appear in the log, on the landing page or in /metrics.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use genesys_sim::{Malformed, SimulatorConfig};
use serde_json::json;

use crate::util::{
    files::{temp_dir, write_file},
    http::{get, get_with},
    process::Process,
    samples::{Samples, of, parse},
    sim::{afternoon_sim, clear_faults, set_fault, start_simulator},
    wait::wait_for_metrics,
};

const CLIENT_ID: &str = "secrets-test-client-5e1b";
const CLIENT_SECRET: &str = "Sup3r-S3cret-7f4e9c2a-do-not-log";

fn failures(samples: &Samples, endpoint: &str, reason: &str) -> f64 {
    of(
        samples,
        "genesys_api_failures_total",
        &[("endpoint", endpoint), ("reason", reason)],
    )
}

#[tokio::test]
async fn no_secret_or_token_shows_in_logs_landing_page_or_metrics_through_every_fault() {
    let sim = start_simulator(SimulatorConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        faults: vec!["unavailable".parse().unwrap()],
        ..afternoon_sim()
    })
    .await;
    // Short waits, and a breaker that never opens: its 30 s minimum cool-down would only
    // make this test slow, and it sends nothing secret anyway.
    let dir = temp_dir();
    let path = write_file(
        &dir,
        "secrets.toml",
        &format!(
            "client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n\
             listen = \"127.0.0.1:0\"\nrequest_timeout = \"1s\"\nretry_delay = \"100ms\"\nretry_attempts = 2\nbreaker_failures = 1000\n",
            url = sim.url
        ),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args(["--config", path.to_str().unwrap()])
        .env("RUST_LOG", "trace")
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_REGION");
    let process = Process::spawn(command);
    let url = process.metrics_url().await;

    // Each phase: faults to set, and the failure that shows they were met.
    let mut phases = vec![
        (
            vec![json!({"fault": "gateway_timeout"})],
            "aggregates",
            "server_error",
        ),
        (
            vec![json!({"fault": "rate_limited", "retry_after": 0})],
            "aggregates",
            "rate_limited",
        ),
        (
            vec![json!({"fault": "slow", "delay": 1.5})],
            "aggregates",
            "timeout",
        ),
        (vec![json!({"fault": "reset"})], "aggregates", "transport"),
        (
            vec![json!({"fault": "forbidden"})],
            "aggregates",
            "forbidden",
        ),
        // A revoked token, a login service in trouble while renewing it, then a 403.
        (
            vec![
                json!({"fault": "revoke_tokens"}),
                json!({"fault": "unavailable", "path": "/oauth/token", "requests": 2}),
                json!({"fault": "forbidden"}),
            ],
            "token",
            "server_error",
        ),
    ];
    for kind in Malformed::ALL {
        phases.push((
            vec![json!({"fault": "malformed", "body": kind})],
            "aggregates",
            "decode",
        ));
    }
    wait_for_metrics(&url, |s| failures(s, "aggregates", "server_error") >= 1.0).await;
    for (faults, endpoint, reason) in phases {
        let before = failures(
            &parse(&get(&format!("{url}/metrics")).await.body),
            endpoint,
            reason,
        );
        clear_faults(&sim).await;
        for fault in faults {
            set_fault(&sim, fault).await;
        }
        wait_for_metrics(&url, |s| failures(s, endpoint, reason) > before).await;
    }
    clear_faults(&sim).await;
    wait_for_metrics(&url, |s| {
        of(s, "genesys_up", &[("query", "default")]) == 1.0
    })
    .await;

    let landing = get(&format!("{url}/")).await.body;
    let text = get(&format!("{url}/metrics")).await.body;
    let openmetrics = get_with(
        &format!("{url}/metrics"),
        &[("accept", "application/openmetrics-text;version=1.0.0")],
    )
    .await
    .body;
    let log = process.log();

    // The faults were met, and said so.
    for said in [
        "HTTP 503 service.unavailable",
        "HTTP 504 request.timeout",
        "HTTP 429 too.many.requests.retry.after",
        "operation timed out",
        "HTTP 403 missing.permissions",
        "HTTP 401 bad.credentials",
        "unreadable response",
        "ININ-Correlation-Id",
        "renewing it and retrying once",
        "published",
    ] {
        assert!(log.contains(said), "the log never says {said:?}");
    }
    // Each entry is one line, even for the bodies with line breaks in them.
    for line in log.lines() {
        assert!(
            line.starts_with("time="),
            "a log line that is not an entry: {line:?}"
        );
    }

    let basic = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let tokens = sim.simulator.issued_tokens();
    assert!(tokens.len() >= 3, "several tokens were issued");
    for (place, shown) in [
        ("the log", &log),
        ("the landing page", &landing),
        ("/metrics", &text),
        ("/metrics as OpenMetrics", &openmetrics),
    ] {
        assert!(!shown.contains(CLIENT_SECRET), "the secret is in {place}");
        assert!(
            !shown.contains(&basic),
            "the Basic credentials are in {place}"
        );
        for token in &tokens {
            assert!(!shown.contains(token.as_str()), "a token is in {place}");
        }
    }
}
