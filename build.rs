//! The build's facts for `genesys_exporter_build_info` and `--version`: the git revision
//! and branch when built from a git checkout (or as EXPORTER_BUILD_REVISION and
//! EXPORTER_BUILD_BRANCH say, for a build without one, such as the Docker image's), and
//! the version of the Rust compiler. Not GENESYS_*: cargo sets these variables for what it
//! runs too, and the configuration reads every GENESYS_* variable as a key.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let package = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(&package)
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
        (output.status.success() && !text.is_empty()).then_some(text)
    };
    // Built again when HEAD moves (a commit, a checkout) or these change, not at every
    // change of a file cargo does not compile.
    println!("cargo:rerun-if-changed=build.rs");
    for name in ["EXPORTER_BUILD_REVISION", "EXPORTER_BUILD_BRANCH"] {
        println!("cargo:rerun-if-env-changed={name}");
    }
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(reference) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &reference]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in watched.into_iter().flatten() {
        let path = package.join(Path::new(&path));
        // A path that does not exist would run this script at every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }

    let from_env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let revision = from_env("EXPORTER_BUILD_REVISION")
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let branch = from_env("EXPORTER_BUILD_BRANCH")
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // `rustc 1.85.0 (4d91de4e4 2025-02-17)`: the version is the second word.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rust_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=EXPORTER_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=EXPORTER_BUILD_BRANCH={branch}");
    println!("cargo:rustc-env=EXPORTER_BUILD_RUST_VERSION={rust_version}");
}
