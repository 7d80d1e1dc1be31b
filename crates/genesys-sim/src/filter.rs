//! Filters, as the API spells them: which atoms a query covers, or (the agent-state
//! counts' `userFilter`, the same shape) which people.

use serde::Deserialize;

use super::protocol::bad_request;
use super::traffic::Atom;
use genesys_wire::ErrorBody;
use genesys_wire::catalogue::is_dimension;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Filter {
    #[serde(rename = "type")]
    junction: Junction,
    #[serde(default)]
    predicates: Vec<Predicate>,
    #[serde(default)]
    clauses: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Junction {
    And,
    Or,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    #[serde(rename = "type", default = "dimension_type")]
    kind: String,
    dimension: Option<String>,
    #[serde(default)]
    operator: Operator,
    value: Option<String>,
}

fn dimension_type() -> String {
    "dimension".to_string()
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Operator {
    #[default]
    Matches,
    Exists,
    NotExists,
}

impl Filter {
    /// A conversation filter: its dimensions are the catalogue's.
    pub(super) fn parse(value: &serde_json::Value) -> Result<Filter, ErrorBody> {
        Filter::parse_with(value, &is_dimension)
    }

    /// A filter whose dimensions are those `known` accepts.
    pub(super) fn parse_with(
        value: &serde_json::Value,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<Filter, ErrorBody> {
        let filter = Filter::deserialize(value)
            .map_err(|e| bad_request("bad.request", "filter", format!("Invalid filter: {e}")))?;
        filter.validate(known)?;
        Ok(filter)
    }

    fn validate(&self, known: &dyn Fn(&str) -> bool) -> Result<(), ErrorBody> {
        for predicate in &self.predicates {
            if predicate.kind != "dimension" {
                // The real API also filters on properties and metric ranges; the simulator's
                // model has no per-conversation properties to test them against.
                return Err(bad_request(
                    "invalid.value",
                    "filter.predicates.type",
                    format!(
                        "The simulator supports only dimension predicates, not '{}'",
                        predicate.kind
                    ),
                ));
            }
            let dimension = predicate.dimension.as_deref().unwrap_or_default();
            if !known(dimension) {
                return Err(bad_request(
                    "invalid.value",
                    "filter.predicates.dimension",
                    format!("Invalid dimension '{dimension}' in filter"),
                ));
            }
            if matches!(predicate.operator, Operator::Matches) && predicate.value.is_none() {
                return Err(bad_request(
                    "bad.request",
                    "filter.predicates.value",
                    format!("The 'matches' predicate on '{dimension}' needs a value"),
                ));
            }
        }
        self.clauses
            .iter()
            .try_for_each(|clause| clause.validate(known))
    }

    /// Refuses a predicate on a dimension not in `allowed`, anywhere in the filter: the
    /// observations query filters on queueId and mediaType only.
    pub(super) fn check_dimensions(&self, allowed: &[&str]) -> Result<(), ErrorBody> {
        for predicate in &self.predicates {
            let dimension = predicate.dimension.as_deref().unwrap_or_default();
            if !allowed.contains(&dimension) {
                return Err(bad_request(
                    "invalid.value",
                    "filter.predicates.dimension",
                    format!(
                        "Invalid dimension '{dimension}' in filter: use {}",
                        allowed.join(" or ")
                    ),
                ));
            }
        }
        self.clauses
            .iter()
            .try_for_each(|clause| clause.check_dimensions(allowed))
    }

    /// The predicates in the filter and all its clauses.
    pub(super) fn predicate_count(&self) -> usize {
        self.predicates.len()
            + self
                .clauses
                .iter()
                .map(Filter::predicate_count)
                .sum::<usize>()
    }

    /// A filter with no predicates and no clauses restricts nothing.
    pub(super) fn accepts(&self, subject: &impl Dimensions) -> bool {
        let mut terms = self
            .predicates
            .iter()
            .map(|p| p.accepts(subject))
            .chain(self.clauses.iter().map(|c| c.accepts(subject)))
            .peekable();
        if terms.peek().is_none() {
            return true;
        }
        match self.junction {
            Junction::And => terms.all(|t| t),
            Junction::Or => terms.any(|t| t),
        }
    }
}

/// What a filter tests: a conversation's atom, or a person, who may have several values
/// of one dimension (the queues they are a member of).
pub(super) trait Dimensions {
    /// Whether it has `value` for `dimension`, or (`None`) any value.
    fn has(&self, dimension: &str, value: Option<&str>) -> bool;
}

impl Dimensions for Atom<'_> {
    fn has(&self, dimension: &str, value: Option<&str>) -> bool {
        self.dimension(dimension)
            .is_some_and(|own| value.is_none_or(|value| value == own))
    }
}

impl Predicate {
    fn accepts(&self, subject: &impl Dimensions) -> bool {
        let dimension = self.dimension.as_deref().unwrap_or_default();
        match self.operator {
            Operator::Matches => self
                .value
                .as_deref()
                .is_some_and(|value| subject.has(dimension, Some(value))),
            Operator::Exists => subject.has(dimension, None),
            Operator::NotExists => !subject.has(dimension, None),
        }
    }
}
