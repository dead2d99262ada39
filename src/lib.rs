//! tfctl: GitHub pull requests as a governed Terraform pipeline.
//!
//! Pure decisions (discovery, graph, schedule, policy verdicts, gates,
//! rendering) live in modules without IO; effects (processes, HTTP, files)
//! live at the edges (`runner`, `github`, `actions`, `commands`). [`run`] is
//! the one place outcomes become exit codes.

pub mod actions;
pub mod attest;
pub mod audit;
pub mod change_paths;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub mod discovery;
pub mod drift;
pub mod error;
pub mod evidence;
pub mod gates;
pub mod github;
pub mod graph;
pub mod impact;
pub mod locks;
pub mod module_tree;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod promotion;
pub mod render;
pub mod repo;
pub mod report;
pub mod revalidate;
pub mod runner;
pub mod schedule;
pub mod select;
pub mod stack;
pub mod tfvars;

use std::io::Write;

pub use error::{Error, ExitStatus};

/// Runs one tfctl invocation and returns its exit status. Errors are printed
/// here, once, as `tfctl: error: <message>`, neutralised (an error can quote
/// repository text, which must not become a workflow command: see
/// [`actions::commands::neutralise`]).
pub fn run(cli: cli::Cli) -> ExitStatus {
    let ctx = context::Context::from_process();
    match commands::run(cli, &ctx) {
        Ok(status) => status,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            for line in err.message.lines() {
                let line = actions::commands::neutralise(line);
                let _ = writeln!(stderr, "tfctl: error: {line}");
            }
            err.exit_status()
        }
    }
}
