//! `--format json`: the [`RunReport`] as pretty JSON (the `version: 1`
//! contract lives in `report.rs`). Must not add or rename fields. The text
//! is neutralised without changing the data (see
//! [`crate::actions::commands::neutralise_json`]).

use crate::report::RunReport;

/// The report as pretty-printed JSON with a trailing newline.
pub fn json(report: &RunReport) -> String {
    let mut out = serde_json::to_string_pretty(report)
        .expect("a RunReport is plain data and always serializes");
    out.push('\n');
    crate::actions::commands::neutralise_json(&out).into_owned()
}
