//! The voice quality against the simulator: the histograms are the simulator's own calls,
//! each counted once, over overlapping refreshes, a failed one and a late one; pages that
//! shift while the exporter reads them neither lose nor double a call; the page cap reads
//! the latest calls and says how much it read; a 403 leaves every other source publishing;
//! a reload turns the source on and off.
//!
//! Time is held and the simulator shares the exporter's clock (unless a test moves it on
//! its own), so that each window read is known exactly and computed again here from
//! `genesys_sim::voice_calls` and `call_quality`.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_exporter::config::{Config, VoiceQualityConfig};
use genesys_exporter::metrics::{MOS_BUCKETS, PACKET_LOSS_BUCKETS, R_FACTOR_BUCKETS};
use genesys_sim::{FailureSurge, SimulatorConfig, VoiceCall, call_quality, edges, voice_calls};
use genesys_wire::EDGES_PATH;
use genesys_wire::details::CONVERSATION_DETAILS_PATH;
use genesys_wire::time::Clock;
use jiff::Timestamp;
use serde_json::json;

use crate::util::{
    ci::promtool,
    clock::{advance, advance_until, hold_time},
    exporter::{config_for, start_exporter, start_exporter_with},
    http::get,
    process::{exit_on_config, hang_up, sim_config, start_binary_for},
    samples::{Samples, of, value},
    sim::{AFTERNOON, Sim, afternoon_sim, forbidden, set_fault, start_simulator},
    wait::wait_for_metrics,
};

const MINUTE: Duration = Duration::from_secs(60);

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The simulator at [`AFTERNOON`] on `clock`.
async fn simulator(clock: Clock, faults: Vec<genesys_sim::FaultSpec>) -> Sim {
    start_simulator(SimulatorConfig {
        clock,
        faults,
        ..afternoon_sim()
    })
    .await
}

/// `config` with the voice quality on, its other keys at their defaults.
fn reading(mut config: Config) -> Config {
    config.voice_quality = VoiceQualityConfig {
        enabled: Some(true),
        ..VoiceQualityConfig::default()
    };
    config
}

fn up(samples: &Samples, query: &str) -> Option<f64> {
    value(samples, "genesys_up", &[("query", query)])
}

/// Whether the voice quality has published the window ending at `end`.
fn read_until(end: Timestamp) -> impl Fn(&Samples) -> bool {
    move |samples| {
        of(
            samples,
            "genesys_interval_end_timestamp_seconds",
            &[("query", "voice_quality")],
        ) == end.as_second() as f64
    }
}

/// `le` as prometheus-client writes a bucket's bound.
fn le(bound: f64) -> String {
    if bound.fract() == 0.0 {
        format!("{bound:.1}")
    } else {
        format!("{bound}")
    }
}

/// One label set's calls: their values per histogram, and how many were poor.
#[derive(Debug, Default)]
struct Observed {
    mos: Vec<f64>,
    r_factor: Vec<f64>,
    loss: Vec<f64>,
    poor: u64,
    /// A queue or Edge the directory lists: its series are there, at 0, before any call.
    listed: bool,
}

/// The voice series the simulator's calls that ended in `[from, until)` make: each call
/// once by its queue and once by its Edge, poor below 3.5.
fn expected(sim: &Sim, from: Timestamp, until: Timestamp) -> Samples {
    let (from, until) = (from.as_millisecond(), until.as_millisecond());
    expected_of(sim, |call| call.end_ms >= from && call.end_ms < until)
}

/// [`expected`] with the simulator's Edge degrade fault in force.
fn expected_degraded(
    sim: &Sim,
    degrade: &FailureSurge,
    from: Timestamp,
    until: Timestamp,
) -> Samples {
    let (from, until) = (from.as_millisecond(), until.as_millisecond());
    expected_under(sim, Some(degrade), |call| {
        call.end_ms >= from && call.end_ms < until
    })
}

/// The voice series of the simulator's calls that ended today by 14:30 and that `read`
/// picks.
fn expected_of(sim: &Sim, read: impl Fn(&VoiceCall) -> bool) -> Samples {
    expected_under(sim, None, read)
}

/// [`expected_of`] under the Edge degrade fault `degrade`, if any.
fn expected_under(
    sim: &Sim,
    degrade: Option<&FailureSurge>,
    read: impl Fn(&VoiceCall) -> bool,
) -> Samples {
    let org = sim.simulator.org();
    let edges = edges(org);
    // The Edge names are read from the Edge list, where the simulator serves one.
    let edge_names = genesys_sim::ENDPOINTS.iter().any(|e| e.path == EDGES_PATH);
    let day = at("2026-08-20T00:00:00Z");
    let mut by: BTreeMap<(&str, String, String), Observed> = BTreeMap::new();
    let listed = || Observed {
        listed: true,
        ..Observed::default()
    };
    for queue in &org.queues {
        by.insert(("queue", queue.id.clone(), queue.name.clone()), listed());
    }
    if edge_names {
        for edge in &edges {
            by.insert(("edge", edge.id.clone(), edge.name.to_string()), listed());
        }
    }
    let ended = voice_calls(org, None, day, at("2026-08-20T14:30:00Z"))
        .into_iter()
        .filter(|call| read(call));
    for call in ended {
        let quality = call_quality(org, degrade, &call);
        // An agent-direct call is counted by its Edge only.
        let queue = call.queue_id.map(|id| {
            let name = org.queues.iter().find(|q| q.id == id).unwrap().name.clone();
            ("queue", id.to_owned(), name)
        });
        let edge = &edges[call.edge];
        let edge = (
            edge.id.clone(),
            if edge_names {
                edge.name.to_string()
            } else {
                String::new()
            },
        );
        for place in queue.into_iter().chain([("edge", edge.0, edge.1)]) {
            let observed = by.entry(place).or_default();
            observed.mos.push(quality.mos);
            observed.r_factor.push(quality.r_factor);
            if quality.received > 0 {
                observed
                    .loss
                    .push(quality.discarded as f64 / quality.received as f64);
            }
            observed.poor += u64::from(quality.mos < 3.5);
        }
    }
    let mut samples = Samples::new();
    for ((kind, id, name), observed) in by {
        let labels = |extra: Option<String>| {
            let mut labels = BTreeMap::from([
                (format!("{kind}_id"), id.clone()),
                (kind.to_owned(), name.clone()),
            ]);
            if let Some(le) = extra {
                labels.insert("le".into(), le);
            }
            labels
        };
        let histograms: [(&str, &[f64], &[f64]); 3] = [
            ("genesys_voice_mos", &MOS_BUCKETS, &observed.mos),
            (
                "genesys_voice_r_factor",
                &R_FACTOR_BUCKETS,
                &observed.r_factor,
            ),
            (
                "genesys_voice_packet_loss_ratio",
                &PACKET_LOSS_BUCKETS,
                &observed.loss,
            ),
        ];
        for (name, buckets, values) in histograms {
            if values.is_empty() && !observed.listed {
                continue;
            }
            let count = values.len() as f64;
            samples.insert((format!("{name}_count"), labels(None)), count);
            samples.insert(
                (format!("{name}_sum"), labels(None)),
                values.iter().sum::<f64>(),
            );
            for bound in buckets {
                let within = values.iter().filter(|v| **v <= *bound).count();
                samples.insert(
                    (format!("{name}_bucket"), labels(Some(le(*bound)))),
                    within as f64,
                );
            }
            samples.insert(
                (format!("{name}_bucket"), labels(Some("+Inf".into()))),
                count,
            );
        }
        samples.insert(
            ("genesys_voice_poor_calls_total".into(), labels(None)),
            observed.poor as f64,
        );
    }
    samples
}

/// The voice series of `samples`.
fn published(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|((name, _), _)| {
            name.starts_with("genesys_voice_") && name != "genesys_voice_read_ratio"
        })
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// `published` is `expected`, each sum to rounding (the calls are added in another order).
fn assert_counted(published: &Samples, expected: &Samples) {
    let keys = |s: &Samples| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(published), keys(expected), "the same series");
    for (series, want) in expected {
        let got = published[series];
        let close = if series.0.ends_with("_sum") {
            (got - want).abs() <= 1e-9 * want.abs().max(1.0)
        } else {
            got == *want
        };
        assert!(close, "{series:?}: {got}, expected {want}");
    }
}

/// The calls `samples` counted: the MOS counts of the queues.
fn calls(samples: &Samples) -> f64 {
    samples
        .iter()
        .filter(|((name, labels), _)| {
            name == "genesys_voice_mos_count" && labels.contains_key("queue_id")
        })
        .map(|(_, count)| count)
        .sum()
}

fn read_ratio(samples: &Samples) -> Option<f64> {
    value(
        samples,
        "genesys_voice_read_ratio",
        &[("query", "voice_quality")],
    )
}

#[tokio::test(start_paused = true)]
async fn every_call_is_counted_once_over_overlapping_failed_and_late_refreshes() {
    let _held = hold_time();
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = simulator(clock.clone(), Vec::new()).await;
    let exporter = start_exporter(reading(config_for(&sim, vec![])), clock.clone()).await;
    // The first refresh, at 14:07: the five minutes to 14:05 (two to settle).
    let first = wait_for_metrics(&exporter.url, read_until(at("2026-08-20T14:05:00Z"))).await;
    assert_eq!(up(&first, "voice_quality"), Some(1.0));
    assert_eq!(read_ratio(&first), Some(1.0), "read down to its start");
    let start = at("2026-08-20T14:00:00Z");
    assert!(calls(&first) > 20.0, "a window with traffic");
    assert_counted(
        &published(&first),
        &expected(&sim, start, at("2026-08-20T14:05:00Z")),
    );
    if let Some(promtool) = promtool() {
        let body = get(&format!("{}/metrics", exporter.url)).await.body;
        crate::promtool::assert_promtool_accepts(promtool, &body);
    }
    // The landing page lists it beside the queries.
    let page = get(&format!("{}/", exporter.url)).await.body;
    assert!(
        page.contains(
            "<tr><td>voice_quality</td><td>voice quality of the calls that ended, every 5m</td>"
        ),
        "{page}"
    );

    // 14:12: [14:03, 14:10), two minutes read again, none counted twice.
    advance(5 * MINUTE).await;
    let second = wait_for_metrics(&exporter.url, read_until(at("2026-08-20T14:10:00Z"))).await;
    assert_counted(
        &published(&second),
        &expected(&sim, start, at("2026-08-20T14:10:00Z")),
    );

    // 14:17: the first page fails; nothing of that refresh counts.
    set_fault(
        &sim,
        json!({"fault": "malformed", "body": "empty", "path": CONVERSATION_DETAILS_PATH, "requests": 1}),
    )
    .await;
    advance(5 * MINUTE).await;
    let failed = [("query", "voice_quality")];
    let third = wait_for_metrics(&exporter.url, |s| {
        of(s, "genesys_poll_failures_total", &failed) == 1.0
    })
    .await;
    assert_eq!(up(&third, "voice_quality"), Some(0.0));
    assert_eq!(published(&third), published(&second), "nothing counted");

    // Late: the clock jumps to 14:30 before the 14:22 tick; that refresh reads from the
    // last good end (less the settle delay) to 14:28, all of it once.
    clock.advance(13 * MINUTE);
    let late = wait_for_metrics(&exporter.url, read_until(at("2026-08-20T14:28:00Z"))).await;
    assert_eq!(up(&late, "voice_quality"), Some(1.0));
    assert_eq!(
        of(
            &late,
            "genesys_interval_start_timestamp_seconds",
            &[("query", "voice_quality")]
        ),
        at("2026-08-20T14:08:00Z").as_second() as f64
    );
    assert_counted(
        &published(&late),
        &expected(&sim, start, at("2026-08-20T14:28:00Z")),
    );
}

/// The simulator's clock runs sixty times as fast as the exporter's while the exporter
/// reads small pages: calls end between pages, `totalHits` grows and every page after the
/// first shifts. Each call of the window is still counted once.
#[tokio::test(start_paused = true)]
async fn pages_that_shift_while_read_lose_and_double_no_call() {
    let _held = hold_time();
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = simulator(Clock::fast_from(AFTERNOON.parse().unwrap(), 60), Vec::new()).await;
    let mut settings = reading(config_for(&sim, vec![])).validate().unwrap();
    let voice = settings.voice_quality.as_mut().unwrap();
    voice.page_size = 5;
    voice.max_pages_per_refresh = 1000;
    let exporter = start_exporter_with(settings, clock).await;
    let (samples, _) = advance_until(&exporter.url, read_until(at("2026-08-20T14:05:00Z"))).await;
    assert_eq!(read_ratio(&samples), Some(1.0));
    assert!(
        sim.simulator.now() > at(AFTERNOON),
        "the simulator's calls went on ending while it was read"
    );
    assert_counted(
        &published(&samples),
        &expected(&sim, at("2026-08-20T14:00:00Z"), at("2026-08-20T14:05:00Z")),
    );
}

/// Two pages of thirty: the sixty calls that ended last are read, those of the window
/// among them counted, and the read ratio is the share of `totalHits` read.
#[tokio::test(start_paused = true)]
async fn the_page_cap_reads_the_latest_calls_and_says_how_many_of_all() {
    let _held = hold_time();
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = simulator(clock.clone(), Vec::new()).await;
    let mut settings = reading(config_for(&sim, vec![])).validate().unwrap();
    let voice = settings.voice_quality.as_mut().unwrap();
    voice.page_size = 30;
    voice.max_pages_per_refresh = 2;
    let exporter = start_exporter_with(settings, clock.clone()).await;
    let samples = wait_for_metrics(&exporter.url, read_until(at("2026-08-20T14:05:00Z"))).await;
    assert_eq!(sim.simulator.requests().conversation_details, 2);

    // The simulator's calls that ended by now, the latest first, as the query orders them.
    let now = clock.now().as_millisecond();
    let org = sim.simulator.org();
    let mut ended: Vec<_> = voice_calls(org, None, at("2026-08-20T00:00:00Z"), clock.now())
        .into_iter()
        .filter(|c| c.end_ms <= now)
        .collect();
    ended.sort_by(|a, b| (b.end_ms, &b.conversation_id).cmp(&(a.end_ms, &a.conversation_id)));
    let total = ended.len() as f64;
    assert_eq!(read_ratio(&samples), Some(60.0 / total));
    // Of the sixty read (the 37 calls that ended after the window among them), those
    // that ended in the window are counted; its earlier calls are not read at all.
    let read: Vec<&str> = ended[..60]
        .iter()
        .map(|c| c.conversation_id.as_str())
        .collect();
    let (start, end) = (
        at("2026-08-20T14:00:00Z").as_millisecond(),
        at("2026-08-20T14:05:00Z").as_millisecond(),
    );
    let wanted = expected_of(&sim, |call| {
        read.contains(&call.conversation_id.as_str()) && call.end_ms >= start && call.end_ms < end
    });
    assert!(
        calls(&wanted) >= 20.0,
        "{} of the window among them",
        calls(&wanted)
    );
    let all = expected(&sim, at("2026-08-20T14:00:00Z"), at("2026-08-20T14:05:00Z"));
    assert!(calls(&wanted) < calls(&all), "the cap left some out");
    assert_counted(&published(&samples), &wanted);
}

#[tokio::test]
async fn a_403_on_the_details_leaves_every_other_source_publishing() {
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let sim = simulator(clock.clone(), vec![forbidden(CONVERSATION_DETAILS_PATH)]).await;
    let exporter = start_exporter(reading(config_for(&sim, vec![])), clock).await;
    let samples = wait_for_metrics(&exporter.url, |s| {
        up(s, "voice_quality") == Some(0.0)
            && of(
                s,
                "genesys_poll_failures_total",
                &[("query", "voice_quality")],
            ) == 1.0
            && up(s, "default") == Some(1.0)
    })
    .await;
    let refused = [
        ("endpoint", "conversation_details"),
        ("reason", "forbidden"),
    ];
    assert_eq!(
        of(&samples, "genesys_api_failures_total", &refused),
        1.0,
        "asked once, not retried"
    );
    assert!(published(&samples).is_empty());
    assert_eq!(read_ratio(&samples), None);
    assert_eq!(sim.simulator.requests().conversation_details, 1);
}

/// The binary runs on the system clock and the simulator at its fixed instant, so the
/// windows read hold no calls; what a reload changes is whether the source runs at all.
#[tokio::test]
async fn a_reload_turns_the_voice_quality_on_and_off() {
    let sim = start_simulator(afternoon_sim()).await;
    let (process, url, dir) = start_binary_for(&sim, "", &[]).await;
    wait_for_metrics(&url, |s| up(s, "default") == Some(1.0)).await;
    assert_eq!(sim.simulator.requests().conversation_details, 0);
    let path = dir.path().join("genesys.toml");
    std::fs::write(&path, sim_config(&sim, "[voice_quality]\nenabled = true\n")).unwrap();
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| up(s, "voice_quality") == Some(1.0)).await;
    assert_eq!(read_ratio(&samples), Some(1.0));
    assert!(sim.simulator.requests().conversation_details >= 1);
    std::fs::write(&path, sim_config(&sim, "")).unwrap();
    hang_up(&process);
    let samples = wait_for_metrics(&url, |s| up(s, "voice_quality").is_none()).await;
    assert_eq!(read_ratio(&samples), None);
    assert!(published(&samples).is_empty());
    assert_eq!(up(&samples, "default"), Some(1.0));
}

#[tokio::test]
async fn check_config_says_what_the_voice_quality_reads_and_refuses_a_bad_table() {
    let credentials = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n";
    let good = format!("{credentials}[voice_quality]\nenabled = true\nrefresh = \"10m\"\n");
    let (status, log) = exit_on_config(&good, &["--check-config"]).await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("voice quality: the calls that ended, every 10m (2m behind), up to 20 pages of 100 a refresh; poor below MOS 3.5"),
        "{log}"
    );
    let bad = format!(
        "{credentials}[voice_quality]\nenabled = true\npage_size = 100\nmax_pages_per_refresh = 2000\nsettle_delay = \"1h\"\n"
    );
    let (status, log) = exit_on_config(&bad, &["--check-config"]).await;
    assert_eq!(status.code(), Some(2), "{log}");
    for problem in [
        "voice_quality.page_size × voice_quality.max_pages_per_refresh: 100 × 2000 passes the 100000 results the details query pages through; lower max_pages_per_refresh to 1000 or less",
        "voice_quality.settle_delay: 1h is out of range; use 0s to 10m (default 2m)",
    ] {
        assert!(log.contains(problem), "{problem}\n{log}");
    }
    let (status, log) =
        exit_on_config("[voice_quality]\nenabeld = true\n", &["--check-config"]).await;
    assert_eq!(status.code(), Some(2));
    assert!(log.contains("did you mean 'enabled'?"), "{log}");
}

/// An Edge whose calls degrade from 14:02 on: its calls that end from then are poor, each
/// counted once on its Edge and on its queue, as the simulator's quality says.
#[tokio::test(start_paused = true)]
async fn a_degraded_edges_calls_are_counted_poor_on_it() {
    let _held = hold_time();
    let clock = Clock::starting_at(AFTERNOON.parse().unwrap());
    let degrade = FailureSurge {
        target: "Edge HQ 1".into(),
        start: at("2026-08-20T14:02:00Z"),
    };
    let sim = start_simulator(SimulatorConfig {
        clock: clock.clone(),
        edge_degrade: Some(degrade.clone()),
        ..afternoon_sim()
    })
    .await;
    let exporter = start_exporter(reading(config_for(&sim, vec![])), clock).await;
    let samples = wait_for_metrics(&exporter.url, read_until(at("2026-08-20T14:05:00Z"))).await;
    let (start, end) = (at("2026-08-20T14:00:00Z"), at("2026-08-20T14:05:00Z"));
    assert_counted(
        &published(&samples),
        &expected_degraded(&sim, &degrade, start, end),
    );
    let hq1 = &edges(sim.simulator.org())[0];
    assert_eq!(hq1.name, "Edge HQ 1");
    let on_hq1 = |name: &str| {
        samples
            .iter()
            .filter(|((n, labels), _)| n == name && labels.get("edge_id") == Some(&hq1.id))
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    let (poor, calls) = (
        on_hq1("genesys_voice_poor_calls_total"),
        on_hq1("genesys_voice_mos_count"),
    );
    assert!(
        poor > 0.05 * calls && calls >= 20.0,
        "{poor} poor of {calls}"
    );
}
