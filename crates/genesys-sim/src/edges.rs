//! The org's Edges: the telephony that carries its voice calls. Every voice call enters on
//! one of them ([`crate::voice_calls`]), its conversation errors happen on them, and the
//! telephony endpoints list them with their trunks.

use super::random::{fnv1a, uuid_from};
use super::simulated_org::SimulatedOrg;

/// One Edge: two hardware Edges at the headquarters and a cloud media Edge, which reports
/// no hardware metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEdge {
    pub id: String,
    pub name: &'static str,
    pub site: &'static str,
    /// `edgeDeploymentType`: `HARDWARE` or `CDM`.
    pub deployment: &'static str,
}

const EDGES: [(&str, &str, &str); 3] = [
    ("Edge HQ 1", "Headquarters", "HARDWARE"),
    ("Edge HQ 2", "Headquarters", "HARDWARE"),
    ("Cloud Media 1", "Cloud", "CDM"),
];

/// The org's Edges, in a stable order.
pub fn edges(org: &SimulatedOrg) -> Vec<SimEdge> {
    edge_ids(org)
        .into_iter()
        .zip(EDGES)
        .map(|(id, (name, site, deployment))| SimEdge {
            id,
            name,
            site,
            deployment,
        })
        .collect()
}

/// The IDs of the org's Edges: the demo's, or drawn from a named org's name.
pub fn edge_ids(org: &SimulatedOrg) -> Vec<String> {
    (0..EDGES.len())
        .map(|index| {
            let index = index.to_string();
            match &org.name {
                None => uuid_from(fnv1a(&[b"edge", index.as_bytes()])),
                Some(name) => uuid_from(fnv1a(&[b"edge", index.as_bytes(), name.as_bytes()])),
            }
        })
        .collect()
}

/// The Edge a call whose draws are seeded by `seed` enters on, as an index into
/// [`edges`]: 45% on each hardware Edge, 10% in the cloud.
pub(super) fn edge_of(seed: u64) -> usize {
    match seed % 20 {
        0..9 => 0,
        9..18 => 1,
        _ => 2,
    }
}
