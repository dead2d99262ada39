//! The trust model against GitHub (docs/DESIGN.md §4, §5), attack by attack: each
//! test does what a user on GitHub could do, through the fake GitHub, and
//! has a positive control beside it (a writer's approval merges, the
//! current head publishes, tfctl's own login finds its own comment) so it
//! cannot pass because everything is refused.

use crate::flow_merge::{approve, flow, merge_requests, validated_pr};
use crate::flow_support::{Flow, CONFIG};
use crate::harness::{Repo, Run};
use crate::support::fake_github::{fake_sha, FakeGithub, PrSeed, BOT_LOGIN};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tfctl::report::RunResult;

const CONFIG_REPO: &str = "acme/infra";
const CONTROLLER_REPO: &str = "acme/controller";
const APP_ID: &str = "4242";
const APP_SLUG: &str = "acme-tfctl";
const MARKER: &str = "<!-- tfctl:validation";

/// A PR of the offline example on the fake GitHub, validated by the
/// controller on `repository_dispatch` as the workflow would run it.
struct Validation {
    gh: FakeGithub,
    repo: Repo,
    pr: u64,
    head: String,
    dir: tempfile::TempDir,
}

impl Validation {
    /// `change` edits the PR branch; `github_yaml` is appended to
    /// tfctl.yaml as its `github:` section (not listed as a PR file).
    fn new(change: impl FnOnce(&Repo), github_yaml: &str) -> Validation {
        let repo = Repo::from_example("offline");
        change(&repo);
        if !github_yaml.is_empty() {
            let yaml = repo.read("tfctl.yaml");
            repo.write("tfctl.yaml", &format!("{yaml}github:\n{github_yaml}"));
        }
        repo.commit("change stacks");
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let changed: Vec<String> = repo
            .git(&["diff", "--name-only", "main...HEAD"])
            .lines()
            .filter(|f| *f != "tfctl.yaml")
            .map(str::to_string)
            .collect();
        let gh = FakeGithub::start();
        gh.seed_repo(CONTROLLER_REPO);
        let files: Vec<&str> = changed.iter().map(String::as_str).collect();
        let pr = gh.seed_pr(
            CONFIG_REPO,
            PrSeed::new("feature", "main").head_sha(&head).files(&files),
        );
        Validation {
            gh,
            repo,
            pr,
            head,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The `tfctl-validate` dispatch the config repo sent for `head_sha`.
    fn event(&self, head_sha: &str) -> PathBuf {
        crate::harness::validate_dispatch(self.dir.path(), CONFIG_REPO, self.pr, head_sha)
    }

    /// `tfctl validate` on the dispatch for the checked-out head, with the
    /// fake's token unless `env` says otherwise.
    fn run(&self, env: &[(&str, &str)]) -> Run {
        let mut cmd = self
            .repo
            .tfctl()
            .args(["validate"])
            .in_actions(
                "repository_dispatch",
                &self.event(&self.head),
                CONTROLLER_REPO,
                self.dir.path(),
            )
            .envs(self.gh.env_vars());
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.run()
    }

    /// Runs with the GitHub App's credentials (they win over the token).
    fn run_as_app(&self) -> Run {
        let key = app_fixture("test-app-key.pem");
        self.run(&[("TFCTL_APP_ID", APP_ID), ("TFCTL_APP_PRIVATE_KEY", &key)])
    }

    fn enable_app(&self) {
        self.gh
            .enable_app(APP_ID, APP_SLUG, &app_fixture("test-app-key.pub.pem"), 77);
    }

    /// Validation comments on the PR, as `(author, body)`.
    fn validation_comments(&self) -> Vec<(String, String)> {
        self.gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .filter(|c| c.body.contains(MARKER))
            .map(|c| (c.user, c.body))
            .collect()
    }

    /// Requests that changed something on GitHub (minting a token aside).
    fn writes(&self) -> Vec<String> {
        self.gh
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && !r.route.contains("/access_tokens"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        let mut l = self.gh.labels(CONFIG_REPO, self.pr);
        l.sort();
        l
    }
}

fn app_fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/app")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// One stack whose plan violates a policy (a public bucket).
fn violating(repo: &Repo) {
    repo.write(
        "config/S3/public-assets/public-assets.tfvars",
        &repo.read("config-violation/S3/public-assets/public-assets.tfvars"),
    );
}

/// One stack whose plan passes the policies.
fn passing(repo: &Repo) {
    repo.touch_tfvars("config/S3/logs-dev/logs-dev.tfvars");
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Production builds its client through `ActionsEnv::client_config`, so the
/// documented `TFCTL_GITHUB_RETRY_BASE_MS` holds: a GitHub that refuses
/// every connection costs the retry bound's attempts at milliseconds each,
/// not the default backoff's 15 s or more, and the error names the call.
#[test]
fn unreachable_github_fails_after_the_retry_bound_naming_the_call() {
    let f = flow();
    let n = validated_pr(
        &f,
        "staging",
        RunResult::Passed,
        Some(crate::support::keys::CONTROLLER_KEY),
    );
    let event = approve(&f, n, "bob", None);
    let url = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let run = f.run_with(
        "merge",
        &[],
        "pull_request_review",
        &event,
        &[
            ("GITHUB_API_URL", url.as_str()),
            ("TFCTL_GITHUB_RETRY_BASE_MS", "5"),
        ],
    );
    let took = started.elapsed();
    let run = run.expect_code(3);
    let attempts = tfctl::github::RetryPolicy::default().max_retries + 1;
    let expected = format!("GET /repos/acme/config/pulls/{n} failed after {attempts} attempts");
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: the retry base was not applied"
    );
}

// ---- who tfctl is (its comments are found by marker and author) ----

/// With App credentials tfctl writes as `<slug>[bot]`; left at its default,
/// `github.bot_login` follows the App, so a re-run finds its own comment
/// and updates it instead of posting a second validation beside it.
#[test]
fn app_credentials_rerun_updates_the_one_validation_comment() {
    let v = Validation::new(passing, "");
    v.enable_app();
    v.run_as_app().expect_code(0);
    v.gh.clear_requests();
    v.run_as_app().expect_code(0);
    let comments = v.validation_comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert_eq!(comments[0].0, format!("{APP_SLUG}[bot]"));
    let posted: Vec<String> = v
        .writes()
        .into_iter()
        .filter(|w| w.contains("/comments"))
        .collect();
    assert_eq!(
        posted.len(),
        1,
        "the re-run should update in place: {posted:?}"
    );
    assert!(posted[0].starts_with("PATCH "), "{posted:?}");
    assert_eq!(v.labels(), ["opa-passed"]);
}

/// A tfctl.yaml naming another account than the App's (here the login
/// every workflow's `GITHUB_TOKEN` writes as, whose comments any job can
/// post) would make tfctl look for, and trust, that account's comments:
/// refused with both names before anything is read or written.
#[test]
fn attack_bot_login_naming_another_account_than_the_app_is_refused() {
    let v = Validation::new(passing, &format!("  bot_login: \"{BOT_LOGIN}\"\n"));
    v.enable_app();
    let run = v.run_as_app().expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains(BOT_LOGIN) && err.contains(&format!("{APP_SLUG}[bot]")),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(v.writes().is_empty(), "{:#?}", v.writes());
    assert!(v.validation_comments().is_empty());
}

/// A user token (PAT) of `mallory` where tfctl.yaml says tfctl writes as
/// `tfctl-bot`: tfctl would post as mallory while trusting tfctl-bot's
/// comments. Refused with both names and no write; the control is
/// tfctl-bot's own token, which publishes under its login.
#[test]
fn attack_pat_of_another_user_than_bot_login_is_refused() {
    let v = Validation::new(passing, "  bot_login: tfctl-bot\n");
    v.gh.add_token("ghp_mallory", "mallory");
    v.gh.add_token("ghp_tfctlbot", "tfctl-bot");
    let run = v.run(&[("GITHUB_TOKEN", "ghp_mallory")]).expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains("tfctl-bot") && err.contains("mallory"),
        "{err}"
    );
    assert!(v.writes().is_empty(), "{:#?}", v.writes());

    v.run(&[("GITHUB_TOKEN", "ghp_tfctlbot")]).expect_code(0);
    let comments = v.validation_comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, "tfctl-bot");
}

// ---- approvals count only from users who can write ----

const PERMISSION: &str = "GET /repos/{owner}/{repo}/collaborators/{username}/permission";

fn permission_lookups(f: &Flow) -> Vec<String> {
    f.gh.requests()
        .into_iter()
        .filter(|r| r.route == PERMISSION)
        .map(|r| r.path)
        .collect()
}

/// Anyone who can read the repository can submit an approving review (a
/// read-only org member's even says MEMBER): it must not open the gate.
/// The blocked reason says which approval was ignored and why; a writer's
/// approval of the same PR then merges it.
#[test]
fn attack_read_only_member_approval_does_not_count() {
    let f = flow();
    f.gh.set_permission(CONFIG, "eve", "read");
    let n = validated_pr(
        &f,
        "staging",
        RunResult::Passed,
        Some(crate::support::keys::CONTROLLER_KEY),
    );
    approve(&f, n, "eve", None);
    let event = approve(&f, n, "eve", None);
    let run = f.run("merge", "pull_request_review", &event).expect_code(1);
    assert!(
        run.stdout()
            .contains("approval by eve does not count: eve cannot write to the repository"),
        "{}",
        run.stdout()
    );
    assert!(!f.gh.pr(CONFIG, n).merged);
    assert!(merge_requests(&f).is_empty());
    // eve approved twice; her access is asked once.
    assert_eq!(
        permission_lookups(&f),
        [format!("/repos/{CONFIG}/collaborators/eve/permission")]
    );

    let run = f
        .run("merge", "pull_request_review", &approve(&f, n, "bob", None))
        .expect_code(0);
    assert!(run.stdout().contains("into stage"), "{}", run.stdout());
    assert!(f.gh.pr(CONFIG, n).merged);
    let audit = f.audit();
    assert!(
        audit.last().unwrap()["reasons"]
            .to_string()
            .contains("approved by bob\""),
        "{audit:?}"
    );
}

/// Triage (labels, closing issues) is not write either, nor is a user who
/// was never given a role; maintain is. Production needs two approvals.
#[test]
fn attack_triage_and_outside_approvals_do_not_count_maintainers_do() {
    let f = flow();
    f.gh.set_permission(CONFIG, "trish", "triage");
    f.gh.set_permission(CONFIG, "max", "maintain");
    let n = validated_pr(
        &f,
        "production",
        RunResult::Passed,
        Some(crate::support::keys::CONTROLLER_KEY),
    );
    approve(&f, n, "bob", None);
    approve(&f, n, "trish", None);
    let event = approve(&f, n, "outsider", None);
    let run = f.run("merge", "pull_request_review", &event).expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("needs 2 approval(s)") && out.contains("has 1"),
        "{out}"
    );
    for user in ["trish", "outsider"] {
        assert!(
            out.contains(&format!("approval by {user} does not count")),
            "{out}"
        );
    }
    assert!(merge_requests(&f).is_empty());

    f.run("merge", "pull_request_review", &approve(&f, n, "max", None))
        .expect_code(0);
    assert!(f.gh.pr(CONFIG, n).merged);
}

// ---- validate publishes only for the current head ----

const PR_FILES: &str = "GET /repos/{owner}/{repo}/pulls/{pull_number}/files";

impl Validation {
    fn statuses(&self) -> Vec<String> {
        self.gh
            .statuses(CONFIG_REPO, &self.head)
            .into_iter()
            .map(|s| s.state)
            .collect()
    }

    fn expect_superseded(&self, run: Run, newer: &str) {
        let run = run.expect_code(0);
        let line = format!(
            "tfctl validate: superseded by {}: nothing published",
            &newer[..7]
        );
        assert!(run.stdout().contains(&line), "{}", run.stdout());
        assert!(self.writes().is_empty(), "{:#?}", self.writes());
    }
}

/// Anyone who can send `repository_dispatch` can replay an old payload:
/// here the dispatch of a head that passed, after a newer push that
/// failed. Its verdict is about a commit nobody will merge, so nothing is
/// written: not the comment, not `opa-passed`, not a status. The control:
/// the same dispatch while its head is current publishes.
#[test]
fn attack_replayed_dispatch_for_an_old_head_publishes_nothing() {
    let v = Validation::new(passing, "");
    v.run(&[]).expect_code(0);
    assert_eq!(v.labels(), ["opa-passed"]);
    assert_eq!(v.validation_comments().len(), 1);
    assert_eq!(v.statuses(), ["success"]);

    // A newer push, and its run's failed verdict.
    let newer = fake_sha("a newer push");
    v.gh.set_pr_head(CONFIG_REPO, v.pr, &newer);
    v.gh.seed_unlabel(CONFIG_REPO, v.pr, "opa-passed", BOT_LOGIN);
    v.gh.seed_label(CONFIG_REPO, v.pr, "opa-failed", BOT_LOGIN);
    let before = v.gh.comments(CONFIG_REPO, v.pr);
    v.gh.clear_requests();

    v.expect_superseded(v.run(&[]), &newer);
    assert_eq!(v.labels(), ["opa-failed"]);
    assert_eq!(v.gh.comments(CONFIG_REPO, v.pr), before);
    assert_eq!(
        v.statuses(),
        ["success"],
        "no second status on the old head"
    );
}

/// A push while the run plans: the verdict is for the head it checked
/// out, no longer the PR's, so it publishes nothing.
#[test]
fn attack_push_during_validation_publishes_nothing() {
    let v = Validation::new(violating, "");
    let newer = fake_sha("pushed while planning");
    let (pushed, n) = (newer.clone(), v.pr);
    v.gh.after_request(PR_FILES, 1, move |s| {
        s.move_pr_head(CONFIG_REPO, n, &pushed);
    });
    v.expect_superseded(v.run(&[]), &newer);
    assert!(v.validation_comments().is_empty());
    assert!(v.labels().is_empty());
    assert!(v.statuses().is_empty());
}

/// Two validations of one PR overlap: this PR failed before, and while
/// this run plans, the other one (a verdict that passed) swaps
/// `opa-failed` for `opa-passed`. This run's failed verdict plans its label
/// calls from the PR as it is when it writes them, not as it was when the
/// run started (which already had `opa-failed`, so nothing would change):
/// it ends with `opa-failed` alone, never `opa-passed` beside a failed
/// verdict.
#[test]
fn attack_overlapping_validation_never_leaves_passed_beside_failed() {
    let v = Validation::new(violating, "");
    v.gh.seed_label(CONFIG_REPO, v.pr, "opa-failed", BOT_LOGIN);
    let n = v.pr;
    v.gh.after_request(PR_FILES, 1, move |s| {
        s.unlabel_issue(CONFIG_REPO, n, "opa-failed", BOT_LOGIN);
        s.label_issue(CONFIG_REPO, n, "opa-passed", BOT_LOGIN);
    });
    v.run(&[]).expect_code(1);
    assert_eq!(v.labels(), ["opa-failed"]);
    let comments = v.validation_comments();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1.contains("must not be public"),
        "{}",
        comments[0].1
    );
    assert_eq!(v.statuses(), ["failure"]);
}
