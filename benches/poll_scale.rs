//! A poll at real-org scale: an answer of about a million series, read as the job API
//! serves it, in cursor pages, through the poller's path (each page read group by group
//! into the flattener, then the samples published: rendered in both formats and gzipped).
//!
//! `cargo bench --bench poll_scale` prints, for 50k and 1M series: the answer's JSON size,
//! the time of a steady-state poll (the second; the first replaces an empty exposition),
//! its peak heap above what was held before it (counted by `allocation-counter`), and its
//! peak RSS above the RSS before it (Linux: `VmHWM` after resetting it through
//! `/proc/self/clear_refs`), with glibc tuned as the exporter tunes it.
//! `SERIES=200000 PAGE_GROUPS=1000` change the sizes.
//!
//! The pages are serialized once, before measuring, as the simulator serves them; HTTP is
//! left out, so that the figures are the exporter's own.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use genesys_exporter::exposition::{Flattener, Format, GZIP_LEVEL, Publisher};
use genesys_sim::SimulatedOrg;
use genesys_wire::{GroupSink, JobResultsPage, read_groups};

use common::{QUERY, answer, group_by, org, publisher, window};

/// The simulator's answer for enough queues to make about `series` series, in job result
/// pages of `page_groups` groups, serialized.
fn pages(series: usize, page_groups: usize) -> (SimulatedOrg, Vec<Vec<u8>>) {
    // About 114 series per queue (four media types, some without traffic).
    let org = org(series / 114 + 1);
    let mut groups = answer(&org).results;
    let mut pages = Vec::new();
    let mut count = 0;
    while !groups.is_empty() {
        let rest = groups.split_off(groups.len().min(page_groups));
        let page = JobResultsPage {
            results: std::mem::replace(&mut groups, rest),
            cursor: None,
        };
        count += 1;
        let mut page = page;
        if !groups.is_empty() {
            page.cursor = Some(format!("page-from-{}", count * page_groups));
        }
        pages.push(serde_json::to_vec(&page).unwrap());
    }
    (org, pages)
}

/// What the poller does with a job's pages: read each into the flattener, then publish.
fn poll(publisher: &Publisher, pages: &[Vec<u8>]) -> usize {
    let mut flattener = Flattener::new(QUERY, &group_by(), window(), usize::MAX);
    flattener.job_pages();
    for page in pages {
        read_groups(page, &mut flattener).unwrap();
    }
    let samples = flattener.finish();
    let series = samples.series();
    publisher.publish(
        QUERY,
        window(),
        samples,
        window().end,
        Duration::from_secs(3600),
    );
    series
}

/// (VmRSS, VmHWM) in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    // As the exporter's binary does at start, so that RSS behaves as it does there.
    genesys_exporter::memory::tune_malloc();
    let sizes: Vec<usize> = match std::env::var("SERIES") {
        Ok(series) => vec![series.parse().expect("SERIES is a number")],
        Err(_) => vec![50_000, 1_000_000],
    };
    let page_groups: usize = std::env::var("PAGE_GROUPS")
        .ok()
        .map_or(1_000, |n| n.parse().expect("PAGE_GROUPS is a number"));
    for series in sizes {
        let (org, pages) = pages(series, page_groups);
        let json: usize = pages.iter().map(Vec::len).sum();
        let publisher = publisher(&org);
        poll(&publisher, &pages);
        // Peak RSS of the measured poll: reset the high-water mark (Linux 4.0+).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let (rss_before, _) = rss();
        let mut published = 0;
        let start = Instant::now();
        let info = allocation_counter::measure(|| published = poll(&publisher, &pages));
        let took = start.elapsed();
        let (rss_after, hwm) = rss();
        let exposition = publisher.current(window().end);
        let plain = exposition.to_vec(Format::Text, false).len();
        let gzip = exposition.to_vec(Format::Text, true).len();
        // The same text as one plain flate2 gzip stream at the same level: the exposition's
        // gzip (the shared gauges and the format's tail deflated apart) must not lose to it.
        let mut one_stream = GzEncoder::new(Vec::new(), GZIP_LEVEL);
        one_stream
            .write_all(&exposition.to_vec(Format::Text, false))
            .unwrap();
        let one_stream = one_stream.finish().unwrap().len();
        println!(
            "poll_scale: text body {:.1} MB, gzip {:.2}x smaller ({:.2}x as one stream)",
            plain as f64 / 1e6,
            plain as f64 / gzip as f64,
            plain as f64 / one_stream as f64
        );
        let mb = |bytes: f64| bytes / 1e6;
        println!(
            "poll_scale: {published} series in {} pages of {page_groups} groups, {:.1} MB of JSON: \
             {:.0} ms ({:.0} MB/s); peak heap {:.1} MB above the start ({:.2}x the JSON); \
             peak RSS {:.1} MB above the start ({:.2}x the JSON; RSS {:.1} MB before, {:.1} MB after)",
            pages.len(),
            mb(json as f64),
            took.as_secs_f64() * 1e3,
            mb(json as f64) / took.as_secs_f64(),
            mb(info.bytes_max as f64),
            info.bytes_max as f64 / json as f64,
            mb(hwm.saturating_sub(rss_before) as f64),
            hwm.saturating_sub(rss_before) as f64 / json as f64,
            mb(rss_before as f64),
            mb(rss_after as f64),
        );
    }
}
