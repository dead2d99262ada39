//! The PR comment body (and `--format markdown`): a pure function of the
//! run report and a little context.
//!
//! Layout: the hidden marker (first, so `marker::find` meets it before any
//! user text), a ✅/❌ header with `environment → target branch`, a table of
//! stacks, violations and warnings grouped by stack, errors, the audit
//! block, a Mermaid graph by wave, each stack's plan in a collapsed
//! `<details>` with a `diff` fence, and a footer linking the run.
//!
//! `--format markdown` prints the same body with `run_url` and `marker` set
//! to None: a marker only means something on a PR, where tfctl signs it.
//! Must not: show text from plans, policies or terraform unescaped (see
//! [`super::inline`] and [`super::fenced`]), or cut the body (that is
//! `split`'s job).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::report::{RunReport, RunResult, StackReport, StackStatus};

use super::text::has_plan;
use super::{changes, code, duration, fenced, graph, inline};

/// What the comment says about where the run came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentContext {
    /// The PR head the plans were made from; shown short in the footer.
    pub head_sha: Option<String>,
    pub environment: String,
    pub target_branch: String,
    /// Link to the workflow run (None locally).
    pub run_url: Option<String>,
    /// The rendered `<!-- tfctl:validation … -->` marker; None for the job
    /// summary and `--format markdown`, where nothing reads it back.
    pub marker: Option<String>,
    /// A collapsed block appended before the footer (override audit, …);
    /// trusted markdown made by tfctl itself.
    pub audit_markdown: Option<String>,
    /// What has to happen next ([`next_step`]); made by tfctl itself.
    pub next_step: Option<String>,
}

/// Who may act on a validation, as tfctl.yaml says: what [`next_step`] needs.
#[derive(Debug, Clone, Default)]
pub struct Approval {
    /// Approving reviews the environment needs (not the author's).
    pub approvals: u32,
    /// Special approvers who may `OVERRIDE:` (users, then `org/team`).
    pub special: Vec<String>,
}

/// The **Next step** line: who must approve and where it merges, who may
/// override what and how, or what to fix; an environment without a branch
/// says so in words.
pub fn next_step(report: &RunReport, ctx: &CommentContext, approval: &Approval) -> String {
    let env = ctx.environment.as_str();
    let special = if approval.special.is_empty() {
        "nobody (no `approvers` in tfctl.yaml)".to_string()
    } else {
        approval
            .special
            .iter()
            .map(|a| format!("`{}`", code(a)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let errors = report
        .stacks
        .iter()
        .any(|s| !matches!(s.status, StackStatus::Passed | StackStatus::Failed));
    let overridable = || {
        format!(
            "or a special approver ({special}) comments `OVERRIDE: <why>` (audited), and {} approving review{} still merge{} it into `{}`.",
            approval.approvals,
            if approval.approvals == 1 { "" } else { "s" },
            if approval.approvals == 1 { "s" } else { "" },
            code(&ctx.target_branch)
        )
    };
    let holders: BTreeSet<&str> = report.locks.iter().map(|l| l.holder.as_str()).collect();
    let step = if report.stacks.is_empty() {
        "nothing to merge: no stack changed.".to_string()
    } else if !holders.is_empty() {
        let verb = if holders.len() == 1 { "is" } else { "are" };
        let holders = inline(&holders.into_iter().collect::<Vec<_>>().join(", "));
        format!("wait for {holders}: tfctl re-validates this pull request when {holders} {verb} applied or closed. A stuck lock: a special approver ({special}) runs `tfctl unlock STACK --reason <why>` (audited).")
    } else if report.environment.is_none() {
        let envs = report.environments().join(", ");
        format!("split this pull request: it changes stacks in several environments ({envs}), and one merge goes to one environment branch.")
    } else if ctx.target_branch.is_empty() {
        format!("none yet: `{}` has no branch to merge into; set `environments.{}.branch` in tfctl.yaml.", code(env), inline(env))
    } else if errors {
        "fix what terraform reported above and push (a flake: re-run the validation).".to_string()
    } else if report.result == RunResult::Failed
        && report.stacks.iter().all(|s| s.violations.is_empty())
        && report.stacks.iter().any(|s| s.promotion.is_some())
    {
        format!(
            "apply the same module tree where this environment is promoted from (see **Promotion**), then re-run this validation; {}",
            overridable()
        )
    } else if report.result == RunResult::Failed {
        format!("fix the violations above and push; {}", overridable())
    } else {
        format!(
            "{} approving review{} by people other than the author; then tfctl merges into `{}` and applies to `{}`.",
            approval.approvals,
            if approval.approvals == 1 { "" } else { "s" },
            code(&ctx.target_branch),
            code(env)
        )
    };
    format!("**Next step:** {step}")
}

/// The comment body. Always ends with a newline.
pub fn comment(report: &RunReport, ctx: &CommentContext) -> String {
    let mut out = String::new();
    if let Some(marker) = &ctx.marker {
        out.push_str(marker);
        out.push('\n');
    }
    header(report, ctx, &mut out);
    lock_callout(report, &mut out);
    destroy_callout(report, &mut out);
    table(report, &mut out);
    impact(report, &mut out);
    if let Some(step) = &ctx.next_step {
        let _ = writeln!(out, "\n{step}");
    }
    promotion(report, &mut out);
    messages(report, &mut out);
    errors(report, &mut out);
    terraform_warnings(report, &mut out);
    // What a reviewer must see comes before the plans, which are the part
    // `split::fit` cuts first when the body is too long.
    if let Some(audit) = &ctx.audit_markdown {
        out.push('\n');
        out.push_str(audit.trim_end());
        out.push('\n');
    }
    if !report.waves.is_empty() {
        out.push_str("\n#### Dependency graph\n\n");
        let classes: BTreeMap<&str, &str> = report
            .stacks
            .iter()
            .map(|s| (s.id.as_str(), s.status.as_str()))
            .collect();
        let chart = graph::mermaid_with_classes(graph::GraphView::of_report(report), &classes);
        out.push_str(&fenced("mermaid", &chart));
    }
    plans(report, &mut out);
    footer(report, ctx, &mut out);
    out
}

fn header(report: &RunReport, ctx: &CommentContext, out: &mut String) {
    let (icon, verdict) = match (report.result, report.locks.is_empty()) {
        (RunResult::Passed, true) => ("✅", "passed"),
        // Passed, but not approvable: the lock is the news.
        (RunResult::Passed, false) => ("🔒", "passed, locked"),
        (RunResult::Failed, _) => ("❌", "failed"),
        (RunResult::Error, _) => ("⚠️", "did not complete"),
    };
    let target = if ctx.target_branch.is_empty() {
        "no environment branch (merge needs one: set its `branch` in tfctl.yaml, or split a PR that spans several environments)".to_string()
    } else {
        format!("`{}`", code(&ctx.target_branch))
    };
    let _ = writeln!(
        out,
        "### {icon} tfctl validate {verdict}: `{}` → {target}\n",
        code(&ctx.environment),
    );
    let _ = writeln!(out, "{}\n", inline(&super::text::summary_line(report)));
    if let Some(line) = super::carried_line(report) {
        let _ = writeln!(out, "{}\n", inline(&line));
    }
}

/// Right under the verdict: the stacks other PRs hold, which no approval
/// or override waives.
fn lock_callout(report: &RunReport, out: &mut String) {
    if report.locks.is_empty() {
        return;
    }
    out.push_str("> [!WARNING]\n");
    out.push_str("> **Locked: this pull request cannot merge yet.** Another open pull request holds a stack it changes:\n");
    for l in &report.locks {
        let _ = writeln!(
            out,
            "> - `{}` is locked by {}, validated {} ago",
            code(&l.stack),
            inline(&l.holder),
            inline(&l.held_for)
        );
    }
    out.push('\n');
}

/// Above everything but the verdict: every resource a plan deletes or
/// replaces, by stack, production first (then by id).
fn destroy_callout(report: &RunReport, out: &mut String) {
    let mut with: Vec<&StackReport> = report
        .stacks
        .iter()
        .filter(|s| !s.destroys.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    with.sort_by_key(|s| (!s.environment.contains("prod"), s.id.as_str()));
    let total: usize = with.iter().map(|s| s.destroys.len()).sum();
    out.push_str("> [!CAUTION]\n");
    let _ = writeln!(
        out,
        "> **{total} resource{} destroyed or replaced** if this merges:",
        if total == 1 { "" } else { "s" }
    );
    let more_stacks = with.len().saturating_sub(CALLOUT_STACKS);
    for s in with.into_iter().take(CALLOUT_STACKS) {
        let shown: Vec<String> = s
            .destroys
            .iter()
            .take(10)
            .map(|d| match d.rsplit_once(" (") {
                Some((address, word)) => format!("`{}` ({}", code(address), inline(word)),
                None => format!("`{}`", code(d)),
            })
            .collect();
        let more = s.destroys.len().saturating_sub(10);
        let _ = writeln!(
            out,
            "> - `{}` ({}): {}{}",
            code(&s.id),
            inline(&s.environment),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if more_stacks > 0 {
        let _ = writeln!(
            out,
            "> - and {more_stacks} more stack{} (see their plans)",
            if more_stacks == 1 { "" } else { "s" }
        );
    }
    out.push('\n');
}

/// Stacks the destroy callout names: it must stay above the cut of a
/// comment of any size, with the verdict and the failures.
const CALLOUT_STACKS: usize = 20;

/// Failures first, then stacks that change something, then the rest; in
/// each, the report's (graph) order.
fn table_order(s: &StackReport) -> u8 {
    match s.status {
        StackStatus::Passed if has_plan(s) && changes(&s.changes) != "+0 ~0 -0" => 1,
        StackStatus::Passed => 2,
        _ => 0,
    }
}

/// Past this many stacks, passed stacks that change nothing fold away.
const FOLD_ABOVE: usize = 20;

fn table(report: &RunReport, out: &mut String) {
    if report.stacks.is_empty() {
        out.push_str("No stacks changed.\n");
        return;
    }
    let mut rows: Vec<&StackReport> = report.stacks.iter().collect();
    rows.sort_by_key(|s| table_order(s));
    let fold = report.stacks.len() > FOLD_ABOVE;
    let (shown, folded): (Vec<&StackReport>, Vec<&StackReport>) =
        rows.into_iter().partition(|s| !fold || table_order(s) < 2);
    if !shown.is_empty() {
        table_rows(&shown, out);
    }
    if !folded.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} stacks passed with no changes</summary>\n",
            folded.len()
        );
        table_rows(&folded, out);
        out.push_str("\n</details>\n");
    }
}

fn table_rows(rows: &[&StackReport], out: &mut String) {
    out.push_str("| Stack | Action | Changes | Policy | Duration |\n");
    out.push_str("|---|---|---|---|---|\n");
    for s in rows {
        let changes = if has_plan(s) {
            format!("`{}`", changes(&s.changes))
        } else {
            "—".to_string()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {changes} | {} | {} |",
            code(&s.id),
            inline(&s.action),
            policy_cell(s),
            if s.status == StackStatus::Skipped || super::carried_from(s).is_some() {
                "—".to_string()
            } else {
                duration(s.duration_ms)
            }
        );
    }
}

/// One line: the module and policy files that selected stacks, each with
/// how many (a stack's own files need no saying).
fn impact(report: &RunReport, out: &mut String) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &report.stacks {
        let own = format!("{}/", s.id);
        for r in s.reasons.iter().filter(|r| !r.starts_with(&own)) {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    if counts.is_empty() {
        return;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(path, n)| {
            format!(
                "`{}` ({n} stack{})",
                code(path),
                if *n == 1 { "" } else { "s" }
            )
        })
        .collect();
    let _ = writeln!(out, "\nSelected by changes to {}.", parts.join(", "));
}

fn policy_cell(s: &StackReport) -> String {
    let warnings = match s.warnings.len() {
        0 => String::new(),
        1 => ", 1 warning".to_string(),
        n => format!(", {n} warnings"),
    };
    match s.status {
        StackStatus::Passed => match super::carried_from(s) {
            Some(head) => format!("✅ passed{warnings} (carried from `{}`)", code(head)),
            None => format!("✅ passed{warnings}"),
        },
        StackStatus::Failed => match (s.violations.len(), &s.promotion) {
            (0, Some(_)) => format!("⛔ not promoted{warnings}"),
            (1, _) => format!("❌ 1 violation{warnings}"),
            (n, _) => format!("❌ {n} violations{warnings}"),
        },
        StackStatus::Error => "💥 terraform error".to_string(),
        StackStatus::Skipped => "⏭️ skipped".to_string(),
        StackStatus::Cancelled => "🛑 cancelled".to_string(),
    }
}

/// Violations and warnings, grouped by stack in report order.
/// Stacks whose module tree was never applied where their environment
/// promotes from: their own reason, apart from the policy's.
fn promotion(report: &RunReport, out: &mut String) {
    let gaps: Vec<(&str, &str)> = report
        .stacks
        .iter()
        .filter_map(|s| Some((s.id.as_str(), s.promotion.as_deref()?)))
        .collect();
    if gaps.is_empty() {
        return;
    }
    out.push_str("\n#### Promotion\n\n");
    for (id, why) in gaps {
        let _ = writeln!(out, "- ⛔ `{}`: {}", code(id), inline(why));
    }
}

fn messages(report: &RunReport, out: &mut String) {
    let with: Vec<&StackReport> = report
        .stacks
        .iter()
        .filter(|s| !s.violations.is_empty() || !s.warnings.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("\n#### Policy\n");
    for s in with {
        let _ = writeln!(out, "\n**`{}`**\n", code(&s.id));
        for v in &s.violations {
            let _ = writeln!(
                out,
                "- ❌ `{}` {}: {}",
                code(&v.namespace),
                inline(&v.rule),
                inline(&v.msg)
            );
        }
        for w in &s.warnings {
            let _ = writeln!(
                out,
                "- ⚠️ `{}` {}: {}",
                code(&w.namespace),
                inline(&w.rule),
                inline(&w.msg)
            );
        }
    }
}

/// Terraform errors, skip and cancel reasons.
fn errors(report: &RunReport, out: &mut String) {
    let with: Vec<(&StackReport, &String)> = report
        .stacks
        .iter()
        .filter_map(|s| s.error.as_ref().map(|e| (s, e)))
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("\n#### Errors\n");
    for (s, err) in with {
        if err.lines().count() <= 1 {
            let _ = writeln!(
                out,
                "\n- `{}` {}: {}",
                code(&s.id),
                s.status.as_str(),
                inline(err)
            );
        } else {
            collapsed(out, &s.id, s.status.as_str(), "text", err);
        }
        if let Some(tail) = &s.log_tail {
            collapsed(out, &s.id, "terraform's last lines", "text", tail);
        }
    }
}

/// Terraform's own warnings (deprecations, undeclared variables), by stack,
/// collapsed: they rarely block a merge but should not go unseen.
fn terraform_warnings(report: &RunReport, out: &mut String) {
    let with: Vec<&StackReport> = report
        .stacks
        .iter()
        .filter(|s| !s.terraform_warnings.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    let total: usize = with.iter().map(|s| s.terraform_warnings.len()).sum();
    let _ = writeln!(
        out,
        "\n<details><summary>⚠️ {total} terraform warning{}</summary>\n",
        if total == 1 { "" } else { "s" }
    );
    for s in with {
        for w in &s.terraform_warnings {
            let _ = writeln!(out, "- `{}`: {}", code(&s.id), inline(w));
        }
    }
    out.push_str("\n</details>\n");
}

/// Each plan collapsed, summary line first so the table stays the focus.
fn plans(report: &RunReport, out: &mut String) {
    let with: Vec<(&StackReport, &String)> = report
        .stacks
        .iter()
        .filter_map(|s| s.plan_summary.as_ref().map(|p| (s, p)))
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("\n#### Plans\n");
    for (s, plan) in with {
        collapsed(out, &s.id, &changes(&s.changes), "diff", plan);
    }
}

fn footer(report: &RunReport, ctx: &CommentContext, out: &mut String) {
    footer_line(
        "tfctl",
        ctx.head_sha.as_deref().map(|sha| ("head", sha)),
        report.duration_ms,
        ctx.run_url.as_deref(),
        out,
    );
}

/// `<sub>tfctl · head `abc` · 4.2s in total · [workflow run](…)</sub>`
/// after a rule; `sha` is (label, full SHA), shown to 12 characters.
pub(super) fn footer_line(
    what: &str,
    sha: Option<(&str, &str)>,
    duration_ms: u64,
    run_url: Option<&str>,
    out: &mut String,
) {
    let mut parts = vec![what.to_string()];
    if let Some((label, sha)) = sha {
        let short: String = sha.chars().take(12).collect();
        parts.push(format!("{label} `{}`", code(&short)));
    }
    parts.push(format!("{} in total", duration(duration_ms)));
    if let Some(url) = run_url {
        parts.push(format!("[workflow run]({})", url_text(url)));
    }
    let _ = writeln!(out, "\n---\n<sub>{}</sub>", parts.join(" · "));
}

/// A collapsed block: `<code>id</code> label` as its summary, `content`
/// fenced with `info` inside.
pub(super) fn collapsed(out: &mut String, id: &str, label: &str, info: &str, content: &str) {
    let _ = writeln!(
        out,
        "\n<details><summary><code>{}</code> {}</summary>\n",
        inline(id),
        inline(label)
    );
    out.push_str(&fenced(info, content));
    out.push_str("\n</details>\n");
}

/// A URL inside `(…)`: parentheses and spaces percent-encoded.
fn url_text(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{hostile, marker};
    use crate::report::{StackReport, StackStatus, Violation};

    #[test]
    fn repository_text_cannot_inject_into_the_validate_comment() {
        let mut s = StackReport::sample("S3/a", hostile::TEXT, StackStatus::Failed);
        s.violations.push(Violation {
            namespace: "main".into(),
            rule: "deny".into(),
            msg: hostile::TEXT.into(),
        });
        s.warnings.push(Violation {
            namespace: "main".into(),
            rule: "warn".into(),
            msg: hostile::TEXT.into(),
        });
        s.terraform_warnings.push(hostile::TEXT.into());
        let mut e = StackReport::sample("S3/b", hostile::TEXT, StackStatus::Error);
        e.error = Some(hostile::TEXT.into());
        let mut report = RunReport::sample(vec![s, e], 1_000);
        report.environment = Some(hostile::TEXT.into());
        let validation = marker::ValidationMarker {
            version: marker::ATTESTATION_VERSION,
            repository: "o/r".into(),
            pr_number: 1,
            head_sha: "abc".into(),
            base_ref: hostile::TEXT.into(),
            environment: hostile::TEXT.into(),
            environments: vec![hostile::TEXT.into()],
            target_branch: hostile::TEXT.into(),
            result: report.result,
            stacks: Default::default(),
            violations: Vec::new(),
            results: Default::default(),
            policy_digest: String::new(),
            time: String::new(),
            run_id: hostile::TEXT.into(),
            signature: None,
            locked: Vec::new(),
        };
        let audit = crate::render::audit::trail(&[crate::audit::AuditEvent {
            time: "2026-11-21T10:00:00Z".into(),
            action: "validation".into(),
            actor: "octocat".into(),
            pull_request: "o/r#1".into(),
            head_sha: "abcdef0".into(),
            environment: Some(hostile::TEXT.into()),
            outcome: "failed".into(),
            reasons: vec![],
            violations_overridden: vec![],
            run_url: None,
        }]);
        let ctx = CommentContext {
            head_sha: Some("abc".into()),
            environment: hostile::TEXT.into(),
            target_branch: hostile::TEXT.into(),
            run_url: Some("https://github.example/o/r/actions/runs/1".into()),
            marker: Some(marker::render(&validation, None)),
            audit_markdown: Some(audit),
            next_step: None,
        };
        let body = comment(&report, &ctx);
        hostile::assert_inert(&body, 1);
        assert!(body.starts_with("<!-- tfctl:validation "), "{body}");
        let found: marker::ValidationMarker = marker::find(&body).unwrap();
        assert_eq!(found.environment, hostile::TEXT);

        // The job summary and `--format markdown` carry no marker at all.
        let summary = crate::render::summary::job_summary(&report, &ctx);
        hostile::assert_inert(&summary, 0);
    }
}
