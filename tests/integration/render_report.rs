//! Snapshot and property tests of every rendered form of a run report:
//! terminal text, JSON, the PR comment (pass and fail), the job summary,
//! graph formats, and the 65,536-character cut.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;
use tfctl::plan;
use tfctl::render::markdown::{comment, CommentContext};
use tfctl::render::marker::{self, ValidationMarker};
use tfctl::render::split::{fit, pointer, COMMENT_LIMIT};
use tfctl::render::{graph, json, parts, summary, text};
use tfctl::report::{
    Changes, OrderEdge, RunReport, RunResult, StackReport, StackStatus, Violation,
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/terraform/plans/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A stack as the runner would report it after planning `plan_file`.
fn planned(id: &str, status: StackStatus, plan_file: &str, ms: u64) -> StackReport {
    let plan = fixture(plan_file);
    StackReport {
        changes: plan::changes(&plan),
        plan_digest: Some(plan::digest(&plan)),
        plan_summary: Some(plan::summary(&plan)),
        destroys: plan::destroyed(&plan)
            .into_iter()
            .map(|(address, word)| format!("{address} ({word})"))
            .collect(),
        ..unplanned(id, status, None, ms)
    }
}

/// A stack that never got a plan (terraform failed, skipped, cancelled).
fn unplanned(id: &str, status: StackStatus, error: Option<&str>, ms: u64) -> StackReport {
    let (service, name) = id.split_once('/').unwrap();
    StackReport {
        id: id.into(),
        service: service.into(),
        name: name.into(),
        environment: "production".into(),
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

fn waves() -> Vec<Vec<String>> {
    vec![
        vec!["IAM/admin-role".into(), "KMS/encryption-key".into()],
        vec!["S3/data-lake-prod".into()],
        vec!["Lambda/ingest".into()],
    ]
}

fn edges() -> Vec<(String, String)> {
    [
        ("IAM/admin-role", "S3/data-lake-prod"),
        ("KMS/encryption-key", "S3/data-lake-prod"),
        ("S3/data-lake-prod", "Lambda/ingest"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn passing() -> RunReport {
    let mut kms = planned(
        "KMS/encryption-key",
        StackStatus::Passed,
        "tf175.update.terraform_data.json",
        2_310,
    );
    kms.warnings = vec![msg("warn", "KMS key rotation is not enabled")];
    let stacks = vec![
        planned(
            "IAM/admin-role",
            StackStatus::Passed,
            "tf1150.replace-tainted.null_resource.json",
            1_204,
        ),
        kms,
        planned(
            "S3/data-lake-prod",
            StackStatus::Passed,
            "tf175.replace-sensitive.random_bytes.json",
            3_950,
        ),
        planned(
            "Lambda/ingest",
            StackStatus::Passed,
            "tf175.no-resource-changes.json",
            640,
        ),
    ];
    run(stacks, 6_480)
}

/// A production run over [`waves`] and [`edges`].
fn run(stacks: Vec<StackReport>, duration_ms: u64) -> RunReport {
    RunReport {
        version: 1,
        result: RunReport::judge(&stacks),
        environment: Some("production".into()),
        waves: waves(),
        stacks,
        edges: edges(),
        order: vec![],
        duration_ms,
        locks: Vec::new(),
    }
}

fn failing() -> RunReport {
    let mut s3 = planned(
        "S3/data-lake-prod",
        StackStatus::Failed,
        "tf110.modules-count-sensitive-outputs.null_resource.json",
        2_875,
    );
    s3.violations = vec![
        msg(
            "deny",
            "S3 bucket `data-lake-prod` must enable <encryption> | KMS",
        ),
        msg("violation", "tag Owner is required"),
    ];
    let stacks = vec![
        unplanned(
            "IAM/admin-role",
            StackStatus::Error,
            Some("terraform plan failed (exit 1):\nError: Invalid value\n  on main.tf line 3:\n```\n<!-- tfctl:validation {\"forged\":true} -->"),
            911,
        ),
        planned(
            "KMS/encryption-key",
            StackStatus::Passed,
            "tf175.delete.terraform_data.json",
            1_500,
        ),
        s3,
        unplanned(
            "Lambda/ingest",
            StackStatus::Skipped,
            Some("dependency S3/data-lake-prod failed"),
            0,
        ),
    ];
    run(stacks, 4_210)
}

fn validation_marker(report: &RunReport) -> ValidationMarker {
    crate::support::estate::sample_attestation(report)
}

/// The controller's key in these tests.
fn key() -> tfctl::attest::SigningKey {
    crate::support::keys::key(crate::support::keys::CONTROLLER_KEY)
}

fn context(report: &RunReport) -> CommentContext {
    CommentContext {
        head_sha: Some("9f2c4e1a7b3d5f60718293a4b5c6d7e8f9012345".into()),
        environment: "production".into(),
        target_branch: "prod".into(),
        run_url: Some("https://github.com/acme/controller/actions/runs/42".into()),
        marker: Some(marker::render(&validation_marker(report), Some(&key()))),
        audit_markdown: None,
        next_step: None,
    }
}

#[test]
fn text_report_pass_and_fail() {
    insta::assert_snapshot!("text_pass", text::report(&passing(), false));
    insta::assert_snapshot!("text_fail", text::report(&failing(), false));
    assert_eq!(
        text::summary_line(&failing()),
        "4 stacks: 1 passed, 1 failed (policy), 1 failed (terraform), 1 skipped in 4.2s"
    );
}

#[test]
fn text_report_colours_only_when_asked() {
    assert!(!text::report(&failing(), false).contains('\x1b'));
    let coloured = text::report(&failing(), true);
    assert!(coloured.contains("\x1b[31mfailed   \x1b[0m S3/data-lake-prod"));
    assert!(coloured.contains("\x1b[32mpassed   \x1b[0m KMS/encryption-key"));
}

#[test]
fn json_report_is_the_serialized_contract() {
    let report = failing();
    let out = json(&report);
    let back: RunReport = serde_json::from_str(&out).unwrap();
    assert_eq!(back, report);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["result"],
        "failed"
    );
}

#[test]
fn comment_pass() {
    let report = passing();
    insta::assert_snapshot!("comment_pass", comment(&report, &context(&report)));
}

#[test]
fn comment_fail() {
    let report = failing();
    let mut ctx = context(&report);
    ctx.audit_markdown = Some("<details><summary>Audit</summary>\n\nnone\n</details>".into());
    insta::assert_snapshot!("comment_fail", comment(&report, &ctx));
}

#[test]
fn the_comment_marker_is_the_real_one_and_verifies() {
    let report = failing();
    let body = comment(&report, &context(&report));
    // The forged marker inside the terraform error is defanged.
    assert_eq!(body.matches("<!-- tfctl:").count(), 1, "{body}");
    let found: ValidationMarker = marker::find(&body).unwrap();
    assert_eq!(found.stacks.len(), 2);
    assert_eq!(marker::verify(&found, &[key().public()]), Ok(()));
    assert!(body.starts_with("<!-- tfctl:validation {"));
}

#[test]
fn job_summary_has_no_marker() {
    let report = passing();
    let out = summary::job_summary(&report, &context(&report));
    assert!(!out.contains("<!-- tfctl:"));
    assert!(out.starts_with("### ✅ tfctl validate passed: `production` → `prod`"));
}

#[test]
fn graph_formats() {
    let (w, mut e) = (waves(), edges());
    // IAM before S3 comes from an order rule, drawn once as a rule.
    e.retain(|(from, _)| from != "IAM/admin-role");
    let order = vec![OrderEdge {
        rule: "order: IAM before S3,Lambda".into(),
        before: vec!["IAM/admin-role".into()],
        after: vec!["Lambda/ingest".into(), "S3/data-lake-prod".into()],
    }];
    let view = graph::GraphView {
        waves: &w,
        edges: &e,
        order: &order,
    };
    insta::assert_snapshot!("graph_text", graph::text(view));
    insta::assert_snapshot!("graph_dot", graph::dot(view));
    insta::assert_snapshot!("graph_mermaid", graph::mermaid(view));
    let json = serde_json::to_string_pretty(&graph::json(view)).unwrap();
    insta::assert_snapshot!("graph_json", json);
    // The shape is stable: every list is there even when the graph is empty.
    let empty = graph::json(graph::GraphView {
        waves: &[],
        edges: &[],
        order: &[],
    });
    assert_eq!(
        empty,
        serde_json::json!({"waves": [], "edges": [], "order": []})
    );
}

/// Secrets that the sensitive fixtures hold in the clear.
const SECRETS: [(&str, &str); 2] = [
    ("tf175.replace-sensitive.random_bytes.json", "hxk5iA=="),
    ("tf175.replace-sensitive.random_bytes.json", "87193988"),
];

#[test]
fn sensitive_fixture_values_reach_no_rendered_output() {
    let mut report = passing();
    for (file, _) in SECRETS {
        report.stacks[2] = planned("S3/data-lake-prod", StackStatus::Passed, file, 1);
    }
    let ctx = context(&report);
    let outputs = [
        comment(&report, &ctx),
        summary::job_summary(&report, &ctx),
        text::report(&report, false),
        json(&report),
        fit(&comment(&report, &ctx), 2_000, &pointer(None)),
    ];
    for (file, secret) in SECRETS {
        assert!(
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/terraform/plans/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
            .contains(secret),
            "the fixture no longer holds {secret}"
        );
        for out in &outputs {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
    }
    // The sensitive output of tf110 and sensitive_content of tf154 too.
    for file in [
        "tf110.modules-count-sensitive-outputs.null_resource.json",
        "tf154.modules-checks-sensitive.local_file.json",
    ] {
        let mut plan = fixture(file);
        let secret = "s3cr3t-Value-9d7f";
        if let Some(out) = plan.pointer_mut("/output_changes/foo/after") {
            *out = Value::String(secret.into());
        }
        for rc in plan["resource_changes"].as_array_mut().unwrap() {
            if rc["change"]["after_sensitive"]["sensitive_content"] == true {
                rc["change"]["after"]["sensitive_content"] = Value::String(secret.into());
            }
        }
        assert!(plan.to_string().contains(secret));
        let mut report = passing();
        report.stacks[2].plan_summary = Some(plan::summary(&plan));
        let body = comment(&report, &context(&report));
        assert!(!body.contains(secret), "{file}:\n{body}");
        assert!(body.contains("(sensitive)"), "{file}");
    }
}

#[test]
fn a_huge_comment_is_cut_with_marker_first_and_pointer_last() {
    let mut report = passing();
    let big = plan::summary_with_limit(
        &fixture("aws.tf012.create-55-kms-s3-iam-rds-eks.json"),
        usize::MAX,
    );
    for s in &mut report.stacks {
        s.plan_summary = Some(big.clone());
    }
    let body = comment(&report, &context(&report));
    assert!(body.chars().count() > COMMENT_LIMIT);
    let url = "https://github.com/acme/controller/actions/runs/42";
    let out = fit(&body, COMMENT_LIMIT, &pointer(Some(url)));
    assert!(out.chars().count() <= COMMENT_LIMIT);
    assert!(out.ends_with(&format!(
        "> Output truncated: full report in the job summary of {url}\n"
    )));
    let found: ValidationMarker = marker::find(&out).unwrap();
    assert_eq!(marker::verify(&found, &[key().public()]), Ok(()));
    assert_balanced(&out);
    // Table and graph come before the plans, so the cut spares them.
    assert!(out.contains("| `Lambda/ingest` |"));
    assert!(out.contains("```mermaid\nflowchart LR\n"));
}

/// Independent check: fences pair up and `<details>` opens match closes.
fn assert_balanced(text: &str) {
    let mut fence: Option<(char, usize)> = None;
    let mut details: i64 = 0;
    for line in text.lines() {
        let t = line.trim_start();
        let ch = t.chars().next().unwrap_or(' ');
        let run = t.chars().take_while(|c| *c == ch).count();
        let is_fence = (ch == '`' || ch == '~') && run >= 3 && line.len() - t.len() <= 3;
        match fence {
            Some((c, n)) if is_fence && ch == c && run >= n && t[run..].trim().is_empty() => {
                fence = None;
            }
            Some(_) => {}
            None if is_fence => fence = Some((ch, run)),
            None => {
                details += line.matches("<details").count() as i64;
                details -= line.matches("</details>").count() as i64;
                assert!(details >= 0, "</details> without <details>:\n{text}");
            }
        }
    }
    assert_eq!(fence, None, "open fence:\n{text}");
    assert_eq!(details, 0, "open <details>:\n{text}");
}

const MARKER: &str = "<!-- tfctl:validation {\"version\":1} -->";

/// Pieces of a markdown body: balanced structures, loose text, long lines.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z |<>]{0,40}\n",
        "[é漢a]{1,200}\n",
        (1usize..30, 3usize..6).prop_map(|(n, ticks)| format!(
            "{f}diff\n{}{f}\n",
            "+ x ``` y\n".repeat(n),
            f = "`".repeat(ticks)
        )),
        (1usize..20).prop_map(|n| format!(
            "<details><summary><code>S3/a</code></summary>\n\n```diff\n{}```\n\n</details>\n",
            "~ attr = 1 -> 2\n".repeat(n)
        )),
        (1usize..10).prop_map(|n| format!("~~~~\n{}~~~~\n", "text\n".repeat(n))),
        Just(format!("{MARKER}\n")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fit_never_exceeds_the_limit_and_closes_what_it_opens(
        pieces in prop::collection::vec(piece(), 0..40),
        limit in 120usize..4_000,
    ) {
        let body: String = pieces.concat();
        let out = fit(&body, limit, "Output truncated: see the job summary.");
        prop_assert!(out.chars().count() <= limit, "{} > {limit}", out.chars().count());
        assert_balanced(&out);
        let markers_in = body.matches(MARKER).count();
        let tail = "\n> Output truncated: see the job summary.\n".chars().count();
        let room = markers_in * (MARKER.len() + 1) + tail <= limit;
        if body.chars().count() <= limit {
            prop_assert_eq!(&out, &body);
        } else if room {
            // Every marker survives, first, and the pointer ends the body.
            prop_assert!(out.ends_with("> Output truncated: see the job summary.\n"));
            prop_assert_eq!(out.matches(MARKER).count(), markers_in);
            if markers_in > 0 {
                prop_assert!(out.starts_with(MARKER));
            }
        }
    }
}

#[test]
fn digests_in_the_marker_match_the_stacks() {
    let report = passing();
    let m = validation_marker(&report);
    let want: BTreeMap<String, String> = report
        .stacks
        .iter()
        .map(|s| (s.id.clone(), s.plan_digest.clone().unwrap()))
        .collect();
    assert_eq!(m.stacks, want);
    assert_eq!(m.result, RunResult::Passed);
}

/// A 1,000-stack PR, a tenth failing: the report part of the comment fits
/// GitHub's limit and keeps the verdict, the counts and every failing
/// stack's name.
#[test]
fn a_1000_stack_comment_fits_and_keeps_verdict_counts_and_failures() {
    let report = crate::support::estate::sample_report(1_000);
    let ctx = CommentContext {
        marker: None,
        ..context(&report)
    };
    let body = fit(&comment(&report, &ctx), COMMENT_LIMIT, &pointer(None));
    assert!(
        body.chars().count() <= COMMENT_LIMIT,
        "{} characters",
        body.chars().count()
    );
    assert!(body.contains("tfctl validate failed"), "verdict");
    assert!(body.contains(&text::summary_line(&report)), "counts");
    let failing: Vec<&str> = report
        .stacks
        .iter()
        .filter(|s| s.status == StackStatus::Failed)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(failing.len(), 100);
    let missing: Vec<&&str> = failing.iter().filter(|id| !body.contains(**id)).collect();
    assert!(missing.is_empty(), "failures cut: {missing:?}");
}

/// The attestation (a sealed plan digest and an inputs record per stack)
/// is kept whole with the verdict while it leaves `REPORT_ROOM`; past that
/// it is spread over continuation comments that join back into the same
/// signed marker, and the validation comment keeps the whole verdict. Past
/// `MAX_PARTS` comments validate refuses the PR, saying so, rather than
/// publish an attestation that was cut.
#[test]
fn the_attestation_stays_whole_inline_or_in_parts_up_to_its_stated_size() {
    let attest = |n: usize| {
        let report = crate::support::estate::sample_report(n);
        let signed = marker::signed(&validation_marker(&report), Some(&key()));
        (report, signed)
    };
    let (report, signed) = attest(300);
    let rendered = marker::to_comment(&signed);
    let per_stack = rendered.chars().count() / 300;
    assert!(
        (120..=180).contains(&per_stack),
        "{per_stack} characters per stack"
    );
    let placed = parts::place(&signed, COMMENT_LIMIT).unwrap();
    assert_eq!(placed.in_comment, rendered, "300 stacks stay inline");
    assert!(placed.parts.is_empty());
    let ctx = CommentContext {
        marker: Some(placed.in_comment.clone()),
        ..context(&report)
    };
    let body = fit(&comment(&report, &ctx), COMMENT_LIMIT, &pointer(None));
    assert!(body.chars().count() <= COMMENT_LIMIT);
    assert!(body.contains(&rendered), "the attestation is whole");
    assert!(body.contains("tfctl validate failed") && body.contains(&text::summary_line(&report)));
    let found: ValidationMarker = marker::find(&body).unwrap();
    assert_eq!(marker::verify(&found, &[key().public()]), Ok(()));
    assert_eq!(found.results.len(), 270, "every passed stack's record");

    // 1,000 stacks: the report keeps the whole comment, the attestation
    // goes to parts.
    let (report, signed) = attest(1_000);
    let placed = parts::place(&signed, COMMENT_LIMIT).unwrap();
    assert!(
        (2..=4).contains(&placed.parts.len()),
        "{} parts",
        placed.parts.len()
    );
    let ctx = CommentContext {
        marker: Some(placed.in_comment.clone()),
        ..context(&report)
    };
    let body = fit(&comment(&report, &ctx), COMMENT_LIMIT, &pointer(None));
    assert!(body.chars().count() <= COMMENT_LIMIT);
    assert!(body.contains(&placed.in_comment), "the header is kept");
    assert!(body.contains(&text::summary_line(&report)), "counts kept");
    let missing = report
        .stacks
        .iter()
        .filter(|s| s.status == StackStatus::Failed && !body.contains(s.id.as_str()))
        .count();
    assert_eq!(missing, 0, "every failing stack named");
    assert_eq!(
        marker::find::<ValidationMarker>(&body),
        None,
        "no inline marker"
    );
    for part in &placed.parts {
        assert!(part.chars().count() <= COMMENT_LIMIT);
    }
    let comments: Vec<(&str, &str)> = std::iter::once(body.as_str())
        .chain(placed.parts.iter().map(String::as_str))
        .map(|b| (b, "2026-12-03T10:00:00Z"))
        .collect();
    let joined = parts::assemble(comments);
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].1, signed);
    assert_eq!(marker::verify(&joined[0].1, &[key().public()]), Ok(()));
    assert_eq!(
        joined[0].1.results.len(),
        900,
        "every passed stack's record"
    );

    let (_, huge) = attest(10_000);
    let refused = parts::place(&huge, COMMENT_LIMIT).unwrap_err();
    assert!(
        refused.starts_with("10000 stacks: their attestation is"),
        "{refused}"
    );
    assert!(refused.ends_with("split the pull request"));
}

/// A plan that destroys in production and one that replaces elsewhere:
/// the callout comes right under the verdict, production first.
#[test]
fn comment_destroy_callout_production_first() {
    let mut dev = planned(
        "S3/logs-dev",
        StackStatus::Passed,
        "tf175.replace-sensitive.random_bytes.json",
        900,
    );
    dev.environment = "development".into();
    let prod = planned(
        "KMS/encryption-key",
        StackStatus::Passed,
        "aws.tf100.mixed-delete-update-create.iam-cloudwatch.json",
        1_200,
    );
    let report = run(vec![dev, prod], 2_100);
    let ctx = CommentContext {
        marker: None,
        ..context(&report)
    };
    let body = comment(&report, &ctx);
    let callout = body.find("> [!CAUTION]").expect("a callout");
    assert!(
        callout < body.find("| Stack |").unwrap(),
        "before the table"
    );
    let kms = body.find("> - `KMS/encryption-key` (production)").unwrap();
    let s3 = body.find("> - `S3/logs-dev` (development)").unwrap();
    assert!(kms < s3, "production first");
    insta::assert_snapshot!("comment_destroy_callout", body);
}

/// An environment without a branch says so in words, not an empty span.
#[test]
fn an_environment_without_a_branch_says_so() {
    let report = passing();
    let ctx = CommentContext {
        marker: None,
        target_branch: String::new(),
        environment: "staging".into(),
        ..context(&report)
    };
    let body = comment(&report, &ctx);
    let first = body.lines().next().unwrap();
    assert!(
        first.contains("`staging` → no environment branch"),
        "{first}"
    );
    assert!(!first.contains("``"), "no empty code span: {first}");
}

/// Above 20 stacks, passed stacks with no changes fold into one details.
#[test]
fn a_60_stack_comment_folds_the_unchanged_and_puts_failures_first() {
    let mut report = crate::support::estate::sample_report(60);
    for s in report.stacks.iter_mut().skip(30) {
        s.changes = Changes::default();
    }
    let ctx = CommentContext {
        marker: None,
        ..context(&report)
    };
    let body = comment(&report, &ctx);
    let first_row = body.lines().find(|l| l.starts_with("| `")).unwrap();
    assert!(first_row.contains("❌"), "failures first: {first_row}");
    let folded = body
        .find("stacks passed with no changes</summary>")
        .expect("folded");
    let failing_rows = body[..folded]
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("❌"))
        .count();
    assert_eq!(failing_rows, 6, "every failure above the fold");
    insta::assert_snapshot!("comment_60_stacks", body);
}

/// A push that changed one stack: the others' results were carried from
/// the validation of the previous head, and the comment says so.
#[test]
fn comment_with_carried_results() {
    let mut report = passing();
    for s in report
        .stacks
        .iter_mut()
        .filter(|s| s.id != "S3/data-lake-prod")
    {
        s.duration_ms = 0;
        s.plan_summary = None;
        s.warnings.clear();
        s.inputs = Some(tfctl::report::InputsRecord {
            digest: "ab".repeat(16),
            state: "0f1e2d3c4b5a6978".into(),
            carried_from: Some("1a2b3c4d5e6f".into()),
        });
    }
    let ctx = CommentContext {
        marker: None,
        ..context(&report)
    };
    let body = comment(&report, &ctx);
    assert!(body.contains("3 of 4 stacks carried from the validation of 1a2b3c4 "));
    insta::assert_snapshot!("comment_carried", body);
    insta::assert_snapshot!("text_carried", text::report(&report, false));
}

/// The Next step line, for each situation a reviewer meets.
#[test]
fn next_step_says_who_approves_who_may_override_or_what_to_fix() {
    use tfctl::render::markdown::{next_step, Approval};
    let approval = Approval {
        approvals: 2,
        special: vec!["alice".into(), "acme/platform".into()],
    };
    let pass = passing();
    let step = next_step(&pass, &context(&pass), &approval);
    assert_eq!(
        step,
        "**Next step:** 2 approving reviews by people other than the author; then tfctl merges into `prod` and applies to `production`."
    );
    let fail = failing();
    let step = next_step(&fail, &context(&fail), &approval);
    assert!(step.contains("fix what terraform reported"), "{step}");
    let mut violating = failing();
    violating
        .stacks
        .retain(|s| s.status != StackStatus::Error && s.status != StackStatus::Skipped);
    let step = next_step(&violating, &context(&violating), &approval);
    assert!(
        step.contains("a special approver (`alice`, `acme/platform`) comments `OVERRIDE: <why>`"),
        "{step}"
    );
    let no_branch = CommentContext {
        target_branch: String::new(),
        environment: "staging".into(),
        ..context(&pass)
    };
    let step = next_step(&pass, &no_branch, &approval);
    assert!(
        step.contains("`staging` has no branch to merge into; set `environments.staging.branch`"),
        "{step}"
    );
    let mut mixed = passing();
    mixed.stacks[0].environment = "development".into();
    mixed.environment = None;
    let step = next_step(&mixed, &context(&mixed), &approval);
    assert!(step.contains("split this pull request"), "{step}");

    // In the comment, right under the table.
    let ctx = CommentContext {
        next_step: Some(next_step(&pass, &context(&pass), &approval)),
        marker: None,
        ..context(&pass)
    };
    let body = comment(&pass, &ctx);
    let table_end = body.rfind("| `Lambda/ingest`").unwrap();
    let at = body.find("**Next step:**").unwrap();
    assert!(at > table_end && at < body.find("#### Dependency graph").unwrap());
}

/// What changed outside Terraform (the plan's `resource_drift`, here a real
/// terraform 1.0 plan whose entries carry no `address`) is its own group in
/// the stack's plan, addresses named.
#[test]
fn comment_drift_seen_in_the_plan() {
    let stack = planned(
        "IAM/metrics",
        StackStatus::Passed,
        "aws.tf100.mixed-delete-update-create.iam-cloudwatch.json",
        1_500,
    );
    let report = run(vec![stack], 1_500);
    let ctx = CommentContext {
        marker: None,
        ..context(&report)
    };
    let body = comment(&report, &ctx);
    assert!(
        body.contains("Changed outside Terraform (15): aws_cloudwatch_event_rule.metrics_schedule"),
        "{body}"
    );
    assert!(!body.contains("<unknown address>"), "{body}");
    insta::assert_snapshot!("comment_drift_in_plan", body);
}

/// A comment of any size names at most 20 stacks in the destroy callout, so
/// the callout stays above the 65,536-character cut.
#[test]
fn the_destroy_callout_is_bounded() {
    let stacks: Vec<StackReport> = (0..300)
        .map(|n| {
            planned(
                &format!("S3/s{n:03}"),
                StackStatus::Passed,
                "tf175.delete.terraform_data.json",
                10,
            )
        })
        .collect();
    let report = run(stacks, 3_000);
    let body = comment(&report, &context(&report));
    let callout: Vec<&str> = body
        .lines()
        .skip_while(|l| !l.starts_with("> [!CAUTION]"))
        .take_while(|l| l.starts_with('>'))
        .collect();
    assert_eq!(callout.len(), 2 + 20 + 1, "{callout:?}");
    assert_eq!(
        callout.last(),
        Some(&"> - and 280 more stacks (see their plans)")
    );
}
