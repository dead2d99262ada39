//! `tfctl merge` end to end: the real binary on real review and comment
//! payloads (octokit/webhooks examples) against the fake GitHub, with the
//! validation comment written the way `tfctl validate` writes it (the real
//! renderer and a real marker). Ends with the whole front half of the
//! lifecycle: push → PR → validation → approval → merge → `tfctl-apply`.

use crate::flow_support;
use crate::harness;
use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use flow_support::{set_pr, Flow, BOT, CONFIG, CONTROLLER};
use serde_json::{json, Value};
use support::fake_github::{fake_sha, PrSeed};
use tfctl::render::markdown::{comment, CommentContext};
use tfctl::render::marker::{self, MergeMarker, ValidationMarker};
use tfctl::report::{Changes, RunReport, RunResult, StackReport, StackStatus, Violation};

use support::keys::{CONTROLLER_KEY as KEY, OTHER_KEY};

pub(crate) fn flow() -> Flow {
    Flow::new("  controller_repo: acme/controller\n  merge_method: squash\n")
}

fn branch_of(env: &str) -> &'static str {
    match env {
        "production" => "prod",
        "staging" => "stage",
        "development" => "dev",
        _ => "main",
    }
}

/// The run report of one stack, `S3/public-assets` in `env`, failing with
/// `violations` (passing without).
fn report_of(env: &str, result: RunResult, violations: Vec<Violation>) -> RunReport {
    let stack = StackReport {
        id: "S3/public-assets".into(),
        service: "S3".into(),
        name: "public-assets".into(),
        environment: env.into(),
        action: "plan".into(),
        status: if violations.is_empty() {
            StackStatus::Passed
        } else {
            StackStatus::Failed
        },
        changes: Changes {
            add: violations.len().max(1) as u32,
            change: 0,
            destroy: 0,
        },
        violations,
        warnings: Vec::new(),
        error: None,
        reasons: Vec::new(),
        duration_ms: 1200,
        plan_digest: Some("ab".repeat(32)),
        plan_summary: None,
        destroys: Vec::new(),
        log_tail: None,
        log_file: None,
        terraform_warnings: Vec::new(),
        inputs: None,
        promotion: None,
    };
    RunReport {
        version: 1,
        result,
        environment: Some(env.into()),
        waves: vec![vec![stack.id.clone()]],
        stacks: vec![stack],
        edges: Vec::new(),
        order: Vec::new(),
        duration_ms: 1200,
        locks: Vec::new(),
    }
}

/// The attestation validate writes for `report` on PR `n` at `head`.
fn marker_of(n: u64, head: &str, env: &str, report: &RunReport) -> ValidationMarker {
    ValidationMarker {
        version: marker::ATTESTATION_VERSION,
        repository: CONFIG.into(),
        pr_number: n,
        head_sha: head.into(),
        base_ref: "main".into(),
        environment: env.into(),
        environments: vec![env.into()],
        target_branch: branch_of(env).into(),
        result: report.result,
        stacks: BTreeMap::from([("S3/public-assets".into(), "ab".repeat(32))]),
        violations: tfctl::pipeline::violation_records(report),
        results: Default::default(),
        policy_digest: "0".repeat(64),
        time: "2026-12-01T10:00:00Z".into(),
        run_id: "4242".into(),
        signature: None,
        locked: Vec::new(),
    }
}

/// The validation comment for `report` at `head` carrying `marker` (the
/// rendered attestation, or the header of one in parts).
fn comment_of(report: &RunReport, head: &str, env: &str, marker: String) -> String {
    comment(
        report,
        &CommentContext {
            head_sha: Some(head.into()),
            environment: env.into(),
            target_branch: branch_of(env).into(),
            run_url: None,
            marker: Some(marker),
            audit_markdown: None,
            next_step: None,
        },
    )
}

/// The body `tfctl validate` writes for PR `n`: the real renderer, with
/// an attestation signed with `key` (unsigned without).
pub(crate) fn validation_body(
    n: u64,
    head: &str,
    env: &str,
    result: RunResult,
    key: Option<&str>,
) -> String {
    let violations = match result {
        RunResult::Passed => Vec::new(),
        _ => vec![Violation {
            namespace: "main".into(),
            rule: "deny".into(),
            msg: "S3 bucket production-s3-public-assets must not be public".into(),
        }],
    };
    let report = report_of(env, result, violations);
    let m = marker_of(n, head, env, &report);
    let rendered = marker::render(&m, key.map(support::keys::key).as_ref());
    comment_of(&report, head, env, rendered)
}

/// A PR by alice from `feature` into `main` changing one stack; the
/// environment branches exist.
fn opened_pr(f: &Flow) -> u64 {
    for b in ["dev", "stage", "prod"] {
        f.gh.seed_branch(CONFIG, b, &fake_sha(b));
    }
    f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "main")
            .author("alice")
            .files(&["config/S3/public-assets/public-assets.tfvars"]),
    )
}

/// A PR by alice from `feature` into `main`, validated by the bot for its
/// head (`env`, `result`), labelled by the bot; environment branches exist.
pub(crate) fn validated_pr(f: &Flow, env: &str, result: RunResult, key: Option<&str>) -> u64 {
    let n = opened_pr(f);
    validate(f, n, env, result, key);
    n
}

/// What the controller's `tfctl validate` leaves on PR `n` for its head:
/// the validation comment and the verdict label, both by the bot.
pub(crate) fn validate(f: &Flow, n: u64, env: &str, result: RunResult, key: Option<&str>) {
    let head = f.gh.pr(CONFIG, n).head_sha;
    support::evidence::publish_validation(
        &f.gh,
        CONFIG,
        n,
        BOT,
        &validation_body(n, &head, env, result, key),
    );
    let label = if result == RunResult::Passed {
        "opa-passed"
    } else {
        "opa-failed"
    };
    f.gh.seed_label(CONFIG, n, label, BOT);
}

/// `user` approves PR `n` (on `commit`, else the head), and the payload
/// GitHub sends for it.
pub(crate) fn approve(f: &Flow, n: u64, user: &str, commit: Option<&str>) -> PathBuf {
    let id = f.gh.seed_review(CONFIG, n, user, "APPROVED", commit);
    let head = f.gh.pr(CONFIG, n).head_sha;
    f.event("pull_request_review.submitted.json", |v| {
        v["action"] = json!("submitted");
        v["review"]["id"] = json!(id);
        v["review"]["state"] = json!("approved");
        v["review"]["user"]["login"] = json!(user);
        v["review"]["commit_id"] = json!(commit.unwrap_or(&head));
        set_pr(&mut v["pull_request"], &f.gh, n);
    })
}

/// `author` comments `body` on PR `n`, and the payload GitHub sends for it.
pub(crate) fn comment_on(f: &Flow, n: u64, author: &str, body: &str) -> PathBuf {
    let id = f.gh.seed_comment(CONFIG, n, author, body);
    let rec =
        f.gh.comments(CONFIG, n)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
    let pr = f.gh.pr(CONFIG, n);
    f.event("issue_comment.created.json", |v| {
        v["issue"]["number"] = json!(n);
        v["issue"]["title"] = json!(pr.title);
        v["issue"]["user"]["login"] = json!(pr.user);
        v["issue"]["pull_request"] =
            json!({"url": format!("https://api.github.test/repos/{CONFIG}/pulls/{n}")});
        v["comment"]["id"] = json!(id);
        v["comment"]["body"] = json!(body);
        v["comment"]["user"]["login"] = json!(author);
        v["comment"]["created_at"] = json!(rec.created_at);
        v["comment"]["updated_at"] = json!(rec.updated_at);
    })
}

/// `tfctl merge` on `author`'s comment `body` on PR `n`.
pub(crate) fn merge_on_comment(f: &Flow, n: u64, author: &str, body: &str) -> harness::Run {
    f.run("merge", "issue_comment", &comment_on(f, n, author, body))
}

/// tfctl's merge comments on PR `n`.
pub(crate) fn merge_comments(f: &Flow, n: u64) -> Vec<String> {
    f.gh.comments(CONFIG, n)
        .into_iter()
        .filter(|c| c.user == BOT && c.body.contains("<!-- tfctl:merge "))
        .map(|c| c.body)
        .collect()
}

pub(crate) fn merge_requests(f: &Flow) -> Vec<Value> {
    f.gh.requests()
        .into_iter()
        .filter(|r| r.route == "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge")
        .map(|r| r.body.unwrap_or_default())
        .collect()
}

pub(crate) fn assert_blocked(f: &Flow, n: u64, run: harness::Run, why: &str) {
    let run = run.expect_code(1);
    assert!(
        run.stdout().contains(why),
        "expected {why:?} in:\n{}",
        run.stdout()
    );
    let pr = f.gh.pr(CONFIG, n);
    assert!(!pr.merged, "merged although blocked");
    assert!(merge_requests(f).is_empty(), "a merge was attempted");
    assert!(!f.gh.labels(CONFIG, n).contains(&"opa-override".to_string()));
    let comments = merge_comments(f, n);
    assert_eq!(comments.len(), 1, "one sticky comment");
    assert!(
        comments[0].contains("### ⛔ tfctl merge: blocked"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains(why),
        "expected {why:?} in:\n{}",
        comments[0]
    );
    let last = f.audit().pop().expect("an audit event");
    assert_eq!(last["outcome"], "blocked");
}

#[test]
fn an_approved_validated_pr_merges_into_its_environment_branch() {
    for (env, approvers) in [
        ("production", &["bob", "carol"][..]),
        ("staging", &["bob"][..]),
        ("development", &["bob"][..]),
        ("sandbox", &["bob"][..]),
    ] {
        let f = flow();
        let n = validated_pr(&f, env, RunResult::Passed, Some(KEY));
        let head = f.gh.pr(CONFIG, n).head_sha;
        let mut last = None;
        for user in approvers {
            last = Some(approve(&f, n, user, None));
        }
        let run = f
            .run("merge", "pull_request_review", &last.unwrap())
            .expect_code(0);
        let branch = branch_of(env);
        assert!(
            run.stdout().contains(&format!("into {branch}")),
            "{}",
            run.stdout()
        );

        let pr = f.gh.pr(CONFIG, n);
        assert!(pr.merged, "{env}");
        assert_eq!(pr.base_ref, branch, "{env}: retargeted");
        let merge_sha = pr.merge_commit_sha.clone().unwrap();
        assert_eq!(f.gh.branch(CONFIG, branch), Some(merge_sha.clone()));
        assert_eq!(
            merge_requests(&f),
            vec![json!({"sha": head, "merge_method": "squash"})]
        );

        let comments = merge_comments(&f, n);
        assert_eq!(comments.len(), 1);
        assert!(
            comments[0].contains(&format!("### ✅ tfctl merge: merged into `{branch}`")),
            "{}",
            comments[0]
        );
        let m: MergeMarker = marker::find(&comments[0]).unwrap();
        assert_eq!(m.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
        assert!(comments[0].contains("<details><summary>Audit trail</summary>"));

        let audit = f.audit();
        assert_eq!(audit.len(), 1);
        let e = &audit[0];
        assert_eq!(
            (e["action"].as_str(), e["outcome"].as_str()),
            (Some("merge"), Some("merged"))
        );
        assert_eq!(e["environment"], env);
        assert_eq!(e["head_sha"], head);
        assert_eq!(e["actor"], *approvers.last().unwrap());
        assert!(e["reasons"]
            .to_string()
            .contains(&format!("approved by {}", approvers.join(", "))));
        assert!(f.summary().contains("| merge |"), "{}", f.summary());
        assert_eq!(f.output("merged").as_deref(), Some("true"));
        assert_eq!(f.output("branch").as_deref(), Some(branch));

        // Re-running the same event changes nothing.
        f.run("merge", "pull_request_review", &approve(&f, n, "bob", None))
            .expect_code(0);
        assert_eq!(merge_comments(&f, n).len(), 1);
        assert_eq!(merge_requests(&f).len(), 1);
    }
}

#[test]
fn an_approval_by_the_author_only_or_on_an_older_commit_is_blocked() {
    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, Some(KEY));
    let run = f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "alice", None),
    );
    assert_blocked(&f, n, run, "the author's own approval does not count");

    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, Some(KEY));
    let old = fake_sha("an older commit");
    let run = f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "bob", Some(&old)),
    );
    assert_blocked(&f, n, run, "approvals of older commits do not count");

    // Production needs two.
    let f = flow();
    let n = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    let run = f.run("merge", "pull_request_review", &approve(&f, n, "bob", None));
    assert_blocked(&f, n, run, "production needs 2 approval(s)");
}

#[test]
fn a_head_moved_after_validation_is_blocked_as_stale() {
    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, Some(KEY));
    f.gh.set_pr_head(CONFIG, n, &fake_sha("pushed after validation"));
    let run = f.run("merge", "pull_request_review", &approve(&f, n, "bob", None));
    assert_blocked(&f, n, run, "validation is stale, re-run");

    // No validation at all: validate it first.
    let f = flow();
    let n =
        f.gh.seed_pr(CONFIG, PrSeed::new("feature", "main").author("alice"));
    let run = f.run("merge", "pull_request_review", &approve(&f, n, "bob", None));
    assert_blocked(&f, n, run, "no tfctl validation by github-actions[bot]");
}

#[test]
fn a_validation_comment_not_written_by_the_bot_or_badly_signed_is_refused() {
    let f = flow();
    let n =
        f.gh.seed_pr(CONFIG, PrSeed::new("feature", "main").author("alice"));
    let head = f.gh.pr(CONFIG, n).head_sha;
    f.gh.seed_comment(
        CONFIG,
        n,
        "mallory",
        &validation_body(n, &head, "staging", RunResult::Passed, Some(KEY)),
    );
    f.gh.seed_label(CONFIG, n, "opa-passed", "mallory");
    let run = f.run("merge", "pull_request_review", &approve(&f, n, "bob", None));
    assert_blocked(&f, n, run, "no tfctl validation by github-actions[bot]");

    // Merge holds only the public key: unsigned and wrongly signed
    // attestations fail, one signed with the controller's key passes.
    for (key, expected) in [
        (None, Some("it is not signed")),
        (Some(OTHER_KEY), Some("which is not in trust.public_keys")),
        (Some(KEY), None),
    ] {
        let f = flow();
        let n = validated_pr(&f, "staging", RunResult::Passed, key);
        let event = approve(&f, n, "bob", None);
        let run = f.run("merge", "pull_request_review", &event);
        if let Some(why) = expected {
            assert_blocked(&f, n, run, why);
        } else {
            run.expect_code(0);
            let body = &merge_comments(&f, n)[0];
            let m: MergeMarker = marker::find(body).unwrap();
            assert_eq!(m.outcome, "merged");
        }
    }
}

pub(crate) fn failed_and_approved(f: &Flow) -> u64 {
    let n = validated_pr(f, "production", RunResult::Failed, Some(KEY));
    approve(f, n, "bob", None);
    approve(f, n, "carol", None);
    n
}

#[test]
fn failed_policies_merge_only_on_a_special_approvers_override() {
    let f = flow();
    let n = failed_and_approved(&f);
    // The approvals alone do not merge a failed validation.
    let run = f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    );
    assert_blocked(&f, n, run, "only an `OVERRIDE:");

    let event = comment_on(
        &f,
        n,
        "sec-lead",
        "OVERRIDE: INC-4711 needs the bucket public for the outage page",
    );
    let run = f.run("merge", "issue_comment", &event).expect_code(0);
    assert!(
        run.stdout().contains("on sec-lead's override"),
        "{}",
        run.stdout()
    );
    let pr = f.gh.pr(CONFIG, n);
    assert!(pr.merged);
    assert_eq!(pr.base_ref, "prod");
    assert!(f.gh.labels(CONFIG, n).contains(&"opa-override".to_string()));

    let comments = merge_comments(&f, n);
    assert_eq!(
        comments.len(),
        1,
        "the blocked comment was updated in place"
    );
    let body = &comments[0];
    assert!(body.contains("merged into `prod`"), "{body}");
    assert!(body.contains("Policy violations overridden"), "{body}");
    // What was excused comes from the signed record: stack, rule, finding id.
    assert!(body.contains("- S3/public-assets: main.deny ("), "{body}");
    let m: MergeMarker = marker::find(body).unwrap();
    assert_eq!(m.history.len(), 2, "blocked, then overridden");

    let audit = f.audit();
    let e = audit.last().unwrap();
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("override"), Some("merged"))
    );
    assert_eq!(e["actor"], "sec-lead");
    assert!(
        e["reasons"][0].as_str().unwrap().contains("INC-4711"),
        "{e}"
    );
    let id = tfctl::pipeline::violation_id(
        "S3/public-assets",
        "main.deny",
        "S3 bucket production-s3-public-assets must not be public",
    );
    assert_eq!(
        e["violations_overridden"],
        json!([format!("S3/public-assets: main.deny ({id})")])
    );
}

#[test]
fn overrides_by_the_author_a_non_approver_without_reason_or_before_validation_are_refused() {
    let cases: [(&str, &str, &str); 3] = [
        (
            "alice",
            "OVERRIDE: I wrote it and I need it today",
            "alice is the pull request's author",
        ),
        (
            "dave",
            "OVERRIDE: looks fine to me, ship it",
            "dave is not a special approver",
        ),
        ("sec-lead", "OVERRIDE:  ", "at least 10 characters"),
    ];
    for (author, body, why) in cases {
        let f = flow();
        let n = failed_and_approved(&f);
        let run = merge_on_comment(&f, n, author, body);
        assert_blocked(&f, n, run, why);
    }

    // Posted before the validation of the current head.
    let f = flow();
    for b in ["dev", "stage", "prod"] {
        f.gh.seed_branch(CONFIG, b, &fake_sha(b));
    }
    let n =
        f.gh.seed_pr(CONFIG, PrSeed::new("feature", "main").author("alice"));
    let early = comment_on(
        &f,
        n,
        "sec-lead",
        "OVERRIDE: INC-4711 needs this, approved by security",
    );
    validate(&f, n, "production", RunResult::Failed, Some(KEY));
    approve(&f, n, "bob", None);
    approve(&f, n, "carol", None);
    let run = f.run("merge", "issue_comment", &early);
    assert_blocked(&f, n, run, "posted before the validation");

    // Plain comments and issues are not merge requests.
    let f = flow();
    let n = failed_and_approved(&f);
    let run = merge_on_comment(&f, n, "sec-lead", "LGTM").expect_code(0);
    assert!(
        run.stdout().contains("not an `OVERRIDE:`"),
        "{}",
        run.stdout()
    );
    assert!(merge_comments(&f, n).is_empty());

    // The fixture's own review is a comment, not an approval.
    let commented = f.event("pull_request_review.submitted.json", |v| {
        set_pr(&mut v["pull_request"], &f.gh, n);
    });
    let run = f
        .run("merge", "pull_request_review", &commented)
        .expect_code(0);
    assert!(
        run.stdout().contains("not a submitted approval"),
        "{}",
        run.stdout()
    );
    assert!(merge_comments(&f, n).is_empty());
    assert!(merge_requests(&f).is_empty());

    // An `OVERRIDE:` on a PR whose policies passed merges as a plain merge.
    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, Some(KEY));
    approve(&f, n, "bob", None);
    merge_on_comment(&f, n, "sec-lead", "OVERRIDE: not needed but harmless").expect_code(0);
    assert!(!f.gh.labels(CONFIG, n).contains(&"opa-override".to_string()));
    assert_eq!(f.audit().pop().unwrap()["action"], "merge");
}

#[test]
fn a_team_approver_is_resolved_through_the_memberships_api() {
    let f = flow();
    f.gh.seed_team_member("acme", "platform-leads", "tina", "active");
    f.gh.seed_team_member("acme", "platform-leads", "pete", "pending");

    let n = failed_and_approved(&f);
    let run = merge_on_comment(&f, n, "pete", "OVERRIDE: rollback of INC-12 needs this");
    assert_blocked(&f, n, run, "pete is not a special approver");

    let run =
        merge_on_comment(&f, n, "tina", "OVERRIDE: rollback of INC-12 needs this").expect_code(0);
    assert!(run.stdout().contains("tina's override"), "{}", run.stdout());
    assert!(f.gh.pr(CONFIG, n).merged);
    let asked: Vec<String> =
        f.gh.requests()
            .into_iter()
            .filter(|r| r.route == "GET /orgs/{org}/teams/{team_slug}/memberships/{username}")
            .map(|r| r.path)
            .collect();
    assert_eq!(
        asked,
        vec![
            "/orgs/acme/teams/platform-leads/memberships/pete".to_string(),
            "/orgs/acme/teams/platform-leads/memberships/tina".to_string(),
        ]
    );
}

#[test]
fn githubs_refusal_blocks_with_its_reason_and_leaves_the_base_alone() {
    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, Some(KEY));
    f.gh.update_pr(CONFIG, n, |pr| pr.mergeable = Some(false));
    let run = f
        .run("merge", "pull_request_review", &approve(&f, n, "bob", None))
        .expect_code(1);
    assert!(
        run.stdout().contains("Pull Request is not mergeable"),
        "{}",
        run.stdout()
    );
    let pr = f.gh.pr(CONFIG, n);
    assert!(!pr.merged);
    assert_eq!(pr.base_ref, "main", "the retarget was undone");
    let body = &merge_comments(&f, n)[0];
    assert!(
        body.contains("GitHub refused to merge into stage: Pull Request is not mergeable"),
        "{body}"
    );
    assert!(!f.gh.labels(CONFIG, n).contains(&"opa-override".to_string()));
}

/// The front half of the lifecycle, each step by the binary on the payload
/// GitHub would send: push → PR + tfctl-validate; the controller's
/// validation; approval → merge into prod; merged close → tfctl-apply with
/// the merge commit. The audit log reads in that order.
#[test]
fn push_to_apply_request_end_to_end() {
    let f = flow();
    let base = fake_sha("base");
    f.gh.seed_commit(CONFIG, &base, &[], "initial", &[]);
    f.gh.seed_branch(CONFIG, "main", &base);
    f.gh.seed_branch(CONFIG, "prod", &base);
    let head = fake_sha("feature head");
    f.gh.seed_commit(
        CONFIG,
        &head,
        &[&base],
        "Make the data lake private",
        &["config/S3/data-lake-prod/data-lake-prod.tfvars"],
    );
    f.gh.seed_branch(CONFIG, "feature", &head);
    let push = f.event("push.3.json", |v| {
        v["ref"] = json!("refs/heads/feature");
        v["after"] = json!(head);
        v["sender"]["login"] = json!("alice");
    });
    f.run("dispatch", "push", &push).expect_code(0);
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1);
    let n = sent[0].client_payload["pr_number"].as_u64().unwrap();
    // The PR is opened by the bot; for the gate, alice is its author.
    f.gh.update_pr(CONFIG, n, |pr| pr.user = "alice".into());

    validate(&f, n, "production", RunResult::Passed, Some(KEY));

    approve(&f, n, "bob", None);
    f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    )
    .expect_code(0);
    let pr = f.gh.pr(CONFIG, n);
    assert!(pr.merged);
    let merge_sha = pr.merge_commit_sha.clone().unwrap();
    assert_eq!(f.gh.branch(CONFIG, "prod"), Some(merge_sha.clone()));

    let closed = f.pr_event("pull_request.closed.json", n);
    f.run("dispatch", "pull_request", &closed).expect_code(0);
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].event_type, "tfctl-apply");
    assert_eq!(
        sent[1].client_payload,
        json!({"source_repo": CONFIG, "pr_number": n, "head_sha": head,
               "base_ref": "prod", "merge_commit_sha": merge_sha})
    );

    let trail: Vec<(String, String)> = f
        .audit()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        trail,
        vec![
            (
                "dispatch".into(),
                format!("tfctl-validate sent to {CONTROLLER}")
            ),
            ("merge".into(), "merged".into()),
            (
                "dispatch".into(),
                format!("tfctl-apply sent to {CONTROLLER}")
            ),
        ]
    );
}

/// What validate leaves on PR `n` when its attestation outgrows one
/// comment: 1,500 recorded violations on one production stack, signed,
/// the report in the validation comment and the attestation in parts.
/// Returns the part comments' ids.
fn validated_in_parts(f: &Flow, n: u64) -> Vec<u64> {
    let head = f.gh.pr(CONFIG, n).head_sha;
    let violations: Vec<Violation> = (0..1_500)
        .map(|i| Violation {
            namespace: "main".into(),
            rule: "deny".into(),
            msg: format!("terraform_data.item[{i}]: missing required tags"),
        })
        .collect();
    let report = report_of("production", RunResult::Failed, violations);
    let m = marker_of(n, &head, "production", &report);
    let m = marker::signed(&m, Some(&support::keys::key(KEY)));
    let placed = tfctl::render::parts::place(&m, tfctl::render::split::COMMENT_LIMIT).unwrap();
    assert!(placed.parts.len() >= 2, "the attestation needs parts");
    let body = tfctl::render::split::fit(
        &comment_of(&report, &head, "production", placed.in_comment.clone()),
        tfctl::render::split::COMMENT_LIMIT,
        &tfctl::render::split::pointer(None),
    );
    let ids = support::evidence::publish_validation_in_parts(&f.gh, CONFIG, n, BOT, &body, &m);
    f.gh.seed_label(CONFIG, n, "opa-failed", BOT);
    ids
}

/// The attestation of a large PR lives in part comments. Attack: a writer
/// edits one part (dropping a recorded violation, so the override would
/// excuse less than was found): merge refuses it as unverified. Positive
/// control: the untouched parts merge on the special approver's override,
/// which names every one of the 1,500 findings in the audit.
#[test]
fn attack_an_edited_attestation_part_is_refused_and_the_genuine_parts_merge_on_override() {
    let f = flow();
    let n = opened_pr(&f);
    let parts = validated_in_parts(&f, n);
    approve(&f, n, "bob", None);
    approve(&f, n, "carol", None);

    let part =
        f.gh.comments(CONFIG, n)
            .into_iter()
            .find(|c| c.id == parts[0])
            .unwrap();
    let at = part
        .body
        .find("{\"stack\":\"S3/public-assets\"")
        .expect("a violation record");
    let end = at + part.body[at..].find('}').unwrap() + 2;
    let edited = format!("{}{}", &part.body[..at], &part.body[end..]);
    f.gh.edit_comment(CONFIG, parts[0], &edited);
    let override_text = "OVERRIDE: INC-4711 tags are added by the tagging job after apply";
    let run = merge_on_comment(&f, n, "sec-lead", override_text);
    assert_blocked(&f, n, run, "does not verify");

    f.gh.edit_comment(CONFIG, parts[0], &part.body);
    let run = merge_on_comment(&f, n, "sec-lead", override_text).expect_code(0);
    assert!(
        run.stdout().contains("on sec-lead's override"),
        "{}",
        run.stdout()
    );
    assert!(f.gh.pr(CONFIG, n).merged);
    let audit = f.audit();
    let e = audit.last().unwrap();
    assert_eq!(e["outcome"], "merged");
    assert_eq!(e["violations_overridden"].as_array().unwrap().len(), 1_500);
    // The merge comment names the first findings and how many more: it
    // stays within GitHub's limit (written after the merge, it must not fail).
    let body = &merge_comments(&f, n)[0];
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(
        body.contains("… and 1491 more (the audit log lists every one)"),
        "{body}"
    );
}
