//! Asking for aggregates either at once or as an asynchronous job. The synchronous query
//! is not paged: when its answer would be too large the API says
//! `400 response.entity.too.large`, and the same query then goes through the job API,
//! whose results come in cursor pages.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::client::Client;
use crate::error::{Error, Result, api_text};
use genesys_wire::catalogue::Source;
use genesys_wire::time::deadline_after;
use genesys_wire::{
    AggregateGroup, AggregateResponse, AggregationQuery, Endpoint, GroupSink, JobState,
};

/// How to wait for a job.
#[derive(Debug, Clone, Copy)]
pub struct JobOptions {
    /// Between two looks at a job's state.
    pub poll_interval: Duration,
    /// Give up on a job that is not fulfilled by then.
    pub timeout: Duration,
    /// The most groups a job's result pages may add up to (`max_series_per_query`): past
    /// it the job's reading stops, whatever its cursors say.
    pub max_groups: usize,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            poll_interval: Duration::from_secs(2),
            timeout: Duration::from_secs(600),
            max_groups: usize::MAX,
        }
    }
}

/// When [`aggregates`] runs a query as a job instead of asking for the answer at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPolicy {
    /// Ask synchronously, and run a job only when the API says the answer is too large.
    WhenTooLarge,
    /// Always run a job, without trying the synchronous query first.
    Always,
}

/// Runs `source`'s `query` synchronously, or as a job as `policy` says. `on_page` is told
/// the number of each result page a job delivers. A source without jobs is only ever
/// asked synchronously: its too-large answer is [`Error::TooLargeWithoutJobs`].
pub async fn aggregates(
    client: &Client,
    source: Source,
    query: &AggregationQuery,
    policy: JobPolicy,
    options: JobOptions,
    on_page: impl FnMut(usize),
) -> Result<AggregateResponse> {
    if policy == JobPolicy::WhenTooLarge || !source.has_jobs() {
        match client.source_aggregates(source, query).await {
            Err(error) if is_too_large(&error) => {
                without_jobs(source)?;
                tracing::info!(
                    interval = %query.interval,
                    "the answer is too large for the synchronous query; running it as a job"
                );
            }
            outcome => return outcome,
        }
    }
    run_job(client, query, options, on_page).await
}

/// The error of a too-large answer of `source`, if it has no jobs to page it.
fn without_jobs(source: Source) -> Result<()> {
    if source.has_jobs() {
        Ok(())
    } else {
        Err(Error::TooLargeWithoutJobs {
            endpoint: source.endpoint(),
        })
    }
}

fn is_too_large(error: &Error) -> bool {
    matches!(error, Error::Api { status: 400, code, .. } if code == "response.entity.too.large")
}

/// [`aggregates`], each group handed to `sink` as it is read, page by page, so that the
/// answer is never held whole: `Ok(false)` when the sink wanted no more (the answer has
/// more series than it takes). A failed synchronous attempt hands it nothing, so the job
/// that follows it starts afresh.
pub async fn aggregates_into(
    client: &Client,
    source: Source,
    query: &AggregationQuery,
    policy: JobPolicy,
    options: JobOptions,
    on_page: impl FnMut(usize),
    sink: &mut impl GroupSink,
) -> Result<bool> {
    if policy == JobPolicy::WhenTooLarge || !source.has_jobs() {
        match client.aggregates_into(source, query, sink).await {
            Err(error) if is_too_large(&error) => {
                without_jobs(source)?;
                tracing::info!(
                    interval = %query.interval,
                    "the answer is too large for the synchronous query; running it as a job"
                );
            }
            outcome => return outcome,
        }
    }
    run_job_into(client, query, options, on_page, sink).await
}

/// [`run_job`], each page's groups handed to `sink` as it is read. The pages are bounded
/// as one answer: past `max_groups` groups in all, reading stops.
pub async fn run_job_into(
    client: &Client,
    query: &AggregationQuery,
    options: JobOptions,
    mut on_page: impl FnMut(usize),
    sink: &mut impl GroupSink,
) -> Result<bool> {
    let job_id = wait_for_job(client, query, options).await?;
    sink.job_pages();
    let mut groups = 0usize;
    let mut cursor: Option<String> = None;
    for page in 1.. {
        let Some(read) = client
            .job_results_into(&job_id, cursor.as_deref(), sink)
            .await?
        else {
            return Ok(false);
        };
        groups += read.groups;
        if groups > options.max_groups {
            return Err(too_many_groups(client, &job_id, options));
        }
        next_cursor(&job_id, page, read.groups == 0, &mut cursor, read.cursor)?;
        on_page(page);
        if cursor.is_none() {
            break;
        }
    }
    Ok(true)
}

fn too_many_groups(client: &Client, job_id: &str, options: JobOptions) -> Error {
    let error = Error::TooManySeries {
        query: format!("job {}", api_text(job_id)),
        limit: options.max_groups,
    };
    client.metrics().api.failed(Endpoint::Jobs, error.reason());
    error
}

/// Checks a page's cursor `next` and moves `cursor` to it (`None` after the last page).
fn next_cursor(
    job_id: &str,
    page: usize,
    empty: bool,
    cursor: &mut Option<String>,
    next: Option<String>,
) -> Result<()> {
    // An empty page that points to another would page for ever.
    if empty && next.is_some() {
        return Err(Error::Job {
            job_id: api_text(job_id),
            state: "FULFILLED".into(),
            message: format!("page {page} is empty but names a next page"),
        });
    }
    if next.is_some() && *cursor == next {
        return Err(Error::Job {
            job_id: api_text(job_id),
            state: "FULFILLED".into(),
            message: format!("page {page} returned the cursor it was asked for"),
        });
    }
    *cursor = next;
    Ok(())
}

/// Submits `query` as a job, waits for it, and collects every page of its results.
pub async fn run_job(
    client: &Client,
    query: &AggregationQuery,
    options: JobOptions,
    mut on_page: impl FnMut(usize),
) -> Result<AggregateResponse> {
    let job_id = wait_for_job(client, query, options).await?;
    let mut groups = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 1.. {
        let results = client.job_results(&job_id, cursor.as_deref()).await?;
        let empty = results.results.is_empty();
        groups.extend(results.results);
        if groups.len() > options.max_groups {
            return Err(too_many_groups(client, &job_id, options));
        }
        next_cursor(&job_id, page, empty, &mut cursor, results.cursor)?;
        on_page(page);
        if cursor.is_none() {
            break;
        }
    }
    Ok(merge_groups(groups))
}

/// Submits `query` as a job and waits until it is fulfilled: its ID.
async fn wait_for_job(
    client: &Client,
    query: &AggregationQuery,
    options: JobOptions,
) -> Result<String> {
    let job_id = client.submit_job(query).await?.job_id;
    let deadline = deadline_after(options.timeout);
    loop {
        let status = client.job_status(&job_id).await?;
        match status.state {
            JobState::Fulfilled => break,
            JobState::Queued | JobState::Pending | JobState::Unknown
                if Instant::now() < deadline =>
            {
                tokio::time::sleep(options.poll_interval).await;
            }
            state => {
                return Err(Error::Job {
                    job_id: api_text(&job_id),
                    state: format!("{state:?}").to_uppercase(),
                    message: status.error_message.map_or_else(
                        || format!("not fulfilled within {}s", options.timeout.as_secs()),
                        |message| api_text(&message),
                    ),
                });
            }
        }
    }

    Ok(job_id)
}

/// One group per set of groupBy values, with the data of every page that carried it.
pub fn merge_groups(groups: Vec<AggregateGroup>) -> AggregateResponse {
    let mut merged: BTreeMap<_, AggregateGroup> = BTreeMap::new();
    for group in groups {
        match merged.entry(group.group.clone()) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(group);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                slot.get_mut().data.extend(group.data);
            }
        }
    }
    AggregateResponse {
        results: merged.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_too_large_answer_of_a_source_without_jobs_says_to_narrow_the_query() {
        assert!(without_jobs(Source::Conversations).is_ok(), "a job follows");
        for source in [Source::Flows, Source::Actions] {
            let error = without_jobs(source).unwrap_err();
            assert_eq!(error.reason(), "too_large");
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("{}: the answer is too large", source.endpoint()))
                    && text.contains("no asynchronous jobs")
                    && text.contains("a shorter window or granularity"),
                "{text}"
            );
        }
    }
}
