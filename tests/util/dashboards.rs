//! The Grafana dashboards in grafana/dashboards, and their panels.

use std::path::Path;

use serde_json::Value as Json;

use super::files::{files_under, read};

/// The dashboards in grafana/dashboards, by file name.
pub fn dashboards() -> Vec<(String, Json)> {
    let boards: Vec<(String, Json)> = files_under("grafana/dashboards", &[".json"])
        .into_iter()
        .map(|file| {
            let board =
                serde_json::from_str(&read(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let name = Path::new(&file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, board)
        })
        .collect();
    assert_eq!(boards.len(), 7, "seven dashboards in grafana/dashboards");
    boards
}

/// Every panel, including those inside collapsed rows.
pub fn panels(board: &Json) -> Vec<&Json> {
    let mut all = Vec::new();
    for panel in board["panels"].as_array().unwrap() {
        all.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            all.extend(inner);
        }
    }
    all
}
