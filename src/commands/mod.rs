//! Command wiring: each subcommand composes pure decisions with effects.
//! No decision logic lives here.

pub mod policy;
pub mod schema;

use crate::cli::{Cli, Command};
use crate::error::{Error, ExitStatus, Result};

/// Dispatches a parsed command line.
pub fn run(cli: Cli) -> Result<ExitStatus> {
    match cli.command {
        Command::Schema => schema::run(),
        Command::Dispatch(_) => not_built("dispatch"),
        Command::Validate(_) => not_built("validate"),
        Command::Merge(_) => not_built("merge"),
        Command::Apply(_) => not_built("apply"),
        Command::Graph(_) => not_built("graph"),
        Command::Policy(ref args) => policy::run(&cli, &args.command),
    }
}

fn not_built(name: &str) -> Result<ExitStatus> {
    Err(Error::input(format!("`tfctl {name}` is not built yet")))
}
