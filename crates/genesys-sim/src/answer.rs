//! The aggregates query answered as the real API would: validation with the real error
//! codes, the interval cut into buckets in the query's time zone, atoms grouped by the
//! query's dimensions, each bucket the sum of its minute slots.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::errors;
use super::filter::{Dimensions, Filter};
use super::protocol::bad_request;
use super::simulated_org::SimulatedOrg;
use super::surge::Surge;
use super::tally::Tally;
use super::traffic::{Atom, atoms};
use genesys_wire::catalogue::{is_dimension, metric_kind};
use genesys_wire::time::Interval;
use genesys_wire::{
    AggregateGroup, AggregateResponse, AggregationQuery, ErrorBody, IntervalData, MetricEntry,
    Stats,
};

/// The real API's longest interval is not documented; a month keeps the simulator's work
/// (and a runaway demo query) bounded.
pub const MAX_INTERVAL_DAYS: i64 = 31;

/// Atom-minute evaluations one query may need. At roughly 100 ns each this is a few seconds.
pub const MAX_SLOT_EVALUATIONS: u64 = 50_000_000;

/// Groups × buckets one response may hold before the simulator answers, like the real API
/// does for huge result sets, `400 response.entity.too.large`.
pub const MAX_RESULT_CELLS: u64 = 200_000;

/// Accepts `PTnM`, `PTnH`, `PnD`, `PnW` and `PnM` with n ≥ 1.
fn parse_granularity(granularity: &str) -> Result<Span, ErrorBody> {
    let invalid = || {
        bad_request(
            "invalid.value",
            "granularity",
            format!(
                "Invalid granularity '{granularity}': expected an ISO-8601 period such as PT15M, PT1H, P1D, P1W or P1M"
            ),
        )
    };
    let (rest, time) = if let Some(rest) = granularity.strip_prefix("PT") {
        (rest, true)
    } else if let Some(rest) = granularity.strip_prefix('P') {
        (rest, false)
    } else {
        return Err(invalid());
    };
    let unit = rest.chars().last();
    let number = &rest[..rest.len() - unit.map_or(0, char::len_utf8)];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: i64 = number.parse().map_err(|_| invalid())?;
    if n == 0 {
        return Err(invalid());
    }
    let span = match (time, unit) {
        (true, Some('M')) => Span::new().try_minutes(n),
        (true, Some('H')) => Span::new().try_hours(n),
        (false, Some('D')) => Span::new().try_days(n),
        (false, Some('W')) => Span::new().try_weeks(n),
        (false, Some('M')) => Span::new().try_months(n),
        _ => return Err(invalid()),
    };
    span.map_err(|_| invalid())
}

/// The buckets `[start, end)` of the interval. Each is the interval start plus k periods,
/// computed in the query's time zone, so that `P1D` from a local midnight ends at the next
/// local midnight even across a daylight-saving change (23 or 25 hours). The last bucket
/// is cut at the interval end.
fn buckets(
    start: Timestamp,
    end: Timestamp,
    granularity: Option<Span>,
    tz: &TimeZone,
) -> Result<Vec<(Timestamp, Timestamp)>, ErrorBody> {
    let Some(period) = granularity else {
        return Ok(vec![(start, end)]);
    };
    let overflow = || {
        bad_request(
            "invalid.value",
            "granularity",
            "The granularity does not fit the interval".to_string(),
        )
    };
    let zoned_start = start.to_zoned(tz.clone());
    // Adding k periods to the start (rather than one period to the previous bound) keeps
    // month buckets on the start's day of the month after a short month.
    let bound = |k: i64| -> Result<Timestamp, ErrorBody> {
        let offset = period.checked_mul(k).map_err(|_| overflow())?;
        Ok(zoned_start
            .checked_add(offset)
            .map_err(|_| overflow())?
            .timestamp())
    };
    let mut buckets = Vec::new();
    let mut lower = start;
    for k in 1.. {
        let upper = bound(k)?.min(end);
        buckets.push((lower, upper));
        if upper >= end {
            break;
        }
        lower = upper;
    }
    Ok(buckets)
}

/// The minute slots whose start lies in `[start, end)`.
fn minutes(start: Timestamp, end: Timestamp) -> std::ops::Range<i64> {
    super::flows::minute_slots(start, end)
}

/// The names a query family accepts: the conversations query's catalogue, or the flows'
/// or actions' enums.
pub(super) struct Catalogue {
    pub(super) is_metric: fn(&str) -> bool,
    pub(super) is_dimension: fn(&str) -> bool,
}

/// The conversation aggregates query's names.
const CONVERSATIONS: Catalogue = Catalogue {
    is_metric: |name| metric_kind(name).is_some(),
    is_dimension,
};

/// The groups of an answer being built: each group's key (its dimension values) and its
/// cell per bucket.
pub(super) type Cells<T> = BTreeMap<BTreeMap<String, String>, Vec<T>>;

/// An aggregates query checked as the real API checks it (in roughly the order it reports
/// problems): what the conversations, flows and actions queries share.
pub(super) struct Plan<'q> {
    pub(super) start: Timestamp,
    pub(super) end: Timestamp,
    pub(super) buckets: Vec<(Timestamp, Timestamp)>,
    pub(super) filter: Option<Filter>,
    /// The groupBy dimensions and metrics, each once, in the query's order.
    pub(super) group_by: Vec<&'q str>,
    pub(super) metrics: Vec<&'q str>,
}

impl<'q> Plan<'q> {
    pub(super) fn new(
        query: &'q AggregationQuery,
        names: &Catalogue,
    ) -> Result<Plan<'q>, ErrorBody> {
        if query.metrics.is_empty() {
            return Err(bad_request(
                "constraint.validation",
                "metrics",
                "metrics must not be empty".to_string(),
            ));
        }
        if let Some(unknown) = query.metrics.iter().find(|m| !(names.is_metric)(m)) {
            return Err(bad_request(
                "invalid.value",
                "metrics",
                format!("Invalid metric '{unknown}'"),
            ));
        }
        if let Some(unknown) = query.group_by.iter().find(|d| !(names.is_dimension)(d)) {
            return Err(bad_request(
                "invalid.value",
                "groupBy",
                format!("Invalid groupBy dimension '{unknown}'"),
            ));
        }
        let Interval { start, end } = query.interval.parse().map_err(|why| {
            bad_request(
                "invalid.date",
                "interval",
                format!("Invalid interval '{}': {why}", query.interval),
            )
        })?;
        if end.duration_since(start).as_secs() > MAX_INTERVAL_DAYS * 86_400 {
            return Err(bad_request(
                "constraint.validation",
                "interval",
                format!("The interval is too long: at most {MAX_INTERVAL_DAYS} days"),
            ));
        }
        let tz = match query.time_zone.as_deref() {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                bad_request(
                    "invalid.value",
                    "timeZone",
                    format!("Invalid time zone '{name}'"),
                )
            })?,
        };
        let granularity = query
            .granularity
            .as_deref()
            .map(parse_granularity)
            .transpose()?;
        let filter = query
            .filter
            .as_ref()
            .map(|f| Filter::parse_for(f, names.is_dimension))
            .transpose()?;
        let buckets = buckets(start, end, granularity, &tz)?;
        let mut group_by: Vec<&str> = Vec::new();
        for dimension in &query.group_by {
            if !group_by.contains(&dimension.as_str()) {
                group_by.push(dimension);
            }
        }
        let mut metrics: Vec<&str> = Vec::new();
        for metric in &query.metrics {
            if !metrics.contains(&metric.as_str()) {
                metrics.push(metric);
            }
        }
        Ok(Plan {
            start,
            end,
            buckets,
            filter,
            group_by,
            metrics,
        })
    }

    /// Refuses a query that would take `sources` sources (atoms) through every minute of
    /// the interval when that is more than [`MAX_SLOT_EVALUATIONS`].
    pub(super) fn check_work(&self, sources: usize) -> Result<(), ErrorBody> {
        let slot_count = sources as u64 * minutes(self.start, self.end).count() as u64;
        if slot_count > MAX_SLOT_EVALUATIONS {
            return Err(bad_request(
                "constraint.validation",
                "interval",
                "The query covers too much data: shorten the interval or narrow the filter"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// Refuses an answer of more than [`MAX_RESULT_CELLS`] groups × buckets.
    pub(super) fn check_size(&self, groups: usize) -> Result<(), ErrorBody> {
        if groups as u64 * self.buckets.len() as u64 > MAX_RESULT_CELLS {
            return Err(bad_request(
                "response.entity.too.large",
                "granularity",
                "The response would be too large: use a coarser granularity, fewer groups or a shorter interval".to_string(),
            ));
        }
        Ok(())
    }

    pub(super) fn accepts(&self, item: &impl Dimensions) -> bool {
        self.filter.as_ref().is_none_or(|f| f.accepts(item))
    }

    /// The group `item` falls in: the groupBy dimensions it has, with its values.
    pub(super) fn key(&self, item: &impl Dimensions) -> BTreeMap<String, String> {
        self.group_by
            .iter()
            .filter_map(|d| item.dimension(d).map(|v| (d.to_string(), v.to_string())))
            .collect()
    }

    /// The cells of `key`'s group, one per bucket, created empty when it is new.
    pub(super) fn cells<'c, T: Default + Clone>(
        &self,
        cells: &'c mut Cells<T>,
        key: BTreeMap<String, String>,
    ) -> &'c mut Vec<T> {
        cells
            .entry(key)
            .or_insert_with(|| vec![T::default(); self.buckets.len()])
    }

    /// The answer: for each group, each bucket's metrics that `stats` has something to
    /// report for. Buckets without any are left out, and so are groups without buckets.
    pub(super) fn answer<T>(
        &self,
        cells: Cells<T>,
        stats: impl Fn(&T, &str) -> Option<Stats>,
    ) -> Result<AggregateResponse, ErrorBody> {
        self.check_size(cells.len())?;
        let mut results = Vec::new();
        for (group, buckets) in cells {
            let mut data = Vec::new();
            for (cell, &(start, end)) in buckets.iter().zip(&self.buckets) {
                let metrics: Vec<MetricEntry> = self
                    .metrics
                    .iter()
                    .filter_map(|&name| {
                        stats(cell, name).map(|stats| MetricEntry {
                            metric: name.to_string(),
                            qualifier: None,
                            stats,
                        })
                    })
                    .collect();
                if !metrics.is_empty() {
                    data.push(IntervalData {
                        interval: Interval { start, end }.to_string(),
                        metrics,
                    });
                }
            }
            if !data.is_empty() {
                results.push(AggregateGroup { group, data });
            }
        }
        Ok(AggregateResponse { results })
    }
}

/// Answers an aggregates query as the real API would, from the synthetic data. Validation
/// errors are the real error body with status 400.
pub fn aggregate(
    org: &SimulatedOrg,
    query: &AggregationQuery,
) -> Result<AggregateResponse, ErrorBody> {
    aggregate_with_surge(org, None, query)
}

/// [`aggregate`] while `surge` is set: the conversations that arrive on its queue from its
/// start on are abandoned more often and wait longer. A surge on a queue the org does not
/// have changes nothing ([`Surge::check`] says so).
///
/// Conversation errors (`nError`, `nStateTransitionError`) are facts of their own with an
/// `errorCode` and an `edgeId` ([`super::errors`]): grouped by either, they come in groups
/// of their own, and the other metrics in groups without those dimensions.
pub fn aggregate_with_surge(
    org: &SimulatedOrg,
    surge: Option<&Surge>,
    query: &AggregationQuery,
) -> Result<AggregateResponse, ErrorBody> {
    let plan = Plan::new(query, &CONVERSATIONS)?;
    let errors_wanted = plan.metrics.iter().any(|m| errors::METRICS.contains(m));
    // An error has dimensions its conversation's atom lacks (a filter on errorCode accepts
    // the error and not the atom): with errors asked for, every atom is looked at.
    let atoms: Vec<(Atom, bool)> = atoms(org)
        .into_iter()
        .map(|atom| {
            let accepted = plan.accepts(&atom);
            (atom, accepted)
        })
        .filter(|(_, accepted)| *accepted || errors_wanted)
        .collect();
    plan.check_work(atoms.len())?;
    let mut groups: Vec<BTreeMap<String, String>> = atoms
        .iter()
        .filter(|(_, accepted)| *accepted)
        .map(|(atom, _)| plan.key(atom))
        .collect();
    groups.sort();
    groups.dedup();
    plan.check_size(groups.len())?;

    let edges = crate::edges::edge_ids(org);
    let mut cells: Cells<Tally> = Cells::new();
    for (atom, accepted) in &atoms {
        let key = plan.key(atom);
        for (index, &(bucket_start, bucket_end)) in plan.buckets.iter().enumerate() {
            if *accepted {
                let part = atom.tally(minutes(bucket_start, bucket_end), surge);
                if !part.is_empty() {
                    plan.cells(&mut cells, key.clone())[index].merge(&part);
                }
            }
            if !errors_wanted {
                continue;
            }
            for minute in minutes(bucket_start, bucket_end) {
                errors::each_error(&edges, atom, minute, surge, |error| {
                    if plan.accepts(&error) {
                        let cell = &mut plan.cells(&mut cells, plan.key(&error))[index];
                        cell.add_error(error.kind);
                    }
                });
            }
        }
    }
    plan.answer(cells, Tally::metric)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{queue_id, sales_surge};
    use super::*;
    use crate::DEMO_MEDIA_TYPES;
    use crate::Surge;
    use genesys_wire::Stats;

    const MODELLED: [&str; 12] = [
        "nOffered",
        "nConnected",
        "nOverSla",
        "nTransferred",
        "tWait",
        "tAnswered",
        "tAbandon",
        "tTalk",
        "tHeld",
        "tAcw",
        "tHandle",
        "oServiceLevel",
    ];

    fn query(interval: &str, granularity: Option<&str>, group_by: &[&str]) -> AggregationQuery {
        AggregationQuery {
            interval: interval.to_string(),
            granularity: granularity.map(str::to_string),
            time_zone: None,
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            filter: None,
            metrics: MODELLED.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The intervals the first group has data for, in the answer's order.
    fn first_group_intervals(response: &AggregateResponse) -> Vec<&str> {
        response.results[0]
            .data
            .iter()
            .map(|d| d.interval.as_str())
            .collect()
    }

    fn stats<'a>(data: &'a IntervalData, metric: &str) -> Option<&'a Stats> {
        data.metrics
            .iter()
            .find(|m| m.metric == metric)
            .map(|m| &m.stats)
    }

    fn count(data: &IntervalData, metric: &str) -> f64 {
        stats(data, metric).and_then(|s| s.count).unwrap_or(0.0)
    }

    fn error_code(result: Result<AggregateResponse, ErrorBody>) -> (u16, String, String) {
        let error = result.unwrap_err();
        let field = error.details[0].field_name.clone().unwrap();
        (error.status, error.code, field)
    }

    #[test]
    fn a_fifteen_minute_bucket_is_the_sum_of_its_minutes() {
        let org = SimulatedOrg::demo();
        let interval = "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z";
        let whole = aggregate(&org, &query(interval, None, &["queueId", "mediaType"])).unwrap();
        let minutes = aggregate(
            &org,
            &query(interval, Some("PT1M"), &["queueId", "mediaType"]),
        )
        .unwrap();
        assert_eq!(whole.results.len(), minutes.results.len());
        let mut checked_timers = 0;
        for (group, split) in whole.results.iter().zip(&minutes.results) {
            assert_eq!(group.group, split.group);
            assert_eq!(group.data.len(), 1);
            let bucket = &group.data[0];
            assert_eq!(bucket.interval, interval);
            assert!(split.data.len() <= 15);
            for metric in MODELLED.iter().filter(|m| m.starts_with('n')) {
                let total: f64 = split.data.iter().map(|d| count(d, metric)).sum();
                assert_eq!(count(bucket, metric), total, "{metric} {:?}", group.group);
            }
            for metric in MODELLED.iter().filter(|m| m.starts_with('t')) {
                let parts: Vec<&Stats> =
                    split.data.iter().filter_map(|d| stats(d, metric)).collect();
                let Some(whole) = stats(bucket, metric) else {
                    assert!(parts.is_empty(), "{metric}");
                    continue;
                };
                checked_timers += 1;
                let sum =
                    |f: fn(&Stats) -> Option<f64>| parts.iter().map(|s| f(s).unwrap()).sum::<f64>();
                assert_eq!(whole.count, Some(sum(|s| s.count)), "{metric}");
                assert_eq!(whole.sum, Some(sum(|s| s.sum)), "{metric}");
                let min = parts
                    .iter()
                    .map(|s| s.min.unwrap())
                    .fold(f64::INFINITY, f64::min);
                let max = parts.iter().map(|s| s.max.unwrap()).fold(0.0, f64::max);
                assert_eq!(whole.min, Some(min), "{metric}");
                assert_eq!(whole.max, Some(max), "{metric}");
            }
            if let Some(sl) = stats(bucket, "oServiceLevel") {
                let answered = count(bucket, "tAnswered");
                let abandoned = count(bucket, "tAbandon");
                let numerator = answered - count(bucket, "nOverSla");
                assert_eq!(sl.numerator, Some(numerator));
                assert_eq!(sl.denominator, Some(answered + abandoned));
                assert_eq!(sl.ratio, Some(numerator / (answered + abandoned)));
                assert_eq!(sl.target.is_some(), group.group.contains_key("queueId"));
            }
            // Handle time is talk + hold + wrap-up, conversation by conversation.
            if let Some(handle) = stats(bucket, "tHandle") {
                let part = |m| stats(bucket, m).and_then(|s| s.sum).unwrap_or(0.0);
                assert_eq!(
                    handle.sum,
                    Some(part("tTalk") + part("tHeld") + part("tAcw"))
                );
                assert_eq!(handle.count, stats(bucket, "nConnected").unwrap().count);
            }
        }
        assert!(
            checked_timers > 50,
            "the busy hour has data: {checked_timers}"
        );
    }

    #[test]
    fn nothing_to_report_is_absent_rather_than_zero() {
        let org = SimulatedOrg::demo();
        let sales = queue_id(&org, "Sales");
        let filter = serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": sales},
            {"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "voice"}]});
        // At night Sales voice gets a call every few minutes: find a minute without one.
        let night = "2026-08-20T02:00:00.000Z/2026-08-20T03:00:00.000Z";
        let mut q = query(night, Some("PT1M"), &["queueId"]);
        q.filter = Some(filter.clone());
        let response = aggregate(&org, &q).unwrap();
        let busy = first_group_intervals(&response);
        assert!(!busy.is_empty() && busy.len() < 40, "{}", busy.len());
        let two_am: Timestamp = "2026-08-20T02:00:00Z".parse().unwrap();
        let quiet = (0..60)
            .map(|m| {
                let start = two_am + Span::new().minutes(m);
                let end = start + Span::new().minutes(1);
                Interval { start, end }.to_string()
            })
            .find(|interval| !busy.contains(&interval.as_str()))
            .unwrap();
        assert!(quiet.starts_with("2026-08-20T02:"), "{quiet}");
        // Queried on its own, the quiet minute has no group at all, not a group of zeros.
        let mut q = query(&quiet, None, &["queueId"]);
        q.filter = Some(filter);
        assert_eq!(aggregate(&org, &q).unwrap().results, vec![]);

        // In a busy bucket, a count of zero and a metric the model never produces are both
        // left out, while the metrics that have data keep the order the query gave them.
        let mut q = query(
            "2026-08-20T10:00:00.000Z/2026-08-20T10:01:00.000Z",
            None,
            &[],
        );
        q.metrics = ["nBlindTransferred", "tAnswered", "nOffered", "tHeld"]
            .map(String::from)
            .to_vec();
        let response = aggregate(&org, &q).unwrap();
        let names: Vec<&str> = response.results[0].data[0]
            .metrics
            .iter()
            .map(|m| m.metric.as_str())
            .collect();
        assert_eq!(names[..2], ["tAnswered", "nOffered"]);
        assert!(!names.contains(&"nBlindTransferred"));
    }

    #[test]
    fn a_day_bucket_follows_daylight_saving_time_in_the_query_time_zone() {
        let org = SimulatedOrg::demo();
        // New York springs forward on 8 March 2026 and falls back on 1 November 2026.
        let mut q = query(
            "2026-03-07T05:00:00.000Z/2026-03-10T04:00:00.000Z",
            Some("P1D"),
            &[],
        );
        q.time_zone = Some("America/New_York".to_string());
        let response = aggregate(&org, &q).unwrap();
        let intervals = first_group_intervals(&response);
        assert_eq!(
            intervals,
            [
                "2026-03-07T05:00:00.000Z/2026-03-08T05:00:00.000Z",
                "2026-03-08T05:00:00.000Z/2026-03-09T04:00:00.000Z", // 23 hours
                "2026-03-09T04:00:00.000Z/2026-03-10T04:00:00.000Z",
            ]
        );

        q.interval = "2026-11-01T04:00:00-00:00/2026-11-02T00:00:00-05:00".to_string();
        let response = aggregate(&org, &q).unwrap();
        assert_eq!(
            response.results[0].data[0].interval,
            "2026-11-01T04:00:00.000Z/2026-11-02T05:00:00.000Z" // 25 hours
        );

        // Without a time zone, days are UTC days.
        q.time_zone = None;
        q.interval = "2026-03-08T00:00:00Z/2026-03-09T00:00:00Z".to_string();
        let response = aggregate(&org, &q).unwrap();
        assert_eq!(
            response.results[0].data[0].interval,
            "2026-03-08T00:00:00.000Z/2026-03-09T00:00:00.000Z"
        );
    }

    #[test]
    fn retention_abandons_far_more_than_the_other_queues() {
        let org = SimulatedOrg::demo();
        let mut q = query(
            "2026-08-20T08:00:00.000Z/2026-08-20T18:00:00.000Z",
            None,
            &["queueId"],
        );
        // Agent-direct calls have no queue and nothing to abandon: leave them out.
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "queueId", "operator": "exists"}]}));
        let response = aggregate(&org, &q).unwrap();
        assert_eq!(response.results.len(), org.queues.len());
        for group in &response.results {
            let queue = org
                .queues
                .iter()
                .find(|q| q.id == group.group["queueId"])
                .unwrap();
            let day = &group.data[0];
            let ratio = count(day, "tAbandon") / count(day, "nOffered");
            if queue.name == "Retention" {
                assert!(ratio > 0.2, "Retention abandons {ratio}");
            } else {
                assert!(ratio < 0.15, "{} abandons {ratio}", queue.name);
            }
        }
    }

    #[test]
    fn a_daytime_retention_voice_bucket_trips_an_abandon_rate_alert() {
        let org = SimulatedOrg::demo();
        let retention = queue_id(&org, "Retention");
        let mut q = query(
            "2026-08-20T09:00:00.000Z/2026-08-20T17:00:00.000Z",
            Some("PT15M"),
            &["queueId", "mediaType"],
        );
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "queueId", "value": retention},
            {"type": "dimension", "dimension": "mediaType", "value": "voice"}]}));
        let response = aggregate(&org, &q).unwrap();
        let buckets = &response.results[0].data;
        assert_eq!(buckets.len(), 32);
        let firing = buckets
            .iter()
            .filter(|d| {
                let offered = count(d, "nOffered");
                offered >= 10.0 && count(d, "tAbandon") / offered > 0.2
            })
            .count();
        assert!(firing >= 24, "{firing} of 32 buckets");
    }

    #[test]
    fn agent_direct_voice_calls_have_no_queue() {
        let org = SimulatedOrg::demo();
        let q = query(
            "2026-08-20T10:00:00.000Z/2026-08-20T11:00:00.000Z",
            None,
            &["queueId", "mediaType"],
        );
        let response = aggregate(&org, &q).unwrap();
        let direct: Vec<&AggregateGroup> = response
            .results
            .iter()
            .filter(|g| !g.group.contains_key("queueId"))
            .collect();
        assert_eq!(direct.len(), 1);
        assert_eq!(direct[0].group["mediaType"], "voice");
        let names: Vec<&str> = direct[0].data[0]
            .metrics
            .iter()
            .map(|m| m.metric.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "nConnected",
                "nTransferred",
                "tTalk",
                "tHeld",
                "tAcw",
                "tHandle"
            ]
        );

        // notExists picks out exactly those calls.
        let mut q = q;
        q.filter = Some(serde_json::json!({"type": "or", "predicates": [
            {"type": "dimension", "dimension": "queueId", "operator": "notExists"}]}));
        let filtered = aggregate(&org, &q).unwrap();
        assert_eq!(filtered.results, [direct[0].clone()]);
    }

    #[test]
    fn groups_merge_their_atoms_and_filters_select_them() {
        let org = SimulatedOrg::demo();
        let interval = "2026-08-20T10:00:00.000Z/2026-08-20T10:30:00.000Z";
        let fine = aggregate(&org, &query(interval, None, &["queueId", "mediaType"])).unwrap();
        let by_media =
            aggregate(&org, &query(interval, None, &["mediaType", "direction"])).unwrap();
        let all = aggregate(&org, &query(interval, None, &[])).unwrap();
        assert_eq!(by_media.results.len(), 4);
        assert!(
            by_media
                .results
                .iter()
                .all(|g| g.group["direction"] == "inbound")
        );
        assert_eq!(all.results.len(), 1);
        assert!(all.results[0].group.is_empty());
        for metric in ["nOffered", "nConnected", "tHandle"] {
            let total: f64 = fine.results.iter().map(|g| count(&g.data[0], metric)).sum();
            assert_eq!(count(&all.results[0].data[0], metric), total, "{metric}");
        }
        // Queues with different service-level targets leave no single target to report.
        assert_eq!(
            stats(&all.results[0].data[0], "oServiceLevel")
                .unwrap()
                .target,
            None
        );

        // or-clauses: Sales (any media) or VIP chat.
        let (sales, vip) = (queue_id(&org, "Sales"), queue_id(&org, "VIP"));
        let mut q = query(interval, None, &["queueId", "mediaType"]);
        q.filter = Some(serde_json::json!({"type": "or",
            "predicates": [{"type": "dimension", "dimension": "queueId", "value": sales}],
            "clauses": [{"type": "and", "predicates": [
                {"type": "dimension", "dimension": "queueId", "value": vip},
                {"type": "dimension", "dimension": "mediaType", "value": "chat"}]}]}));
        let keys: Vec<(String, String)> = aggregate(&org, &q)
            .unwrap()
            .results
            .into_iter()
            .map(|g| (g.group["queueId"].clone(), g.group["mediaType"].clone()))
            .collect();
        assert!(
            keys.iter()
                .all(|(q, m)| *q == sales || (*q == vip && m == "chat"))
        );
        assert!(keys.contains(&(sales.clone(), "voice".to_string())));

        // A dimension the simulator has no values for: matches nothing, notExists everything.
        let mut q = query(interval, None, &[]);
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "wrapUpCode", "value": "x"}]}));
        assert_eq!(aggregate(&org, &q).unwrap().results, vec![]);
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "wrapUpCode", "operator": "notExists"}]}));
        assert_eq!(aggregate(&org, &q).unwrap(), all);
    }

    #[test]
    fn invalid_queries_get_the_real_error_codes() {
        let org = SimulatedOrg::demo();
        let good = query(
            "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
            None,
            &[],
        );

        let mut q = good.clone();
        q.metrics.push("nAnswered".to_string());
        let error = aggregate(&org, &q).unwrap_err();
        assert_eq!((error.status, error.code.as_str()), (400, "invalid.value"));
        assert!(error.message.contains("nAnswered"), "{}", error.message);

        let mut q = good.clone();
        q.metrics.clear();
        assert_eq!(
            error_code(aggregate(&org, &q)),
            (400, "constraint.validation".into(), "metrics".into())
        );

        let mut q = good.clone();
        q.group_by = vec!["queue".to_string()];
        let error = aggregate(&org, &q).unwrap_err();
        assert_eq!(error.code, "invalid.value");
        assert!(error.message.contains("'queue'"));
        assert_eq!(error.details[0].field_name.as_deref(), Some("groupBy"));

        for interval in [
            "2026-08-20T10:00:00.000Z",
            "2026-08-20T10:15:00.000Z/2026-08-20T10:00:00.000Z",
            "2026-08-20T10:00:00.000Z/2026-08-20T10:00:00.000Z",
            "2026-08-20T10:00:00/2026-08-20T10:15:00",
            "yesterday/today",
        ] {
            let mut q = good.clone();
            q.interval = interval.to_string();
            assert_eq!(
                error_code(aggregate(&org, &q)),
                (400, "invalid.date".into(), "interval".into()),
                "{interval}"
            );
        }

        for granularity in [
            "PT0M", "PT15S", "P1H", "15M", "PTM", "P1Y", "PT1.5H", "PTé", "",
        ] {
            let mut q = good.clone();
            q.granularity = Some(granularity.to_string());
            assert_eq!(
                error_code(aggregate(&org, &q)),
                (400, "invalid.value".into(), "granularity".into()),
                "{granularity}"
            );
        }

        let mut q = good.clone();
        q.time_zone = Some("Mars/Olympus_Mons".to_string());
        assert_eq!(
            error_code(aggregate(&org, &q)),
            (400, "invalid.value".into(), "timeZone".into())
        );

        let mut q = good.clone();
        q.interval = "2026-08-01T00:00:00Z/2026-09-02T00:00:00Z".to_string();
        assert_eq!(
            error_code(aggregate(&org, &q)),
            (400, "constraint.validation".into(), "interval".into())
        );

        let mut q = good.clone();
        q.filter = Some(serde_json::json!({"type": "xor", "predicates": []}));
        assert_eq!(error_code(aggregate(&org, &q)).1, "bad.request");
        q.filter = Some(serde_json::json!({"type": "and", "predicates": [
            {"type": "dimension", "dimension": "queueName", "value": "Sales"}]}));
        assert_eq!(error_code(aggregate(&org, &q)).1, "invalid.value");
    }

    #[test]
    fn intervals_with_offsets_mean_the_same_instants() {
        let org = SimulatedOrg::demo();
        let utc = aggregate(
            &org,
            &query(
                "2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z",
                None,
                &[],
            ),
        )
        .unwrap();
        let offset = aggregate(
            &org,
            &query(
                "2026-08-20T12:00:00+02:00/2026-08-20T12:15:00.000+02:00",
                None,
                &[],
            ),
        )
        .unwrap();
        assert_eq!(utc, offset);
    }

    #[test]
    fn granularity_splits_from_the_interval_start_and_cuts_the_last_bucket() {
        let org = SimulatedOrg::demo();
        let q = query(
            "2026-08-20T10:05:00.000Z/2026-08-20T11:00:00.000Z",
            Some("PT20M"),
            &[],
        );
        let response = aggregate(&org, &q).unwrap();
        let intervals = first_group_intervals(&response);
        assert_eq!(
            intervals,
            [
                "2026-08-20T10:05:00.000Z/2026-08-20T10:25:00.000Z",
                "2026-08-20T10:25:00.000Z/2026-08-20T10:45:00.000Z",
                "2026-08-20T10:45:00.000Z/2026-08-20T11:00:00.000Z",
            ]
        );
    }

    #[test]
    fn too_much_work_is_refused() {
        let org = SimulatedOrg::with_queues(2_000, DEMO_MEDIA_TYPES.map(String::from).to_vec());
        let q = query(
            "2026-08-01T00:00:00Z/2026-08-31T00:00:00Z",
            Some("P1D"),
            &["queueId"],
        );
        assert_eq!(error_code(aggregate(&org, &q)).1, "constraint.validation");
        let q = query(
            "2026-08-20T00:00:00Z/2026-08-20T01:00:00Z",
            Some("PT1M"),
            &["queueId", "mediaType"],
        );
        assert_eq!(
            error_code(aggregate(&org, &q)).1,
            "response.entity.too.large"
        );
    }

    /// The traffic model's output for a whole demo day, hour by hour, as a fingerprint:
    /// changes to the simulator that must not change its aggregates (observations, the
    /// surge when none is set) keep it.
    #[test]
    fn the_demo_day_is_what_it_always_was() {
        let org = SimulatedOrg::demo();
        let q = query(
            "2026-08-20T00:00:00.000Z/2026-08-21T00:00:00.000Z",
            Some("PT1H"),
            &["queueId", "mediaType"],
        );
        let text = serde_json::to_string(&aggregate(&org, &q).unwrap()).unwrap();
        let fingerprint = crate::random::fnv1a(&[text.as_bytes()]);
        assert_eq!(
            (fingerprint, text.len()),
            (13_451_980_204_626_040_813, 475_736)
        );
    }

    #[test]
    fn a_surge_raises_the_abandon_rate_and_the_waits_from_its_start_only() {
        let org = SimulatedOrg::demo();
        let surge = sales_surge();
        let answer = |interval: &str, surge: Option<&Surge>| {
            let q = query(interval, None, &["queueId", "mediaType"]);
            aggregate_with_surge(&org, surge, &q).unwrap()
        };
        let before = "2026-08-20T14:00:00.000Z/2026-08-20T14:10:00.000Z";
        assert_eq!(answer(before, Some(&surge)), answer(before, None));
        let after = "2026-08-20T14:10:00.000Z/2026-08-20T14:20:00.000Z";
        let (calm, surging) = (answer(after, None), answer(after, Some(&surge)));
        let sales = queue_id(&org, "Sales");
        for (a, b) in calm.results.iter().zip(&surging.results) {
            assert_eq!(a.group, b.group);
            if a.group.get("queueId") != Some(&sales) {
                assert_eq!(a, b, "other queues carry on");
                continue;
            }
            let (a, b) = (&a.data[0], &b.data[0]);
            assert_eq!(
                count(a, "nOffered"),
                count(b, "nOffered"),
                "the same callers"
            );
            assert!(count(b, "tAbandon") > count(a, "tAbandon"));
            assert!(count(b, "tAnswered") < count(a, "tAnswered"));
        }
        // Sales voice, by the model: 35 callers in those ten minutes; 1 gave up without
        // the surge, 21 with it (abandon 0.5), and they waited ten times as long.
        let voice = |response: &AggregateResponse| {
            let group = response
                .results
                .iter()
                .find(|g| g.group.get("queueId") == Some(&sales) && g.group["mediaType"] == "voice")
                .unwrap();
            let data = &group.data[0];
            let wait = stats(data, "tWait").unwrap();
            (
                count(data, "nOffered"),
                count(data, "tAbandon"),
                wait.sum.unwrap() / wait.count.unwrap() / 1000.0,
            )
        };
        let (offered, abandoned, mean_wait) = voice(&calm);
        assert_eq!((offered, abandoned), (35.0, 1.0));
        assert!(mean_wait < 20.0, "{mean_wait}");
        let (offered, abandoned, mean_wait) = voice(&surging);
        assert_eq!((offered, abandoned), (35.0, 21.0));
        assert!(mean_wait > 60.0, "{mean_wait}");
        // With twice the callers from 14:10:30: the half minute before has the usual ones.
        let busier = Surge {
            start: "2026-08-20T14:10:30Z".parse().unwrap(),
            volume: 2.0,
            ..surge.clone()
        };
        assert_eq!(answer(before, Some(&busier)), answer(before, None));
        let (offered, _, _) = voice(&answer(after, Some(&busier)));
        // The model's figure: the 35 usual callers and 52 more (about 38 expected).
        assert_eq!(offered, 87.0);
        // Through the server, the aggregates answer under the surge in force.
        let sim = crate::Simulator::new(crate::SimulatorConfig {
            surge: Some(surge.clone()),
            ..Default::default()
        });
        let q = query(after, None, &["queueId", "mediaType"]);
        assert_eq!(sim.aggregate(&q).unwrap(), surging);
    }
}
