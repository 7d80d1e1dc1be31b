//! The observations queries: the queues (or flows) to observe, asked about in chunks of at
//! most `queues_per_request` queue IDs (100 flow IDs), one request each.

use genesys_wire::ObservationQuery;

/// The most queue IDs one request names (`queues_per_request`). Genesys documents no
/// limit, and public clients send at most 100: more is not worth the risk of a 400 or of
/// an answer too large to read.
pub const MAX_QUEUES_PER_REQUEST: usize = 100;

/// The requests that observe `queue_ids` for `metrics`: one per chunk of at most
/// `per_request` IDs (at least 1, at most [`MAX_QUEUES_PER_REQUEST`]), in the order given;
/// none for no queues.
pub fn requests<'a>(
    queue_ids: &'a [String],
    metrics: &'a [String],
    per_request: usize,
) -> impl Iterator<Item = ObservationQuery> + 'a {
    requests_by("queueId", queue_ids, metrics, per_request)
}

/// The requests that observe `ids` of `dimension` (`queueId`, `flowId`) for `metrics`: one
/// per chunk of at most `per_request` IDs (at least 1, at most 100), in the order given;
/// none for no IDs.
pub fn requests_by<'a>(
    dimension: &'static str,
    ids: &'a [String],
    metrics: &'a [String],
    per_request: usize,
) -> impl Iterator<Item = ObservationQuery> + 'a {
    ids.chunks(per_request.clamp(1, MAX_QUEUES_PER_REQUEST))
        .map(move |chunk| ObservationQuery {
            filter: or_filter(dimension, chunk),
            metrics: metrics.to_vec(),
            detail_metrics: Vec::new(),
        })
}

/// `{"type": "or", "predicates": [{"dimension": "queueId", "value": "<id>"}, ...]}`.
fn or_filter(dimension: &str, ids: &[String]) -> serde_json::Value {
    let predicates: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"dimension": dimension, "value": id}))
        .collect();
    serde_json::json!({"type": "or", "predicates": predicates})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_asked_about_in_chunks_with_an_or_filter() {
        let ids: Vec<String> = (0..250).map(|i| format!("q{i}")).collect();
        let metrics = vec!["oWaiting".to_string()];
        let chunks: Vec<ObservationQuery> = requests(&ids, &metrics, 100).collect();
        assert_eq!(chunks.len(), 3);
        let sizes: Vec<usize> = chunks
            .iter()
            .map(|r| r.filter["predicates"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        let body = serde_json::to_value(&chunks[2]).unwrap();
        assert_eq!(body["filter"]["type"], "or");
        assert_eq!(
            body["filter"]["predicates"][0],
            serde_json::json!({"dimension": "queueId", "value": "q200"})
        );
        assert_eq!(body["metrics"], serde_json::json!(["oWaiting"]));
        assert!(body.get("detailMetrics").is_none(), "{body}");

        // Out-of-range chunk sizes are held to 1..=100; no queues, no request.
        assert_eq!(requests(&ids, &metrics, 0).count(), 250);
        assert_eq!(requests(&ids, &metrics, 1000).count(), 3);
        assert_eq!(requests(&[], &metrics, 100).count(), 0);
    }

    #[test]
    fn flows_are_asked_about_by_flow_id_in_chunks_of_a_hundred() {
        let ids: Vec<String> = (0..201).map(|i| format!("f{i}")).collect();
        let metrics = vec!["oFlow".to_string()];
        let chunks: Vec<ObservationQuery> = requests_by(
            "flowId",
            &ids,
            &metrics,
            genesys_wire::MAX_FLOWS_PER_REQUEST,
        )
        .collect();
        let sizes: Vec<usize> = chunks
            .iter()
            .map(|r| r.filter["predicates"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 1]);
        assert_eq!(
            chunks[1].filter["predicates"][0],
            serde_json::json!({"dimension": "flowId", "value": "f100"})
        );
        assert_eq!(chunks[2].metrics, ["oFlow"]);
    }
}
