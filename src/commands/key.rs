//! `tfctl key generate` and `tfctl key public`: the controller's Ed25519
//! signing key (docs/DESIGN.md §4). The secret goes to stdout alone, so it
//! can be piped straight into a secret store; everything said about it goes
//! to stderr.

use crate::attest::SigningKey;
use crate::cli::KeyCommand;
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};

/// The variable that holds the controller's secret key.
pub const SIGNING_KEY_VAR: &str = "TFCTL_SIGNING_KEY";

pub fn run(command: KeyCommand, ctx: &Context) -> Result<ExitStatus> {
    match command {
        KeyCommand::Generate => {
            let key = SigningKey::generate();
            super::print_stdout(&key.to_text())?;
            eprintln!(
                "tfctl: store the line above as the controller's {SIGNING_KEY_VAR} secret (and nowhere else);\n\
                 tfctl: list its public key in trust.public_keys of both tfctl.yaml files:\n\
                 tfctl:   - {}",
                key.public().to_text()
            );
        }
        KeyCommand::Public => {
            let text = ctx
                .actions
                .signing_key
                .as_ref()
                .ok_or_else(|| Error::input(format!("{SIGNING_KEY_VAR} is not set")))?;
            let key = SigningKey::parse(text.expose())
                .map_err(|e| Error::input(format!("{SIGNING_KEY_VAR}: {e}")))?;
            super::print_stdout(&key.public().to_text())?;
        }
    }
    Ok(ExitStatus::Success)
}
