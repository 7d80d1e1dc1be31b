//! The telephony providers: the org's Edges ([`crate::edges`]) and trunks, their state and
//! their metrics, as `GET /api/v2/telephony/providers/edges[/metrics]` and
//! `.../edges/trunks[/metrics]` answer them. The lists are paged like the Architect lists
//! (at most [`MAX_LIST_PAGE_SIZE`](crate::ivr_api::MAX_LIST_PAGE_SIZE) a page); the metrics take `edgeIds` / `trunkIds`,
//! comma-separated, at most 100, and leave out the IDs they do not know.
//!
//! What they report follows the voice calls going on ([`crate::voice_calls_active`]): a
//! hardware Edge's CPU and network rise with the calls on it, and each call on an Edge is
//! counted inbound on one of its carrying trunks (in service and connected). The cloud
//! media Edge answers only its uptime: no processors, memory, disks or networks.
//!
//! Two faults, each from an instant on: an Edge offline (`OFFLINE`, its trunks not
//! enabled nor connected, no options status, no metrics entry) and a trunk down (not
//! connected, its OPTIONS pings failing with an error).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::Value;

use super::edges::{SimEdge, edges};
use super::failure_surge::FailureSurge;
use super::ivr_api::{Pairs, listing, values};
use super::protocol::{Params, bad_request, error_response};
use super::random::{fnv1a, mix, uuid_from};
use super::simulated_org::SimulatedOrg;
use super::surge::Surge;
use super::{Simulator, voice_calls_active};
use genesys_wire::telephony::{
    ConnectedStatus, Disk, Edge, EdgeMetrics, EntityRef, ErrorInfo, Memory, Network, OptionsStatus,
    Processor, RegistersStatus, TOTAL_CPU, Trunk, TrunkCalls, TrunkMetrics, TrunkQos,
};
use genesys_wire::{EDGES_PATH, ErrorBody, MAX_EDGE_IDS, MAX_TRUNK_IDS, TRUNKS_PATH};

/// The permission every telephony endpoint needs, for the 403 of a `forbidden` fault.
pub(super) fn permission(path: &str) -> Option<&'static str> {
    path.starts_with(EDGES_PATH)
        .then_some("telephony:plugin:all")
}

/// One trunk: its Edge (an index into [`crate::edges`]), whether its trunk base is in
/// service, the SIP proxies it pings with OPTIONS, and whether it registers with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTrunk {
    pub id: String,
    pub name: String,
    pub edge: usize,
    pub in_service: bool,
    pub proxies: Vec<&'static str>,
    pub registers: bool,
    /// Its trunk base's name.
    pub base: &'static str,
}

/// (name, Edge, in service, proxies, registers, trunk base)
type TrunkRow = (
    &'static str,
    usize,
    bool,
    &'static [&'static str],
    bool,
    &'static str,
);

const TRUNKS: [TrunkRow; 4] = [
    (
        "Carrier A - Edge HQ 1",
        0,
        true,
        &["sip1.carrier-a.example:5060", "sip2.carrier-a.example:5060"],
        false,
        "Carrier A",
    ),
    (
        "Carrier A - Edge HQ 2",
        1,
        true,
        &["sip1.carrier-a.example:5060"],
        false,
        "Carrier A",
    ),
    (
        "BYOC Cloud",
        2,
        true,
        &["byoc.carrier-b.example:5061"],
        true,
        "Carrier B BYOC",
    ),
    // Out of service: not connected, pings nothing, and so never alerts.
    ("Lab trunk", 1, false, &[], false, "Lab"),
];

/// The org's trunks, in a stable order: the four named ones, then `lab_trunks` more
/// out-of-service lab trunks (`Lab trunk 2`, ...) to give the list a size.
pub fn trunks(org: &SimulatedOrg, lab_trunks: usize) -> Vec<SimTrunk> {
    let lab = TRUNKS[3];
    let extra = (0..lab_trunks).map(|n| (format!("Lab trunk {}", n + 2), lab));
    TRUNKS
        .iter()
        .map(|row| (row.0.to_owned(), *row))
        .chain(extra)
        .enumerate()
        .map(
            |(index, (name, (_, edge, in_service, proxies, registers, base)))| SimTrunk {
                id: seeded_id(org, b"trunk", &index.to_string()),
                name,
                edge,
                in_service,
                proxies: proxies.to_vec(),
                registers,
                base,
            },
        )
        .collect()
}

/// A stable UUID of `kind` and `key`, the org's own for a named org.
fn seeded_id(org: &SimulatedOrg, kind: &[u8], key: &str) -> String {
    let name = org.name.as_deref().unwrap_or_default();
    uuid_from(fnv1a(&[kind, key.as_bytes(), name.as_bytes()]))
}

/// Bytes a second one call sends (and receives) on an Edge's network: G.711 with its
/// RTP, UDP and IP headers, about 87 kbit/s.
pub const CALL_BYTES_PER_SEC: f64 = 10_900.0;

/// The Edges' and trunks' state at an instant, under the faults and the abandon surge in
/// force: what the four endpoints answer, and what tests check the exporter against.
pub struct Telephony<'a> {
    pub org: &'a SimulatedOrg,
    pub surge: Option<Surge>,
    pub edge_offline: Option<&'a FailureSurge>,
    pub trunk_down: Option<&'a FailureSurge>,
    pub lab_trunks: usize,
    pub now: Timestamp,
}

impl Simulator {
    /// The telephony at `now`, as the endpoints answer it.
    pub fn telephony(&self, now: Timestamp) -> Telephony<'_> {
        let config = &self.state.config;
        Telephony {
            org: &config.org,
            surge: self.surge(),
            edge_offline: config.edge_offline.as_ref(),
            trunk_down: config.trunk_down.as_ref(),
            lab_trunks: config.lab_trunks,
            now,
        }
    }
}

impl Telephony<'_> {
    pub fn edges(&self) -> Vec<SimEdge> {
        edges(self.org)
    }

    pub fn trunks(&self) -> Vec<SimTrunk> {
        trunks(self.org, self.lab_trunks)
    }

    fn now_ms(&self) -> i64 {
        self.now.as_millisecond()
    }

    pub fn edge_online(&self, edge: &SimEdge) -> bool {
        !self
            .edge_offline
            .is_some_and(|fault| fault.hits(&edge.id, edge.name, self.now_ms()))
    }

    fn trunk_is_down(&self, trunk: &SimTrunk) -> bool {
        self.trunk_down
            .is_some_and(|fault| fault.hits(&trunk.id, &trunk.name, self.now_ms()))
    }

    /// Whether `trunk` carries calls now: in service, its Edge online, not down.
    pub fn trunk_connected(&self, trunk: &SimTrunk, edges: &[SimEdge]) -> bool {
        trunk.in_service && self.edge_online(&edges[trunk.edge]) && !self.trunk_is_down(trunk)
    }

    /// The voice calls going on now on each Edge, by index.
    pub fn calls_per_edge(&self) -> Vec<u64> {
        let mut calls = vec![0; self.edges().len()];
        for call in voice_calls_active(self.org, self.surge.as_ref(), self.now) {
            calls[call.edge] += 1;
        }
        calls
    }

    /// How long Edge `index` has been up: each reboots every 35 days, at its own offset.
    fn uptime_ms(&self, index: usize) -> i64 {
        const PERIOD_MS: i64 = 35 * 86_400_000;
        let offset = (index as i64).saturating_mul(9 * 86_400_000);
        self.now_ms().saturating_add(offset).rem_euclid(PERIOD_MS) + 3_600_000
    }

    fn boot_time(&self, index: usize) -> String {
        at(self.now_ms().saturating_sub(self.uptime_ms(index)))
    }

    fn edge_ref(&self, edge: &SimEdge) -> EntityRef {
        EntityRef {
            self_uri: Some(format!("{EDGES_PATH}/{}", edge.id)),
            ..EntityRef::named(&edge.id, edge.name)
        }
    }

    /// The Edges list, every Edge in order.
    pub fn edge_list(&self) -> Vec<Edge> {
        self.edges()
            .iter()
            .map(|edge| Edge {
                id: edge.id.clone(),
                name: edge.name.to_owned(),
                state: Some("active".into()),
                online_status: Some(
                    match self.edge_online(edge) {
                        true => "ONLINE",
                        false => "OFFLINE",
                    }
                    .into(),
                ),
                status_code: Some("ACTIVE".into()),
                edge_deployment_type: Some(edge.deployment.into()),
                call_draining_state: Some("NONE".into()),
                physical_edge: Some(edge.deployment == "HARDWARE"),
                site: Some(EntityRef {
                    self_uri: None,
                    ..EntityRef::named(&seeded_id(self.org, b"site", edge.site), edge.site)
                }),
                software_version: Some("2026.8.1.42".into()),
                self_uri: Some(format!("{EDGES_PATH}/{}", edge.id)),
            })
            .collect()
    }

    /// The metrics of every Edge online, in order; the cloud media Edge only its uptime.
    pub fn edge_metrics(&self) -> Vec<EdgeMetrics> {
        let calls = self.calls_per_edge();
        let minute = self.now_ms().div_euclid(60_000);
        self.edges()
            .iter()
            .enumerate()
            .filter(|(_, edge)| self.edge_online(edge))
            .map(|(index, edge)| {
                let mut metrics = EdgeMetrics {
                    edge: Some(self.edge_ref(edge)),
                    event_time: Some(at(self.now_ms())),
                    up_time_msec: Some(self.uptime_ms(index)),
                    ..EdgeMetrics::default()
                };
                if edge.deployment == "HARDWARE" {
                    let wobble = unit(fnv1a(&[edge.id.as_bytes(), &minute.to_le_bytes()]));
                    hardware(&mut metrics, index, calls[index], wobble);
                }
                metrics
            })
            .collect()
    }

    /// The trunks list, every trunk in order.
    pub fn trunk_list(&self) -> Vec<Trunk> {
        let edges = self.edges();
        self.trunks()
            .iter()
            .map(|trunk| {
                let edge = &edges[trunk.edge];
                let online = self.edge_online(edge);
                let down = self.trunk_is_down(trunk);
                let connected = self.trunk_connected(trunk, &edges);
                // When it last changed: the fault's start, or the Edge's boot.
                let changed = match (online, down) {
                    (false, _) => self
                        .edge_offline
                        .map(|fault| at(fault.start.as_millisecond())),
                    (true, true) => self
                        .trunk_down
                        .map(|fault| at(fault.start.as_millisecond())),
                    (true, false) => Some(self.boot_time(trunk.edge)),
                };
                let failure = down.then(|| ErrorInfo {
                    text: Some("No response from the proxy".into()),
                    code: Some("408".into()),
                });
                // An offline Edge pings nothing: the cloud knows no options status of it.
                let proxies = if online { &trunk.proxies[..] } else { &[] };
                Trunk {
                    id: trunk.id.clone(),
                    name: trunk.name.clone(),
                    trunk_type: Some("EXTERNAL".into()),
                    state: Some("active".into()),
                    in_service: Some(trunk.in_service),
                    enabled: Some(online),
                    edge: Some(self.edge_ref(edge)),
                    trunk_base: Some(EntityRef::named(
                        &seeded_id(self.org, b"trunk base", trunk.base),
                        trunk.base,
                    )),
                    connected_status: Some(ConnectedStatus {
                        connected: Some(connected),
                        connected_state_time: changed.clone(),
                    }),
                    options_enabled_status: Some(
                        match trunk.proxies.is_empty() {
                            true => "DISABLED",
                            false => "ENABLED",
                        }
                        .into(),
                    ),
                    registers_enabled_status: Some(
                        match trunk.registers {
                            true => "ENABLED",
                            false => "NOT_SUPPORTED",
                        }
                        .into(),
                    ),
                    options_status: proxies
                        .iter()
                        .map(|proxy| OptionsStatus {
                            proxy_address: (*proxy).into(),
                            option_state: Some(!down),
                            option_state_time: changed.clone(),
                            error_info: failure.clone(),
                        })
                        .collect(),
                    registers_status: proxies
                        .iter()
                        .filter(|_| trunk.registers)
                        .map(|proxy| RegistersStatus {
                            proxy_address: (*proxy).into(),
                            register_state: Some(!down),
                            register_state_time: changed.clone(),
                            error_info: failure.clone(),
                        })
                        .collect(),
                    self_uri: Some(format!("{TRUNKS_PATH}/{}", trunk.id)),
                }
            })
            .collect()
    }

    /// The inbound calls on each trunk, in order: the calls going on on its Edge, shared
    /// out over the Edge's connected trunks in order (the first ones take one more when
    /// they do not share evenly); 0 on a trunk not connected.
    pub fn inbound_calls(&self) -> Vec<u64> {
        let edges = self.edges();
        let trunks = self.trunks();
        let calls = self.calls_per_edge();
        let carrying: Vec<bool> = trunks
            .iter()
            .map(|trunk| self.trunk_connected(trunk, &edges))
            .collect();
        trunks
            .iter()
            .enumerate()
            .map(|(index, trunk)| {
                if !carrying[index] {
                    return 0;
                }
                let on_edge = |(i, t): &(usize, &SimTrunk)| t.edge == trunk.edge && carrying[*i];
                let carriers = trunks.iter().enumerate().filter(on_edge).count() as u64;
                let before = trunks
                    .iter()
                    .enumerate()
                    .take(index)
                    .filter(on_edge)
                    .count() as u64;
                let total = calls[trunk.edge];
                total / carriers + u64::from(before < total % carriers)
            })
            .collect()
    }

    /// The metrics of every trunk, in order.
    pub fn trunk_metrics(&self) -> Vec<TrunkMetrics> {
        let edges = self.edges();
        let minute = self.now_ms().div_euclid(60_000);
        let hour = self.now_ms().div_euclid(3_600_000);
        self.trunks()
            .iter()
            .zip(self.inbound_calls())
            .map(|(trunk, inbound)| {
                let connected = self.trunk_connected(trunk, &edges);
                // A few outbound calls (callbacks, transfers out), drawn each minute.
                let outbound = match connected {
                    true => mix(fnv1a(&[trunk.id.as_bytes(), &minute.to_le_bytes()])) % 4,
                    false => 0,
                };
                let mismatches = match trunk.in_service {
                    true => mix(fnv1a(&[trunk.id.as_bytes(), &hour.to_le_bytes()])) % 3,
                    false => 0,
                };
                TrunkMetrics {
                    trunk: Some(EntityRef {
                        self_uri: Some(format!("{TRUNKS_PATH}/{}", trunk.id)),
                        ..EntityRef::named(&trunk.id, &trunk.name)
                    }),
                    event_time: Some(at(self.now_ms())),
                    calls: Some(TrunkCalls {
                        inbound_call_count: Some(inbound as i64),
                        outbound_call_count: Some(outbound as i64),
                    }),
                    qos: Some(TrunkQos {
                        mismatch_count: Some(mismatches as i64),
                    }),
                }
            })
            .collect()
    }
}

/// A hardware Edge's processors, memory, disks and network with `calls` calls on it (Edge
/// `index`; `wobble` in [0, 1) moves the figures a little each minute).
fn hardware(metrics: &mut EdgeMetrics, index: usize, calls: u64, wobble: f64) {
    let calls = calls as f64;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let active = round((6.0 + 2.0 * index as f64 + 0.8 * calls + 2.0 * wobble).min(97.0));
    let processor = |cpu_id: String, active: f64| Processor {
        cpu_id,
        active_time_pct: Some(active),
        idle_time_pct: Some(round(100.0 - active)),
        privileged_time_pct: Some(round(active * 0.3)),
        user_time_pct: Some(round(active * 0.7)),
    };
    metrics.processors = std::iter::once(processor(TOTAL_CPU.into(), active))
        .chain((0..4).map(|cpu| {
            let spread = (cpu as f64 - 1.5) * 0.8;
            processor(cpu.to_string(), round((active + spread).clamp(0.0, 100.0)))
        }))
        .collect();
    let gib = 1024.0 * 1024.0 * 1024.0;
    let memory = |kind: &str, total: f64, free: f64| Memory {
        kind: kind.into(),
        total_bytes: Some(total),
        available_bytes: Some((total * free.max(0.05)).round()),
    };
    metrics.memory = vec![
        memory("Physical", 16.0 * gib, 0.58 - 0.003 * calls - 0.02 * wobble),
        memory("Virtual", 32.0 * gib, 0.74 - 0.002 * calls),
    ];
    let disk = |partition: &str, total: f64, free: f64| Disk {
        partition_name: partition.into(),
        total_bytes: Some(total),
        available_bytes: Some((total * free).round()),
    };
    metrics.disks = vec![
        disk("C:\\", 256.0 * gib, 0.61 - 0.05 * index as f64),
        disk("D:\\", 1024.0 * gib, 0.83),
    ];
    // Each call's media both ways, and a little signalling.
    let each_way = round(calls * CALL_BYTES_PER_SEC + 2_000.0 + 500.0 * wobble);
    let bandwidth = 1e9;
    metrics.networks = vec![Network {
        ifname: "eth0".into(),
        sent_bytes_per_sec: Some(each_way),
        received_bytes_per_sec: Some(each_way),
        bandwidth_bits_per_sec: Some(bandwidth),
        utilization_pct: Some((2.0 * each_way * 8.0 / bandwidth * 100.0 * 1e4).round() / 1e4),
    }];
}

/// `seed` as a number in [0, 1).
fn unit(seed: u64) -> f64 {
    (mix(seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// Epoch milliseconds as the API writes times.
fn at(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `GET EDGES_PATH?pageNumber=&pageSize=`: every Edge, cloud media ones included.
pub(super) async fn edges_list(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let entities = sim.telephony(sim.now()).edge_list();
    Ok(listing(&sim, EDGES_PATH, "", &pairs, to_values(entities)))
}

/// `GET TRUNKS_PATH?pageNumber=&pageSize=&edge.id=&trunkType=`: the trunks, those of
/// the Edges and types asked for when any are.
pub(super) async fn trunks_list(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let edge_ids = values(&pairs, "edge.id");
    let types = values(&pairs, "trunkType");
    let entities: Vec<Trunk> = sim
        .telephony(sim.now())
        .trunk_list()
        .into_iter()
        .filter(|trunk| {
            let edge = trunk.edge.as_ref().map(|e| e.id.as_str()).unwrap_or("");
            let kind = trunk.trunk_type.as_deref().unwrap_or("");
            (edge_ids.is_empty() || edge_ids.contains(&edge))
                && (types.is_empty() || types.contains(&kind))
        })
        .collect();
    let mut query = String::new();
    for id in &edge_ids {
        query.push_str(&format!("&edge.id={id}"));
    }
    for kind in &types {
        query.push_str(&format!("&trunkType={kind}"));
    }
    Ok(listing(
        &sim,
        TRUNKS_PATH,
        &query,
        &pairs,
        to_values(entities),
    ))
}

/// `GET EDGE_METRICS_PATH?edgeIds=`: the metrics of the Edges named that are online.
pub(super) async fn edge_metrics(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let of = |m: &EdgeMetrics| m.edge.as_ref().map(|e| e.id.clone());
    metrics_of(
        sim,
        &pairs,
        "edgeIds",
        MAX_EDGE_IDS,
        |t| t.edge_metrics(),
        of,
    )
    .await
}

/// `GET TRUNK_METRICS_PATH?trunkIds=`: the metrics of the trunks named.
pub(super) async fn trunk_metrics(
    State(sim): State<Simulator>,
    Params(pairs): Params<Pairs>,
) -> Result<Response, Response> {
    let of = |m: &TrunkMetrics| m.trunk.as_ref().map(|t| t.id.clone());
    metrics_of(
        sim,
        &pairs,
        "trunkIds",
        MAX_TRUNK_IDS,
        |t| t.trunk_metrics(),
        of,
    )
    .await
}

/// A metrics endpoint's answer: `all` of them now (worked out off the workers: it follows
/// every call going on), those whose ID (`id_of`) parameter `name` lists, as a bare array.
async fn metrics_of<T: serde::Serialize + Send + 'static>(
    sim: Simulator,
    pairs: &Pairs,
    name: &str,
    max: usize,
    all: fn(&Telephony<'_>) -> Vec<T>,
    id_of: fn(&T) -> Option<String>,
) -> Result<Response, Response> {
    let ids = metric_ids(pairs, name, max).map_err(|mut error| {
        error.context_id = Some(sim.context_id());
        error_response(error)
    })?;
    let (worker, now) = (sim.clone(), sim.now());
    let all = sim
        .off_the_workers(move || Ok(all(&worker.telephony(now))))
        .await?;
    let named = |m: &T| id_of(m).is_some_and(|id| ids.contains(&id));
    let answer: Vec<T> = all.into_iter().filter(named).collect();
    Ok(Json(answer).into_response())
}

/// The IDs of parameter `name` (comma-separated, required, at most `max`), or the 400.
fn metric_ids(pairs: &Pairs, name: &str, max: usize) -> Result<Vec<String>, ErrorBody> {
    let ids: Vec<String> = values(pairs, name).into_iter().map(String::from).collect();
    let problem = if ids.is_empty() {
        format!("{name} is required: a comma-separated list of IDs")
    } else if ids.len() > max {
        format!(
            "{name} holds {} IDs; a maximum of {max} IDs is allowed: ask in several requests",
            ids.len()
        )
    } else {
        return Ok(ids);
    };
    Err(bad_request("invalid.value", name, problem))
}

fn to_values<T: serde::Serialize>(entities: Vec<T>) -> Vec<Value> {
    entities
        .into_iter()
        .filter_map(|entity| serde_json::to_value(entity).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::super::testing::{bearer, call, request};
    use super::*;
    use crate::{FaultSpec, SimulatorConfig};
    use genesys_wire::time::Clock;
    use genesys_wire::{EDGE_METRICS_PATH, TRUNK_METRICS_PATH};

    const NOW: &str = "2026-08-20T14:07:00Z";

    fn sim(config: SimulatorConfig) -> Simulator {
        Simulator::new(SimulatorConfig {
            clock: Clock::starting_at(NOW.parse().unwrap()),
            ..config
        })
    }

    fn fault(target: &str, start: &str) -> Option<FailureSurge> {
        Some(FailureSurge {
            target: target.into(),
            start: start.parse().unwrap(),
        })
    }

    async fn get(sim: &Simulator, auth: &str, uri: &str) -> (u16, Value) {
        call(sim, request(Method::GET, uri, Some(auth), "")).await
    }

    #[tokio::test]
    async fn the_lists_are_paged_and_the_metrics_take_at_most_100_ids() {
        let sim = sim(SimulatorConfig {
            lab_trunks: 120,
            ..SimulatorConfig::default()
        });
        let auth = bearer(&sim).await;
        let telephony = sim.telephony(sim.now());
        let (status, page) = get(&sim, &auth, &format!("{EDGES_PATH}?pageSize=2")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            (page["total"].as_u64(), page["pageCount"].as_u64()),
            (Some(3), Some(2))
        );
        let names: Vec<&str> = page["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Edge HQ 1", "Edge HQ 2"]);
        let (_, last) = get(
            &sim,
            &auth,
            &format!("{EDGES_PATH}?pageSize=2&pageNumber=2"),
        )
        .await;
        assert_eq!(last["entities"][0]["edgeDeploymentType"], "CDM");
        // 124 trunks: two pages of 100 at most.
        let (_, first) = get(&sim, &auth, &format!("{TRUNKS_PATH}?pageSize=100")).await;
        assert_eq!(
            (first["total"].as_u64(), first["pageCount"].as_u64()),
            (Some(124), Some(2))
        );
        assert_eq!(first["entities"].as_array().unwrap().len(), 100);
        let (status, error) = get(&sim, &auth, &format!("{TRUNKS_PATH}?pageSize=101")).await;
        assert_eq!(status, 400, "{error}");
        // Filtered by Edge.
        let hq1 = &telephony.edges()[0].id;
        let (_, on_hq1) = get(&sim, &auth, &format!("{TRUNKS_PATH}?edge.id={hq1}")).await;
        assert_eq!(on_hq1["entities"][0]["name"], "Carrier A - Edge HQ 1");
        assert_eq!(on_hq1["total"], 1);

        // Unknown IDs are left out; the cloud media Edge gives only its uptime.
        let ids: Vec<String> = telephony.edges().iter().map(|e| e.id.clone()).collect();
        let uri = format!("{EDGE_METRICS_PATH}?edgeIds={},{},unknown", ids[0], ids[2]);
        let (status, metrics) = get(&sim, &auth, &uri).await;
        assert_eq!(status, 200, "{metrics}");
        let metrics: Vec<EdgeMetrics> = serde_json::from_value(metrics).unwrap();
        assert_eq!(metrics.len(), 2);
        assert_eq!(metrics[0].processors[0].cpu_id, TOTAL_CPU);
        assert!(metrics[1].processors.is_empty() && metrics[1].memory.is_empty());
        assert!(metrics[1].disks.is_empty() && metrics[1].networks.is_empty());
        assert!(metrics[1].up_time_msec.is_some());
        let many: Vec<String> = (0..101).map(|n| n.to_string()).collect();
        for path in [EDGE_METRICS_PATH, TRUNK_METRICS_PATH] {
            let (status, error) = get(&sim, &auth, &format!("{path}?ids=none")).await;
            assert_eq!(status, 400, "{error}");
            let uri = format!(
                "{path}?{}={}",
                if path == EDGE_METRICS_PATH {
                    "edgeIds"
                } else {
                    "trunkIds"
                },
                many.join(",")
            );
            let (status, error) = get(&sim, &auth, &uri).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (400, Some("invalid.value"))
            );
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .contains("maximum of 100"),
                "{error}"
            );
        }
        let trunk = &telephony.trunks()[0];
        let (_, metrics) = get(
            &sim,
            &auth,
            &format!("{TRUNK_METRICS_PATH}?trunkIds={}", trunk.id),
        )
        .await;
        assert_eq!(metrics.as_array().unwrap().len(), 1);
        assert_eq!(metrics[0]["trunk"]["name"], trunk.name.as_str());
        let counts = sim.requests();
        assert_eq!(
            (
                counts.edges,
                counts.edge_metrics,
                counts.trunks,
                counts.trunk_metrics
            ),
            (2, 3, 3, 3)
        );

        let forbidden: FaultSpec = format!("forbidden,path={TRUNKS_PATH}$").parse().unwrap();
        sim.add_fault(forbidden);
        let (status, error) = get(&sim, &auth, TRUNKS_PATH).await;
        assert_eq!(status, 403);
        assert_eq!(
            error["messageParams"]["permissions"],
            "telephony:plugin:all"
        );
        assert_eq!(get(&sim, &auth, EDGES_PATH).await.0, 200, "only the trunks");
    }

    #[test]
    fn calls_on_an_edge_are_shared_over_its_connected_trunks() {
        let sim = sim(SimulatorConfig::default());
        let telephony = sim.telephony(sim.now());
        let calls = telephony.calls_per_edge();
        assert!(calls.iter().all(|&n| n > 0), "{calls:?}");
        let inbound = telephony.inbound_calls();
        // Each Edge has one connected trunk; the lab trunk carries nothing.
        assert_eq!(inbound, [calls[0], calls[1], calls[2], 0]);
        let metrics = telephony.trunk_metrics();
        assert_eq!(
            metrics[3].calls.as_ref().unwrap().outbound_call_count,
            Some(0)
        );
        assert_eq!(metrics[3].qos.as_ref().unwrap().mismatch_count, Some(0));
    }

    #[test]
    fn cpu_and_network_rise_with_the_calls() {
        let figures = |calls| {
            let mut metrics = EdgeMetrics::default();
            hardware(&mut metrics, 0, calls, 0.5);
            (
                metrics.processors[0].active_time_pct.unwrap(),
                metrics.networks[0].utilization_pct.unwrap(),
                metrics.memory[0].available_bytes.unwrap(),
            )
        };
        let (quiet, busy) = (figures(2), figures(60));
        assert!(
            busy.0 > quiet.0 && busy.1 > quiet.1 && busy.2 < quiet.2,
            "{quiet:?} {busy:?}"
        );
        assert!(busy.0 <= 97.0 && figures(10_000).0 == 97.0);
    }

    #[test]
    fn an_offline_edge_and_a_down_trunk_from_their_start() {
        let sim = sim(SimulatorConfig {
            edge_offline: fault("Edge HQ 2", "2026-08-20T14:10:00Z"),
            trunk_down: fault("Carrier A - Edge HQ 1", "2026-08-20T14:05:00Z"),
            ..SimulatorConfig::default()
        });
        let before = sim.telephony("2026-08-20T14:04:00Z".parse().unwrap());
        assert!(
            before
                .edge_list()
                .iter()
                .all(|e| e.online_status.as_deref() == Some("ONLINE"))
        );
        assert_eq!(before.edge_metrics().len(), 3);
        let trunks = before.trunk_list();
        assert_eq!(
            trunks[0].connected_status.as_ref().unwrap().connected,
            Some(true)
        );
        assert!(
            trunks[0]
                .options_status
                .iter()
                .all(|o| o.option_state == Some(true))
        );

        let after = sim.telephony("2026-08-20T14:10:00Z".parse().unwrap());
        let edges = after.edge_list();
        assert_eq!(edges[1].online_status.as_deref(), Some("OFFLINE"));
        let reporting: Vec<String> = after
            .edge_metrics()
            .iter()
            .map(|m| m.edge.as_ref().unwrap().name.clone().unwrap())
            .collect();
        assert_eq!(reporting, ["Edge HQ 1", "Cloud Media 1"]);
        let trunks = after.trunk_list();
        // The down trunk: not connected, its pings failing with an error.
        assert_eq!(
            trunks[0].connected_status.as_ref().unwrap().connected,
            Some(false)
        );
        assert_eq!(trunks[0].enabled, Some(true));
        assert_eq!(trunks[0].options_status.len(), 2);
        for options in &trunks[0].options_status {
            assert_eq!(options.option_state, Some(false));
            assert!(options.error_info.is_some());
        }
        // The offline Edge's trunks: neither enabled nor connected, no options status.
        for trunk in &trunks[1..] {
            let on_hq2 = trunk.edge.as_ref().unwrap().id == edges[1].id;
            assert_eq!(trunk.enabled, Some(!on_hq2), "{}", trunk.name);
            if on_hq2 {
                assert_eq!(
                    trunk.connected_status.as_ref().unwrap().connected,
                    Some(false)
                );
                assert!(trunk.options_status.is_empty());
            }
        }
        assert_eq!(after.inbound_calls()[..2], [0, 0]);
    }
}
