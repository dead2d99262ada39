//! One stack's terraform steps, in order: init (behind the init gate),
//! plan, show; for an apply also approval, state snapshot, apply, outputs.
//!
//! Owns the per-stack scratch layout under the run's work dir, the
//! environment terraform gets (tfctl's own minus
//! [`tf::WITHHELD_ENV`], plus tfctl's defaults and the job's), and the init gate that keeps parallel inits
//! from racing on a module's `.terraform.lock.hcl` or on the shared plugin
//! cache. It decides nothing about order (the dispatcher in `mod.rs` does)
//! and asks the dispatcher, not the caller, for approval.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::process::{self, Cancel, ChildEnv};
use super::terraform as tf;
use super::{Operation, Outcome, RunOptions, StackJob, StackRun};

/// Lines of terraform output kept in [`StackRun::log_tail`].
const LOG_TAIL_LINES: usize = 20;

/// A stack task asking the dispatcher to run the approve callback.
pub(super) struct ApprovalRequest {
    pub job: usize,
    pub plan: serde_json::Value,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// What every stack task of one run shares.
pub(super) struct Shared {
    opts: RunOptions,
    cancel: Cancel,
    /// Environment for every terraform command, before the job's own.
    base_env: Vec<(OsString, OsString)>,
    /// Inherited names terraform must not see (see [`tf::withheld_env`]).
    withheld_env: Vec<OsString>,
    /// The empty CLI config file, when [`tf::needs_empty_cli_config`] may
    /// apply (decided per job: a job's env can name its own).
    /// CLI config for runs when the user has none: the installer's, else empty.
    empty_cli_config: Option<PathBuf>,
    inits: InitGate,
}

impl Shared {
    /// Creates the work dir (and plugin cache dir) and fixes the base
    /// environment. Reads `TF_CLI_CONFIG_FILE` and `HOME` only to avoid
    /// overriding a user's terraform CLI configuration.
    pub(super) fn prepare(opts: &RunOptions, cancel: Cancel) -> Result<Shared, String> {
        let mkdir = |dir: &Path| {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))
        };
        mkdir(&opts.work_dir)?;
        let mut base_env: Vec<(OsString, OsString)> = vec![
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
        ];
        if let Some(cache) = &opts.plugin_cache_dir {
            mkdir(cache)?;
            base_env.push(("TF_PLUGIN_CACHE_DIR".into(), cache.into()));
        }
        let home_rc = opts
            .host
            .home
            .as_ref()
            .is_some_and(|home| Path::new(home).join(".terraformrc").exists());
        // A TF_CLI_CONFIG_FILE naming a missing file counts as unset (this
        // happens on hosted runners), else terraform warns on every command.
        let configured = opts
            .host
            .tf_cli_config_file
            .as_ref()
            .filter(|p| Path::new(p).is_file());
        let empty_cli_config = if configured.is_none() && !home_rc {
            // scripts/install-terraform.sh puts its CLI config (the offline
            // provider mirror) at <tools>/terraformrc beside <tools>/bin.
            let beside_binary = opts
                .terraform
                .parent()
                .and_then(Path::parent)
                .map(|tools| tools.join("terraformrc"))
                .filter(|rc| rc.is_file());
            if let Some(rc) = beside_binary {
                Some(rc)
            } else {
                let file = opts.work_dir.join("terraformrc.empty");
                std::fs::write(&file, "")
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                Some(file)
            }
        } else {
            None
        };
        Ok(Shared {
            opts: opts.clone(),
            cancel,
            base_env,
            withheld_env: tf::withheld_env(&opts.pass_env)
                .into_iter()
                .map(OsString::from)
                .collect(),
            empty_cli_config,
            inits: InitGate::default(),
        })
    }

    /// Every terraform command of `job` runs with this: the withheld names
    /// removed from what tfctl inherited, then tfctl's defaults, then the
    /// job's own env (tfctl.yaml's, which may set a withheld name on
    /// purpose), then the data dir.
    fn env_for(&self, job: &StackJob, data_dir: &Path) -> ChildEnv {
        let mut env = self.base_env.clone();
        if let Some(empty) = &self.empty_cli_config {
            // Same decision as tf::needs_empty_cli_config with the process
            // env and ~/.terraformrc already known to be absent.
            if tf::needs_empty_cli_config(None, &job.env, false) {
                env.push(("TF_CLI_CONFIG_FILE".into(), empty.into()));
            }
        }
        env.extend(job.env.iter().map(|(k, v)| (k.into(), v.into())));
        // Last, so nothing overrides the isolation of stacks.
        env.push(("TF_DATA_DIR".into(), data_dir.into()));
        ChildEnv {
            remove: self.withheld_env.clone(),
            set: env,
        }
    }
}

/// Keeps parallel inits from racing on shared files.
///
/// A module dir's first init writes its `.terraform.lock.hcl`: stacks of
/// one module dir run their first init one at a time.
///
/// The plugin cache needs more. Terraform does not lock it, and an init of
/// a module dir *without* a lock file installs providers afresh and
/// rewrites their cache entries, even ones other stacks are linked to:
/// parallel inits fail with "mkdir ...: file exists", and a plan running
/// meanwhile with "could not read package directory". So with a cache,
/// every module dir of the run is *warmed* first, one at a time: one
/// `init -backend=false` in a scratch data dir writes its lock file and
/// fills the cache. After that every stack's init only reads the lock file
/// and the cache, and all run in parallel.
#[derive(Default)]
struct InitGate {
    /// Per module dir: `true` once an init there succeeded.
    modules: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<bool>>>>,
    /// With a plugin cache: how warming each module dir went.
    warmed: HashMap<PathBuf, Result<(), String>>,
}

impl InitGate {
    fn module(&self, dir: &Path) -> Arc<tokio::sync::Mutex<bool>> {
        let mut modules = self
            .modules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(modules.entry(module_key(dir)).or_default())
    }
}

/// Two spellings of one module dir must share one gate.
fn module_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

impl Shared {
    /// Warms each distinct module dir of `jobs` (see [`InitGate`]), one at a
    /// time, in job order. Only needed, and only called, with a plugin
    /// cache. Stops early on cancel: the dispatcher then starts nothing.
    pub(super) async fn warm_modules(&mut self, jobs: &[StackJob]) {
        for (n, job) in jobs.iter().enumerate() {
            let key = module_key(&job.module_dir);
            if self.inits.warmed.contains_key(&key) || self.cancel.is_cancelled() {
                continue;
            }
            let data_dir = self.opts.work_dir.join(format!("warm-{n:03}"));
            let mut argv = tf::init_argv(&[], &self.opts.init_args);
            argv.push("-backend=false".into());
            let result = match process::run(
                &self.opts.terraform,
                &argv,
                &job.module_dir,
                &self.env_for(job, &data_dir),
                &self.cancel,
                self.opts.grace_period,
            )
            .await
            {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(tf::failure_reason(
                    "init",
                    &String::from_utf8_lossy(&[&out.stdout[..], &out.stderr[..]].concat()),
                    &out.describe_status(),
                )),
                Err(e) => Err(cannot_run(&self.opts.terraform, &e)),
            };
            self.inits.warmed.insert(key, result);
        }
    }
}

fn cannot_run(terraform: &Path, e: &std::io::Error) -> String {
    format!("cannot run {}: {e}", terraform.display())
}

/// Runs one stack to its end. Never panics on terraform's behalf: every
/// problem becomes the stack's [`Outcome`].
pub(super) async fn run_job(
    index: usize,
    job: StackJob,
    op: Operation,
    shared: Arc<Shared>,
    approvals: mpsc::Sender<ApprovalRequest>,
) -> StackRun {
    let started = Instant::now();
    let dir = shared
        .opts
        .work_dir
        .join(tf::stack_slug(index, &job.stack.id));
    let data_dir = dir.join("tf-data");
    let mut stack = Steps {
        env: shared.env_for(&job, &data_dir),
        job: &job,
        shared: &shared,
        log: String::new(),
        run: StackRun::not_started(Outcome::Succeeded),
    };
    let outcome = match stack.all(index, op, &dir, &approvals).await {
        Ok(()) => Outcome::Succeeded,
        Err(outcome) => outcome,
    };
    let mut run = stack.run;
    run.outcome = outcome;
    run.duration = started.elapsed();
    run.log_tail = tf::log_tail(&stack.log, LOG_TAIL_LINES);
    run.log = tf::strip_ansi(&stack.log);
    run.terraform_warnings = tf::warnings(&run.log);
    if let Some(logs) = &shared.opts.log_dir {
        let file = logs.join(format!("{}.log", tf::stack_slug(index, &job.stack.id)));
        let written = std::fs::create_dir_all(logs).and_then(|()| std::fs::write(&file, &run.log));
        match written {
            Ok(()) => run.log_file = Some(file),
            // The log is still in the report's tail and the Actions group.
            Err(e) => eprintln!("tfctl: cannot keep the log of {}: {e}", job.stack.id),
        }
    }
    run
}

struct Steps<'a> {
    job: &'a StackJob,
    shared: &'a Shared,
    env: ChildEnv,
    /// What terraform printed, minus data (show, state, outputs).
    log: String,
    run: StackRun,
}

impl Steps<'_> {
    async fn all(
        &mut self,
        index: usize,
        op: Operation,
        dir: &Path,
        approvals: &mpsc::Sender<ApprovalRequest>,
    ) -> Result<(), Outcome> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Outcome::Failed(format!("cannot create {}: {e}", dir.display())))?;
        let opts = &self.shared.opts;
        self.init().await?;
        // Before the plan: a state that moves after this read makes the
        // recorded identity older than the plan, so a later push re-plans
        // (the safe direction; see docs/DESIGN.md §3, "Re-validation").
        if matches!(op, Operation::Plan | Operation::ReadState) {
            match self
                .step("state pull", tf::state_pull_argv(), Log::StderrOnly)
                .await
            {
                Ok(state) => self.run.state = Some(tf::state_identity(&state)),
                Err(Outcome::Cancelled) => return Err(Outcome::Cancelled),
                Err(why) if op == Operation::ReadState => return Err(why),
                Err(why) => self.log.push_str(&format!(
                    "tfctl: state not read ({why:?}); this plan is never carried\n"
                )),
            }
        }
        if op == Operation::ReadState {
            return Ok(());
        }

        let plan_file = dir.join("plan.tfplan");
        let var_files: Vec<PathBuf> = self.job.var_files.iter().map(|f| f.path.clone()).collect();
        let argv = tf::plan_argv(
            &plan_file,
            &var_files,
            &self.job.variables,
            self.job.destroy,
            &opts.plan_args,
        );
        let printed = self.step("plan", argv, Log::Everything).await?;
        self.run.plan_file = Some(plan_file.clone());
        self.run.plan_text = Some(tf::strip_ansi(&String::from_utf8_lossy(&printed)));
        drop(printed);

        let shown = self
            .step("show", tf::show_argv(&plan_file), Log::StderrOnly)
            .await?;
        let plan: serde_json::Value = serde_json::from_slice(&shown).map_err(|e| {
            Outcome::Failed(format!("terraform show -json printed invalid JSON: {e}"))
        })?;
        drop(shown);
        if op == Operation::Plan {
            // Kept once: a plan of 10,000 changes is tens of MB as a Value.
            self.run.plan_json = Some(plan);
            return Ok(());
        }
        self.run.plan_json = Some(plan.clone());

        let (reply, decision) = oneshot::channel();
        let request = ApprovalRequest {
            job: index,
            plan,
            reply,
        };
        let no_dispatcher = || Outcome::Failed("the run ended before approval".into());
        approvals.send(request).await.map_err(|_| no_dispatcher())?;
        decision
            .await
            .map_err(|_| no_dispatcher())?
            .map_err(Outcome::Rejected)?;

        let state = self
            .step("state pull", tf::state_pull_argv(), Log::StderrOnly)
            .await?;
        let snapshot = dir.join("state-before.tfstate");
        std::fs::write(&snapshot, state).map_err(|e| {
            Outcome::Failed(format!(
                "cannot write state snapshot {}: {e}",
                snapshot.display()
            ))
        })?;
        self.run.state_snapshot = Some(snapshot);

        let argv = tf::apply_argv(&plan_file, &opts.apply_args);
        self.step("apply", argv, Log::Everything).await?;

        // Applied: from here on nothing turns the stack into a failure.
        match self
            .step("output", tf::output_argv(), Log::StderrOnly)
            .await
        {
            Ok(stdout) => match serde_json::from_slice::<serde_json::Value>(&stdout) {
                Ok(outputs) => self.run.outputs = Some(tf::public_outputs(&outputs)),
                Err(e) => self
                    .log
                    .push_str(&format!("tfctl: outputs are not JSON: {e}\n")),
            },
            Err(outcome) => self
                .log
                .push_str(&format!("tfctl: outputs not read: {outcome:?}\n")),
        }
        Ok(())
    }

    /// `terraform init` behind the [`InitGate`].
    async fn init(&mut self) -> Result<(), Outcome> {
        let opts = &self.shared.opts;
        let argv = tf::init_argv(&self.job.backend_config, &opts.init_args);
        if opts.plugin_cache_dir.is_some() {
            // Warmed: this init only reads the cache and the lock file.
            return match self
                .shared
                .inits
                .warmed
                .get(&module_key(&self.job.module_dir))
            {
                Some(Ok(())) => self.step("init", argv, Log::Everything).await.map(drop),
                Some(Err(reason)) => Err(Outcome::Failed(reason.clone())),
                // Not warmed: the run was cancelled while warming.
                None => Err(Outcome::Cancelled),
            };
        }
        let module = self.shared.inits.module(&self.job.module_dir);
        let mut initialized = module.lock().await;
        if *initialized {
            drop(initialized);
            self.step("init", argv, Log::Everything).await?;
        } else {
            // Holding the module's gate: the lock file is being written.
            self.step("init", argv, Log::Everything).await?;
            *initialized = true;
        }
        Ok(())
    }

    /// Runs one terraform command and returns its stdout. A cancel before
    /// the start, or one that interrupted a failing command, is
    /// `Cancelled`; any other failure is `Failed` with a short reason.
    async fn step(
        &mut self,
        name: &str,
        argv: Vec<OsString>,
        log: Log,
    ) -> Result<Vec<u8>, Outcome> {
        let shared = self.shared;
        if shared.cancel.is_cancelled() {
            return Err(Outcome::Cancelled);
        }
        // Only the subcommand: `-var` values may be credentials.
        self.log.push_str(&format!("$ terraform {name}\n"));
        let out = process::run_watched(
            &shared.opts.terraform,
            &argv,
            &self.job.module_dir,
            &self.env,
            &shared.cancel,
            shared.opts.grace_period,
            &self.lines(log),
        )
        .await
        .map_err(|e| Outcome::Failed(cannot_run(&shared.opts.terraform, &e)))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let printed = match log {
            Log::Everything => format!("{stdout}{stderr}"),
            Log::StderrOnly => stderr.into_owned(),
        };
        let printed = name_var_files(printed, &self.job.var_files);
        self.log.push_str(&printed);
        if out.status.success() {
            return Ok(out.stdout);
        }
        if out.interrupted {
            return Err(Outcome::Cancelled);
        }
        let mut reason = tf::failure_reason(name, &printed, &out.describe_status());
        let at = tfvars_errors(&printed, &self.job.var_files);
        if !at.is_empty() {
            reason.push_str(&format!(" (at {})", at.join(", ")));
        }
        Err(Outcome::Failed(reason))
    }
}

impl Steps<'_> {
    /// With `--verbose`, each line as [`super::Progress::Output`]: stderr
    /// always, stdout only where it is not data ([`Log`]).
    fn lines(&self, log: Log) -> process::Lines {
        if !self.shared.opts.stream_output {
            return process::Lines::default();
        }
        let watcher = self.shared.opts.watcher.clone();
        let id = self.job.stack.id.clone();
        let var_files = self.job.var_files.clone();
        let sink: process::LineSink = Arc::new(move |line: &str| {
            let line = name_var_files(tf::strip_ansi(line), &var_files);
            watcher.tell(super::Progress::Output {
                id: id.clone(),
                line,
            });
        });
        process::Lines {
            stdout: matches!(log, Log::Everything).then(|| Arc::clone(&sink)),
            stderr: Some(sink),
        }
    }
}

/// Terraform's messages name the var files it read (tfctl's copies); people
/// know them as their tfvars, at the same lines.
fn name_var_files(text: String, var_files: &[super::VarFile]) -> String {
    var_files.iter().fold(text, |text, file| {
        text.replace(&*file.path.to_string_lossy(), &file.shown_as)
    })
}

/// The tfvars lines terraform's errors point at (`S3/a/a.tfvars:4`), in
/// order, from its output after [`name_var_files`]: terraform prints
/// `Error: summary`, then `on FILE line N:` above the source snippet.
fn tfvars_errors(printed: &str, var_files: &[super::VarFile]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut in_error = false;
    for line in printed.lines() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || "│╷╵".contains(c));
        if line.starts_with("Error: ") {
            in_error = true;
        } else if line.starts_with("Warning: ") {
            in_error = false;
        }
        let Some(place) = line.strip_prefix("on ").and_then(|l| l.strip_suffix(':')) else {
            continue;
        };
        let Some((file, number)) = place.rsplit_once(" line ") else {
            continue;
        };
        let known = var_files.iter().any(|f| f.shown_as == file);
        let at = format!("{file}:{number}");
        if in_error && known && number.parse::<usize>().is_ok() && !found.contains(&at) {
            found.push(at);
        }
    }
    found
}

/// Which of a command's output may go to the log: stdout of `show -json`,
/// `state pull` and `output -json` is data, and may hold secrets.
#[derive(Clone, Copy)]
enum Log {
    Everything,
    StderrOnly,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::VarFile;

    #[test]
    fn terraform_errors_name_the_tfvars_and_line_not_the_copy() {
        let files = [VarFile {
            path: PathBuf::from("/w/inputs/S3__a/0-a.tfvars"),
            shown_as: "S3/a/a.tfvars".into(),
        }];
        let printed = "\nWarning: Deprecated\n\n  on /w/inputs/S3__a/0-a.tfvars line 2:\n\n\
                       Error: Invalid value for input variable\n\n  on /w/inputs/S3__a/0-a.tfvars line 4:\n\
                       \u{20}  4: encrypted = \"maybe\"\n\nThe given value is not suitable.\n\
                       Error: Other\n\n  on main.tf line 9:\n";
        let named = name_var_files(printed.to_string(), &files);
        assert!(!named.contains("/w/inputs"), "{named}");
        assert!(named.contains("on S3/a/a.tfvars line 4:"), "{named}");
        assert_eq!(tfvars_errors(&named, &files), ["S3/a/a.tfvars:4"]);
    }
}
