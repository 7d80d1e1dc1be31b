//! Everything that speaks Genesys Cloud's wire format: regions, OAuth, the HTTP client and
//! the request and response types of the endpoints the exporter uses.

pub mod auth;
pub mod breaker;
pub mod client;
pub mod jobs;
pub mod observations;
pub mod queues;
pub mod retry;
pub mod transport;
