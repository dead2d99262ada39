//! Command wiring: each subcommand composes pure decisions with effects.
//! No decision logic lives here.

pub mod apply;
mod approvers;
pub mod dispatch;
pub mod drift;
pub mod gh;
pub mod graph;
pub mod key;
pub mod locking;
pub mod locks;
pub mod merge;
mod plan_judge;
pub mod policy;
mod pr_stacks;
mod progress;
mod promoting;
pub mod report;
pub mod schema;
pub mod validate;
pub mod validate_pr;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, SelectArgs};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::select::ChangeSource;

/// Dispatches a parsed command line; `ctx` is the process, read once.
pub fn run(mut cli: Cli, ctx: &Context) -> Result<ExitStatus> {
    rooted(&mut cli, ctx);
    let config = cli.config.clone();
    let config = config.as_deref();
    match cli.command {
        Command::Schema => schema::run(),
        Command::Key(args) => key::run(args.command, ctx),
        Command::Validate(args) => validate::run(config, args, ctx),
        Command::Graph(args) => graph::run(config, args, ctx),
        Command::Report(args) => report::run(config, args, ctx),
        Command::Drift(args) => drift::run(config, args, ctx),
        Command::Dispatch(args) => dispatch::run(config, args, ctx),
        Command::Merge(args) => merge::run(config, args, ctx),
        Command::Apply(args) => apply::run(config, args, ctx),
        Command::Policy(ref args) => policy::run(&cli, &args.command, ctx),
        Command::Locks(args) => locks::run(config, args, ctx),
        Command::Unlock(args) => locks::unlock(config, args, ctx),
    }
}

/// Makes `--config` and `--config-root` absolute against the context's
/// working directory, once: below here every path tfctl compares (changed
/// files, roots, checkouts) is absolute, and nothing asks the process.
fn rooted(cli: &mut Cli, ctx: &Context) {
    let root = |p: &mut Option<PathBuf>| {
        if let Some(p) = p {
            *p = ctx.cwd.join(&*p);
        }
    };
    root(&mut cli.config);
    match &mut cli.command {
        Command::Validate(a) => root(&mut a.select.config_root),
        Command::Graph(a) => root(&mut a.select.config_root),
        Command::Report(a) => root(&mut a.select.config_root),
        Command::Apply(a) => root(&mut a.select.config_root),
        Command::Drift(a) => root(&mut a.config_root),
        _ => {}
    }
}

/// Prints `text` and a newline to stdout, neutralised: a report holds text
/// from repositories, which must not become a workflow command (see
/// [`crate::actions::commands::neutralise`]). A reader that stopped early
/// (`tfctl graph | head`) is not an error; other write errors are.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let text = crate::actions::commands::neutralise(text);
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| Error::runtime(format!("stdout: {e}"))),
    }
}

/// Finds and loads tfctl.yaml (`--config`, else walking up from the cwd).
pub(crate) fn load_config(explicit: Option<&Path>, ctx: &Context) -> Result<Config> {
    let path = crate::config::locate(explicit, &ctx.cwd)?;
    crate::config::load(&ctx.cwd.join(path))
}

/// The config root: `--config-root`, else the config's.
pub(crate) fn config_root(cfg: &Config, select: &SelectArgs) -> PathBuf {
    select
        .config_root
        .clone()
        .unwrap_or_else(|| cfg.config_root.clone())
}

/// Where changed files come from, by the selection flags.
pub(crate) fn change_source(cfg: &Config, select: &SelectArgs, ctx: &Context) -> ChangeSource {
    if select.all {
        ChangeSource::All
    } else if !select.files.is_empty() {
        ChangeSource::Typed {
            paths: select.files.clone(),
            cwd: ctx.cwd.clone(),
        }
    } else {
        ChangeSource::Git {
            base: select
                .base
                .clone()
                .unwrap_or_else(|| cfg.default_branch.clone()),
        }
    }
}

/// Prints what the selection found odd in the config (`tfctl: warning: …`
/// on stderr), neutralised like every line tfctl prints.
pub(crate) fn print_warnings(sel: &crate::select::Selection) {
    for warning in &sel.warnings {
        eprintln!(
            "tfctl: warning: {}",
            crate::actions::commands::neutralise(warning)
        );
    }
}

/// The async runtime for commands that run processes or HTTP.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the async runtime: {e}")))
}
