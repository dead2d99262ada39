//! `tfctl graph --format text|dot|mermaid|json`: the DAG of stacks by wave.
//!
//! Input is the waves (topological layers of stack ids) and the edges
//! `(from, to)` meaning `to` runs after `from`. Stack ids contain `/`, `-`
//! and `.`, so DOT quotes and escapes them and Mermaid uses generated node
//! ids (`s0`, `s1`, …) with the id as a quoted label.
//! Must not: reorder waves or stacks (the caller's order is the order shown).

use std::collections::BTreeMap;
use std::fmt::Write;

/// One line per wave, then each stack with the stacks it waits for.
///
/// ```text
/// wave 1: IAM/admin-role, KMS/key
/// wave 2: S3/logs
///
/// S3/logs <- IAM/admin-role, KMS/key
/// ```
pub fn text(waves: &[Vec<String>], edges: &[(String, String)]) -> String {
    let list = |ids: &mut dyn Iterator<Item = &str>| {
        ids.map(super::terminal).collect::<Vec<_>>().join(", ")
    };
    let mut out = String::new();
    for (i, wave) in waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "wave {}: {}",
            i + 1,
            list(&mut wave.iter().map(String::as_str))
        );
    }
    let deps = dependencies(edges);
    if !deps.is_empty() {
        out.push('\n');
        for id in waves.iter().flatten() {
            if let Some(from) = deps.get(id.as_str()) {
                let from = list(&mut from.iter().copied());
                let _ = writeln!(out, "{} <- {from}", super::terminal(id));
            }
        }
    }
    out
}

/// Graphviz DOT, one cluster per wave.
pub fn dot(waves: &[Vec<String>], edges: &[(String, String)]) -> String {
    let mut out = String::from("digraph tfctl {\n  rankdir=LR;\n  node [shape=box];\n");
    for (i, wave) in waves.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_wave_{} {{", i + 1);
        let _ = writeln!(out, "    label=\"wave {}\";", i + 1);
        for id in wave {
            let _ = writeln!(out, "    {};", dot_id(id));
        }
        out.push_str("  }\n");
    }
    for (from, to) in sorted(edges) {
        let _ = writeln!(out, "  {} -> {};", dot_id(from), dot_id(to));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart, one subgraph per wave.
pub fn mermaid(waves: &[Vec<String>], edges: &[(String, String)]) -> String {
    mermaid_with_classes(waves, edges, &BTreeMap::new())
}

/// [`mermaid`] with a CSS class per stack (`passed`, `failed`, …) so the PR
/// comment can colour nodes by status; stacks without a class are plain.
pub(crate) fn mermaid_with_classes(
    waves: &[Vec<String>],
    edges: &[(String, String)],
    classes: &BTreeMap<&str, &str>,
) -> String {
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for id in waves.iter().flatten() {
        let n = ids.len();
        ids.entry(id).or_insert_with(|| format!("s{n}"));
    }
    let mut out = String::from("flowchart LR\n");
    for (i, wave) in waves.iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{}[\"wave {}\"]", i + 1, i + 1);
        for id in wave {
            let _ = writeln!(out, "    {}[\"{}\"]", ids[id.as_str()], mermaid_label(id));
        }
        out.push_str("  end\n");
    }
    for (from, to) in sorted(edges) {
        // An edge to a stack outside the waves still gets a node.
        for end in [from, to] {
            if !ids.contains_key(end) {
                let n = ids.len();
                ids.insert(end, format!("s{n}"));
                let _ = writeln!(out, "  s{n}[\"{}\"]", mermaid_label(end));
            }
        }
        let _ = writeln!(out, "  {} --> {}", ids[from], ids[to]);
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

/// `{"waves": [[ids]], "edges": [{"from", "to"}]}`, pretty.
pub fn json(waves: &[Vec<String>], edges: &[(String, String)]) -> String {
    let edges: Vec<serde_json::Value> = sorted(edges)
        .into_iter()
        .map(|(from, to)| serde_json::json!({"from": from, "to": to}))
        .collect();
    let doc = serde_json::json!({"waves": waves, "edges": edges});
    let mut out = serde_json::to_string_pretty(&doc).expect("strings always serialize");
    out.push('\n');
    crate::actions::commands::neutralise_json(&out).into_owned()
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
