//! Integration tests: the exporter and its binary against the simulator on 127.0.0.1.
//! Every helper they share is in `util`, one module per concern; no test module uses another.

/// Shared helpers by concern: simulator, exporter, binary, waits, held time, samples, files.
mod util;

/// Agent states: the simulator's people by status, presence, segment; the agents surge; a 403; budget, config.
mod agents;
/// How soon each queue alert fires after a surge on Sales, through promtool; docs/alerts.md's figures.
mod alert_latency;
/// API cost in steady state: one aggregates request per query per bucket, one token per lifetime.
mod api_cost;
/// The API budget: over its share, start-up exits 2 with the arithmetic; the gauge by hand.
mod budget;
/// The binary: config errors exit 2, example config, a rejected query, SIGTERM/SIGINT, env vars.
mod cli;
/// `/metrics` is gzipped for scrapers that accept it, and unzips to the plain body.
mod compression;
/// The conventions of Prometheus exporters: process_*, build info, --version, --log.*, --web.*.
mod conventions;
/// Data actions: an actions query is the simulator's calls, named; a 403 on it alone.
mod data_actions;
/// `--demo` at any hour: traffic, callers waiting, the surge pages; `--demo-time`'s clocks.
mod demo;
/// Compose, Kubernetes, systemd, Dockerfile, rules and dashboards agree and configure it validly.
mod deploy;
/// The fault matrix: each fault the simulator plays, retries, the circuit breaker, outages.
mod faults;
/// IVR flows: a flows query and the flow observations are the simulator's, named; a 403 alone.
mod flows;
/// Hostile input: a fake upstream, clients and config that try to crash or exhaust it.
mod hostile;
/// lib.rs's layout tour is true: no upward import, no module missing, no import cycle.
mod layering;
/// `/metrics` equals the simulator's data; formats, landing page, health, readiness, job polls.
mod metrics_values;
/// Queue observations: the simulator's data, chunks, a 403 on observations or presences, expiry.
mod observations;
/// Several orgs: each org's data under its label, one org's outage alone, reloads, `report --org`.
mod orgs;
/// A poll's peak memory stays within a small multiple of the answer it parses.
mod poll_memory;
/// promtool and a real Prometheus accept the shipped config, rules, dashboards (skip outside CI).
mod prometheus_e2e;
/// `promtool check metrics` accepts the exposition; label values read back as written.
mod promtool;
/// Property tests: no parser or window arithmetic panics on any input the API or config gives.
mod properties;
/// Queue names on the series: paged, refreshed, renamed, deleted, forbidden.
mod queue_names;
/// The README and docs/: metric tables, fault matrix and links say what the code does.
mod readme;
/// Reloading the configuration: SIGHUP and POST /-/reload add, remove and refuse queries.
mod reload;
/// `genesys-exporter report`: values, day chunks, job paging, job fallback, failures, bad ranges.
mod report;
/// `report`'s table: 120 characters, rounded figures, `--columns`, `--wide`; closed pipes.
mod report_table;
/// Rolling windows: each refresh is the simulator's totals over its window; late refreshes.
mod rolling;
/// A scrape allocates nothing in proportion to the number of series.
mod scrape_allocations;
/// 200 concurrent scrapers get whole, well-formed expositions while polls fail and recover.
mod scrapes;
/// No client secret or access token in the log, landing page or `/metrics`, through every fault.
mod secrets;
/// A secured /metrics: the web config file's TLS, client certificates, basic auth, reloads.
mod secured;
/// Sharding by org: three processes over seven orgs poll each once; reloads keep the shard.
mod sharding;
/// The simulator's observations, presences, surge, call details over a socket, as its functions say.
mod simulator_observations;
/// How soon the agent, flow and data action alerts fire after their surges, through promtool.
mod source_alerts;
/// Telephony: Edges and trunks are the simulator's, calls counted again; faults, 403s, pages.
mod telephony;
/// How soon the voice quality and telephony alerts fire after their faults, through promtool.
mod telephony_alerts;
/// The OAuth client: tokens cached, renewed before expiry and once when refused; bad credentials.
mod tokens;
/// The voice quality histograms: the simulator's calls, each counted once; paging, caps, a 403.
mod voice_quality;
