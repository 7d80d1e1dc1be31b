//! Reading the configuration as written: a TOML file overridden by environment
//! variables, layered with figment. Layers, later ones winning: the file given with
//! `--config`; `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` and `GENESYS_REGION`; then any
//! key as `GENESYS_EXPORTER_<KEY>`, with `__` between nested keys.
//!
//! Files are read only if they are regular files, and only up to a size: a FIFO would
//! block, and `/dev/zero` never ends. No error shows a secret's value: a TOML syntax error
//! names its line and column, never the text; a secret's type error names the key only;
//! and secrets from the environment are taken as written, never parsed as numbers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::{Deserialize, Deserializer};

use super::Config;
use super::suggest::did_you_mean;
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
            .map(|config| Config {
                file: path.map(Path::to_owned),
                ..config
            })
            .map_err(|error| {
                let problems: Vec<String> = error.into_iter().map(|e| shown(&e)).collect();
                Error::Config(problems.join("; "))
            })
    }

    /// How a relative path of this configuration was resolved, for a message about a
    /// file it names: " (relative paths are resolved from the directory of
    /// /etc/genesys-exporter/config.toml)"; `elsewhere` says where else the path may come
    /// from ("in the environment", "with --web.config.file"), which takes relative paths
    /// from the working directory.
    pub(super) fn relative_paths(&self, elsewhere: Option<&str>) -> String {
        let Some(file) = &self.file else {
            return " (a relative path is resolved from the working directory)".into();
        };
        let elsewhere = elsewhere
            .map(|elsewhere| format!("; given {elsewhere}, from the working directory"))
            .unwrap_or_default();
        format!(
            " (relative paths are resolved from the directory of {}{elsewhere})",
            std::path::absolute(file)
                .unwrap_or_else(|_| file.clone())
                .display()
        )
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

/// One figment error as shown: `queries[1].granularty: unknown key in genesys.toml; did
/// you mean 'granularity'?`. The key is written as the validation messages write it, not
/// as figment does (`default.queries.1.granularty`, under its profile's name), and says
/// where it came from: the file, or the environment variable. A secret key's error names
/// the key and where it came from, never the value (figment's message would: ``found
/// unsigned int `12345` ``).
fn shown(error: &figment::Error) -> String {
    let key = key_path(&error.path);
    let from = origin(error);
    match &error.kind {
        // At the top level or in an [[orgs]] table.
        _ if error
            .path
            .iter()
            .any(|key| SECRET_KEYS.contains(&key.as_str())) =>
        {
            format!("{key}: not text{from}; write the secret in quotes (its value is not shown)")
        }
        Kind::UnknownField(_, expected) => {
            let typed = error.path.last().map_or("", String::as_str);
            let fix = match did_you_mean(typed, expected.iter().copied()) {
                Some(did_you_mean) => did_you_mean,
                None => format!("the keys here are {}", expected.join(", ")),
            };
            format!("{key}: unknown key{from}; {fix}")
        }
        Kind::InvalidType(found, expected) if expected == "a sequence" => {
            match array_of_tables(&error.path) {
                Some((header, each)) => {
                    let found = match found {
                        Actual::Map => format!("one table [{header}]"),
                        other => other.to_string(),
                    };
                    format!(
                        "{key}: expected a list of tables, found {found}{from}; write [[{header}]], with two brackets, above each {each}"
                    )
                }
                None => format!("{key}: {}{from}", error.kind),
            }
        }
        kind if key.is_empty() => format!("{kind}{from}"),
        kind => format!("{key}: {kind}{from}"),
    }
}

/// The keys written as arrays of tables, and what each table is.
const ARRAYS_OF_TABLES: &[(&str, &str)] = &[("queries", "query"), ("orgs", "org")];

/// For the path of an array of tables (`["orgs", "0", "queries"]`), its TOML header
/// (`orgs.queries`) and what each of its tables is (`query`).
fn array_of_tables(path: &[String]) -> Option<(String, &'static str)> {
    let last = path.last()?;
    let &(_, each) = ARRAYS_OF_TABLES.iter().find(|(key, _)| key == last)?;
    let header: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .filter(|part| !part.chars().all(|c| c.is_ascii_digit()))
        .collect();
    Some((header.join("."), each))
}

/// `["queries", "1", "granularty"]` → `queries[1].granularty`.
fn key_path(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if part.chars().all(|c| c.is_ascii_digit()) && !key.is_empty() {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    key
}

/// Where the value in error came from: " in genesys.toml", or " in the environment
/// variable GENESYS_EXPORTER_LISTN".
fn origin(error: &figment::Error) -> String {
    let Some(metadata) = &error.metadata else {
        return String::new();
    };
    match &metadata.source {
        // The path as figment found it, not its Display, which makes it relative to the
        // working directory when that is shorter ("../.tmpXYZ/genesys.toml").
        Some(Source::File(path)) => return format!(" in the file {}", path.display()),
        Some(source) => return format!(" in {source}"),
        None => {}
    }
    // figment names an environment provider "`GENESYS_EXPORTER_` environment variable(s)",
    // and interpolates the key's path as the variable's name without its prefix.
    let mut quoted = metadata.name.split('`');
    match (quoted.next(), quoted.next(), &error.profile) {
        (Some(""), Some(prefix), Some(profile)) if metadata.name.contains("environment") => {
            let path: Vec<&str> = error.path.iter().map(String::as_str).collect();
            let variable = metadata.interpolate(profile, &path);
            format!(" in the environment variable {prefix}{variable}")
        }
        _ => format!(" in {}", metadata.name.replace('`', "")),
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

/// A path written in the configuration file, resolved from the file's directory when
/// relative (as Prometheus resolves the paths in its files); from the environment, as
/// given. figment's `RelativePathBuf` carries the file the value came from.
pub(super) fn relative_to_file<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let Some(path) = Option::<RelativePathBuf>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let original = path.original();
    let directory = path
        .metadata_path()
        .filter(|_| original.is_relative())
        .map(|file| std::path::absolute(file).unwrap_or_else(|_| file.to_owned()))
        .and_then(|file| file.parent().map(Path::to_owned));
    Ok(Some(match directory {
        Some(directory) => directory.join(original),
        None => original.to_owned(),
    }))
}

/// A duration as whole seconds (`90`) or text (`"90s"`, `"1m30s"`, `"PT90S"`). Anything
/// else (`true`, `1.5`, a table) is refused with the forms it may take.
pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    deserializer.deserialize_any(DurationVisitor).map(Some)
}

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "a duration such as \"90s\", \"15m\" or \"500ms\", or a whole number of seconds",
        )
    }

    fn visit_u64<E: serde::de::Error>(self, seconds: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(seconds))
    }

    fn visit_i64<E: serde::de::Error>(self, seconds: i64) -> Result<Duration, E> {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("{seconds} is negative; a duration is at least 0")))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
        let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| {
            E::custom(format!(
                "'{text}' is not a duration; write it as \"90s\", \"15m\" or a number of seconds"
            ))
        })?;
        Duration::try_from(signed).map_err(|_| E::custom(format!("'{text}' is negative")))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `toml` as written, without the environment.
    pub(in crate::config) fn config(toml: &str) -> Config {
        Figment::new().merge(Toml::string(toml)).extract().unwrap()
    }

    /// Every problem validation finds in `toml`, as one message.
    pub(in crate::config) fn problems(toml: &str) -> String {
        config(toml).validate().unwrap_err().to_string()
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

    /// The configuration errors `toml` gets from a file named genesys.toml.
    pub(in crate::config) fn load_error(toml: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesys.toml");
        std::fs::write(&path, toml).unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        (error, path.display().to_string())
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file_and_the_nearest_valid_key() {
        for (toml, expected) in [
            (
                "client_idd = \"x\"\n",
                "client_idd: unknown key in the file {file}; did you mean 'client_id'?",
            ),
            (
                "[[queries]]\nname = \"a\"\n[[queries]]\nname = \"b\"\ngranularty = \"PT1H\"\n",
                "queries[1].granularty: unknown key in the file {file}; did you mean 'granularity'?",
            ),
            (
                "[observations]\nrefesh = \"1m\"\n",
                "observations.refesh: unknown key in the file {file}; did you mean 'refresh'?",
            ),
            (
                "[observations]\ncolour = \"red\"\n",
                "observations.colour: unknown key in the file {file}; the keys here are enabled, refresh, metrics, queues_per_request",
            ),
        ] {
            let (error, file) = load_error(toml);
            assert_eq!(
                error,
                format!("configuration: {}", expected.replace("{file}", &file))
            );
            assert!(!error.contains('`'), "{error}");
            assert!(!error.contains("default."), "{error}");
        }
    }

    #[test]
    fn an_unknown_key_from_the_environment_names_the_variable() {
        let error = Figment::new()
            .merge(Serialized::default("listn", "127.0.0.1:1"))
            .extract::<Config>()
            .unwrap_err();
        let shown: Vec<String> = error.into_iter().map(|e| shown(&e)).collect();
        assert!(shown[0].starts_with("listn: unknown key in "), "{shown:?}");
        assert!(shown[0].ends_with("; did you mean 'listen'?"), "{shown:?}");
        // The environment's variables are named in full: tests/cli.rs, which runs the
        // binary with one, since a test here must not set the process's environment.
    }

    #[test]
    fn other_errors_name_the_key_without_the_profile() {
        let (error, file) = load_error("retry_attempts = \"many\"\n");
        assert!(
            error.starts_with(&format!(
                "configuration: retry_attempts: invalid type: found string \"many\", expected u32 in the file {file}"
            )),
            "{error}"
        );
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
            error.contains(&format!(
                "client_secret: not text in the file {}",
                path.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn a_value_that_is_no_duration_names_the_forms_a_duration_takes() {
        let (error, file) = load_error("retry_delay = true\n");
        assert_eq!(
            error,
            format!(
                "configuration: retry_delay: invalid type: found bool true, expected a duration such as \"90s\", \"15m\" or \"500ms\", or a whole number of seconds in the file {file}"
            )
        );
        let (error, _) = load_error("[[queries]]\nname = \"q\"\nsettle_delay = 1.5\n");
        assert!(
            error.contains("queries[0].settle_delay: invalid type: found float `1.5`, expected a duration such as \"90s\""),
            "{error}"
        );
        let (error, _) = load_error("job_timeout = -3\n");
        assert!(
            error.contains("job_timeout: -3 is negative; a duration is at least 0 in the file"),
            "{error}"
        );
    }

    #[test]
    fn one_table_where_a_list_of_tables_belongs_is_told_to_take_two_brackets() {
        for (toml, expected) in [
            (
                "[queries]\nname = \"q\"\n",
                "queries: expected a list of tables, found one table [queries] in the file {file}; write [[queries]], with two brackets, above each query",
            ),
            (
                "[orgs]\nname = \"east\"\n",
                "orgs: expected a list of tables, found one table [orgs] in the file {file}; write [[orgs]], with two brackets, above each org",
            ),
            (
                "[[orgs]]\nname = \"east\"\n[orgs.queries]\nname = \"q\"\n",
                "orgs[0].queries: expected a list of tables, found one table [orgs.queries] in the file {file}; write [[orgs.queries]], with two brackets, above each query",
            ),
            (
                "queries = \"daily\"\n",
                "queries: expected a list of tables, found string \"daily\" in the file {file}; write [[queries]], with two brackets, above each query",
            ),
        ] {
            let (error, file) = load_error(toml);
            assert_eq!(
                error,
                format!("configuration: {}", expected.replace("{file}", &file))
            );
        }
    }

    #[test]
    fn relative_paths_in_the_file_are_resolved_from_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("genesys.toml");
        std::fs::write(
            &path,
            "client_secret_file = \"secret\"\nweb_config_file = \"web/config.yml\"\n\
             [[orgs]]\nname = \"east\"\nclient_secret_file = \"../east.secret\"\n\
             [[orgs]]\nname = \"west\"\nclient_secret_file = \"/run/secrets/west\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.client_secret_file, Some(sub.join("secret")));
        assert_eq!(config.web_config_file, Some(sub.join("web/config.yml")));
        assert_eq!(
            config.orgs[0].client_secret_file,
            Some(sub.join("../east.secret"))
        );
        assert_eq!(
            config.orgs[1].client_secret_file,
            Some(PathBuf::from("/run/secrets/west"))
        );
        assert_eq!(config.file, Some(path));
        // Without a file (the environment, a flag), a path stays as given: the working
        // directory's.
        let config: Config = Figment::new()
            .merge(Serialized::default("client_secret_file", "secret"))
            .extract()
            .unwrap();
        assert_eq!(config.client_secret_file, Some(PathBuf::from("secret")));
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
