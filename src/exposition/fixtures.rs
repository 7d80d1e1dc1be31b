//! What the exposition's tests share: an interval, answers for it, and their gauge lines.

use std::time::Duration;

use super::flatten::QuerySamples;
use super::names::Names;
use super::render::write_gauges;
use genesys_wire::time::Interval;
use genesys_wire::{AggregateGroup, AggregateResponse, IntervalData, MetricEntry, Stats};

pub const HOUR: Duration = Duration::from_secs(3600);

pub fn window() -> Interval {
    Interval {
        start: "2026-08-20T10:00:00Z".parse().unwrap(),
        end: "2026-08-20T10:15:00Z".parse().unwrap(),
    }
}

pub fn entry(metric: &str, stats: Stats) -> MetricEntry {
    MetricEntry {
        metric: metric.into(),
        qualifier: None,
        stats,
    }
}

/// A group's metrics: `n` conversations offered.
pub fn offered(n: f64) -> Vec<MetricEntry> {
    vec![entry(
        "nOffered",
        Stats {
            count: Some(n),
            ..Stats::default()
        },
    )]
}

/// A group's (dimension, value) pairs and its metrics.
pub type Group<'a> = (Vec<(&'a str, &'a str)>, Vec<MetricEntry>);

pub fn response(groups: Vec<Group>) -> AggregateResponse {
    AggregateResponse {
        results: groups
            .into_iter()
            .map(|(group, metrics)| AggregateGroup {
                group: group
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
                data: vec![IntervalData {
                    interval: "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z".into(),
                    metrics,
                }],
            })
            .collect(),
    }
}

/// The gauge lines of `samples`.
pub fn render(samples: QuerySamples) -> String {
    render_named(samples, &Names::default())
}

/// [`render`], with `names` beside the IDs.
pub fn render_named(samples: QuerySamples, names: &Names) -> String {
    let mut text = String::new();
    write_gauges(&[(&samples, names)], |chunk| text.push_str(chunk));
    text
}
