//! The Genesys Cloud client: OAuth tokens, the retry policy and circuit breaker, the
//! transport, and the calls the exporter makes (aggregates and their jobs, the paged queue
//! list, the queue observations in chunks). The request and response types are
//! `genesys_wire`'s.

pub mod auth;
pub mod breaker;
pub mod client;
pub mod jobs;
pub mod observation_requests;
pub mod paged;
pub mod queue_list;
pub mod retry;
pub mod transport;
