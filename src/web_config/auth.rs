//! Basic auth against the bcrypt hashes of `basic_auth_users`, as the toolkit checks it.
//!
//! bcrypt is slow on purpose (cost 10 is tens of milliseconds), and Prometheus sends the
//! same credentials at every scrape: each outcome is cached, so that a scrape pays bcrypt
//! once per process, not once per request. The cache is keyed by an HMAC, under a key
//! drawn at start-up, of the user, the hash in force and the password: the password is
//! never stored, a changed hash misses the cache, and the keys say nothing outside this
//! process. Outcomes that are not cached are computed one at a time, as in the toolkit,
//! so that a flood of new passwords costs one core, not all of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use hyper::header::HeaderValue;
use ring::hmac;

/// How many outcomes the cache keeps; when full it is emptied, which costs the real users
/// one bcrypt each.
const CACHE_ENTRIES: usize = 1024;

pub(super) struct Auth {
    key: hmac::Key,
    cache: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt at a time.
    gate: tokio::sync::Semaphore,
    /// How many bcrypt verifications ran: what the cache saves.
    verifications: AtomicU64,
}

impl Auth {
    pub(super) fn new() -> Auth {
        let random = ring::rand::SystemRandom::new();
        Auth {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &random)
                .expect("the system's random source works"),
            cache: Mutex::new(HashMap::new()),
            gate: tokio::sync::Semaphore::new(1),
            verifications: AtomicU64::new(0),
        }
    }

    /// Whether `authorization` names a user of `users` with the right password; true for
    /// anyone when there are no users.
    pub(super) async fn check(
        &self,
        users: &BTreeMap<String, String>,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        if users.is_empty() {
            return true;
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        let known = users.get(&user);
        let hash = known.cloned();
        let key = self.cache_key(&user, hash.as_deref().unwrap_or_default(), &password);
        if let Some(ok) = self.cached(&key) {
            return ok && known.is_some();
        }
        let Ok(_permit) = self.gate.acquire().await else {
            return false;
        };
        // Another request may have verified the same credentials while this one waited.
        if let Some(ok) = self.cached(&key) {
            return ok && known.is_some();
        }
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let ok = tokio::task::spawn_blocking(move || {
            // An unknown user costs a bcrypt too, so that timing does not tell which users
            // exist.
            let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
            bcrypt::verify(&password, hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let mut cache = super::lock(&self.cache);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, ok);
        ok && known.is_some()
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        super::lock(&self.cache).get(key).copied()
    }

    fn cache_key(&self, user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        for part in [user.as_bytes(), hash.as_bytes(), password] {
            // Lengths first, so that no two different triples read the same.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        let mut key = [0; 32];
        key.copy_from_slice(context.sign().as_ref());
        key
    }
}

/// A bcrypt hash of no one's password, for unknown users; made once, at cost 10 as
/// `htpasswd -B` makes them.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        bcrypt::hash(b"no user has this password", 10).expect("hashing a short password works")
    })
}

/// The user and password of an `Authorization: Basic` header; `None` for any other
/// scheme, bad base64, no colon or a user name that is not UTF-8.
pub fn basic_credentials(header: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let text = header.to_str().ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[tokio::test]
    async fn the_same_credentials_pay_bcrypt_once_right_or_wrong() {
        let auth = Auth::new();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("right", 4).unwrap())]);
        for _ in 0..3 {
            assert!(!auth.check(&users, Some(&basic("alice", "wrong"))).await);
            assert!(auth.check(&users, Some(&basic("alice", "right"))).await);
            assert!(!auth.check(&users, Some(&basic("mallory", "right"))).await);
        }
        assert_eq!(auth.verifications.load(Ordering::Relaxed), 3);
        // A changed hash is a new key: the old outcome does not carry over.
        let changed = BTreeMap::from([("alice".to_owned(), bcrypt::hash("new", 4).unwrap())]);
        assert!(!auth.check(&changed, Some(&basic("alice", "right"))).await);
        assert!(auth.check(&changed, Some(&basic("alice", "new"))).await);
    }

    #[tokio::test]
    async fn no_users_let_everyone_in_and_bad_headers_no_one() {
        let auth = Auth::new();
        assert!(auth.check(&BTreeMap::new(), None).await);
        let users = BTreeMap::from([("a".to_owned(), bcrypt::hash("b", 4).unwrap())]);
        assert!(!auth.check(&users, None).await);
        for header in ["Bearer abc", "Basic !!!", "Basic YWJj", "basic"] {
            let header = HeaderValue::from_static(header);
            assert!(!auth.check(&users, Some(&header)).await, "{header:?}");
        }
        // The scheme is case-insensitive, and a password may hold colons.
        let users = BTreeMap::from([("a".to_owned(), bcrypt::hash("b:c", 4).unwrap())]);
        let encoded = base64::engine::general_purpose::STANDARD.encode("a:b:c");
        let header = HeaderValue::from_str(&format!("bAsIc {encoded}")).unwrap();
        assert!(auth.check(&users, Some(&header)).await);
    }
}
