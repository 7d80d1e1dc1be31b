//! Markdown pages, as the README and docs/ write them: headings, their anchors, sections
//! and links.

use std::collections::BTreeSet;

/// The lines of `text` outside fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The heading a line is (`## Title` gives `Title`), outside fenced code.
fn heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    match hashes {
        1..=6 => line[hashes..].strip_prefix(' ').map(str::trim),
        _ => None,
    }
}

/// The anchor GitHub gives a heading: lower case, punctuation (backticks, slashes,
/// parentheses, ...) dropped but for `-` and `_`, and each space a `-`.
pub fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor the headings of `text` make; a repeated heading's anchor takes `-1`,
/// `-2`, ... as on GitHub.
pub fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for title in prose_lines(text).filter_map(heading) {
        let base = slug(title);
        let mut anchor = base.clone();
        let mut repeat = 0;
        while found.contains(&anchor) {
            repeat += 1;
            anchor = format!("{base}-{repeat}");
        }
        found.insert(anchor);
    }
    found
}

/// The targets of the links `[text](target)` of `text`, outside code, that stay in the
/// repository: no scheme (`https:`, `mailto:`).
pub fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in prose_lines(text) {
        // Code spans are the odd pieces between backticks.
        let line: String = line.split('`').step_by(2).collect();
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if !target.contains(':') {
                links.push(target.to_owned());
            }
        }
    }
    links
}

/// The text of `text`'s section under `heading` (written with its hashes, `## Title`),
/// down to the next heading of its level or above.
pub fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("{heading}\n"))
        .filter(|at| *at == 0 || text[..*at].ends_with('\n'))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let level = heading.split(' ').next().unwrap().len();
    let rest = &text[start + heading.len() + 1..];
    let mut fenced = false;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !fenced && (1..=level).contains(&hashes) && line[hashes..].starts_with(' ') {
            return &rest[..offset];
        }
        offset += line.len();
    }
    rest
}

/// The section under `heading` with its lines joined and spaces collapsed, to look for a
/// sentence however it is wrapped.
pub fn prose(text: &str, heading: &str) -> String {
    section(text, heading)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn anchors_follow_githubs_rules() {
    let page = "# Securing /metrics\n## Queue observations (real time)\n```\n# not a heading\n```\n### `GenesysUp` fires\n## Queue observations (real time)\n";
    assert_eq!(
        anchors(page),
        BTreeSet::from([
            "securing-metrics".to_owned(),
            "queue-observations-real-time".to_owned(),
            "queue-observations-real-time-1".to_owned(),
            "genesysup-fires".to_owned(),
        ])
    );
}

#[test]
fn a_section_ends_at_the_next_heading_of_its_level_not_at_a_comment_in_code() {
    let page = "# A\nintro\n## B\nb text\n```sh\n# a comment\n```\n### B1\nmore\n## C\nc text\n";
    assert_eq!(
        section(page, "## B"),
        "b text\n```sh\n# a comment\n```\n### B1\nmore\n"
    );
    assert_eq!(section(page, "## C"), "c text\n");
    assert_eq!(
        relative_links("[a](docs/a.md#x) [b](https://x.org) `[c](d)`\n"),
        ["docs/a.md#x"]
    );
}
