//! Plan every stack of a selection and judge the plans; print a run report
//! and its exit status. Shared by `validate` (terminal and PR), `report`
//! and `drift`, so none of them imports another command.

use std::path::Path;
use std::time::Instant;

use crate::cli::{ReportFormat, ValidateArgs};
use crate::config::Config;
use crate::error::{Error, ExitStatus, Result};
use crate::pipeline::{self, JudgeContext};
use crate::policy::PolicyEngine;
use crate::report::{RunReport, RunResult, StackStatus};
use crate::runner::{self, Operation};
use crate::select::Selection;

/// Plans every stack of `sel` and judges the plans.
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
