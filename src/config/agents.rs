//! The `[agents]` table checked: how often the agents are counted, and by what.

use std::time::Duration;

use super::checks::written;
use super::{AGENTS_QUERY, Config, DEFAULT_AGENTS_REFRESH, MIN_AGENTS_REFRESH};

/// The longest `[agents] refresh`: a state an hour old is no longer real time.
const MAX_AGENTS_REFRESH: Duration = Duration::from_secs(3600);

/// The most divisions a `division` breakdown counts, one request each: the first ones of
/// the queue list by name. The API budget counts this many, whatever the org has, since
/// the divisions are known only once the queue list is read.
pub const MAX_AGENT_DIVISIONS: usize = 10;

/// What the agents are counted by: each value one request per refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// The whole org: one request.
    Org,
    /// Each division of the queue list.
    Division,
    /// Each team of `[agents] teams`.
    Team,
    /// Each queue of `[agents] queues`.
    Queue,
}

impl Breakdown {
    const ALL: [Breakdown; 4] = [
        Breakdown::Org,
        Breakdown::Division,
        Breakdown::Team,
        Breakdown::Queue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Breakdown::Org => "org",
            Breakdown::Division => "division",
            Breakdown::Team => "team",
            Breakdown::Queue => "queue",
        }
    }

    fn accepted() -> String {
        Breakdown::ALL.map(Breakdown::as_str).join(", ")
    }
}

/// The checked `[agents]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    /// How often the agents are counted; the data is dropped 3 refreshes after the last
    /// success.
    pub refresh: Duration,
    /// In the order written, each once.
    pub by: Vec<Breakdown>,
    /// The team IDs of the `team` breakdown (empty without it).
    pub teams: Vec<String>,
    /// The queue IDs of the `queue` breakdown (empty without it).
    pub queues: Vec<String>,
}

impl AgentSettings {
    /// The requests one refresh sends: one per breakdown value, divisions counted at
    /// [`MAX_AGENT_DIVISIONS`].
    pub fn requests(&self) -> u64 {
        self.by
            .iter()
            .map(|by| match by {
                Breakdown::Org => 1,
                Breakdown::Division => MAX_AGENT_DIVISIONS,
                Breakdown::Team => self.teams.len(),
                Breakdown::Queue => self.queues.len(),
            })
            .map(|n| n as u64)
            .sum()
    }
}

impl Config {
    /// The `[agents]` table checked; `None` unless enabled.
    pub(super) fn agents(&self, problems: &mut Vec<String>) -> Option<AgentSettings> {
        let table = &self.agents;
        if !table.enabled.unwrap_or(false) {
            return None;
        }
        self.label_taken(AGENTS_QUERY, "the agent states", "agents", problems);
        let refresh = table.refresh.unwrap_or(DEFAULT_AGENTS_REFRESH);
        if !(MIN_AGENTS_REFRESH..=MAX_AGENTS_REFRESH).contains(&refresh) {
            problems.push(format!(
                "agents.refresh: {} is out of range; use {} to {} (default {}): each refresh costs a request per breakdown value",
                written(refresh),
                written(MIN_AGENTS_REFRESH),
                written(MAX_AGENTS_REFRESH),
                written(DEFAULT_AGENTS_REFRESH)
            ));
        }
        let written_by = table.by.clone().unwrap_or_else(|| vec!["org".into()]);
        if written_by.is_empty() {
            problems.push(format!(
                "agents.by: empty; list at least one of {}, or set enabled = false",
                Breakdown::accepted()
            ));
        }
        let mut by = Vec::new();
        for value in &written_by {
            match Breakdown::ALL.iter().find(|b| b.as_str() == value) {
                Some(breakdown) if by.contains(breakdown) => problems.push(format!(
                    "agents.by: '{value}' is listed twice; list it once"
                )),
                Some(&breakdown) => by.push(breakdown),
                None => problems.push(format!(
                    "agents.by: '{value}' is not a breakdown; use some of {}",
                    Breakdown::accepted()
                )),
            }
        }
        let teams = ids("teams", &table.teams, Breakdown::Team, &by, problems);
        let queues = ids("queues", &table.queues, Breakdown::Queue, &by, problems);
        Some(AgentSettings {
            refresh,
            by,
            teams,
            queues,
        })
    }
}

/// The IDs of `agents.<key>`, which the `breakdown` needs and only it uses.
fn ids(
    key: &str,
    listed: &Option<Vec<String>>,
    breakdown: Breakdown,
    by: &[Breakdown],
    problems: &mut Vec<String>,
) -> Vec<String> {
    let name = breakdown.as_str();
    let wanted = by.contains(&breakdown);
    let ids = listed.clone().unwrap_or_default();
    if wanted && ids.is_empty() {
        problems.push(format!(
            "agents.by: '{name}' needs agents.{key}, the {name} IDs to count (one request each per refresh); list them, or drop '{name}'"
        ));
    }
    if !wanted && listed.is_some() {
        problems.push(format!(
            "agents.{key}: listed, but agents.by has no '{name}'; add it, or drop agents.{key}"
        ));
    }
    for (index, id) in ids.iter().enumerate() {
        if id.trim().is_empty() {
            problems.push(format!("agents.{key}: an empty ID; give each {name}'s ID"));
        } else if ids[..index].contains(id) {
            problems.push(format!(
                "agents.{key}: '{id}' is listed twice; list it once"
            ));
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::problems;

    const CREDENTIALS: &str = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n";

    fn settings(toml: &str) -> Option<AgentSettings> {
        crate::config::load::tests::config(&format!("{CREDENTIALS}{toml}"))
            .validate()
            .unwrap()
            .agents
    }

    #[test]
    fn agents_are_off_by_default_and_by_org_every_30s_when_on() {
        assert_eq!(settings(""), None);
        assert_eq!(settings("[agents]\nby = [\"team\"]\n"), None, "not enabled");
        let agents = settings("[agents]\nenabled = true\n").unwrap();
        assert_eq!(
            agents,
            AgentSettings {
                refresh: Duration::from_secs(30),
                by: vec![Breakdown::Org],
                teams: vec![],
                queues: vec![],
            }
        );
        assert_eq!(agents.requests(), 1);
        let agents = settings(
            "[agents]\nenabled = true\nrefresh = \"1m\"\nby = [\"queue\", \"org\", \"division\", \"team\"]\nteams = [\"t1\", \"t2\"]\nqueues = [\"q1\", \"q2\", \"q3\"]\n",
        )
        .unwrap();
        assert_eq!(
            agents.by,
            [
                Breakdown::Queue,
                Breakdown::Org,
                Breakdown::Division,
                Breakdown::Team
            ]
        );
        assert_eq!(agents.requests(), 3 + 1 + 10 + 2);
    }

    #[test]
    fn bad_agents_tables_are_refused_naming_the_key_and_the_fix() {
        let all = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"agents\"\n[agents]\nenabled = true\nrefresh = \"5s\"\nby = [\"org\", \"skill\", \"org\", \"team\", \"queue\"]\nqueues = [\"q1\", \"\", \"q1\"]\n"
        ));
        for problem in [
            "queries: the name 'agents' is the query label of the agent states; rename the query, or set enabled = false under [agents]",
            "agents.refresh: 5s is out of range; use 10s to 1h (default 30s)",
            "agents.by: 'skill' is not a breakdown; use some of org, division, team, queue",
            "agents.by: 'org' is listed twice; list it once",
            "agents.by: 'team' needs agents.teams, the team IDs to count (one request each per refresh); list them, or drop 'team'",
            "agents.queues: an empty ID",
            "agents.queues: 'q1' is listed twice",
        ] {
            assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
        }
        let all = problems(&format!(
            "{CREDENTIALS}[agents]\nenabled = true\nby = []\nteams = [\"t1\"]\nrefresh = \"2h\"\n"
        ));
        for problem in [
            "agents.by: empty; list at least one of org, division, team, queue, or set enabled = false",
            "agents.teams: listed, but agents.by has no 'team'; add it, or drop agents.teams",
            "agents.refresh: 2h is out of range",
        ] {
            assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
        }
    }
}
