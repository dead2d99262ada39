//! `tfctl validate`: decides once whether this run reports on a PR (in
//! Actions: `validate_pr`) or to the terminal, and prints the job matrix.
//! Wiring only: planning and judging are `plan_judge`.

use std::path::Path;

use super::gh::GhSession;
use super::plan_judge::{exit_status, plan_and_judge, print_report, Planning};
use crate::cli::ValidateArgs;
use crate::context::Context;
use crate::error::{ExitStatus, Result};
use crate::policy::PolicyEngine;
use crate::select::{self, Selection};

/// Runs `tfctl validate` on a laptop or CI runner (no GitHub reporting).
pub fn run(config: Option<&Path>, args: ValidateArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let local = args.local || args.emit_matrix;
    if let Some(session) = GhSession::if_on_event(ctx, &cfg.github, &args.github, local)? {
        return super::validate_pr::run(&cfg, &args, session, ctx);
    }
    let config_root = super::config_root(&cfg, &args.select);
    let source = super::change_source(&cfg, &args.select, ctx);
    let sel = select::select(&cfg, &config_root, source)?;
    super::print_warnings(&sel);

    if args.emit_matrix {
        super::print_stdout(&matrix(&sel, args.parallelism.unwrap_or(cfg.parallelism)))?;
        return Ok(ExitStatus::Success);
    }

    let engine = PolicyEngine::load(&cfg.policy.paths, &cfg.policy.data, &cfg.policy.namespaces)?;
    let run = Planning {
        cfg: &cfg,
        config_root: &config_root,
        sel: &sel,
        ctx,
    };
    let report = plan_and_judge(run, &engine, &args, None, None)?;
    print_report(&report, args.format)?;
    Ok(exit_status(&report))
}

/// docs/DESIGN.md §6: the stacks by wave as a GitHub Actions matrix, each wave cut
/// into shards of at most `parallelism` stacks.
fn matrix(sel: &Selection, parallelism: usize) -> String {
    let mut include = Vec::new();
    for (wave, members) in sel.dag.waves.iter().enumerate() {
        for (shard, chunk) in members.chunks(parallelism.max(1)).enumerate() {
            let stacks: Vec<&crate::stack::Stack> =
                chunk.iter().map(|&i| &sel.dag.stacks[i]).collect();
            let ids: Vec<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
            let tfvars: Vec<String> = stacks
                .iter()
                .map(|s| s.tfvars.to_string_lossy().into_owned())
                .collect();
            // What selected the shard's stacks (a module, a policy, their files).
            let reasons: std::collections::BTreeSet<&str> = stacks
                .iter()
                .flat_map(|s| s.reasons.iter().map(String::as_str))
                .collect();
            include.push(serde_json::json!({
                "wave": wave,
                "shard": format!("{wave}-{shard}"),
                "stacks": ids,
                "files": tfvars.join(" "),
                "reasons": reasons,
            }));
        }
    }
    let json = serde_json::json!({ "include": include }).to_string();
    crate::actions::commands::neutralise_json(&json).into_owned()
}
