//! `tfctl validate`: plan changed stacks in DAG order, judge them by policy,
//! report. Wiring only: selection, jobs, runs and judging live elsewhere.

use std::path::Path;
use std::time::Instant;

use crate::cli::{ReportFormat, ValidateArgs};
use crate::config::Config;
use crate::error::{Error, ExitStatus, Result};
use crate::pipeline::{self, JudgeContext};
use crate::policy::PolicyEngine;
use crate::report::{RunReport, RunResult, StackStatus};
use crate::runner::{self, Operation};
use crate::select::{self, Selection};

/// Runs `tfctl validate` on a laptop or CI runner (no GitHub reporting).
pub fn run(config: Option<&Path>, args: ValidateArgs) -> Result<ExitStatus> {
    let cfg = super::load_config(config)?;
    let actions = crate::actions::env::ActionsEnv::from_process().with_args(&args.github);
    if !args.local && !args.emit_matrix && actions.event_name.is_some() {
        let session = super::gh::GhSession::from_env(actions, &cfg.github, &args.github)?;
        return super::validate_pr::run(&cfg, &args, session);
    }
    let config_root = super::config_root(&cfg, &args.select);
    let source = super::change_source(&cfg, &args.select);
    let sel = select::select(&cfg, &config_root, source)?;

    if args.emit_matrix {
        super::print_stdout(&matrix(&sel, args.parallelism.unwrap_or(cfg.parallelism)))?;
        return Ok(ExitStatus::Success);
    }

    let engine = PolicyEngine::load(&cfg.policy.paths, &cfg.policy.data, &cfg.policy.namespaces)?;
    let report = plan_and_judge(&cfg, &config_root, &sel, &engine, &args, None)?;
    print_report(&report, args.format)?;
    Ok(exit_status(&report))
}

/// Plans every stack of `sel` and judges the plans. Shared with the
/// GitHub-reporting path.
pub fn plan_and_judge(
    cfg: &Config,
    config_root: &Path,
    sel: &Selection,
    engine: &PolicyEngine,
    args: &ValidateArgs,
    pr_author: Option<&str>,
) -> Result<RunReport> {
    let started = Instant::now();
    let runs = plan_runs(
        cfg,
        config_root,
        sel,
        args.terraform.as_deref(),
        args.parallelism,
        "validate",
    )?;
    let judged = pipeline::judge(
        sel,
        &runs,
        &JudgeContext {
            engine,
            changed_files: &sel.changed_files,
            pr_author,
        },
    )?;
    Ok(pipeline::report(sel, judged, started.elapsed()))
}

/// `terraform init/plan/show -json` of every stack of `sel`, eagerly in DAG
/// order, in a scratch directory named after `command` that is removed
/// afterwards. One run per stack, indexed like `sel.dag.stacks`.
pub fn plan_runs(
    cfg: &Config,
    config_root: &Path,
    sel: &Selection,
    terraform: Option<&Path>,
    parallelism: Option<usize>,
    command: &str,
) -> Result<Vec<runner::StackRun>> {
    if sel.dag.stacks.is_empty() {
        return Ok(Vec::new());
    }
    let work_dir = pipeline::work_dir(cfg, command)?;
    let jobs = pipeline::build_jobs(cfg, config_root, sel, &work_dir)?;
    let opts = pipeline::run_options(cfg, terraform, parallelism, &work_dir)?;
    let runtime = super::runtime()?;
    let runs = runtime.block_on(async {
        let cancel = runner::cancel_on_signals()
            .map_err(|e| Error::runtime(format!("cannot install signal handlers: {e}")))?;
        let nodes = sel.dag.node_stacks();
        let no_approval = |_: &runner::StackJob, _: &serde_json::Value| Ok(());
        Ok::<_, Error>(
            runner::run_stacks(
                &jobs,
                &nodes,
                &sel.dag.preds,
                Operation::Plan,
                &opts,
                &no_approval,
                cancel,
            )
            .await,
        )
    });
    let _ = std::fs::remove_dir_all(&work_dir);
    runs
}

/// Prints the report to stdout in the chosen format.
pub fn print_report(report: &RunReport, format: ReportFormat) -> Result<()> {
    let text = match format {
        ReportFormat::Text if report.stacks.is_empty() => {
            "No stack changed: nothing to plan.".to_string()
        }
        ReportFormat::Text => crate::render::text::report(report, false),
        ReportFormat::Json => crate::render::json(report),
        ReportFormat::Markdown => crate::render::markdown::comment(
            report,
            &crate::render::markdown::CommentContext {
                head_sha: None,
                environment: report
                    .environment
                    .clone()
                    .unwrap_or_else(|| "(several)".into()),
                target_branch: String::new(),
                run_url: None,
                marker: None,
                audit_markdown: None,
            },
        ),
    };
    super::print_stdout(&text)
}

/// 0 passed, 1 failed, 130 when anything was cancelled.
pub fn exit_status(report: &RunReport) -> ExitStatus {
    if report
        .stacks
        .iter()
        .any(|s| s.status == StackStatus::Cancelled)
    {
        return ExitStatus::Cancelled;
    }
    match report.result {
        RunResult::Passed => ExitStatus::Success,
        RunResult::Failed | RunResult::Error => ExitStatus::Failure,
    }
}

/// DESIGN §6: the stacks by wave as a GitHub Actions matrix, each wave cut
/// into shards of at most `parallelism` stacks.
fn matrix(sel: &Selection, parallelism: usize) -> String {
    let mut include = Vec::new();
    for (wave, ids) in sel.dag.wave_ids().into_iter().enumerate() {
        for (shard, chunk) in ids.chunks(parallelism.max(1)).enumerate() {
            let tfvars: Vec<String> = chunk
                .iter()
                .filter_map(|id| sel.dag.stacks.iter().find(|s| &s.id == id))
                .map(|s| s.tfvars.to_string_lossy().into_owned())
                .collect();
            include.push(serde_json::json!({
                "wave": wave,
                "shard": format!("{wave}-{shard}"),
                "stacks": chunk,
                "files": tfvars.join(" "),
            }));
        }
    }
    let json = serde_json::json!({ "include": include }).to_string();
    crate::actions::commands::neutralise_json(&json).into_owned()
}
