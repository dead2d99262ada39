//! Merge, apply and dispatch gate decisions (docs/DESIGN.md §2, §4): pure
//! functions from facts gathered by the commands to `Open` or
//! `Blocked(reasons)`, one file per decision.
//!
//! Nothing here reads GitHub; the commands collect PR facts (reviews,
//! evidence verified by [`crate::evidence`], labels) into these structs.
//! Every failed check is its own reason, so the PR says all that is wrong.
//! A label never opens a gate; a label that disagrees with the signed
//! verdict closes it.

mod apply;
mod dispatch;
mod merge;
mod plan;

pub use apply::{apply_gate, overtaken, ApplyFacts, ApplyPolicy};
pub use dispatch::{dispatch_route, DispatchEvent, DispatchPolicy, DispatchRoute};
pub use merge::{
    approvals_to_verify, merge_gate, MergeDecision, MergeFacts, MergePolicy, Review, ReviewState,
};
pub use plan::plan_approval;

/// A commit or digest as the reasons show it.
use crate::evidence::short;

/// A verdict label that contradicts the signed verdict: someone with
/// triage set it, or two validations raced. Either way nothing is decided
/// on it; the gate stays closed until a validation sets labels again.
fn label_disagreement(
    labels: &[String],
    passed: bool,
    passed_label: &str,
    failed_label: &str,
) -> Option<String> {
    let (contradicting, verdict) = if passed {
        (failed_label, "passed")
    } else {
        (passed_label, "failed")
    };
    labels.iter().any(|l| l == contradicting).then(|| {
        format!(
            "label {contradicting} disagrees with the signed validation ({verdict}); labels are for people, re-run the validation to set them again"
        )
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Facts the gate tests (and the commands' decision tests) share.

    use crate::evidence::Verified;

    pub(super) const HEAD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    pub(super) const OLD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    // The shape `evidence::validation` returns, which the gates take.
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn validation(result: &str) -> Result<Verified, String> {
        Ok(Verified {
            marker: crate::render::marker::ValidationMarker {
                version: 2,
                repository: "acme/config".into(),
                pr_number: 1,
                head_sha: HEAD.into(),
                base_ref: "main".into(),
                environment: "production".into(),
                environments: vec!["production".into()],
                target_branch: "prod".into(),
                result: if result == "passed" {
                    crate::report::RunResult::Passed
                } else {
                    crate::report::RunResult::Failed
                },
                stacks: Default::default(),
                violations: Vec::new(),
                results: Default::default(),
                policy_digest: String::new(),
                time: "2026-11-21T10:00:00Z".into(),
                run_id: "1".into(),
                signature: None,
                locked: Vec::new(),
            },
            comment_updated_at: "2026-11-21T10:00:00Z".into(),
            signed: true,
        })
    }

    pub(super) fn branch(env: &str) -> String {
        match env {
            "production" => "prod".into(),
            "staging" => "stage".into(),
            "development" => "dev".into(),
            _ => "main".into(),
        }
    }
}
