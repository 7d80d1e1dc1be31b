//! The voice quality of each call: its MOS, R-factor and packets, as the details query
//! reports them. Drawn from a stream of the call's own seed, so that nothing else about
//! the call (or any other) changes with it.
//!
//! A healthy call is good (MOS 4.0–4.4) or fair (3.7–4.0). A few are poor (below 3.5),
//! spread so that no queue and no Edge has two starting within a quarter of an hour: only
//! the first call of a queue's minute can be poor, and only in that queue's and that
//! Edge's own minute of every two hours. So the poor-call alert (over 5% of at least 20
//! calls in 15 minutes) never fires on a healthy org, while a degraded Edge
//! ([`crate::SimulatorConfig::edge_degrade`]) makes every call on it that ends from the
//! fault's start on poor.

use super::calls::VoiceCall;
use super::edges::edges;
use super::failure_surge::FailureSurge;
use super::random::Draws;
use super::simulated_org::SimulatedOrg;

/// A call's voice quality: the lowest of its streams' MOS and R-factor, and its packets,
/// summed over its streams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallQuality {
    /// Mean opinion score, 1 to 5, to two decimals.
    pub mos: f64,
    /// The E-model's R-factor, 0 to 100, to one decimal.
    pub r_factor: f64,
    pub received: u64,
    pub discarded: u64,
}

/// Packets a voice stream carries each second (20 ms frames).
pub const PACKETS_PER_SECOND: f64 = 50.0;

/// The share of healthy calls that are fair rather than good.
const FAIR_SHARE: f64 = 0.08;

/// The chance that the first call of a queue's poor-eligible minute is poor.
const POOR_CHANCE: f64 = 0.9;

/// Poor-eligible minutes repeat with this period, in minutes: each (queue, Edge) pair
/// has one, every queue's three 40 minutes apart and every Edge's eight 15 apart.
const POOR_PERIOD_MINUTES: i64 = 120;

/// Seeds the quality stream apart from the call's other draws.
const QUALITY_SALT: u64 = 0x0A0D_10F5;

/// The voice quality of `call`, under `degrade` (an Edge whose calls turn poor from its
/// start on).
pub fn call_quality(
    org: &SimulatedOrg,
    degrade: Option<&FailureSurge>,
    call: &VoiceCall,
) -> CallQuality {
    let mut draws = Draws::new(call.seed ^ QUALITY_SALT);
    let (mos_draw, loss_draw, packet_draw) = (draws.unit(), draws.unit(), draws.unit());
    let degraded = degrade.is_some_and(|fault| {
        edges(org)
            .get(call.edge)
            .is_some_and(|edge| fault.hits(&edge.id, edge.name, call.end_ms))
    });
    let r_factor = if degraded {
        lerp(43.0, 56.0, mos_draw)
    } else if poor_eligible(org, call) && mos_draw < POOR_CHANCE {
        lerp(55.0, 66.0, mos_draw / POOR_CHANCE)
    } else if mos_draw < FAIR_SHARE {
        lerp(72.0, 80.0, mos_draw / FAIR_SHARE)
    } else {
        lerp(80.0, 93.2, (mos_draw - FAIR_SHARE) / (1.0 - FAIR_SHARE))
    };
    let r_factor = (r_factor * 10.0).round() / 10.0;
    let seconds = (call.end_ms.saturating_sub(call.start_ms)).max(0) as f64 / 1000.0;
    let received = (seconds * PACKETS_PER_SECOND * lerp(0.98, 1.02, packet_draw)).round() as u64;
    let loss = loss_ratio(r_factor) * lerp(0.7, 1.0, loss_draw);
    CallQuality {
        mos: (mos_of(r_factor) * 100.0).round() / 100.0,
        r_factor,
        received,
        discarded: (received as f64 * loss).round() as u64,
    }
}

/// The ITU-T G.107 E-model's MOS of an R-factor: R 93 is MOS 4.4, R 50 about 2.6.
pub fn mos_of(r_factor: f64) -> f64 {
    let r = r_factor.clamp(0.0, 100.0);
    1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
}

/// The share of packets lost: none at R 93, about 1% at R 80, 15% at R 43.
fn loss_ratio(r_factor: f64) -> f64 {
    let impairment = ((93.0 - r_factor) / 50.0).clamp(0.0, 1.0);
    0.15 * impairment * impairment
}

/// Whether `call` may be poor though healthy: the first of its minute, in the minute of
/// the period its queue (or the agent-direct calls, which count as one more) has on its
/// Edge. The eight lanes' minutes on one Edge are 15 apart and one lane's three Edges 40.
fn poor_eligible(org: &SimulatedOrg, call: &VoiceCall) -> bool {
    if call.arrival_index != 0 {
        return false;
    }
    let queues = &org.queues;
    let lane = match call.queue_id {
        Some(id) => queues.iter().position(|q| q.id == id).unwrap_or(0),
        None => queues.len(),
    } % 8;
    let slot = (lane as i64 * 15 + call.edge as i64 * 40) % POOR_PERIOD_MINUTES;
    call.start_ms
        .div_euclid(60_000)
        .rem_euclid(POOR_PERIOD_MINUTES)
        == slot
}

fn lerp(low: f64, high: f64, t: f64) -> f64 {
    low + (high - low) * t
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::Timestamp;

    use super::*;
    use crate::{edges, voice_calls};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn day_of_calls(org: &SimulatedOrg) -> Vec<VoiceCall<'_>> {
        voice_calls(
            org,
            None,
            ts("2026-08-20T00:00:00Z"),
            ts("2026-08-21T00:00:00Z"),
        )
    }

    fn loss(quality: &CallQuality) -> f64 {
        quality.discarded as f64 / quality.received.max(1) as f64
    }

    #[test]
    fn healthy_calls_are_mostly_good_with_a_small_poor_tail() {
        let org = SimulatedOrg::demo();
        let calls = day_of_calls(&org);
        let qualities: Vec<_> = calls.iter().map(|c| call_quality(&org, None, c)).collect();
        let share = |keep: &dyn Fn(&CallQuality) -> bool| {
            qualities.iter().filter(|q| keep(q)).count() as f64 / qualities.len() as f64
        };
        let good = share(&|q| (4.0..=4.41).contains(&q.mos));
        let poor = share(&|q| q.mos < 3.5);
        eprintln!("{} calls: good {good:.4}, poor {poor:.4}", calls.len());
        assert!(good > 0.85, "good {good}");
        // Few: the tail is spaced so that no queue or Edge has two poor calls in 15 minutes.
        assert!((0.001..0.02).contains(&poor), "poor {poor}");
        for (call, quality) in calls.iter().zip(&qualities) {
            // The E-model ties them: R 93 is MOS 4.4, R 50 about 2.6.
            assert!(
                (quality.mos - mos_of(quality.r_factor)).abs() <= 0.005,
                "{quality:?}"
            );
            let seconds = (call.end_ms - call.start_ms) as f64 / 1000.0;
            let expected = seconds * PACKETS_PER_SECOND;
            assert!((quality.received as f64 - expected).abs() <= expected * 0.02 + 1.0);
            let most = if quality.mos < 3.5 { 0.1 } else { 0.03 };
            // Short calls round their few packets.
            assert!(
                quality.received < 100 || loss(quality) < most,
                "{quality:?}"
            );
        }
        assert!((mos_of(93.0) - 4.41).abs() < 0.01 && (mos_of(50.0) - 2.58).abs() < 0.01);
        let mean_loss = |keep: &dyn Fn(&CallQuality) -> bool| {
            let kept: Vec<_> = qualities
                .iter()
                .filter(|q| keep(q) && q.received > 1000)
                .collect();
            kept.iter().map(|q| loss(q)).sum::<f64>() / kept.len() as f64
        };
        let (good_loss, poor_loss) = (mean_loss(&|q| q.mos >= 4.2), mean_loss(&|q| q.mos < 3.5));
        assert!(
            good_loss < 0.005 && poor_loss > 2.0 * good_loss,
            "{good_loss} {poor_loss}"
        );
    }

    /// The alert: more than 5% of at least 20 calls poor, over the calls that ended in
    /// the last 15 minutes, looked at each minute; per queue and per Edge.
    #[test]
    fn the_poor_call_alert_never_fires_on_a_healthy_day() {
        let org = SimulatedOrg::demo();
        let calls = day_of_calls(&org);
        let mut ends: BTreeMap<String, Vec<(i64, bool)>> = BTreeMap::new();
        for call in &calls {
            let poor = call_quality(&org, None, call).mos < 3.5;
            if let Some(queue) = call.queue_id {
                ends.entry(format!("queue {queue}"))
                    .or_default()
                    .push((call.end_ms, poor));
            }
            ends.entry(format!("edge {}", call.edge))
                .or_default()
                .push((call.end_ms, poor));
        }
        let (mut windows, mut poor_windows) = (0, 0);
        for (series, ends) in &ends {
            let first = ends.iter().map(|e| e.0).min().unwrap().div_euclid(60_000);
            let last = ends.iter().map(|e| e.0).max().unwrap().div_euclid(60_000) + 1;
            for minute in first..=last {
                let window = (minute - 15) * 60_000..minute * 60_000;
                let (calls, poor) = ends
                    .iter()
                    .filter(|(end, _)| window.contains(end))
                    .fold((0, 0), |(n, p), &(_, poor)| (n + 1, p + u32::from(poor)));
                if calls < 20 {
                    continue;
                }
                windows += 1;
                poor_windows += u32::from(poor > 0);
                assert!(
                    f64::from(poor) / f64::from(calls) <= 0.05,
                    "{series}: {poor} of {calls} poor in the 15 minutes to minute {minute}"
                );
            }
        }
        eprintln!("{windows} windows of at least 20 calls, {poor_windows} with a poor call");
        assert!(windows > 1000 && poor_windows > 50, "the tail is there");
    }

    #[test]
    fn a_degraded_edge_makes_its_calls_poor_from_its_start_only() {
        let org = SimulatedOrg::demo();
        let hq2 = &edges(&org)[1];
        let start = ts("2026-08-20T14:00:00Z");
        let by_name = FailureSurge {
            target: hq2.name.into(),
            start,
        };
        let by_id = FailureSurge {
            target: hq2.id.clone(),
            start,
        };
        let (mut degraded, mut kept) = (0, 0);
        for call in &day_of_calls(&org) {
            let healthy = call_quality(&org, None, call);
            let quality = call_quality(&org, Some(&by_name), call);
            assert_eq!(quality, call_quality(&org, Some(&by_id), call));
            if call.edge == 1 && call.end_ms >= start.as_millisecond() {
                degraded += 1;
                assert!((2.2..2.9).contains(&quality.mos), "{quality:?}");
                assert!(quality.r_factor < 60.0, "{quality:?}");
                if quality.received > 1000 {
                    assert!((0.05..=0.15).contains(&loss(&quality)), "{quality:?}");
                }
                assert_eq!(quality.received, healthy.received);
            } else {
                kept += 1;
                assert_eq!(quality, healthy);
            }
        }
        assert!(degraded > 1000 && kept > 1000, "{degraded} {kept}");
    }
}
