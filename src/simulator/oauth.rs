//! OAuth client credentials: the token endpoint, the tokens it issues and the bearer check
//! in front of the API.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, Response};
use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::server::read_body;
use super::{Simulator, random};
use crate::genesys::auth::{OAuthError, TokenResponse};
use crate::http::{Body, json};

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

    pub(super) async fn token<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let oauth_error = |status, error: &str, description: &str| {
            json(
                status,
                &OAuthError {
                    error: error.to_string(),
                    description: Some(description.to_string()),
                    error_description: Some(description.to_string()),
                },
            )
        };
        match self.client_credentials_match(request.headers()) {
            None => return oauth_error(401, "invalid_client", "client not found"),
            Some(false) => return oauth_error(401, "invalid_client", "authentication failed"),
            Some(true) => {}
        }
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return oauth_error(
                400,
                "invalid_request",
                "expected an application/x-www-form-urlencoded body",
            );
        }
        let body = match read_body(request.into_body()).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        match form_value(&String::from_utf8_lossy(&body), "grant_type").as_deref() {
            Some("client_credentials") => {}
            None => return oauth_error(400, "invalid_request", "grant_type is required"),
            Some(_) => {
                return oauth_error(
                    400,
                    "unsupported_grant_type",
                    "only client_credentials is supported",
                );
            }
        }
        let token = self.issue_token();
        tracing::debug!("simulator issued a token");
        json(
            200,
            &TokenResponse {
                access_token: token,
                token_type: "bearer".to_string(),
                expires_in: self.state.config.token_lifetime.as_secs(),
            },
        )
    }

    /// `None` when no usable `Basic` credentials were sent or the client id is unknown,
    /// `Some(false)` for a known client with the wrong secret.
    fn client_credentials_match(&self, headers: &hyper::HeaderMap) -> Option<bool> {
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
    pub(super) fn refuse_unauthorized<B>(&self, request: &Request<B>) -> Option<Response<Body>> {
        let Some(value) = request.headers().get(AUTHORIZATION) else {
            return Some(self.error(
                401,
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
        (!valid).then(|| self.error(401, "bad.credentials", "Invalid login credentials."))
    }
}

/// The first value of `key` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    use crate::genesys::auth::TOKEN_PATH;
    use crate::genesys::queues::QUEUES_PATH;
    use crate::simulator::{RequestCounts, SimulatorConfig};

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
                unauthorized: 4
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

    #[test]
    fn form_values_are_percent_decoded() {
        let body = "scope=a+b&grant%5Ftype=client%5Fcredentials&x=%zz%";
        assert_eq!(
            form_value(body, "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(form_value(body, "scope").as_deref(), Some("a b"));
        assert_eq!(form_value(body, "x").as_deref(), Some("%zz%"));
        assert_eq!(form_value(body, "missing"), None);
    }
}
