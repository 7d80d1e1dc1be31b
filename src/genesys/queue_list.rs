//! `GET /api/v2/routing/queues`: the paged list of queues, used to put names on queue IDs.

use super::client::Client;
use crate::error::{Error, Result};
use genesys_wire::{Endpoint, Queue};

/// The largest page the queue list serves.
pub const PAGE_SIZE: u32 = 100;

/// The most pages one read of the queue list asks for (`max_queue_pages`): 100,000 queues,
/// far more than any org has, and a bound on what a `pageCount` that lies costs: at most
/// this many requests per refresh, instead of following it for ever.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// Every queue the OAuth client may see. Pages are read in order until one is empty, the
/// queues read reach the `total` the list gives, or `pageNumber` reaches `pageCount`,
/// whichever comes first; past `max_pages` pages the read fails (counted as
/// `too_many_pages`) and the caller keeps the names it knew.
pub async fn fetch_all(client: &Client, max_pages: u32) -> Result<Vec<Queue>> {
    let mut queues = Vec::new();
    for page_number in 1..=max_pages.max(1) {
        let page = client.queues_page(page_number, PAGE_SIZE).await?;
        let last = page.entities.is_empty()
            || page_number >= page.page_count
            || (page.total > 0 && (queues.len() + page.entities.len()) as u64 >= page.total);
        queues.extend(page.entities);
        if last {
            return Ok(queues);
        }
    }
    let error = Error::TooManyPages { limit: max_pages };
    client
        .metrics()
        .api
        .failed(Endpoint::Queues, error.reason());
    Err(error)
}
