//! Every comment kind tfctl writes to GitHub — the validate comment (and
//! its job summary), the merge comment, the apply comment, the drift issue
//! and its closing comment, the PR body — parsed as GitHub-flavoured
//! Markdown (comrak) and checked to be well formed: tables with a header
//! and the same cells in every row, `<details>` balanced and nested with
//! their `<summary>` first, no markdown swallowed into an HTML block, no
//! code fence left open. Each is snapshotted.
//!
//! The merge comment and the PR body (`render::pr`) are taken from the
//! real binary's requests to the fake GitHub, as written in a real flow;
//! the others are rendered through the library from reports of real plan
//! fixtures.

use std::collections::BTreeSet;

use comrak::nodes::{AstNode, NodeValue};
use comrak::{parse_document, Arena, Options};
use serde_json::{json, Value};
use tfctl::audit::AuditEvent;
use tfctl::drift::DriftReport;
use tfctl::plan;
use tfctl::render::apply::{self as apply_render, ApplyContext};
use tfctl::render::markdown::{comment, next_step, Approval, CommentContext};
use tfctl::render::marker::{self, ApplyMarker, ApplyState, ValidationMarker};
use tfctl::render::split::{fit, pointer, COMMENT_LIMIT};
use tfctl::render::{drift as drift_render, summary, text};
use tfctl::report::{
    ApplyReport, ApplyResult, ApplyStackReport, ApplyStatus, Changes, RunReport, StackReport,
    StackStatus, Violation,
};

use crate::flow_merge;
use crate::flow_support::{Flow, CONFIG, CONTROLLER};
use crate::support::fake_github::fake_sha;

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

/// GitHub's flavour, as far as comrak has it; raw HTML kept (GitHub keeps
/// `<details>`, `<summary>`, `<code>`, `<sub>`, `<br>`).
fn gfm() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.tagfilter = true;
    o.extension.alerts = true;
    o.render.unsafe_ = true;
    o
}

/// Asserts that `md` (a body of kind `kind`) is well-formed GitHub Markdown:
///
/// - every table has a header row, and every line of it (header, delimiter
///   and body rows) has as many cells in the source as the header: comrak,
///   like GitHub, pads a short row and drops the cells of a long one
///   silently, so the source line is counted (an unescaped `|` anywhere,
///   code spans included, splits a cell on GitHub);
/// - no line outside code and HTML blocks starts with `|` unless it belongs
///   to a table (a row that did not parse as one, e.g. after a blank line,
///   shows as a paragraph of pipes);
/// - `<details>` and `</details>` in the HTML nodes balance and never close
///   before they open; a `<summary>` comes right after its `<details>` and
///   is closed before anything else opens or closes;
/// - every line of an HTML block starts with a tag (a missing blank line
///   after `<summary>…</summary>` or `</details>` swallows the markdown
///   that follows into the HTML, shown raw);
/// - every fenced code block ends with its closing fence (an unclosed one
///   runs to the end of the document and shows the rest as code).
fn assert_well_formed(kind: &str, md: &str) {
    let problems = problems(md);
    assert!(
        problems.is_empty(),
        "{kind}: not well-formed GFM:\n- {}\n--- body ---\n{md}",
        problems.join("\n- ")
    );
}

fn problems(md: &str) -> Vec<String> {
    let arena = Arena::new();
    let root = parse_document(&arena, md, &gfm());
    let lines: Vec<&str> = md.lines().collect();
    let line = |n: usize| lines.get(n.wrapping_sub(1)).copied().unwrap_or("");
    let mut out = Vec::new();
    let mut table_lines = BTreeSet::new();
    let mut opaque_lines = BTreeSet::new();
    let mut details: i64 = 0;
    let mut summary_open = false;
    for node in root.descendants() {
        let ast = node.data.borrow();
        let (start, end) = (ast.sourcepos.start.line, ast.sourcepos.end.line);
        match &ast.value {
            NodeValue::Table(t) => {
                table_problems(node, t.num_columns, start, &mut out);
                for n in start..=end {
                    table_lines.insert(n);
                    let cells = source_cells(line(n));
                    if cells != t.num_columns {
                        out.push(format!(
                            "table at line {start}: line {n} has {cells} cells, the header {}: {:?}",
                            t.num_columns,
                            line(n)
                        ));
                    }
                }
            }
            NodeValue::CodeBlock(cb) => {
                opaque_lines.extend(start..=end);
                if cb.fenced {
                    let last = strip_container(line(end));
                    let fence_char = cb.fence_char as char;
                    let run = last.chars().take_while(|c| *c == fence_char).count();
                    let closed =
                        end > start && run >= cb.fence_length && last[run..].trim().is_empty();
                    if !closed {
                        out.push(format!(
                            "code fence opened at line {start} ({:?}) is never closed",
                            line(start)
                        ));
                    }
                }
            }
            NodeValue::HtmlBlock(h) => {
                opaque_lines.extend(start..=end);
                for l in h.literal.lines().filter(|l| !l.trim().is_empty()) {
                    if !l.trim_start().starts_with('<') {
                        out.push(format!(
                            "markdown swallowed into the HTML block at line {start}: {l:?}"
                        ));
                    }
                }
                html_problems(&h.literal, start, &mut details, &mut summary_open, &mut out);
            }
            NodeValue::HtmlInline(h) => {
                html_problems(h, start, &mut details, &mut summary_open, &mut out);
            }
            _ => {}
        }
    }
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        if l.trim_start().starts_with('|')
            && !table_lines.contains(&n)
            && !opaque_lines.contains(&n)
        {
            out.push(format!(
                "line {n} looks like a table row but is not one: {l:?}"
            ));
        }
    }
    if summary_open {
        out.push("a <summary> is never closed".into());
    }
    if details != 0 {
        out.push(format!("{details} <details> never closed"));
    }
    out
}

/// The AST side of a table: a header row first, and every row with the
/// header's cells (comrak pads; a mismatch here means a parser change).
fn table_problems<'a>(table: &'a AstNode<'a>, columns: usize, at: usize, out: &mut Vec<String>) {
    let mut rows = table.children();
    match rows.next().map(|r| r.data.borrow().value.clone()) {
        Some(NodeValue::TableRow(true)) => {}
        _ => out.push(format!("table at line {at} has no header row")),
    }
    for row in table.children() {
        let cells = row
            .children()
            .filter(|c| matches!(c.data.borrow().value, NodeValue::TableCell))
            .count();
        if cells != columns {
            out.push(format!(
                "table at line {at}: a row has {cells} cells, the header {columns}"
            ));
        }
    }
}

/// Cells of a table line as GitHub splits it: at every `|` not escaped
/// with a backslash, the outer pipes optional.
fn source_cells(line: &str) -> usize {
    let t = line.trim();
    let mut pipes = Vec::new();
    let mut escaped = false;
    for (i, c) in t.char_indices() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '|' if !escaped => pipes.push(i),
            _ => {}
        }
        escaped = false;
    }
    let mut cells = pipes.len() + 1;
    if t.starts_with('|') {
        cells -= 1;
    }
    if t.len() > 1 && pipes.last() == Some(&(t.len() - 1)) {
        cells -= 1;
    }
    cells
}

/// A line without the block-quote markers and indentation of its container.
fn strip_container(line: &str) -> &str {
    line.trim_start_matches(['>', ' '])
}

/// Walks the `<details>` / `<summary>` tags of one HTML node (comments
/// such as tfctl's markers skipped), in document order.
fn html_problems(
    html: &str,
    at: usize,
    details: &mut i64,
    summary_open: &mut bool,
    out: &mut Vec<String>,
) {
    let html = without_comments(html).to_ascii_lowercase();
    let mut rest = html.as_str();
    // What came since the last `<details>`-or-`<summary>` tag.
    let mut since = String::from("(start)");
    while let Some(i) = rest.find('<') {
        since.push_str(&rest[..i]);
        let tag_end = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
        let tag = &rest[i..tag_end];
        rest = &rest[tag_end..];
        let name = tag
            .trim_start_matches('<')
            .split(|c: char| c.is_whitespace() || c == '>')
            .next()
            .unwrap_or_default();
        match name {
            "details" => {
                if *summary_open {
                    out.push(format!("line {at}: <details> inside an open <summary>"));
                }
                *details += 1;
                since = "<details>".into();
            }
            "/details" => {
                if *summary_open {
                    out.push(format!("line {at}: </details> before </summary>"));
                    *summary_open = false;
                }
                *details -= 1;
                if *details < 0 {
                    out.push(format!("line {at}: </details> without an open <details>"));
                    *details = 0;
                }
                since.clear();
            }
            "summary" => {
                if since.trim() != "<details>" {
                    out.push(format!(
                        "line {at}: <summary> not right after a <details>: {:?}",
                        html.lines().next().unwrap_or_default()
                    ));
                }
                if *summary_open {
                    out.push(format!("line {at}: <summary> inside a <summary>"));
                }
                *summary_open = true;
                since.clear();
            }
            "/summary" => {
                if !*summary_open {
                    out.push(format!("line {at}: </summary> without a <summary>"));
                }
                *summary_open = false;
                since.clear();
            }
            _ => since.push_str(tag),
        }
    }
}

fn without_comments(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("-->").map_or("", |j| &rest[i + j + 3..]);
    }
    out.push_str(rest);
    out
}

/// `f` panics, and its message contains `want`.
fn assert_fails(want: &str, f: impl FnOnce() + std::panic::UnwindSafe) {
    let err = std::panic::catch_unwind(f).expect_err("the checker passed a broken body");
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| {
            err.downcast_ref::<&str>()
                .map(std::string::ToString::to_string)
        })
        .unwrap_or_default();
    assert!(msg.contains(want), "failed, but not for {want:?}:\n{msg}");
}

/// The negative control: the checker fails on each kind of breakage, and
/// passes the same bodies mended (so it is not failing on something else).
#[test]
fn render_checker_fails_on_broken_bodies() {
    let good = "### t\n\n| a | b |\n|---|---|\n| `x\\|y` | 2 |\n\n<details><summary><code>S3/a</code> +1 ~0 -0</summary>\n\n```diff\n+ x\n```\n\n</details>\n";
    assert_well_formed("control", good);
    let broken = [
        (
            "an extra cell",
            good.replace("| `x\\|y` | 2 |", "| `x|y` | 2 |"),
            "has 3 cells, the header 2",
        ),
        (
            "a missing cell",
            good.replace("| `x\\|y` | 2 |", "| 1 |"),
            "has 1 cells, the header 2",
        ),
        (
            "a row cut off from its table",
            good.replace("|---|---|\n", "|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"),
            "looks like a table row but is not one",
        ),
        (
            "a header without a delimiter row",
            good.replace("|---|---|\n", ""),
            "looks like a table row but is not one",
        ),
        (
            "an unclosed <details>",
            good.replace("\n</details>\n", "\n"),
            "<details> never closed",
        ),
        (
            "</details> first",
            format!("</details>\n\n{good}"),
            "</details> without an open <details>",
        ),
        (
            "a <summary> not after <details>",
            good.replace("<details><summary>", "<details>x<summary>"),
            "<summary> not right after a <details>",
        ),
        (
            "an unclosed <summary>",
            good.replace("</summary>", ""),
            "before </summary>",
        ),
        (
            "markdown swallowed by HTML",
            good.replace("</summary>\n\n```", "</summary>\n```"),
            "markdown swallowed into the HTML block",
        ),
        (
            "an unclosed fence",
            good.replace("+ x\n```\n", "+ x\n"),
            "is never closed",
        ),
    ];
    for (what, body, want) in broken {
        assert_fails(want, move || assert_well_formed(what, &body));
    }
}

// ---------------------------------------------------------------------------
// Reports from real plans (as render_report.rs builds them)
// ---------------------------------------------------------------------------

const HEAD: &str = "9f2c4e1a7b3d5f60718293a4b5c6d7e8f9012345";
const RUN_URL: &str = "https://github.com/acme/controller/actions/runs/42";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/terraform/plans/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A stack as the runner reports it after planning `plan_file`.
fn planned(id: &str, env: &str, status: StackStatus, plan_file: &str, ms: u64) -> StackReport {
    let plan = fixture(plan_file);
    StackReport {
        changes: plan::changes(&plan),
        plan_digest: Some(plan::digest(&plan)),
        plan_summary: Some(plan::summary(&plan)),
        destroys: plan::destroyed(&plan)
            .into_iter()
            .map(|(address, word)| format!("{address} ({word})"))
            .collect(),
        ..unplanned(id, env, status, None, ms)
    }
}

/// A stack that never got a plan (terraform failed, skipped, cancelled).
fn unplanned(
    id: &str,
    env: &str,
    status: StackStatus,
    error: Option<&str>,
    ms: u64,
) -> StackReport {
    let (service, name) = id.split_once('/').unwrap();
    StackReport {
        id: id.into(),
        service: service.into(),
        name: name.into(),
        environment: env.into(),
        action: "plan".into(),
        status,
        changes: Changes::default(),
        violations: vec![],
        warnings: vec![],
        error: error.map(String::from),
        reasons: vec![],
        duration_ms: ms,
        plan_digest: None,
        plan_summary: None,
        destroys: Vec::new(),
        log_tail: None,
        log_file: None,
        terraform_warnings: Vec::new(),
        inputs: None,
        promotion: None,
    }
}

fn msg(rule: &str, text: &str) -> Violation {
    Violation {
        namespace: "main".into(),
        rule: rule.into(),
        msg: text.into(),
    }
}

/// A run of `stacks` in one wave each, in order, into `environment`.
fn run(stacks: Vec<StackReport>, environment: &str, duration_ms: u64) -> RunReport {
    let waves: Vec<Vec<String>> = stacks.iter().map(|s| vec![s.id.clone()]).collect();
    let edges = waves
        .windows(2)
        .map(|w| (w[0][0].clone(), w[1][0].clone()))
        .collect();
    RunReport {
        version: 1,
        result: RunReport::judge(&stacks),
        environment: Some(environment.into()),
        waves,
        stacks,
        edges,
        order: vec![],
        duration_ms,
        locks: Vec::new(),
    }
}

fn passing() -> RunReport {
    let mut kms = planned(
        "KMS/encryption-key",
        "production",
        StackStatus::Passed,
        "tf175.update.terraform_data.json",
        2_310,
    );
    kms.warnings = vec![msg("warn", "KMS key rotation is not enabled")];
    kms.terraform_warnings =
        vec!["Warning: Deprecated attribute | use `rotation` <instead>".into()];
    kms.reasons = vec![
        "KMS/encryption-key/encryption-key.tfvars".into(),
        "modules/kms/main.tf".into(),
    ];
    run(
        vec![
            planned(
                "IAM/admin-role",
                "production",
                StackStatus::Passed,
                "tf175.no-resource-changes.json",
                1_204,
            ),
            kms,
            planned(
                "S3/data-lake-prod",
                "production",
                StackStatus::Passed,
                "aws.tf115.create-iam-role-policies.json",
                3_950,
            ),
        ],
        "production",
        6_480,
    )
}

fn failing() -> RunReport {
    let mut s3 = planned(
        "S3/data-lake-prod",
        "production",
        StackStatus::Failed,
        "aws.tf146.update.security_group_rule.json",
        2_875,
    );
    s3.violations = vec![
        msg(
            "deny",
            "S3 bucket `data-lake-prod` must enable <encryption> | KMS",
        ),
        msg("violation", "tag Owner is required"),
    ];
    let mut iam = unplanned(
        "IAM/admin-role",
        "production",
        StackStatus::Error,
        Some("terraform plan failed (exit 1):\nError: Invalid value\n  on main.tf line 3:\n```\n<details>"),
        911,
    );
    iam.log_tail = Some("Initializing the backend...\n| Error: Invalid value |\n".into());
    run(
        vec![
            iam,
            planned(
                "KMS/encryption-key",
                "production",
                StackStatus::Passed,
                "tf175.delete.terraform_data.json",
                1_500,
            ),
            s3,
            unplanned(
                "Lambda/ingest",
                "production",
                StackStatus::Skipped,
                Some("dependency S3/data-lake-prod failed"),
                0,
            ),
        ],
        "production",
        4_210,
    )
}

fn validation_marker(report: &RunReport) -> ValidationMarker {
    crate::support::estate::sample_attestation(report)
}

fn key() -> tfctl::attest::SigningKey {
    crate::support::keys::key(crate::support::keys::CONTROLLER_KEY)
}

fn approval() -> Approval {
    Approval {
        approvals: 2,
        special: vec!["sec-lead".into(), "acme/platform-leads".into()],
    }
}

/// The context validate comments with: signed marker, next step, audit.
fn context(report: &RunReport) -> CommentContext {
    let mut ctx = CommentContext {
        head_sha: Some(HEAD.into()),
        environment: "production".into(),
        target_branch: "prod".into(),
        run_url: Some(RUN_URL.into()),
        marker: Some(marker::render(&validation_marker(report), Some(&key()))),
        audit_markdown: Some(tfctl::render::audit::trail(&[AuditEvent {
            time: "2026-12-01T10:00:00Z".into(),
            action: "validation".into(),
            actor: "alice".into(),
            pull_request: "acme/config#12".into(),
            head_sha: HEAD.into(),
            environment: Some("production".into()),
            outcome: report.result.as_str().into(),
            reasons: vec!["policy | <deny>".into(), "second reason".into()],
            violations_overridden: vec![],
            run_url: Some(RUN_URL.into()),
        }])),
        next_step: None,
    };
    ctx.next_step = Some(next_step(report, &ctx, &approval()));
    ctx
}

/// Without the marker, next step or audit: the plain comment of a case.
fn bare(report: &RunReport) -> CommentContext {
    CommentContext {
        marker: None,
        audit_markdown: None,
        next_step: None,
        ..context(report)
    }
}

/// The line after the verdict's summary: where the destroy callout goes.
fn after_verdict(body: &str) -> Vec<&str> {
    body.lines()
        .skip_while(|l| !l.starts_with("### "))
        .filter(|l| !l.is_empty())
        .skip(2)
        .collect()
}

// ---------------------------------------------------------------------------
// Every kind rendered through the library
// ---------------------------------------------------------------------------

#[test]
fn render_validate_comments_pass_and_fail_and_job_summary() {
    let pass = passing();
    let body = comment(&pass, &context(&pass));
    assert_well_formed("validate (pass)", &body);
    insta::assert_snapshot!("validate_pass", body);

    let fail = failing();
    let body = comment(&fail, &context(&fail));
    assert_well_formed("validate (fail)", &body);
    insta::assert_snapshot!("validate_fail", body);

    let summary = summary::job_summary(&fail, &context(&fail));
    assert!(!summary.contains("<!-- tfctl:"));
    assert_well_formed("job summary", &summary);
    insta::assert_snapshot!("job_summary_fail", summary);

    // `--format markdown`: no marker, no run.
    let local = comment(
        &pass,
        &CommentContext {
            run_url: None,
            ..bare(&pass)
        },
    );
    assert_well_formed("--format markdown", &local);
}

fn apply_stack(id: &str, status: ApplyStatus) -> ApplyStackReport {
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
        outputs: Default::default(),
    }
}

fn apply_report(stacks: Vec<ApplyStackReport>) -> ApplyReport {
    ApplyReport {
        version: 1,
        result: ApplyReport::judge(&stacks),
        pull_request: Some("acme/config#12".into()),
        commit_sha: Some(fake_sha("merge of #12")),
        environment: Some("production".into()),
        branch: "prod".into(),
        blocked: vec![],
        waves: stacks.iter().map(|s| vec![s.id.clone()]).collect(),
        stacks,
        duration_ms: 4_200,
    }
}

fn apply_comment(report: &ApplyReport, state: ApplyState) -> String {
    let m = ApplyMarker::of(
        report,
        "acme/config",
        Some(12),
        state,
        None,
        "43",
        "2026-12-01T11:00:00Z",
    );
    apply_render::comment(
        report,
        &ApplyContext {
            run_url: Some("https://github.com/acme/controller/actions/runs/43".into()),
            marker: Some(marker::render(&m, Some(&key()))),
        },
    )
}

#[test]
fn render_apply_comments_applied_failed_and_blocked() {
    let mut iam = apply_stack("IAM/admin-role", ApplyStatus::Applied);
    iam.outputs
        .insert("role_arn".into(), json!("arn:aws:iam::1:role/admin|x"));
    iam.outputs.insert("ports".into(), json!([80, 443]));
    iam.state_snapshot = Some("/runner/tmp/tfctl/IAM__admin-role.tfstate".into());
    let applied = apply_report(vec![iam.clone()]);
    assert_eq!(applied.result, ApplyResult::Applied);
    let body = apply_comment(&applied, ApplyState::Applied);
    assert_well_formed("apply (applied)", &body);
    insta::assert_snapshot!("apply_applied", body);

    let replan = fixture("tf175.update.terraform_data.json");
    let mut changed = apply_stack("S3/data-lake-prod", ApplyStatus::NotApplied);
    changed.changes = Some(plan::changes(&replan));
    changed.plan_summary = Some(plan::summary(&replan));
    changed.error =
        Some("plan changed since approval (approved digest aaaaaaa, now bbbbbbb)".into());
    let mut failed = apply_stack("KMS/encryption-key", ApplyStatus::Failed);
    failed.error = Some("apply failed (exit 1):\nError: creating KMS Key | denied\n```".into());
    let mut skipped = apply_stack("Lambda/ingest", ApplyStatus::Skipped);
    skipped.changes = None;
    skipped.error = Some("dependency S3/data-lake-prod was not applied".into());
    let failed = apply_report(vec![iam, failed, changed, skipped]);
    assert_eq!(failed.result, ApplyResult::Failed);
    let body = apply_comment(&failed, ApplyState::Failed);
    assert_well_formed("apply (failed)", &body);
    insta::assert_snapshot!("apply_failed", body);

    let mut blocked = apply_report(vec![]);
    blocked.result = ApplyResult::Blocked;
    blocked.blocked = vec![
        "the validation of `9f2c4e1` is not signed by a trusted key".into(),
        "head <moved> | since approval".into(),
    ];
    let body = apply_comment(&blocked, ApplyState::Blocked);
    assert_well_formed("apply (blocked)", &body);
    insta::assert_snapshot!("apply_blocked", body);
}

#[test]
fn render_drift_issue_and_resolved_comment() {
    let mut lambda = unplanned(
        "Lambda/ingest",
        "production",
        StackStatus::Error,
        Some("Error: fail_plan | set\nmore"),
        700,
    );
    lambda.log_tail = Some("tail".into());
    let report = run(
        vec![
            planned(
                "KMS/encryption-key",
                "production",
                StackStatus::Passed,
                "tf175.delete.terraform_data.json",
                1_500,
            ),
            planned(
                "S3/logs-dev",
                "development",
                StackStatus::Passed,
                "tf175.update.terraform_data.json",
                900,
            ),
            planned(
                "IAM/admin-role",
                "production",
                StackStatus::Passed,
                "tf175.no-resource-changes.json",
                600,
            ),
            lambda,
        ],
        "production",
        3_700,
    );
    let d = DriftReport::assess(&report, |env| env == "production");
    assert_eq!(d.drifted.len(), 2);
    let body = drift_render::issue_body(&d, Some(RUN_URL));
    assert!(body.starts_with(drift_render::MARKER));
    assert_well_formed("drift issue", &body);
    insta::assert_snapshot!("drift_issue", body);

    let clean = DriftReport::assess(
        &run(
            vec![planned(
                "IAM/admin-role",
                "production",
                StackStatus::Passed,
                "tf175.no-resource-changes.json",
                600,
            )],
            "production",
            600,
        ),
        |env| env == "production",
    );
    let body = drift_render::resolved_comment(&clean, Some(RUN_URL));
    assert_well_formed("drift resolved", &body);
    insta::assert_snapshot!("drift_resolved", body);
}

// ---------------------------------------------------------------------------
// The validate comment for the cases a reviewer meets
// ---------------------------------------------------------------------------

/// A production destroy (and a development replace): the callout is the
/// first thing under the verdict, production first, before the table.
#[test]
fn render_validate_production_destroy_callout_first() {
    let dev = planned(
        "S3/logs-dev",
        "development",
        StackStatus::Passed,
        "tf175.replace.null_resource.json",
        900,
    );
    let prod = planned(
        "KMS/encryption-key",
        "production",
        StackStatus::Passed,
        "tf175.delete.terraform_data.json",
        1_200,
    );
    let destroyed = plan::destroyed(&fixture("tf175.delete.terraform_data.json"));
    assert!(!destroyed.is_empty(), "the fixture deletes something");
    let report = run(vec![dev, prod], "production", 2_100);
    let body = comment(&report, &bare(&report));
    assert_well_formed("validate (production destroy)", &body);
    let after = after_verdict(&body);
    assert_eq!(after[0], "> [!CAUTION]", "the callout comes first:\n{body}");
    assert!(after[1].contains("destroyed or replaced"), "{}", after[1]);
    assert!(
        after[2].starts_with("> - `KMS/encryption-key` (production): "),
        "production first: {}",
        after[2]
    );
    for (address, word) in &destroyed {
        assert!(
            after[2].contains(&format!("`{address}` ({word})")),
            "{address}: {}",
            after[2]
        );
    }
    assert!(after[3].starts_with("> - `S3/logs-dev` (development): "));
    assert!(body.find("> [!CAUTION]") < body.find("| Stack |"));
    insta::assert_snapshot!("validate_production_destroy", body);
}

#[test]
fn render_validate_replace() {
    let report = run(
        vec![planned(
            "IAM/admin-role",
            "production",
            StackStatus::Passed,
            "tf175.replace.null_resource.json",
            1_100,
        )],
        "production",
        1_100,
    );
    let s = &report.stacks[0];
    assert_eq!((s.changes.add, s.changes.destroy), (1, 1), "a replace");
    let body = comment(&report, &bare(&report));
    assert_well_formed("validate (replace)", &body);
    let after = after_verdict(&body);
    assert_eq!(after[0], "> [!CAUTION]", "{body}");
    assert!(after[2].contains("(replace)"), "{}", after[2]);
    assert!(
        body.contains("| `IAM/admin-role` | plan | `+1 ~0 -1` |"),
        "{body}"
    );
    insta::assert_snapshot!("validate_replace", body);
}

#[test]
fn render_validate_in_place_update() {
    let report = run(
        vec![planned(
            "KMS/encryption-key",
            "production",
            StackStatus::Passed,
            "tf175.update.terraform_data.json",
            1_300,
        )],
        "production",
        1_300,
    );
    assert_eq!(report.stacks[0].changes.change, 1, "an update");
    let body = comment(&report, &bare(&report));
    assert_well_formed("validate (update)", &body);
    assert!(!body.contains("[!CAUTION]"), "an update destroys nothing");
    assert!(
        body.contains("| `KMS/encryption-key` | plan | `+0 ~1 -0` |"),
        "{body}"
    );
    assert!(body.contains("<details><summary><code>KMS/encryption-key</code> "));
    insta::assert_snapshot!("validate_update", body);
}

#[test]
fn render_validate_60_stacks() {
    let mut report = crate::support::estate::sample_report(60);
    for s in report.stacks.iter_mut().skip(30) {
        s.changes = Changes::default();
    }
    let body = comment(&report, &bare(&report));
    assert_well_formed("validate (60 stacks)", &body);
    assert!(body.contains("stacks passed with no changes</summary>"));
    insta::assert_snapshot!("validate_60_stacks", body);
}

/// A run far over GitHub's limit, cut: the marker verifies, the verdict,
/// the counts, the destroy callout and every failure are kept, the plans
/// are what gives way, and what is left is still well formed.
#[test]
fn render_validate_cut_at_the_comment_limit() {
    let big = plan::summary_with_limit(
        &fixture("aws.tf012.create-55-kms-s3-iam-rds-eks.json"),
        usize::MAX,
    );
    let mut stacks = vec![planned(
        "KMS/encryption-key",
        "production",
        StackStatus::Passed,
        "tf175.delete.terraform_data.json",
        1_500,
    )];
    for n in 0..12 {
        let mut s = planned(
            &format!("S3/bucket-{n:02}"),
            "production",
            if n % 4 == 1 {
                StackStatus::Failed
            } else {
                StackStatus::Passed
            },
            "tf175.update.terraform_data.json",
            1_000 + n,
        );
        s.plan_summary = Some(big.clone());
        if s.status == StackStatus::Failed {
            s.violations = vec![
                msg("deny", &format!("bucket-{n:02} must be encrypted | KMS")),
                msg(
                    "violation",
                    &format!("bucket-{n:02}: tag Owner is required"),
                ),
            ];
        }
        stacks.push(s);
    }
    stacks.push(unplanned(
        "IAM/admin-role",
        "production",
        StackStatus::Error,
        Some("terraform plan failed (exit 1): Error: Invalid value"),
        911,
    ));
    let report = run(stacks, "production", 20_000);
    let ctx = context(&report);
    let whole = comment(&report, &ctx);
    assert!(
        whole.chars().count() > 2 * COMMENT_LIMIT,
        "{} characters: not over the limit enough to test the cut",
        whole.chars().count()
    );
    let body = fit(&whole, COMMENT_LIMIT, &pointer(Some(RUN_URL)));
    assert!(body.chars().count() <= COMMENT_LIMIT);
    assert_well_formed("validate (cut)", &body);

    // The attestation first and whole.
    assert!(body.starts_with("<!-- tfctl:validation {"));
    let found: ValidationMarker = marker::find(&body).unwrap();
    assert_eq!(marker::verify(&found, &[key().public()]), Ok(()));
    // The verdict and the counts.
    assert!(
        body.contains("\n### ❌ tfctl validate failed: `production` → `prod`\n"),
        "verdict"
    );
    assert!(body.contains(&text::summary_line(&report)), "counts");
    // The callout, first under the verdict, whole.
    let callout: Vec<&str> = whole
        .lines()
        .skip_while(|l| *l != "> [!CAUTION]")
        .take_while(|l| l.starts_with('>'))
        .collect();
    assert!(callout.len() >= 3, "{callout:?}");
    assert_eq!(after_verdict(&body)[..callout.len()], callout[..]);
    // Every failure: its row, its violations, its error.
    for s in report
        .stacks
        .iter()
        .filter(|s| matches!(s.status, StackStatus::Failed | StackStatus::Error))
    {
        let row = body
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", s.id)))
            .unwrap_or_else(|| panic!("{}: row cut", s.id));
        assert!(row.contains('❌') || row.contains('💥'), "{row}");
        for v in &s.violations {
            let line = format!("- ❌ `main` {}: {}", v.rule, v.msg.replace('|', "\\|"));
            assert!(body.contains(&line), "{line}: cut");
        }
    }
    assert!(body.contains(
        "- `IAM/admin-role` error: terraform plan failed (exit 1): Error: Invalid value"
    ));
    assert!(body.contains("**Next step:** fix what terraform reported"));
    // The plans gave way, and the pointer says where the rest is.
    let plans = |b: &str| b.matches("<details><summary><code>").count();
    assert!(
        plans(&body) < plans(&whole),
        "nothing was cut from the plans"
    );
    assert!(body.ends_with(&format!("\n> {}\n", pointer(Some(RUN_URL)))));
    insta::assert_snapshot!("validate_cut", body);
}

// ---------------------------------------------------------------------------
// The kinds built inside the binary: merge comment, PR body
// ---------------------------------------------------------------------------

/// `body` with what changes between runs replaced: the merge marker (it
/// holds the audit events' times) and RFC 3339 times.
fn stable(body: &str) -> String {
    let lines: Vec<String> = body
        .lines()
        .map(|l| {
            if l.starts_with("<!-- tfctl:merge ") {
                "<!-- tfctl:merge {…} -->".to_string()
            } else {
                without_times(l)
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

fn without_times(line: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let is_time = b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            });
        if is_time {
            out.push_str("<time>");
            i += SHAPE.len();
        } else {
            let ch = line[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The merge comment as `tfctl merge` writes it: blocked (failed policy,
/// two approvals), then updated in place when a special approver
/// overrides.
#[test]
fn render_merge_comment_blocked_then_merged() {
    let f = flow_merge::flow();
    let n = flow_merge::failed_and_approved(&f);
    let run = f.run(
        "merge",
        "pull_request_review",
        &flow_merge::approve(&f, n, "carol", None),
    );
    run.expect_code(1);
    let blocked = flow_merge::merge_comments(&f, n).pop().expect("a comment");
    assert!(blocked.contains("### ⛔ tfctl merge: blocked"), "{blocked}");
    assert_well_formed("merge (blocked)", &blocked);
    insta::assert_snapshot!("merge_blocked", stable(&blocked));

    flow_merge::merge_on_comment(
        &f,
        n,
        "sec-lead",
        "OVERRIDE: INC-4711 | the outage page <needs> it public",
    )
    .expect_code(0);
    let merged = flow_merge::merge_comments(&f, n).pop().expect("a comment");
    assert!(
        merged.contains("### ✅ tfctl merge: merged into `prod`"),
        "{merged}"
    );
    assert!(merged.contains("<details><summary>Audit trail</summary>"));
    assert_well_formed("merge (merged)", &merged);
    insta::assert_snapshot!("merge_merged", stable(&merged));
}

const ZEROS: &str = "0000000000000000000000000000000000000000";

/// The PR body `tfctl dispatch` opens a PR with, for a push of two
/// commits (one subject with markdown and HTML in it).
#[test]
fn render_pr_body() {
    let f = Flow::new(&format!("  controller_repo: {CONTROLLER}\n"));
    let base = fake_sha("base");
    f.gh.seed_commit(CONFIG, &base, &[], "initial", &[]);
    f.gh.seed_branch(CONFIG, "main", &base);
    let first = fake_sha("feature/logs 1");
    f.gh.seed_commit(
        CONFIG,
        &first,
        &[&base],
        "Encrypt the dev logs bucket\n\nPer the audit.",
        &[
            "config/S3/logs-dev/logs-dev.tfvars",
            "config/KMS/encryption-key/encryption-key.tfvars",
        ],
    );
    let head = fake_sha("feature/logs 2");
    f.gh.seed_commit(
        CONFIG,
        &head,
        &[&first],
        "Fix `a|b` in <details> of the | readme",
        &["README.md"],
    );
    f.gh.seed_branch(CONFIG, "feature/logs", &head);
    let event = f.event("push.3.json", |v| {
        v["ref"] = json!("refs/heads/feature/logs");
        v["before"] = json!(ZEROS);
        v["after"] = json!(head);
        v["created"] = json!(true);
        v["head_commit"]["id"] = json!(head);
        v["commits"][0]["id"] = json!(head);
        v["repository"]["default_branch"] = json!("main");
    });
    f.run("dispatch", "push", &event).expect_code(0);
    let prs = f.gh.prs(CONFIG);
    assert_eq!(prs.len(), 1);
    let body = prs[0].body.clone().expect("a body");
    assert!(body.contains("- `S3/logs-dev` (plan, "), "{body}");
    assert_well_formed("PR body", &body);
    insta::assert_snapshot!("pr_body", body);
}
