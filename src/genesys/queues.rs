//! `GET /api/v2/routing/queues`: the paged list of queues, used to put names on queue IDs.

use serde::{Deserialize, Serialize};

pub const QUEUES_PATH: &str = "/api/v2/routing/queues";

/// One page of queues. Unlike the aggregates query, this endpoint is paged: follow
/// `pageNumber` up to `pageCount`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuePage {
    #[serde(default)]
    pub entities: Vec<Queue>,
    #[serde(default)]
    pub page_number: u32,
    #[serde(default)]
    pub page_size: u32,
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub page_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<Division>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Division {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

use super::client::Client;
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
