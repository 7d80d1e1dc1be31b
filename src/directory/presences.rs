//! Presence names for org presence IDs, from `GET /api/v2/presence/definitions`, refreshed
//! with the queue names. The observations' `oUserPresences` rows are qualified by these IDs.
//!
//! As with queue names, each read builds a new map and swaps it in: a deleted presence
//! loses its name at the next read (its rows, if any, are labelled by its ID). Names are
//! cut to `max_label_value_bytes`, and a read whose names, with the queue names held, pass
//! `max_directory_bytes` is refused, keeping the names known. Without `presence:presenceDefinition:view` (a 403) the exporter
//! warns once and labels presences by their ID, with the system presence taken from the
//! observation answer's own `systemToOrganizationMappings`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::queue_names::{Refusal, Refused};
use crate::error::{Error, Result};
use crate::exposition::{Presence, PresenceMap};
use crate::genesys::client::Client;
use crate::genesys::queue_list::entry_bytes;
use crate::metrics::Metrics;
use genesys_wire::Endpoint;
use genesys_wire::labels::cap_owned;

pub struct Presences {
    known: RwLock<PresenceMap>,
    /// What `known` holds, by the account of `max_directory_bytes`.
    held: AtomicU64,
    refused: Refused,
    metrics: Arc<Metrics>,
}

impl Presences {
    pub fn new(metrics: Arc<Metrics>) -> Presences {
        Presences {
            known: RwLock::default(),
            held: AtomicU64::new(0),
            refused: Refused::default(),
            metrics,
        }
    }

    /// The presences known now, by org presence ID.
    pub fn current(&self) -> PresenceMap {
        self.known.read().expect("not poisoned").clone()
    }

    /// What the presences known now hold, by the account of `max_directory_bytes`.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Reads the presence definitions into a new map and swaps it in, if its names hold at
    /// most `max_bytes`. Returns how many the org has.
    pub async fn refresh(&self, client: &Client, max_bytes: u64) -> Result<usize> {
        let definitions = match client.presences().await {
            Ok(definitions) => definitions,
            Err(error) => {
                self.report(&error);
                return Err(error);
            }
        };
        let count = definitions.entities.len();
        let mut cuts = 0;
        let mut bytes: u64 = 0;
        let mut known = HashMap::with_capacity(count);
        for definition in definitions.entities {
            let id = cap_owned(definition.id, &mut cuts);
            let name = cap_owned(definition.name, &mut cuts);
            let system_presence = cap_owned(definition.system_presence, &mut cuts);
            bytes = bytes.saturating_add(entry_bytes(&id, &name, &system_presence));
            if bytes > max_bytes {
                let error = Error::DirectoryTooLarge {
                    endpoint: Endpoint::Presences,
                    limit: max_bytes,
                };
                self.metrics.limits.directory_over_limit();
                self.metrics.api.failed(Endpoint::Presences, error.reason());
                self.report(&error);
                return Err(error);
            }
            known.insert(
                id,
                Presence {
                    name,
                    system_presence,
                },
            );
        }
        self.refused.clear();
        self.metrics.limits.labels_cut(cuts);
        *self.known.write().expect("not poisoned") = Arc::new(known);
        self.held.store(bytes, Ordering::Relaxed);
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
