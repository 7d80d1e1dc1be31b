//! The shipped Prometheus rules and Grafana dashboards, proven against a real Prometheus.
//!
//! promtool checks the shipped configuration and rules and runs their unit tests. Then a
//! real Prometheus on 127.0.0.1 scrapes three exporters every 2 s with the shipped rules
//! loaded: one in demo mode on a busy afternoon (every source: the conversations, flows and
//! actions queries, bucket and rolling, the queue observations, the agent states, the
//! flow observations, the voice quality and the Edges and trunks) with two simulated orgs, east and west (`[[orgs]]`, so their
//! series carry `org`); the same demo behind TLS and basic auth with one org and no
//! `[[orgs]]` (no org label), so that both shapes are in the same Prometheus; and one
//! whose credentials the simulator refuses, so that the failure panels have something
//! to show. Every recording rule must return data for each of the three orgs, and
//! every dashboard query, the live wallboard's included, with its template variables
//! filled in within each org (and with "All" orgs), must return data; the bucket
//! abandon-rate alert must be pending or firing, per org, for exactly the queues that
//! org's simulated data says, and the live one for exactly the queues each org's rolling
//! window says.
//!
//! Debian's `prometheus` package provides both binaries. Outside CI the tests skip
//! without them, and say so on the terminal and in a count at the end of the run (see
//! `util::skipped`); under CI=true they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use genesys_exporter::cli::{DEMO_VOICE_QUALITY_REFRESH, demo_org};
use genesys_sim::{DEMO_FLOOR, DEMO_MEDIA_TYPES, SimulatedOrg, SurgeSpec, aggregate_with_surge};
use jiff::Timestamp;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use crate::util::{
    ci::{promtool, required_tool},
    dashboards::{dashboards, panels},
    expected::demo_request,
    files::{files_under, path, temp_dir, write_file},
    http::get,
    process::Process,
    samples::{Samples, parse, published_window, value},
    sim::{afternoon_sim, start_simulator},
    tls::{bcrypt_hash, https_client, make_pki},
    wait::{PATIENCE, pause, wait_for_metrics},
};

const PROMETHEUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");
const RULE_FILES: [&str; 2] = ["recording.rules.yml", "alerts.rules.yml"];

/// Values picked for template variables when they exist: the demo's troubled queue, and an
/// Edge with hardware metrics (a Cloud Media Edge has none).
const PREFERRED_VALUES: &[&str] = &[
    "Retention",
    "voice",
    "default",
    "genesys-exporter",
    "Edge HQ 1",
];

/// The `prometheus` binary, or `None` outside CI when it is not installed.
fn prometheus() -> Option<&'static str> {
    required_tool("prometheus", "--version", "apt-get install prometheus")
}

/// Runs promtool with `args` (and `stdin`), and fails the test with its output unless it
/// succeeds.
fn run_promtool(promtool: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{said}");
    said
}

#[test]
fn without_the_tools_these_tests_say_they_skipped_and_fail_under_ci() {
    // This test binary again, running one of these tests with nothing on PATH.
    let run = |ci: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "prometheus_e2e::promtool_accepts_the_shipped_config_and_rules_and_their_unit_tests_pass",
                "--test-threads=1",
            ])
            .env("PATH", "/nonexistent")
            .env("CI", ci)
            .output()
            .unwrap()
    };
    let outside = run("");
    let said = String::from_utf8_lossy(&outside.stderr);
    assert!(outside.status.success(), "{said}");
    assert!(
        said.contains("SKIPPED prometheus_e2e::promtool_accepts_the_shipped_config_and_rules_and_their_unit_tests_pass: no promtool on PATH (apt-get install prometheus)"),
        "{said}"
    );
    assert!(
        said.contains("SKIPPED 1 test(s), counted as passed above; under CI=true they would fail:"),
        "{said}"
    );
    let under = run("true");
    let said = String::from_utf8_lossy(&under.stdout);
    assert!(!under.status.success(), "{said}");
    assert!(
        said.contains(
            "promtool is missing under CI: .ci/run installs it (apt-get install prometheus)"
        ),
        "{said}"
    );
}

#[test]
fn promtool_accepts_the_shipped_config_and_rules_and_their_unit_tests_pass() {
    let Some(promtool) = promtool() else { return };
    let dir = Path::new(PROMETHEUS_DIR);
    let said = run_promtool(
        promtool,
        &[
            "check",
            "config",
            dir.join("prometheus.yml").to_str().unwrap(),
        ],
        None,
    );
    assert!(said.contains("2 rule files found"), "{said}");
    for file in RULE_FILES {
        run_promtool(
            promtool,
            &["check", "rules", dir.join(file).to_str().unwrap()],
            None,
        );
    }
    let test_files: Vec<String> = files_under("deploy/prometheus", &[".test.yml"])
        .iter()
        .map(|file| path(file).to_string_lossy().into_owned())
        .collect();
    assert!(test_files.len() >= 2, "{test_files:?}");
    let mut args = vec!["test", "rules"];
    args.extend(test_files.iter().map(String::as_str));
    let said = run_promtool(promtool, &args, None);
    assert_eq!(
        said.matches("SUCCESS").count(),
        test_files.len(),
        "each test file passes:\n{said}"
    );
}

fn yaml_file(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shipped prometheus.yml, changed only where a test must: scrape and evaluate every
/// 2 s, scrape `targets`, and load the shipped rules by absolute path; plus a job that
/// scrapes the `secured` exporter over HTTPS with basic auth, trusting the CA in
/// `ca_file`. The secured exporter is the org without `[[orgs]]`: its series have no org
/// label, beside the named orgs' series of the other job.
fn test_config(targets: &[&str], secured: &str, ca_file: &Path) -> String {
    let mut config = yaml_file(&Path::new(PROMETHEUS_DIR).join("prometheus.yml"));
    let global = &mut config["global"];
    global["scrape_interval"] = "2s".into();
    global["scrape_timeout"] = "1s".into();
    global["evaluation_interval"] = "2s".into();
    let rule_files: Vec<Yaml> = RULE_FILES
        .iter()
        .map(|f| format!("{PROMETHEUS_DIR}/{f}").into())
        .collect();
    config["rule_files"] = rule_files.into();
    let job = &mut config["scrape_configs"][0];
    assert_eq!(job["job_name"], "genesys-exporter");
    let targets: Vec<Yaml> = targets.iter().map(|t| (*t).into()).collect();
    let mut static_config = serde_yaml_ng::Mapping::new();
    static_config.insert("targets".into(), targets.into());
    job["static_configs"] = vec![Yaml::Mapping(static_config)].into();
    let secured_job: Yaml = serde_yaml_ng::from_str(&format!(
        r#"
job_name: {SECURED_JOB}
scheme: https
basic_auth: {{username: prometheus, password: {SECURED_PASSWORD}}}
tls_config: {{ca_file: "{}"}}
static_configs: [{{targets: ["{secured}"]}}]
"#,
        ca_file.display()
    ))
    .unwrap();
    config["scrape_configs"]
        .as_sequence_mut()
        .unwrap()
        .push(secured_job);
    serde_yaml_ng::to_string(&config).unwrap()
}

/// The job that scrapes an exporter secured by a web config file.
const SECURED_JOB: &str = "genesys-exporter-secured";
const SECURED_PASSWORD: &str = "scrape-s3cret";

/// A free port on 127.0.0.1 (free when this returns; Prometheus binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prometheus's HTTP API on 127.0.0.1.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Json {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Json = response.json().await.unwrap();
        assert!(
            status.is_success() && body["status"] == "success",
            "{path} {query:?}: {status} {body}"
        );
        body["data"].clone()
    }

    /// The number of series (or 1 for a scalar) an instant query returns.
    async fn count(&self, expr: &str) -> usize {
        let data = self.get("/api/v1/query", &[("query", expr)]).await;
        match data["resultType"].as_str() {
            Some("scalar") => 1,
            _ => data["result"].as_array().unwrap().len(),
        }
    }

    /// The number of series an instant query returns that belong to `org`: whose `org`
    /// label is `org` ("" for the org without one).
    async fn count_of(&self, expr: &str, org: &str) -> usize {
        let data = self.get("/api/v1/query", &[("query", expr)]).await;
        data["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|series| series["metric"]["org"].as_str().unwrap_or_default() == org)
            .count()
    }

    /// The values of `label` on the series that `selector` matches, as Grafana's
    /// `label_values(selector, label)` lists them.
    async fn label_values(&self, selector: Option<&str>, label: &str) -> Vec<String> {
        let path = format!("/api/v1/label/{label}/values");
        let query: Vec<(&str, &str)> = selector.iter().map(|s| ("match[]", *s)).collect();
        let data = self.get(&path, &query).await;
        data.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// The orgs with data in Prometheus: the demo's two named orgs, and the secured demo's
/// org without `[[orgs]]`, written "" (its series have no org label).
const ORGS: [&str; 3] = ["east", "west", ""];

/// `org` as a failure message names it.
fn org_name(org: &str) -> String {
    if org.is_empty() {
        "the org without [[orgs]] (no org label)".to_owned()
    } else {
        format!("org {org}")
    }
}

/// The simulator's data of `org`: what the demo serves it, at the demo's floor.
fn sim_org(org: &str) -> SimulatedOrg {
    if org.is_empty() {
        demo_org(6, DEMO_MEDIA_TYPES.map(String::from).to_vec())
    } else {
        SimulatedOrg::demo_named(org).with_floor(DEMO_FLOOR)
    }
}

/// The samples of `org` ("" for those without an org label), without their org label.
fn org_samples(samples: &Samples, org: &str) -> Samples {
    samples
        .iter()
        .filter(|((_, labels), _)| labels.get("org").map(String::as_str).unwrap_or_default() == org)
        .map(|((name, labels), value)| {
            let mut labels = labels.clone();
            labels.remove("org");
            ((name.clone(), labels), *value)
        })
        .collect()
}

/// A query to check, and where it comes from.
struct Check {
    origin: String,
    expr: String,
    /// When set, only the result series of this org count ("" for those without an org
    /// label); otherwise every series does.
    org: Option<&'static str>,
}

impl Check {
    /// Whether the query returns data (of its org, if it has one).
    async fn has_data(&self, api: &Api) -> bool {
        match self.org {
            Some(org) => api.count_of(&self.expr, org).await > 0,
            None => api.count(&self.expr).await > 0,
        }
    }
}

/// Every recording rule's expression and recorded name, each for every org of [`ORGS`]:
/// every rule keeps `org`, so each org's series must come out.
fn recording_rule_checks() -> Vec<Check> {
    let rules = yaml_file(&Path::new(PROMETHEUS_DIR).join("recording.rules.yml"));
    let mut checks = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let record = rule["record"].as_str().unwrap();
            for org in ORGS {
                let whose = org_name(org);
                checks.push(Check {
                    origin: format!("{whose}: recording rule {record}: expr"),
                    expr: rule["expr"].as_str().unwrap().to_owned(),
                    org: Some(org),
                });
                checks.push(Check {
                    origin: format!("{whose}: recording rule {record}: recorded series"),
                    expr: record.to_owned(),
                    org: Some(org),
                });
            }
        }
    }
    checks
}

/// `text` with each `$name` replaced by `values[name]`; an unknown variable fails.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let value = values
            .get(name)
            .unwrap_or_else(|| panic!("unknown template variable ${name} in {text}"));
        out.push_str(value);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// How to fill in variables that have an "All" option.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// "All" (`.*`), the dashboards' default.
    All,
    /// One real value, preferably the demo's Retention queue and voice.
    One,
}

/// The dashboard's template variables, resolved against Prometheus in order, as Grafana
/// does, with `$org` set to `org`: one org's name, "" for the org without an org label
/// (`org=~""` matches exactly the series without one), or [`ALL_ORGS`] for "All".
/// A variable without values (yet: some list a recording rule's series) is an error.
async fn resolve_variables(
    api: &Api,
    board: &Json,
    org: &str,
    fill: Fill,
) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for variable in board["templating"]["list"].as_array().unwrap() {
        let name = variable["name"].as_str().unwrap();
        if variable["type"] == "datasource" {
            continue;
        }
        assert_eq!(variable["type"], "query", "variable {name}");
        let definition = substitute(variable["query"].as_str().unwrap(), &values);
        let inner = definition
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {name}: not label_values(...): {definition}"));
        let (selector, label) = match inner.rsplit_once(',') {
            Some((selector, label)) => (Some(selector.trim()), label.trim()),
            None => (None, inner.trim()),
        };
        let mut found = api.label_values(selector, label).await;
        let all = variable["includeAll"] == true;
        if name == "job" && org != ALL_ORGS {
            // The job variable lists every job, not the org's: choose among those that
            // poll the org (the org without an org label is polled by the secured job;
            // the refused exporter's job fails its polls).
            let mut polling = Vec::new();
            for job in found {
                let up = format!("genesys_up{{org=~\"{org}\", job=\"{job}\"}} == 1");
                if api.count(&up).await > 0 {
                    polling.push(job);
                }
            }
            found = polling;
        }
        if name == "org" {
            // Grafana lists the named orgs; the org without an org label is matched by
            // `org=~""` (or by All, `.*`, which matches the missing label too).
            assert!(all, "variable org has no All option");
            assert!(
                org.is_empty() || org == ALL_ORGS || found.iter().any(|v| v == org),
                "variable org: {definition} does not list {org}: {found:?}"
            );
            let chosen = if org == ALL_ORGS {
                variable["allValue"].as_str().unwrap().to_owned()
            } else {
                org.to_owned()
            };
            values.insert(name.to_owned(), chosen);
            continue;
        }
        let chosen = if all && matches!(fill, Fill::All) {
            variable["allValue"].as_str().unwrap().to_owned()
        } else if let Some(preferred) = found
            .iter()
            .find(|v| PREFERRED_VALUES.contains(&v.as_str()))
        {
            preferred.clone()
        } else {
            match found.first() {
                Some(first) => first.clone(),
                None => {
                    return Err(format!(
                        "{}: variable {name}: {definition} has no values in Prometheus",
                        org_name(org)
                    ));
                }
            }
        };
        values.insert(name.to_owned(), chosen);
    }
    Ok(values)
}

/// `$org` as "All": every org, named or not.
const ALL_ORGS: &str = "All";

/// Every dashboard panel's queries, within each org of [`ORGS`] and with All orgs, with
/// the other variables filled in both ways.
async fn dashboard_checks(api: &Api) -> Result<Vec<Check>, String> {
    let mut checks = Vec::new();
    for (file, board) in dashboards() {
        for org in ORGS.into_iter().chain([ALL_ORGS]) {
            let whose = if org == ALL_ORGS {
                "all orgs".to_owned()
            } else {
                org_name(org)
            };
            for fill in [Fill::All, Fill::One] {
                let values = resolve_variables(api, &board, org, fill).await?;
                for panel in panels(&board) {
                    for target in panel["targets"].as_array().into_iter().flatten() {
                        let expr = target["expr"].as_str().unwrap();
                        checks.push(Check {
                            origin: format!(
                                "{whose}: {file}: panel {} {:?} query {} with {values:?}",
                                panel["id"],
                                panel["title"].as_str().unwrap(),
                                target["refId"].as_str().unwrap()
                            ),
                            expr: substitute(expr, &values),
                            org: None,
                        });
                    }
                }
            }
        }
    }
    Ok(checks)
}

/// The health dashboard's age of the last good poll, read for the demo's orgs at one
/// instant: each org's age at that instant, from Prometheus's own sample of the last
/// success, over the query's period, which the demo's configuration gives: 15 minutes for
/// `default`'s buckets, 5 for `live`'s window.
async fn age_of_the_last_good_poll_is_in_periods_of_each_query(api: &Api) {
    let (_, health) = dashboards()
        .into_iter()
        .find(|(file, _)| file == "genesys-exporter-health.json")
        .unwrap();
    let panel = panels(&health)
        .into_iter()
        .find(|panel| {
            panel["title"]
                .as_str()
                .unwrap()
                .starts_with("Age of the last good poll")
        })
        .unwrap();
    let expr = panel["targets"][0]["expr"].as_str().unwrap();
    // Prometheus's own now, not this process's: their clocks need not agree (under
    // libfaketime in CI they do not), and an instant before its first samples finds none.
    let now = api.get("/api/v1/query", &[("query", "time()")]).await;
    let at = now["result"][1].as_str().unwrap().to_owned();
    // The value of each series of `expr` at `at`, by org.
    let by_org = async |expr: &str| -> BTreeMap<String, f64> {
        let data = api
            .get("/api/v1/query", &[("query", expr), ("time", &at)])
            .await;
        data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let org = series["metric"]["org"].as_str().unwrap_or_default();
                let value = series["value"][1].as_str().unwrap().parse().unwrap();
                (org.to_owned(), value)
            })
            .filter(|(org, _)| !org.is_empty())
            .collect()
    };
    for (query, period) in [("default", 900.0), ("live", 300.0)] {
        let values = BTreeMap::from(
            [("org", ".*"), ("job", "genesys-exporter"), ("query", query)]
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        let ages = by_org(&substitute(expr, &values)).await;
        let last = by_org(&format!(
            "genesys_last_success_timestamp_seconds{{job=\"genesys-exporter\", query=\"{query}\"}}"
        ))
        .await;
        assert_eq!(
            ages.keys().collect::<Vec<_>>(),
            ["east", "west"],
            "{query}: {ages:?}"
        );
        eprintln!("{query}: the age of the last good poll, in periods: {ages:?}");
        for (org, age) in &ages {
            let expected = (at.parse::<f64>().unwrap() - last[org]) / period;
            assert!(
                (age - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "{query} of org {org}: {age} periods, not {expected}"
            );
        }
    }
}

/// The (queue ID, media type) pairs whose abandon rate an alert should flag in
/// `[start, end)` of `org`'s data, worked out from the simulator's own answer: more than 20% of at least
/// 10 offered. `granularity` is the bucket's, or `None` for a rolling window (asked for
/// without one, as the exporter asks: one data entry covering the window).
/// The abandon surge the demo plays: Sales's agents off queue since 14:00.
const DEMO_SURGE: &str = "Sales@2026-08-20T14:00:00Z";

fn demo_surge() -> genesys_sim::Surge {
    let spec: SurgeSpec = DEMO_SURGE.parse().expect("a surge");
    spec.starting(Timestamp::UNIX_EPOCH)
}

fn expected_abandon_alerts(
    org: &SimulatedOrg,
    start: Timestamp,
    end: Timestamp,
    granularity: Option<&str>,
) -> BTreeSet<(String, String)> {
    let mut request = demo_request(
        start,
        end,
        granularity.unwrap_or_default(),
        &["nOffered", "tAbandon"],
    );
    request.granularity = granularity.map(str::to_owned);
    let response = aggregate_with_surge(org, Some(&demo_surge()), &request).unwrap();
    let mut expected = BTreeSet::new();
    for group in &response.results {
        let count = |metric: &str| {
            group.data[0]
                .metrics
                .iter()
                .find(|m| m.metric == metric)
                .and_then(|m| m.stats.count)
                .unwrap_or(0.0)
        };
        let (offered, abandoned) = (count("nOffered"), count("tAbandon"));
        if offered >= 10.0 && abandoned / offered > 0.2 {
            expected.insert((
                group.group.get("queueId").cloned().unwrap_or_default(),
                group.group["mediaType"].clone(),
            ));
        }
    }
    expected
}

/// The rolling queries (those with a window) of the exporter whose `/metrics` is `samples`.
fn rolling_queries(samples: &Samples) -> Vec<String> {
    samples
        .keys()
        .filter(|(name, _)| name == "genesys_query_window_seconds")
        .filter_map(|(_, labels)| labels.get("query").cloned())
        .collect()
}

/// The rolling queries of the conversations (not the flows' or the actions'), which the
/// live abandon alert reads: those with conversation metrics.
fn rolling_conversation_queries(samples: &Samples) -> Vec<String> {
    rolling_queries(samples)
        .into_iter()
        .filter(|query| {
            samples.keys().any(|(name, labels)| {
                name == "genesys_conversation_offered" && labels.get("query") == Some(query)
            })
        })
        .collect()
}

/// The (org, query, queue ID, media type) tuples the live abandon alert should flag now
/// for `org`: the windows whose samples (`org`'s, without the org label) the demo
/// publishes now, by `org`'s simulated data.
fn expected_live_abandon_alerts(
    samples: &Samples,
    org: &str,
) -> BTreeSet<(String, String, String, String)> {
    let data = sim_org(org);
    let mut expected = BTreeSet::new();
    for query in rolling_conversation_queries(samples) {
        let at = |name| {
            let seconds = value(samples, name, &[("query", &query)]).expect(name);
            Timestamp::from_second(seconds as i64).unwrap()
        };
        let (start, end) = (
            at("genesys_interval_start_timestamp_seconds"),
            at("genesys_interval_end_timestamp_seconds"),
        );
        for (queue_id, media_type) in expected_abandon_alerts(&data, start, end, None) {
            expected.insert((org.to_owned(), query.clone(), queue_id, media_type));
        }
    }
    expected
}

/// Whether an org's samples (see [`org_samples`]) show every source of the demo polled:
/// its bucket queries, its rolling queries, the queue observations, the agent states, the
/// flow observations, the voice quality and the telephony (so that `promtool check
/// metrics` reads every gauge and histogram).
fn polled(samples: &Samples) -> bool {
    let rolling = rolling_queries(samples);
    let up = |query: &str| value(samples, "genesys_up", &[("query", query)]) == Some(1.0);
    [
        "default",
        "flows",
        "actions",
        "observations",
        "agents",
        "flow_observations",
        "voice_quality",
        "telephony",
    ]
    .into_iter()
    .all(up)
        && rolling.len() == 3
        && rolling.iter().all(|q| up(q))
}

/// The secured exporter's `/metrics` at `url` (https), read with its basic auth.
async fn secured_metrics(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .get(format!("{url}/metrics"))
        .basic_auth("prometheus", Some(SECURED_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/metrics: {e}"));
    assert!(response.status().is_success(), "{url}: {response:?}");
    response.text().await.unwrap()
}

/// The demo's arguments on a weekday afternoon whenever this runs, so that every queue has
/// traffic. Its first API request is answered 429, so that the retry and rate-limit
/// panels and rules have data too. Sales has been in an abandon surge (its agents off
/// queue) since 14:00, so that the live alerts have something to flag.
const DEMO_ARGS: [&str; 9] = [
    "--demo",
    "--demo-time",
    "2026-08-20T14:07:00Z",
    "--demo-surge",
    DEMO_SURGE,
    "--fault",
    "rate_limited,retry_after=0,requests=1",
    "--listen",
    "127.0.0.1:0",
];

#[tokio::test]
async fn every_rule_and_dashboard_query_returns_data_from_a_real_prometheus() {
    let Some(prometheus) = prometheus() else {
        return;
    };
    let Some(promtool) = promtool() else { return };
    let started = Instant::now();

    // The demo, with two simulated orgs, east and west, each on its own simulator.
    let mut args = DEMO_ARGS.to_vec();
    args.extend(["--demo-orgs", "east,west"]);
    let demo = Process::start(&args);

    // The same demo behind TLS and basic auth, as a web config file sets them up, without
    // [[orgs]]: the org without an org label, beside east and west.
    let pki = make_pki();
    let web_config = write_file(
        &pki.dir,
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prometheus: {}\n",
            pki.cert_file.display(),
            pki.key_file.display(),
            bcrypt_hash(SECURED_PASSWORD)
        ),
    );
    let mut args = DEMO_ARGS.to_vec();
    args.extend(["--web.config.file", web_config.to_str().unwrap()]);
    let secured = Process::start(&args);

    // An exporter that the simulator turns away: its failures feed the health panels.
    let sim = start_simulator(afternoon_sim()).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("GENESYS_REGION")
        .env("GENESYS_CLIENT_ID", "demo-client")
        .env("GENESYS_CLIENT_SECRET", "not-the-secret")
        .env("GENESYS_EXPORTER_API_URL", &sim.url)
        .env("GENESYS_EXPORTER_LOGIN_URL", &sim.url)
        .env("GENESYS_EXPORTER_RETRY_DELAY", "1s");
    let refused = Process::spawn(command);
    let refused_url = refused.metrics_url().await;

    // Every source of each org has been polled.
    let demo_url = demo.metrics_url().await;
    let samples = wait_for_metrics(&demo_url, |s| {
        ORGS[..2].iter().all(|org| polled(&org_samples(s, org)))
    })
    .await;
    let secured_url = secured
        .metrics_url()
        .await
        .replacen("http://", "https://", 1);
    let secured_target = secured_url.trim_start_matches("https://").to_owned();
    let https = https_client(&pki, false);
    let deadline = Instant::now() + PATIENCE;
    let secured_samples = loop {
        let samples = parse(&secured_metrics(&https, &secured_url).await);
        if polled(&org_samples(&samples, "")) {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "the secured demo never polled all its queries:\n{}",
            secured.log()
        );
        pause().await;
    };
    // Every org's samples, from the exporter that publishes it.
    let samples_of_org = |org: &str| {
        org_samples(
            if org.is_empty() {
                &secured_samples
            } else {
                &samples
            },
            org,
        )
    };

    let bodies = [
        get(&format!("{demo_url}/metrics")).await.body,
        get(&format!("{refused_url}/metrics")).await.body,
        secured_metrics(&https, &secured_url).await,
    ];
    for (body, url) in bodies.iter().zip([&demo_url, &refused_url, &secured_url]) {
        let said = run_promtool(promtool, &["check", "metrics"], Some(body));
        assert_eq!(said.trim(), "", "promtool check metrics on {url}");
    }

    let dir = temp_dir();
    let targets = [
        demo_url.trim_start_matches("http://"),
        refused_url.trim_start_matches("http://"),
    ];
    let config_path = write_file(
        &dir,
        "prometheus.yml",
        &test_config(&targets, &secured_target, &pki.ca_file),
    );
    run_promtool(
        promtool,
        &["check", "config", config_path.to_str().unwrap()],
        None,
    );
    let port = free_port();
    let mut command = Command::new(prometheus);
    command.args([
        format!("--config.file={}", config_path.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ]);
    let server = Process::spawn(command);
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    let ready = async {
        for _ in 0..150 {
            if let Ok(response) = api.client.get(format!("{}/-/ready", api.base)).send().await
                && response.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(ready.await, "Prometheus never got ready:\n{}", server.log());

    // Rules need a few scrapes and evaluations, and increase() two samples: keep asking
    // until every query has data, for at most 40 s (and a voice quality refresh, below). Template variables need both targets
    // scraped first.
    let deadline = Instant::now() + Duration::from_secs(40);
    while api.count("up{job=\"genesys-exporter\"} == 1").await < 2 {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped both exporters:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Prometheus's own scraper over HTTPS with basic auth: the scrape works and reads
    // samples, the org without an org label's among them.
    let secured_up = format!("up{{job=\"{SECURED_JOB}\"}} == 1");
    let secured_polled = format!("genesys_up{{job=\"{SECURED_JOB}\", org=\"\"}} == 1");
    while api.count(&secured_up).await < 1 || api.count(&secured_polled).await < 1 {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the exporter behind TLS and basic auth:\n{}\n{}",
            server.log(),
            secured.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The voice quality's poor-call ratios divide by `increase(genesys_voice_mos_count[15m])
    // > 0`: a count that grew while Prometheus watched. The demos count their first calls
    // at start, before Prometheus runs, so those are the series' first samples and
    // increase() sees them as 0; the count grows at the second read, a refresh after the
    // first. Nothing sooner can make it grow (increase() needs two samples that differ;
    // this Prometheus does not take a counter's creation as a 0).
    let deadline = deadline + DEMO_VOICE_QUALITY_REFRESH;
    let checks = loop {
        let mut checks = recording_rule_checks();
        // A variable without values is a dashboard that shows nothing: every query empty.
        let dashboards = dashboard_checks(&api).await;
        let unresolved = dashboards.as_ref().err().cloned();
        checks.extend(dashboards.unwrap_or_default());
        let mut empty = Vec::new();
        for check in &checks {
            if !check.has_data(&api).await {
                empty.push(check);
            }
        }
        if empty.is_empty() && unresolved.is_none() {
            break checks.len();
        }
        if Instant::now() > deadline {
            let list: Vec<String> = unresolved
                .into_iter()
                .chain(
                    empty
                        .iter()
                        .map(|c| format!("  {}\n    {}", c.origin, c.expr)),
                )
                .collect();
            panic!(
                "{} of {} queries returned no data from Prometheus:\n{}\nPrometheus log:\n{}",
                list.len(),
                checks.len(),
                list.join("\n"),
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!("{checks} queries checked, each returned data");
    assert!(checks > 400, "only {checks} queries found");
    age_of_the_last_good_poll_is_in_periods_of_each_query(&api).await;

    // The abandon-rate alert: pending (it waits 20 minutes to fire), in each org, for
    // exactly the queues that org's own simulated data says abandon too much.
    let mut expected = BTreeSet::new();
    for org in ORGS {
        let (start, end) = published_window(&samples_of_org(org));
        let flagged = expected_abandon_alerts(&sim_org(org), start, end, Some("PT15M"));
        eprintln!("{}: abandon alerts expected for {flagged:?}", org_name(org));
        for (queue_id, media_type) in flagged {
            expected.insert((org.to_owned(), queue_id, media_type));
        }
    }
    let retention = SimulatedOrg::demo()
        .queues
        .into_iter()
        .find(|q| q.name == "Retention")
        .unwrap()
        .id;
    assert!(
        expected.contains(&(String::new(), retention, "voice".to_owned())),
        "the demo's Retention queue abandons too many calls: {expected:?}"
    );
    // Its own wait, whatever the checks above took of theirs.
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let data = api.get("/api/v1/alerts", &[]).await;
        let alerts = data["alerts"].as_array().unwrap().clone();
        let abandon: BTreeSet<(String, String, String)> = alerts
            .iter()
            .filter(|a| a["labels"]["alertname"] == "GenesysQueueAbandonRateHigh")
            .map(|a| {
                let label = |l: &str| a["labels"][l].as_str().unwrap_or_default().to_owned();
                (label("org"), label("queue_id"), label("media_type"))
            })
            .collect();
        // The refused exporter's GenesysPollFailing is waited for too: it goes pending only
        // once Prometheus has scraped its genesys_up 0 and evaluated the rule.
        let poll_failing = alerts
            .iter()
            .any(|a| a["labels"]["alertname"] == "GenesysPollFailing");
        if (abandon == expected && poll_failing) || Instant::now() > deadline {
            assert_eq!(
                abandon, expected,
                "abandon alerts (org, queue ID, media type): {alerts:#?}"
            );
            break alerts;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for alert in &alerts {
        let labels = &alert["labels"];
        if labels["alertname"] == "GenesysQueueAbandonRateHigh" {
            // The bucket query's, never the rolling query's.
            assert_eq!(labels["query"], "default", "{alert}");
            let state = alert["state"].as_str().unwrap();
            assert!(state == "pending" || state == "firing", "{alert}");
            // Named as its org names the queue.
            let org = sim_org(labels["org"].as_str().unwrap_or_default());
            let queue = org
                .queues
                .iter()
                .find(|q| labels["queue_id"] == q.id.as_str())
                .unwrap_or_else(|| panic!("a queue of the alert's org: {alert}"));
            if let Some(name) = labels["queue"].as_str() {
                assert_eq!(name, queue.name, "{alert}");
            }
        }
    }
    // The refused exporter's polls are failing (its bucket query's and its observations');
    // the demos' are not.
    let poll_failing: BTreeSet<&str> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "GenesysPollFailing")
        .map(|a| a["labels"]["instance"].as_str().unwrap())
        .collect();
    assert_eq!(poll_failing, BTreeSet::from([targets[1]]), "{alerts:#?}");

    // The live abandon-rate alert: pending or firing, in each org, for exactly the queues
    // whose rolling window, as the demos publish it now, abandons more than 20% of at
    // least 10 offered, by that org's data. The windows move every minute, so they are
    // read again each time round, and a refresh in between gets its own 20 s to show in
    // Prometheus.
    let mut deadline = Instant::now() + Duration::from_secs(20);
    let mut last_expected = BTreeSet::new();
    loop {
        let demo_now = parse(&get(&format!("{demo_url}/metrics")).await.body);
        let secured_now = parse(&secured_metrics(&https, &secured_url).await);
        let mut expected = BTreeSet::new();
        for org in ORGS {
            let now = if org.is_empty() {
                &secured_now
            } else {
                &demo_now
            };
            let flagged = expected_live_abandon_alerts(&org_samples(now, org), org);
            assert!(
                !flagged.is_empty(),
                "{}: no queue abandons more than 20% of at least 10 offered in the demo's \
                 rolling window now, so the live alert has nothing to show: choose another \
                 --demo-time",
                org_name(org)
            );
            expected.extend(flagged);
        }
        if expected != last_expected {
            deadline = Instant::now() + Duration::from_secs(20);
            last_expected = expected.clone();
        }
        let data = api.get("/api/v1/alerts", &[]).await;
        let alerts = data["alerts"].as_array().unwrap().clone();
        let live: BTreeSet<(String, String, String, String)> = alerts
            .iter()
            .filter(|a| a["labels"]["alertname"] == "GenesysQueueAbandonRateHighLive")
            .map(|a| {
                let label = |l: &str| a["labels"][l].as_str().unwrap_or_default().to_owned();
                (
                    label("org"),
                    label("query"),
                    label("queue_id"),
                    label("media_type"),
                )
            })
            .collect();
        if live == expected || Instant::now() > deadline {
            assert_eq!(
                live, expected,
                "live abandon alerts (org, query, queue ID, media type): {alerts:#?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "end-to-end check done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
