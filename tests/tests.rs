//! Integration tests: the exporter and its binary against the simulator on 127.0.0.1.

mod util;

mod cli;
mod deploy;
mod faults;
mod metrics_values;
mod prometheus_e2e;
mod promtool;
mod queue_names;
mod readme;
mod report;
mod scrapes;
mod secrets;
mod tokens;
