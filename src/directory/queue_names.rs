//! Queue names for queue IDs, from the paged queue list, refreshed on a timer.
//!
//! Each complete read of the list builds a new map and swaps it in whole: a renamed queue
//! takes its new name at the next refresh, and a deleted queue loses its name then (its
//! series, if still in the published interval, carry its ID alone). Keeping every name
//! ever seen let a list that changes its IDs at each read grow memory without bound. A
//! read that fails, or whose names pass the directory's bound, keeps the map it had.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result, api_text};
use crate::exposition::NameMap;
use crate::genesys::client::Client;
use crate::genesys::queue_list;
use crate::metrics::Metrics;
use genesys_wire::Division;

pub struct QueueNames {
    names: RwLock<NameMap>,
    /// The queues of the last successful read, in the list's order: the queues to observe.
    listed: RwLock<Option<Arc<[String]>>>,
    /// The divisions of those queues, by name (then ID): the agent states' breakdown.
    divisions: RwLock<Option<Arc<[Division]>>>,
    /// What `names` holds, by the account of `max_directory_bytes`.
    held: AtomicU64,
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
            divisions: RwLock::default(),
            held: AtomicU64::new(0),
            refused: Refused::default(),
            metrics,
            max_pages,
        }
    }

    /// The names known now, by queue ID.
    pub fn current(&self) -> NameMap {
        self.names.read().expect("not poisoned").clone()
    }

    /// What the names known now hold, by the account of `max_directory_bytes`.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The IDs of the queues the last successful read of the queue list found; `None`
    /// until a read succeeds.
    pub fn listed(&self) -> Option<Arc<[String]>> {
        self.listed.read().expect("not poisoned").clone()
    }

    /// The divisions of the queues the last successful read found, by name; `None` until
    /// a read succeeds.
    pub fn divisions(&self) -> Option<Arc<[Division]>> {
        self.divisions.read().expect("not poisoned").clone()
    }

    /// Reads every page of the queue list into a new map of names and swaps it in, if its
    /// names hold at most `max_bytes`. Returns how many queues the list had.
    pub async fn refresh(&self, client: &Client, max_bytes: u64) -> Result<usize> {
        let mut listed = match queue_list::fetch_all(client, self.max_pages, max_bytes).await {
            Ok(listed) => listed,
            Err(error) => {
                self.metrics.queue_names.failed();
                count_over_limit(&self.metrics, &error);
                self.report(&error);
                return Err(error);
            }
        };
        self.refused.clear();
        self.metrics.limits.labels_cut(listed.labels_cut);
        let mut divisions: Vec<Division> = std::mem::take(&mut listed.divisions)
            .into_iter()
            .map(|(id, name)| Division { id, name })
            .collect();
        divisions.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        let count = listed.queues.len();
        // A list that names a queue twice would have it observed twice.
        let mut seen = HashSet::new();
        let ids: Arc<[String]> = listed
            .queues
            .iter()
            .filter(|(id, _)| seen.insert(id.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        drop(seen);
        let old = self.current();
        let mut names = HashMap::with_capacity(ids.len());
        for (id, name) in listed.queues {
            if let Some(was) = old.get(&id)
                && *was != name
            {
                tracing::info!(
                    queue_id = %api_text(&id),
                    old = %api_text(was),
                    new = %api_text(&name),
                    "queue renamed"
                );
            }
            names.insert(id, name);
        }
        drop(old);
        self.metrics.queue_names.refreshed(names.len());
        *self.names.write().expect("not poisoned") = Arc::new(names);
        self.held.store(listed.bytes, Ordering::Relaxed);
        *self.listed.write().expect("not poisoned") = Some(ids);
        *self.divisions.write().expect("not poisoned") = Some(divisions.into());
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

/// Counts a read stopped at `max_directory_bytes`, if `error` is one.
pub fn count_over_limit(metrics: &Metrics, error: &Error) {
    if let Error::DirectoryTooLarge { endpoint, .. } = error {
        metrics.limits.directory_over_limit();
        metrics.api.failed(*endpoint, error.reason());
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
