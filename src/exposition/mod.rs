//! From an aggregates answer to what `/metrics` serves. [`flatten`] turns one poll's answer
//! into samples, named by the rules of [`base_name`] and [`stat_gauges`]
//! ([`ObservationSamples`] does the same for the queue observations, [`AgentSamples`]
//! for the agent states); the [`Publisher`]
//! keeps every org's queries' latest samples (each org's pollers publish through a handle
//! of their org, and a named org's series carry its `org` label first) and renders them
//! with the self-metrics into an
//! [`Exposition`], once per poll in both formats, gzip-compressed as it is written (the plain
//! text is inflated from it when an uncompressed scrape asks), and swaps it in whole, so
//! that a scrape only copies a pointer. [`catalogue`] lists every name a
//! configuration may use and what each becomes, for `genesys-exporter catalogue`.

mod agent_gauges;
mod blocking;
mod flatten;
mod listing;
mod names;
mod naming;
mod observation_gauges;
mod publisher;
mod render;

#[cfg(test)]
pub(crate) mod fixtures;

pub use agent_gauges::{AGENT_GAUGES, AgentSamples};
pub use flatten::{
    Flattener, GaugeSet, QuerySamples, TooManySeries, flatten, flatten_bounded, gauge_samples,
};
pub use listing::catalogue;
pub use names::{NameMap, Names};
pub use naming::{StatGauge, base_name, column_name, gauge_names, snake_case, stat_gauges};
pub use observation_gauges::{
    OBSERVATION_GAUGES, ObservationGauge, ObservationSamples, Presence, PresenceMap, Qualifier,
    lower_snake_case, observation_gauge,
};
pub use publisher::{Publisher, QueryStatus};
pub use render::{Exposition, Format, GZIP_LEVEL, SharedBody};
