//! `tfctl apply` runs end to end: real
//! Terraform on the offline example's local backend, the fake GitHub, plan
//! digests from the real `tfctl validate`. A validated merge applies in
//! DAG order and the state files hold the values; a plan changed since
//! approval blocks that stack (and its dependents) only; a stack failing
//! on apply skips its dependents while an independent one applies; SIGTERM
//! during a slow apply exits 130 with the state lock released, and a
//! following run takes the lock and succeeds.

use crate::apply_support;
use crate::harness;
use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apply_support::{
    apply_comment, apply_comments, assert_nowhere, job_tfvars, validation_body, Scenario,
    JOB_MODULE, KEY, REPO, SECRET,
};
use serde_json::{json, Value};
use support::fake_github::FakeGithub;
use tfctl::render::marker::{self, ApplyMarker, ApplyState};
use tfctl::report::ApplyStatus;

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_validated_merged_pr_applies_in_dag_order_and_reports_once() {
    let repo = apply_support::repo_with(|_| {});
    for f in [
        "config/IAM/admin-role/admin-role.tfvars",
        "config/KMS/encryption-key/encryption-key.tfvars",
        "config/S3/data-lake-prod/data-lake-prod.tfvars",
        "config/Lambda/ingest/ingest.tfvars",
    ] {
        repo.touch_tfvars(f);
    }
    let digests = apply_support::validate(&repo);
    assert_eq!(digests.len(), 4);
    let sc = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());

    let run = sc.apply(&gh, n).run().expect_code(0);

    // The state files hold what the tfvars said.
    assert_eq!(
        sc.state_input("IAM/admin-role")["name"],
        "production-iam-admin-role"
    );
    assert_eq!(sc.state_input("KMS/encryption-key")["rotation"], true);
    let bucket = sc.state_input("S3/data-lake-prod");
    assert_eq!(bucket["name"], "production-s3-data-lake-prod");
    assert_eq!(bucket["kms_key"], "KMS/encryption-key");
    assert_eq!(bucket["tags"]["Environment"], "production");
    assert_eq!(sc.state_input("Lambda/ingest")["role"], "IAM/admin-role");
    // Not in the PR: not applied.
    assert!(sc.state("S3/logs-dev").is_none());
    // Dependency order: IAM and KMS before S3, S3 before Lambda.
    let at = |id: &str| modified(&apply_support::state_path(sc.repo.path(), id));
    assert!(at("IAM/admin-role") < at("S3/data-lake-prod"));
    assert!(at("KMS/encryption-key") < at("S3/data-lake-prod"));
    assert!(at("S3/data-lake-prod") < at("Lambda/ingest"));

    // One comment on the PR: every stack applied, outputs, snapshots.
    let body = apply_comment(&gh, n);
    assert!(
        body.contains("### ✅ tfctl apply applied: `production` → `prod`"),
        "{body}"
    );
    assert!(body.contains("4 stacks: 4 applied in "), "{body}");
    for id in [
        "IAM/admin-role",
        "KMS/encryption-key",
        "S3/data-lake-prod",
        "Lambda/ingest",
    ] {
        assert!(
            body.contains(&format!("| `{id}` | plan | ✅ applied | `+1 ~0 -0` |")),
            "{id}: {body}"
        );
    }
    assert!(
        body.contains("- `role_arn` = `arn:aws:iam::000000000000:role/production-iam-admin-role`"),
        "{body}"
    );
    assert!(
        body.contains("- `bucket` = `production-s3-data-lake-prod`"),
        "{body}"
    );
    let found: ApplyMarker = marker::find(&body).unwrap();
    assert_eq!(
        marker::verify(&found, &[apply_support::key().public()]),
        Ok(())
    );
    assert_eq!(found.state, ApplyState::Applied);
    assert_eq!(found.merge_commit_sha.as_deref(), Some(sc.merge.as_str()));
    assert_eq!(
        (found.repository.as_str(), found.pr_number),
        (REPO, Some(n))
    );
    assert!(found.stacks.values().all(|s| *s == ApplyStatus::Applied));

    // Snapshots: named in the output, on disk, taken before the apply
    // (the stacks were new, so each holds an empty state).
    let outputs = sc.outputs();
    assert_eq!(outputs["result"], "applied");
    assert_eq!(
        outputs["applied"],
        "IAM/admin-role,KMS/encryption-key,S3/data-lake-prod,Lambda/ingest"
    );
    let snapshots: serde_json::Map<String, Value> =
        serde_json::from_str(&outputs["snapshots"]).unwrap();
    assert_eq!(snapshots.len(), 4);
    for (id, path) in &snapshots {
        let path = PathBuf::from(path.as_str().unwrap());
        assert!(
            run.stdout()
                .contains(&format!("state snapshot: {}", path.display())),
            "{id}: {}",
            run.stdout()
        );
        let before: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or(Value::Null);
        assert!(
            before["resources"].as_array().is_none_or(Vec::is_empty),
            "{id}: {before}"
        );
    }
    let step_outputs: Value = serde_json::from_str(&outputs["outputs"]).unwrap();
    assert_eq!(
        step_outputs["IAM/admin-role"]["role_arn"],
        "arn:aws:iam::000000000000:role/production-iam-admin-role"
    );

    let status = gh.statuses(REPO, &sc.merge).pop().unwrap();
    assert_eq!(
        (status.context.as_str(), status.state.as_str()),
        ("tfctl/apply", "success")
    );
    assert!(sc.summary().contains("tfctl apply applied"));
    let audit = sc.audit();
    assert_eq!(audit.last().unwrap()["outcome"], "applied");
    assert_eq!(audit.last().unwrap()["pull_request"], format!("{REPO}#{n}"));

    // A re-run (here from the push of the merge commit) is refused: one
    // apply per approval. The same comment says so, and still records the
    // run that applied it, so a third try is refused too.
    let serial = sc.state("IAM/admin-role").unwrap()["serial"].clone();
    let push = json!({"ref": "refs/heads/prod", "before": sc.head, "after": sc.merge,
        "repository": {"full_name": REPO}, "sender": {"login": "alice"}});
    for _ in 0..2 {
        let run = sc.apply_event(&gh, "push", &push).run().expect_code(1);
        assert!(
            run.stdout()
                .contains("this merge was already applied (run 77"),
            "{}",
            run.stdout()
        );
        assert_eq!(apply_comments(&gh, n).len(), 1);
        let again: ApplyMarker = marker::find(&apply_comment(&gh, n)).unwrap();
        assert_eq!(again.state, ApplyState::Blocked);
        assert_eq!(again.applied.as_ref().unwrap().run_id, "77");
    }
    assert_eq!(sc.state("IAM/admin-role").unwrap()["serial"], serial);
}

#[test]
fn a_plan_changed_since_approval_blocks_that_stack_and_its_dependents_only() {
    // Order rules of the example: IAM and KMS stacks go before S3 ones.
    let repo = apply_support::repo_with(|_| {});
    repo.touch_tfvars("config/IAM/admin-role/admin-role.tfvars")
        .touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars")
        .touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars");
    let digests = apply_support::validate(&repo);
    // After the digests were taken: the key's tags change, and another
    // stack the validation never saw joins the change.
    let kms = "config/KMS/encryption-key/encryption-key.tfvars";
    let reader = "config/IAM/reader/reader.tfvars";
    repo.write(kms, &repo.read(kms).replace("cc-100", "cc-999"))
        .write(
            reader,
            &repo
                .read("config/IAM/admin-role/admin-role.tfvars")
                .replace("admin-role", "reader"),
        );
    let sc = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());

    let run = sc.apply(&gh, n).run().expect_code(1);

    assert_eq!(
        sc.state_input("IAM/admin-role")["name"],
        "production-iam-admin-role"
    );
    for id in ["KMS/encryption-key", "S3/data-lake-prod", "IAM/reader"] {
        assert!(sc.state(id).is_none(), "{id} was applied");
    }
    let body = apply_comment(&gh, n);
    assert!(body.starts_with("<!-- tfctl:apply "), "{body}");
    assert!(body.contains("### ❌ tfctl apply failed"), "{body}");
    let approved = &sc.digests["KMS/encryption-key"][..7];
    assert!(
        body.contains(&format!(
            "- `KMS/encryption-key` not applied: plan changed since approval (approved digest {approved}, now "
        )),
        "{body}"
    );
    assert!(
        body.contains(
            "- `S3/data-lake-prod` skipped: dependency KMS/encryption-key was not applied"
        ),
        "{body}"
    );
    assert!(
        body.contains("- `IAM/reader` not applied: not in the approved validation"),
        "{body}"
    );
    // What the changed plan would have done, redacted, for the reviewer.
    assert!(
        body.contains("<code>KMS/encryption-key</code> re-plan, not applied (+1 ~0 -0)"),
        "{body}"
    );
    assert!(body.contains("cc-999"), "{body}");
    let outputs = sc.outputs();
    assert_eq!(outputs["result"], "failed");
    assert_eq!(outputs["applied"], "IAM/admin-role");
    assert_eq!(outputs["not-applied"], "IAM/reader,KMS/encryption-key");
    assert_eq!(outputs["skipped"], "S3/data-lake-prod");
    assert!(
        run.stdout().contains("not_applied KMS/encryption-key"),
        "{}",
        run.stdout()
    );
    assert_eq!(gh.statuses(REPO, &sc.merge).pop().unwrap().state, "failure");
}

/// A repo whose controller has the `job` module (apply-time failure and
/// sleep), with `stacks` (name, extra tfvars lines) changed on the feature.
fn job_repo(stacks: &[(&str, &str)]) -> harness::Repo {
    let repo = apply_support::repo_with(|r| {
        r.write("modules/job/main.tf", JOB_MODULE);
    });
    for (name, extra) in stacks {
        repo.write(
            &format!("config/Job/{name}/{name}.tfvars"),
            &job_tfvars(name, extra),
        );
    }
    repo
}

#[test]
fn a_failing_stack_skips_its_dependents_while_an_independent_one_applies() {
    let repo = job_repo(&[
        ("build", "fail_apply = true"),
        ("deploy", "depends_on = [\"Job/build\"]"),
        ("report", ""),
    ]);
    let digests = apply_support::validate(&repo);
    assert_eq!(digests.len(), 3);
    let sc = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());

    let run = sc.apply(&gh, n).run().expect_code(1);

    assert_eq!(
        sc.state_input("Job/report")["name"],
        "production-job-report"
    );
    assert!(sc.state("Job/deploy").is_none());
    let body = apply_comment(&gh, n);
    assert!(
        body.contains("| `Job/build` | plan | 💥 failed |"),
        "{body}"
    );
    assert!(
        body.contains("- `Job/build` failed: terraform apply failed (exit status 1): local-exec provisioner error"),
        "{body}"
    );
    assert!(body.contains("Output: job failed on purpose"), "{body}");
    assert!(
        body.contains("- `Job/deploy` skipped: dependency Job/build was not applied"),
        "{body}"
    );
    assert!(
        body.contains("| `Job/report` | plan | ✅ applied |"),
        "{body}"
    );
    // The plain output is reported; the sensitive one nowhere.
    assert!(
        body.contains("- `job_name` = `production-job-report`"),
        "{body}"
    );
    assert!(!body.contains("`token`"), "{body}");
    assert_nowhere(&run, &sc, &gh, SECRET);
    let outputs = sc.outputs();
    assert_eq!(
        (
            outputs["applied"].as_str(),
            outputs["failed"].as_str(),
            outputs["skipped"].as_str()
        ),
        ("Job/report", "Job/build", "Job/deploy")
    );
}

/// The first `state-before.tfstate` under `dir`, if any.
fn find_snapshot(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_snapshot(&path) {
                return Some(found);
            }
        } else if path
            .file_name()
            .is_some_and(|n| n == "state-before.tfstate")
        {
            return Some(path);
        }
    }
    None
}

#[test]
fn sigterm_during_a_slow_apply_exits_130_and_a_following_run_takes_the_lock() {
    let repo = job_repo(&[("slow", "sleep = 8")]);
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, comment_id) = sc.seed_validated(&gh, &sc.marker());

    let child = sc.apply(&gh, n).spawn();
    // The snapshot is taken right before `terraform apply`; give the
    // provisioner a moment to start sleeping.
    let deadline = Instant::now() + Duration::from_secs(120);
    while find_snapshot(&sc.repo.path().join(".tfctl/run")).is_none() {
        assert!(Instant::now() < deadline, "the apply never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Then wait for the provisioner's `sleep 8` itself (polled, not timed:
    // the machine may be slow), so the signal lands mid-apply.
    while !provisioner_sleeping("sleep 8") {
        assert!(Instant::now() < deadline, "the provisioner never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    // SAFETY: kill(2) on the child we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let run = harness::Run(child.wait_with_output().unwrap()).expect_code(130);
    // Within GitHub's cancel window: SIGINT, SIGTERM 7.5 s later, kill 2.5 s after.
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?}",
        signalled.elapsed()
    );
    assert!(
        run.stdout().contains("cancelled   Job/slow"),
        "{}",
        run.stdout()
    );
    let body = apply_comment(&gh, n);
    assert!(body.contains("### 🛑 tfctl apply cancelled"), "{body}");
    assert!(
        body.contains("| `Job/slow` | plan | 🛑 cancelled |"),
        "{body}"
    );
    assert_eq!(gh.statuses(REPO, &sc.merge).pop().unwrap().state, "error");
    // Terraform stopped gracefully and released its lock; none is left running.
    let state_dir = apply_support::state_path(sc.repo.path(), "Job/slow")
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(!state_dir.join(".terraform.tfstate.lock.info").exists());
    let leftovers = harness::processes_mentioning(&[sc.repo.path().to_str().unwrap(), "sleep 8"]);
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The next run takes the lock; the interrupted create left a tainted
    // resource, so its re-plan is not the approved one and is refused.
    let run = sc.apply(&gh, n).run().expect_code(1);
    assert!(!run.stdout().contains("lock"), "{}", run.stdout());
    assert!(!run.stderr().contains("lock"), "{}", run.stderr());
    assert!(
        apply_comment(&gh, n).contains("not applied: plan changed since approval"),
        "{}",
        apply_comment(&gh, n)
    );

    // Validated again (the bot updates its comment), it applies.
    let digests = apply_support::validate_files(&sc.repo, &["Job/slow/slow.tfvars"]);
    let mut marker = sc.marker();
    marker.stacks = digests;
    // What validate does on a re-run: the same comment, a new status.
    crate::support::evidence::republish_validation(
        &gh,
        REPO,
        comment_id,
        crate::support::fake_github::BOT_LOGIN,
        &validation_body(&marker, Some(KEY)),
    );
    sc.apply(&gh, n).run().expect_code(0);
    let state = sc.state("Job/slow").unwrap();
    let instance = &state["resources"][0]["instances"][0];
    assert_eq!(instance["status"], Value::Null, "{state:#}");
    assert_eq!(
        instance["attributes"]["input"]["value"]["name"],
        "production-job-slow"
    );
    assert!(apply_comment(&gh, n).contains("### ✅ tfctl apply applied"));
}

#[test]
fn a_deleted_tfvars_is_destroyed_with_its_contents_from_before_the_merge() {
    // Nothing else names the key stack, so deleting it keeps the graph whole
    // (that a still-named stack cannot be deleted is tested in `impact`).
    let repo = apply_support::repo_with(|repo| {
        let path = "config/S3/data-lake-prod/data-lake-prod.tfvars";
        let text = std::fs::read_to_string(repo.path().join(path)).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("kms_key")).collect();
        assert_ne!(
            kept.len(),
            text.lines().count(),
            "the example names the key"
        );
        repo.write(path, &(kept.join("\n") + "\n"));
    });
    repo.touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars");
    let digests = apply_support::validate(&repo);
    let first = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, _) = first.seed_validated(&gh, &first.marker());
    first.apply(&gh, n).run().expect_code(0);
    assert_eq!(
        first.state_input("KMS/encryption-key")["name"],
        "production-kms-encryption-key"
    );

    // A second PR deletes the stack's tfvars; its destroy is validated and
    // merged. The apply reads the last contents from the merge's first
    // parent: the checkout no longer has them.
    let Scenario { repo, .. } = first;
    repo.git(&["checkout", "-q", "-B", "feature", "prod"]);
    repo.remove("config/KMS/encryption-key/encryption-key.tfvars");
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    assert_eq!(sc.files[0].status, "removed");
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    sc.apply(&gh, n).run().expect_code(0);

    let state = sc.state("KMS/encryption-key").unwrap();
    assert_eq!(state["resources"], json!([]), "{state:#}");
    let body = apply_comment(&gh, n);
    assert!(
        body.contains("| `KMS/encryption-key` | destroy | ✅ applied | `+0 ~0 -1` |"),
        "{body}"
    );
    // The snapshot taken before the destroy still holds the key.
    let outputs = sc.outputs();
    let snapshots: serde_json::Map<String, Value> =
        serde_json::from_str(&outputs["snapshots"]).unwrap();
    let before =
        std::fs::read_to_string(snapshots["KMS/encryption-key"].as_str().unwrap()).unwrap();
    assert!(before.contains("production-kms-encryption-key"), "{before}");
}

/// Whether a process whose whole command line is `cmd` is running.
fn provisioner_sleeping(cmd: &str) -> bool {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.trim() == cmd)
}
