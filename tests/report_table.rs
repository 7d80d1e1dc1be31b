//! `genesys-exporter report`'s table in a terminal: within 120 characters, each figure the
//! simulator's rounded to its unit, other columns on request; and a reader that goes away
//! (`| head`, `2>&1 | head`, `2>&-`) ends the command quietly with exit 0.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Instant;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_sim::{SimulatedOrg, aggregate};
use genesys_wire::Stats;
use jiff::{SignedDuration, Timestamp};
use tempfile::TempDir;

use crate::util::{
    expected::demo_request,
    files::{temp_dir, write_file},
    process::sim_config,
    sim::{Sim, afternoon_sim, start_simulator},
    wait::{PATIENCE, pause},
};

const FROM: &str = "2026-08-18T09:00:00Z";

/// `report` of the demo org's default metrics by queue and media type, in hourly buckets
/// for `hours` from [`FROM`], then `extra`; its configuration file in `dir`.
fn report(sim: &Sim, dir: &TempDir, hours: i64, extra: &[&str]) -> Command {
    let config = write_file(dir, "config.toml", &sim_config(sim, ""));
    let to = FROM.parse::<Timestamp>().unwrap() + SignedDuration::from_hours(hours);
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command
        .args(["report", "--from", FROM, "--to", &to.to_string()])
        .args(["--granularity", "PT1H", "--group-by", "queueId,mediaType"])
        .args(["--config", config.to_str().unwrap()])
        .args(extra)
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_REGION")
        .env("RUST_LOG", "info");
    command
}

/// Runs `command` to its end off the runtime (the simulator serves on it meanwhile).
async fn output_of(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Waits for `child` to exit, for at most [`PATIENCE`].
async fn exit_of(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}"
        );
        pause().await;
    }
}

/// Reads one line from `pipe` off the runtime, then closes it.
async fn read_one_line_and_close(pipe: impl Read + Send + 'static) -> String {
    tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(pipe).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap()
}

/// (bucket start to the minute, media type, queue name) → column → cell as the table
/// should show it: the simulator's own figures, asked one hour at a time, counts whole and
/// the service level to three decimals. Every group seen in the range has a row in every
/// hour, blank where it had no traffic.
type Cells = BTreeMap<(String, String, String), BTreeMap<String, String>>;

/// A column of the table, the metric it shows, and how the table shows that metric's stats.
type Shown = (&'static str, &'static str, fn(&Stats) -> String);

fn expected_cells(hours: i64, columns: &[Shown]) -> Cells {
    let org = SimulatedOrg::demo();
    let queue_name = |id: &str| {
        org.queues
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.name.clone())
            .unwrap_or_default()
    };
    let from: Timestamp = FROM.parse().unwrap();
    let answers: Vec<(Timestamp, _)> = (0..hours)
        .map(|hour| {
            let start = from + SignedDuration::from_hours(hour);
            let end = start + SignedDuration::from_hours(1);
            let request = demo_request(start, end, "PT1H", DEFAULT_METRICS);
            (start, aggregate(&org, &request).unwrap())
        })
        .collect();
    let groups: std::collections::BTreeSet<(String, String)> = answers
        .iter()
        .flat_map(|(_, answer)| &answer.results)
        .map(|g| {
            let dimension = |name: &str| g.group.get(name).cloned().unwrap_or_default();
            (dimension("queueId"), dimension("mediaType"))
        })
        .collect();
    let mut cells = Cells::new();
    for (start, answer) in &answers {
        for (queue_id, media_type) in &groups {
            let data = answer.results.iter().find(|g| {
                g.group.get("queueId").map_or("", String::as_str) == queue_id
                    && g.group.get("mediaType").map_or("", String::as_str) == media_type
            });
            let row = columns
                .iter()
                .map(|(column, metric, shown)| {
                    let stats = data
                        .and_then(|g| g.data.first())
                        .and_then(|d| d.metrics.iter().find(|m| m.metric == *metric));
                    (
                        column.to_string(),
                        stats.map(|m| shown(&m.stats)).unwrap_or_default(),
                    )
                })
                .collect();
            let key = (
                start.strftime("%Y-%m-%dT%H:%MZ").to_string(),
                media_type.clone(),
                queue_name(queue_id),
            );
            cells.insert(key, row);
        }
    }
    cells
}

/// The table's rows keyed as [`expected_cells`], each `columns` cell as shown. A text
/// cell runs from its header's start to two spaces; a number ends where its header ends.
fn table_cells(table: &str, columns: &[&str]) -> Cells {
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    let span = |name: &str| {
        let start = header
            .split_whitespace()
            .scan(0, |from, word| {
                let at = *from + header[*from..].find(word).unwrap();
                *from = at + word.len();
                Some((word, at))
            })
            .find(|(word, _)| *word == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
            .1;
        (start, start + name.len())
    };
    let text = |line: &str, name: &str| {
        let rest = line.get(span(name).0..).unwrap_or_default();
        rest.split("  ")
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let number = |line: &str, name: &str| match line.get(..span(name).1) {
        Some(upto) => upto.rsplit(' ').next().unwrap_or_default().to_string(),
        // The line ends before it: blank (a line's trailing blanks are cut).
        None => String::new(),
    };
    let mut cells = Cells::new();
    for line in lines {
        let key = (
            text(line, "interval_start"),
            text(line, "media_type"),
            text(line, "queue"),
        );
        let row = columns
            .iter()
            .map(|name| (name.to_string(), number(line, name)))
            .collect();
        assert!(
            cells.insert(key.clone(), row).is_none(),
            "row {key:?} twice"
        );
    }
    cells
}

fn whole(stats: &Stats) -> String {
    format!("{:.0}", stats.count.unwrap())
}

fn header_of(table: &str) -> Vec<&str> {
    table.lines().next().unwrap().split_whitespace().collect()
}

#[tokio::test]
async fn the_table_fits_120_characters_and_shows_the_main_figures_rounded() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let output = output_of(report(&sim, &dir, 3, &[])).await;
    let (table, log) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert!(output.status.success(), "{log}");

    let widest = table.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 120, "a line of {widest} characters:\n{table}");
    // The queue's name stands for its ID; then the main columns while they fit.
    assert_eq!(
        header_of(&table),
        [
            "interval_start",
            "media_type",
            "queue",
            "offered",
            "answered_segments",
            "abandon_segments",
            "service_level_ratio",
        ]
    );
    let ratio = |stats: &Stats| format!("{:.3}", stats.ratio.unwrap());
    let columns: [Shown; 4] = [
        ("offered", "nOffered", whole),
        ("answered_segments", "tAnswered", whole),
        ("abandon_segments", "tAbandon", whole),
        ("service_level_ratio", "oServiceLevel", ratio),
    ];
    let names = columns.map(|(name, _, _)| name);
    assert_eq!(table_cells(&table, &names), expected_cells(3, &columns));
    // 5 key columns (start, end, queue ID, media type, name) and the 14 default metrics:
    // 6 counts, 7 timers of 5 columns (count, total, average, max, min), a ratio of 4.
    assert!(
        log.contains(
            "7 of 50 columns shown to fit 120 characters: --wide shows all, --columns NAME,... chooses"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn columns_chooses_any_columns_and_wide_shows_every_one() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let chosen = [
        "interval_start",
        "media_type",
        "queue",
        "handle_seconds_avg",
    ];
    let output = output_of(report(&sim, &dir, 2, &["--columns", &chosen.join(",")])).await;
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert_eq!(header_of(&table), chosen);
    // An average, in seconds to one decimal: total milliseconds / count / 1000.
    let average =
        |stats: &Stats| format!("{:.1}", stats.sum.unwrap() / stats.count.unwrap() / 1000.0);
    let columns: [Shown; 1] = [("handle_seconds_avg", "tHandle", average)];
    assert_eq!(
        table_cells(&table, &["handle_seconds_avg"]),
        expected_cells(2, &columns)
    );
    assert!(
        !String::from_utf8(output.stderr)
            .unwrap()
            .contains("columns shown")
    );

    let output = output_of(report(&sim, &dir, 2, &["--wide"])).await;
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert_eq!(header_of(&table).len(), 50);

    let output = output_of(report(&sim, &dir, 2, &["--columns", "queue,handle_avg"])).await;
    assert_eq!(output.status.code(), Some(2));
    let log = String::from_utf8(output.stderr).unwrap();
    assert!(
        log.contains("--columns handle_avg: this report has no such column; it has interval_start, interval_end, queue_id, media_type, queue, offered,"),
        "{log}"
    );
}

/// Three days of every column as JSON: far more than any pipe holds (1 MiB at most on
/// Linux), so that the writer is still writing when its reader goes away.
const LONG: (i64, [&str; 2]) = (72, ["--format", "json"]);

#[tokio::test]
async fn a_reader_that_stops_after_one_line_ends_the_report_quietly() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let mut child = report(&sim, &dir, LONG.0, &LONG.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = read_one_line_and_close(child.stdout.take().unwrap()).await;
    assert_eq!(first, "[\n");
    let status = exit_of(&mut child).await;
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("genesys-exporter:"), "no error line: {log}");
    assert!(!log.contains("panic"), "{log}");
}

#[tokio::test]
async fn one_pipe_for_stdout_and_stderr_closed_after_one_line_ends_it_quietly() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    // `report … 2>&1 | head -1`: the log's first line is the one read.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = report(&sim, &dir, LONG.0, &LONG.1)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // The writing ends went with the command: only the child holds them now.
    read_one_line_and_close(reader).await;
    let status = exit_of(&mut child).await;
    // `None` would be a signal: SIGABRT, once a panic on the closed stderr aborted.
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test]
async fn a_closed_stderr_loses_the_log_and_the_note_but_not_the_report() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let closed = {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let mut command = report(&sim, &dir, LONG.0, &LONG.1);
    command.stderr(closed);
    let output = output_of(command).await;
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stdout.len() > 1 << 20,
        "{} bytes",
        output.stdout.len()
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), expected_cells(72, &[]).len());

    // An error has nowhere to go either; the exit code still says what happened.
    let mut command = report(&sim, &dir, 1, &[]);
    let config = sim_config(&sim, "retry_delay = \"soon\"\n");
    write_file(&dir, "config.toml", &config);
    command.stderr({
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    });
    assert_eq!(output_of(command).await.status.code(), Some(2));
}
