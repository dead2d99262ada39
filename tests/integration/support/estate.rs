//! A generated estate laid out like `examples/offline`: its tfctl.yaml
//! (with its `order` rules), modules and policies, and `stacks` stacks
//! spread over IAM, KMS, S3 and Lambda, in chains of `depends_on` and
//! implicit references, committed to git. Shared by the scale tests and by
//! `benches/commands.rs` (included there with `#[path]`), so a benchmark
//! figure and a test's edge count come from the same repository.

use std::path::Path;
use std::process::Command;

/// The services in the example's order: IAM,KMS before S3 before Lambda.
pub(crate) const SERVICES: [&str; 4] = ["IAM", "KMS", "S3", "Lambda"];

/// The id of stack `i`: `S3/stack-000002`.
pub(crate) fn stack_id(i: usize) -> String {
    format!("{}/stack-{i:06}", SERVICES[i % SERVICES.len()])
}

/// The tfvars path of stack `i`, relative to the config root.
pub(crate) fn tfvars(i: usize) -> String {
    let id = stack_id(i);
    let name = id.rsplit('/').next().unwrap_or_default().to_string();
    format!("{id}/{name}.tfvars")
}

/// Writes the estate under `root` and commits it (`root` must be empty).
pub(crate) fn generate(root: &Path, stacks: usize) {
    generate_with(root, (0..stacks).map(|i| (tfvars(i), stack_text(i))));
}

/// The validation attestation of `report` as validate would write it for
/// PR 12 of acme/config (unsigned).
pub(crate) fn sample_attestation(
    report: &tfctl::report::RunReport,
) -> tfctl::render::marker::ValidationMarker {
    use tfctl::render::marker::{self, ValidationMarker};
    ValidationMarker {
        version: marker::ATTESTATION_VERSION,
        repository: "acme/config".into(),
        pr_number: 12,
        head_sha: "9f2c4e1a7b3d5f60718293a4b5c6d7e8f9012345".into(),
        base_ref: "main".into(),
        environment: "production".into(),
        environments: vec!["production".into()],
        target_branch: "prod".into(),
        result: report.result,
        stacks: report
            .stacks
            .iter()
            .filter_map(|s| s.plan_digest.clone().map(|d| (s.id.clone(), d)))
            .collect(),
        violations: tfctl::pipeline::violation_records(report),
        results: tfctl::revalidate::records(&report.stacks),
        policy_digest: "ab".repeat(32),
        time: "2026-12-01T10:00:00Z".into(),
        run_id: "42".into(),
        signature: None,
        locked: Vec::new(),
    }
}

/// A run report of `stacks` planned stacks, one in ten failing policy with
/// a message, for rendering at scale.
pub(crate) fn sample_report(stacks: usize) -> tfctl::report::RunReport {
    use tfctl::report::{Changes, InputsRecord, RunReport, StackReport, StackStatus, Violation};
    let reports: Vec<StackReport> = (0..stacks)
        .map(|i| {
            let id = stack_id(i);
            let (service, name) = id.split_once('/').unwrap_or_default();
            let failed = i % 10 == 3;
            StackReport {
                id: id.clone(),
                service: service.into(),
                name: name.into(),
                environment: "production".into(),
                action: "plan".into(),
                status: if failed {
                    StackStatus::Failed
                } else {
                    StackStatus::Passed
                },
                changes: Changes {
                    add: 2,
                    change: 1,
                    destroy: 0,
                },
                violations: if failed {
                    vec![Violation {
                        namespace: "main".into(),
                        rule: "deny".into(),
                        msg: format!("{id}: buckets must be encrypted"),
                    }]
                } else {
                    vec![]
                },
                warnings: vec![],
                error: None,
                reasons: vec![tfvars(i)],
                duration_ms: 1_500,
                plan_digest: Some(format!("{i:064x}")),
                plan_summary: Some(format!(
                    "+ terraform_data.{name}\n~ terraform_data.{name}-tags\n"
                )),
                destroys: Vec::new(),
                log_tail: None,
                log_file: None,
                terraform_warnings: Vec::new(),
                inputs: Some(InputsRecord {
                    digest: format!("{i:032x}"),
                    state: format!("{:08x}-6f1e-4c3b-9a2d-{i:012x}:{}", i * 7919, i % 9),
                    carried_from: None,
                }),
                promotion: None,
            }
        })
        .collect();
    RunReport {
        version: 1,
        result: RunReport::judge(&reports),
        environment: Some("production".into()),
        waves: vec![reports.iter().map(|s| s.id.clone()).collect()],
        stacks: reports,
        edges: vec![],
        order: vec![],
        duration_ms: 90_000,
        locks: Vec::new(),
    }
}

/// Copies the example's tfctl.yaml, modules and policies, writes `stacks`
/// (path relative to the config root, text) and commits it all.
pub(crate) fn generate_with(root: &Path, stacks: impl Iterator<Item = (String, String)>) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline");
    copy_dir(&example.join("modules"), &root.join("modules"));
    copy_dir(&example.join("policies"), &root.join("policies"));
    std::fs::copy(example.join("tfctl.yaml"), root.join("tfctl.yaml")).expect("tfctl.yaml");
    std::fs::write(root.join(".gitignore"), ".tfctl/\n.bench*\n.big-plan/\n").expect(".gitignore");
    for (rel, text) in stacks {
        let path = root.join("config").join(rel);
        std::fs::create_dir_all(path.parent().expect("a stack directory")).expect("mkdir");
        std::fs::write(&path, text).expect("tfvars");
    }
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(
        root,
        &[
            "-c",
            "user.name=estate",
            "-c",
            "user.email=estate@example.com",
            "commit",
            "-qm",
            "estate",
        ],
    );
}

/// Stack `i`: each service's stacks form chains (`depends_on` the stack
/// four back, itself of the same service); S3 names a KMS key and Lambda a
/// bucket by id (implicit edges), as the example's stacks do.
fn stack_text(i: usize) -> String {
    let id = stack_id(i);
    let name = id.rsplit('/').next().unwrap_or_default();
    let mut text = format!(
        "environment = \"production\"\nname = \"{name}\"\ntags = {{ Owner = \"team-{}\" }}\n",
        i % 17
    );
    if i >= SERVICES.len() && i % 8 < 4 {
        let _ = std::fmt::Write::write_fmt(
            &mut text,
            format_args!("depends_on = [\"{}\"]\n", stack_id(i - SERVICES.len())),
        );
    }
    match SERVICES[i % SERVICES.len()] {
        "S3" if i >= 1 => text.push_str(&format!("kms_key = \"{}\"\n", stack_id(i - 1))),
        "Lambda" if i >= 1 => text.push_str(&format!("bucket = \"{}\"\n", stack_id(i - 1))),
        _ => {}
    }
    text
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn git(root: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "git {args:?} in {}", root.display());
}
