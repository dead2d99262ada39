//! `tfctl graph`: the DAG and its waves as text, DOT, Mermaid or JSON.

use std::path::Path;

use crate::cli::{GraphArgs, GraphFormat};
use crate::context::Context;
use crate::error::{ExitStatus, Result};
use crate::render::graph as draw;
use crate::select;

pub fn run(config: Option<&Path>, args: GraphArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let config_root = super::config_root(&cfg, &args.select);
    let source = super::change_source(&cfg, &args.select, ctx);
    let sel = select::select(&cfg, &config_root, source)?;
    super::print_warnings(&sel);
    let waves = sel.dag.wave_ids();
    let edges = sel.dag.direct_edges();
    let order = sel.dag.order_edges();
    let view = draw::GraphView {
        waves: &waves,
        edges: &edges,
        order: &order,
    };
    let out = match args.format {
        GraphFormat::Text => draw::text(view),
        GraphFormat::Dot => draw::dot(view),
        GraphFormat::Mermaid => draw::mermaid(view),
        GraphFormat::Json => with_reasons(draw::json(view), &sel),
    };
    super::print_stdout(&out)?;
    Ok(ExitStatus::Success)
}

/// The graph JSON with `"reasons": {id: [paths]}`: why each stack is in it.
fn with_reasons(mut doc: serde_json::Value, sel: &select::Selection) -> String {
    let reasons: serde_json::Map<String, serde_json::Value> = sel
        .dag
        .stacks
        .iter()
        .map(|s| (s.id.clone(), serde_json::json!(s.reasons)))
        .collect();
    doc["reasons"] = serde_json::Value::Object(reasons);
    let mut out = serde_json::to_string_pretty(&doc).expect("strings always serialize");
    out.push('\n');
    crate::actions::commands::neutralise_json(&out).into_owned()
}
