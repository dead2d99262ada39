//! The apply gate end to end ("each gate failure ... applies
//! nothing and leaves the state untouched"): the real `tfctl apply` against
//! the fake GitHub, on a real merge commit whose stacks the real `tfctl
//! validate` approved. Each spoof is refused with its own reason on the PR,
//! exit 1, a failed `tfctl/apply` status, and no terraform run at all.

use crate::apply_support;
use crate::harness;
use crate::support;

use apply_support::{apply_comment, apply_comments, validation_body, Scenario, KEY, REPO};
use serde_json::json;
use support::fake_github::{fake_sha, FakeGithub, BOT_LOGIN};
use support::keys::OTHER_KEY;

/// One spoof: how to seed GitHub (and the checkout) and the reason expected.
struct Case {
    name: &'static str,
    expect: &'static str,
    seed: fn(&Scenario, &FakeGithub) -> u64,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "opa-passed added by a writer to a failed validation",
            expect: "label opa-passed disagrees with the signed validation (failed)",
            seed: |sc, gh| {
                let mut marker = sc.marker();
                marker.result = tfctl::report::RunResult::Failed;
                let n = sc.seed_pr(gh);
                crate::support::evidence::publish_validation(
                    gh,
                    REPO,
                    n,
                    BOT_LOGIN,
                    &validation_body(&marker, Some(KEY)),
                );
                gh.seed_label(REPO, n, "opa-passed", "alice");
                n
            },
        },
        Case {
            name: "no marker",
            expect: "no tfctl validation by github-actions[bot] on this pull request",
            seed: |sc, gh| {
                let n = sc.seed_pr(gh);
                gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
                gh.seed_comment(REPO, n, "bob", "LGTM, ship it");
                n
            },
        },
        Case {
            name: "forged marker",
            expect: "no tfctl validation by github-actions[bot] on this pull request",
            seed: |sc, gh| {
                let n = sc.seed_pr(gh);
                gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
                gh.seed_comment(
                    REPO,
                    n,
                    "mallory",
                    &validation_body(&sc.marker(), Some(KEY)),
                );
                n
            },
        },
        Case {
            name: "wrong signature",
            expect: "which is not in trust.public_keys",
            seed: |sc, gh| {
                let n = sc.seed_pr(gh);
                gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
                gh.seed_comment(
                    REPO,
                    n,
                    BOT_LOGIN,
                    &validation_body(&sc.marker(), Some(OTHER_KEY)),
                );
                n
            },
        },
        Case {
            name: "digests edited after signing",
            expect: "its signature does not verify",
            seed: |sc, gh| {
                let n = sc.seed_pr(gh);
                gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
                let marker = sc.marker();
                let signed = validation_body(&marker, Some(KEY));
                let (id, digest) = marker.stacks.iter().next().unwrap();
                let tampered = signed.replace(digest.as_str(), &"0".repeat(64));
                assert_ne!(signed, tampered, "{id}");
                gh.seed_comment(REPO, n, BOT_LOGIN, &tampered);
                n
            },
        },
        Case {
            name: "unsigned marker while a key is set",
            expect: "it is not signed",
            seed: |sc, gh| {
                let n = sc.seed_pr(gh);
                gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
                gh.seed_comment(REPO, n, BOT_LOGIN, &validation_body(&sc.marker(), None));
                n
            },
        },
        Case {
            name: "head moved after validation",
            expect: "validation is stale, re-run",
            seed: |sc, gh| {
                let mut marker = sc.marker();
                marker.head_sha = fake_sha("an older head");
                sc.seed_validated(gh, &marker).0
            },
        },
        Case {
            name: "validated for another environment",
            expect: "the change was validated for development (branch dev), not for branch prod",
            seed: |sc, gh| {
                let mut marker = sc.marker();
                marker.environment = "development".into();
                marker.environments = vec!["development".into()];
                marker.target_branch = "dev".into();
                sc.seed_validated(gh, &marker).0
            },
        },
        Case {
            name: "not merged",
            expect: "the pull request is not merged",
            seed: |sc, gh| {
                let n = sc.seed_validated(gh, &sc.marker()).0;
                gh.update_pr(REPO, n, |pr| {
                    pr.merged = false;
                    pr.state = "open".into();
                    pr.merged_at = None;
                    pr.merge_commit_sha = None;
                });
                n
            },
        },
    ]
}

/// A scenario whose stacks the real validate approved: four production
/// stacks changed, merged into `prod`.
fn scenario() -> Scenario {
    let repo = apply_support::repo_with(|_| {});
    for f in [
        "config/IAM/admin-role/admin-role.tfvars",
        "config/KMS/encryption-key/encryption-key.tfvars",
        "config/S3/data-lake-prod/data-lake-prod.tfvars",
    ] {
        repo.touch_tfvars(f);
    }
    let digests = apply_support::validate(&repo);
    assert_eq!(digests.len(), 3, "{digests:?}");
    Scenario::merge(repo, digests)
}

/// Blocked: exit 1, every reason on the PR in one apply comment, a failed
/// status on the merge commit, an audit record, and nothing run or applied.
fn assert_blocked(
    sc: &Scenario,
    gh: &FakeGithub,
    n: u64,
    run: harness::Run,
    expect: &str,
    name: &str,
) {
    let run = run.expect_code(1);
    assert!(
        run.stdout().contains("apply blocked; nothing was applied"),
        "{name}: {}",
        run.stdout()
    );
    assert!(run.stdout().contains(expect), "{name}: {}", run.stdout());
    let body = apply_comment(gh, n);
    assert!(
        body.contains("### ⛔ tfctl apply blocked"),
        "{name}: {body}"
    );
    assert!(
        body.contains(&expect.replace('<', "&lt;").replace('>', "&gt;")),
        "{name}: expected {expect:?} in\n{body}"
    );
    let statuses = gh.statuses(REPO, &sc.merge);
    let last = statuses
        .last()
        .unwrap_or_else(|| panic!("{name}: no status"));
    assert_eq!(
        (last.context.as_str(), last.state.as_str()),
        ("tfctl/apply", "failure"),
        "{name}"
    );
    assert!(
        sc.all_state().is_empty(),
        "{name}: state written: {:?}",
        sc.all_state().keys()
    );
    // The gate came first: no apply was ever recorded as started.
    assert!(
        !body.contains("\"state\":\"applying\""),
        "{name}: an apply was started"
    );
    assert!(
        !sc.repo.path().join(".tfctl/snapshots").exists(),
        "{name}: a state snapshot was taken"
    );
    let audit = sc.audit();
    let last = audit.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["outcome"].as_str()),
        (Some("apply"), Some("blocked"))
    );
}

#[test]
fn each_gate_failure_applies_nothing_with_its_own_reason() {
    let sc = scenario();
    for case in cases() {
        let gh = FakeGithub::start();
        let n = (case.seed)(&sc, &gh);
        let run = sc.apply(&gh, n).run();
        assert_blocked(&sc, &gh, n, run, case.expect, case.name);
        if case.name == "no marker" {
            // A re-run updates the one comment in place.
            sc.apply(&gh, n).run().expect_code(1);
            assert_eq!(apply_comments(&gh, n).len(), 1);
            let outputs = sc.outputs();
            assert_eq!(outputs["result"], "blocked");
            assert_eq!(outputs["applied"], "");
        }
    }
}

#[test]
fn a_checkout_other_than_the_merge_commit_is_refused() {
    let sc = scenario();
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    // The validated head itself, not the merge of it into prod.
    sc.repo.git(&["checkout", "-q", "--detach", &sc.head]);
    let run = sc.apply(&gh, n).run();
    assert_blocked(
        &sc,
        &gh,
        n,
        run,
        "is not the merge commit",
        "wrong checkout",
    );
    // A dispatch naming another commit than the PR's merge is refused too.
    sc.repo.git(&["checkout", "-q", "prod"]);
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    let run = sc
        .apply_with(
            &gh,
            json!({"source_repo": REPO, "pr_number": n,
                "merge_commit_sha": sc.head, "base_ref": "prod"}),
        )
        .run();
    assert_blocked(
        &sc,
        &gh,
        n,
        run,
        "the trigger names commit",
        "wrong trigger commit",
    );
    // And one that says another branch than the PR merged into.
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    let run = sc
        .apply_with(
            &gh,
            json!({"source_repo": REPO, "pr_number": n,
                "merge_commit_sha": sc.merge, "base_ref": "dev"}),
        )
        .run();
    assert_blocked(
        &sc,
        &gh,
        n,
        run,
        "merged into prod, not into dev",
        "branch mismatch",
    );
}

#[test]
fn a_push_finds_its_pr_and_a_direct_push_is_refused() {
    let sc = scenario();
    let push = |after: &str| {
        json!({"ref": "refs/heads/prod", "before": fake_sha("before"), "after": after,
            "repository": {"full_name": REPO}, "sender": {"login": "alice"}})
    };
    // The merge commit's push: the PR is found and gated (an unsigned
    // marker here).
    let gh = FakeGithub::start();
    let n = sc.seed_pr(&gh);
    gh.seed_comment(REPO, n, BOT_LOGIN, &validation_body(&sc.marker(), None));
    let run = sc.apply_event(&gh, "push", &push(&sc.merge)).run();
    assert_blocked(&sc, &gh, n, run, "it is not signed", "push");

    // A commit pushed straight to prod is no PR's merge: refused, no comment.
    let gh = FakeGithub::start();
    let n = sc.seed_validated(&gh, &sc.marker()).0;
    let direct = fake_sha("direct push");
    let run = sc
        .apply_event(&gh, "push", &push(&direct))
        .run()
        .expect_code(1);
    assert!(
        run.stdout()
            .contains("a direct push to prod is not applied"),
        "{}",
        run.stdout()
    );
    assert!(apply_comments(&gh, n).is_empty());
    assert_eq!(gh.statuses(REPO, &direct).last().unwrap().state, "failure");
    assert!(sc.all_state().is_empty());

    // A push to a branch no environment uses is not an apply at all.
    let mut feature = push(&sc.head);
    feature["ref"] = json!("refs/heads/feature");
    let run = sc.apply_event(&gh, "push", &feature).run().expect_code(0);
    assert!(
        run.stdout().contains("nothing to apply"),
        "{}",
        run.stdout()
    );
}
