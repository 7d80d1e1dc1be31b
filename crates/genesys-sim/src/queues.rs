//! The queue list, paged like the real one, and the directory changes tests make to it:
//! renames, deletions, and refusing the list with a 403.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::protocol::{Params, bad_request, error_response};
use super::{SimQueue, Simulator};
use genesys_wire::{ErrorBody, QUEUES_PATH, Queue, QueuePage};

/// The real queue list's default page size.
const DEFAULT_PAGE_SIZE: u32 = 25;

/// Queue renames and deletions, and whether the queue list is refused with a 403.
#[derive(Default)]
pub(super) struct Directory {
    renamed: HashMap<String, String>,
    deleted: Vec<String>,
    forbidden: bool,
}

impl Simulator {
    /// Renames a queue in the queue list (the analytics data keeps its ID).
    pub fn rename_queue(&self, id: &str, name: &str) {
        self.directory()
            .renamed
            .insert(id.to_string(), name.to_string());
    }

    /// Takes a queue out of the queue list; its past data stays in the analytics.
    pub fn delete_queue(&self, id: &str) {
        self.directory().deleted.push(id.to_string());
    }

    /// Answers the queue list with `403 missing.permissions`, as for an OAuth client
    /// without `routing:queue:view`.
    pub fn forbid_queue_list(&self, forbidden: bool) {
        self.directory().forbidden = forbidden;
    }

    fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        self.state
            .directory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `GET QUEUES_PATH?pageNumber=&pageSize=`, both optional.
pub(super) async fn list(
    State(sim): State<Simulator>,
    Params(params): Params<PageParams>,
) -> Result<Response, Response> {
    let max = sim.state.config.queue_page_size_max;
    let (page_number, page_size) = sim.checked_page(params, max).map_err(error_response)?;
    let directory = sim.directory();
    if directory.forbidden {
        return Err(sim.error(
            StatusCode::FORBIDDEN,
            "missing.permissions",
            "Unable to perform the requested action. You are missing the following permission(s): [routing:queue:view]",
        ));
    }
    let queues: Vec<&SimQueue> = sim
        .org()
        .queues
        .iter()
        .filter(|q| !directory.deleted.contains(&q.id))
        .collect();
    let total = queues.len() as u64;
    let page_count = total.div_ceil(u64::from(page_size)) as u32;
    let entities = queues
        .iter()
        .skip((page_number as usize - 1).saturating_mul(page_size as usize))
        .take(page_size as usize)
        .map(|q| Queue {
            id: q.id.clone(),
            name: directory.renamed.get(&q.id).unwrap_or(&q.name).clone(),
            division: Some(q.division.clone()),
        })
        .collect();
    let uri = |n: u32| format!("{QUEUES_PATH}?pageNumber={n}&pageSize={page_size}");
    let page = QueuePage {
        entities,
        page_number,
        page_size,
        total,
        page_count,
        next_uri: (page_number < page_count).then(|| uri(page_number + 1)),
    };
    // The real page also carries these links; `QueuePage` does not need them.
    Ok(Json(QueuePageWire {
        page: &page,
        first_uri: uri(1),
        self_uri: uri(page_number),
        last_uri: uri(page_count.max(1)),
    })
    .into_response())
}

impl Simulator {
    /// The page number and size asked for, defaults for those not given, checked as the
    /// real lists check them: whole numbers, a page size from 1 to `max`, a page number
    /// from 1; or the real 400 naming the parameter.
    pub(super) fn checked_page(
        &self,
        params: PageParams,
        max: u32,
    ) -> Result<(u32, u32), ErrorBody> {
        let refuse = |code: &str, field: &str, message: String| {
            let mut error = bad_request(code, field, message);
            error.context_id = Some(self.context_id());
            error
        };
        let (page_number, page_size) = params.numbers().map_err(|(name, value)| {
            refuse(
                "bad.request",
                name,
                format!("{name} must be a whole number, not '{value}'"),
            )
        })?;
        if page_size == 0 || page_size > max {
            return Err(refuse(
                "invalid.value",
                "pageSize",
                format!("pageSize must be between 1 and {max}"),
            ));
        }
        if page_number == 0 {
            return Err(refuse(
                "invalid.value",
                "pageNumber",
                "pageNumber must be at least 1".to_string(),
            ));
        }
        Ok((page_number, page_size))
    }
}

/// The paging parameters as text: the real API's 400 for one that is not a whole number
/// names the parameter, which a number-typed field's rejection could not.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageParams {
    pub(super) page_number: Option<String>,
    pub(super) page_size: Option<String>,
}

impl PageParams {
    /// The page number and size, defaults for those not given; or the name and text of
    /// the first that is not a whole number.
    fn numbers(self) -> Result<(u32, u32), (&'static str, String)> {
        let whole = |name, value: Option<String>, default| match value {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| (name, value)),
        };
        Ok((
            whole("pageNumber", self.page_number, 1)?,
            whole("pageSize", self.page_size, DEFAULT_PAGE_SIZE)?,
        ))
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct QueuePageWire<'a> {
    #[serde(flatten)]
    page: &'a QueuePage,
    first_uri: String,
    self_uri: String,
    last_uri: String,
}

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::super::testing::{bearer, call, request};
    use super::*;
    use crate::{SimulatedOrg, SimulatorConfig};

    #[tokio::test]
    async fn queues_are_paged_like_the_real_list() {
        let sim = Simulator::new(SimulatorConfig {
            org: SimulatedOrg::with_queues(57, vec!["voice".to_string()]),
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        let mut names = Vec::new();
        let mut uri = format!("{QUEUES_PATH}?pageNumber=1&pageSize=25");
        let mut pages = Vec::new();
        loop {
            let (status, body) = call(&sim, request(Method::GET, &uri, Some(&auth), "")).await;
            assert_eq!(status, 200, "{body}");
            let page: QueuePage = serde_json::from_value(body.clone()).unwrap();
            assert_eq!((page.total, page.page_count, page.page_size), (57, 3, 25));
            assert_eq!(body["selfUri"], uri.as_str());
            names.extend(page.entities.iter().map(|q| q.name.clone()));
            assert!(page.entities.iter().all(|q| q.division.is_some()));
            pages.push(page.entities.len());
            match page.next_uri {
                Some(next) => uri = next,
                None => break,
            }
        }
        assert_eq!(pages, [25, 25, 7]);
        assert_eq!(names.len(), 57);
        assert_eq!(names[0], "Sales");
        assert_eq!(names[56], "Queue 0057");
        assert_eq!(sim.requests().queues, 3);

        // Defaults: page 1 of 25.
        let (_, body) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(
            (body["pageNumber"].as_u64(), body["pageSize"].as_u64()),
            (Some(1), Some(25))
        );
        // Past the end: an empty page without a next link.
        let (status, body) = call(
            &sim,
            request(
                Method::GET,
                &format!("{QUEUES_PATH}?pageNumber=9"),
                Some(&auth),
                "",
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["entities"], serde_json::json!([]));
        assert!(body.get("nextUri").is_none());
        // Too large a page.
        let (status, body) = call(
            &sim,
            request(
                Method::GET,
                &format!("{QUEUES_PATH}?pageSize=501"),
                Some(&auth),
                "",
            ),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid.value"))
        );
        assert_eq!(body["details"][0]["fieldName"], "pageSize");
    }
}
