//! Queue names for queue IDs, from the paged queue list, refreshed on a timer.
//!
//! Names only ever get added or replaced: a renamed queue takes its new name at the next
//! refresh, and a deleted queue keeps its last known name, since its data can still be
//! in the published interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result, api_text};
use crate::genesys::client::Client;
use crate::genesys::queues;
use crate::metrics::Metrics;

pub type NameMap = Arc<HashMap<String, String>>;

pub struct QueueNames {
    names: RwLock<NameMap>,
    /// Whether the last refresh was refused for lack of permission, so that the warning
    /// is logged once and not at every refresh.
    forbidden: Mutex<bool>,
    metrics: Arc<Metrics>,
    /// The most pages of the queue list one refresh reads (`max_queue_pages`).
    max_pages: u32,
}

impl QueueNames {
    pub fn new(metrics: Arc<Metrics>, max_pages: u32) -> QueueNames {
        QueueNames {
            names: RwLock::default(),
            forbidden: Mutex::new(false),
            metrics,
            max_pages,
        }
    }

    /// The names known now, by queue ID.
    pub fn current(&self) -> NameMap {
        self.names.read().expect("not poisoned").clone()
    }

    /// Reads every page of the queue list and merges it into the known names. Returns
    /// how many queues the list had.
    pub async fn refresh(&self, client: &Client) -> Result<usize> {
        let listed = match queues::fetch_all(client, self.max_pages).await {
            Ok(listed) => listed,
            Err(error) => {
                self.metrics.queue_names.failed();
                self.report(&error);
                return Err(error);
            }
        };
        *self.forbidden.lock().expect("not poisoned") = false;
        let count = listed.len();
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
        tracing::debug!(queues = count, "queue names refreshed");
        Ok(count)
    }

    fn report(&self, error: &Error) {
        let forbidden = matches!(error, Error::Api { status: 403, .. });
        let mut was_forbidden = self.forbidden.lock().expect("not poisoned");
        if forbidden && !*was_forbidden {
            tracing::warn!(
                %error,
                "cannot read queue names: grant the OAuth client's role routing:queue:view; exporting queue IDs without names meanwhile"
            );
        } else if !forbidden {
            tracing::warn!(%error, "queue names not refreshed; keeping the names known so far");
        }
        *was_forbidden = forbidden;
    }
}
