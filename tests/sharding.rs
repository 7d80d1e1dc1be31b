//! Sharding by org: exporter processes started with `--shard N --total-shards 3` on one
//! configuration file, each org on a simulator of its own with its own credentials. Every
//! org is polled by exactly one process, the one its name hashes to; the three `/metrics`
//! together hold each org's series exactly once; a reload starts an added org only on
//! its shard; a shard with no org is ready; a reload that moves the shard is refused.

use std::collections::{BTreeMap, BTreeSet};

use genesys_exporter::config::QueryConfig;
use genesys_sim::{Fault, FaultSpec};
use genesys_wire::QUEUES_PATH;
use genesys_wire::time::Clock;
use tempfile::TempDir;

use crate::util::{
    clock::hold_time,
    exporter::{config_for, scrape, start_exporter},
    files::{temp_dir, write_file},
    http::get,
    orgs::{config_text, has_org, hourly_up, simulated},
    process::{Process, hang_up, output_text},
    samples::{Samples, parse, value},
    sim::{AFTERNOON, Sim, afternoon_sim, start_simulator},
    wait::{wait_for_metrics, wait_until},
};

const TOTAL_SHARDS: u32 = 3;

/// Seven org names that fall on all three shards.
const ORGS: [&str; 7] = [
    "org-1", "org-2", "org-3", "org-4", "org-5", "org-6", "org-7",
];

/// FNV-1a 64 of the name's bytes, written here from its definition (offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3) rather than taken from the exporter.
fn fnv_1a_64(name: &str) -> u64 {
    name.bytes().fold(0xcbf29ce484222325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    })
}

/// The orgs of `names` each shard of three should run.
fn assignment<'a>(names: &[&'a str]) -> BTreeMap<u32, BTreeSet<&'a str>> {
    let mut shards: BTreeMap<u32, BTreeSet<&str>> = (0..TOTAL_SHARDS)
        .map(|shard| (shard, BTreeSet::new()))
        .collect();
    for name in names {
        let shard = (fnv_1a_64(name) % u64::from(TOTAL_SHARDS)) as u32;
        shards.get_mut(&shard).unwrap().insert(name);
    }
    shards
}

/// A simulator for each of `names`.
async fn simulators(names: &[&'static str]) -> Vec<(&'static str, Sim)> {
    let mut sims = Vec::new();
    for name in names {
        sims.push((*name, simulated(name).await));
    }
    sims
}

fn config_of(sims: &[(&str, Sim)]) -> String {
    let orgs: Vec<(&str, &Sim)> = sims.iter().map(|(name, sim)| (*name, sim)).collect();
    config_text(&orgs)
}

/// The binary on `config` with `args`, and the URL it serves on.
async fn start(config: &std::path::Path, args: &[&str]) -> (Process, String) {
    let mut all = vec![
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    let process = Process::start(&all);
    let url = process.metrics_url().await;
    (process, url)
}

/// Shards 0, 1 and 2 of three, on the one file `genesys.toml` of `dir`.
async fn start_shards(dir: &TempDir) -> Vec<(Process, String)> {
    let config = dir.path().join("genesys.toml");
    let mut shards = Vec::new();
    for shard in 0..TOTAL_SHARDS {
        let shard = shard.to_string();
        let total = TOTAL_SHARDS.to_string();
        shards.push(start(&config, &["--shard", &shard, "--total-shards", &total]).await);
    }
    shards
}

/// Waits until every one of `orgs` has published its query, and returns the samples.
async fn polled(url: &str, orgs: &BTreeSet<&str>) -> Samples {
    wait_for_metrics(url, |s| {
        orgs.iter().all(|org| hourly_up(s, org) == Some(1.0))
    })
    .await
}

/// The values of the `org` label in `samples`.
fn orgs_in(samples: &Samples) -> BTreeSet<String> {
    samples
        .keys()
        .filter_map(|(_, labels)| labels.get("org").cloned())
        .collect()
}

fn names(orgs: &BTreeSet<&str>) -> BTreeSet<String> {
    orgs.iter().map(|name| name.to_string()).collect()
}

/// The series of `org`: names and labels.
fn series_of(samples: &Samples, org: &str) -> BTreeSet<(String, BTreeMap<String, String>)> {
    samples
        .keys()
        .filter(|(_, labels)| labels.get("org").is_some_and(|o| o == org))
        .cloned()
        .collect()
}

fn shard_info(samples: &Samples, shard: u32) -> Option<f64> {
    shard_info_of(samples, shard, TOTAL_SHARDS)
}

fn shard_info_of(samples: &Samples, shard: u32, total: u32) -> Option<f64> {
    let (shard, total) = (shard.to_string(), total.to_string());
    value(
        samples,
        "genesys_exporter_shard_info",
        &[("shard", &shard), ("total_shards", &total)],
    )
}

fn reload_succeeded_at(samples: &Samples) -> f64 {
    value(
        samples,
        "genesys_exporter_config_last_reload_success_timestamp_seconds",
        &[],
    )
    .unwrap()
}

#[tokio::test]
async fn three_shards_poll_each_of_seven_orgs_exactly_once() {
    let expected = assignment(&ORGS);
    assert!(
        expected.values().all(|orgs| !orgs.is_empty()),
        "the names fall on every shard: {expected:?}"
    );
    let sims = simulators(&ORGS).await;
    let dir = temp_dir();
    write_file(&dir, "genesys.toml", &config_of(&sims));
    let shards = start_shards(&dir).await;

    let mut bodies = Vec::new();
    for (shard, (process, url)) in (0..).zip(&shards) {
        let mine = &expected[&shard];
        let samples = polled(url, mine).await;
        // The orgs it runs, and none of the others.
        assert_eq!(orgs_in(&samples), names(mine), "shard {shard}");
        assert_eq!(shard_info(&samples, shard), Some(1.0), "shard {shard}");
        assert_eq!(
            value(&samples, "genesys_exporter_orgs", &[]),
            Some(mine.len() as f64)
        );
        assert_eq!(get(&format!("{url}/readyz")).await.status, 200);
        let landing = get(url).await.body;
        let listed: Vec<&str> = mine.iter().copied().collect();
        let line = format!(
            "Shard {shard} of 3 runs {} orgs: {}.",
            mine.len(),
            listed.join(", ")
        );
        assert!(landing.contains(&line), "{line} not in:\n{landing}");
        process
            .wait_for_log(&format!("shard {shard} of 3 runs {} orgs", mine.len()))
            .await;
        bodies.push(samples);
    }

    // The simulators' side: each org was signed in to once, by one process, and polled.
    for (name, sim) in &sims {
        let requests = sim.simulator.requests();
        assert_eq!(requests.token, 1, "{name} signed in to once");
        assert!(requests.aggregates >= 1, "{name} polled");
    }

    // What one unsharded process publishes for the same orgs, on simulators of their own.
    let reference_sims = simulators(&ORGS).await;
    let reference_dir = temp_dir();
    let reference_config = write_file(&reference_dir, "genesys.toml", &config_of(&reference_sims));
    let (_reference, reference_url) = start(&reference_config, &[]).await;
    let all: BTreeSet<&str> = ORGS.into_iter().collect();
    let reference = polled(&reference_url, &all).await;
    assert_eq!(shard_info(&reference, 0), None);
    assert_eq!(value(&reference, "genesys_exporter_orgs", &[]), Some(7.0));

    // Each org's series are in exactly one body, and are those the unsharded one has.
    for org in ORGS {
        let holding: Vec<usize> = (0..bodies.len())
            .filter(|&shard| has_org(&bodies[shard], org))
            .collect();
        assert_eq!(
            holding.len(),
            1,
            "{org} is in the bodies of shards {holding:?}"
        );
        let sharded = series_of(&bodies[holding[0]], org);
        let unsharded = series_of(&reference, org);
        assert!(unsharded.len() > 10, "{org}: {unsharded:?}");
        assert_eq!(sharded, unsharded, "{org}");
    }
    let org_series = |samples: &Samples| {
        samples
            .keys()
            .filter(|(_, labels)| labels.contains_key("org"))
            .count()
    };
    let total: usize = bodies.iter().map(org_series).sum();
    assert_eq!(total, org_series(&reference));
}

#[tokio::test]
async fn a_reload_starts_an_added_org_only_on_the_shard_it_hashes_to() {
    let (first, added) = (&ORGS[..3], "org-4");
    let expected = assignment(first);
    let owner = assignment(&[added])
        .into_iter()
        .find(|(_, o)| !o.is_empty())
        .unwrap()
        .0;
    assert!(
        expected.values().all(|orgs| orgs.len() == 1),
        "{expected:?}"
    );
    let mut sims = simulators(first).await;
    let dir = temp_dir();
    write_file(&dir, "genesys.toml", &config_of(&sims));
    let shards = start_shards(&dir).await;
    let mut reloaded_before = Vec::new();
    for (shard, (process, url)) in (0..).zip(&shards) {
        let samples = polled(url, &expected[&shard]).await;
        assert_eq!(orgs_in(&samples), names(&expected[&shard]), "shard {shard}");
        reloaded_before.push(reload_succeeded_at(&samples));
        // One org, said as one.
        let only = expected[&shard].first().unwrap();
        let landing = get(url).await.body;
        let line = format!("Shard {shard} of 3 runs 1 org: {only}.");
        assert!(landing.contains(&line), "{line} not in:\n{landing}");
        process
            .wait_for_log(&format!("shard {shard} of 3 runs 1 org\""))
            .await;
    }

    sims.extend(simulators(&[added]).await);
    write_file(&dir, "genesys.toml", &config_of(&sims));
    for (process, _) in &shards {
        hang_up(process);
    }
    for (shard, (_, url)) in (0..).zip(&shards) {
        let mut mine = expected[&shard].clone();
        if shard == owner {
            mine.insert(added);
        }
        let samples = wait_for_metrics(url, |s| {
            reload_succeeded_at(s) > reloaded_before[shard as usize]
                && mine.iter().all(|org| hourly_up(s, org) == Some(1.0))
        })
        .await;
        assert_eq!(orgs_in(&samples), names(&mine), "shard {shard}");
        assert_eq!(
            value(&samples, "genesys_exporter_orgs", &[]),
            Some(mine.len() as f64)
        );
    }
    let requests = sims.last().unwrap().1.simulator.requests();
    assert_eq!(requests.token, 1, "{added} signed in to by one process");
}

#[tokio::test]
async fn a_shard_without_orgs_is_ready_and_keeps_its_shard_through_a_reload() {
    // org-1 hashes to shard 0, org-2 to 1: none to 2.
    let sims = simulators(&ORGS[..2]).await;
    assert!(assignment(&ORGS[..2])[&2].is_empty());
    let dir = temp_dir();
    let text = |shard: u32, total: u32| {
        format!(
            "shard = {shard}\ntotal_shards = {total}\n{}",
            config_of(&sims)
        )
    };
    let config = write_file(&dir, "genesys.toml", &text(2, 3));
    let (process, url) = start(&config, &[]).await;
    process.wait_for_log("shard 2 of 3 runs no org").await;
    assert!(process.log().contains("orgs=none"), "{}", process.log());
    let samples = parse(&get(&format!("{url}/metrics")).await.body);
    assert_eq!(shard_info(&samples, 2), Some(1.0));
    assert_eq!(value(&samples, "genesys_exporter_orgs", &[]), Some(0.0));
    assert!(orgs_in(&samples).is_empty());
    assert_eq!(get(&format!("{url}/readyz")).await.status, 200);
    assert!(get(&url).await.body.contains("Shard 2 of 3 runs no org"));

    // A new total is refused: a process keeps its shard until restarted.
    write_file(&dir, "genesys.toml", &text(2, 4));
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_exporter_config_last_reload_successful", &[]) == Some(0.0)
    })
    .await;
    process
        .wait_for_log("shard or total_shards changed, from shard 2 of 3 to shard 2 of 4")
        .await;
    assert!(process.log().contains("restart it to run the new shard"));
    assert_eq!(shard_info(&samples, 2), Some(1.0));
    for (name, sim) in &sims {
        assert_eq!(
            sim.simulator.requests().token,
            0,
            "{name} is not this shard's"
        );
    }
}

#[tokio::test]
async fn the_demo_simulates_only_the_orgs_of_its_shard() {
    let demo_orgs = ["east", "north", "west", "org-2"];
    let expected = assignment(&demo_orgs);
    // east and west on shard 2 (pinned in src/shard.rs), north on 0, org-2 on 1.
    assert_eq!(expected[&2].len(), 2, "{expected:?}");
    let process = Process::start(&[
        "--demo",
        "--demo-time",
        AFTERNOON,
        "--demo-orgs",
        &demo_orgs.join(","),
        "--shard",
        "2",
        "--total-shards",
        "3",
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = process.metrics_url().await;
    let samples = wait_for_metrics(&url, |s| {
        expected[&2].iter().all(|org| has_org(s, org))
            && value(s, "genesys_exporter_orgs", &[]) == Some(2.0)
    })
    .await;
    assert_eq!(orgs_in(&samples), names(&expected[&2]));
    // A simulator for each org of this shard, and none for the others'.
    let log = process.log();
    let simulated: BTreeSet<String> = log
        .lines()
        .filter(|line| line.contains("demo mode: serving the simulated Genesys Cloud API"))
        .filter_map(|line| line.split(" org=").nth(1))
        .map(|org| org.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(simulated, names(&expected[&2]), "{log}");
    for org in ["north", "org-2"] {
        let line = format!("no simulator for this org, which another shard runs\" org={org} ");
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_orgs_are_counted_from_the_start_while_their_queue_names_are_read() {
    // Time stands still: the queue list, slow by an hour, never answers, and the start
    // waits for it (up to a while, which never passes), its orgs not polled yet.
    let _time = hold_time();
    let sim = start_simulator(afternoon_sim()).await;
    sim.simulator.add_fault(FaultSpec {
        fault: Fault::Slow { delay: 3600.0 },
        path: QUEUES_PATH.into(),
        after: 0.0,
        seconds: None,
        requests: None,
    });
    let hourly = QueryConfig {
        name: "hourly".into(),
        granularity: Some("PT1H".into()),
        ..QueryConfig::default()
    };
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config_for(&sim, vec![hourly]), clock).await;
    wait_until("the queue list is asked for", || {
        sim.simulator.requests().queues >= 1
    })
    .await;
    let samples = scrape(&exporter).await;
    // Not polled yet.
    assert_eq!(
        value(&samples, "genesys_up", &[("query", "hourly")]),
        Some(0.0)
    );
    assert_eq!(value(&samples, "genesys_exporter_orgs", &[]), Some(1.0));
    assert_eq!(shard_info_of(&samples, 0, 1), Some(1.0));
}

#[test]
fn the_shard_flags_are_refused_before_a_subcommand_rather_than_ignored() {
    for flags in [
        &["--shard", "1", "--total-shards", "3"][..],
        &["--total-shards", "3"],
        &["--shard-from-hostname"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
            .args(flags)
            .args(["report", "--demo", "--from", AFTERNOON, "--to", AFTERNOON])
            .output()
            .unwrap();
        let said = output_text(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {said}");
        assert!(
            said.contains(
                "--shard, --total-shards and --shard-from-hostname choose the orgs the exporter runs, and no subcommand runs it: leave them out"
            ),
            "{flags:?}: {said}"
        );
    }
}

#[tokio::test]
async fn check_config_prints_which_shard_runs_each_org() {
    let sims = simulators(&ORGS).await;
    let dir = temp_dir();
    let config = write_file(&dir, "genesys.toml", &config_of(&sims));
    let check = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
            .args(["--config", config.to_str().unwrap(), "--check-config"])
            .args(args)
            .output()
            .unwrap();
        (output.status.success(), output_text(&output))
    };
    let expected = assignment(&ORGS);
    let (valid, said) = check(&["--total-shards", "3", "--shard", "1"]);
    assert!(valid, "{said}");
    for (shard, orgs) in &expected {
        for org in orgs {
            assert!(
                said.contains(&format!("org {org}: shard {shard} of 3\n")),
                "{said}"
            );
        }
    }
    let runs: Vec<&str> = expected[&1].iter().copied().collect();
    let line = format!(
        "this process, shard 1 of 3, would run: {}\n",
        runs.join(", ")
    );
    assert!(said.contains(&line), "{line} not in:\n{said}");

    let (valid, said) = check(&["--total-shards", "3", "--shard", "3"]);
    assert!(!valid);
    assert!(
        said.contains("shard: 3 is not below total_shards 3"),
        "{said}"
    );

    // The shard from this machine's host name: its ordinal, or an error naming it.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let ordinal = host
        .split('.')
        .next()
        .and_then(|label| label.rsplit_once('-'))
        .filter(|(_, digits)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(_, digits)| digits.parse::<u32>().ok());
    let (valid, said) = check(&["--total-shards", "1000", "--shard-from-hostname"]);
    match ordinal {
        Some(ordinal) if ordinal < 1000 => {
            assert!(valid, "{said}");
            let line = format!("this process, shard {ordinal} of 1000, would run");
            assert!(said.contains(&line), "{said}");
        }
        Some(ordinal) => {
            assert!(!valid, "{said}");
            let error = format!("shard: {ordinal} is not below total_shards 1000");
            assert!(said.contains(&error), "{said}");
        }
        None => {
            assert!(!valid, "{said}");
            assert!(said.contains(&format!("the host name {host:?}")), "{said}");
        }
    }
}
