//! `--demo` and `simulate` as a new user meets them. `--demo` at any hour: every queue has
//! traffic in the latest bucket, voice callers wait at every instant (Retention's standing
//! backlog) without tripping an alert of their own, every source of the demo has data
//! (agents on queue in each division, each flow's entries and outcomes, each data
//! action's executions, callers in the Main IVR, conversation errors, voice calls ending in
//! the voice quality's first windows, every Edge and trunk), the default surge pages within six
//! minutes, and `--demo-time` moves the data, not the timestamps Prometheus compares with
//! its own clock. A surge on an unknown queue names the valid ones; `simulate` logs the
//! credentials it accepts and its help lists every endpoint it serves.
//!
//! The quiet instants are fixed on the simulator's clock: a Sunday at 01:20 UTC and New
//! Year's night at 04:20 UTC, when the simulator's daily curve is at its lowest.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::cli::{DEMO_VOICE_QUALITY_REFRESH, demo_org, demo_queries};
use genesys_exporter::collect::voice_quality::window as voice_quality_window;
use genesys_exporter::config::{DEFAULT_SETTLE_DELAY, DEFAULT_VOICE_QUALITY_SETTLE_DELAY};
use genesys_sim::{
    ALERT_MS, Architect, BACKLOG_WAIT_MS, DEMO_FLOOR, DEMO_MEDIA_TYPES, MAX_CALL_MS, SimulatedOrg,
    Surge, SurgeSpec, Surges, Telephony, action_aggregate, agent_state_counts, aggregate,
    aggregate_with_surge, call_quality, edges, flow_aggregate, in_flows_now, observe, team_id,
    voice_calls,
};
use genesys_wire::{
    AGENT_STATUS_GROUP_BY, AgentStateCountsRequest, AgentStateFilter, AggregationQuery,
    ObservationQuery,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use serde_yaml_ng::Value as Yaml;

use crate::util::{
    files::{read, temp_dir, write_file},
    process::{Process, exit_of, exit_on_config},
    samples::{Samples, value},
    wait::wait_for_metrics,
};

const QUIET: [&str; 2] = ["2026-12-06T01:20:00Z", "2027-01-01T04:20:00Z"];

/// The org `--demo` simulates, with its default size.
fn the_demo_org() -> SimulatedOrg {
    demo_org(6, DEMO_MEDIA_TYPES.map(String::from).to_vec())
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn wire(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// Offered and abandoned conversations of `org` in `[start, end)` under `surge`, by queue
/// name and media type, as the simulator answers the demo's `groupBy`.
fn counts(
    org: &SimulatedOrg,
    surge: Option<&Surge>,
    start: Timestamp,
    end: Timestamp,
) -> Vec<(String, String, f64, f64)> {
    let query = AggregationQuery {
        interval: format!("{}/{}", wire(start), wire(end)),
        granularity: None,
        time_zone: Some("UTC".into()),
        group_by: vec!["queueId".into(), "mediaType".into()],
        filter: None,
        metrics: vec!["nOffered".into(), "tAbandon".into()],
    };
    let response = match surge {
        Some(surge) => aggregate_with_surge(org, Some(surge), &query),
        None => aggregate(org, &query),
    };
    let mut counts = Vec::new();
    for group in response.unwrap().results {
        let Some(queue) = group.group.get("queueId") else {
            continue; // agent-direct calls
        };
        let name = org
            .queues
            .iter()
            .find(|q| q.id == *queue)
            .unwrap()
            .name
            .clone();
        let data = &group.data[0];
        let count = |metric: &str| {
            let entry = data.metrics.iter().find(|m| m.metric == metric);
            entry.and_then(|m| m.stats.count).unwrap_or(0.0)
        };
        let media = group.group["mediaType"].clone();
        counts.push((name, media, count("nOffered"), count("tAbandon")));
    }
    counts
}

/// The 15-minute bucket the exporter publishes last at `now`: the latest that ended a
/// settle delay ago.
fn latest_bucket(now: Timestamp) -> (Timestamp, Timestamp) {
    let settled = now.as_second() - DEFAULT_SETTLE_DELAY.as_secs() as i64;
    let end = settled - settled.rem_euclid(15 * 60);
    (
        Timestamp::from_second(end - 15 * 60).unwrap(),
        Timestamp::from_second(end).unwrap(),
    )
}

/// An observations query for the voice conversations of every queue of `org`: `metrics`
/// of them, and of the queues' users.
fn voice_observed(org: &SimulatedOrg, metrics: &[&str]) -> ObservationQuery {
    let queues: Vec<serde_json::Value> = org
        .queues
        .iter()
        .map(|q| json!({"type": "dimension", "dimension": "queueId", "value": q.id}))
        .collect();
    ObservationQuery {
        filter: json!({"type": "and",
            "predicates": [{"type": "dimension", "dimension": "mediaType", "value": "voice"}],
            "clauses": [{"type": "or", "predicates": queues}]}),
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        detail_metrics: Vec::new(),
    }
}

/// Voice callers waiting in all the queues of `org` at `now`, as the observations say.
fn voice_waiting(org: &SimulatedOrg, now: Timestamp) -> f64 {
    let answer = observe(org, None, &voice_observed(org, &["oWaiting"]), now).unwrap();
    answer
        .results
        .iter()
        .flat_map(|group| &group.data)
        .filter(|entry| entry.metric == "oWaiting")
        .map(|entry| entry.stats.count.unwrap_or(0.0))
        .sum()
}

#[test]
fn every_demo_queue_has_traffic_and_voice_callers_wait_at_quiet_instants() {
    let demo = the_demo_org();
    for at in QUIET {
        let now = ts(at);
        let (start, end) = latest_bucket(now);
        for queue in &demo.queues {
            let offered: f64 = counts(&demo, None, start, end)
                .iter()
                .filter(|(name, ..)| *name == queue.name)
                .map(|(_, _, offered, _)| offered)
                .sum();
            assert!(
                offered >= 5.0,
                "{at}: {} offered {offered} in {start}/{end}",
                queue.name
            );
        }
        let waiting = voice_waiting(&demo, now);
        assert!(waiting >= 1.0, "{at}: {waiting} voice callers waiting");
        // Without the floor, the simulator's curve is nearly silent then: too few Sales
        // calls in five minutes for the live abandon alert's minimum of 10.
        let five = SignedDuration::from_mins(5);
        let sales_voice = |org: &SimulatedOrg| -> f64 {
            counts(org, None, now - five, now)
                .iter()
                .filter(|(name, media, ..)| name == "Sales" && media == "voice")
                .map(|(_, _, offered, _)| offered)
                .sum()
        };
        assert!(sales_voice(&SimulatedOrg::demo()) < 10.0, "{at}");
        assert!(sales_voice(&demo) >= 10.0, "{at}");
    }
}

/// The simulator's answer to an aggregates query of `org` over `[start, end)` (one
/// entry, as a rolling window or a bucket asked for alone), by `source` ("flows" or
/// "actions"), grouped by `group_by`: each group's `metric` counts, by the group's
/// `group_by` value.
fn source_counts(
    org: &SimulatedOrg,
    source: &str,
    (start, end): (Timestamp, Timestamp),
    group_by: &str,
    metric: &str,
) -> BTreeMap<String, f64> {
    let query = AggregationQuery {
        interval: format!("{}/{}", wire(start), wire(end)),
        granularity: None,
        time_zone: Some("UTC".into()),
        group_by: vec![group_by.into()],
        filter: None,
        metrics: vec![metric.into()],
    };
    let response = match source {
        "flows" => flow_aggregate(org, Surges::default(), &query),
        _ => action_aggregate(org, Surges::default(), &query),
    };
    let mut counts = BTreeMap::new();
    for group in response.unwrap().results {
        let count: f64 = group
            .data
            .iter()
            .flat_map(|entry| &entry.metrics)
            .filter(|m| m.metric == metric)
            .filter_map(|m| m.stats.count)
            .sum();
        let key = group.group.get(group_by).cloned().unwrap_or_default();
        *counts.entry(key).or_default() += count;
    }
    counts
}

/// Conversation errors (`nError`) of `org` in `[start, end)`, all queues together.
fn errors_in(org: &SimulatedOrg, (start, end): (Timestamp, Timestamp)) -> f64 {
    let query = AggregationQuery {
        interval: format!("{}/{}", wire(start), wire(end)),
        granularity: None,
        time_zone: Some("UTC".into()),
        group_by: Vec::new(),
        filter: None,
        metrics: vec!["nError".into()],
    };
    aggregate(org, &query)
        .unwrap()
        .results
        .iter()
        .flat_map(|group| &group.data)
        .flat_map(|entry| &entry.metrics)
        .filter_map(|m| m.stats.count)
        .sum()
}

/// Agents on queue (idle, interacting, communicating, not responding) of `org` at `now`,
/// of the division `division_id` or, with `None`, of the whole org.
fn agents_on_queue(org: &SimulatedOrg, division_id: Option<&str>, now: Timestamp) -> u64 {
    let request = AgentStateCountsRequest {
        user_filter: division_id.map(|id| AgentStateFilter::one("divisionId", id)),
    };
    let group_by = AGENT_STATUS_GROUP_BY.map(String::from);
    let answer = agent_state_counts(org, None, &group_by, &request, now).unwrap();
    answer
        .routing_status_counts
        .unwrap_or_default()
        .iter()
        .filter(|row| {
            ["IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING"]
                .contains(&row.routing_status.as_str())
        })
        .map(|row| row.count)
        .sum()
}

#[test]
fn every_new_source_has_data_at_quiet_instants() {
    let demo = the_demo_org();
    let architect = Architect::of(&demo);
    for at in QUIET {
        let now = ts(at);
        // Agents on queue in the org and in each of its divisions.
        assert!(agents_on_queue(&demo, None, now) > 0, "{at}: the org");
        let divisions: BTreeMap<&str, &str> = demo
            .queues
            .iter()
            .map(|q| (q.division.id.as_str(), q.division.name.as_str()))
            .collect();
        assert_eq!(divisions.len(), 2, "{divisions:?}");
        for (id, name) in divisions {
            let on_queue = agents_on_queue(&demo, Some(id), now);
            assert!(on_queue > 0, "{at}: division {name}");
        }
        // Each flow has entries and outcomes, and each data action executions, in the
        // latest bucket (`flows`, `actions`) and in the ten-minute rolling window
        // (`flows_live`, `actions_live`).
        let windows = [
            ("bucket", latest_bucket(now)),
            ("window", (now - SignedDuration::from_mins(10), now)),
        ];
        for (which, window) in windows {
            for metric in ["nFlow", "nFlowOutcome"] {
                let counts = source_counts(&demo, "flows", window, "flowId", metric);
                for flow in &architect.flows {
                    let count = counts.get(&flow.id).copied().unwrap_or(0.0);
                    assert!(count > 0.0, "{at}: {which}: {} {metric}", flow.name);
                }
            }
            let counts = source_counts(&demo, "actions", window, "actionId", "tTotalExecution");
            for action in &architect.actions {
                let count = counts.get(&action.id).copied().unwrap_or(0.0);
                assert!(count > 0.0, "{at}: {which}: {} executions", action.name);
            }
        }
        // Callers in the Main IVR now.
        let in_flows = in_flows_now(&demo, &architect, Surges::default(), now);
        let main = architect.flows.iter().position(|f| f.name == "Main IVR");
        assert!(in_flows[main.unwrap()] > 0, "{at}: {in_flows:?}");
        // Conversation errors in the latest bucket: at the floor, 2% of hundreds of voice
        // conversations.
        let (start, end) = latest_bucket(now);
        let errors = errors_in(&demo, (start, end));
        assert!(errors > 0.0, "{at}: {errors} errors in {start}/{end}");
    }
}

/// The voice calls of `org` (no surge, no fault) that ended in `window`, as the voice
/// quality counts them: by queue ID ("" for an agent-direct call) and by Edge ID, each
/// with its MOS.
struct EndedCalls {
    by_queue: BTreeMap<String, Vec<f64>>,
    by_edge: BTreeMap<String, Vec<f64>>,
}

fn ended_calls(org: &SimulatedOrg, (start, end): (Timestamp, Timestamp)) -> EndedCalls {
    let (start_ms, end_ms) = (start.as_millisecond(), end.as_millisecond());
    // A call ends at most MAX_CALL_MS after it arrived.
    let arrived_from = Timestamp::from_millisecond(start_ms - MAX_CALL_MS).unwrap();
    let edges = edges(org);
    let mut ended = EndedCalls {
        by_queue: BTreeMap::new(),
        by_edge: BTreeMap::new(),
    };
    for call in voice_calls(org, None, arrived_from, end) {
        if !(start_ms..end_ms).contains(&call.end_ms) {
            continue;
        }
        let mos = call_quality(org, None, &call).mos;
        let queue = call.queue_id.unwrap_or_default().to_owned();
        ended.by_queue.entry(queue).or_default().push(mos);
        let edge = edges[call.edge].id.clone();
        ended.by_edge.entry(edge).or_default().push(mos);
    }
    ended
}

/// The demo's first two voice quality windows from `now`: the first refresh's, and the
/// next one's a refresh later, which reaches back a settle delay before the first's end.
fn first_voice_quality_windows(now: Timestamp) -> [(Timestamp, Timestamp); 2] {
    let window = |now: Timestamp, read_until: Option<Timestamp>| {
        let window = voice_quality_window(
            now,
            read_until,
            DEMO_VOICE_QUALITY_REFRESH,
            DEFAULT_VOICE_QUALITY_SETTLE_DELAY,
        );
        (window.start, window.end)
    };
    let first = window(now, None);
    let refresh = SignedDuration::try_from(DEMO_VOICE_QUALITY_REFRESH).unwrap();
    [first, window(now + refresh, Some(first.1))]
}

#[test]
fn voice_calls_end_in_the_first_voice_quality_windows_on_every_edge_at_quiet_instants() {
    // The named orgs of --demo-orgs as well as the demo's own.
    let orgs = [
        the_demo_org(),
        SimulatedOrg::demo_named("east").with_floor(DEMO_FLOOR),
        SimulatedOrg::demo_named("west").with_floor(DEMO_FLOOR),
    ];
    for org in &orgs {
        let name = org.name.as_deref().unwrap_or("demo");
        let edges = edges(org);
        for at in QUIET {
            let [first, second] = first_voice_quality_windows(ts(at));
            assert!(
                second.0 <= first.0 && first.1 <= second.1,
                "{first:?} {second:?}"
            );
            for (start, end) in [first, second] {
                // Calls from the queues, in each window.
                let ended = ended_calls(org, (start, end));
                let queued: usize = org
                    .queues
                    .iter()
                    .filter_map(|queue| ended.by_queue.get(&queue.id))
                    .map(Vec::len)
                    .sum();
                assert!(queued > 0, "{name} {at}: no queued call in {start}/{end}");
            }
            // On every Edge by the second refresh, whose window holds the first's: a
            // minute at night is too short for every Edge (and for every queue: VIP's
            // calls are few).
            let ended = ended_calls(org, second);
            for edge in &edges {
                let calls = ended.by_edge.get(&edge.id).map_or(0, Vec::len);
                assert!(calls > 0, "{name} {at}: {} in {second:?}", edge.name);
            }
            // Every Edge online, every trunk listed, those in service connected.
            let telephony = Telephony {
                org,
                surge: None,
                edge_offline: None,
                trunk_down: None,
                lab_trunks: 0,
                now: ts(at),
            };
            assert!(edges.iter().all(|edge| telephony.edge_online(edge)));
            let trunks = telephony.trunks();
            assert_eq!(trunks.len(), 4, "{name} {at}");
            for trunk in &trunks {
                let connected = telephony.trunk_connected(trunk, &edges);
                assert_eq!(connected, trunk.in_service, "{name} {at}: {}", trunk.name);
            }
            // Calls on every Edge now, which its trunks carry.
            let calls = telephony.calls_per_edge();
            assert!(
                calls.iter().all(|calls| *calls > 0),
                "{name} {at}: {calls:?}"
            );
        }
    }
}

#[test]
fn the_demo_keeps_the_daily_curve_above_its_floor() {
    // A weekday from 09:00 to 17:00 is as the simulator's curve has it, but for
    // Retention's standing backlog; the night and the weekend are lifted to DEMO_FLOOR of
    // the peak, no further.
    let demo = the_demo_org();
    let plain = SimulatedOrg::demo();
    let total = |org: &SimulatedOrg, start: &str, end: &str| -> f64 {
        counts(org, None, ts(start), ts(end))
            .iter()
            .map(|(_, _, offered, _)| offered)
            .sum()
    };
    let (afternoon, night, sunday) = (
        ("2026-12-03T14:00:00Z", "2026-12-03T15:00:00Z"),
        ("2026-12-03T02:00:00Z", "2026-12-03T03:00:00Z"),
        ("2026-12-06T14:00:00Z", "2026-12-06T15:00:00Z"),
    );
    // Retention's standing backlog: one more voice caller every minute, at any hour.
    assert_eq!(
        total(&demo, afternoon.0, afternoon.1),
        total(&plain, afternoon.0, afternoon.1) + 60.0
    );
    let peak = total(&demo, afternoon.0, afternoon.1);
    for (start, end) in [night, sunday] {
        let (lifted, quiet) = (total(&demo, start, end), total(&plain, start, end));
        assert!(quiet < peak * 0.3, "{start}: {quiet} of {peak}");
        let share = lifted / peak;
        assert!(
            (DEMO_FLOOR - 0.1..DEMO_FLOOR + 0.1).contains(&share),
            "{start}: {share} of the peak hour"
        );
    }
}

#[test]
fn voice_callers_wait_in_the_demo_at_every_instant_of_a_week() {
    // Retention's standing backlog: a caller arrives in every minute slot and waits at
    // least two minutes and the ring, so the one of the minute before is still waiting.
    const { assert!(BACKLOG_WAIT_MS.start >= 2 * 60_000 + ALERT_MS) };
    let demo = the_demo_org();
    let monday = ts("2026-11-30T00:00:00Z");
    // Every minute of a week, each at another second and millisecond of it.
    let week = (0..7 * 24 * 60).map(|i| {
        monday + SignedDuration::from_millis(i * 60_000 + (i * 7) % 60 * 1000 + (i * 337) % 1000)
    });
    let mut instants: Vec<Timestamp> = week.collect();
    instants.extend(QUIET.map(ts));
    let empty: Vec<Timestamp> = instants
        .iter()
        .copied()
        .filter(|now| voice_waiting(&demo, *now) < 1.0)
        .collect();
    assert!(
        empty.is_empty(),
        "no voice caller waits at {} of {} instants, the first {:?}",
        empty.len(),
        instants.len(),
        &empty[..empty.len().min(5)]
    );
}

/// The demo org without Retention's standing backlog: the floor alone.
fn without_backlog(demo: &SimulatedOrg) -> SimulatedOrg {
    let mut org = demo.clone();
    for queue in &mut org.queues {
        queue.profile.understaffed = false;
    }
    org
}

/// Each queue of `org` at `now`, by name: voice callers waiting, how long the oldest of
/// them has (seconds), and the users on queue.
fn voice_queues(org: &SimulatedOrg, now: Timestamp) -> BTreeMap<String, (f64, f64, f64)> {
    let metrics = ["oWaiting", "oLongestWaiting", "oOnQueueUsers"];
    let answer = observe(org, None, &voice_observed(org, &metrics), now).unwrap();
    let mut queues = BTreeMap::new();
    for group in &answer.results {
        let queue = org.queues.iter().find(|q| q.id == group.group["queueId"]);
        let seen: &mut (f64, f64, f64) = queues.entry(queue.unwrap().name.clone()).or_default();
        for entry in &group.data {
            let count = entry.stats.count.unwrap_or(0.0);
            match entry.metric.as_str() {
                "oWaiting" => seen.0 = count,
                "oLongestWaiting" => {
                    let since = entry.stats.calculated_metric_value.unwrap();
                    seen.1 = (now.as_millisecond() as f64 - since) / 1000.0;
                }
                _ => seen.2 += count,
            }
        }
    }
    queues
}

#[test]
fn retentions_standing_backlog_trips_no_alert_of_its_own() {
    // Its callers wait less than the shipped longest-wait threshold for voice.
    let threshold =
        "180 * group by (org, query, queue_id, queue, media_type) (genesys_queue_waiting)";
    assert!(read("deploy/prometheus/recording.rules.yml").contains(threshold));
    const { assert!(BACKLOG_WAIT_MS.end <= 180_000) };
    let demo = the_demo_org();
    let floor_alone = without_backlog(&demo);
    for at in QUIET {
        // Every 15 s (the observations' refresh) of the half hour from a quiet instant:
        // the backlog is there, and it decides neither GenesysQueueLongestWaitHigh
        // (whether a voice call waits over 180 s is as without it) nor
        // GenesysQueueCallersWaitingNoAgentOnQueue (someone is on queue).
        for step in 0..30 * 4 {
            let now = ts(at) + SignedDuration::from_secs(step * 15);
            let (with, without) = (voice_queues(&demo, now), voice_queues(&floor_alone, now));
            assert!(with["Retention"].0 >= 1.0, "{now}: {with:?}");
            for (queue, (waiting, longest, on_queue)) in &with {
                let (_, alone, _) = without[queue];
                assert_eq!(
                    *longest > 180.0,
                    alone > 180.0,
                    "{now} {queue}: {longest} s"
                );
                assert!(
                    *waiting == 0.0 || *on_queue > 0.0,
                    "{now} {queue}: nobody on queue"
                );
            }
        }
        // The aggregates: only Retention's voice calls change, 15 more a bucket, as many
        // abandoned as before or more, so its abandon alerts (which fire by design) fire as
        // without the backlog, and the other queues' alerts see the same numbers.
        let start = ts(at);
        let end = start + SignedDuration::from_mins(15);
        let with = counts(&demo, None, start, end);
        let without = counts(&floor_alone, None, start, end);
        assert_eq!(with.len(), without.len());
        for (w, wo) in with.iter().zip(&without) {
            if (w.0.as_str(), w.1.as_str()) != ("Retention", "voice") {
                assert_eq!(w, wo);
                continue;
            }
            assert_eq!(w.2, wo.2 + 15.0, "{at}: offered");
            assert!(
                w.3 >= wo.3 && wo.3 / wo.2 > 0.2 && w.3 / w.2 > 0.2,
                "{at}: {w:?} {wo:?}"
            );
        }
    }
}

/// The live abandon alert of the shipped rules: its `for`, having checked that it flags
/// more than 20% abandoned of at least 10 offered.
fn live_abandon_for() -> Duration {
    let rules: Yaml = serde_yaml_ng::from_str(&read("deploy/prometheus/alerts.rules.yml")).unwrap();
    let rule = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_sequence().unwrap())
        .find(|rule| rule["alert"].as_str() == Some("GenesysQueueAbandonRateHighLive"))
        .unwrap();
    let expr = rule["expr"].as_str().unwrap();
    assert!(
        expr.contains("abandon:ratio > 0.2") && expr.contains("offered:sum >= 10"),
        "{expr}"
    );
    let text = rule["for"].as_str().unwrap();
    let seconds = text.strip_suffix('s').and_then(|s| s.parse().ok());
    Duration::from_secs(seconds.unwrap_or_else(|| panic!("`for: {text}` in seconds")))
}

/// Prometheus's scrape and rule evaluation intervals in the shipped prometheus.yml.
fn scrape_and_evaluation() -> (Duration, Duration) {
    let config: Yaml = serde_yaml_ng::from_str(&read("deploy/prometheus/prometheus.yml")).unwrap();
    let seconds = |key: &str| {
        let text = config["global"][key].as_str().unwrap();
        Duration::from_secs(text.strip_suffix('s').unwrap().parse().unwrap())
    };
    (seconds("scrape_interval"), seconds("evaluation_interval"))
}

#[test]
fn the_default_surge_pages_within_six_minutes_from_any_minute_of_a_week() {
    // The worst case from a rolling window's end to the alert firing, as the rule's comment
    // works it out: published a settle delay after its end, then scraped, recorded and
    // seen by the alert rule one interval each at worst, then `for`.
    let (scrape, evaluation) = scrape_and_evaluation();
    let latency = DEFAULT_SETTLE_DELAY + scrape + 2 * evaluation + live_abandon_for();
    assert_eq!(latency, Duration::from_secs(90 + 15 + 30 + 30));
    let live = demo_queries()
        .into_iter()
        .find(|q| q.name == "live")
        .unwrap();
    let window = SignedDuration::try_from(live.window.unwrap()).unwrap();
    assert_eq!(window, SignedDuration::from_mins(5));
    assert_eq!(live.refresh, Some(Duration::from_secs(60)));

    let demo = the_demo_org();
    let target = SignedDuration::from_mins(6);
    let latency = SignedDuration::try_from(latency).unwrap();
    let monday = ts("2026-11-30T00:00:00Z");
    let spec: SurgeSpec = "Sales".parse().unwrap();
    // Every 7 minutes and some seconds of a week: each hour and second of the minute.
    for i in 0..7 * 24 * 60 / 7 {
        let start = monday + SignedDuration::from_secs(i * (7 * 60) + (i * 13) % 60);
        let surge = spec.starting(start);
        // The windows the live query reads, whole minutes, that end after the surge started
        // and early enough to page by the target.
        let first_end = Timestamp::from_second((start.as_second() / 60 + 1) * 60).unwrap();
        let windows = (0..)
            .map(|minute| first_end + SignedDuration::from_mins(minute))
            .take_while(|end| *end + latency <= start + target);
        let pages = windows.clone().any(|end| {
            counts(&demo, Some(&surge), end - window, end)
                .iter()
                .filter(|(name, media, ..)| name == "Sales" && media == "voice")
                .any(|(_, _, offered, abandoned)| *offered >= 10.0 && abandoned / offered > 0.2)
        });
        assert!(
            pages,
            "a surge from {start} pages in none of the windows ending {:?}",
            windows.collect::<Vec<_>>()
        );
    }
}

/// Every series of `name` in `samples`, with its labels.
fn series<'a>(
    samples: &'a Samples,
    name: &'a str,
) -> impl Iterator<Item = (&'a std::collections::BTreeMap<String, String>, f64)> + 'a {
    samples
        .iter()
        .filter(move |((n, _), _)| n == name)
        .map(|((_, labels), value)| (labels, *value))
}

/// The `query` labels of everything the demo polls.
const QUERIES: [&str; 11] = [
    "default",
    "live",
    "flows",
    "flows_live",
    "actions",
    "actions_live",
    "observations",
    "agents",
    "flow_observations",
    "voice_quality",
    "telephony",
];

/// The text of the file at `path`, its words each after one space: as prose reads,
/// whatever its lines' breaks.
fn words(path: &str) -> String {
    read(path).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each place's calls, by (ID, name): how many, and how many of them are poor.
type PlaceCalls = BTreeMap<(String, String), (f64, f64)>;

/// The voice quality histograms the demo published against the simulator's calls: the
/// calls counted, by queue and by Edge, with their names, their poor ones and the sum of
/// their MOS, are those of the simulator that ended in the windows the demo read.
fn voice_quality_is_the_simulators(samples: &Samples, demo: &SimulatedOrg) {
    let published = |name: &str| value(samples, name, &[("query", "voice_quality")]);
    assert_eq!(published("genesys_voice_read_ratio"), Some(1.0));
    let at = |name: &str| {
        let seconds = published(name).expect(name);
        Timestamp::from_millisecond((seconds * 1000.0).round() as i64).unwrap()
    };
    let window = (
        at("genesys_interval_start_timestamp_seconds"),
        at("genesys_interval_end_timestamp_seconds"),
    );
    // The calls counted so far are those that ended in the window published: after the
    // first read, its window; after the second, a refresh later, its window, which holds
    // the first's. (The third would reach back less far than the second.)
    let refresh = SignedDuration::try_from(DEMO_VOICE_QUALITY_REFRESH).unwrap();
    let settle = SignedDuration::try_from(DEFAULT_VOICE_QUALITY_SETTLE_DELAY).unwrap();
    let length = window.1.duration_since(window.0);
    assert!(
        length == refresh || length == refresh + settle,
        "not the first two reads: {window:?}"
    );
    let ended = ended_calls(demo, window);
    let poor = |calls: &Vec<f64>| calls.iter().filter(|mos| **mos < 3.5).count() as f64;
    // Every place the directory lists starts at 0, so that `increase()` sees its first
    // calls: those without calls in the window are there, at 0.
    let expected =
        |calls: &BTreeMap<String, Vec<f64>>, listed: Vec<String>, name: &dyn Fn(&str) -> String| {
            let none = Vec::new();
            listed
                .iter()
                .chain(calls.keys())
                .map(|id| {
                    let calls = calls.get(id).unwrap_or(&none);
                    ((id.clone(), name(id)), (calls.len() as f64, poor(calls)))
                })
                .collect::<PlaceCalls>()
        };
    let queue_name = |id: &str| {
        let queue = demo.queues.iter().find(|q| q.id == id);
        queue.map(|q| q.name.clone()).unwrap_or_default()
    };
    let edges = edges(demo);
    let edge_name = |id: &str| edges.iter().find(|e| e.id == id).unwrap().name.to_owned();
    // The published counts of the places labelled `id` and `name`.
    let counted = |id: &str, name: &str| -> PlaceCalls {
        let place = |labels: &BTreeMap<String, String>| {
            Some((labels.get(id)?.clone(), labels[name].clone()))
        };
        let mut counted = PlaceCalls::new();
        for (labels, count) in series(samples, "genesys_voice_mos_count") {
            if let Some(place) = place(labels) {
                counted.entry(place).or_default().0 = count;
            }
        }
        for (labels, poor) in series(samples, "genesys_voice_poor_calls_total") {
            if let Some(place) = place(labels) {
                counted.entry(place).or_default().1 = poor;
            }
        }
        counted
    };
    assert_eq!(
        counted("queue_id", "queue"),
        expected(
            &ended.by_queue,
            demo.queues.iter().map(|q| q.id.clone()).collect(),
            &queue_name
        ),
        "by queue, in {window:?}"
    );
    assert_eq!(
        counted("edge_id", "edge"),
        expected(
            &ended.by_edge,
            edges.iter().map(|e| e.id.clone()).collect(),
            &edge_name
        ),
        "by Edge, in {window:?}"
    );
    let sum_of_mos: f64 = ended.by_edge.values().flatten().sum();
    let published_sum: f64 = series(samples, "genesys_voice_mos_sum")
        .filter(|(labels, _)| labels.contains_key("edge_id"))
        .map(|(_, sum)| sum)
        .sum();
    assert!(
        (published_sum - sum_of_mos).abs() < 1e-6,
        "{published_sum} {sum_of_mos}"
    );
}

/// The Edges and trunks the demo published are the simulator's: every Edge online, with its
/// site and deployment type; every trunk, in service and connected as the simulator has it.
fn telephony_is_the_simulators(samples: &Samples, demo: &SimulatedOrg) {
    let telephony = |name: &'static str| {
        series(samples, name).filter(|(labels, _)| labels["query"] == "telephony")
    };
    let edges = edges(demo);
    let online: BTreeMap<&str, (&str, &str, f64)> = telephony("genesys_edge_online")
        .map(|(l, v)| {
            (
                l["edge_id"].as_str(),
                (l["edge"].as_str(), l["site"].as_str(), v),
            )
        })
        .collect();
    let expected = edges
        .iter()
        .map(|e| (e.id.as_str(), (e.name, e.site, 1.0)))
        .collect();
    assert_eq!(online, expected);
    let deployments: BTreeMap<&str, &str> = telephony("genesys_edge_info")
        .map(|(l, _)| (l["edge_id"].as_str(), l["deployment_type"].as_str()))
        .collect();
    let expected = edges
        .iter()
        .map(|e| (e.id.as_str(), e.deployment))
        .collect();
    assert_eq!(deployments, expected);
    // Whether a trunk is connected does not change with the instant, without a fault.
    let now = Timestamp::now();
    let sim = Telephony {
        org: demo,
        surge: None,
        edge_offline: None,
        trunk_down: None,
        lab_trunks: 0,
        now,
    };
    let state = |name: &'static str| -> BTreeMap<(&str, &str, &str, &str), f64> {
        telephony(name)
            .map(|(l, v)| {
                let label = |key: &str| l[key].as_str();
                let trunk = (
                    label("trunk_id"),
                    label("trunk"),
                    label("edge_id"),
                    label("edge"),
                );
                (trunk, v)
            })
            .collect()
    };
    let trunks = sim.trunks();
    let expected = |of: &dyn Fn(&genesys_sim::SimTrunk) -> bool| {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        trunks
            .iter()
            .map(|t| {
                let edge = &edges[t.edge];
                let trunk = (t.id.as_str(), t.name.as_str(), edge.id.as_str(), edge.name);
                (trunk, flag(of(t)))
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        state("genesys_trunk_in_service"),
        expected(&|t| t.in_service)
    );
    assert_eq!(
        state("genesys_trunk_connected"),
        expected(&|t| sim.trunk_connected(t, &edges))
    );
}

#[tokio::test]
async fn the_demo_binary_at_a_quiet_instant_shows_every_queue_and_fresh_timestamps() {
    // A `--demo-time` in the past: the data is that instant's, the timestamps Prometheus
    // compares with time() are the real clock's.
    let demo_time = QUIET[0];
    let before = Timestamp::now();
    let process = Process::start(&[
        "--demo",
        "--demo-time",
        demo_time,
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = process.metrics_url().await;
    let up = |s: &Samples, query: &str| value(s, "genesys_up", &[("query", query)]) == Some(1.0);
    let samples = wait_for_metrics(&url, |s| {
        QUERIES.iter().all(|query| up(s, query))
            && series(s, "genesys_agents_out_of_office").count() == 12
    })
    .await;
    let after = Timestamp::now();
    let demo = the_demo_org();
    voice_quality_is_the_simulators(&samples, &demo);
    telephony_is_the_simulators(&samples, &demo);
    // The agents, by org, by each of the demo's two divisions (the divisions once the
    // queue list is read), by its three teams and by its six queues.
    let breakdown = |label: &str| -> std::collections::BTreeSet<&str> {
        series(&samples, "genesys_agents_out_of_office")
            .filter_map(|(labels, _)| labels.get(label).map(String::as_str))
            .collect()
    };
    assert_eq!(breakdown("division"), ["Home", "Premium"].into());
    let teams: Vec<String> = (0..3).map(|index| team_id(&demo, index)).collect();
    assert_eq!(
        breakdown("team_id"),
        teams.iter().map(String::as_str).collect()
    );
    let queues = demo.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(breakdown("queue"), queues);
    // Each flow's entries and each data action's executions in the latest bucket, as the
    // simulator counts them; callers in the Main IVR now.
    let bucket = latest_bucket(ts(demo_time));
    let architect = Architect::of(&demo);
    // The sum of `name`'s series of `query` whose labels have all of `with`.
    let published = |name: &str, query: &str, with: &[(&str, &str)]| -> f64 {
        series(&samples, name)
            .filter(|(labels, _)| labels["query"] == query)
            .filter(|(labels, _)| {
                with.iter()
                    .all(|(l, v)| labels.get(*l).map(String::as_str) == Some(v))
            })
            .map(|(_, value)| value)
            .sum()
    };
    let entries = source_counts(&demo, "flows", bucket, "flowId", "nFlow");
    for flow in &architect.flows {
        let published = published("genesys_flow", "flows", &[("flow_id", &flow.id)]);
        assert_eq!(published, entries[&flow.id], "{}", flow.name);
    }
    let executions = source_counts(&demo, "actions", bucket, "actionId", "tTotalExecution");
    for action in &architect.actions {
        let with = [("action_id", action.id.as_str())];
        let published = published("genesys_data_action_executions", "actions", &with);
        assert_eq!(published, executions[&action.id], "{}", action.name);
    }
    let errors = published("genesys_conversation_error", "default", &[]);
    assert_eq!(errors, errors_in(&demo, bucket));
    assert!(errors > 0.0);
    let main_ivr = series(&samples, "genesys_flow_conversations")
        .find(|(labels, _)| labels.get("flow").map(String::as_str) == Some("Main IVR"));
    assert!(
        main_ivr.is_some_and(|(_, value)| value > 0.0),
        "{main_ivr:?}"
    );

    // The live rolling query, a five-minute window.
    assert_eq!(
        value(
            &samples,
            "genesys_query_window_seconds",
            &[("query", "live")]
        ),
        Some(300.0)
    );
    // The latest bucket is the demo time's, and every queue has traffic in it, as the
    // simulator's data says.
    let (start, end) = latest_bucket(ts(demo_time));
    let at = |name: &str| value(&samples, name, &[("query", "default")]);
    assert_eq!(
        at("genesys_interval_start_timestamp_seconds"),
        Some(start.as_second() as f64)
    );
    assert_eq!(
        at("genesys_interval_end_timestamp_seconds"),
        Some(end.as_second() as f64)
    );
    let expected = counts(&demo, None, start, end);
    for queue in &demo.queues {
        let published: f64 = series(&samples, "genesys_conversation_offered")
            .filter(|(labels, _)| {
                labels.get("query").map(String::as_str) == Some("default")
                    && labels.get("queue") == Some(&queue.name)
            })
            .map(|(_, value)| value)
            .sum();
        let simulated: f64 = expected
            .iter()
            .filter(|(name, ..)| *name == queue.name)
            .map(|(_, _, offered, _)| offered)
            .sum();
        assert_eq!(published, simulated, "{}", queue.name);
        assert!(published > 0.0, "{}", queue.name);
    }

    // Every timestamp the shipped rules and dashboards compare with time() is on the real
    // clock, so GenesysDataStale (time() - last success > two windows) cannot fire.
    let last_successes: Vec<f64> = series(&samples, "genesys_last_success_timestamp_seconds")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(last_successes.len(), QUERIES.len());

    // The start-up arithmetic, as docs/agents.md quotes it.
    let agents = "agents (1 org + 10 divisions at most + 3 teams + 6 queues) 40.00";
    let total = "= 55.30 requests a minute of 150 allowed";
    let log = process.log();
    assert!(log.contains(agents) && log.contains(total), "{log}");
    let docs = words("docs/agents.md");
    assert!(docs.contains("(1 + 10 + 3 + 6) × 60 / 30 = 40 requests a minute"));
    // And as docs/flows.md and docs/data-actions.md quote the flows' and actions' lines.
    for line in [
        "query flows (flows, PT15M buckets) 0.07",
        "query flows_live (flows, 10m window, every 1m) 1.00",
        "query actions_live (actions, 10m window, every 1m) 1.00",
        "flow observations (100 flows a request) 2.00",
        "telephony (Edges, trunks and their metrics; up to 100 Edges and 100 trunks) 4.00",
        "voice quality (2000 calls an hour, 100 a page, at most 20 pages) 2.00",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    let flows = read("docs/flows.md");
    assert!(flows.contains("| a flows query of PT15M buckets | 1 a bucket | 0.07 |"));
    assert!(flows.contains("| a rolling flows query refreshed every 1m | 1 a refresh | 1 |"));
    assert!(flows.contains("| the flow observations every 30s | 1 per 100 flows a refresh (the budget's arithmetic counts one, as it does not know the flows) | 2 per 100 flows |"));
    let actions = words("docs/data-actions.md");
    assert!(actions.contains("a rolling query refreshed every 1m 1 (one a refresh)"));
    // And as docs/voice-quality.md and docs/telephony.md work them out.
    let voice = words("docs/voice-quality.md");
    assert!(voice.contains("`--demo` reads every minute"), "{voice}");
    assert!(voice.contains("2,000 / 60 = 33.3 calls, one page and one more, 2 a minute"));
    let telephony = words("docs/telephony.md");
    assert!(telephony.contains("4 × 60 / refresh**, 4 at the default minute"));
    assert!(
        docs.contains("`agents (1 org + 10 divisions at most + 3 teams + 6 queues)`, of 55.30")
    );
    let real = (before.as_second() - 1) as f64..=(after.as_second() + 1) as f64;
    for last_success in last_successes {
        assert!(
            real.contains(&last_success),
            "{last_success} not within {real:?}"
        );
    }
}

#[test]
fn the_rules_compare_with_time_only_timestamps_on_the_real_clock() {
    // What the exporter exports on the real clock, whatever --demo-time says; the
    // interval's bounds are in the data's time, but only their difference may be used.
    const REAL_CLOCK: [&str; 1] = ["genesys_last_success_timestamp_seconds"];
    const DATA_TIME: [&str; 2] = [
        "genesys_interval_start_timestamp_seconds",
        "genesys_interval_end_timestamp_seconds",
    ];
    let mut compared = 0;
    for file in ["alerts.rules.yml", "recording.rules.yml"] {
        let rules: Yaml =
            serde_yaml_ng::from_str(&read(&format!("deploy/prometheus/{file}"))).unwrap();
        for rule in rules["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|group| group["rules"].as_sequence().unwrap())
        {
            let expr = rule["expr"].as_str().unwrap();
            if !expr.contains("time()") {
                continue;
            }
            compared += 1;
            let words = expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
            for word in words.filter(|w| w.ends_with("_timestamp_seconds")) {
                assert!(
                    REAL_CLOCK.contains(&word) || DATA_TIME.contains(&word),
                    "{file}: {word} compared with time() in {expr}"
                );
            }
            if DATA_TIME.iter().any(|name| expr.contains(name)) {
                let difference = format!("{} - {}", DATA_TIME[1], DATA_TIME[0]);
                assert!(expr.contains(&difference), "{file}: {expr}");
            }
        }
    }
    assert_eq!(compared, 1, "GenesysDataStale");
}

#[tokio::test]
async fn a_surge_on_an_unknown_queue_names_the_demo_queues() {
    let names = the_demo_org()
        .queues
        .iter()
        .map(|q| q.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    for flag in ["--demo-surge", "--demo-agents-surge"] {
        let mut process = Process::start(&["--demo", flag, "Salse", "--listen", "127.0.0.1:0"]);
        // exit_of waits for the log to be read to its end, not only for the exit.
        let status = exit_of(&mut process, 512 << 20).await;
        assert_eq!(status.code(), Some(2), "{flag}: {}", process.log());
        assert!(
            process.log().contains(&format!(
                "no queue with the ID or name 'Salse'; the simulated queues are {names}"
            )),
            "{flag}: {}",
            process.log()
        );
    }
}

#[tokio::test]
async fn a_flow_or_action_surge_on_an_unknown_name_names_the_valid_ones() {
    for (flag, name, expected) in [
        (
            "--demo-flow-surge",
            "Main menu",
            "flow surge: no flow with the ID or name 'Main menu'; the simulated ones are Main IVR, Retention IVR, Web Chat",
        ),
        (
            "--demo-action-surge",
            "Lookup",
            "data action surge: no data action with the ID or name 'Lookup'; the simulated ones are Lookup account, Check balance, Create case",
        ),
    ] {
        let mut process = Process::start(&["--demo", flag, name, "--listen", "127.0.0.1:0"]);
        let status = exit_of(&mut process, 512 << 20).await;
        assert_eq!(status.code(), Some(2), "{}", process.log());
        assert!(process.log().contains(expected), "{}", process.log());
    }
}

#[tokio::test]
async fn simulate_logs_the_credentials_it_accepts_and_they_get_a_token() {
    let process = Process::start(&[
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--client-id",
        "sim-id",
        "--client-secret",
        "sim-secret",
    ]);
    let log = process
        .wait_for_log("it accepts these client credentials")
        .await;
    let line = log
        .lines()
        .find(|line| line.contains("it accepts these client credentials"))
        .unwrap();
    let field = |name: &str| {
        let rest = line.split(&format!("{name}=")).nth(1).unwrap();
        rest.split_whitespace().next().unwrap().to_owned()
    };
    let (address, id, secret) = (field("address"), field("client_id"), field("client_secret"));
    assert_eq!((id.as_str(), secret.as_str()), ("sim-id", "sim-secret"));
    let response = reqwest::Client::new()
        .post(format!("http://{address}{}", genesys_wire::TOKEN_PATH))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn simulate_help_lists_every_endpoint_the_simulator_serves() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesys-exporter"))
        .args(["simulate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{help}");
    assert_eq!(genesys_sim::ENDPOINTS.len(), 22);
    for endpoint in &genesys_sim::ENDPOINTS {
        assert!(
            help.contains(endpoint.path),
            "{} missing:\n{help}",
            endpoint.path
        );
        assert!(
            help.contains(endpoint.what),
            "{} missing:\n{help}",
            endpoint.what
        );
    }
}

/// Where a `simulate` process listens, from the line that logs its credentials.
async fn simulate_address(process: &Process) -> String {
    let log = process
        .wait_for_log("it accepts these client credentials")
        .await;
    let rest = log.split("address=").nth(1).unwrap();
    rest.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn simulate_at_a_fixed_time_with_the_floor_serves_an_exporter_on_the_same_time() {
    // The capacity benchmark's pair (benches/orgs.sh): a simulator run apart, its clock
    // and the exporter's `--demo-time` at the same quiet instant, where only the demo's
    // floor gives every queue traffic.
    let demo_time = QUIET[0];
    let simulator = Process::start(&[
        "simulate",
        "--org",
        "east",
        "--demo-floor",
        "--time",
        demo_time,
        "--listen",
        "127.0.0.1:0",
        "--client-id",
        "east-client",
        "--client-secret",
        "east-secret",
    ]);
    let api = format!("http://{}", simulate_address(&simulator).await);
    let dir = temp_dir();
    let config = write_file(
        &dir,
        "genesys.toml",
        &format!(
            "[[orgs]]\nname = \"east\"\nclient_id = \"east-client\"\n\
             client_secret = \"east-secret\"\napi_url = \"{api}\"\nlogin_url = \"{api}\"\n\n\
             [observations]\nenabled = false\n\n\
             [[queries]]\nname = \"default\"\nmetrics = [\"nOffered\"]\n"
        ),
    );
    let exporter = Process::start(&[
        "--config",
        config.to_str().unwrap(),
        "--demo-time",
        demo_time,
        "--listen",
        "127.0.0.1:0",
    ]);
    let url = exporter.metrics_url().await;
    let default = [("org", "east"), ("query", "default")];
    let samples = wait_for_metrics(&url, |s| value(s, "genesys_up", &default) == Some(1.0)).await;
    let (start, end) = latest_bucket(ts(demo_time));
    assert_eq!(
        value(&samples, "genesys_interval_end_timestamp_seconds", &default),
        Some(end.as_second() as f64)
    );
    let east = SimulatedOrg::demo_named("east");
    let floored = counts(&east.clone().with_floor(DEMO_FLOOR), None, start, end);
    let bare = counts(&east, None, start, end);
    for queue in &east.queues {
        let of = |counts: &[(String, String, f64, f64)]| -> f64 {
            counts
                .iter()
                .filter(|(name, ..)| *name == queue.name)
                .map(|(_, _, offered, _)| offered)
                .sum()
        };
        let published: f64 = series(&samples, "genesys_conversation_offered")
            .filter(|(labels, _)| labels.get("queue") == Some(&queue.name))
            .map(|(_, value)| value)
            .sum();
        assert_eq!(published, of(&floored), "{}", queue.name);
        assert!(published > of(&bare), "{}: the floor lifts it", queue.name);
    }
}

#[tokio::test]
async fn demo_time_without_demo_is_refused_for_an_org_not_on_this_machine() {
    let config = "[[orgs]]\nname = \"prod\"\nclient_id = \"id\"\nclient_secret = \"s\"\n\
                  region = \"eu-west-1\"\n";
    let args = ["--demo-time", QUIET[0], "--listen", "127.0.0.1:0"];
    let (status, log) = exit_on_config(config, &args).await;
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains(
            "--demo-time without --demo is for simulators on this machine \
             (genesys-exporter simulate --time), but org prod is served at \
             https://api.mypurecloud.ie; point api_url and login_url at 127.0.0.1, \
             add --demo, or drop --demo-time"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn seven_demo_orgs_start_counting_their_agents_by_org_and_division() {
    // Listing seven orgs' teams and queues would cost each org 37.30 + 18 × 7 = 163.30
    // requests a minute, past the 150 allowed: the demo would refuse to start. By org and
    // division, each org's line is (1 + 10) × 60 / 30 = 22, and 37.30 in all.
    let orgs: Vec<String> = (1..=7).map(|n| format!("org-{n}")).collect();
    let process = Process::start(&[
        "--demo",
        "--demo-time",
        QUIET[0],
        "--demo-orgs",
        &orgs.join(","),
        "--listen",
        "127.0.0.1:0",
    ]);
    for org in &orgs {
        process
            .wait_for_log(&format!(
                "org={org} requests_per_minute=37.30 allowed=150 queues=6"
            ))
            .await;
    }
    let log = process.log();
    assert!(
        log.contains("agents (1 org + 10 divisions at most) 22.00"),
        "{log}"
    );
    assert!(!log.contains("exceeded"), "{log}");
}
