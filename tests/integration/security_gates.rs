//! Attacks on the merge and apply gates by someone with write or triage
//! access to the config repository (docs/security.md), done the way GitHub
//! lets them be done: editing any comment (the bot's too), adding labels,
//! replaying a dispatch, resetting a branch. Each test is named after its
//! attack and carries a positive control (the genuine flow still merges or
//! applies), so it cannot pass because everything is broken. Merge attacks
//! run `tfctl merge` against the fake GitHub; apply attacks run real
//! Terraform on a real merge commit and check the state is untouched.

use serde_json::json;

use crate::apply_support::{self, validation_body as apply_validation_body, Scenario, KEY, REPO};
use crate::flow_merge::{
    approve, assert_blocked, comment_on, failed_and_approved, flow, validated_pr, validation_body,
};
use crate::flow_support::{Flow, BOT, CONFIG};
use crate::support::evidence::publish_validation;
use crate::support::fake_github::{fake_sha, FakeGithub, BOT_LOGIN};
use tfctl::render::marker::{self, ApplyMarker, ApplyState};
use tfctl::report::RunResult;

// ---- merge ------------------------------------------------------------

/// The bot's validation comment on `n`, by id.
fn bot_validation_comment(f: &Flow, n: u64) -> (u64, String) {
    let c =
        f.gh.comments(CONFIG, n)
            .into_iter()
            .find(|c| c.user == BOT && c.body.contains("<!-- tfctl:validation "))
            .expect("a validation comment");
    (c.id, c.body)
}

/// Both production approvals on `n`; returns the last approval's event.
fn approved(f: &Flow, n: u64) -> std::path::PathBuf {
    approve(f, n, "bob", None);
    approve(f, n, "carol", None)
}

#[test]
fn attack_writer_edits_the_bots_failed_validation_to_passed() {
    // Positive control: a genuine pass with two approvals merges.
    let f = flow();
    let n = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    f.run("merge", "pull_request_review", &approved(&f, n))
        .expect_code(0);
    assert!(f.gh.pr(CONFIG, n).merged);

    // The attack: a failed, signed validation; the writer edits the bot's
    // comment so the attestation (and the text) say "passed", and swaps
    // the label.
    let f = flow();
    let n = validated_pr(&f, "production", RunResult::Failed, Some(KEY));
    let (id, body) = bot_validation_comment(&f, n);
    let forged = body
        .replace("\"result\":\"failed\"", "\"result\":\"passed\"")
        .replace("❌ tfctl validate failed", "✅ tfctl validate passed");
    assert_ne!(forged, body);
    f.gh.edit_comment(CONFIG, id, &forged);
    f.gh.remove_label(CONFIG, n, "opa-failed", "mallory");
    f.gh.seed_label(CONFIG, n, "opa-passed", "mallory");
    let run = f.run("merge", "pull_request_review", &approved(&f, n));
    assert_blocked(&f, n, run, "its signature does not verify");
}

#[test]
fn attack_writer_pastes_an_attestation_from_another_pr() {
    // PR 1 passed, genuinely; PR 2 failed. The writer copies PR 1's signed
    // attestation into the bot's comment on PR 2 (same head, to be sure).
    let f = flow();
    let one = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    let two = validated_pr(&f, "production", RunResult::Failed, Some(KEY));
    let head = f.gh.pr(CONFIG, two).head_sha;
    let (id, _) = bot_validation_comment(&f, two);
    f.gh.edit_comment(
        CONFIG,
        id,
        &validation_body(one, &head, "production", RunResult::Passed, Some(KEY)),
    );
    let run = f.run("merge", "pull_request_review", &approved(&f, two));
    assert_blocked(&f, two, run, "is for acme/config#1, not acme/config#2");
    // Positive control: PR 1 itself merges on its own attestation.
    f.run("merge", "pull_request_review", &approved(&f, one))
        .expect_code(0);
    assert!(f.gh.pr(CONFIG, one).merged);
}

#[test]
fn attack_writer_restores_an_older_attestation_of_the_same_head() {
    // The head passed once, then was validated again (a new policy) and
    // failed. A writer edits the bot's comment back to the old, genuinely
    // signed, passing attestation.
    let f = flow();
    let n = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    let (id, passed_body) = bot_validation_comment(&f, n);
    crate::flow_merge::validate(&f, n, "production", RunResult::Failed, Some(KEY));
    let (_, failed_body) =
        f.gh.comments(CONFIG, n)
            .into_iter()
            .rev()
            .find(|c| c.user == BOT && c.body.contains("<!-- tfctl:validation "))
            .map(|c| (c.id, c.body))
            .unwrap();
    assert_ne!(passed_body, failed_body);
    f.gh.edit_comment(CONFIG, id, &passed_body);
    for c in f.gh.comments(CONFIG, n) {
        if c.user == BOT && c.id != id && c.body.contains("<!-- tfctl:validation ") {
            f.gh.edit_comment(CONFIG, c.id, &passed_body);
        }
    }
    f.gh.remove_label(CONFIG, n, "opa-failed", "mallory");
    let run = f.run("merge", "pull_request_review", &approved(&f, n));
    assert_blocked(&f, n, run, "is not the latest the controller published");
    // Positive control: the latest attestation is believed — here a third
    // validation that passes again merges.
    crate::flow_merge::validate(&f, n, "production", RunResult::Passed, Some(KEY));
    f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    )
    .expect_code(0);
    assert!(f.gh.pr(CONFIG, n).merged);
}

#[test]
fn attack_triage_user_adds_opa_passed_to_a_failed_pr() {
    let f = flow();
    let n = failed_and_approved(&f);
    f.gh.seed_label(CONFIG, n, "opa-passed", "triager");
    let run = f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    );
    assert_blocked(
        &f,
        n,
        run,
        "label opa-passed disagrees with the signed validation",
    );
    // Positive control: without the stray label, the genuine pass merges
    // even with no verdict label at all (labels never open a gate).
    let f = flow();
    let n = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    f.gh.remove_label(CONFIG, n, "opa-passed", "triager");
    f.run("merge", "pull_request_review", &approved(&f, n))
        .expect_code(0);
}

#[test]
fn attack_writer_edits_a_special_approvers_comment_into_an_override() {
    let f = flow();
    let n = failed_and_approved(&f);
    // sec-lead asks for a fix; a writer edits that comment into an override
    // (GitHub keeps sec-lead as its author), then triggers merge with an
    // approval.
    let id =
        f.gh.seed_comment(CONFIG, n, "sec-lead", "please fix the bucket policy first");
    f.gh.edit_comment(
        CONFIG,
        id,
        "OVERRIDE: approved by security, ship it to production now",
    );
    let run = f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    );
    assert_blocked(&f, n, run, "was edited after it was posted");
    assert!(!f.gh.labels(CONFIG, n).contains(&"opa-override".to_string()));
    // Positive control: sec-lead's own unedited override merges.
    let event = comment_on(
        &f,
        n,
        "sec-lead",
        "OVERRIDE: INC-4711 needs the bucket public for the outage page",
    );
    f.run("merge", "issue_comment", &event).expect_code(0);
    assert!(f.gh.pr(CONFIG, n).merged);
}

#[test]
fn attack_merge_without_a_public_key_trusts_nothing() {
    // A config repo whose tfctl.yaml lists no key: merge refuses to act on
    // any validation, even a genuinely signed one…
    let f = Flow::new("  controller_repo: acme/controller\n");
    let yaml = f.repo.read("tfctl.yaml");
    let start = yaml.find("trust:").unwrap();
    let end = start + yaml[start..].find("github:").unwrap();
    f.repo
        .write("tfctl.yaml", &format!("{}{}", &yaml[..start], &yaml[end..]));
    f.repo.commit("no trust section");
    let n = validated_pr(&f, "production", RunResult::Passed, Some(KEY));
    let run = f.run("merge", "pull_request_review", &approved(&f, n));
    assert_blocked(&f, n, run, "trust.public_keys is empty");
    // …unless the demo setting says unsigned is fine; then it merges.
    let yaml = f.repo.read("tfctl.yaml");
    f.repo.write(
        "tfctl.yaml",
        &yaml.replace("github:\n", "trust:\n  allow_unsigned: true\ngithub:\n"),
    );
    f.repo.commit("demo mode");
    f.run(
        "merge",
        "pull_request_review",
        &approve(&f, n, "carol", None),
    )
    .expect_code(0);
}

// ---- apply ------------------------------------------------------------

/// One production stack validated by the real `tfctl validate`, merged.
fn kms_scenario() -> Scenario {
    let repo = apply_support::repo_with(|_| {});
    repo.touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars");
    let digests = apply_support::validate(&repo);
    Scenario::merge(repo, digests)
}

fn kms_serial(sc: &Scenario) -> serde_json::Value {
    sc.state("KMS/encryption-key").expect("applied")["serial"].clone()
}

#[test]
fn attack_replayed_apply_dispatch_of_an_applied_pr_is_refused() {
    let sc = kms_scenario();
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    // Positive control: the genuine dispatch applies.
    sc.apply(&gh, n).run().expect_code(0);
    let serial = kms_serial(&sc);
    // The replay: the same payload, sent again by anyone who can dispatch.
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(
        run.stdout().contains("this merge was already applied"),
        "{}",
        run.stdout()
    );
    assert_eq!(kms_serial(&sc), serial, "state changed");
}

#[test]
fn attack_environment_branch_reset_to_an_old_merge_commit_is_refused() {
    let sc = kms_scenario();
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    sc.apply(&gh, n).run().expect_code(0);
    let serial = kms_serial(&sc);
    // The branch is force-pushed back to the old merge commit: the push of
    // that commit triggers apply again.
    let push = json!({"ref": "refs/heads/prod", "before": fake_sha("newer tip"),
        "after": sc.merge, "repository": {"full_name": REPO}, "sender": {"login": "mallory"}});
    let run = sc.apply_event(&gh, "push", &push).run().expect_code(1);
    assert!(
        run.stdout().contains("this merge was already applied"),
        "{}",
        run.stdout()
    );
    assert_eq!(kms_serial(&sc), serial, "state changed");
}

#[test]
fn attack_old_approved_pr_applied_after_a_newer_merge_of_the_same_stack_is_refused() {
    let sc = kms_scenario();
    // Another PR merged into prod after this one, changing the same stack
    // (GitHub's history: the tip of prod is a commit after this merge).
    let newer = |files: &[&str]| {
        let gh = FakeGithub::start();
        let (n, _) = sc.seed_validated(&gh, &sc.marker());
        let tip = fake_sha("a later merge");
        gh.seed_commit(REPO, &tip, &[&sc.merge], "Merge pull request #2", files);
        gh.seed_branch(REPO, "prod", &tip);
        (gh, n)
    };
    let (gh, n) = newer(&["config/KMS/encryption-key/encryption-key.tfvars"]);
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(
        run.stdout()
            .contains("a later merge into prod changed the same stacks"),
        "{}",
        run.stdout()
    );
    assert!(sc.state("KMS/encryption-key").is_none(), "state written");
    // Positive control: a later merge of another stack does not stop it.
    let (gh, n) = newer(&["config/S3/logs/logs.tfvars"]);
    sc.apply(&gh, n).run().expect_code(0);
    assert!(sc.state("KMS/encryption-key").is_some());
}

#[test]
fn attack_opa_override_label_does_not_excuse_a_failed_validation_at_apply() {
    let sc = kms_scenario();
    let mut failed = sc.marker();
    failed.result = RunResult::Failed;
    // Labels as merge would leave them, even added by the bot: no override
    // comment exists, so nothing excuses the failure.
    let gh = FakeGithub::start();
    let n = sc.seed_pr(&gh);
    publish_validation(
        &gh,
        REPO,
        n,
        BOT_LOGIN,
        &apply_validation_body(&failed, Some(KEY)),
    );
    gh.seed_label(REPO, n, "opa-failed", BOT_LOGIN);
    gh.seed_label(REPO, n, "opa-override", BOT_LOGIN);
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(
        run.stdout().contains("no override stands"),
        "{}",
        run.stdout()
    );
    assert!(sc.state("KMS/encryption-key").is_none(), "state written");

    // An override by someone who is not a special approver (the scenario's
    // tfctl.yaml lists none) is re-verified and refused too.
    let gh = FakeGithub::start();
    let n = sc.seed_pr(&gh);
    publish_validation(
        &gh,
        REPO,
        n,
        BOT_LOGIN,
        &apply_validation_body(&failed, Some(KEY)),
    );
    gh.seed_comment(
        REPO,
        n,
        "mallory",
        "OVERRIDE: trust me, this is needed today",
    );
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(
        run.stdout().contains("mallory is not a special approver"),
        "{}",
        run.stdout()
    );
    assert!(sc.state("KMS/encryption-key").is_none(), "state written");
}

#[test]
fn an_override_by_a_special_approver_is_reverified_and_applies() {
    // The positive control of the override attacks above, at apply: a
    // listed special approver's unedited override, posted after the
    // validation and before the merge.
    let repo = apply_support::repo_with(|r| {
        let yaml = r.read("tfctl.yaml");
        r.write(
            "tfctl.yaml",
            &format!("{yaml}approvers:\n  users: [sec-lead]\n"),
        );
    });
    repo.touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars");
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    let mut failed = sc.marker();
    failed.result = RunResult::Failed;
    let gh = FakeGithub::start();
    let n = sc.seed_pr(&gh);
    publish_validation(
        &gh,
        REPO,
        n,
        BOT_LOGIN,
        &apply_validation_body(&failed, Some(KEY)),
    );
    gh.seed_comment(
        REPO,
        n,
        "sec-lead",
        "OVERRIDE: INC-4711 rotate the key today",
    );
    // GitHub says the merge happened after both comments.
    gh.update_pr(REPO, n, |pr| {
        pr.merged_at = Some("2999-01-01T00:00:00Z".into());
    });
    gh.seed_label(REPO, n, "opa-failed", BOT_LOGIN);
    gh.seed_label(REPO, n, "opa-override", BOT_LOGIN);
    sc.apply(&gh, n).run().expect_code(0);
    assert!(sc.state("KMS/encryption-key").is_some());
    let record: ApplyMarker =
        marker::find(&apply_support::apply_comment(&gh, n)).expect("an apply attestation");
    assert_eq!(record.state, ApplyState::Applied);
    assert_eq!(
        marker::verify(&record, &[apply_support::key().public()]),
        Ok(())
    );
}

#[test]
fn attack_writer_seeds_a_pr_with_a_validation_for_its_older_head() {
    // The validation is genuine but for the head before the last push; the
    // PR merged with a newer head. Nothing is applied.
    let sc = kms_scenario();
    let mut old = sc.marker();
    old.head_sha = fake_sha("the head before the last push");
    let gh = FakeGithub::start();
    let n = sc.seed_pr(&gh);
    publish_validation(
        &gh,
        REPO,
        n,
        BOT_LOGIN,
        &apply_validation_body(&old, Some(KEY)),
    );
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(
        run.stdout().contains("validation is stale"),
        "{}",
        run.stdout()
    );
    assert!(sc.state("KMS/encryption-key").is_none(), "state written");
    // Positive control: `seed_validated` is the same PR with its real head.
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    sc.apply(&gh, n).run().expect_code(0);
}
