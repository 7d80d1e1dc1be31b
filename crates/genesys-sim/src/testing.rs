//! Calling the simulator in unit tests, without a socket.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;

use super::{SimulatedOrg, Simulator, Surge};
use genesys_wire::TOKEN_PATH;

pub(super) fn request(
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: &str,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth);
    }
    builder
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

pub(super) async fn call(sim: &Simulator, request: Request<Full<Bytes>>) -> (u16, Value) {
    let Ok(response) = sim.router().oneshot(request).await;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

pub(super) fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

pub(super) async fn bearer(sim: &Simulator) -> String {
    let auth = basic("demo-client", "demo-secret");
    let (status, body) = call(
        sim,
        request(
            Method::POST,
            TOKEN_PATH,
            Some(&auth),
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    format!("Bearer {}", body["access_token"].as_str().unwrap())
}

/// The ID of the org's queue called `name`.
pub(super) fn queue_id(org: &SimulatedOrg, name: &str) -> String {
    let queue = org.queues.iter().find(|q| q.name == name);
    queue.expect("the org has the queue").id.clone()
}

/// The surge the unit tests play: Sales from 14:10 on a weekday, with the defaults (half
/// the callers abandon, waits ten times as long, the same callers).
pub(super) fn sales_surge() -> Surge {
    Surge {
        queue: "Sales".into(),
        start: "2026-08-20T14:10:00Z".parse().unwrap(),
        abandon: 0.5,
        wait_factor: 10.0,
        volume: 1.0,
    }
}
