//! The telephony providers: the Edges and trunks lists (paged [`Listing`](crate::Listing)s)
//! and their metrics (`?edgeIds=` / `?trunkIds=`, at most 100 IDs, a bare JSON array).
//!
//! Every field may be absent or `null` (read as absent); enum values (`onlineStatus`,
//! `statusCode`, `trunkType`, ...) stay strings, so that a value added to the API later is
//! read, not refused. Only the fields the exporter reads, and what the simulator answers
//! besides them, are here; the rest of each entity is ignored.

use serde::{Deserialize, Serialize};

use crate::null_as_default;

/// A reference to another entity: `{id, name, selfUri}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl EntityRef {
    /// A reference with an ID and a name.
    pub fn named(id: &str, name: &str) -> EntityRef {
        EntityRef {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            self_uri: None,
        }
    }
}

/// One Edge of `GET /api/v2/telephony/providers/edges`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `active`, `inactive`, `deleted`: the resource's lifecycle, not its health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `ONLINE` or `OFFLINE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_status: Option<String>,
    /// `ACTIVE`, `INACTIVE`, `RMA`, `INITIALIZING`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// `HARDWARE`, `LDM`, `CDM`, `CHS`, `INVALID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_deployment_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_draining_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_edge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// One entry of the Edge metrics answer: a snapshot at `eventTime`. A cloud media Edge
/// may give no hardware figures at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeMetrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_time_msec: Option<i64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub processors: Vec<Processor>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub memory: Vec<Memory>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub disks: Vec<Disk>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub networks: Vec<Network>,
}

/// The `cpuId` of the processor entry that sums every CPU ("always included").
pub const TOTAL_CPU: &str = "total";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Processor {
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_time_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_time_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged_time_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_time_pct: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Such as `Physical` or `Virtual`.
    #[serde(default, deserialize_with = "null_as_default", rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    #[serde(default, deserialize_with = "null_as_default")]
    pub partition_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    #[serde(default, deserialize_with = "null_as_default")]
    pub ifname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_bits_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_pct: Option<f64>,
}

/// One trunk of `GET /api/v2/telephony/providers/edges/trunks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trunk {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `EXTERNAL`, `PHONE`, `EDGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_type: Option<String>,
    /// `active`, `inactive`, `deleted`: the resource's lifecycle, not its health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// From the trunk base's `trunk_enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_service: Option<bool>,
    /// Whether the trunk's Edge is in service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_base: Option<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_status: Option<ConnectedStatus>,
    /// `ENABLED`, `DISABLED`, `NOT_SUPPORTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_enabled_status: Option<String>,
    /// `ENABLED`, `DISABLED`, `NOT_SUPPORTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registers_enabled_status: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub options_status: Vec<OptionsStatus>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub registers_status: Vec<RegistersStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_state_time: Option<String>,
}

/// The last SIP OPTIONS ping to one proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionsStatus {
    #[serde(default, deserialize_with = "null_as_default")]
    pub proxy_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_state: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_state_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

/// The last SIP REGISTER to one proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistersStatus {
    #[serde(default, deserialize_with = "null_as_default")]
    pub proxy_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_state: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_state_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One entry of the trunk metrics answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrunkMetrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<TrunkCalls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<TrunkQos>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrunkCalls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_call_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_call_count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrunkQos {
    /// QoS mismatches over the last 24 hours, a sliding window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatch_count: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Listing;

    #[test]
    fn nulls_unknown_enums_and_missing_fields_are_read_not_refused() {
        let page: Listing<Edge> = serde_json::from_str(
            r#"{"entities": [
                {"id": "e1", "name": null, "onlineStatus": "SLEEPING", "statusCode": null,
                 "edgeDeploymentType": "QUANTUM", "site": {"id": null, "name": "HQ"},
                 "somethingNew": {"deep": [1, 2]}},
                {}
            ], "pageCount": null}"#,
        )
        .unwrap();
        let edge = &page.entities[0];
        assert_eq!(edge.name, "");
        assert_eq!(edge.online_status.as_deref(), Some("SLEEPING"));
        assert_eq!(edge.status_code, None);
        assert_eq!(edge.edge_deployment_type.as_deref(), Some("QUANTUM"));
        assert_eq!(edge.site, Some(EntityRef::named("", "HQ")));
        assert_eq!(page.entities[1], Edge::default());

        let trunk: Trunk = serde_json::from_str(
            r#"{"id": "t1", "trunkType": "SATELLITE", "inService": null, "enabled": true,
                "connectedStatus": {"connected": null},
                "optionsStatus": [{"proxyAddress": "sip:5060", "optionState": false,
                    "errorInfo": {"text": "timeout", "code": "408", "details": {}}}, {}],
                "registersStatus": null}"#,
        )
        .unwrap();
        assert_eq!(trunk.trunk_type.as_deref(), Some("SATELLITE"));
        assert_eq!(trunk.in_service, None);
        assert_eq!(trunk.connected_status.unwrap().connected, None);
        assert_eq!(trunk.options_status.len(), 2);
        assert_eq!(trunk.options_status[0].option_state, Some(false));
        assert_eq!(trunk.options_status[1], OptionsStatus::default());
        assert!(trunk.registers_status.is_empty());

        let metrics: Vec<EdgeMetrics> = serde_json::from_str(
            r#"[{"edge": {"id": "e1"}, "upTimeMsec": 5000, "processors": null,
                 "memory": [{"type": "Physical", "totalBytes": null, "availableBytes": 1}]},
                {}]"#,
        )
        .unwrap();
        assert_eq!(metrics[0].up_time_msec, Some(5000));
        assert!(metrics[0].processors.is_empty());
        assert_eq!(metrics[0].memory[0].total_bytes, None);
        assert_eq!(metrics[1], EdgeMetrics::default());
        let metrics: Vec<TrunkMetrics> =
            serde_json::from_str(r#"[{"trunk": {"id": "t1"}, "calls": null, "qos": {}}]"#).unwrap();
        assert_eq!(metrics[0].calls, None);
        assert_eq!(metrics[0].qos, Some(TrunkQos::default()));
    }

    #[test]
    fn a_metrics_answer_that_is_not_an_array_is_refused() {
        for body in [r#"{"entities": []}"#, "null", r#""[]""#] {
            let error = serde_json::from_str::<Vec<TrunkMetrics>>(body).unwrap_err();
            assert!(error.to_string().contains("expected a sequence"), "{error}");
        }
    }

    #[test]
    fn what_is_absent_is_not_written() {
        let json = serde_json::to_value(EdgeMetrics {
            edge: Some(EntityRef::named("e1", "Cloud")),
            up_time_msec: Some(1),
            ..EdgeMetrics::default()
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"edge": {"id": "e1", "name": "Cloud"}, "upTimeMsec": 1})
        );
    }
}
