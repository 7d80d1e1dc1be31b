//! Benchmarks of the exporter's hot paths, on synthetic answers from the simulator's data
//! function (the very answers `--demo` serves):
//!
//! - `poll/N_groups`: one poll's work on an aggregates response body of N groups: parse,
//!   flatten, and publish (render both exposition formats, gzip-compressed).
//! - `poll_vs_value/...`: the same for a 50k-series body, beside `serde_json` parsing that
//!   body into a `Value`, the yardstick of docs/performance.md's target, and the poll's parts.
//! - `render/N_series`: rendering `/metrics` (both formats, gzip) for N series.
//! - `scrape/N_series`: what a scrape itself costs: choosing the prerendered body.
//!
//! Run with `cargo bench --bench exporter`; add a filter such as `-- poll_vs_value` for one
//! group. Throughput is reported per byte of response body (criterion prints MiB/s;
//! docs/performance.md converts to MB/s) or per series.

mod common;

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flate2::write::GzEncoder;
use genesys_exporter::exposition::{
    Flattener, Format, GZIP_LEVEL, Publisher, QuerySamples, flatten, stat_gauges,
};
use genesys_exporter::server::{self, State};
use genesys_sim::SimulatedOrg;
use genesys_wire::catalogue::metric_kind;
use genesys_wire::time::Clock;
use genesys_wire::{AggregateResponse, read_groups};
use hyper::HeaderMap;
use hyper::header::{ACCEPT, ACCEPT_ENCODING, HeaderValue};

use common::{QUERY, answer, group_by, org, publisher, window};

/// Long enough that no data passes its maximum age during a benchmark.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// The series one group contributes: one per stat its metrics carry a gauge for.
fn group_series(group: &genesys_wire::AggregateGroup) -> usize {
    group
        .data
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|entry| {
            let kind = metric_kind(&entry.metric).expect("catalogue metric");
            stat_gauges(kind)
                .iter()
                .filter(|gauge| gauge.value(&entry.stats).is_some())
                .count()
        })
        .sum()
}

/// An answer of exactly `groups` groups (quiet queues leave some media types without
/// data, so the org is made larger and the answer cut to size).
fn with_groups(groups: usize) -> (SimulatedOrg, AggregateResponse) {
    let org = org(groups * 3 / 10 + 10);
    let mut response = answer(&org);
    assert!(response.results.len() >= groups, "grow the org");
    response.results.truncate(groups);
    (org, response)
}

/// An answer of the fewest groups that make at least `series` series.
fn with_series(series: usize) -> (SimulatedOrg, AggregateResponse) {
    // About 30 series per group.
    let (org, mut response) = with_groups(series / 25 + 10);
    let mut total = 0;
    let keep = response
        .results
        .iter()
        .take_while(|group| {
            let before = total;
            total += group_series(group);
            before < series
        })
        .count();
    response.results.truncate(keep);
    (org, response)
}

fn flat(response: &AggregateResponse) -> QuerySamples {
    flatten(QUERY, &group_by(), window(), response)
}

/// What the poller does with a response body: read it group by group into the
/// flattener, and publish the samples.
fn poll(publisher: &Publisher, body: &[u8]) {
    let data = read_and_flatten(body);
    publisher.publish(QUERY, window(), data, window().end, MAX_AGE);
}

fn read_and_flatten(body: &[u8]) -> QuerySamples {
    let mut flattener = Flattener::new(QUERY, &group_by(), window(), usize::MAX);
    read_groups(body, &mut flattener).unwrap();
    flattener.finish()
}

fn bench_poll(c: &mut Criterion) {
    let mut group = c.benchmark_group("poll");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for groups in [1_000, 10_000, 50_000] {
        let (org, response) = with_groups(groups);
        let body = serde_json::to_vec(&response).unwrap();
        drop(response);
        let publisher = publisher(&org);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{groups}_groups"), |b| {
            b.iter(|| poll(&publisher, black_box(&body)))
        });
    }
    group.finish();
}

fn bench_poll_vs_value(c: &mut Criterion) {
    let (org, response) = with_series(50_000);
    let body = serde_json::to_vec(&response).unwrap();
    let publisher = publisher(&org);
    let series = flat(&response).series();
    eprintln!(
        "poll_vs_value: {} groups, {series} series, {} body bytes",
        response.results.len(),
        body.len()
    );
    let mut group = c.benchmark_group("poll_vs_value");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap())
    });
    group.bench_function("exporter_poll", |b| {
        b.iter(|| poll(&publisher, black_box(&body)))
    });
    // The poll's parts, to see where its time goes.
    group.bench_function("part_parse_and_flatten", |b| {
        b.iter(|| read_and_flatten(black_box(&body)))
    });
    // The parse the poll no longer does: the whole answer into its owned types.
    group.bench_function("owned_parse", |b| {
        b.iter(|| serde_json::from_slice::<AggregateResponse>(black_box(&body)).unwrap())
    });
    group.bench_function("part_publish", |b| {
        b.iter_batched(
            || flat(&response),
            |data| publisher.publish(QUERY, window(), data, window().end, MAX_AGE),
            BatchSize::LargeInput,
        )
    });
    // The floor under publishing: deflating the text it renders, alone, at the same level
    // (and the same CRC-32 that gzip adds), with nothing rendered.
    publisher.publish(QUERY, window(), flat(&response), window().end, MAX_AGE);
    let text = publisher.current(window().end).to_vec(Format::Text, false);
    eprintln!("poll_vs_value: the text deflated is {} bytes", text.len());
    group.bench_function("part_deflate_alone", |b| {
        b.iter(|| {
            let mut gzip = GzEncoder::new(Vec::with_capacity(text.len() / 8), GZIP_LEVEL);
            gzip.write_all(black_box(&text)).unwrap();
            gzip.finish().unwrap()
        })
    });
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    for series in [10_000, 50_000, 200_000] {
        let (org, response) = with_series(series);
        let publisher = publisher(&org);
        group.throughput(Throughput::Elements(flat(&response).series() as u64));
        group.bench_function(format!("{series}_series"), |b| {
            b.iter_batched(
                || flat(&response),
                |data| publisher.publish(QUERY, window(), data, window().end, MAX_AGE),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn bench_scrape(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrape");
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
    );
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    for series in [10_000, 200_000] {
        let (org, response) = with_series(series);
        let publisher = publisher(&org);
        publisher.publish(QUERY, window(), flat(&response), window().end, MAX_AGE);
        let state = State {
            publisher: Arc::new(publisher),
            queries: Default::default(),
            shard: Default::default(),
            observations: std::sync::RwLock::new(None),
            agents: std::sync::RwLock::new(None),
            flow_observations: std::sync::RwLock::new(None),
            telephony: std::sync::RwLock::new(None),
            voice_quality: std::sync::RwLock::new(None),
            clock: Clock::starting_at(window().end),
            reloads: None,
            telemetry_path: Default::default(),
        };
        group.bench_function(format!("{series}_series"), |b| {
            b.iter(|| server::metrics(&state, black_box(&headers)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_poll,
    bench_poll_vs_value,
    bench_render,
    bench_scrape
);
criterion_main!(benches);
