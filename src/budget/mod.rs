//! The API budget: how many requests a minute the configuration sends in steady state,
//! against the share (`api_budget_share`) of the 300 a minute that one OAuth client may
//! send ([`RATE_LIMIT_PER_MINUTE`]).
//!
//! Every request counts: each bucket query's one per bucket, each rolling query's one per
//! refresh, the observations' one per chunk of `queues_per_request` queues per refresh,
//! the agent states' one per breakdown value per refresh (divisions counted at their
//! bound), the flow observations' one per 100 flows per refresh (counted as one at
//! start-up, when the flows are not known yet), the queue list's pages, the presence
//! definitions and the flow, flow outcome and data action lists (a page each at least)
//! once per
//! `queue_names_refresh`.
//! Steady state leaves out what only failures and start-up cost (retries, a token per
//! token lifetime, which the login service counts apart) and the extra requests of an
//! answer too large for the synchronous query (an asynchronous job).
//!
//! At start-up the exporter refuses a configuration over its share, printing this
//! arithmetic; when a later read of the queue directory finds so many more queues that the
//! observations no longer fit, it warns and stretches their refresh instead
//! ([`BudgetWatch`]).

mod pacer;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{
    AgentSettings, Breakdown, MAX_AGENT_DIVISIONS, OrgSettings, Settings, VoiceQualitySettings,
    written,
};
use crate::error::{Error, Result};
use crate::genesys::queue_list::PAGE_SIZE;
use crate::metrics::Metrics;
use crate::org::Org;
use crate::schedule::{Rolling, Schedule};
pub use genesys_wire::RATE_LIMIT_PER_MINUTE;
use genesys_wire::catalogue::{NameKind, Source};
use genesys_wire::{MAX_EDGE_IDS, MAX_FLOWS_PER_REQUEST, MAX_TRUNK_IDS};
pub use pacer::{PACER_WINDOW, Pacer};

/// What the queue observations cost: a request per chunk of `queues_per_request` queues,
/// every `refresh`. (The `[observations]` table's keys.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservationLoad {
    pub refresh: Duration,
    pub queues_per_request: usize,
}

/// What sends the requests of a [`Line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    BucketQuery,
    RollingQuery,
    Observations,
    Agents,
    FlowObservations,
    /// The Edges, the trunks and their metrics.
    Telephony,
    VoiceQuality,
    QueueList,
    Presences,
    /// A list of flows, flow outcomes or data actions, for their names.
    NameList,
}

/// One line of the arithmetic: `requests` requests every `per`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub kind: LineKind,
    /// What sends them, such as `query live (10m window, every 1m)`.
    pub what: String,
    pub requests: u64,
    pub per: Duration,
    /// `per` as the configuration names it: `15m`, or `P1D` for a calendar bucket.
    pub every: String,
}

impl Line {
    fn new(kind: LineKind, what: String, requests: u64, per: Duration) -> Line {
        Line {
            kind,
            what,
            requests,
            per,
            every: written(per),
        }
    }

    pub fn per_minute(&self) -> f64 {
        self.requests as f64 * 60.0 / self.per.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// What a configuration costs, apart from the queue count: the lines that do not depend on
/// it, and what is needed to work out those that do.
#[derive(Debug, Clone)]
pub struct Load {
    /// Whose budget: each org's OAuth client has a limit of its own.
    org: Org,
    /// One line per configured query.
    queries: Vec<Line>,
    /// Whether the queue list is read: for queue names on `queueId` groups, and for the
    /// queues to observe.
    reads_directory: bool,
    /// The other lists of names read: flows, flow outcomes, data actions.
    name_lists: Vec<NameKind>,
    directory_refresh: Duration,
    /// Whether the presence definitions are read: for the observations' and the agent
    /// states' presence names.
    reads_presences: bool,
    observations: Option<ObservationLoad>,
    share: f64,
}

/// The arithmetic for one queue count: every line, the total and the allowance.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub lines: Vec<Line>,
    /// `api_budget_share`.
    pub share: f64,
}

/// What one source costs: its requests every so often, or (the observations) a request
/// per chunk of the directory's queues every refresh, which the budget may stretch.
#[derive(Debug, Clone, PartialEq)]
pub enum Cost {
    Every(Line),
    PerQueues(ObservationLoad),
}

impl Cost {
    /// A bucket query's: one request a bucket. A bucket of a day or more is counted at its
    /// shortest (a 23-hour day), so the figure is never below the truth.
    pub fn bucket_query(name: &str, source: Source, schedule: &Schedule) -> Cost {
        Cost::Every(Line {
            every: schedule.granularity.to_string(),
            ..Line::new(
                LineKind::BucketQuery,
                format!(
                    "query {name} ({}{} buckets)",
                    source_named(source),
                    schedule.granularity
                ),
                1,
                schedule.granularity.shortest(),
            )
        })
    }

    /// A rolling query's: one request a refresh.
    pub fn rolling_query(name: &str, source: Source, rolling: &Rolling) -> Cost {
        Cost::Every(Line::new(
            LineKind::RollingQuery,
            format!("query {name} ({}{rolling})", source_named(source)),
            1,
            rolling.refresh,
        ))
    }

    /// The agent states': a request per breakdown value, every refresh.
    pub fn agents(agents: &AgentSettings) -> Cost {
        let values: Vec<String> = agents
            .by
            .iter()
            .map(|by| match by {
                Breakdown::Org => "1 org".to_owned(),
                Breakdown::Division => format!("{MAX_AGENT_DIVISIONS} divisions at most"),
                Breakdown::Team => format!("{} teams", agents.teams.len()),
                Breakdown::Queue => format!("{} queues", agents.queues.len()),
            })
            .collect();
        Cost::Every(Line::new(
            LineKind::Agents,
            format!("agents ({})", values.join(" + ")),
            agents.requests(),
            agents.refresh,
        ))
    }

    /// The flow observations': a request per 100 flows every `refresh`, counted as one:
    /// the flows are not known before the directory reads them, and most orgs have fewer.
    pub fn flow_observations(refresh: Duration) -> Cost {
        Cost::Every(Line::new(
            LineKind::FlowObservations,
            format!("flow observations ({MAX_FLOWS_PER_REQUEST} flows a request)"),
            1,
            refresh,
        ))
    }

    /// The telephony's: the Edges list, their metrics, the trunks list and theirs, every
    /// `refresh`: 4 requests, each a page or a chunk of 100, counted at one each (the
    /// Edges and trunks are not known before they are read, and few orgs have more than
    /// 100 of either; each 100 more adds a request to two of the four).
    pub fn telephony(refresh: Duration) -> Cost {
        Cost::Every(Line::new(
            LineKind::Telephony,
            format!(
                "telephony (Edges, trunks and their metrics; up to {MAX_EDGE_IDS} Edges and {MAX_TRUNK_IDS} trunks)"
            ),
            4,
            refresh,
        ))
    }

    /// The voice quality's: the pages one refresh reads at `expected_calls_per_hour`
    /// (see [`VoiceQualitySettings::pages_per_refresh`]), every refresh.
    pub fn voice_quality(voice: &VoiceQualitySettings) -> Cost {
        Cost::Every(Line::new(
            LineKind::VoiceQuality,
            format!(
                "voice quality ({} calls an hour, {} a page, at most {} pages)",
                voice.expected_calls_per_hour, voice.page_size, voice.max_pages_per_refresh
            ),
            voice.pages_per_refresh(),
            voice.refresh,
        ))
    }

    /// A request per `queues_per_request` queues of the directory, every `refresh`.
    pub fn per_queues(refresh: Duration, queues_per_request: usize) -> Cost {
        Cost::PerQueues(ObservationLoad {
            refresh,
            queues_per_request,
        })
    }
}

impl Load {
    /// The load of `org` under `settings`, whose sources cost `costs`.
    pub fn new(
        settings: &Settings,
        org: &OrgSettings,
        costs: impl IntoIterator<Item = Cost>,
    ) -> Load {
        let mut queries = Vec::new();
        let mut observations = None;
        for cost in costs {
            match cost {
                Cost::Every(line) => queries.push(line),
                Cost::PerQueues(load) => observations = Some(load),
            }
        }
        let names_wanted = org
            .queries
            .iter()
            .any(|query| query.group_by.iter().any(|d| d == "queueId"));
        let agents = queries.iter().any(|line| line.kind == LineKind::Agents);
        let voice = queries
            .iter()
            .any(|line| line.kind == LineKind::VoiceQuality);
        let mut name_lists = settings.name_lists(org);
        name_lists.retain(|kind| *kind != NameKind::Queue);
        Load {
            org: org.org.clone(),
            queries,
            reads_directory: names_wanted || observations.is_some() || agents || voice,
            reads_presences: observations.is_some() || agents,
            name_lists,
            directory_refresh: settings.queue_names_refresh,
            observations,
            share: settings.api_budget_share,
        }
    }

    /// Whether the load fits with `queues` queues; over budget, the refusal with the
    /// arithmetic and what to change.
    pub fn check(&self, queues: usize) -> Result<()> {
        let budget = self.budget(queues, None);
        if budget.fits() {
            Ok(())
        } else {
            Err(over_budget(self, &budget, queues))
        }
    }

    /// The observations as configured, if enabled.
    pub fn observations(&self) -> Option<ObservationLoad> {
        self.observations
    }

    /// The arithmetic with `queues` queues in the directory, the observations read every
    /// `observations_refresh` (their configured refresh, or a stretched one).
    pub fn budget(&self, queues: usize, observations_refresh: Option<Duration>) -> Budget {
        let mut lines = self.queries.clone();
        if let Some(observations) = self.observations {
            let per_request = observations.queues_per_request.max(1);
            lines.push(Line::new(
                LineKind::Observations,
                format!("observations ({queues} queues, {per_request} a request)"),
                chunks(queues, per_request),
                observations_refresh.unwrap_or(observations.refresh),
            ));
        }
        if self.reads_directory {
            lines.push(Line::new(
                LineKind::QueueList,
                format!("queue list ({queues} queues, {PAGE_SIZE} a page)"),
                chunks(queues, PAGE_SIZE as usize).max(1),
                self.directory_refresh,
            ));
        }
        if self.reads_presences {
            lines.push(Line::new(
                LineKind::Presences,
                "presence definitions".into(),
                1,
                self.directory_refresh,
            ));
        }
        for kind in &self.name_lists {
            lines.push(Line::new(
                LineKind::NameList,
                format!("{} list ({PAGE_SIZE} a page)", kind.endpoint()),
                1,
                self.directory_refresh,
            ));
        }
        Budget {
            lines,
            share: self.share,
        }
    }

    /// The observations' refresh that keeps `queues` queues within the budget: the
    /// configured one when it fits, else the shortest whole number of seconds that does.
    /// `None` without observations, or when the rest alone does not fit.
    pub fn fitted_observations_refresh(&self, queues: usize) -> Option<Duration> {
        let observations = self.observations?;
        let budget = self.budget(queues, None);
        if budget.fits() {
            return Some(observations.refresh);
        }
        let requests = chunks(queues, observations.queues_per_request.max(1));
        let others: f64 = budget
            .lines
            .iter()
            .filter(|line| line.kind != LineKind::Observations)
            .map(Line::per_minute)
            .sum();
        let room = budget.allowed() - others;
        if room <= 0.0 {
            return None;
        }
        // requests × 60 / refresh ≤ room.
        let seconds = (requests as f64 * 60.0 / room).ceil();
        let fitted = Duration::try_from_secs_f64(seconds).ok()?;
        Some(fitted.max(observations.refresh))
    }
}

/// `flows, ` before a query's schedule, for the queries of another source than the
/// conversations.
fn source_named(source: Source) -> String {
    match source {
        Source::Conversations => String::new(),
        other => format!("{other}, "),
    }
}

/// `ceil(items / per)`.
fn chunks(items: usize, per: usize) -> u64 {
    items.div_ceil(per.max(1)) as u64
}

impl Budget {
    /// Requests a minute, all lines together.
    pub fn per_minute(&self) -> f64 {
        self.lines.iter().map(Line::per_minute).sum()
    }

    /// Requests a minute the share allows.
    pub fn allowed(&self) -> f64 {
        f64::from(RATE_LIMIT_PER_MINUTE) * self.share
    }

    pub fn fits(&self) -> bool {
        self.per_minute() <= self.allowed()
    }

    /// `query default 0.07 + ... = 13.13 requests a minute of 150 allowed`, for the log.
    pub fn one_line(&self) -> String {
        let terms: Vec<String> = self
            .lines
            .iter()
            .map(|line| format!("{} {:.2}", line.what, line.per_minute()))
            .collect();
        format!(
            "{} = {:.2} requests a minute of {} allowed ({} × {RATE_LIMIT_PER_MINUTE})",
            terms.join(" + "),
            self.per_minute(),
            round(self.allowed()),
            self.share
        )
    }
}

/// The arithmetic line by line: what, how many requests, every how long, = a minute; then
/// the total against the limit × share.
impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.lines.iter().map(|l| l.what.len()).max().unwrap_or(0);
        let every = self.lines.iter().map(|l| l.every.len()).max().unwrap_or(0);
        for line in &self.lines {
            let noun = if line.requests == 1 {
                "request "
            } else {
                "requests"
            };
            writeln!(
                f,
                "  {:<what$}  {:>4} {noun} every {:<every$} = {:>7.2} a minute",
                line.what,
                line.requests,
                line.every,
                line.per_minute()
            )?;
        }
        write!(
            f,
            "  total: {:.2} requests a minute; allowed: api_budget_share {} × {RATE_LIMIT_PER_MINUTE} = {} a minute",
            self.per_minute(),
            self.share,
            round(self.allowed())
        )
    }
}

/// A figure as short as it can be written: `150`, `142.5`.
fn round(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The budget as the exporter keeps it: checked at start-up, again after each read of the
/// queue directory, and published as `genesys_api_budget_requests_per_minute`. Holds the
/// observations' refresh in force, which the observations poller follows.
pub struct BudgetWatch {
    /// The load of the configuration running, replaced by a reload.
    load: Mutex<Load>,
    metrics: Arc<Metrics>,
    refresh: watch::Sender<Option<Duration>>,
    /// The queue count last checked.
    queues: Mutex<Option<usize>>,
}

impl BudgetWatch {
    pub fn new(load: Load, metrics: Arc<Metrics>) -> BudgetWatch {
        let (refresh, _) = watch::channel(load.observations.map(|o| o.refresh));
        BudgetWatch {
            load: Mutex::new(load),
            metrics,
            refresh,
            queues: Mutex::new(None),
        }
    }

    /// The observations' refresh in force (`None` when they are disabled): the configured
    /// one, or a longer one while the directory holds more queues than fit.
    pub fn observations_refresh(&self) -> watch::Receiver<Option<Duration>> {
        self.refresh.subscribe()
    }

    /// The check at start-up, with `queues` queues found (`None` when the queue list
    /// could not be read): logs the arithmetic and publishes the figure, or refuses a
    /// configuration over budget with the arithmetic and what to change.
    pub fn at_start(&self, queues: Option<usize>) -> Result<()> {
        let mut last = self.queues.lock().expect("not poisoned");
        // A read that came in just after the wait for it gave up counts as found.
        let queues = last.or(queues);
        *last = queues;
        drop(last);
        let load = self.load.lock().expect("not poisoned");
        self.check(&load, queues)
    }

    /// Whether `load`, a new configuration's, fits with the queues known now. Changes
    /// nothing: a reload checks every org before it applies any.
    pub fn check_reload(&self, load: &Load) -> Result<()> {
        let count = self.queues.lock().expect("not poisoned").unwrap_or(0);
        load.check(count)
    }

    /// Replaces the running load with `load`, which [`BudgetWatch::check_reload`]
    /// accepted: logs and publishes its figure, and sets the observations' refresh as
    /// configured.
    pub fn reload(&self, load: Load) {
        let queues = *self.queues.lock().expect("not poisoned");
        // It fits: checked before.
        let _ = self.check(&load, queues);
        self.refresh
            .send_replace(load.observations.map(|o| o.refresh));
        *self.load.lock().expect("not poisoned") = load;
    }

    /// Checks `load` with `queues` queues (`None`: not read, counted as 0): logs the
    /// arithmetic and publishes the figure, or refuses it with the arithmetic and what to
    /// change.
    fn check(&self, load: &Load, queues: Option<usize>) -> Result<()> {
        let count = queues.unwrap_or(0);
        let budget = load.budget(count, None);
        if !budget.fits() {
            return Err(over_budget(load, &budget, count));
        }
        self.metrics.api.budget(budget.per_minute());
        tracing::info!(
            org = load.org.name(),
            requests_per_minute = format!("{:.2}", budget.per_minute()),
            allowed = round(budget.allowed()),
            queues = queues.map_or("unknown (the queue list was not read; counted as 0)".into(), |q| q.to_string()),
            arithmetic = %budget.one_line(),
            "API budget"
        );
        Ok(())
    }

    /// The room the budget leaves for the first collections of the sources, in requests
    /// a minute: the share of the limit less the steady state, with the queues known
    /// (none: 0) and the observations' refresh in force; at least 1.
    pub fn start_room(&self) -> u64 {
        let queues = self.queues.lock().expect("not poisoned").unwrap_or(0);
        let refresh = *self.refresh.borrow();
        let load = self.load.lock().expect("not poisoned");
        let budget = load.budget(queues, refresh);
        let room = (budget.allowed() - budget.per_minute()).floor();
        // Saturating: a share of 1 leaves at most 300; NaN is 0.
        (room.max(1.0) as u64).max(1)
    }

    /// The queues last checked (none yet: 0).
    pub fn queues(&self) -> usize {
        self.queues.lock().expect("not poisoned").unwrap_or(0)
    }

    /// The check after a later read of the queue directory found `queues` queues: when
    /// they no longer fit, warns with the arithmetic and stretches the observations'
    /// refresh to fit; when they fit again, goes back to the configured refresh.
    pub fn directory_read(&self, queues: usize) {
        let mut last = self.queues.lock().expect("not poisoned");
        if *last == Some(queues) {
            return;
        }
        *last = Some(queues);
        let load = self.load.lock().expect("not poisoned");
        let configured = load.budget(queues, None);
        let fitted = load.fitted_observations_refresh(queues);
        let stretched = fitted.filter(|_| !configured.fits());
        let in_force = load.budget(queues, stretched);
        self.metrics.api.budget(in_force.per_minute());
        let previous = *self.refresh.borrow();
        let wanted = stretched.or(load.observations.map(|o| o.refresh));
        if configured.fits() {
            if previous != wanted {
                tracing::info!(
                    org = load.org.name(),
                    queues,
                    refresh = ?wanted,
                    arithmetic = %configured.one_line(),
                    "the queue directory fits the API budget again; observations back to their configured refresh"
                );
            }
        } else if let Some(stretched) = stretched {
            tracing::warn!(
                org = load.org.name(),
                queues,
                stretched_refresh = %written(stretched),
                "the queue directory grew past the API budget; observing every {} instead of as configured, until it fits again. Raise [observations] refresh or api_budget_share to choose yourself:\n{configured}",
                written(stretched),
            );
        } else {
            tracing::warn!(
                org = load.org.name(),
                queues,
                "the queue directory grew past the API budget, and stretching the observations' refresh cannot make up for it; {}:\n{configured}",
                remedies(&load, &configured, queues)
            );
        }
        self.refresh.send_replace(wanted);
    }
}

/// The refusal of a configuration whose `load` is over budget with `queues` queues: the
/// arithmetic and what to change.
fn over_budget(load: &Load, budget: &Budget, queues: usize) -> Error {
    let whose = match load.org.name() {
        Some(name) => format!(" of org {name}"),
        None => String::new(),
    };
    Error::Config(format!(
        "the API budget{whose} is exceeded: in steady state the exporter would send {:.2} requests a minute, more than api_budget_share = {} of the {RATE_LIMIT_PER_MINUTE} one OAuth client may send ({} a minute):\n{budget}\n  {}",
        budget.per_minute(),
        budget.share,
        round(budget.allowed()),
        remedies(load, budget, queues)
    ))
}

/// What to change for `budget` to fit.
fn remedies(load: &Load, budget: &Budget, queues: usize) -> String {
    let mut fixes = Vec::new();
    if let Some(refresh) = load.fitted_observations_refresh(queues)
        && load.observations.is_some_and(|o| o.refresh < refresh)
    {
        fixes.push(format!(
            "set [observations] refresh = \"{}\" or longer",
            written(refresh)
        ));
    }
    if load
        .queries
        .iter()
        .any(|line| line.kind == LineKind::Agents)
    {
        fixes.push(
            "count the agents less often ([agents] refresh) or by fewer breakdowns ([agents] by, teams, queues)".into(),
        );
    }
    if load
        .queries
        .iter()
        .any(|line| line.kind == LineKind::FlowObservations)
    {
        fixes.push("observe the flows less often ([flow_observations] refresh)".into());
    }
    if load
        .queries
        .iter()
        .any(|line| line.kind == LineKind::Telephony)
    {
        fixes.push("read the Edges and trunks less often ([telephony] refresh)".into());
    }
    if load
        .queries
        .iter()
        .any(|line| line.kind == LineKind::VoiceQuality)
    {
        fixes.push(
            "read the voice quality in fewer pages ([voice_quality] max_pages_per_refresh) or less often ([voice_quality] refresh)".into(),
        );
    }
    let rolling = |line: &Line| line.kind == LineKind::RollingQuery;
    if load.queries.iter().any(rolling) {
        fixes.push("refresh the rolling queries less often".into());
    }
    if load.queries.len() > 1 {
        fixes.push("drop queries you do not need".into());
    }
    let directory = |line: &&Line| {
        matches!(
            line.kind,
            LineKind::QueueList | LineKind::Presences | LineKind::NameList
        )
    };
    if budget
        .lines
        .iter()
        .filter(directory)
        .map(Line::per_minute)
        .sum::<f64>()
        > 1.0
    {
        fixes.push("read the queue list less often (queue_names_refresh)".into());
    }
    let needed = budget.per_minute() / f64::from(RATE_LIMIT_PER_MINUTE);
    if needed <= 1.0 {
        fixes.push(format!(
            "raise api_budget_share to {} (if nothing else uses this OAuth client)",
            (needed * 100.0).ceil() / 100.0
        ));
    } else {
        fixes.push(
            "the total is past the whole limit: split the queues between exporters with OAuth clients of their own".into(),
        );
    }
    format!("to fit: {}", fixes.join("; or "))
}

#[cfg(test)]
mod tests {
    use crate::schedule::QueryKind;

    use super::*;
    use crate::config::Config;

    /// Checked settings of `queries` (JSON tables) with `extra` top-level keys.
    fn settings_of(queries: serde_json::Value, extra: serde_json::Value) -> Settings {
        let mut table = serde_json::json!({
            "client_id": "id", "client_secret": "s", "region": "eu-west-1",
            "queries": queries,
        });
        table
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let config: Config = figment::Figment::new()
            .merge(figment::providers::Serialized::defaults(table))
            .extract()
            .unwrap();
        config.validate().unwrap()
    }

    /// The demo's two queries: the default one, and `live`.
    fn demo_queries() -> serde_json::Value {
        serde_json::json!([
            {"name": "default"},
            {"name": "live", "window": "10m", "refresh": "1m"},
        ])
    }

    const OBSERVATIONS: ObservationLoad = ObservationLoad {
        refresh: Duration::from_secs(15),
        queues_per_request: 100,
    };

    /// Each line's kind, requests and seconds.
    fn kinds(budget: &Budget) -> Vec<(LineKind, u64, u64)> {
        budget
            .lines
            .iter()
            .map(|l| (l.kind, l.requests, l.per.as_secs()))
            .collect()
    }

    #[test]
    fn every_request_is_counted_by_hand() {
        let settings = settings_of(demo_queries(), serde_json::json!({}));
        let load = load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS));
        let budget = load.budget(250, None);
        let lines = kinds(&budget);
        assert_eq!(
            lines,
            [
                (LineKind::BucketQuery, 1, 900),
                (LineKind::RollingQuery, 1, 60),
                // 250 queues in chunks of 100: 3 requests.
                (LineKind::Observations, 3, 15),
                // And in pages of 100.
                (LineKind::QueueList, 3, 3600),
                (LineKind::Presences, 1, 3600),
            ]
        );
        // 1/15 + 1 + 3 × 4 + 3/60 + 1/60 a minute.
        let by_hand = 1.0 / 15.0 + 1.0 + 12.0 + 0.05 + 1.0 / 60.0;
        assert!((budget.per_minute() - by_hand).abs() < 1e-9);
        assert_eq!(budget.allowed(), 150.0);
        assert!(budget.fits());
        let text = budget.to_string();
        assert!(
            text.contains(
                "  observations (250 queues, 100 a request)     3 requests every 15s   =   12.00 a minute\n"
            ),
            "{text}"
        );
        assert!(
            text.starts_with(
                "  query default (PT15M buckets)                1 request  every PT15M =    0.07 a minute\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\n  total: 13.13 requests a minute; allowed: api_budget_share 0.5 × 300 = 150 a minute"
            ),
            "{text}"
        );
    }

    #[test]
    fn without_observations_or_queue_ids_neither_the_queue_list_nor_presences_count() {
        let by_media = settings_of(
            serde_json::json!([{"name": "q", "group_by": ["mediaType"], "granularity": "PT1H"}]),
            serde_json::json!({}),
        );
        let budget = load_with(&by_media, &by_media.orgs[0], None).budget(5000, None);
        assert_eq!(budget.lines.len(), 1);
        assert!((budget.per_minute() - 1.0 / 60.0).abs() < 1e-12);
        // Grouped by queue, the list is read: one page even when it is empty.
        let by_queue = settings_of(serde_json::json!([]), serde_json::json!({}));
        let budget = load_with(&by_queue, &by_queue.orgs[0], None).budget(0, None);
        assert_eq!(budget.lines[1].kind, LineKind::QueueList);
        assert_eq!(budget.lines[1].requests, 1);
    }

    /// Each line of `budget`: its kind, what, requests and seconds apart.
    fn lines_of(budget: &Budget) -> Vec<(LineKind, &str, u64, u64)> {
        budget
            .lines
            .iter()
            .map(|l| (l.kind, l.what.as_str(), l.requests, l.per.as_secs()))
            .collect()
    }

    #[test]
    fn flows_and_actions_queries_the_flow_observations_and_their_lists_have_lines() {
        let settings = settings_of(
            serde_json::json!([
                {"name": "flows", "source": "flows", "granularity": "PT30M"},
                {"name": "actions_live", "source": "actions", "window": "10m", "refresh": "1m"},
            ]),
            serde_json::json!({"flow_observations": {"enabled": true}}),
        );
        let org = &settings.orgs[0];
        let flow_observations = Cost::flow_observations(settings.flow_observations.unwrap());
        let mut load = load_with(&settings, org, Some(OBSERVATIONS));
        if let Cost::Every(line) = flow_observations {
            load.queries.push(line);
        }
        let budget = load.budget(50, None);
        let lines = lines_of(&budget);
        assert_eq!(
            lines,
            [
                (
                    LineKind::BucketQuery,
                    "query flows (flows, PT30M buckets)",
                    1,
                    1800
                ),
                (
                    LineKind::RollingQuery,
                    "query actions_live (actions, 10m window, every 1m)",
                    1,
                    60
                ),
                (
                    LineKind::FlowObservations,
                    "flow observations (100 flows a request)",
                    1,
                    30
                ),
                (
                    LineKind::Observations,
                    "observations (50 queues, 100 a request)",
                    1,
                    15
                ),
                (
                    LineKind::QueueList,
                    "queue list (50 queues, 100 a page)",
                    1,
                    3600
                ),
                (LineKind::Presences, "presence definitions", 1, 3600),
                (LineKind::NameList, "flows list (100 a page)", 1, 3600),
                (
                    LineKind::NameList,
                    "flow_outcomes list (100 a page)",
                    1,
                    3600
                ),
                (LineKind::NameList, "actions list (100 a page)", 1, 3600),
            ]
        );
        // 1/30 + 1 + 2 + 4 + 5/60 a minute.
        let by_hand = 1.0 / 30.0 + 1.0 + 2.0 + 4.0 + 5.0 / 60.0;
        assert!((budget.per_minute() - by_hand).abs() < 1e-9);
    }

    #[test]
    fn flow_observations_past_the_budget_are_told_to_observe_less_often() {
        let settings = settings_of(
            serde_json::json!([{"name": "flows", "source": "flows"}]),
            serde_json::json!({
                "api_budget_share": 0.01,
                "observations": {"enabled": false},
                "flow_observations": {"enabled": true, "refresh": "10s"},
            }),
        );
        let org = &settings.orgs[0];
        let mut load = load_with(&settings, org, None);
        if let Cost::Every(line) = Cost::flow_observations(settings.flow_observations.unwrap()) {
            load.queries.push(line);
        }
        // 6 a minute for the flows, past 1% of 300.
        let text = load.check(0).unwrap_err().to_string();
        assert!(
            text.contains("to fit: observe the flows less often ([flow_observations] refresh);"),
            "{text}"
        );
    }

    #[test]
    fn the_telephony_costs_four_requests_a_refresh_and_says_how_to_fit() {
        let settings = settings_of(
            serde_json::json!([]),
            serde_json::json!({
                "api_budget_share": 0.01,
                "observations": {"enabled": false},
                "telephony": {"enabled": true, "refresh": "15s"},
            }),
        );
        let Cost::Every(line) = Cost::telephony(settings.telephony.unwrap()) else {
            panic!("a fixed line")
        };
        assert_eq!(
            (
                line.kind,
                line.what.as_str(),
                line.requests,
                line.per.as_secs()
            ),
            (
                LineKind::Telephony,
                "telephony (Edges, trunks and their metrics; up to 100 Edges and 100 trunks)",
                4,
                15
            )
        );
        let mut load = load_with(&settings, &settings.orgs[0], None);
        load.queries.push(line);
        // 4 every 15 s: 16 a minute, past 1% of 300.
        // 4 every 15 s, beside the default query's 1 every 15 m and the queue list's 1
        // an hour: past 1% of 300.
        let budget = load.budget(0, None);
        let by_hand = 16.0 + 1.0 / 15.0 + 1.0 / 60.0;
        assert!((budget.per_minute() - by_hand).abs() < 1e-9, "{budget:?}");
        let text = load.check(0).unwrap_err().to_string();
        assert!(
            text.contains("read the Edges and trunks less often ([telephony] refresh)"),
            "{text}"
        );
    }

    #[test]
    fn the_voice_quality_costs_its_pages_at_the_expected_calls_and_reads_queue_and_edge_names() {
        let settings = settings_of(
            serde_json::json!([{"name": "day", "granularity": "P1D"}]),
            serde_json::json!({
                "api_budget_share": 0.005,
                "observations": {"enabled": false},
                "voice_quality": {"enabled": true, "expected_calls_per_hour": 12000},
            }),
        );
        let org = &settings.orgs[0];
        let voice = settings.voice_quality.as_ref().unwrap();
        let day = match &org.queries[0].kind {
            QueryKind::Buckets(schedule) => {
                Cost::bucket_query("day", Source::Conversations, schedule)
            }
            QueryKind::Rolling(_) => unreachable!("a bucket query"),
        };
        let load = Load::new(&settings, org, [day, Cost::voice_quality(voice)]);
        let budget = load.budget(250, None);
        let lines = lines_of(&budget);
        // 12,000 calls an hour: 1,000 in 5 minutes, 10 pages of 100, and the one that
        // finds the window's start.
        assert_eq!(
            lines[1..],
            [
                (
                    LineKind::VoiceQuality,
                    "voice quality (12000 calls an hour, 100 a page, at most 20 pages)",
                    11,
                    300
                ),
                (
                    LineKind::QueueList,
                    "queue list (250 queues, 100 a page)",
                    3,
                    3600
                ),
                (LineKind::NameList, "edges list (100 a page)", 1, 3600),
            ]
        );
        // 1/1380 (a 23-hour day) + 11/5 + 3/60 + 1/60 a minute, past 0.005 × 300 = 1.5.
        let by_hand = 1.0 / 1380.0 + 11.0 / 5.0 + 3.0 / 60.0 + 1.0 / 60.0;
        assert!((budget.per_minute() - by_hand).abs() < 1e-9);
        let text = load.check(250).unwrap_err().to_string();
        assert!(
            text.contains("to fit: read the voice quality in fewer pages ([voice_quality] max_pages_per_refresh) or less often ([voice_quality] refresh);"),
            "{text}"
        );
    }

    /// The demo's queries and observations with 4% of the API's 300 a minute: 12, too few
    /// for 250 queues observed every 15 s.
    fn tight_settings() -> Settings {
        settings_of(
            demo_queries(),
            serde_json::json!({"api_budget_share": 0.04}),
        )
    }

    /// A budget watch over [`tight_settings`], and the metrics it reports to.
    fn tight_watch() -> (BudgetWatch, Arc<Metrics>) {
        let settings = tight_settings();
        let metrics = Arc::new(Metrics::new([]));
        let watch = BudgetWatch::new(
            load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS)),
            metrics.clone(),
        );
        (watch, metrics)
    }

    #[test]
    fn the_observations_refresh_is_stretched_to_the_shortest_that_fits() {
        // 4% of 300 is 12 a minute; the rest costs 1/15 + 1 + 3/60 + 1/60 = 1.1333 a
        // minute, so 3 chunks may go out every 3 × 60 / 10.8667 = 16.6 s: 17 s.
        let settings = tight_settings();
        let load = load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS));
        assert!(!load.budget(250, None).fits());
        assert_eq!(
            load.fitted_observations_refresh(250),
            Some(Duration::from_secs(17))
        );
        assert!(load.budget(250, Some(Duration::from_secs(17))).fits());
        assert!(!load.budget(250, Some(Duration::from_secs(16))).fits());
        // Fewer queues fit as configured.
        assert_eq!(
            load.fitted_observations_refresh(100),
            Some(OBSERVATIONS.refresh)
        );
        // When the rest alone is over, no refresh fits.
        let settings = settings_of(
            demo_queries(),
            serde_json::json!({"api_budget_share": 0.003}),
        );
        let load = load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS));
        assert_eq!(load.fitted_observations_refresh(250), None);
        assert_eq!(
            load_with(&settings, &settings.orgs[0], None).fitted_observations_refresh(1),
            None
        );
    }

    #[test]
    fn start_up_over_budget_is_refused_with_the_arithmetic_and_the_fix() {
        let (watch, metrics) = tight_watch();
        let error = watch.at_start(Some(250)).unwrap_err();
        assert!(matches!(error, Error::Config(_)));
        let text = error.to_string();
        for said in [
            "the API budget is exceeded: in steady state the exporter would send 13.13 requests a minute, more than api_budget_share = 0.04 of the 300 one OAuth client may send (12 a minute):",
            "  observations (250 queues, 100 a request)     3 requests every 15s   =   12.00 a minute\n",
            "  total: 13.13 requests a minute; allowed: api_budget_share 0.04 × 300 = 12 a minute\n",
            "to fit: set [observations] refresh = \"17s\" or longer; or refresh the rolling queries less often; or drop queries you do not need; or raise api_budget_share to 0.05",
        ] {
            assert!(text.contains(said), "{said}\n{text}");
        }
        assert_eq!(
            metrics.sample("genesys_api_budget_requests_per_minute"),
            None
        );
        // A queue list of three pages read every second: 180 requests a minute.
        let hasty = settings_of(
            demo_queries(),
            serde_json::json!({"queue_names_refresh": "1s"}),
        );
        let hasty = BudgetWatch::new(load_with(&hasty, &hasty.orgs[0], None), metrics.clone());
        let text = hasty.at_start(Some(250)).unwrap_err().to_string();
        assert!(
            text.contains("read the queue list less often (queue_names_refresh); or raise api_budget_share to 0.61"),
            "{text}"
        );
        // Within budget, it is published.
        let settings = tight_settings();
        let watch = BudgetWatch::new(
            load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS)),
            metrics.clone(),
        );
        assert!(watch.at_start(Some(100)).is_ok());
        let published = metrics
            .sample("genesys_api_budget_requests_per_minute")
            .unwrap();
        assert!((published - (1.0 / 15.0 + 1.0 + 4.0 + 1.0 / 60.0 + 1.0 / 60.0)).abs() < 1e-9);
    }

    #[test]
    fn the_agents_cost_a_request_per_breakdown_value_and_too_many_are_refused() {
        let agents = |by: serde_json::Value, extra: serde_json::Value| {
            let mut table = serde_json::json!({"enabled": true, "by": by});
            table
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            settings_of(demo_queries(), serde_json::json!({"agents": table}))
        };
        let load_of = |settings: &Settings| {
            let costs = [Cost::agents(settings.agents.as_ref().unwrap())];
            let queries = load_with(settings, &settings.orgs[0], None).queries;
            Load::new(
                settings,
                &settings.orgs[0],
                queries.into_iter().map(Cost::Every).chain(costs),
            )
        };
        let settings = agents(
            serde_json::json!(["org", "division"]),
            serde_json::json!({}),
        );
        let budget = load_of(&settings).budget(6, None);
        let lines = kinds(&budget);
        assert_eq!(
            lines,
            [
                (LineKind::BucketQuery, 1, 900),
                (LineKind::RollingQuery, 1, 60),
                // The org, and divisions counted at their bound, every 30 s.
                (LineKind::Agents, 11, 30),
                // The divisions and presence names are read.
                (LineKind::QueueList, 1, 3600),
                (LineKind::Presences, 1, 3600),
            ]
        );
        assert!(
            budget.to_string().contains(
                "  agents (1 org + 10 divisions at most)    11 requests every 30s   =   22.00 a minute\n"
            ),
            "{budget}"
        );
        // 80 queues by ID every 10 s: 480 a minute, past the share of 150 (and the limit).
        let queues: Vec<String> = (0..80).map(|i| format!("q{i}")).collect();
        let settings = agents(
            serde_json::json!(["queue"]),
            serde_json::json!({"queues": queues, "refresh": "10s"}),
        );
        let watch = BudgetWatch::new(load_of(&settings), Arc::new(Metrics::new([])));
        let text = watch.at_start(Some(6)).unwrap_err().to_string();
        for said in [
            "the API budget is exceeded: in steady state the exporter would send 481.10 requests a minute",
            "  agents (80 queues)                   80 requests every 10s   =  480.00 a minute\n",
            "to fit: count the agents less often ([agents] refresh) or by fewer breakdowns ([agents] by, teams, queues);",
            "the total is past the whole limit",
        ] {
            assert!(text.contains(said), "{said}\n{text}");
        }
    }

    #[test]
    fn each_org_has_a_budget_of_its_own_and_a_refusal_names_the_org() {
        // One shared query, and one of west's own: a rolling window read every 30 s.
        let settings = settings_of(
            serde_json::json!([{"name": "default"}]),
            serde_json::json!({
                "client_id": null,
                "client_secret": null,
                "api_budget_share": 0.01,
                "orgs": [
                    {"name": "east", "client_id": "e", "client_secret": "s"},
                    {"name": "west", "client_id": "w", "client_secret": "s",
                     "queries": [{"name": "live", "window": "5m", "refresh": "30s"}]},
                ],
            }),
        );
        let metrics = Arc::new(Metrics::empty());
        let watch = |org: &OrgSettings| {
            let view = Arc::new(metrics.add_org(&org.org, []));
            BudgetWatch::new(load_with(&settings, org, None), view)
        };
        // East: 1/15 + 1/60 (the queue list) = 0.08 a minute, within 3 (0.01 × 300).
        assert!(watch(&settings.orgs[0]).at_start(Some(10)).is_ok());
        let east = metrics.sample("genesys_api_budget_requests_per_minute{org=\"east\"}");
        assert!((east.unwrap() - (1.0 / 15.0 + 1.0 / 60.0)).abs() < 1e-9);
        // West adds 2 a minute for its window: 2.08, still within 3; at 0.005 it is not.
        assert!(watch(&settings.orgs[1]).at_start(Some(10)).is_ok());
        let mut stingy = settings.clone();
        stingy.api_budget_share = 0.005;
        let west = &stingy.orgs[1];
        let refused = BudgetWatch::new(
            load_with(&stingy, west, None),
            Arc::new(metrics.for_org(&west.org)),
        )
        .at_start(Some(10))
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("the API budget of org west is exceeded: in steady state the exporter would send 2.08 requests a minute"),
            "{refused}"
        );
    }

    #[test]
    fn the_documented_example_is_what_the_exporter_prints() {
        let settings = settings_of(
            serde_json::json!([
                {"name": "default"},
                {"name": "live", "window": "5m", "refresh": "30s"},
            ]),
            serde_json::json!({"api_budget_share": 0.05}),
        );
        let watch = BudgetWatch::new(
            load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS)),
            Arc::new(Metrics::new([])),
        );
        let refused = format!(
            "genesys-exporter: {}",
            watch.at_start(Some(350)).unwrap_err()
        );
        let readme = include_str!("../../docs/api-budget.md");
        for line in refused.lines() {
            assert!(readme.contains(line), "docs/api-budget.md lacks {line:?}");
        }
    }

    /// docs/api-budget.md's largest org: the default bucket query, one rolling query and
    /// the observations at their defaults, within the default share.
    #[test]
    fn the_largest_org_within_the_default_share_has_3700_queues() {
        let settings = settings_of(demo_queries(), serde_json::json!({}));
        let observations = settings.observations.clone().unwrap();
        assert_eq!(
            (observations.refresh, observations.queues_per_request),
            (Duration::from_secs(15), 100)
        );
        let load = load_with(
            &settings,
            &settings.orgs[0],
            Some(ObservationLoad {
                refresh: observations.refresh,
                queues_per_request: observations.queues_per_request,
            }),
        );
        // By hand, a minute: 0.5 × 300 = 150 allowed. Whatever the queues: the PT15M
        // bucket 1/15, the rolling query read every 1m 1, the presences (every 1h) 1/60.
        // Per chunk of 100 queues: the observations 60/15 = 4, the queue list's page
        // 1/60. 1.0833 + c × 4.0167 ≤ 150 for c ≤ 148.9167 / 4.0167 = 37.07: 37 chunks,
        // 3,700 queues, at 149.70 a minute. The 3,701st queue starts a 38th: 153.72.
        let fixed = 1.0 / 15.0 + 1.0 + 1.0 / 60.0;
        let per_chunk = 4.0 + 1.0 / 60.0;
        for (queues, chunks, fits) in [(3700, 37.0, true), (3701, 38.0, false)] {
            let budget = load.budget(queues, None);
            let by_hand = fixed + chunks * per_chunk;
            assert!((budget.per_minute() - by_hand).abs() < 1e-9, "{budget}");
            assert_eq!(budget.fits(), fits, "{queues} queues:\n{budget}");
            assert_eq!(load.check(queues).is_ok(), fits);
        }
        assert!((load.budget(3700, None).per_minute() - 149.7).abs() < 0.005);
        assert!((load.budget(3701, None).per_minute() - 153.72).abs() < 0.005);
    }

    /// With the rolling query at its shortest refresh, 30 s, the largest org is 3,600.
    #[test]
    fn the_largest_org_with_a_rolling_query_every_30s_has_3600_queues() {
        let settings = settings_of(
            serde_json::json!([
                {"name": "default"},
                {"name": "live", "window": "10m", "refresh": "30s"},
            ]),
            serde_json::json!({}),
        );
        let load = load_with(&settings, &settings.orgs[0], Some(OBSERVATIONS));
        // 1/15 + 2 + 1/60 = 2.0833 fixed; (150 − 2.0833) / 4.0167 = 36.83: 36 chunks,
        // 3,600 queues at 146.68; a 37th chunk makes 150.70.
        assert!((load.budget(3600, None).per_minute() - 146.68).abs() < 0.005);
        assert!(load.check(3600).is_ok());
        assert!((load.budget(3601, None).per_minute() - 150.70).abs() < 0.005);
        assert!(load.check(3601).is_err());
    }

    #[test]
    fn a_directory_that_grows_past_the_budget_stretches_the_observations_and_back() {
        let (watch, metrics) = tight_watch();
        let refresh = watch.observations_refresh();
        watch.at_start(Some(100)).unwrap();
        assert_eq!(*refresh.borrow(), Some(Duration::from_secs(15)));

        watch.directory_read(250);
        assert_eq!(*refresh.borrow(), Some(Duration::from_secs(17)));
        let published = metrics
            .sample("genesys_api_budget_requests_per_minute")
            .unwrap();
        let by_hand = 1.0 / 15.0 + 1.0 + 3.0 * 60.0 / 17.0 + 3.0 / 60.0 + 1.0 / 60.0;
        assert!((published - by_hand).abs() < 1e-9, "{published}");

        watch.directory_read(120);
        assert_eq!(*refresh.borrow(), Some(Duration::from_secs(15)));
    }

    /// `org`'s load, its costs worked out here from its queries.
    fn load_with(
        settings: &Settings,
        org: &OrgSettings,
        observations: Option<ObservationLoad>,
    ) -> Load {
        let queries = org.queries.iter().map(|query| match &query.kind {
            QueryKind::Buckets(schedule) => Cost::bucket_query(&query.name, query.source, schedule),
            QueryKind::Rolling(rolling) => Cost::rolling_query(&query.name, query.source, rolling),
        });
        let observations = observations.map(Cost::PerQueues);
        Load::new(
            settings,
            org,
            queries.chain(observations).collect::<Vec<_>>(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn four_hundred_p1d_queries_start_inside_the_share_in_every_minute() {
        let queries: Vec<_> = (0..400)
            .map(|i| serde_json::json!({"name": format!("q{i}"), "granularity": "P1D"}))
            .collect();
        let settings = settings_of(
            serde_json::json!(queries),
            serde_json::json!({"api_budget_share": 0.1}),
        );
        let load = load_with(&settings, &settings.orgs[0], None);
        let budget = load.budget(0, None);
        let watch = BudgetWatch::new(load, Arc::new(Metrics::empty()));
        watch.at_start(Some(0)).unwrap();
        // 30 a minute allowed; 400 P1D buckets (at 23 hours) and the queue list cost 0.31.
        assert_eq!(budget.allowed(), 30.0);
        assert!(budget.per_minute() < 1.0, "{}", budget.per_minute());
        let room = watch.start_room();
        assert_eq!(room, 29);
        assert!(room as f64 + budget.per_minute() <= budget.allowed());

        let pacer = Arc::new(Pacer::new(room));
        let began = tokio::time::Instant::now();
        let polls: Vec<_> = (0..400)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.admit(1).await;
                    tokio::time::Instant::now()
                })
            })
            .collect();
        let mut at = Vec::new();
        for poll in polls {
            at.push(poll.await.unwrap());
        }
        for start in &at {
            let in_minute = at
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < PACER_WINDOW)
                .count();
            assert!(in_minute as u64 <= room, "{in_minute} in a minute");
        }
        // ⌈400 / 29⌉ = 14 minutes: the last turn starts the 14th.
        let last = at.iter().max().unwrap().duration_since(began);
        assert_eq!(last, Duration::from_secs(13 * 60));
    }
}
