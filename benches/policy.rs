//! Policy benchmark: the whole `policies/` library on generated plans of
//! 1,000 / 10,000 / 50,000 resource changes, through tfctl's regorus engine,
//! the Go OPA engine (`PyPI` opa-golib-python-bindings, via
//! `tests/policy_opa.py`) and checkov (`checkov -f plan.json --framework
//! terraform_plan --skip-download`), in one run, printed as a Markdown table
//! for BENCHMARKS.md.
//!
//! Run: `cargo bench --bench policy` (add `-- 1000 10000` to choose sizes).
//! OPA or checkov missing from PATH/Python: their columns say `n/a`.
//! Ratios are wall time over tfctl's wall time in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tfctl::policy::{PolicyContext, PolicyEngine};

const NAMESPACES: [&str; 5] = [
    "terraform.naming",
    "terraform.tags",
    "terraform.encryption",
    "terraform.access",
    "terraform.change_safety",
];

/// Resource changes per generated "unit": one of each kind below.
const UNIT: usize = 10;

fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![1_000, 10_000, 50_000]
        } else {
            args
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("target/policy-bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let ctx = context();
    let ctx_file = out_dir.join("context.json");
    std::fs::write(&ctx_file, ctx.to_data().to_string()).unwrap();

    let namespaces: Vec<String> = NAMESPACES
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    let load_start = Instant::now();
    let engine = PolicyEngine::load(&[root.join("policies")], &[], &namespaces).unwrap();
    let load = load_start.elapsed();
    println!("library load + compile: {:.1} ms", ms(load));
    println!();
    println!("| resource changes | tfctl CPU | tfctl wall | deny / warn | OPA (Go, PyPI bindings) wall | OPA / tfctl | checkov wall | checkov / tfctl |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");

    for n in sizes {
        let plan = generate(n);
        let plan_file = out_dir.join(format!("plan-{n}.json"));
        std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();

        // Best of 3 (1 at 50k): the engine is loaded once, as in `validate`.
        // Evaluation is single-threaded, so this thread's CPU time is its
        // cost even on a machine shared with other work; wall time is shown
        // beside it.
        let runs = if n >= 50_000 { 1 } else { 3 };
        let mut best = Duration::MAX;
        let mut best_cpu = f64::MAX;
        let mut verdict = None;
        for _ in 0..runs {
            let cpu = thread_cpu_seconds();
            let start = Instant::now();
            let v = engine.evaluate(&plan, &ctx).unwrap();
            best = best.min(start.elapsed());
            best_cpu = best_cpu.min(thread_cpu_seconds() - cpu);
            verdict = Some(v);
        }
        let verdict = verdict.unwrap();
        let ours = best.as_secs_f64();

        let opa = opa_seconds(&root, &plan_file, &ctx_file);
        let checkov = checkov_seconds(&plan_file);
        println!(
            "| {n} | {} | {} | {} / {} | {} | {} | {} | {} |",
            secs(best_cpu),
            secs(ours),
            verdict.violations.len(),
            verdict.warnings.len(),
            opa.map_or("n/a".into(), secs),
            opa.map_or("n/a".into(), |o| format!("{:.1}×", o / ours)),
            checkov.map_or("n/a".into(), secs),
            checkov.map_or("n/a".into(), |c| format!("{:.1}×", c / ours)),
        );
    }
}

/// CPU time of the calling thread.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn context() -> PolicyContext {
    PolicyContext {
        stack_id: "app/main".into(),
        service: "app".into(),
        name: "main".into(),
        environment: "production".into(),
        changed_files: vec!["app/main/main.tf".into()],
        pr_author: Some("octocat".into()),
        environments_in_change: vec!["production".into()],
    }
}

/// Evaluation time inside OPA (engine built beforehand), from the script.
fn opa_seconds(root: &Path, plan: &Path, ctx: &Path) -> Option<f64> {
    let python = std::env::var("TFCTL_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(root.join("tests/policy_opa.py"))
        .arg("bench")
        .arg(plan)
        .arg(ctx)
        .arg(root.join("policies"))
        .args(NAMESPACES)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("opa: {}", String::from_utf8_lossy(&out.stderr).trim());
        return None;
    }
    let doc: Value = serde_json::from_slice(&out.stdout).ok()?;
    doc["seconds"].as_f64()
}

/// Wall time of one checkov run over the same plan file (checkov has no
/// separate load step, so its start-up is part of its cost).
fn checkov_seconds(plan: &Path) -> Option<f64> {
    let start = Instant::now();
    let out = Command::new("checkov")
        .args(["-f"])
        .arg(plan)
        .args([
            "--framework",
            "terraform_plan",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ])
        .output()
        .ok()?;
    let elapsed = start.elapsed().as_secs_f64();
    // checkov exits 1 when checks fail; anything else is a broken run.
    if let Some(0 | 1) = out.status.code() {
        Some(elapsed)
    } else {
        eprintln!("checkov: {}", String::from_utf8_lossy(&out.stderr).trim());
        None
    }
}

/// A plan with `n` resource changes in the shape `terraform show -json`
/// prints: buckets with their access blocks and encryption, IAM policies,
/// security groups, KMS keys, databases, volumes, instances and replaced
/// `null_resources`, half in the root module and half in `module.app`, each
/// kind one `count`ed block. Every fifth unit breaks some rules.
fn generate(n: usize) -> Value {
    let units = n.div_ceil(UNIT);
    let mut changes = Vec::with_capacity(units * UNIT);
    for i in 0..units {
        let module = if i % 2 == 0 { None } else { Some("module.app") };
        for (kind, after, actions) in unit(i) {
            if changes.len() == n {
                break;
            }
            let name = "this";
            let local = format!("{kind}.{name}[{i}]");
            let address = match module {
                Some(m) => format!("{m}.{local}"),
                None => local,
            };
            let mut rc = json!({
                "address": address,
                "mode": "managed",
                "type": kind,
                "name": name,
                "index": i,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": if actions.contains(&"delete") { after.clone() } else { Value::Null },
                    "after": after,
                    "after_unknown": {"id": true, "arn": true},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            });
            if let Some(m) = module {
                rc["module_address"] = json!(m);
            }
            changes.push(rc);
        }
    }
    let resources: Vec<Value> = unit(0)
        .into_iter()
        .map(|(kind, _, _)| {
            let mut block = json!({
                "address": format!("{kind}.this"),
                "mode": "managed",
                "type": kind,
                "name": "this",
                "provider_config_key": "aws",
                "expressions": {},
                "count_expression": {"references": ["var.units"]},
            });
            if kind.starts_with("aws_s3_bucket_") {
                block["expressions"]["bucket"] = json!({"references": [
                    "aws_s3_bucket.this[count.index].id", "aws_s3_bucket.this[count.index]", "aws_s3_bucket.this"
                ]});
            }
            block
        })
        .collect();
    json!({
        "format_version": "1.2",
        "terraform_version": "1.7.5",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
                "expressions": {"region": {"constant_value": "eu-west-1"},
                    "default_tags": [{"tags": {"constant_value": {"Owner": "platform", "CostCenter": "cc-42"}}}]}}},
            "root_module": {
                "resources": resources,
                "module_calls": {"app": {"source": "./app", "module": {"resources": resources}}},
            },
        },
    })
}

/// The ten resource changes of unit `i`: (type, planned values, actions).
fn unit(i: usize) -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let bad = i % 5 == 0;
    let env_tag = json!({"Environment": "production"});
    let name = |what: &str| {
        if bad {
            format!("Tmp_{what}_{i}")
        } else {
            format!("production-app-{what}-{i}")
        }
    };
    let statement = if bad {
        json!({"Effect": "Allow", "Action": "*", "Resource": "*"})
    } else {
        json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": format!("arn:aws:s3:::b{i}/*")})
    };
    let cidr = if bad { "0.0.0.0/0" } else { "10.0.0.0/8" };
    vec![
        (
            "aws_s3_bucket",
            json!({"bucket": name("bucket"), "force_destroy": false, "tags": env_tag, "acl": if bad { json!("public-read") } else { Value::Null }}),
            vec!["create"],
        ),
        (
            "aws_s3_bucket_public_access_block",
            json!({"block_public_acls": true, "block_public_policy": !bad, "ignore_public_acls": true, "restrict_public_buckets": true}),
            vec!["create"],
        ),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            json!({"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}),
            vec!["create"],
        ),
        (
            "aws_iam_policy",
            json!({"name": name("policy"), "path": "/", "policy": json!({"Version": "2012-10-17", "Statement": [statement]}).to_string(), "tags": env_tag}),
            vec!["create"],
        ),
        (
            "aws_security_group",
            json!({"name": name("sg"), "tags": env_tag, "ingress": [
                {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": [cidr], "ipv6_cidr_blocks": []},
                {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []}
            ]}),
            vec!["create"],
        ),
        (
            "aws_kms_key",
            json!({"enable_key_rotation": !bad, "customer_master_key_spec": "SYMMETRIC_DEFAULT", "tags": env_tag}),
            vec!["create"],
        ),
        (
            "aws_db_instance",
            json!({"identifier": name("db"), "storage_encrypted": !bad, "replicate_source_db": null, "tags": env_tag}),
            vec!["update"],
        ),
        (
            "aws_ebs_volume",
            json!({"size": 10, "encrypted": !bad, "tags": if bad { Value::Null } else { env_tag.clone() }}),
            vec!["create"],
        ),
        (
            "aws_instance",
            json!({"ami": "ami-123", "instance_type": "t3.micro", "tags": env_tag, "root_block_device": [{"encrypted": true}]}),
            vec!["update"],
        ),
        (
            "null_resource",
            json!({"triggers": {"v": i.to_string()}}),
            if bad {
                vec!["delete", "create"]
            } else {
                vec!["update"]
            },
        ),
    ]
}
