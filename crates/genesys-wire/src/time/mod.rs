//! The time types the exporter and the simulator share: the injected [`Clock`], and the
//! [`Interval`] that the API writes as `start/end`.

mod clock;
mod interval;

pub use clock::{Clock, deadline_after};
pub use interval::{Interval, IntervalError, iso_millis};
