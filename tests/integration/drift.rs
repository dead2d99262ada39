//! `tfctl drift`, end to end with real Terraform: the offline example's
//! stacks are applied first (through the library's runner, with the same
//! backend paths tfctl plans with), then a tfvars value is changed without
//! applying it. Locally the report names exactly that stack with its
//! severity; in Actions (`schedule`, `workflow_dispatch`) one issue is
//! opened, rewritten by the next run and closed when drift is gone.

use crate::harness;
use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Repo, Run};
use serde_json::{json, Value};
use support::fake_github::{FakeGithub, BOT_LOGIN};
use tfctl::runner::{self, Cancel, Operation, RunOptions};
use tfctl::select::ChangeSource;

const CONTROLLER: &str = "acme/controller";
const DATA_LAKE: &str = "config/S3/data-lake-prod/data-lake-prod.tfvars";
const SCRATCH: &str = "config/S3/scratch-dev/scratch-dev.tfvars";

/// The offline example with every stack applied (state under `.tfctl/state`).
fn applied() -> Repo {
    let repo = Repo::from_example("offline");
    let cfg = tfctl::config::load(&repo.path().join("tfctl.yaml")).unwrap();
    let sel = tfctl::select::select(&cfg, &cfg.config_root, ChangeSource::All).unwrap();
    let work_dir = tfctl::pipeline::work_dir(&cfg, "test-apply").unwrap();
    let jobs = tfctl::pipeline::build_jobs(&cfg, &cfg.config_root, &sel, &work_dir).unwrap();
    let opts = RunOptions {
        terraform: harness::terraform(),
        work_dir,
        parallelism: 4,
        plugin_cache_dir: None,
        grace_period: Duration::from_secs(5),
        init_args: vec![],
        plan_args: vec![],
        apply_args: vec![],
        pass_env: vec![],
        watcher: Default::default(),
        heartbeat: std::time::Duration::from_secs(30),
        stream_output: false,
        log_dir: None,
        host: tfctl::context::Context::from_process().host,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime.block_on(runner::run_stacks(
        &jobs,
        &sel.dag.node_stacks(),
        &sel.dag.preds,
        Operation::Apply,
        &opts,
        &|_, _| Ok(()),
        Cancel::new(),
    ));
    for (run, job) in runs.iter().zip(&jobs) {
        assert!(
            run.outcome.is_success(),
            "{}: {:?}\n{}",
            job.stack.id,
            run.outcome,
            run.log_tail
        );
    }
    assert_eq!(runs.len(), 5);
    repo
}

/// Changes a tag of the production data lake (an in-place update).
fn drift_data_lake(repo: &Repo) {
    let text = repo.read(DATA_LAKE).replace("cc-200", "cc-999");
    repo.write(DATA_LAKE, &text);
}

/// A development stack that was never applied (its plan adds).
fn add_scratch_stack(repo: &Repo) {
    repo.write(
        SCRATCH,
        "environment = \"development\"\nname        = \"development-s3-scratch-dev\"\n\
         tags = {\n  Owner      = \"data\"\n  CostCenter = \"cc-200\"\n}\n",
    );
}

fn drifted(report: &Value) -> Vec<(String, String, Value)> {
    report["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["changes"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_changed_value_is_drift_of_exactly_that_stack_with_its_severity() {
    let repo = applied();
    let clean = repo
        .tfctl()
        .args(["drift", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(clean["checked"], 5);
    assert_eq!(clean["severity"], Value::Null);
    assert!(drifted(&clean).is_empty(), "{clean:#}");

    drift_data_lake(&repo);
    let report = repo
        .tfctl()
        .args(["drift", "--format", "json"])
        .run()
        .expect_code(1)
        .json();
    assert_eq!(
        drifted(&report),
        [(
            "S3/data-lake-prod".to_string(),
            "medium".to_string(),
            json!({"add": 0, "change": 1, "destroy": 0})
        )]
    );
    assert_eq!(report["severity"], "medium");
    assert!(report["unchecked"].as_array().unwrap().is_empty());
    let plan = report["drifted"][0]["plan_summary"].as_str().unwrap();
    assert!(plan.contains("cc-999"), "{plan}");

    add_scratch_stack(&repo);
    let run = repo.tfctl().args(["drift"]).run().expect_code(1);
    let text = run.stdout();
    assert!(
        text.contains("medium   S3/data-lake-prod  +0 ~1 -0")
            && text.contains("low      S3/scratch-dev     +1 ~0 -0")
            && text.contains("2 of 6 stacks drifted (severity: medium)"),
        "{text}"
    );
}

/// Runs `tfctl drift` as a workflow on `event_name` would.
fn in_actions(repo: &Repo, gh: &FakeGithub, dir: &Path, event_name: &str) -> Run {
    let fixture = |name: &str| -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let event = match event_name {
        "schedule" => json!({"schedule": "0 6 * * *"}),
        "pull_request" => fixture("pull_request.opened.json"),
        _ => fixture(&format!("{event_name}.json")),
    };
    let event_path: PathBuf = dir.join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    repo.tfctl()
        .args(["drift"])
        .in_actions(event_name, &event_path, CONTROLLER, dir)
        .envs(gh.env_vars())
        .run()
}

#[test]
fn in_actions_one_issue_is_opened_updated_and_closed() {
    let repo = applied();
    let dir = tempfile::tempdir().unwrap();
    let gh = FakeGithub::start();
    // A person's issue with the label is not tfctl's to rewrite or close.
    let theirs = gh.seed_issue(CONTROLLER, "drift notes", &["tfctl-drift"]);

    // API economy: the routes each run calls, in order.
    let calls = |gh: &FakeGithub| -> Vec<String> {
        let routes = gh.requests().into_iter().map(|r| r.route).collect();
        gh.clear_requests();
        routes
    };
    const LIST: &str = "GET /repos/{owner}/{repo}/issues";
    const PATCH: &str = "PATCH /repos/{owner}/{repo}/issues/{issue_number}";

    // No drift and no issue: nothing is opened.
    in_actions(&repo, &gh, dir.path(), "schedule").expect_code(0);
    assert_eq!(gh.issues(CONTROLLER).len(), 1);
    assert_eq!(calls(&gh), [LIST]);

    drift_data_lake(&repo);
    in_actions(&repo, &gh, dir.path(), "schedule").expect_code(1);
    assert_eq!(calls(&gh), [LIST, "POST /repos/{owner}/{repo}/issues"]);
    let ours: Vec<_> = gh
        .issues(CONTROLLER)
        .into_iter()
        .filter(|(n, _, _)| *n != theirs)
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let (number, title, labels) = ours[0].clone();
    assert_eq!(title, "tfctl drift: 1 stack drifted (medium)");
    assert_eq!(labels, ["tfctl-drift"]);
    let issue = gh.issue(CONTROLLER, number).unwrap();
    assert_eq!(issue.user, BOT_LOGIN);
    let body = issue.body.unwrap();
    assert!(body.starts_with("<!-- tfctl:drift -->"), "{body}");
    assert!(
        body.contains("| medium | `S3/data-lake-prod` | production | `+0 ~1 -0` |"),
        "{body}"
    );
    assert!(body.contains("https://github.example/acme/controller/actions/runs/7"));
    let outputs = std::fs::read_to_string(dir.path().join("output")).unwrap();
    assert!(
        outputs.contains("\nmedium\n") && outputs.contains(&format!("\n{number}\n")),
        "{outputs}"
    );
    assert!(std::fs::read_to_string(dir.path().join("summary.md"))
        .unwrap()
        .contains("S3/data-lake-prod"));

    // A re-run, with more drift, rewrites the same issue.
    add_scratch_stack(&repo);
    in_actions(&repo, &gh, dir.path(), "workflow_dispatch").expect_code(1);
    assert_eq!(calls(&gh), [LIST, PATCH]);
    assert_eq!(gh.issues(CONTROLLER).len(), 2);
    let issue = gh.issue(CONTROLLER, number).unwrap();
    assert_eq!(issue.title, "tfctl drift: 2 stacks drifted (medium)");
    assert_eq!(issue.state, "open");
    assert!(
        issue
            .body
            .unwrap()
            .contains("| low | `S3/scratch-dev` | development | `+1 ~0 -0` |"),
        "re-run did not rewrite the body"
    );

    // Drift gone: the issue is closed with a comment; theirs stays open.
    repo.remove(SCRATCH);
    repo.git(&["checkout", "--", DATA_LAKE]);
    in_actions(&repo, &gh, dir.path(), "schedule").expect_code(0);
    assert_eq!(
        calls(&gh),
        [
            LIST,
            "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
            PATCH
        ]
    );
    let issue = gh.issue(CONTROLLER, number).unwrap();
    assert_eq!(issue.state, "closed");
    let comments = gh.comments(CONTROLLER, number);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .starts_with("No drift remains: all 5 stacks match their code"),
        "{}",
        comments[0].body
    );
    let theirs = gh.issue(CONTROLLER, theirs).unwrap();
    assert_eq!((theirs.state.as_str(), theirs.body), ("open", None));
    assert_eq!(gh.issues(CONTROLLER).len(), 2, "nothing new was opened");
}

#[test]
fn drift_on_a_pull_request_event_is_refused() {
    let repo = Repo::from_example("offline");
    let dir = tempfile::tempdir().unwrap();
    let gh = FakeGithub::start();
    let run = in_actions(&repo, &gh, dir.path(), "pull_request").expect_code(2);
    assert!(
        run.stderr()
            .contains("tfctl drift runs on schedule or workflow_dispatch"),
        "{}",
        run.stderr()
    );
    assert!(gh.requests().is_empty());
}

#[test]
fn a_lost_create_answer_leaves_a_duplicate_that_the_next_run_closes() {
    let repo = applied();
    drift_data_lake(&repo);
    let dir = tempfile::tempdir().unwrap();
    let gh = FakeGithub::start();
    gh.seed_repo(CONTROLLER);
    // The issue is created, but the answer never arrives: the client
    // retries the create (it cannot know the first one happened), so two
    // issues now exist.
    gh.inject_fault(
        "POST /repos/{owner}/{repo}/issues",
        support::fake_github::Fault::DropAfterWrite,
        1,
    );
    in_actions(&repo, &gh, dir.path(), "schedule").expect_code(1);
    let created = gh.issues(CONTROLLER);
    assert_eq!(created.len(), 2, "{created:?}");

    in_actions(&repo, &gh, dir.path(), "schedule").expect_code(1);
    let open: Vec<u64> = gh
        .issues(CONTROLLER)
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| gh.issue(CONTROLLER, *n).unwrap().state == "open")
        .collect();
    assert_eq!(open, [created[0].0], "the oldest stays open, alone");
    let duplicate = created[1].0;
    assert_eq!(gh.issue(CONTROLLER, duplicate).unwrap().state, "closed");
    let comments = gh.comments(CONTROLLER, duplicate);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, format!("Duplicate of #{}.", created[0].0));
}
