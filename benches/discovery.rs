//! Discovery + DAG benchmark (issue: "20,000 stacks, 2,000 changed files:
//! at most 150 ms and 100 MB peak; near-linear from 2,000 to 100,000").
//!
//! Generates a config repo on disk (stacks under 6 services, a third with
//! `depends_on`, a third with implicit references, order rules; committed to
//! git), then times `select::select` — changed files → stack refs → tfvars
//! parsed → inputs checked against the estate → DAG — in
//! a child process so its peak RSS (`ru_maxrss`) is the measured work alone.
//!
//! Run: `cargo bench --bench discovery` (add sizes as args: `-- 2000 20000`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use tfctl::discovery::ChangedFile;
use tfctl::select::{self, ChangeSource};

const SERVICES: [&str; 6] = ["IAM", "KMS", "S3", "SQS", "SNS", "Lambda"];
const REPEATS: usize = 5;

fn stack_id(i: usize) -> String {
    format!("{}/stack-{i:06}", SERVICES[i % SERVICES.len()])
}

fn generate(root: &Path, stacks: usize) {
    std::fs::write(
        root.join("tfctl.yaml"),
        "config_root: config\norder:\n  - [IAM, KMS]\n  - [S3, SQS, SNS]\n  - [Lambda]\n",
    )
    .unwrap();
    for i in 0..stacks {
        let id = stack_id(i);
        let dir = root.join("config").join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let name = id.rsplit('/').next().unwrap();
        let mut text = format!(
            "environment = \"production\"\nname = \"{name}\"\ntags = {{ Owner = \"team-{}\" }}\n",
            i % 17
        );
        if i % 3 == 1 && i >= 12 {
            text.push_str(&format!("depends_on = [\"{}\"]\n", stack_id(i - 12)));
        }
        if i % 3 == 2 && i >= 6 {
            text.push_str(&format!("kms_key = \"{}\"\n", stack_id(i - 6)));
        }
        std::fs::write(dir.join(format!("{name}.tfvars")), text).unwrap();
        if i % 10 == 0 {
            std::fs::write(dir.join("policy.json"), "{}").unwrap();
        }
    }
    // A config repo is a git checkout: a change is checked against the
    // estate's stacks through git's index (no state key shared).
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qm",
            "estate",
        ],
    ] {
        let ok = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
}

/// 2,000 changed files (or 10% of the stacks when smaller): tfvars and companions.
fn changed_files(stacks: usize) -> Vec<ChangedFile> {
    let changed = 2000.min(stacks / 10).max(1);
    let step = stacks / changed;
    (0..changed)
        .map(|k| {
            let i = k * step;
            let id = stack_id(i);
            let name = id.rsplit('/').next().unwrap().to_string();
            if i % 10 == 0 {
                ChangedFile::modified(format!("{id}/policy.json"))
            } else {
                ChangedFile::modified(format!("{id}/{name}.tfvars"))
            }
        })
        .collect()
}

/// Child mode: load config, run selection REPEATS times, print the best ms
/// (`all` = every stack: walk the tree, parse every tfvars, build the DAG).
fn measure(root: &Path, stacks: usize, all: bool) {
    let cfg = tfctl::config::load(&root.join("tfctl.yaml")).unwrap();
    let files = changed_files(stacks);
    let mut best = f64::MAX;
    let mut selected = 0;
    for _ in 0..REPEATS {
        let source = if all {
            ChangeSource::All
        } else {
            ChangeSource::Files {
                files: files.clone(),
                old_rev: None,
            }
        };
        let start = Instant::now();
        let sel = select::select(&cfg, &cfg.config_root, source).unwrap();
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
        selected = sel.dag.stacks.len();
        assert!(!sel.dag.waves.is_empty());
    }
    println!("{best:.1} {selected} {}", if all { 0 } else { files.len() });
}

fn max_rss_children_kb() -> i64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) };
    usage.ru_maxrss
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--measure") {
        measure(
            &PathBuf::from(&args[1]),
            args[2].parse().unwrap(),
            args[3] == "all",
        );
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![2_000, 20_000, 100_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    };
    let exe = std::env::current_exe().unwrap();
    println!("| stacks in repo | selection | stacks selected | best of {REPEATS} (ms) | µs per selected stack | peak RSS (MB) |");
    println!("|---:|---|---:|---:|---:|---:|");
    for mode in ["changed", "all"] {
        for &stacks in &sizes {
            let dir = tempfile::tempdir().unwrap();
            generate(dir.path(), stacks);
            // Each measurement is its own child process: its peak RSS is
            // what RUSAGE_CHILDREN reports while it is the largest so far,
            // so sizes run smallest first within a mode and the column is
            // reported only when it grew.
            let before = max_rss_children_kb();
            let out = Command::new(&exe)
                .args([
                    "--measure",
                    dir.path().to_str().unwrap(),
                    &stacks.to_string(),
                    mode,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8(out.stdout).unwrap();
            let mut parts = line.split_whitespace();
            let ms: f64 = parts.next().unwrap().parse().unwrap();
            let selected: f64 = parts.next().unwrap().parse().unwrap();
            let changed = parts.next().unwrap();
            let after = max_rss_children_kb();
            let rss = if after > before {
                format!("{:.1}", after as f64 / 1024.0)
            } else {
                format!("≤ {:.1}", after as f64 / 1024.0)
            };
            let what = if mode == "all" {
                "--all".to_string()
            } else {
                format!("{changed} changed files")
            };
            println!(
                "| {stacks} | {what} | {selected} | {ms:.1} | {:.1} | {rss} |",
                ms * 1000.0 / selected
            );
        }
    }
}
