//! `tfctl graph`: the DAG and its waves as text, DOT, Mermaid or JSON.

use std::path::Path;

use crate::cli::{GraphArgs, GraphFormat};
use crate::error::{ExitStatus, Result};
use crate::render::graph as draw;
use crate::select;

pub fn run(config: Option<&Path>, args: GraphArgs) -> Result<ExitStatus> {
    let cfg = super::load_config(config)?;
    let config_root = super::config_root(&cfg, &args.select);
    let sel = select::select(&cfg, &config_root, super::change_source(&cfg, &args.select))?;
    let waves = sel.dag.wave_ids();
    let edges = sel.dag.stack_edges();
    let out = match args.format {
        GraphFormat::Text => draw::text(&waves, &edges),
        GraphFormat::Dot => draw::dot(&waves, &edges),
        GraphFormat::Mermaid => draw::mermaid(&waves, &edges),
        GraphFormat::Json => draw::json(&waves, &edges),
    };
    super::print_stdout(&out)?;
    Ok(ExitStatus::Success)
}
