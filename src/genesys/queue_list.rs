//! `GET /api/v2/routing/queues`: the paged list of queues, used to put names on queue IDs.

use std::collections::BTreeMap;

use super::client::Client;
use super::paged::{self, List};
use crate::error::Result;
use genesys_wire::{Endpoint, QUEUES_PATH, Queue};

pub use super::paged::{ENTRY_OVERHEAD, PAGE_SIZE, entry_bytes};

/// The most pages one read of the queue list asks for (`max_queue_pages`): 100,000 queues,
/// far more than any org has, and a bound on what a `pageCount` that lies costs: at most
/// this many requests per refresh, instead of following it for ever.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// The queues read: (ID, name) pairs in the list's order, each cut to
/// `max_label_value_bytes`, their divisions, and what that account says they hold.
#[derive(Debug, Default)]
pub struct Listed {
    pub queues: Vec<(String, String)>,
    /// The queues' divisions, ID → name (cut as the queues' are), each once.
    pub divisions: BTreeMap<String, String>,
    /// [`entry_bytes`] of every queue.
    pub bytes: u64,
    /// The IDs and names cut to `max_label_value_bytes`.
    pub labels_cut: usize,
}

/// Every queue the OAuth client may see, read and bounded as [`paged::read_all`] says.
pub async fn fetch_all(client: &Client, max_pages: u32, max_bytes: u64) -> Result<Listed> {
    let list = List {
        endpoint: Endpoint::Queues,
        path: QUEUES_PATH,
        filters: Vec::new(),
    };
    let read = paged::read_all::<Queue>(client, &list, max_pages, max_bytes).await?;
    Ok(Listed {
        queues: read
            .entries
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect(),
        divisions: read.divisions,
        bytes: read.bytes,
        labels_cut: read.labels_cut,
    })
}
