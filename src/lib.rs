//! genesys-exporter: Genesys Cloud conversation aggregates as Prometheus gauges.
//!
//! # Layout
//!
//! Data flows down this list, never back up:
//!
//! - [`config`]: the TOML file and environment layered with figment, checked into
//!   [`config::Settings`]; every default lives there.
//! - [`genesys`]: the Genesys Cloud wire format. [`genesys::region`] turns a region into
//!   URLs, [`genesys::auth`] caches the client-credentials token, [`genesys::client`]
//!   makes the API calls and [`genesys::transport`] sends them and turns answers into
//!   [`error::Error`]s, every one of them under the retry policy of [`genesys::retry`] and
//!   the circuit breaker of [`genesys::breaker`]; [`genesys::wire`] holds the request and
//!   response types, [`genesys::catalogue`] the metric catalogue, [`genesys::queues`]
//!   reads the queue list, and [`genesys::jobs`] runs a query as an asynchronous job when
//!   its answer is too large for the synchronous one.
//! - [`schedule`]: bucket arithmetic (which window is the latest completed one, and when
//!   it is due) over an injected [`schedule::Clock`].
//! - [`poller`]: one loop per query that polls each due window and hands the answer on.
//! - [`exposition`]: flattens an answer into gauges by the naming rules, and renders every
//!   query's latest gauges plus the self-metrics once per poll (and again when data
//!   passes its maximum age or the circuit breaker changes state).
//! - [`metrics`]: the exporter's own metrics, in one process-long registry, grouped by
//!   concern; the client, the breaker, the pollers and the publisher say what happened
//!   through each group's methods.
//! - [`server`]: `/metrics`, `/`, `/healthz` and `/readyz`, on [`http`], the hyper 1
//!   serving loop shared with the simulator.
//! - [`report`]: the one-shot report: the same client and naming over any range, as
//!   JSON, CSV or a table.
//! - [`queue_names`]: queue names for queue IDs, refreshed on a timer.
//! - [`exporter`]: wires the above together and runs until cancelled.
//! - [`simulator`]: a fake Genesys Cloud for `--demo` and the tests, with switchable
//!   faults ([`simulator::faults`]) for the resilience tests.
//! - [`error`]: the one error type, with a bounded `reason` for metric labels.

pub mod cli;
pub mod config;
pub mod error;
pub mod exporter;
pub mod exposition;
pub mod genesys;
pub mod http;
pub mod metrics;
pub mod poller;
pub mod queue_names;
pub mod report;
pub mod schedule;
pub mod server;
pub mod simulator;
