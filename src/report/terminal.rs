//! The `table` format: a report laid out for a terminal, each number rounded to its unit's
//! precision, and by default only the main columns, as many as fit in [`TABLE_WIDTH`].

use std::io::Write;

use super::{Cell, Table, Unit};

/// The widest a default table is, in characters.
pub const TABLE_WIDTH: usize = 120;

/// The metric columns a default table shows first, in this order, where the report has
/// them: what a contact centre reads first. The other metric columns follow in the
/// report's order, while they fit.
const MAIN_COLUMNS: &[&str] = &[
    "offered",
    "answered_segments",
    "abandon_segments",
    "service_level_ratio",
    "answered_seconds_avg",
    "handle_seconds_avg",
    "wait_seconds_avg",
    "transferred",
];

/// The longest text shown whole: a queue ID (a UUID) fits; longer text is cut with `…`.
const LONGEST_TEXT: usize = 36;

const GAP: &str = "  ";

/// The columns a terminal shows by default, and the names of those left out. Shown: the
/// bucket's start, the groups (a queue's name in place of its ID when every queue has a
/// name: without `routing:queue:view` none has), then metric columns ([`MAIN_COLUMNS`] first) while the line stays within
/// `width`; at least one metric column, so a report of many groups still shows a figure.
pub fn fit(table: &Table, width: usize) -> (Table, Vec<String>) {
    let named = |name: &str| table.columns.iter().position(|c| c.name == name);
    // Rows without a queue (outbound calls) have neither an ID nor a name.
    let every_queue_named = match (named("queue_id"), named("queue")) {
        (Some(id), Some(queue)) => table
            .rows
            .iter()
            .all(|row| matches!(row[id], Cell::Empty) || !matches!(row[queue], Cell::Empty)),
        _ => false,
    };
    let is_key = |i: usize| {
        let column = &table.columns[i];
        matches!(column.unit, Unit::Time | Unit::Text)
            && column.name != "interval_end"
            && !(column.name == "queue_id" && every_queue_named)
    };
    let keys = (0..table.columns.len()).filter(|&i| is_key(i));
    let mut shown: Vec<usize> = keys.collect();
    let mut used: usize = shown.iter().map(|&i| column_width(table, i)).sum::<usize>()
        + GAP.len() * shown.len().saturating_sub(1);

    let metrics = (0..table.columns.len())
        .filter(|&i| !matches!(table.columns[i].unit, Unit::Time | Unit::Text));
    let mut ranked: Vec<usize> = metrics.collect();
    ranked.sort_by_key(|&i| {
        MAIN_COLUMNS
            .iter()
            .position(|main| *main == table.columns[i].name)
            .unwrap_or(MAIN_COLUMNS.len())
    });
    let mut any_metric = false;
    for i in ranked {
        let wider = used + GAP.len() + column_width(table, i);
        if wider <= width || !any_metric {
            shown.push(i);
            used = wider;
            any_metric = true;
        }
    }
    shown.sort_unstable();
    let left_out = (0..table.columns.len())
        .filter(|i| !shown.contains(i))
        .map(|i| table.columns[i].name.clone())
        .collect();
    (table.with_columns(&shown), left_out)
}

/// Writes every column of `table`, aligned: text to the left, numbers to the right.
pub(super) fn write(table: &Table, out: &mut impl Write) -> std::io::Result<()> {
    let widths: Vec<usize> = (0..table.columns.len())
        .map(|i| column_width(table, i))
        .collect();
    let line = |cells: &mut dyn Iterator<Item = (String, bool)>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|((text, numeric), &width)| {
                if numeric {
                    format!("{text:>width$}")
                } else {
                    format!("{text:<width$}")
                }
            })
            .collect();
        padded.join(GAP).trim_end().to_string() + "\n"
    };
    let headers = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), is_numeric(c.unit)));
    out.write_all(line(&mut headers.into_iter()).as_bytes())?;
    for row in &table.rows {
        let mut cells = row
            .iter()
            .zip(&table.columns)
            .map(|(cell, column)| (shown(cell, column.unit), is_numeric(column.unit)));
        out.write_all(line(&mut cells).as_bytes())?;
    }
    Ok(())
}

fn is_numeric(unit: Unit) -> bool {
    !matches!(unit, Unit::Time | Unit::Text)
}

/// The width of column `i`: its longest cell as shown, or its name.
fn column_width(table: &Table, i: usize) -> usize {
    let column = &table.columns[i];
    table
        .rows
        .iter()
        .map(|row| shown(&row[i], column.unit).chars().count())
        .chain([column.name.chars().count()])
        .max()
        .unwrap_or(0)
}

/// A cell as the table shows it: a bucket's start to the minute, text cut at
/// [`LONGEST_TEXT`], a count whole, seconds to 0.1, a ratio to 0.001, an observed value
/// to 0.01.
fn shown(cell: &Cell, unit: Unit) -> String {
    match cell {
        Cell::Time(time) => time.strftime("%Y-%m-%dT%H:%MZ").to_string(),
        Cell::Text(text) if text.chars().count() > LONGEST_TEXT => {
            let kept: String = text.chars().take(LONGEST_TEXT - 1).collect();
            kept + "…"
        }
        Cell::Text(text) => text.clone(),
        Cell::Number(number) => match unit {
            Unit::Count => format!("{number:.0}"),
            Unit::Seconds => format!("{number:.1}"),
            Unit::Ratio => format!("{number:.3}"),
            Unit::Value | Unit::Time | Unit::Text => format!("{number:.2}"),
        },
        Cell::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Column, ReportFormat};

    fn column(name: &str, unit: Unit) -> Column {
        Column {
            name: name.into(),
            unit,
        }
    }

    fn text(table: &Table) -> String {
        let mut out = Vec::new();
        table.write(ReportFormat::Table, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_aligns_left_numbers_right_each_rounded_to_its_unit() {
        let table = Table {
            columns: vec![
                column("queue", Unit::Text),
                column("offered", Unit::Count),
                column("handle_seconds_avg", Unit::Seconds),
                column("service_level_ratio", Unit::Ratio),
            ],
            rows: vec![
                vec![
                    Cell::Text("Sales".into()),
                    Cell::Number(7.0),
                    Cell::Number(177.138_222_222_222_23),
                    Cell::Number(0.834_862_385_321_100_9),
                ],
                vec![
                    Cell::Text("Technical Support".into()),
                    Cell::Number(120.0),
                    Cell::Number(33.06),
                    Cell::Number(1.0),
                ],
                vec![
                    Cell::Text("Idle".into()),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ],
            ],
        };
        assert_eq!(
            text(&table),
            "queue              offered  handle_seconds_avg  service_level_ratio\n\
             Sales                    7               177.1                0.835\n\
             Technical Support      120                33.1                1.000\n\
             Idle\n"
        );
    }

    #[test]
    fn long_text_is_cut_and_a_bucket_start_shown_to_the_minute() {
        let start: jiff::Timestamp = "2026-08-20T12:00:00Z".parse().unwrap();
        let table = Table {
            columns: vec![
                column("interval_start", Unit::Time),
                column("queue", Unit::Text),
            ],
            rows: vec![vec![Cell::Time(start), Cell::Text("x".repeat(40))]],
        };
        let shown = text(&table);
        let row = shown.lines().nth(1).unwrap();
        assert_eq!(row, format!("2026-08-20T12:00Z  {}…", "x".repeat(35)));
    }

    /// A table of two queues with every default column (the interval end, the queue ID,
    /// the name) and `metrics`, each 1234.5 in every row.
    fn queues_with(metrics: &[(&str, Unit)]) -> Table {
        let start: jiff::Timestamp = "2026-08-20T12:00:00Z".parse().unwrap();
        let mut columns = vec![
            column("interval_start", Unit::Time),
            column("interval_end", Unit::Time),
            column("queue_id", Unit::Text),
            column("queue", Unit::Text),
        ];
        columns.extend(metrics.iter().map(|(name, unit)| column(name, *unit)));
        let row = |id: &str, name: &str| {
            let mut row = vec![
                Cell::Time(start),
                Cell::Time(start),
                Cell::Text(id.into()),
                Cell::Text(name.into()),
            ];
            row.extend(metrics.iter().map(|_| Cell::Number(1234.5)));
            row
        };
        Table {
            columns,
            rows: vec![row("q-1", "Sales"), row("q-2", "Support")],
        }
    }

    #[test]
    fn the_main_columns_come_first_while_they_fit_and_the_rest_are_named() {
        let table = queues_with(&[
            ("connected", Unit::Count),
            ("abandon_segments", Unit::Count),
            ("talk_seconds", Unit::Seconds),
            ("offered", Unit::Count),
            ("handle_seconds_avg", Unit::Seconds),
        ]);
        // interval_start 17 + queue 7 = 26 with its gap; offered (+9), abandon_segments
        // (+18), handle_seconds_avg (+20) are main: 73; then connected (+11) = 84 fits in
        // 90, talk_seconds (+14) does not.
        let (fitted, left_out) = fit(&table, 90);
        let names: Vec<&str> = fitted.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "interval_start",
                "queue",
                "connected",
                "abandon_segments",
                "offered",
                "handle_seconds_avg"
            ]
        );
        assert_eq!(left_out, ["interval_end", "queue_id", "talk_seconds"]);
        assert!(text(&fitted).lines().all(|line| line.chars().count() <= 90));
        assert_eq!(text(&fitted).lines().next().unwrap().chars().count(), 84);
    }

    #[test]
    fn a_queue_without_a_name_keeps_the_id_column_and_one_figure_always_shows() {
        let mut table = queues_with(&[("offered", Unit::Count), ("connected", Unit::Count)]);
        table.rows[1][3] = Cell::Empty;
        let (fitted, left_out) = fit(&table, 10);
        let names: Vec<&str> = fitted.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["interval_start", "queue_id", "queue", "offered"]);
        assert_eq!(left_out, ["interval_end", "connected"]);
    }
}
