//! Command-line interface: clap definitions only, no IO.
//!
//! Every command that talks to GitHub reads the Actions context by default;
//! the `GithubArgs` flags let it run outside Actions for debugging.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// GitHub pull requests as a governed Terraform pipeline: validate → review → merge → apply.
#[derive(Debug, Parser)]
#[command(name = "tfctl", version, about, propagate_version = true)]
pub struct Cli {
    /// Path to tfctl.yaml (default: found by walking up from the current directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Config repo: open or find the PR for a push and send validate/apply dispatches.
    Dispatch(DispatchArgs),
    /// Plan changed stacks in dependency order and check them against policy.
    Validate(ValidateArgs),
    /// Merge an approved, validated PR into its environment branch.
    Merge(MergeArgs),
    /// Apply exactly the approved commit, after the apply gate.
    Apply(ApplyArgs),
    /// Show the dependency graph and waves of the changed (or all) stacks.
    Graph(GraphArgs),
    /// Rego policy tools.
    Policy(PolicyArgs),
    /// Print the JSON Schema of tfctl.yaml.
    Schema,
    /// Merge the JSON reports of a validate job matrix and report them once.
    Report(ReportArgs),
    /// Plan every stack and report drift from the code (an issue in Actions).
    Drift(DriftArgs),
    /// The controller's signing key: make one, or print its public key.
    Key(KeyArgs),
    /// List the stack locks and who holds them.
    Locks(LocksArgs),
    /// Free a stuck stack lock (a special approver, with a reason; audited).
    Unlock(UnlockArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LocksArgs {
    #[command(flatten)]
    pub github: GithubArgs,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value_t = LocksFormat::Text)]
    pub format: LocksFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LocksFormat {
    #[default]
    Text,
    Json,
}

/// In Actions on `workflow_dispatch`, STACK and the reason may come from the
/// run's inputs `stack` and `reason`; the person who started the run must
/// be a special approver.
#[derive(Debug, Clone, Args)]
pub struct UnlockArgs {
    /// The stack whose lock to free (as `tfctl locks` lists it).
    pub stack: Option<String>,
    /// Why the lock is stuck (recorded in the lock and the audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum KeyCommand {
    /// Print a new secret key (store it as the controller's `TFCTL_SIGNING_KEY` secret).
    Generate,
    /// Print the public key of `TFCTL_SIGNING_KEY` (list it in `trust.public_keys`).
    Public,
}

/// Which stacks a command works on.
#[derive(Debug, Clone, Args, Default)]
pub struct SelectArgs {
    /// Changed files or directories instead of asking git: relative to the current
    /// directory or the config root, or absolute; a stack, module or policy path.
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with_all = ["base", "all"])]
    pub files: Vec<String>,
    /// Diff against the merge base with this ref (default: the config's default branch).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Every stack, changed or not.
    #[arg(long, conflicts_with = "base")]
    pub all: bool,
    /// Where the stacks are (overrides `config_root` of tfctl.yaml).
    #[arg(long, value_name = "DIR")]
    pub config_root: Option<PathBuf>,
}

/// Flags that stand in for the GitHub Actions context.
#[derive(Debug, Clone, Args, Default)]
pub struct GithubArgs {
    /// Event name (default: $`GITHUB_EVENT_NAME`).
    #[arg(long, value_name = "NAME")]
    pub event_name: Option<String>,
    /// Event payload file (default: $`GITHUB_EVENT_PATH`).
    #[arg(long, value_name = "PATH")]
    pub event_path: Option<PathBuf>,
    /// Repository as owner/repo (default: $`GITHUB_REPOSITORY`).
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: Option<String>,
    /// REST API base URL (default: $`GITHUB_API_URL`, else <https://api.github.com>).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Append JSON-lines audit events here (default: $RUNNER_TEMP/tfctl-audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Stacks planned at once (default: the config's `parallelism`).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// Terraform binary (default: $`TFCTL_TERRAFORM`, the config, then PATH).
    #[arg(long, value_name = "PATH")]
    pub terraform: Option<PathBuf>,
    /// Print the stacks by wave as a GitHub Actions job matrix and stop.
    #[arg(long)]
    pub emit_matrix: bool,
    /// Run locally even inside GitHub Actions (no PR reporting).
    #[arg(long)]
    pub local: bool,
    /// Plan every stack of the PR, carrying no result from its last
    /// validation (by default a push re-plans only what it changed).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// What stderr shows while terraform runs (stdout is always the report).
#[derive(Debug, Clone, Default, Args)]
pub struct ProgressArgs {
    /// No progress on stderr while terraform runs.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Stream every line terraform prints to stderr as it prints it,
    /// prefixed with the stack id.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `tfctl report`: the final job of a `validate --emit-matrix` matrix.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Shard reports (`tfctl validate --local --format json` of each matrix
    /// job), or directories of them.
    #[arg(required = true, value_name = "FILE")]
    pub shards: Vec<PathBuf>,
    /// The run's stacks, outside Actions (in Actions: the PR's files).
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    /// Output format of the merged report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Report locally even inside GitHub Actions (no PR reporting).
    #[arg(long)]
    pub local: bool,
}

/// `tfctl drift`: a plan of every stack; changes are drift.
#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub github: GithubArgs,
    /// Output format (`markdown`: as the drift issue shows it).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Stacks planned at once (default: the config's `parallelism`).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// Terraform binary (default: $`TFCTL_TERRAFORM`, the config, then PATH).
    #[arg(long, value_name = "PATH")]
    pub terraform: Option<PathBuf>,
    /// Where the stacks are (overrides `config_root` of tfctl.yaml).
    #[arg(long, value_name = "DIR")]
    pub config_root: Option<PathBuf>,
    /// Report locally even inside GitHub Actions (no issue).
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DispatchArgs {
    #[command(flatten)]
    pub github: GithubArgs,
    /// Controller repository (owner/repo) that receives the dispatches.
    #[arg(long, value_name = "OWNER/REPO")]
    pub controller: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    #[arg(long, value_name = "PATH")]
    pub terraform: Option<PathBuf>,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    #[default]
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCommand {
    /// Run every `test_*` rule of the policies.
    Test(PolicyTestArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TestFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PolicyTestArgs {
    /// Files or directories of .rego (default: the config's policy paths, else `policies`).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}
