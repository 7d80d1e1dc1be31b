//! The simulator's asynchronous aggregates jobs: a submitted query is answered at once and
//! kept, reported PENDING for the first few looks at its state (so that clients must
//! poll), then FULFILLED, and its results are served in cursor pages.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::{Method, Request, Response};

use super::Simulator;
use crate::genesys::aggregates::{
    AggregateGroup, JobResultsPage, JobState, JobStatus, JobSubmitted,
};
use crate::http::{Body, json};

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

impl Simulator {
    /// `POST JOBS_PATH`, `GET JOBS_PATH/{id}` and `GET JOBS_PATH/{id}/results?cursor=`.
    pub(super) async fn job_request<B>(
        &self,
        method: Method,
        rest: String,
        request: Request<B>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let refusal = |error| match error {
            JobError::Unknown => self.error(404, "not.found", "No such job"),
            JobError::NotReady => self.error(
                400,
                "bad.request",
                "The job's results are not available yet",
            ),
            JobError::BadCursor => {
                self.error_with_field(400, "invalid.value", "Invalid cursor", "cursor")
            }
        };
        match (method, segments.as_slice()) {
            (Method::POST, [""]) => match self.answer_query(request).await {
                Ok(response) => {
                    let job_id = self.context_id();
                    self.state.jobs.submit(job_id.clone(), response.results);
                    json(202, &JobSubmitted { job_id })
                }
                Err(refusal) => refusal,
            },
            (Method::GET, [id]) => match self.state.jobs.status(id) {
                Ok(status) => json(200, &status),
                Err(error) => refusal(error),
            },
            (Method::GET, [id, "results"]) => {
                let cursor = request
                    .uri()
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("cursor="));
                match self.state.jobs.page(id, cursor) {
                    Ok(page) => json(200, &page),
                    Err(error) => refusal(error),
                }
            }
            (Method::GET | Method::POST, _) => self.error(404, "not.found", "No such job resource"),
            (method, _) => self.error(
                405,
                "method.not.allowed",
                &format!("{method} is not allowed here"),
            ),
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
