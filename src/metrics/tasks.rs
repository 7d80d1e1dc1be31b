//! The panics of an org's long-running tasks that are not a query's poller (those count in
//! `genesys_poller_panics_total{query}`): its directory refresh. (The reload handling is
//! the process's: `genesys_exporter_config_reload_panics_total`.) The `task` label takes
//! one of [`TASKS`], so the label set is bounded; the series carry the org's label (none
//! for the unnamed org).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::registered;
use crate::org::Org;

/// Every value of the `task` label: an org's directory refresh (queue names and
/// presences).
pub const TASKS: &[&str] = &[DIRECTORY];
pub const DIRECTORY: &str = "directory";

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
    /// Registers the family, without any series: [`TaskMetrics::start`] starts an org's.
    /// The view is the unnamed org's.
    pub(super) fn register(registry: &mut Registry) -> TaskMetrics {
        TaskMetrics {
            org: Org::unnamed(),
            panics: registered(
                registry,
                "genesys_task_panics",
                "Times an org's long-running task other than a query's poller panicked (a bug) and was restarted: task is directory (its queue names and presences)",
            ),
        }
    }

    /// The same family, labelled with `org`.
    pub(super) fn for_org(&self, org: &Org) -> TaskMetrics {
        TaskMetrics {
            org: org.clone(),
            ..self.clone()
        }
    }

    fn label(&self, task: &'static str) -> TaskLabel {
        TaskLabel {
            org: self.org.clone(),
            task,
        }
    }

    /// Starts this view's org's series at 0.
    pub(super) fn start(&self) {
        for task in TASKS {
            let _ = self.panics.get_or_create(&self.label(task));
        }
    }

    /// Removes this view's org's series.
    pub(super) fn forget_org(&self) {
        for task in TASKS {
            self.panics.remove(&self.label(task));
        }
    }

    /// `task` (one of [`TASKS`]) panicked; it is restarted.
    pub fn panicked(&self, task: &'static str) {
        debug_assert!(TASKS.contains(&task), "{task}");
        self.panics.get_or_create(&self.label(task)).inc();
    }
}
