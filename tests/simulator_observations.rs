//! The simulator's queue observations, presence definitions, abandon surge and conversation
//! details over a real socket, with reqwest as the client the exporter also uses, on a held
//! simulated clock: the answers are byte for byte what its pure functions give for that
//! instant.

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

#[tokio::test(start_paused = true)]
async fn the_conversation_details_over_http_are_the_simulators_own() {
    use genesys_wire::details::{CONVERSATION_DETAILS_PATH, ConversationDetailsQuery};
    let _held = hold_time();
    let degrade = genesys_sim::FailureSurge {
        target: "Edge HQ 1".into(),
        start: "2026-08-20T14:00:00Z".parse().unwrap(),
    };
    let sim = start_simulator(SimulatorConfig {
        clock: Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap()),
        edge_degrade: Some(degrade.clone()),
        ..afternoon_sim()
    })
    .await;
    let (http, base) = (reqwest::Client::new(), sim.url.clone());
    let token = token(&http, &base).await;
    let url = format!("{base}{CONVERSATION_DETAILS_PATH}");
    let interval = "2026-08-20T13:00:00.000Z/2026-08-20T14:05:00.000Z";
    let query = ConversationDetailsQuery::voice_quality(interval.into(), 100, 1);
    let (status, body) = post(&http, url.clone(), &token, &query).await;
    assert_eq!(status, 200, "{body}");
    let expected = sim.simulator.conversation_details(&query).unwrap();
    assert_eq!(body, serde_json::to_string(&expected).unwrap());
    // The latest ended first: a page of calls that ended after the Edge degraded.
    let hq1 = &genesys_sim::edges(sim.simulator.org())[0].id;
    let page: genesys_wire::details::ConversationDetailsResponse =
        serde_json::from_str(&body).unwrap();
    let conversations = page.conversations.unwrap();
    let on_hq1 = |c: &&genesys_wire::details::DetailConversation| {
        c.participants[0].sessions[0].edge_id.as_ref() == Some(hq1)
    };
    assert!(conversations.iter().filter(on_hq1).count() > 20);
    let mos =
        |c: &genesys_wire::details::DetailConversation| c.media_stats_min_conversation_mos.unwrap();
    assert!(conversations.iter().filter(on_hq1).all(|c| mos(c) < 3.0));
    let elsewhere: Vec<_> = conversations.iter().filter(|c| !on_hq1(c)).collect();
    assert!(elsewhere.len() > 20 && elsewhere.iter().filter(|c| mos(c) >= 3.5).count() > 20);
    let past = ConversationDetailsQuery::voice_quality(interval.into(), 100, 1001);
    let (status, body) = post(&http, url, &token, &past).await;
    assert_eq!(status, 400);
    let error: genesys_wire::ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(error.message, "Pagination may not exceed 100000 results.");
    assert_eq!(sim.simulator.requests().conversation_details, 2);
}
