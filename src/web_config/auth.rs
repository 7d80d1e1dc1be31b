//! Basic auth against the bcrypt hashes of `basic_auth_users`, as the toolkit checks it.
//!
//! bcrypt is slow on purpose (cost 10 is tens of milliseconds), and Prometheus sends the
//! same credentials at every scrape: successes are cached, so that a scrape pays bcrypt
//! once per process, not once per request. The cache is keyed by an HMAC, under a key
//! drawn at start-up, of the user, the hash in force and the password: the password is
//! never stored, a changed hash misses the cache, and the keys say nothing outside this
//! process.
//!
//! A flood of wrong passwords must not slow the scrapes that know the right one: only
//! successes enter the cache, which an attacker cannot fill; failures go to a cache of
//! their own, which they may churn at will. A cached success is answered before any
//! queue. Uncached checks run one at a time, so that a flood costs one core; each client
//! address may have [`PER_CLIENT`] of them waiting or running, and all together at most
//! [`WAITING`]: past that, the answer is [`Verdict::Busy`] (429) at once, not a place in
//! a queue. An unknown user is checked against a hash of the highest cost configured, so
//! that timing does not tell which users exist.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use hyper::header::HeaderValue;
use ring::hmac;

/// How many outcomes each cache keeps; when one is full it is emptied. Only the real
/// users' successes enter the first, so it is never full in practice.
const CACHE_ENTRIES: usize = 1024;

/// Uncached checks one client address may have waiting or running.
pub const PER_CLIENT: usize = 2;

/// Uncached checks all clients together may have waiting or running.
pub const WAITING: usize = 32;

/// Whether a request may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Too many checks are waiting, from this client or from all: try again later.
    Busy,
}

pub(super) struct Auth {
    key: hmac::Key,
    successes: Mutex<HashSet<[u8; 32]>>,
    failures: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt at a time.
    gate: tokio::sync::Semaphore,
    /// Uncached checks waiting or running, per client address and in all.
    pending: Mutex<(HashMap<Option<IpAddr>, usize>, usize)>,
    /// How many bcrypt verifications ran: what the cache saves.
    verifications: AtomicU64,
}

/// A place among the uncached checks, given back when dropped.
struct Pending<'a> {
    auth: &'a Auth,
    client: Option<IpAddr>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut pending = super::lock(&self.auth.pending);
        let (by_client, all) = &mut *pending;
        *all = all.saturating_sub(1);
        if let Some(count) = by_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

impl Auth {
    pub(super) fn new() -> Auth {
        let random = ring::rand::SystemRandom::new();
        Auth {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &random)
                .expect("the system's random source works"),
            successes: Mutex::new(HashSet::new()),
            failures: Mutex::new(HashSet::new()),
            gate: tokio::sync::Semaphore::new(1),
            pending: Mutex::new((HashMap::new(), 0)),
            verifications: AtomicU64::new(0),
        }
    }

    /// Whether `authorization` names a user of `users` with the right password; allowed
    /// for anyone when there are no users. `dummy` is the hash an unknown user is checked
    /// against; `client` the address whose uncached checks are bounded.
    pub(super) async fn check(
        &self,
        users: &BTreeMap<String, String>,
        dummy: Option<&str>,
        authorization: Option<&HeaderValue>,
        client: Option<IpAddr>,
    ) -> Verdict {
        if users.is_empty() {
            return Verdict::Allowed;
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return Verdict::Denied;
        };
        let known = users.get(&user);
        let hash = known.cloned();
        let key = self.cache_key(&user, hash.as_deref().unwrap_or_default(), &password);
        let verdict = |ok: bool| {
            if ok && known.is_some() {
                Verdict::Allowed
            } else {
                Verdict::Denied
            }
        };
        if let Some(ok) = self.cached(&key) {
            return verdict(ok);
        }
        let Some(_pending) = self.pend(client) else {
            return Verdict::Busy;
        };
        let Ok(_permit) = self.gate.acquire().await else {
            return Verdict::Denied;
        };
        // Another request may have verified the same credentials while this one waited.
        if let Some(ok) = self.cached(&key) {
            return verdict(ok);
        }
        self.verifications.fetch_add(1, Ordering::Relaxed);
        // An unknown user costs a bcrypt too, at the highest cost configured.
        let hash = hash.or_else(|| dummy.map(str::to_owned));
        let ok = tokio::task::spawn_blocking(move || {
            hash.is_some_and(|hash| bcrypt::verify(&password, &hash).unwrap_or(false))
        })
        .await
        .unwrap_or(false);
        let ok = ok && known.is_some();
        let cache = if ok { &self.successes } else { &self.failures };
        let mut cache = super::lock(cache);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key);
        verdict(ok)
    }

    /// A place among the uncached checks, if `client` and all have room.
    fn pend(&self, client: Option<IpAddr>) -> Option<Pending<'_>> {
        let mut pending = super::lock(&self.pending);
        let (by_client, all) = &mut *pending;
        let mine = by_client.entry(client).or_default();
        if *mine >= PER_CLIENT || *all >= WAITING {
            if *mine == 0 {
                by_client.remove(&client);
            }
            return None;
        }
        *mine += 1;
        *all += 1;
        Some(Pending { auth: self, client })
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        if super::lock(&self.successes).contains(key) {
            return Some(true);
        }
        super::lock(&self.failures).contains(key).then_some(false)
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
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    async fn ok(
        auth: &Auth,
        users: &BTreeMap<String, String>,
        header: Option<&HeaderValue>,
    ) -> bool {
        auth.check(users, None, header, LOCAL).await == Verdict::Allowed
    }

    /// The future's outcome if it has one at its first poll: it waits for nothing.
    fn at_once<F: Future>(future: F) -> Option<F::Output> {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn the_same_credentials_pay_bcrypt_once_right_or_wrong() {
        let auth = Auth::new();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("right", 4).unwrap())]);
        for _ in 0..3 {
            assert!(!ok(&auth, &users, Some(&basic("alice", "wrong"))).await);
            assert!(ok(&auth, &users, Some(&basic("alice", "right"))).await);
            assert!(!ok(&auth, &users, Some(&basic("mallory", "right"))).await);
        }
        assert_eq!(auth.verifications.load(Ordering::Relaxed), 3);
        // A changed hash is a new key: the old outcome does not carry over.
        let changed = BTreeMap::from([("alice".to_owned(), bcrypt::hash("new", 4).unwrap())]);
        assert!(!ok(&auth, &changed, Some(&basic("alice", "right"))).await);
        assert!(ok(&auth, &changed, Some(&basic("alice", "new"))).await);
    }

    #[tokio::test]
    async fn wrong_passwords_never_evict_the_right_one() {
        let auth = Auth::new();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("right", 4).unwrap())]);
        assert!(ok(&auth, &users, Some(&basic("alice", "right"))).await);
        // Before: 1024 outcomes of any kind emptied the cache, the success with them.
        for guess in 0..CACHE_ENTRIES + 10 {
            let header = basic("alice", &format!("guess {guess}"));
            assert!(!ok(&auth, &users, Some(&header)).await);
        }
        let verified = auth.verifications.load(Ordering::Relaxed);
        assert!(ok(&auth, &users, Some(&basic("alice", "right"))).await);
        assert_eq!(
            auth.verifications.load(Ordering::Relaxed),
            verified,
            "the right password was hashed again"
        );
    }

    #[tokio::test]
    async fn a_cached_scrape_is_answered_while_hashes_wait_and_the_excess_is_busy_at_once() {
        let auth = Auth::new();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("right", 4).unwrap())]);
        assert!(ok(&auth, &users, Some(&basic("alice", "right"))).await);
        // A bcrypt in flight: every uncached check waits for it.
        let in_flight = auth.gate.acquire().await.unwrap();
        let guesses: Vec<HeaderValue> = (0..WAITING + 1)
            .map(|n| basic("alice", &format!("guess {n}")))
            .collect();
        let attacker = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2)));
        let mut waiting = Vec::new();
        for guess in &guesses[..PER_CLIENT] {
            let mut check = Box::pin(auth.check(&users, None, Some(guess), attacker));
            assert!(at_once(check.as_mut()).is_none(), "an uncached check waits");
            waiting.push(check);
        }
        // The same client's next guess is turned away at once, not queued.
        let excess = at_once(auth.check(&users, None, Some(&guesses[PER_CLIENT]), attacker));
        assert_eq!(excess, Some(Verdict::Busy));
        // Other clients queue up to the bound on all, then are turned away too.
        for (n, guess) in guesses[PER_CLIENT..].iter().enumerate() {
            let client = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, n as u8)));
            let mut check = Box::pin(auth.check(&users, None, Some(guess), client));
            let outcome = at_once(check.as_mut());
            if PER_CLIENT + n < WAITING {
                assert!(outcome.is_none(), "guess {n}");
                waiting.push(check);
            } else {
                assert_eq!(outcome, Some(Verdict::Busy), "guess {n}");
            }
        }
        // The cached scrape waits behind none of them.
        let scrape = at_once(auth.check(&users, None, Some(&basic("alice", "right")), LOCAL));
        assert_eq!(scrape, Some(Verdict::Allowed));
        drop(in_flight);
        for check in waiting {
            assert_eq!(check.await, Verdict::Denied);
        }
        assert_eq!(
            at_once(auth.check(&users, None, Some(&guesses[0]), attacker)),
            Some(Verdict::Denied),
            "failures are cached too, apart"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_is_checked_against_the_dummy_hash() {
        let auth = Auth::new();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("right", 4).unwrap())]);
        let dummy = bcrypt::hash("no user has this password", 5).unwrap();
        let verdict = auth
            .check(
                &users,
                Some(&dummy),
                Some(&basic("mallory", "no user has this password")),
                LOCAL,
            )
            .await;
        assert_eq!(verdict, Verdict::Denied, "the dummy hash lets no one in");
        assert_eq!(auth.verifications.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn no_users_let_everyone_in_and_bad_headers_no_one() {
        let auth = Auth::new();
        assert!(ok(&auth, &BTreeMap::new(), None).await);
        let users = BTreeMap::from([("a".to_owned(), bcrypt::hash("b", 4).unwrap())]);
        assert!(!ok(&auth, &users, None).await);
        for header in ["Bearer abc", "Basic !!!", "Basic YWJj", "basic"] {
            let header = HeaderValue::from_static(header);
            assert!(!ok(&auth, &users, Some(&header)).await, "{header:?}");
        }
        // The scheme is case-insensitive, and a password may hold colons.
        let users = BTreeMap::from([("a".to_owned(), bcrypt::hash("b:c", 4).unwrap())]);
        let encoded = base64::engine::general_purpose::STANDARD.encode("a:b:c");
        let header = HeaderValue::from_str(&format!("bAsIc {encoded}")).unwrap();
        assert!(ok(&auth, &users, Some(&header)).await);
    }
}
