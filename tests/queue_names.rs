//! Queue names on the exporter's series: paged, refreshed, renamed, deleted, forbidden.

use std::time::Duration;

use genesys_exporter::config::DEFAULT_METRICS;
use genesys_sim::{SimulatedOrg, SimulatorConfig};
use genesys_wire::time::Clock;

use crate::util::{
    expected::{assert_same_samples, expected_from},
    exporter::{config_for, start_exporter},
    process::start_binary_for,
    samples::{Samples, conversation, value},
    sim::{afternoon_sim, start_simulator},
    wait::{wait_for_metrics, wait_until},
};

fn busy_afternoon() -> Clock {
    Clock::starting_at("2026-08-20T14:07:00Z".parse().unwrap())
}

/// The `queue` label of the offered gauge of `queue_id`'s voice series.
fn queue_label(samples: &Samples, queue_id: &str) -> Option<String> {
    samples
        .keys()
        .find(|(name, labels)| {
            name == "genesys_conversation_offered"
                && labels.get("queue_id").map(String::as_str) == Some(queue_id)
                && labels.get("media_type").map(String::as_str) == Some("voice")
        })
        .map(|(_, labels)| labels.get("queue").cloned().unwrap_or_default())
}

#[tokio::test]
async fn names_come_from_every_page_of_the_queue_list() {
    let org = SimulatedOrg::with_queues(230, vec!["voice".into()]);
    let last = org.queues[229].clone();
    let sim = start_simulator(SimulatorConfig {
        org,
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter(config_for(&sim, vec![]), busy_afternoon()).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    // 230 queues at 100 a page.
    assert_eq!(sim.simulator.requests().queues, 3);
    assert_eq!(value(&samples, "genesys_queue_names", &[]), Some(230.0));
    assert_eq!(value(&samples, "genesys_queue_names_up", &[]), Some(1.0));
    assert_eq!(
        queue_label(&samples, &last.id).as_deref(),
        Some(last.name.as_str()),
        "a queue from the third page"
    );
}

#[tokio::test]
async fn a_renamed_queue_changes_its_label_and_a_deleted_one_loses_its_name() {
    let sim = start_simulator(afternoon_sim()).await;
    let org = SimulatedOrg::demo();
    let sales = org
        .queues
        .iter()
        .find(|q| q.name == "Sales")
        .unwrap()
        .id
        .clone();
    let billing = org
        .queues
        .iter()
        .find(|q| q.name == "Billing")
        .unwrap()
        .id
        .clone();
    let mut config = config_for(&sim, vec![]);
    // Four reads a second: 240 requests a minute, within the whole API budget.
    config.queue_names_refresh = Some(Duration::from_millis(250));
    config.api_budget_share = Some(1.0);
    let exporter = start_exporter(config, busy_afternoon()).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    assert_eq!(queue_label(&samples, &sales).as_deref(), Some("Sales"));

    sim.simulator.rename_queue(&sales, "Sales \"EU\" \\ Nord");
    sim.simulator.delete_queue(&billing);
    let before = sim.simulator.requests().queues;
    let samples = wait_for_metrics(&exporter.url, |s| {
        queue_label(s, &sales).as_deref() == Some("Sales \"EU\" \\ Nord")
    })
    .await;
    // The read that renamed Sales no longer lists Billing: each read replaces the names
    // whole, so that names of queues gone never pile up.
    assert_ne!(queue_label(&samples, &billing).as_deref(), Some("Billing"));
    wait_until("three more refreshes of the queue list", || {
        sim.simulator.requests().queues >= before + 3
    })
    .await;
    let samples = wait_for_metrics(&exporter.url, |_| true).await;
    assert_ne!(queue_label(&samples, &billing).as_deref(), Some("Billing"));
    assert_eq!(value(&samples, "genesys_queue_names", &[]), Some(5.0));
}

#[tokio::test]
async fn without_routing_queue_view_it_exports_ids_and_warns_once() {
    let sim = start_simulator(afternoon_sim()).await;
    sim.simulator.forbid_queue_list(true);
    let (process, url, _dir) = start_binary_for(
        &sim,
        "queue_names_refresh = \"250ms\"\napi_budget_share = 1.0\n[observations]\nenabled = false\n",
        &[],
    )
    .await;
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_up", &[("query", "default")]) == Some(1.0)
    })
    .await;
    assert_eq!(value(&samples, "genesys_queue_names_up", &[]), Some(0.0));
    let labelled = samples
        .keys()
        .filter(|(_, labels)| labels.contains_key("queue"))
        .count();
    assert_eq!(labelled, 0, "no names without the permission");
    // The binary polls by the wall clock: its series are the simulator's data for the
    // interval it published, under queue IDs alone.
    let unnamed: Samples = expected_from(&sim, &samples, "default", "PT15M", DEFAULT_METRICS)
        .into_iter()
        .map(|((name, mut labels), value)| {
            labels.remove("queue");
            ((name, labels), value)
        })
        .collect();
    assert_same_samples(&conversation(&samples), &unnamed);

    wait_until("five refused asks for the queue list", || {
        sim.simulator.requests().queues >= 5
    })
    .await;
    let log = process.log();
    assert_eq!(
        log.matches("grant the OAuth client's role routing:queue:view")
            .count(),
        1,
        "{log}"
    );

    // Granted later: names appear at the next refresh, on every series with a queue ID.
    sim.simulator.forbid_queue_list(false);
    let samples = wait_for_metrics(&url, |s| {
        value(s, "genesys_queue_names_up", &[]) == Some(1.0)
    })
    .await;
    let named = expected_from(&sim, &samples, "default", "PT15M", DEFAULT_METRICS);
    assert_same_samples(&conversation(&samples), &named);
}
