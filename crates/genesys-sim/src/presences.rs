//! The org's presence definitions: what agents can set their status to, named by the org
//! (so not as the system presences are: "Taking calls" is `OnQueue`), two of them for one
//! system presence (`Break`: "Break" and "Coffee"), with stable UUID-shaped IDs; the list
//! `GET /api/v2/presence/definitions` serves, and the `systemToOrganizationMappings` of an
//! observations answer.

use std::collections::BTreeMap;

use axum::Json;
use axum::response::{IntoResponse, Response};

use super::random::{fnv1a, uuid_from};
use genesys_wire::{PresenceDefinition, PresenceDefinitions};

/// The org presences: name, system presence (in the API's case), and whether the org
/// added it (`User`) rather than renamed a built-in one (`System`).
const PRESENCES: [(&str, &str, bool); 11] = [
    ("Available", "Available", false),
    ("Away from desk", "Away", false),
    ("Busy", "Busy", false),
    ("Offline", "Offline", false),
    ("Idle", "Idle", false),
    ("Taking calls", "OnQueue", false),
    ("Lunch", "Meal", false),
    ("Training", "Training", false),
    ("In a meeting", "Meeting", false),
    ("Break", "Break", false),
    ("Coffee", "Break", true),
];

/// The number of org presences: one `oUserPresences` row each.
pub(super) const PRESENCE_COUNT: usize = PRESENCES.len();

/// Positions in [`PRESENCES`] that the agent model puts people in.
pub(super) const OFFLINE: usize = 3;
pub(super) const ON_QUEUE: usize = 5;
pub(super) const MEETING: usize = 8;

/// How likely an agent who is logged in but off queue is in each presence (none is
/// offline or on queue).
pub(super) const OFF_QUEUE_WEIGHTS: [f64; PRESENCE_COUNT] =
    [3.0, 2.0, 2.0, 0.0, 1.0, 0.0, 2.0, 1.0, 2.0, 2.0, 1.0];

/// The ID of the org presence at `index` in the list.
pub(super) fn presence_id(index: usize) -> String {
    let name = PRESENCES.get(index).map_or("", |p| p.0);
    uuid_from(fnv1a(&[b"presence", name.as_bytes()]))
}

/// The system presence of the org presence at `index`, as the agent-state counts and the
/// mapping keys spell it (`ON_QUEUE`).
pub(super) fn system_presence(index: usize) -> String {
    mapping_key(PRESENCES.get(index).map_or("Unknown", |p| p.1))
}

/// The org's presence definitions, as `GET /api/v2/presence/definitions` answers.
pub fn presence_definitions() -> PresenceDefinitions {
    let entities: Vec<PresenceDefinition> = PRESENCES
        .iter()
        .enumerate()
        .map(|(index, &(name, system, added))| PresenceDefinition {
            id: presence_id(index),
            name: name.to_string(),
            kind: if added { "User" } else { "System" }.to_string(),
            system_presence: system.to_string(),
            deactivated: false,
        })
        .collect();
    PresenceDefinitions {
        total: entities.len() as u64,
        entities,
    }
}

/// System presence (`ON_QUEUE`, `BREAK`, ...) → the IDs of the org presences that map to
/// it, as an observations answer gives it.
pub fn system_to_organization_mappings() -> BTreeMap<String, Vec<String>> {
    let mut mappings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (index, &(_, system, _)) in PRESENCES.iter().enumerate() {
        mappings
            .entry(mapping_key(system))
            .or_default()
            .push(presence_id(index));
    }
    mappings
}

/// `OnQueue` → `ON_QUEUE`: the mapping keys spell the system presences in upper snake case.
fn mapping_key(system: &str) -> String {
    let mut key = String::new();
    for (i, c) in system.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            key.push('_');
        }
        key.push(c.to_ascii_uppercase());
    }
    key
}

/// `GET PRESENCES_PATH`: the org's presence definitions (not paged).
pub(super) async fn list() -> Response {
    Json(presence_definitions()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_presences_are_named_apart_from_the_system_ones_and_map_to_them() {
        let definitions = presence_definitions();
        assert_eq!(definitions.total, 11);
        let find = |name: &str| {
            definitions
                .entities
                .iter()
                .find(|p| p.name == name)
                .unwrap()
        };
        assert_eq!(find("Taking calls").system_presence, "OnQueue");
        assert_eq!(find("Lunch").system_presence, "Meal");
        assert_eq!(find("Coffee").kind, "User");
        assert_eq!(find("Break").kind, "System");
        let mappings = system_to_organization_mappings();
        assert_eq!(
            mappings.keys().collect::<Vec<_>>(),
            [
                "AVAILABLE",
                "AWAY",
                "BREAK",
                "BUSY",
                "IDLE",
                "MEAL",
                "MEETING",
                "OFFLINE",
                "ON_QUEUE",
                "TRAINING"
            ]
        );
        assert_eq!(mappings["ON_QUEUE"], [find("Taking calls").id.clone()]);
        assert_eq!(
            mappings["BREAK"],
            [find("Break").id.clone(), find("Coffee").id.clone()]
        );
        // Every definition is in the mappings once, under its own system presence.
        let mapped: usize = mappings.values().map(Vec::len).sum();
        assert_eq!(mapped, definitions.entities.len());
        for presence in &definitions.entities {
            assert!(mappings[&mapping_key(&presence.system_presence)].contains(&presence.id));
            let parts: Vec<usize> = presence.id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12]);
        }
        // Stable: the same IDs every time, all different.
        assert_eq!(presence_definitions(), definitions);
        let mut ids: Vec<&str> = definitions.entities.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 11);
        assert_eq!(PRESENCES[ON_QUEUE].1, "OnQueue");
        assert_eq!(PRESENCES[OFFLINE].1, "Offline");
        assert_eq!(PRESENCES[MEETING].1, "Meeting");
        assert_eq!(
            OFF_QUEUE_WEIGHTS[ON_QUEUE] + OFF_QUEUE_WEIGHTS[OFFLINE],
            0.0
        );
    }
}
