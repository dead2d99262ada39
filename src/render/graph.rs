//! `tfctl graph --format text|dot|mermaid|json`: the DAG of stacks by wave.
//!
//! Input is the waves (topological layers of stack ids) and the edges
//! `(from, to)` meaning `to` runs after `from`. Stack ids contain `/`, `-`
//! and `.`, so DOT quotes and escapes them and Mermaid uses generated node
//! ids (`s0`, `s1`, …) with the id as a quoted label.
//! Must not: reorder waves or stacks (the caller's order is the order shown).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::report::OrderEdge;

/// What a drawing shows: the waves, the direct edges `(from, to)` (`to`
/// runs after `from`), and each order rule once with the stacks on either
/// side. An order rule is drawn as one node between its groups, so every
/// format stays linear in stacks (an estate of 20,000 stacks and three
/// rules is 20,000 lines, not 10^8 pairs).
#[derive(Debug, Clone, Copy)]
pub struct GraphView<'a> {
    pub waves: &'a [Vec<String>],
    pub edges: &'a [(String, String)],
    pub order: &'a [OrderEdge],
}

impl<'a> GraphView<'a> {
    /// The run report's graph (its waves, edges and order rules).
    pub fn of_report(report: &'a crate::report::RunReport) -> Self {
        GraphView {
            waves: &report.waves,
            edges: &report.edges,
            order: &report.order,
        }
    }
}

/// One line per wave, then each stack with the stacks it waits for, then
/// each order rule with its two sides.
///
/// ```text
/// wave 1: IAM/admin-role, KMS/key
/// wave 2: S3/logs
///
/// S3/logs <- KMS/key
///
/// order: IAM before S3
///   IAM/admin-role
///   -> S3/logs
/// ```
pub fn text(view: GraphView<'_>) -> String {
    let list = |ids: &mut dyn Iterator<Item = &str>| {
        ids.map(super::terminal).collect::<Vec<_>>().join(", ")
    };
    let mut out = String::new();
    for (i, wave) in view.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "wave {}: {}",
            i + 1,
            list(&mut wave.iter().map(String::as_str))
        );
    }
    let deps = dependencies(view.edges);
    if !deps.is_empty() {
        out.push('\n');
        for id in view.waves.iter().flatten() {
            if let Some(from) = deps.get(id.as_str()) {
                let from = list(&mut from.iter().copied());
                let _ = writeln!(out, "{} <- {from}", super::terminal(id));
            }
        }
    }
    for rule in view.order {
        let _ = writeln!(out, "\n{}", super::terminal(&rule.rule));
        let _ = writeln!(
            out,
            "  {}",
            list(&mut rule.before.iter().map(String::as_str))
        );
        let _ = writeln!(
            out,
            "  -> {}",
            list(&mut rule.after.iter().map(String::as_str))
        );
    }
    out
}

/// Graphviz DOT, one cluster per wave; an order rule is one point node.
pub fn dot(view: GraphView<'_>) -> String {
    let mut out = String::from("digraph tfctl {\n  rankdir=LR;\n  node [shape=box];\n");
    for (i, wave) in view.waves.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_wave_{} {{", i + 1);
        let _ = writeln!(out, "    label=\"wave {}\";", i + 1);
        for id in wave {
            let _ = writeln!(out, "    {};", dot_id(id));
        }
        out.push_str("  }\n");
    }
    for (from, to) in sorted(view.edges) {
        let _ = writeln!(out, "  {} -> {};", dot_id(from), dot_id(to));
    }
    for (i, rule) in view.order.iter().enumerate() {
        let node = format!("order_{}", i + 1);
        let _ = writeln!(
            out,
            "  {node} [shape=diamond, style=dashed, label={}];",
            dot_id(&rule.rule)
        );
        for id in &rule.before {
            let _ = writeln!(out, "  {} -> {node} [style=dashed];", dot_id(id));
        }
        for id in &rule.after {
            let _ = writeln!(out, "  {node} -> {} [style=dashed];", dot_id(id));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart, one subgraph per wave; an order rule is one node.
pub fn mermaid(view: GraphView<'_>) -> String {
    mermaid_with_classes(view, &BTreeMap::new())
}

/// [`mermaid`] with a CSS class per stack (`passed`, `failed`, …) so the PR
/// comment can colour nodes by status; stacks without a class are plain.
pub(crate) fn mermaid_with_classes<'a>(
    view: GraphView<'a>,
    classes: &BTreeMap<&str, &str>,
) -> String {
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for id in view.waves.iter().flatten() {
        let n = ids.len();
        ids.entry(id).or_insert_with(|| format!("s{n}"));
    }
    let mut out = String::from("flowchart LR\n");
    for (i, wave) in view.waves.iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{}[\"wave {}\"]", i + 1, i + 1);
        for id in wave {
            let _ = writeln!(out, "    {}[\"{}\"]", ids[id.as_str()], mermaid_label(id));
        }
        out.push_str("  end\n");
    }
    // An edge to a stack outside the waves still gets a node.
    let mut node = |out: &mut String, id: &'a str| -> String {
        if !ids.contains_key(id) {
            let n = ids.len();
            ids.insert(id, format!("s{n}"));
            let _ = writeln!(out, "  s{n}[\"{}\"]", mermaid_label(id));
        }
        ids[id].clone()
    };
    for (from, to) in sorted(view.edges) {
        let (from, to) = (node(&mut out, from), node(&mut out, to));
        let _ = writeln!(out, "  {from} --> {to}");
    }
    for (i, rule) in view.order.iter().enumerate() {
        let barrier = format!("order{}", i + 1);
        let _ = writeln!(out, "  {barrier}{{{{\"{}\"}}}}", mermaid_label(&rule.rule));
        for id in &rule.before {
            let from = node(&mut out, id);
            let _ = writeln!(out, "  {from} -.-> {barrier}");
        }
        for id in &rule.after {
            let to = node(&mut out, id);
            let _ = writeln!(out, "  {barrier} -.-> {to}");
        }
    }
    let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, class) in classes {
        if let Some(node) = ids.get(id) {
            by_class.entry(class).or_default().push(node);
        }
    }
    for (class, nodes) in by_class {
        let style = match class {
            "passed" => "fill:#dafbe1,stroke:#1a7f37",
            "failed" | "error" => "fill:#ffebe9,stroke:#cf222e",
            _ => "fill:#fff8c5,stroke:#9a6700",
        };
        let _ = writeln!(out, "  classDef {class} {style}");
        let _ = writeln!(out, "  class {} {class}", nodes.join(","));
    }
    out
}

/// The stable JSON shape (docs/DESIGN.md §3), every list present even
/// when empty: `{"waves": [[id]], "edges": [{"from", "to"}],
/// "order": [{"rule", "before": [id], "after": [id]}]}`, pretty.
pub fn json(view: GraphView<'_>) -> serde_json::Value {
    let edges: Vec<serde_json::Value> = sorted(view.edges)
        .into_iter()
        .map(|(from, to)| serde_json::json!({"from": from, "to": to}))
        .collect();
    serde_json::json!({"waves": view.waves, "edges": edges, "order": view.order})
}

fn sorted(edges: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = edges
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// For each stack, the stacks it runs after, sorted.
fn dependencies(edges: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut deps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in sorted(edges) {
        deps.entry(to).or_default().push(from);
    }
    deps
}

/// A DOT quoted string: `"` and `\` escaped, newlines as `\n`.
fn dot_id(id: &str) -> String {
    let mut out = String::from("\"");
    for ch in id.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a Mermaid `["…"]` label: quotes and HTML specials as Mermaid
/// entity codes, so an id can neither end the label nor inject markup.
fn mermaid_label(id: &str) -> String {
    let mut out = String::new();
    for ch in id.chars() {
        match ch {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_stay_inside_their_quotes() {
        assert_eq!(dot_id(r#"S3/a"b\c"#), r#""S3/a\"b\\c""#);
        assert_eq!(mermaid_label(r#"S3/a"]-->x"#), "S3/a#quot;]--#gt;x");
    }
}
