//! The exposition passes `promtool check metrics`, Prometheus's own linter.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::{get, start_busy_afternoon};

/// promtool, or `None` outside CI when it is not installed. Under CI it must be there.
pub fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "promtool is missing under CI: .ci/run installs Debian's prometheus package"
        );
        eprintln!("skipped: no promtool on PATH (apt-get install prometheus)");
        return None;
    }
    Some("promtool")
}

#[tokio::test]
async fn promtool_check_metrics_reports_nothing() {
    let Some(promtool) = promtool() else { return };
    let (_sim, exporter) = start_busy_afternoon().await;
    let body = get(&format!("{}/metrics", exporter.url)).await.body;

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool: {said}");
    assert_eq!(said.trim(), "", "promtool had something to say");
}
