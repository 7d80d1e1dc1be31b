//! genesys-exporter: Genesys Cloud conversation aggregates as Prometheus gauges.

pub mod config;
pub mod error;
pub mod exporter;
pub mod genesys;
pub mod http;
pub mod metrics;
pub mod poller;
pub mod schedule;
pub mod server;
pub mod simulator;
pub mod snapshot;
