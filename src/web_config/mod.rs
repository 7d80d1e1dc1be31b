//! The web configuration file of the Prometheus exporter-toolkit (`--web.config.file`):
//! TLS, with client certificates if asked for ([`tls`]), basic auth against bcrypt hashes
//! ([`auth`]), and extra response headers, in the YAML that every Prometheus exporter
//! reads, so that users reuse the files and habits they have. A key this program does not
//! support is refused by name, never ignored: a setting that silently does nothing is a
//! hole in someone's security.
//!
//! As the toolkit does, the file and the files it names are read again when a connection
//! opens and before each request, so that a renewed certificate or a changed user takes
//! effect at once, with no signal and no restart. A change that does not check out is
//! logged once, and the last good configuration stays in force.
//!
//! It fails closed: whether the port speaks TLS is fixed at start, and a change that
//! would drop TLS, basic auth or client certificates is refused like a broken one (a
//! half-written file is often empty, which would otherwise be a valid "ask nothing"
//! config). A file is read again only when a `stat` of it or of a file it names says it
//! changed, so that a broken file costs a `stat` per request, not a parse.

mod auth;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use hyper::header::{HeaderName, HeaderValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde::Deserialize;
use tokio_rustls::rustls::ServerConfig;

use crate::files::read_capped;

pub use auth::{Verdict, basic_credentials};

/// The largest web config or PEM file read: far beyond any real one, and small enough that
/// a path pointed at a huge file by mistake costs nothing.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// The deepest nesting of a web config, in blocks and flow collections together. A real
/// one is 3 deep (`http_server_config.headers.X-Frame-Options`); a deeper one is refused
/// before the YAML parser sees it, as a deeply nested file costs a parser seconds.
pub const MAX_NESTING: usize = 16;

/// The file as written. Every table refuses keys it does not know.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    http_server_config: Option<HttpFile>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

/// `tls_server_config`, as far as rustls can honour it. The toolkit's inline `cert`, `key`
/// and `client_ca`, `client_allowed_sans`, and the Go-specific `cipher_suites`,
/// `curve_preferences` and `prefer_server_cipher_suites` are refused as unknown keys.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// `http_server_config`: only `headers` (the toolkit's `http2` is refused: this server
/// speaks HTTP/1.1).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    headers: Option<BTreeMap<String, String>>,
}

/// The headers the toolkit lets a web config add, with the values it accepts (any, when
/// none are listed).
const HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A checked configuration, as in force for a connection or a request.
#[derive(Default)]
pub struct Loaded {
    tls: Option<Arc<ServerConfig>>,
    /// User name → bcrypt hash; empty when no authentication is asked for.
    users: BTreeMap<String, String>,
    /// Whether TLS asks every client for a certificate signed by `client_ca_file`.
    client_certs: bool,
    /// A hash of no one's password at the highest cost of `users`, which an unknown user
    /// is checked against, so that timing does not tell which users exist.
    dummy: Option<Arc<str>>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Loaded {
    /// The TLS configuration for new connections, if TLS is on.
    pub fn tls(&self) -> Option<Arc<ServerConfig>> {
        self.tls.clone()
    }

    /// The headers to add to every response.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
}

/// The bytes a configuration was built from: the file and each file it names, by key.
/// When they have not changed, neither has the configuration.
#[derive(PartialEq, Eq)]
struct Sources {
    config: Vec<u8>,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// What `stat` says of a file, enough to tell that it changed without reading it; `None`
/// for a file that cannot be looked at.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

/// The stamp of each file read, the web config's first, taken before reading them.
type Stamps = Vec<(PathBuf, Option<Stamp>)>;

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        device: metadata.dev(),
        inode: metadata.ino(),
        size: metadata.size(),
        modified: (metadata.mtime(), metadata.mtime_nsec()),
        changed: (metadata.ctime(), metadata.ctime_nsec()),
    })
}

fn unchanged(stamps: &Stamps) -> bool {
    stamps.iter().all(|(path, seen)| stamp(path) == *seen)
}

/// The web config's own metrics, shown by the exporter.
#[derive(Clone, Default)]
pub struct WebConfigMetrics {
    /// 1 while the last change of the files was taken (or none was made), 0 while it was
    /// refused or did not check out and the last good configuration stays.
    pub last_reload_successful: Gauge,
    /// Changes refused because they would drop TLS or authentication.
    pub reloads_refused: Counter,
}

/// What the last look at the files found.
#[derive(Default)]
struct Seen {
    /// The files as stamped before the last read; while they stamp the same, nothing is read.
    stamps: Option<Stamps>,
    sources: Option<Sources>,
    /// The last error logged, so that a broken file is logged once, not per connection.
    error: Option<String>,
}

/// A web config file, re-read when it changes, and the basic-auth cache that outlives its
/// versions.
pub struct WebConfig {
    path: PathBuf,
    loaded: Mutex<Arc<Loaded>>,
    seen: Mutex<Seen>,
    auth: auth::Auth,
    /// Whether the port speaks TLS: fixed at start.
    tls: bool,
    metrics: OnceLock<WebConfigMetrics>,
    /// Whether the last change was taken, for metrics handed over after it.
    healthy: std::sync::atomic::AtomicBool,
    /// How many times the files were read, once at start: what the stamps save.
    reads: AtomicU64,
}

impl std::fmt::Debug for WebConfig {
    /// The path only: the file holds password hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// Reads and checks the file at start-up: any problem is an error that names the key
    /// and the fix.
    pub fn load(path: &Path) -> Result<WebConfig, String> {
        let mut stamps = Vec::new();
        let (sources, file) = read_sources(path, &mut stamps)?;
        let loaded = build(&file, &sources)?;
        Ok(WebConfig {
            path: path.to_owned(),
            tls: loaded.tls.is_some(),
            loaded: Mutex::new(Arc::new(loaded)),
            seen: Mutex::new(Seen {
                stamps: Some(stamps),
                sources: Some(sources),
                error: None,
            }),
            auth: auth::Auth::new(),
            metrics: OnceLock::new(),
            healthy: std::sync::atomic::AtomicBool::new(true),
            reads: AtomicU64::new(1),
        })
    }

    /// Shows from now on whether changes are taken, on `metrics`.
    pub fn report_to(&self, metrics: WebConfigMetrics) {
        metrics
            .last_reload_successful
            .set(i64::from(self.healthy.load(Ordering::Relaxed)));
        let _ = self.metrics.set(metrics);
    }

    /// How many times the files were read (at start included).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The configuration in force, without looking at the files: for `/healthz`, which
    /// must answer whatever state the file is in.
    pub fn in_force(&self) -> Arc<Loaded> {
        self.last_good()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force now: the file is read again (off the runtime's threads,
    /// since a path may name a slow disk) and rebuilt if it or a file it names changed.
    pub async fn current(self: &Arc<Self>) -> Arc<Loaded> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.refresh()).await {
            Ok(loaded) => loaded,
            Err(_) => self.last_good(),
        }
    }

    /// Whether the request's `Authorization` header lets it through under `loaded`, from
    /// `client` (whose uncached checks are bounded).
    pub async fn authorized(
        &self,
        loaded: &Loaded,
        authorization: Option<&HeaderValue>,
        client: Option<std::net::IpAddr>,
    ) -> Verdict {
        self.auth
            .check(
                &loaded.users,
                loaded.dummy.as_deref(),
                authorization,
                client,
            )
            .await
    }

    /// Why `new` may not replace `old`: it would turn TLS on or off, or drop basic auth or
    /// client certificates. Such a change needs a restart.
    fn weakens(&self, old: &Loaded, new: &Loaded) -> Option<String> {
        if new.tls.is_some() != self.tls {
            let (was, now) = if self.tls {
                ("TLS", "plain HTTP")
            } else {
                ("plain HTTP", "TLS")
            };
            return Some(format!(
                "it would switch the port from {was} to {now}, which only a restart does; refused (replace the file atomically, with a rename, so that no half-written file is read)"
            ));
        }
        if !old.users.is_empty() && new.users.is_empty() {
            return Some(
                "it would drop basic_auth_users and serve without authentication, which only a restart does; refused (replace the file atomically, with a rename, so that no half-written file is read)"
                    .into(),
            );
        }
        if old.client_certs && !new.client_certs {
            return Some(
                "it would stop requiring client certificates, which only a restart does; refused"
                    .into(),
            );
        }
        None
    }

    fn last_good(&self) -> Arc<Loaded> {
        lock(&self.loaded).clone()
    }

    /// Re-reads the files when a `stat` says they changed; rebuilds when their bytes did;
    /// keeps the last good configuration and logs once when they no longer check out or
    /// would weaken it.
    fn refresh(&self) -> Arc<Loaded> {
        let mut seen = lock(&self.seen);
        if seen.stamps.as_ref().is_some_and(unchanged) {
            return self.last_good();
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut stamps = Vec::new();
        let read = read_sources(&self.path, &mut stamps);
        seen.stamps = Some(stamps);
        let mut refused = false;
        let outcome = match read {
            Err(error) => {
                // Nothing to compare with: the next good read is built and logged afresh.
                seen.sources = None;
                Err(error)
            }
            Ok((sources, _)) if seen.sources.as_ref() == Some(&sources) => Ok(None),
            Ok((sources, file)) => {
                let built = build(&file, &sources).and_then(|loaded| {
                    match self.weakens(&self.last_good(), &loaded) {
                        Some(why) => {
                            refused = true;
                            Err(why)
                        }
                        None => Ok(loaded),
                    }
                });
                // Kept also when it failed, so that a broken file is not rebuilt each time.
                seen.sources = Some(sources);
                built.map(Some)
            }
        };
        if refused && let Some(metrics) = self.metrics.get() {
            metrics.reloads_refused.inc();
        }
        let healthy = match outcome {
            Ok(None) => seen.error.is_none(),
            Ok(Some(loaded)) => {
                *lock(&self.loaded) = Arc::new(loaded);
                seen.error = None;
                tracing::info!(file = %self.path.display(), "web config file changed: reloaded");
                true
            }
            Err(error) => {
                if seen.error.as_ref() != Some(&error) {
                    tracing::error!(
                        file = %self.path.display(),
                        %error,
                        "the web config file changed and is not taken; the last good one stays in force"
                    );
                    seen.error = Some(error);
                }
                false
            }
        };
        self.healthy.store(healthy, Ordering::Relaxed);
        if let Some(metrics) = self.metrics.get() {
            metrics.last_reload_successful.set(i64::from(healthy));
        }
        self.last_good()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a regular file of at most [`MAX_FILE_SIZE`] bytes, naming it in the error.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    read_capped(path, MAX_FILE_SIZE).map_err(|why| format!("{}: {why}", path.display()))
}

/// The file and the files it names, read; paths are relative to the file's directory, as
/// in the toolkit.
/// Each file is stamped, in `stamps`, before it is read.
fn read_sources(path: &Path, stamps: &mut Stamps) -> Result<(Sources, File), String> {
    stamps.push((path.to_owned(), stamp(path)));
    let config = read_file(path)?;
    let text = std::str::from_utf8(&config).map_err(|_| "not UTF-8 text".to_owned())?;
    let depth = nesting(text);
    if depth > MAX_NESTING {
        return Err(format!(
            "nested {depth} levels deep, past the {MAX_NESTING} a web config ever needs; not parsed"
        ));
    }
    // An empty file (or one of comments) is a valid config that asks for nothing.
    let file: File = serde_yaml_ng::from_str::<Option<File>>(text)
        .map_err(|error| error.to_string())?
        .unwrap_or_default();
    let directory = path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    if let Some(tls) = &file.tls_server_config {
        for (key, name) in [
            ("cert_file", &tls.cert_file),
            ("key_file", &tls.key_file),
            ("client_ca_file", &tls.client_ca_file),
        ] {
            if let Some(name) = name.as_deref().filter(|n| !n.is_empty()) {
                let named = directory.join(name);
                stamps.push((named.clone(), stamp(&named)));
                let bytes = read_file(&named)
                    .map_err(|error| format!("tls_server_config.{key}: {error}"))?;
                files.push((key, bytes));
            }
        }
    }
    Ok((Sources { config, files }, file))
}

/// How deeply `text` nests, in one pass and without parsing: block levels by indentation
/// (a `- ` counts as one), plus open flow brackets. It may overcount (a bracket inside a
/// quoted string counts), never undercount, so a file it passes parses at no great cost.
fn nesting(text: &str) -> usize {
    let mut indents: Vec<usize> = Vec::new();
    let mut deepest = 0;
    let mut flow = 0usize;
    for line in text.lines() {
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut indent = line.len() - content.len();
        let mut rest = content;
        if flow == 0 {
            while let Some(after) = rest
                .strip_prefix('-')
                .filter(|a| a.is_empty() || a.starts_with([' ', '\t']))
            {
                while indents.last().is_some_and(|&top| top >= indent) {
                    indents.pop();
                }
                indents.push(indent);
                deepest = deepest.max(indents.len());
                let trimmed = after.trim_start_matches([' ', '\t']);
                indent += rest.len() - trimmed.len();
                rest = trimmed;
            }
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        for byte in rest.bytes() {
            match byte {
                b'[' | b'{' => {
                    flow += 1;
                    deepest = deepest.max(indents.len() + flow);
                }
                b']' | b'}' => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        deepest = deepest.max(indents.len() + flow);
    }
    deepest
}

/// A bcrypt hash of no one's password at `cost`, made once per cost.
fn dummy_hash(cost: u32) -> Arc<str> {
    static HASHES: OnceLock<Mutex<BTreeMap<u32, Arc<str>>>> = OnceLock::new();
    let hashes = HASHES.get_or_init(Default::default);
    if let Some(hash) = lock(hashes).get(&cost) {
        return hash.clone();
    }
    let hash: Arc<str> = bcrypt::hash(b"no user has this password", cost)
        .map(Arc::from)
        .unwrap_or_else(|_| Arc::from(""));
    lock(hashes).insert(cost, hash.clone());
    hash
}

/// The checked configuration from the file as read.
fn build(file: &File, sources: &Sources) -> Result<Loaded, String> {
    let tls = match &file.tls_server_config {
        Some(written) => tls::server_config(written, &sources.files)?,
        None => None,
    };
    let client_certs = tls.is_some()
        && file
            .tls_server_config
            .as_ref()
            .and_then(|tls| tls.client_auth_type.as_deref())
            == Some("RequireAndVerifyClientCert");
    let users = file.basic_auth_users.clone().unwrap_or_default();
    let mut highest_cost = None;
    for (user, hash) in &users {
        let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
            return Err(format!(
                "basic_auth_users.{user}: not a bcrypt hash; make one with `htpasswd -nBC 10 {user}` and keep what follows the colon"
            ));
        };
        highest_cost = highest_cost.max(Some(parts.get_cost()));
    }
    let dummy = highest_cost.map(dummy_hash);
    let mut headers = Vec::new();
    let written = file
        .http_server_config
        .as_ref()
        .and_then(|http| http.headers.clone())
        .unwrap_or_default();
    for (name, value) in written {
        let Some((_, allowed)) = HEADERS.iter().find(|(known, _)| *known == name) else {
            let known: Vec<&str> = HEADERS.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "http_server_config.headers.{name}: this header cannot be set; the web config sets only {}",
                known.join(", ")
            ));
        };
        if value.is_empty() {
            continue;
        }
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(format!(
                "http_server_config.headers.{name}: '{value}' is not allowed; use one of {}",
                allowed.join(", ")
            ));
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("http_server_config.headers.{name}: not a valid header value"))?;
        let name =
            HeaderName::from_bytes(name.as_bytes()).expect("the known headers are valid names");
        headers.push((name, value));
    }
    Ok(Loaded {
        tls,
        users,
        client_certs,
        dummy,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(yaml: &str) -> Result<Loaded, String> {
        let file = serde_yaml_ng::from_str::<Option<File>>(yaml)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let sources = Sources {
            config: yaml.as_bytes().to_vec(),
            files: Vec::new(),
        };
        build(&file, &sources)
    }

    const ALICE: &str = "basic_auth_users:\n  alice: $2y$04$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\n";

    /// A web config file of `yaml` in a directory of its own, with a self-signed
    /// certificate beside it as `tls.crt` and `tls.key`.
    fn file_of(yaml: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("tls.crt"), certified.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("tls.key"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        (dir, path)
    }

    /// Replaces the file by a rename, so that its stamp changes whatever the clock's grain.
    fn replace(path: &Path, yaml: &str) {
        let next = path.with_extension("next");
        std::fs::write(&next, yaml).unwrap();
        std::fs::rename(&next, path).unwrap();
    }

    const TLS: &str = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";

    #[test]
    fn a_change_that_would_drop_tls_or_authentication_is_refused_and_shown() {
        for (start, weaker) in [
            // Half-written files: empty, or cut before the users.
            (format!("{TLS}{ALICE}"), String::new()),
            (format!("{TLS}{ALICE}"), TLS.to_owned()),
            (format!("{TLS}{ALICE}"), ALICE.to_owned()),
            (ALICE.to_owned(), "# nothing yet\n".to_owned()),
            // TLS is fixed at start, both ways.
            (ALICE.to_owned(), format!("{TLS}{ALICE}")),
            (
                format!(
                    "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls.crt\n{ALICE}"
                ),
                format!("{TLS}{ALICE}"),
            ),
        ] {
            let (_dir, path) = file_of(&start);
            let web = WebConfig::load(&path).unwrap();
            let metrics = WebConfigMetrics::default();
            web.report_to(metrics.clone());
            assert_eq!(metrics.last_reload_successful.get(), 1);
            let before = web.refresh();
            replace(&path, &weaker);
            for _ in 0..3 {
                let now = web.refresh();
                assert!(
                    Arc::ptr_eq(&before, &now),
                    "{start:?} → {weaker:?} was taken"
                );
            }
            assert_eq!(metrics.reloads_refused.get(), 1, "{start:?} → {weaker:?}");
            assert_eq!(metrics.last_reload_successful.get(), 0);
            // A good change is taken again, and shown.
            replace(&path, &format!("{start}# renewed\n"));
            assert!(!Arc::ptr_eq(&before, &web.refresh()));
            assert_eq!(metrics.last_reload_successful.get(), 1);
        }
        // Stronger is fine: users added to a port that had none.
        let (_dir, path) = file_of(TLS);
        let web = WebConfig::load(&path).unwrap();
        replace(&path, &format!("{TLS}{ALICE}"));
        assert_eq!(web.refresh().users.len(), 1);
    }

    #[test]
    fn an_unchanged_file_is_not_read_again_even_when_broken() {
        let (_dir, path) = file_of(ALICE);
        let web = WebConfig::load(&path).unwrap();
        for _ in 0..5 {
            web.refresh();
        }
        assert_eq!(web.reads(), 1, "an unchanged file was read again");
        replace(&path, &format!("{ALICE}{}\n", "[".repeat(50_000)));
        for _ in 0..5 {
            assert_eq!(web.refresh().users.len(), 1);
        }
        assert_eq!(web.reads(), 2, "a broken file was read once per request");
        // A file it names is stamped too.
        let (_dir, path) = file_of(&format!("{TLS}{ALICE}"));
        let web = WebConfig::load(&path).unwrap();
        let before = web.refresh();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        replace(&path.with_file_name("tls.crt"), &certified.cert.pem());
        replace(
            &path.with_file_name("tls.key"),
            &certified.signing_key.serialize_pem(),
        );
        assert!(
            !Arc::ptr_eq(&before, &web.refresh()),
            "a renewed certificate was missed"
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep_block: String = (0..40)
            .map(|n| format!("{}k{n}:\n", " ".repeat(n)))
            .collect();
        let deep_list: String = (0..40).map(|n| format!("{}-\n", "  ".repeat(n))).collect();
        for yaml in [
            "[".repeat(100_000),
            format!("a: {}", "{a: ".repeat(20)),
            deep_block,
            deep_list,
            format!("{}x\n", "- ".repeat(40)),
        ] {
            let error = read_sources(&file_of(&yaml).1, &mut Vec::new())
                .err()
                .unwrap_or_else(|| panic!("{:.60} was parsed", yaml));
            assert!(error.contains("nested"), "{error}");
        }
        for yaml in [
            format!("{TLS}{ALICE}http_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
            include_str!("../../deploy/web-config.example.yml").to_owned(),
        ] {
            assert!(nesting(&yaml) <= 4, "{yaml}: {}", nesting(&yaml));
        }
    }

    #[test]
    fn an_unknown_user_costs_the_highest_cost_configured() {
        let loaded = checked(&format!(
            "basic_auth_users:\n  a: {}\n  b: {}\n",
            bcrypt::hash("x", 4).unwrap(),
            bcrypt::hash("y", 6).unwrap()
        ))
        .unwrap();
        let dummy = loaded.dummy.as_deref().unwrap();
        assert_eq!(dummy.parse::<bcrypt::HashParts>().unwrap().get_cost(), 6);
        assert!(checked("").unwrap().dummy.is_none());
    }

    #[test]
    fn an_empty_file_asks_for_nothing() {
        for yaml in [
            "",
            "# nothing\n",
            "tls_server_config:\n",
            "tls_server_config: {}\n",
        ] {
            let loaded = checked(yaml).unwrap();
            assert!(loaded.tls().is_none() && loaded.users.is_empty() && loaded.headers.is_empty());
        }
    }

    #[test]
    fn users_and_headers_without_tls_as_in_the_toolkits_example() {
        let loaded = checked(
            "basic_auth_users:\n  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"\"\n",
        )
        .unwrap();
        assert!(loaded.tls().is_none());
        assert_eq!(loaded.users.len(), 1);
        assert_eq!(loaded.headers.len(), 1, "a blank header is left unset");
        assert_eq!(loaded.headers[0].0, "x-frame-options");
    }

    #[test]
    fn problems_are_named_without_echoing_hashes() {
        for (yaml, expected) in [
            (
                "basic_auth_users:\n  bob: secret\n",
                "basic_auth_users.bob: not a bcrypt hash",
            ),
            (
                "http_server_config:\n  headers:\n    Server: x\n",
                "headers.Server: this header cannot be set",
            ),
            (
                "tls_server_config:\n  cert_file: a.pem\n",
                "set both cert_file and key_file",
            ),
            (
                "tls_server_config:\n  min_version: TLS14\n  cert_file: a\n  key_file: b\n",
                "min_version",
            ),
            (
                "basic_auth_user:\n  a: b\n",
                "unknown field `basic_auth_user`",
            ),
        ] {
            let error = checked(yaml)
                .err()
                .unwrap_or_else(|| panic!("{yaml} was accepted"));
            assert!(error.contains(expected), "{yaml}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn tls_versions_are_a_range_of_the_two_rustls_speaks() {
        use tokio_rustls::rustls::ProtocolVersion;
        let versions = |min, max| {
            tls::versions(min, max).map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>())
        };
        assert_eq!(
            versions(None, None).unwrap(),
            [ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3]
        );
        assert_eq!(
            versions(Some("TLS13"), None).unwrap(),
            [ProtocolVersion::TLSv1_3]
        );
        assert_eq!(
            versions(None, Some("TLS12")).unwrap(),
            [ProtocolVersion::TLSv1_2]
        );
        assert!(versions(Some("TLS13"), Some("TLS12")).is_err());
        assert!(
            versions(Some("TLS11"), None)
                .unwrap_err()
                .contains("obsolete")
        );
    }
}
