//! Hostile input on real sockets: each case keeps /healthz and /metrics served, memory and
//! file descriptors bounded, and the process alive.

/// A hostile upstream: answers that try to crash, exhaust or mislead the exporter.
mod api;
/// A careless operator: configs, secret files and environments that try the same.
mod ops;
/// Hostile HTTP clients: connections that never read, that send nothing, floods.
mod web;
