//! `GET /api/v2/routing/queues`: the paged list of queues, used to put names on queue IDs.

use std::collections::BTreeMap;

use super::client::Client;
use crate::error::{Error, Result};
use genesys_wire::labels::cap_owned;
use genesys_wire::{Division, Endpoint};

/// The largest page the queue list serves.
pub const PAGE_SIZE: u32 = 100;

/// The most pages one read of the queue list asks for (`max_queue_pages`): 100,000 queues,
/// far more than any org has, and a bound on what a `pageCount` that lies costs: at most
/// this many requests per refresh, instead of following it for ever.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// What one name held costs besides its bytes and its ID's, in the account of
/// `max_directory_bytes`: the map's entry and the two strings' headers.
pub const ENTRY_OVERHEAD: u64 = 96;

/// The bytes one directory entry of `id` and `name` (and `extra`) holds, by the account of
/// `max_directory_bytes`.
pub fn entry_bytes(id: &str, name: &str, extra: &str) -> u64 {
    (id.len() as u64)
        .saturating_add(name.len() as u64)
        .saturating_add(extra.len() as u64)
        .saturating_add(ENTRY_OVERHEAD)
}

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

impl Listed {
    /// Adds a queue's `division`, the first time its ID comes, cut as the queues' names
    /// are. A division without an ID is left out: the agent states would count it by
    /// `divisionId=""`, and label it as the whole org.
    fn add_division(&mut self, division: Division) {
        if division.id.is_empty() {
            return;
        }
        // Looked up as it is kept, cut, so that a long ID is counted once, not per queue.
        let mut cut = 0;
        let id = cap_owned(division.id, &mut cut);
        if self.divisions.contains_key(&id) {
            return;
        }
        self.labels_cut = self.labels_cut.saturating_add(cut);
        let name = cap_owned(division.name, &mut self.labels_cut);
        self.bytes = self.bytes.saturating_add(entry_bytes(&id, &name, ""));
        self.divisions.insert(id, name);
    }
}

/// Every queue the OAuth client may see. Pages are read in order until one is empty, the
/// queues read reach the `total` the list gives, or `pageNumber` reaches `pageCount`,
/// whichever comes first; past `max_pages` pages the read fails (counted as
/// `too_many_pages`) and the caller keeps the names it knew. Each page's names are cut to
/// `max_label_value_bytes` as it comes, and the page dropped; once the names read pass
/// `max_bytes` the read stops (`Error::DirectoryTooLarge`), so that a read never holds
/// more than `max_bytes` besides the page it reads.
pub async fn fetch_all(client: &Client, max_pages: u32, max_bytes: u64) -> Result<Listed> {
    let mut listed = Listed::default();
    for page_number in 1..=max_pages.max(1) {
        let page = client.queues_page(page_number, PAGE_SIZE).await?;
        let last = page.entities.is_empty()
            || page_number >= page.page_count
            || (page.total > 0
                && (listed.queues.len() as u64).saturating_add(page.entities.len() as u64)
                    >= page.total);
        for queue in page.entities {
            let id = cap_owned(queue.id, &mut listed.labels_cut);
            let name = cap_owned(queue.name, &mut listed.labels_cut);
            listed.bytes = listed.bytes.saturating_add(entry_bytes(&id, &name, ""));
            if let Some(division) = queue.division {
                listed.add_division(division);
            }
            if listed.bytes > max_bytes {
                return Err(Error::DirectoryTooLarge {
                    endpoint: Endpoint::Queues,
                    limit: max_bytes,
                });
            }
            listed.queues.push((id, name));
        }
        if last {
            return Ok(listed);
        }
    }
    let error = Error::TooManyPages { limit: max_pages };
    client
        .metrics()
        .api
        .failed(Endpoint::Queues, error.reason());
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn division(id: &str, name: &str) -> Division {
        Division {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn each_division_is_kept_once_and_one_without_an_id_not_at_all() {
        let mut listed = Listed::default();
        listed.add_division(division("d1", "Home"));
        listed.add_division(division("d1", "Home"));
        listed.add_division(division("", "Nameless"));
        listed.add_division(division("d2", ""));
        let kept: Vec<(&str, &str)> = listed
            .divisions
            .iter()
            .map(|(id, name)| (id.as_str(), name.as_str()))
            .collect();
        assert_eq!(kept, [("d1", "Home"), ("d2", "")]);
        assert_eq!(
            listed.bytes,
            entry_bytes("d1", "Home", "") + entry_bytes("d2", "", "")
        );
    }

    #[test]
    fn a_division_id_past_the_label_bound_is_cut_and_counted_once() {
        let long = "d".repeat(genesys_wire::labels::max_label_value_bytes() + 10);
        let mut listed = Listed::default();
        for _ in 0..3 {
            listed.add_division(division(&long, "Home"));
        }
        assert_eq!(listed.divisions.len(), 1);
        assert_eq!(listed.labels_cut, 1, "one cut, not one per queue");
        let (id, _) = listed.divisions.iter().next().unwrap();
        assert_eq!(listed.bytes, entry_bytes(id, "Home", ""));
    }
}
