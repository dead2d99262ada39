//! What a change affects, end to end on real git repositories with real
//! Terraform: module and policy changes select the stacks they affect (with
//! reasons), `--files` takes paths as a person types them, the graph stays
//! whole (a deleted stack others depend on, order through unchanged
//! stacks, an `order` service with no stacks), and a controller PR plans
//! the config repo's stacks its modules affect.

use std::path::Path;

use serde_json::Value;

use crate::harness::{report_ids as ids, report_stack, Repo, Tfctl};
use crate::support::fake_github::{FakeGithub, PrSeed, BOT_LOGIN};
use crate::support::keys::CONTROLLER_KEY;

fn reasons(report: &Value, id: &str) -> Vec<String> {
    serde_json::from_value(report_stack(report, id)["reasons"].clone()).unwrap()
}

/// The stacks `graph --format json` selects with `args`, and their reasons.
fn graph(cwd: &Path, args: &[&str]) -> Value {
    Tfctl::new(cwd)
        .args(["graph", "--format", "json"])
        .args(args)
        .run()
        .expect_code(0)
        .json()
}

fn graph_ids(g: &Value) -> Vec<String> {
    let mut ids: Vec<String> = g["reasons"].as_object().unwrap().keys().cloned().collect();
    ids.sort();
    ids
}

/// On `main`: `change` then commit; back on a fresh `feature` from it.
fn on_main(repo: &Repo, change: impl FnOnce(&Repo)) {
    repo.git(&["checkout", "-q", "main"]);
    change(repo);
    repo.commit("base change");
    repo.git(&["checkout", "-q", "-B", "feature"]);
}

#[test]
fn a_module_change_plans_exactly_its_stacks_with_reasons() {
    let repo = Repo::from_example("offline");
    repo.touch_tfvars("modules/s3/main.tf")
        .commit("change the s3 module");
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report), ["S3/data-lake-prod", "S3/logs-dev"]);
    for id in ["S3/data-lake-prod", "S3/logs-dev"] {
        assert_eq!(reasons(&report, id), ["modules/s3/main.tf"]);
    }
    for s in report["stacks"].as_array().unwrap() {
        assert_eq!(s["status"], "passed", "{s:#}");
    }

    // Text: one short line under each stack; markdown: one line.
    let text = repo
        .tfctl()
        .args(["validate"])
        .run()
        .expect_code(0)
        .stdout();
    assert_eq!(
        text.matches("    via modules/s3/main.tf").count(),
        2,
        "{text}"
    );
    let md = repo
        .tfctl()
        .args(["validate", "--format", "markdown"])
        .run()
        .expect_code(0)
        .stdout();
    assert!(
        md.contains("Selected by changes to `modules/s3/main.tf` (2 stacks)."),
        "{md}"
    );

    // The graph and the matrix select the same stacks, with the reasons.
    let g = graph(repo.path(), &[]);
    assert_eq!(graph_ids(&g), ["S3/data-lake-prod", "S3/logs-dev"]);
    assert_eq!(
        g["reasons"]["S3/logs-dev"],
        serde_json::json!(["modules/s3/main.tf"])
    );
    let matrix = repo
        .tfctl()
        .args(["validate", "--emit-matrix"])
        .run()
        .expect_code(0)
        .json();
    let jobs = matrix["include"].as_array().unwrap();
    let stacks: Vec<&Value> = jobs
        .iter()
        .flat_map(|j| j["stacks"].as_array().unwrap())
        .collect();
    assert_eq!(stacks.len(), 2, "{matrix:#}");
    assert_eq!(
        jobs[0]["reasons"],
        serde_json::json!(["modules/s3/main.tf"])
    );

    // Positive control: a module no stack uses selects nothing.
    let repo = Repo::from_example("offline");
    repo.write("modules/unused/main.tf", "# nobody calls this\n")
        .commit("an unused module");
    let g = graph(repo.path(), &[]);
    assert!(graph_ids(&g).is_empty(), "{g:#}");
}

#[test]
fn a_change_to_a_called_module_plans_the_stacks_of_every_caller() {
    let repo = Repo::from_example("offline");
    on_main(&repo, |repo| {
        repo.write(
            "modules/shared/naming/main.tf",
            "variable \"name\" {\n  type = string\n}\n\noutput \"name\" {\n  value = var.name\n}\n",
        );
        // KMS calls it directly, Lambda through a second local module.
        let kms = repo.read("modules/kms/main.tf");
        repo.write(
            "modules/kms/main.tf",
            &format!("{kms}\nmodule \"naming\" {{\n  source = \"../shared/naming\"\n  name   = var.name\n}}\n"),
        );
        repo.write(
            "modules/shared/wrapper/main.tf",
            "variable \"name\" {\n  type = string\n}\n\nmodule \"inner\" {\n  source = \"../naming\"\n  name   = var.name\n}\n",
        );
        let lambda = repo.read("modules/lambda/main.tf");
        repo.write(
            "modules/lambda/main.tf",
            &format!("{lambda}\nmodule \"wrapped\" {{\n  source = \"../shared/wrapper\"\n  name   = var.name\n}}\n"),
        );
    });
    repo.write(
        "modules/shared/naming/main.tf",
        "variable \"name\" {\n  type = string\n}\n\noutput \"name\" {\n  value = lower(var.name)\n}\n",
    )
    .commit("naming: lower case");
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report), ["KMS/encryption-key", "Lambda/ingest"]);
    assert_eq!(
        reasons(&report, "Lambda/ingest"),
        ["modules/shared/naming/main.tf"]
    );
}

#[test]
fn a_policy_change_plans_every_stack() {
    let repo = Repo::from_example("offline");
    repo.touch_tfvars("policies/offline.rego")
        .commit("tighten a guardrail");
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report).len(), 5, "{report:#}");
    for id in ids(&report) {
        assert_eq!(reasons(&report, &id), ["policies/offline.rego"]);
    }
    // Positive control: a file beside the policies is no policy.
    let repo = Repo::from_example("offline");
    repo.write("NOTES.md", "notes\n").commit("notes");
    let g = graph(repo.path(), &[]);
    assert!(graph_ids(&g).is_empty(), "{g:#}");
}

#[test]
fn files_are_taken_as_typed() {
    let repo = Repo::from_example("offline");
    let root = repo.path();
    let iam = ["IAM/admin-role"];
    // From the repository root, as tab completion gives it.
    let g = graph(
        root,
        &["--files", "config/IAM/admin-role/admin-role.tfvars"],
    );
    assert_eq!(graph_ids(&g), iam);
    assert_eq!(
        g["reasons"]["IAM/admin-role"],
        serde_json::json!(["IAM/admin-role/admin-role.tfvars"])
    );
    // Relative to the config root (what tfctl prints, what the matrix passes).
    let g = graph(root, &["--files", "IAM/admin-role/admin-role.tfvars"]);
    assert_eq!(graph_ids(&g), iam);
    // From a subdirectory.
    let g = graph(
        &root.join("config/IAM"),
        &["--files", "admin-role/admin-role.tfvars"],
    );
    assert_eq!(graph_ids(&g), iam);
    // Absolute, inside the repository.
    let abs = root.join("config/IAM/admin-role/admin-role.tfvars");
    let g = graph(root, &["--files", abs.to_str().unwrap()]);
    assert_eq!(graph_ids(&g), iam);
    // A stack directory, and a directory of stacks.
    let g = graph(root, &["--files", "config/IAM/admin-role/"]);
    assert_eq!(graph_ids(&g), iam);
    let g = graph(root, &["--files", "config/S3"]);
    assert_eq!(graph_ids(&g), ["S3/data-lake-prod", "S3/logs-dev"]);
    // A module file selects its stacks.
    let g = graph(root, &["--files", "modules/kms/main.tf"]);
    assert_eq!(graph_ids(&g), ["KMS/encryption-key"]);

    // What names nothing is exit 2 naming it and the config root.
    let config_root = root.join("config").canonicalize().unwrap();
    repo.write("config/README.md", "stacks live here\n");
    for bad in [
        "config/IAM/admin-rol.tfvars",
        "config/README.md",
        "config/IAM/none",
    ] {
        if bad.ends_with("none") {
            std::fs::create_dir_all(root.join(bad)).unwrap();
        }
        let run = repo
            .tfctl()
            .args(["graph", "--files", bad])
            .run()
            .expect_code(2);
        let err = run.stderr();
        assert!(err.contains(bad), "{bad}: {err}");
        assert!(
            err.contains(&config_root.display().to_string()),
            "{bad}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let run = repo
        .tfctl()
        .args(["validate", "--files", "/nonexistent-tfctl/x.tfvars"])
        .run()
        .expect_code(2);
    assert!(run.stderr().contains("no such file"), "{}", run.stderr());
}

#[test]
fn deleting_a_stack_an_unchanged_stack_depends_on_fails_naming_it() {
    let repo = Repo::from_example("offline");
    // S3/data-lake-prod names it (`kms_key`) and is not changed.
    repo.remove("config/KMS/encryption-key/encryption-key.tfvars")
        .commit("retire the key");
    let run = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(1);
    let report = run.json();
    assert_eq!(ids(&report), ["KMS/encryption-key"]);
    let kms = &report["stacks"][0];
    assert_eq!(kms["status"], "failed");
    assert_eq!(kms["violations"][0]["namespace"], "tfctl.graph");
    assert!(
        kms["violations"][0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("deleted, but S3/data-lake-prod still depends on it"),
        "{kms:#}"
    );
    // Positive control: once nothing names it, the destroy passes.
    let text = repo.read("config/S3/data-lake-prod/data-lake-prod.tfvars");
    repo.write(
        "config/S3/data-lake-prod/data-lake-prod.tfvars",
        &text.replace("kms_key     = \"KMS/encryption-key\"\n", ""),
    )
    .commit("stop using the key");
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(ids(&report), ["KMS/encryption-key", "S3/data-lake-prod"]);
}

const CHAIN_MODULE: &str = r#"terraform {
  backend "local" {}
}

variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "upstream" {
  type    = string
  default = ""
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "terraform_data" "link" {
  input = {
    kind     = "link"
    name     = var.name
    upstream = var.upstream
    tags     = merge(var.tags, { Environment = var.environment })
  }
}
"#;

fn chain_tfvars(name: &str, upstream: Option<&str>) -> String {
    let mut text = format!(
        "environment = \"production\"\nname        = \"production-chain-{name}\"\ntags = {{\n  Owner      = \"platform\"\n  CostCenter = \"cc-100\"\n}}\n"
    );
    if let Some(up) = upstream {
        text.push_str(&format!("depends_on = [\"{up}\"]\nupstream   = \"{up}\"\n"));
    }
    text
}

#[test]
fn changed_stacks_are_ordered_through_an_unchanged_one() {
    let repo = Repo::from_example("offline");
    on_main(&repo, |repo| {
        repo.write("modules/chain/main.tf", CHAIN_MODULE)
            .write("config/Chain/a/a.tfvars", &chain_tfvars("a", None))
            .write(
                "config/Chain/b/b.tfvars",
                &chain_tfvars("b", Some("Chain/a")),
            )
            .write(
                "config/Chain/c/c.tfvars",
                &chain_tfvars("c", Some("Chain/b")),
            );
    });
    repo.touch_tfvars("config/Chain/a/a.tfvars")
        .touch_tfvars("config/Chain/c/c.tfvars")
        .commit("change a and c");
    let report = repo
        .tfctl()
        .args(["validate", "--format", "json", "--parallelism", "2"])
        .run()
        .expect_code(0)
        .json();
    // B is not planned; C starts after A finishes (the run's DAG).
    assert_eq!(ids(&report), ["Chain/a", "Chain/c"]);
    assert_eq!(
        report["waves"],
        serde_json::json!([["Chain/a"], ["Chain/c"]])
    );
    assert_eq!(report["edges"], serde_json::json!([["Chain/a", "Chain/c"]]));

    // Positive control: without B's edge, A and C are one wave.
    let b = repo.read("config/Chain/b/b.tfvars");
    repo.write(
        "config/Chain/b/b.tfvars",
        &b.replace("depends_on = [\"Chain/a\"]\nupstream   = \"Chain/a\"\n", ""),
    );
    let g = graph(
        repo.path(),
        &["--files", "config/Chain/a", "config/Chain/c"],
    );
    assert_eq!(g["waves"], serde_json::json!([["Chain/a", "Chain/c"]]));
}

#[test]
fn an_order_rule_naming_a_service_without_stacks_is_a_warning() {
    let repo = Repo::from_example("offline");
    let cfg = repo.read("tfctl.yaml");
    repo.write(
        "tfctl.yaml",
        &cfg.replace("  - [IAM, KMS]\n", "  - [IAM, KMS, netwrk]\n"),
    );
    let run = repo
        .tfctl()
        .args(["graph", "--files", "IAM/admin-role/admin-role.tfvars"])
        .run()
        .expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("tfctl: warning: ") && err.contains("order names service `netwrk`"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Positive control: the example's own order names only its services.
    repo.write("tfctl.yaml", &cfg);
    let run = repo
        .tfctl()
        .args(["graph", "--files", "IAM/admin-role/admin-role.tfvars"])
        .run()
        .expect_code(0);
    assert_eq!(run.stderr(), "");
}

const CONTROLLER: &str = "acme/controller";

/// The two-repo model on a controller PR: the controller checkout (the
/// offline example without its stacks) at the PR head, the config repo's
/// default branch checked out beside it.
#[test]
fn a_controller_pr_plans_the_config_stacks_its_module_change_affects() {
    let controller = Repo::from_example("offline");
    let config = Repo::from_example("offline");
    // The stacks live in the config repo only.
    on_main(&controller, |repo| {
        std::fs::remove_dir_all(repo.path().join("config")).unwrap();
        std::fs::remove_dir_all(repo.path().join("config-violation")).unwrap();
    });
    controller
        .touch_tfvars("modules/kms/main.tf")
        .commit("kms: a comment");
    config.git(&["checkout", "-q", "main"]);
    let head = controller.git(&["rev-parse", "HEAD"]).trim().to_string();

    let gh = FakeGithub::start();
    let pr = gh.seed_pr(
        CONTROLLER,
        PrSeed::new("feature", "main")
            .head_sha(&head)
            .author("alice")
            .files(&["modules/kms/main.tf"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/events/pull_request.opened.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    event["number"] = pr.into();
    event["pull_request"]["number"] = pr.into();
    event["pull_request"]["head"]["sha"] = head.clone().into();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();

    let config_root = config.path().join("config");
    let run = controller
        .tfctl()
        .args(["validate", "--format", "json", "--config-root"])
        .args([config_root.to_str().unwrap()])
        .in_actions("pull_request", &event_path, CONTROLLER, dir.path())
        .env("TFCTL_SIGNING_KEY", CONTROLLER_KEY)
        .envs(gh.env_vars())
        .run();
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    // stdout: `::add-mask::` lines, then the JSON report.
    let stdout = run.stdout();
    let json: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::"))
        .collect::<Vec<_>>()
        .join("\n");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(ids(&report), ["KMS/encryption-key"]);
    assert_eq!(
        reasons(&report, "KMS/encryption-key"),
        ["modules/kms/main.tf"]
    );
    // Reported on the controller PR like any validation.
    let comments: Vec<String> = gh
        .comments(CONTROLLER, pr)
        .into_iter()
        .filter(|c| c.user == BOT_LOGIN)
        .map(|c| c.body)
        .collect();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("Selected by changes to `modules/kms/main.tf` (1 stack)."),
        "{}",
        comments[0]
    );
    assert!(gh
        .labels(CONTROLLER, pr)
        .contains(&"opa-passed".to_string()));

    // Positive control: a checkout that is neither the head is refused.
    controller.git(&["checkout", "-q", "main"]);
    let run = controller
        .tfctl()
        .args(["validate", "--config-root"])
        .args([config_root.to_str().unwrap()])
        .in_actions("pull_request", &event_path, CONTROLLER, dir.path())
        .envs(gh.env_vars())
        .run()
        .expect_code(2);
    assert!(
        run.stderr().contains("is not the PR head"),
        "{}",
        run.stderr()
    );
}
