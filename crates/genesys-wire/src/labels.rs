//! The length cap on label values taken from the API (`max_label_value_bytes`): queue and
//! presence names, dimension values and qualifiers. A longer value is cut at a UTF-8
//! character boundary and ends with `…` (U+2026, 3 bytes), counted within the limit, so
//! that a cut value is visibly cut and never longer than the limit. The cap is one for the
//! process, set from the configuration at start-up (a reload does not change it).

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The default cap: Mimir's default `max_label_value_length`.
pub const DEFAULT_MAX_LABEL_VALUE_BYTES: usize = 2048;

/// The smallest cap the configuration accepts: room for a prefix and the marker.
pub const MIN_MAX_LABEL_VALUE_BYTES: usize = 16;

/// What ends a cut value.
pub const CUT_MARKER: &str = "\u{2026}";

static MAX_LABEL_VALUE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_LABEL_VALUE_BYTES);

/// Sets the process's cap (at start-up, from `max_label_value_bytes`).
pub fn set_max_label_value_bytes(max: usize) {
    MAX_LABEL_VALUE_BYTES.store(max.max(MIN_MAX_LABEL_VALUE_BYTES), Ordering::Relaxed);
}

/// The process's cap.
pub fn max_label_value_bytes() -> usize {
    MAX_LABEL_VALUE_BYTES.load(Ordering::Relaxed)
}

/// `value`, cut to at most `max` bytes with [`CUT_MARKER`] at its end if it is longer.
pub fn cap_to(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut end = max.saturating_sub(CUT_MARKER.len());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = String::with_capacity(end + CUT_MARKER.len());
    cut.push_str(&value[..end]);
    cut.push_str(CUT_MARKER);
    Cow::Owned(cut)
}

/// [`cap_to`] the process's cap, adding 1 to `cuts` if it cut.
pub fn cap<'a>(value: &'a str, cuts: &mut usize) -> Cow<'a, str> {
    let capped = cap_to(value, max_label_value_bytes());
    if matches!(capped, Cow::Owned(_)) {
        *cuts = cuts.saturating_add(1);
    }
    capped
}

/// An owned `value`, capped in place, adding 1 to `cuts` if it cut.
pub fn cap_owned(value: String, cuts: &mut usize) -> String {
    match cap(&value, cuts) {
        Cow::Borrowed(_) => value,
        Cow::Owned(cut) => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_cut_at_a_character_boundary_with_the_marker_within_the_limit() {
        assert_eq!(cap_to("Sales", 16), "Sales");
        assert_eq!(cap_to("0123456789abcdef", 16), "0123456789abcdef");
        assert_eq!(cap_to("0123456789abcdefg", 16), "0123456789abc\u{2026}");
        // "é" is 2 bytes: 13 bytes of room end inside the seventh; it goes whole.
        let cut = cap_to("éééééééééé", 16);
        assert_eq!(cut, "éééééé\u{2026}");
        assert!(cut.len() <= 16);
        for max in 16..40 {
            let value = "a€😀".repeat(20);
            let cut = cap_to(&value, max);
            assert!(cut.len() <= max, "{max}: {cut}");
            assert!(cut.ends_with(CUT_MARKER));
        }
        let mut cuts = 0;
        let value = "x".repeat(DEFAULT_MAX_LABEL_VALUE_BYTES + 1);
        assert_eq!(cap(&value, &mut cuts).len(), DEFAULT_MAX_LABEL_VALUE_BYTES);
        assert_eq!(cap("short", &mut cuts), "short");
        assert_eq!(cuts, 1);
    }
}
