//! Sensitivity and unknown-ness of plan values.
//!
//! Terraform describes which parts of a value are sensitive with a *mask*: a
//! bool, or an object/array of bools mirroring the value (`before_sensitive`,
//! `after_sensitive`, `sensitive_values`). A node is sensitive when any mask
//! that covers it says `true` at it or at an ancestor. This file owns walking
//! values under masks; it must not render or hash anything itself.

use std::collections::BTreeMap;

use serde_json::Value;

/// One step of a path into a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg {
    Index(usize),
    Key(String),
}

impl Seg {
    /// A `replace_paths` element (a string key or a number index).
    pub(crate) fn from_json(v: &Value) -> Option<Seg> {
        match v {
            Value::String(s) => Some(Seg::Key(s.clone())),
            Value::Number(n) => n.as_u64().map(|i| Seg::Index(i as usize)),
            _ => None,
        }
    }
}

/// `tags.Name`, `ingress[0].cidr_blocks[1]`, `tags["kubernetes.io/role"]`.
pub(crate) fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) if is_identifier(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", Value::String(k.clone()))),
        }
    }
    out
}

fn is_identifier(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

/// Several masks walked in parallel; sensitive where any of them is.
#[derive(Debug, Clone, Default)]
pub(crate) struct Masks<'a>(Vec<&'a Value>);

impl<'a> Masks<'a> {
    pub(crate) fn new(masks: impl IntoIterator<Item = Option<&'a Value>>) -> Masks<'a> {
        Masks(masks.into_iter().flatten().collect())
    }

    pub(crate) fn sensitive(&self) -> bool {
        self.0.iter().any(|m| m.as_bool() == Some(true))
    }

    pub(crate) fn child(&self, seg: &Seg) -> Masks<'a> {
        Masks(self.0.iter().filter_map(|m| child(m, seg)).collect())
    }
}

fn child<'a>(value: &'a Value, seg: &Seg) -> Option<&'a Value> {
    match (value, seg) {
        (Value::Object(map), Seg::Key(k)) => map.get(k),
        (Value::Array(items), Seg::Index(i)) => items.get(*i),
        _ => None,
    }
}

/// One attribute of a flattened value, as it may be shown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Leaf<'a> {
    /// Shown as `(sensitive)`; the value is kept only to tell whether it changed.
    Sensitive(Option<&'a Value>),
    /// Shown as `(known after apply)`.
    Unknown,
    /// A scalar, or an empty object/array.
    Plain(&'a Value),
}

/// Flattens `value` into its leaves by path. `unknown` is the matching part
/// of `after_unknown`; unknown wins over sensitive because whether a value is
/// known reveals nothing, and a sensitive subtree becomes one leaf so neither
/// its values nor its keys are listed.
pub(crate) fn flatten<'a>(
    value: Option<&'a Value>,
    unknown: Option<&'a Value>,
    masks: &Masks<'a>,
) -> BTreeMap<Vec<Seg>, Leaf<'a>> {
    let mut out = BTreeMap::new();
    walk(value, unknown, masks, &mut Vec::new(), &mut out);
    out
}

fn walk<'a>(
    value: Option<&'a Value>,
    unknown: Option<&'a Value>,
    masks: &Masks<'a>,
    path: &mut Vec<Seg>,
    out: &mut BTreeMap<Vec<Seg>, Leaf<'a>>,
) {
    if unknown.and_then(Value::as_bool) == Some(true) {
        out.insert(path.clone(), Leaf::Unknown);
        return;
    }
    if masks.sensitive() {
        if value.is_some() {
            out.insert(path.clone(), Leaf::Sensitive(value));
        }
        return;
    }
    for seg in child_segs(value, unknown) {
        path.push(seg.clone());
        walk(
            value.and_then(|v| child(v, &seg)),
            unknown.and_then(|u| child(u, &seg)),
            &masks.child(&seg),
            path,
            out,
        );
        path.pop();
    }
    // Non-empty containers were described by their children above; an
    // empty root (`after: {}`) says nothing an empty attribute list doesn't.
    match value {
        Some(Value::Object(m)) if !m.is_empty() || path.is_empty() => {}
        Some(Value::Array(a)) if !a.is_empty() || path.is_empty() => {}
        Some(v) => {
            out.insert(path.clone(), Leaf::Plain(v));
        }
        None => {}
    }
}

/// Children to visit: the value's own, plus those only `after_unknown` names.
fn child_segs(value: Option<&Value>, unknown: Option<&Value>) -> Vec<Seg> {
    let mut segs: Vec<Seg> = Vec::new();
    for v in [value, unknown].into_iter().flatten() {
        match v {
            Value::Object(map) => segs.extend(map.keys().map(|k| Seg::Key(k.clone()))),
            Value::Array(items) => segs.extend((0..items.len()).map(Seg::Index)),
            _ => {}
        }
    }
    segs.sort();
    segs.dedup();
    segs
}

/// `sensitive_values` of every resource instance in a module tree
/// (`planned_values.root_module` or `prior_state.values.root_module`), by address.
pub(crate) fn sensitive_values_by_address(module: Option<&Value>) -> BTreeMap<&str, &Value> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<&Value> = module.into_iter().collect();
    while let Some(m) = stack.pop() {
        for r in m
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(addr), Some(sv)) = (
                r.get("address").and_then(Value::as_str),
                r.get("sensitive_values"),
            ) {
                out.insert(addr, sv);
            }
        }
        stack.extend(
            m.get("child_modules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    out
}

/// Every mask that says which parts of one resource change are sensitive:
/// its own `before_sensitive`/`after_sensitive`, and the `sensitive_values` of
/// the same address in `planned_values` and `prior_state`. Both sides of a
/// change are shown under the union, so a value sensitive on either side is
/// hidden on both.
pub(crate) struct PlanMasks<'a> {
    planned: BTreeMap<&'a str, &'a Value>,
    prior: BTreeMap<&'a str, &'a Value>,
    output_flags: BTreeMap<&'a str, bool>,
}

impl<'a> PlanMasks<'a> {
    pub(crate) fn of(plan: &'a Value) -> PlanMasks<'a> {
        let mut output_flags: BTreeMap<&str, bool> = BTreeMap::new();
        for outputs in [
            plan.pointer("/planned_values/outputs"),
            plan.pointer("/prior_state/values/outputs"),
            plan.pointer("/configuration/root_module/outputs"),
        ]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        {
            for (name, o) in outputs {
                if o.get("sensitive").and_then(Value::as_bool) == Some(true) {
                    output_flags.insert(name, true);
                }
            }
        }
        PlanMasks {
            planned: sensitive_values_by_address(plan.pointer("/planned_values/root_module")),
            prior: sensitive_values_by_address(plan.pointer("/prior_state/values/root_module")),
            output_flags,
        }
    }

    /// The masks for one entry of `resource_changes`.
    pub(crate) fn resource(&self, rc: &'a Value) -> Masks<'a> {
        let address = rc.get("address").and_then(Value::as_str).unwrap_or("");
        Masks::new([
            rc.pointer("/change/before_sensitive"),
            rc.pointer("/change/after_sensitive"),
            self.planned.get(address).copied(),
            self.prior.get(address).copied(),
        ])
    }

    /// The masks for one entry of `output_changes`, rooted at the output's
    /// value (not at its name).
    pub(crate) fn output(&self, name: &str, change: &'a Value) -> Masks<'a> {
        let flag = if self.output_flags.contains_key(name) {
            Some(&Value::Bool(true))
        } else {
            None
        };
        Masks::new([
            change.get("before_sensitive"),
            change.get("after_sensitive"),
            flag,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_like_terraform_addresses() {
        let path = vec![
            Seg::Key("ingress".into()),
            Seg::Index(0),
            Seg::Key("cidr_blocks".into()),
        ];
        assert_eq!(path_text(&path), "ingress[0].cidr_blocks");
        let odd = vec![Seg::Key("tags".into()), Seg::Key("k8s.io/role".into())];
        assert_eq!(path_text(&odd), r#"tags["k8s.io/role"]"#);
    }

    #[test]
    fn a_sensitive_subtree_is_one_leaf_without_its_keys() {
        let value = json!({"a": 1, "secret": {"inner_key": "v"}});
        let mask = json!({"secret": true});
        let leaves = flatten(Some(&value), None, &Masks::new([Some(&mask)]));
        let keys: Vec<String> = leaves.keys().map(|p| path_text(p)).collect();
        assert_eq!(keys, ["a", "secret"]);
        assert!(matches!(
            leaves[&vec![Seg::Key("secret".into())]],
            Leaf::Sensitive(_)
        ));
    }

    #[test]
    fn unknown_children_appear_even_when_absent_from_the_value() {
        let value = json!({"a": 1});
        let unknown = json!({"id": true, "triggers": {}});
        let leaves = flatten(Some(&value), Some(&unknown), &Masks::default());
        assert_eq!(leaves[&vec![Seg::Key("id".into())]], Leaf::Unknown);
        assert_eq!(leaves.len(), 2);
    }
}
