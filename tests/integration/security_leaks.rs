//! "Nothing leaks" and "no injection" (docs/DESIGN.md §4), attacked end to end the
//! way a writer of the config or controller repository would: a real git
//! repository (`harness::Repo`), the real tfctl binary, real Terraform and
//! real Rego. Each test names its attack and carries a positive control (the
//! genuine value still gets through, the genuine report still renders), so
//! it cannot pass because everything is broken.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{self, Repo};

/// A terraform wrapper that records the environment it was started with
/// (one file per process, `env -0`), then `exec`s the real terraform: the
/// environment terraform and everything it starts (providers,
/// provisioners) inherit, observed without faking terraform.
fn recording_terraform(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("env");
    std::fs::create_dir_all(&log).unwrap();
    let script = dir.join("terraform");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv -0 > '{}/'$$\nexec '{}' \"$@\"\n",
            log.display(),
            harness::terraform().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The environments the wrapper recorded, one map per terraform process.
fn recorded_envs(dir: &Path) -> Vec<BTreeMap<String, String>> {
    std::fs::read_dir(dir.join("env"))
        .unwrap()
        .map(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            String::from_utf8_lossy(&bytes)
                .split('\0')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn attack_module_reads_github_token_from_terraform_env() {
    let repo = Repo::from_example("offline");
    let config = repo.read("tfctl.yaml").replace(
        "  production:\n    branch: prod\n",
        "  production:\n    branch: prod\n    env:\n      TFCTL_CONFIGURED_ENV: from-tfctl-yaml\n",
    );
    repo.write(
        "tfctl.yaml",
        &format!("{config}terraform:\n  pass_env: [ACTIONS_ID_TOKEN_REQUEST_URL]\n"),
    )
    .touch_tfvars("config/KMS/encryption-key/encryption-key.tfvars")
    .commit("a change terraform plans");
    let tools = tempfile::tempdir().unwrap();
    let secrets = [
        ("GITHUB_TOKEN", "ghs_LEAKCANARY_github_token"),
        ("GH_TOKEN", "gho_LEAKCANARY_gh_token"),
        ("TFCTL_SIGNING_KEY", "LEAKCANARY-signing-key"),
        ("TFCTL_APP_ID", "4242"),
        (
            "TFCTL_APP_PRIVATE_KEY",
            "-----BEGIN RSA PRIVATE KEY-----\nLEAKCANARYAPPKEY\n-----END RSA PRIVATE KEY-----\n",
        ),
        ("TFCTL_APP_INSTALLATION_ID", "4343"),
        ("ACTIONS_RUNTIME_TOKEN", "LEAKCANARY-runtime-token"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "LEAKCANARY-oidc-token"),
    ];
    let mut run = repo
        .tfctl()
        .env("TFCTL_TERRAFORM", recording_terraform(tools.path()))
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://oidc.example/passed",
        )
        .env("TFCTL_ORDINARY_VARIABLE", "inherited");
    for (name, value) in secrets {
        run = run.env(name, value);
    }
    let report = run
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(report["result"], "passed", "{report:#}");

    let envs = recorded_envs(tools.path());
    // init, plan and show of the one stack.
    assert!(envs.len() >= 3, "{} terraform processes", envs.len());
    for env in &envs {
        for (name, _) in secrets {
            assert!(!env.contains_key(name), "{name} reached terraform");
        }
        let all: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        assert!(
            !all.contains("LEAKCANARY"),
            "a secret reached terraform:\n{all}"
        );
        // Positive controls: the allowed, the ordinary and the configured.
        assert_eq!(
            env.get("ACTIONS_ID_TOKEN_REQUEST_URL").map(String::as_str),
            Some("https://oidc.example/passed")
        );
        assert_eq!(
            env.get("TFCTL_ORDINARY_VARIABLE").map(String::as_str),
            Some("inherited")
        );
        assert_eq!(
            env.get("TFCTL_CONFIGURED_ENV").map(String::as_str),
            Some("from-tfctl-yaml")
        );
        assert!(env.contains_key("TF_DATA_DIR"));
    }
}

#[test]
fn attack_pass_env_typo_is_a_config_error_not_a_silent_leak_or_loss() {
    let repo = Repo::from_example("offline");
    let config = repo.read("tfctl.yaml");
    repo.write(
        "tfctl.yaml",
        &format!("{config}terraform:\n  pass_env: [AWS_PROFILE]\n"),
    );
    let run = repo.tfctl().args(["validate"]).run().expect_code(2);
    assert!(
        run.stderr()
            .contains("terraform.pass_env: `AWS_PROFILE` is not withheld from terraform"),
        "{}",
        run.stderr()
    );
}

fn plan_fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terraform/plans")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Loads `rego` (package main) as the only policy.
fn engine_of(dir: &Path, rego: &str) -> tfctl::policy::PolicyEngine {
    let file = dir.join("echo.rego");
    std::fs::write(&file, rego).unwrap();
    tfctl::policy::PolicyEngine::load(&[file], &[], &["main".into()]).unwrap()
}

fn messages(verdict: &tfctl::policy::Verdict) -> Vec<String> {
    verdict
        .violations
        .iter()
        .chain(&verdict.warnings)
        .map(|v| format!("{} {}", v.rule, v.msg))
        .collect()
}

#[test]
fn attack_policy_message_echoes_sensitive_values_of_a_real_plan() {
    let dir = tempfile::tempdir().unwrap();
    // A policy author (or a writer who got a policy merged) quoting the
    // attribute a rule judges, in every rule kind, as string and as JSON.
    let engine = engine_of(
        dir.path(),
        r#"package main
deny contains sprintf("%s had base64 %s", [rc.address, rc.change.before.base64]) if some rc in input.resource_changes
violation contains {"msg": sprintf("%s before %v", [rc.address, rc.change.before])} if {
	some rc in input.resource_changes
	rc.type == "random_bytes"
}
warn contains sprintf("outputs foo=%s string=%s", [input.output_changes.foo.after, input.output_changes.string.after]) if input.output_changes.foo
"#,
    );
    let ctx = tfctl::policy::PolicyContext::default();

    let plan = plan_fixture("tf175.replace-sensitive.random_bytes.json");
    for secret in ["hxk5iA==", "87193988"] {
        assert!(plan.to_string().contains(secret), "fixture changed");
    }
    let msgs = messages(&engine.evaluate(&plan, &ctx).unwrap());
    assert_eq!(
        msgs,
        [
            "deny random_bytes.test had base64 (sensitive)",
            // The positive control: the public attributes are still quoted.
            r#"violation random_bytes.test before {"base64": "(sensitive)", "hex": "(sensitive)", "keepers": null, "length": 4}"#,
        ]
    );

    // A sensitive output (`bar`, shorter than MIN_REDACTED_CHARS: redacted
    // as a whole word) next to a public one (`foo`).
    let plan = plan_fixture("tf110.modules-count-sensitive-outputs.null_resource.json");
    let msgs = messages(&engine.evaluate(&plan, &ctx).unwrap());
    assert_eq!(msgs, ["warn outputs foo=(sensitive) string=foo"]);
}

/// A root module whose `password` variable is sensitive, stored in a
/// `terraform_data` (so the plan marks it in `after_sensitive` and in the
/// variables), and a policy that quotes it.
fn repo_with_a_sensitive_variable(password: &str) -> Repo {
    let repo = Repo::from_example("offline");
    repo.write(
        "modules/db/main.tf",
        r#"terraform {
  backend "local" {}
}

variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "password" {
  type      = string
  sensitive = true
}

resource "terraform_data" "db" {
  input = {
    kind     = "db"
    name     = var.name
    password = var.password
  }
}
"#,
    )
    .write(
        "policies/db.rego",
        r#"package main

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	rc.change.after.input.kind == "db"
	msg := sprintf("%s: db %s has the weak password %s (variable %s)", [rc.address, rc.change.after.input.name, rc.change.after.input.password, input.variables.password.value])
}
"#,
    )
    .write(
        "config/DB/orders/orders.tfvars",
        &format!(
            "environment = \"development\"\nname = \"development-db-orders\"\npassword = \"{password}\"\n"
        ),
    )
    .commit("a database with a password");
    repo
}

#[test]
fn attack_rego_quotes_a_sensitive_variable_into_the_report() {
    let secret = "hunter2-LEAKCANARY";
    let repo = repo_with_a_sensitive_variable(secret);
    for format in ["json", "text", "markdown"] {
        let run = repo
            .tfctl()
            .args(["validate", "--format", format])
            .run()
            .expect_code(1);
        let out = format!("{}{}", run.stdout(), run.stderr());
        assert!(!out.contains("LEAKCANARY"), "--format {format}:\n{out}");
        // The positive control: the violation itself is reported, with the
        // public name, and the secret's place is marked.
        assert!(
            out.contains(
                "terraform_data.db: db development-db-orders has the weak password (sensitive) (variable (sensitive))"
            ),
            "--format {format}:\n{out}"
        );
    }
}

/// The lines of `out` the Actions runner would take for a workflow
/// command: it splits at `\n` and at a lone `\r`, and a line is a command
/// when it starts with `::` after leading whitespace (.NET `TrimStart`, the
/// same set as Rust's `trim_start`), or holds the legacy `##[` anywhere.
fn workflow_commands(out: &str) -> Vec<&str> {
    out.split(['\n', '\r'])
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

/// Runs `tfctl validate --format <format>` and asserts neither stream
/// carries a workflow command; returns the run.
fn validate_without_commands(repo: &Repo, format: &str, code: i32) -> harness::Run {
    let run = repo
        .tfctl()
        .args(["validate", "--format", format])
        .run()
        .expect_code(code);
    for (stream, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
        let found = workflow_commands(&text);
        assert!(
            found.is_empty(),
            "--format {format}: {stream} emits {found:?}:\n{text}"
        );
    }
    run
}

#[test]
fn attack_directory_name_with_newline_emits_a_workflow_command() {
    let repo = Repo::from_example("offline");
    let dir = "config/S3/evil\n::warning::pwned-dir ##[error]pwned-legacy";
    repo.write(
        &format!("{dir}/logs.tfvars"),
        "environment = \"development\"\nname = \"development-s3-evil\"\nencrypted = true\ntags = {\n  Owner = \"platform\"\n  CostCenter = \"cc-1\"\n}\n",
    )
    .commit("a stack in a directory whose name has a newline");
    // Refused as an unsafe stack id before anything runs, and the refusal
    // itself (which quotes the path) emits no workflow command.
    for format in ["text", "markdown", "json"] {
        let run = validate_without_commands(&repo, format, 2);
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "{format}: {err}");
        assert!(err.contains("not a safe stack path"), "{format}: {err}");
        // The positive control: the path is named, escaped.
        assert!(err.contains("pwned-dir"), "{format}: {err}");
    }
}

#[test]
fn attack_environment_and_policy_message_with_newline_emit_workflow_commands() {
    let repo = Repo::from_example("offline");
    // The offline policy's `warn` quotes both the name and the environment.
    // An environment with a newline is refused (not declared), and the
    // refusal quoting it emits no command.
    repo.write(
        "config/S3/logs-dev/logs-dev.tfvars",
        "environment = \"development\\n::warning::pwned-env\\r::error::pwned-cr\"\nname = \"x\"\nencrypted = true\ntags = {\n  Owner = \"platform\"\n  CostCenter = \"cc-1\"\n}\n",
    )
    .commit("hostile environment");
    let run = validate_without_commands(&repo, "text", 2);
    assert!(
        run.stderr().contains("is not declared in tfctl.yaml"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("pwned-env"), "{}", run.stderr());
    // A declared environment with a hostile name: the policy's warning
    // quotes it, and still no command reaches the log.
    repo.write(
        "config/S3/logs-dev/logs-dev.tfvars",
        "environment = \"development\"\nname = \"x\\n::warning::pwned-policy ##[warning]pwned-legacy\"\nencrypted = true\ntags = {\n  Owner = \"platform\"\n  CostCenter = \"cc-1\"\n}\n",
    )
    .commit("hostile name");
    for format in ["text", "markdown", "json"] {
        let run = validate_without_commands(&repo, format, 0);
        // The positive control: the warning itself is reported.
        assert!(
            run.stdout().contains("should start with"),
            "{format}:\n{}",
            run.stdout()
        );
        assert!(run.stdout().contains("pwned-policy"), "{format}");
    }
}

#[test]
fn attack_stack_path_with_carriage_return_forges_a_command_in_an_error() {
    let repo = Repo::from_example("offline");
    repo.write(
        "config/S3/evil\r::warning::pwned-error/evil.tfvars",
        "name = \n",
    )
    .commit("a broken tfvars in a directory whose name has a CR");
    let run = validate_without_commands(&repo, "text", 2);
    // The positive control: the error is still reported, naming the path.
    let stderr = run.stderr();
    assert!(stderr.contains("tfctl: error: "), "{stderr}");
    assert!(stderr.contains("pwned-error"), "{stderr}");
    assert!(stderr.contains("not a safe stack path"), "{stderr}");
}

/// `(where, run text)` of every step with a `run:` in a workflow, a
/// composite action, or a bare list of steps.
fn run_blocks(doc: &serde_yaml::Value) -> Vec<(String, String)> {
    let steps_of = |steps: &serde_yaml::Value, at: &str, out: &mut Vec<(String, String)>| {
        for (i, step) in steps.as_sequence().into_iter().flatten().enumerate() {
            if let Some(run) = step.get("run").and_then(serde_yaml::Value::as_str) {
                out.push((format!("{at}[{i}]"), run.to_string()));
            }
        }
    };
    let mut out = Vec::new();
    steps_of(doc, "steps", &mut out);
    if let Some(steps) = doc.get("runs").and_then(|r| r.get("steps")) {
        steps_of(steps, "runs.steps", &mut out);
    }
    for (id, job) in doc
        .get("jobs")
        .and_then(serde_yaml::Value::as_mapping)
        .into_iter()
        .flatten()
    {
        if let Some(steps) = job.get("steps") {
            let at = format!("jobs.{}.steps", id.as_str().unwrap_or("?"));
            steps_of(steps, &at, &mut out);
        }
    }
    out
}

/// The `run:` blocks that expand `${{ … }}` into shell text.
fn expanded_in_run(doc: &serde_yaml::Value) -> Vec<String> {
    run_blocks(doc)
        .into_iter()
        .filter(|(_, run)| run.contains("${{"))
        .map(|(at, run)| format!("{at}: {run}"))
        .collect()
}

#[test]
fn attack_matrix_stack_list_injects_shell_through_a_readme_workflow() {
    // The check itself catches the README's old shard step.
    let old: serde_yaml::Value = serde_yaml::from_str(
        "jobs:\n  shard:\n    steps:\n      - run: tfctl validate --files ${{ matrix.files }}\n",
    )
    .unwrap();
    assert_eq!(expanded_in_run(&old).len(), 1);

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut docs: Vec<(String, String)> = Vec::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body.find("\n```").expect("a closed yaml block");
        docs.push(("README.md".into(), body[..end].to_string()));
        rest = &body[end..];
    }
    for dir in ["examples/config-repo", "examples/controller-repo"] {
        let workflows = root.join(dir).join(".github/workflows");
        for entry in std::fs::read_dir(&workflows).unwrap() {
            let path = entry.unwrap().path();
            docs.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    let mut runs = 0;
    for (file, text) in &docs {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
        runs += run_blocks(&doc).len();
        let found = expanded_in_run(&doc);
        assert!(
            found.is_empty(),
            "{file}: `${{{{ }}}}` inside run: {found:#?}"
        );
    }
    // The positive control: the README's matrix shard step and the
    // examples' steps were read.
    let shard = docs
        .iter()
        .find(|(_, t)| t.contains("shard:"))
        .expect("the README's matrix workflow");
    let shard: serde_yaml::Value = serde_yaml::from_str(&shard.1).unwrap();
    assert!(
        run_blocks(&shard)
            .iter()
            .any(|(_, run)| run.contains("\"${files[@]}\"")),
        "the shard step passes its files as an array"
    );
    assert!(runs >= 8, "only {runs} run: blocks found");
}
