//! `tfctl policy test` end to end, through the real binary: the shipped
//! library passes and every test is named; a policy broken on purpose (in
//! a temp copy) fails with its test file named and exit 1; a Rego syntax
//! error is exit 2 with file and line; JSON output; default paths from
//! tfctl.yaml; and the same pass/fail per test as the Go OPA engine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::policy_common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tfctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfctl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tfctl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `<package>.<rule>` of every `test_*` rule, found by reading the test
/// files independently of tfctl (rule heads start a line).
fn declared_tests(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with("_test.rego") {
                let text = std::fs::read_to_string(&path).unwrap();
                let package = text
                    .lines()
                    .find_map(|l| l.strip_prefix("package "))
                    .unwrap()
                    .trim()
                    .to_string();
                for line in text.lines().filter(|l| l.starts_with("test_")) {
                    let name: String = line
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(format!("{package}.{name}"));
                }
            }
        }
    }
    out
}

#[test]
fn shipped_library_passes_and_names_every_test() {
    let out = tfctl(&root(), &["policy", "test", "policies/"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let declared = declared_tests(&root().join("policies"));
    assert!(
        declared.len() >= 50,
        "only {} tests declared",
        declared.len()
    );
    let mut reported = BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with("PASS ")) {
        // PASS <package>.<rule> (<file>)
        let (name, file) = line["PASS ".len()..].split_once(" (").unwrap();
        assert!(file.ends_with("_test.rego)"), "{line}");
        assert!(root().join(file.trim_end_matches(')')).is_file(), "{line}");
        reported.insert(name.to_string());
    }
    assert_eq!(reported, declared);
    assert_eq!(
        text.lines().last().unwrap(),
        format!("{} passed, 0 failed", declared.len())
    );
    // Every policy area has its own tests.
    for area in ["naming", "tags", "encryption", "access", "change_safety"] {
        assert!(
            text.contains(&format!("(policies/{area}/{area}_test.rego)")),
            "no tests for {area}"
        );
    }
}

#[test]
fn breaking_a_policy_fails_its_tests_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    let access = dir.path().join("policies/access/access.rego");
    let text = std::fs::read_to_string(&access).unwrap();
    // The mistake a reviewer might miss: SSH dropped from the admin ports.
    let broken = text.replace(
        "\"admin_ports\": [22, 3389, 5985, 5986]",
        "\"admin_ports\": [3389, 5985, 5986]",
    );
    assert_ne!(broken, text, "the policy text changed; update this test");
    std::fs::write(&access, broken).unwrap();

    let out = tfctl(dir.path(), &["policy", "test", "policies"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(
        failed,
        [
            "FAIL terraform.access_test.test_ssh_from_internet_is_denied (policies/access/access_test.rego)",
            "FAIL terraform.access_test.test_rdp_range_and_all_protocols (policies/access/access_test.rego)",
        ]
    );
    let summary = text.lines().last().unwrap();
    assert!(summary.ends_with(" passed, 2 failed"), "{summary}");
}

#[test]
fn rego_syntax_error_is_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    let tags = dir.path().join("policies/tags/tags.rego");
    let text = std::fs::read_to_string(&tags).unwrap();
    let line = text.lines().position(|l| l.starts_with("cfg := ")).unwrap() + 1;
    std::fs::write(&tags, text.replace("cfg := ", "cfg := := ")).unwrap();

    let out = tfctl(dir.path(), &["policy", "test", "policies"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let want = format!("tfctl: error: policies/tags/tags.rego:{line}:");
    assert!(err.starts_with(&want), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn json_format_lists_tests_and_counts() {
    let out = tfctl(&root(), &["policy", "test", "policies", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(doc["passed"], tests.len());
    assert_eq!(doc["failed"], 0);
    let first = &tests[0];
    for key in ["package", "name", "file", "passed", "error"] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
}

#[test]
fn default_paths_come_from_tfctl_yaml_else_policies() {
    let dir = tempfile::tempdir().unwrap();
    let one = "package team_test\n\ntest_ok if true\n";
    std::fs::create_dir_all(dir.path().join("rego")).unwrap();
    std::fs::write(dir.path().join("rego/team_test.rego"), one).unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/other_test.rego"),
        "package other_test\n\ntest_a if true\n\ntest_b if true\n",
    )
    .unwrap();

    // No tfctl.yaml anywhere above a temp dir: `policies`.
    let out = tfctl(dir.path(), &["policy", "test"]);
    assert_eq!(stdout(&out).lines().last(), Some("2 passed, 0 failed"));

    std::fs::write(dir.path().join("tfctl.yaml"), "policy:\n  paths: [rego]\n").unwrap();
    let out = tfctl(dir.path(), &["policy", "test"]);
    assert_eq!(
        stdout(&out),
        format!(
            "PASS team_test.test_ok ({})\n1 passed, 0 failed\n",
            dir.path().join("rego/team_test.rego").display()
        )
    );

    let out = tfctl(dir.path(), &["--config", "missing.yaml", "policy", "test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.yaml"), "{}", stderr(&out));
}

#[test]
fn opa_agrees_on_every_test_result() {
    let Some(opa) = policy_common::opa::run_opa(&root(), &["tests".as_ref(), "policies".as_ref()])
    else {
        return;
    };
    let key = |t: &serde_json::Value| {
        (
            format!(
                "{}.{}",
                t["package"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            ),
            t["passed"].as_bool().unwrap(),
        )
    };
    let opa: serde_json::Value = serde_json::from_slice(&opa).unwrap();
    let opa: BTreeSet<(String, bool)> = opa["tests"].as_array().unwrap().iter().map(key).collect();
    let ours = tfctl(&root(), &["policy", "test", "policies", "--format", "json"]);
    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let ours: BTreeSet<(String, bool)> =
        ours["tests"].as_array().unwrap().iter().map(key).collect();
    assert_eq!(ours, opa);
}
