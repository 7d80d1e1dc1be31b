//! The org's directory: queue names for queue IDs (and the queues to observe), the
//! presence definitions that name the observations' presences, and the names of flows (and
//! the flows to observe), flow outcomes and data actions, each list read only when a source
//! needs it. One task reads them every `queue_names_refresh`, puts the names on the
//! published series, and tells the API budget how many queues there are.

mod names;
mod presences;
mod queue_names;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::budget::{BudgetWatch, Pacer};
use crate::exposition::{NameMap, Publisher};
use crate::genesys::client::Client;
use crate::genesys::queue_list::PAGE_SIZE;
use crate::metrics::{DIRECTORY, Metrics};
use crate::supervise::{Task, supervise};
use genesys_wire::time::Clock;
use jiff::Timestamp;

use genesys_wire::catalogue::NameKind;
pub use names::{Names, OBSERVED_FLOW_TYPES, observed_flows};
pub use presences::Presences;
pub use queue_names::QueueNames;

/// What the org knows of its queues and presences, from the last reads.
pub struct Directory {
    pub queues: QueueNames,
    pub presences: Presences,
    /// Flow, flow outcome, data action and Edge names, in that order.
    pub lists: [Names; 4],
    /// The most bytes all names held may take, of every kind together
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
    /// Whether the queue list is read (for queue names, and the queues to observe).
    pub queues: bool,
    /// Whether presences are read too (for the observations).
    pub presences: bool,
    /// The other lists read: flows, flow outcomes, data actions, as the sources need.
    pub lists: Vec<NameKind>,
    /// The org's view of the registry, where a panic of the task counts.
    pub metrics: Arc<Metrics>,
    /// How long after a panic the task starts again.
    pub retry_delay: Duration,
    /// The org's start-up pacer, which each read waits for as a source's first
    /// collection does.
    pub pacer: Arc<Pacer>,
}

/// Where the first read's count of queues goes: the start-up check, once, whichever run
/// of the task reads first.
#[derive(Clone)]
struct FirstRead(Arc<Mutex<Option<oneshot::Sender<Option<usize>>>>>);

impl FirstRead {
    /// Hands `found` to the start-up check if this is the first read; else (or if the
    /// check gave up waiting) returns it, for the task to check.
    fn send(&self, found: Option<usize>) -> Option<usize> {
        let first = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match first {
            Some(first) => first.send(found).err().flatten(),
            None => found,
        }
    }
}

/// Runs the task `work` makes under the supervisor, counting its panics as the
/// directory's in `metrics`; `work` is given where the first read goes.
fn supervised<F, Fut>(
    metrics: &Metrics,
    retry_delay: Duration,
    stop: CancellationToken,
    work: F,
) -> (JoinHandle<()>, oneshot::Receiver<Option<usize>>)
where
    F: Fn(FirstRead) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, first_queues) = oneshot::channel();
    let first = FirstRead(Arc::new(Mutex::new(Some(sender))));
    let task = Task {
        kind: DIRECTORY,
        name: String::new(),
        org: metrics.org().clone(),
        retry_delay,
    };
    let counted = metrics.tasks.clone();
    let handle = supervise(
        task,
        stop,
        move || counted.panicked(DIRECTORY),
        move || work(first.clone()),
    );
    (handle, first_queues)
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
            presences: Presences::new(metrics.clone()),
            lists: [
                NameKind::Flow,
                NameKind::FlowOutcome,
                NameKind::Action,
                NameKind::Edge,
            ]
            .map(|kind| Names::new(kind, metrics.clone(), max_pages)),
            max_bytes,
        }
    }

    /// Starts the task that reads the directory every `refresh.every` until `stop`, under
    /// the supervisor (a panic is counted in `genesys_task_panics_total{task="directory"}`
    /// and the task starts again, the names known kept). The answer says how many queues
    /// its first read found, for the check of the budget at start-up; later reads are
    /// checked by the task itself.
    ///
    /// The directory has a task of its own, so that a queue list that is slow, hangs or
    /// pages for ever never keeps the collectors from starting.
    pub fn spawn(
        self: Arc<Self>,
        refresh: Refresh,
        stop: CancellationToken,
    ) -> (JoinHandle<()>, oneshot::Receiver<Option<usize>>) {
        let (metrics, retry_delay) = (refresh.metrics.clone(), refresh.retry_delay);
        let refresh = Arc::new(refresh);
        let reading = stop.clone();
        supervised(&metrics, retry_delay, stop, move |first| {
            let (directory, refresh, stop) = (self.clone(), refresh.clone(), reading.clone());
            async move { directory.keep_reading(&refresh, &first, &stop).await }
        })
    }

    /// Reads the directory every `refresh.every`, until `stop`.
    async fn keep_reading(&self, refresh: &Refresh, first: &FirstRead, stop: &CancellationToken) {
        loop {
            // Through the pacer, so that the reads at start-up and the first collections
            // together stay inside the org's budget.
            let requests = read_requests(
                refresh.queues.then(|| refresh.budget.queues()),
                refresh.presences,
            )
            .saturating_add(self.lists_requests(&refresh.lists));
            tokio::select! {
                () = refresh.pacer.admit(requests) => {}
                () = stop.cancelled() => return,
            }
            let found = if refresh.queues {
                tokio::select! {
                    found = self.read_queues(refresh) => found,
                    () = stop.cancelled() => return,
                }
            } else {
                None
            };
            if refresh.presences {
                // A failure keeps the names known, and was logged.
                let read = tokio::select! {
                    read = self.presences.refresh(
                        &refresh.client,
                        self.room(self.presences.held()),
                    ) => read,
                    () = stop.cancelled() => return,
                };
                if read.is_err() {
                    // The failure's counters show now, not at the next poll's publish.
                    refresh.publisher.render_now(refresh.clock.now());
                }
            }
            for names in self
                .lists
                .iter()
                .filter(|n| refresh.lists.contains(&n.kind()))
            {
                tokio::select! {
                    () = self.read_names(names, refresh) => {}
                    () = stop.cancelled() => return,
                }
            }
            if let Some(queues) = first.send(found) {
                refresh.budget.directory_read(queues);
            }
            tokio::select! {
                () = tokio::time::sleep(refresh.every) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    /// What names of any kind hold now, by the account of `max_directory_bytes`.
    fn held(&self) -> u64 {
        self.lists
            .iter()
            .map(Names::held)
            .fold(self.queues.held(), u64::saturating_add)
            .saturating_add(self.presences.held())
    }

    /// The bytes a read may hold, in place of the names it replaces, which hold `own`.
    fn room(&self, own: u64) -> u64 {
        self.max_bytes
            .saturating_sub(self.held().saturating_sub(own))
    }

    /// The requests one read of `lists` sends: a page per 100 entries known, at least one.
    fn lists_requests(&self, lists: &[NameKind]) -> u64 {
        self.lists
            .iter()
            .filter(|names| lists.contains(&names.kind()))
            .map(|names| {
                let known = names.listed().map_or(0, |listed| listed.len());
                known.div_ceil(PAGE_SIZE as usize).max(1) as u64
            })
            .fold(0, u64::saturating_add)
    }

    /// Reads one list of names and republishes with them; a failure keeps the names known.
    async fn read_names(&self, names: &Names, refresh: &Refresh) {
        let read = names
            .refresh(&refresh.client, self.room(names.held()))
            .await;
        if read.is_ok() {
            refresh
                .publisher
                .set_names(names.kind(), names.current(), refresh.clock.now());
        } else {
            // The failure's counters show now, not at the next poll's publish.
            refresh.publisher.render_now(refresh.clock.now());
        }
    }

    /// Forgets the names of every list not in `read` (a reload removed the query that
    /// needed it), here and on `publisher`'s series from `now`: they hold no memory, and
    /// count no more against `max_directory_bytes`.
    pub fn forget_unread(&self, read: &[NameKind], publisher: &Publisher, now: Timestamp) {
        for kind in self.forget_lists_not_in(read) {
            publisher.set_names(kind, NameMap::default(), now);
        }
    }

    /// Forgets the names of the lists not in `read` that hold any; the kinds forgotten.
    fn forget_lists_not_in(&self, read: &[NameKind]) -> Vec<NameKind> {
        self.lists
            .iter()
            .filter(|names| !read.contains(&names.kind()) && names.listed().is_some())
            .map(|names| {
                names.forget();
                names.kind()
            })
            .collect()
    }

    /// The names of `kind` (not queues).
    pub fn names(&self, kind: NameKind) -> Option<&Names> {
        self.lists.iter().find(|names| names.kind() == kind)
    }

    /// Reads the queue list and republishes with its names; a failure keeps the names
    /// known. Returns how many queues the list had, if it was read.
    async fn read_queues(&self, refresh: &Refresh) -> Option<usize> {
        let room = self.room(self.queues.held());
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

/// The requests one read of the directory's queues and presences sends: a page of the
/// queue list per 100 of the `queues` known (at least one) when it is read, and the
/// presence definitions when they are.
fn read_requests(queues: Option<usize>, presences: bool) -> u64 {
    let pages = queues.map_or(0, |queues| queues.div_ceil(PAGE_SIZE as usize).max(1));
    u64::try_from(pages)
        .unwrap_or(u64::MAX)
        .saturating_add(u64::from(presences))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::genesys::paged::Read;

    #[tokio::test(start_paused = true)]
    async fn a_directory_task_that_panics_is_counted_and_its_restart_still_answers_the_first_read()
    {
        let metrics = Arc::new(Metrics::new(["q"]));
        let runs = Arc::new(AtomicU32::new(0));
        let counting = runs.clone();
        let retry_delay = Duration::from_secs(30);
        let began = tokio::time::Instant::now();
        let (task, first_queues) = supervised(
            &metrics,
            retry_delay,
            CancellationToken::new(),
            move |first| {
                let run = counting.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run == 0 {
                        panic!("a directory bug");
                    }
                    assert_eq!(
                        first.send(Some(5)),
                        None,
                        "the first read goes to the check"
                    );
                }
            },
        );
        assert_eq!(first_queues.await.unwrap(), Some(5));
        task.await.unwrap();
        assert_eq!(began.elapsed(), retry_delay);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(
            metrics.sample("genesys_task_panics_total{task=\"directory\"}"),
            Some(1.0)
        );
    }

    #[test]
    fn a_list_read_no_more_is_forgotten_and_no_longer_counts_against_the_bound() {
        let directory = Directory::new(Arc::new(Metrics::new([])), 10, 10_000);
        let read = |id: &str, bytes| Read {
            entries: vec![(id.into(), "a name".into(), String::new())],
            bytes,
            ..Read::default()
        };
        let [flows, outcomes, actions, _edges] = &directory.lists;
        flows.keep(read("f1", 300));
        outcomes.keep(read("o1", 200));
        actions.keep(read("a1", 100));
        assert_eq!(directory.held(), 600);

        // The flows query removed, the flow observations still on: the flows stay.
        let forgotten = directory.forget_lists_not_in(&[NameKind::Flow]);
        assert_eq!(forgotten, [NameKind::FlowOutcome, NameKind::Action]);
        assert_eq!(directory.held(), 300);
        assert_eq!(directory.room(0), 10_000 - 300);
        assert!(outcomes.listed().is_none() && outcomes.current().is_empty());
        assert!(actions.listed().is_none() && actions.current().is_empty());
        assert_eq!(flows.current()["f1"], "a name");
        assert!(
            directory.forget_lists_not_in(&[NameKind::Flow]).is_empty(),
            "nothing left to forget"
        );
    }

    #[test]
    fn a_read_costs_a_page_per_hundred_queues_known_and_the_presences() {
        assert_eq!(
            read_requests(Some(0), false),
            1,
            "the first read asks for one page"
        );
        assert_eq!(read_requests(Some(100), false), 1);
        assert_eq!(read_requests(Some(101), true), 3);
        assert_eq!(read_requests(None, false), 0, "the queue list not read");
        assert_eq!(
            read_requests(Some(usize::MAX), true),
            184_467_440_737_095_518,
            "no overflow"
        );
    }
}
