//! The panics of the long-running tasks that are not a query's poller (those count in
//! `genesys_poller_panics_total{query}`): each org's directory refresh, and the process's
//! reload handling. The `task` label takes one of [`TASKS`], so the label set is bounded;
//! the directory's series carry the org's label (none for the unnamed org).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

/// Every value of the `task` label: an org's directory refresh (queue names and
/// presences), and the reload handling (process-wide, without an org label).
pub const TASKS: &[&str] = &[DIRECTORY, RELOAD];
pub const DIRECTORY: &str = "directory";
pub const RELOAD: &str = "reload";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    #[prometheus(flatten)]
    org: Org,
    task: &'static str,
}

/// One org's view of the task panic counter, which every org's view shares.
#[derive(Clone)]
pub struct TaskMetrics {
    org: Org,
    panics: Family<TaskLabel, Counter>,
}

impl TaskMetrics {
    /// Registers the family, with the reload handling's series at 0. The view is the
    /// unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> TaskMetrics {
        let metrics = TaskMetrics {
            org: Org::unnamed(),
            panics: registered(
                registry,
                "genesys_task_panics",
                "Times a long-running task other than a query's poller panicked (a bug) and was restarted: task is directory (an org's queue names and presences) or reload",
            ),
        };
        let _ = metrics.panics.get_or_create(&TaskLabel {
            org: Org::unnamed(),
            task: RELOAD,
        });
        metrics
    }

    /// The same family, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> TaskMetrics {
        TaskMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    fn label(&self, task: &'static str) -> TaskLabel {
        // The reload handling is the process's, whatever the view.
        let org = if task == RELOAD {
            Org::unnamed()
        } else {
            self.org.clone()
        };
        TaskLabel { org, task }
    }

    /// Starts this view's org's series at 0.
    pub(super) fn start(&self) {
        let _ = self.panics.get_or_create(&self.label(DIRECTORY));
    }

    /// Removes this view's org's series.
    pub(super) fn forget_org(&self) {
        if self.org != Org::unnamed() {
            self.panics.remove(&self.label(DIRECTORY));
        }
    }

    /// `task` (one of [`TASKS`]) panicked; it is restarted.
    pub fn panicked(&self, task: &'static str) {
        debug_assert!(TASKS.contains(&task), "{task}");
        self.panics.get_or_create(&self.label(task)).inc();
    }
}
