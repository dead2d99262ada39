//! `tfctl validate` inside GitHub Actions, end to end: real git checkout,
//! real Terraform and Rego, the fake GitHub on 127.0.0.1.

use crate::harness;
use crate::support;

use std::path::{Path, PathBuf};

use harness::{Repo, Run};
use support::fake_github::{FakeGithub, Fault, PrSeed, BOT_LOGIN};
use support::keys::{key, CONTROLLER_KEY};

const CONFIG_REPO: &str = "acme/infra";

/// A PR of the offline example seeded in the fake, and the env to run
/// `tfctl validate` on it as a `repository_dispatch` would.
struct Case {
    gh: FakeGithub,
    repo: Repo,
    pr: u64,
    head: String,
    dir: tempfile::TempDir,
}

impl Case {
    /// `change` edits the feature branch; the PR lists the changed files.
    fn new(change: impl FnOnce(&Repo)) -> Case {
        let repo = Repo::from_example("offline");
        change(&repo);
        repo.commit("change stacks");
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let changed: Vec<String> = repo
            .git(&["diff", "--name-only", "main...HEAD"])
            .lines()
            .map(str::to_string)
            .collect();
        let gh = FakeGithub::start();
        // The repository the workflow runs in (its stack locks).
        gh.seed_repo("acme/controller");
        let files: Vec<&str> = changed.iter().map(String::as_str).collect();
        let pr = gh.seed_pr(
            CONFIG_REPO,
            PrSeed::new("feature", "main")
                .head_sha(&head)
                .author("alice")
                .files(&files),
        );
        Case {
            gh,
            repo,
            pr,
            head,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn event(&self, head_sha: &str) -> PathBuf {
        harness::validate_dispatch(self.dir.path(), CONFIG_REPO, self.pr, head_sha)
    }

    fn validate_at(&self, head_sha: &str) -> Run {
        self.validate_with(head_sha, &[])
    }

    /// `tfctl validate` of `head_sha` with `env` set as well.
    fn validate_with(&self, head_sha: &str, env: &[(&str, &str)]) -> Run {
        let event = self.event(head_sha);
        let mut cmd = self
            .repo
            .tfctl()
            .args(["validate"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "repository_dispatch")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REPOSITORY", "acme/controller")
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "77")
            .env("GITHUB_OUTPUT", self.dir.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", self.dir.path().join("summary.md"))
            .env("RUNNER_TEMP", self.dir.path());
        for (k, v) in self.gh.env_vars() {
            cmd = cmd.env(k, v);
        }
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.run()
    }

    fn validate(&self) -> Run {
        self.validate_at(&self.head.clone())
    }

    fn bot_comments(&self) -> Vec<String> {
        self.gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .filter(|c| c.user == BOT_LOGIN)
            .map(|c| c.body)
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        let mut l = self.gh.labels(CONFIG_REPO, self.pr);
        l.sort();
        l
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn passing(repo: &Repo) {
    for stack in [
        "IAM/admin-role/admin-role",
        "KMS/encryption-key/encryption-key",
        "S3/data-lake-prod/data-lake-prod",
        "S3/logs-dev/logs-dev",
        "Lambda/ingest/ingest",
    ] {
        repo.touch_tfvars(&format!("config/{stack}.tfvars"));
    }
    // A companion file and files outside any stack: 12 files, 5 stacks.
    repo.write(
        "config/S3/data-lake-prod/data-lake-prod.json",
        "{\"Version\": \"2012-10-17\", \"Statement\": []}\n",
    );
    for i in 0..6 {
        repo.write(&format!("docs/note-{i}.md"), "notes\n");
    }
}

fn violating(repo: &Repo) {
    repo.write(
        "config/S3/public-assets/public-assets.tfvars",
        &repo.read("config-violation/S3/public-assets/public-assets.tfvars"),
    );
}

#[test]
fn passing_pr_gets_one_comment_the_passed_label_and_a_success_status() {
    let case = Case::new(passing);
    case.gh
        .seed_label(CONFIG_REPO, case.pr, "opa-failed", BOT_LOGIN);
    let run = case.validate().expect_code(0);
    assert!(
        run.stdout().contains("5 stacks: 5 passed"),
        "{}",
        run.stdout()
    );

    let comments = case.bot_comments();
    assert_eq!(comments.len(), 1);
    let marker: tfctl::render::marker::ValidationMarker =
        tfctl::render::marker::find(&comments[0]).expect("marker");
    assert_eq!(marker.head_sha, case.head);
    assert_eq!(marker.environment, "production");
    assert_eq!(marker.target_branch, "prod");
    assert_eq!(marker.stacks.len(), 5);
    assert!(
        comments[0].contains("`production` → `prod`"),
        "{}",
        comments[0]
    );
    assert_eq!(case.labels(), ["opa-passed"]);
    let statuses = case.gh.statuses(CONFIG_REPO, &case.head);
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        (statuses[0].state.as_str(), statuses[0].context.as_str()),
        ("success", "tfctl/validate")
    );
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some("https://github.example/acme/controller/actions/runs/77")
    );

    let outputs = case.file("output");
    assert!(
        outputs.contains("result<<") && outputs.contains("\npassed\n"),
        "{outputs}"
    );
    assert!(
        outputs.contains("target-branch<<") && outputs.contains("\nprod\n"),
        "{outputs}"
    );
    assert!(case.file("summary.md").contains("S3/data-lake-prod"));
    let audit = case.file("tfctl-audit.jsonl");
    assert!(
        audit.contains("\"action\":\"validation\"") && audit.contains("\"outcome\":\"passed\""),
        "{audit}"
    );
    // The token never reaches the log; it is masked first in Actions.
    assert!(!run.stderr().contains(support::fake_github::TOKEN));
    assert!(run.stdout().starts_with("::add-mask::"), "{}", run.stdout());
}

#[test]
fn rerun_updates_the_same_comment_within_the_request_budget() {
    let case = Case::new(passing);
    case.validate().expect_code(0);
    let first = case.gh.requests().len();
    case.gh.clear_requests();
    case.validate().expect_code(0);
    let second = case.gh.requests();
    assert_eq!(case.bot_comments().len(), 1);
    assert_eq!(case.labels(), ["opa-passed"]);
    // API economy (BENCHMARKS.md): a PR touching 5 stacks in 12 files;
    // 8 requests, plus each stack's lock: read, commit and create the
    // first time, read the ref and its record on a re-run.
    let stacks = 5;
    assert!(first <= 8 + 3 * stacks, "first run made {first} requests");
    let lock_requests = second
        .iter()
        .filter(|r| r.path.starts_with("/repos/acme/controller/git/"))
        .count();
    assert_eq!(lock_requests, 2 * stacks, "{second:#?}");
    assert!(
        second.len() <= 8 + 2 * stacks,
        "re-run made {} requests: {second:#?}",
        second.len()
    );
    eprintln!("requests: first run {first}, re-run {}", second.len());
}

#[test]
fn violation_gives_failed_label_and_removes_passed() {
    let case = Case::new(violating);
    case.gh
        .seed_label(CONFIG_REPO, case.pr, "opa-passed", BOT_LOGIN);
    case.validate().expect_code(1);
    assert_eq!(case.labels(), ["opa-failed"]);
    let comments = case.bot_comments();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("must not be public"),
        "{}",
        comments[0]
    );
    assert_eq!(
        case.gh.statuses(CONFIG_REPO, &case.head)[0].state,
        "failure"
    );
    assert!(case.file("output").contains("\nfailed\n"));
}

#[test]
fn faults_on_every_write_route_reach_the_same_end_state() {
    let case = Case::new(violating);
    case.gh
        .seed_label(CONFIG_REPO, case.pr, "opa-passed", BOT_LOGIN);
    case.gh.inject_fault("POST *", Fault::Status(502), 2);
    case.gh
        .inject_fault("DELETE *", Fault::SecondaryRateLimit { retry_after: 1 }, 1);
    case.gh.inject_fault("PATCH *", Fault::Drop, 1);
    case.validate().expect_code(1);
    case.validate().expect_code(1);
    assert_eq!(case.bot_comments().len(), 1);
    assert_eq!(case.labels(), ["opa-failed"]);
}

#[test]
fn unrecoverable_api_error_names_the_call_and_leaves_no_half_set_labels() {
    let case = Case::new(violating);
    case.gh
        .seed_label(CONFIG_REPO, case.pr, "opa-passed", BOT_LOGIN);
    case.gh.inject_fault(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        Fault::Status(502),
        100,
    );
    let run = case.validate().expect_code(3);
    assert!(
        run.stderr()
            .contains("POST /repos/acme/infra/issues/1/labels failed"),
        "{}",
        run.stderr()
    );
    let labels = case.labels();
    assert!(
        !(labels.contains(&"opa-passed".to_string()) && labels.contains(&"opa-failed".to_string()))
    );
    assert!(
        !labels.contains(&"opa-passed".to_string()),
        "a failing PR kept opa-passed: {labels:?}"
    );
}

#[test]
fn wrong_checkout_exits_2_and_writes_nothing() {
    let case = Case::new(passing);
    let run = case
        .validate_at("0123456789abcdef0123456789abcdef01234567")
        .expect_code(2);
    assert!(
        run.stderr().contains("is not the PR head"),
        "{}",
        run.stderr()
    );
    assert!(case.gh.requests().is_empty(), "{:#?}", case.gh.requests());
    assert!(case.bot_comments().is_empty());
}

#[test]
fn with_a_signing_key_the_marker_is_signed_and_its_digests_sealed() {
    let case = Case::new(passing);
    let run = {
        let event = case.event(&case.head);
        let mut cmd = case
            .repo
            .tfctl()
            .args(["validate", "--format", "json"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "repository_dispatch")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REPOSITORY", "acme/controller")
            .env("RUNNER_TEMP", case.dir.path())
            .env("TFCTL_SIGNING_KEY", CONTROLLER_KEY);
        for (k, v) in case.gh.env_vars() {
            cmd = cmd.env(k, v);
        }
        cmd.run().expect_code(0)
    };
    // stdout: ::add-mask:: lines, then the JSON report.
    let json_start = run.stdout().find('{').unwrap();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()[json_start..]).unwrap();
    // The key is printed only as a mask command, never otherwise.
    let leaks = run
        .stdout()
        .lines()
        .filter(|l| l.contains(CONTROLLER_KEY) && !l.starts_with("::add-mask::"))
        .count();
    assert_eq!(leaks, 0);
    assert!(!run.stderr().contains(CONTROLLER_KEY));
    let secret_hex = CONTROLLER_KEY.split_once(':').unwrap().1;
    assert!(
        !run.stderr().contains(secret_hex)
            && !run
                .stdout()
                .lines()
                .any(|l| l.contains(secret_hex) && !l.starts_with("::add-mask::"))
    );
    let marker: tfctl::render::marker::ValidationMarker =
        tfctl::render::marker::find(&case.bot_comments()[0]).unwrap();
    tfctl::render::marker::verify(&marker, &[key(CONTROLLER_KEY).public()])
        .expect("signed with the key");
    assert_eq!(
        (
            marker.repository.as_str(),
            marker.pr_number,
            marker.head_sha.as_str()
        ),
        ("acme/infra", 1, case.head.as_str())
    );
    for s in report["stacks"].as_array().unwrap() {
        let raw = s["plan_digest"].as_str().unwrap();
        let published = &marker.stacks[s["id"].as_str().unwrap()];
        assert_ne!(published, raw, "a raw digest was published");
        assert_eq!(
            published,
            &tfctl::pipeline::seal_digest(raw, Some(&key(CONTROLLER_KEY)))
        );
    }
}

/// Single-repo mode: the workflow runs on the config repo's own
/// `pull_request` event and reports on that PR.
#[test]
fn pull_request_event_validates_and_reports_on_its_own_pr() {
    let case = Case::new(passing);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/events/pull_request.synchronize.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    event["number"] = case.pr.into();
    event["pull_request"]["number"] = case.pr.into();
    event["pull_request"]["head"]["sha"] = case.head.clone().into();
    for side in ["head", "base"] {
        event["pull_request"][side]["repo"]["full_name"] = CONFIG_REPO.into();
    }
    event["repository"]["full_name"] = CONFIG_REPO.into();
    let path = case.dir.path().join("pr.json");
    std::fs::write(&path, event.to_string()).unwrap();
    let mut cmd = case
        .repo
        .tfctl()
        .args(["validate"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_REPOSITORY", CONFIG_REPO)
        .env("RUNNER_TEMP", case.dir.path());
    for (k, v) in case.gh.env_vars() {
        cmd = cmd.env(k, v);
    }
    cmd.run().expect_code(0);
    assert_eq!(case.bot_comments().len(), 1);
    assert_eq!(case.labels(), ["opa-passed"]);
    assert_eq!(
        case.gh.statuses(CONFIG_REPO, &case.head)[0].state,
        "success"
    );
}

/// A root module of `resources` tagless stand-ins: every one breaks the
/// offline policy's required-tags rule, so its attestation records one
/// violation per resource.
fn untagged(resources: usize) -> impl Fn(&Repo) {
    move |repo: &Repo| {
        repo.write(
            "modules/big/main.tf",
            "terraform {\n  backend \"local\" {}\n}\n\nvariable \"environment\" {\n  type = string\n}\n\n\
             variable \"name\" {\n  type = string\n}\n\nvariable \"resources\" {\n  type = number\n}\n\n\
             resource \"terraform_data\" \"item\" {\n  count = var.resources\n  input = {\n    \
             kind = \"item\"\n    name = \"${var.name}-${count.index}\"\n    tags = {}\n  }\n}\n",
        );
        repo.write(
            "config/Big/many/many.tfvars",
            &format!("environment = \"production\"\nname = \"many\"\nresources = {resources}\n"),
        );
    }
}

impl Case {
    /// `tfctl validate` signed with the controller key.
    fn validate_signed(&self) -> Run {
        self.validate_with(&self.head, &[("TFCTL_SIGNING_KEY", CONTROLLER_KEY)])
    }

    /// The validation of the head as merge and apply read it: the PR's
    /// comments and the head's statuses over the API, through `evidence`.
    fn verified(&self) -> Result<tfctl::evidence::Verified, String> {
        use tfctl::evidence::{self, Subject, Trust};
        let client = crate::git_refs::client(&self.gh);
        let repo = tfctl::github::RepoRef::parse(CONFIG_REPO).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (comments, statuses) = rt.block_on(async {
            (
                client.list_comments(&repo, self.pr).await.unwrap(),
                client.list_statuses(&repo, &self.head).await.unwrap(),
            )
        });
        let published = evidence::published_fingerprint(&statuses, BOT_LOGIN);
        let keys = [key(CONTROLLER_KEY).public()];
        evidence::validation(
            &comments,
            &Subject {
                repository: CONFIG_REPO,
                pr_number: self.pr,
                bot_login: BOT_LOGIN,
            },
            &self.head,
            published.as_deref(),
            Trust::Keys(&keys),
        )
    }

    fn part_comments(&self) -> Vec<(u64, String)> {
        self.gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .filter(|c| c.user == BOT_LOGIN && c.body.contains("<!-- tfctl:attestation-part "))
            .map(|c| (c.id, c.body))
            .collect()
    }
}

/// The fingerprint and part count in a validation comment's header
/// `<!-- tfctl:validation-parts FP N -->` (read as a person would: only the
/// parts themselves are evidence, and `evidence` joins those).
fn parts_header(body: &str) -> Option<(String, usize)> {
    let start = body.find("<!-- tfctl:validation-parts ")?;
    let rest = &body[start + "<!-- tfctl:validation-parts ".len()..];
    let (fp, n) = rest[..rest.find(" -->")?].split_once(' ')?;
    Some((fp.to_string(), n.parse().ok()?))
}

/// A PR whose attestation outgrows one comment (1,500 recorded violations)
/// is validated, not refused: the report keeps the validation comment, the
/// signed attestation is spread over part comments that merge and apply's
/// reader joins and verifies; a re-run that fits again deletes the parts.
/// An edited part does not verify (attack), the untouched set does
/// (positive control).
#[test]
fn an_attestation_too_large_for_one_comment_is_published_in_parts_that_verify() {
    let case = Case::new(untagged(1_500));
    let run = case.validate_signed().expect_code(1);
    assert!(run.stdout().contains("1 failed"), "{}", run.stdout());
    let main: Vec<String> = case
        .bot_comments()
        .into_iter()
        .filter(|b| b.contains("<!-- tfctl:validation"))
        .collect();
    assert_eq!(main.len(), 1, "one validation comment");
    let (fp, n) = parts_header(&main[0]).expect("the header names the parts");
    assert!(main[0].contains("tfctl validate failed"), "{}", main[0]);
    assert!(
        main[0].contains(&format!(
            "it is in the {n} `tfctl attestation` comments below"
        )),
        "{}",
        main[0]
    );
    let parts = case.part_comments();
    assert_eq!(parts.len(), n);
    assert!(n >= 2, "{n} parts");
    for (_, body) in &parts {
        assert!(body.chars().count() <= 65_536);
        assert!(body.contains(&format!("`{fp}`, part ")), "{body}");
    }
    let v = case.verified().expect("the joined attestation verifies");
    assert!(v.signed);
    assert_eq!(v.marker.violations.len(), 1_500);
    assert_eq!(tfctl::render::marker::fingerprint(&v.marker), fp);

    // Attack: a writer edits the second part (any writer can edit any
    // comment), dropping one recorded violation so an override would
    // excuse less than the validation found.
    let (id, body) = &parts[1];
    let edited = body.replacen("{\"stack\":\"Big/many\"", "{\"stack\":\"Big/few\"", 1);
    assert_ne!(&edited, body, "the part holds violation records");
    case.gh.edit_comment(CONFIG_REPO, *id, &edited);
    let refused = case.verified().unwrap_err();
    assert!(
        refused.contains("does not verify") || refused.contains("not the latest"),
        "{refused}"
    );
    case.gh.edit_comment(CONFIG_REPO, *id, body);
    case.verified().expect("restored, it verifies again");

    // The next push fits in one comment: the parts go.
    untagged(3)(&case.repo);
    case.repo.commit("fewer items");
    let case = Case {
        head: case.repo.git(&["rev-parse", "HEAD"]).trim().to_string(),
        ..case
    };
    case.gh.set_pr_head(CONFIG_REPO, case.pr, &case.head);
    case.validate_signed().expect_code(1);
    assert_eq!(case.part_comments(), Vec::new(), "the parts were deleted");
    let v = case.verified().expect("inline again");
    assert_eq!(v.marker.violations.len(), 3);
}

/// A tfvars that does not parse stops the validation before anything is
/// written to the PR (exit 2), and the error is an annotation on the file,
/// line and column it names (the error carries them typed, not re-read
/// from its text). Positive control: the same PR with the line mended
/// validates and comments.
#[test]
fn a_tfvars_syntax_error_is_annotated_at_its_place_and_nothing_is_published() {
    let tfvars = "config/S3/logs-dev/logs-dev.tfvars";
    let case = Case::new(|r| {
        r.write(
            tfvars,
            "environment = \"production\"\nname = \"production-s3-logs-dev\"\nencrypted = = true\n",
        );
    });
    let run = case.validate().expect_code(2);
    let annotation = run
        .stdout()
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in {}", run.stdout()))
        .to_string();
    assert!(
        annotation.contains(&format!("file={tfvars},line=3,col=13::")),
        "{annotation}"
    );
    assert!(annotation.contains("::tfvars syntax error"), "{annotation}");
    assert!(
        run.stderr().contains("logs-dev.tfvars:3:"),
        "{}",
        run.stderr()
    );
    assert!(case.bot_comments().is_empty());
    assert!(case.labels().is_empty());

    let mended = Case::new(|r| {
        r.write(
            tfvars,
            "environment = \"production\"\nname = \"production-s3-logs-dev\"\nencrypted = true\n",
        );
    });
    let run = mended.validate();
    assert!(!run.stdout().contains("::error file="), "{}", run.stdout());
    assert_eq!(mended.bot_comments().len(), 1);
}
