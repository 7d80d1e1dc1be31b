//! OAuth client credentials: the token endpoint, the tokens it issues and the bearer check
//! in front of the API.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::time::Instant;

use super::protocol::unreadable_body;
use super::{Simulator, random};
use genesys_wire::{OAuthError, TokenResponse};

/// The token request's form. The client's id and secret come in the `Basic` header.
#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
}

/// `POST /oauth/token`. The client is checked before its form, whose rejection is answered
/// the OAuth way.
pub(super) async fn token(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match sim.client_credentials_match(&headers) {
        None => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client not found",
            );
        }
        Some(false) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authentication failed",
            );
        }
        Some(true) => {}
    }
    let grant_type = match form {
        Ok(Form(form)) => form.grant_type,
        Err(FormRejection::BytesRejection(rejection)) => return unreadable_body(rejection),
        Err(FormRejection::InvalidFormContentType(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "expected an application/x-www-form-urlencoded body",
            );
        }
        Err(rejection) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &rejection.body_text(),
            );
        }
    };
    match grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
    }
    let token = sim.issue_token();
    tracing::debug!("simulator issued a token");
    Json(TokenResponse {
        access_token: token,
        token_type: "bearer".to_string(),
        expires_in: sim.state.config.token_lifetime.as_secs(),
    })
    .into_response()
}

/// Any other method at the token endpoint.
pub(super) async fn use_post(State(sim): State<Simulator>) -> Response {
    sim.error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method.not.allowed",
        "Use POST for /oauth/token",
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = OAuthError {
        error: error.to_string(),
        description: Some(description.to_string()),
        error_description: Some(description.to_string()),
    };
    (status, Json(body)).into_response()
}

impl Simulator {
    /// Makes every token issued so far invalid (the next API call with one gets a 401), as
    /// when an admin revokes a client's tokens. Tokens issued afterwards work.
    pub fn revoke_tokens(&self) {
        self.tokens().clear();
        tracing::debug!("simulator revoked all tokens");
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Nothing panics while holding the lock, but a poisoned map is still a valid map.
        self.state
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `None` when no usable `Basic` credentials were sent or the client id is unknown,
    /// `Some(false)` for a known client with the wrong secret.
    fn client_credentials_match(&self, headers: &HeaderMap) -> Option<bool> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let config = &self.state.config;
        if id != config.client_id {
            return None;
        }
        Some(constant_time_eq(
            secret.as_bytes(),
            config.client_secret.expose_secret().as_bytes(),
        ))
    }

    /// A fresh token: 48 bytes of keyed hash output, base64url like a real token. Unique
    /// because each comes from its own serial number; unpredictable because of the seed.
    fn issue_token(&self) -> String {
        let token = self.token_for(self.next_serial());
        let now = Instant::now();
        let mut tokens = self.tokens();
        // Forget expired tokens so that the map stays as small as the set of valid ones.
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + self.state.config.token_lifetime);
        token
    }

    fn token_for(&self, serial: u64) -> String {
        let mut bytes = Vec::with_capacity(48);
        for i in 0..6u64 {
            let word = random::mix(self.state.seed ^ random::mix(serial.wrapping_mul(8) + i));
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Every access token issued so far, and then some: tokens share their serial numbers
    /// with context ids, so this is the token of every serial used. For tests that check
    /// no token leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        let used = self.state.serial.load(Ordering::Relaxed);
        (0..used).map(|serial| self.token_for(serial)).collect()
    }

    /// The 401 answer for a request without a valid bearer token, `None` when it has one.
    pub(super) fn refuse_unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Some(self.error(
                StatusCode::UNAUTHORIZED,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let valid = token.is_some_and(|token| {
            self.tokens()
                .get(token)
                .is_some_and(|expires| *expires > Instant::now())
        });
        (!valid).then(|| {
            self.error(
                StatusCode::UNAUTHORIZED,
                "bad.credentials",
                "Invalid login credentials.",
            )
        })
    }
}

/// Compares secrets without an early exit, so response timing does not reveal how much of
/// a guessed secret was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::Method;

    use super::super::testing::{basic, bearer, call, request};
    use super::*;
    use crate::{RequestCounts, SimulatorConfig};
    use genesys_wire::QUEUES_PATH;
    use genesys_wire::TOKEN_PATH;

    #[tokio::test]
    async fn the_token_endpoint_checks_client_and_grant() {
        let sim = Simulator::new(SimulatorConfig::default());
        let form = "grant_type=client_credentials";
        for (auth, description) in [
            (Some(basic("demo-client", "wrong")), "authentication failed"),
            (
                Some(basic("someone-else", "demo-secret")),
                "client not found",
            ),
            (None, "client not found"),
            (Some("Bearer demo-secret".to_string()), "client not found"),
        ] {
            let (status, body) = call(
                &sim,
                request(Method::POST, TOKEN_PATH, auth.as_deref(), form),
            )
            .await;
            assert_eq!(status, 401);
            assert_eq!(body["error"], "invalid_client");
            assert_eq!(body["error_description"], description);
        }
        let auth = basic("demo-client", "demo-secret");
        let (status, body) = call(
            &sim,
            request(Method::POST, TOKEN_PATH, Some(&auth), "grant_type=password"),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );

        let (status, first) =
            call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        assert_eq!(status, 200);
        assert_eq!(first["token_type"], "bearer");
        assert_eq!(first["expires_in"], 86_400);
        let (_, second) = call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        let (first, second) = (
            first["access_token"].as_str().unwrap(),
            second["access_token"].as_str().unwrap(),
        );
        assert_ne!(first, second);
        assert!(first.len() >= 40 && !first.contains("demo-secret"));

        let (status, _) = call(&sim, request(Method::GET, TOKEN_PATH, Some(&auth), "")).await;
        assert_eq!(status, 405);
        assert_eq!(
            sim.requests(),
            RequestCounts {
                token: 8,
                aggregates: 0,
                queues: 0,
                jobs: 0,
                observations: 0,
                presences: 0,
                unauthorized: 4,
                ..RequestCounts::default()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_after_their_lifetime() {
        let sim = Simulator::new(SimulatorConfig {
            token_lifetime: Duration::from_secs(300),
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        tokio::time::advance(Duration::from_secs(299)).await;
        let (status, _) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(status, 200);
        tokio::time::advance(Duration::from_secs(1)).await;
        let (status, body) = call(&sim, request(Method::GET, QUEUES_PATH, Some(&auth), "")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("bad.credentials"))
        );
    }

    #[tokio::test]
    async fn the_token_form_is_percent_decoded() {
        let sim = Simulator::new(SimulatorConfig::default());
        let auth = basic("demo-client", "demo-secret");
        let form = "scope=a+b&grant%5Ftype=client%5Fcredentials&x=%zz%";
        let (status, body) = call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        assert_eq!(status, 200, "{body}");
        let form = "grant_type=client%5Fcredentials%21";
        let (status, body) = call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
    }

    #[tokio::test]
    async fn one_orgs_credentials_and_tokens_are_refused_by_anothers() {
        let org = |name: &str| {
            Simulator::new(SimulatorConfig {
                client_id: format!("{name}-client"),
                client_secret: format!("{name}-secret").into(),
                org: crate::SimulatedOrg::named(name, 6, vec!["voice".into()]),
                ..SimulatorConfig::default()
            })
        };
        let (east, west) = (org("east"), org("west"));
        let form = "grant_type=client_credentials";
        let token = |sim: &Simulator, name: &str| {
            let auth = basic(&format!("{name}-client"), &format!("{name}-secret"));
            let sim = sim.clone();
            async move { call(&sim, request(Method::POST, TOKEN_PATH, Some(&auth), form)).await }
        };
        let (status, body) = token(&west, "east").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        let (status, body) = token(&east, "east").await;
        assert_eq!(status, 200, "{body}");
        let east_token = format!("Bearer {}", body["access_token"].as_str().unwrap());
        // West issues a token of its own too: the two must not be the same string.
        let (status, _) = token(&west, "west").await;
        assert_eq!(status, 200);
        let list = || request(Method::GET, QUEUES_PATH, Some(&east_token), "");
        let (status, _) = call(&east, list()).await;
        assert_eq!(status, 200);
        let (status, body) = call(&west, list()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("bad.credentials"))
        );
        assert_eq!(west.requests().unauthorized, 2);
        assert_eq!(east.requests().unauthorized, 0);
    }
}
