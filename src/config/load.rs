//! Reading the configuration as written: a TOML file overridden by environment
//! variables, layered with figment. Layers, later ones winning: the file given with
//! `--config`; `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` and `GENESYS_REGION`; then any
//! key as `GENESYS_EXPORTER_<KEY>`, with `__` between nested keys.
//!
//! Files are read only if they are regular files, and only up to a size: a FIFO would
//! block, and `/dev/zero` never ends. No error shows a secret's value: a TOML syntax error
//! names its line and column, never the text; a secret's type error names the key only;
//! and secrets from the environment are taken as written, never parsed as numbers.

use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer};

use super::Config;
use crate::error::{Error, Result};
use crate::files::read_capped;

/// The keys that can also be set as `GENESYS_<KEY>`, the names Genesys tools use; every
/// key can be set as `GENESYS_EXPORTER_<KEY>`.
pub const SHORT_ENV_KEYS: &[&str] = &["client_id", "client_secret", "region"];

/// The keys whose values are secret: never shown in an error, never parsed from the
/// environment as anything but text.
pub const SECRET_KEYS: &[&str] = &["client_secret"];

/// The largest configuration file read: the example with every key is 4 KiB.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest `client_secret_file` read: a secret is some tens of bytes.
pub const MAX_SECRET_BYTES: u64 = 64 << 10;

impl Config {
    /// Reads the file (if any) and the environment. Fails on syntax errors, unknown keys
    /// and values of the wrong type, naming the key and where it came from.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            let text = read_capped(path, MAX_CONFIG_BYTES)
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
                })
                .map_err(|problem| {
                    Error::Config(format!(
                        "--config {}: {problem}; give the path of a TOML file such as deploy/config.example.toml",
                        path.display()
                    ))
                })?;
            if let Err(error) = toml::from_str::<toml::Table>(&text) {
                return Err(Error::Config(syntax_error(path, &text, &error)));
            }
            figment = figment.merge(TomlFile { path, text });
        }
        // Secrets from the environment are merged as the text they are: figment's Env
        // would parse `12345` as a number, then refuse it as a secret and show it.
        let short = Env::prefixed("GENESYS_").only(SHORT_ENV_KEYS);
        let long = Env::prefixed("GENESYS_EXPORTER_").split("__");
        figment
            .merge(short.clone().ignore(SECRET_KEYS))
            .merge(as_text(short.only(SECRET_KEYS)))
            .merge(long.clone().ignore(SECRET_KEYS))
            .merge(as_text(long.only(SECRET_KEYS)))
            .extract()
            .map_err(|error| {
                let problems: Vec<String> = error.into_iter().map(|e| shown(&e)).collect();
                Error::Config(problems.join("; "))
            })
    }
}

/// A TOML syntax error by line and column and what is wrong, never with the text around
/// it (as toml's own message has): the line may hold a secret.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> String {
    let at = error.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let key = line_text.trim_start().trim_start_matches(['"', '\'']);
    let secret = SECRET_KEYS.iter().find(|secret| {
        key.strip_prefix(**secret)
            .is_some_and(|rest| rest.trim_start().starts_with(['=', '"', '\'']))
    });
    let whose = match secret {
        Some(key) => format!(" (on the {key} line)"),
        None => String::new(),
    };
    let message = error.message().trim().replace('\n', "; ");
    format!(
        "--config {}: TOML syntax error at line {line}, column {column}{whose}: {message}",
        path.display()
    )
}

/// One figment error as shown: a secret key's error names the key and where it came
/// from, never the value (figment's message would: ``found unsigned int `12345` ``).
fn shown(error: &figment::Error) -> String {
    match error.path.first() {
        Some(key) if SECRET_KEYS.contains(&key.as_str()) => {
            let from = error
                .metadata
                .as_ref()
                .map(|metadata| match &metadata.source {
                    Some(source) => format!(" in {} {source}", metadata.name),
                    None => format!(" in {}", metadata.name),
                })
                .unwrap_or_default();
            format!("{key}: not text{from}; write the secret in quotes (its value is not shown)")
        }
        _ => error.to_string(),
    }
}

/// The variables `env` selects, merged as strings rather than parsed.
fn as_text(env: Env) -> Figment {
    env.iter().fold(Figment::new(), |figment, (key, value)| {
        figment.merge(Serialized::default(key.as_str(), value))
    })
}

/// The configuration file's text, already read (within the size cap) and checked for
/// syntax, given to figment under the file's name for its messages.
struct TomlFile<'a> {
    path: &'a Path,
    text: String,
}

impl Provider for TomlFile<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", self.path)
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}

/// A duration as whole seconds (`90`) or text (`"90s"`, `"1m30s"`, `"PT90S"`).
pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Text(String),
    }
    let parsed = match Written::deserialize(deserializer)? {
        Written::Seconds(seconds) => Duration::from_secs(seconds),
        Written::Text(text) => {
            let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "'{text}' is not a duration; write it as \"90s\", \"15m\" or a number of seconds"
                ))
            })?;
            Duration::try_from(signed)
                .map_err(|_| serde::de::Error::custom(format!("'{text}' is negative")))?
        }
    };
    Ok(Some(parsed))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `toml` as written, without the environment.
    pub(in crate::config) fn config(toml: &str) -> Config {
        Figment::new().merge(Toml::string(toml)).extract().unwrap()
    }

    #[test]
    fn durations_can_be_seconds_or_text() {
        let config =
            config("request_timeout = 5\n[[queries]]\nname = \"q\"\nsettle_delay = \"2m\"\n");
        assert_eq!(config.request_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            config.queries[0].settle_delay,
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn a_duration_that_is_not_one_names_the_forms_it_may_take() {
        let error = Figment::new()
            .merge(Toml::string("job_timeout = \"soon\""))
            .extract::<Config>()
            .unwrap_err();
        assert!(
            error.to_string().contains("'soon' is not a duration"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = Figment::new()
            .merge(Toml::string("client_idd = \"x\""))
            .extract::<Config>()
            .unwrap_err();
        assert!(error.to_string().contains("client_idd"), "{error}");
    }

    #[test]
    fn a_syntax_error_on_the_secrets_line_names_the_line_not_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for (toml, at) in [
            (
                "client_id = \"a\"\nclient_secret = \"Sup3rS3cret\n",
                "line 2, column 29",
            ),
            (
                "client_id = \"a\"\nclient_secret = Sup3rS3cret\n",
                "line 2, column 17",
            ),
            ("\"client_secret\" = Sup3rS3cret\n", "line 1, column 19"),
        ] {
            let path = dir.join("secret.toml");
            std::fs::write(&path, toml).unwrap();
            let error = Config::load(Some(&path)).unwrap_err().to_string();
            assert!(!error.contains("Sup3rS3cret"), "{error}");
            assert!(
                error.contains(&format!(
                    "TOML syntax error at {at} (on the client_secret line): "
                )),
                "{error}"
            );
        }
        // A secret that is not a string is refused without its value.
        let path = dir.join("number.toml");
        std::fs::write(&path, "client_secret = 918273645\n").unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(!error.contains("918273645"), "{error}");
        assert!(
            error.contains("client_secret: not text in TOML file"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_is_named_with_the_fix() {
        let error = Config::load(Some(Path::new("/nonexistent/genesys.toml"))).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("--config /nonexistent/genesys.toml: no such file"),
            "{error}"
        );
    }
}
