//! The commands as users run them: each measurement is one `tfctl` child
//! process on a generated estate laid out like `examples/offline`
//! (`tests/integration/support/estate.rs`), timed wall-clock with its peak
//! RSS from `wait4` (the process and any children it waited for).
//!
//! `cargo bench --bench commands` prints the tables BENCHMARKS.md quotes
//! (2,000 to 100,000 stacks; add `-- --sizes 2000,20000` to choose).
//! `cargo bench --bench commands -- --check` is what `.ci/run` runs: the
//! 2,000-stack sizes only, failing when an output outgrows a linear bound
//! in bytes (a quadratic regression), never on seconds.
//! `-- --big-plan` measures only the one 10,000-change plan through
//! validate (real terraform: `TFCTL_TERRAFORM`).

#[path = "../tests/integration/support/estate.rs"]
mod estate;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One run of one command: wall time, peak RSS and stdout size.
struct Measured {
    wall_ms: f64,
    peak_mb: f64,
    stdout_bytes: usize,
}

fn tfctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tfctl"))
}

/// Runs `tfctl args` in `cwd`, stdout to a file (so the pipe never slows
/// it), and waits with `wait4` for its resource usage.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, not Child::wait
fn measure(cwd: &Path, args: &[&str]) -> Measured {
    let out_path = cwd.join(".bench-stdout");
    let out = std::fs::File::create(&out_path).expect("stdout file");
    let start = Instant::now();
    let child = Command::new(tfctl_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_EVENT_NAME")
        .stdout(out)
        .stderr(std::fs::File::create(cwd.join(".bench-stderr")).expect("stderr file"))
        .spawn()
        .expect("spawn tfctl");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: wait4 writes into the status and rusage we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(waited, pid, "wait4");
    let stdout_bytes = std::fs::metadata(&out_path).map_or(0, |m| m.len() as usize);
    let ok = libc::WIFEXITED(status) && matches!(libc::WEXITSTATUS(status), 0 | 1);
    if !ok {
        drop(child);
        let err = std::fs::read_to_string(cwd.join(".bench-stderr")).unwrap_or_default();
        let shown: Vec<&str> = args.iter().take(4).copied().collect();
        panic!("tfctl {shown:?}… ended with status {status}: {err}");
    }
    Measured {
        wall_ms,
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
        stdout_bytes,
    }
}

/// The fastest of `repeats` runs (its RSS is the largest seen).
fn best_of(repeats: usize, cwd: &Path, args: &[&str]) -> Measured {
    let mut best = measure(cwd, args);
    for _ in 1..repeats {
        let m = measure(cwd, args);
        best.peak_mb = best.peak_mb.max(m.peak_mb);
        if m.wall_ms < best.wall_ms {
            best.wall_ms = m.wall_ms;
        }
    }
    best
}

/// The first 2,000 tfvars (or a tenth of a smaller estate), spread evenly.
fn changed_files(stacks: usize) -> Vec<String> {
    let changed = 2000.min(stacks / 10).max(1);
    let step = stacks / changed;
    (0..changed)
        // An offset so every service is changed, not only every tenth id's.
        .map(|k| format!("config/{}", estate::tfvars(k * step + k % 4)))
        .collect()
}

struct Row {
    stacks: usize,
    command: String,
    m: Measured,
}

fn print_rows(rows: &[Row]) {
    println!("| stacks | command | wall (ms) | µs per stack | peak RSS (MB) | stdout (bytes per stack) |");
    println!("|---:|---|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | `{}` | {:.1} | {:.1} | {:.1} | {:.0} |",
            r.stacks,
            r.command,
            r.m.wall_ms,
            r.m.wall_ms * 1000.0 / r.stacks as f64,
            r.m.peak_mb,
            r.m.stdout_bytes as f64 / r.stacks as f64
        );
    }
}

/// The estate-wide commands at each size, and the `--files` ones at the
/// sizes of at least 20,000 (2,000 changed files).
fn estate_commands(sizes: &[usize], repeats: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for &stacks in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        estate::generate(dir.path(), stacks);
        let files = changed_files(stacks);
        let n = files.len();
        let with_files = |cmd: &[&str], tail: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = cmd.iter().map(|s| (*s).to_string()).collect();
            v.extend(tail.iter().map(|s| (*s).to_string()));
            v.push("--files".into());
            v.extend(files.iter().cloned());
            v
        };
        let plain =
            |cmd: &[&str]| -> Vec<String> { cmd.iter().map(|s| (*s).to_string()).collect() };
        let commands: Vec<(String, Vec<String>)> = vec![
            (
                format!("validate --files <{n}> --emit-matrix"),
                with_files(&["validate"], &["--emit-matrix"]),
            ),
            (
                format!("graph --files <{n}> --format json"),
                with_files(&["graph"], &["--format", "json"]),
            ),
            (format!("graph --files <{n}>"), with_files(&["graph"], &[])),
            ("graph --all".into(), plain(&["graph", "--all"])),
            (
                "graph --all --format json".into(),
                plain(&["graph", "--all", "--format", "json"]),
            ),
            (
                "validate --all --emit-matrix".into(),
                plain(&["validate", "--all", "--emit-matrix"]),
            ),
        ];
        for (command, args) in commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let m = best_of(repeats, dir.path(), &args);
            rows.push(Row { stacks, command, m });
        }
    }
    rows
}

/// `tfctl report` over `shards` shard reports of `per_shard` stacks, each
/// a passed plan, on an estate of exactly those stacks (`--all`).
fn report_merge(shards: usize, per_shard: usize, repeats: usize) -> Row {
    let stacks = shards * per_shard;
    let dir = tempfile::tempdir().expect("tempdir");
    estate::generate(dir.path(), stacks);
    let shard_dir = dir.path().join(".shards");
    std::fs::create_dir_all(&shard_dir).expect("mkdir");
    for s in 0..shards {
        let reports: Vec<serde_json::Value> = (s * per_shard..(s + 1) * per_shard)
            .map(|i| {
                let id = estate::stack_id(i);
                let (service, name) = id.split_once('/').expect("an id");
                serde_json::json!({
                    "id": id, "service": service, "name": name,
                    "environment": "production", "action": "plan", "status": "passed",
                    "changes": {"add": 1, "change": 0, "destroy": 0},
                    "violations": [], "warnings": [], "error": null, "reasons": [],
                    "duration_ms": 1200, "plan_digest": format!("{i:064x}"),
                })
            })
            .collect();
        let shard = serde_json::json!({
            "version": 1, "result": "passed", "environment": "production",
            "waves": [], "stacks": reports, "duration_ms": 1500,
        });
        std::fs::write(
            shard_dir.join(format!("shard-{s:03}.json")),
            shard.to_string(),
        )
        .expect("shard");
    }
    let m = best_of(
        repeats,
        dir.path(),
        &["report", "--all", "--format", "json", ".shards"],
    );
    Row {
        stacks,
        command: format!("report --all <{shards} shards of {per_shard}>"),
        m,
    }
}

/// A bash wrapper that appends, per terraform call, `TF_DATA_DIR<TAB>the
/// call as a shell line` (cwd, TF_* environment, argv) to `log`, then runs
/// the real terraform: how the xargs baseline runs exactly tfctl's commands.
fn recording_wrapper(dir: &Path, real: &Path, log: &Path) -> PathBuf {
    let script = format!(
        r#"#!/usr/bin/env bash
# Files tfctl writes under its run directory (var files, an empty CLI
# config) are gone when the replay runs: the recorded call uses copies.
keep={keep}
mkdir -p "$keep"
copy() {{ local k="$keep/$(printf %s "$1" | sha256sum | cut -c1-16)-${{1##*/}}"; cp "$1" "$k"; printf %s "$k"; }}
line="cd $(printf %q "$PWD") && env"
for v in $(env | grep -o '^TF_[A-Z_]*'); do
  val=${{!v}}
  [ "$v" = TF_CLI_CONFIG_FILE ] && [ -f "$val" ] && val=$(copy "$val")
  line+=" $v=$(printf %q "$val")"
done
line+=" $(printf %q {real})"
for a in "$@"; do
  case "$a" in
    -var-file=*) a="-var-file=$(copy "${{a#-var-file=}}")" ;;
  esac
  line+=" $(printf %q "$a")"
done
[ "$1" = show ] && line+=" >/dev/null"
printf '%s\t%s\n' "$TF_DATA_DIR" "$line" >> {log}
exec {real} "$@"
"#,
        real = shell_quote(real),
        log = shell_quote(log),
        keep = shell_quote(&dir.join(".bench-kept")),
    );
    let path = dir.join("terraform-recording");
    std::fs::write(&path, script).expect("wrapper");
    let mut perms = std::fs::metadata(&path).expect("wrapper").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).expect("chmod");
    path
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn terraform() -> PathBuf {
    let path = std::env::var_os("TFCTL_TERRAFORM").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/terraform"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{}: set TFCTL_TERRAFORM (scripts/install-terraform.sh)",
        path.display()
    );
    path
}

/// Real terraform, `stacks` independent stacks at `parallelism`: tfctl's
/// wall time against `xargs -P` running the same init/plan/show commands
/// with the same per-stack `TF_DATA_DIR`, rounds alternating.
fn against_xargs(stacks: usize, parallelism: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_independent(dir.path(), stacks);
    let log = dir.path().join(".bench-calls");
    let wrapper = recording_wrapper(dir.path(), &terraform(), &log);
    let p = parallelism.to_string();
    let args = ["validate", "--all", "--local", "--parallelism", &p];
    let run = |tf: &Path| -> f64 {
        let start = Instant::now();
        let out = Command::new(tfctl_bin())
            .args(args)
            .current_dir(dir.path())
            .env("TFCTL_TERRAFORM", tf)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_EVENT_NAME")
            .output()
            .expect("tfctl");
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ms
    };
    run(&wrapper); // records the commands (and warms the page cache)
    let calls = std::fs::read_to_string(&log).expect("calls");
    let mut by_stack: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for line in calls.lines() {
        let (data_dir, call) = line.split_once('\t').expect("a recorded call");
        by_stack.entry(data_dir).or_default().push(call);
    }
    assert_eq!(by_stack.len(), stacks, "one TF_DATA_DIR per stack");
    let scripts = dir.path().join(".bench-xargs");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    for (i, (data_dir, calls)) in by_stack.iter().enumerate() {
        let script = format!(
            "rm -rf {data_dir:?} && mkdir -p {data_dir:?}\n{}\n",
            calls.join(" &&\n")
        );
        std::fs::write(scripts.join(format!("{i:03}.sh")), script).expect("script");
    }
    let xargs = || -> f64 {
        let start = Instant::now();
        let ok = Command::new("bash")
            .arg("-c")
            .arg(format!("ls *.sh | xargs -P{parallelism} -n1 bash"))
            .current_dir(&scripts)
            .stdout(Stdio::null())
            .status()
            .expect("xargs")
            .success();
        assert!(ok, "xargs replay failed");
        start.elapsed().as_secs_f64() * 1000.0
    };
    let (mut best_tfctl, mut best_xargs) = (f64::MAX, f64::MAX);
    for round in 0..rounds {
        let (t, x) = (run(&terraform()), xargs());
        println!(
            "round {}: tfctl {t:.0} ms, xargs {x:.0} ms ({:.3}x)",
            round + 1,
            t / x
        );
        best_tfctl = best_tfctl.min(t);
        best_xargs = best_xargs.min(x);
    }
    println!(
        "\n{stacks} stacks, parallelism {parallelism}: tfctl {best_tfctl:.0} ms, xargs -P{parallelism} {best_xargs:.0} ms: tfctl/xargs = {:.3} (best of {rounds}; target <= 1.05)",
        best_tfctl / best_xargs
    );
}

/// `stacks` IAM stacks with no dependencies between them.
fn generate_independent(root: &Path, stacks: usize) {
    estate::generate_with(
        root,
        (0..stacks).map(|i| {
            let name = format!("stack-{i:06}");
            let text = format!(
                "environment = \"production\"\nname = \"{name}\"\ntags = {{ Owner = \"team\" }}\n"
            );
            (format!("IAM/{name}/{name}.tfvars"), text)
        }),
    );
}

/// The one stack of [`generate_big`], relative to the config root.
const BIG_TFVARS: &str = "Big/many/many.tfvars";

/// The module of service `Big`: `resources` `terraform_data` resources.
const BIG_MODULE: &str = r#"terraform {
  backend "local" {}
}

variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "resources" {
  type = number
}

resource "terraform_data" "item" {
  count = var.resources
  input = {
    name        = "${var.name}-${count.index}"
    environment = var.environment
  }
}
"#;

/// One stack whose plan creates `resources` resources (`modules/big`).
fn generate_big(root: &Path, resources: usize) {
    std::fs::create_dir_all(root.join("modules/big")).expect("mkdir");
    std::fs::write(root.join("modules/big/main.tf"), BIG_MODULE).expect("module");
    let text = format!("environment = \"production\"\nname = \"many\"\nresources = {resources}\n");
    estate::generate_with(root, [(BIG_TFVARS.to_string(), text)].into_iter());
}

/// The size of `terraform show -json` of [`generate_big`]'s plan, made
/// with terraform directly (its own data directory, no tfctl).
fn big_plan_json_bytes(root: &Path, terraform: &Path) -> usize {
    let module = root.join("modules/big");
    let data = root.join(".big-plan");
    let tf = |args: &[&str]| {
        let out = Command::new(terraform)
            .args(args)
            .current_dir(&module)
            .env("TF_DATA_DIR", &data)
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .expect("terraform");
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let var_file = root.join("config").join(BIG_TFVARS);
    let plan = data.join("plan");
    tf(&["init", "-input=false", "-no-color"]);
    tf(&[
        "plan",
        "-input=false",
        "-no-color",
        &format!("-out={}", plan.display()),
        &format!("-var-file={}", var_file.display()),
    ]);
    tf(&["show", "-json", &plan.display().to_string()]).len()
}

/// Peak RSS of `pid` so far (`VmHWM`), in kB; 0 once it has exited.
fn high_water_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One stack whose plan creates `resources` resources, through `tfctl
/// validate`: tfctl's own peak RSS (sampled from /proc while it runs, so
/// terraform's memory is not counted) against the size of the plan's
/// `terraform show -json`.
fn big_plan(resources: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_big(dir.path(), resources);
    // Files, not pipes: the report of a big plan outgrows a pipe's buffer
    // long before tfctl exits.
    let report_path = dir.path().join(".bench-report.json");
    let start = Instant::now();
    let mut child = Command::new(tfctl_bin())
        .args([
            "validate", "--local", "--quiet", "--format", "json", "--files",
        ])
        .arg(format!("config/{BIG_TFVARS}"))
        .current_dir(dir.path())
        .env("TFCTL_TERRAFORM", terraform())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_EVENT_NAME")
        .stdout(std::fs::File::create(&report_path).expect("report file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("tfctl");
    let pid = child.id();
    let mut peak = 0;
    let out = loop {
        peak = peak.max(high_water_kb(pid));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let wall = start.elapsed().as_secs_f64();
    let report = std::fs::read_to_string(&report_path).expect("report");
    assert!(matches!(out.code(), Some(0 | 1)), "validate: {out:?}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("report JSON");
    let added = report["stacks"][0]["changes"]["add"].as_u64().unwrap_or(0);
    assert_eq!(added, resources as u64, "the plan's creates are counted");
    // The same plan's JSON, made again the way tfctl's runner made it.
    let json_bytes = big_plan_json_bytes(dir.path(), &terraform());
    println!(
        "one plan of {resources} resource changes: tfctl peak RSS {:.1} MB, `terraform show -json` {:.1} MB: {:.2}x (target <= 3x), {wall:.1} s",
        peak as f64 / 1024.0,
        json_bytes as f64 / 1_048_576.0,
        (peak * 1024) as f64 / json_bytes as f64
    );
}

/// The validate comment of a 1,000-stack PR (a tenth failing): render and
/// fit to GitHub's 65,536 characters, in process (pure code, no IO).
fn comment_render(stacks: usize) {
    use tfctl::render::{markdown, split};
    let report = estate::sample_report(stacks);
    let ctx = markdown::CommentContext {
        head_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        environment: "production".into(),
        target_branch: "prod".into(),
        run_url: None,
        marker: None,
        audit_markdown: None,
        next_step: None,
    };
    let mut best = f64::MAX;
    let mut body = String::new();
    for _ in 0..5 {
        let start = Instant::now();
        body = split::fit(
            &markdown::comment(&report, &ctx),
            split::COMMENT_LIMIT,
            &split::pointer(None),
        );
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
    }
    let failures = report
        .stacks
        .iter()
        .filter(|s| s.status != tfctl::report::StackStatus::Passed)
        .filter(|s| body.contains(&s.id))
        .count();
    println!(
        "validate comment of {stacks} stacks: {best:.1} ms (target <= 100 ms), {} characters (limit {}), verdict kept: {}, failing stacks named: {failures}",
        body.chars().count(),
        split::COMMENT_LIMIT,
        body.contains("tfctl validate failed"),
    );
    // Its attestation, signed and placed as validate does (in parts).
    let key = tfctl::attest::SigningKey::generate();
    let start = Instant::now();
    let signed = tfctl::render::marker::signed(&estate::sample_attestation(&report), Some(&key));
    let placed = tfctl::render::parts::place(&signed, split::COMMENT_LIMIT).expect("placed");
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let total: usize = placed.parts.iter().map(|p| p.chars().count()).sum();
    println!(
        "its attestation: signed and placed in {ms:.1} ms, {total} characters in {} part comments (each <= {})",
        placed.parts.len(),
        split::COMMENT_LIMIT
    );
}

/// The linear bounds `--check` holds the 2,000-stack outputs to.
fn check(rows: &[Row]) {
    let mut failed = Vec::new();
    for r in rows {
        // A stack costs well under 200 bytes in any output; all pairs of
        // an order rule at 2,000 stacks would be ~100,000 bytes per stack.
        let per_stack = r.m.stdout_bytes as f64 / r.stacks as f64;
        // The merged report is every stack's whole record (~600 bytes).
        let bound = if r.command.starts_with("report") {
            1_000.0
        } else {
            200.0
        };
        let status = if per_stack <= bound { "ok" } else { "TOO BIG" };
        println!(
            "{status}: {} stacks, `{}`: {:.0} bytes per stack",
            r.stacks, r.command, per_stack
        );
        if per_stack > bound {
            failed.push(r.command.clone());
        }
    }
    assert!(failed.is_empty(), "outputs grew past linear: {failed:?}");
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [flag, dir, stacks] = &args[..] {
        if flag == "--generate" {
            // For profiling by hand: `-- --generate DIR 20000`.
            estate::generate(Path::new(dir), stacks.parse().expect("a number"));
            return;
        }
    }
    if args.iter().any(|a| a == "--big-plan") {
        // Only the one big plan through validate (needs TFCTL_TERRAFORM).
        big_plan(10_000);
        return;
    }
    if args.iter().any(|a| a == "--check") {
        let mut rows = estate_commands(&[2_000], 1);
        rows.push(report_merge(50, 40, 1));
        check(&rows);
        return;
    }
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || vec![2_000, 5_000, 20_000, 50_000, 100_000],
            |list| {
                list.split(',')
                    .map(|n| n.parse().expect("sizes are numbers"))
                    .collect()
            },
        );
    println!("## Commands on a generated estate (best of 3)\n");
    print_rows(&estate_commands(&sizes, 3));
    println!("\n## tfctl report\n");
    print_rows(&[report_merge(256, 40, 3)]);
    println!("\n## The validate comment\n");
    comment_render(1_000);
    if args.iter().any(|a| a == "--terraform") {
        println!("\n## Real terraform\n");
        big_plan(10_000);
        against_xargs(60, 8, 3);
    }
}
