//! The shipped rules run by `promtool test rules` over scrapes a test recorded: the input
//! series, the test file, and when an alert first fired, read from promtool and confirmed
//! by it; docs/alerts.md's latency table.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use jiff::SignedDuration;
use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use tempfile::TempDir;

use super::files::{path, read, temp_dir, write_file};
use super::process::output_text;
use super::recording::STEP;
use super::samples::Samples;
use super::tables::table_rows;

/// `name{label="value",...}`, as promtool reads a series.
fn series_text(name: &str, labels: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// promtool's values for one series over the run: a run of equal values as `vxN` (N + 1
/// values), `_` where it was absent before it first appeared or stayed absent, and `stale`
/// where it disappeared, as Prometheus marks a series gone from a scrape (without it, the
/// last value would live on for five minutes).
fn values_text(values: &[Option<f64>]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        match values[i] {
            Some(v) => {
                let run = values[i..].iter().take_while(|w| **w == Some(v)).count();
                words.push(match run {
                    1 => format!("{v}"),
                    _ => format!("{v}x{}", run - 1),
                });
                i += run;
            }
            None => {
                let gone = i > 0 && values[i - 1].is_some();
                words.push(if gone { "stale" } else { "_" }.into());
                i += 1;
            }
        }
    }
    words.join(" ")
}

/// The input series: each series seen in any sample, with its value in each.
fn input_series(recorded: &[Samples]) -> Vec<serde_json::Value> {
    let seen: BTreeSet<_> = recorded.iter().flat_map(|samples| samples.keys()).collect();
    seen.into_iter()
        .map(|series| {
            let values: Vec<Option<f64>> =
                recorded.iter().map(|s| s.get(series).copied()).collect();
            let (name, labels) = series;
            json!({"series": series_text(name, labels), "values": values_text(&values)})
        })
        .collect()
}

/// The instant (seconds from the start of a run of `range` seconds) at which an alert
/// matching `selector` (PromQL label matchers, `alertname='...',...`) first fired: none
/// if it never did.
pub fn first_firing(selector: &str, range: u64) -> String {
    format!("min(min_over_time(timestamp(ALERTS{{alertstate='firing',{selector}}})[{range}s:15s]))")
}

/// The same for the alert's first evaluation as pending or firing.
pub fn first_pending(selector: &str, range: u64) -> String {
    format!("min(min_over_time(timestamp(ALERTS{{{selector}}})[{range}s:15s]))")
}

/// The shipped rule files, by absolute path, and their groups in file order: the order in
/// which promtool evaluates them (without it, promtool's order is left to chance).
fn rule_files() -> (Vec<String>, Vec<String>) {
    let files: Vec<String> = ["recording.rules.yml", "alerts.rules.yml"]
        .iter()
        .map(|f| {
            path(&format!("deploy/prometheus/{f}"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut groups = Vec::new();
    for file in ["recording.rules.yml", "alerts.rules.yml"] {
        let rules: Yaml = serde_yaml_ng::from_str(&read(&format!("deploy/prometheus/{file}")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for group in rules["groups"].as_sequence().unwrap() {
            groups.push(group["name"].as_str().unwrap().to_owned());
        }
    }
    (files, groups)
}

/// One expression promtool evaluates at the end of the run, and what it should give: a
/// value, nothing (`None`), or, in the first run, an impossible -1 that makes promtool
/// report what it got.
pub struct Probe {
    pub expr: String,
    pub expected: Option<f64>,
}

/// The promtool test file: the run's samples as input series, and `probes` evaluated at
/// its end, evaluated every [`STEP`] as `deploy/prometheus/prometheus.yml` does, the
/// recording rules before the alerts.
fn rule_test(name: &str, recorded: &[Samples], probes: &[Probe]) -> String {
    let (files, groups) = rule_files();
    let end = format!("{}s", (recorded.len() as u64 - 1) * STEP.as_secs());
    let tests: Vec<serde_json::Value> = probes
        .iter()
        .map(|probe| {
            let samples = match probe.expected {
                Some(value) => json!([{"labels": "{}", "value": value}]),
                None => json!([]),
            };
            json!({"expr": probe.expr, "eval_time": end, "exp_samples": samples})
        })
        .collect();
    let file = json!({
        "rule_files": files,
        "evaluation_interval": "15s",
        "group_eval_order": groups,
        "tests": [{
            "name": name,
            "interval": "15s",
            "input_series": input_series(recorded),
            "promql_expr_test": tests,
        }],
    });
    serde_yaml_ng::to_string(&file).unwrap()
}

/// Runs `promtool test rules` on `text`; whether it passed, what it said, and the
/// directory that holds the file (removed when dropped).
fn run_promtool(promtool: &str, text: &str) -> (bool, String, TempDir) {
    let dir = temp_dir();
    let file = write_file(&dir, "run.test.yml", text);
    let output = Command::new(promtool)
        .args(["test", "rules", file.to_str().unwrap()])
        .output()
        .unwrap();
    (output.status.success(), output_text(&output), dir)
}

/// What promtool got for `expr`, from the report of a failed run: the value of its one
/// sample without labels, or `None` for no sample (`got: nil`). Fails, showing the report,
/// on any other shape.
fn got(report: &str, expr: &str) -> Option<f64> {
    let shape = || format!("promtool's report is not as expected for {expr}:\n{report}");
    // promtool quotes the expression as Go does; it has no `"` or `\` to escape.
    let header = format!("expr: \"{expr}\"");
    let at = report
        .find(&header)
        .unwrap_or_else(|| panic!("{}", shape()));
    let line = report[at..]
        .lines()
        .take(4)
        .find_map(|line| line.trim().strip_prefix("got:"))
        .unwrap_or_else(|| panic!("{}", shape()))
        .trim();
    if line == "nil" {
        return None;
    }
    let value = line
        .strip_prefix("{} ")
        .unwrap_or_else(|| panic!("{}", shape()));
    Some(value.parse().unwrap_or_else(|_| panic!("{}", shape())))
}

/// What each of `exprs` gives at the end of the run `name` recorded (such as a first
/// firing instant, as seconds from its start): read from a run that expects -1, then
/// confirmed by a run that expects exactly them and `checks`, so that the figures stand on
/// promtool's pass, not on reading its output.
pub fn evaluated(
    promtool: &str,
    name: &str,
    recorded: &[Samples],
    exprs: &[String],
    checks: Vec<Probe>,
) -> Vec<Option<f64>> {
    let asking: Vec<Probe> = exprs
        .iter()
        .map(|expr| Probe {
            expr: expr.clone(),
            expected: Some(-1.0),
        })
        .collect();
    let (passed, report, _dir) = run_promtool(promtool, &rule_test(name, recorded, &asking));
    assert!(!passed, "nothing gives -1:\n{report}");
    let values: Vec<Option<f64>> = exprs.iter().map(|expr| got(&report, expr)).collect();

    let mut confirming: Vec<Probe> = exprs
        .iter()
        .zip(&values)
        .map(|(expr, value)| Probe {
            expr: expr.clone(),
            expected: *value,
        })
        .collect();
    confirming.extend(checks);
    let (passed, report, dir) = run_promtool(promtool, &rule_test(name, recorded, &confirming));
    if !passed {
        let kept = dir.keep();
        panic!(
            "promtool does not confirm the values it reported ({values:?}); the test file is \
             kept in {}:\n{report}",
            kept.display()
        );
    }
    values
}

/// `4m45s`, `2m`, `45s`, as docs/alerts.md writes durations.
pub fn written(duration: SignedDuration) -> String {
    let total = duration.as_secs();
    assert!(total >= 0, "{duration:?} before its cause");
    match (total / 60, total % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// The measured column of docs/alerts.md's latency table, for the rows of `alerts`.
pub fn documented_latencies(alerts: &[&str]) -> BTreeMap<String, String> {
    let header = "| alert | fires after | at worst, by the arithmetic | measured |";
    table_rows(&read("docs/alerts.md"), header)
        .into_iter()
        .map(|cells| {
            let alert = cells[0].split('`').nth(1).unwrap_or_default().to_owned();
            (alert, cells[3].clone())
        })
        .filter(|(alert, _)| alerts.contains(&alert.as_str()))
        .collect()
}
