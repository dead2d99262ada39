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
        lines
            .iter()
            .find(|(_, l)| l.contains(needle))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:?}"))
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
