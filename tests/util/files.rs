//! Files: the repository's own, and scratch directories of a test's own.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A fresh directory of the test's own, removed with all it holds when dropped: keep it
/// as long as the test, or a process it started, reads from it.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("genesys-exporter-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// Writes `text` to the file `name` in `dir` and returns its path.
pub fn write_file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// The repository, where the deployment files, the dashboards the README and docs/ are.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The path of a file given relative to the repository.
pub fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// A file of the repository, as text.
pub fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The files under `dir` whose names end with one of `extensions`, relative to the root.
pub fn files_under(dir: &str, extensions: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![path(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if extensions
                .iter()
                .any(|e| path.to_string_lossy().ends_with(e))
            {
                let relative = path.strip_prefix(ROOT).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}
