//! The policy library (`policies/`) judged on real `terraform show -json`
//! plans (tests/fixtures/terraform/, provenance in tests/fixtures/SOURCES.md).
//!
//! Two proofs: (1) each plan gets the verdict written down in
//! tests/fixtures/terraform/EXPECTED.md (which plan breaks which rule and
//! why), and (2) the real Go OPA engine (`PyPI` opa-golib-python-bindings,
//! driven by `tests/policy_opa.py`) gives exactly the same deny/warn sets as
//! regorus on every case. Without the Python package the parity test skips
//! loudly, unless `TFCTL_REQUIRE_OPA=1` (CI) makes that a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::policy_common;

use tfctl::policy::{PolicyContext, PolicyEngine, Verdict};

const NAMESPACES: [&str; 5] = [
    "terraform.naming",
    "terraform.tags",
    "terraform.encryption",
    "terraform.access",
    "terraform.change_safety",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plan_path(name: &str) -> PathBuf {
    let dir = if name == "gke-show.json" {
        "conftest"
    } else {
        "plans"
    };
    root().join("tests/fixtures/terraform").join(dir).join(name)
}

/// One row of EXPECTED.md.
struct Case {
    /// Short name used in messages and EXPECTED.md.
    id: &'static str,
    plan: &'static str,
    environment: &'static str,
    service: &'static str,
    /// Environments of the whole change (one-environment-per-PR).
    environments: &'static [&'static str],
    /// A team's data document (`data.tfctl_policy...`), if any.
    data: Option<serde_json::Value>,
    /// Rewrites the real plan first (derived cases only).
    derive: Option<fn(&mut serde_json::Value)>,
    /// Expected number of deny messages per namespace suffix (absent = 0).
    deny: &'static [(&'static str, usize)],
    warn: usize,
    /// Messages that must be among the violations (exact text).
    must_deny: &'static [&'static str],
    /// Messages that must be among the warnings (exact text).
    must_warn: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "terragoat-dev",
            plan: "aws.tf012.create-55-kms-s3-iam-rds-eks.json",
            environment: "dev",
            service: "acme",
            environments: &["dev"],
            data: None,
            derive: None,
            deny: &[
                ("naming", 24),
                ("tags", 53),
                ("encryption", 8),
                ("access", 8),
            ],
            warn: 7,
            must_deny: &[
                "aws_s3_bucket.data: public S3 ACL \"public-read\"",
                "aws_s3_bucket.data_science: S3 bucket has no aws_s3_bucket_public_access_block",
                "aws_security_group.web-node: ingress from 0.0.0.0/0 reaches admin port 22",
                "aws_kms_key.logs_key: KMS key rotation is not enabled (enable_key_rotation)",
                "aws_db_instance.default: database storage is not encrypted (storage_encrypted)",
                "aws_ebs_volume.web_host_storage: EBS volume is not encrypted (set encrypted = true)",
                "aws_s3_bucket.financials: S3 bucket has no server-side encryption configuration",
                "aws_s3_bucket.data: tag Environment is \"123456789123-acme-corp\" but the stack's environment is \"dev\"",
                "aws_kms_key.logs_key: missing required tags CostCenter, Environment, Owner",
                "aws_s3_bucket.data: bucket \"123456789123-acme-corp-data\" does not follow the naming convention dev-acme-<name>",
            ],
            must_warn: &[
                "aws_iam_user_policy.userpolicy: IAM policy allows every s3:* action on resource \"*\"",
            ],
        },
        Case {
            id: "iam-policies-dev",
            plan: "aws.tf115.create-iam-role-policies.json",
            environment: "dev",
            service: "iam",
            environments: &["dev"],
            data: None,
            derive: None,
            deny: &[("naming", 6), ("tags", 3)],
            warn: 4,
            must_deny: &["aws_iam_role.example: missing required tags CostCenter, Environment, Owner"],
            must_warn: &[
                "aws_iam_role_policy.fail_1: IAM policy allows every iam:* action on resource \"*\"",
                "aws_iam_policy.policy_pass: IAM policy allows every s3:* action on resource \"*\"",
            ],
        },
        Case {
            id: "nested-s3-dev",
            plan: "aws.tf124.nested-modules.s3_bucket.json",
            environment: "dev",
            service: "storage",
            environments: &["dev"],
            data: None,
            derive: None,
            deny: &[
                ("naming", 4),
                ("tags", 4),
                ("encryption", 4),
                ("access", 5),
            ],
            warn: 0,
            must_deny: &[
                "module.s3_bucket.aws_s3_bucket_acl.this[0]: public S3 ACL \"public-read-write\"",
                "module.s3_bucket.aws_s3_bucket_public_access_block.this[0]: restrict_public_buckets is not true",
                "module.s3_module.module.s3_submodule.aws_s3_bucket.submodule_bucket: S3 bucket has no server-side encryption configuration",
            ],
            must_warn: &[],
        },
        Case {
            id: "nested-s3-default-tags (derived)",
            plan: "aws.tf124.nested-modules.s3_bucket.json",
            environment: "dev",
            service: "storage",
            environments: &["dev"],
            data: None,
            derive: Some(add_default_tags),
            deny: &[
                ("naming", 4),
                ("tags", 4),
                ("encryption", 4),
                ("access", 5),
            ],
            warn: 0,
            must_deny: &[
                "aws_s3_bucket.root_bucket: missing required tags Environment",
                "module.s3_module.module.s3_submodule.aws_s3_bucket.submodule_bucket: missing required tags Environment",
            ],
            must_warn: &[],
        },
        Case {
            id: "mixed-production",
            plan: "aws.tf100.mixed-delete-update-create.iam-cloudwatch.json",
            environment: "production",
            service: "metrics",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("naming", 1), ("tags", 3), ("change_safety", 2)],
            warn: 0,
            must_deny: &[
                "aws_cloudwatch_event_rule.Metricos_custom_alert_schedule_frequent[0]: would be destroyed in production; add it to tfctl_policy.change_safety.allow_destroy to proceed",
                "aws_security_group.lambda_sg: missing required tags CostCenter, Environment",
            ],
            must_warn: &[],
        },
        Case {
            id: "mixed-production-team-settings",
            plan: "aws.tf100.mixed-delete-update-create.iam-cloudwatch.json",
            environment: "production",
            service: "metrics-lambda",
            environments: &["production"],
            data: Some(serde_json::json!({"tfctl_policy": {
                "naming": {"pattern": "^{service}-[a-z0-9]+(-[a-z0-9]+)*$"},
                "tags": {"required": ["Owner", "Team"]},
                "change_safety": {"allow_destroy": [
                    "aws_cloudwatch_event_rule.Metricos_custom_alert_schedule_frequent[0]",
                    "aws_cloudwatch_event_target.Metricos_custom_alert_event_target_frequent[0]"
                ]}
            }})),
            derive: None,
            deny: &[],
            warn: 0,
            must_deny: &[],
            must_warn: &[],
        },
        Case {
            id: "secret-replace-production",
            plan: "aws.tf124.replace-create-before-destroy.secretsmanager.json",
            environment: "production",
            service: "app",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("naming", 1), ("tags", 1), ("change_safety", 1)],
            warn: 0,
            must_deny: &["aws_secretsmanager_secret.default: would be replaced in production; add it to tfctl_policy.change_safety.allow_destroy to proceed"],
            must_warn: &[],
        },
        Case {
            id: "sg-rule-update-dev",
            plan: "aws.tf146.update.security_group_rule.json",
            environment: "dev",
            service: "net",
            environments: &["dev"],
            data: None,
            derive: None,
            deny: &[],
            warn: 0,
            must_deny: &[],
            must_warn: &[],
        },
        Case {
            id: "tainted-replace-production",
            plan: "tf1150.replace-tainted.null_resource.json",
            environment: "production",
            service: "app",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("change_safety", 1)],
            warn: 0,
            must_deny: &["null_resource.example: would be replaced in production (replace_because_tainted); add it to tfctl_policy.change_safety.allow_destroy to proceed"],
            must_warn: &[],
        },
        Case {
            id: "tainted-replace-staging",
            plan: "tf1150.replace-tainted.null_resource.json",
            environment: "staging",
            service: "app",
            environments: &["staging"],
            data: None,
            derive: None,
            deny: &[],
            warn: 0,
            must_deny: &[],
            must_warn: &[],
        },
        Case {
            id: "delete-production",
            plan: "tf175.delete.terraform_data.json",
            environment: "production",
            service: "app",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("change_safety", 1)],
            warn: 0,
            must_deny: &["terraform_data.foo-bar: would be destroyed in production (delete_because_no_resource_config); add it to tfctl_policy.change_safety.allow_destroy to proceed"],
            must_warn: &[],
        },
        Case {
            id: "sensitive-replace-production",
            plan: "tf175.replace-sensitive.random_bytes.json",
            environment: "production",
            service: "app",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("change_safety", 1)],
            warn: 0,
            must_deny: &["random_bytes.test: would be replaced in production (replace_because_cannot_update); add it to tfctl_policy.change_safety.allow_destroy to proceed"],
            must_warn: &[],
        },
        Case {
            id: "replace-two-environments",
            plan: "tf175.replace.null_resource.json",
            environment: "production",
            service: "app",
            environments: &["production", "staging"],
            data: None,
            derive: None,
            deny: &[("change_safety", 2)],
            warn: 0,
            must_deny: &[
                "null_resource.foo-bar: would be replaced in production (replace_because_cannot_update); add it to tfctl_policy.change_safety.allow_destroy to proceed",
                "this change touches 2 environments (production, staging); open one pull request per environment",
            ],
            must_warn: &[],
        },
        Case {
            id: "tofu-replace-production",
            plan: "tofu.replace-paths.requires-replace.test_instance.json",
            environment: "production",
            service: "app",
            environments: &["production"],
            data: None,
            derive: None,
            deny: &[("change_safety", 1)],
            warn: 0,
            must_deny: &["test_instance.test: would be replaced in production (replace_because_cannot_update); add it to tfctl_policy.change_safety.allow_destroy to proceed"],
            must_warn: &[],
        },
        clean("update-production", "tf175.update.terraform_data.json", "production"),
        clean("no-changes-production", "tf175.no-resource-changes.json", "production"),
        clean("null-modules-dev", "tf110.modules-count-sensitive-outputs.null_resource.json", "dev"),
        clean("local-file-checks-dev", "tf154.modules-checks-sensitive.local_file.json", "dev"),
        Case {
            id: "gke-conftest-example-dev",
            plan: "gke-show.json",
            environment: "dev",
            service: "app",
            environments: &["dev"],
            data: None,
            derive: None,
            deny: &[("naming", 2)],
            warn: 0,
            must_deny: &["google_container_cluster.primary: name \"my-gke-cluster\" does not follow the naming convention dev-app-<name>"],
            must_warn: &[],
        },
    ]
}

/// A plan the library passes as is.
fn clean(id: &'static str, plan: &'static str, environment: &'static str) -> Case {
    Case {
        id,
        plan,
        environment,
        service: "app",
        environments: if environment == "dev" {
            &["dev"]
        } else {
            &["production"]
        },
        data: None,
        derive: None,
        deny: &[],
        warn: 0,
        must_deny: &[],
        must_warn: &[],
    }
}

/// Derived case: the same real plan as if its AWS provider block set
/// `default_tags { tags = { Owner = "platform", CostCenter = "cc-42" } }`.
fn add_default_tags(plan: &mut serde_json::Value) {
    plan["configuration"]["provider_config"]["aws"]["expressions"]["default_tags"] = serde_json::json!(
        [{"tags": {"constant_value": {"Owner": "platform", "CostCenter": "cc-42"}}}]
    );
}

fn context(case: &Case) -> PolicyContext {
    PolicyContext {
        stack_id: format!("{}/{}", case.service, case.id),
        service: case.service.into(),
        name: "main".into(),
        environment: case.environment.into(),
        changed_files: vec![format!("{}/main/main.tf", case.service)],
        pr_author: Some("octocat".into()),
        environments_in_change: case
            .environments
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
    }
}

/// Writes the case's plan (derived when needed) and data file into `dir`.
fn materialize(
    case: &Case,
    index: usize,
    dir: &Path,
) -> (PathBuf, serde_json::Value, Vec<PathBuf>) {
    let text = std::fs::read_to_string(plan_path(case.plan)).unwrap();
    let mut plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let plan_file = match case.derive {
        Some(derive) => {
            derive(&mut plan);
            let file = dir.join(format!("derived-{index}.json"));
            std::fs::write(&file, serde_json::to_string(&plan).unwrap()).unwrap();
            file
        }
        None => plan_path(case.plan),
    };
    let data_files = match &case.data {
        Some(data) => {
            let file = dir.join(format!("data-{index}.json"));
            std::fs::write(&file, data.to_string()).unwrap();
            vec![file]
        }
        None => vec![],
    };
    (plan_file, plan, data_files)
}

fn engine(data_files: &[PathBuf]) -> PolicyEngine {
    let namespaces: Vec<String> = NAMESPACES
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    PolicyEngine::load(&[root().join("policies")], data_files, &namespaces).unwrap()
}

fn deny_counts(verdict: &Verdict) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for v in &verdict.violations {
        let short = v.namespace.trim_start_matches("terraform.").to_string();
        *counts.entry(short).or_insert(0) += 1;
    }
    counts
}

#[test]
fn library_gives_the_expected_verdict_on_every_real_plan() {
    let dir = tempfile::tempdir().unwrap();
    let default_engine = engine(&[]);
    let mut problems = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let (_, plan, data_files) = materialize(case, i, dir.path());
        let custom;
        let engine = if data_files.is_empty() {
            &default_engine
        } else {
            custom = engine(&data_files);
            &custom
        };
        let verdict = engine.evaluate(&plan, &context(case)).unwrap();
        let want: BTreeMap<String, usize> =
            case.deny.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let got = deny_counts(&verdict);
        if got != want {
            problems.push(format!(
                "{}: deny counts {got:?}, expected {want:?}",
                case.id
            ));
        }
        if verdict.warnings.len() != case.warn {
            problems.push(format!(
                "{}: {} warnings, expected {}: {:#?}",
                case.id,
                verdict.warnings.len(),
                case.warn,
                verdict.warnings
            ));
        }
        for msg in case.must_deny {
            if !verdict.violations.iter().any(|v| v.msg == *msg) {
                problems.push(format!("{}: missing violation {msg:?}", case.id));
            }
        }
        for msg in case.must_warn {
            if !verdict.warnings.iter().any(|v| v.msg == *msg) {
                problems.push(format!("{}: missing warning {msg:?}", case.id));
            }
        }
        if verdict.passed() != case.deny.is_empty() {
            problems.push(format!("{}: passed() is {}", case.id, verdict.passed()));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Messages name addresses and settings, never sensitive planned values.
#[test]
fn messages_never_carry_sensitive_values() {
    let engine = engine(&[]);
    for case in cases() {
        let text = std::fs::read_to_string(plan_path(case.plan)).unwrap();
        let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
        let secrets = sensitive_values(&plan);
        let verdict = engine.evaluate(&plan, &context(&case)).unwrap();
        for v in verdict.violations.iter().chain(&verdict.warnings) {
            for secret in &secrets {
                assert!(
                    !v.msg.contains(secret.as_str()),
                    "{}: {} leaks {secret}",
                    case.id,
                    v.msg
                );
            }
        }
    }
}

/// String values the plan marks sensitive (`after_sensitive` / `before_sensitive`).
fn sensitive_values(plan: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, mask: &serde_json::Value, out: &mut Vec<String>) {
        match (value, mask) {
            (_, serde_json::Value::Bool(true)) => collect(value, out),
            (serde_json::Value::Object(v), serde_json::Value::Object(m)) => {
                for (k, mk) in m {
                    if let Some(vk) = v.get(k) {
                        walk(vk, mk, out);
                    }
                }
            }
            (serde_json::Value::Array(v), serde_json::Value::Array(m)) => {
                for (vi, mi) in v.iter().zip(m) {
                    walk(vi, mi, out);
                }
            }
            _ => {}
        }
    }
    fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if s.len() >= 4 => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for rc in plan["resource_changes"].as_array().into_iter().flatten() {
        let change = &rc["change"];
        walk(&change["after"], &change["after_sensitive"], &mut out);
        walk(&change["before"], &change["before_sensitive"], &mut out);
    }
    out
}

#[test]
fn sensitive_value_scan_finds_the_fixture_secrets() {
    // Guards the test above: the sensitive fixture really has a value to leak.
    let text =
        std::fs::read_to_string(plan_path("tf175.replace-sensitive.random_bytes.json")).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(!sensitive_values(&plan).is_empty());
}

#[test]
fn opa_gives_the_same_verdicts_as_regorus() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest_cases = Vec::new();
    let mut ours = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let (plan_file, plan, data_files) = materialize(case, i, dir.path());
        let verdict = engine(&data_files).evaluate(&plan, &context(case)).unwrap();
        ours.push((case.id, verdict));
        manifest_cases.push(serde_json::json!({
            "plan": plan_file,
            "context": context(case).to_data(),
            "data_files": data_files,
        }));
    }
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "policies": [root().join("policies")],
            "namespaces": NAMESPACES,
            "cases": manifest_cases,
        })
        .to_string(),
    )
    .unwrap();

    let Some(stdout) =
        policy_common::opa::run_opa(&root(), &["verdicts".as_ref(), manifest.as_os_str()])
    else {
        return;
    };
    let doc: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), ours.len());
    let as_triples = |list: &[tfctl::report::Violation]| -> Vec<(String, String, String)> {
        list.iter()
            .map(|v| (v.namespace.clone(), v.rule.clone(), v.msg.clone()))
            .collect()
    };
    let from_opa = |value: &serde_json::Value| -> Vec<(String, String, String)> {
        let mut v: Vec<(String, String, String)> = serde_json::from_value(value.clone()).unwrap();
        v.sort();
        v
    };
    let mut compared = 0;
    for ((id, verdict), opa) in ours.iter().zip(results) {
        assert_eq!(
            as_triples(&verdict.violations),
            from_opa(&opa["violations"]),
            "deny differs on {id}"
        );
        assert_eq!(
            as_triples(&verdict.warnings),
            from_opa(&opa["warnings"]),
            "warn differs on {id}"
        );
        compared += verdict.violations.len() + verdict.warnings.len();
    }
    // The comparison is only meaningful if the plans produce messages.
    assert!(compared > 100, "only {compared} messages compared");
}
