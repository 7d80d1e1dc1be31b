//! The `[telephony]` table checked: whether, and how often, the Edges and trunks are read.

use std::time::Duration;

use super::checks::written;
use super::{
    Config, DEFAULT_TELEPHONY_REFRESH, MAX_TELEPHONY_REFRESH, MIN_TELEPHONY_REFRESH,
    TELEPHONY_QUERY,
};

impl Config {
    /// The `[telephony]` table checked: its refresh, `None` unless enabled (the default:
    /// it needs a permission as broad as `telephony:plugin:all`).
    pub(super) fn telephony(&self, problems: &mut Vec<String>) -> Option<Duration> {
        let table = &self.telephony;
        if !table.enabled.unwrap_or(false) {
            return None;
        }
        self.label_taken(
            TELEPHONY_QUERY,
            "the Edges and trunks",
            "telephony",
            problems,
        );
        let refresh = table.refresh.unwrap_or(DEFAULT_TELEPHONY_REFRESH);
        if !(MIN_TELEPHONY_REFRESH..=MAX_TELEPHONY_REFRESH).contains(&refresh) {
            problems.push(format!(
                "telephony.refresh: {} is out of range; use {} to {} (default {}): each refresh costs 4 requests per 100 Edges and trunks",
                written(refresh),
                written(MIN_TELEPHONY_REFRESH),
                written(MAX_TELEPHONY_REFRESH),
                written(DEFAULT_TELEPHONY_REFRESH)
            ));
        }
        Some(refresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::problems;
    use figment::providers::Format;

    const CREDENTIALS: &str = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n";

    fn refresh(toml: &str) -> Option<Duration> {
        crate::config::load::tests::config(&format!("{CREDENTIALS}{toml}"))
            .validate()
            .unwrap()
            .telephony
    }

    #[test]
    fn telephony_is_off_by_default_and_every_minute_when_on() {
        assert_eq!(refresh(""), None);
        assert_eq!(
            refresh("[telephony]\nrefresh = \"5m\"\n"),
            None,
            "not enabled"
        );
        assert_eq!(
            refresh("[telephony]\nenabled = true\n"),
            Some(Duration::from_secs(60))
        );
        for (written, seconds) in [("15s", 15), ("5m", 300), ("1h", 3600)] {
            assert_eq!(
                refresh(&format!(
                    "[telephony]\nenabled = true\nrefresh = \"{written}\"\n"
                )),
                Some(Duration::from_secs(seconds))
            );
        }
    }

    #[test]
    fn bad_telephony_tables_are_refused_naming_the_key_and_the_fix() {
        for (toml, problem) in [
            (
                "[telephony]\nenabled = true\nrefresh = \"14s\"\n",
                "telephony.refresh: 14s is out of range; use 15s to 1h (default 1m): each refresh costs 4 requests per 100 Edges and trunks",
            ),
            (
                "[telephony]\nenabled = true\nrefresh = \"2h\"\n",
                "telephony.refresh: 2h is out of range; use 15s to 1h",
            ),
            (
                "[[queries]]\nname = \"telephony\"\n[telephony]\nenabled = true\n",
                "queries: the name 'telephony' is the query label of the Edges and trunks; rename the query, or set enabled = false under [telephony]",
            ),
            (
                "[[orgs]]\nname = \"east\"\nclient_id = \"a\"\nclient_secret = \"b\"\n[[orgs.queries]]\nname = \"telephony\"\n[telephony]\nenabled = true\n",
                "queries: the name 'telephony' (org east) is the query label",
            ),
        ] {
            let all = problems(&format!("{CREDENTIALS}{toml}"));
            assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
        }
        // Keys it does not have, and values of the wrong type, are refused as it is read.
        for (toml, problem) in [
            (
                "[telephony]\nenabled = true\nevery = \"1m\"\n",
                "unknown field: found `every`, expected ``enabled` or `refresh`` for key \"default.telephony.every\"",
            ),
            ("[telephony]\nenabled = \"yes\"\n", "telephony.enabled"),
        ] {
            let error = figment::Figment::new()
                .merge(figment::providers::Toml::string(toml))
                .extract::<crate::config::Config>()
                .unwrap_err()
                .to_string();
            assert!(error.contains(problem), "{problem}\nnot in:\n{error}");
        }
    }
}
