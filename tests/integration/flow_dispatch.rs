//! `tfctl dispatch` end to end: the real binary, a real git checkout of the
//! offline example, the fake GitHub with a config and a controller
//! repository, and real push / `pull_request` payloads (octokit/webhooks
//! examples) edited into shape.

use crate::flow_support;
use crate::support;

use flow_support::{set_pr, Flow, CONFIG, CONTROLLER};
use serde_json::json;
use support::fake_github::{fake_sha, PrSeed};

const ZEROS: &str = "0000000000000000000000000000000000000000";

fn flow() -> Flow {
    Flow::new("  controller_repo: acme/controller\n")
}

/// `main` at a base commit and `branch` one or more commits ahead.
fn seed_branch(f: &Flow, branch: &str, commits: &[(&str, &[&str])]) -> Vec<String> {
    let base = fake_sha("base");
    f.gh.seed_commit(CONFIG, &base, &[], "initial", &[]);
    f.gh.seed_branch(CONFIG, "main", &base);
    let mut parent = base;
    let mut shas = Vec::new();
    for (message, files) in commits {
        let sha = fake_sha(&format!("{branch} {message}"));
        f.gh.seed_commit(CONFIG, &sha, &[&parent], message, files);
        parent.clone_from(&sha);
        shas.push(sha);
    }
    f.gh.seed_branch(CONFIG, branch, &parent);
    shas
}

/// A push payload (the octokit "with-new-branch" example) for `branch`.
fn push(f: &Flow, branch: &str, before: &str, after: &str) -> std::path::PathBuf {
    f.event("push.3.json", |v| {
        v["ref"] = json!(format!("refs/heads/{branch}"));
        v["before"] = json!(before);
        v["after"] = json!(after);
        v["created"] = json!(before == ZEROS);
        v["head_commit"]["id"] = json!(after);
        v["commits"][0]["id"] = json!(after);
        v["repository"]["default_branch"] = json!("main");
    })
}

#[test]
fn push_opens_the_pr_once_and_sends_validate_to_the_controller() {
    let f = flow();
    let shas = seed_branch(
        &f,
        "feature/logs",
        &[
            (
                "Encrypt the dev logs bucket\n\nPer the audit.",
                &["config/S3/logs-dev/logs-dev.tfvars"],
            ),
            ("Update the readme", &["README.md"]),
        ],
    );
    let head = shas[1].clone();
    let event = push(&f, "feature/logs", ZEROS, &head);

    let run = f.run("dispatch", "push", &event).expect_code(0);
    assert!(
        run.stdout().contains("opened #1 for feature/logs"),
        "{}",
        run.stdout()
    );

    // Files came from the compare API against the default branch, not from
    // `before` (40 zeros on a new branch).
    let compares: Vec<_> =
        f.gh.requests()
            .into_iter()
            .filter(|r| r.route == "GET /repos/{owner}/{repo}/compare/{basehead}")
            .collect();
    assert_eq!(compares.len(), 1);
    assert_eq!(
        compares[0].path,
        format!("/repos/{CONFIG}/compare/main...{head}")
    );

    let prs = f.gh.prs(CONFIG);
    assert_eq!(prs.len(), 1);
    let pr = &prs[0];
    assert_eq!(
        (pr.head_ref.as_str(), pr.base_ref.as_str()),
        ("feature/logs", "main")
    );
    assert_eq!(pr.title, "Encrypt the dev logs bucket");
    assert_eq!(pr.user, flow_support::BOT);
    let body = pr.body.clone().unwrap();
    assert!(
        body.contains("- `S3/logs-dev` (plan, `S3/logs-dev/logs-dev.tfvars`)"),
        "{body}"
    );

    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_type, "tfctl-validate");
    assert_eq!(
        sent[0].client_payload,
        json!({"source_repo": CONFIG, "pr_number": 1, "head_sha": head, "base_ref": "main"})
    );
    assert!(f.gh.dispatches(CONFIG).is_empty());
    assert_eq!(f.output("pr_number").as_deref(), Some("1"));
    assert_eq!(f.output("pr_created").as_deref(), Some("true"));
    assert_eq!(f.output("dispatched").as_deref(), Some("tfctl-validate"));

    // The same event again: the PR is found, not opened twice.
    let run = f.run("dispatch", "push", &event).expect_code(0);
    assert!(run.stdout().contains("found #1"), "{}", run.stdout());
    assert_eq!(f.gh.prs(CONFIG).len(), 1);
    assert_eq!(f.gh.dispatches(CONTROLLER).len(), 2);

    // A later push to the branch: same PR, compared against its base.
    let next = fake_sha("next");
    f.gh.seed_commit(
        CONFIG,
        &next,
        &[&head],
        "Tag the data lake",
        &["config/S3/data-lake-prod/data-lake-prod.json"],
    );
    f.gh.set_pr_head(CONFIG, 1, &next);
    let run = f
        .run("dispatch", "push", &push(&f, "feature/logs", &head, &next))
        .expect_code(0);
    assert!(
        run.stdout().contains("S3/data-lake-prod S3/logs-dev"),
        "{}",
        run.stdout()
    );
    assert_eq!(f.gh.prs(CONFIG).len(), 1);
    let last = f.gh.dispatches(CONTROLLER).pop().unwrap();
    assert_eq!(last.client_payload["head_sha"], json!(next));

    let audit = f.audit();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0]["action"], "dispatch");
    assert_eq!(audit[0]["pull_request"], format!("{CONFIG}#1"));
    assert!(f.summary().contains("Audit trail"));
}

#[test]
fn push_without_stack_changes_creates_and_sends_nothing() {
    let f = flow();
    let shas = seed_branch(
        &f,
        "docs",
        &[("Docs only", &["README.md", "modules/s3/main.tf"])],
    );
    let run = f
        .run("dispatch", "push", &push(&f, "docs", ZEROS, &shas[0]))
        .expect_code(0);
    let out = run.stdout();
    let said: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("tfctl dispatch:"))
        .collect();
    assert_eq!(said.len(), 1, "{out}");
    assert!(
        said[0].contains("no stack files changed between main and"),
        "{out}"
    );
    assert!(f.gh.prs(CONFIG).is_empty());
    assert!(f.gh.dispatches(CONTROLLER).is_empty());
}

#[test]
fn pushes_to_environment_or_default_branches_touch_nothing() {
    let f = flow();
    for branch in ["prod", "dev", "main"] {
        let event = push(&f, branch, &fake_sha("a"), &fake_sha("b"));
        let run = f.run("dispatch", "push", &event).expect_code(0);
        assert!(run.stdout().contains("nothing to do"), "{}", run.stdout());
    }
    assert!(f.gh.requests().is_empty(), "{:?}", f.gh.requests());
}

#[test]
fn pull_request_events_validate_only_when_configured() {
    // validate_on: push (the default): the push already asked.
    let f = flow();
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "main").files(&["config/S3/logs-dev/logs-dev.tfvars"]),
    );
    let opened = f.pr_event("pull_request.opened.json", n);
    let run = f.run("dispatch", "pull_request", &opened).expect_code(0);
    assert!(
        run.stdout().contains("validate_on is push"),
        "{}",
        run.stdout()
    );
    assert!(f.gh.dispatches(CONTROLLER).is_empty());

    // validate_on: pull_request: opened and synchronize send; a push only
    // opens the PR.
    let f = Flow::new("  controller_repo: acme/controller\n  validate_on: pull_request\n");
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "main").files(&["config/S3/logs-dev/logs-dev.tfvars"]),
    );
    for fixture in ["pull_request.opened.json", "pull_request.synchronize.json"] {
        f.run("dispatch", "pull_request", &f.pr_event(fixture, n))
            .expect_code(0);
    }
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 2);
    let head = f.gh.pr(CONFIG, n).head_sha;
    assert_eq!(
        sent[0].client_payload,
        json!({"source_repo": CONFIG, "pr_number": n, "head_sha": head, "base_ref": "main"})
    );

    let shas = seed_branch(
        &f,
        "feature/kms",
        &[(
            "Rotate the key",
            &["config/KMS/encryption-key/encryption-key.tfvars"],
        )],
    );
    let run = f
        .run(
            "dispatch",
            "push",
            &push(&f, "feature/kms", ZEROS, &shas[0]),
        )
        .expect_code(0);
    assert!(run.stdout().contains("opened #2"), "{}", run.stdout());
    assert_eq!(f.gh.dispatches(CONTROLLER).len(), 2);

    // A PR without stack files: nothing is sent.
    let docs =
        f.gh.seed_pr(CONFIG, PrSeed::new("docs", "main").files(&["README.md"]));
    let event = f.pr_event("pull_request.opened.json", docs);
    let run = f.run("dispatch", "pull_request", &event).expect_code(0);
    assert!(
        run.stdout().contains("no stack files changed"),
        "{}",
        run.stdout()
    );
    assert_eq!(f.gh.dispatches(CONTROLLER).len(), 2);
}

#[test]
fn a_merged_pr_sends_apply_with_its_merge_commit() {
    let f = flow();
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "prod").files(&["config/S3/data-lake-prod/data-lake-prod.tfvars"]),
    );
    let merge_sha = fake_sha("the merge commit");
    f.gh.update_pr(CONFIG, n, |pr| {
        pr.state = "closed".into();
        pr.merged = true;
        pr.merge_commit_sha = Some(merge_sha.clone());
    });
    let closed = f.pr_event("pull_request.closed.json", n);
    f.run("dispatch", "pull_request", &closed).expect_code(0);
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_type, "tfctl-apply");
    let pr = f.gh.pr(CONFIG, n);
    assert_eq!(
        sent[0].client_payload,
        json!({"source_repo": CONFIG, "pr_number": n, "head_sha": pr.head_sha,
               "base_ref": "prod", "merge_commit_sha": merge_sha})
    );

    // Closed without merging: nothing to apply; with stack locks (the
    // default) tfctl-validate, so the controller frees the PR's locks and
    // re-validates the PRs that waited on them.
    f.gh.update_pr(CONFIG, n, |pr| pr.merged = false);
    let unmerged = f.event("pull_request.closed.json", |v| {
        v["number"] = json!(n);
        set_pr(&mut v["pull_request"], &f.gh, n);
        v["pull_request"]["merged"] = json!(false);
    });
    let run = f.run("dispatch", "pull_request", &unmerged).expect_code(0);
    assert!(
        run.stdout().contains("sent tfctl-validate"),
        "{}",
        run.stdout()
    );
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].event_type, "tfctl-validate");
    assert_eq!(sent[1].client_payload["pr_number"], n);

    // Without locks there is nothing to free: nothing is sent.
    let f = Flow::new("  controller_repo: acme/controller\nlocks:\n  mode: off\n");
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "prod").files(&["config/S3/data-lake-prod/data-lake-prod.tfvars"]),
    );
    f.gh.update_pr(CONFIG, n, |pr| pr.state = "closed".into());
    let unmerged = f.event("pull_request.closed.json", |v| {
        v["number"] = json!(n);
        set_pr(&mut v["pull_request"], &f.gh, n);
        v["pull_request"]["merged"] = json!(false);
    });
    let run = f.run("dispatch", "pull_request", &unmerged).expect_code(0);
    assert!(run.stdout().contains("without merging"), "{}", run.stdout());
    assert!(f.gh.dispatches(CONTROLLER).is_empty());
}

#[test]
fn fork_prs_are_refused_unless_allowed() {
    let f = Flow::new("  controller_repo: acme/controller\n  validate_on: pull_request\n");
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "main")
            .files(&["config/S3/logs-dev/logs-dev.tfvars"])
            .head_in_fork("mallory/config"),
    );
    let event = f.event("pull_request.opened.json", |v| {
        v["number"] = json!(n);
        set_pr(&mut v["pull_request"], &f.gh, n);
        v["pull_request"]["head"]["repo"]["full_name"] = json!("mallory/config");
    });
    let run = f.run("dispatch", "pull_request", &event).expect_code(1);
    assert!(run.stdout().contains("refused"), "{}", run.stdout());
    assert!(run.stdout().contains("allow_forks"), "{}", run.stdout());
    assert!(f.gh.dispatches(CONTROLLER).is_empty());
}

#[test]
fn a_missing_controller_is_an_input_error_before_any_pr_is_opened() {
    let f = Flow::new("  merge_method: merge\n");
    let shas = seed_branch(
        &f,
        "feature",
        &[("Change", &["config/S3/logs-dev/logs-dev.tfvars"])],
    );
    let run = f
        .run("dispatch", "push", &push(&f, "feature", ZEROS, &shas[0]))
        .expect_code(2);
    assert!(
        run.stderr().contains("--controller OWNER/REPO"),
        "{}",
        run.stderr()
    );
    assert!(f.gh.prs(CONFIG).is_empty());
    assert!(f.gh.requests().is_empty());

    // `--controller` stands in for the config.
    f.run_with(
        "dispatch",
        &["--controller", CONTROLLER],
        "push",
        &push(&f, "feature", ZEROS, &shas[0]),
        &[],
    )
    .expect_code(0);
    assert_eq!(f.gh.prs(CONFIG).len(), 1);
    assert_eq!(f.gh.dispatches(CONTROLLER).len(), 1);
}
