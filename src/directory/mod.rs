//! The org's directory: queue names for queue IDs (and the queues to observe), and the
//! presence definitions that name the observations' presences. One task reads them every
//! `queue_names_refresh`, puts the names on the published series, and tells the API budget
//! how many queues there are.

mod presences;
mod queue_names;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::budget::BudgetWatch;
use crate::exposition::Publisher;
use crate::genesys::client::Client;
use crate::metrics::Metrics;
use genesys_wire::time::Clock;

pub use presences::Presences;
pub use queue_names::QueueNames;

/// What the org knows of its queues and presences, from the last reads.
pub struct Directory {
    pub queues: QueueNames,
    pub presences: Presences,
    /// The most bytes all names held may take, queues and presences together
    /// (`max_directory_bytes`).
    max_bytes: u64,
}

/// What the directory task reads with and reports to.
pub struct Refresh {
    pub client: Arc<Client>,
    pub publisher: Arc<Publisher>,
    pub budget: Arc<BudgetWatch>,
    pub clock: Clock,
    pub every: Duration,
    /// Whether presences are read too (for the observations).
    pub presences: bool,
}

impl Directory {
    /// An empty directory; `max_pages` bounds a read of the queue list, and `max_bytes`
    /// the names held, queues and presences together.
    ///
    /// A read builds its map beside the one it replaces, so that a read that fails keeps
    /// the names known: while it reads, the names take at most `max_bytes` held and
    /// `max_bytes` read, besides the one answer being read.
    pub fn new(metrics: Arc<Metrics>, max_pages: u32, max_bytes: u64) -> Directory {
        Directory {
            queues: QueueNames::new(metrics.clone(), max_pages),
            presences: Presences::new(metrics),
            max_bytes,
        }
    }

    /// Starts the task that reads the directory every `refresh.every` until `stop`. The
    /// answer says how many queues its first read found, for the check of the budget at
    /// start-up; later reads are checked by the task itself.
    ///
    /// The directory has a task of its own, so that a queue list that is slow, hangs or
    /// pages for ever never keeps the collectors from starting.
    pub fn spawn(
        self: Arc<Self>,
        refresh: Refresh,
        stop: CancellationToken,
    ) -> (JoinHandle<()>, oneshot::Receiver<Option<usize>>) {
        let (first_read, first_queues) = oneshot::channel::<Option<usize>>();
        let task = tokio::spawn(async move {
            let mut first_read = Some(first_read);
            loop {
                let found = tokio::select! {
                    found = self.read_queues(&refresh) => found,
                    () = stop.cancelled() => return,
                };
                if refresh.presences {
                    // A failure keeps the names known, and was logged.
                    let read = tokio::select! {
                        read = self.presences.refresh(
                            &refresh.client,
                            self.max_bytes.saturating_sub(self.queues.held()),
                        ) => read,
                        () = stop.cancelled() => return,
                    };
                    if read.is_err() {
                        refresh.publisher.render_now(refresh.clock.now());
                    }
                }
                // The first read goes to the start-up check, unless it gave up waiting.
                let later = match first_read.take() {
                    Some(first_read) => first_read.send(found).err().flatten(),
                    None => found,
                };
                if let Some(queues) = later {
                    refresh.budget.directory_read(queues);
                }
                tokio::select! {
                    () = tokio::time::sleep(refresh.every) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
        (task, first_queues)
    }

    /// Reads the queue list and republishes with its names; a failure keeps the names
    /// known. Returns how many queues the list had, if it was read.
    async fn read_queues(&self, refresh: &Refresh) -> Option<usize> {
        let room = self.max_bytes.saturating_sub(self.presences.held());
        let Ok(found) = self.queues.refresh(&refresh.client, room).await else {
            // The failure's counters show now, not at the next poll's publish.
            refresh.publisher.render_now(refresh.clock.now());
            return None;
        };
        refresh
            .publisher
            .set_queue_names(self.queues.current(), refresh.clock.now());
        Some(found)
    }
}
