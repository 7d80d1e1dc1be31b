//! Conversation errors: the few voice conversations that hit a media or signalling error on
//! one of the org's Edges (`nError`), or a state transition error (`nStateTransitionError`),
//! each with an `errorCode` and an `edgeId`.
//!
//! Each voice conversation of the traffic model (queued or agent-direct) gets an error with
//! probability [`ERROR_RATE`] and, independently, a state transition error with probability
//! [`STATE_TRANSITION_ERROR_RATE`], drawn from a stream of its own, so that the other
//! aggregates are what they always were. So a bucket's `nError` and `nStateTransitionError`
//! are each at most the voice conversations of the bucket (`nOffered` plus the
//! agent-direct calls). An error counts in the minute slot its conversation arrived in.

use super::filter::Dimensions;
use super::random::{Draws, mix};
use super::surge::Surge;
use super::tally::ErrorKind;
use super::traffic::Atom;

/// The conversation metrics this model produces.
pub(super) const METRICS: [&str; 2] = ["nError", "nStateTransitionError"];

/// The probability that a voice conversation has an error.
pub const ERROR_RATE: f64 = 0.02;

/// The probability that a voice conversation has a state transition error.
pub const STATE_TRANSITION_ERROR_RATE: f64 = 0.005;

/// The error codes, as the Edge reports them.
pub const ERROR_CODES: [&str; 3] = [
    "error.ininedgecontrol.connection.media.endpoint.timeout",
    "error.ininedgecontrol.session.inactive",
    "error.ininedgecontrol.connection.remote.unavailable",
];

/// Seeds the errors' stream, apart from the main draws.
const ERROR_SALT: u64 = 0xE880_0001;

/// One error of one conversation.
pub(super) struct ConversationError<'a> {
    pub(super) atom: &'a Atom<'a>,
    pub(super) kind: ErrorKind,
    pub(super) edge_id: &'a str,
    pub(super) error_code: &'static str,
}

impl Dimensions for ConversationError<'_> {
    fn dimension(&self, name: &str) -> Option<&str> {
        match name {
            "edgeId" => Some(self.edge_id),
            "errorCode" => Some(self.error_code),
            _ => self.atom.dimension(name),
        }
    }
}

/// Calls `visit` with each error of the conversations of `atom` in the minute slot
/// `minute`, under `surge` (whose extra callers may have errors too), on one of `edges`
/// (the org's [`crate::edge_ids`]).
pub(super) fn each_error<'a>(
    edges: &'a [String],
    atom: &'a Atom<'a>,
    minute: i64,
    surge: Option<&Surge>,
    mut visit: impl FnMut(ConversationError<'_>),
) {
    if atom.media() != "voice" {
        return;
    }
    let mut stream = Draws::new(mix(atom.key() ^ ERROR_SALT) ^ mix(minute as u64));
    atom.each_conversation(minute, surge, |_| {
        let mut draws = stream.fork();
        for (kind, rate) in [
            (ErrorKind::Error, ERROR_RATE),
            (ErrorKind::StateTransition, STATE_TRANSITION_ERROR_RATE),
        ] {
            let happened = draws.chance(rate);
            let edge = &edges[(draws.unit() * edges.len() as f64) as usize % edges.len()];
            let code = ERROR_CODES[(draws.unit() * ERROR_CODES.len() as f64) as usize % 3];
            if happened {
                visit(ConversationError {
                    atom,
                    kind,
                    edge_id: edge,
                    error_code: code,
                });
            }
        }
    });
}
