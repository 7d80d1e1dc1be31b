//! What a reload changes: the queries added, changed and removed, whether the client's
//! settings changed, and the keys that only a restart applies. Pure comparisons of two
//! checked configurations.

use crate::config::{Query, Settings};
use crate::genesys::client::ClientSettings;
use crate::schedule::QueryKind;

/// The queries a reload adds, changes and removes, by name.
#[derive(Debug, Default)]
pub(super) struct QueryChanges {
    pub(super) added: Vec<String>,
    pub(super) changed: Vec<String>,
    pub(super) removed: Vec<String>,
}

impl QueryChanges {
    pub(super) fn between(old: &[Query], new: &[Query]) -> QueryChanges {
        let mut changes = QueryChanges::default();
        for query in new {
            match old.iter().find(|q| q.name == query.name) {
                None => changes.added.push(query.name.clone()),
                Some(running) if !same_query(running, query) => {
                    changes.changed.push(query.name.clone());
                }
                Some(_) => {}
            }
        }
        for query in old {
            if !new.iter().any(|q| q.name == query.name) {
                changes.removed.push(query.name.clone());
            }
        }
        changes
    }

    /// Whether no query was added, changed or removed.
    pub(super) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// True when the two queries ask the same thing on the same schedule.
fn same_query(a: &Query, b: &Query) -> bool {
    // The schedule's time zone has no equality of its own; its name and the rest of the
    // schedule, as written, say the same.
    let schedule = |q: &Query| match &q.kind {
        QueryKind::Buckets(s) => format!("{} {:?}", s.granularity, s.settle_delay),
        QueryKind::Rolling(r) => format!("{r:?}"),
    };
    a.name == b.name
        && a.source == b.source
        && schedule(a) == schedule(b)
        && a.time_zone_name == b.time_zone_name
        && a.group_by == b.group_by
        && a.metrics == b.metrics
        && a.filter == b.filter
        && a.max_age == b.max_age
}

/// Whether the client's settings other than its credentials changed (`region`,
/// `api_url`, `login_url`, timeouts, retry, breaker, `max_response_bytes`): a reload
/// builds a new client for them.
pub(super) fn client_changed(old: &ClientSettings, new: &ClientSettings) -> bool {
    let settings = |c: &ClientSettings| {
        format!(
            "{:?}",
            (
                &c.api_url,
                &c.login_url,
                c.request_timeout,
                c.connect_timeout,
                c.max_response_bytes,
                &c.retry,
                &c.breaker
            )
        )
    };
    settings(old) != settings(new)
}

/// The keys, other than the queries, the client's settings, the observations and the API
/// budget share, whose change a reload does not apply.
pub(super) fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let web = |s: &Settings| s.web.as_ref().map(|w| w.path().to_owned());
    let same = [
        ("listen", old.listen == new.listen),
        ("retry_delay", old.retry_delay == new.retry_delay),
        (
            "queue_names_refresh",
            old.queue_names_refresh == new.queue_names_refresh,
        ),
        (
            "job_poll_interval or job_timeout",
            format!("{:?}", old.jobs) == format!("{:?}", new.jobs),
        ),
        (
            "max_series_per_query",
            old.max_series_per_query == new.max_series_per_query,
        ),
        (
            "max_queue_pages",
            old.max_queue_pages == new.max_queue_pages,
        ),
        (
            "max_directory_bytes",
            old.max_directory_bytes == new.max_directory_bytes,
        ),
        (
            "max_label_value_bytes",
            old.max_label_value_bytes == new.max_label_value_bytes,
        ),
        (
            "max_connections",
            old.max_connections == new.max_connections,
        ),
        (
            "max_connections_per_client",
            old.max_connections_per_client == new.max_connections_per_client,
        ),
        ("web_config_file", web(old) == web(new)),
    ];
    same.into_iter()
        .filter(|(_, same)| !same)
        .map(|(key, _)| key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings from a configuration of `queries` (name, granularity) and `listen`.
    fn settings(queries: &[(&str, &str)], listen: &str) -> Settings {
        let config = crate::config::Config {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            region: Some("eu-west-1".into()),
            listen: Some(listen.into()),
            queries: queries
                .iter()
                .map(|(name, granularity)| crate::config::QueryConfig {
                    name: (*name).into(),
                    granularity: Some((*granularity).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        config.validate().unwrap()
    }

    #[test]
    fn a_query_is_unchanged_only_when_all_it_asks_is_the_same() {
        let old = settings(&[("a", "PT15M"), ("b", "PT15M")], "127.0.0.1:1");
        let new = settings(&[("a", "PT15M"), ("b", "PT1H")], "127.0.0.1:1");
        let (old, new) = (&old.orgs[0].queries, &new.orgs[0].queries);
        assert!(same_query(&old[0], &new[0]));
        assert!(!same_query(&old[1], &new[1]));
        let mut fewer = new[0].clone();
        fewer.metrics.pop();
        assert!(!same_query(&old[0], &fewer));
    }

    #[test]
    fn keys_other_than_queries_client_and_observations_are_restart_only() {
        let old = settings(&[("a", "PT15M")], "127.0.0.1:1");
        let mut new = settings(&[("b", "PT1H")], "127.0.0.1:2");
        let client = &mut new.orgs[0].client;
        client.credentials.client_secret = "rotated".into();
        client.api_url = "https://api.example.test".parse().unwrap();
        new.observations = None;
        assert_eq!(restart_only_changes(&old, &new), ["listen"]);
        assert!(client_changed(&old.orgs[0].client, &new.orgs[0].client));
        assert!(!client_changed(
            &old.orgs[0].client,
            &old.orgs[0].client.clone()
        ));
        assert!(restart_only_changes(&old, &old.clone()).is_empty());
    }
}
