//! The simulator's queue observations, presence definitions and abandon surge over a real
//! socket, with reqwest as the client the exporter also uses, on a held simulated clock: the
//! answers are byte for byte what its pure functions give for that instant.

use std::time::Duration;

use genesys_sim::{Simulator, SimulatorConfig, aggregate};
use genesys_wire::time::Clock;
use genesys_wire::{OBSERVATIONS_PATH, PRESENCES_PATH, QUERY_PATH, TOKEN_PATH, TokenResponse};

use crate::util::{
    clock::hold_time,
    expected::demo_request,
    sim::{afternoon_sim, every_queue_observed, start_simulator},
};

async fn token(http: &reqwest::Client, base: &str) -> String {
    let token: TokenResponse = http
        .post(format!("{base}{TOKEN_PATH}"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token.access_token
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: &impl serde::Serialize,
) -> (u16, String) {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(start_paused = true)]
async fn observations_presences_and_a_surge_over_http() {
    let _held = hold_time();
    let clock = Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap());
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        ..afternoon_sim()
    })
    .await;
    let (http, base) = (reqwest::Client::new(), sim.url.clone());
    let token = token(&http, &base).await;
    let org = sim.simulator.org().clone();
    let query = every_queue_observed(&org);
    let observe = || post(&http, format!("{base}{OBSERVATIONS_PATH}"), &token, &query);

    let (status, body) = observe().await;
    assert_eq!(status, 200, "{body}");
    let expected = sim.simulator.observe(&query, clock.now()).unwrap();
    assert_eq!(body, serde_json::to_string(&expected).unwrap());
    // Six queues: four media groups and one users group each.
    assert_eq!(expected.results.len(), 30);

    let presences = http
        .get(format!("{base}{PRESENCES_PATH}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        presences,
        serde_json::to_string(&Simulator::presences()).unwrap()
    );

    // A surge on Sales from now, set through the control endpoint.
    let response = http
        .post(format!("{base}/simulator/surge"))
        .body(r#"{"queue": "Sales"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let start = clock.now();
    clock.advance(Duration::from_secs(300));
    let (_, body) = observe().await;
    let surging = sim.simulator.observe(&query, clock.now()).unwrap();
    assert_eq!(body, serde_json::to_string(&surging).unwrap());
    let sales_users = surging
        .results
        .iter()
        .find(|g| g.group.get("queueId") == Some(&org.queues[0].id) && g.group.len() == 1)
        .unwrap();
    let on_queue: f64 = sales_users
        .data
        .iter()
        .filter(|e| e.metric == "oOnQueueUsers")
        .map(|e| e.stats.count.unwrap())
        .sum();
    assert_eq!(on_queue, 0.0);

    // The aggregates of the five minutes since answer under the surge too.
    let request = demo_request(
        start,
        clock.now(),
        "PT5M",
        &["nOffered", "tAbandon", "tWait"],
    );
    let (status, body) = post(&http, format!("{base}{QUERY_PATH}"), &token, &request).await;
    assert_eq!(status, 200, "{body}");
    let with_surge = sim.simulator.aggregate(&request).unwrap();
    assert_eq!(body, serde_json::to_string(&with_surge).unwrap());
    assert_ne!(with_surge, aggregate(&org, &request).unwrap());

    let counts = sim.simulator.requests();
    assert_eq!(
        (counts.observations, counts.presences, counts.aggregates),
        (2, 1, 1)
    );
}
