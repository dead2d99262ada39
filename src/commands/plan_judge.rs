//! Plan every stack of a selection and judge the plans; print a run report
//! and its exit status. Shared by `validate` (terminal and PR), `report`
//! and `drift`, so none of them imports another command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use crate::cli::{ReportFormat, ValidateArgs};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::pipeline::{self, JudgeContext};
use crate::policy::PolicyEngine;
use crate::render::marker::ValidationMarker;
use crate::report::{InputsRecord, RunReport, RunResult, StackReport, StackStatus};
use crate::revalidate;
use crate::runner::{self, Operation, StackJob, StackRun};
use crate::select::Selection;
use crate::stack::Stack;

/// What a run plans: the settings, the config checkout, the stacks it
/// selected there and the process it runs in.
#[derive(Clone, Copy)]
pub(super) struct Planning<'a> {
    pub cfg: &'a Config,
    pub config_root: &'a Path,
    pub sel: &'a Selection,
    pub ctx: &'a Context,
}

/// Plans every stack of `run.sel` and judges the plans. With `prior` (a
/// verified validation of an earlier head of the same PR), a stack whose
/// inputs, policy set and state are what that validation passed is not
/// planned: its attested result is carried (`revalidate`).
pub(super) fn plan_and_judge(
    run: Planning<'_>,
    engine: &PolicyEngine,
    args: &ValidateArgs,
    pr_author: Option<&str>,
    prior: Option<&ValidationMarker>,
) -> Result<RunReport> {
    let started = Instant::now();
    let sel = run.sel;
    if sel.dag.stacks.is_empty() {
        return Ok(pipeline::report(sel, Vec::new(), started.elapsed()));
    }
    let work_dir = pipeline::work_dir(run.cfg, "validate")?;
    let result = plan_carrying(run, engine, args, pr_author, prior, &work_dir);
    let _ = std::fs::remove_dir_all(&work_dir);
    Ok(pipeline::report(sel, result?, started.elapsed()))
}

fn plan_carrying(
    run: Planning<'_>,
    engine: &PolicyEngine,
    args: &ValidateArgs,
    pr_author: Option<&str>,
    prior: Option<&ValidationMarker>,
    work_dir: &Path,
) -> Result<Vec<StackReport>> {
    let Planning {
        cfg,
        config_root,
        sel,
        ctx,
    } = run;
    let jobs = pipeline::build_jobs(cfg, config_root, sel, work_dir)?;
    let mut opts = pipeline::run_options(
        cfg,
        &ctx.host,
        args.terraform.as_deref(),
        args.parallelism,
        work_dir,
    )?;
    let digests = pipeline::input_digests(cfg, config_root, sel, &jobs, &opts)?;

    // Which results may be carried: same inputs and policy, then same state.
    let carried: BTreeSet<String> = match prior {
        Some(prior) => {
            let policy_digest = crate::policy::digest::policy_digest(
                &cfg.base_dir,
                &cfg.policy.paths,
                &cfg.policy.data,
            )?;
            let candidates = revalidate::candidates(prior, &policy_digest, &digests);
            let reading: Vec<StackJob> = jobs
                .iter()
                .filter(|j| candidates.contains_key(&j.stack.id))
                .cloned()
                .collect();
            let independent = vec![Vec::new(); reading.len()];
            let nodes: Vec<Option<usize>> = (0..reading.len()).map(Some).collect();
            let mut reading_opts = opts.clone();
            super::progress::attach(Operation::ReadState, &args.progress, ctx, &mut reading_opts);
            let runs = run_jobs(
                &reading,
                &nodes,
                &independent,
                Operation::ReadState,
                &reading_opts,
            )?;
            let states: BTreeMap<String, Option<String>> = reading
                .iter()
                .zip(&runs)
                .map(|(job, run)| (job.stack.id.clone(), run.state.clone()))
                .collect();
            revalidate::carried(&candidates, &states)
        }
        None => BTreeSet::new(),
    };

    // Plan the rest, in their own DAG (a carried stack is done already).
    let planned_stacks: Vec<Stack> = sel
        .dag
        .stacks
        .iter()
        .filter(|s| !carried.contains(&s.id))
        .cloned()
        .collect();
    let dag = crate::graph::build(planned_stacks, &cfg.order)?;
    let by_id: BTreeMap<&str, &StackJob> = jobs.iter().map(|j| (j.stack.id.as_str(), j)).collect();
    let planned_jobs: Vec<StackJob> = dag
        .stacks
        .iter()
        .map(|s| (*by_id[s.id.as_str()]).clone())
        .collect();
    super::progress::attach(Operation::Plan, &args.progress, ctx, &mut opts);
    let runs = run_jobs(
        &planned_jobs,
        &dag.node_stacks(),
        &dag.preds,
        Operation::Plan,
        &opts,
    )?;
    let mut run_of: BTreeMap<&str, StackRun> =
        dag.stacks.iter().map(|s| s.id.as_str()).zip(runs).collect();

    // Judge the planned stacks (a carried one gets a placeholder run whose
    // report is replaced by its attested result).
    let mut all_runs: Vec<StackRun> = sel
        .dag
        .stacks
        .iter()
        .map(|s| {
            run_of
                .remove(s.id.as_str())
                .unwrap_or_else(|| StackRun::not_started(runner::Outcome::Succeeded))
        })
        .collect();
    let judged = pipeline::judge(
        sel,
        &mut all_runs,
        &JudgeContext {
            engine,
            changed_files: &sel.changed_files,
            pr_author,
        },
    )?;
    Ok(sel
        .dag
        .stacks
        .iter()
        .zip(judged)
        .zip(&all_runs)
        .map(|((stack, mut report), run)| {
            if carried.contains(&stack.id) {
                if let Some(carried) = prior.and_then(|p| revalidate::carried_report(stack, p)) {
                    return carried;
                }
            }
            report.inputs = match (digests.get(&stack.id), &run.state) {
                (Some(digest), Some(state)) => Some(InputsRecord {
                    digest: digest.clone(),
                    state: state.clone(),
                    carried_from: None,
                }),
                _ => None,
            };
            report
        })
        .collect())
}

/// Runs `op` for `jobs` in the DAG `nodes`/`preds`, with signal handling.
fn run_jobs(
    jobs: &[StackJob],
    nodes: &[Option<usize>],
    preds: &[Vec<usize>],
    op: Operation,
    opts: &runner::RunOptions,
) -> Result<Vec<StackRun>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let cancel = runner::cancel_on_signals()
            .map_err(|e| Error::runtime(format!("cannot install signal handlers: {e}")))?;
        let no_approval = |_: &runner::StackJob, _: &serde_json::Value| Ok(());
        Ok::<_, Error>(runner::run_stacks(jobs, nodes, preds, op, opts, &no_approval, cancel).await)
    })
}

/// `terraform init/plan/show -json` of every stack of `run.sel`, eagerly in DAG
/// order, in a scratch directory named after `command` that is removed
/// afterwards. One run per stack, indexed like `sel.dag.stacks`.
pub(super) fn plan_runs(
    run: Planning<'_>,
    terraform: Option<&Path>,
    parallelism: Option<usize>,
    command: &str,
) -> Result<Vec<runner::StackRun>> {
    let Planning {
        cfg,
        config_root,
        sel,
        ctx,
    } = run;
    if sel.dag.stacks.is_empty() {
        return Ok(Vec::new());
    }
    let work_dir = pipeline::work_dir(cfg, command)?;
    let result = (|| {
        let jobs = pipeline::build_jobs(cfg, config_root, sel, &work_dir)?;
        let mut opts = pipeline::run_options(cfg, &ctx.host, terraform, parallelism, &work_dir)?;
        super::progress::attach(Operation::Plan, &Default::default(), ctx, &mut opts);
        run_jobs(
            &jobs,
            &sel.dag.node_stacks(),
            &sel.dag.preds,
            Operation::Plan,
            &opts,
        )
    })();
    let _ = std::fs::remove_dir_all(&work_dir);
    result
}

/// Prints the report to stdout in the chosen format.
pub(super) fn print_report(report: &RunReport, format: ReportFormat) -> Result<()> {
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
                next_step: None,
            },
        ),
    };
    super::print_stdout(&text)
}

/// 0 passed, 1 failed or locked by another PR, 130 when anything was
/// cancelled.
pub(super) fn exit_status(report: &RunReport) -> ExitStatus {
    if report
        .stacks
        .iter()
        .any(|s| s.status == StackStatus::Cancelled)
    {
        return ExitStatus::Cancelled;
    }
    if !report.locks.is_empty() {
        // Validated, but another PR holds a stack: not approvable.
        return ExitStatus::Failure;
    }
    match report.result {
        RunResult::Passed => ExitStatus::Success,
        RunResult::Failed | RunResult::Error => ExitStatus::Failure,
    }
}
