//! The failure surges of the IVR: from a given instant one flow's outcomes mostly fail
//! (`--demo-flow-surge`), or one data action times out (`--demo-action-surge`). Set from
//! [`SimulatorConfig`](super::SimulatorConfig) or the command line.
//!
//! As with the abandon surge ([`super::surge`]), only what happens at or after `start` is
//! touched: a flow record (and its data action calls) is dated at the instant the
//! conversation leaves the flow, and one that leaves before the start is what it was
//! without the surge, so every aggregate of an interval that ends before it is unchanged.

use std::str::FromStr;

use jiff::Timestamp;

use super::SimulatedOrg;
use super::architect::Architect;
use super::surge::Start;

/// The share of a surging flow's outcomes that fail from the start on.
pub const FLOW_SURGE_FAILURE: f64 = 0.85;

/// The share of a surging data action's executions that time out from the start on: they
/// answer `504` with the error type `timeout`, after [`ACTION_SURGE_DURATION_MS`].
pub const ACTION_SURGE_TIMEOUT: f64 = 0.9;

/// How long a timed-out execution takes, in milliseconds: the integration's time limit and
/// a little more.
pub const ACTION_SURGE_DURATION_MS: std::ops::Range<u64> = 10_000..15_000;

/// A failure surge on one flow or one data action (named by its name or its ID), from
/// `start` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSurge {
    pub target: String,
    pub start: Timestamp,
}

/// A failure surge as the command line gives it: `NAME[@TIME]`, the start left out (it
/// starts when the simulator does) or relative to then (`Main IVR@+10m`).
#[derive(Debug, Clone, PartialEq)]
pub struct FailureSurgeSpec {
    pub target: String,
    pub start: Option<Start>,
}

impl FromStr for FailureSurgeSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<FailureSurgeSpec, String> {
        let (target, start) = match text.rsplit_once('@') {
            Some((target, start)) => (target, Some(start.parse()?)),
            None => (text, None),
        };
        let target = target.trim();
        if target.is_empty() {
            return Err(format!(
                "'{text}': no name; write NAME[@TIME], such as 'Main IVR' or 'Lookup account@+10m'"
            ));
        }
        Ok(FailureSurgeSpec {
            target: target.to_string(),
            start,
        })
    }
}

impl FailureSurgeSpec {
    /// The surge, set at `now`: a start left out is `now`, a relative one counts from it.
    pub fn starting(&self, now: Timestamp) -> FailureSurge {
        FailureSurge {
            target: self.target.clone(),
            start: Start::resolve(self.start, now),
        }
    }
}

impl FailureSurge {
    /// Whether it is on the thing of this ID and name at epoch millisecond `ms`.
    pub(super) fn hits(&self, id: &str, name: &str, ms: i64) -> bool {
        ms >= self.start.as_millisecond() && (self.target == id || self.target == name)
    }

    /// Refuses a flow surge on a flow `org` does not have, naming those it has.
    pub fn check_flow(&self, org: &SimulatedOrg) -> Result<(), String> {
        let architect = Architect::of(org);
        let flows = architect
            .flows
            .iter()
            .map(|f| (f.id.as_str(), f.name.as_str()));
        self.check("flow", flows)
    }

    /// Refuses an action surge on a data action `org` does not have, naming those it has.
    pub fn check_action(&self, org: &SimulatedOrg) -> Result<(), String> {
        let architect = Architect::of(org);
        let actions = architect.actions.iter();
        self.check(
            "data action",
            actions.map(|a| (a.id.as_str(), a.name.as_str())),
        )
    }

    /// Refuses an Edge degrade on an Edge `org` does not have, naming those it has.
    pub fn check_edge(&self, org: &SimulatedOrg) -> Result<(), String> {
        let edges = super::edges(org);
        self.check("Edge", edges.iter().map(|e| (e.id.as_str(), e.name)))
    }

    fn check<'a>(
        &self,
        what: &str,
        known: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<(), String> {
        if known
            .clone()
            .any(|(id, name)| self.target == id || self.target == name)
        {
            return Ok(());
        }
        let names: Vec<&str> = known.map(|(_, name)| name).collect();
        Err(format!(
            "{what} surge: no {what} with the ID or name '{}'; the simulated ones are {}",
            self.target,
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_surge_is_a_name_and_maybe_a_start() {
        let now: Timestamp = "2026-08-20T14:00:00Z".parse().unwrap();
        let spec: FailureSurgeSpec = "Main IVR".parse().unwrap();
        assert_eq!(
            spec.starting(now),
            FailureSurge {
                target: "Main IVR".into(),
                start: now
            }
        );
        let spec: FailureSurgeSpec = "Lookup account@+10m".parse().unwrap();
        assert_eq!(spec.starting(now).start.to_string(), "2026-08-20T14:10:00Z");
        let spec: FailureSurgeSpec = "Web Chat@2026-08-20T15:00:00Z".parse().unwrap();
        assert_eq!(spec.starting(now).start.to_string(), "2026-08-20T15:00:00Z");
        assert!(
            "@+10m"
                .parse::<FailureSurgeSpec>()
                .unwrap_err()
                .contains("no name")
        );
        assert!("Main IVR@noon".parse::<FailureSurgeSpec>().is_err());
    }

    #[test]
    fn a_surge_on_an_unknown_name_lists_the_known_ones() {
        let org = SimulatedOrg::demo();
        let surge = |target: &str| FailureSurge {
            target: target.into(),
            start: "2026-08-20T14:00:00Z".parse().unwrap(),
        };
        assert_eq!(surge("Main IVR").check_flow(&org), Ok(()));
        let id = Architect::of(&org).flows[2].id.clone();
        assert_eq!(surge(&id).check_flow(&org), Ok(()), "or by ID");
        assert_eq!(
            surge("Main menu").check_flow(&org).unwrap_err(),
            "flow surge: no flow with the ID or name 'Main menu'; the simulated ones are Main IVR, Retention IVR, Web Chat"
        );
        assert_eq!(surge("Create case").check_action(&org), Ok(()));
        let error = surge("Main IVR").check_action(&org).unwrap_err();
        assert!(
            error.ends_with("are Lookup account, Check balance, Create case"),
            "{error}"
        );
        assert_eq!(surge("Edge HQ 2").check_edge(&org), Ok(()));
        let hq1 = crate::edges(&org)[0].id.clone();
        assert_eq!(surge(&hq1).check_edge(&org), Ok(()), "or by ID");
        assert_eq!(
            surge("Edge HQ 3").check_edge(&org).unwrap_err(),
            "Edge surge: no Edge with the ID or name 'Edge HQ 3'; the simulated ones are Edge HQ 1, Edge HQ 2, Cloud Media 1"
        );
        // The simulator ignores one it would refuse.
        let sim = crate::Simulator::new(crate::SimulatorConfig {
            flow_surge: Some(surge("Main menu")),
            action_surge: Some(surge("Create case")),
            edge_degrade: Some(surge("Edge HQ 3")),
            ..Default::default()
        });
        assert_eq!(sim.state.config.edge_degrade, None);
        sim.flow_truth(|_, _, surges| {
            assert!(surges.flow.is_none());
            assert_eq!(surges.action, Some(&surge("Create case")));
        });
    }
}
