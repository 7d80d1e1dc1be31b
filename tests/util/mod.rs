//! Helpers the integration tests share, one module per concern.

/// Tools the tests need: present, failing under CI, or the test skipped and counted.
pub mod ci;
/// Time the test moves itself: tokio's clock held still, and moved in small steps.
pub mod clock;
/// The Grafana dashboards in grafana/dashboards, and their panels.
pub mod dashboards;
/// What the exporter should publish, computed from the simulator's own data.
pub mod expected;
/// The exporter in this process, on a simulated clock, configured for a test's simulator.
pub mod exporter;
/// Files: the repository's own, and scratch directories of a test's own.
pub mod files;
/// Plain HTTP GETs of the exporter's endpoints, decoded or as sent.
pub mod http;
/// Markdown pages: headings, their anchors, sections and links.
pub mod markdown;
/// Several simulated orgs, each on its own simulator, and a configuration of them.
pub mod orgs;
/// The exporter binary as a child process: started, configured, signalled, waited for.
pub mod process;
/// `/metrics` recorded on held time, a scrape every 15 s once the polls due have published.
pub mod recording;
/// A child process's resident memory and open file descriptors, from /proc.
pub mod resources;
/// The shipped rules run by promtool over recorded scrapes; when an alert first fired.
pub mod rule_test;
/// `/metrics` read back as samples, strictly, and the series tests look up in them.
pub mod samples;
/// The simulator on 127.0.0.1 at a fixed instant, and its control endpoints.
pub mod sim;
/// Markdown tables, as the README and docs/ write them.
pub mod tables;
/// TLS and basic auth: a test CA and certificates, an HTTPS client, bcrypt hashes.
pub mod tls;
/// Waiting for events, never for a length of time.
pub mod wait;
