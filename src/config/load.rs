//! Reading the configuration as written: a TOML file overridden by environment
//! variables, layered with figment. Layers, later ones winning: the file given with
//! `--config`; `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` and `GENESYS_REGION`; then any
//! key as `GENESYS_EXPORTER_<KEY>`, with `__` between nested keys.

use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Deserializer};

use super::Config;
use crate::error::{Error, Result};

/// The keys that can also be set as `GENESYS_<KEY>`, the names Genesys tools use; every
/// key can be set as `GENESYS_EXPORTER_<KEY>`.
pub const SHORT_ENV_KEYS: &[&str] = &["client_id", "client_secret", "region"];

impl Config {
    /// Reads the file (if any) and the environment. Fails on syntax errors, unknown keys
    /// and values of the wrong type, naming the key and where it came from.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "--config {}: no such file; give the path of a TOML file such as deploy/config.example.toml",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("GENESYS_").only(SHORT_ENV_KEYS))
            .merge(Env::prefixed("GENESYS_EXPORTER_").split("__"))
            .extract()
            .map_err(|error| {
                let problems: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
                Error::Config(problems.join("; "))
            })
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
