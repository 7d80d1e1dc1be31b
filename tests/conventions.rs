//! The conventions users of node_exporter and exporter-toolkit expect: the `process_*`
//! metrics, the build info and `--version`, the `--log.*` and `--web.*` flags, and a plain
//! 400 for HTTP sent to the TLS port.

use crate::util::{
    http::get,
    process::start_demo_with_1024_files,
    resources::{open_files, rss_of},
    samples::{of, parse},
};

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// The process metrics of the binary, against what this process knows of it: when it
/// started it, the limit it gave it, and what /proc says of it around the scrape.
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
