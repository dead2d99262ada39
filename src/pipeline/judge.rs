//! Validate's runs → stack reports → the run report: what each plan
//! changes, its policy verdict, and the dependencies a deletion breaks.
//! Pure (the policy engine evaluates in-process).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Error;
use crate::policy::{PolicyContext, PolicyEngine};
use crate::report::{Changes, RunReport, StackReport, StackStatus};
use crate::runner::{Outcome, StackRun};
use crate::select::Selection;
use crate::stack::Stack;

/// What the policy evaluation of a run needs besides the plans.
pub struct JudgeContext<'a> {
    pub engine: &'a PolicyEngine,
    pub changed_files: &'a [String],
    pub pr_author: Option<&'a str>,
}

/// Turns runs into stack reports: counts, plan summary, digest, policy
/// verdict. A Rego runtime error is an input error (the policy is wrong).
/// Each plan is given up to the policy engine once observed (`runs` keep
/// everything else): a plan of 10,000 changes is tens of MB as a tree.
pub fn judge(
    sel: &Selection,
    runs: &mut [StackRun],
    ctx: &JudgeContext<'_>,
) -> Result<Vec<StackReport>, Error> {
    let stacks = &sel.dag.stacks;
    let mut environments: Vec<String> = stacks.iter().map(|s| s.environment.clone()).collect();
    environments.sort();
    environments.dedup();

    let mut reports = observe(sel, runs);
    for ((report, stack), run) in reports.iter_mut().zip(stacks).zip(runs) {
        // `observe` marks exactly the stacks with a plan as passed.
        let (StackStatus::Passed, Some(plan)) = (report.status, run.plan_json.take()) else {
            continue;
        };
        let verdict = ctx.engine.evaluate_owned(
            plan,
            &PolicyContext {
                stack_id: stack.id.clone(),
                service: stack.service.clone(),
                name: stack.name.clone(),
                environment: stack.environment.clone(),
                changed_files: ctx.changed_files.to_vec(),
                pr_author: ctx.pr_author.map(str::to_string),
                environments_in_change: environments.clone(),
            },
        )?;
        if !verdict.violations.is_empty() {
            report.status = StackStatus::Failed;
        }
        report.violations = verdict.violations;
        report.warnings = verdict.warnings;
    }
    for report in &mut reports {
        if let Some(dependents) = sel.broken_dependencies.get(&report.id) {
            report.violations.push(broken_dependency(dependents));
            if report.status == StackStatus::Passed {
                report.status = StackStatus::Failed;
            }
        }
    }
    Ok(reports)
}

/// docs/DESIGN.md §3: a deleted stack that others still depend on would
/// leave the graph broken for every later run (`graph --all`, `drift`).
fn broken_dependency(dependents: &[String]) -> crate::report::Violation {
    crate::report::Violation {
        namespace: "tfctl.graph".into(),
        rule: "deny".into(),
        msg: format!(
            "deleted, but {} still depend{} on it (depends_on, or a value naming it): \
             change {} first",
            dependents.join(", "),
            if dependents.len() == 1 { "s" } else { "" },
            if dependents.len() == 1 { "it" } else { "them" }
        ),
    }
}

/// Turns runs into stack reports without policy: counts, plan summary and
/// digest for every stack that planned (status `passed`), the reason for
/// every other. What `drift` needs, and the first half of [`judge`].
pub fn observe(sel: &Selection, runs: &[StackRun]) -> Vec<StackReport> {
    let mut reports = Vec::with_capacity(sel.dag.stacks.len());
    for (stack, run) in sel.dag.stacks.iter().zip(runs) {
        let mut report = empty_report(stack, run.duration);
        match (&run.outcome, &run.plan_json) {
            (Outcome::Succeeded, Some(plan)) => {
                report.changes = crate::plan::changes(plan);
                report.plan_summary = Some(crate::plan::summary_from(
                    plan,
                    run.plan_text.as_deref(),
                    crate::plan::DEFAULT_SUMMARY_LINES,
                ));
                report.plan_digest = Some(crate::plan::digest(plan));
                report.destroys = crate::plan::destroyed(plan)
                    .into_iter()
                    .map(|(address, word)| format!("{address} ({word})"))
                    .collect();
                report.status = StackStatus::Passed;
            }
            (Outcome::Succeeded, None) => {
                report.status = StackStatus::Error;
                report.error = Some("terraform produced no plan".into());
            }
            (Outcome::Failed(why) | Outcome::Rejected(why), _) => {
                report.status = StackStatus::Error;
                report.error = Some(why.clone());
                report.log_tail = Some(run.log_tail.clone()).filter(|t| !t.trim().is_empty());
                report.log_file = run.log_file.as_ref().map(|f| f.display().to_string());
            }
            (Outcome::Skipped { dependency }, _) => {
                report.status = StackStatus::Skipped;
                report.error = Some(format!("dependency {dependency} failed"));
            }
            (Outcome::Cancelled, _) => {
                report.status = StackStatus::Cancelled;
                report.error = Some("cancelled".into());
            }
        }
        report
            .terraform_warnings
            .clone_from(&run.terraform_warnings);
        reports.push(report);
    }
    reports
}

/// A report for `stack` before anything is known about its run.
pub fn empty_report(stack: &Stack, duration: Duration) -> StackReport {
    StackReport {
        id: stack.id.clone(),
        service: stack.service.clone(),
        name: stack.name.clone(),
        environment: stack.environment.clone(),
        action: stack.action.as_str().to_string(),
        status: StackStatus::Skipped,
        changes: Changes::default(),
        violations: Vec::new(),
        warnings: Vec::new(),
        error: None,
        reasons: stack.reasons.clone(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        plan_digest: None,
        plan_summary: None,
        destroys: Vec::new(),
        log_tail: None,
        log_file: None,
        terraform_warnings: Vec::new(),
        inputs: None,
        promotion: None,
    }
}

/// Assembles the run report, stacks ordered as in the waves.
pub fn report(sel: &Selection, stacks: Vec<StackReport>, duration: Duration) -> RunReport {
    let waves = sel.dag.wave_ids();
    let mut ordered = in_wave_order(&waves, stacks, |s| &s.id);
    // The run's own reasons, also for a matrix shard's stacks.
    let reasons: BTreeMap<&str, &Vec<String>> = sel
        .dag
        .stacks
        .iter()
        .map(|s| (s.id.as_str(), &s.reasons))
        .collect();
    for s in &mut ordered {
        if let Some(r) = reasons.get(s.id.as_str()) {
            s.reasons.clone_from(r);
        }
    }
    let mut envs: Vec<&str> = ordered.iter().map(|s| s.environment.as_str()).collect();
    envs.sort_unstable();
    envs.dedup();
    RunReport {
        version: 1,
        result: RunReport::judge(&ordered),
        environment: (envs.len() == 1).then(|| envs[0].to_string()),
        waves,
        edges: sel.dag.direct_edges(),
        order: sel.dag.order_edges(),
        stacks: ordered,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        locks: Vec::new(),
    }
}

/// `items` ordered as their ids appear in `waves`.
pub(super) fn in_wave_order<T>(
    waves: &[Vec<String>],
    items: Vec<T>,
    id: impl Fn(&T) -> &String,
) -> Vec<T> {
    let mut by_id: BTreeMap<String, T> = items.into_iter().map(|s| (id(&s).clone(), s)).collect();
    waves
        .iter()
        .flatten()
        .filter_map(|id| by_id.remove(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RunResult;

    /// A plan that creates one bucket and replaces one key.
    fn plan() -> serde_json::Value {
        serde_json::json!({"resource_changes": [
            {"address": "aws_s3_bucket.logs", "change": {"actions": ["create"]}},
            {"address": "aws_kms_key.k", "change": {"actions": ["delete", "create"]}},
        ]})
    }

    fn planned() -> StackRun {
        let mut run = StackRun::not_started(Outcome::Succeeded);
        run.plan_json = Some(plan());
        run
    }

    fn selection() -> Selection {
        Selection::sample(vec![
            Stack::sample("IAM/role", "production", &[]),
            Stack::sample("S3/logs", "production", &["IAM/role"]),
        ])
    }

    #[test]
    fn a_stack_with_a_plan_is_passed_with_its_counts_digest_and_destroys() {
        let sel = Selection::sample(vec![Stack::sample("S3/logs", "production", &[])]);
        let [report] = observe(&sel, &[planned()]).try_into().unwrap();
        assert_eq!(report.status, StackStatus::Passed);
        assert_eq!((report.changes.add, report.changes.destroy), (2, 1));
        assert_eq!(report.plan_digest, Some(crate::plan::digest(&plan())));
        assert_eq!(report.destroys, ["aws_kms_key.k (replace)"]);
        assert_eq!(report.error, None);
    }

    #[test]
    fn every_other_outcome_says_why_the_stack_has_no_verdict() {
        let mut failed = StackRun::not_started(Outcome::Failed("plan failed".into()));
        failed.log_tail = "Error: no credentials\n".into();
        let cases = [
            (
                StackRun::not_started(Outcome::Succeeded),
                StackStatus::Error,
                "terraform produced no plan",
            ),
            (failed, StackStatus::Error, "plan failed"),
            (
                StackRun::not_started(Outcome::Skipped {
                    dependency: "IAM/role".into(),
                }),
                StackStatus::Skipped,
                "dependency IAM/role failed",
            ),
            (
                StackRun::not_started(Outcome::Cancelled),
                StackStatus::Cancelled,
                "cancelled",
            ),
        ];
        for (run, status, why) in cases {
            let sel = Selection::sample(vec![Stack::sample("S3/logs", "production", &[])]);
            let [report] = observe(&sel, &[run]).try_into().unwrap();
            assert_eq!(report.status, status, "{why}");
            assert_eq!(report.error.as_deref(), Some(why));
            assert_eq!(report.plan_digest, None, "{why}");
        }
        // Only a failure keeps terraform's last lines, and only when there are some.
        let sel = Selection::sample(vec![Stack::sample("S3/logs", "production", &[])]);
        let blank = StackRun {
            log_tail: " \n".into(),
            ..StackRun::not_started(Outcome::Failed("init failed".into()))
        };
        assert_eq!(observe(&sel, &[blank])[0].log_tail, None);
    }

    #[test]
    fn the_run_report_orders_stacks_by_wave_and_keeps_the_runs_reasons() {
        let mut sel = selection();
        sel.dag.stacks[1].reasons = vec!["S3/logs/logs.tfvars".into()];
        // As a matrix shard returns them: in another order, its own reasons.
        let mut shard_logs = StackReport::sample("S3/logs", "production", StackStatus::Passed);
        shard_logs.reasons = vec!["stale".into()];
        let role = StackReport::sample("IAM/role", "production", StackStatus::Passed);
        let run = report(&sel, vec![shard_logs, role], Duration::from_millis(1500));
        let ids: Vec<&str> = run.stacks.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["IAM/role", "S3/logs"]);
        assert_eq!(run.stacks[1].reasons, ["S3/logs/logs.tfvars"]);
        assert_eq!(run.edges, [("IAM/role".into(), "S3/logs".into())]);
        assert_eq!(run.environment.as_deref(), Some("production"));
        assert_eq!((run.result, run.duration_ms), (RunResult::Passed, 1500));
    }

    #[test]
    fn a_run_across_environments_names_none_and_one_failure_fails_it() {
        let sel = Selection::sample(vec![
            Stack::sample("S3/a", "production", &[]),
            Stack::sample("S3/b", "staging", &[]),
        ]);
        let run = report(
            &sel,
            vec![
                StackReport::sample("S3/a", "production", StackStatus::Passed),
                StackReport::sample("S3/b", "staging", StackStatus::Error),
            ],
            Duration::ZERO,
        );
        assert_eq!(run.environment, None);
        assert_eq!(run.result, RunResult::Failed);
    }

    fn engine(dir: &std::path::Path) -> PolicyEngine {
        std::fs::write(
            dir.join("main.rego"),
            "package main\nimport rego.v1\n\
             deny contains msg if {\n  some rc in input.resource_changes\n  \
             \"delete\" in rc.change.actions\n  msg := sprintf(\"%s is replaced\", [rc.address])\n}\n",
        )
        .unwrap();
        PolicyEngine::load(&[dir.to_path_buf()], &[], &["main".into()]).unwrap()
    }

    #[test]
    fn a_denied_plan_fails_its_stack_and_a_broken_dependency_fails_a_passed_one() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let ctx = JudgeContext {
            engine: &engine,
            changed_files: &[],
            pr_author: None,
        };
        let mut sel = selection();
        sel.broken_dependencies
            .insert("IAM/role".into(), vec!["S3/logs".into()]);
        let mut quiet = planned();
        quiet.plan_json = Some(serde_json::json!({"resource_changes": []}));
        let mut runs = [quiet, planned()];
        let reports = judge(&sel, &mut runs, &ctx).unwrap();

        assert_eq!(reports[0].status, StackStatus::Failed);
        assert_eq!(reports[0].violations[0].namespace, "tfctl.graph");
        assert!(
            reports[0].violations[0]
                .msg
                .contains("S3/logs still depends on it"),
            "{:?}",
            reports[0].violations
        );
        assert_eq!(reports[1].status, StackStatus::Failed);
        assert_eq!(reports[1].violations[0].msg, "aws_kms_key.k is replaced");
        // Each plan went to the engine, not kept twice.
        assert!(runs.iter().all(|r| r.plan_json.is_none()));
    }
}
