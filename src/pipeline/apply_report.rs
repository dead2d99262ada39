//! Apply's runs → the apply report, or the report of an apply the gate
//! refused. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use super::judge::in_wave_order;
use crate::report::{ApplyReport, ApplyResult, ApplyStackReport, ApplyStatus};
use crate::runner::{Outcome, StackRun};
use crate::select::Selection;

/// Turns apply runs into stack reports. `approved` is the validation's
/// digest by stack id. A rejected stack (the approve callback refused it)
/// is `not_applied` with the refusal as its error and its re-plan's
/// redacted summary, so the PR shows what it would have done.
pub fn judge_apply(
    sel: &Selection,
    runs: &[StackRun],
    approved: &BTreeMap<String, String>,
) -> Vec<ApplyStackReport> {
    sel.dag
        .stacks
        .iter()
        .zip(runs)
        .map(|(stack, run)| {
            let (status, error) = match &run.outcome {
                Outcome::Succeeded => (ApplyStatus::Applied, None),
                Outcome::Failed(why) => (ApplyStatus::Failed, Some(why.clone())),
                Outcome::Rejected(why) => (ApplyStatus::NotApplied, Some(why.clone())),
                Outcome::Skipped { dependency } => (
                    ApplyStatus::Skipped,
                    Some(format!("dependency {dependency} was not applied")),
                ),
                Outcome::Cancelled => (ApplyStatus::Cancelled, Some("cancelled".into())),
            };
            let plan = run.plan_json.as_ref();
            ApplyStackReport {
                id: stack.id.clone(),
                environment: stack.environment.clone(),
                action: stack.action.as_str().to_string(),
                status,
                changes: plan.map(crate::plan::changes),
                error,
                duration_ms: u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
                plan_digest: plan.map(crate::plan::digest),
                approved_digest: approved.get(&stack.id).cloned(),
                plan_summary: plan
                    .filter(|_| status == ApplyStatus::NotApplied)
                    .map(|plan| {
                        crate::plan::summary_from(
                            plan,
                            run.plan_text.as_deref(),
                            crate::plan::DEFAULT_SUMMARY_LINES,
                        )
                    }),
                state_snapshot: run.state_snapshot.as_ref().map(|p| p.display().to_string()),
                outputs: run
                    .outputs
                    .as_ref()
                    .and_then(serde_json::Value::as_object)
                    .map(|map| {
                        map.iter()
                            .map(|(k, o)| (k.clone(), o.get("value").cloned().unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// What an apply report says besides its stacks.
#[derive(Debug, Clone, Default)]
pub struct ApplyHeader {
    pub pull_request: Option<String>,
    pub commit_sha: Option<String>,
    pub environment: Option<String>,
    pub branch: String,
}

/// Assembles the apply report of a run, stacks in wave order.
pub fn apply_report(
    sel: &Selection,
    stacks: Vec<ApplyStackReport>,
    header: ApplyHeader,
    duration: Duration,
) -> ApplyReport {
    let waves = sel.dag.wave_ids();
    let stacks = in_wave_order(&waves, stacks, |s| &s.id);
    ApplyReport {
        version: 1,
        result: ApplyReport::judge(&stacks),
        pull_request: header.pull_request,
        commit_sha: header.commit_sha,
        environment: header.environment,
        branch: header.branch,
        blocked: Vec::new(),
        waves,
        stacks,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The report of an apply the gate refused: the reasons, no stacks.
pub fn blocked_report(
    header: ApplyHeader,
    reasons: Vec<String>,
    duration: Duration,
) -> ApplyReport {
    ApplyReport {
        version: 1,
        result: ApplyResult::Blocked,
        pull_request: header.pull_request,
        commit_sha: header.commit_sha,
        environment: header.environment,
        branch: header.branch,
        blocked: reasons,
        waves: Vec::new(),
        stacks: Vec::new(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Selection;
    use crate::stack::Stack;

    fn selection() -> Selection {
        Selection::sample(vec![
            Stack::sample("IAM/role", "production", &[]),
            Stack::sample("S3/logs", "production", &["IAM/role"]),
            Stack::sample("S3/site", "production", &["S3/logs"]),
        ])
    }

    fn plan() -> serde_json::Value {
        serde_json::json!({"resource_changes": [
            {"address": "aws_s3_bucket.logs", "change": {"actions": ["create"]}},
        ]})
    }

    #[test]
    fn each_outcome_becomes_its_apply_status_with_the_approved_digest_beside_the_new_one() {
        let mut applied = StackRun::not_started(Outcome::Succeeded);
        applied.plan_json = Some(plan());
        applied.outputs = Some(serde_json::json!({"arn": {"value": "arn:aws:iam::1:role/r"}}));
        let mut refused = StackRun::not_started(Outcome::Rejected("plan changed".into()));
        refused.plan_json = Some(plan());
        let skipped = StackRun::not_started(Outcome::Skipped {
            dependency: "S3/logs".into(),
        });
        let approved = BTreeMap::from([("IAM/role".to_string(), "d1".to_string())]);

        let stacks = judge_apply(&selection(), &[applied, refused, skipped], &approved);

        assert_eq!(stacks[0].status, ApplyStatus::Applied);
        assert_eq!(stacks[0].approved_digest.as_deref(), Some("d1"));
        assert_eq!(stacks[0].plan_digest, Some(crate::plan::digest(&plan())));
        assert_eq!(stacks[0].outputs["arn"], "arn:aws:iam::1:role/r");
        assert_eq!(stacks[0].plan_summary, None);
        // A refused stack shows what it would have done.
        assert_eq!(stacks[1].status, ApplyStatus::NotApplied);
        assert_eq!(stacks[1].error.as_deref(), Some("plan changed"));
        assert!(stacks[1].plan_summary.is_some());
        assert_eq!(stacks[1].approved_digest, None);
        assert_eq!(stacks[2].status, ApplyStatus::Skipped);
        assert_eq!(
            stacks[2].error.as_deref(),
            Some("dependency S3/logs was not applied")
        );
    }

    #[test]
    fn the_apply_report_is_in_wave_order_and_fails_unless_every_stack_applied() {
        let sel = selection();
        let run = |outcome| StackRun::not_started(outcome);
        let mut stacks = judge_apply(
            &sel,
            &[
                run(Outcome::Succeeded),
                run(Outcome::Succeeded),
                run(Outcome::Cancelled),
            ],
            &BTreeMap::new(),
        );
        stacks.reverse();
        let header = ApplyHeader {
            branch: "main".into(),
            ..ApplyHeader::default()
        };
        let report = apply_report(&sel, stacks, header.clone(), Duration::ZERO);
        let ids: Vec<&str> = report.stacks.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["IAM/role", "S3/logs", "S3/site"]);
        assert_eq!(report.result, ApplyResult::Cancelled);
        assert!(report.blocked.is_empty());

        let blocked = blocked_report(header, vec!["no approval".into()], Duration::ZERO);
        assert_eq!(blocked.result, ApplyResult::Blocked);
        assert_eq!(blocked.blocked, ["no approval"]);
        assert!(blocked.stacks.is_empty() && blocked.waves.is_empty());
    }
}
