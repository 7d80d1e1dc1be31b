//! "Did you mean": the known names nearest a misspelt one, by edit distance, for the
//! messages about metrics, dimensions, observation metrics, regions and keys.

/// The most names one suggestion offers when several are as near.
const MAX_SUGGESTIONS: usize = 3;

/// The known names nearest to `name`, compared without case, by the optimal string
/// alignment distance (an insertion, a deletion, a substitution or a swap of two neighbours
/// is one edit: `tHandel` is one edit from `tHandle`). Only names within a third of
/// `name`'s length (at least one edit) are near enough; past that a suggestion is a guess.
/// Several names at the same distance are all offered, up to three, in `known`'s order.
pub(crate) fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let typed = name.trim().to_lowercase();
    let limit = (typed.chars().count() / 3).max(1);
    let mut best = limit + 1;
    let mut nearest = Vec::new();
    for candidate in known {
        let distance = strsim::osa_distance(&typed, &candidate.to_lowercase());
        if distance < best {
            best = distance;
            nearest.clear();
        }
        if distance == best && nearest.len() < MAX_SUGGESTIONS && !nearest.contains(&candidate) {
            nearest.push(candidate);
        }
    }
    nearest
}

/// "did you mean 'tHandle'?", or "did you mean 'us-east-1' or 'us-east-2'?"; `None` when
/// no known name is near enough.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let names: Vec<String> = nearest(name, known)
        .iter()
        .map(|name| format!("'{name}'"))
        .collect();
    match names.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean {one}?")),
        [first @ .., last] => Some(format!("did you mean {} or {last}?", first.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesys_wire::OBSERVATION_METRICS;
    use genesys_wire::catalogue::{DIMENSIONS, all_metrics};
    use genesys_wire::region::REGIONS;

    #[test]
    fn misspelt_names_get_the_nearest_known_one() {
        assert_eq!(nearest("tHandel", all_metrics()), ["tHandle"]);
        assert_eq!(nearest("oServiceLvl", all_metrics()), ["oServiceLevel"]);
        assert_eq!(nearest("thandle", all_metrics()), ["tHandle"]);
        assert_eq!(nearest("nOfered", all_metrics()), ["nOffered"]);
        let regions = || REGIONS.iter().map(|(name, _)| *name);
        assert_eq!(nearest("eu-west1", regions()), ["eu-west-1"]);
        assert_eq!(nearest("queueID", DIMENSIONS.iter().copied()), ["queueId"]);
        assert_eq!(
            nearest("meidaType", DIMENSIONS.iter().copied()),
            ["mediaType"]
        );
        assert_eq!(nearest("oWaitng", OBSERVATION_METRICS), ["oWaiting"]);
    }

    #[test]
    fn names_too_far_from_any_get_no_suggestion() {
        assert_eq!(
            nearest("colour", DIMENSIONS.iter().copied()),
            Vec::<&str>::new()
        );
        assert_eq!(nearest("tFoo", all_metrics()), Vec::<&str>::new());
        assert_eq!(nearest("x", ["abc"]), Vec::<&str>::new());
        assert_eq!(did_you_mean("handle time", all_metrics()), None);
    }

    #[test]
    fn names_equally_near_are_all_offered() {
        let regions = REGIONS.iter().map(|(name, _)| *name);
        assert_eq!(
            did_you_mean("us-east-3", regions).as_deref(),
            Some("did you mean 'us-east-1' or 'us-east-2'?")
        );
        assert_eq!(
            did_you_mean("tHandel", all_metrics()).as_deref(),
            Some("did you mean 'tHandle'?")
        );
    }
}
