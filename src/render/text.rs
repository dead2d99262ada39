//! `--format text`: the terminal report.
//!
//! One aligned line per stack (status, id, `+add ~change -destroy`,
//! violation count, duration), its violations, warnings and error under it,
//! then the waves and a summary line:
//! `3 stacks: 2 passed, 1 failed (policy) in 4.2s`.
//! Must not: decide colour itself (the caller says whether the terminal
//! wants it), vary between two renders of the same report, or print a
//! field from a repository except through [`super::terminal`] (and the
//! whole is neutralised, so no line can be a workflow command).

use std::fmt::Write;

use crate::actions::commands::neutralise;
use crate::report::{RunReport, StackReport, StackStatus};

use super::{changes, duration, terminal};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The whole terminal report; ANSI colours only when `color`.
pub fn report(report: &RunReport, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let ids: Vec<String> = report.stacks.iter().map(|s| terminal(&s.id)).collect();
    let id_width = ids.iter().map(|id| id.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (s, id) in report.stacks.iter().zip(&ids) {
        let status = format!("{:<9}", s.status.as_str());
        let _ = write!(
            out,
            "{} {id:<id_width$}  {:<14}  {}",
            paint(status_color(s.status), &status),
            if has_plan(s) {
                changes(&s.changes)
            } else {
                "-".into()
            },
            violations_text(s),
        );
        if s.action != "plan" {
            let _ = write!(out, "  ({})", terminal(&s.action));
        }
        let _ = writeln!(out, "  {}", paint(DIM, &duration(s.duration_ms)));
        if let Some(head) = super::carried_from(s) {
            let _ = writeln!(
                out,
                "    {}",
                paint(
                    DIM,
                    &format!("carried from {} (unchanged since)", terminal(head))
                )
            );
        }
        if let Some(why) = super::impact_reasons(s) {
            let _ = writeln!(
                out,
                "    {}",
                paint(DIM, &format!("via {}", terminal(&why)))
            );
        }
        if let Some(why) = &s.promotion {
            let line = format!("    not promoted: {}", terminal(why));
            let _ = writeln!(out, "{}", paint(RED, &line));
        }
        for v in &s.violations {
            let line = format!(
                "    {} [{}] {}",
                terminal(&v.rule),
                terminal(&v.namespace),
                terminal(&v.msg)
            );
            let _ = writeln!(out, "{}", paint(RED, &line));
        }
        for w in &s.warnings {
            let line = format!(
                "    {} [{}] {}",
                terminal(&w.rule),
                terminal(&w.namespace),
                terminal(&w.msg)
            );
            let _ = writeln!(out, "{}", paint(YELLOW, &line));
        }
        for w in &s.terraform_warnings {
            let line = format!("    terraform warning: {}", terminal(w));
            let _ = writeln!(out, "{}", paint(YELLOW, &line));
        }
        if let Some(err) = &s.error {
            for line in err.lines().filter(|l| !l.trim().is_empty()) {
                // Terraform indents source snippets: keep the indent.
                let indent = line.chars().take_while(|c| c.is_whitespace()).count();
                let _ = writeln!(out, "    {:indent$}{}", "", terminal(line));
            }
        }
        if let Some(tail) = &s.log_tail {
            let _ = writeln!(out, "    {}", paint(DIM, "terraform's last lines:"));
            for line in tail.lines() {
                let _ = writeln!(out, "    | {}", paint(DIM, &terminal(line)));
            }
        }
        if let Some(file) = &s.log_file {
            let _ = writeln!(
                out,
                "    {}",
                paint(
                    DIM,
                    &format!("terraform's whole output: {}", terminal(file))
                )
            );
        }
    }
    if !report.waves.is_empty() {
        out.push('\n');
        for (i, wave) in report.waves.iter().enumerate() {
            let wave: Vec<String> = wave.iter().map(|id| terminal(id)).collect();
            let _ = writeln!(out, "wave {}: {}", i + 1, wave.join(", "));
        }
    }
    if !report.locks.is_empty() {
        out.push('\n');
        for l in &report.locks {
            let line = format!("locked: {}", terminal(&l.sentence()));
            let _ = writeln!(out, "{}", paint(YELLOW, &line));
        }
    }
    out.push('\n');
    let _ = writeln!(out, "{}", paint(BOLD, &summary_line(report)));
    neutralise(&out).into_owned()
}

/// `3 stacks: 2 passed, 1 failed (policy) in 4.2s`.
pub fn summary_line(report: &RunReport) -> String {
    let count = |status| report.stacks.iter().filter(|s| s.status == status).count();
    let total = report.stacks.len();
    let mut parts = vec![format!("{} passed", count(StackStatus::Passed))];
    // Failed by promotion alone: not the policy's doing.
    let unpromoted = report
        .stacks
        .iter()
        .filter(|s| s.status == StackStatus::Failed && s.violations.is_empty())
        .filter(|s| s.promotion.is_some())
        .count();
    let by_policy = count(StackStatus::Failed) - unpromoted;
    if by_policy > 0 {
        parts.push(format!("{by_policy} failed (policy)"));
    }
    if unpromoted > 0 {
        parts.push(format!("{unpromoted} not promoted"));
    }
    for (status, label) in [
        (StackStatus::Error, "failed (terraform)"),
        (StackStatus::Skipped, "skipped"),
        (StackStatus::Cancelled, "cancelled"),
    ] {
        let n = count(status);
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    format!(
        "{total} stack{}: {} in {}",
        if total == 1 { "" } else { "s" },
        parts.join(", "),
        duration(report.duration_ms)
    )
}

/// Whether the stack got as far as a plan (its counts mean something).
pub(crate) fn has_plan(s: &StackReport) -> bool {
    matches!(s.status, StackStatus::Passed | StackStatus::Failed)
}

fn violations_text(s: &StackReport) -> String {
    if !has_plan(s) {
        return " ".repeat(12);
    }
    match s.violations.len() {
        1 => "1 violation ".to_string(),
        n => format!("{n} violations"),
    }
}

fn status_color(status: StackStatus) -> &'static str {
    match status {
        StackStatus::Passed => GREEN,
        StackStatus::Failed | StackStatus::Error => RED,
        StackStatus::Skipped | StackStatus::Cancelled => YELLOW,
    }
}
