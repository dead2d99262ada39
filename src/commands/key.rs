//! `tfctl key generate` and `tfctl key public`: the controller's Ed25519
//! signing key (docs/DESIGN.md §4). The secret goes to stdout alone, so it
//! can be piped straight into a secret store; everything said about it goes
//! to stderr.

use crate::attest::SigningKey;
use crate::cli::KeyCommand;
use crate::error::{Error, ExitStatus, Result};

/// The variable that holds the controller's secret key.
pub const SIGNING_KEY_VAR: &str = "TFCTL_SIGNING_KEY";

pub fn run(command: KeyCommand) -> Result<ExitStatus> {
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
            let text = std::env::var(SIGNING_KEY_VAR)
                .map_err(|_| Error::input(format!("{SIGNING_KEY_VAR} is not set")))?;
            let key = SigningKey::parse(&text)
                .map_err(|e| Error::input(format!("{SIGNING_KEY_VAR}: {e}")))?;
            super::print_stdout(&key.public().to_text())?;
        }
    }
    Ok(ExitStatus::Success)
}
