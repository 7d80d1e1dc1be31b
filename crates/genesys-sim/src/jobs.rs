//! The simulator's asynchronous aggregates jobs, and their endpoints: a submitted query is
//! answered at once and kept, reported PENDING for the first few looks at its state (so
//! that clients must poll), then FULFILLED, and its results are served in cursor pages.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Simulator;
use super::protocol::{JsonBody, Params};
use genesys_wire::{
    AggregateGroup, AggregationQuery, JobResultsPage, JobState, JobStatus, JobSubmitted,
};

pub struct Jobs {
    /// Looks at a job's state that answer PENDING before it is FULFILLED.
    pending_checks: u32,
    /// Groups per results page.
    page_size: usize,
    jobs: Mutex<HashMap<String, Job>>,
}

struct Job {
    results: Vec<AggregateGroup>,
    checks: u32,
}

/// Why a look at a job failed.
pub enum JobError {
    Unknown,
    NotReady,
    BadCursor,
}

impl Jobs {
    pub fn new(pending_checks: u32, page_size: usize) -> Jobs {
        Jobs {
            pending_checks,
            page_size: page_size.max(1),
            jobs: Mutex::default(),
        }
    }

    pub fn submit(&self, id: String, results: Vec<AggregateGroup>) {
        self.lock().insert(id, Job { results, checks: 0 });
    }

    pub fn status(&self, id: &str) -> Result<JobStatus, JobError> {
        let mut jobs = self.lock();
        let job = jobs.get_mut(id).ok_or(JobError::Unknown)?;
        job.checks += 1;
        let state = if job.checks > self.pending_checks {
            JobState::Fulfilled
        } else {
            JobState::Pending
        };
        Ok(JobStatus {
            state,
            error_message: None,
        })
    }

    /// The page that starts at `cursor` (the index of its first group; none for the first
    /// page). Only a job whose state has been seen FULFILLED has results.
    pub fn page(&self, id: &str, cursor: Option<&str>) -> Result<JobResultsPage, JobError> {
        let jobs = self.lock();
        let job = jobs.get(id).ok_or(JobError::Unknown)?;
        if job.checks <= self.pending_checks {
            return Err(JobError::NotReady);
        }
        let start = match cursor {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("page-from-")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0 && *n < job.results.len())
                .ok_or(JobError::BadCursor)?,
        };
        let end = (start + self.page_size).min(job.results.len());
        Ok(JobResultsPage {
            results: job.results[start..end].to_vec(),
            cursor: (end < job.results.len()).then(|| format!("page-from-{end}")),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `POST JOBS_PATH`: the query is answered now and kept, to be paged through later.
pub(super) async fn submit(
    State(sim): State<Simulator>,
    JsonBody(query): JsonBody<AggregationQuery>,
) -> Result<Response, Response> {
    let response = sim.answer_query(query).await?;
    let job_id = sim.context_id();
    sim.state.jobs.submit(job_id.clone(), response.results);
    Ok((StatusCode::ACCEPTED, Json(JobSubmitted { job_id })).into_response())
}

/// `GET JOBS_PATH/{id}`
pub(super) async fn status(State(sim): State<Simulator>, JobId(id): JobId) -> Response {
    match sim.state.jobs.status(&id) {
        Ok(status) => Json(status).into_response(),
        Err(error) => refusal(&sim, error),
    }
}

#[derive(Deserialize)]
pub(super) struct ResultsParams {
    cursor: Option<String>,
}

/// `GET JOBS_PATH/{id}/results?cursor=`
pub(super) async fn results(
    State(sim): State<Simulator>,
    JobId(id): JobId,
    Params(params): Params<ResultsParams>,
) -> Response {
    match sim.state.jobs.page(&id, params.cursor.as_deref()) {
        Ok(page) => Json(page).into_response(),
        Err(error) => refusal(&sim, error),
    }
}

fn refusal(sim: &Simulator, error: JobError) -> Response {
    match error {
        JobError::Unknown => sim.error(StatusCode::NOT_FOUND, "not.found", "No such job"),
        JobError::NotReady => sim.error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "The job's results are not available yet",
        ),
        JobError::BadCursor => sim.error_with_field(
            StatusCode::BAD_REQUEST,
            "invalid.value",
            "Invalid cursor",
            "cursor",
        ),
    }
}

/// The job named in the path. An id that is not UTF-8 once percent-decoded names no job.
pub(super) struct JobId(String);

impl FromRequestParts<Simulator> for JobId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sim: &Simulator) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, sim).await {
            Ok(Path(id)) => Ok(JobId(id)),
            Err(_) => Err(refusal(sim, JobError::Unknown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(n: usize) -> Vec<AggregateGroup> {
        (0..n)
            .map(|i| AggregateGroup {
                group: [("queueId".to_string(), format!("q{i}"))].into(),
                data: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_job_is_pending_then_fulfilled_and_paged_by_cursor() {
        let jobs = Jobs::new(1, 2);
        jobs.submit("j".into(), groups(5));
        assert!(matches!(jobs.page("j", None), Err(JobError::NotReady)));
        assert_eq!(jobs.status("j").ok().unwrap().state, JobState::Pending);
        assert_eq!(jobs.status("j").ok().unwrap().state, JobState::Fulfilled);

        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = jobs.page("j", cursor.as_deref()).ok().unwrap();
            seen.extend(page.results.iter().map(|g| g.group["queueId"].clone()));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["q0", "q1", "q2", "q3", "q4"]);
        assert!(matches!(
            jobs.page("j", Some("page-from-9")),
            Err(JobError::BadCursor)
        ));
        assert!(matches!(jobs.status("nope"), Err(JobError::Unknown)));
    }
}
