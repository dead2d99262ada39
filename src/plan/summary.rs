//! The human-readable plan text shown in the PR comment's collapsed
//! `<details>` (and the job summary, the text report and the drift issue).
//!
//! Resource changes grouped by action (create, update, replace, delete,
//! import, move, forget), each group under a line naming its addresses;
//! each change as terraform printed it when its plan text is at hand (see
//! [`super::terraform_text`]), otherwise rendered from the JSON as a header
//! (`-/+ null_resource.x (replace: tainted)`) and its changed attributes.
//! Either way the symbol comes first so a ```` ```diff ```` fence colours
//! it. Then what changed outside Terraform, the outputs and the `Plan:`
//! line. Sensitive values print as `(sensitive)`, unknown ones as
//! `(known after apply)`.
//! Must not: print any value under a sensitive mask (terraform's text is
//! redacted with [`SensitiveValues`] too), or grow without bound.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::mask::{flatten, path_text, Leaf, Masks, PlanMasks, Seg, SensitiveValues, REDACTED};
use super::terraform_text::{diff_line, TerraformText};
use super::{change_key, changes, resource_changes, Action};

/// Lines of attribute and resource text kept per stack before cutting.
pub const DEFAULT_SUMMARY_LINES: usize = 200;

/// Longest value shown, in characters; longer ones end with `…`.
const MAX_VALUE_CHARS: usize = 120;

/// Widest attribute path used to align `=`; longer paths just overflow.
const MAX_ALIGN: usize = 32;

/// Between an attribute's symbol and its path: deeper than resource headers.
const ATTR_INDENT: &str = "     ";

const SENSITIVE: &str = "(sensitive)";
const UNKNOWN: &str = "(known after apply)";

/// [`summary_with_limit`] with [`DEFAULT_SUMMARY_LINES`].
pub fn summary(plan: &Value) -> String {
    summary_with_limit(plan, DEFAULT_SUMMARY_LINES)
}

/// [`summary_from`] without terraform's text: every change rendered from
/// the JSON.
pub fn summary_with_limit(plan: &Value, max_lines: usize) -> String {
    summary_from(plan, None, max_lines)
}

/// What a change does, in the order a reviewer reads them (the issue's
/// create, update, replace, delete, import, move, forget; then reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Create,
    Update,
    Replace,
    Delete,
    Import,
    Move,
    Forget,
    Read,
    Other,
}

impl Group {
    /// None for a change that does nothing (no-op, not moved, not imported).
    fn of(rc: &Value, action: &Action) -> Option<Group> {
        let importing = rc
            .pointer("/change/importing")
            .is_some_and(|i| !i.is_null());
        let moved = rc.get("previous_address").is_some_and(|a| !a.is_null());
        Some(match action {
            Action::Replace { .. } => Group::Replace,
            Action::Delete => Group::Delete,
            _ if importing => Group::Import,
            Action::Create => Group::Create,
            Action::Update => Group::Update,
            Action::NoOp if moved => Group::Move,
            Action::NoOp => return None,
            Action::Read => Group::Read,
            Action::Other(list) if list == "forget" => Group::Forget,
            Action::Other(_) => Group::Other,
        })
    }

    fn title(self) -> &'static str {
        match self {
            Group::Create => "Create",
            Group::Update => "Update in place",
            Group::Replace => "Replace",
            Group::Delete => "Delete",
            Group::Import => "Import",
            Group::Move => "Move",
            Group::Forget => "Forget (removed from state, not destroyed)",
            Group::Read => "Read during apply",
            Group::Other => "Other actions",
        }
    }
}

/// Addresses named on a group's title line before `and N more`.
const TITLE_ADDRESSES: usize = 5;

/// The redacted plan text: resource changes grouped by action, each group
/// under a title line that names its addresses, each change as terraform
/// printed it in `terraform_text` (its `plan` output; symbols moved to the
/// first column for a diff fence) or, where that has no block for it,
/// rendered from the JSON; then what changed outside Terraform (the plan's
/// `resource_drift`), the output changes and terraform's `Plan:` line. At
/// most `max_lines` lines of changes, then a line saying how many were cut.
pub fn summary_from(plan: &Value, terraform_text: Option<&str>, max_lines: usize) -> String {
    let masks = PlanMasks::of(plan);
    let text = terraform_text.map(TerraformText::parse).unwrap_or_default();
    // A copy of a secret in an attribute no mask covers (terraform_data's
    // `output` repeats its sensitive `input`) is redacted wherever it is.
    let sensitive = SensitiveValues::of(plan);
    let shown = |line: &str| redact_line(&sensitive, &diff_line(line, 2));

    let mut groups: BTreeMap<Group, Vec<&Value>> = BTreeMap::new();
    for rc in resource_changes(plan) {
        if let Some(group) = Group::of(rc, &Action::of(rc)) {
            groups.entry(group).or_default().push(rc);
        }
    }
    let mut lines: Vec<String> = Vec::new();
    for (group, changes) in &groups {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(title_line(group.title(), changes));
        for rc in changes {
            match text.block(&change_key(rc)) {
                Some(block) => {
                    lines.push(String::new());
                    lines.extend(block.iter().map(|l| shown(l)));
                }
                None => json_change(rc, &masks, &sensitive, &mut lines),
            }
        }
    }
    let drifted: Vec<&Value> = plan
        .get("resource_drift")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rc| Action::of(rc) != Action::NoOp)
        .collect();
    if !drifted.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(title_line("Changed outside Terraform", &drifted));
        for rc in &drifted {
            json_change(rc, &masks, &sensitive, &mut lines);
        }
    }
    let outputs: Vec<String> = if text.outputs().is_empty() {
        output_lines(plan, &masks)
            .iter()
            .map(|l| redact_line(&sensitive, l))
            .collect()
    } else {
        text.outputs().iter().map(|l| shown(l)).collect()
    };
    if !outputs.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push("Changes to Outputs:".to_string());
        lines.extend(outputs);
    }
    if lines.len() > max_lines {
        let cut = lines.len() - max_lines;
        lines.truncate(max_lines);
        lines.push(format!(
            "… {cut} more line{} not shown",
            if cut == 1 { "" } else { "s" }
        ));
    }
    let c = changes(plan);
    if c.add + c.change + c.destroy == 0 && lines.is_empty() {
        lines.push("No changes. Your infrastructure matches the configuration.".to_string());
    } else {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            c.add, c.change, c.destroy
        ));
    }
    lines.join("\n")
}

/// `Replace (2): a.b, a.c`, at most [`TITLE_ADDRESSES`] of them named.
fn title_line(title: &str, changes: &[&Value]) -> String {
    let named: Vec<String> = changes
        .iter()
        .take(TITLE_ADDRESSES)
        .map(|rc| change_key(rc))
        .collect();
    let more = changes.len().saturating_sub(TITLE_ADDRESSES);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("{title} ({}): {}{more}", changes.len(), named.join(", "))
}

/// One change rendered from the JSON: its header, then its changed
/// attributes (none for a delete or read: listing every attribute of a
/// destroyed object would crowd out the changes people review).
fn json_change(
    rc: &Value,
    masks: &PlanMasks<'_>,
    sensitive: &SensitiveValues,
    lines: &mut Vec<String>,
) {
    let action = Action::of(rc);
    lines.push(header(rc, &action));
    let rows_from = lines.len();
    let m = masks.resource(rc);
    let before = rc.pointer("/change/before");
    let after = rc.pointer("/change/after");
    let unknown = rc.pointer("/change/after_unknown");
    match action {
        Action::Create => {
            push_aligned(diff_rows(None, after, unknown, &m, &[]), ATTR_INDENT, lines);
        }
        Action::Update | Action::Replace { .. } => {
            let rows = diff_rows(before, after, unknown, &m, &replace_paths(rc));
            push_aligned(rows, ATTR_INDENT, lines);
        }
        _ => {}
    }
    for line in &mut lines[rows_from..] {
        *line = redact_line(sensitive, line);
    }
}

/// `line` with every sensitive value in its value part redacted: after
/// ` = ` on an attribute line, the whole of a line without one (a list
/// element, a heredoc line), nothing on a block header (`# a.b will be
/// created`, `resource "a" "b" {`): addresses are no secret, and a short
/// secret equal to a resource name would blank the name.
fn redact_line(sensitive: &SensitiveValues, line: &str) -> String {
    if sensitive.is_empty() {
        return line.to_string();
    }
    let redacted = match line.find(" = ") {
        Some(at) => format!("{}{}", &line[..at + 3], sensitive.redact(&line[at + 3..])),
        None if is_block_header(line) => return line.to_string(),
        None => sensitive.redact(line).into_owned(),
    };
    redacted.replace(&format!("\"{REDACTED}\""), REDACTED)
}

fn is_block_header(line: &str) -> bool {
    let body = line.trim_start_matches(['+', '-', '~', '/', '<', '=', ' ']);
    ["#", "resource \"", "data \"", "}", "]", ")"]
        .iter()
        .any(|start| body.starts_with(start))
}

/// `-/+ null_resource.x (replace: tainted)`, `- a.b (delete: no resource config)`.
fn header(rc: &Value, action: &Action) -> String {
    let mut notes: Vec<String> = Vec::new();
    let reason = rc
        .get("action_reason")
        .and_then(Value::as_str)
        .map(reason_text);
    match (action, reason) {
        (Action::Replace { .. }, Some(r)) => notes.push(format!("replace: {r}")),
        (Action::Replace { .. }, None) => notes.push("replace".to_string()),
        (Action::Delete, Some(r)) => notes.push(format!("delete: {r}")),
        (Action::Other(list), _) => notes.push(format!("actions: {list}")),
        (_, Some(r)) => notes.push(r),
        _ => {}
    }
    if let Some(prev) = rc.get("previous_address").and_then(Value::as_str) {
        notes.push(format!("moved from {prev}"));
    }
    let mut line = format!("{} {}", action.symbol(), change_key(rc));
    if !notes.is_empty() {
        line.push_str(&format!(" ({})", notes.join("; ")));
    }
    line
}

/// `replace_because_tainted` → `tainted`, `delete_because_no_module` → `no module`.
fn reason_text(reason: &str) -> String {
    match reason {
        "replace_by_request" => "requested".to_string(),
        "replace_by_triggers" => "replace_triggered_by".to_string(),
        other => other
            .trim_start_matches("replace_because_")
            .trim_start_matches("delete_because_")
            .trim_start_matches("read_because_")
            .replace('_', " "),
    }
}

fn replace_paths(rc: &Value) -> Vec<Vec<Seg>> {
    rc.pointer("/change/replace_paths")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .map(|p| p.iter().filter_map(Seg::from_json).collect())
        .collect()
}

/// One changed attribute: symbol (`+` new, `-` gone, `~` changed), path, text.
struct Row {
    symbol: char,
    path: Vec<Seg>,
    text: String,
}

/// Changed attributes of one value; nulls count as absent, so the nulls of a
/// create are left out as terraform leaves them out.
fn diff_rows(
    before: Option<&Value>,
    after: Option<&Value>,
    unknown: Option<&Value>,
    masks: &Masks<'_>,
    forces: &[Vec<Seg>],
) -> Vec<Row> {
    let old = flatten(before, None, masks);
    let new = flatten(after, unknown, masks);
    let paths: BTreeSet<&Vec<Seg>> = old.keys().chain(new.keys()).collect();
    let mut rows = Vec::new();
    for path in paths {
        let o = old.get(path).filter(|l| !is_null(l));
        let n = new.get(path).filter(|l| !is_null(l));
        let (symbol, mut text) = match (o, n) {
            (None, None) => continue,
            (Some(o), Some(n)) if o == n && *n != Leaf::Unknown => continue,
            (None, Some(n)) => ('+', shown(n)),
            (Some(o), None) => ('-', format!("{} -> null", shown(o))),
            (Some(o), Some(n)) => ('~', format!("{} -> {}", shown(o), shown(n))),
        };
        if forces.iter().any(|f| path.starts_with(f)) {
            text.push_str(" # forces replacement");
        }
        rows.push(Row {
            symbol,
            path: path.clone(),
            text,
        });
    }
    rows
}

/// Rows as `<symbol><indent><path> = <text>`, `=` aligned within the block.
fn push_aligned(rows: Vec<Row>, indent: &str, lines: &mut Vec<String>) {
    let paths: Vec<String> = rows
        .iter()
        .map(|r| match path_text(&r.path) {
            p if p.is_empty() => "(value)".to_string(),
            p => p,
        })
        .collect();
    let width = paths
        .iter()
        .map(|p| p.chars().count())
        .filter(|w| *w <= MAX_ALIGN)
        .max()
        .unwrap_or(0);
    for (row, path) in rows.into_iter().zip(paths) {
        lines.push(format!(
            "{}{indent}{path:<width$} = {}",
            row.symbol, row.text
        ));
    }
}

/// `output_changes` as rows whose paths start with the output's name.
fn output_lines(plan: &Value, masks: &PlanMasks<'_>) -> Vec<String> {
    let Some(outputs) = plan.get("output_changes").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut names: Vec<&String> = outputs.keys().collect();
    names.sort();
    let mut rows = Vec::new();
    for name in names {
        let change = &outputs[name];
        if Action::of_change(change) == Action::NoOp {
            continue;
        }
        let m = masks.output(name, change);
        let before = change.get("before");
        let after = change.get("after");
        for mut row in diff_rows(before, after, change.get("after_unknown"), &m, &[]) {
            row.path.insert(0, Seg::Key(name.clone()));
            rows.push(row);
        }
    }
    let mut lines = Vec::new();
    push_aligned(rows, " ", &mut lines);
    lines
}

/// Nulls count as absent, sensitive ones too: that a secret is unset is no secret.
fn is_null(leaf: &Leaf<'_>) -> bool {
    matches!(
        leaf,
        Leaf::Plain(Value::Null) | Leaf::Sensitive(Some(Value::Null))
    )
}

fn shown(leaf: &Leaf<'_>) -> String {
    match leaf {
        Leaf::Sensitive(_) => SENSITIVE.to_string(),
        Leaf::Unknown => UNKNOWN.to_string(),
        Leaf::Plain(v) => short_json(v),
    }
}

/// Compact JSON, cut to [`MAX_VALUE_CHARS`] characters. JSON escaping keeps a
/// multi-line string on one line.
fn short_json(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= MAX_VALUE_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    }
}
