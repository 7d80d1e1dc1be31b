//! Names for the IDs of the flows and data actions queries: flows (with their types, the
//! flows to observe), flow outcomes and data actions, each from its paged list, read with
//! the queue names and bounded as they are.
//!
//! As with queue names, each read builds a new map and swaps it in whole; a read that
//! fails, or whose names pass the directory's bound, keeps the names known. Without the
//! list's permission (a 403) the exporter warns once, naming it, and the series keep
//! their IDs without names: a missing name is no outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::queue_names::{Refusal, Refused, count_over_limit};
use crate::error::{Error, Result};
use crate::exposition::NameMap;
use crate::genesys::client::Client;
use crate::genesys::paged::{self, List, Read};
use crate::metrics::Metrics;
use genesys_wire::catalogue::NameKind;
use genesys_wire::{
    ACTIONS_PATH, EDGES_PATH, FLOW_OUTCOMES_PATH, FLOWS_PATH, FlowEntity, NamedEntity, QUEUES_PATH,
};

/// The flow types a conversation waits in, which the flow observations observe.
pub const OBSERVED_FLOW_TYPES: &[&str] = &[
    "INBOUNDCALL",
    "INBOUNDCHAT",
    "INBOUNDEMAIL",
    "INBOUNDSHORTMESSAGE",
    "BOT",
    "DIGITALBOT",
];

/// The (ID, type) pairs of a list's entries, in its order; the type is empty but for flows.
pub type Listed = Arc<[(String, String)]>;

/// One kind of names (flows, flow outcomes or data actions), from its list.
pub struct Names {
    kind: NameKind,
    names: RwLock<NameMap>,
    /// (ID, type) of each entry of the last successful read, in the list's order; the
    /// type is empty but for flows.
    listed: RwLock<Option<Listed>>,
    /// What `names` holds, by the account of `max_directory_bytes`.
    held: AtomicU64,
    refused: Refused,
    metrics: Arc<Metrics>,
    /// The most pages of the list one refresh reads (`max_queue_pages`).
    max_pages: u32,
}

impl Names {
    /// The names of `kind`, which is not `Queue` (the queue names have [`QueueNames`](
    /// super::QueueNames)).
    pub fn new(kind: NameKind, metrics: Arc<Metrics>, max_pages: u32) -> Names {
        Names {
            kind,
            names: RwLock::default(),
            listed: RwLock::default(),
            held: AtomicU64::new(0),
            refused: Refused::default(),
            metrics,
            max_pages,
        }
    }

    pub fn kind(&self) -> NameKind {
        self.kind
    }

    /// The names known now, by ID.
    pub fn current(&self) -> NameMap {
        self.names.read().expect("not poisoned").clone()
    }

    /// What the names known now hold, by the account of `max_directory_bytes`.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The (ID, type) pairs the last successful read found; `None` until one succeeds.
    pub fn listed(&self) -> Option<Listed> {
        self.listed.read().expect("not poisoned").clone()
    }

    /// Reads every page of the list into a new map of names and swaps it in, if its names
    /// hold at most `max_bytes`. Returns how many entries the list had.
    pub async fn refresh(&self, client: &Client, max_bytes: u64) -> Result<usize> {
        let list = list_of(self.kind);
        let read = match self.kind {
            NameKind::Flow => {
                paged::read_all::<FlowEntity>(client, &list, self.max_pages, max_bytes).await
            }
            _ => paged::read_all::<NamedEntity>(client, &list, self.max_pages, max_bytes).await,
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                count_over_limit(&self.metrics, &error);
                self.report(&error);
                return Err(error);
            }
        };
        self.refused.clear();
        Ok(self.keep(read))
    }

    /// Drops the names known, as when the list is no longer read: they hold no memory and
    /// count no more against `max_directory_bytes`, and a source that reads the list again
    /// later waits for a fresh read rather than observing flows an old one found.
    pub fn forget(&self) {
        *self.names.write().expect("not poisoned") = NameMap::default();
        *self.listed.write().expect("not poisoned") = None;
        self.held.store(0, Ordering::Relaxed);
        self.refused.clear();
    }

    /// Swaps in the names of `read`; how many entries it had.
    pub(super) fn keep(&self, read: Read) -> usize {
        self.metrics.limits.labels_cut(read.labels_cut);
        let count = read.entries.len();
        let mut names = HashMap::with_capacity(count);
        let mut listed = Vec::with_capacity(count);
        for (id, name, kind) in read.entries {
            // A list that names an ID twice would have it observed twice.
            if names.insert(id.clone(), name).is_none() {
                listed.push((id, kind));
            }
        }
        *self.names.write().expect("not poisoned") = Arc::new(names);
        *self.listed.write().expect("not poisoned") = Some(listed.into());
        self.held.store(read.bytes, Ordering::Relaxed);
        tracing::debug!(list = %self.kind.endpoint(), entries = count, "names refreshed");
        count
    }

    fn report(&self, error: &Error) {
        let (what, ids) = match self.kind {
            NameKind::Flow => ("flow names", "flow IDs"),
            NameKind::FlowOutcome => ("flow outcome names", "flow outcome IDs"),
            NameKind::Action => ("data action names", "action IDs"),
            NameKind::Queue => ("queue names", "queue IDs"),
            NameKind::Edge => ("Edge names", "Edge IDs"),
        };
        match self.refused.note(error) {
            Refusal::First => tracing::warn!(
                %error,
                "cannot read {what}: grant the OAuth client's role {}; exporting {ids} without names meanwhile",
                self.kind.endpoint().permission()
            ),
            Refusal::Again => {}
            Refusal::Other => {
                tracing::warn!(%error, "{what} not refreshed; keeping the names known so far")
            }
        }
    }
}

/// The list `kind`'s names are read from: every flow (the observations pick theirs by
/// type), every outcome, every data action.
fn list_of(kind: NameKind) -> List {
    let path = match kind {
        NameKind::Flow => FLOWS_PATH,
        NameKind::FlowOutcome => FLOW_OUTCOMES_PATH,
        NameKind::Action => ACTIONS_PATH,
        NameKind::Queue => QUEUES_PATH,
        NameKind::Edge => EDGES_PATH,
    };
    List {
        endpoint: kind.endpoint(),
        path,
        filters: Vec::new(),
    }
}

/// The flows to observe, of those `listed`: the flows of the types a conversation waits
/// in, in the list's order.
pub fn observed_flows(listed: &[(String, String)]) -> Vec<(String, String)> {
    listed
        .iter()
        .filter(|(_, kind)| OBSERVED_FLOW_TYPES.contains(&kind.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_keeps_each_id_once_with_its_type_and_names_it() {
        let names = Names::new(NameKind::Flow, Arc::new(Metrics::new([])), 10);
        assert!(names.listed().is_none(), "not read yet");
        let entry = |id: &str, name: &str, kind: &str| (id.into(), name.into(), kind.into());
        let read = Read {
            entries: vec![
                entry("f1", "Main IVR", "INBOUNDCALL"),
                entry("f2", "Survey", "SURVEYINVITE"),
                entry("f1", "Main IVR again", "INBOUNDCALL"),
                entry("f3", "Web Chat", "INBOUNDCHAT"),
            ],
            bytes: 500,
            labels_cut: 0,
            ..Read::default()
        };
        assert_eq!(names.keep(read), 4);
        assert_eq!(names.held(), 500);
        assert_eq!(names.current()["f1"], "Main IVR again", "the last name");
        let listed = names.listed().unwrap();
        assert_eq!(listed.len(), 3);
        let observed: Vec<String> = observed_flows(&listed)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            observed,
            ["f1", "f3"],
            "a survey flow holds no waiting caller"
        );
    }
}
