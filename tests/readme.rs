//! The README and the pages of docs/: their metric tables say what the code does, the
//! tests and commands they name exist, their claims about the demo hold for the
//! simulator's data, and every link between them leads somewhere.

use std::collections::{BTreeMap, BTreeSet};

use genesys_exporter::error::{REQUEST_FAILURE_REASONS, RETRIED_REASONS};
use genesys_exporter::exposition::{AGENT_GAUGES, Qualifier, gauge_names, observation_gauge};
use genesys_exporter::metrics::Metrics;
use genesys_sim::{FaultSpec, Malformed, SimulatedOrg, aggregate, observe};
use genesys_wire::catalogue::metric_kind;
use genesys_wire::time::Interval;
use genesys_wire::{AggregationQuery, ObservationQuery};
use genesys_wire::{Endpoint, OBSERVATION_METRICS};

use crate::util::files::{files_under, read};
use crate::util::markdown::{anchors, prose, relative_links, section};

/// The rows of the table of the page `page` (`docs/metrics.md`) whose header starts with
/// `header`.
fn table_rows(page: &str, header: &str) -> Vec<Vec<String>> {
    crate::util::tables::table_rows(&read(page), header)
}

/// The `code` spans of a cell.
fn names(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_gauge_in_the_common_metrics_table_is_what_the_code_names_it() {
    let rows = table_rows("docs/metrics.md", "| Genesys metric | gauges |");
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
                "{metric}: docs/metrics.md says {gauge}, the code makes {produced:?}"
            );
        }
    }
}

#[test]
fn the_flows_and_data_actions_pages_name_the_gauges_as_the_code_does() {
    let rows = table_rows("docs/flows.md", "| Genesys metric | gauges |");
    let metrics: BTreeSet<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(
        metrics,
        genesys_wire::catalogue::FLOW_METRICS
            .iter()
            .copied()
            .collect(),
        "every flow metric"
    );
    for row in &rows {
        let produced = gauge_names(&row[0]);
        for gauge in names(&row[1]) {
            assert!(
                produced.iter().any(|p| p == gauge),
                "{}: docs/flows.md says {gauge}, the code makes {produced:?}",
                row[0]
            );
        }
    }
    let rows = table_rows("docs/data-actions.md", "| gauge | what it is |");
    let listed: Vec<&str> = rows.iter().flat_map(|row| names(&row[0])).collect();
    let produced = gauge_names("tTotalExecution");
    assert_eq!(
        listed,
        [
            "genesys_data_action_executions",
            "genesys_data_action_execution_seconds",
            "genesys_data_action_execution_seconds_max",
            "_seconds_min",
            "genesys_data_action_execution_seconds_p95",
            "_seconds_p99"
        ]
    );
    for gauge in listed.iter().filter(|g| g.starts_with("genesys_")) {
        assert!(produced.iter().any(|p| p == gauge), "{gauge}");
    }
}

#[test]
fn the_queue_observations_table_names_every_gauge_and_its_labels_as_the_code_does() {
    let rows = table_rows("docs/metrics.md", "| Genesys observation | gauge |");
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
fn the_agent_states_table_names_every_gauge_and_its_labels_as_the_code_does() {
    let rows = table_rows("docs/agents.md", "| gauge | labels | what it is |");
    let gauges: Vec<&str> = rows.iter().flat_map(|row| names(&row[0])).collect();
    let code: Vec<&str> = AGENT_GAUGES.iter().map(|(name, _)| *name).collect();
    assert_eq!(gauges, code, "every gauge, in order");
    let labels: Vec<Vec<&str>> = rows.iter().map(|row| names(&row[1])).collect();
    assert_eq!(
        labels,
        [
            vec!["routing_status"],
            vec!["system_presence", "presence"],
            vec!["segment_type"],
            vec![],
        ]
    );
}

#[test]
fn every_self_metric_in_the_readme_is_exported() {
    // Families without samples are not written, so give each one a sample.
    let metrics = Metrics::new(["q"]);
    let window = Interval {
        start: "2026-08-20T10:00:00Z".parse().unwrap(),
        end: "2026-08-20T10:15:00Z".parse().unwrap(),
    };
    metrics.poll.took("q", std::time::Duration::ZERO);
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
    let rows = table_rows("docs/metrics.md", "| metric | meaning |");
    assert!(rows.len() >= 10);
    for row in rows {
        for name in names(&row[0]) {
            let name = name.split('{').next().unwrap();
            assert!(
                exposition.contains(&format!("# TYPE {name} ")),
                "{name} is in docs/metrics.md but not exported"
            );
        }
    }
}

#[test]
fn the_endpoints_and_reasons_the_readme_lists_are_those_the_counters_start_at_0_for() {
    let rows = table_rows("docs/metrics.md", "| metric | meaning |");
    // The code spans of a metric's meaning, those in parentheses left out when they
    // explain the value before them: `a`, `b` (past `limit`), ...
    let meaning = |metric: &str, outside_parentheses: bool| -> Vec<String> {
        let row = rows
            .iter()
            .find(|row| row[0] == format!("`{metric}`"))
            .unwrap_or_else(|| panic!("no row {metric}"));
        let mut depth = 0;
        let listed: String = row[1]
            .chars()
            .filter(|c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => return depth == 0 || !outside_parentheses,
                }
                false
            })
            .collect();
        names(&listed).into_iter().map(String::from).collect()
    };
    let endpoints: Vec<&str> = Endpoint::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        meaning("genesys_api_requests_total{endpoint}", false),
        endpoints
    );
    let mut failures: Vec<String> = table_rows("docs/metrics.md", "| reason | meaning |")
        .iter()
        .flat_map(|row| names(&row[0]))
        .map(String::from)
        .collect();
    failures.sort_unstable();
    let mut reasons = REQUEST_FAILURE_REASONS.to_vec();
    reasons.sort_unstable();
    assert_eq!(failures, reasons);
    assert_eq!(
        meaning("genesys_api_retries_total{endpoint,reason}", true),
        RETRIED_REASONS
    );
}

#[test]
fn every_test_the_fault_matrix_names_exists() {
    let rows = table_rows("docs/resilience.md", "| fault | behaviour | test |");
    assert!(rows.len() >= 15);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for row in rows {
        // `file.rs` `test_name` [`test_name` ...], with "; " between files.
        for part in row[2].split("; ") {
            let spans = names(part);
            let (file, tests) = spans.split_first().expect(part);
            let path = if file.starts_with("src/") || file.starts_with("crates/") {
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
    let rows = table_rows(
        "docs/resilience.md",
        "| probe | limit | outcome | reproduce with |",
    );
    assert!(rows.len() >= 20);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for row in rows {
        let command = names(&row[3]).concat();
        // The test's path comes before any ` -- ` and the test binary's own flags.
        let path = command
            .split(" -- ")
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .last()
            .unwrap_or_else(|| panic!("no test named in {row:?}"));
        // `hostile::api::name` is `fn name` in tests/hostile/api.rs; a module name
        // (`properties`, `secured`) is a file of its own; a `--lib` path ends in the test.
        let parts: Vec<&str> = path.split("::").collect();
        let (file, test) = match (command.contains("--lib"), parts.as_slice()) {
            (true, [module @ .., "tests", test]) => {
                // `a::b` is src/a/b.rs, or a folder's src/a/b/mod.rs or src/a/b/tests.rs.
                let folder = root.join("src").join(module.join("/"));
                let file = [
                    folder.with_extension("rs"),
                    folder.join("mod.rs"),
                    folder.join("tests.rs"),
                ]
                .into_iter()
                .find(|file| {
                    std::fs::read_to_string(file)
                        .is_ok_and(|source| source.contains(&format!("fn {test}(")))
                })
                .unwrap_or_else(|| folder.with_extension("rs"));
                (file, Some(*test))
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

#[test]
fn the_simulators_faults_and_headers_are_documented_under_the_simulator() {
    let simulator_page = read("docs/simulator.md");
    let simulator = section(&simulator_page, "# The simulator");
    for needed in [
        "ININ-Correlation-Id",
        "inin-ratelimit-",
        "--fault",
        "| `fault` | the answer |",
        "Each fault takes `path`",
        "/simulator/faults",
    ] {
        assert!(
            simulator.contains(needed),
            "{needed} not under The simulator"
        );
    }
    let performance = read("docs/performance.md");
    for misplaced in ["ININ-Correlation-Id", "| `fault` |", "--fault"] {
        assert!(
            !performance.contains(misplaced),
            "{misplaced} is under Performance"
        );
    }
    // Each fault of the table is one the simulator plays, and every malformed body is named.
    let rows = table_rows("docs/simulator.md", "| `fault` | the answer |");
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let name = names(&row[0])[0];
        let spec = match name {
            "slow" => "slow,delay=1".to_string(),
            "malformed" => "malformed,body=html".to_string(),
            name => name.to_string(),
        };
        assert!(spec.parse::<FaultSpec>().is_ok(), "{spec}");
    }
    let malformed = &rows.last().unwrap()[1];
    for body in Malformed::ALL {
        let name = serde_json::to_value(body).unwrap();
        let name = name.as_str().unwrap();
        assert!(malformed.contains(&format!("`{name}`")), "{name}");
    }
}

// -- The README and the pages of docs/ as a whole ---------------------------------------

/// The README and every page of docs/, relative to the repository.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_owned()];
    pages.extend(files_under("docs", &[".md"]));
    assert!(pages.len() >= 12, "{pages:?}");
    pages
}

#[test]
fn the_readme_fits_on_a_few_screens_and_opens_with_the_two_commands() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move reference to docs/"
    );
    // The first code block: the demo and the test command, exactly as .ci/run runs the
    // latter.
    let first_block = readme.split("```").nth(1).expect("a code block at the top");
    assert_eq!(
        first_block,
        "sh\ncargo run --release -- --demo        # then: curl localhost:9871/metrics\ncargo test\n"
    );
    assert!(read(".ci/run").contains("\ncargo test\n"));
    // Its table of contents leads to every page of docs/.
    let linked: BTreeSet<String> = relative_links(&readme)
        .into_iter()
        .map(|link| link.split('#').next().unwrap_or_default().to_owned())
        .collect();
    for page in files_under("docs", &[".md"]) {
        assert!(linked.contains(&page), "the README does not link {page}");
    }
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        let folder = std::path::Path::new(&page).parent().unwrap();
        for link in relative_links(&text) {
            let (file, anchor) = match link.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (link.as_str(), None),
            };
            // `#anchor` alone is the page itself.
            let target = if file.is_empty() {
                folder.join(std::path::Path::new(&page).file_name().unwrap())
            } else {
                folder.join(file)
            };
            let path = root.join(&target);
            assert!(path.exists(), "{page}: {link} leads to no file");
            if let Some(anchor) = anchor {
                let target_text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    anchors(&target_text).contains(anchor),
                    "{page}: {link}: {} has no heading with the anchor #{anchor}",
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} links");
}

#[test]
fn every_place_gives_a_polls_memory_as_the_poll_memory_test_bounds_it() {
    // tests/poll_memory.rs bounds a poll's peak at `bytes_max * 2 < 7 * answer`: 3.5
    // times the answer, besides the answer's own bytes.
    assert!(read("tests/poll_memory.rs").contains("info.bytes_max * 2 < 7 * body.len()"));
    let factor = 3.5;
    // With the default max_response_bytes (16 MiB), that is a poll's peak at worst.
    let worst_mb = ((factor + 1.0) * 16.0 * 1024.0 * 1024.0 / 1e6_f64).floor();
    assert_eq!(worst_mb, 75.0);
    let mut places = pages();
    places.extend([
        "deploy/kubernetes/deployment.yaml".to_owned(),
        "deploy/kubernetes/sharded/statefulset.yaml".to_owned(),
        "deploy/config.example.toml".to_owned(),
        "src/genesys/client.rs".to_owned(),
    ]);
    let mut claims = 0;
    for place in places {
        let text = read(&place)
            .replace(['#', '/'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let said = text
            .match_indices(" times its answer")
            .chain(text.match_indices(" times the answer's JSON above"));
        for (at, _) in said {
            let number = text[..at].rsplit(' ').next().unwrap();
            assert_eq!(
                number.parse::<f64>().ok(),
                Some(factor),
                "{place}: \"{number} times its answer\""
            );
            claims += 1;
            // Where the sentence goes on to a figure in MB, it is the worst case above.
            let sentence = text[at..].split(". ").next().unwrap();
            if let Some(mb) = sentence.find(" MB") {
                let figure = sentence[..mb].rsplit(' ').next().unwrap();
                assert_eq!(figure, "75", "{place}: {sentence}");
            }
        }
    }
    assert!(claims >= 5, "{claims} places give a poll's memory");
}

#[test]
fn the_configuration_page_names_rust_log_as_the_fine_grained_override() {
    let logging = prose(
        &read("docs/configuration.md"),
        "## Command line and logging",
    );
    assert!(
        logging.contains("`RUST_LOG` is the fine-grained override"),
        "{logging}"
    );
}

// -- The demo's claims, measured with the simulator's own functions ----------------------

/// Offered and abandoned conversations of the demo org in `[start, end)`, by bucket of
/// `granularity`, queue name and media type.
fn demo_counts(
    start: &str,
    end: &str,
    granularity: &str,
) -> BTreeMap<(String, String, String), (f64, f64)> {
    let org = SimulatedOrg::demo();
    let name = |id: &str| {
        let queue = org.queues.iter().find(|q| q.id == id);
        queue.map_or(String::new(), |q| q.name.clone())
    };
    let query = AggregationQuery {
        interval: format!("{start}/{end}"),
        granularity: Some(granularity.into()),
        time_zone: Some("UTC".into()),
        group_by: vec!["queueId".into(), "mediaType".into()],
        filter: None,
        metrics: vec!["nOffered".into(), "tAbandon".into()],
    };
    let mut counts = BTreeMap::new();
    for group in aggregate(&org, &query).unwrap().results {
        let queue = group
            .group
            .get("queueId")
            .map_or(String::new(), |id| name(id));
        let media = group.group["mediaType"].clone();
        for data in group.data {
            let count = |metric: &str| {
                let entry = data.metrics.iter().find(|m| m.metric == metric);
                entry.and_then(|m| m.stats.count).unwrap_or(0.0)
            };
            let start = data.interval.split('/').next().unwrap().to_owned();
            let key = (start, queue.clone(), media.clone());
            counts.insert(key, (count("nOffered"), count("tAbandon")));
        }
    }
    counts
}

#[test]
fn the_demo_is_busy_on_weekday_days_and_quiet_at_night_and_at_weekends() {
    let quick_start = prose(&read("README.md"), "## Quick start");
    assert!(
        quick_start.contains("busiest on weekdays from 08:00 to 18:00 UTC"),
        "{quick_start}"
    );
    // ... and the demo's floor under that curve, as a share of the peak.
    let floor = format!(
        "never quieter than {}% of that peak",
        (genesys_sim::DEMO_FLOOR * 100.0).round()
    );
    assert!(quick_start.contains(&floor), "{floor:?} in {quick_start}");
    let simulator = prose(&read("docs/simulator.md"), "# The simulator");
    assert!(
        simulator.contains("at weekends a quarter of a weekday's"),
        "{simulator}"
    );
    // A week from Monday 2026-08-17, by hour, all queues and media types together.
    let mut hours: BTreeMap<jiff::Timestamp, f64> = BTreeMap::new();
    for ((start, _, _), (offered, _)) in
        demo_counts("2026-08-17T00:00:00Z", "2026-08-24T00:00:00Z", "PT1H")
    {
        *hours.entry(start.parse().unwrap()).or_default() += offered;
    }
    assert_eq!(hours.len(), 7 * 24);
    let utc = |at: &jiff::Timestamp| at.to_zoned(jiff::tz::TimeZone::UTC);
    let weekend = |at: &jiff::Timestamp| {
        matches!(
            utc(at).weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        )
    };
    let hour = |at: &jiff::Timestamp| utc(at).hour();
    let busy_least = hours
        .iter()
        .filter(|(at, _)| !weekend(at) && (9..17).contains(&hour(at)))
        .map(|(_, offered)| *offered)
        .fold(f64::INFINITY, f64::min);
    for (at, offered) in &hours {
        if weekend(at) || !(8..18).contains(&hour(at)) {
            assert!(
                *offered < busy_least,
                "{at}: {offered} offered, against {busy_least} in the quietest weekday hour from 09:00 to 17:00"
            );
        }
    }
    // The busiest hour of the week is a weekday's, within 08:00 to 18:00.
    let (busiest, _) = hours.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    assert!(
        !weekend(busiest) && (8..18).contains(&hour(busiest)),
        "{busiest}"
    );
    // A weekend day has about a quarter of a weekday's conversations.
    let day_total = |day: i64| -> f64 {
        hours
            .iter()
            .filter(|(at, _)| utc(at).day() as i64 == day)
            .map(|(_, offered)| *offered)
            .sum()
    };
    let weekdays: f64 = (17..22).map(day_total).sum::<f64>() / 5.0;
    for day in [22, 23] {
        let share = day_total(day) / weekdays;
        assert!((0.2..0.3).contains(&share), "2026-08-{day}: {share}");
    }
}

#[test]
fn the_retention_queue_abandons_a_third_of_its_voice_calls() {
    let simulator = prose(&read("docs/simulator.md"), "# The simulator");
    assert!(
        simulator.contains(
            "The Retention queue abandons about a third of its voice calls, and some 28% of its conversations across media types"
        ),
        "{simulator}"
    );
    for day in [
        "2026-08-17",
        "2026-08-18",
        "2026-08-19",
        "2026-08-20",
        "2026-08-21",
    ] {
        let (mut voice, mut all) = ((0.0, 0.0), (0.0, 0.0));
        for ((_, queue, media), (offered, abandoned)) in demo_counts(
            &format!("{day}T00:00:00Z"),
            &format!("{day}T23:45:00Z"),
            "PT15M",
        ) {
            if queue != "Retention" {
                continue;
            }
            all = (all.0 + offered, all.1 + abandoned);
            if media == "voice" {
                voice = (voice.0 + offered, voice.1 + abandoned);
            }
        }
        let (voice, all) = (voice.1 / voice.0, all.1 / all.0);
        assert!((0.3..0.4).contains(&voice), "{day}: voice {voice}");
        assert!((0.25..0.31).contains(&all), "{day}: all media {all}");
    }
}

#[test]
fn the_demo_agents_log_in_with_the_traffic() {
    let simulator = prose(&read("docs/simulator.md"), "# The simulator");
    assert!(
        simulator
            .contains("(5% at night, 95% on weekday afternoons, about 30% on weekend afternoons)"),
        "{simulator}"
    );
    let org = SimulatedOrg::demo();
    let predicates: Vec<serde_json::Value> = org
        .queues
        .iter()
        .map(|q| serde_json::json!({"type": "dimension", "dimension": "queueId", "operator": "matches", "value": q.id}))
        .collect();
    let query = ObservationQuery {
        filter: serde_json::json!({"type": "or", "predicates": predicates}),
        metrics: vec!["oActiveUsers".into(), "oMemberUsers".into()],
        detail_metrics: vec![],
    };
    let logged_in = |at: &str| {
        let answer = observe(&org, None, &query, at.parse().unwrap()).unwrap();
        let (mut active, mut members) = (0.0, 0.0);
        for entry in answer.results.iter().flat_map(|group| &group.data) {
            let count = entry.stats.count.unwrap_or(0.0);
            match entry.metric.as_str() {
                "oActiveUsers" => active += count,
                "oMemberUsers" => members += count,
                _ => {}
            }
        }
        active / members
    };
    let night = logged_in("2026-08-20T03:00:00Z");
    let weekday = logged_in("2026-08-20T14:30:00Z");
    let weekend = logged_in("2026-08-22T14:30:00Z");
    assert!((0.03..0.08).contains(&night), "night {night}");
    assert!(
        (0.92..=0.97).contains(&weekday),
        "weekday afternoon {weekday}"
    );
    assert!(
        (0.25..0.35).contains(&weekend),
        "weekend afternoon {weekend}"
    );
}
