//! A poll's peak memory stays within a small multiple of the size of the answer it parses.

use std::sync::Arc;
use std::time::Duration;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_exporter::exposition::{Publisher, flatten};
use genesys_exporter::genesys::wire::AggregateResponse;
use genesys_exporter::metrics::{BreakerState, Metrics};
use genesys_exporter::schedule::Interval;
use genesys_exporter::simulator::{Org, aggregate};
use tokio::sync::watch;

use crate::util::demo_request;

#[test]
fn a_polls_peak_memory_is_a_small_multiple_of_the_answer() {
    let window = Interval {
        start: "2026-08-20T14:00:00Z".parse().unwrap(),
        end: "2026-08-20T14:15:00Z".parse().unwrap(),
    };
    let org = Org::with_queues(
        100,
        ["voice", "chat", "email", "callback"]
            .map(String::from)
            .to_vec(),
    );
    let query = demo_request(window.start, window.end, "PT15M", DEFAULT_METRICS);
    let body = serde_json::to_vec(&aggregate(&org, &query).unwrap()).unwrap();
    // No client, so no breaker to open.
    let (_, closed_breaker) = watch::channel(BreakerState::Closed);
    let publisher = Publisher::new(
        Arc::new(Metrics::new(["default"])),
        ["default"],
        closed_breaker,
    );
    let poll = || {
        let response: AggregateResponse = serde_json::from_slice(&body).unwrap();
        let data = flatten("default", &query.group_by, window, &response);
        drop(response);
        let series = data.series();
        publisher.publish(
            "default",
            window,
            data,
            window.end,
            Duration::from_secs(3600),
        );
        series
    };
    // The first publish replaces an empty exposition; the second, measured, replaces one as
    // large as its own, as in steady state.
    poll();
    let mut series = 0;
    let info = allocation_counter::measure(|| series = poll());
    let held = publisher.current(window.end).held_bytes();
    eprintln!(
        "{series} series; answer {} bytes; exposition {held} bytes; poll peak {} bytes above the start; {info:?}",
        body.len(),
        info.bytes_max,
    );
    assert!(series > 10_000, "{series}");
    // What a poll holds at most, on top of the previous exposition that is served until the
    // new one replaces it: the parsed answer (about 5.5 times its JSON, mostly the 14
    // optional stats of each metric) and the flattened samples (about 2 times), or the
    // samples and the new exposition (about 4.5 times: the text format is 4 times as long
    // as the JSON, and the gzip of it). Another copy of the exposition would break this.
    assert!(
        info.bytes_max < 9 * body.len() as u64,
        "a poll of a {}-byte answer peaked at {} bytes",
        body.len(),
        info.bytes_max
    );
    assert!(
        held < 5 * body.len(),
        "{held} bytes served for a {}-byte answer",
        body.len()
    );
    assert_eq!(info.bytes_current as usize, 0, "replaced data is freed");
}
