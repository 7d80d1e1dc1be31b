//! Property tests: no input the API or the configuration can produce makes a parser or the
//! window arithmetic panic. Arbitrary bytes, arbitrary JSON and JSON shaped like each
//! answer (with arbitrary values in it) go through the parsers; arbitrary instants, every
//! granularity, time zones and settle delays through the schedule; and rolling windows,
//! read late by any amount, still move by whole minutes and never go back.

use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use genesys_exporter::config::Config;
use genesys_exporter::exposition::ObservationSamples;
use genesys_exporter::exposition::{Flattener, flatten_bounded};
use genesys_exporter::genesys::auth::token_lifetime;
use genesys_exporter::genesys::transport::retry_after_seconds;
use genesys_exporter::schedule::{Granularity, Rolling, Schedule};
use genesys_wire::time::Interval;
use genesys_wire::{
    AggregateResponse, GroupSink, JobResultsPage, JobStatus, JobSubmitted, ObservationResponse,
    PresenceDefinitions, QueuePage, TokenResponse, read_groups,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        ".*".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

/// A number as JSON can write it, including the ones no statistic can have.
fn any_number() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        Just(json!(1e308)),
        Just(json!(-0.0)),
    ]
}

/// JSON shaped like an aggregates answer, with arbitrary names, intervals and numbers.
fn aggregate_like() -> impl Strategy<Value = Json> {
    let metric = prop_oneof![
        Just("nOffered".to_string()),
        Just("tHandle".to_string()),
        Just("oServiceLevel".to_string()),
        ".{0,10}",
    ];
    let stat = prop_oneof![
        Just("count"),
        Just("sum"),
        Just("max"),
        Just("min"),
        Just("ratio"),
        Just("numerator"),
        Just("denominator"),
        Just("target"),
        Just("p95"),
    ];
    let stats = prop::collection::btree_map(stat, any_number(), 0..6);
    let entry = (metric, stats, prop::option::of(".{0,6}"))
        .prop_map(|(metric, stats, q)| json!({"metric": metric, "qualifier": q, "stats": stats}));
    let interval = prop_oneof![
        Just("2026-08-20T10:00:00.000Z/2026-08-20T10:15:00.000Z".to_string()),
        ".{0,40}",
    ];
    let data = (interval, prop::collection::vec(entry, 0..5))
        .prop_map(|(interval, metrics)| json!({"interval": interval, "metrics": metrics}));
    let group = (
        prop::collection::btree_map(
            prop_oneof![Just("queueId".to_string()), ".{0,8}"],
            prop_oneof![Just("q1".to_string()), ".{0,8}"],
            0..3,
        ),
        prop::collection::vec(data, 0..3),
    )
        .prop_map(|(group, data)| json!({"group": group, "data": data}));
    prop::collection::vec(group, 0..6).prop_map(|results| json!({"results": results}))
}

/// JSON shaped like a queue observations answer: real and arbitrary metrics, qualifiers
/// and group keys, and any numbers, epoch milliseconds at the ends of time included.
fn observation_like() -> impl Strategy<Value = Json> {
    let metric = prop_oneof![
        Just("oWaiting".to_string()),
        Just("oLongestWaiting".to_string()),
        Just("oOnQueueUsers".to_string()),
        Just("oUserPresences".to_string()),
        ".{0,10}",
    ];
    let stat = prop_oneof![
        Just("count".to_string()),
        Just("calculatedMetricValue".to_string()),
        ".{0,6}"
    ];
    let stats = prop::collection::btree_map(stat, any_number(), 0..3);
    let qualifier = prop::option::of(prop_oneof![
        Just("IDLE".to_string()),
        Just("p-break".to_string()),
        ".{0,8}"
    ]);
    let entry = (metric, stats, qualifier)
        .prop_map(|(metric, stats, q)| json!({"metric": metric, "qualifier": q, "stats": stats}));
    let group = (
        prop::collection::btree_map(
            prop_oneof![
                Just("queueId".to_string()),
                Just("mediaType".to_string()),
                ".{0,8}"
            ],
            prop_oneof![Just("q1".to_string()), ".{0,8}"],
            0..3,
        ),
        prop::collection::vec(entry, 0..6),
    )
        .prop_map(|(group, data)| json!({"group": group, "data": data}));
    let mappings = prop::collection::btree_map(
        prop_oneof![Just("BREAK".to_string()), ".{0,8}"],
        prop::collection::vec(prop_oneof![Just("p-break".to_string()), ".{0,8}"], 0..3),
        0..3,
    );
    (prop::collection::vec(group, 0..6), mappings).prop_map(
        |(results, mappings)| json!({"results": results, "systemToOrganizationMappings": mappings}),
    )
}

/// Parses `bytes` as every answer the client reads; none may panic.
fn parse_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<AggregateResponse>(bytes);
    let _ = serde_json::from_slice::<JobResultsPage>(bytes);
    let _ = serde_json::from_slice::<JobStatus>(bytes);
    let _ = serde_json::from_slice::<JobSubmitted>(bytes);
    let _ = serde_json::from_slice::<QueuePage>(bytes);
    let _ = serde_json::from_slice::<PresenceDefinitions>(bytes);
    let _ = serde_json::from_slice::<ObservationResponse>(bytes);
    if let Ok(token) = serde_json::from_slice::<TokenResponse>(bytes) {
        assert!(token_lifetime(token.expires_in) <= Duration::from_secs(86_400));
    }
}

/// Flattens whatever parsed, bounded, and reads the bytes group by group into the
/// flattener, as a poll does.
fn flatten_if_parsed(bytes: &[u8]) {
    let window = Interval {
        start: "2026-08-20T10:00:00Z".parse().unwrap(),
        end: "2026-08-20T10:15:00Z".parse().unwrap(),
    };
    let group_by = ["queueId".to_string(), "mediaType".to_string()];
    if let Ok(response) = serde_json::from_slice::<AggregateResponse>(bytes) {
        let _ = flatten_bounded("q", &group_by, window, &response, 50);
    }
    // As the poller reads an answer or a job's pages: group by group, into the flattener.
    for job_pages in [false, true] {
        let mut flattener = Flattener::new("q", &group_by, window, 50);
        if job_pages {
            flattener.job_pages();
        }
        let _ = read_groups(bytes, &mut flattener);
        let _ = flattener.finish();
    }
}

/// Any instant jiff can hold.
fn any_instant() -> impl Strategy<Value = Timestamp> {
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    prop_oneof![
        (min..=max).prop_map(|s| Timestamp::from_second(s).unwrap()),
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
        Just(Timestamp::UNIX_EPOCH),
    ]
}

fn any_granularity() -> impl Strategy<Value = Granularity> {
    prop_oneof![
        prop::sample::select(vec![1u32, 5, 15, 30, 60, 720, 1440])
            .prop_map(|minutes| Granularity::SubDay { minutes }),
        Just(Granularity::Day),
        Just(Granularity::Week),
        Just(Granularity::Month),
    ]
}

fn any_zone() -> impl Strategy<Value = TimeZone> {
    prop::sample::select(vec![
        "UTC",
        "America/New_York",
        "Europe/Dublin",
        "Asia/Kolkata",
        "Pacific/Apia",
        "Australia/Lord_Howe",
    ])
    .prop_map(|name| TimeZone::get(name).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
        flatten_if_parsed(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_json(value in any_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        parse_all(&bytes);
        flatten_if_parsed(&bytes);
    }

    #[test]
    fn aggregates_shaped_answers_parse_or_fail_and_flatten_bounded(value in aggregate_like()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        parse_all(&bytes);
        flatten_if_parsed(&bytes);
    }

    #[test]
    fn observation_shaped_answers_parse_or_fail_and_flatten_bounded(
        value in observation_like(),
        max_series in 0usize..8,
        now in any_instant(),
    ) {
        let bytes = serde_json::to_vec(&value).unwrap();
        parse_all(&bytes);
        if let Ok(response) = serde_json::from_slice::<ObservationResponse>(&bytes) {
            let presences = std::collections::HashMap::new();
            let mut samples = ObservationSamples::new("observations", &presences, max_series);
            if samples.add(&response, now).is_ok() {
                let samples = samples.finish();
                prop_assert!(samples.series() <= max_series);
            }
        }
    }

    #[test]
    fn token_answers_with_any_lifetime_are_clamped(expires_in in any_number(), token in ".{0,20}") {
        let bytes = serde_json::to_vec(&json!({"access_token": token, "expires_in": expires_in})).unwrap();
        parse_all(&bytes);
    }

    #[test]
    fn retry_after_never_panics(text in ".{0,40}") {
        let _ = retry_after_seconds(&text);
    }

    #[test]
    fn retry_after_numbers_saturate(number in any::<f64>()) {
        let read = retry_after_seconds(&number.to_string());
        if number >= 0.0 {
            prop_assert!(read.is_some());
        }
    }

    #[test]
    fn the_duration_parser_never_panics(text in ".{0,30}", seconds in any::<u64>()) {
        for toml in [
            format!("job_timeout = {}", toml_string(&text)),
            format!("job_timeout = {seconds}"),
        ] {
            let _ = Figment::new().merge(Toml::string(&toml)).extract::<Config>();
        }
    }

    #[test]
    fn window_arithmetic_is_total(
        now in any_instant(),
        granularity in any_granularity(),
        time_zone in any_zone(),
        settle in prop_oneof![any::<u64>().prop_map(Duration::from_secs), Just(Duration::MAX)],
        steps in any::<i64>(),
    ) {
        let floor = granularity.floor(now, &time_zone);
        prop_assert!(floor <= now);
        let _ = granularity.step(floor, &time_zone, steps);
        let schedule = Schedule { granularity, time_zone, settle_delay: settle };
        let window = schedule.latest_completed(now);
        let next = schedule.following(window);
        let _ = schedule.due(window);
        let _ = schedule.due(next);
        let _ = schedule.buckets_between(window, next);
    }
}

/// A rolling window as the configuration allows it: 1 minute to a day, refreshed every
/// 30 s to an hour, settled for up to an hour.
fn any_rolling() -> impl Strategy<Value = Rolling> {
    (1u64..=1440, 30u64..=3600, 0u64..=3600).prop_map(|(window, refresh, settle)| Rolling {
        window: Duration::from_secs(window * 60),
        refresh: Duration::from_secs(refresh),
        settle_delay: Duration::from_secs(settle),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rolling_windows_move_by_whole_minutes_and_never_go_back_however_late(
        rolling in any_rolling(),
        start in 0i64..4_000_000_000,
        lateness in prop::collection::vec(prop_oneof![Just(0u64), 0u64..7200], 1..24),
    ) {
        let (window, refresh, settle) = (
            jiff::SignedDuration::try_from(rolling.window).unwrap(),
            jiff::SignedDuration::try_from(rolling.refresh).unwrap(),
            jiff::SignedDuration::try_from(rolling.settle_delay).unwrap(),
        );
        let minute = jiff::SignedDuration::from_mins(1);
        let mut now = Timestamp::from_second(start).unwrap();
        let mut last: Option<Interval> = None;
        for late in lateness {
            let read = rolling.latest(now);
            // The window ends on the latest whole minute settled, and is the window long.
            prop_assert_eq!(read.end.as_nanosecond() % 60_000_000_000, 0);
            prop_assert!(read.end <= now - settle);
            prop_assert!((now - settle).duration_since(read.end) < minute);
            prop_assert_eq!(read.end.duration_since(read.start), window);
            if let Some(last) = last {
                prop_assert!(read.end >= rolling.following_end(last.end));
                if rolling.refresh >= Duration::from_secs(60) {
                    prop_assert!(read.end > last.end, "{read} repeats {last}");
                } else {
                    prop_assert!(read.end >= last.end, "{read} goes back from {last}");
                }
            }
            last = Some(read);
            // The next refresh is later, but no later than a refresh and a minute.
            let due = rolling.next_due(now, read);
            prop_assert!(due > now);
            prop_assert!(due <= now + refresh + minute, "{due} after {now}");
            now = due + jiff::SignedDuration::from_secs(late as i64);
        }
    }

    #[test]
    fn rolling_arithmetic_is_total(
        now in any_instant(),
        window in prop_oneof![any::<u64>().prop_map(Duration::from_secs), Just(Duration::MAX)],
        refresh in prop_oneof![any::<u64>().prop_map(Duration::from_secs), Just(Duration::ZERO)],
        settle in prop_oneof![any::<u64>().prop_map(Duration::from_secs), Just(Duration::MAX)],
    ) {
        let rolling = Rolling { window, refresh, settle_delay: settle };
        let read = rolling.latest(now);
        prop_assert!(read.start <= read.end);
        let _ = rolling.next_due(now, read);
        let _ = rolling.due(read.end);
        let _ = rolling.following_end(read.end);
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
