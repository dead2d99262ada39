//! Seeing it run: `tfctl validate` says on stderr when each stack starts
//! and ends while the run goes on, not at the end. Real terraform plans a
//! fast and a slow stack; the slow one's plan waits on a remote state
//! answered late by a server on 127.0.0.1, so the order of events is
//! known without timing anything.

use std::io::{BufRead, BufReader};
use std::time::Instant;

use crate::harness::Repo;
use crate::runner_support::{StateServer, MODULE};

const CONFIG: &str = "version: 1
config_root: config
modules_root: modules
modules:
  default: slow
backend:
  type: local
  key: \"{service}/{name}/terraform.tfstate\"
  settings:
    path: .tfctl/state/{key}
default_environment: development
environments:
  development:
    branch: dev
parallelism: 2
policy:
  paths: [quiet-policies]
";

#[test]
fn each_stack_s_end_is_printed_when_it_ends_not_when_the_run_does() {
    let server = StateServer::start();
    // The slow stack's plan reads a state the server answers after 4 s.
    server.set_delay("slow", std::time::Duration::from_secs(4));
    let repo = Repo::from_example("offline");
    repo.write("tfctl.yaml", CONFIG)
        .write("modules/slow/main.tf", MODULE)
        // A policy that denies nothing: this test is about timing, not tags.
        .write("quiet-policies/main.rego", "package main\n\nimport rego.v1\n\ndeny contains msg if {\n  false\n  msg := \"never\"\n}\n")
        .write(
            "config/Slow/fast/fast.tfvars",
            &format!("state_url = \"{}\"\n", server.url("fast")),
        )
        .write(
            "config/Slow/late/late.tfvars",
            &format!("state_url = \"{}\"\n", server.url("slow")),
        )
        .commit("two stacks, one slow");

    let mut child = repo
        .tfctl()
        .args([
            "validate",
            "--files",
            "config/Slow/fast/fast.tfvars",
            "config/Slow/late/late.tfvars",
        ])
        .spawn();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines: Vec<(Instant, String)> = Vec::new();
    for line in stderr.lines() {
        lines.push((Instant::now(), line.unwrap()));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{lines:?} {}",
        String::from_utf8_lossy(&out.stdout)
    );

    let at = |needle: &str| {
        lines.iter().find(|(_, l)| l.contains(needle)).map_or_else(
            || panic!("no line with {needle:?} in {lines:?}"),
            |(t, _)| *t,
        )
    };
    let fast_done = at("planned  Slow/fast");
    let late_done = at("planned  Slow/late");
    // Read while the slow plan was still waiting for its state.
    assert!(fast_done < server.hit("slow").answered, "{lines:?}");
    assert!(fast_done < late_done);
    let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        texts.contains(&"[1/2] planning Slow/fast") || texts.contains(&"[2/2] planning Slow/fast"),
        "{texts:?}"
    );
    assert!(texts
        .iter()
        .any(|l| l.starts_with('[') && l.contains("planning Slow/late")));
    // The report is stdout's, after the run.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 stacks: 2 passed"), "{stdout}");
    assert!(!stdout.contains("planning"));

    // --quiet: the report only.
    let quiet = repo
        .tfctl()
        .args([
            "validate",
            "--quiet",
            "--files",
            "config/Slow/fast/fast.tfvars",
        ])
        .run()
        .expect_code(0);
    assert!(!quiet.stderr().contains("planning"), "{}", quiet.stderr());
}

/// A module check that fails: terraform warns, the plan still succeeds.
const FAILING_CHECK: &str = r#"
check "tags_present" {
  assert {
    condition     = length(var.tags) > 100
    error_message = "fewer than 100 tags"
  }
}
"#;

#[test]
fn verbose_streams_terraform_s_lines_and_a_failure_shows_its_last_lines_everywhere() {
    let repo = Repo::from_example("offline");
    let s3 = repo.read("modules/s3/main.tf");
    // A stack of its own that fails, last in the order (nothing waits on it).
    let lambda_vars = repo
        .read("config/Lambda/ingest/ingest.tfvars")
        .replace("ingest", "broken");
    repo.write("modules/s3/main.tf", &format!("{s3}{FAILING_CHECK}"))
        .write(
            "config/Lambda/broken/broken.tfvars",
            &format!("{lambda_vars}fail_plan = true\n"),
        )
        .commit("a warning and a failure");
    let files = [
        "config/S3/data-lake-prod/data-lake-prod.tfvars",
        "config/Lambda/broken/broken.tfvars",
    ];

    let verbose = repo
        .tfctl()
        .args(["validate", "--verbose", "--format", "json", "--files"])
        .args(files)
        .run()
        .expect_code(1);
    let err = verbose.stderr();
    // Terraform's own plan lines, as it printed them, each with its stack.
    assert!(
        err.lines().any(|l| l.starts_with("[S3/data-lake-prod]")
            && l.contains("# terraform_data.bucket will be created")),
        "{err}"
    );
    assert!(
        err.contains("[S3/data-lake-prod]       + id "),
        "indentation kept: {err}"
    );
    let report = verbose.json();
    let s3 = crate::harness::report_stack(&report, "S3/data-lake-prod");
    assert_eq!(
        s3["terraform_warnings"],
        serde_json::json!(["Check block assertion failed (on main.tf line 38)"]),
        "{s3}"
    );
    let kms = crate::harness::report_stack(&report, "Lambda/broken");
    let tail = kms["log_tail"].as_str().unwrap();
    assert!(tail.contains("fail_plan is set for"), "{kms}");
    let log_file = kms["log_file"].as_str().unwrap();
    let log = std::fs::read_to_string(log_file).unwrap();
    assert!(log.contains("$ terraform plan") && log.contains("fail_plan is set for"));

    // Without --verbose none of terraform's lines reach stderr.
    let text = repo
        .tfctl()
        .args(["validate", "--files"])
        .args(files)
        .run()
        .expect_code(1);
    assert!(
        !text.stderr().contains("will be created"),
        "{}",
        text.stderr()
    );
    let out = text.stdout();
    assert!(out.contains("terraform's last lines:"), "{out}");
    assert!(out.contains("fail_plan is set for"), "{out}");
    assert!(out.contains("terraform's whole output: "), "{out}");
    assert!(
        out.contains("terraform warning: Check block assertion failed"),
        "{out}"
    );

    let md = repo
        .tfctl()
        .args(["validate", "--quiet", "--format", "markdown", "--files"])
        .args(files)
        .run()
        .expect_code(1)
        .stdout();
    assert!(md.contains("terraform's last lines"), "{md}");
    assert!(md.contains("fail_plan is set for"), "{md}");
    assert!(md.contains("1 terraform warning</summary>"), "{md}");
}
