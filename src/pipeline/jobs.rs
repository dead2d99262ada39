//! A selection's stacks → terraform jobs, and the run's directories.
//!
//! The one effectful room of the pipeline: it writes each stack's var
//! files and reads module trees, lock files and companion files for the
//! input digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::model::TemplateVars;
use crate::config::Config;
use crate::error::Error;
use crate::runner::{RunOptions, StackJob, VarFile};
use crate::select::Selection;
use crate::stack::StackAction;

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

pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
