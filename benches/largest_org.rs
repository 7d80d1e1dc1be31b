//! The observation path of the largest org within the default API budget
//! (docs/api-budget.md#the-largest-org): 3,700 queues, each with the demo's four media
//! types, observed with the default metrics, 100 queues a request.
//!
//! The requests are the exporter's own (its request builder), each answered by the
//! simulator's observations function at a weekday afternoon instant, and serialized once,
//! before measuring: the bodies the simulator serves. HTTP is left out, so that the time
//! is the exporter's own. `cargo bench --bench largest_org` prints the requests and bytes
//! of one full refresh and the series it makes, and measures:
//!
//! - `largest_org/observations_refresh`: one full refresh's publish: each body parsed and
//!   flattened, then the samples published (rendered in both formats, gzipped);
//! - `largest_org/parse_and_flatten`: the part before rendering;
//! - `largest_org/parse`: of which parsing the 37 answers alone, as the client does.
//!
//! It also prints what the default bucket query answers for the same org, against the
//! bounds that answer meets first (`max_series_per_query`, `max_response_bytes`).

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use genesys_exporter::config::{DEFAULT_MAX_SERIES_PER_QUERY, OBSERVATIONS_QUERY};
use genesys_exporter::exposition::{
    Format, ObservationSamples, Presence, Publisher, QuerySamples, flatten,
};
use genesys_exporter::genesys::client::DEFAULT_MAX_RESPONSE_BYTES;
use genesys_exporter::genesys::observation_requests::{self, MAX_QUEUES_PER_REQUEST};
use genesys_wire::time::Interval;
use genesys_wire::{OBSERVATION_METRICS, ObservationResponse};
use jiff::Timestamp;

use common::{QUERY, answer, group_by, org, publisher, window};

/// The largest org's queues (docs/api-budget.md#the-largest-org).
const QUEUES: usize = 3_700;
/// The requests one refresh of them sends: ⌈3,700 / 100⌉.
const REQUESTS: usize = 37;
/// Long enough that no data passes its maximum age during a benchmark.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// A weekday afternoon instant, when every queue has traffic.
fn observed_at() -> Timestamp {
    "2026-08-20T14:07:00Z".parse().unwrap()
}

/// The simulator's presences, by ID, as the exporter's directory holds them.
fn presences() -> HashMap<String, Presence> {
    genesys_sim::presence_definitions()
        .entities
        .into_iter()
        .map(|definition| {
            let presence = Presence {
                name: definition.name,
                system_presence: definition.system_presence,
            };
            (definition.id, presence)
        })
        .collect()
}

/// What the observations collector does with one refresh's answers: each parsed as the
/// client parses it, and flattened.
fn parse_and_flatten(bodies: &[Vec<u8>], presences: &HashMap<String, Presence>) -> QuerySamples {
    let max_series = DEFAULT_MAX_SERIES_PER_QUERY as usize;
    let mut samples = ObservationSamples::new(OBSERVATIONS_QUERY, presences, max_series);
    for body in bodies {
        let response: ObservationResponse = serde_json::from_slice(body).unwrap();
        samples
            .add(&response, observed_at())
            .expect("within max_series_per_query");
    }
    samples.finish()
}

/// One full refresh: parse, flatten, and publish.
fn refresh(publisher: &Publisher, bodies: &[Vec<u8>], presences: &HashMap<String, Presence>) {
    let samples = parse_and_flatten(bodies, presences);
    let now = observed_at();
    let instant = Interval {
        start: now,
        end: now,
    };
    publisher.publish(OBSERVATIONS_QUERY, instant, samples, now, MAX_AGE);
}

fn bench_largest_org(c: &mut Criterion) {
    let org = org(QUEUES);
    let queue_ids: Vec<String> = org.queues.iter().map(|q| q.id.clone()).collect();
    // The default `[observations] metrics`: every one.
    let metrics: Vec<String> = OBSERVATION_METRICS.iter().map(|m| m.to_string()).collect();
    let bodies: Vec<Vec<u8>> =
        observation_requests::requests(&queue_ids, &metrics, MAX_QUEUES_PER_REQUEST)
            .map(|request| {
                let answer = genesys_sim::observe(&org, None, &request, observed_at())
                    .expect("the simulator accepts the exporter's request");
                serde_json::to_vec(&answer).unwrap()
            })
            .collect();
    assert_eq!(bodies.len(), REQUESTS);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let largest = bodies.iter().map(Vec::len).max().unwrap_or(0);
    let presences = presences();
    let publisher = publisher(&org);
    let series = parse_and_flatten(&bodies, &presences).series();
    refresh(&publisher, &bodies, &presences);
    let exposition = publisher.current(observed_at());
    let text = exposition.to_vec(Format::Text, false).len();
    let gzip = exposition.to_vec(Format::Text, true).len();
    eprintln!(
        "largest_org: {QUEUES} queues × {} media types; one observations refresh: {} requests, \
         {:.2} MB received ({:.0} KB the largest answer), {series} series; /metrics {:.1} MB \
         ({:.2} MB gzip)",
        org.media_types.len(),
        bodies.len(),
        bytes as f64 / 1e6,
        largest as f64 / 1e3,
        text as f64 / 1e6,
        gzip as f64 / 1e6,
    );

    // The default bucket query of the same org, once: what bounds the org besides requests.
    let buckets = answer(&org);
    let groups = buckets.results.len();
    let json = serde_json::to_vec(&buckets).unwrap().len();
    let bucket_series = flatten(QUERY, &group_by(), window(), &buckets).series();
    eprintln!(
        "largest_org: the default bucket query answers {groups} groups, {bucket_series} series \
         (max_series_per_query {DEFAULT_MAX_SERIES_PER_QUERY}), {:.1} MB of JSON \
         (max_response_bytes {:.1} MB)",
        json as f64 / 1e6,
        DEFAULT_MAX_RESPONSE_BYTES as f64 / 1e6,
    );
    drop(buckets);

    let mut group = c.benchmark_group("largest_org");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("observations_refresh", |b| {
        b.iter(|| refresh(&publisher, black_box(&bodies), &presences))
    });
    group.bench_function("parse_and_flatten", |b| {
        b.iter(|| parse_and_flatten(black_box(&bodies), &presences))
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(serde_json::from_slice::<ObservationResponse>(body).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_largest_org);

fn main() {
    // As the exporter's binary does at start, so that the allocator behaves as it does there.
    genesys_exporter::memory::tune_malloc();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
