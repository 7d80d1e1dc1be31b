//! Filters, as the API spells them: which atoms a query covers.

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
    pub(super) fn parse(value: &serde_json::Value) -> Result<Filter, ErrorBody> {
        let filter = Filter::deserialize(value)
            .map_err(|e| bad_request("bad.request", "filter", format!("Invalid filter: {e}")))?;
        filter.validate()?;
        Ok(filter)
    }

    fn validate(&self) -> Result<(), ErrorBody> {
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
            if !is_dimension(dimension) {
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
        self.clauses.iter().try_for_each(Filter::validate)
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
    pub(super) fn accepts(&self, atom: &Atom) -> bool {
        let mut terms = self
            .predicates
            .iter()
            .map(|p| p.accepts(atom))
            .chain(self.clauses.iter().map(|c| c.accepts(atom)))
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

impl Predicate {
    fn accepts(&self, atom: &Atom) -> bool {
        let value = atom.dimension(self.dimension.as_deref().unwrap_or_default());
        match self.operator {
            Operator::Matches => value.is_some() && value == self.value.as_deref(),
            Operator::Exists => value.is_some(),
            Operator::NotExists => value.is_none(),
        }
    }
}
