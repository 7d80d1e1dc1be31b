//! Whether a configured query may ask at all, for the sources whose permission an OAuth
//! client's role often lacks (the flows and data actions queries; the sources of the
//! present have theirs in [`present`](super::present)).
//! A 403 is warned once, naming the permission, and the source asks again an hour later,
//! not at every tick; the warning's end is said when it is allowed again.

use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::config::Query;
use crate::error::Error;
use genesys_wire::Endpoint;
use genesys_wire::catalogue::Source;
use genesys_wire::time::Clock;

/// How long after a 403 a source asks again.
pub const FORBIDDEN_RETRY: Duration = Duration::from_secs(3600);

/// A source's permission, as its last answer showed it.
#[derive(Debug, Clone)]
pub struct Permission {
    /// What is refused, as the log names it: `observe the queues`, `poll query f`.
    doing: String,
    /// What asks, as the log names it: `queue observations`, `query f`.
    what: String,
    /// Its `query` label.
    query: String,
    endpoint: Endpoint,
    forbidden: bool,
}

impl Permission {
    pub fn new(doing: String, what: String, query: &str, endpoint: Endpoint) -> Permission {
        Permission {
            doing,
            what,
            query: query.to_owned(),
            endpoint,
            forbidden: false,
        }
    }

    /// Whether the last answer was a 403.
    pub fn forbidden(&self) -> bool {
        self.forbidden
    }

    /// Notes `outcome`: warns when a 403 starts, says when it ends.
    pub fn note(&mut self, outcome: &Outcome) {
        let was = self.forbidden;
        self.forbidden = matches!(outcome, Err(Error::Api { status: 403, .. }));
        match (was, self.forbidden, outcome) {
            (false, true, Err(error)) => tracing::warn!(
                %error,
                "cannot {}: grant the OAuth client's role {}; genesys_up{{query=\"{}\"}} is 0, and it is asked again every hour",
                self.doing,
                self.endpoint.permission(),
                self.query
            ),
            (true, false, Ok(_)) => tracing::info!("{} allowed again", self.what),
            _ => {}
        }
    }

    /// When to ask again after the last answer, at `now`: an hour on after a 403, else
    /// `None` (as the source's own schedule says).
    pub fn retry_at(&self, now: Timestamp) -> Option<Timestamp> {
        self.forbidden.then(|| later(now, FORBIDDEN_RETRY))
    }
}

/// A configured query's permission, watched when its source is one that an OAuth client's
/// role often lacks (flows, data actions): `None` for the conversations, whose permission
/// every exporter needs.
pub fn of_query(query: &Query) -> Option<Permission> {
    (query.source != Source::Conversations).then(|| {
        Permission::new(
            format!("poll query {} ({} aggregates)", query.name, query.source),
            format!("query {}", query.name),
            &query.name,
            query.source.endpoint(),
        )
    })
}

/// Notes the last outcome of a query, if its permission is watched, and after a 403 waits
/// the hour on `clock`: then the query starts afresh, as at start-up (the latest bucket
/// or window, none counted as skipped). The outcome to schedule the next poll after:
/// `last`'s success, or `None` after the hour. `None` on `shutdown`.
pub async fn wait_if_forbidden(
    permission: &mut Option<Permission>,
    last: Option<&Outcome>,
    clock: &Clock,
    shutdown: &CancellationToken,
) -> Option<Option<bool>> {
    let succeeded = last.map(Result::is_ok);
    let (Some(permission), Some(last)) = (permission.as_mut(), last) else {
        return Some(succeeded);
    };
    permission.note(last);
    let Some(at) = permission.retry_at(clock.now()) else {
        return Some(succeeded);
    };
    tokio::select! {
        () = clock.sleep_until(at) => Some(None),
        () = shutdown.cancelled() => None,
    }
}

/// `after` past `at`, or the end of time.
pub fn later(at: Timestamp, after: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(after)
        .ok()
        .and_then(|after| at.checked_add(after).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden() -> Outcome {
        Err(Error::Api {
            endpoint: Endpoint::FlowAggregates,
            status: 403,
            code: "missing.permissions".into(),
            message: "no".into(),
            permission: None,
            correlation_id: None,
        })
    }

    #[test]
    fn a_403_waits_an_hour_and_anything_else_does_not() {
        let now: Timestamp = "2026-08-20T10:00:00Z".parse().unwrap();
        let mut permission = Permission::new(
            "poll query f".into(),
            "query f".into(),
            "f",
            Endpoint::FlowAggregates,
        );
        assert_eq!(permission.retry_at(now), None);
        permission.note(&forbidden());
        assert!(permission.forbidden());
        assert_eq!(
            permission.retry_at(now),
            Some("2026-08-20T11:00:00Z".parse().unwrap())
        );
        permission.note(&forbidden());
        assert!(permission.forbidden(), "still refused");
        permission.note(&Err(Error::NoQueuesYet));
        assert_eq!(permission.retry_at(now), None, "another failure: no hour");
        permission.note(&forbidden());
        permission.note(&Ok(3));
        assert!(!permission.forbidden());
        assert_eq!(permission.retry_at(Timestamp::MAX), None);
        permission.note(&forbidden());
        assert_eq!(permission.retry_at(Timestamp::MAX), Some(Timestamp::MAX));
    }
}
