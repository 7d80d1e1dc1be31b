//! The `[voice_quality]` table checked: how often the ended calls are read from the
//! conversation details, how far behind now, in how many pages, and what a poor call is.

use std::time::Duration;

use super::checks::written;
use super::{Config, VOICE_QUALITY_QUERY};
use genesys_wire::details::{MAX_DETAILS_PAGE_SIZE, MAX_DETAILS_RESULTS};

/// `[voice_quality] refresh`: its default and bounds. Each refresh reads pages of the
/// details query; a window longer than an hour is no longer a view of now.
pub const DEFAULT_VOICE_QUALITY_REFRESH: Duration = Duration::from_secs(5 * 60);
const VOICE_QUALITY_REFRESH_LIMITS: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(3600));
/// `[voice_quality] settle_delay`: how long after a call's end it is read, for its media
/// statistics to arrive; its default and longest.
pub const DEFAULT_VOICE_QUALITY_SETTLE_DELAY: Duration = Duration::from_secs(2 * 60);
const MAX_VOICE_QUALITY_SETTLE_DELAY: Duration = Duration::from_secs(10 * 60);
const DEFAULT_PAGE_SIZE: u32 = MAX_DETAILS_PAGE_SIZE;
const DEFAULT_MAX_PAGES_PER_REFRESH: u32 = 20;
const DEFAULT_MOS_THRESHOLD: f64 = 3.5;
const DEFAULT_EXPECTED_CALLS_PER_HOUR: u64 = 2000;

/// The checked `[voice_quality]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceQualitySettings {
    /// How often the calls that ended since the last read are read.
    pub refresh: Duration,
    /// How long after its end a call is read.
    pub settle_delay: Duration,
    /// Conversations a page, at most [`MAX_DETAILS_PAGE_SIZE`].
    pub page_size: u32,
    /// The most pages one refresh reads; `page_size × max_pages_per_refresh` stays within
    /// the API's [`MAX_DETAILS_RESULTS`].
    pub max_pages_per_refresh: u32,
    /// A call with a MOS below it is poor.
    pub mos_threshold: f64,
    /// Only for the API budget's arithmetic: the calls an hour the org has at its busiest.
    pub expected_calls_per_hour: u64,
}

impl VoiceQualitySettings {
    /// The pages one refresh is expected to read: the calls of a refresh at
    /// `expected_calls_per_hour`, a page per `page_size`, and the page that finds the
    /// window's start; at most `max_pages_per_refresh`.
    pub fn pages_per_refresh(&self) -> u64 {
        let calls = u128::from(self.expected_calls_per_hour) * self.refresh.as_millis()
            / Duration::from_secs(3600).as_millis();
        let pages = calls
            .div_ceil(u128::from(self.page_size.max(1)))
            .saturating_add(1);
        u64::try_from(pages)
            .unwrap_or(u64::MAX)
            .min(u64::from(self.max_pages_per_refresh))
    }
}

impl Config {
    /// The `[voice_quality]` table checked; `None` unless enabled.
    pub(super) fn voice_quality(&self, problems: &mut Vec<String>) -> Option<VoiceQualitySettings> {
        let table = &self.voice_quality;
        if !table.enabled.unwrap_or(false) {
            return None;
        }
        self.label_taken(
            VOICE_QUALITY_QUERY,
            "the voice quality",
            "voice_quality",
            problems,
        );
        let (shortest, longest) = VOICE_QUALITY_REFRESH_LIMITS;
        let refresh = table.refresh.unwrap_or(DEFAULT_VOICE_QUALITY_REFRESH);
        if !(shortest..=longest).contains(&refresh) {
            problems.push(format!(
                "voice_quality.refresh: {} is out of range; use {} to {} (default {}): each refresh reads pages of conversation details",
                written(refresh),
                written(shortest),
                written(longest),
                written(DEFAULT_VOICE_QUALITY_REFRESH)
            ));
        }
        let settle_delay = table
            .settle_delay
            .unwrap_or(DEFAULT_VOICE_QUALITY_SETTLE_DELAY);
        if settle_delay > MAX_VOICE_QUALITY_SETTLE_DELAY {
            problems.push(format!(
                "voice_quality.settle_delay: {} is out of range; use 0s to {} (default {}): a call is read this long after it ended",
                written(settle_delay),
                written(MAX_VOICE_QUALITY_SETTLE_DELAY),
                written(DEFAULT_VOICE_QUALITY_SETTLE_DELAY)
            ));
        }
        let page_size = table.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_DETAILS_PAGE_SIZE).contains(&page_size) {
            problems.push(format!(
                "voice_quality.page_size: {page_size} is out of range; use 1 to {MAX_DETAILS_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}), the most the details query answers a page"
            ));
        }
        let max_pages = table
            .max_pages_per_refresh
            .unwrap_or(DEFAULT_MAX_PAGES_PER_REFRESH);
        if max_pages == 0 {
            problems.push(format!(
                "voice_quality.max_pages_per_refresh: 0 reads nothing; use 1 or more (default {DEFAULT_MAX_PAGES_PER_REFRESH})"
            ));
        } else if u64::from(page_size) * u64::from(max_pages) > MAX_DETAILS_RESULTS {
            problems.push(format!(
                "voice_quality.page_size × voice_quality.max_pages_per_refresh: {page_size} × {max_pages} passes the {MAX_DETAILS_RESULTS} results the details query pages through; lower max_pages_per_refresh to {} or less",
                MAX_DETAILS_RESULTS / u64::from(page_size.max(1))
            ));
        }
        let mos_threshold = table.mos_threshold.unwrap_or(DEFAULT_MOS_THRESHOLD);
        if !(mos_threshold > 1.0 && mos_threshold <= 5.0) {
            problems.push(format!(
                "voice_quality.mos_threshold: {mos_threshold} is out of range; use more than 1 and at most 5 (default {DEFAULT_MOS_THRESHOLD}): a call with a MOS below it is poor"
            ));
        }
        let expected_calls_per_hour = table
            .expected_calls_per_hour
            .unwrap_or(DEFAULT_EXPECTED_CALLS_PER_HOUR);
        Some(VoiceQualitySettings {
            refresh,
            settle_delay,
            page_size,
            max_pages_per_refresh: max_pages,
            mos_threshold,
            expected_calls_per_hour,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::problems;

    const CREDENTIALS: &str = "client_id = \"id\"\nclient_secret = \"s\"\nregion = \"eu-west-1\"\n";

    fn settings(toml: &str) -> Option<VoiceQualitySettings> {
        crate::config::load::tests::config(&format!("{CREDENTIALS}{toml}"))
            .validate()
            .unwrap()
            .voice_quality
    }

    #[test]
    fn voice_quality_is_off_by_default_and_reads_every_5m_when_on() {
        assert_eq!(settings(""), None);
        assert_eq!(settings("[voice_quality]\nrefresh = \"10m\"\n"), None);
        let on = settings("[voice_quality]\nenabled = true\n").unwrap();
        assert_eq!(
            on,
            VoiceQualitySettings {
                refresh: Duration::from_secs(300),
                settle_delay: Duration::from_secs(120),
                page_size: 100,
                max_pages_per_refresh: 20,
                mos_threshold: 3.5,
                expected_calls_per_hour: 2000,
            }
        );
        // 2000 calls an hour: 166.7 in 5 minutes, 2 pages of 100, and the one that finds
        // the window's start.
        assert_eq!(on.pages_per_refresh(), 3);
        let busy = settings(
            "[voice_quality]\nenabled = true\nrefresh = \"1h\"\nsettle_delay = \"0s\"\npage_size = 50\nmax_pages_per_refresh = 2000\nmos_threshold = 5\nexpected_calls_per_hour = 1000000\n",
        )
        .unwrap();
        assert_eq!(busy.pages_per_refresh(), 2000, "at most the cap");
        assert_eq!(busy.settle_delay, Duration::ZERO);
    }

    #[test]
    fn bad_voice_quality_tables_are_refused_naming_the_key_and_the_fix() {
        let all = problems(&format!(
            "{CREDENTIALS}[[queries]]\nname = \"voice_quality\"\n[voice_quality]\nenabled = true\nrefresh = \"30s\"\nsettle_delay = \"11m\"\npage_size = 101\nmax_pages_per_refresh = 0\nmos_threshold = 1\n"
        ));
        for problem in [
            "queries: the name 'voice_quality' is the query label of the voice quality; rename the query, or set enabled = false under [voice_quality]",
            "voice_quality.refresh: 30s is out of range; use 1m to 1h (default 5m)",
            "voice_quality.settle_delay: 11m is out of range; use 0s to 10m (default 2m)",
            "voice_quality.page_size: 101 is out of range; use 1 to 100 (default 100)",
            "voice_quality.max_pages_per_refresh: 0 reads nothing; use 1 or more (default 20)",
            "voice_quality.mos_threshold: 1 is out of range; use more than 1 and at most 5 (default 3.5)",
        ] {
            assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
        }
        let all = problems(&format!(
            "{CREDENTIALS}[voice_quality]\nenabled = true\npage_size = 100\nmax_pages_per_refresh = 1001\nmos_threshold = 5.5\n"
        ));
        for problem in [
            "voice_quality.page_size × voice_quality.max_pages_per_refresh: 100 × 1001 passes the 100000 results the details query pages through; lower max_pages_per_refresh to 1000 or less",
            "voice_quality.mos_threshold: 5.5 is out of range",
        ] {
            assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
        }
        // An org's own query may not take the label either.
        let all = problems(&format!(
            "{CREDENTIALS}[[orgs]]\nname = \"east\"\nclient_id = \"a\"\nclient_secret = \"b\"\n[[orgs.queries]]\nname = \"voice_quality\"\n[voice_quality]\nenabled = true\n"
        ));
        let problem =
            "queries: the name 'voice_quality' (org east) is the query label of the voice quality";
        assert!(all.contains(problem), "{problem}\nnot in:\n{all}");
    }
}
