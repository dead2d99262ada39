//! The example repositories a platform team copies (`examples/config-repo`,
//! `examples/controller-repo`) hang together: every `tfctl.yaml` loads with
//! tfctl's own parser, every stack maps to a root module that declares the
//! variables its tfvars and its environment set, `depends_on` names real
//! stacks, both halves agree on environments and approvers, and the
//! controller's policies pass their own tests and catch what they promise on
//! real AWS plans. Linting (actionlint, zizmor, schema, fmt) is scripts/lint.sh.
//!
//! What this cannot check offline: `terraform validate` of the AWS modules
//! needs the AWS provider, which is not installable without a registry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::Expression;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config_repo() -> PathBuf {
    root().join("examples/config-repo")
}

fn controller_repo() -> PathBuf {
    root().join("examples/controller-repo")
}

fn load(path: &Path) -> tfctl::config::Config {
    tfctl::config::load(path).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message))
}

/// Every `*.tfvars` under `dir`, as (stack id, file).
fn stacks(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') {
                pending.push(path);
            } else if name.ends_with(".tfvars") {
                let id = path
                    .parent()
                    .unwrap()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(id, path);
            }
        }
    }
    out
}

fn parse_hcl(path: &Path) -> hcl::Body {
    let text = std::fs::read_to_string(path).unwrap();
    hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn string_attr(body: &hcl::Body, key: &str) -> Option<String> {
    body.attributes()
        .find(|a| a.key() == key)
        .map(|a| match a.expr() {
            Expression::String(s) => s.clone(),
            other => panic!("`{key}` is not a string: {other:?}"),
        })
}

fn string_list_attr(body: &hcl::Body, key: &str) -> Vec<String> {
    match body
        .attributes()
        .find(|a| a.key() == key)
        .map(hcl::Attribute::expr)
    {
        None => Vec::new(),
        Some(Expression::Array(items)) => items
            .iter()
            .map(|e| match e {
                Expression::String(s) => s.clone(),
                other => panic!("`{key}` holds a non-string: {other:?}"),
            })
            .collect(),
        Some(other) => panic!("`{key}` is not a list: {other:?}"),
    }
}

/// Names of the `variable` blocks of a root module (all its `*.tf`).
fn declared_variables(module: &Path) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for entry in std::fs::read_dir(module).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tf") {
            for block in parse_hcl(&path).blocks() {
                if block.identifier() == "variable" {
                    vars.insert(block.labels()[0].as_str().to_string());
                }
            }
        }
    }
    vars
}

#[test]
fn every_example_tfctl_yaml_loads() {
    for path in [
        config_repo().join("tfctl.yaml"),
        controller_repo().join("tfctl.yaml"),
    ] {
        let config = load(&path);
        assert!(!config.environments.is_empty(), "{}", path.display());
    }
}

#[test]
fn every_stack_maps_to_a_module_that_declares_its_inputs() {
    let controller = load(&controller_repo().join("tfctl.yaml"));
    let found = stacks(&config_repo());
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        [
            "IAM/admin-role",
            "IAM/lambda-exec-role",
            "KMS/encryption-key",
            "Lambda/thumbnailer",
            "S3/app-logs-dev",
            "S3/data-lake-prod"
        ]
    );
    for (id, tfvars) in &found {
        let service = id.split('/').next().unwrap();
        let module = controller
            .modules_root
            .join(controller.modules.module_for(service));
        assert!(
            module.is_dir(),
            "{id}: no root module at {}",
            module.display()
        );
        let declared = declared_variables(&module);
        let body = parse_hcl(tfvars);

        // `depends_on` is tfctl's; Terraform reserves the name.
        for attr in body.attributes().filter(|a| a.key() != "depends_on") {
            assert!(
                declared.contains(attr.key()),
                "{id}: `{}` is not a variable of {}",
                attr.key(),
                module.display()
            );
        }
        let environment = string_attr(&body, "environment")
            .unwrap_or_else(|| controller.default_environment.clone());
        let env = controller
            .environments
            .get(&environment)
            .unwrap_or_else(|| panic!("{id}: environment `{environment}` not in tfctl.yaml"));
        for var in env.variables.keys() {
            assert!(
                declared.contains(var),
                "{id}: {environment} sets `{var}`, which {} does not declare",
                module.display()
            );
        }
        for dep in string_list_attr(&body, "depends_on") {
            assert!(
                found.contains_key(&dep),
                "{id}: depends_on `{dep}` is no stack"
            );
        }
        // A policy document is a file beside the stack's tfvars (the module
        // reads it through tfctl_stack_dir).
        if let Some(file) = string_attr(&body, "bucket_policy_file") {
            let path = tfvars.parent().unwrap().join(&file);
            assert!(path.is_file(), "{id}: {file} does not exist");
            assert!(declared.contains("tfctl_stack_dir"), "{id}");
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
}

#[test]
fn config_and_controller_agree_on_environments_and_approvers() {
    let config = load(&config_repo().join("tfctl.yaml"));
    let controller = load(&controller_repo().join("tfctl.yaml"));
    let summary = |c: &tfctl::config::Config| {
        c.environments
            .iter()
            .map(|(name, e)| (name.clone(), e.branch.clone(), e.approvals))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&config), summary(&controller));
    assert_eq!(config.approvers.teams, controller.approvers.teams);
    assert_eq!(config.approvers.users, controller.approvers.users);
    assert_eq!(config.github.bot_login, controller.github.bot_login);
    assert_eq!(controller.backend.kind, "s3");
    assert!(controller
        .backend
        .settings
        .get("key")
        .is_some_and(|k| k == "{key}"));
}

/// A regorus engine with the controller's policies (tests included).
fn policy_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    let dir = controller_repo().join("policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "policies and their tests");
    for file in files {
        engine
            .add_policy_from_file(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    engine
}

#[test]
fn controller_policies_pass_their_own_tests() {
    let mut engine = policy_engine();
    let source = std::fs::read_to_string(controller_repo().join("policies/aws_test.rego")).unwrap();
    let tests: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("test_"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(tests.len() >= 5, "{tests:?}");
    for test in tests {
        let value = engine
            .eval_rule(format!("data.main.test_{test}"))
            .unwrap_or_else(|e| panic!("test_{test}: {e}"));
        assert_eq!(value, regorus::Value::from(true), "test_{test} failed");
    }
}

fn denials(engine: &mut regorus::Engine, plan: &str) -> Vec<String> {
    let path = root().join("tests/fixtures/terraform/plans").join(plan);
    engine
        .set_input_json(&std::fs::read_to_string(path).unwrap())
        .unwrap();
    let deny = engine.eval_rule("data.main.deny".into()).unwrap();
    let mut msgs: Vec<String> = deny
        .as_set()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap().to_string())
        .collect();
    msgs.sort();
    msgs
}

#[test]
fn controller_policies_catch_real_aws_plans() {
    let mut engine = policy_engine();

    // checkov's tagged plan: a KMS key without rotation, a public-read bucket,
    // and buckets created with neither a public access block nor encryption.
    let msgs = denials(&mut engine, "aws.tf012.create-55-kms-s3-iam-rds-eks.json");
    for expected in [
        "aws_kms_key.logs_key: KMS keys must rotate (enable_key_rotation = true)",
        "aws_s3_bucket.data: public ACL \"public-read\"",
        "aws_s3_bucket.data: a new bucket needs an aws_s3_bucket_public_access_block",
        "aws_s3_bucket.financials: a new bucket needs an aws_s3_bucket_server_side_encryption_configuration",
    ] {
        assert!(msgs.iter().any(|m| m == expected), "missing {expected:?} in {msgs:#?}");
    }
    // The logs bucket has inline encryption: only its public access block is missing.
    assert!(!msgs.iter().any(|m| m
        == "aws_s3_bucket.logs: a new bucket needs an aws_s3_bucket_server_side_encryption_configuration"));

    // Nested modules: one public access block turns block_public_acls off,
    // and one ACL is public-read-write; the other blocks are fine.
    let msgs = denials(&mut engine, "aws.tf124.nested-modules.s3_bucket.json");
    for expected in [
        "module.s3_bucket.aws_s3_bucket_acl.this[0]: public ACL \"public-read-write\"",
        "module.s3_bucket.aws_s3_bucket_public_access_block.this[0]: block_public_acls must be true",
    ] {
        assert!(msgs.iter().any(|m| m == expected), "missing {expected:?} in {msgs:#?}");
    }
    assert!(
        !msgs
            .iter()
            .any(|m| m.starts_with("module.s3_module.aws_s3_bucket_public_access_block")),
        "{msgs:#?}"
    );
}
