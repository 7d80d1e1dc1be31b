//! The names put beside IDs at publish: an org's queue, flow, flow outcome and data action
//! names, each kind read by the directory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use genesys_wire::catalogue::NameKind;

/// Names by ID, of one kind (queues, flows, ...).
pub type NameMap = Arc<HashMap<String, String>>;

/// An org's names by ID, per kind of ID: what goes beside `queue_id`, `flow_id`,
/// `flow_outcome_id` and `action_id`. A kind never read has none.
#[derive(Debug, Clone, Default)]
pub struct Names {
    maps: BTreeMap<NameKind, NameMap>,
}

impl Names {
    /// The name of the `kind` ID `id`, if known.
    pub fn get(&self, kind: NameKind, id: &str) -> Option<&str> {
        self.maps.get(&kind)?.get(id).map(String::as_str)
    }

    /// Replaces the names of `kind`.
    pub fn set(&mut self, kind: NameKind, names: NameMap) {
        self.maps.insert(kind, names);
    }
}
