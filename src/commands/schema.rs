//! `tfctl schema`: prints the JSON Schema of tfctl.yaml.

use crate::error::{ExitStatus, Result};

pub fn run() -> Result<ExitStatus> {
    let schema = crate::config::json_schema();
    super::print_stdout(&serde_json::to_string_pretty(&schema).expect("schema serializes"))?;
    Ok(ExitStatus::Success)
}
