//! From an aggregates answer to what `/metrics` serves. [`flatten`] turns one poll's answer
//! into samples, named by the rules of [`base_name`] and [`stat_gauges`]; the [`Publisher`]
//! keeps every query's latest samples and renders them with the self-metrics into an
//! [`Exposition`], once per poll in both formats, plain and gzip-compressed, and swaps it in
//! whole, so that a scrape only copies a pointer.

mod flatten;
mod naming;
mod publisher;
mod render;

#[cfg(test)]
mod fixtures;

pub use flatten::{QuerySamples, TooManySeries, flatten, flatten_bounded};
pub use naming::{StatGauge, base_name, gauge_names, snake_case, stat_gauges};
pub use publisher::{Publisher, QueryStatus};
pub use render::{Exposition, Format, SharedBody};
