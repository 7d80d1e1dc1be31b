//! Filters, as the API spells them: which atoms (or flow records, or action calls) a
//! query covers.

use serde::Deserialize;

use super::protocol::bad_request;
use genesys_wire::ErrorBody;
use genesys_wire::catalogue::is_dimension;

/// Something a filter or a groupBy can look at: the value of a dimension, if it has one.
pub(super) trait Dimensions {
    fn dimension(&self, name: &str) -> Option<&str>;
}

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
    /// A conversations query's filter: its dimensions are the conversation catalogue's.
    pub(super) fn parse(value: &serde_json::Value) -> Result<Filter, ErrorBody> {
        Filter::parse_for(value, is_dimension)
    }

    /// A filter whose dimensions are those `is_dimension` knows (the flows and actions
    /// queries have their own).
    pub(super) fn parse_for(
        value: &serde_json::Value,
        is_dimension: fn(&str) -> bool,
    ) -> Result<Filter, ErrorBody> {
        let filter = Filter::deserialize(value)
            .map_err(|e| bad_request("bad.request", "filter", format!("Invalid filter: {e}")))?;
        filter.validate(is_dimension)?;
        Ok(filter)
    }

    fn validate(&self, is_dimension: fn(&str) -> bool) -> Result<(), ErrorBody> {
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
        self.clauses
            .iter()
            .try_for_each(|clause| clause.validate(is_dimension))
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

    /// Whether a predicate anywhere in the filter is on `dimension`.
    pub(super) fn mentions(&self, dimension: &str) -> bool {
        self.predicates
            .iter()
            .any(|p| p.dimension.as_deref() == Some(dimension))
            || self.clauses.iter().any(|c| c.mentions(dimension))
    }

    /// Refuses a filter of more than `max` predicates, in all its clauses together.
    pub(super) fn check_predicate_count(&self, max: usize) -> Result<(), ErrorBody> {
        if self.predicate_count() > max {
            return Err(bad_request(
                "constraint.validation",
                "filter",
                format!("The filter has more than {max} predicates"),
            ));
        }
        Ok(())
    }

    /// The predicates in the filter and all its clauses.
    fn predicate_count(&self) -> usize {
        self.predicates.len()
            + self
                .clauses
                .iter()
                .map(Filter::predicate_count)
                .sum::<usize>()
    }

    /// A filter with no predicates and no clauses restricts nothing.
    pub(super) fn accepts(&self, atom: &impl Dimensions) -> bool {
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
    fn accepts(&self, atom: &impl Dimensions) -> bool {
        let value = atom.dimension(self.dimension.as_deref().unwrap_or_default());
        match self.operator {
            Operator::Matches => value.is_some() && value == self.value.as_deref(),
            Operator::Exists => value.is_some(),
            Operator::NotExists => value.is_none(),
        }
    }
}
