//! `GET /api/v2/routing/queues`: the paged list of queues, used to put names on queue IDs.

use super::client::Client;
use super::wire::Queue;
use crate::error::Result;

/// The largest page the queue list serves.
pub const PAGE_SIZE: u32 = 100;

/// Every queue the OAuth client may see, following `pageNumber` up to `pageCount`.
pub async fn fetch_all(client: &Client) -> Result<Vec<Queue>> {
    let mut queues = Vec::new();
    let mut page_number = 1;
    loop {
        let page = client.queues_page(page_number, PAGE_SIZE).await?;
        let last = page.entities.is_empty() || page_number >= page.page_count;
        queues.extend(page.entities);
        if last {
            return Ok(queues);
        }
        page_number += 1;
    }
}
