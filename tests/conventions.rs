//! The conventions users of node_exporter and exporter-toolkit expect: the `process_*`
//! metrics, the build info and `--version`, the `--log.*` and `--web.*` flags, and a plain
//! 400 for HTTP sent to the TLS port.

use std::process::Command;

use crate::util::{
    http::get,
    process::{output_text, start_demo_with_1024_files},
    resources::{open_files, rss_of},
    samples::{Samples, of, parse},
};

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// The process metrics of the binary, against what this process knows of it: when it
/// started it, the limit it gave it, and what /proc says of it around the scrape; and its
/// build info.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_process_metrics_are_the_binarys_own() {
    // btime is given in whole seconds: the start time may be up to a second early.
    let before_start = unix_now().floor() - 1.0;
    let exporter = start_demo_with_1024_files(&[]);
    let url = exporter.metrics_url().await;
    let started_by = unix_now();
    let pid = exporter.child.id();

    let rss_before = rss_of(pid) as f64;
    let samples = parse(&get(&format!("{url}/metrics")).await.body);
    let rss_after = rss_of(pid) as f64;
    let fds_after = open_files(pid) as f64;

    assert_build_info(&samples);
    let start = of(&samples, "process_start_time_seconds", &[]);
    assert!(
        (before_start..=started_by).contains(&start),
        "{start} not within {before_start}..{started_by}"
    );
    assert_eq!(
        of(&samples, "process_max_fds", &[]),
        1024.0,
        "ulimit -n 1024"
    );
    // The scrape's own connection, and the directory read that counts, are open while the
    // exporter counts; both are closed after.
    let open = of(&samples, "process_open_fds", &[]);
    assert!(
        (fds_after..=fds_after + 2.0).contains(&open),
        "{open} fds, /proc says {fds_after} after the scrape"
    );
    let rss = of(&samples, "process_resident_memory_bytes", &[]);
    let margin = 8.0 * 1024.0 * 1024.0;
    assert!(
        rss_before.min(rss_after) - margin <= rss && rss <= rss_before.max(rss_after) + margin,
        "{rss} bytes, /proc says {rss_before} then {rss_after}"
    );
    assert!(of(&samples, "process_virtual_memory_bytes", &[]) >= rss);
    let cpu = of(&samples, "process_cpu_seconds_total", &[]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!(
        cpu > 0.0 && cpu <= (unix_now() - before_start) * cores,
        "{cpu}"
    );
}

/// What a command run in the repository prints, trimmed; `None` if it fails.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// The labels the build info should carry, found here as the build script finds them:
/// from git in this checkout, and from the Rust compiler.
fn expected_build() -> [(&'static str, String); 6] {
    let git = |args: &[&str]| command_output("git", args).unwrap_or_else(|| "unknown".into());
    let rustc = command_output("rustc", &["--version"]).unwrap();
    [
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("revision", git(&["rev-parse", "HEAD"])),
        ("branch", git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        (
            "rustversion",
            rustc.split_whitespace().nth(1).unwrap().to_owned(),
        ),
        ("os", std::env::consts::OS.to_owned()),
        ("arch", std::env::consts::ARCH.to_owned()),
    ]
}

#[test]
fn version_prints_the_build_as_node_exporter_does() {
    let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let [version, revision, branch, rust, os, arch] = expected_build().map(|(_, value)| value);
    assert_eq!(
        output_text(&output),
        format!(
            "genesys-exporter, version {version} (branch: {branch}, revision: {revision})\n  rust version:     {rust}\n  platform:         {os}/{arch}\n"
        )
    );
    if command_output("git", &["rev-parse", "HEAD"]).is_some() {
        assert_eq!(revision.len(), 40, "a full commit hash: {revision}");
    }
}

/// The build info in a scrape: the same labels `--version` prints.
fn assert_build_info(samples: &Samples) {
    let expected = expected_build();
    let labels: Vec<(&str, &str)> = expected.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(of(samples, "genesys_exporter_build_info", &labels), 1.0);
}
