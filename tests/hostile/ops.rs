//! A careless operator: configurations that used to crash, hang, exhaust memory or echo
//! the secret, each given to the real binary (`--check-config`, then a run), and a poller
//! that panics. Each is refused at once with a message that names the key and the fix, or
//! contained while the process goes on serving.

use std::path::Path;
use std::process::Command;

use genesys_exporter::config::DURATION_LIMITS;
use genesys_sim::SimulatorConfig;

use crate::util::{
    ci::required_tool,
    files::{temp_dir, write_file},
    http::get,
    process::{Process, exit_of},
    resources::rss_of,
    samples::of,
    sim::{AFTERNOON, afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

/// A process of the exporter that is refused its configuration stays far below this.
const SMALL: u64 = 128 << 20;

/// The binary with `args` and exactly `env` (nothing inherited but PATH).
fn exporter(args: &[&str], env: &[(&str, &str)]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
    command.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    Process::spawn(command)
}

/// Runs the binary with `args`, and again with `--check-config`: each must exit 2 at
/// once, within a bounded memory, saying `said`; returns the first run's log.
async fn refused(args: &[&str], env: &[(&str, &str)], said: &[&str]) -> String {
    let mut logs = Vec::new();
    for check in [false, true] {
        let mut args = args.to_vec();
        if check {
            args.push("--check-config");
        }
        let mut process = exporter(&args, env);
        let status = exit_of(&mut process, SMALL).await;
        let log = process.log();
        assert_eq!(status.code(), Some(2), "{args:?}: {status:?}\n{log}");
        for said in said {
            assert!(log.contains(said), "{args:?}: never said {said:?}:\n{log}");
        }
        assert!(!log.contains("panicked"), "{log}");
        logs.push(log);
    }
    logs.remove(0)
}

const CREDENTIALS: &str = "client_id = \"id\"\nclient_secret = \"secret\"\nregion = \"eu-west-1\"\nlisten = \"127.0.0.1:0\"\n";

#[tokio::test]
async fn huge_durations_are_refused_by_check_config_naming_each_key() {
    let dir = temp_dir();
    let huge = i64::MAX;
    let mut toml = String::from(CREDENTIALS);
    for (key, _) in DURATION_LIMITS.iter().filter(|(k, _)| *k != "max_age") {
        toml.push_str(&format!("{key} = {huge}\n"));
    }
    toml.push_str(&format!("[[queries]]\nname = \"q\"\nmax_age = {huge}\n"));
    let path = write_file(&dir, "huge.toml", &toml);
    let said: Vec<String> = DURATION_LIMITS
        .iter()
        .map(|(key, _)| format!("{key}: {huge}s is too long; use at most"))
        .collect();
    let said: Vec<&str> = said.iter().map(String::as_str).collect();
    refused(&["--config", path.to_str().unwrap()], &[], &said).await;
}

#[tokio::test]
async fn a_fifo_or_dev_zero_as_the_secret_file_is_refused_at_once() {
    let dir = temp_dir();
    let fifo = dir.path().join("client_secret");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo {}", fifo.display());
    for (secret_file, kind) in [
        (fifo.as_path(), "a FIFO (named pipe)"),
        (Path::new("/dev/zero"), "a character device"),
    ] {
        let file = secret_file.to_str().unwrap();
        let env = [
            ("GENESYS_CLIENT_ID", "id"),
            ("GENESYS_REGION", "eu-west-1"),
            ("GENESYS_EXPORTER_LISTEN", "127.0.0.1:0"),
            ("GENESYS_EXPORTER_CLIENT_SECRET_FILE", file),
        ];
        let said = format!("client_secret_file: {file}: not a regular file but {kind}");
        refused(&[], &env, &[&said, "give the path of a regular file"]).await;
    }
    // The configuration file itself, too.
    refused(
        &["--config", "/dev/zero"],
        &[],
        &["--config /dev/zero: not a regular file but a character device"],
    )
    .await;
}

#[tokio::test]
async fn a_toml_syntax_error_on_the_secrets_line_names_the_line_never_the_secret() {
    const SECRET: &str = "Sup3r-S3cret-b7c1-never-echoed";
    let dir = temp_dir();
    for (name, line) in [
        ("unterminated.toml", format!("client_secret = \"{SECRET}\n")),
        ("unquoted.toml", format!("client_secret = {SECRET}\n")),
    ] {
        let path = write_file(&dir, name, &format!("client_id = \"id\"\n{line}"));
        let log = refused(
            &["--config", path.to_str().unwrap()],
            &[],
            &[
                "TOML syntax error at line 2, column",
                "(on the client_secret line)",
            ],
        )
        .await;
        assert!(
            !log.contains(SECRET),
            "{name}: the secret was shown:\n{log}"
        );
        assert!(
            !log.contains("Sup3r"),
            "{name}: part of the secret was shown:\n{log}"
        );
    }
}

#[tokio::test]
async fn a_numeric_secret_in_the_environment_is_taken_as_text_and_never_echoed() {
    // Leading zeros and a trailing zero: any trip through a number would change it.
    const SECRET: &str = "0012345.50";
    let sim = start_simulator(SimulatorConfig {
        client_secret: SECRET.into(),
        ..afternoon_sim()
    })
    .await;
    let env = [
        ("GENESYS_CLIENT_ID", "demo-client"),
        ("GENESYS_CLIENT_SECRET", SECRET),
        ("GENESYS_EXPORTER_API_URL", sim.url.as_str()),
        ("GENESYS_EXPORTER_LOGIN_URL", sim.url.as_str()),
        ("GENESYS_EXPORTER_LISTEN", "127.0.0.1:0"),
        ("RUST_LOG", "debug"),
    ];
    let mut check = exporter(&["--check-config"], &env);
    let status = exit_of(&mut check, SMALL).await;
    assert!(status.success(), "{}", check.log());

    let process = exporter(&[], &env);
    let url = process.metrics_url().await;
    // The token was issued for the secret exactly as written, so the poll succeeded.
    wait_for_metrics(&url, |s| {
        of(s, "genesys_up", &[("query", "default")]) == 1.0
    })
    .await;
    assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    assert!(rss_of(process.child.id()) < SMALL);
    let log = process.log();
    assert!(!log.contains(SECRET), "the secret was echoed:\n{log}");
    assert!(!log.contains("12345"), "the secret was echoed:\n{log}");
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    // util-linux's prlimit starts the exporter with a soft limit of 256 under a hard one
    // of 2048 (it execs, so the exporter keeps its process ID).
    let Some(prlimit) = required_tool("prlimit", "--version", "apt-get install util-linux") else {
        return;
    };
    let mut command = Command::new(prlimit);
    command
        .args(["--nofile=256:2048", env!("CARGO_BIN_EXE_genesys-exporter")])
        .args(["--demo", "--demo-time", AFTERNOON])
        .args(["--listen", "127.0.0.1:0"]);
    let process = Process::spawn(command);
    let url = process.metrics_url().await;
    assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.child.id())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[3..5], ["2048", "2048"], "{limits}");
}

/// The advisories known to have touched `Cargo.lock`, each a package and the first version
/// that fixed it. `cargo audit` (or `cargo deny check advisories`) is the full check against
/// the RustSec database; this keeps the ones fixed here from coming back offline.
const FIXED_ADVISORIES: &[(&str, &str, [u64; 3])] = &[
    // Stack exhaustion in `time`'s parsing, through the dev-dependency rcgen.
    ("RUSTSEC-2026-0009", "time", [0, 3, 47]),
];

#[test]
fn the_lock_file_holds_no_version_of_a_fixed_advisory() {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    let packages = lock["package"].as_array().unwrap();
    for (advisory, name, fixed) in FIXED_ADVISORIES {
        for package in packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(*name))
        {
            let version = package["version"].as_str().unwrap();
            let parts: Vec<u64> = version
                .split(['.', '-', '+'])
                .take(3)
                .map(|part| part.parse().unwrap())
                .collect();
            assert!(
                parts.as_slice() >= fixed.as_slice(),
                "{name} {version} in Cargo.lock has {advisory}: cargo update -p {name}"
            );
        }
    }
}
