//! OAuth 2.0 client credentials against `login.<domain>`, with the token cached until
//! shortly before it expires.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::transport::{Transport, json_error_kind};
use crate::error::{Error, Result, api_text};
use genesys_wire::time::deadline_after;
use genesys_wire::{Endpoint, TOKEN_PATH, TokenResponse};

/// An OAuth client's ID and secret. Debug output shows the ID only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Hands out a valid access token, asking the login service only when the cached one is
/// about to expire or the API has refused it.
pub struct TokenCache {
    transport: Arc<Transport>,
    token_url: String,
    credentials: Credentials,
    cached: Mutex<Option<CachedToken>>,
    /// While the login service issues tokens that cannot be sent: until when nobody asks
    /// again, and the hold after the next refusal.
    unusable: std::sync::Mutex<Option<Hold>>,
}

/// A hold on asking for a token, after the login service issued one that cannot be sent.
#[derive(Clone, Copy)]
struct Hold {
    until: Instant,
    next: Duration,
}

/// The first hold after an unsendable token, doubled at each one after, up to
/// [`UNUSABLE_TOKEN_MAX_HOLD`]: every poll of every query would otherwise ask anew.
pub const UNUSABLE_TOKEN_FIRST_HOLD: Duration = Duration::from_secs(1);
pub const UNUSABLE_TOKEN_MAX_HOLD: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct CachedToken {
    token: SecretString,
    renew_at: Instant,
}

/// The longest a token is trusted, whatever `expires_in` says: Genesys issues tokens of at
/// most 48 hours (86,400 s by default); renewing a longer one daily costs one request a
/// day, and keeps a lifetime such as 2^64 - 1 seconds from overflowing instant arithmetic.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// The lifetime assumed for a token whose `expires_in` is absent or 0. Taking it at its word
/// would mean a token per request; this is the shortest lifetime Genesys lets an OAuth
/// client set (5 minutes), so a real token outlives it, and if the API refuses the token
/// sooner anyway, the client renews it once on the 401 as usual.
pub const UNKNOWN_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The lifetime a token is cached for, from its `expires_in` in seconds: at most
/// [`MAX_TOKEN_LIFETIME`], and [`UNKNOWN_TOKEN_LIFETIME`] when it says nothing (0).
pub fn token_lifetime(expires_in: u64) -> Duration {
    match expires_in {
        0 => UNKNOWN_TOKEN_LIFETIME,
        seconds => Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME),
    }
}

/// How long before its expiry a token is renewed, so that a request never leaves with a
/// token that expires on the way. Short-lived tokens are renewed at half their life.
fn renewal_margin(lifetime: Duration) -> Duration {
    Duration::from_secs(60).min(lifetime / 2)
}

impl TokenCache {
    pub fn new(transport: Arc<Transport>, login_url: &str, credentials: Credentials) -> Self {
        TokenCache {
            transport,
            token_url: format!("{}{TOKEN_PATH}", login_url.trim_end_matches('/')),
            credentials,
            cached: Mutex::new(None),
            unusable: std::sync::Mutex::new(None),
        }
    }

    /// A token that is not about to expire, from the cache if there is one.
    pub async fn token(&self) -> Result<SecretString> {
        self.get(None).await
    }

    /// A token other than `rejected`, which the API answered 401 to. If another request
    /// already renewed it, that newer token is returned without asking again.
    pub async fn renew(&self, rejected: &SecretString) -> Result<SecretString> {
        self.get(Some(rejected)).await
    }

    async fn get(&self, rejected: Option<&SecretString>) -> Result<SecretString> {
        // Held across the request, so that concurrent callers share one renewal.
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref() {
            let refused =
                rejected.is_some_and(|r| r.expose_secret() == current.token.expose_secret());
            if !refused && Instant::now() < current.renew_at {
                return Ok(current.token.clone());
            }
        }
        let endpoint = Endpoint::Token;
        let hold = *self.unusable.lock().unwrap_or_else(|p| p.into_inner());
        if hold.is_some_and(|hold| Instant::now() < hold.until) {
            return Err(Error::UnusableToken { endpoint });
        }
        let fresh = match self.request_token().await {
            Err(error @ Error::UnusableToken { .. }) => {
                let wait = hold.map_or(UNUSABLE_TOKEN_FIRST_HOLD, |hold| hold.next);
                if hold.is_none() {
                    tracing::warn!(
                        %error,
                        "unusable access token; asking again after 1 s, then twice as long each time up to 5 min"
                    );
                }
                *self.unusable.lock().unwrap_or_else(|p| p.into_inner()) = Some(Hold {
                    until: deadline_after(wait),
                    next: wait.saturating_mul(2).min(UNUSABLE_TOKEN_MAX_HOLD),
                });
                return Err(error);
            }
            other => other?,
        };
        if self
            .unusable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .is_some()
        {
            tracing::info!("the login service issues a usable access token again");
        }
        *cached = Some(fresh.clone());
        Ok(fresh.token)
    }

    async fn request_token(&self) -> Result<CachedToken> {
        let endpoint = Endpoint::Token;
        let credentials = &self.credentials;
        let request = self
            .transport
            .http
            .post(&self.token_url)
            .basic_auth(
                &credentials.client_id,
                Some(credentials.client_secret.expose_secret()),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials");
        let reply = self.transport.execute(endpoint, request).await?;
        if !reply.status.is_success() {
            let error = match reply.oauth_refusal(endpoint) {
                Some(refusal) => Error::OAuth {
                    endpoint,
                    status: reply.status.as_u16(),
                    description: api_text(
                        &refusal
                            .error_description
                            .or(refusal.description)
                            .unwrap_or_default(),
                    ),
                    error: api_text(&refusal.error),
                },
                None => reply.api_error(endpoint),
            };
            // Counted as it came in, under the same reason (`Reply::reason`).
            return Err(error);
        }
        // The body holds the token: a decoding error must not quote it.
        let granted: TokenResponse = serde_json::from_slice(&reply.body).map_err(|error| {
            let detail = format!(
                "the token response is not {{access_token, expires_in}} JSON ({})",
                json_error_kind(&error)
            );
            self.transport.failed(
                endpoint,
                Error::Decode {
                    endpoint,
                    detail,
                    correlation_id: reply.correlation_id.clone(),
                },
            )
        })?;
        // A token is sent as `Authorization: Bearer <token>`: one that cannot be a header
        // value would fail every request it is put on, for its whole lifetime. It is a
        // failed login, and never cached.
        // (`Bearer ` itself is a valid header value.)
        if reqwest::header::HeaderValue::from_bytes(granted.access_token.as_bytes()).is_err() {
            return Err(self
                .transport
                .failed(endpoint, Error::UnusableToken { endpoint }));
        }
        self.transport.api.token_refreshed();
        let lifetime = token_lifetime(granted.expires_in);
        if lifetime.as_secs() != granted.expires_in {
            tracing::warn!(
                expires_in = granted.expires_in,
                cached_seconds = lifetime.as_secs(),
                "the token's expires_in is absent, 0 or longer than a day; caching it for a sane lifetime instead"
            );
        } else {
            tracing::debug!(
                lifetime_seconds = granted.expires_in,
                "obtained an access token"
            );
        }
        Ok(CachedToken {
            token: granted.access_token.into(),
            renew_at: deadline_after(lifetime - renewal_margin(lifetime)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_minute_early_or_at_half_life_if_shorter() {
        assert_eq!(
            renewal_margin(Duration::from_secs(86400)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(90)),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn lifetimes_are_clamped_to_a_day_and_an_unknown_one_is_five_minutes() {
        assert_eq!(token_lifetime(86_400), Duration::from_secs(86_400));
        assert_eq!(token_lifetime(3), Duration::from_secs(3));
        assert_eq!(token_lifetime(0), Duration::from_secs(300));
        assert_eq!(token_lifetime(u64::MAX), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(i64::MAX as u64), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(172_800), MAX_TOKEN_LIFETIME);
    }

    #[test]
    fn debug_output_never_shows_the_secret_or_the_token() {
        let credentials = Credentials {
            client_id: "id-123".into(),
            client_secret: "s3cr3t-value".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("id-123"));
        assert!(!shown.contains("s3cr3t-value"));

        let response = TokenResponse {
            access_token: "tok-abc".into(),
            token_type: "bearer".into(),
            expires_in: 10,
        };
        assert!(!format!("{response:?}").contains("tok-abc"));
    }
}
