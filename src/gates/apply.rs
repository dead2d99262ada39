//! The apply gate: the merged commit is the validated one, its evidence
//! verifies, it was not applied already and nothing overtook it.

use super::{label_disagreement, short};
use crate::evidence::Verified;
use crate::render::marker::ApplyMarker;

/// Everything the apply gate looks at.
#[derive(Debug, Clone)]
pub struct ApplyFacts {
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    /// The commit checked out for this apply.
    pub checked_out_sha: String,
    /// The PR head that was merged.
    pub merged_head_sha: String,
    pub labels: Vec<String>,
    /// The verified validation of the merged head, or why there is none.
    pub validation: Result<Verified, String>,
    /// For a failed validation: who excused it (an override re-verified
    /// now), or why nobody did.
    pub override_by: Result<String, String>,
    /// The newest verified apply attestation of this merge, if any.
    pub previous_apply: Option<ApplyMarker>,
    /// Why a later merge into the branch overtook this one, if one did.
    pub overtaken: Option<String>,
    /// The branch being applied (from the trigger).
    pub branch: String,
    /// The branch the PR was merged into, as GitHub says.
    pub base_ref: String,
    /// The merge commit the trigger named (dispatch payload, pushed commit),
    /// when it named one.
    pub trigger_sha: Option<String>,
    /// The PR's head lives in another repository.
    pub from_fork: bool,
}

pub struct ApplyPolicy<'a> {
    pub passed_label: &'a str,
    pub failed_label: &'a str,
    pub branch_for: &'a dyn Fn(&str) -> String,
    /// `github.allow_forks` of tfctl.yaml.
    pub allow_forks: bool,
}

/// `Ok(environment)` when the apply may go ahead, else every reason not to.
pub fn apply_gate(facts: &ApplyFacts, policy: &ApplyPolicy<'_>) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    if !facts.merged {
        reasons.push("the pull request is not merged".to_string());
    }
    match &facts.merge_commit_sha {
        Some(sha) if *sha == facts.checked_out_sha => {}
        Some(sha) => reasons.push(format!(
            "the checked-out commit {} is not the merge commit {}",
            short(&facts.checked_out_sha),
            short(sha)
        )),
        None => reasons.push("the pull request has no merge commit".into()),
    }
    if let (Some(named), Some(merge)) = (&facts.trigger_sha, &facts.merge_commit_sha) {
        if named != merge {
            reasons.push(format!(
                "the trigger names commit {} but the pull request's merge commit is {}",
                short(named),
                short(merge)
            ));
        }
    }
    if facts.base_ref != facts.branch {
        reasons.push(format!(
            "the pull request was merged into {}, not into {}, the branch being applied",
            facts.base_ref, facts.branch
        ));
    }
    if facts.from_fork && !policy.allow_forks {
        reasons.push(
            "the pull request comes from a fork (set github.allow_forks to apply those)".into(),
        );
    }
    if let Some(applied) = facts
        .previous_apply
        .as_ref()
        .and_then(|p| p.applied.as_ref())
    {
        reasons.push(format!(
            "this merge was already applied (run {} at {}): one apply per approval; \
             open a new pull request to change it again",
            applied.run_id, applied.time
        ));
    }
    reasons.extend(facts.overtaken.clone());

    let mut environment = None;
    match &facts.validation {
        Err(why) => reasons.push(why.clone()),
        Ok(v) => {
            if v.marker.head_sha != facts.merged_head_sha {
                reasons.push(format!(
                    "the validation is for {} but the merged head is {} (pushed after validation)",
                    short(&v.marker.head_sha),
                    short(&facts.merged_head_sha)
                ));
            }
            reasons.extend(v.marker.locked.iter().map(|l| {
                format!(
                    "{} was locked by {} when this head was validated: it was merged past the lock (tfctl merge refuses that)",
                    l.stack, l.holder
                )
            }));
            reasons.extend(label_disagreement(
                &facts.labels,
                v.passed(),
                policy.passed_label,
                policy.failed_label,
            ));
            if !v.passed() {
                if let Err(why) = &facts.override_by {
                    reasons.push(format!(
                        "the validation result is {} and no override stands: {why}",
                        v.marker.result.as_str()
                    ));
                }
            }
            match v.environment() {
                Ok(env) => {
                    let branch = (policy.branch_for)(env);
                    if branch == facts.branch {
                        environment = Some(env.to_string());
                    } else {
                        reasons.push(format!(
                            "the change was validated for {env} (branch {branch}), not for branch {}",
                            facts.branch
                        ));
                    }
                }
                Err(why) => reasons.push(why),
            }
        }
    }
    match (reasons.is_empty(), environment) {
        (true, Some(env)) => Ok(env),
        _ => Err(reasons),
    }
}

/// Whether a later merge into the environment branch overtook this one:
/// `status` and `changed` are GitHub's comparison of the merge commit with
/// the branch's tip (`ahead` when later commits exist), `touches` says
/// whether a changed path belongs to one of this merge's stacks, and
/// `complete` whether the file list is whole (GitHub caps it).
pub fn overtaken(
    branch: &str,
    status: &str,
    changed: &[String],
    complete: bool,
    touches: &dyn Fn(&str) -> bool,
) -> Option<String> {
    match status {
        "identical" => None,
        "ahead" => {
            let hit: Vec<&str> = changed
                .iter()
                .map(String::as_str)
                .filter(|p| touches(p))
                .collect();
            if !hit.is_empty() {
                Some(format!(
                    "a later merge into {branch} changed the same stacks ({}): applying this one would undo it",
                    hit.join(", ")
                ))
            } else if !complete {
                Some(format!(
                    "later merges into {branch} changed more files than GitHub lists; cannot tell that they leave this change's stacks alone"
                ))
            } else {
                None
            }
        }
        _ => Some(format!(
            "the merge commit is not on {branch} any more (the branch was reset or rewritten: {status})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::testing::{branch, validation, HEAD, OLD};
    use crate::render::marker::ApplyState;

    fn apply_facts() -> ApplyFacts {
        ApplyFacts {
            merged: true,
            merge_commit_sha: Some("cccccccccccccccccccccccccccccccccccccccc".into()),
            checked_out_sha: "cccccccccccccccccccccccccccccccccccccccc".into(),
            merged_head_sha: HEAD.into(),
            labels: vec!["opa-passed".into()],
            validation: validation("passed"),
            override_by: Err("no OVERRIDE comment".into()),
            previous_apply: None,
            overtaken: None,
            branch: "prod".into(),
            base_ref: "prod".into(),
            trigger_sha: Some("cccccccccccccccccccccccccccccccccccccccc".into()),
            from_fork: false,
        }
    }

    fn gate(f: &ApplyFacts) -> Result<String, Vec<String>> {
        apply_gate(
            f,
            &ApplyPolicy {
                passed_label: "opa-passed",
                failed_label: "opa-failed",
                branch_for: &branch,
                allow_forks: false,
            },
        )
    }

    fn previous(state: ApplyState) -> ApplyMarker {
        ApplyMarker {
            version: 2,
            repository: "acme/config".into(),
            pr_number: Some(1),
            merge_commit_sha: Some("c".repeat(40)),
            environment: Some("production".into()),
            branch: "prod".into(),
            applied: (state == ApplyState::Applied).then(|| crate::render::marker::AppliedRecord {
                run_id: "77".into(),
                time: "2026-11-21T13:00:00Z".into(),
            }),
            state,
            stacks: Default::default(),
            time: "2026-11-21T13:00:00Z".into(),
            run_id: "77".into(),
            signature: None,
        }
    }

    #[test]
    fn apply_gate_opens_for_a_validated_merged_pr() {
        assert_eq!(gate(&apply_facts()), Ok("production".into()));
        // Labels play no part in opening it.
        let mut f = apply_facts();
        f.labels.clear();
        assert_eq!(gate(&f), Ok("production".into()));
        // A failed validation with a re-verified override opens it too, and
        // so does an earlier run that failed or was interrupted (the re-plan
        // decides what may still be applied).
        let mut f = apply_facts();
        f.validation = validation("failed");
        f.labels = vec!["opa-failed".into(), "opa-override".into()];
        f.override_by = Ok("sec-lead".into());
        assert_eq!(gate(&f), Ok("production".into()));
        for state in [
            ApplyState::Failed,
            ApplyState::Applying,
            ApplyState::Cancelled,
        ] {
            let mut f = apply_facts();
            f.previous_apply = Some(previous(state));
            assert_eq!(gate(&f), Ok("production".into()), "{state:?}");
        }
    }

    #[test]
    fn apply_gate_refuses_each_spoof() {
        type Spoil = Box<dyn Fn(&mut ApplyFacts)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("not merged", Box::new(|f| f.merged = false)),
            (
                "is not the merge commit",
                Box::new(|f| f.checked_out_sha = OLD.into()),
            ),
            (
                "no tfctl validation",
                Box::new(|f| f.validation = Err("no tfctl validation by the bot".into())),
            ),
            (
                "no override stands: no OVERRIDE comment",
                Box::new(|f| {
                    f.validation = validation("failed");
                    f.labels = vec!["opa-override".into()];
                }),
            ),
            (
                "label opa-passed disagrees",
                Box::new(|f| {
                    f.validation = validation("failed");
                    f.override_by = Ok("sec-lead".into());
                }),
            ),
            (
                "pushed after validation",
                Box::new(|f| f.merged_head_sha = OLD.into()),
            ),
            (
                "not for branch dev",
                Box::new(|f| {
                    f.branch = "dev".into();
                    f.base_ref = "dev".into();
                }),
            ),
            (
                "merged into dev, not into prod",
                Box::new(|f| f.base_ref = "dev".into()),
            ),
            (
                "the trigger names commit bbbbbbb",
                Box::new(|f| f.trigger_sha = Some(OLD.into())),
            ),
            ("comes from a fork", Box::new(|f| f.from_fork = true)),
            (
                "already applied (run 77",
                Box::new(|f| f.previous_apply = Some(previous(ApplyState::Applied))),
            ),
            (
                "a later merge",
                Box::new(|f| f.overtaken = Some("a later merge into prod changed S3/a".into())),
            ),
        ];
        for (expected, spoil) in cases {
            let mut f = apply_facts();
            spoil(&mut f);
            let reasons = gate(&f).expect_err(expected).join("; ");
            assert!(
                reasons.contains(expected),
                "expected {expected:?} in {reasons:?}"
            );
        }
    }

    #[test]
    fn a_later_merge_overtakes_only_when_it_touches_the_same_stacks() {
        let touches = |p: &str| p.starts_with("S3/a/");
        let files = |v: &[&str]| {
            v.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(overtaken("prod", "identical", &[], true, &touches), None);
        assert_eq!(
            overtaken("prod", "ahead", &files(&["KMS/k/k.tfvars"]), true, &touches),
            None
        );
        let hit = overtaken("prod", "ahead", &files(&["S3/a/a.tfvars"]), true, &touches).unwrap();
        assert!(hit.contains("S3/a/a.tfvars"), "{hit}");
        assert!(overtaken("prod", "ahead", &[], false, &touches)
            .unwrap()
            .contains("cannot tell"));
        assert!(overtaken("prod", "behind", &[], true, &touches)
            .unwrap()
            .contains("reset"));
        assert!(overtaken("prod", "diverged", &[], true, &touches).is_some());
    }
}
