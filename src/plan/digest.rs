//! The canonical plan digest that ties an approval to the plan it approved.
//!
//! Must not: expose a sensitive value (they enter only as SHA-256 hashes),
//! or depend on anything that varies between two runs of the same plan.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::mask::{Masks, PlanMasks, Seg};
use super::{canonical_json, change_key, resource_changes, Action};

/// Domain separation: a digest of another kind of document never collides.
const DOMAIN: &str = "tfctl-plan-digest/v2\n";

/// Hex SHA-256 of the plan's meaning: what `terraform apply` of this plan
/// would do.
///
/// Precisely: SHA-256 over `tfctl-plan-digest/v2\n` followed by the
/// [`canonical_json`] of
/// `{"outputs": {NAME: ENTRY}, "resources": {KEY: ENTRY}}` where `KEY` is a
/// resource change's `address` (plus ` (deposed <key>)` for a deposed
/// object) and `ENTRY` is
/// `{"actions": [...], "after": A, "after_unknown": U, "before": B}` from its
/// `change`. `B` is the prior state of the changed object (masked by
/// `before_sensitive` as `A` is below): a plan approved against one state
/// does not match a re-plan against another, so an old approval replayed
/// after newer changes reached the state is refused. Changes whose actions are `no-op` or `read` are left
/// out: apply does nothing to them, and their values follow refreshed state.
/// In `A`, every subtree that a sensitivity mask (`after_sensitive`,
/// `before_sensitive`, `planned_values` `sensitive_values`, a sensitive
/// output) marks is replaced by `{"tfctl-sensitive-sha256": hex}` of its own
/// canonical JSON, so a changed secret changes the digest while the secret
/// never enters the document in the clear. Everything else in the plan
/// (`timestamp`, `terraform_version`, `prior_state` of unchanged objects,
/// `variables`, `configuration`, key order and layout) is not part of it. A SHA-256 of a low-entropy secret can be guessed offline, so the
/// digest is as sensitive as a hash of the secrets, no more.
pub fn digest(plan: &Value) -> String {
    let Entries { resources, outputs } = entries(plan);
    let doc = json!({"outputs": outputs, "resources": resources});
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN.as_bytes());
    hasher.update(canonical_json(&doc).as_bytes());
    hex::encode(hasher.finalize())
}

/// What differs between the digest inputs of two plans, one sorted line per
/// difference (`resource aws_s3_bucket.logs: actions update -> delete,create`),
/// naming addresses and outputs only, never values. The apply gate holds
/// only the approved digest, not the approved plan, so this serves whoever
/// holds both plans: the tests that pin what the digest covers.
pub fn diff_digest_inputs(approved: &Value, current: &Value) -> Vec<String> {
    let (a, b) = (entries(approved), entries(current));
    let mut out = Vec::new();
    diff_maps("resource", &a.resources, &b.resources, &mut out);
    diff_maps("output", &a.outputs, &b.outputs, &mut out);
    out
}

fn diff_maps(
    what: &str,
    a: &BTreeMap<String, Value>,
    b: &BTreeMap<String, Value>,
    out: &mut Vec<String>,
) {
    for (key, old) in a {
        match b.get(key) {
            None => out.push(format!(
                "{what} {key}: no longer planned (was {})",
                actions_text(old)
            )),
            Some(new) if old["actions"] != new["actions"] => out.push(format!(
                "{what} {key}: actions {} -> {}",
                actions_text(old),
                actions_text(new)
            )),
            Some(new) if old != new => out.push(format!("{what} {key}: planned values changed")),
            Some(_) => {}
        }
    }
    for (key, new) in b {
        if !a.contains_key(key) {
            out.push(format!(
                "{what} {key}: newly planned ({})",
                actions_text(new)
            ));
        }
    }
}

fn actions_text(entry: &Value) -> String {
    entry["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

struct Entries {
    resources: BTreeMap<String, Value>,
    outputs: BTreeMap<String, Value>,
}

fn entries(plan: &Value) -> Entries {
    let masks = PlanMasks::of(plan);
    let mut resources = BTreeMap::new();
    for rc in resource_changes(plan) {
        if matches!(Action::of(rc), Action::NoOp | Action::Read) {
            continue;
        }
        let change = rc.get("change").unwrap_or(&Value::Null);
        let mut e = entry(change, &masks.resource(rc));
        let before_masks = Masks::new([change.get("before_sensitive")]);
        e["before"] = hash_sensitive(change.get("before").unwrap_or(&Value::Null), &before_masks);
        resources.insert(change_key(rc), e);
    }
    let mut outputs = BTreeMap::new();
    for (name, change) in plan
        .get("output_changes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if Action::of_change(change) == Action::NoOp {
            continue;
        }
        outputs.insert(name.clone(), entry(change, &masks.output(name, change)));
    }
    Entries { resources, outputs }
}

fn entry(change: &Value, masks: &Masks<'_>) -> Value {
    json!({
        "actions": change.get("actions").cloned().unwrap_or(Value::Null),
        "after": hash_sensitive(change.get("after").unwrap_or(&Value::Null), masks),
        "after_unknown": change.get("after_unknown").cloned().unwrap_or(Value::Null),
    })
}

/// A copy of `value` with each sensitive subtree replaced by its hash.
fn hash_sensitive(value: &Value, masks: &Masks<'_>) -> Value {
    if masks.sensitive() {
        let hash = hex::encode(Sha256::digest(canonical_json(value).as_bytes()));
        return json!({ "tfctl-sensitive-sha256": hash });
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let m = masks.child(&Seg::Key(k.clone()));
                    (k.clone(), hash_sensitive(v, &m))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| hash_sensitive(v, &masks.child(&Seg::Index(i))))
                .collect(),
        ),
        scalar => scalar.clone(),
    }
}
