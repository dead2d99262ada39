//! Facts read from a plan as `terraform show -json` prints it.
//!
//! Owns: the change counts ([`changes`]), the redacted human-readable plan
//! text ([`summary`]), the texts of its sensitive values for redacting
//! text made from it ([`SensitiveValues`]), the canonical plan digest ([`digest`],
//! [`diff_digest_inputs`]) and the canonical JSON they and the markers sign.
//! Must not: do IO, or let a sensitive value (`before_sensitive`,
//! `after_sensitive`, `sensitive_values`, sensitive outputs) reach any string
//! it returns.

mod digest;
mod mask;
mod summary;
mod terraform_text;

use serde_json::Value;

use crate::report::Changes;

pub use digest::{diff_digest_inputs, digest};
pub use mask::{SensitiveValues, MIN_REDACTED_CHARS};
pub use summary::{summary, summary_from, summary_with_limit, DEFAULT_SUMMARY_LINES};

/// Counts resource changes the way terraform's `Plan: N to add, ...` line
/// does: `create` adds, `update` changes, `delete` destroys, a replace
/// (`["delete","create"]` or `["create","delete"]`) adds one and destroys
/// one; `no-op`, `read` and `forget` count nothing.
pub fn changes(plan: &Value) -> Changes {
    let mut counts = Changes::default();
    for rc in resource_changes(plan) {
        match Action::of(rc) {
            Action::Create => counts.add += 1,
            Action::Update => counts.change += 1,
            Action::Delete => counts.destroy += 1,
            Action::Replace { .. } => {
                counts.add += 1;
                counts.destroy += 1;
            }
            Action::NoOp | Action::Read | Action::Other(_) => {}
        }
    }
    counts
}

/// The addresses a plan deletes or replaces, each with `delete` or
/// `replace`, in plan order: what a reviewer must see before anything.
pub fn destroyed(plan: &Value) -> Vec<(String, &'static str)> {
    resource_changes(plan)
        .filter_map(|rc| {
            let word = match Action::of(rc) {
                Action::Delete => "delete",
                Action::Replace { .. } => "replace",
                _ => return None,
            };
            let address = rc["address"].as_str()?.to_string();
            Some((address, word))
        })
        .collect()
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped as `serde_json` escapes them, numbers as parsed. Two
/// documents that differ only in key order or layout give the same text.
/// Used for the plan digest and for marker signatures.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What terraform will do to one resource instance, from `change.actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Create,
    Update,
    Delete,
    /// `create_first` is true for `["create","delete"]` (`create_before_destroy`).
    Replace {
        create_first: bool,
    },
    NoOp,
    Read,
    /// An action list tfctl does not know (`forget`, future ones): shown, not counted.
    Other(String),
}

impl Action {
    /// The action of one entry of `resource_changes`.
    pub(crate) fn of(resource_change: &Value) -> Action {
        Action::of_change(resource_change.get("change").unwrap_or(&Value::Null))
    }

    /// The action of a `change` object (resource or output): its `actions`.
    pub(crate) fn of_change(change: &Value) -> Action {
        let actions: Vec<&str> = change
            .get("actions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Action::from_list(&actions)
    }

    pub(crate) fn from_list(actions: &[&str]) -> Action {
        match actions {
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["delete", "create"] => Action::Replace {
                create_first: false,
            },
            ["create", "delete"] => Action::Replace { create_first: true },
            ["no-op"] | [] => Action::NoOp,
            ["read"] => Action::Read,
            other => Action::Other(other.join(",")),
        }
    }

    /// Terraform's symbol for the action.
    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace {
                create_first: false,
            } => "-/+",
            Action::Replace { create_first: true } => "+/-",
            Action::NoOp => " ",
            Action::Read => "<=",
            Action::Other(_) => "?",
        }
    }
}

/// The `resource_changes` array (absent when a plan changes no resource).
pub(crate) fn resource_changes(plan: &Value) -> impl Iterator<Item = &Value> {
    plan.get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `address` of a resource change, with ` (deposed <key>)` for deposed objects
/// so that two changes of one address stay distinct.
pub(crate) fn change_key(resource_change: &Value) -> String {
    let address = match resource_change.get("address").and_then(Value::as_str) {
        Some(address) => address.to_string(),
        None => composed_address(resource_change),
    };
    match resource_change.get("deposed").and_then(Value::as_str) {
        Some(deposed) => format!("{address} (deposed {deposed})"),
        None => address,
    }
}

/// The address of an entry without one (terraform 1.0's `resource_drift`):
/// `module_address.type.name[index]`, as terraform would have written it.
fn composed_address(rc: &Value) -> String {
    let part = |key: &str| rc.get(key).and_then(Value::as_str);
    let (Some(kind), Some(name)) = (part("type"), part("name")) else {
        return "<unknown address>".to_string();
    };
    let mut address = match part("module_address") {
        Some(module) => format!("{module}."),
        None => String::new(),
    };
    if part("mode") == Some("data") {
        address.push_str("data.");
    }
    address.push_str(&format!("{kind}.{name}"));
    match rc.get("index") {
        Some(Value::Number(n)) => address.push_str(&format!("[{n}]")),
        Some(Value::String(key)) => address.push_str(&format!("[{}]", Value::String(key.clone()))),
        _ => {}
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": null, "c": "x"}], "x": true}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":true,"y":[1,{"c":"x","d":null}]},"b":1}"#
        );
    }

    #[test]
    fn replace_counts_one_add_and_one_destroy() {
        let plan = json!({"resource_changes": [
            {"address": "a.b", "change": {"actions": ["delete", "create"]}},
            {"address": "a.c", "change": {"actions": ["create", "delete"]}},
            {"address": "a.d", "change": {"actions": ["no-op"]}},
            {"address": "data.a.e", "change": {"actions": ["read"]}},
        ]});
        assert_eq!(
            changes(&plan),
            Changes {
                add: 2,
                change: 0,
                destroy: 2
            }
        );
    }
}
