//! A secured `/metrics`: the exporter-toolkit web config file, with real TLS on
//! certificates made in the test, basic auth, client certificates, reloads and refusals.

use std::path::Path;
use std::process::Command;

use genesys_exporter::config::Config;
use genesys_wire::time::Clock;
use reqwest::StatusCode;

use crate::util::{
    exporter::{Exporter, config_for, start_exporter},
    files::{temp_dir, write_file},
    samples::{parse, value},
    sim::{Sim, afternoon_sim, start_simulator},
    tls::{Pki, bcrypt_hash, https_client, make_pki},
    wait::retry_until,
};

/// A web config with TLS from `pki`, `extra` YAML appended.
fn web_config(pki: &Pki, extra: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
        pki.cert_file.display(),
        pki.key_file.display()
    )
}

/// The simulator and an exporter that reads the web config file at `path`, with its
/// HTTPS URL.
async fn start_secured(path: &Path) -> (Sim, Exporter, String) {
    let sim = start_simulator(afternoon_sim()).await;
    let config = Config {
        web_config_file: Some(path.to_owned()),
        ..config_for(&sim, vec![])
    };
    let clock = Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let exporter = start_exporter(config, clock).await;
    let url = exporter.url.replacen("http://", "https://", 1);
    (sim, exporter, url)
}

/// The status and `WWW-Authenticate` of a GET of `url` as `user` with `password`.
async fn status_as(
    client: &reqwest::Client,
    url: &str,
    credentials: Option<(&str, &str)>,
) -> (StatusCode, Option<String>) {
    let mut request = client.get(url);
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), challenge)
}

#[tokio::test]
async fn metrics_are_served_over_https_to_the_right_user_only() {
    let pki = make_pki();
    let extra = format!(
        "basic_auth_users:\n  prometheus: {}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
        bcrypt_hash("s3cret")
    );
    let path = write_file(&pki.dir, "web.yml", &web_config(&pki, &extra));
    let (_sim, _exporter, url) = start_secured(&path).await;
    let client = https_client(&pki, false);

    // The two-part /metrics body goes over TLS whole, plain and gzipped.
    let metrics = format!("{url}/metrics");
    let body = retry_until("an authorised scrape with data", || async {
        let response = client
            .get(&metrics)
            .basic_auth("prometheus", Some("s3cret"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = response.text().await.map_err(|e| e.to_string())?;
        let up = value(&parse(&body), "genesys_up", &[("query", "default")]);
        if up == Some(1.0) {
            Ok(body)
        } else {
            Err(format!("genesys_up is {up:?}"))
        }
    })
    .await;
    assert!(body.contains("genesys_conversation_offered{"), "{body}");
    let gzipped = client
        .get(&metrics)
        .basic_auth("prometheus", Some("s3cret"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert!(gzipped.bytes().await.unwrap().starts_with(&[0x1f, 0x8b]));

    for (credentials, case) in [
        (None, "no credentials"),
        (Some(("prometheus", "wrong")), "a wrong password"),
        (Some(("nobody", "s3cret")), "an unknown user"),
    ] {
        for path in ["/metrics", "/", "/readyz"] {
            let (status, challenge) =
                status_as(&client, &format!("{url}{path}"), credentials).await;
            assert_eq!(status, 401, "{path} with {case}");
            let challenge = challenge.unwrap_or_default();
            assert!(
                challenge.starts_with("Basic"),
                "{path} with {case}: {challenge:?}"
            );
        }
    }
    // Probes need no credentials.
    let (status, _) = status_as(&client, &format!("{url}/healthz"), None).await;
    assert_eq!(status, 200);
    // Plain HTTP gets no answer from a TLS port.
    let plain = reqwest::Client::new()
        .get(format!(
            "{}/healthz",
            url.replacen("https://", "http://", 1)
        ))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[tokio::test]
async fn a_client_certificate_is_required_when_configured() {
    let pki = make_pki();
    let extra = format!(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS13\n",
        pki.ca_file.display()
    );
    let path = write_file(&pki.dir, "web.yml", &web_config(&pki, &extra));
    let (_sim, _exporter, url) = start_secured(&path).await;

    let anonymous = https_client(&pki, false)
        .get(format!("{url}/healthz"))
        .send()
        .await;
    assert!(
        anonymous.is_err(),
        "served without a client certificate: {anonymous:?}"
    );
    let (status, _) = status_as(&https_client(&pki, true), &format!("{url}/metrics"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_changed_file_is_picked_up_and_a_broken_one_keeps_the_last_good() {
    let pki = make_pki();
    let users = |user: &str, password: &str| {
        web_config(
            &pki,
            &format!("basic_auth_users:\n  {user}: {}\n", bcrypt_hash(password)),
        )
    };
    let path = write_file(&pki.dir, "web.yml", &users("alice", "first"));
    let (_sim, exporter, url) = start_secured(&path).await;
    let client = https_client(&pki, false);
    let metrics = format!("{url}/metrics");
    assert_eq!(
        status_as(&client, &metrics, Some(("alice", "first")))
            .await
            .0,
        200
    );

    std::fs::write(&path, users("bob", "second")).unwrap();
    assert_eq!(
        status_as(&client, &metrics, Some(("bob", "second")))
            .await
            .0,
        200
    );
    assert_eq!(
        status_as(&client, &metrics, Some(("alice", "first")))
            .await
            .0,
        401
    );

    // A broken file: the last good configuration stays.
    std::fs::write(&path, "basic_auth_users: [not, a, map]\n").unwrap();
    assert_eq!(
        status_as(&client, &metrics, Some(("bob", "second")))
            .await
            .0,
        200
    );
    assert_eq!(status_as(&client, &metrics, None).await.0, 401);

    // A half-written file, empty or cut before the users, would serve without TLS or
    // without authentication: refused, shown, and the last good one stays.
    for weaker in ["".to_owned(), web_config(&pki, "")] {
        std::fs::write(&path, &weaker).unwrap();
        assert_eq!(
            status_as(&client, &metrics, None).await.0,
            401,
            "{weaker:?}"
        );
        assert_eq!(
            status_as(&client, &metrics, Some(("bob", "second")))
                .await
                .0,
            200
        );
        // TLS is still on: plain HTTP is told to use HTTPS.
        let plain = reqwest::get(format!("{}/healthz", exporter.url))
            .await
            .unwrap();
        assert_eq!(plain.status(), 400, "plain HTTP served after {weaker:?}");
        let said = plain.text().await.unwrap();
        assert_eq!(said, "Client sent an HTTP request to an HTTPS server.\n");
    }
    // The metrics show it as of the next publish (`web_config::tests` checks them).
}

/// `genesys-exporter --check-config --web.config.file PATH`, with credentials set.
fn check_config(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .args(["--check-config", "--web.config.file"])
        .arg(path)
        .env("GENESYS_CLIENT_ID", "id")
        .env("GENESYS_CLIENT_SECRET", "secret")
        .env("GENESYS_REGION", "eu-west-1")
        .output()
        .unwrap()
}

#[test]
fn unknown_keys_and_bad_values_are_refused_by_check_config_naming_them() {
    let pki = make_pki();
    let dir = temp_dir();
    for (extra, expected) in [
        (
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "cipher_suites",
        ),
        (
            "  min_version: TLS10\n",
            "tls_server_config.min_version: TLS10 is not supported",
        ),
        (
            "  client_auth_type: RequireAnyClientCert\n",
            "'RequireAnyClientCert' is not supported",
        ),
        (
            "basic_auth_users:\n  alice: plaintext\n",
            "basic_auth_users.alice: not a bcrypt hash",
        ),
        ("http_server_config:\n  http2: false\n", "http2"),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "X-Frame-Options: 'allow' is not allowed",
        ),
        ("rate_limit:\n  burst: 5\n", "rate_limit"),
    ] {
        let path = write_file(&dir, "web.yml", &web_config(&pki, extra));
        let output = check_config(&path);
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra}: {said}");
        assert!(
            said.contains("web_config_file (--web.config.file)"),
            "{said}"
        );
        assert!(said.contains(expected), "{extra}: {said}");
        assert!(!said.contains("$2b$"), "a hash was echoed: {said}");
    }
    let path = write_file(&dir, "web.yml", &web_config(&pki, ""));
    let output = check_config(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_example_web_config_checks_out_beside_its_certificate() {
    let pki = make_pki();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/web-config.example.yml"
    ))
    .unwrap();
    let path = write_file(&pki.dir, "web-config.yml", &example);
    std::fs::copy(&pki.cert_file, pki.dir.path().join("tls.crt")).unwrap();
    std::fs::copy(&pki.key_file, pki.dir.path().join("tls.key")).unwrap();
    let output = check_config(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn healthz_never_reads_the_web_config_and_a_broken_one_is_read_once() {
    let pki = make_pki();
    let extra = format!(
        "basic_auth_users:\n  prometheus: {}\n",
        bcrypt_hash("s3cret")
    );
    let path = write_file(&pki.dir, "web.yml", &web_config(&pki, &extra));
    let sim = start_simulator(afternoon_sim()).await;
    let settings = Config {
        web_config_file: Some(path.clone()),
        ..config_for(&sim, vec![])
    }
    .validate()
    .unwrap();
    let web = settings.web.clone().unwrap();
    let clock = Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let exporter = crate::util::exporter::start_exporter_with(settings, clock).await;
    let url = exporter.url.replacen("http://", "https://", 1);
    let client = https_client(&pki, false);
    // The connection opens (and looks at the file for TLS) before the change; the
    // requests below reuse it.
    let (status, _) = status_as(&client, &format!("{url}/healthz"), None).await;
    assert_eq!(status, 200);
    let reads = web.reads();

    // A broken, deeply nested file, written with a rename as docs/securing.md asks.
    let next = path.with_extension("next");
    std::fs::write(&next, format!("{}\n", "[".repeat(100_000))).unwrap();
    std::fs::rename(&next, &path).unwrap();
    for _ in 0..5 {
        let (status, _) = status_as(&client, &format!("{url}/healthz"), None).await;
        assert_eq!(status, 200);
    }
    assert_eq!(web.reads(), reads, "/healthz read the web config");
    for _ in 0..5 {
        let metrics = format!("{url}/metrics");
        let (status, _) = status_as(&client, &metrics, Some(("prometheus", "s3cret"))).await;
        assert_eq!(status, 200, "the last good config stays");
    }
    // Read once for the change, then only looked at with a stat.
    assert_eq!(web.reads(), reads + 1, "the broken file was read again");
}
