//! Reading a paged list of named entities (`GET` with `pageNumber` and `pageSize`): the
//! queue list, the flows, the flow outcomes, the data actions. Bounded the same way for
//! each: a number of pages (`max_queue_pages`), and the bytes of the names read
//! (`max_directory_bytes`); each name is cut to `max_label_value_bytes` as its page comes.

use serde::de::DeserializeOwned;

use super::client::Client;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

use genesys_wire::labels::cap_owned;
use genesys_wire::{Division, Endpoint};

/// The largest page the lists serve.
pub const PAGE_SIZE: u32 = 100;

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

/// An entity of a list: its ID, its name, and one more value some lists carry (a flow's
/// type), empty where none.
pub trait Named: DeserializeOwned {
    /// Its division, taken out, where the list's divisions are wanted (the queues': the
    /// agent states count by them).
    fn take_division(&mut self) -> Option<Division> {
        None
    }

    fn into_parts(self) -> (String, String, String);
}

impl Named for genesys_wire::Queue {
    fn take_division(&mut self) -> Option<Division> {
        self.division.take()
    }

    fn into_parts(self) -> (String, String, String) {
        (self.id, self.name, String::new())
    }
}

impl Named for genesys_wire::NamedEntity {
    fn into_parts(self) -> (String, String, String) {
        (self.id, self.name, String::new())
    }
}

impl Named for genesys_wire::FlowEntity {
    fn into_parts(self) -> (String, String, String) {
        (self.id, self.name, self.kind)
    }
}

/// A list to read: its endpoint and path, and filters for the query string.
#[derive(Debug, Clone)]
pub struct List {
    pub endpoint: Endpoint,
    pub path: &'static str,
    pub filters: Vec<(&'static str, String)>,
}

/// The entries read, in the list's order, each cut to `max_label_value_bytes`, and what
/// that account says they hold.
#[derive(Debug, Default)]
pub struct Read {
    /// (ID, name, extra) triples.
    pub entries: Vec<(String, String, String)>,
    /// The entries' divisions, ID → name (cut as the entries are), each once: read only
    /// from lists whose entities give them ([`Named::take_division`]).
    pub divisions: BTreeMap<String, String>,
    /// [`entry_bytes`] of every entry and division.
    pub bytes: u64,
    /// The values cut to `max_label_value_bytes`.
    pub labels_cut: usize,
}

impl Read {
    /// Adds `entity` (and its division), cut to `max_label_value_bytes`. One without an ID
    /// is left out: nothing could be named by it, and a flow of ID "" would be observed
    /// as every flow.
    fn add<T: Named>(&mut self, mut entity: T) {
        if let Some(division) = entity.take_division() {
            self.add_division(division);
        }
        let (id, name, extra) = entity.into_parts();
        if id.is_empty() {
            return;
        }
        let id = cap_owned(id, &mut self.labels_cut);
        let name = cap_owned(name, &mut self.labels_cut);
        let extra = cap_owned(extra, &mut self.labels_cut);
        self.bytes = self.bytes.saturating_add(entry_bytes(&id, &name, &extra));
        self.entries.push((id, name, extra));
    }

    /// Adds an entry's `division`, the first time its ID comes, cut as the names are. A
    /// division without an ID is left out: the agent states would count it by
    /// `divisionId=""`, and label it as the whole org.
    fn add_division(&mut self, division: Division) {
        if division.id.is_empty() {
            return;
        }
        // Looked up as it is kept, cut, so that a long ID is counted once, not per entry.
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

/// Every entry of `list` the OAuth client may see. Pages are read in order until one is
/// empty, the entries read reach the `total` the list gives, or `pageNumber` reaches
/// `pageCount`, whichever comes first; past `max_pages` pages the read fails (counted as
/// `too_many_pages`) and the caller keeps the names it knew. Once the names read pass
/// `max_bytes` the read stops (`Error::DirectoryTooLarge`), so that a read never holds
/// more than `max_bytes` besides the page it reads.
pub async fn read_all<T: Named>(
    client: &Client,
    list: &List,
    max_pages: u32,
    max_bytes: u64,
) -> Result<Read> {
    let mut read = Read::default();
    each_entity(client, list, max_pages, |entity: T| {
        read.add(entity);
        match read.bytes > max_bytes {
            true => Err(Error::DirectoryTooLarge {
                endpoint: list.endpoint,
                limit: max_bytes,
            }),
            false => Ok(()),
        }
    })
    .await?;
    Ok(read)
}

/// Every entity of `list`, whole, read page by page as [`read_all`] reads them (at most
/// `max_pages` pages of [`PAGE_SIZE`]): for lists whose entities are more than a name
/// (the Edges, the trunks).
pub async fn read_entities<T: DeserializeOwned>(
    client: &Client,
    list: &List,
    max_pages: u32,
) -> Result<Vec<T>> {
    let mut entities = Vec::new();
    each_entity(client, list, max_pages, |entity| {
        entities.push(entity);
        Ok(())
    })
    .await?;
    Ok(entities)
}

/// Hands every entity of `list` to `take`, page by page, until the last page (see
/// [`read_all`]) or `take` fails; past `max_pages` pages, [`Error::TooManyPages`].
async fn each_entity<T: DeserializeOwned>(
    client: &Client,
    list: &List,
    max_pages: u32,
    mut take: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let filters: Vec<(&str, &str)> = list
        .filters
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let mut read: u64 = 0;
    for page_number in 1..=max_pages.max(1) {
        let page = client
            .list_page::<T>(list.endpoint, list.path, page_number, PAGE_SIZE, &filters)
            .await?;
        let count = page.entities.len() as u64;
        let last = page.entities.is_empty()
            || page_number >= page.page_count
            || (page.total > 0 && read.saturating_add(count) >= page.total);
        read = read.saturating_add(count);
        for entity in page.entities {
            take(entity)?;
        }
        if last {
            return Ok(());
        }
    }
    let error = Error::TooManyPages {
        endpoint: list.endpoint,
        limit: max_pages,
    };
    client.metrics().api.failed(list.endpoint, error.reason());
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
    fn an_entity_without_an_id_is_left_out_and_its_list_still_read() {
        let flow = |id: &str, name: &str| genesys_wire::FlowEntity {
            id: id.into(),
            name: name.into(),
            kind: "INBOUNDCALL".into(),
        };
        let mut read = Read::default();
        read.add(flow("f1", "Main IVR"));
        read.add(flow("", "No ID"));
        assert_eq!(
            read.entries,
            [("f1".into(), "Main IVR".into(), "INBOUNDCALL".into())]
        );
        assert_eq!(read.bytes, entry_bytes("f1", "Main IVR", "INBOUNDCALL"));
    }

    #[test]
    fn each_division_is_kept_once_and_one_without_an_id_not_at_all() {
        let mut read = Read::default();
        read.add_division(division("d1", "Home"));
        read.add_division(division("d1", "Home"));
        read.add_division(division("", "Nameless"));
        read.add_division(division("d2", ""));
        let kept: Vec<(&str, &str)> = read
            .divisions
            .iter()
            .map(|(id, name)| (id.as_str(), name.as_str()))
            .collect();
        assert_eq!(kept, [("d1", "Home"), ("d2", "")]);
        assert_eq!(
            read.bytes,
            entry_bytes("d1", "Home", "") + entry_bytes("d2", "", "")
        );
    }

    #[test]
    fn a_division_id_past_the_label_bound_is_cut_and_counted_once() {
        let long = "d".repeat(genesys_wire::labels::max_label_value_bytes() + 10);
        let mut read = Read::default();
        for _ in 0..3 {
            read.add_division(division(&long, "Home"));
        }
        assert_eq!(read.divisions.len(), 1);
        assert_eq!(read.labels_cut, 1, "one cut, not one per queue");
        let (id, _) = read.divisions.iter().next().unwrap();
        assert_eq!(read.bytes, entry_bytes(id, "Home", ""));
    }
}
