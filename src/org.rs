//! Which Genesys Cloud org something belongs to: a configured `[[orgs]]` table's name, or
//! the one org of a configuration without `[[orgs]]`, whose series carry no `org` label,
//! exactly as before orgs existed.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// An org: named by its `[[orgs]]` table, or the unnamed org of a configuration without
/// them. Cheap to clone.
///
/// As a label set it is `org="<name>"`, or nothing for the unnamed org: Prometheus treats
/// a missing label and an empty one alike, so `sum by (org, ...)` and `org=~"$org"` work
/// on both shapes.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Org(Option<Arc<str>>);

impl Org {
    /// The one org of a configuration without `[[orgs]]`.
    pub fn unnamed() -> Org {
        Org(None)
    }

    /// The org of the `[[orgs]]` table named `name`.
    pub fn named(name: &str) -> Org {
        Org(Some(name.into()))
    }

    /// Its `[[orgs]]` name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// `org "east"`, or `the org` for the unnamed one: for log lines and messages.
impl fmt::Display for Org {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "org {name:?}"),
            None => f.write_str("the org"),
        }
    }
}

impl EncodeLabelSet for Org {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        match self.name() {
            Some(name) => ("org", name).encode(encoder.encode_label()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        #[prometheus(flatten)]
        org: Org,
        query: String,
    }

    #[test]
    fn a_named_org_is_a_label_and_the_unnamed_one_is_none() {
        let mut registry = Registry::default();
        let family = Family::<Labels, Counter>::default();
        registry.register("polls", "Polls", family.clone());
        for org in [Org::named("east"), Org::unnamed()] {
            let labels = Labels {
                org,
                query: "q".into(),
            };
            family.get_or_create(&labels).inc();
        }
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("polls_total{org=\"east\",query=\"q\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("polls_total{query=\"q\"} 1\n"), "{text}");
    }

    #[test]
    fn messages_name_the_org() {
        assert_eq!(Org::named("east").to_string(), "org \"east\"");
        assert_eq!(Org::unnamed().to_string(), "the org");
    }
}
