//! `tfctl report`, end to end (docs/DESIGN.md §6): the real `validate
//! --emit-matrix` of the offline example, each shard planned by the real
//! binary with real Terraform and Rego (`validate --local --files …`), then
//! `tfctl report` over the shard files — locally, and inside Actions
//! against the fake GitHub, where the whole matrix gets ONE comment, label
//! and status.

use crate::harness;
use crate::support;

use std::path::PathBuf;

use harness::{Repo, Run};
use serde_json::Value;
use support::fake_github::{FakeGithub, PrSeed, BOT_LOGIN};

const CONFIG_REPO: &str = "acme/infra";

/// Five passing stacks plus a public bucket that policy denies: six stacks
/// in three waves, the middle one three wide.
fn change(repo: &Repo) {
    let tfvars: Vec<String> = repo
        .git(&["ls-files", "config"])
        .lines()
        .filter(|f| f.ends_with(".tfvars"))
        .map(str::to_string)
        .collect();
    assert_eq!(tfvars.len(), 5);
    for file in &tfvars {
        repo.touch_tfvars(file);
    }
    repo.write(
        "config/S3/public-assets/public-assets.tfvars",
        &repo.read("config-violation/S3/public-assets/public-assets.tfvars"),
    );
    repo.commit("change six stacks");
}

/// The repo, its matrix, and every shard's report written to a file.
struct Matrix {
    repo: Repo,
    dir: tempfile::TempDir,
    include: Vec<Value>,
    shards: Vec<PathBuf>,
}

impl Matrix {
    fn run() -> Matrix {
        let repo = Repo::from_example("offline");
        change(&repo);
        let dir = tempfile::tempdir().unwrap();
        let matrix = repo
            .tfctl()
            .args(["validate", "--emit-matrix", "--parallelism", "2"])
            .run()
            .expect_code(0)
            .json();
        let include = matrix["include"].as_array().unwrap().clone();
        let mut shards = Vec::new();
        for job in &include {
            let files: Vec<&str> = job["files"].as_str().unwrap().split(' ').collect();
            let run = repo
                .tfctl()
                .args(["validate", "--local", "--format", "json", "--files"])
                .args(&files)
                .run();
            assert!(
                [0, 1].contains(&run.code()),
                "shard {}: {}",
                job["shard"],
                run.stderr()
            );
            let path = dir
                .path()
                .join(format!("shard-{}.json", job["shard"].as_str().unwrap()));
            std::fs::write(&path, &run.0.stdout).unwrap();
            shards.push(path);
        }
        Matrix {
            repo,
            dir,
            include,
            shards,
        }
    }

    fn report(&self, shards: &[PathBuf], extra: &[&str]) -> Run {
        self.repo
            .tfctl()
            .args(["report"])
            .args(extra)
            .args(shards)
            .run()
    }
}

fn ids(report: &Value) -> Vec<&str> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

/// A stack's facts that must not depend on how the run was sharded.
fn facts(report: &Value) -> Vec<(String, Value, Value, Value, usize)> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].clone(),
                s["changes"].clone(),
                s["plan_digest"].clone(),
                s["violations"].as_array().unwrap().len(),
            )
        })
        .collect()
}

#[test]
fn local_report_of_the_shards_equals_one_unsharded_run_and_bad_shards_exit_2() {
    let m = Matrix::run();
    // Waves of 2, 3 and 1 stacks at parallelism 2: four shards.
    let shard_names: Vec<&str> = m
        .include
        .iter()
        .map(|j| j["shard"].as_str().unwrap())
        .collect();
    assert_eq!(shard_names, ["0-0", "1-0", "1-1", "2-0"]);

    let merged = m
        .report(&m.shards, &["--format", "json"])
        .expect_code(1)
        .json();
    let whole = m
        .repo
        .tfctl()
        .args(["validate", "--local", "--format", "json"])
        .run()
        .expect_code(1)
        .json();
    assert_eq!(merged["result"], "failed");
    assert_eq!(merged["waves"], whole["waves"]);
    assert_eq!(merged["edges"], whole["edges"]);
    assert_eq!(ids(&merged), ids(&whole));
    assert_eq!(facts(&merged), facts(&whole));
    let failed: Vec<&str> = merged["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["S3/public-assets"]);

    // A directory stands for the shard files in it.
    let folder = m.dir.path().join("artifact");
    std::fs::create_dir(&folder).unwrap();
    for shard in &m.shards {
        std::fs::copy(shard, folder.join(shard.file_name().unwrap())).unwrap();
    }
    let from_folder = m
        .report(&[folder], &["--format", "json"])
        .expect_code(1)
        .json();
    assert_eq!(facts(&from_folder), facts(&merged));

    // The same shard twice: the stack is named with both files.
    let mut twice = m.shards.clone();
    twice.push(m.shards[0].clone());
    let run = m.report(&twice, &[]).expect_code(2);
    assert!(
        run.stderr().contains("stack IAM/admin-role is also in"),
        "{}",
        run.stderr()
    );
    // A lost shard: its stacks are named.
    let run = m.report(&m.shards[..3], &[]).expect_code(2);
    assert!(
        run.stderr()
            .contains("Lambda/ingest: no shard reported this stack (a shard is missing)"),
        "{}",
        run.stderr()
    );
    // A shard that is not a report: the file, line and column.
    let bad = m.dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"version\": 1,\n  \"result\": \"maybe\"\n}\n").unwrap();
    let run = m.report(std::slice::from_ref(&bad), &[]).expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains(&format!("{}: not a tfctl JSON report", bad.display()))
            && err.contains("line 3 column"),
        "{err}"
    );
}

/// The env of the matrix's final job on a `repository_dispatch`.
fn in_actions(m: &Matrix, gh: &FakeGithub, pr: u64, head: &str, shards: &[PathBuf]) -> Run {
    let event_path = crate::harness::validate_dispatch(m.dir.path(), CONFIG_REPO, pr, head);
    m.repo
        .tfctl()
        .args(["report"])
        .args(shards)
        .in_actions(
            "repository_dispatch",
            &event_path,
            "acme/controller",
            m.dir.path(),
        )
        .envs(gh.env_vars())
        .run()
}

#[test]
fn in_actions_the_matrix_gets_one_comment_one_label_one_status() {
    let m = Matrix::run();
    let head = m.repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let changed: Vec<String> = m
        .repo
        .git(&["diff", "--name-only", "main...HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let files: Vec<&str> = changed.iter().map(String::as_str).collect();
    let gh = FakeGithub::start();
    // The repository the workflow runs in (its stack locks).
    gh.seed_repo("acme/controller");
    let pr = gh.seed_pr(
        CONFIG_REPO,
        PrSeed::new("feature", "main").head_sha(&head).files(&files),
    );
    gh.seed_label(CONFIG_REPO, pr, "opa-passed", BOT_LOGIN);

    // A missing shard is refused before anything is written to the PR.
    let run = in_actions(&m, &gh, pr, &head, &m.shards[1..]).expect_code(2);
    assert!(
        run.stderr().contains("no shard reported"),
        "{}",
        run.stderr()
    );
    assert!(gh.comments(CONFIG_REPO, pr).is_empty());
    gh.clear_requests();

    let run = in_actions(&m, &gh, pr, &head, &m.shards).expect_code(1);
    assert!(
        run.stdout()
            .contains("6 stacks: 5 passed, 1 failed (policy)"),
        "{}",
        run.stdout()
    );
    // The whole matrix costs what one validate job costs: 8, plus the
    // first locks of its 6 stacks (read, commit, create each).
    let requests = gh.requests();
    assert!(requests.len() <= 8 + 3 * 6, "{requests:#?}");
    let comments = gh.comments(CONFIG_REPO, pr);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    let marker: tfctl::render::marker::ValidationMarker =
        tfctl::render::marker::find(body).expect("marker");
    assert_eq!(marker.head_sha, head);
    assert_eq!(marker.result, tfctl::report::RunResult::Failed);
    // Every stack of every shard is vouched for, with its plan digest.
    assert_eq!(marker.stacks.len(), 6);
    assert!(body.contains("must not be public"), "{body}");
    assert_eq!(gh.labels(CONFIG_REPO, pr), ["opa-failed"]);
    let statuses = gh.statuses(CONFIG_REPO, &head);
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        (statuses[0].state.as_str(), statuses[0].context.as_str()),
        ("failure", "tfctl/validate")
    );
    let outputs = std::fs::read_to_string(m.dir.path().join("output")).unwrap();
    assert!(outputs.contains("\nfailed\n"), "{outputs}");
    let audit = std::fs::read_to_string(m.dir.path().join("tfctl-audit.jsonl")).unwrap();
    assert!(audit.contains("\"outcome\":\"failed\""), "{audit}");

    // A re-run of the final job updates the same comment.
    in_actions(&m, &gh, pr, &head, &m.shards).expect_code(1);
    assert_eq!(gh.comments(CONFIG_REPO, pr).len(), 1);
    assert_eq!(gh.labels(CONFIG_REPO, pr), ["opa-failed"]);
}
