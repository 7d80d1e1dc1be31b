//! Hostile input on real sockets: each case keeps /healthz and /metrics served, memory and
//! file descriptors bounded, and the process alive.

/// Hostile HTTP clients: connections that never read, that send nothing, floods.
mod web;
