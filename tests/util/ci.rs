//! Tools the tests need: present, failing under CI, or the test skipped and counted.

use std::io::Write;
use std::process::Command;
use std::sync::Mutex;

/// Whether this run is CI's: `CI` set to anything but empty, `false` or `0`. `.ci/run`
/// installs every tool the tests need, so there a missing one fails its test.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "false" | "0"))
}

/// `program` when it is on PATH (it answers `version_arg`). When it is not: under CI the
/// test fails, saying how `.ci/run` installs it (`install`); outside CI the test is
/// skipped, and says so where a passing test's output is not hidden (see [`skipped`]).
pub fn required_tool(
    program: &'static str,
    version_arg: &str,
    install: &str,
) -> Option<&'static str> {
    if Command::new(program).arg(version_arg).output().is_ok() {
        return Some(program);
    }
    assert!(
        !under_ci(),
        "{program} is missing under CI: .ci/run installs it ({install})"
    );
    skipped(&format!("no {program} on PATH ({install})"));
    None
}

/// The tests skipped so far in this run, each with its reason.
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records that the calling test is skipped, for `reason`, and says so on the terminal
/// at once (written to the standard error itself, which the test harness does not hold
/// back as it does a passing test's output). When the run ends, one more line counts every
/// test skipped, after the harness's own summary: a skipped test still shows as `ok`,
/// since the harness has no way to mark a test skipped once it runs.
pub fn skipped(reason: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let line = format!("{test}: {reason}");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "\nSKIPPED {line}");
    let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        summary_at_exit();
    }
    skipped.push(line);
}

/// Prints the skipped tests when the test binary exits.
fn summary_at_exit() {
    extern "C" fn summary() {
        let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "SKIPPED {} test(s), counted as passed above; under CI=true they would fail:",
            skipped.len()
        );
        for line in skipped.iter() {
            let _ = writeln!(stderr, "  {line}");
        }
    }
    unsafe extern "C" {
        /// The C library's: runs `function` when the process exits, after the test
        /// harness's summary.
        fn atexit(function: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `summary` is an `extern "C" fn()` that stays valid for the whole process,
    // as atexit requires.
    unsafe {
        atexit(summary);
    }
}

/// promtool, or `None` outside CI when it is not installed. Under CI it must be there.
pub fn promtool() -> Option<&'static str> {
    required_tool("promtool", "--version", "apt-get install prometheus")
}
