//! Sensitivity and unknown-ness of plan values.
//!
//! Terraform describes which parts of a value are sensitive with a *mask*: a
//! bool, or an object/array of bools mirroring the value (`before_sensitive`,
//! `after_sensitive`, `sensitive_values`). A node is sensitive when any mask
//! that covers it says `true` at it or at an ancestor. This file owns walking
//! values under masks, and [`SensitiveValues`], the texts of every sensitive
//! value of a plan, so text made from the plan by others (policy messages)
//! can be redacted; it must not render or hash anything itself.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

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

/// What replaces a sensitive value in text, as terraform and the plan
/// summary write it.
pub(crate) const REDACTED: &str = "(sensitive)";

/// Values shorter than this (in characters) are redacted only where they
/// stand as a whole word, longer ones wherever they occur; a value of one
/// character is not redacted at all.
///
/// A short secret (`bar`, a 3-digit PIN) must not leak either, but short
/// texts also occur inside unrelated words and numbers of a message, and
/// replacing those would mangle it (`barn` as `(sensitive)n`). A single
/// character occurs in nearly every message (counts, `a`), and a secret
/// that short protects nothing. Booleans and nulls are never redacted for
/// the same reason. The price of the whole-word rule: a word of the message
/// that happens to equal a short secret is redacted too (a resource named
/// like the value), which hides nothing a reader needs to judge the
/// violation's kind and never shows the secret.
pub const MIN_REDACTED_CHARS: usize = 4;

/// Every sensitive value of a plan, as the texts a message could quote it
/// by: each sensitive scalar leaf (a subtree marked sensitive counts with
/// all its leaves) of `resource_changes` and `resource_drift` (both sides,
/// under the union of masks, as the summary hides them), `output_changes`,
/// sensitive outputs of `planned_values` and `prior_state`, resource values
/// under their `sensitive_values`, and root variables the configuration
/// declares `sensitive`. A string counts as itself and as it appears inside
/// JSON (a policy that formats an object with `%v` prints it escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SensitiveValues {
    /// Longest first, so a secret that contains another is replaced whole.
    texts: Vec<String>,
}

impl SensitiveValues {
    pub fn of(plan: &Value) -> SensitiveValues {
        let mut found: BTreeSet<String> = BTreeSet::new();
        let masks = PlanMasks::of(plan);
        let mut collect = |value: Option<&Value>, masks: &Masks<'_>| {
            // Most resources have nothing sensitive: skip their walk.
            if !masks.0.iter().any(|m| any_true(m)) {
                return;
            }
            for leaf in flatten(value, None, masks).into_values() {
                if let Leaf::Sensitive(Some(v)) = leaf {
                    scalar_texts(v, &mut found);
                }
            }
        };
        for key in ["resource_changes", "resource_drift"] {
            for rc in plan
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let m = masks.resource(rc);
                collect(rc.pointer("/change/before"), &m);
                collect(rc.pointer("/change/after"), &m);
            }
        }
        for (name, change) in plan
            .get("output_changes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let m = masks.output(name, change);
            collect(change.get("before"), &m);
            collect(change.get("after"), &m);
        }
        for module in ["/planned_values", "/prior_state/values"] {
            let Some(values) = plan.pointer(module) else {
                continue;
            };
            for o in values
                .get("outputs")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(_, o)| o)
            {
                if o.get("sensitive").and_then(Value::as_bool) == Some(true) {
                    collect(o.get("value"), &Masks::new([Some(&Value::Bool(true))]));
                }
            }
            for r in resources(values.get("root_module")) {
                collect(r.get("values"), &Masks::new([r.get("sensitive_values")]));
            }
        }
        for (name, declared) in plan
            .pointer("/configuration/root_module/variables")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if declared.get("sensitive").and_then(Value::as_bool) == Some(true) {
                let value = plan.pointer(&format!("/variables/{}/value", pointer_escape(name)));
                collect(value, &Masks::new([Some(&Value::Bool(true))]));
            }
        }
        let mut texts: Vec<String> = found.into_iter().collect();
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        SensitiveValues { texts }
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// `text` with every occurrence of a sensitive value replaced by
    /// [`REDACTED`] (a short one only as a whole word, see
    /// [`MIN_REDACTED_CHARS`]), in one left-to-right pass, so nothing is
    /// matched inside a replacement, preferring the longest value at each
    /// point.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.texts.iter().any(|t| text.contains(t.as_str())) {
            return Cow::Borrowed(text);
        }
        let word_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some(c) = text[at..].chars().next() {
            let rest = &text[at..];
            let before = text[..at].chars().next_back();
            let found = self.texts.iter().find(|t| {
                rest.starts_with(t.as_str())
                    && (t.chars().count() >= MIN_REDACTED_CHARS
                        || (!word_char(before) && !word_char(rest[t.len()..].chars().next())))
            });
            if let Some(t) = found {
                out.push_str(REDACTED);
                at += t.len();
            } else {
                out.push(c);
                at += c.len_utf8();
            }
        }
        if out == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(out)
        }
    }
}

/// The texts of every string and number in `value` longer than one
/// character (see [`MIN_REDACTED_CHARS`]).
fn scalar_texts(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            let json = Value::String(s.clone()).to_string();
            let escaped = &json[1..json.len() - 1];
            for text in [s.as_str(), escaped] {
                if text.chars().count() > 1 {
                    out.insert(text.to_owned());
                }
            }
        }
        Value::Number(n) => {
            let text = n.to_string();
            if text.len() > 1 {
                out.insert(text);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| scalar_texts(v, out)),
        Value::Object(map) => map.values().for_each(|v| scalar_texts(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Whether a mask marks anything sensitive.
fn any_true(mask: &Value) -> bool {
    match mask {
        Value::Bool(b) => *b,
        Value::Array(items) => items.iter().any(any_true),
        Value::Object(map) => map.values().any(any_true),
        _ => false,
    }
}

/// Every resource of a module tree, child modules included.
fn resources(module: Option<&Value>) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = module.into_iter().collect();
    while let Some(m) = stack.pop() {
        out.extend(
            m.get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        stack.extend(
            m.get("child_modules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    out
}

/// A JSON pointer token (RFC 6901).
fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
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

    #[test]
    fn sensitive_values_cover_changes_outputs_state_and_variables() {
        let plan = json!({
            "variables": {"db_password": {"value": "var-secret-1"}, "region": {"value": "eu-west-1"}},
            "configuration": {"root_module": {"variables": {
                "db_password": {"sensitive": true}, "region": {}
            }}},
            "resource_changes": [{
                "address": "a.b",
                "change": {
                    "before": {"token": "old-token-2", "name": "plain-name"},
                    "after": {"token": "new-token-3", "nested": {"k": ["list-secret-4", 12345, true]}, "name": "plain-name"},
                    "before_sensitive": {"token": true},
                    "after_sensitive": {"token": true, "nested": true}
                }
            }],
            "output_changes": {"pw": {"after": "out-secret-5", "after_sensitive": false}},
            "planned_values": {
                "outputs": {"pw": {"sensitive": true, "value": "out-secret-5"}},
                "root_module": {"child_modules": [{"resources": [
                    {"address": "module.m.x.y", "values": {"key": "state-secret-6"}, "sensitive_values": {"key": true}}
                ]}]}
            },
            "prior_state": {"values": {"outputs": {"old": {"sensitive": true, "value": {"q\"uote": "quo\"ted-7"}}}}}
        });
        let secrets = SensitiveValues::of(&plan);
        for secret in [
            "var-secret-1",
            "old-token-2",
            "new-token-3",
            "list-secret-4",
            "12345",
            "out-secret-5",
            "state-secret-6",
            "quo\"ted-7",
            // As %v prints it inside JSON.
            "quo\\\"ted-7",
        ] {
            let msg = format!("got {secret}!");
            assert_eq!(secrets.redact(&msg), "got (sensitive)!", "{secret}");
        }
        // Plain values, booleans and keys stay.
        for plain in ["plain-name", "eu-west-1", "true", "token", "q\"uote"] {
            assert_eq!(secrets.redact(plain), plain);
        }
    }

    #[test]
    fn redaction_is_one_pass_longest_first_and_skips_short_values() {
        let plan = json!({"resource_changes": [{"address": "a.b", "change": {
            "after": {"a": "secret", "b": "secret-longer", "c": "abc", "d": "sensitive", "e": "", "f": "x", "g": 7},
            "after_sensitive": true
        }}]});
        let secrets = SensitiveValues::of(&plan);
        assert_eq!(
            secrets.redact("secret-longer, secret; abc"),
            "(sensitive), (sensitive); (sensitive)"
        );
        // A short value only as a whole word; a long one anywhere.
        assert_eq!(
            secrets.redact("abcd xabc abc_1 [abc] mysecrets"),
            "abcd xabc abc_1 [(sensitive)] my(sensitive)s"
        );
        // The replacement itself contains a secret; it is not matched again.
        assert_eq!(secrets.redact("sensitive"), "(sensitive)");
        assert!(matches!(secrets.redact("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(secrets.redact("xabc"), Cow::Borrowed(_)));
        // One character, however it stands, is left alone.
        assert_eq!(secrets.redact("x of 7"), "x of 7");
        assert!(SensitiveValues::of(&json!({})).is_empty());
        // Without a sensitive mask nothing counts, however the values look.
        let plain = json!({"resource_changes": [{"address": "a.b", "change": {
            "after": {"a": "secret"}, "after_sensitive": {"a": false}
        }}]});
        assert!(SensitiveValues::of(&plain).is_empty());
    }
}
