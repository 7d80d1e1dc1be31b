//! The exposition passes `promtool check metrics`, Prometheus's own linter, and label
//! values written by people are escaped so that they read back as written.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use genesys_exporter::exposition::{Format, Publisher, flatten};
use genesys_exporter::metrics::{BreakerState, Metrics};
use genesys_wire::time::Interval;
use genesys_wire::{AggregateGroup, AggregateResponse, IntervalData, MetricEntry, Stats};
use jiff::Timestamp;
use tokio::sync::watch;

use crate::util::{
    ci::promtool,
    exporter::start_busy_afternoon,
    files::{read, temp_dir, write_file},
    http::get,
    markdown::section,
    process::output_text,
    samples::{parse, value},
};

/// Runs `promtool check metrics` on `body` and asserts it succeeds without a word.
pub(crate) fn assert_promtool_accepts(promtool: &str, body: &str) {
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

#[tokio::test]
async fn promtool_check_metrics_reports_nothing() {
    let Some(promtool) = promtool() else { return };
    let (_sim, exporter) = start_busy_afternoon().await;
    let body = get(&format!("{}/metrics", exporter.url)).await.body;
    assert_promtool_accepts(promtool, &body);
}

#[test]
fn label_values_written_by_people_read_back_as_written() {
    let values = [
        "Sales \"EMEA\"",
        r"C:\queues\back\",
        "two\nlines",
        "Åsa's Kø, 日本語 🎧",
        "tab\there } { = ,",
        "",
    ];
    let window = Interval {
        start: "2026-08-20T10:00:00Z".parse().unwrap(),
        end: "2026-08-20T10:15:00Z".parse().unwrap(),
    };
    let response = AggregateResponse {
        results: values
            .iter()
            .enumerate()
            .map(|(i, value)| AggregateGroup {
                group: [("queueId", value), ("wrapUpCode", value)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                data: vec![IntervalData {
                    interval: window.to_string(),
                    metrics: vec![MetricEntry {
                        metric: "nOffered".into(),
                        qualifier: Some(value.to_string()),
                        stats: Stats {
                            count: Some(i as f64),
                            ..Stats::default()
                        },
                    }],
                }],
            })
            .collect(),
    };
    let group_by = ["queueId".to_string(), "wrapUpCode".to_string()];
    let data = flatten("people", &group_by, window, &response);
    // No client, so no breaker to open.
    let (_, closed_breaker) = watch::channel(BreakerState::Closed);
    let publisher = Publisher::new(
        Arc::new(Metrics::new(["people"])),
        ["people"],
        closed_breaker,
    );
    let now = Timestamp::UNIX_EPOCH;
    publisher.publish("people", window, data, now, Duration::from_secs(3600));
    let exposition = publisher.current(now);

    let text = exposition.to_vec(Format::Text, false);
    let openmetrics = exposition.to_vec(Format::OpenMetrics, false);
    for body in [&text, &openmetrics] {
        let samples = parse(std::str::from_utf8(body).unwrap());
        for (i, written) in values.iter().enumerate() {
            let labels = [
                ("query", "people"),
                ("queue_id", written),
                ("wrap_up_code", written),
                ("qualifier", written),
            ];
            assert_eq!(
                value(&samples, "genesys_conversation_offered", &labels),
                Some(i as f64),
                "{written:?}"
            );
        }
    }
    let text = std::str::from_utf8(&text).unwrap();
    assert!(text.contains(r#"queue_id="two\nlines""#), "{text}");
    assert!(text.contains(r#"queue_id="C:\\queues\\back\\""#), "{text}");
    if let Some(promtool) = promtool() {
        assert_promtool_accepts(promtool, text);
    }
}

#[test]
fn the_prometheus_agent_configuration_of_the_capacity_page_is_valid() {
    let page = read("docs/capacity.md");
    let agent = section(&page, "## Prometheus Agent and remote write");
    let yaml = agent
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block in the section");
    // The shipped alerts match up{job="genesys-exporter"}.
    assert!(yaml.contains("- job_name: genesys-exporter\n"), "{yaml}");
    assert!(yaml.contains("remote_write:"), "{yaml}");
    let Some(promtool) = promtool() else { return };
    let dir = temp_dir();
    let path = write_file(&dir, "agent.yml", yaml);
    let output = Command::new(promtool)
        .args(["check", "config", "--agent"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool: {}",
        output_text(&output)
    );
}
