//! A scrape allocates nothing in proportion to the number of series: `/metrics` hands out
//! a body rendered at publish time (and the few process metrics read for it), and hyper
//! writes it from there without copying it.

use std::io::{Read, Write};
use std::net::TcpStream;

use genesys_sim::{SimulatedOrg, SimulatorConfig};
use genesys_wire::time::Clock;

use crate::util::{
    exporter::{config_for, start_exporter},
    samples::value,
    sim::{afternoon_sim, start_simulator},
    wait::{PATIENCE, wait_for_metrics},
};

/// One `GET /metrics` over a plain socket; returns the length of the whole answer. Fails
/// rather than waits past [`PATIENCE`] for it.
fn fetch(address: &str, headers: &str) -> usize {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("no whole answer to GET /metrics within {PATIENCE:?}: {e}"));
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
    answer.len()
}

/// Bytes allocated on this thread, where the exporter runs, while it answers one scrape
/// from a client on another thread; and the size of the answer.
fn scrape_allocations(queues: usize, headers: &'static str) -> (u64, usize) {
    // A single-threaded runtime on this thread: every allocation the exporter makes to
    // answer the scrape is made here, and the per-thread counter sees it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_sim, exporter, series) = runtime.block_on(async {
        let sim = start_simulator(SimulatorConfig {
            org: SimulatedOrg::with_queues(
                queues,
                ["voice", "chat", "email", "callback"]
                    .map(String::from)
                    .to_vec(),
            ),
            ..afternoon_sim()
        })
        .await;
        let clock = Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
        let exporter = start_exporter(config_for(&sim, vec![]), clock).await;
        let samples = wait_for_metrics(&exporter.url, |s| {
            value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
        })
        .await;
        let series = value(&samples, "genesys_series", &[("query", "default")]).unwrap();
        (sim, exporter, series)
    });
    let address = exporter.url.trim_start_matches("http://").to_string();
    // A first scrape, so that one-off allocations (the runtime's, the listener's, and for
    // an uncompressed scrape the plain text inflated once per publish) are not counted
    // against the one measured.
    let client = std::thread::spawn({
        let address = address.clone();
        move || fetch(&address, headers)
    });
    // The exporter serves until the client has its answer, or has given up (see `fetch`).
    runtime.block_on(async {
        while !client.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    client.join().unwrap();

    let mut length = 0;
    let info = allocation_counter::measure(|| {
        let client = std::thread::spawn(move || fetch(&address, headers));
        runtime.block_on(async {
            while !client.is_finished() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        });
        length = client.join().unwrap();
    });
    eprintln!("{queues} queues, {series} series, {headers:?}: {length} bytes sent, {info:?}");
    (info.bytes_total, length)
}

#[test]
fn a_scrape_allocates_nothing_in_proportion_to_the_series() {
    for headers in ["", "Accept-Encoding: gzip\r\n"] {
        let (small, small_length) = scrape_allocations(6, headers);
        let (large, large_length) = scrape_allocations(180, headers);
        // 30 times the series; the self-metrics, the same in both, make the small body
        // about an eighth of the difference.
        assert!(
            large_length > 15 * small_length,
            "{large_length} vs {small_length}"
        );
        assert!(large < 64 * 1024, "{large} bytes allocated for a scrape");
        // The same number of allocations either way; one of them, a buffer of the
        // connection's, may be 8 KiB larger when the client reads slowly (a loaded
        // machine). In proportion to the series would be the body: 3 MB.
        assert!(
            large <= small + 12 * 1024,
            "{large} vs {small} bytes allocated"
        );
    }
}
