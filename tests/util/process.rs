//! The exporter binary as a child process: started, configured, signalled, waited for.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tempfile::TempDir;

use super::files::{temp_dir, write_file};
use super::resources::rss_of;
use super::sim::{AFTERNOON, Sim};
use super::wait::{PATIENCE, pause, wait_until};

/// The exporter binary as a child process, its stderr collected as it comes.
pub struct Process {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Process {
    /// The binary with `args`, and no Genesys settings from this process's environment.
    pub fn start(args: &[&str]) -> Process {
        Process::start_with(args, &[])
    }

    /// [`Process::start`], with `env` in its environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_genesys-exporter"));
        command
            .args(args)
            .env_remove("GENESYS_CLIENT_ID")
            .env_remove("GENESYS_CLIENT_SECRET")
            .env_remove("GENESYS_REGION")
            .envs(env.iter().copied());
        Process::spawn(command)
    }

    /// Runs `command` with its stderr collected, logging at `info` unless it sets RUST_LOG.
    pub fn spawn(mut command: Command) -> Process {
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut collected = collected.lock().unwrap();
                collected.push_str(&line);
                collected.push('\n');
            }
        });
        Process { child, stderr }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle`, for at most [`PATIENCE`], and returns the
    /// log.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?} within {PATIENCE:?}; log so far:\n{log}"
            );
            pause().await;
        }
    }

    /// The address the exporter said it serves on.
    pub async fn metrics_url(&self) -> String {
        let log = self.wait_for_log("serving /metrics").await;
        let address = log
            .split("address=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        format!("http://{address}")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter binary on 127.0.0.1:0, configured by a file with `sim`'s URL and demo
/// credentials followed by `extra` TOML, with `env` in its environment; with its base URL,
/// and the directory holding the file (keep it as long as the process).
pub async fn start_binary_for(
    sim: &Sim,
    extra: &str,
    env: &[(&str, &str)],
) -> (Process, String, TempDir) {
    start_binary(&sim_config(sim, extra), env).await
}

/// A configuration file's text: `sim`'s URL and demo credentials, followed by `extra`.
pub fn sim_config(sim: &Sim, extra: &str) -> String {
    format!(
        "client_id = \"demo-client\"\nclient_secret = \"demo-secret\"\napi_url = \"{url}\"\nlogin_url = \"{url}\"\n{extra}",
        url = sim.url
    )
}

/// The binary with the configuration `text`, written as `genesys.toml` in the directory
/// returned, listening on a free port, with `env` added to its environment; and the base
/// URL it serves on.
pub async fn start_binary(text: &str, env: &[(&str, &str)]) -> (Process, String, TempDir) {
    let dir = temp_dir();
    let config = write_file(&dir, "genesys.toml", text);
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let process = Process::start_with(&args, env);
    let url = process.metrics_url().await;
    (process, url, dir)
}

/// Sends the process a SIGHUP: reload the configuration.
pub fn hang_up(process: &Process) {
    let status = Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// What a finished command wrote, its standard output then its standard error.
pub fn output_text(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Waits for `process` to exit, for at most [`PATIENCE`], and returns its status; fails
/// (and the process is killed when dropped) if it is still running then, or if its
/// resident memory passes `max_rss` meanwhile.
pub async fn exit_of(process: &mut Process, max_rss: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            // The thread that collects stderr holds the other reference until the pipe's
            // end: then the log is whole.
            wait_until("its stderr read to the end", || {
                Arc::strong_count(&process.stderr) == 1
            })
            .await;
            return status;
        }
        let rss = rss_of(process.child.id());
        assert!(
            rss <= max_rss,
            "its memory grew to {rss} bytes, past {max_rss}; log:\n{}",
            process.log()
        );
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}; log:\n{}",
            process.log()
        );
        pause().await;
    }
}

/// The binary started on the configuration `text` (written in a directory of its own)
/// with `args`, expected to exit: its exit status and its log.
pub async fn exit_on_config(text: &str, args: &[&str]) -> (std::process::ExitStatus, String) {
    let dir = temp_dir();
    let path = write_file(&dir, "genesys.toml", text);
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut process = Process::start(&all);
    let status = exit_of(&mut process, 512 << 20).await;
    (status, process.log())
}

/// The exporter binary in demo mode on 127.0.0.1, under the usual soft and hard limit of
/// 1024 open files (as a shell's `ulimit -n` sets them), with `extra` arguments.
pub fn start_demo_with_1024_files(extra: &[&str]) -> Process {
    // This process opens the hostile clients' sockets: let it have more than the child.
    let _ = rlimit::increase_nofile_limit(8192);
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_genesys-exporter"))
        .args([
            "--demo",
            "--demo-time",
            AFTERNOON,
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_REGION");
    Process::spawn(command)
}
