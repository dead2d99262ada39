//! Drift reports for people and programs: the terminal text, the JSON
//! document, the GitHub issue's title and body, and the comment that closes
//! it once drift is gone.
//!
//! Must not: do IO, read the clock (the run URL comes in as data), show
//! plan text outside an escaped code fence, or exceed GitHub's body limit.

use std::fmt::Write;

use crate::drift::{DriftReport, Severity};

use crate::actions::commands::{neutralise, neutralise_json};

use super::{changes, code, duration, fenced, inline, split, terminal};

/// The hidden marker of tfctl's drift issue: how a re-run finds its own
/// issue among the open `tfctl-drift` ones.
pub const MARKER: &str = "<!-- tfctl:drift -->";

/// Label of the drift issue.
pub const LABEL: &str = "tfctl-drift";

/// `tfctl drift: 2 stacks drifted (high)`, `… 1 stack drifted, 1 not checked`.
pub fn title(d: &DriftReport) -> String {
    let n = d.drifted.len();
    let mut out = format!(
        "tfctl drift: {n} stack{} drifted",
        if n == 1 { "" } else { "s" }
    );
    if let Some(s) = d.severity {
        let _ = write!(out, " ({})", s.as_str());
    }
    if !d.unchecked.is_empty() {
        let _ = write!(out, ", {} not checked", d.unchecked.len());
    }
    out
}

/// The issue body: marker, verdict, a table of drifted stacks, the stacks
/// whose drift is unknown, then each drifted stack's redacted plan
/// (collapsed). Cut to GitHub's limit with a pointer to the run.
pub fn issue_body(d: &DriftReport, run_url: Option<&str>) -> String {
    let mut out = format!("{MARKER}\n");
    out.push_str(&summary_markdown(d));
    if let Some(url) = run_url {
        let _ = writeln!(out, "\n<sub>Found by [this run]({url}).</sub>");
    }
    split::fit(&out, split::COMMENT_LIMIT, &split::pointer(run_url))
}

/// The body without the marker: the job summary and `--format markdown`.
pub fn summary_markdown(d: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}\n", title(d));
    let _ = writeln!(
        out,
        "{} of {} stacks differ from their code (overall severity: **{}**), checked in {}.",
        d.drifted.len(),
        d.checked,
        severity_word(d),
        duration(d.duration_ms)
    );
    if !d.drifted.is_empty() {
        out.push_str("\n| Severity | Stack | Environment | Changes |\n|---|---|---|---|\n");
        for s in &d.drifted {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | `{}` |",
                s.severity.as_str(),
                code(&s.id),
                inline(&s.environment),
                changes(&s.changes)
            );
        }
    }
    if !d.unchecked.is_empty() {
        out.push_str("\n#### Not checked\n\n| Stack | Status | Why |\n|---|---|---|\n");
        for u in &d.unchecked {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                code(&u.id),
                u.status.as_str(),
                inline(u.reason.lines().next().unwrap_or_default())
            );
        }
    }
    // The plans go last: `split::fit` cuts them first.
    for s in &d.drifted {
        if let Some(plan) = &s.plan_summary {
            let _ = write!(
                out,
                "\n<details><summary><code>{}</code> plan</summary>\n\n{}\n</details>\n",
                inline(&s.id),
                fenced("diff", plan)
            );
        }
    }
    out
}

/// The comment on an open drift issue when a run finds no drift.
pub fn resolved_comment(d: &DriftReport, run_url: Option<&str>) -> String {
    let by = run_url.map_or(String::new(), |u| format!(" ([run]({u}))"));
    format!(
        "No drift remains: all {} stacks match their code{by}. Closing.\n",
        d.checked
    )
}

/// `--format text`: one line per drifted or unchecked stack, then a
/// summary line; fields through [`terminal`], the whole neutralised.
pub fn text(d: &DriftReport) -> String {
    let width = d
        .drifted
        .iter()
        .map(|s| terminal(&s.id).chars().count())
        .chain(d.unchecked.iter().map(|u| terminal(&u.id).chars().count()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for s in &d.drifted {
        let _ = writeln!(
            out,
            "{:<8} {:<width$}  {:<14}  {}",
            s.severity.as_str(),
            terminal(&s.id),
            changes(&s.changes),
            terminal(&s.environment)
        );
    }
    for u in &d.unchecked {
        let why = terminal(u.reason.lines().next().unwrap_or_default());
        let _ = writeln!(
            out,
            "{:<8} {:<width$}  {}: {why}",
            "unknown",
            terminal(&u.id),
            u.status.as_str()
        );
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} of {} stacks drifted (severity: {}){} in {}",
        d.drifted.len(),
        d.checked,
        severity_word(d),
        if d.unchecked.is_empty() {
            String::new()
        } else {
            format!(", {} not checked", d.unchecked.len())
        },
        duration(d.duration_ms)
    );
    neutralise(&out).into_owned()
}

fn severity_word(d: &DriftReport) -> &'static str {
    d.severity.map_or("none", Severity::as_str)
}

/// `--format json`: the [`DriftReport`], pretty, with a trailing newline.
pub fn json(d: &DriftReport) -> String {
    let mut out =
        serde_json::to_string_pretty(d).expect("a DriftReport is plain data and always serializes");
    out.push('\n');
    neutralise_json(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{DriftedStack, UncheckedStack};
    use crate::report::{Changes, StackStatus};

    fn report() -> DriftReport {
        DriftReport {
            version: 1,
            severity: Some(Severity::Medium),
            checked: 5,
            drifted: vec![DriftedStack {
                id: "S3/data-lake-prod".into(),
                environment: "production".into(),
                severity: Severity::Medium,
                changes: Changes {
                    add: 0,
                    change: 1,
                    destroy: 0,
                },
                plan_summary: Some("~ terraform_data.bucket\n<!-- tfctl:drift -->".into()),
            }],
            unchecked: vec![UncheckedStack {
                id: "Lambda/ingest".into(),
                environment: "production".into(),
                status: StackStatus::Error,
                reason: "Error: fail_plan | set\nmore".into(),
            }],
            duration_ms: 4_200,
        }
    }

    #[test]
    fn title_counts_and_names_the_severity() {
        assert_eq!(
            title(&report()),
            "tfctl drift: 1 stack drifted (medium), 1 not checked"
        );
        let mut clean = report();
        clean.drifted.clear();
        clean.unchecked.clear();
        clean.severity = None;
        assert_eq!(title(&clean), "tfctl drift: 0 stacks drifted");
    }

    #[test]
    fn body_has_one_marker_a_table_and_escaped_text() {
        let body = issue_body(&report(), Some("https://gh/run/1"));
        assert!(body.starts_with(MARKER), "{body}");
        // The plan's forged marker is defanged inside the fence.
        assert_eq!(body.matches("<!-- tfctl:").count(), 1, "{body}");
        assert!(
            body.contains("| medium | `S3/data-lake-prod` | production | `+0 ~1 -0` |"),
            "{body}"
        );
        assert!(
            body.contains("| `Lambda/ingest` | error | Error: fail_plan \\| set |"),
            "{body}"
        );
        assert!(body.contains("[this run](https://gh/run/1)"));
        assert!(body.contains("overall severity: **medium**"));
    }

    #[test]
    fn a_huge_body_is_cut_to_the_limit_and_keeps_the_marker() {
        let mut d = report();
        d.drifted[0].plan_summary = Some("~ x\n".repeat(30_000));
        let body = issue_body(&d, None);
        assert!(body.chars().count() <= split::COMMENT_LIMIT);
        assert!(body.starts_with(MARKER));
        assert!(body.contains("Output truncated"));
    }

    #[test]
    fn text_lists_drift_then_unknowns_then_the_summary() {
        assert_eq!(
            text(&report()),
            "medium   S3/data-lake-prod  +0 ~1 -0        production\n\
             unknown  Lambda/ingest      error: Error: fail_plan | set\n\
             \n\
             1 of 5 stacks drifted (severity: medium), 1 not checked in 4.2s\n"
        );
    }

    #[test]
    fn resolved_comment_says_so() {
        let mut d = report();
        d.drifted.clear();
        d.unchecked.clear();
        assert_eq!(
            resolved_comment(&d, Some("https://gh/run/2")),
            "No drift remains: all 5 stacks match their code ([run](https://gh/run/2)). Closing.\n"
        );
    }
}
