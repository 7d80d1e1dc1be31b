//! The conventions users of node_exporter and exporter-toolkit expect: the `process_*`
//! metrics, the build info and `--version`, the `--log.*` and `--web.*` flags, and a plain
//! 400 for HTTP sent to the TLS port.

use std::io::{Read, Write};
use std::process::Command;

use genesys_exporter::config::Config;
use genesys_wire::time::Clock;

use crate::util::{
    exporter::{config_for, start_exporter},
    files::{temp_dir, write_file},
    http::get,
    process::{Process, output_text, start_demo_with_1024_files},
    resources::{open_files, rss_of},
    samples::{Samples, of, parse},
    sim::{AFTERNOON, afternoon_sim, start_simulator},
    tls::{https_client, make_pki},
    wait::{PATIENCE, wait_for_metrics},
};

/// The time now as the kernel counts it, boot time plus uptime, as a Unix time: what the
/// process start time is counted in, whatever clock the tests run on (CI runs them again
/// under libfaketime).
fn kernel_now() -> f64 {
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    boot + uptime
}

/// The user and system CPU time of process `pid`, from its /proc/PID/stat (in the clock
/// ticks of USER_HZ, 100 a second on Linux).
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15; the first after the name is field 3.
    let ticks: f64 = [11, 12]
        .iter()
        .map(|i| fields[*i].parse::<f64>().unwrap())
        .sum();
    ticks / 100.0
}

/// The process metrics of the binary, against what this process knows of it: when it
/// started it, the limit it gave it, and what /proc says of it around the scrape; and its
/// build info.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_process_metrics_are_the_binarys_own() {
    // btime is given in whole seconds, and the uptime in hundredths: a margin of a second.
    let before_start = kernel_now() - 1.0;
    let exporter = start_demo_with_1024_files(&[]);
    let url = exporter.metrics_url().await;
    let started_by = kernel_now() + 1.0;
    let pid = exporter.child.id();

    let rss_before = rss_of(pid) as f64;
    let cpu_before = cpu_seconds_of(pid);
    let samples = parse(&get(&format!("{url}/metrics")).await.body);
    let rss_after = rss_of(pid) as f64;
    let cpu_after = cpu_seconds_of(pid);
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
    // The scrape's own connection and the directory read that counts are open while the
    // exporter counts; connections come and go (the demo's simulator's, the scrape's).
    let open = of(&samples, "process_open_fds", &[]);
    assert!(
        (fds_after - 3.0..=fds_after + 3.0).contains(&open),
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
    assert!(
        (cpu_before..=cpu_after).contains(&cpu),
        "{cpu} s, /proc says {cpu_before} then {cpu_after}"
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

/// The labels the build info should carry: the revision and branch found here from git
/// in this checkout; the Rust version as the build script found it (running rustc here
/// would hang under libfaketime, which CI runs the tests under again), checked to be one.
fn expected_build() -> [(&'static str, String); 6] {
    let git = |args: &[&str]| command_output("git", args).unwrap_or_else(|| "unknown".into());
    let rust = env!("EXPORTER_BUILD_RUST_VERSION");
    let parts: Vec<u32> = rust.split('.').map(|part| part.parse().unwrap()).collect();
    assert!(
        parts.len() == 3 && parts[0] == 1 && parts[1] >= 85,
        "rustc 1.85 or later: {rust}"
    );
    [
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("revision", git(&["rev-parse", "HEAD"])),
        ("branch", git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        ("rustversion", rust.to_owned()),
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
    // A reader that has gone (`--version | head -c0`) ends it quietly, not in a panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .arg("--version")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    assert_eq!(output_text(&output), "");
}

/// The build info in a scrape: the same labels `--version` prints.
fn assert_build_info(samples: &Samples) {
    let expected = expected_build();
    let labels: Vec<(&str, &str)> = expected.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(of(samples, "genesys_exporter_build_info", &labels), 1.0);
}

/// The demo at a fixed afternoon instant, logging with `flags`, RUST_LOG unset.
fn demo_logging(flags: &[&str]) -> Process {
    let mut args = vec![
        "--demo",
        "--demo-time",
        AFTERNOON,
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(flags);
    Process::start_with(&args, &[("RUST_LOG", "")])
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_text_logs_fields() {
    let exporter = demo_logging(&["--log.format", "json"]);
    let log = exporter.wait_for_log("\"msg\":\"published\"").await;
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    for record in &records {
        for key in ["time", "level", "target", "msg"] {
            assert!(record[key].is_string(), "no {key}: {record}");
        }
        assert!(
            ["info", "warn", "error"].contains(&record["level"].as_str().unwrap()),
            "{record}"
        );
    }
    let serving = records
        .iter()
        .find(|record| record["msg"] == "serving /metrics")
        .unwrap();
    assert!(
        serving["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(serving["orgs"], 1, "numbers stay numbers: {serving}");
    assert_eq!(serving["target"], "genesys_exporter::cli");
    let published = records
        .iter()
        .find(|record| record["msg"] == "published")
        .unwrap();
    assert!(published["query"].is_string(), "{published}");
}

#[tokio::test]
async fn log_level_warn_hides_the_info_lines() {
    // Every API request answers 503 for a while: the retries are logged as warnings.
    let exporter = demo_logging(&["--log.level", "warn", "--fault", "unavailable,seconds=600"]);
    let log = exporter.wait_for_log("retrying").await;
    for line in log.lines() {
        assert!(line.starts_with("time="), "logfmt: {line}");
        assert!(
            line.contains(" level=warn ") || line.contains(" level=error "),
            "{line}"
        );
    }
    assert!(
        log.contains("msg=\"Genesys Cloud request failed; retrying\""),
        "{log}"
    );
}

#[test]
fn invalid_log_flags_are_refused_with_the_values_allowed() {
    for (flag, value, allowed) in [
        (
            "--log.level",
            "verbose",
            "[possible values: debug, info, warn, error]",
        ),
        ("--log.format", "text", "[possible values: logfmt, json]"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let said = output_text(&output);
        assert!(
            said.contains(&format!("invalid value '{value}' for '{flag}")),
            "{said}"
        );
        assert!(said.contains(allowed), "{said}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .arg("--check-config")
        .env("RUST_LOG", "genesys_exporter=loud")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = output_text(&output);
    assert!(
        said.contains("RUST_LOG=\"genesys_exporter=loud\""),
        "{said}"
    );
    assert!(said.contains("--log.level"), "{said}");
    // Nor is a value that is not Unicode taken as unset.
    let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .arg("--check-config")
        .env(
            "RUST_LOG",
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"debug\xff"),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = output_text(&output);
    assert!(said.contains("RUST_LOG is not valid Unicode"), "{said}");
}

/// The flags of node_exporter; the old ones (--config, --listen), which every other test of
/// the binary uses, stay as aliases.
#[tokio::test]
async fn the_web_and_config_flags_of_prometheus_exporters_work_beside_the_old_ones() {
    let sim = start_simulator(afternoon_sim()).await;
    let dir = temp_dir();
    let config = write_file(
        &dir,
        "genesys.toml",
        &format!(
            "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n",
            url = sim.url
        ),
    );
    let exporter = Process::start(&[
        "--config.file",
        config.to_str().unwrap(),
        "--web.listen-address",
        "127.0.0.1:0",
        "--web.telemetry-path",
        "/prom/metrics",
    ]);
    let url = exporter.metrics_url().await;
    // Under /prom: wait_for_metrics asks for {base}/metrics.
    let samples = wait_for_metrics(&format!("{url}/prom"), |s| {
        of(s, "genesys_up", &[("query", "default")]) == 1.0
    })
    .await;
    assert!(
        samples
            .keys()
            .any(|(name, _)| name == "genesys_conversation_offered")
    );
    let moved = get(&format!("{url}/metrics")).await;
    assert_eq!(moved.status, 404);
    assert_eq!(
        moved.body,
        "not found; try /prom/metrics, /healthz, /readyz or /\n"
    );
    let landing = get(&format!("{url}/")).await.body;
    assert!(
        landing.contains("<a href=\"/prom/metrics\">/prom/metrics</a>"),
        "{landing}"
    );
    assert!(!landing.contains("href=\"/metrics\""), "{landing}");
}

#[test]
fn a_telemetry_path_that_is_not_one_is_refused() {
    for (path, problem) in [
        ("metrics", "it must start with /"),
        ("/healthz", "another endpoint has it"),
        ("/", "another endpoint has it"),
        ("/-/reload", "another endpoint has it"),
        (
            "/metrics?x=1",
            "it may hold only printable ASCII without ? or # (percent-encode the rest)",
        ),
        (
            "/métrics",
            "it may hold only printable ASCII without ? or # (percent-encode the rest)",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
            .args(["--web.telemetry-path", path, "--check-config"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{path}");
        let said = output_text(&output);
        assert!(
            said.contains(&format!(
                "--web.telemetry-path {path:?}: {problem}; give a path such as /metrics"
            )),
            "{path}: {said}"
        );
    }
}

/// Plain HTTP to the TLS port is answered in Go's net/http words, and the connection
/// closed; HTTPS on the same port still works.
#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_plain_400() {
    let pki = make_pki();
    let web = write_file(
        &pki.dir,
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.cert_file.display(),
            pki.key_file.display()
        ),
    );
    let sim = start_simulator(afternoon_sim()).await;
    let config = Config {
        web_config_file: Some(web),
        ..config_for(&sim, vec![])
    };
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config, clock).await;
    let address = exporter.url.trim_start_matches("http://").to_owned();

    for request in [
        format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n"),
        "HEAD / HTTP/1.0\r\n\r\n".to_owned(),
        // A request's first byte is enough: the answer does not wait for the rest.
        "G".to_owned(),
    ] {
        let answer = tokio::task::spawn_blocking({
            let address = address.clone();
            move || {
                let mut stream = std::net::TcpStream::connect(&address).unwrap();
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                stream.write_all(request.as_bytes()).unwrap();
                // Until the exporter closes the connection.
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).unwrap();
                answer
            }
        })
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&answer),
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
        );
    }
    let https = https_client(&pki, false);
    let url = exporter.url.replacen("http://", "https://", 1);
    let served = https.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(served.status(), 200);
}
