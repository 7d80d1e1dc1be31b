//! Queue names for queue IDs, from the paged queue list, refreshed on a timer.
//!
//! Names only ever get added or replaced: a renamed queue takes its new name at the next
//! refresh, and a deleted queue keeps its last known name, since its data can still be
//! in the published interval.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result, api_text};
use crate::exposition::NameMap;
use crate::genesys::client::Client;
use crate::genesys::queue_list;
use crate::metrics::Metrics;

pub struct QueueNames {
    names: RwLock<NameMap>,
    /// The queues of the last successful read, in the list's order: the queues to observe.
    listed: RwLock<Option<Arc<[String]>>>,
    refused: Refused,
    metrics: Arc<Metrics>,
    /// The most pages of the queue list one refresh reads (`max_queue_pages`).
    max_pages: u32,
}

impl QueueNames {
    pub fn new(metrics: Arc<Metrics>, max_pages: u32) -> QueueNames {
        QueueNames {
            names: RwLock::default(),
            listed: RwLock::default(),
            refused: Refused::default(),
            metrics,
            max_pages,
        }
    }

    /// The names known now, by queue ID.
    pub fn current(&self) -> NameMap {
        self.names.read().expect("not poisoned").clone()
    }

    /// The IDs of the queues the last successful read of the queue list found, without
    /// those deleted since (unlike the names); `None` until a read succeeds.
    pub fn listed(&self) -> Option<Arc<[String]>> {
        self.listed.read().expect("not poisoned").clone()
    }

    /// Reads every page of the queue list and merges it into the known names. Returns
    /// how many queues the list had.
    pub async fn refresh(&self, client: &Client) -> Result<usize> {
        let listed = match queue_list::fetch_all(client, self.max_pages).await {
            Ok(listed) => listed,
            Err(error) => {
                self.metrics.queue_names.failed();
                self.report(&error);
                return Err(error);
            }
        };
        self.refused.clear();
        let count = listed.len();
        // A list that names a queue twice would have it observed twice.
        let mut seen = HashSet::new();
        let ids: Arc<[String]> = listed
            .iter()
            .filter(|queue| seen.insert(queue.id.as_str()))
            .map(|queue| queue.id.clone())
            .collect();
        let mut names = HashMap::clone(&self.current());
        for queue in listed {
            if let Some(old) = names.insert(queue.id.clone(), queue.name.clone())
                && old != queue.name
            {
                tracing::info!(
                    queue_id = %api_text(&queue.id),
                    old = %api_text(&old),
                    new = %api_text(&queue.name),
                    "queue renamed"
                );
            }
        }
        self.metrics.queue_names.refreshed(names.len());
        *self.names.write().expect("not poisoned") = Arc::new(names);
        *self.listed.write().expect("not poisoned") = Some(ids);
        tracing::debug!(queues = count, "queue names refreshed");
        Ok(count)
    }

    fn report(&self, error: &Error) {
        match self.refused.note(error) {
            Refusal::First => tracing::warn!(
                %error,
                "cannot read queue names: grant the OAuth client's role routing:queue:view; exporting queue IDs without names meanwhile"
            ),
            Refusal::Again => {}
            Refusal::Other => {
                tracing::warn!(%error, "queue names not refreshed; keeping the names known so far")
            }
        }
    }
}

/// Whether the last read was refused for lack of permission, so that the warning that
/// names the permission is logged once, not at every refresh.
#[derive(Debug, Default)]
pub struct Refused(Mutex<bool>);

/// What a failed read calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A 403 after a read that was not refused: warn, naming the permission.
    First,
    /// A 403 after a 403: said already.
    Again,
    /// Any other failure: warn.
    Other,
}

impl Refused {
    /// Notes a failed read, and says what it calls for.
    pub fn note(&self, error: &Error) -> Refusal {
        let forbidden = matches!(error, Error::Api { status: 403, .. });
        let was_forbidden =
            std::mem::replace(&mut *self.0.lock().expect("not poisoned"), forbidden);
        match (forbidden, was_forbidden) {
            (true, false) => Refusal::First,
            (true, true) => Refusal::Again,
            (false, _) => Refusal::Other,
        }
    }

    /// A read succeeded.
    pub fn clear(&self) {
        *self.0.lock().expect("not poisoned") = false;
    }
}
