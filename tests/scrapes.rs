//! Scrapes while polls fail and recover: every answer is a whole, well-formed exposition.

use std::time::Duration;

use serde_json::json;

use crate::util::{
    exporter::{BUCKET, scrape, start_fast_afternoon},
    samples::{DEFAULT, of, parse},
    sim::{clear_faults, set_fault},
    wait::wait_for_metrics,
};

const SCRAPERS: usize = 200;
const SCRAPES_EACH: usize = 5;

const OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// Checks one scrape's body and returns how many Genesys series it held.
fn check(body: &str, openmetrics: bool) -> usize {
    // The strict reader panics on a line it cannot read or a series given twice.
    let samples = parse(body);
    let series = samples
        .keys()
        .filter(|(name, _)| name.starts_with("genesys_conversation_"))
        .count();
    // All of the data or none of it (once it is too old), never a part.
    assert_eq!(series as f64, of(&samples, "genesys_series", DEFAULT));
    assert!(samples.keys().any(|(name, _)| name == "genesys_up"));
    // The build info is the last family: a body that has it was not cut short.
    assert!(body.contains("genesys_exporter_build_info{version="));
    if openmetrics {
        assert!(body.ends_with("# EOF\n"), "OpenMetrics ends in # EOF");
    } else {
        assert!(!body.contains("# EOF"));
    }
    series
}

#[tokio::test]
async fn two_hundred_scrapers_get_whole_expositions_while_polls_fail_and_recover() {
    let (sim, exporter, clock) = start_fast_afternoon(|_| {}).await;

    // Meanwhile, each bucket meets another fault, then the API recovers.
    let faults = [
        json!({"fault": "unavailable"}),
        json!({"fault": "malformed", "body": "truncated"}),
        json!({"fault": "rate_limited", "retry_after": 0}),
        json!({"fault": "reset"}),
    ];
    let base = exporter.url.clone();
    let flipper = tokio::spawn(async move {
        for (round, fault) in faults.into_iter().enumerate() {
            set_fault(&sim, fault).await;
            clock.advance(BUCKET);
            let failed = (round + 1) as f64;
            wait_for_metrics(&base, |s| {
                of(s, "genesys_poll_failures_total", DEFAULT) >= failed
            })
            .await;
            clear_faults(&sim).await;
            wait_for_metrics(&base, |s| of(s, "genesys_up", DEFAULT) == 1.0).await;
        }
        sim
    });

    let url = format!("{}/metrics", exporter.url);
    let scrapers = (0..SCRAPERS).map(|n| {
        let url = url.clone();
        tokio::spawn(async move {
            // Each scraper its own connection and address (127.0.0.2 to 127.0.0.201), as
            // each Prometheus server would be: one address holds at most
            // max_connections_per_client connections.
            let address = std::net::Ipv4Addr::new(127, 0, 0, 2 + n as u8);
            let http = reqwest::Client::builder()
                .local_address(Some(address.into()))
                .build()
                .unwrap();
            let openmetrics = n % 2 == 0;
            let mut seen = Vec::new();
            for _ in 0..SCRAPES_EACH {
                let mut request = http.get(&url);
                if openmetrics {
                    request = request.header("accept", OPENMETRICS);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                seen.push(check(&response.text().await.unwrap(), openmetrics));
                tokio::time::sleep(Duration::from_millis(300 + (n as u64 * 7) % 600)).await;
            }
            seen
        })
    });
    let mut scrapes = 0;
    for scraper in scrapers.collect::<Vec<_>>() {
        let seen = scraper.await.expect("a scraper found a bad exposition");
        assert!(seen.iter().all(|&series| series > 100));
        scrapes += seen.len();
    }
    assert_eq!(scrapes, SCRAPERS * SCRAPES_EACH);

    flipper.await.unwrap();
    let samples = scrape(&exporter).await;
    // The polls did fail and recover while the scrapers ran.
    assert!(of(&samples, "genesys_poll_failures_total", DEFAULT) >= 4.0);
    assert_eq!(of(&samples, "genesys_up", DEFAULT), 1.0);
}
