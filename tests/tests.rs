//! Integration tests: the exporter and its binary against the simulator on 127.0.0.1.

mod util;

mod cli;
mod faults;
mod metrics_values;
mod promtool;
mod readme;
mod scrapes;
mod secrets;
mod tokens;
