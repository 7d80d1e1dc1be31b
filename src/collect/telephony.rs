//! The telephony: every `refresh`, the Edges list (every page), their metrics (by
//! `edgeIds`, 100 a request), the trunks list (every page) and their metrics (by
//! `trunkIds`, 100 a request), published whole under `query="telephony"` as the
//! `genesys_edge_*` and `genesys_trunk_*` gauges, served until 3 × `refresh` after the
//! last success.
//!
//! Each of the four parts stands alone: one that fails (a 403, a 5xx, an answer that
//! cannot be read) leaves the others publishing, and its own gauges are left out of that
//! refresh, warned once per run of failures. When both lists fail, the refresh fails: its
//! timing and 403 are then those of every collection of the present ([`Present`]):
//! without `telephony:plugin:all` it warns once, `genesys_up{query="telephony"}` is 0, and
//! it asks again every hour; no other source waits on it.
//!
//! An absent field is no series, never a 0: an Edge without `onlineStatus` has no
//! `genesys_edge_online`, a cloud media Edge without processors no CPU gauge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::present::{Present, Subject};
use super::{Collector, Outcome, Readiness, too_many_series};
use crate::budget::Cost;
use crate::config::TELEPHONY_QUERY;
use crate::error::{Error, Result};
use crate::exposition::{GaugeSet, QuerySamples, TooManySeries};
use crate::genesys::client::Client;
use crate::genesys::paged::{List, read_entities};
use genesys_wire::telephony::{Edge, EdgeMetrics, EntityRef, TOTAL_CPU, Trunk, TrunkMetrics};
use genesys_wire::time::{Clock, Interval};
use genesys_wire::{EDGES_PATH, Endpoint, MAX_EDGE_IDS, MAX_TRUNK_IDS, TRUNKS_PATH};

/// Every gauge: its name and help.
pub const TELEPHONY_GAUGES: [(&str, &str); 15] = [
    (
        EDGE_ONLINE,
        "Genesys Cloud Edge onlineStatus: 1 ONLINE, 0 OFFLINE",
    ),
    (
        EDGE_INFO,
        "Genesys Cloud Edge: its statusCode and edgeDeploymentType, always 1",
    ),
    (
        EDGE_CPU,
        "Genesys Cloud Edge metrics: the total processor's activeTimePct / 100",
    ),
    (
        EDGE_MEMORY,
        "Genesys Cloud Edge metrics: availableBytes / totalBytes of each memory type",
    ),
    (
        EDGE_DISK,
        "Genesys Cloud Edge metrics: availableBytes / totalBytes of each disk partition",
    ),
    (
        EDGE_NETWORK,
        "Genesys Cloud Edge metrics: utilizationPct / 100 of each network interface",
    ),
    (EDGE_UPTIME, "Genesys Cloud Edge metrics: upTimeMsec / 1000"),
    (
        TRUNK_IN_SERVICE,
        "Genesys Cloud trunk inService (its trunk base is enabled): 1 or 0",
    ),
    (
        TRUNK_ENABLED,
        "Genesys Cloud trunk enabled (its Edge is in service): 1 or 0",
    ),
    (
        TRUNK_CONNECTED,
        "Genesys Cloud trunk connectedStatus.connected: 1 or 0",
    ),
    (
        TRUNK_OPTIONS_OK,
        "Genesys Cloud trunk optionsStatus: the last SIP OPTIONS to the proxy answered, 1 or 0",
    ),
    (
        TRUNK_REGISTERED,
        "Genesys Cloud trunk registersStatus: the last SIP REGISTER with the proxy answered, 1 or 0",
    ),
    (
        TRUNK_INBOUND,
        "Genesys Cloud trunk metrics: inboundCallCount, the inbound calls on the trunk",
    ),
    (
        TRUNK_OUTBOUND,
        "Genesys Cloud trunk metrics: outboundCallCount, the outbound calls on the trunk",
    ),
    (
        TRUNK_QOS_MISMATCHES,
        "Genesys Cloud trunk metrics: QoS mismatches over the last 24 hours (sliding)",
    ),
];

pub const EDGE_ONLINE: &str = "genesys_edge_online";
pub const EDGE_INFO: &str = "genesys_edge_info";
pub const EDGE_CPU: &str = "genesys_edge_cpu_active_ratio";
pub const EDGE_MEMORY: &str = "genesys_edge_memory_available_ratio";
pub const EDGE_DISK: &str = "genesys_edge_disk_available_ratio";
pub const EDGE_NETWORK: &str = "genesys_edge_network_utilization_ratio";
pub const EDGE_UPTIME: &str = "genesys_edge_uptime_seconds";
pub const TRUNK_IN_SERVICE: &str = "genesys_trunk_in_service";
pub const TRUNK_ENABLED: &str = "genesys_trunk_enabled";
pub const TRUNK_CONNECTED: &str = "genesys_trunk_connected";
pub const TRUNK_OPTIONS_OK: &str = "genesys_trunk_options_ok";
pub const TRUNK_REGISTERED: &str = "genesys_trunk_registered";
pub const TRUNK_INBOUND: &str = "genesys_trunk_inbound_calls";
pub const TRUNK_OUTBOUND: &str = "genesys_trunk_outbound_calls";
pub const TRUNK_QOS_MISMATCHES: &str = "genesys_trunk_qos_mismatches";

/// What the telephony is called in the log.
const TELEPHONY: Subject = Subject {
    what: "Edges and trunks",
    one: "telephony read",
    forbidden: "read the Edges and trunks",
    query: TELEPHONY_QUERY,
    endpoint: Endpoint::Edges,
};

/// The four parts of a refresh, in the order they are read.
const PARTS: [Endpoint; 4] = [
    Endpoint::Edges,
    Endpoint::EdgeMetrics,
    Endpoint::Trunks,
    Endpoint::TrunkMetrics,
];

/// The org's Edges and trunks, read every refresh.
#[derive(Clone)]
pub struct Telephony {
    refresh: Duration,
    client: Arc<Client>,
    /// The most pages of each list one refresh reads (`max_queue_pages`).
    max_pages: u32,
    present: Present,
    /// Which parts failed at the last refresh, so that a run of failures is warned once.
    failing: Arc<Mutex<[bool; 4]>>,
}

impl Telephony {
    pub fn new(refresh: Duration, client: Arc<Client>, max_pages: u32, clock: Clock) -> Telephony {
        // The budget never stretches this refresh: a channel whose sender is gone.
        let fixed = watch::channel(None).1;
        Telephony {
            refresh,
            client,
            max_pages,
            present: Present::new(TELEPHONY, refresh, fixed, clock),
            failing: Arc::default(),
        }
    }

    /// Notes how `part` went: a failure is warned at the first of a run, a recovery told.
    fn note(&self, part: Endpoint, outcome: std::result::Result<(), &Error>) {
        let index = PARTS.iter().position(|p| *p == part).unwrap_or(0);
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        let was = std::mem::replace(&mut failing[index], outcome.is_err());
        match outcome {
            Err(error) if !was => tracing::warn!(
                %error,
                part = part.as_str(),
                "telephony: reading the {} failed; its gauges are left out until it succeeds, the others published, and it is asked again every refresh",
                part.as_str()
            ),
            Err(error) => tracing::debug!(%error, part = part.as_str(), "telephony: failed again"),
            Ok(()) if was => tracing::info!(part = part.as_str(), "telephony: read again"),
            Ok(()) => {}
        }
    }

    /// Every entity of the list at `path`.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &'static str,
    ) -> Result<Vec<T>> {
        let list = List {
            endpoint,
            path,
            filters: Vec::new(),
        };
        read_entities(&self.client, &list, self.max_pages).await
    }
}

impl Collector for Telephony {
    fn name(&self) -> &str {
        TELEPHONY_QUERY
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Edges
    }

    fn cost(&self) -> Cost {
        Cost::telephony(self.refresh)
    }

    fn readiness(&self) -> Readiness {
        Readiness::DoesNotWait
    }

    fn max_age(&self) -> Duration {
        self.present.max_age()
    }

    async fn next(
        &mut self,
        last: Option<&Outcome>,
        shutdown: &CancellationToken,
    ) -> Option<Interval> {
        self.present.next(last, shutdown).await
    }

    async fn collect(&mut self, _: Interval, max_series: usize) -> Result<QuerySamples> {
        let mut gauges = GaugeSet::new(TELEPHONY_QUERY, Vec::new(), max_series);
        let too_many = |_: TooManySeries| too_many_series(TELEPHONY_QUERY, max_series);
        let edges = self.list::<Edge>(Endpoint::Edges, EDGES_PATH).await;
        let trunks = self.list::<Trunk>(Endpoint::Trunks, TRUNKS_PATH).await;
        // Both lists failing is the refresh failing: a 403 then waits an hour.
        let (edges, trunks) = match (edges, trunks) {
            (Err(error), Err(_)) => return Err(error),
            (edges, trunks) => (edges, trunks),
        };
        self.note(Endpoint::Edges, edges.as_ref().map(|_| ()));
        self.note(Endpoint::Trunks, trunks.as_ref().map(|_| ()));
        let edges = listed_once(edges.unwrap_or_default(), |e| &e.id);
        let trunks = listed_once(trunks.unwrap_or_default(), |t| &t.id);
        let known = EdgeNames::of(&edges);
        for edge in &edges {
            add_edge(&mut gauges, edge).map_err(too_many)?;
        }
        let ids: Vec<String> = edges.iter().map(|e| e.id.clone()).collect();
        let metrics = read_metrics(&ids, MAX_EDGE_IDS, |chunk| self.client.edge_metrics(chunk));
        let metrics = metrics.await;
        self.note(Endpoint::EdgeMetrics, metrics.as_ref().map(|_| ()));
        for entry in metrics.unwrap_or_default() {
            add_edge_metrics(&mut gauges, &entry, &known).map_err(too_many)?;
        }

        let mut trunk_labels = HashMap::new();
        for trunk in &trunks {
            if let Some(labels) = add_trunk(&mut gauges, trunk, &known).map_err(too_many)? {
                trunk_labels.insert(trunk.id.clone(), labels);
            }
        }
        let ids: Vec<String> = trunks.iter().map(|t| t.id.clone()).collect();
        let metrics = read_metrics(&ids, MAX_TRUNK_IDS, |chunk| {
            self.client.trunk_metrics(chunk)
        });
        let metrics = metrics.await;
        self.note(Endpoint::TrunkMetrics, metrics.as_ref().map(|_| ()));
        for entry in metrics.unwrap_or_default() {
            add_trunk_metrics(&mut gauges, &entry, &trunk_labels).map_err(too_many)?;
        }
        Ok(gauges.finish())
    }
}

/// `entities` with an ID, each ID once (the first listed): a list read page by page can
/// show one twice when it shifts, and an ID asked twice, or an empty one, is no use.
fn listed_once<T>(entities: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    entities
        .into_iter()
        .filter(|entity| {
            let id = id(entity);
            !id.is_empty() && seen.insert(id.to_owned())
        })
        .collect()
}

/// The metrics of `ids`, `max` a request; nothing to ask, no request.
async fn read_metrics<'a, T, F>(
    ids: &'a [String],
    max: usize,
    ask: impl Fn(&'a [String]) -> F,
) -> Result<Vec<T>>
where
    F: std::future::Future<Output = Result<Vec<T>>>,
{
    let mut all = Vec::new();
    for chunk in ids.chunks(max.max(1)) {
        all.extend(ask(chunk).await?);
    }
    Ok(all)
}

/// The Edges' names by ID, from the Edges list: the metrics are those of the Edges it
/// holds, and the trunks name their Edge by it (falling back on the name their own
/// reference gives).
struct EdgeNames<'a>(HashMap<&'a str, &'a str>);

impl<'a> EdgeNames<'a> {
    fn of(edges: &'a [Edge]) -> EdgeNames<'a> {
        EdgeNames(
            edges
                .iter()
                .map(|e| (e.id.as_str(), e.name.as_str()))
                .collect(),
        )
    }

    /// `reference`'s ID and name: the list's name, else its own, else "".
    fn labels(&self, reference: Option<&EntityRef>) -> (String, String) {
        let Some(reference) = reference else {
            return (String::new(), String::new());
        };
        let name = self
            .0
            .get(reference.id.as_str())
            .copied()
            .or(reference.name.as_deref())
            .unwrap_or_default();
        (reference.id.clone(), name.to_owned())
    }
}

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn help(gauge: &str) -> &'static str {
    TELEPHONY_GAUGES
        .iter()
        .find(|(name, _)| *name == gauge)
        .map(|(_, help)| *help)
        .unwrap_or_default()
}

fn one_or_zero(flag: bool) -> f64 {
    if flag { 1.0 } else { 0.0 }
}

/// `available / total`, when both are there and `total` is positive.
fn ratio(available: Option<f64>, total: Option<f64>) -> Option<f64> {
    let (available, total) = (available?, total?);
    (total > 0.0 && available >= 0.0).then(|| available / total)
}

fn add(
    gauges: &mut GaugeSet,
    name: &str,
    labels: Labels,
    value: Option<f64>,
) -> std::result::Result<(), TooManySeries> {
    match value {
        Some(value) => gauges.add(name, help(name), labels, value),
        None => Ok(()),
    }
}

/// An Edge's `online` and `info` gauges; one without an ID has none.
fn add_edge(gauges: &mut GaugeSet, edge: &Edge) -> std::result::Result<(), TooManySeries> {
    if edge.id.is_empty() {
        return Ok(());
    }
    let site = edge
        .site
        .as_ref()
        .and_then(|s| s.name.as_deref())
        .unwrap_or_default();
    let base = [
        ("edge_id", edge.id.as_str()),
        ("edge", edge.name.as_str()),
        ("site", site),
    ];
    let online = match edge.online_status.as_deref() {
        Some("ONLINE") => Some(1.0),
        Some("OFFLINE") => Some(0.0),
        _ => None,
    };
    add(gauges, EDGE_ONLINE, labels(&base), online)?;
    let mut info = base.to_vec();
    info.push((
        "status_code",
        edge.status_code.as_deref().unwrap_or_default(),
    ));
    info.push((
        "deployment_type",
        edge.edge_deployment_type.as_deref().unwrap_or_default(),
    ));
    add(gauges, EDGE_INFO, labels(&info), Some(1.0))
}

/// An Edge's metrics entry: the total CPU, each memory type, disk partition and network
/// interface, and the uptime, each where the entry gives it; an entry of an Edge not
/// listed is left out.
fn add_edge_metrics(
    gauges: &mut GaugeSet,
    entry: &EdgeMetrics,
    known: &EdgeNames,
) -> std::result::Result<(), TooManySeries> {
    // Only the Edges listed: an entry of another is not one of the org's Edges now.
    let Some((id, name)) = entry
        .edge
        .as_ref()
        .and_then(|edge| known.0.get_key_value(edge.id.as_str()))
    else {
        return Ok(());
    };
    let base = [("edge_id", *id), ("edge", *name)];
    let with = |key: &str, value: &str| {
        let mut pairs = base.to_vec();
        pairs.push((key, value));
        labels(&pairs)
    };
    let cpu = entry
        .processors
        .iter()
        .find(|p| p.cpu_id == TOTAL_CPU)
        .and_then(|p| p.active_time_pct);
    add(gauges, EDGE_CPU, labels(&base), cpu.map(|pct| pct / 100.0))?;
    for memory in &entry.memory {
        let value = ratio(memory.available_bytes, memory.total_bytes);
        add(gauges, EDGE_MEMORY, with("type", &memory.kind), value)?;
    }
    for disk in &entry.disks {
        let value = ratio(disk.available_bytes, disk.total_bytes);
        add(
            gauges,
            EDGE_DISK,
            with("partition", &disk.partition_name),
            value,
        )?;
    }
    for network in &entry.networks {
        let value = network.utilization_pct.map(|pct| pct / 100.0);
        add(
            gauges,
            EDGE_NETWORK,
            with("interface", &network.ifname),
            value,
        )?;
    }
    let uptime = entry.up_time_msec.filter(|ms| *ms >= 0);
    add(
        gauges,
        EDGE_UPTIME,
        labels(&base),
        uptime.map(|ms| ms as f64 / 1000.0),
    )
}

/// A trunk's state gauges and one per proxy; its labels `{trunk_id, trunk, edge_id,
/// edge}` for its metrics. One without an ID has none.
fn add_trunk(
    gauges: &mut GaugeSet,
    trunk: &Trunk,
    known: &EdgeNames,
) -> std::result::Result<Option<Labels>, TooManySeries> {
    if trunk.id.is_empty() {
        return Ok(None);
    }
    let (edge_id, edge) = known.labels(trunk.edge.as_ref());
    let kind = trunk.trunk_type.as_deref().unwrap_or_default();
    let state = labels(&[
        ("trunk_id", &trunk.id),
        ("trunk", &trunk.name),
        ("trunk_type", kind),
        ("edge_id", &edge_id),
        ("edge", &edge),
    ]);
    let flag = |value: Option<bool>| value.map(one_or_zero);
    add(
        gauges,
        TRUNK_IN_SERVICE,
        state.clone(),
        flag(trunk.in_service),
    )?;
    add(gauges, TRUNK_ENABLED, state.clone(), flag(trunk.enabled))?;
    let connected = trunk.connected_status.as_ref().and_then(|s| s.connected);
    add(gauges, TRUNK_CONNECTED, state, flag(connected))?;
    let base = labels(&[
        ("trunk_id", &trunk.id),
        ("trunk", &trunk.name),
        ("edge_id", &edge_id),
        ("edge", &edge),
    ]);
    let with_proxy = |proxy: &str| {
        let mut labels = base.clone();
        labels.push(("proxy".to_owned(), proxy.to_owned()));
        labels
    };
    for options in &trunk.options_status {
        let labels = with_proxy(&options.proxy_address);
        add(gauges, TRUNK_OPTIONS_OK, labels, flag(options.option_state))?;
    }
    for registers in &trunk.registers_status {
        let labels = with_proxy(&registers.proxy_address);
        add(
            gauges,
            TRUNK_REGISTERED,
            labels,
            flag(registers.register_state),
        )?;
    }
    Ok(Some(base))
}

/// A trunk's metrics entry, under the labels of the trunk it names; an entry of a trunk
/// not listed, or a negative count, is left out.
fn add_trunk_metrics(
    gauges: &mut GaugeSet,
    entry: &TrunkMetrics,
    trunks: &HashMap<String, Labels>,
) -> std::result::Result<(), TooManySeries> {
    let Some(labels) = entry.trunk.as_ref().and_then(|t| trunks.get(&t.id)) else {
        return Ok(());
    };
    let count = |value: Option<i64>| value.filter(|n| *n >= 0).map(|n| n as f64);
    let calls = entry.calls.as_ref();
    let inbound = calls.and_then(|c| count(c.inbound_call_count));
    let outbound = calls.and_then(|c| count(c.outbound_call_count));
    let mismatches = entry.qos.as_ref().and_then(|q| count(q.mismatch_count));
    add(gauges, TRUNK_INBOUND, labels.clone(), inbound)?;
    add(gauges, TRUNK_OUTBOUND, labels.clone(), outbound)?;
    add(gauges, TRUNK_QOS_MISMATCHES, labels.clone(), mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::fixtures::render;

    fn rendered(build: impl FnOnce(&mut GaugeSet)) -> String {
        let mut gauges = GaugeSet::new(TELEPHONY_QUERY, Vec::new(), 100);
        build(&mut gauges);
        render(gauges.finish())
    }

    fn series(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn an_edge_is_online_offline_or_neither_and_always_has_its_info() {
        let edges: Vec<Edge> = serde_json::from_str(
            r#"[{"id": "e1", "name": "HQ", "onlineStatus": "ONLINE", "statusCode": "ACTIVE",
                 "edgeDeploymentType": "HARDWARE", "site": {"id": "s1", "name": "Main"}},
                {"id": "e2", "name": "Cloud", "onlineStatus": "OFFLINE", "site": null},
                {"id": "e3", "onlineStatus": "REBOOTING", "edgeDeploymentType": "NEW_KIND"},
                {"name": "no ID", "onlineStatus": "ONLINE"}]"#,
        )
        .unwrap();
        let text = rendered(|gauges| {
            for edge in &edges {
                add_edge(gauges, edge).unwrap();
            }
        });
        let q = "query=\"telephony\"";
        assert_eq!(
            series(&text),
            [
                format!(
                    "genesys_edge_info{{{q},edge_id=\"e1\",edge=\"HQ\",site=\"Main\",status_code=\"ACTIVE\",deployment_type=\"HARDWARE\"}} 1.0"
                ),
                format!(
                    "genesys_edge_info{{{q},edge_id=\"e2\",edge=\"Cloud\",site=\"\",status_code=\"\",deployment_type=\"\"}} 1.0"
                ),
                format!(
                    "genesys_edge_info{{{q},edge_id=\"e3\",edge=\"\",site=\"\",status_code=\"\",deployment_type=\"NEW_KIND\"}} 1.0"
                ),
                format!("genesys_edge_online{{{q},edge_id=\"e1\",edge=\"HQ\",site=\"Main\"}} 1.0"),
                format!("genesys_edge_online{{{q},edge_id=\"e2\",edge=\"Cloud\",site=\"\"}} 0.0"),
            ]
        );
    }

    #[test]
    fn edge_metrics_are_ratios_and_what_is_absent_is_no_series() {
        let edges: Vec<Edge> = serde_json::from_str(r#"[{"id": "e1", "name": "HQ"}]"#).unwrap();
        let entries: Vec<EdgeMetrics> = serde_json::from_str(
            r#"[{"edge": {"id": "e1", "name": "stale name"}, "upTimeMsec": 90500,
                 "processors": [{"cpuId": "0", "activeTimePct": 90}, {"cpuId": "total", "activeTimePct": 12.5}],
                 "memory": [{"type": "Physical", "totalBytes": 200, "availableBytes": 50},
                            {"type": "Virtual", "totalBytes": 0, "availableBytes": 5},
                            {"type": "Swap", "availableBytes": 5}],
                 "disks": [{"partitionName": "C:\\", "totalBytes": 1000, "availableBytes": 250}],
                 "networks": [{"ifname": "eth0", "utilizationPct": 1.5}, {"ifname": "eth1"}]},
                {"edge": {"id": "e9", "name": "Unlisted"}, "upTimeMsec": 5000,
                 "processors": [{"cpuId": "total", "activeTimePct": 40}]},
                {"edge": {"id": "e1"}, "upTimeMsec": -5},
                {"upTimeMsec": 1000}]"#,
        )
        .unwrap();
        let known = EdgeNames::of(&edges);
        let text = rendered(|gauges| {
            for entry in &entries {
                add_edge_metrics(gauges, entry, &known).unwrap();
            }
        });
        let q = "query=\"telephony\"";
        assert_eq!(
            series(&text),
            [
                format!("genesys_edge_cpu_active_ratio{{{q},edge_id=\"e1\",edge=\"HQ\"}} 0.125"),
                format!(
                    "genesys_edge_disk_available_ratio{{{q},edge_id=\"e1\",edge=\"HQ\",partition=\"C:\\\\\"}} 0.25"
                ),
                format!(
                    "genesys_edge_memory_available_ratio{{{q},edge_id=\"e1\",edge=\"HQ\",type=\"Physical\"}} 0.25"
                ),
                format!(
                    "genesys_edge_network_utilization_ratio{{{q},edge_id=\"e1\",edge=\"HQ\",interface=\"eth0\"}} 0.015"
                ),
                format!("genesys_edge_uptime_seconds{{{q},edge_id=\"e1\",edge=\"HQ\"}} 90.5"),
            ],
            "no total CPU, a zero total, a negative uptime, an entry of an Edge not listed or without one: no series"
        );
    }

    #[test]
    fn trunks_have_state_per_proxy_gauges_and_their_metrics() {
        let edges: Vec<Edge> = serde_json::from_str(r#"[{"id": "e1", "name": "HQ"}]"#).unwrap();
        let trunks: Vec<Trunk> = serde_json::from_str(
            r#"[{"id": "t1", "name": "Carrier", "trunkType": "EXTERNAL", "edge": {"id": "e1"},
                 "inService": true, "enabled": true, "connectedStatus": {"connected": false},
                 "optionsStatus": [{"proxyAddress": "p1:5060", "optionState": false},
                                   {"proxyAddress": "p2:5060"}],
                 "registersStatus": [{"proxyAddress": "p1:5060", "registerState": true}]},
                {"id": "t2", "name": "Bare", "edge": {"id": "e7", "name": "Elsewhere"}}]"#,
        )
        .unwrap();
        let entries: Vec<TrunkMetrics> = serde_json::from_str(
            r#"[{"trunk": {"id": "t1"}, "calls": {"inboundCallCount": 14, "outboundCallCount": -1},
                 "qos": {"mismatchCount": 2}},
                {"trunk": {"id": "t9"}, "calls": {"inboundCallCount": 99}},
                {"trunk": {"id": "t2"}}]"#,
        )
        .unwrap();
        let known = EdgeNames::of(&edges);
        let text = rendered(|gauges| {
            let mut listed = HashMap::new();
            for trunk in &trunks {
                let labels = add_trunk(gauges, trunk, &known).unwrap().unwrap();
                listed.insert(trunk.id.clone(), labels);
            }
            for entry in &entries {
                add_trunk_metrics(gauges, entry, &listed).unwrap();
            }
        });
        let q = "query=\"telephony\"";
        let t1 = "trunk_id=\"t1\",trunk=\"Carrier\"";
        let on_hq = "edge_id=\"e1\",edge=\"HQ\"";
        assert_eq!(
            series(&text),
            [
                format!("genesys_trunk_connected{{{q},{t1},trunk_type=\"EXTERNAL\",{on_hq}}} 0.0"),
                format!("genesys_trunk_enabled{{{q},{t1},trunk_type=\"EXTERNAL\",{on_hq}}} 1.0"),
                format!("genesys_trunk_in_service{{{q},{t1},trunk_type=\"EXTERNAL\",{on_hq}}} 1.0"),
                format!("genesys_trunk_inbound_calls{{{q},{t1},{on_hq}}} 14.0"),
                format!("genesys_trunk_options_ok{{{q},{t1},{on_hq},proxy=\"p1:5060\"}} 0.0"),
                format!("genesys_trunk_qos_mismatches{{{q},{t1},{on_hq}}} 2.0"),
                format!("genesys_trunk_registered{{{q},{t1},{on_hq},proxy=\"p1:5060\"}} 1.0"),
            ],
            "a trunk with no state has none; a proxy without a state, a negative count and a trunk not listed neither"
        );
    }

    #[test]
    fn an_entity_listed_twice_or_without_an_id_is_read_once_or_not_at_all() {
        let edges: Vec<Edge> = serde_json::from_str(
            r#"[{"id": "e1", "name": "HQ"}, {"id": ""}, {"name": "no ID"},
                {"id": "e2"}, {"id": "e1", "name": "HQ, shifted"}]"#,
        )
        .unwrap();
        let once = listed_once(edges, |e| &e.id);
        let read: Vec<(&str, &str)> = once
            .iter()
            .map(|e| (e.id.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(read, [("e1", "HQ"), ("e2", "")]);
    }

    #[test]
    fn past_the_series_bound_the_refresh_is_refused() {
        let edges: Vec<Edge> = (0..3)
            .map(|n| Edge {
                id: format!("e{n}"),
                online_status: Some("ONLINE".into()),
                ..Edge::default()
            })
            .collect();
        let mut gauges = GaugeSet::new(TELEPHONY_QUERY, Vec::new(), 5);
        let added: std::result::Result<Vec<()>, _> =
            edges.iter().map(|e| add_edge(&mut gauges, e)).collect();
        assert_eq!(added, Err(TooManySeries), "6 series, past 5");
    }
}
