//! The apply result as people and programs read it: the sticky PR comment
//! (led by its `<!-- tfctl:apply {json} -->` marker), the job summary, the
//! terminal text and the commit status description, all pure functions of
//! an [`ApplyReport`].
//!
//! Must not: show a sensitive value (the report holds non-sensitive outputs
//! only, and nothing here adds any), show text from terraform unescaped
//! (see [`super::inline`], [`super::fenced`]), or cut the body (`split`
//! does).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::actions::commands::neutralise;
use crate::report::{ApplyReport, ApplyResult, ApplyStackReport, ApplyStatus};

use super::markdown::{collapsed, footer_line};
use super::{changes, code, duration, inline, terminal};

/// Longest output value shown inline; longer ones are cut with `…`.
const OUTPUT_VALUE_CHARS: usize = 200;

/// Where the comment links to and what it carries hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyContext {
    pub run_url: Option<String>,
    /// The rendered marker; None for the job summary.
    pub marker: Option<String>,
}

/// The PR comment (and, without a marker, the job summary). Ends with a
/// newline.
pub fn comment(report: &ApplyReport, ctx: &ApplyContext) -> String {
    let mut out = String::new();
    if let Some(marker) = &ctx.marker {
        out.push_str(marker);
        out.push('\n');
    }
    let (icon, verdict) = match report.result {
        ApplyResult::Applied => ("✅", "applied"),
        ApplyResult::Blocked => ("⛔", "blocked"),
        ApplyResult::Failed => ("❌", "failed"),
        ApplyResult::Cancelled => ("🛑", "cancelled"),
    };
    let _ = writeln!(
        out,
        "### {icon} tfctl apply {verdict}: `{}` → `{}`\n",
        code(report.environment.as_deref().unwrap_or("?")),
        code(&report.branch)
    );
    let _ = writeln!(out, "{}\n", inline(&summary_line(report)));
    if report.result == ApplyResult::Blocked {
        out.push_str("The apply gate refused; nothing was applied and no state was touched:\n\n");
        for reason in &report.blocked {
            let _ = writeln!(out, "- {}", inline(reason));
        }
    } else {
        table(report, &mut out);
        problems(report, &mut out);
        outputs(report, &mut out);
        snapshots(report, &mut out);
        replans(report, &mut out);
    }
    footer(report, ctx, &mut out);
    out
}

/// `4 stacks: 3 applied, 1 not applied in 4.2s`, or the gate's verdict.
pub fn summary_line(report: &ApplyReport) -> String {
    if report.result == ApplyResult::Blocked {
        return match report.blocked.len() {
            1 => "Blocked by 1 reason.".to_string(),
            n => format!("Blocked by {n} reasons."),
        };
    }
    if report.stacks.is_empty() {
        return format!(
            "No stacks changed: nothing to apply ({}).",
            duration(report.duration_ms)
        );
    }
    let mut counts: BTreeMap<ApplyStatus, usize> = BTreeMap::new();
    for s in &report.stacks {
        *counts.entry(s.status).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(status, n)| format!("{n} {}", status_words(*status)))
        .collect();
    let n = report.stacks.len();
    format!(
        "{n} stack{}: {} in {}",
        if n == 1 { "" } else { "s" },
        parts.join(", "),
        duration(report.duration_ms)
    )
}

/// The commit status description (GitHub cuts it at 140 characters).
pub fn status_description(report: &ApplyReport) -> String {
    match report.result {
        ApplyResult::Blocked => format!(
            "blocked: {}",
            report.blocked.first().map_or("", String::as_str)
        ),
        _ => summary_line(report),
    }
}

/// The terminal report: one line per stack with its snapshot and outputs
/// under it, then the summary line. Every field from a repository or from
/// terraform goes through [`terminal`], and the whole is neutralised, so
/// printing it cannot emit a workflow command.
pub fn text(report: &ApplyReport) -> String {
    let mut out = String::new();
    if report.result == ApplyResult::Blocked {
        out.push_str("apply blocked; nothing was applied:\n");
        for reason in &report.blocked {
            let _ = writeln!(out, "  - {}", terminal(reason));
        }
        return neutralise(&out).into_owned();
    }
    let ids: Vec<String> = report.stacks.iter().map(|s| terminal(&s.id)).collect();
    let width = ids.iter().map(|id| id.chars().count()).max().unwrap_or(0);
    for (s, id) in report.stacks.iter().zip(&ids) {
        let _ = write!(out, "{:<11} {id:<width$}", s.status.as_str());
        if s.action != "plan" {
            let _ = write!(out, "  ({})", terminal(&s.action));
        }
        let _ = writeln!(out, "  {}", duration(s.duration_ms));
        if let Some(err) = &s.error {
            let _ = writeln!(out, "    {}", terminal(err));
        }
        if let Some(path) = &s.state_snapshot {
            let _ = writeln!(out, "    state snapshot: {}", terminal(path));
        }
        for (name, value) in &s.outputs {
            let _ = writeln!(
                out,
                "    output {} = {}",
                terminal(name),
                terminal(&value_text(value))
            );
        }
    }
    let _ = writeln!(out, "{}", summary_line(report));
    neutralise(&out).into_owned()
}

fn status_words(status: ApplyStatus) -> &'static str {
    match status {
        ApplyStatus::Applied => "applied",
        ApplyStatus::Failed => "failed",
        ApplyStatus::Skipped => "skipped",
        ApplyStatus::NotApplied => "not applied",
        ApplyStatus::Cancelled => "cancelled",
    }
}

fn status_cell(status: ApplyStatus) -> &'static str {
    match status {
        ApplyStatus::Applied => "✅ applied",
        ApplyStatus::Failed => "💥 failed",
        ApplyStatus::Skipped => "⏭️ skipped",
        ApplyStatus::NotApplied => "⛔ not applied",
        ApplyStatus::Cancelled => "🛑 cancelled",
    }
}

fn table(report: &ApplyReport, out: &mut String) {
    if report.stacks.is_empty() {
        return;
    }
    out.push_str("| Stack | Action | Result | Changes | Duration |\n");
    out.push_str("|---|---|---|---|---|\n");
    for s in &report.stacks {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            code(&s.id),
            inline(&s.action),
            status_cell(s.status),
            s.changes
                .as_ref()
                .map_or_else(|| "—".to_string(), |c| format!("`{}`", changes(c))),
            if s.status == ApplyStatus::Skipped {
                "—".to_string()
            } else {
                duration(s.duration_ms)
            }
        );
    }
}

/// Why each stack that was not applied was not.
fn problems(report: &ApplyReport, out: &mut String) {
    let with: Vec<(&ApplyStackReport, &String)> = report
        .stacks
        .iter()
        .filter(|s| s.status != ApplyStatus::Applied)
        .filter_map(|s| s.error.as_ref().map(|e| (s, e)))
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("\n#### Not applied\n");
    for (s, err) in with {
        if err.lines().count() <= 1 {
            let _ = writeln!(
                out,
                "\n- `{}` {}: {}",
                code(&s.id),
                status_words(s.status),
                inline(err)
            );
        } else {
            collapsed(out, &s.id, status_words(s.status), "text", err);
        }
    }
}

fn outputs(report: &ApplyReport, out: &mut String) {
    let with: Vec<&ApplyStackReport> = report
        .stacks
        .iter()
        .filter(|s| !s.outputs.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("\n#### Outputs\n\nSensitive outputs are not shown.\n");
    for s in with {
        let _ = writeln!(out, "\n**`{}`**\n", code(&s.id));
        for (name, value) in &s.outputs {
            let _ = writeln!(out, "- `{}` = `{}`", code(name), code(&value_text(value)));
        }
    }
}

fn snapshots(report: &ApplyReport, out: &mut String) {
    let with: Vec<(&str, &str)> = report
        .stacks
        .iter()
        .filter_map(|s| Some((s.id.as_str(), s.state_snapshot.as_deref()?)))
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str(
        "\n<details><summary>State snapshots taken before applying (on the runner)</summary>\n\n",
    );
    for (id, path) in with {
        let _ = writeln!(out, "- `{}`: `{}`", code(id), code(path));
    }
    out.push_str("\n</details>\n");
}

/// The re-plan of every stack refused for a changed plan: what it would
/// have done instead of what was approved.
fn replans(report: &ApplyReport, out: &mut String) {
    for s in &report.stacks {
        let Some(plan) = &s.plan_summary else {
            continue;
        };
        let label = match &s.changes {
            Some(c) => format!("re-plan, not applied ({})", changes(c)),
            None => "re-plan, not applied".to_string(),
        };
        collapsed(out, &s.id, &label, "diff", plan);
    }
}

fn footer(report: &ApplyReport, ctx: &ApplyContext, out: &mut String) {
    footer_line(
        "tfctl apply",
        report.commit_sha.as_deref().map(|sha| ("commit", sha)),
        report.duration_ms,
        ctx.run_url.as_deref(),
        out,
    );
}

/// A value as compact JSON (strings without quotes), cut to a readable size.
fn value_text(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > OUTPUT_VALUE_CHARS {
        let cut: String = text.chars().take(OUTPUT_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::marker::{self, ApplyMarker, ApplyState};
    use crate::report::Changes;

    fn stack(id: &str, status: ApplyStatus) -> ApplyStackReport {
        ApplyStackReport {
            id: id.into(),
            environment: "production".into(),
            action: "plan".into(),
            status,
            changes: Some(Changes {
                add: 1,
                change: 0,
                destroy: 0,
            }),
            error: None,
            duration_ms: 1_200,
            plan_digest: None,
            approved_digest: None,
            plan_summary: None,
            state_snapshot: None,
            outputs: BTreeMap::new(),
        }
    }

    fn report(stacks: Vec<ApplyStackReport>) -> ApplyReport {
        ApplyReport {
            version: 1,
            result: ApplyReport::judge(&stacks),
            pull_request: Some("o/config#7".into()),
            commit_sha: Some("0123456789abcdef0123".into()),
            environment: Some("production".into()),
            branch: "prod".into(),
            blocked: vec![],
            waves: vec![],
            stacks,
            duration_ms: 4_200,
        }
    }

    #[test]
    fn every_stack_outcome_is_shown_with_its_reason() {
        let mut applied = stack("IAM/role", ApplyStatus::Applied);
        applied
            .outputs
            .insert("arn".into(), "arn:aws:iam::1:role/r".into());
        applied.state_snapshot = Some("/tmp/s/IAM__role.tfstate".into());
        let mut changed = stack("S3/logs", ApplyStatus::NotApplied);
        changed.error =
            Some("plan changed since approval (approved digest aaaaaaa, now bbbbbbb)".into());
        changed.plan_summary = Some("+ terraform_data.bucket".into());
        let mut failed = stack("KMS/key", ApplyStatus::Failed);
        failed.error = Some("apply failed:\nlocal-exec provisioner error".into());
        let mut skipped = stack("Lambda/fn", ApplyStatus::Skipped);
        skipped.error = Some("dependency KMS/key was not applied".into());
        let r = report(vec![applied, changed, failed, skipped]);
        assert_eq!(r.result, ApplyResult::Failed);
        let body = comment(&r, &ApplyContext::default());
        assert!(
            body.starts_with("### ❌ tfctl apply failed: `production` → `prod`"),
            "{body}"
        );
        assert!(
            body.contains("4 stacks: 1 applied, 1 failed, 1 skipped, 1 not applied in 4.2s"),
            "{body}"
        );
        assert!(
            body.contains("| `S3/logs` | plan | ⛔ not applied | `+1 ~0 -0` | 1.2s |"),
            "{body}"
        );
        assert!(
            body.contains("- `S3/logs` not applied: plan changed since approval"),
            "{body}"
        );
        assert!(
            body.contains("- `Lambda/fn` skipped: dependency KMS/key was not applied"),
            "{body}"
        );
        assert!(
            body.contains("<details><summary><code>KMS/key</code> failed</summary>"),
            "{body}"
        );
        assert!(body.contains("- `arn` = `arn:aws:iam::1:role/r`"), "{body}");
        assert!(
            body.contains("`IAM/role`: `/tmp/s/IAM__role.tfstate`"),
            "{body}"
        );
        assert!(body.contains("re-plan, not applied (+1 ~0 -0)"), "{body}");
        assert!(body.contains("commit `0123456789ab`"), "{body}");
    }

    #[test]
    fn a_blocked_apply_lists_every_reason_and_no_table() {
        let mut r = report(vec![]);
        r.result = ApplyResult::Blocked;
        r.blocked = vec!["label missing".into(), "head <moved>".into()];
        let body = comment(&r, &ApplyContext::default());
        assert!(body.contains("nothing was applied and no state was touched"));
        assert!(
            body.contains("- label missing\n- head &lt;moved&gt;\n"),
            "{body}"
        );
        assert!(!body.contains("| Stack |"));
        assert_eq!(status_description(&r), "blocked: label missing");
        assert!(text(&r).contains("  - head <moved>"));
    }

    #[test]
    fn the_marker_leads_the_comment_and_round_trips_signed() {
        let r = report(vec![stack("IAM/role", ApplyStatus::Applied)]);
        let key = crate::attest::SigningKey::generate();
        let attestation = ApplyMarker::of(&r, "o/c", Some(1), ApplyState::Applied, None, "1", "t");
        let m = marker::render(&attestation, Some(&key));
        let body = comment(
            &r,
            &ApplyContext {
                run_url: Some("https://github.test/o/c/actions/runs/1".into()),
                marker: Some(m),
            },
        );
        assert!(body.starts_with("<!-- tfctl:apply "));
        let found: ApplyMarker = marker::find(&body).unwrap();
        assert_eq!(marker::verify(&found, &[key.public()]), Ok(()));
        assert_eq!(found.stacks["IAM/role"], ApplyStatus::Applied);
        assert_eq!(found.state, ApplyState::Applied);
        assert!(marker::find::<crate::render::marker::ValidationMarker>(&body).is_none());
    }

    #[test]
    fn repository_text_cannot_inject_into_the_apply_comment_or_text() {
        use crate::render::hostile;
        let mut failed = stack(hostile::TEXT, ApplyStatus::Failed);
        failed.environment = hostile::TEXT.into();
        failed.error = Some(hostile::TEXT.into());
        let mut applied = stack("IAM/role", ApplyStatus::Applied);
        applied
            .outputs
            .insert(hostile::TEXT.into(), hostile::TEXT.into());
        applied.state_snapshot = Some(hostile::TEXT.into());
        let mut r = report(vec![applied, failed]);
        r.environment = Some(hostile::TEXT.into());
        r.branch = hostile::TEXT.into();
        let apply = ApplyMarker::of(&r, "o/c", Some(1), ApplyState::Failed, None, "1", "t");
        let body = comment(
            &r,
            &ApplyContext {
                run_url: None,
                marker: Some(marker::render(&apply, None)),
            },
        );
        hostile::assert_inert(&body, 1);
        let found: ApplyMarker = marker::find(&body).unwrap();
        assert_eq!(found.environment.as_deref(), Some(hostile::TEXT));

        let mut blocked = report(vec![]);
        blocked.result = ApplyResult::Blocked;
        blocked.environment = Some(hostile::TEXT.into());
        blocked.blocked = vec![hostile::TEXT.into()];
        hostile::assert_inert(&comment(&blocked, &ApplyContext::default()), 0);

        // The terminal text: no command line, each stack on one line.
        for t in [text(&r), text(&blocked)] {
            for line in t.split(['\n', '\r']) {
                assert!(!line.trim_start().starts_with("::"), "{t}");
                assert!(!line.contains('\u{1b}'), "{t}");
            }
        }
        assert!(text(&r).contains("    a<b>--><!-- tfctl:validation {} -->|x ::warning::y\n"));
    }

    #[test]
    fn long_output_values_are_cut_and_text_names_snapshots() {
        let mut s = stack("IAM/role", ApplyStatus::Applied);
        s.outputs.insert("big".into(), "x".repeat(500).into());
        s.state_snapshot = Some("/snap/IAM__role.tfstate".into());
        let t = text(&report(vec![s]));
        assert!(t.contains("state snapshot: /snap/IAM__role.tfstate"), "{t}");
        assert!(
            t.contains(&format!("output big = {}…", "x".repeat(200))),
            "{t}"
        );
        assert!(t.ends_with("1 stack: 1 applied in 4.2s\n"), "{t}");
    }
}
