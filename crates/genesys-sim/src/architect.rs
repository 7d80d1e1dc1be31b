//! The org's Architect flows, flow outcomes and data actions (with their integrations):
//! the names and IDs the flows and actions analytics count, and the lists name. IDs are
//! the demo's, or drawn from a named org's name.

use super::SimulatedOrg;
use super::random::{fnv1a, uuid_from};
use super::simulated_org::division;
use super::traffic::Atom;
use genesys_wire::Division;

/// The flows of the demo: name, type, the media type they serve.
const FLOWS: [(&str, &str, &str); 3] = [
    ("Main IVR", "INBOUNDCALL", "voice"),
    ("Retention IVR", "INBOUNDCALL", "voice"),
    ("Web Chat", "INBOUNDCHAT", "chat"),
];

/// The queues behind "Retention IVR"; every other voice queue is behind "Main IVR".
const RETENTION_QUEUES: [&str; 2] = ["Retention", "VIP"];

pub(super) const CALLER_IDENTIFIED: usize = 0;
pub(super) const PAYMENT_TAKEN: usize = 1;
pub(super) const SELF_SERVICE_COMPLETE: usize = 2;
const OUTCOMES: [&str; 3] = [
    "Caller identified",
    "Payment taken",
    "Self-service complete",
];

pub(super) const LOOKUP_ACCOUNT: usize = 0;
pub(super) const CHECK_BALANCE: usize = 1;
pub(super) const CREATE_CASE: usize = 2;
/// Name, integration, category.
const ACTIONS: [(&str, &str, &str); 3] = [
    ("Lookup account", "CRM Data Actions", "CRM"),
    ("Check balance", "Billing Web Services", "Billing"),
    ("Create case", "CRM Data Actions", "CRM"),
];

/// An Architect flow.
#[derive(Debug, Clone, PartialEq)]
pub struct SimFlow {
    pub id: String,
    pub name: String,
    /// As the API writes it: `INBOUNDCALL`, `INBOUNDCHAT`.
    pub flow_type: &'static str,
    /// The media type of the conversations it serves.
    pub media_type: &'static str,
    pub division: Division,
}

/// A flow outcome, with the `flowOutcome` values of its success and its failure
/// (`<id>:SUCCESS`, `<id>:FAILURE`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutcome {
    pub id: String,
    pub name: String,
    pub division: Division,
    pub(super) success: String,
    pub(super) failure: String,
}

/// A data action and its integration.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAction {
    /// `custom_-_<uuid>`, as custom actions' IDs are written.
    pub id: String,
    pub name: String,
    pub integration_id: String,
    pub integration_name: String,
    pub category: String,
}

/// The org's flows, outcomes and data actions. IDs are the demo's, or drawn from a named
/// org's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Architect {
    pub flows: Vec<SimFlow>,
    pub outcomes: Vec<SimOutcome>,
    pub actions: Vec<SimAction>,
}

impl Architect {
    pub fn of(org: &SimulatedOrg) -> Architect {
        let org_name = org.name.as_deref();
        let id = |kind: &str, name: &str| match org_name {
            None => uuid_from(fnv1a(&[kind.as_bytes(), name.as_bytes()])),
            Some(org) => uuid_from(fnv1a(&[kind.as_bytes(), name.as_bytes(), org.as_bytes()])),
        };
        let home = division("Home", org_name);
        let flows = FLOWS
            .iter()
            .filter(|(_, _, media)| org.media_types.iter().any(|m| m == media))
            .map(|&(name, flow_type, media_type)| SimFlow {
                id: id("flow", name),
                name: name.to_string(),
                flow_type,
                media_type,
                division: home.clone(),
            })
            .collect();
        let outcomes = OUTCOMES
            .iter()
            .map(|name| {
                let id = id("flow-outcome", name);
                SimOutcome {
                    success: format!("{id}:SUCCESS"),
                    failure: format!("{id}:FAILURE"),
                    id,
                    name: name.to_string(),
                    division: home.clone(),
                }
            })
            .collect();
        let actions = ACTIONS
            .iter()
            .map(|&(name, integration, category)| SimAction {
                id: format!("custom_-_{}", id("data-action", name)),
                name: name.to_string(),
                integration_id: id("integration", integration),
                integration_name: integration.to_string(),
                category: category.to_string(),
            })
            .collect();
        Architect {
            flows,
            outcomes,
            actions,
        }
    }

    /// The flow in front of an atom's queue, if its conversations pass one.
    pub(super) fn flow_of(&self, atom: &Atom) -> Option<&SimFlow> {
        let queue = atom.queue()?;
        let name = match atom.media() {
            "voice" if RETENTION_QUEUES.contains(&queue.name.as_str()) => "Retention IVR",
            "voice" => "Main IVR",
            "chat" => "Web Chat",
            _ => return None,
        };
        self.flows.iter().find(|f| f.name == name)
    }
}
