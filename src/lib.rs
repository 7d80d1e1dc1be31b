//! genesys-exporter: Genesys Cloud conversation aggregates as Prometheus gauges.
//!
//! # Layout
//!
//! The modules from the leaves up: each uses only those listed before it, so data and
//! dependencies flow one way (`tests/layering.rs` keeps this true, and checks that no two
//! modules need each other). Main's binary only parses the command line and calls [`cli`].
//!
//! Below them all, the crate `genesys_wire` (`crates/genesys-wire`): every request and
//! response body of the Genesys Cloud API as serde types, the paths they travel on and the
//! `Endpoint` names, the metric catalogue and groupBy dimensions, the regions' URLs, and
//! the time types the exporter and the simulator share (the injected `Clock`, the
//! `Interval` that reads and writes the API's `start/end`).
//!
//! - [`schedule`]: bucket arithmetic (which bucket is the latest completed one, and when
//!   it is due) and rolling windows ([`schedule::Rolling`]: which window to read, and when
//!   the next refresh falls due).
//! - [`files`]: reading a file an operator named, only if it is regular and small.
//! - [`memory`]: glibc's allocator, tuned at start and asked to give free memory back at
//!   each publish.
//! - [`org`]: which Genesys Cloud org something belongs to, and its `org` label.
//! - [`error`]: the one error type, with a bounded `reason` for metric labels.
//! - [`web_config`]: the Prometheus exporter-toolkit web config file (TLS, client
//!   certificates, basic auth with bcrypt, headers), re-read when it changes; below
//!   [`config`], which checks it at start-up, and the server, which applies it.
//! - [`metrics`]: the exporter's own metrics, in one process-long registry, grouped by
//!   concern (poll, API and retries, circuit breaker, queue names, process); the client,
//!   the breaker, the pollers and the publisher say what happened through each group's
//!   methods, so it sits below all of them.
//! - [`genesys`]: the Genesys Cloud client, in the layers below.
//! - [`genesys::breaker`]: the circuit breaker, which publishes its state on a watch
//!   channel.
//! - [`genesys::retry`]: the one retry policy (429 Retry-After, backoff on 5xx), every
//!   attempt through the breaker.
//! - [`genesys::transport`]: sends a request under the retry policy and reads the whole
//!   answer, and what an error answer says.
//! - [`genesys::auth`]: the client-credentials token, cached until shortly before it
//!   expires.
//! - [`genesys::client`]: the API calls, with a token, renewed once on a 401.
//! - [`genesys::jobs`], [`genesys::queues`], [`genesys::observations`]: an aggregates query
//!   run as an asynchronous job when its answer is too large for the synchronous one; the
//!   paged queue list; the queue observations asked for in chunks of queues.
//! - [`config`]: the TOML file and environment layered with figment
//!   ([`config::load`](config)), checked into [`config::Settings`]; it reads the client's
//!   defaults from the types that own them.
//! - [`budget`]: the API budget: the steady-state requests a minute of the configuration
//!   for the queues found, against `api_budget_share` of the API's limit; refused at
//!   start-up when over, the observations' refresh stretched when the directory grows.
//! - [`queue_names`]: queue names for queue IDs, refreshed on a timer.
//! - [`presences`]: presence names for the org presence IDs that qualify the queue
//!   observations, refreshed with the queue names.
//! - [`exposition`]: flattens an answer into gauges by the naming rules, and renders every
//!   query's latest gauges plus the self-metrics once per poll (and again when data passes
//!   its maximum age or the circuit breaker changes state).
//! - [`poller`]: one loop per query that polls each due bucket or rolling window and
//!   publishes the answer.
//! - [`observer`]: the queue observations, every `refresh`, for every queue of the queue
//!   list, published whole.
//! - [`report`]: the one-shot report: the same client and naming over any range, as JSON,
//!   CSV or a table.
//! - [`http`]: the hyper 1 serving loop: connections (capped), timeouts, TLS, graceful
//!   drain.
//! - [`server`]: `/metrics`, `/`, `/healthz`, `/readyz` and `POST /-/reload`, behind basic
//!   auth when the web config asks for it. It stays on hyper rather than a router: a
//!   `/metrics` body is two shared parts sent with one vectored write.
//! - [`exporter`]: wires the publisher, the server and each org's part (its client, its
//!   pollers, its queue names and observer, its API budget) together, applies each reload
//!   of the configuration (orgs added and removed; each org's queries, and a new client or
//!   observer when their settings changed), and runs until cancelled.
//! - [`cli`]: the command line: the exporter (with `--demo`, the simulator in this
//!   process), the report and the simulator on its own.
//!
//! Beside the exporter rather than in it, the crate `genesys_sim` (`crates/genesys-sim`):
//! a fake Genesys Cloud on an axum router, for `--demo` and the tests, that uses only
//! `genesys_wire`.
//!
//! Where this differs from the layout `DESIGN.md` suggests: [`metrics`] sits below
//! [`genesys`], since the client and the breaker count through it; the wire types, the
//! catalogue and the regions are a crate of their own; [`queue_names`] is a module of its own
//! between [`config`] and [`exposition`], whose publisher puts the names on the series;
//! [`budget`], not in that layout, sits right after [`config`], whose settings it reads;
//! and [`report`] and [`poller`] are peers, listed in that order.

pub mod budget;
pub mod cli;
pub mod config;
pub mod error;
pub mod exporter;
pub mod exposition;
pub mod files;
pub mod genesys;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod observer;
pub mod org;
pub mod poller;
pub mod presences;
pub mod queue_names;
pub mod report;
pub mod schedule;
pub mod server;
pub mod web_config;
