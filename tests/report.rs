//! `genesys-exporter report` against the simulator: values, chunk edges, job paging and the
//! fallback from the synchronous query.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_sim::{SimulatedOrg, SimulatorConfig, aggregate};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tempfile::TempDir;

use crate::util::{
    expected::demo_request,
    files::{temp_dir, write_file},
    process::{Process, sim_config},
    sim::{Sim, afternoon_sim, start_simulator},
};

/// (interval_start, queue_id, media_type) → column → value.
type Rows = BTreeMap<(String, String, String), BTreeMap<String, Option<f64>>>;

/// What each hourly row should hold, asking the simulator's data function one hour at a
/// time, so that no chunking is involved.
fn expected_rows(org: &SimulatedOrg, from: &str, hours: i64) -> Rows {
    let from: Timestamp = from.parse().unwrap();
    let mut rows = Rows::new();
    let mut groups = std::collections::BTreeSet::new();
    let mut by_hour = Vec::new();
    for hour in 0..hours {
        let start = from + SignedDuration::from_hours(hour);
        let end = start + SignedDuration::from_hours(1);
        let response = aggregate(
            org,
            &demo_request(start, end, "PT1H", &["nOffered", "tHandle"]),
        )
        .unwrap();
        for group in &response.results {
            let key = (
                group.group.get("queueId").cloned().unwrap_or_default(),
                group.group.get("mediaType").cloned().unwrap_or_default(),
            );
            groups.insert(key);
        }
        by_hour.push((
            start.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
            response,
        ));
    }
    for (start, response) in by_hour {
        for (queue_id, media_type) in &groups {
            let data = response.results.iter().find(|g| {
                g.group.get("queueId").cloned().unwrap_or_default() == *queue_id
                    && g.group.get("mediaType").cloned().unwrap_or_default() == *media_type
            });
            let metric = |name: &str| {
                data.and_then(|g| g.data.first())
                    .and_then(|d| d.metrics.iter().find(|m| m.metric == name))
                    .map(|m| m.stats.clone())
            };
            let offered = metric("nOffered");
            let handle = metric("tHandle");
            let columns = BTreeMap::from([
                ("offered".to_string(), offered.and_then(|s| s.count)),
                (
                    "handle_segments".to_string(),
                    handle.as_ref().and_then(|s| s.count),
                ),
                (
                    "handle_seconds".to_string(),
                    handle.as_ref().and_then(|s| s.sum).map(|ms| ms / 1000.0),
                ),
                (
                    "handle_seconds_avg".to_string(),
                    handle
                        .as_ref()
                        .and_then(|s| Some(s.sum? / 1000.0 / s.count?)),
                ),
                (
                    "handle_seconds_max".to_string(),
                    handle.as_ref().and_then(|s| s.max).map(|ms| ms / 1000.0),
                ),
                (
                    "handle_seconds_min".to_string(),
                    handle.as_ref().and_then(|s| s.min).map(|ms| ms / 1000.0),
                ),
            ]);
            rows.insert(
                (start.clone(), queue_id.clone(), media_type.clone()),
                columns,
            );
        }
    }
    rows
}

/// `config.toml` in `dir`: the simulator's credentials and address, and `extra`.
fn config_file(dir: &TempDir, sim: &Sim, extra: &str) -> std::path::PathBuf {
    let extra = format!("job_poll_interval = \"50ms\"\n{extra}");
    write_file(dir, "config.toml", &sim_config(sim, &extra))
}

/// Runs `report` to completion and returns its exit code and log.
async fn run_report(args: &[&str]) -> (Option<i32>, String) {
    let mut process = Process::start(&[&["report"], args].concat());
    for _ in 0..600 {
        if let Some(status) = process.child.try_wait().unwrap() {
            return (status.code(), process.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("report still running after 30 s: {}", process.log());
}

const RANGE: [&str; 4] = [
    "--from",
    "2026-08-17T00:00:00Z",
    "--to",
    "2026-08-20T00:00:00Z",
];
const QUERY: [&str; 6] = [
    "--granularity",
    "PT1H",
    "--group-by",
    "queueId,mediaType",
    "--metrics",
    "nOffered,tHandle",
];

fn rows_from_json(text: &str) -> Rows {
    let rows: Vec<BTreeMap<String, Value>> = serde_json::from_str(text).unwrap();
    let mut parsed = Rows::new();
    for row in rows {
        let text = |key: &str| row[key].as_str().unwrap_or_default().to_string();
        let key = (text("interval_start"), text("queue_id"), text("media_type"));
        let columns = row
            .iter()
            .filter(|(k, _)| {
                ![
                    "interval_start",
                    "interval_end",
                    "queue_id",
                    "media_type",
                    "queue",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.as_f64()))
            .collect();
        assert!(
            parsed.insert(key.clone(), columns).is_none(),
            "row {key:?} twice"
        );
    }
    parsed
}

fn rows_from_csv(text: &str) -> Rows {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let mut parsed = Rows::new();
    for record in reader.records() {
        let record = record.unwrap();
        let cell = |name: &str| record[headers.iter().position(|h| h == name).unwrap()].to_string();
        let key = (cell("interval_start"), cell("queue_id"), cell("media_type"));
        let columns = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| {
                ![
                    "interval_start",
                    "interval_end",
                    "queue_id",
                    "media_type",
                    "queue",
                ]
                .contains(h)
            })
            .map(|(h, v)| (h.to_string(), (!v.is_empty()).then(|| v.parse().unwrap())))
            .collect();
        assert!(
            parsed.insert(key.clone(), columns).is_none(),
            "row {key:?} twice"
        );
    }
    parsed
}

fn assert_rows_equal(got: &Rows, want: &Rows) {
    assert_eq!(got.len(), want.len(), "row count");
    for (key, columns) in want {
        let row = got
            .get(key)
            .unwrap_or_else(|| panic!("missing row {key:?}"));
        for (column, value) in columns {
            let found = row
                .get(column)
                .unwrap_or_else(|| panic!("no column {column}"));
            match (found, value) {
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{key:?} {column}: {a} != {b}"
                ),
                (a, b) => assert_eq!(a, b, "{key:?} {column}"),
            }
        }
    }
}

#[tokio::test]
async fn a_three_day_report_in_one_day_chunks_equals_the_simulators_data() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let config = config_file(&dir, &sim, "report_chunk_days = 1\n");
    let expected = expected_rows(&SimulatedOrg::demo(), "2026-08-17T00:00:00Z", 72);

    let json_path = dir.path().join("report.json");
    let csv_path = dir.path().join("report.csv");
    for (format, path) in [("json", &json_path), ("csv", &csv_path)] {
        let args = [
            &RANGE[..],
            &QUERY[..],
            &[
                "--config",
                config.to_str().unwrap(),
                "--format",
                format,
                "--output",
                path.to_str().unwrap(),
            ],
        ]
        .concat();
        let (code, log) = run_report(&args).await;
        assert_eq!(code, Some(0), "{log}");
    }
    let json = std::fs::read_to_string(&json_path).unwrap();
    let csv = std::fs::read_to_string(&csv_path).unwrap();

    // 72 hours of every group, three requests (one a day) per format, plus queue names.
    assert_rows_equal(&rows_from_json(&json), &expected);
    assert_rows_equal(&rows_from_csv(&csv), &expected);
    assert_eq!(sim.simulator.requests().aggregates, 6);
    // Queue names are resolved into their own column.
    assert!(json.contains("\"queue\": \"Retention\""));
}

#[tokio::test]
async fn a_job_is_followed_through_all_its_pages() {
    let sim = start_simulator(SimulatorConfig {
        job_page_size: 4,
        job_pending_checks: 2,
        ..afternoon_sim()
    })
    .await;
    let dir = temp_dir();
    let config = config_file(&dir, &sim, "");
    let args = [
        &[
            "--from",
            "2026-08-17T00:00:00Z",
            "--to",
            "2026-08-17T06:00:00Z",
        ][..],
        &QUERY[..],
        &[
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            "--async",
        ],
    ]
    .concat();
    let (code, log) = run_report(&args).await;
    assert_eq!(code, Some(0), "{log}");

    let expected = expected_rows(&SimulatedOrg::demo(), "2026-08-17T00:00:00Z", 6);
    let groups = expected
        .keys()
        .map(|(_, q, m)| (q, m))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let pages = groups.div_ceil(4);
    assert!(pages >= 3, "the test wants several pages, got {pages}");
    let counts = sim.simulator.requests();
    // One submission, three looks at the state (two PENDING, one FULFILLED), every page.
    assert_eq!(counts.jobs as usize, 1 + 3 + pages);
    assert_eq!(counts.aggregates, 0);
}

#[tokio::test]
async fn job_output_equals_the_synchronous_output() {
    let sim = start_simulator(SimulatorConfig {
        job_page_size: 5,
        ..afternoon_sim()
    })
    .await;
    let dir = temp_dir();
    let config = config_file(&dir, &sim, "");
    let base = [
        &[
            "--from",
            "2026-08-18T09:00:00Z",
            "--to",
            "2026-08-18T12:00:00Z",
        ][..],
        &QUERY[..],
        &["--config", config.to_str().unwrap(), "--format", "csv"],
    ]
    .concat();
    let sync_path = dir.path().join("sync.csv");
    let job_path = dir.path().join("job.csv");
    let (code, log) =
        run_report(&[&base[..], &["--output", sync_path.to_str().unwrap()]].concat()).await;
    assert_eq!(code, Some(0), "{log}");
    let (code, log) = run_report(
        &[
            &base[..],
            &["--async", "--output", job_path.to_str().unwrap()],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, Some(0), "{log}");
    let sync = std::fs::read_to_string(&sync_path).unwrap();
    let job = std::fs::read_to_string(&job_path).unwrap();
    assert_eq!(sync, job);
    assert_rows_equal(
        &rows_from_csv(&sync),
        &expected_rows(&SimulatedOrg::demo(), "2026-08-18T09:00:00Z", 3),
    );
}

#[tokio::test]
async fn a_too_large_answer_falls_back_to_a_job_by_itself() {
    let sim = start_simulator(SimulatorConfig {
        sync_result_limit: Some(10),
        job_page_size: 7,
        ..afternoon_sim()
    })
    .await;
    let dir = temp_dir();
    let config = config_file(&dir, &sim, "");
    let path = dir.path().join("fallback.json");
    let args = [
        &[
            "--from",
            "2026-08-19T10:00:00Z",
            "--to",
            "2026-08-19T14:00:00Z",
        ][..],
        &QUERY[..],
        &[
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            "--output",
            path.to_str().unwrap(),
        ],
    ]
    .concat();
    let (code, log) = run_report(&args).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("too large for the synchronous query; running it as a job"),
        "{log}"
    );
    let json = std::fs::read_to_string(&path).unwrap();
    assert_rows_equal(
        &rows_from_json(&json),
        &expected_rows(&SimulatedOrg::demo(), "2026-08-19T10:00:00Z", 4),
    );
    let counts = sim.simulator.requests();
    assert_eq!(counts.aggregates, 1, "one refused synchronous query");
    assert!(counts.jobs > 3, "then the job: {counts:?}");
}

#[tokio::test]
async fn a_failed_report_exits_non_zero_in_one_line_and_leaves_no_file() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let config = write_file(
        &dir,
        "config.toml",
        &format!(
            "client_id = \"demo-client\"\nclient_secret = \"wrong\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n",
            url = sim.url
        ),
    );
    // The report's own directory, so that anything it leaves behind shows.
    let output = temp_dir();
    let path = output.path().join("none.csv");
    let args = [
        &RANGE[..],
        &[
            "--config",
            config.to_str().unwrap(),
            "--format",
            "csv",
            "--output",
            path.to_str().unwrap(),
        ],
    ]
    .concat();
    let (code, log) = run_report(&args).await;
    assert_eq!(code, Some(1), "{log}");
    let reason: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("genesys-exporter: "))
        .collect();
    assert_eq!(reason.len(), 1, "{log}");
    assert!(reason[0].contains("invalid_client"), "{log}");
    assert!(!path.exists(), "no partial file");
    let leftovers: Vec<_> = std::fs::read_dir(output.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[tokio::test]
async fn a_range_off_the_bucket_boundaries_is_refused_with_the_nearest_ones() {
    let (code, log) = run_report(&[
        "--demo",
        "--from",
        "2026-08-17T00:07:00Z",
        "--to",
        "2026-08-17T01:00:00Z",
    ])
    .await;
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("--from 2026-08-17T00:07:00Z is not on a PT15M bucket boundary in UTC; use 2026-08-17T00:00:00Z or 2026-08-17T00:15:00Z"), "{log}");
}

#[tokio::test]
async fn a_flows_report_counts_the_simulators_entries_per_flow_and_hour() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let config = config_file(&dir, &sim, "");
    let path = dir.path().join("flows.json");
    let (code, log) = run_report(&[
        "--from",
        "2026-08-20T12:00:00Z",
        "--to",
        "2026-08-20T14:00:00Z",
        "--source",
        "flows",
        "--granularity",
        "PT1H",
        "--group-by",
        "flowId",
        "--metrics",
        "nFlow",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, Some(0), "{log}");
    let rows: Vec<BTreeMap<String, Value>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let got: BTreeMap<(String, String), f64> = rows
        .iter()
        .map(|row| {
            let key = (
                row["interval_start"].as_str().unwrap().to_string(),
                row["flow_id"].as_str().unwrap().to_string(),
            );
            (key, row["flow"].as_f64().unwrap())
        })
        .collect();
    // The truth: the simulator's flow records of each hour, counted per flow.
    let mut want: BTreeMap<(String, String), f64> = BTreeMap::new();
    for hour in [12, 13] {
        let start: Timestamp = format!("2026-08-20T{hour}:00:00Z").parse().unwrap();
        let end = start + SignedDuration::from_hours(1);
        sim.simulator.flow_truth(|org, architect, surges| {
            for record in genesys_sim::flow_records(org, architect, surges, start, end) {
                let key = (
                    format!("2026-08-20T{hour}:00:00.000Z"),
                    record.flow.id.clone(),
                );
                *want.entry(key).or_default() += 1.0;
            }
        });
    }
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(got, want);
    assert_eq!(sim.simulator.requests().flow_aggregates, 1);
    assert_eq!(sim.simulator.requests().aggregates, 0);
}
