//! Presence names for org presence IDs, from `GET /api/v2/presence/definitions`, refreshed
//! with the queue names. The observations' `oUserPresences` rows are qualified by these IDs.
//!
//! As with queue names, definitions only get added or replaced: a deleted presence keeps
//! its last known name. Without `presence:presenceDefinition:view` (a 403) the exporter
//! warns once and labels presences by their ID, with the system presence taken from the
//! observation answer's own `systemToOrganizationMappings`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::queue_names::{Refusal, Refused};
use crate::error::{Error, Result};
use crate::exposition::{Presence, PresenceMap};
use crate::genesys::client::Client;
use genesys_wire::Endpoint;

#[derive(Default)]
pub struct Presences {
    known: RwLock<PresenceMap>,
    refused: Refused,
}

impl Presences {
    pub fn new() -> Presences {
        Presences::default()
    }

    /// The presences known now, by org presence ID.
    pub fn current(&self) -> PresenceMap {
        self.known.read().expect("not poisoned").clone()
    }

    /// Reads the presence definitions and merges them into the known ones. Returns how
    /// many the org has.
    pub async fn refresh(&self, client: &Client) -> Result<usize> {
        let definitions = match client.presences().await {
            Ok(definitions) => definitions,
            Err(error) => {
                self.report(&error);
                return Err(error);
            }
        };
        self.refused.clear();
        let count = definitions.entities.len();
        let mut known = HashMap::clone(&self.current());
        for definition in definitions.entities {
            known.insert(
                definition.id,
                Presence {
                    name: definition.name,
                    system_presence: definition.system_presence,
                },
            );
        }
        *self.known.write().expect("not poisoned") = Arc::new(known);
        tracing::debug!(presences = count, "presence definitions refreshed");
        Ok(count)
    }

    fn report(&self, error: &Error) {
        match self.refused.note(error) {
            Refusal::First => tracing::warn!(
                %error,
                "cannot read presence names: grant the OAuth client's role {}; labelling presences by their ID meanwhile, with system_presence from the observations",
                Endpoint::Presences.permission()
            ),
            Refusal::Again => {}
            Refusal::Other => tracing::warn!(
                %error,
                "presence names not refreshed; keeping the names known so far"
            ),
        }
    }
}
