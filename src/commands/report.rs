//! `tfctl report FILE...`: the final job of a `validate --emit-matrix`
//! job matrix (docs/DESIGN.md §6). Reads each shard's `validate --local --format
//! json` report, merges them into the run's report (the merge and its
//! checks are `pipeline::merge_shards`; waves and edges are recomputed from
//! the run's own selection), then reports it exactly as `validate` does:
//! in Actions through `validate_pr::publish` (once, for the whole matrix),
//! elsewhere on stdout with validate's exit code. Wiring only.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::pipeline::{self, Shard};
use crate::report::RunReport;
use crate::select::{self, Selection};

use super::gh::GhSession;

pub fn run(config: Option<&Path>, args: ReportArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    // Bad shard files fail before any API call or tree walk.
    let shards = read_shards(&args.shards)?;
    if let Some(session) = GhSession::if_on_event(ctx, &cfg.github, &args.github, args.local)? {
        let run = super::validate_pr::open_pr(&cfg, &args.select, &session)?;
        let report = merge(&run.sel, &shards)?;
        return super::validate_pr::publish("report", &cfg, &session, &run, &report, args.format);
    }
    let config_root = super::config_root(&cfg, &args.select);
    let source = super::change_source(&cfg, &args.select, ctx);
    let sel = select::select(&cfg, &config_root, source)?;
    let report = merge(&sel, &shards)?;
    super::plan_judge::print_report(&report, args.format)?;
    Ok(super::plan_judge::exit_status(&report))
}

/// The shards as one report of `sel`'s stacks, in its waves.
fn merge(sel: &Selection, shards: &[Shard]) -> Result<RunReport> {
    let expected: Vec<String> = sel.dag.stacks.iter().map(|s| s.id.clone()).collect();
    let (stacks, took) = pipeline::merge_shards(&expected, shards)?;
    Ok(pipeline::report(sel, stacks, took))
}

/// Reads and parses every shard; a directory stands for the `*.json` files
/// in it (sorted), so a downloaded artifact folder can be passed as is (the
/// action splits arguments without globbing). A file that is missing or
/// not a report is an input error naming it (and serde's line and column).
fn read_shards(paths: &[PathBuf]) -> Result<Vec<Shard>> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::input(format!("{}: {e}", path.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
                .collect();
            if inside.is_empty() {
                return Err(Error::input(format!(
                    "{}: no .json shard reports in this directory",
                    path.display()
                )));
            }
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    files
        .iter()
        .map(|path| {
            let file = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| Error::input(format!("{file}: {e}")))?;
            let report: RunReport = serde_json::from_str(&text)
                .map_err(|e| Error::input(format!("{file}: not a tfctl JSON report: {e}")))?;
            Ok(Shard { file, report })
        })
        .collect()
}
