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

mod auth;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio_rustls::rustls::ServerConfig;

use crate::files::read_capped;

pub use auth::basic_credentials;

/// The largest web config or PEM file read: far beyond any real one, and small enough that
/// a path pointed at a huge file by mistake costs nothing.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

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

/// What the last look at the files found.
#[derive(Default)]
struct Seen {
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
        let (sources, file) = read_sources(path)?;
        let loaded = build(&file, &sources)?;
        Ok(WebConfig {
            path: path.to_owned(),
            loaded: Mutex::new(Arc::new(loaded)),
            seen: Mutex::new(Seen {
                sources: Some(sources),
                error: None,
            }),
            auth: auth::Auth::new(),
        })
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

    /// Whether the request's `Authorization` header lets it through under `loaded`.
    pub async fn authorized(&self, loaded: &Loaded, authorization: Option<&HeaderValue>) -> bool {
        self.auth.check(&loaded.users, authorization).await
    }

    fn last_good(&self) -> Arc<Loaded> {
        lock(&self.loaded).clone()
    }

    /// Re-reads the files; rebuilds when they changed; keeps the last good configuration
    /// and logs once when they no longer check out.
    fn refresh(&self) -> Arc<Loaded> {
        let mut seen = lock(&self.seen);
        let outcome = match read_sources(&self.path) {
            Err(error) => {
                // Nothing to compare with: the next good read is built and logged afresh.
                seen.sources = None;
                Err(error)
            }
            Ok((sources, _)) if seen.sources.as_ref() == Some(&sources) => Ok(None),
            Ok((sources, file)) => {
                let built = build(&file, &sources);
                // Kept also when it failed, so that a broken file is not rebuilt each time.
                seen.sources = Some(sources);
                built.map(Some)
            }
        };
        match outcome {
            Ok(None) => {}
            Ok(Some(loaded)) => {
                *lock(&self.loaded) = Arc::new(loaded);
                seen.error = None;
                tracing::info!(file = %self.path.display(), "web config file changed: reloaded");
            }
            Err(error) => {
                if seen.error.as_ref() != Some(&error) {
                    tracing::error!(
                        file = %self.path.display(),
                        %error,
                        "the web config file changed and no longer checks out; the last good one stays in force"
                    );
                    seen.error = Some(error);
                }
            }
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
fn read_sources(path: &Path) -> Result<(Sources, File), String> {
    let config = read_file(path)?;
    let text = std::str::from_utf8(&config).map_err(|_| "not UTF-8 text".to_owned())?;
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
                let bytes = read_file(&directory.join(name))
                    .map_err(|error| format!("tls_server_config.{key}: {error}"))?;
                files.push((key, bytes));
            }
        }
    }
    Ok((Sources { config, files }, file))
}

/// The checked configuration from the file as read.
fn build(file: &File, sources: &Sources) -> Result<Loaded, String> {
    let tls = match &file.tls_server_config {
        Some(written) => tls::server_config(written, &sources.files)?,
        None => None,
    };
    let users = file.basic_auth_users.clone().unwrap_or_default();
    for (user, hash) in &users {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(format!(
                "basic_auth_users.{user}: not a bcrypt hash; make one with `htpasswd -nBC 10 {user}` and keep what follows the colon"
            ));
        }
    }
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
