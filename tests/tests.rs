//! Integration tests: the exporter and its binary against the simulator on 127.0.0.1.

mod util;

mod api_cost;
mod cli;
mod compression;
mod metrics_values;
mod poll_memory;
mod promtool;
mod queue_names;
mod readme;
mod report;
mod scrape_allocations;
mod tokens;
