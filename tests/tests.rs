//! Integration tests: the exporter and its binary against the simulator on 127.0.0.1.

mod util;

mod api_cost;
mod cli;
mod compression;
mod deploy;
mod faults;
mod layering;
mod metrics_values;
mod poll_memory;
mod prometheus_e2e;
mod promtool;
mod queue_names;
mod readme;
mod report;
mod scrape_allocations;
mod scrapes;
mod secrets;
mod tokens;
