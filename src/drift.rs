//! Drift (docs/DESIGN.md §2 `tfctl drift`): which stacks' real infrastructure no
//! longer matches their code, how bad that is, and what to do with the one
//! open drift issue.
//!
//! Owns: the severity rules ([`severity`], [`is_production`]), the drift
//! report built from a plan-only [`RunReport`] ([`DriftReport::assess`]),
//! and the issue decision ([`issue_plan`]).
//! Must not: do IO, run terraform, or render text (that is
//! `render::drift`).
//!
//! Severity of one drifted stack, from its plan's change counts (a replace
//! counts as one add and one destroy, so it is a destroy here):
//!
//! | stack | destroys or replaces | only adds or changes |
//! |---|---|---|
//! | production | `high` | `medium` |
//! | any other | `medium` | `low` |
//!
//! The run's severity is the highest of its stacks'. A stack with no
//! changes has not drifted.

use serde::{Deserialize, Serialize};

use crate::report::{Changes, RunReport, StackStatus};

/// How bad a drift is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// The severity of a stack whose plan shows `changes` (see the table in
/// the module docs); `None` when nothing would change.
pub fn severity(production: bool, changes: &Changes) -> Option<Severity> {
    let destroys = changes.destroy > 0;
    if !destroys && changes.add == 0 && changes.change == 0 {
        return None;
    }
    Some(match (production, destroys) {
        (true, true) => Severity::High,
        (true, false) | (false, true) => Severity::Medium,
        (false, false) => Severity::Low,
    })
}

/// An environment is production when it is named `production` or `prod`,
/// or its changes merge into a branch so named (case-insensitive).
pub fn is_production(environment: &str, branch: &str) -> bool {
    [environment, branch]
        .iter()
        .any(|n| n.eq_ignore_ascii_case("production") || n.eq_ignore_ascii_case("prod"))
}

/// A stack whose plan shows changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftedStack {
    pub id: String,
    pub environment: String,
    pub severity: Severity,
    pub changes: Changes,
    /// The redacted plan text (`plan::summary`), to show what drifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_summary: Option<String>,
}

/// A stack whose drift is unknown: terraform failed on it, or a dependency
/// did, or the run was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncheckedStack {
    pub id: String,
    pub environment: String,
    pub status: StackStatus,
    pub reason: String,
}

/// The drift of a run: the `tfctl drift --format json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub version: u32,
    /// The highest severity of the drifted stacks; `null` with no drift.
    pub severity: Option<Severity>,
    /// Stacks planned (all of them, drifted or not).
    pub checked: usize,
    /// Drifted stacks, highest severity first, then by id.
    pub drifted: Vec<DriftedStack>,
    /// Stacks whose drift is unknown, by id.
    pub unchecked: Vec<UncheckedStack>,
    pub duration_ms: u64,
}

impl DriftReport {
    /// Drift of a plan-only run (`pipeline::observe`: planned stacks are
    /// `passed`). `production` tells whether an environment is production.
    pub fn assess(report: &RunReport, production: impl Fn(&str) -> bool) -> DriftReport {
        let mut drifted = Vec::new();
        let mut unchecked = Vec::new();
        for s in &report.stacks {
            if s.status != StackStatus::Passed {
                unchecked.push(UncheckedStack {
                    id: s.id.clone(),
                    environment: s.environment.clone(),
                    status: s.status,
                    reason: s.error.clone().unwrap_or_else(|| s.status.as_str().into()),
                });
            } else if let Some(severity) = severity(production(&s.environment), &s.changes) {
                drifted.push(DriftedStack {
                    id: s.id.clone(),
                    environment: s.environment.clone(),
                    severity,
                    changes: s.changes,
                    plan_summary: s.plan_summary.clone(),
                });
            }
        }
        drifted.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        unchecked.sort_by(|a, b| a.id.cmp(&b.id));
        DriftReport {
            version: 1,
            severity: drifted.iter().map(|d| d.severity).max(),
            checked: report.stacks.len(),
            drifted,
            unchecked,
            duration_ms: report.duration_ms,
        }
    }

    /// Every stack planned and none drifted.
    pub fn is_clean(&self) -> bool {
        self.drifted.is_empty() && self.unchecked.is_empty()
    }

    /// Some stack was cancelled: the run proves nothing either way.
    pub fn was_cancelled(&self) -> bool {
        self.unchecked
            .iter()
            .any(|u| u.status == StackStatus::Cancelled)
    }
}

/// What to do with the open drift issues tfctl wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuePlan {
    /// Nothing open and nothing to report.
    Nothing,
    /// Open a new issue.
    Create,
    /// Rewrite `number` (the oldest open one); close `duplicates` (left by
    /// a run whose create answer was lost).
    Update { number: u64, duplicates: Vec<u64> },
    /// Drift is gone: comment on and close these.
    Resolve { numbers: Vec<u64> },
}

/// The issue decision: one open issue while there is something to report
/// (drift, or stacks whose drift is unknown), none once every stack is
/// clean. `open` are the numbers of tfctl's open drift issues.
pub fn issue_plan(open: &[u64], clean: bool) -> IssuePlan {
    let mut open = open.to_vec();
    open.sort_unstable();
    open.dedup();
    match (open.split_first(), clean) {
        (None, true) => IssuePlan::Nothing,
        (None, false) => IssuePlan::Create,
        (Some(_), true) => IssuePlan::Resolve { numbers: open },
        (Some((&first, rest)), false) => IssuePlan::Update {
            number: first,
            duplicates: rest.to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::StackReport;

    fn c(add: u32, change: u32, destroy: u32) -> Changes {
        Changes {
            add,
            change,
            destroy,
        }
    }

    #[test]
    fn severity_follows_the_table() {
        assert_eq!(severity(true, &c(0, 0, 0)), None);
        assert_eq!(severity(false, &c(0, 0, 0)), None);
        // Production: a destroy or a replace (add + destroy) is high.
        assert_eq!(severity(true, &c(0, 0, 1)), Some(Severity::High));
        assert_eq!(severity(true, &c(1, 0, 1)), Some(Severity::High));
        // Production adds or in-place changes are medium.
        assert_eq!(severity(true, &c(0, 3, 0)), Some(Severity::Medium));
        assert_eq!(severity(true, &c(1, 0, 0)), Some(Severity::Medium));
        // Elsewhere a destroy is medium, anything else low.
        assert_eq!(severity(false, &c(0, 0, 2)), Some(Severity::Medium));
        assert_eq!(severity(false, &c(2, 5, 0)), Some(Severity::Low));
        assert!(Severity::High > Severity::Medium && Severity::Medium > Severity::Low);
    }

    #[test]
    fn production_is_by_name_or_branch() {
        assert!(is_production("production", "prod"));
        assert!(is_production("Prod", "main"));
        assert!(is_production("live", "prod"));
        assert!(!is_production("development", "dev"));
        assert!(!is_production("staging", "main"));
    }

    fn stack(id: &str, env: &str, status: StackStatus, changes: Changes) -> StackReport {
        let mut s = StackReport::sample(id, env, status);
        s.changes = changes;
        s.error = (status != StackStatus::Passed).then(|| "exit status 1".to_string());
        s.plan_summary = Some(format!("{id} plan"));
        s
    }

    fn run(stacks: Vec<StackReport>) -> RunReport {
        RunReport::sample(stacks, 42)
    }

    #[test]
    fn assess_orders_by_severity_then_id_and_keeps_unknowns_apart() {
        let report = run(vec![
            stack("S3/a", "development", StackStatus::Passed, c(1, 0, 0)),
            stack("IAM/b", "production", StackStatus::Passed, c(0, 1, 0)),
            stack("KMS/c", "production", StackStatus::Passed, c(1, 0, 1)),
            stack("S3/d", "production", StackStatus::Passed, c(0, 0, 0)),
            stack("S3/e", "production", StackStatus::Error, c(0, 0, 0)),
        ]);
        let d = DriftReport::assess(&report, |env| is_production(env, ""));
        let got: Vec<(&str, Severity)> = d
            .drifted
            .iter()
            .map(|s| (s.id.as_str(), s.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("KMS/c", Severity::High),
                ("IAM/b", Severity::Medium),
                ("S3/a", Severity::Low)
            ]
        );
        assert_eq!(d.severity, Some(Severity::High));
        assert_eq!(d.checked, 5);
        assert_eq!(d.unchecked.len(), 1);
        assert_eq!(d.unchecked[0].reason, "exit status 1");
        assert!(!d.is_clean() && !d.was_cancelled());
        assert_eq!(d.duration_ms, 42);
    }

    #[test]
    fn no_changes_is_clean() {
        let report = run(vec![stack(
            "S3/d",
            "production",
            StackStatus::Passed,
            c(0, 0, 0),
        )]);
        let d = DriftReport::assess(&report, |_| true);
        assert!(d.is_clean());
        assert_eq!(d.severity, None);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["severity"], serde_json::Value::Null);
        assert_eq!(json["version"], 1);
    }

    #[test]
    fn one_issue_is_kept_open_while_there_is_something_to_report() {
        assert_eq!(issue_plan(&[], true), IssuePlan::Nothing);
        assert_eq!(issue_plan(&[], false), IssuePlan::Create);
        assert_eq!(
            issue_plan(&[9, 4, 7], false),
            IssuePlan::Update {
                number: 4,
                duplicates: vec![7, 9]
            }
        );
        assert_eq!(
            issue_plan(&[9, 4], true),
            IssuePlan::Resolve {
                numbers: vec![4, 9]
            }
        );
    }
}
