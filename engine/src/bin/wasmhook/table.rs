//! Tables for the human output of the CLI.

use comfy_table::{Table, presets};

/// A table with a header row, borders as light lines; `(none)` without rows.
pub fn table<R: IntoIterator<Item = String>>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED).set_header(header.iter().copied());
    for row in rows {
        table.add_row(row.into_iter().collect::<Vec<_>>());
    }
    if table.is_empty() { "(none)".to_owned() } else { table.to_string() }
}
