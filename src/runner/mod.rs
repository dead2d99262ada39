//! The runner: runs real terraform for a set of stacks in eager DAG order
//! with at most `parallelism` stacks at once (docs/DESIGN.md §3), and stops them
//! cleanly on cancel (docs/DESIGN.md §4).
//!
//! This file owns the public types and the dispatcher loop, which joins the
//! pure [`crate::schedule::Schedule`] to the per-stack tasks (`steps`) by a
//! join set and an approval channel. Command lines live in `terraform`,
//! processes and signals in `process`. It does no discovery, graph
//! building, policy checking or rendering: callers hand it jobs and a node
//! graph, and get one [`StackRun`] per job back.

mod process;
mod steps;
pub mod terraform;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::schedule::{NodeState, Schedule};

pub use process::{cancel_on_signals, Cancel};

/// One stack to run, with everything terraform needs.
#[derive(Debug, Clone)]
pub struct StackJob {
    pub stack: crate::stack::Stack,
    /// The root module directory; terraform runs with it as cwd.
    pub module_dir: PathBuf,
    /// The var files terraform reads, in order (absolute: terraform
    /// resolves relative paths against the module directory, not ours).
    pub var_files: Vec<VarFile>,
    /// `-backend-config=k=v` pairs, in order.
    pub backend_config: Vec<(String, String)>,
    /// `-var k=v` pairs (environment variables of tfctl.yaml, say).
    pub variables: BTreeMap<String, String>,
    /// Extra environment for terraform (credentials, profile); wins over
    /// tfctl's defaults except `TF_DATA_DIR`, which isolates stacks.
    pub env: BTreeMap<String, String>,
    /// Plan a destroy (`-destroy`).
    pub destroy: bool,
}

/// A var file terraform reads: tfctl's copy of a stack's tfvars (tfctl's
/// own keys blanked, every line where it was), and the tfvars it stands
/// for, which terraform's messages name instead of the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarFile {
    pub path: PathBuf,
    /// The tfvars, relative to the config root (`S3/a/a.tfvars`).
    pub shown_as: String,
}

/// How to run terraform for one run of many stacks.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The terraform binary (see [`locate_terraform`]).
    pub terraform: PathBuf,
    /// Per-run scratch directory: each stack's `TF_DATA_DIR`, plan file and
    /// state snapshot go below it. Created when missing.
    pub work_dir: PathBuf,
    /// Most stacks running at once (at least 1).
    pub parallelism: usize,
    /// Shared `TF_PLUGIN_CACHE_DIR`; inits that may write it are serialized.
    pub plugin_cache_dir: Option<PathBuf>,
    /// Time between SIGINT and SIGKILL on cancel; keep it inside GitHub's
    /// 7.5 s window before SIGTERM.
    pub grace_period: Duration,
    pub init_args: Vec<String>,
    pub plan_args: Vec<String>,
    pub apply_args: Vec<String>,
    /// Names of [`terraform::WITHHELD_ENV`] that terraform still inherits
    /// (`terraform.pass_env` of tfctl.yaml); every other one is removed.
    pub pass_env: Vec<String>,
    /// Who hears about each stack's start and end (nobody by default).
    pub watcher: Watcher,
    /// After this long with no stack ending, [`Progress::Waiting`].
    pub heartbeat: Duration,
    /// Tell the watcher every line terraform prints as [`Progress::Output`]
    /// (`--verbose`); never the data commands' stdout (state, outputs).
    pub stream_output: bool,
    /// Where each stack's whole terraform log is kept (`<slug>.log`), past
    /// the run directory's removal; None keeps none.
    pub log_dir: Option<PathBuf>,
    /// What the runner needs of tfctl's own environment (read once by
    /// `crate::context`; nothing under `runner` reads env).
    pub host: HostEnv,
}

/// tfctl's environment as far as running terraform goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEnv {
    /// `TFCTL_TERRAFORM`: the terraform binary, after `--terraform`.
    pub terraform: Option<String>,
    /// `PATH`: where a bare terraform name is looked up.
    pub path: Option<OsString>,
    /// `HOME`: a `~/.terraformrc` there is the user's CLI config.
    pub home: Option<OsString>,
    /// `TF_CLI_CONFIG_FILE`: the user's CLI config, if the file exists.
    pub tf_cli_config_file: Option<OsString>,
}

/// What the runner tells a [`Watcher`] as it happens (docs/DESIGN.md §3:
/// progress goes to stderr while the run goes on; stdout is the report).
#[derive(Debug, Clone)]
pub enum Progress {
    /// Stack `id` started; `position` counts starts from 1 up to `total`.
    Started {
        id: String,
        position: usize,
        total: usize,
    },
    /// Stack `id` ended (or, never started, was skipped or cancelled).
    Finished {
        id: String,
        position: usize,
        total: usize,
        outcome: Outcome,
        /// `+add ~change -destroy` of its plan, when it made one.
        changes: Option<crate::report::Changes>,
        duration: Duration,
        /// Everything terraform printed for it (no state, no outputs).
        log: String,
    },
    /// Nothing ended for a heartbeat interval: what is still running.
    Waiting { running: Vec<(String, Duration)> },
    /// One line terraform printed for stack `id`, as it printed it (only
    /// with [`RunOptions::stream_output`]; told from the reading task).
    Output { id: String, line: String },
    /// The run is over: nothing more comes.
    Done,
}

/// Receives [`Progress`] on the dispatcher task, one event at a time.
#[derive(Clone, Default)]
pub struct Watcher(Option<Arc<dyn Fn(Progress) + Send + Sync>>);

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Watcher(on)"
        } else {
            "Watcher(off)"
        })
    }
}

impl Watcher {
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Watcher {
        Watcher(Some(Arc::new(f)))
    }

    fn tell(&self, progress: Progress) {
        if let Some(f) = &self.0 {
            f(progress);
        }
    }
}

/// What to do with each stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `init`, `state pull` (what the plan is made against, see
    /// [`StackRun::state`]), `plan -out`, `show -json`.
    Plan,
    /// `init` and `state pull` only: whether a stack's state moved since a
    /// validation, without planning it (re-validation).
    ReadState,
    /// Plan, then the approve callback, a state snapshot, `apply` of the
    /// saved plan and `output -json`.
    Apply,
}

/// The result of one stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRun {
    pub outcome: Outcome,
    /// Wall time from the stack's start to its end; zero if never started.
    pub duration: Duration,
    /// `terraform show -json` of the plan.
    pub plan_json: Option<serde_json::Value>,
    pub plan_file: Option<PathBuf>,
    /// `terraform state pull` taken just before the apply.
    pub state_snapshot: Option<PathBuf>,
    /// The state a plan was made against (`<lineage>:<serial>` or `empty`,
    /// see `terraform::state_identity`), read before planning; `None`
    /// when it could not be read.
    pub state: Option<String>,
    /// `terraform output -json` after the apply, sensitive outputs removed.
    pub outputs: Option<serde_json::Value>,
    /// The last lines terraform printed (no ANSI; never state or outputs).
    pub log_tail: String,
    /// Everything terraform printed (no ANSI; never state or outputs),
    /// until the dispatcher hands it to the [`Watcher`] (then empty).
    pub log: String,
    /// Where that log was kept ([`RunOptions::log_dir`]).
    pub log_file: Option<PathBuf>,
    /// Terraform's human plan text (the `plan` step's stdout, no ANSI), for
    /// the grouped summary; may quote a sensitive value, so it is only
    /// shown through `plan::summary_from`, which redacts.
    pub plan_text: Option<String>,
    /// Terraform's `Warning:` diagnostics, each `summary (on file line N)`.
    pub terraform_warnings: Vec<String>,
}

impl StackRun {
    /// A run that never started, ending with `outcome`.
    pub fn not_started(outcome: Outcome) -> StackRun {
        StackRun {
            outcome,
            duration: Duration::ZERO,
            plan_json: None,
            plan_file: None,
            state_snapshot: None,
            state: None,
            outputs: None,
            log_tail: String::new(),
            log: String::new(),
            log_file: None,
            plan_text: None,
            terraform_warnings: Vec::new(),
        }
    }
}

/// How a stack ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A terraform step failed; the reason is short and has no ANSI.
    Failed(String),
    /// The approve callback refused the plan: nothing applied, dependents
    /// skipped.
    Rejected(String),
    /// Not run because a stack it depends on (`dependency`, a stack id)
    /// failed or was rejected.
    Skipped {
        dependency: String,
    },
    /// Not started before, or stopped by, a cancel.
    Cancelled,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded)
    }
}

fn finished(
    job: &StackJob,
    position: usize,
    total: usize,
    run: &StackRun,
    log: String,
) -> Progress {
    Progress::Finished {
        id: job.stack.id.clone(),
        position,
        total,
        outcome: run.outcome.clone(),
        changes: run.plan_json.as_ref().map(crate::plan::changes),
        duration: run.duration,
        log,
    }
}

/// Runs `op` for every job in eager DAG order and returns one [`StackRun`]
/// per job, indexed like `jobs`.
///
/// `nodes[n]` is the job of graph node `n` (`None`: a barrier), `preds[n]`
/// the nodes that must succeed before `n` starts. Each job must appear in
/// exactly one node and the graph must be acyclic (the graph module checks
/// both before anything runs; a violation here is a bug and panics).
/// `approve` is called once per stack before an apply, on this task, one
/// stack at a time; `Err(reason)` means [`Outcome::Rejected`].
pub async fn run_stacks(
    jobs: &[StackJob],
    nodes: &[Option<usize>],
    preds: &[Vec<usize>],
    op: Operation,
    opts: &RunOptions,
    approve: &(dyn Fn(&StackJob, &serde_json::Value) -> Result<(), String> + Sync),
    cancel: Cancel,
) -> Vec<StackRun> {
    let mut seen = vec![0usize; jobs.len()];
    for &job in nodes.iter().flatten() {
        seen[job] += 1;
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "run_stacks: every job must appear in exactly one node"
    );
    let is_task: Vec<bool> = nodes.iter().map(Option::is_some).collect();
    let mut schedule = Schedule::new(preds, &is_task).unwrap_or_else(|e| panic!("run_stacks: {e}"));

    let shared = match steps::Shared::prepare(opts, cancel.clone()) {
        Ok(mut shared) => {
            if opts.plugin_cache_dir.is_some() {
                shared.warm_modules(jobs).await;
            }
            Arc::new(shared)
        }
        Err(reason) => {
            return jobs
                .iter()
                .map(|_| StackRun::not_started(Outcome::Failed(reason.clone())))
                .collect()
        }
    };
    let (approval_tx, mut approval_rx) = mpsc::channel::<steps::ApprovalRequest>(16);
    let mut tasks = JoinSet::new();
    let mut results: Vec<Option<StackRun>> = vec![None; jobs.len()];
    let parallelism = opts.parallelism.max(1);
    let total = jobs.len();
    // Job index → (start position, start time) while it runs.
    let mut running: BTreeMap<usize, (usize, std::time::Instant)> = BTreeMap::new();
    let mut started = 0;
    let heartbeat = opts.heartbeat.max(Duration::from_millis(10));
    let mut quiet_since = tokio::time::Instant::now();

    loop {
        if cancel.is_cancelled() {
            schedule.cancel_pending();
        }
        while schedule.running() < parallelism {
            let Some(node) = schedule.pop_ready() else {
                break;
            };
            let index = nodes[node].expect("the schedule hands out task nodes only");
            started += 1;
            running.insert(index, (started, std::time::Instant::now()));
            opts.watcher.tell(Progress::Started {
                id: jobs[index].stack.id.clone(),
                position: started,
                total,
            });
            let job = jobs[index].clone();
            let (shared, approvals) = (Arc::clone(&shared), approval_tx.clone());
            tasks.spawn(async move {
                let run = steps::run_job(index, job, op, shared, approvals).await;
                (node, index, run)
            });
        }
        if schedule.running() == 0 {
            break;
        }
        tokio::select! {
            joined = tasks.join_next() => {
                let (node, index, mut run) = match joined.expect("a task is running") {
                    Ok(done) => done,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                schedule.finish(node, run.outcome.is_success());
                let position = running.remove(&index).map_or(0, |(p, _)| p);
                // The watcher takes the log: a big plan's text is not kept.
                let log = std::mem::take(&mut run.log);
                opts.watcher.tell(finished(&jobs[index], position, total, &run, log));
                quiet_since = tokio::time::Instant::now();
                results[index] = Some(run);
            }
            () = tokio::time::sleep_until(quiet_since + heartbeat) => {
                let running = running
                    .iter()
                    .map(|(&i, (_, at))| (jobs[i].stack.id.clone(), at.elapsed()))
                    .collect();
                opts.watcher.tell(Progress::Waiting { running });
                quiet_since = tokio::time::Instant::now();
            }
            Some(request) = approval_rx.recv() => {
                let decision = approve(&jobs[request.job], &request.plan);
                // The stack task may be gone if it panicked; nothing to tell.
                let _ = request.reply.send(decision);
            }
            // Wakes the loop so pending stacks are cancelled at once; the
            // guard stops it from firing again once it has.
            () = cancel.cancelled(), if !cancel.is_cancelled() => {
                schedule.cancel_pending();
            }
        }
    }
    debug_assert!(schedule.is_done());

    nodes
        .iter()
        .enumerate()
        .filter_map(|(node, job)| job.map(|job| (node, job)))
        .for_each(|(node, index)| {
            if results[index].is_none() {
                let outcome = match schedule.state(node) {
                    NodeState::Skipped { cause } => Outcome::Skipped {
                        dependency: nodes[cause]
                            .map(|j| jobs[j].stack.id.clone())
                            .expect("a skip is caused by a task"),
                    },
                    _ => Outcome::Cancelled,
                };
                let run = StackRun::not_started(outcome);
                started += 1;
                opts.watcher
                    .tell(finished(&jobs[index], started, total, &run, String::new()));
                results[index] = Some(run);
            }
        });
    opts.watcher.tell(Progress::Done);
    results
        .into_iter()
        .map(|r| r.expect("every job has a result"))
        .collect()
}

/// Finds terraform: the `--terraform` flag, then `TFCTL_TERRAFORM`, then
/// `terraform.binary` of tfctl.yaml, then `terraform` on `PATH` (both
/// from `host`). A configured path that does not exist is an input error
/// naming where it came from.
pub fn locate_terraform(
    flag: Option<&Path>,
    host: &HostEnv,
    config_binary: Option<&str>,
) -> Result<PathBuf, Error> {
    let env_value = host.terraform.as_deref();
    let configured = [
        (flag.map(Path::to_path_buf), "--terraform"),
        (
            env_value.filter(|v| !v.is_empty()).map(PathBuf::from),
            "TFCTL_TERRAFORM",
        ),
        (
            config_binary.filter(|v| !v.is_empty()).map(PathBuf::from),
            "tfctl.yaml terraform.binary",
        ),
    ];
    if let Some((path, source)) = configured
        .into_iter()
        .find_map(|(path, source)| path.map(|p| (p, source)))
    {
        // A bare name (`terraform1.9`) is looked up on PATH like a shell would.
        if path.components().count() == 1 && !path.is_absolute() {
            if let Some(found) = search_path(path.as_os_str(), host.path.clone()) {
                return Ok(found);
            }
        }
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(Error::input(format!(
                "{source}: terraform binary `{}` does not exist or is not executable",
                path.display()
            )))
        };
    }
    search_path("terraform".as_ref(), host.path.clone()).ok_or_else(|| {
        Error::input(
            "terraform not found on PATH; install it with `scripts/install-terraform.sh` \
             and set TFCTL_TERRAFORM=.tools/bin/terraform (or pass --terraform, or set \
             terraform.binary in tfctl.yaml)",
        )
    })
}

fn search_path(name: &std::ffi::OsStr, path_var: Option<OsString>) -> Option<PathBuf> {
    std::env::split_paths(&path_var?)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host whose `TFCTL_TERRAFORM` is `value` and whose `PATH` is `/bin`.
    fn host(value: Option<&str>) -> HostEnv {
        HostEnv {
            terraform: value.map(str::to_string),
            path: Some("/bin".into()),
            ..HostEnv::default()
        }
    }

    #[test]
    fn locate_prefers_flag_then_env_then_config() {
        let sh = Path::new("/bin/sh");
        assert_eq!(
            locate_terraform(Some(sh), &host(Some("/nope")), Some("/nope")).unwrap(),
            sh
        );
        assert_eq!(
            locate_terraform(None, &host(Some("/bin/sh")), Some("/nope")).unwrap(),
            sh
        );
        assert_eq!(
            locate_terraform(None, &host(None), Some("/bin/sh")).unwrap(),
            sh
        );
        // An empty env value counts as unset.
        assert_eq!(
            locate_terraform(None, &host(Some("")), Some("/bin/sh")).unwrap(),
            sh
        );
        // A bare name is looked up on the host's PATH, and only there.
        assert_eq!(locate_terraform(None, &host(None), Some("sh")).unwrap(), sh);
        let no_path = HostEnv::default();
        assert!(locate_terraform(None, &no_path, None).is_err());
    }

    #[test]
    fn locate_names_the_source_of_a_bad_path() {
        let err = locate_terraform(None, &host(Some("/no/such/terraform")), None).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
        assert!(err
            .message
            .starts_with("TFCTL_TERRAFORM: terraform binary `/no/such/terraform`"));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("terraform");
        std::fs::write(&plain, "not executable").unwrap();
        let err = locate_terraform(None, &host(None), plain.to_str()).unwrap_err();
        assert!(err.message.starts_with("tfctl.yaml terraform.binary:"));
    }

    #[test]
    fn search_path_finds_executables_only() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("terraform");
        std::fs::write(&plain, "not executable").unwrap();
        let path = Some(dir.path().as_os_str().to_owned());
        assert_eq!(search_path("terraform".as_ref(), path.clone()), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(search_path("terraform".as_ref(), path), Some(plain));
        assert_eq!(search_path("terraform".as_ref(), None), None);
    }
}
