//! A poll's peak memory stays within a small multiple of the size of the answer it reads.

use std::sync::Arc;
use std::time::Duration;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_exporter::exposition::{Flattener, Publisher};
use genesys_exporter::metrics::{BreakerState, Metrics};
use genesys_sim::{SimulatedOrg, aggregate};
use genesys_wire::read_groups;
use genesys_wire::time::Interval;
use tokio::sync::watch;

use crate::util::expected::demo_request;

#[test]
fn a_polls_peak_memory_is_a_small_multiple_of_the_answer() {
    let window = Interval {
        start: "2026-08-20T14:00:00Z".parse().unwrap(),
        end: "2026-08-20T14:15:00Z".parse().unwrap(),
    };
    let org = SimulatedOrg::with_queues(
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
    // What the poller does with an answer: read it group by group into the flattener,
    // then publish the samples.
    let poll = || {
        let mut flattener = Flattener::new("default", &query.group_by, window, usize::MAX);
        read_groups(&body, &mut flattener).unwrap();
        let data = flattener.finish();
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
    // What a poll holds at most, on top of the previous samples and exposition that are
    // served until the new ones replace them: while reading, the new samples (about 1.3
    // times the JSON) and one group; then, while rendering, the new samples, each group's
    // labels, one chunk of text, the deflate state and the compressed text (half the JSON):
    // 2.7 times in all at this size. Neither the parsed answer (5.5 times its JSON) nor
    // the whole plain text (4.2 times) is ever held; either would break this bound.
    assert!(
        info.bytes_max * 2 < 7 * body.len() as u64,
        "a poll of a {}-byte answer peaked at {} bytes",
        body.len(),
        info.bytes_max
    );
    // Only the compressed text is kept until an uncompressed scrape asks for the plain.
    assert!(
        held < body.len(),
        "{held} bytes served for a {}-byte answer",
        body.len()
    );
    assert_eq!(info.bytes_current as usize, 0, "replaced data is freed");
}
