//! Incremental re-validation (docs/DESIGN.md §3, "Re-validation"): a new
//! push to a PR plans only the stacks whose inputs changed since the PR's
//! last verified validation, and carries the other stacks' results forward.
//!
//! A stack's result is carried when its attested record shows it passed
//! with the same input digest (tfvars and companions, the root module tree,
//! the provider lock file, its settings in tfctl.yaml), the same policy set,
//! and the same state (lineage and serial, read again without planning).
//! The carried plan digest is the attested, sealed one: the apply gate
//! re-plans and compares against it exactly as for a planned stack.
//!
//! Pure: digests and attestations in, decisions out. Reading files, state
//! and comments is the caller's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::render::marker::{ResultRecord, ValidationMarker};
use crate::report::{InputsRecord, StackReport, StackStatus};
use crate::stack::Stack;

/// The short form of a state identity the attestation records: 16 hex of
/// its SHA-256 (the attestation must stay small; see `ResultRecord`).
pub fn state_fingerprint(identity: &str) -> String {
    hex::encode(&Sha256::digest(identity.as_bytes())[..8])
}

/// A head as a carried result names it: its first 12 hex digits.
pub fn short_head(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Everything terraform receives for one stack, but its state.
#[derive(Debug, Clone)]
pub struct InputParts<'a> {
    pub stack: &'a Stack,
    /// The root module directory relative to `modules_root`.
    pub module: &'a str,
    /// `module_tree::ModuleTree::digest` of the root module and every local
    /// module it calls; empty when the module has no tree.
    pub module_tree: &'a str,
    /// The root module's `.terraform.lock.hcl`, when it has one.
    pub lock_file: Option<&'a str>,
    /// `(path, text)` of each tfvars, in the order terraform reads them.
    pub var_files: &'a [(String, String)],
    /// `(path, text)` of each companion file of the stack, sorted.
    pub companions: &'a [(String, String)],
    /// The stack's settings from tfctl.yaml, as the job passes them.
    pub backend_config: &'a [(String, String)],
    pub variables: &'a BTreeMap<String, String>,
    pub env: &'a BTreeMap<String, String>,
    /// `terraform.init_args` and `plan_args`.
    pub args: &'a [String],
}

/// SHA-256 over [`InputParts`], its first 128 bits as hex: equal digests
/// mean terraform is given the same things (state aside). 128 bits keep
/// the attestation small; a collision would still meet the apply gate,
/// which re-plans and compares the plan digest.
pub fn inputs_digest(parts: &InputParts<'_>) -> String {
    let pairs = |v: &[(String, String)]| -> Vec<[String; 2]> {
        v.iter().map(|(a, b)| [a.clone(), b.clone()]).collect()
    };
    let doc = json!({
        "version": 1,
        "id": parts.stack.id,
        "action": parts.stack.action.as_str(),
        "environment": parts.stack.environment,
        "module": parts.module,
        "module_tree": parts.module_tree,
        "lock_file": parts.lock_file,
        "var_files": pairs(parts.var_files),
        "companions": pairs(parts.companions),
        "backend_config": pairs(parts.backend_config),
        "variables": parts.variables,
        "env": parts.env,
        "args": parts.args,
    });
    let text = crate::plan::canonical_json(&doc);
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// The stacks whose attested result may be carried, before their state is
/// read: passed in `prior` (a verified attestation of an earlier head of
/// the same PR), judged by the same policy set, and given the same inputs.
/// Everything else is planned.
pub fn candidates<'a>(
    prior: &'a ValidationMarker,
    policy_digest: &str,
    digests: &BTreeMap<String, String>,
) -> BTreeMap<String, &'a ResultRecord> {
    if prior.policy_digest != policy_digest {
        return BTreeMap::new();
    }
    digests
        .iter()
        .filter_map(|(id, digest)| {
            let record = prior.results.get(id)?;
            let vouched =
                prior.stacks.contains_key(id) && !prior.violations.iter().any(|v| &v.stack == id);
            (vouched && &record.digest == digest).then(|| (id.clone(), record))
        })
        .collect()
}

/// Of the `candidates`, those whose state read now (`states`, `None` when
/// it could not be read) is the state their result was planned against.
pub fn carried(
    candidates: &BTreeMap<String, &ResultRecord>,
    states: &BTreeMap<String, Option<String>>,
) -> BTreeSet<String> {
    candidates
        .iter()
        .filter(|(id, record)| {
            states
                .get(*id)
                .and_then(Option::as_deref)
                .is_some_and(|now| state_fingerprint(now) == record.state)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// The report of a stack carried from `prior`: passed, its attested change
/// counts and sealed plan digest, marked with the head it was planned at.
pub fn carried_report(stack: &Stack, prior: &ValidationMarker) -> Option<StackReport> {
    let record = prior.results.get(&stack.id)?;
    let sealed = prior.stacks.get(&stack.id)?;
    let from = record
        .carried_from
        .clone()
        .unwrap_or_else(|| short_head(&prior.head_sha));
    Some(StackReport {
        id: stack.id.clone(),
        service: stack.service.clone(),
        name: stack.name.clone(),
        environment: stack.environment.clone(),
        action: stack.action.as_str().to_string(),
        status: StackStatus::Passed,
        changes: record.changes,
        violations: Vec::new(),
        warnings: Vec::new(),
        error: None,
        reasons: stack.reasons.clone(),
        duration_ms: 0,
        plan_digest: Some(sealed.clone()),
        plan_summary: None,
        destroys: Vec::new(),
        log_tail: None,
        log_file: None,
        terraform_warnings: Vec::new(),
        inputs: Some(InputsRecord {
            digest: record.digest.clone(),
            state: record.state.clone(),
            carried_from: Some(from),
        }),
        promotion: None,
    })
}

/// The attestation's record of each passed stack of a run with known
/// inputs: what a later push compares against.
pub fn records(stacks: &[StackReport]) -> BTreeMap<String, ResultRecord> {
    stacks
        .iter()
        .filter(|s| s.status == StackStatus::Passed && s.violations.is_empty())
        .filter_map(|s| {
            let inputs = s.inputs.as_ref()?;
            Some((
                s.id.clone(),
                ResultRecord {
                    digest: inputs.digest.clone(),
                    state: match &inputs.carried_from {
                        // Carried: already the attested fingerprint.
                        Some(_) => inputs.state.clone(),
                        None => state_fingerprint(&inputs.state),
                    },
                    changes: s.changes,
                    carried_from: inputs.carried_from.clone(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::render::marker::ViolationRecord;
    use crate::report::{Changes, RunResult};
    use crate::stack::StackAction;

    fn stack(id: &str) -> Stack {
        let (service, name) = Stack::split_id(id).unwrap();
        Stack {
            id: id.into(),
            service: service.into(),
            name: name.into(),
            tfvars: PathBuf::from(format!("{id}/{name}.tfvars")),
            environment: "production".into(),
            action: StackAction::Plan,
            depends_on: vec![],
            string_values: vec![],
            reasons: vec![],
        }
    }

    fn parts<'a>(s: &'a Stack, var_files: &'a [(String, String)]) -> InputParts<'a> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(BTreeMap::new);
        InputParts {
            stack: s,
            module: "s3",
            module_tree: "t1",
            lock_file: None,
            var_files,
            companions: &[],
            backend_config: &[],
            variables: empty,
            env: empty,
            args: &[],
        }
    }

    fn record(digest: &str, state: &str) -> ResultRecord {
        ResultRecord {
            digest: digest.into(),
            state: state_fingerprint(state),
            changes: Changes {
                add: 1,
                change: 0,
                destroy: 0,
            },
            carried_from: None,
        }
    }

    fn prior() -> ValidationMarker {
        ValidationMarker {
            version: 2,
            repository: "o/r".into(),
            pr_number: 7,
            head_sha: "a".repeat(40),
            base_ref: "main".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result: RunResult::Failed,
            stacks: BTreeMap::from([
                ("S3/a".to_string(), "sealed-a".to_string()),
                ("S3/b".to_string(), "sealed-b".to_string()),
                ("S3/c".to_string(), "sealed-c".to_string()),
            ]),
            violations: vec![ViolationRecord {
                stack: "S3/c".into(),
                rule: "main.deny".into(),
                id: "x".into(),
            }],
            results: BTreeMap::from([
                ("S3/a".to_string(), record("da", "L:3")),
                ("S3/b".to_string(), record("db", "L:4")),
                // A forged record for a failed stack is never carried.
                ("S3/c".to_string(), record("dc", "L:5")),
            ]),
            policy_digest: "p1".into(),
            time: "2026-01-01T00:00:00Z".into(),
            run_id: "1".into(),
            signature: None,
            locked: Vec::new(),
        }
    }

    #[test]
    fn a_record_is_one_short_string_both_ways() {
        let r = ResultRecord {
            digest: "ab".repeat(16),
            state: state_fingerprint("L:3"),
            changes: Changes {
                add: 1,
                change: 2,
                destroy: 3,
            },
            carried_from: Some("c".repeat(12)),
        };
        let text = String::from(r.clone());
        assert_eq!(text.len(), 32 + 1 + 16 + 6 + 13);
        assert_eq!(ResultRecord::try_from(text), Ok(r));
        assert!(ResultRecord::try_from("x:y:1:2:3".to_string()).is_err());
        assert!(ResultRecord::try_from("ab:cd:1:2".to_string()).is_err());
    }

    #[test]
    fn any_input_changes_the_digest() {
        let s = stack("S3/a");
        let files = [("S3/a/a.tfvars".to_string(), "name = \"a\"\n".to_string())];
        let base = inputs_digest(&parts(&s, &files));
        assert_eq!(base, inputs_digest(&parts(&s, &files)), "stable");
        let edited = [("S3/a/a.tfvars".to_string(), "name = \"b\"\n".to_string())];
        assert_ne!(base, inputs_digest(&parts(&s, &edited)));
        let mut p = parts(&s, &files);
        p.module_tree = "t2";
        assert_ne!(base, inputs_digest(&p));
        let mut p = parts(&s, &files);
        p.lock_file = Some("provider \"x\" {}");
        assert_ne!(base, inputs_digest(&p));
        let backend = [("path".to_string(), "other".to_string())];
        let mut p = parts(&s, &files);
        p.backend_config = &backend;
        assert_ne!(base, inputs_digest(&p));
        let companions = [("S3/a/a.json".to_string(), "{}".to_string())];
        let mut p = parts(&s, &files);
        p.companions = &companions;
        assert_ne!(base, inputs_digest(&p));
    }

    #[test]
    fn only_passed_stacks_with_the_same_inputs_policy_and_state_carry() {
        let prior = prior();
        let digests = BTreeMap::from([
            ("S3/a".to_string(), "da".to_string()),
            ("S3/b".to_string(), "0c".to_string()),
            ("S3/c".to_string(), "dc".to_string()),
            ("S3/new".to_string(), "d1".to_string()),
        ]);
        let found = candidates(&prior, "p1", &digests);
        assert_eq!(found.keys().collect::<Vec<_>>(), ["S3/a"]);
        assert!(
            candidates(&prior, "p2", &digests).is_empty(),
            "policy changed"
        );

        let same = BTreeMap::from([("S3/a".to_string(), Some("L:3".to_string()))]);
        assert_eq!(carried(&found, &same).len(), 1);
        let moved = BTreeMap::from([("S3/a".to_string(), Some("L:4".to_string()))]);
        assert!(carried(&found, &moved).is_empty(), "another apply moved it");
        let unread = BTreeMap::from([("S3/a".to_string(), None)]);
        assert!(carried(&found, &unread).is_empty());
    }

    #[test]
    fn a_carried_report_keeps_the_sealed_digest_and_names_its_origin() {
        let prior = prior();
        let report = carried_report(&stack("S3/a"), &prior).unwrap();
        assert_eq!(report.status, StackStatus::Passed);
        assert_eq!(report.plan_digest.as_deref(), Some("sealed-a"));
        let inputs = report.inputs.unwrap();
        assert_eq!(inputs.carried_from, Some("a".repeat(12)));
        assert!(carried_report(&stack("S3/zzz"), &prior).is_none());
    }
}
