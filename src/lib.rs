//! genesys-exporter: Genesys Cloud conversation, IVR flow and data action aggregates as
//! Prometheus gauges.
//!
//! # Layout
//!
//! The layers, from the leaves up: a module uses only its own layer and those above it
//! here (`tests/layering.rs` checks it, and that no two modules need each other). Data
//! flows the same way: from the API through the sources to the publisher and the server.
//!
//! Below them all, two crates of the workspace: `genesys_wire` (`crates/genesys-wire`),
//! the Genesys Cloud API's request and response shapes, endpoints, metric catalogue,
//! regions and the time types (`Clock`, `Interval`); and, behind the default feature
//! `demo`, `genesys_sim` (`crates/genesys-sim`), the fake Genesys Cloud that `--demo` and
//! the tests run against.
//!
//! - [`schedule`], [`files`], [`memory`], [`org`], [`shard`], [`error`]: bucket and window
//!   arithmetic, the operator's files, the allocator, whose org, which orgs this process
//!   runs, the one error type.
//! - [`web_config`], [`metrics`]: the exporter-toolkit web config; the exporter's own
//!   metrics, which everything below reports to.
//! - [`genesys`], [`config`], [`budget`], [`supervise`]: the API client (token, retries,
//!   breaker, jobs); the configuration, checked; the API budget; the one supervisor of
//!   every long-running task.
//! - [`exposition`], [`directory`]: answers flattened into named gauges, rendered and
//!   published; the org's names: queues, presences, flows, flow outcomes, data actions.
//! - [`collect`], [`report`]: every source of series behind one trait; the one-shot report.
//! - [`http`], [`server`]: the serving loop; `/metrics` and the other endpoints.
//! - [`runtime`], [`cli`]: each org's tasks, started, supervised and reloaded; the command
//!   line.

pub mod budget;
pub mod cli;
pub mod collect;
pub mod config;
pub mod directory;
pub mod error;
pub mod exposition;
pub mod files;
pub mod genesys;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod org;
pub mod report;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod shard;
pub mod supervise;
pub mod web_config;
