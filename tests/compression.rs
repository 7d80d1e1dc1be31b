//! `/metrics` is served gzip-compressed to scrapers that accept it, and the compressed body
//! is exactly the plain one (but for the process metrics' values, read at each scrape).

use std::io::Read;

use flate2::read::GzDecoder;

use crate::util::{exporter::start_busy_afternoon, http::get_raw};

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    GzDecoder::new(body).read_to_end(&mut plain).unwrap();
    plain
}

/// `body` without the values of the `process_*` metrics, which are read at each scrape
/// (CPU time and memory change between two).
fn without_process_samples(body: &str) -> String {
    body.lines()
        .map(|line| match line.strip_prefix("process_") {
            Some(rest) => format!("process_{}", rest.split(' ').next().unwrap_or_default()),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn gzip_bodies_decompress_to_the_plain_ones_in_both_formats() {
    let (_sim, exporter) = start_busy_afternoon().await;
    let url = format!("{}/metrics", exporter.url);
    for (accept, content_type) in [
        ("", "text/plain; version=0.0.4; charset=utf-8"),
        (
            PROMETHEUS_ACCEPT,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    ] {
        let plain = get_raw(&url, &[("accept", accept)]).await;
        let zipped = get_raw(&url, &[("accept", accept), ("accept-encoding", "gzip")]).await;
        assert_eq!((plain.status, zipped.status), (200, 200));
        assert!(plain.headers.get("content-encoding").is_none());
        assert_eq!(zipped.headers["content-encoding"], "gzip");
        for reply in [&plain, &zipped] {
            assert_eq!(reply.headers["content-type"], content_type);
            let vary = reply.headers["vary"].to_str().unwrap();
            assert!(vary.contains("Accept-Encoding"), "{vary}");
        }
        assert_eq!(
            zipped.headers["content-length"].to_str().unwrap(),
            zipped.body.len().to_string()
        );
        // The demo org's text compresses many times over; a body that did not shrink
        // would mean it was not really compressed.
        assert!(
            zipped.body.len() * 4 < plain.body.len(),
            "{} gzip bytes for {} plain",
            zipped.body.len(),
            plain.body.len()
        );
        let unzipped = String::from_utf8(gunzip(&zipped.body)).unwrap();
        let plain = String::from_utf8(plain.body.to_vec()).unwrap();
        assert_eq!(
            without_process_samples(&unzipped),
            without_process_samples(&plain)
        );
    }
}

#[tokio::test]
async fn gzip_refused_with_q_zero_is_not_sent() {
    let (_sim, exporter) = start_busy_afternoon().await;
    let reply = get_raw(
        &format!("{}/metrics", exporter.url),
        &[("accept-encoding", "gzip;q=0, identity")],
    )
    .await;
    assert!(reply.headers.get("content-encoding").is_none());
    assert!(reply.body.starts_with(b"# HELP "));
}
