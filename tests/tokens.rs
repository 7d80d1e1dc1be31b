//! The OAuth client: tokens are cached, renewed before they expire, and renewed once when
//! the API refuses one.

use std::sync::Arc;
use std::time::Duration;

use genesys_exporter::genesys::auth::Credentials;
use genesys_exporter::genesys::breaker::BreakerSettings;
use genesys_exporter::genesys::client::{Client, ClientSettings, DEFAULT_MAX_RESPONSE_BYTES};
use genesys_exporter::genesys::retry::RetrySettings;
use genesys_exporter::metrics::Metrics;
use genesys_sim::{RequestCounts, SimulatorConfig};
use genesys_wire::AggregationQuery;

use genesys_exporter::config::Config;
use genesys_wire::time::Clock;

use crate::util::{
    clock::hold_time,
    exporter::{config_for, start_exporter},
    samples::of,
    sim::{AFTERNOON, Sim, afternoon_sim, start_simulator},
    wait::wait_for_metrics,
};

const FAILURES: &str = "genesys_api_failures_total";

fn client(sim: &Sim, secret: &str) -> Client {
    let settings = ClientSettings {
        api_url: sim.url.clone(),
        login_url: sim.url.clone(),
        credentials: Credentials {
            client_id: "demo-client".into(),
            client_secret: secret.into(),
        },
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        retry: RetrySettings::default(),
        breaker: BreakerSettings::default(),
    };
    Client::new(&settings, Arc::new(Metrics::new([]))).unwrap()
}

fn query() -> AggregationQuery {
    AggregationQuery {
        interval: "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z".into(),
        granularity: Some("PT15M".into()),
        time_zone: None,
        group_by: vec!["queueId".into()],
        filter: None,
        metrics: vec!["nOffered".into()],
    }
}

#[tokio::test]
async fn one_token_serves_many_requests() {
    let sim = start_simulator(afternoon_sim()).await;
    let client = client(&sim, "demo-secret");
    for _ in 0..5 {
        client.aggregates(&query()).await.unwrap();
    }
    let counts = sim.simulator.requests();
    assert_eq!(
        (counts.token, counts.aggregates, counts.unauthorized),
        (1, 5, 0)
    );
}

/// Two-second tokens are renewed at half their life: the request one second after the
/// token came still gets a new one, the request a millisecond earlier does not. Tokio's
/// clock is held still, so that those instants are exact.
#[tokio::test(start_paused = true)]
async fn a_token_is_renewed_before_it_expires() {
    let _time = hold_time();
    let sim = start_simulator(SimulatorConfig {
        token_lifetime: Duration::from_secs(2),
        ..afternoon_sim()
    })
    .await;
    let client = client(&sim, "demo-secret");
    client.aggregates(&query()).await.unwrap();
    client.aggregates(&query()).await.unwrap();
    assert_eq!(sim.simulator.requests().token, 1);

    tokio::time::advance(Duration::from_millis(999)).await;
    client.aggregates(&query()).await.unwrap();
    assert_eq!(
        sim.simulator.requests().token,
        1,
        "kept until half its life"
    );

    tokio::time::advance(Duration::from_millis(1)).await;
    client.aggregates(&query()).await.unwrap();
    let counts = sim.simulator.requests();
    assert_eq!(counts.token, 2, "renewed at half its life");
    assert_eq!(counts.aggregates, 4);
    assert_eq!(
        counts.unauthorized, 0,
        "no request went out with an expired token"
    );
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_request_retried_once() {
    let sim = start_simulator(afternoon_sim()).await;
    let client = client(&sim, "demo-secret");
    client.aggregates(&query()).await.unwrap();
    sim.simulator.revoke_tokens();
    let response = client.aggregates(&query()).await.unwrap();
    assert!(!response.results.is_empty());
    assert_eq!(
        sim.simulator.requests(),
        RequestCounts {
            token: 2,
            aggregates: 3,
            queues: 0,
            jobs: 0,
            unauthorized: 1,
            ..RequestCounts::default()
        }
    );
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_error_without_the_secret() {
    let sim = start_simulator(afternoon_sim()).await;
    let client = client(&sim, "not-the-secret-xyz");
    let error = client.aggregates(&query()).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("invalid_client"), "{message}");
    assert!(
        message.contains("check client_id and client_secret"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret-xyz"));
    assert!(!format!("{error:?}").contains("not-the-secret-xyz"));
    assert_eq!(error.reason(), "oauth");
    // Counted under the reason it is reported with: the login service's refusal is
    // `oauth`; `unauthorized` is an API endpoint refusing the access token.
    let metrics = client.metrics();
    let failures = |reason: &str| {
        let series =
            format!("genesys_api_failures_total{{endpoint=\"token\",reason=\"{reason}\"}} ");
        let text = metrics.encode_text();
        let line = text.lines().find(|line| line.starts_with(&series));
        line.map(|line| line[series.len()..].to_owned())
    };
    assert_eq!(
        sim.simulator.requests().token,
        1,
        "a refusal is not retried"
    );
    assert_eq!(failures("oauth").as_deref(), Some("1"));
    assert_eq!(failures("unauthorized").as_deref(), Some("0"));
}

/// What a user with a wrong secret sees on /metrics: each refused login counted as `oauth`
/// on the token endpoint, as the docs say, and nothing as `unauthorized`, which is an API
/// endpoint refusing a token.
#[tokio::test]
async fn a_wrong_secret_counts_as_oauth_on_the_token_endpoint_only() {
    let sim = start_simulator(afternoon_sim()).await;
    let config = Config {
        client_secret: Some("not-the-secret".into()),
        ..config_for(&sim, vec![])
    };
    let exporter = start_exporter(config, Clock::starting_at(AFTERNOON.parse().unwrap())).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        of(s, FAILURES, &[("endpoint", "token"), ("reason", "oauth")]) >= 2.0
    })
    .await;
    let counts = sim.simulator.requests();
    let refused = of(
        &samples,
        FAILURES,
        &[("endpoint", "token"), ("reason", "oauth")],
    );
    assert!(
        refused <= counts.token as f64,
        "{refused} of {} logins",
        counts.token
    );
    for endpoint in ["token", "aggregates", "queues", "presences"] {
        assert_eq!(
            of(
                &samples,
                FAILURES,
                &[("endpoint", endpoint), ("reason", "unauthorized")]
            ),
            0.0,
            "{endpoint}"
        );
    }
    assert_eq!(counts.aggregates, 0, "no API request without a token");
}
