//! The exporter in this process, on a simulated clock, configured for a test's simulator.

use std::time::Duration;

use genesys_exporter::config::{Config, ObservationsConfig, QueryConfig, Settings};
use genesys_wire::time::Clock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::http::get;
use super::samples::{Samples, parse, value};
use super::sim::{AFTERNOON, Sim, afternoon_sim, start_simulator};
use super::wait::wait_for_metrics;

/// A configuration that points at `sim` with its demo credentials. The queue
/// observations are off, so that the requests a test counts and the faults it sets meet
/// only the aggregates; [`observing`] turns them on.
pub fn config_for(sim: &Sim, queries: Vec<QueryConfig>) -> Config {
    Config {
        client_id: Some("demo-client".into()),
        client_secret: Some("demo-secret".into()),
        api_url: Some(sim.url.clone()),
        login_url: Some(sim.url.clone()),
        queries,
        observations: ObservationsConfig {
            enabled: Some(false),
            ..ObservationsConfig::default()
        },
        ..Config::default()
    }
}

/// `config` with the queue observations on, every `refresh`.
pub fn observing(mut config: Config, refresh: Duration) -> Config {
    config.observations = ObservationsConfig {
        enabled: Some(true),
        refresh: Some(refresh),
        ..ObservationsConfig::default()
    };
    config
}

/// An exporter running in this process; stops when dropped.
pub struct Exporter {
    pub url: String,
    shutdown: CancellationToken,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start_exporter(config: Config, clock: Clock) -> Exporter {
    start_exporter_with(config.validate().unwrap(), clock).await
}

/// An exporter running in this process on checked settings, which a test may have changed
/// beyond what the configuration allows (such as a cool-down shorter than 30 s).
pub async fn start_exporter_with(settings: Settings, clock: Clock) -> Exporter {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        genesys_exporter::runtime::run(settings, listener, clock, stop)
            .await
            .unwrap()
    });
    Exporter { url, shutdown }
}

/// The demo org and an exporter whose clock starts on a weekday afternoon, when every
/// demo queue has traffic, once its default query has published.
pub async fn start_busy_afternoon() -> (Sim, Exporter) {
    let sim = start_simulator(afternoon_sim()).await;
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter(config_for(&sim, vec![]), clock).await;
    wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    (sim, exporter)
}

/// Settings for `sim`'s demo credentials with every wait of the retry policy, the
/// circuit breaker and the poller cut about a hundredfold, so that tests on real sockets
/// live through outages in real time: retry_delay 200 ms (30 s), backoff 10 ms doubling
/// to 100 ms (1 s to 30 s), cool-down 600 ms (60 s). Attempts and thresholds keep their
/// defaults: 4 attempts per request, the breaker opens after 5 failures.
pub fn fast_settings(sim: &Sim, queries: Vec<QueryConfig>) -> Settings {
    let mut settings = config_for(sim, queries).validate().unwrap();
    settings.retry_delay = Duration::from_millis(200);
    settings.orgs[0].client.retry.backoff_base = Duration::from_millis(10);
    settings.orgs[0].client.retry.backoff_max = Duration::from_millis(100);
    settings.orgs[0].client.breaker.cool_down = Duration::from_millis(600);
    settings.orgs[0].client.request_timeout = Duration::from_secs(5);
    settings
}

/// One bucket of the default query.
pub const BUCKET: Duration = Duration::from_secs(15 * 60);

/// The busy afternoon of [`start_busy_afternoon`] with [`fast_settings`], changed by
/// `adjust`, once it has published; with the clock, which the test moves forward.
pub async fn start_fast_afternoon(adjust: impl FnOnce(&mut Settings)) -> (Sim, Exporter, Clock) {
    let sim = start_simulator(afternoon_sim()).await;
    let mut settings = fast_settings(&sim, vec![]);
    adjust(&mut settings);
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let exporter = start_exporter_with(settings, clock.clone()).await;
    wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    (sim, exporter, clock)
}

/// The exporter's samples now.
pub async fn scrape(exporter: &Exporter) -> Samples {
    parse(&get(&format!("{}/metrics", exporter.url)).await.body)
}
