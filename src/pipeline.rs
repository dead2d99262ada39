//! The shared middle of `validate` and `apply`: stacks of a selection →
//! terraform jobs → runs → a judged [`RunReport`] (validate) or
//! [`ApplyReport`] (apply); and the PR files API's paths → changed files.
//!
//! Job building and judging are pure; running is delegated to `runner`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::attest::SigningKey;
use crate::config::model::TemplateVars;
use crate::config::Config;
use crate::discovery::ChangedFile;
use crate::error::Error;
use crate::policy::{PolicyContext, PolicyEngine};
use crate::render::marker::{ValidationMarker, ViolationRecord, ATTESTATION_VERSION};
use crate::report::{
    ApplyReport, ApplyResult, ApplyStackReport, ApplyStatus, Changes, RunReport, StackReport,
    StackStatus,
};
use crate::runner::{Outcome, RunOptions, StackJob, StackRun, VarFile};
use crate::select::Selection;
use crate::stack::{Stack, StackAction};

/// Terraform jobs for every stack of `sel`, in stack order. The var files
/// terraform reads are written under `work_dir` ([`write_var_files`]).
pub fn build_jobs(
    cfg: &Config,
    config_root: &Path,
    sel: &Selection,
    work_dir: &Path,
) -> Result<Vec<StackJob>, Error> {
    let mut jobs = Vec::with_capacity(sel.dag.stacks.len());
    for stack in &sel.dag.stacks {
        let module_rel = cfg.modules.module_for(&stack.service);
        let module_dir = cfg.modules_root.join(&module_rel);
        if !module_dir.is_dir() {
            return Err(Error::input(format!(
                "{}: root module {} for service {} not found (set modules.services.{} in {})",
                stack.id,
                module_dir.display(),
                stack.service,
                stack.service,
                cfg.file.display()
            )));
        }
        let inputs = sel
            .inputs
            .get(&stack.id)
            .ok_or_else(|| Error::input(format!("{}: its tfvars were not read", stack.id)))?;
        let var_files = write_var_files(work_dir, &stack.id, inputs)?;
        let mut env = cfg
            .environments
            .get(&stack.environment)
            .cloned()
            .unwrap_or_default();
        // Config validation keeps `tfctl_*` out of `variables`.
        for (name, value) in &inputs.context {
            let value = if name == "tfctl_stack_dir" {
                // Absolute: the module runs elsewhere (docs/DESIGN.md §1).
                absolute(&config_root.join(value))
                    .to_string_lossy()
                    .into_owned()
            } else {
                value.clone()
            };
            env.variables.insert(name.clone(), value);
        }
        let vars = TemplateVars {
            id: &stack.id,
            service: &stack.service,
            name: &stack.name,
            environment: &stack.environment,
        };
        jobs.push(StackJob {
            stack: stack.clone(),
            module_dir: absolute(&module_dir),
            var_files,
            backend_config: cfg.backend.settings_for(&vars, &cfg.base_dir),
            variables: env.variables,
            env: env.env,
            destroy: stack.action == StackAction::Destroy,
        });
    }
    Ok(jobs)
}

/// `revalidate::inputs_digest` of each job's stack, by id (IO: reads the
/// module trees, lock files and companion files; each module once).
pub fn input_digests(
    cfg: &Config,
    config_root: &Path,
    sel: &Selection,
    jobs: &[StackJob],
    opts: &RunOptions,
) -> Result<BTreeMap<String, String>, Error> {
    let modules = crate::repo::FsModules {
        root: cfg.modules_root.clone(),
    };
    let mut trees: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let args: Vec<String> = opts
        .init_args
        .iter()
        .chain(&opts.plan_args)
        .cloned()
        .collect();
    let mut out = BTreeMap::new();
    for job in jobs {
        let stack = &job.stack;
        let module = cfg.modules.module_for(&stack.service);
        if !trees.contains_key(&module) {
            let tree = crate::module_tree::read_tree(&modules, &module)?
                .map(|t| t.digest)
                .unwrap_or_default();
            let lock = std::fs::read_to_string(job.module_dir.join(".terraform.lock.hcl")).ok();
            trees.insert(module.clone(), (tree, lock));
        }
        let (tree, lock) = &trees[&module];
        let inputs = sel
            .inputs
            .get(&stack.id)
            .ok_or_else(|| Error::input(format!("{}: its tfvars were not read", stack.id)))?;
        let companions = companion_files(cfg, config_root, &stack.id);
        let digest = crate::revalidate::inputs_digest(&crate::revalidate::InputParts {
            stack,
            module: &module,
            module_tree: tree,
            lock_file: lock.as_deref(),
            var_files: &inputs.var_files,
            companions: &companions,
            backend_config: &job.backend_config,
            variables: &job.variables,
            env: &job.env,
            args: &args,
        });
        out.insert(stack.id.clone(), digest);
    }
    Ok(out)
}

/// `(path, text)` of the companion files in a stack's directory, sorted
/// (what a module may read through `tfctl_stack_dir`).
fn companion_files(cfg: &Config, config_root: &Path, id: &str) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(config_root.join(id)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !cfg.stacks.companions.is_match(&name) {
                return None;
            }
            let text = std::fs::read(e.path()).ok()?;
            Some((
                format!("{id}/{name}"),
                String::from_utf8_lossy(&text).into_owned(),
            ))
        })
        .collect();
    files.sort();
    files
}

/// Writes the var files terraform reads for stack `id`: a copy of each of
/// its tfvars, as tfctl checked it, with tfctl's own keys blanked (so
/// terraform's remaining warnings are real, and its messages keep the
/// user's line numbers), under `work_dir`.
fn write_var_files(
    work_dir: &Path,
    id: &str,
    inputs: &crate::select::StackInputs,
) -> Result<Vec<VarFile>, Error> {
    let dir = work_dir.join("inputs").join(id.replace('/', "__"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::runtime(format!("{}: {e}", dir.display())))?;
    let mut out = Vec::with_capacity(inputs.var_files.len());
    for (n, (shown_as, text)) in inputs.var_files.iter().enumerate() {
        let file_name = shown_as.rsplit('/').next().unwrap_or(shown_as);
        let path = absolute(&dir.join(format!("{n}-{file_name}")));
        std::fs::write(
            &path,
            crate::tfvars::without_attributes(text, &inputs.withheld),
        )
        .map_err(|e| Error::runtime(format!("{}: {e}", path.display())))?;
        out.push(VarFile {
            path,
            shown_as: shown_as.clone(),
        });
    }
    Ok(out)
}

/// What the policy evaluation of a run needs besides the plans.
pub struct JudgeContext<'a> {
    pub engine: &'a PolicyEngine,
    pub changed_files: &'a [String],
    pub pr_author: Option<&'a str>,
}

/// Turns runs into stack reports: counts, plan summary, digest, policy
/// verdict. A Rego runtime error is an input error (the policy is wrong).
/// Each plan is given up to the policy engine once observed (`runs` keep
/// everything else): a plan of 10,000 changes is tens of MB as a tree.
pub fn judge(
    sel: &Selection,
    runs: &mut [StackRun],
    ctx: &JudgeContext<'_>,
) -> Result<Vec<StackReport>, Error> {
    let stacks = &sel.dag.stacks;
    let mut environments: Vec<String> = stacks.iter().map(|s| s.environment.clone()).collect();
    environments.sort();
    environments.dedup();

    let mut reports = observe(sel, runs);
    for ((report, stack), run) in reports.iter_mut().zip(stacks).zip(runs) {
        // `observe` marks exactly the stacks with a plan as passed.
        let (StackStatus::Passed, Some(plan)) = (report.status, run.plan_json.take()) else {
            continue;
        };
        let verdict = ctx.engine.evaluate_owned(
            plan,
            &PolicyContext {
                stack_id: stack.id.clone(),
                service: stack.service.clone(),
                name: stack.name.clone(),
                environment: stack.environment.clone(),
                changed_files: ctx.changed_files.to_vec(),
                pr_author: ctx.pr_author.map(str::to_string),
                environments_in_change: environments.clone(),
            },
        )?;
        if !verdict.violations.is_empty() {
            report.status = StackStatus::Failed;
        }
        report.violations = verdict.violations;
        report.warnings = verdict.warnings;
    }
    for report in &mut reports {
        if let Some(dependents) = sel.broken_dependencies.get(&report.id) {
            report.violations.push(broken_dependency(dependents));
            if report.status == StackStatus::Passed {
                report.status = StackStatus::Failed;
            }
        }
    }
    Ok(reports)
}

/// docs/DESIGN.md §3: a deleted stack that others still depend on would
/// leave the graph broken for every later run (`graph --all`, `drift`).
fn broken_dependency(dependents: &[String]) -> crate::report::Violation {
    crate::report::Violation {
        namespace: "tfctl.graph".into(),
        rule: "deny".into(),
        msg: format!(
            "deleted, but {} still depend{} on it (depends_on, or a value naming it): \
             change {} first",
            dependents.join(", "),
            if dependents.len() == 1 { "s" } else { "" },
            if dependents.len() == 1 { "it" } else { "them" }
        ),
    }
}

/// Turns runs into stack reports without policy: counts, plan summary and
/// digest for every stack that planned (status `passed`), the reason for
/// every other. What `drift` needs, and the first half of [`judge`].
pub fn observe(sel: &Selection, runs: &[StackRun]) -> Vec<StackReport> {
    let mut reports = Vec::with_capacity(sel.dag.stacks.len());
    for (stack, run) in sel.dag.stacks.iter().zip(runs) {
        let mut report = empty_report(stack, run.duration);
        match (&run.outcome, &run.plan_json) {
            (Outcome::Succeeded, Some(plan)) => {
                report.changes = crate::plan::changes(plan);
                report.plan_summary = Some(crate::plan::summary_from(
                    plan,
                    run.plan_text.as_deref(),
                    crate::plan::DEFAULT_SUMMARY_LINES,
                ));
                report.plan_digest = Some(crate::plan::digest(plan));
                report.destroys = crate::plan::destroyed(plan)
                    .into_iter()
                    .map(|(address, word)| format!("{address} ({word})"))
                    .collect();
                report.status = StackStatus::Passed;
            }
            (Outcome::Succeeded, None) => {
                report.status = StackStatus::Error;
                report.error = Some("terraform produced no plan".into());
            }
            (Outcome::Failed(why) | Outcome::Rejected(why), _) => {
                report.status = StackStatus::Error;
                report.error = Some(why.clone());
                report.log_tail = Some(run.log_tail.clone()).filter(|t| !t.trim().is_empty());
                report.log_file = run.log_file.as_ref().map(|f| f.display().to_string());
            }
            (Outcome::Skipped { dependency }, _) => {
                report.status = StackStatus::Skipped;
                report.error = Some(format!("dependency {dependency} failed"));
            }
            (Outcome::Cancelled, _) => {
                report.status = StackStatus::Cancelled;
                report.error = Some("cancelled".into());
            }
        }
        report
            .terraform_warnings
            .clone_from(&run.terraform_warnings);
        reports.push(report);
    }
    reports
}

/// A report for `stack` before anything is known about its run.
pub fn empty_report(stack: &Stack, duration: Duration) -> StackReport {
    StackReport {
        id: stack.id.clone(),
        service: stack.service.clone(),
        name: stack.name.clone(),
        environment: stack.environment.clone(),
        action: stack.action.as_str().to_string(),
        status: StackStatus::Skipped,
        changes: Changes::default(),
        violations: Vec::new(),
        warnings: Vec::new(),
        error: None,
        reasons: stack.reasons.clone(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        plan_digest: None,
        plan_summary: None,
        destroys: Vec::new(),
        log_tail: None,
        log_file: None,
        terraform_warnings: Vec::new(),
        inputs: None,
        promotion: None,
    }
}

/// Assembles the run report, stacks ordered as in the waves.
pub fn report(sel: &Selection, stacks: Vec<StackReport>, duration: Duration) -> RunReport {
    let waves = sel.dag.wave_ids();
    let mut ordered = in_wave_order(&waves, stacks, |s| &s.id);
    // The run's own reasons, also for a matrix shard's stacks.
    let reasons: BTreeMap<&str, &Vec<String>> = sel
        .dag
        .stacks
        .iter()
        .map(|s| (s.id.as_str(), &s.reasons))
        .collect();
    for s in &mut ordered {
        if let Some(r) = reasons.get(s.id.as_str()) {
            s.reasons.clone_from(r);
        }
    }
    let mut envs: Vec<&str> = ordered.iter().map(|s| s.environment.as_str()).collect();
    envs.sort_unstable();
    envs.dedup();
    RunReport {
        version: 1,
        result: RunReport::judge(&ordered),
        environment: (envs.len() == 1).then(|| envs[0].to_string()),
        waves,
        edges: sel.dag.direct_edges(),
        order: sel.dag.order_edges(),
        stacks: ordered,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        locks: Vec::new(),
    }
}

/// `items` ordered as their ids appear in `waves`.
fn in_wave_order<T>(waves: &[Vec<String>], items: Vec<T>, id: impl Fn(&T) -> &String) -> Vec<T> {
    let mut by_id: BTreeMap<String, T> = items.into_iter().map(|s| (id(&s).clone(), s)).collect();
    waves
        .iter()
        .flatten()
        .filter_map(|id| by_id.remove(id))
        .collect()
}

/// Turns apply runs into stack reports. `approved` is the validation's
/// digest by stack id. A rejected stack (the approve callback refused it)
/// is `not_applied` with the refusal as its error and its re-plan's
/// redacted summary, so the PR shows what it would have done.
pub fn judge_apply(
    sel: &Selection,
    runs: &[StackRun],
    approved: &BTreeMap<String, String>,
) -> Vec<ApplyStackReport> {
    sel.dag
        .stacks
        .iter()
        .zip(runs)
        .map(|(stack, run)| {
            let (status, error) = match &run.outcome {
                Outcome::Succeeded => (ApplyStatus::Applied, None),
                Outcome::Failed(why) => (ApplyStatus::Failed, Some(why.clone())),
                Outcome::Rejected(why) => (ApplyStatus::NotApplied, Some(why.clone())),
                Outcome::Skipped { dependency } => (
                    ApplyStatus::Skipped,
                    Some(format!("dependency {dependency} was not applied")),
                ),
                Outcome::Cancelled => (ApplyStatus::Cancelled, Some("cancelled".into())),
            };
            let plan = run.plan_json.as_ref();
            ApplyStackReport {
                id: stack.id.clone(),
                environment: stack.environment.clone(),
                action: stack.action.as_str().to_string(),
                status,
                changes: plan.map(crate::plan::changes),
                error,
                duration_ms: u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
                plan_digest: plan.map(crate::plan::digest),
                approved_digest: approved.get(&stack.id).cloned(),
                plan_summary: plan
                    .filter(|_| status == ApplyStatus::NotApplied)
                    .map(|plan| {
                        crate::plan::summary_from(
                            plan,
                            run.plan_text.as_deref(),
                            crate::plan::DEFAULT_SUMMARY_LINES,
                        )
                    }),
                state_snapshot: run.state_snapshot.as_ref().map(|p| p.display().to_string()),
                outputs: run
                    .outputs
                    .as_ref()
                    .and_then(serde_json::Value::as_object)
                    .map(|map| {
                        map.iter()
                            .map(|(k, o)| (k.clone(), o.get("value").cloned().unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// What an apply report says besides its stacks.
#[derive(Debug, Clone, Default)]
pub struct ApplyHeader {
    pub pull_request: Option<String>,
    pub commit_sha: Option<String>,
    pub environment: Option<String>,
    pub branch: String,
}

/// Assembles the apply report of a run, stacks in wave order.
pub fn apply_report(
    sel: &Selection,
    stacks: Vec<ApplyStackReport>,
    header: ApplyHeader,
    duration: Duration,
) -> ApplyReport {
    let waves = sel.dag.wave_ids();
    let stacks = in_wave_order(&waves, stacks, |s| &s.id);
    ApplyReport {
        version: 1,
        result: ApplyReport::judge(&stacks),
        pull_request: header.pull_request,
        commit_sha: header.commit_sha,
        environment: header.environment,
        branch: header.branch,
        blocked: Vec::new(),
        waves,
        stacks,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The report of an apply the gate refused: the reasons, no stacks.
pub fn blocked_report(
    header: ApplyHeader,
    reasons: Vec<String>,
    duration: Duration,
) -> ApplyReport {
    ApplyReport {
        version: 1,
        result: ApplyResult::Blocked,
        pull_request: header.pull_request,
        commit_sha: header.commit_sha,
        environment: header.environment,
        branch: header.branch,
        blocked: reasons,
        waves: Vec::new(),
        stacks: Vec::new(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The PR files API's paths (relative to the repository) → changed files
/// relative to the config root, which is `prefix` inside the repository
/// (`""` when they are the same). Files outside it are dropped; a rename is
/// a delete of the old path and an add of the new one; `removed` is a
/// delete.
pub fn pr_changed_files(
    files: &[crate::github::models::ChangedFile],
    prefix: &str,
) -> Vec<ChangedFile> {
    let relative = |path: &str| -> Option<String> {
        if prefix.is_empty() {
            Some(path.to_string())
        } else {
            path.strip_prefix(&format!("{}/", prefix.trim_end_matches('/')))
                .map(str::to_string)
        }
    };
    let mut out = Vec::new();
    for file in files {
        if let Some(old) = file.previous_filename.as_deref().and_then(relative) {
            out.push(ChangedFile::deleted(old));
        }
        if let Some(path) = relative(&file.filename) {
            out.push(if file.status == "removed" {
                ChangedFile::deleted(path)
            } else {
                ChangedFile::modified(path)
            });
        }
    }
    out
}

/// The most files GitHub's "list pull request files" API returns, over all
/// pages.
pub const PR_FILES_LIMIT: usize = 3000;

/// Which commits of the checkout hold a PR's change, for reading it from
/// git when GitHub's list of its files was cut.
#[derive(Debug, Clone, Copy)]
pub enum PrCommits<'a> {
    /// The PR's head (validate, dispatch): the change is
    /// `merge-base(base, head)..head`.
    Head {
        base_sha: &'a str,
        head_sha: &'a str,
    },
    /// The PR's merge commit (apply): the change is `merge^1..merge`.
    Merge { merge_sha: &'a str },
}

/// What GitHub said about a PR's files, and where git can tell the rest.
#[derive(Debug, Clone, Copy)]
pub struct PrFiles<'a> {
    /// The PR, for messages (`None`: a push not yet in a PR).
    pub number: Option<u64>,
    /// The files API's answer (or a compare's files).
    pub listed: &'a [crate::github::models::ChangedFile],
    /// The PR's `changed_files`; `None` when the payload lacks it.
    pub changed_files: Option<u64>,
    pub commits: PrCommits<'a>,
}

/// Whether a PR's listed files are all of them (pure). GitHub stops listing
/// at [`PR_FILES_LIMIT`] files, silently; the PR's `changed_files` says how
/// many there are. Without a count, a list at the limit may be cut.
pub fn pr_file_list_is_complete(listed: usize, changed_files: Option<u64>) -> bool {
    match changed_files {
        Some(total) => total <= listed as u64,
        None => listed < PR_FILES_LIMIT,
    }
}

/// A PR's changed files relative to the config root (`prefix` inside the
/// repository), for validate, apply and dispatch alike (docs/DESIGN.md §4: a
/// truncated list is never judged as if complete). The files API's list
/// when it is complete; else the diff of the PR's commits in the checkout
/// of `config_root` ([`PrCommits`]), or an input error when the checkout
/// lacks that history (a shallow clone).
pub fn pr_changes(
    files: &PrFiles<'_>,
    prefix: &str,
    config_root: &Path,
) -> Result<Vec<ChangedFile>, Error> {
    if pr_file_list_is_complete(files.listed.len(), files.changed_files) {
        return Ok(pr_changed_files(files.listed, prefix));
    }
    let who = files
        .number
        .map_or_else(|| "the change".to_string(), |n| format!("#{n}"));
    let counted = match files.changed_files {
        Some(total) => format!("{} of its {total} changed files", files.listed.len()),
        None => format!("{} changed files", files.listed.len()),
    };
    let refuse = |missing: String| {
        Error::input(format!(
            "{who}: GitHub listed {counted} (it lists at most 3,000), so the rest must come \
             from git, but {missing}: fetch the full history (actions/checkout fetch-depth: 0)"
        ))
    };
    let git = crate::repo::Git::open(config_root)
        .map_err(|_| refuse(format!("{} is not a git checkout", config_root.display())))?;
    match files.commits {
        PrCommits::Head { base_sha, head_sha } => {
            for (what, sha) in [("base", base_sha), ("head", head_sha)] {
                if !git.has_commit(sha) {
                    return Err(refuse(format!(
                        "the checkout lacks the PR's {what} commit {sha}"
                    )));
                }
            }
            // A cut history can hide the true merge base and yield an older
            // one, whose diff misses a file the PR set back to its old text.
            if git.is_shallow()? {
                return Err(refuse("the checkout is shallow".into()));
            }
            let base = git.merge_base_of(base_sha, head_sha).ok_or_else(|| {
                refuse(format!(
                    "{base_sha} and {head_sha} have no merge base in the checkout"
                ))
            })?;
            git.changes_between(&base, head_sha)
        }
        PrCommits::Merge { merge_sha } => {
            let parent = format!("{merge_sha}^1");
            if !git.has_commit(&parent) {
                return Err(refuse(format!(
                    "the checkout lacks the first parent of the merge commit {merge_sha}"
                )));
            }
            git.changes_between(&parent, merge_sha)
        }
    }
}

/// How to run terraform for a command: the binary (`--terraform`, then
/// `TFCTL_TERRAFORM`, then the config, then PATH), parallelism (the flag,
/// else the config's) and the config's terraform settings.
pub fn run_options(
    cfg: &Config,
    host: &crate::runner::HostEnv,
    terraform_flag: Option<&Path>,
    parallelism: Option<usize>,
    work_dir: &Path,
) -> Result<RunOptions, Error> {
    let terraform =
        crate::runner::locate_terraform(terraform_flag, host, cfg.terraform.binary.as_deref())?;
    Ok(RunOptions {
        terraform,
        work_dir: work_dir.to_path_buf(),
        parallelism: parallelism.unwrap_or(cfg.parallelism).max(1),
        plugin_cache_dir: cfg.terraform.plugin_cache_dir.clone(),
        grace_period: Duration::from_secs(cfg.terraform.grace_period_secs),
        init_args: cfg.terraform.init_args.clone(),
        plan_args: cfg.terraform.plan_args.clone(),
        apply_args: cfg.terraform.apply_args.clone(),
        pass_env: cfg.terraform.pass_env.clone(),
        watcher: crate::runner::Watcher::default(),
        heartbeat: Duration::from_secs(30),
        stream_output: false,
        log_dir: Some(log_dir(work_dir)),
        host: host.clone(),
    })
}

/// Where a run keeps each stack's terraform log: beside its run directory
/// (`.tfctl/run/validate-123.logs/`), so removing that keeps the logs.
pub fn log_dir(work_dir: &Path) -> PathBuf {
    let mut name = work_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".logs");
    work_dir.with_file_name(name)
}

/// One matrix shard's report and the file it was read from (named in
/// errors).
#[derive(Debug, Clone)]
pub struct Shard {
    pub file: String,
    pub report: RunReport,
}

/// docs/DESIGN.md §6: the stack reports of matrix shards as one list, for
/// [`report`] to order by the run's waves and judge. Every id of `expected`
/// (the run's stacks) must come from exactly one shard; a stack in two
/// shards, a stack the run does not have, an expected stack no shard
/// reported, or a report version other than 1 is an input error listing
/// every such problem. Also returns the longest shard's duration: shards
/// run side by side, so that is the run's wall time.
pub fn merge_shards(
    expected: &[String],
    shards: &[Shard],
) -> Result<(Vec<StackReport>, Duration), Error> {
    let mut problems = Vec::new();
    let wanted: std::collections::HashSet<&str> = expected.iter().map(String::as_str).collect();
    let mut from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut stacks = Vec::new();
    let mut longest = 0;
    for shard in shards {
        if shard.report.version != 1 {
            problems.push(format!(
                "{}: report version {} (tfctl reads version 1)",
                shard.file, shard.report.version
            ));
            continue;
        }
        longest = longest.max(shard.report.duration_ms);
        for stack in &shard.report.stacks {
            if let Some(first) = from.insert(&stack.id, &shard.file) {
                problems.push(format!(
                    "{}: stack {} is also in {first} (each stack belongs to one shard)",
                    shard.file, stack.id
                ));
            } else if !wanted.contains(stack.id.as_str()) {
                problems.push(format!(
                    "{}: stack {} is not one of this run's stacks",
                    shard.file, stack.id
                ));
            } else {
                stacks.push(stack.clone());
            }
        }
    }
    for id in expected {
        if !from.contains_key(id.as_str()) {
            problems.push(format!(
                "{id}: no shard reported this stack (a shard is missing)"
            ));
        }
    }
    if problems.is_empty() {
        Ok((stacks, Duration::from_millis(longest)))
    } else {
        Err(Error::input(problems.join("\n")))
    }
}

/// A per-run scratch directory under `.tfctl/run/` next to tfctl.yaml.
pub fn work_dir(cfg: &Config, command: &str) -> Result<PathBuf, Error> {
    let dir = cfg
        .base_dir
        .join(".tfctl")
        .join("run")
        .join(format!("{command}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::runtime(format!("{}: {e}", dir.display())))?;
    Ok(absolute(&dir))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A plan digest as published in a marker. With the signing key it is
/// HMAC-SHA256 under a key derived from it: a plain digest covers hashes of
/// sensitive values, and a PR comment is readable by everyone with access
/// to the repository, who could guess a low-entropy secret offline from it.
/// Apply (which holds the same secret) seals its re-plan's digest the same
/// way before comparing.
pub fn seal_digest(digest: &str, key: Option<&SigningKey>) -> String {
    use hmac::{Hmac, Mac};
    match key {
        None => digest.to_string(),
        Some(key) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.seal_key())
                .expect("HMAC takes any key length");
            mac.update(b"tfctl-plan-digest\n");
            mac.update(digest.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

/// What a validation is about, beyond its report.
#[derive(Debug, Clone)]
pub struct ValidationContext {
    /// The PR's repository, `owner/name`.
    pub repository: String,
    pub pr_number: u64,
    pub head_sha: String,
    pub base_ref: String,
    pub policy_digest: String,
    /// `GITHUB_RUN_ID`, or `local`.
    pub run_id: String,
    /// RFC 3339.
    pub time: String,
}

/// A violation's stable id: the first 16 hex digits of SHA-256 over stack,
/// rule and message, so an override names exactly what it excused and the
/// same finding keeps its id across runs.
pub fn violation_id(stack: &str, rule: &str, msg: &str) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in [stack, rule, msg] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Every deny/violation of `report` as the attestation records it, sorted.
pub fn violation_records(report: &RunReport) -> Vec<ViolationRecord> {
    let mut records: Vec<ViolationRecord> = report
        .stacks
        .iter()
        .flat_map(|s| {
            s.violations.iter().map(|v| {
                let rule = format!("{}.{}", v.namespace, v.rule);
                ViolationRecord {
                    id: violation_id(&s.id, &rule, &v.msg),
                    stack: s.id.clone(),
                    rule,
                }
            })
        })
        .collect();
    // A promotion gap is no policy violation, but an override excuses it
    // the same way, so the attestation names it beside them.
    records.extend(report.stacks.iter().filter_map(|s| {
        let why = s.promotion.as_deref()?;
        Some(ViolationRecord {
            id: violation_id(&s.id, PROMOTION_RULE, why),
            stack: s.id.clone(),
            rule: PROMOTION_RULE.into(),
        })
    }));
    records.sort();
    records.dedup();
    records
}

/// The rule a promotion gap is recorded under in the attestation.
pub const PROMOTION_RULE: &str = "tfctl.promote_from";

/// The attestation the validation comment carries: what merge and apply
/// trust. `environment` is empty and `target_branch` empty when the stacks
/// span several environments (merge then refuses, naming them). Digests are
/// sealed with `key` (see [`seal_digest`]); `marker::render` signs.
pub fn validation_marker(
    cfg: &Config,
    report: &RunReport,
    ctx: &ValidationContext,
    key: Option<&SigningKey>,
) -> ValidationMarker {
    let environments: Vec<String> = report
        .environments()
        .into_iter()
        .map(str::to_string)
        .collect();
    let environment = report.environment.clone().unwrap_or_default();
    let target_branch = if environment.is_empty() {
        String::new()
    } else {
        cfg.branch_for(&environment)
    };
    let violations = violation_records(report);
    ValidationMarker {
        version: ATTESTATION_VERSION,
        repository: ctx.repository.clone(),
        pr_number: ctx.pr_number,
        head_sha: ctx.head_sha.clone(),
        base_ref: ctx.base_ref.clone(),
        environment,
        environments,
        target_branch,
        result: report.result,
        stacks: report
            .stacks
            .iter()
            .filter_map(|s| {
                // A carried result's digest is the attested one, sealed already.
                let carried = s.inputs.as_ref().is_some_and(|i| i.carried_from.is_some());
                s.plan_digest.as_deref().map(|d| {
                    let sealed = if carried {
                        d.to_string()
                    } else {
                        seal_digest(d, key)
                    };
                    (s.id.clone(), sealed)
                })
            })
            .collect(),
        violations,
        results: crate::revalidate::records(&report.stacks),
        locked: report.locks.clone(),
        policy_digest: ctx.policy_digest.clone(),
        time: ctx.time.clone(),
        run_id: ctx.run_id.clone(),
        signature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_digest_is_keyed_and_stable() {
        let (k1, k2) = (SigningKey::generate(), SigningKey::generate());
        let d = "ab".repeat(32);
        assert_eq!(seal_digest(&d, None), d);
        let a = seal_digest(&d, Some(&k1));
        assert_eq!(a, seal_digest(&d, Some(&k1)));
        assert_ne!(a, d);
        assert_ne!(a, seal_digest(&d, Some(&k2)));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn violation_ids_are_stable_and_tell_findings_apart() {
        let a = violation_id("S3/a", "main.deny", "public bucket");
        assert_eq!(a, violation_id("S3/a", "main.deny", "public bucket"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, violation_id("S3/b", "main.deny", "public bucket"));
        assert_ne!(a, violation_id("S3/a", "main.deny", "public bucket!"));
        // The separator keeps "a|b" + "c" apart from "a" + "b|c".
        assert_ne!(
            violation_id("S3/a", "main.denyx", "y"),
            violation_id("S3/a", "main.deny", "xy")
        );
    }
    use crate::discovery::FileStatus;
    use crate::github::models;

    fn file(name: &str, status: &str, previous: Option<&str>) -> models::ChangedFile {
        models::ChangedFile {
            filename: name.into(),
            status: status.into(),
            previous_filename: previous.map(str::to_string),
        }
    }

    #[test]
    fn pr_files_are_made_relative_to_the_config_root() {
        let files = [
            file("config/S3/a/a.tfvars", "modified", None),
            file("config/S3/b/b.tfvars", "removed", None),
            file(
                "config/KMS/k/k.tfvars",
                "renamed",
                Some("config/KMS/old/old.tfvars"),
            ),
            file("modules/s3/main.tf", "modified", None),
            file("configx/S3/c/c.tfvars", "added", None),
        ];
        let got: Vec<(String, FileStatus)> = pr_changed_files(&files, "config")
            .into_iter()
            .map(|f| (f.path, f.status))
            .collect();
        assert_eq!(
            got,
            [
                ("S3/a/a.tfvars".to_string(), FileStatus::Modified),
                ("S3/b/b.tfvars".to_string(), FileStatus::Deleted),
                ("KMS/old/old.tfvars".to_string(), FileStatus::Deleted),
                ("KMS/k/k.tfvars".to_string(), FileStatus::Modified),
            ]
        );
        assert_eq!(pr_changed_files(&files, "").len(), 6);
    }
    #[test]
    fn a_file_list_is_complete_only_when_it_holds_every_changed_file() {
        assert!(pr_file_list_is_complete(12, Some(12)));
        assert!(pr_file_list_is_complete(3000, Some(3000)));
        assert!(!pr_file_list_is_complete(3000, Some(3001)));
        assert!(!pr_file_list_is_complete(0, Some(1)));
        // No count: a list at GitHub's limit may have been cut.
        assert!(pr_file_list_is_complete(2999, None));
        assert!(!pr_file_list_is_complete(3000, None));
    }

    #[test]
    fn a_cut_list_without_git_history_is_refused_naming_the_fix() {
        let listed = vec![file("docs/a.md", "added", None); 3000];
        let dir = std::env::temp_dir().join(format!("tfctl-no-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = PrFiles {
            number: Some(7),
            listed: &listed,
            changed_files: Some(3001),
            commits: PrCommits::Merge { merge_sha: "abc" },
        };
        let err = pr_changes(&files, "", &dir).unwrap_err();
        let _ = std::fs::remove_dir(&dir);
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert!(
            err.message.starts_with(
                "#7: GitHub listed 3000 of its 3001 changed files (it lists at most 3,000), \
                 so the rest must come from git, but "
            ),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with(": fetch the full history (actions/checkout fetch-depth: 0)"),
            "{}",
            err.message
        );
        // A complete list is used as it is, without git.
        let files = PrFiles {
            changed_files: Some(3000),
            ..files
        };
        assert_eq!(
            pr_changes(&files, "", Path::new("/nonexistent"))
                .unwrap()
                .len(),
            3000
        );
    }
    use crate::report::RunResult;

    fn stack(id: &str, status: StackStatus) -> StackReport {
        StackReport::sample(id, "production", status)
    }

    fn shard(file: &str, ms: u64, stacks: Vec<StackReport>) -> Shard {
        Shard {
            file: file.into(),
            report: RunReport::sample(stacks, ms),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn shards_merge_into_every_expected_stack_once() {
        let (stacks, took) = merge_shards(
            &ids(&["IAM/a", "S3/b", "S3/c"]),
            &[
                shard("s1.json", 40, vec![stack("S3/b", StackStatus::Failed)]),
                shard(
                    "s0.json",
                    70,
                    vec![
                        stack("IAM/a", StackStatus::Passed),
                        stack("S3/c", StackStatus::Passed),
                    ],
                ),
            ],
        )
        .unwrap();
        let mut got: Vec<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, ["IAM/a", "S3/b", "S3/c"]);
        assert_eq!(took, Duration::from_millis(70));
        assert_eq!(RunReport::judge(&stacks), RunResult::Failed);
    }

    #[test]
    fn duplicate_unknown_and_missing_stacks_are_all_named() {
        let err = merge_shards(
            &ids(&["IAM/a", "S3/b", "S3/c"]),
            &[
                shard("s0.json", 1, vec![stack("IAM/a", StackStatus::Passed)]),
                shard(
                    "s1.json",
                    1,
                    vec![
                        stack("IAM/a", StackStatus::Passed),
                        stack("KMS/z", StackStatus::Passed),
                        stack("S3/b", StackStatus::Passed),
                    ],
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "s1.json: stack IAM/a is also in s0.json (each stack belongs to one shard)\n\
             s1.json: stack KMS/z is not one of this run's stacks\n\
             S3/c: no shard reported this stack (a shard is missing)"
        );
    }

    #[test]
    fn an_unknown_report_version_is_refused() {
        let mut s = shard("s0.json", 1, vec![stack("IAM/a", StackStatus::Passed)]);
        s.report.version = 2;
        let err = merge_shards(&ids(&["IAM/a"]), &[s]).unwrap_err();
        assert!(
            err.message
                .starts_with("s0.json: report version 2 (tfctl reads version 1)"),
            "{}",
            err.message
        );
    }
}
