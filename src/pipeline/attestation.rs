//! A validation's report → the attestation its comment carries, which
//! merge and apply trust: sealed plan digests, violation ids, the
//! marker. Pure (`marker::render` signs).

use crate::attest::SigningKey;
use crate::config::Config;
use crate::render::marker::{ValidationMarker, ViolationRecord, ATTESTATION_VERSION};
use crate::report::RunReport;

/// A plan digest as published in a marker. With the signing key it is
/// HMAC-SHA256 under a key derived from it: a plain digest covers hashes of
/// sensitive values, and a PR comment is readable by everyone with access
/// to the repository, who could guess a low-entropy secret offline from it.
/// Apply (which holds the same secret) seals its re-plan's digest the same
/// way before comparing.
pub fn seal_digest(digest: &str, key: Option<&SigningKey>) -> String {
    use hmac::{Hmac, Mac};
    match key {
        None => digest.to_string(),
        Some(key) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.seal_key())
                .expect("HMAC takes any key length");
            mac.update(b"tfctl-plan-digest\n");
            mac.update(digest.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

/// What a validation is about, beyond its report.
#[derive(Debug, Clone)]
pub struct ValidationContext {
    /// The PR's repository, `owner/name`.
    pub repository: String,
    pub pr_number: u64,
    pub head_sha: String,
    pub base_ref: String,
    pub policy_digest: String,
    /// `GITHUB_RUN_ID`, or `local`.
    pub run_id: String,
    /// RFC 3339.
    pub time: String,
}

/// A violation's stable id: the first 16 hex digits of SHA-256 over stack,
/// rule and message, so an override names exactly what it excused and the
/// same finding keeps its id across runs.
pub fn violation_id(stack: &str, rule: &str, msg: &str) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in [stack, rule, msg] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Every deny/violation of `report` as the attestation records it, sorted.
pub fn violation_records(report: &RunReport) -> Vec<ViolationRecord> {
    let mut records: Vec<ViolationRecord> = report
        .stacks
        .iter()
        .flat_map(|s| {
            s.violations.iter().map(|v| {
                let rule = format!("{}.{}", v.namespace, v.rule);
                ViolationRecord {
                    id: violation_id(&s.id, &rule, &v.msg),
                    stack: s.id.clone(),
                    rule,
                }
            })
        })
        .collect();
    // A promotion gap is no policy violation, but an override excuses it
    // the same way, so the attestation names it beside them.
    records.extend(report.stacks.iter().filter_map(|s| {
        let why = s.promotion.as_deref()?;
        Some(ViolationRecord {
            id: violation_id(&s.id, PROMOTION_RULE, why),
            stack: s.id.clone(),
            rule: PROMOTION_RULE.into(),
        })
    }));
    records.sort();
    records.dedup();
    records
}

/// The rule a promotion gap is recorded under in the attestation.
pub const PROMOTION_RULE: &str = "tfctl.promote_from";

/// The attestation the validation comment carries: what merge and apply
/// trust. `environment` is empty and `target_branch` empty when the stacks
/// span several environments (merge then refuses, naming them). Digests are
/// sealed with `key` (see [`seal_digest`]); `marker::render` signs.
pub fn validation_marker(
    cfg: &Config,
    report: &RunReport,
    ctx: &ValidationContext,
    key: Option<&SigningKey>,
) -> ValidationMarker {
    let environments: Vec<String> = report
        .environments()
        .into_iter()
        .map(str::to_string)
        .collect();
    let environment = report.environment.clone().unwrap_or_default();
    let target_branch = if environment.is_empty() {
        String::new()
    } else {
        cfg.branch_for(&environment)
    };
    let violations = violation_records(report);
    ValidationMarker {
        version: ATTESTATION_VERSION,
        repository: ctx.repository.clone(),
        pr_number: ctx.pr_number,
        head_sha: ctx.head_sha.clone(),
        base_ref: ctx.base_ref.clone(),
        environment,
        environments,
        target_branch,
        result: report.result,
        stacks: report
            .stacks
            .iter()
            .filter_map(|s| {
                // A carried result's digest is the attested one, sealed already.
                let carried = s.inputs.as_ref().is_some_and(|i| i.carried_from.is_some());
                s.plan_digest.as_deref().map(|d| {
                    let sealed = if carried {
                        d.to_string()
                    } else {
                        seal_digest(d, key)
                    };
                    (s.id.clone(), sealed)
                })
            })
            .collect(),
        violations,
        results: crate::revalidate::records(&report.stacks),
        locked: report.locks.clone(),
        policy_digest: ctx.policy_digest.clone(),
        time: ctx.time.clone(),
        run_id: ctx.run_id.clone(),
        signature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_digest_is_keyed_and_stable() {
        let (k1, k2) = (SigningKey::generate(), SigningKey::generate());
        let d = "ab".repeat(32);
        assert_eq!(seal_digest(&d, None), d);
        let a = seal_digest(&d, Some(&k1));
        assert_eq!(a, seal_digest(&d, Some(&k1)));
        assert_ne!(a, d);
        assert_ne!(a, seal_digest(&d, Some(&k2)));
        assert_eq!(a.len(), 64);
    }

    fn context() -> ValidationContext {
        ValidationContext {
            repository: "acme/infra".into(),
            pr_number: 7,
            head_sha: "a".repeat(40),
            base_ref: "main".into(),
            policy_digest: "p".repeat(64),
            run_id: "local".into(),
            time: "2026-12-03T20:00:00Z".into(),
        }
    }

    fn planned(id: &str, environment: &str, digest: &str) -> crate::report::StackReport {
        let mut s =
            crate::report::StackReport::sample(id, environment, crate::report::StackStatus::Passed);
        s.plan_digest = Some(digest.into());
        s
    }

    #[test]
    fn the_attestation_seals_fresh_digests_and_keeps_carried_ones_as_attested() {
        let cfg = crate::config::parse("", std::path::Path::new("/repo/tfctl.yaml")).unwrap();
        let key = SigningKey::generate();
        let fresh = "f".repeat(64);
        let mut carried = planned("S3/b", "production", "already-sealed");
        carried.inputs = Some(crate::report::InputsRecord {
            digest: "i".repeat(64),
            state: "empty".into(),
            carried_from: Some("b".repeat(40)),
        });
        let mut report = RunReport::sample(vec![planned("S3/a", "production", &fresh), carried], 0);
        report.environment = Some("production".into());

        let marker = validation_marker(&cfg, &report, &context(), Some(&key));

        assert_eq!(marker.stacks["S3/a"], seal_digest(&fresh, Some(&key)));
        assert_eq!(marker.stacks["S3/b"], "already-sealed");
        assert_eq!(marker.environment, "production");
        assert_eq!(marker.target_branch, cfg.branch_for("production"));
        assert_eq!((marker.pr_number, marker.signature), (7, None));
    }

    #[test]
    fn an_attestation_across_environments_names_no_target_and_records_promotion_gaps() {
        let cfg = crate::config::parse("", std::path::Path::new("/repo/tfctl.yaml")).unwrap();
        let mut gap = planned("S3/b", "staging", "d");
        gap.promotion = Some("not applied in development".into());
        let report = RunReport::sample(vec![planned("S3/a", "production", "d"), gap], 0);

        let marker = validation_marker(&cfg, &report, &context(), None);

        assert_eq!(
            (marker.environment.as_str(), marker.target_branch.as_str()),
            ("", "")
        );
        assert_eq!(marker.environments, ["production", "staging"]);
        assert_eq!(marker.stacks["S3/a"], "d", "no key: the plain digest");
        assert_eq!(marker.violations.len(), 1);
        assert_eq!(marker.violations[0].rule, PROMOTION_RULE);
        assert_eq!(
            marker.violations[0].id,
            violation_id("S3/b", PROMOTION_RULE, "not applied in development")
        );
    }

    #[test]
    fn violation_ids_are_stable_and_tell_findings_apart() {
        let a = violation_id("S3/a", "main.deny", "public bucket");
        assert_eq!(a, violation_id("S3/a", "main.deny", "public bucket"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, violation_id("S3/b", "main.deny", "public bucket"));
        assert_ne!(a, violation_id("S3/a", "main.deny", "public bucket!"));
        // The separator keeps "a|b" + "c" apart from "a" + "b|c".
        assert_ne!(
            violation_id("S3/a", "main.denyx", "y"),
            violation_id("S3/a", "main.deny", "xy")
        );
    }
}
