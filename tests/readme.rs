//! The README's metric tables say what the code does.

use genesys_exporter::exposition::{Qualifier, gauge_names, observation_gauge};
use genesys_exporter::genesys::catalogue::metric_kind;
use genesys_exporter::genesys::wire::{Endpoint, OBSERVATION_METRICS};
use genesys_exporter::metrics::Metrics;
use genesys_exporter::schedule::Interval;

const README: &str = include_str!("../README.md");

/// The rows of the README table whose header starts with `header`.
fn table_rows(header: &str) -> Vec<Vec<String>> {
    crate::util::table_rows(README, header)
}

/// The `code` spans of a cell.
fn names(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_gauge_in_the_common_metrics_table_is_what_the_code_names_it() {
    let rows = table_rows("| Genesys metric | gauges |");
    assert!(rows.len() >= 12);
    for row in rows {
        let metric = &row[0];
        assert!(
            metric_kind(metric).is_some(),
            "{metric} is not in the catalogue"
        );
        let produced = gauge_names(metric);
        for gauge in names(&row[1]) {
            assert!(
                produced.iter().any(|p| p == gauge),
                "{metric}: the README says {gauge}, the code makes {produced:?}"
            );
        }
    }
}

#[test]
fn the_queue_observations_table_names_every_gauge_and_its_labels_as_the_code_does() {
    let rows = table_rows("| Genesys observation | gauge |");
    let metrics: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(metrics, OBSERVATION_METRICS, "every metric, in order");
    for row in &rows {
        let gauge = observation_gauge(&row[0]).unwrap();
        assert_eq!(names(&row[1]), [gauge.name], "{}", row[0]);
        let mut labels: Vec<&str> = names(&row[2]);
        let expected: Vec<&str> = match gauge.qualifier {
            Qualifier::RoutingStatus => vec!["routing_status"],
            Qualifier::Presence => vec!["presence", "system_presence"],
            Qualifier::Other => vec![],
        };
        if gauge.by_media_type {
            assert_eq!(labels.remove(0), "media_type", "{}", row[0]);
        }
        assert_eq!(labels, expected, "{}", row[0]);
    }
}

#[test]
fn every_self_metric_in_the_readme_is_exported() {
    // Families without samples are not written, so give each one a sample.
    let metrics = Metrics::new(["q"]);
    let window = Interval {
        start: "2026-08-20T10:00:00Z".parse().unwrap(),
        end: "2026-08-20T10:15:00Z".parse().unwrap(),
    };
    drop(metrics.poll.timer("q"));
    metrics.poll.succeeded("q", window, 1, window.end);
    metrics.poll.failed("q");
    metrics.poll.skipped("q", 1);
    metrics
        .poll
        .rolling_window("q", std::time::Duration::from_secs(600));
    metrics.api.budget(1.0);
    metrics.api.request(Endpoint::Token);
    metrics.api.failed(Endpoint::Token, "oauth");
    metrics.retry.retried(Endpoint::Aggregates, "server_error");
    metrics
        .retry
        .rate_limit_remaining(Endpoint::Aggregates, 300);
    let exposition = metrics.encode_text();
    let rows = table_rows("| metric | meaning |");
    assert!(rows.len() >= 10);
    for row in rows {
        for name in names(&row[0]) {
            let name = name.split('{').next().unwrap();
            assert!(
                exposition.contains(&format!("# TYPE {name} ")),
                "{name} is in the README but not exported"
            );
        }
    }
}

#[test]
fn every_test_the_fault_matrix_names_exists() {
    let rows = table_rows("| fault | behaviour | test |");
    assert!(rows.len() >= 15);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for row in rows {
        // `file.rs` `test_name` [`test_name` ...], with "; " between files.
        for part in row[2].split("; ") {
            let spans = names(part);
            let (file, tests) = spans.split_first().expect(part);
            let path = if file.starts_with("src/") {
                root.join(file)
            } else {
                root.join("tests").join(file)
            };
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{}: no such file", path.display()));
            for test in tests {
                assert!(
                    source.contains(&format!("fn {test}(")),
                    "{file} has no test {test}"
                );
                named += 1;
            }
        }
    }
    assert!(named >= 20);
}

#[test]
fn every_command_of_the_hardening_table_runs_a_test_that_exists() {
    let rows = table_rows("| probe | limit | outcome | reproduce with |");
    assert!(rows.len() >= 20);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for row in rows {
        let command = names(&row[3]).concat();
        let path = command
            .split_whitespace()
            .last()
            .unwrap_or_else(|| panic!("no test named in {row:?}"));
        // `hostile::api::name` is `fn name` in tests/hostile/api.rs; a module name
        // (`properties`, `secured`) is a file of its own; a `--lib` path ends in the test.
        let parts: Vec<&str> = path.split("::").collect();
        let (file, test) = match (command.contains("--lib"), parts.as_slice()) {
            (true, [module @ .., "tests", test]) => {
                (root.join("src").join(module.join("/") + ".rs"), Some(*test))
            }
            (false, [module]) => (root.join("tests").join(format!("{module}.rs")), None),
            (false, [dirs @ .., test]) => {
                (root.join("tests").join(dirs.join("/") + ".rs"), Some(*test))
            }
            _ => panic!("cannot place {path}"),
        };
        let source = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("{path}: no file {}", file.display()));
        if let Some(test) = test {
            assert!(
                source.contains(&format!("fn {test}(")),
                "{} has no test {test}",
                file.display()
            );
        }
    }
}
