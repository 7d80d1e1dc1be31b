//! The queue observations query: the queues to observe, asked about in chunks of at most
//! `queues_per_request` queue IDs, one request each.

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
    queue_ids
        .chunks(per_request.clamp(1, MAX_QUEUES_PER_REQUEST))
        .map(|chunk| ObservationQuery {
            filter: queue_filter(chunk),
            metrics: metrics.to_vec(),
            detail_metrics: Vec::new(),
        })
}

/// `{"type": "or", "predicates": [{"dimension": "queueId", "value": "<id>"}, ...]}`.
fn queue_filter(queue_ids: &[String]) -> serde_json::Value {
    let predicates: Vec<serde_json::Value> = queue_ids
        .iter()
        .map(|id| serde_json::json!({"dimension": "queueId", "value": id}))
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
}
