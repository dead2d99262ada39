//! End-to-end `tfctl validate` on real git repositories with real Terraform
//! and real Rego.

use crate::harness;

use harness::{report_ids as ids, report_stack as stack, Repo};
use serde_json::Value;

#[test]
fn clean_change_plans_stacks_in_dependency_order() {
    let repo = Repo::from_example("offline");
    repo.touch_tfvars("config/Lambda/ingest/ingest.tfvars")
        .touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars")
        .touch_tfvars("config/IAM/admin-role/admin-role.tfvars")
        .touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars")
        .commit("change four stacks");
    let run = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0);
    let report = run.json();
    assert_eq!(report["version"], 1);
    assert_eq!(report["result"], "passed");
    assert_eq!(report["environment"], "production");
    assert_eq!(
        report["waves"],
        serde_json::json!([
            ["IAM/admin-role", "KMS/encryption-key"],
            ["S3/data-lake-prod"],
            ["Lambda/ingest"]
        ])
    );
    assert_eq!(
        ids(&report),
        [
            "IAM/admin-role",
            "KMS/encryption-key",
            "S3/data-lake-prod",
            "Lambda/ingest"
        ]
    );
    for s in report["stacks"].as_array().unwrap() {
        assert_eq!(s["status"], "passed", "{s:#}");
        assert_eq!(s["action"], "plan");
        assert_eq!(
            s["changes"],
            serde_json::json!({"add": 1, "change": 0, "destroy": 0})
        );
        assert_eq!(s["error"], Value::Null);
    }
}

#[test]
fn companion_file_change_plans_its_stack_and_uncommitted_changes_count() {
    let repo = Repo::from_example("offline");
    // Not committed: the diff from the merge base includes the working tree.
    repo.write(
        "config/S3/data-lake-prod/data-lake-prod.json",
        "{\"Version\": \"2012-10-17\"}\n",
    );
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report), ["S3/data-lake-prod"]);
}

#[test]
fn policy_violation_fails_with_its_message() {
    let repo = Repo::from_example("offline");
    repo.write(
        "config/S3/public-assets/public-assets.tfvars",
        &repo.read("config-violation/S3/public-assets/public-assets.tfvars"),
    )
    .touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars")
    .commit("a public bucket");
    let run = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(1);
    let report = run.json();
    assert_eq!(report["result"], "failed");
    let bad = stack(&report, "S3/public-assets");
    assert_eq!(bad["status"], "failed");
    let msgs: Vec<&str> = bad["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["msg"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("must not be public")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("server-side encryption")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("missing required tags [\"CostCenter\"]")),
        "{msgs:?}"
    );
    assert!(bad["violations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["namespace"] == "main" && v["rule"] == "deny"));
    assert_eq!(stack(&report, "KMS/encryption-key")["status"], "passed");

    // The text report names the violation too.
    let text = repo
        .tfctl()
        .args(["validate"])
        .run()
        .expect_code(1)
        .stdout();
    assert!(text.contains("must not be public"), "{text}");
}

#[test]
fn cycle_is_exit_2_and_runs_no_terraform() {
    let repo = Repo::from_example("offline");
    let iam = repo.read("config/IAM/admin-role/admin-role.tfvars");
    repo.write(
        "config/IAM/admin-role/admin-role.tfvars",
        &format!("{iam}depends_on = [\"S3/data-lake-prod\"]\n"),
    )
    .touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars")
    .commit("cycle");
    let run = repo.tfctl().args(["validate"]).run().expect_code(2);
    assert!(
        run.stderr()
            .contains("dependency cycle: IAM/admin-role -> S3/data-lake-prod -> IAM/admin-role")
            || run
                .stderr()
                .contains("dependency cycle: IAM/admin-role -> [order"),
        "{}",
        run.stderr()
    );
    assert!(
        !repo.path().join(".tfctl").exists(),
        "terraform ran before the cycle was reported"
    );
}

#[test]
fn bad_tfvars_is_exit_2_with_file_and_line() {
    let repo = Repo::from_example("offline");
    repo.write(
        "config/KMS/encryption-key/encryption-key.tfvars",
        "environment = \"production\"\nname = \n",
    )
    .commit("broken");
    let run = repo.tfctl().args(["validate"]).run().expect_code(2);
    assert!(
        run.stderr()
            .starts_with("tfctl: error: KMS/encryption-key/encryption-key.tfvars:2:"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}

#[test]
fn failing_stack_skips_its_dependents_while_independent_stacks_plan() {
    let repo = Repo::from_example("offline");
    let iam = repo.read("config/IAM/admin-role/admin-role.tfvars");
    repo.write(
        "config/IAM/admin-role/admin-role.tfvars",
        &format!("{iam}fail_plan = true\n"),
    )
    .touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars")
    .touch_tfvars("config/Lambda/ingest/ingest.tfvars")
    .touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars")
    .commit("iam fails");
    // KMS shares IAM's order group, so it depends on nothing that failed.
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(1)
        .json();
    let iam = stack(&report, "IAM/admin-role");
    assert_eq!(iam["status"], "error");
    assert!(
        iam["error"].as_str().unwrap().contains("fail_plan is set"),
        "{iam:#}"
    );
    assert_eq!(stack(&report, "S3/data-lake-prod")["status"], "skipped");
    assert_eq!(
        stack(&report, "S3/data-lake-prod")["error"],
        "dependency IAM/admin-role failed"
    );
    // Lambda depends on S3 (implicit) and IAM (implicit): skipped through the chain.
    assert_eq!(stack(&report, "Lambda/ingest")["status"], "skipped");
    assert_eq!(stack(&report, "KMS/encryption-key")["status"], "passed");
}

/// A failure shows terraform's own last lines (its precondition message,
/// the resource and file it names) in the terminal, the JSON and the
/// comment, not only tfctl's one-line reason.
#[test]
fn a_failing_stack_shows_terraform_s_last_lines_in_text_json_and_comment() {
    let repo = Repo::from_example("offline");
    let iam = repo.read("config/IAM/admin-role/admin-role.tfvars");
    repo.write(
        "config/IAM/admin-role/admin-role.tfvars",
        &format!("{iam}fail_plan = true\n"),
    )
    .commit("iam fails");
    let run = |format: &str| {
        repo.tfctl()
            .args(["validate", "--quiet", "--format", format])
            .run()
            .expect_code(1)
            .stdout()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let tail = stack(&json, "IAM/admin-role")["log_tail"]
        .as_str()
        .unwrap_or_else(|| panic!("{json:#}"))
        .to_string();
    assert!(tail.contains("Resource precondition failed"), "{tail}");
    assert!(tail.contains("fail_plan is set for"), "{tail}");
    assert!(tail.lines().count() <= 20, "{tail}");
    let text = run("text");
    assert!(text.contains("terraform's last lines:"), "{text}");
    assert!(
        text.contains("| Error: Resource precondition failed"),
        "{text}"
    );
    let markdown = run("markdown");
    assert!(
        markdown.contains("terraform's last lines</summary>"),
        "{markdown}"
    );
    assert!(markdown.contains("Resource precondition failed"));
}

#[test]
fn deleted_tfvars_is_a_destroy_ordered_after_its_dependents() {
    let repo = Repo::from_example("offline");
    repo.remove("config/IAM/admin-role/admin-role.tfvars")
        .touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars")
        .commit("retire the role");
    // The S3 stack still depends on the role: planned, ordered, and a
    // finding (the graph would be broken once merged).
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(1)
        .json();
    assert_eq!(
        report["waves"],
        serde_json::json!([["S3/data-lake-prod"], ["IAM/admin-role"]])
    );
    let iam = stack(&report, "IAM/admin-role");
    assert_eq!(iam["action"], "destroy");
    assert_eq!(iam["status"], "failed");
    // The unchanged Lambda stack names it too (`role = "IAM/admin-role"`).
    assert!(
        iam["violations"][0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("deleted, but Lambda/ingest, S3/data-lake-prod still depend on it"),
        "{iam:#}"
    );
}

#[test]
fn files_and_all_select_without_git() {
    let repo = Repo::from_example("offline");
    let report = repo
        .tfctl()
        .args([
            "validate",
            "--format",
            "json",
            "--files",
            "IAM/admin-role/admin-role.tfvars",
        ])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report), ["IAM/admin-role"]);
    let graph = repo
        .tfctl()
        .args(["graph", "--all", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(graph["waves"].as_array().unwrap().len(), 3, "{graph:#}");
}

#[test]
fn path_escaping_the_root_is_rejected() {
    let repo = Repo::from_example("offline");
    let run = repo
        .tfctl()
        .args(["validate", "--files", "../../etc/passwd"])
        .run()
        .expect_code(2);
    assert!(
        run.stderr().contains("escapes the repository root"),
        "{}",
        run.stderr()
    );
}

/// A root module whose plan blocks: it reads remote state from an HTTP
/// backend that never answers (terraform runs provisioners only on apply, so
/// a data source is the way to make a plan slow).
const SLOW_MODULE: &str = r#"
terraform {
  backend "local" {}
}

variable "environment" {
  type = string
}

variable "state_url" {
  type = string
}

data "terraform_remote_state" "upstream" {
  backend = "http"
  config = {
    address = var.state_url
  }
}
"#;

#[test]
fn sigint_mid_run_stops_terraform_and_exits_130() {
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let repo = Repo::from_example("offline");
    repo.write("modules/slow/main.tf", SLOW_MODULE)
        .write(
            "config/Slow/wait/wait.tfvars",
            &format!(
                "environment = \"production\"\nstate_url = \"http://127.0.0.1:{port}/state\"\n"
            ),
        )
        .commit("a slow stack");

    let child = repo.tfctl().args(["validate", "--format", "json"]).spawn();
    // Terraform is mid-plan once it connects; hold the connection open.
    listener.set_nonblocking(false).unwrap();
    let (held, _) = listener.accept().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // SAFETY: kill(2) on the child we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    drop(held);
    let run = harness::Run(out).expect_code(130);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let report = run.json();
    assert_eq!(stack(&report, "Slow/wait")["status"], "cancelled");
    assert_eq!(report["result"], "error");
    // No terraform of this run is left behind.
    let leftovers = harness::processes_mentioning(&[repo.path().to_str().unwrap()]);
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn missing_terraform_says_how_to_install_it() {
    let repo = Repo::from_example("offline");
    let run = repo
        .tfctl()
        .env_remove("TFCTL_TERRAFORM")
        .env("PATH", "/usr/bin:/bin")
        .args(["validate", "--files", "IAM/admin-role/admin-role.tfvars"])
        .run()
        .expect_code(2);
    assert!(
        run.stderr().contains("scripts/install-terraform.sh"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}

/// `tfctl graph … | head` must not panic or print an error when the reader
/// goes away: stdout is a pipe whose read end is already closed.
#[test]
fn closed_stdout_pipe_is_not_an_error() {
    use std::os::fd::{FromRawFd, OwnedFd};

    let repo = Repo::from_example("offline");
    for args in [&["schema"][..], &["graph", "--all", "--format", "json"][..]] {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills the two descriptors we own from here on.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: each fd is open and owned by exactly one OwnedFd.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tfctl"))
            .current_dir(repo.path())
            .args(args)
            .stdout(std::process::Stdio::from(writer))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
