//! Shared set-up of the `tfctl apply` end-to-end tests: a real
//! git repository from `examples/offline` with an environment branch
//! `prod`, a feature change whose plan digests come from the real
//! `tfctl validate --format json`, a real merge commit checked out, and the
//! fake GitHub seeded with the merged PR, the bot's labels and the bot's
//! validation comment carrying a marker made by `render::marker::render`.
//!
//! Nothing here fakes terraform or decides a result: every apply is the
//! real binary running real Terraform on the local backend.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tfctl::attest::SigningKey;
use tfctl::render::marker::{self, ValidationMarker, ATTESTATION_VERSION};
use tfctl::report::RunResult;

use crate::harness::{Repo, Run, Tfctl};
use crate::support::fake_github::{CommentRec, FakeGithub, FileRec, PrSeed, BOT_LOGIN, TOKEN};

/// The repository the PR lives in (single-repo mode).
pub(crate) const REPO: &str = "o/config";
/// The controller's signing key in these tests (`TFCTL_SIGNING_KEY`).
pub(crate) use crate::support::keys::CONTROLLER_KEY as KEY;

/// [`KEY`] as the library reads it.
pub(crate) fn key() -> SigningKey {
    crate::support::keys::key(KEY)
}

/// A root module for tests: `terraform_data` whose `local-exec`
/// provisioner (run on apply only, so validation plans pass) fails when
/// `fail_apply` and else sleeps `sleep` seconds; a plain and a sensitive
/// output.
pub(crate) const JOB_MODULE: &str = r#"
terraform {
  backend "local" {}
}

variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "fail_apply" {
  type    = bool
  default = false
}

variable "sleep" {
  type    = number
  default = 0
}

variable "token" {
  type      = string
  default   = "s3cr3t-token-value"
  sensitive = true
}

resource "terraform_data" "job" {
  input = {
    kind = "job"
    name = var.name
    tags = merge(var.tags, { Environment = var.environment })
  }

  provisioner "local-exec" {
    command = var.fail_apply ? "echo job failed on purpose >&2; exit 1" : "sleep ${var.sleep}"
  }
}

output "job_name" {
  value = terraform_data.job.output.name
}

output "token" {
  value     = var.token
  sensitive = true
}
"#;

/// The sensitive output's value: must never reach a report.
pub(crate) const SECRET: &str = "s3cr3t-token-value";

/// tfvars of a `Job/<name>` stack in production.
pub(crate) fn job_tfvars(name: &str, extra: &str) -> String {
    format!(
        "environment = \"production\"\nname        = \"production-job-{name}\"\n{extra}\ntags = {{\n  Owner      = \"platform\"\n  CostCenter = \"cc-100\"\n}}\n"
    )
}

/// One apply scenario: the repo, where the report files go, the validated
/// head and the merge commit.
pub(crate) struct Scenario {
    pub repo: Repo,
    pub out: tempfile::TempDir,
    /// PR head (what was validated).
    pub head: String,
    /// The merge commit on `prod`, checked out.
    pub merge: String,
    /// `plan_digest` by stack id, from `tfctl validate --format json`,
    /// sealed with [`KEY`] as validate publishes them in its marker.
    pub digests: BTreeMap<String, String>,
    /// Changed files, relative to the repository, with their status (as the
    /// PR files API says).
    pub files: Vec<FileRec>,
}

/// The example repo with `.tfctl/` ignored, `controller` (modules and the
/// like) committed on `main`, `prod` at `main`, and `feature` checked out.
pub(crate) fn repo_with(controller: impl FnOnce(&Repo)) -> Repo {
    let repo = Repo::from_example("offline");
    repo.git(&["checkout", "-q", "main"]);
    repo.write(".gitignore", ".tfctl/\n");
    let config = std::fs::read_to_string(repo.path().join("tfctl.yaml")).unwrap();
    repo.write(
        "tfctl.yaml",
        &format!("{config}{}", crate::support::keys::trust_yaml()),
    );
    controller(&repo);
    repo.commit("controller set-up");
    repo.git(&["branch", "-q", "-f", "feature", "main"]);
    repo.git(&["branch", "-q", "prod", "main"]);
    repo.git(&["checkout", "-q", "feature"]);
    repo
}

/// `tfctl validate --format json --base prod` on the working tree: the plan
/// digest of every stack (it must pass).
pub(crate) fn validate(repo: &Repo) -> BTreeMap<String, String> {
    digests(repo, &["--base", "prod"])
}

/// `tfctl validate --format json --files FILES` (relative to the config
/// root): the plan digest of every stack (it must pass).
pub(crate) fn validate_files(repo: &Repo, files: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["--files"];
    args.extend_from_slice(files);
    digests(repo, &args)
}

fn digests(repo: &Repo, select: &[&str]) -> BTreeMap<String, String> {
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .args(select)
        .run()
        .expect_code(0)
        .json();
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                tfctl::pipeline::seal_digest(s["plan_digest"].as_str().unwrap(), Some(&key())),
            )
        })
        .collect()
}

impl Scenario {
    /// Commits the feature's working tree, merges it into `prod` with a
    /// merge commit and checks that out. `digests` come from [`validate`].
    pub(crate) fn merge(repo: Repo, digests: BTreeMap<String, String>) -> Scenario {
        repo.commit("feature change");
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let files: Vec<FileRec> = repo
            .git(&["diff", "--name-status", "--no-renames", "prod", "HEAD"])
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(status, path)| FileRec {
                filename: path.to_string(),
                status: match status {
                    "D" => "removed",
                    "A" => "added",
                    _ => "modified",
                }
                .into(),
                previous_filename: None,
            })
            .collect();
        repo.git(&["checkout", "-q", "prod"]);
        repo.git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #1 from o/feature",
            "feature",
        ]);
        let merge = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        Scenario {
            repo,
            out: tempfile::tempdir().unwrap(),
            head,
            merge,
            digests,
            files,
        }
    }

    /// The attestation the controller would have written for this
    /// validation of PR #1.
    pub(crate) fn marker(&self) -> ValidationMarker {
        ValidationMarker {
            version: ATTESTATION_VERSION,
            repository: REPO.into(),
            pr_number: 1,
            head_sha: self.head.clone(),
            base_ref: "prod".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result: RunResult::Passed,
            stacks: self.digests.clone(),
            violations: Vec::new(),
            results: Default::default(),
            policy_digest: "0".repeat(64),
            time: "2024-01-01T00:00:00Z".into(),
            run_id: "1".into(),
            signature: None,
            locked: Vec::new(),
        }
    }

    /// Seeds the merged PR (no labels, no comments); returns its number.
    pub(crate) fn seed_pr(&self, gh: &FakeGithub) -> u64 {
        let n = gh.seed_pr(
            REPO,
            PrSeed::new("feature", "prod")
                .head_sha(&self.head)
                .file_recs(self.files.clone()),
        );
        let merge = self.merge.clone();
        gh.update_pr(REPO, n, |pr| {
            pr.merged = true;
            pr.state = "closed".into();
            pr.merged_at = Some("2024-01-01T01:00:00Z".into());
            pr.merge_commit_sha = Some(merge);
        });
        // GitHub knows the merge commit and that `prod` points at it.
        gh.seed_commit(REPO, &self.merge, &[], "Merge pull request #1", &[]);
        gh.seed_branch(REPO, "prod", &self.merge);
        n
    }

    /// The happy path: the merged PR, `opa-passed` added by the bot, and the
    /// bot's validation comment with `marker` (signed with [`KEY`]). Returns
    /// the PR number and the comment id.
    pub(crate) fn seed_validated(&self, gh: &FakeGithub, marker: &ValidationMarker) -> (u64, u64) {
        let n = self.seed_pr(gh);
        gh.seed_label(REPO, n, "opa-passed", BOT_LOGIN);
        let id = crate::support::evidence::publish_validation(
            gh,
            REPO,
            n,
            BOT_LOGIN,
            &validation_body(marker, Some(KEY)),
        );
        (n, id)
    }

    /// `tfctl apply` on a `tfctl-apply` dispatch for PR `n` and this merge.
    pub(crate) fn apply(&self, gh: &FakeGithub, n: u64) -> Tfctl {
        self.apply_with(
            gh,
            json!({"source_repo": REPO, "pr_number": n,
            "merge_commit_sha": self.merge, "base_ref": "prod"}),
        )
    }

    /// `tfctl apply` on a `tfctl-apply` dispatch with this payload.
    pub(crate) fn apply_with(&self, gh: &FakeGithub, client_payload: Value) -> Tfctl {
        let event = json!({
            "action": "tfctl-apply",
            "client_payload": client_payload,
            "repository": {"full_name": REPO},
            "sender": {"login": "alice", "type": "User"},
        });
        self.apply_event(gh, "repository_dispatch", &event)
    }

    /// `tfctl apply` in an Actions context for `event`.
    pub(crate) fn apply_event(&self, gh: &FakeGithub, name: &str, event: &Value) -> Tfctl {
        let event_path = self.out.path().join("event.json");
        std::fs::write(&event_path, event.to_string()).unwrap();
        self.repo
            .tfctl()
            .args(["apply"])
            .env("GITHUB_EVENT_NAME", name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_API_URL", gh.url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_RUN_ID", "77")
            .env("GITHUB_STEP_SUMMARY", self.out.path().join("summary.md"))
            .env("GITHUB_OUTPUT", self.out.path().join("output.txt"))
            .env("RUNNER_TEMP", self.out.path())
            .env("TFCTL_SIGNING_KEY", KEY)
    }

    /// The step outputs written so far, name → value.
    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.out.path().join("output.txt")).unwrap_or_default();
        let mut out = BTreeMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some((name, delim)) = line.split_once("<<") {
                let mut value = Vec::new();
                for l in lines.by_ref() {
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                out.insert(name.to_string(), value.join("\n"));
            } else if let Some((name, value)) = line.split_once('=') {
                out.insert(name.to_string(), value.to_string());
            }
        }
        out
    }

    pub(crate) fn summary(&self) -> String {
        std::fs::read_to_string(self.out.path().join("summary.md")).unwrap_or_default()
    }

    pub(crate) fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.path().join("tfctl-audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The local state of `Service/name` in production, if it exists.
    pub(crate) fn state(&self, id: &str) -> Option<Value> {
        let text = std::fs::read_to_string(state_path(self.repo.path(), id)).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    /// The `input` value of the only resource in `id`'s state.
    pub(crate) fn state_input(&self, id: &str) -> Value {
        let state = self
            .state(id)
            .unwrap_or_else(|| panic!("{id} has no state"));
        state["resources"][0]["instances"][0]["attributes"]["input"]["value"].clone()
    }

    /// Every state file under `.tfctl/state`, with its contents.
    pub(crate) fn all_state(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        collect(&self.repo.path().join(".tfctl/state"), &mut out);
        out
    }
}

fn collect(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.insert(
                path.clone(),
                std::fs::read_to_string(&path).unwrap_or_default(),
            );
        }
    }
}

/// Where the offline example keeps `id`'s state (production stacks).
pub(crate) fn state_path(root: &Path, id: &str) -> PathBuf {
    let (service, name) = id.split_once('/').unwrap();
    root.join(".tfctl/state")
        .join(service)
        .join("production")
        .join(name)
        .join("terraform.tfstate")
}

/// A validation comment body as the bot writes it: marker first.
pub(crate) fn validation_body(marker: &ValidationMarker, key: Option<&str>) -> String {
    format!(
        "{}\n### ✅ tfctl validate passed: `production` → `prod`\n",
        marker::render(marker, key.map(|k| SigningKey::parse(k).unwrap()).as_ref())
    )
}

/// The PR's apply comments (there must be at most one).
pub(crate) fn apply_comments(gh: &FakeGithub, n: u64) -> Vec<CommentRec> {
    gh.comments(REPO, n)
        .into_iter()
        .filter(|c| c.body.contains("<!-- tfctl:apply "))
        .collect()
}

/// The PR's one apply comment, written by the bot.
pub(crate) fn apply_comment(gh: &FakeGithub, n: u64) -> String {
    let found = apply_comments(gh, n);
    assert_eq!(found.len(), 1, "apply comments: {found:#?}");
    assert_eq!(found[0].user, BOT_LOGIN);
    found[0].body.clone()
}

/// Asserts `run` neither printed nor reported `needle` anywhere.
pub(crate) fn assert_nowhere(run: &Run, sc: &Scenario, gh: &FakeGithub, needle: &str) {
    let comments: Vec<String> = gh.comments(REPO, 1).into_iter().map(|c| c.body).collect();
    for (what, text) in [
        ("stdout", run.stdout()),
        ("stderr", run.stderr()),
        ("summary", sc.summary()),
        ("outputs", format!("{:?}", sc.outputs())),
        ("comments", comments.join("\n")),
    ] {
        assert!(
            !text.contains(needle),
            "{needle:?} leaked into {what}:\n{text}"
        );
    }
}
