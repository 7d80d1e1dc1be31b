//! Checking the orgs: the one org of a configuration without `[[orgs]]` (its credentials
//! and region at the top level), or each `[[orgs]]` table (its name, credentials, region
//! or URLs, and its own queries beside the shared ones). Every message names the org's
//! key (`orgs[1].client_id: ...`).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::checks::is_simple_name;
use super::load::MAX_SECRET_BYTES;
use super::query::check_query;
use super::suggest::did_you_mean;
use super::{
    Config, FLOW_OBSERVATIONS_QUERY, OBSERVATIONS_QUERY, OrgConfig, OrgSettings, Query,
    QueryConfig, VOICE_QUALITY_QUERY,
};
use crate::files::read_capped;
use crate::genesys::auth::Credentials;
use crate::genesys::client::ClientSettings;
use crate::org::Org;
use genesys_wire::region;

/// The keys that say which org to reach and as whom, wherever they are written.
struct Account<'a> {
    /// `""` at the top level, `orgs[1].` in a table.
    key: String,
    /// The same for the region and URLs: `""` when an org takes the top level's.
    location_key: String,
    client_id: &'a Option<String>,
    client_secret: &'a Option<SecretString>,
    client_secret_file: &'a Option<PathBuf>,
    region: Option<&'a String>,
    api_url: Option<&'a String>,
    login_url: Option<&'a String>,
    /// Where a missing key is set, for the message: the environment variable at the top
    /// level, the table's name in an org.
    whose: String,
    /// How a relative `client_secret_file` was resolved, for its message.
    relative_paths: String,
}

impl Config {
    /// The checked orgs: the unnamed one from the top-level keys when there are no
    /// `[[orgs]]`, else one per table. `shared` is the client's settings all orgs share;
    /// each org gets its own credentials and URLs.
    pub(super) fn orgs(
        &self,
        shared: &ClientSettings,
        problems: &mut Vec<String>,
    ) -> Vec<OrgSettings> {
        let queries = self.shared_queries(problems);
        if self.orgs.is_empty() {
            let account = Account {
                key: String::new(),
                location_key: String::new(),
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                client_secret_file: &self.client_secret_file,
                region: self.region.as_ref(),
                api_url: self.api_url.as_ref(),
                login_url: self.login_url.as_ref(),
                whose: String::new(),
                relative_paths: self.relative_paths(Some("in the environment")),
            };
            let client = account.client(shared, problems);
            let queries = self.org_queries(&queries, &[], "", problems);
            return vec![OrgSettings {
                org: Org::unnamed(),
                client: client.unwrap_or_else(|| shared.clone()),
                queries,
            }];
        }
        for (key, set) in [
            ("client_id", self.client_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("client_secret_file", self.client_secret_file.is_some()),
        ] {
            if set {
                problems.push(format!(
                    "{key}: set at the top level, but the configuration has [[orgs]], and each org has its own OAuth client; move it into each [[orgs]] table (and unset GENESYS_{} if it comes from the environment)",
                    key.to_uppercase()
                ));
            }
        }
        let mut orgs = Vec::new();
        for (index, table) in self.orgs.iter().enumerate() {
            let key = format!("orgs[{index}].");
            let name = &table.name;
            if !is_simple_name(name) {
                problems.push(format!(
                    "{key}name: '{name}' must be letters, digits, '_' or '-' (it becomes the org label)"
                ));
            }
            if self.orgs[..index].iter().any(|o| o.name == *name) {
                problems.push(format!(
                    "{key}name: '{name}' is used twice; give each org its own name"
                ));
            }
            // An org that names none of region, api_url and login_url is where the top
            // level says, as a whole: mixing the two could send its secret to a host it
            // was never meant to reach.
            let own =
                table.region.is_some() || table.api_url.is_some() || table.login_url.is_some();
            let inherits = !own
                && (self.region.is_some() || self.api_url.is_some() || self.login_url.is_some());
            let (region, api_url, login_url) = if inherits {
                (&self.region, &self.api_url, &self.login_url)
            } else {
                (&table.region, &table.api_url, &table.login_url)
            };
            let account = Account {
                key: key.clone(),
                location_key: if inherits { String::new() } else { key.clone() },
                client_id: &table.client_id,
                client_secret: &table.client_secret,
                client_secret_file: &table.client_secret_file,
                region: region.as_ref(),
                api_url: api_url.as_ref(),
                login_url: login_url.as_ref(),
                whose: format!(" of org '{name}'"),
                relative_paths: self.relative_paths(None),
            };
            let client = account.client(shared, problems);
            let queries = self.org_queries(&queries, &table.queries, &key, problems);
            if let Some(client) = client {
                orgs.push(OrgSettings {
                    org: Org::named(name),
                    client,
                    queries,
                });
            }
        }
        orgs
    }

    /// The shared `[[queries]]`, checked once.
    fn shared_queries(&self, problems: &mut Vec<String>) -> Vec<Query> {
        let mut checked = Vec::new();
        for (index, query) in self.queries.iter().enumerate() {
            let key = format!("queries[{index}]");
            if self.queries[..index].iter().any(|q| q.name == query.name) {
                problems.push(format!(
                    "{key}.name: '{}' is used twice; give each query its own name",
                    query.name
                ));
            }
            checked.extend(check_query(&key, query, problems));
        }
        checked
    }

    /// An org's queries: the `shared` ones, then its `own` (under `{org_key}queries`);
    /// without any written, one named `default` with every default.
    fn org_queries(
        &self,
        shared: &[Query],
        own: &[QueryConfig],
        org_key: &str,
        problems: &mut Vec<String>,
    ) -> Vec<Query> {
        if self.queries.is_empty() && own.is_empty() {
            let default = QueryConfig {
                name: "default".into(),
                ..QueryConfig::default()
            };
            return check_query("queries[0]", &default, problems)
                .into_iter()
                .collect();
        }
        let mut queries = shared.to_vec();
        for (index, query) in own.iter().enumerate() {
            let key = format!("{org_key}queries[{index}]");
            let name = &query.name;
            if self.queries.iter().any(|q| q.name == *name) {
                problems.push(format!(
                    "{key}.name: '{name}' is also the name of a shared [[queries]] table, which every org runs; rename one of them"
                ));
            } else if own[..index].iter().any(|q| q.name == *name) {
                problems.push(format!(
                    "{key}.name: '{name}' is used twice; give each query its own name"
                ));
            }
            if self.observations.enabled.unwrap_or(true) && name == OBSERVATIONS_QUERY {
                problems.push(format!(
                    "{key}.name: '{OBSERVATIONS_QUERY}' is the query label of the queue observations; rename the query, or set enabled = false under [observations]"
                ));
            }
            if self.flow_observations.enabled.unwrap_or(false) && name == FLOW_OBSERVATIONS_QUERY {
                problems.push(format!(
                    "{key}.name: '{FLOW_OBSERVATIONS_QUERY}' is the query label of the flow observations; rename the query, or set enabled = false under [flow_observations]"
                ));
            }
            if self.voice_quality.enabled.unwrap_or(false) && name == VOICE_QUALITY_QUERY {
                problems.push(format!(
                    "{key}.name: '{VOICE_QUALITY_QUERY}' is the query label of the voice quality; rename the query, or set enabled = false under [voice_quality]"
                ));
            }
            queries.extend(check_query(&key, query, problems));
        }
        queries
    }
}

impl Account<'_> {
    /// The client's settings for this account: `shared`'s, with its own credentials and
    /// URLs; `None` when any of them has a problem.
    fn client(
        &self,
        shared: &ClientSettings,
        problems: &mut Vec<String>,
    ) -> Option<ClientSettings> {
        let before = problems.len();
        let client_secret = self.client_secret(problems);
        let client_id = self.client_id.clone().unwrap_or_default();
        if client_id.trim().is_empty() {
            let fix = if self.key.is_empty() {
                "set GENESYS_CLIENT_ID to the ID of an OAuth client with the Client Credentials grant".to_owned()
            } else {
                format!(
                    "give the ID of an OAuth client{} with the Client Credentials grant",
                    self.whose
                )
            };
            problems.push(format!("{}client_id: missing; {fix}", self.key));
        }
        let (api_url, login_url) = self.urls(problems);
        (problems.len() == before).then(|| ClientSettings {
            api_url,
            login_url,
            credentials: Credentials {
                client_id,
                client_secret: client_secret.expect("checked above"),
            },
            ..shared.clone()
        })
    }

    /// The secret, given directly or read from `client_secret_file`; exactly one of the two.
    fn client_secret(&self, problems: &mut Vec<String>) -> Option<SecretString> {
        let key = &self.key;
        let secret = match (self.client_secret, self.client_secret_file) {
            (Some(_), Some(_)) => {
                problems.push(format!(
                    "{key}client_secret and {key}client_secret_file are both set: keep one"
                ));
                None
            }
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => match read_capped(path, MAX_SECRET_BYTES)
                .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into()))
            {
                Ok(text) => Some(SecretString::from(text.trim().to_owned())),
                Err(problem) => {
                    problems.push(format!(
                        "{key}client_secret_file: {}: {problem}; give the path of a regular file that holds only the secret{}",
                        path.display(),
                        self.relative_paths
                    ));
                    None
                }
            },
            (None, None) => {
                let fix = if key.is_empty() {
                    "set GENESYS_CLIENT_SECRET, or client_secret_file to a file that holds it"
                        .to_owned()
                } else {
                    format!(
                        "set {key}client_secret_file to a file that holds the secret{}, or {key}client_secret",
                        self.whose
                    )
                };
                problems.push(format!("{key}client_secret: missing; {fix}"));
                None
            }
        };
        if secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().is_empty())
        {
            problems.push(format!(
                "{key}client_secret: empty; give the OAuth client's secret"
            ));
        }
        secret
    }

    /// The API and login URLs: each as given, else derived from the region.
    fn urls(&self, problems: &mut Vec<String>) -> (String, String) {
        let key = &self.location_key;
        // The top level's, taken by several orgs, is reported once.
        let mut own = Vec::new();
        let (api_url, login_url) = self.urls_into(key, &mut own);
        for problem in own {
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
        (api_url, login_url)
    }

    /// [`Account::urls`], with the keys named under `key`.
    fn urls_into(&self, key: &str, problems: &mut Vec<String>) -> (String, String) {
        let domain = match self.region {
            Some(name) => match region::domain(name) {
                Some(domain) => Some(domain),
                None => {
                    let known: Vec<&str> = region::REGIONS.iter().map(|(name, _)| *name).collect();
                    let domains = region::REGIONS.iter().map(|(_, domain)| *domain);
                    let did_you_mean = did_you_mean(name, known.iter().copied().chain(domains))
                        .map(|did_you_mean| format!(" {did_you_mean}"))
                        .unwrap_or_default();
                    problems.push(format!(
                        "{key}region: unknown region '{name}';{did_you_mean} use a region name ({}) or its domain, such as mypurecloud.ie",
                        known.join(", ")
                    ));
                    None
                }
            },
            None => None,
        };
        let url = |explicit: Option<&String>,
                   derive: fn(&str) -> String,
                   name: &str,
                   problems: &mut Vec<String>| {
            match (explicit, domain) {
                (Some(url), _) => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        problems.push(format!(
                            "{key}{name}: '{url}' is not an http:// or https:// URL"
                        ));
                    }
                    url.trim_end_matches('/').to_owned()
                }
                (None, Some(domain)) => derive(domain),
                (None, None) => String::new(),
            }
        };
        let api_url = url(self.api_url, region::api_url, "api_url", problems);
        let login_url = url(self.login_url, region::login_url, "login_url", problems);
        if self.region.is_none() && (api_url.is_empty() || login_url.is_empty()) {
            let fix = if key.is_empty() {
                "set GENESYS_REGION to your org's region (eu-west-1) or domain (mypurecloud.ie)"
                    .to_owned()
            } else {
                format!(
                    "set {key}region to the region{} (eu-west-1) or its domain (mypurecloud.ie)",
                    self.whose
                )
            };
            problems.push(format!("{key}region: missing; {fix}"));
        }
        (api_url, login_url)
    }
}

/// An org as written in `[[orgs]]`, for tests and callers building configurations.
impl OrgConfig {
    /// The org `name`, reached with `client_id` and `client_secret` at `url` (both the
    /// API and the login URL, as the simulator serves them).
    pub fn at(name: &str, client_id: &str, client_secret: &str, url: &str) -> OrgConfig {
        OrgConfig {
            name: name.into(),
            client_id: Some(client_id.into()),
            client_secret: Some(client_secret.into()),
            api_url: Some(url.into()),
            login_url: Some(url.into()),
            ..OrgConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::config::load::tests::{config, problems};
    use crate::org::Org;

    const TWO_ORGS: &str = r#"
region = "eu-west-1"

[[queries]]
name = "shared"

[[orgs]]
name = "east"
client_id = "east-id"
client_secret = "east-secret"

[[orgs]]
name = "west"
client_id = "west-id"
client_secret = "west-secret"
region = "us-east-1"

[[orgs.queries]]
name = "west_only"
granularity = "PT1H"
"#;

    #[test]
    fn without_orgs_the_top_level_keys_are_the_one_unnamed_org() {
        let settings =
            config("client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n")
                .validate()
                .unwrap();
        assert_eq!(settings.orgs.len(), 1);
        assert_eq!(settings.orgs[0].org, Org::unnamed());
        assert_eq!(settings.orgs[0].client.credentials.client_id, "id");
        assert_eq!(settings.orgs[0].queries[0].name, "default");
    }

    #[test]
    fn each_org_has_its_own_client_and_runs_the_shared_queries_then_its_own() {
        let settings = config(TWO_ORGS).validate().unwrap();
        let [east, west] = settings.orgs.as_slice() else {
            panic!("two orgs: {:?}", settings.orgs);
        };
        assert_eq!(east.org, Org::named("east"));
        assert_eq!(east.client.credentials.client_id, "east-id");
        assert_eq!(
            east.client.credentials.client_secret.expose_secret(),
            "east-secret"
        );
        // The top-level region for the org without one; its own for the other.
        assert_eq!(east.client.api_url, "https://api.mypurecloud.ie");
        assert_eq!(west.client.api_url, "https://api.mypurecloud.com");
        let names = |org: &crate::config::OrgSettings| -> Vec<String> {
            org.queries.iter().map(|q| q.name.clone()).collect()
        };
        assert_eq!(names(east), ["shared"]);
        assert_eq!(names(west), ["shared", "west_only"]);
        // The shared client settings are every org's.
        assert_eq!(east.client.retry.attempts, west.client.retry.attempts);
    }

    #[test]
    fn an_org_that_says_where_it_is_takes_nothing_of_the_top_levels_location() {
        // West names its region; the top level's URLs are east's, not west's.
        let toml = TWO_ORGS.replace(
            "region = \"eu-west-1\"\n",
            "api_url = \"https://api.example.test\"\nlogin_url = \"https://login.example.test\"\n",
        );
        let settings = config(&toml).validate().unwrap();
        assert_eq!(settings.orgs[0].client.api_url, "https://api.example.test");
        assert_eq!(
            settings.orgs[0].client.login_url,
            "https://login.example.test"
        );
        assert_eq!(
            settings.orgs[1].client.api_url,
            "https://api.mypurecloud.com"
        );
        assert_eq!(
            settings.orgs[1].client.login_url,
            "https://login.mypurecloud.com"
        );
    }

    #[test]
    fn a_bad_top_level_region_is_named_once_at_the_top_level() {
        let toml = TWO_ORGS
            .replace("region = \"eu-west-1\"", "region = \"eu-west1\"")
            .replace("region = \"us-east-1\"\n", "");
        let said = problems(&toml);
        assert_eq!(
            said.matches("region: unknown region 'eu-west1'").count(),
            1,
            "{said}"
        );
        assert!(!said.contains("orgs[0].region"), "{said}");
        // An org with no location anywhere is told where to set its own.
        let toml = TWO_ORGS
            .replace("region = \"eu-west-1\"\n", "")
            .replace("region = \"us-east-1\"\n", "");
        let said = problems(&toml);
        assert!(
            said.contains(
                "orgs[0].region: missing; set orgs[0].region to the region of org 'east'"
            ),
            "{said}"
        );
    }

    #[test]
    fn an_org_without_any_queries_written_gets_the_default_query() {
        let toml = TWO_ORGS.replace("[[queries]]\nname = \"shared\"\n", "");
        let settings = config(&toml).validate().unwrap();
        assert_eq!(settings.orgs[0].queries.len(), 1);
        assert_eq!(settings.orgs[0].queries[0].name, "default");
        // West wrote its own, so it runs only those.
        assert_eq!(settings.orgs[1].queries.len(), 1);
        assert_eq!(settings.orgs[1].queries[0].name, "west_only");
    }

    #[test]
    fn problems_name_the_org_they_are_in() {
        let toml = r#"
region = "eu-west-1"
[[orgs]]
name = "east"
client_secret = "s"
[[orgs]]
name = "west"
client_id = "w"
region = "eu-west1"
[[orgs.queries]]
name = "bad"
metrics = ["tHandel"]
"#;
        let problems = problems(toml);
        assert!(
            problems.contains(
                "orgs[0].client_id: missing; give the ID of an OAuth client of org 'east'"
            ),
            "{problems}"
        );
        assert!(
            problems.contains("orgs[1].client_secret: missing; set orgs[1].client_secret_file to a file that holds the secret of org 'west'"),
            "{problems}"
        );
        assert!(
            problems
                .contains("orgs[1].region: unknown region 'eu-west1'; did you mean 'eu-west-1'?"),
            "{problems}"
        );
        assert!(
            problems.contains("orgs[1].queries[0].metrics"),
            "{problems}"
        );
        assert!(problems.contains("did you mean 'tHandle'?"), "{problems}");
    }

    #[test]
    fn org_names_are_label_values_and_unique() {
        let toml = TWO_ORGS.replace("name = \"west\"", "name = \"east\"");
        assert!(
            problems(&toml)
                .contains("orgs[1].name: 'east' is used twice; give each org its own name"),
            "{}",
            problems(&toml)
        );
        let toml = TWO_ORGS.replace("name = \"west\"", "name = \"we st\"");
        assert!(problems(&toml).contains("orgs[1].name: 'we st' must be letters, digits"));
    }

    #[test]
    fn an_org_query_may_not_take_a_shared_query_name() {
        let toml = TWO_ORGS.replace("name = \"west_only\"", "name = \"shared\"");
        let problems = problems(&toml);
        assert!(
            problems.contains(
                "orgs[1].queries[0].name: 'shared' is also the name of a shared [[queries]] table"
            ),
            "{problems}"
        );
    }

    #[test]
    fn top_level_credentials_beside_orgs_are_refused_with_where_they_go() {
        let toml = format!("client_id = \"stray\"\n{TWO_ORGS}");
        let problems = problems(&toml);
        assert!(
            problems
                .contains("client_id: set at the top level, but the configuration has [[orgs]]"),
            "{problems}"
        );
        assert!(problems.contains("GENESYS_CLIENT_ID"), "{problems}");
    }

    #[test]
    fn an_orgs_secret_can_come_from_a_file_and_never_shows_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("west.secret");
        std::fs::write(&path, "west-file-secret\n").unwrap();
        let toml = TWO_ORGS.replace(
            "client_secret = \"west-secret\"",
            &format!("client_secret_file = {:?}", path.display().to_string()),
        );
        let settings = config(&toml).validate().unwrap();
        let west = &settings.orgs[1];
        assert_eq!(
            west.client.credentials.client_secret.expose_secret(),
            "west-file-secret"
        );
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("west-file-secret") && !debug.contains("east-secret"),
            "{debug}"
        );
    }

    #[test]
    fn a_relative_secret_file_is_read_beside_the_config_file_and_named_with_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesys.toml");
        let toml = TWO_ORGS.replace(
            "client_secret = \"west-secret\"",
            "client_secret_file = \"west.secret\"",
        );
        std::fs::write(&path, toml).unwrap();
        let error = crate::config::Config::load(Some(&path))
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        let dir = dir.path().display();
        assert!(
            error.contains(&format!(
                "orgs[1].client_secret_file: {dir}/west.secret: no such file; give the path of a regular file that holds only the secret (relative paths are resolved from the directory of {dir}/genesys.toml)"
            )),
            "{error}"
        );
        std::fs::write(format!("{dir}/west.secret"), "west-file-secret\n").unwrap();
        let settings = crate::config::Config::load(Some(&path))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(
            settings.orgs[1]
                .client
                .credentials
                .client_secret
                .expose_secret(),
            "west-file-secret"
        );
    }

    #[test]
    fn an_unknown_key_in_an_org_is_named_with_the_nearest_one() {
        let toml = TWO_ORGS.replace("client_id = \"east-id\"", "clientid = \"east-id\"");
        let (error, file) = crate::config::load::tests::load_error(&toml);
        assert_eq!(
            error,
            format!(
                "configuration: orgs[0].clientid: unknown key in the file {file}; did you mean 'client_id'?"
            )
        );
    }

    #[test]
    fn an_orgs_secret_of_the_wrong_type_is_named_without_its_value() {
        let toml = TWO_ORGS.replace(
            "client_secret = \"east-secret\"",
            "client_secret = 987654321",
        );
        let (error, _) = crate::config::load::tests::load_error(&toml);
        assert!(error.contains("orgs[0].client_secret: not text"), "{error}");
        assert!(!error.contains("987654321"), "{error}");
    }
}
