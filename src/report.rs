//! The run report: what happened to every stack, as data.
//!
//! A policy denial or a failed stack is a value here (exit 1), not an error.
//! Every output format (text, JSON, markdown comment) renders from this type,
//! and its JSON form is the `--format json` contract (`version: 1`).

use serde::{Deserialize, Serialize};

/// Overall verdict of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    /// Every stack planned and no `deny`/`violation`.
    Passed,
    /// Policy violations or a terraform failure.
    Failed,
    /// The run could not be judged (cancelled, or an internal error).
    Error,
}

impl RunResult {
    /// The word the JSON report, markers, outputs and audit events use.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
            RunResult::Error => "error",
        }
    }
}

/// Status of one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StackStatus {
    /// Planned (or applied) and no policy denied it.
    Passed,
    /// Planned, but a policy denied it.
    Failed,
    /// Terraform failed on it.
    Error,
    /// Not run because a dependency failed.
    Skipped,
    /// Stopped or never started because the run was cancelled.
    Cancelled,
}

impl StackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StackStatus::Passed => "passed",
            StackStatus::Failed => "failed",
            StackStatus::Error => "error",
            StackStatus::Skipped => "skipped",
            StackStatus::Cancelled => "cancelled",
        }
    }
}

/// Resource change counts of a plan (`+add ~change -destroy`); a replace
/// counts as one add and one destroy, as terraform's own summary does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub add: u32,
    pub change: u32,
    pub destroy: u32,
}

/// One policy message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    /// Rego package path without `data.` (`main`, `tfctl.s3`).
    pub namespace: String,
    /// `deny`, `violation` or `warn`.
    pub rule: String,
    pub msg: String,
}

/// One `order` rule between two groups of the run's stacks: every stack
/// of `before` finishes before any stack of `after` starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEdge {
    /// `order: IAM,KMS before S3` (`(reversed for destroys)` when it is).
    pub rule: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// What happened to one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackReport {
    pub id: String,
    pub service: String,
    pub name: String,
    pub environment: String,
    /// `plan` or `destroy`.
    pub action: String,
    pub status: StackStatus,
    pub changes: Changes,
    pub violations: Vec<Violation>,
    pub warnings: Vec<Violation>,
    /// Why terraform failed, why the stack was skipped or cancelled.
    pub error: Option<String>,
    /// The changed paths that put the stack in the run (`Stack::reasons`).
    #[serde(default)]
    pub reasons: Vec<String>,
    pub duration_ms: u64,
    /// Canonical digest of the plan (see `plan::digest`), when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
    /// Human-readable plan text with sensitive values redacted, for the
    /// collapsed `<details>` of the PR comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_summary: Option<String>,
    /// Resources the plan deletes or replaces: `address (delete|replace)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destroys: Vec<String>,
    /// The last lines terraform printed when it failed on this stack (no
    /// ANSI, never state or outputs): what to read first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
    /// Where tfctl kept everything terraform printed for this stack (a
    /// path on the machine that ran it), named when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// Terraform's own `Warning:` diagnostics, `summary (on file line N)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terraform_warnings: Vec<String>,
    /// What the plan was made from, so a later push can carry the result
    /// when none of it changed (docs/DESIGN.md §3, "Re-validation").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<InputsRecord>,
    /// Why this stack may not change here yet: its root module tree was
    /// never applied in the environment it is promoted from (its own
    /// failure, not a policy violation; an `OVERRIDE:` may waive it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<String>,
}

/// The inputs of one stack's plan, and whether its result was carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputsRecord {
    /// SHA-256 over everything terraform receives for the stack but its
    /// state: tfvars and companions, the root module tree and provider
    /// lock file, the stack's settings in tfctl.yaml.
    pub digest: String,
    /// The state it was planned against: `<lineage>:<serial>`, or `empty`.
    pub state: String,
    /// The head commit of the validation this result was carried from; the
    /// stack was not planned again (nothing it reads changed since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<String>,
}

/// The whole run: the `--format json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    pub result: RunResult,
    /// The single environment of the run, or `null` when stacks span several.
    pub environment: Option<String>,
    /// Topological layers of stack ids, for people; execution is eager.
    pub waves: Vec<Vec<String>>,
    /// Stacks in the order they appear in `waves`.
    pub stacks: Vec<StackReport>,
    /// Direct dependency edges `(from, to)`: `to` runs after `from`.
    #[serde(default)]
    pub edges: Vec<(String, String)>,
    /// Order rules, each once with the stacks on either side (never
    /// expanded into pairs, so the report stays linear in stacks).
    #[serde(default)]
    pub order: Vec<OrderEdge>,
    /// Stacks another open PR has locked (`locks.mode: validate`): this PR
    /// is validated but may not merge until they are released.
    #[serde(default)]
    pub locks: Vec<crate::locks::StackLock>,
    pub duration_ms: u64,
}

impl RunReport {
    /// The verdict implied by the stacks: error beats failed beats passed.
    pub fn judge(stacks: &[StackReport]) -> RunResult {
        if stacks.iter().any(|s| s.status == StackStatus::Cancelled) {
            RunResult::Error
        } else if stacks.iter().all(|s| s.status == StackStatus::Passed) {
            RunResult::Passed
        } else {
            RunResult::Failed
        }
    }

    /// Every distinct environment, sorted.
    pub fn environments(&self) -> Vec<&str> {
        let mut envs: Vec<&str> = self.stacks.iter().map(|s| s.environment.as_str()).collect();
        envs.sort_unstable();
        envs.dedup();
        envs
    }
}

/// How an apply ended (`tfctl apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyResult {
    /// Every stack applied (or there was nothing to apply).
    Applied,
    /// The apply gate refused: nothing ran, state untouched.
    Blocked,
    /// At least one stack failed, was skipped or was not applied.
    Failed,
    /// SIGINT/SIGTERM stopped the run.
    Cancelled,
}

impl ApplyResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyResult::Applied => "applied",
            ApplyResult::Blocked => "blocked",
            ApplyResult::Failed => "failed",
            ApplyResult::Cancelled => "cancelled",
        }
    }
}

/// What happened to one stack in an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyStatus {
    /// The approved plan was applied.
    Applied,
    /// Terraform failed (plan or apply); see `error`.
    Failed,
    /// Not run: a stack it depends on failed or was not applied.
    Skipped,
    /// Refused before applying: its plan changed since approval, or it was
    /// never approved; see `error`.
    NotApplied,
    /// Stopped, or never started, because the run was cancelled.
    Cancelled,
}

impl ApplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyStatus::Applied => "applied",
            ApplyStatus::Failed => "failed",
            ApplyStatus::Skipped => "skipped",
            ApplyStatus::NotApplied => "not_applied",
            ApplyStatus::Cancelled => "cancelled",
        }
    }
}

/// One stack of an apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyStackReport {
    pub id: String,
    pub environment: String,
    /// `plan` or `destroy`.
    pub action: String,
    pub status: ApplyStatus,
    /// Change counts of the re-plan, when one was made.
    pub changes: Option<Changes>,
    /// Why it failed, was skipped, not applied or cancelled.
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Digest of the re-plan and the one the validation approved.
    pub plan_digest: Option<String>,
    pub approved_digest: Option<String>,
    /// The re-plan, redacted, for a stack whose plan changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_summary: Option<String>,
    /// Where the state was saved (`terraform state pull`) before applying.
    pub state_snapshot: Option<String>,
    /// Non-sensitive outputs after the apply, name → value.
    pub outputs: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The whole apply: what the PR comment, the job summary and the terminal
/// show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub version: u32,
    pub result: ApplyResult,
    /// `owner/repo#number`, when the PR is known.
    pub pull_request: Option<String>,
    /// The commit applied (or that would have been).
    pub commit_sha: Option<String>,
    pub environment: Option<String>,
    /// The branch applied from.
    pub branch: String,
    /// Every reason the gate refused (empty unless `blocked`).
    pub blocked: Vec<String>,
    pub waves: Vec<Vec<String>>,
    /// Stacks in wave order.
    pub stacks: Vec<ApplyStackReport>,
    pub duration_ms: u64,
}

impl ApplyReport {
    /// The verdict implied by the stacks: cancelled beats failed beats
    /// applied.
    pub fn judge(stacks: &[ApplyStackReport]) -> ApplyResult {
        if stacks.iter().any(|s| s.status == ApplyStatus::Cancelled) {
            ApplyResult::Cancelled
        } else if stacks.iter().all(|s| s.status == ApplyStatus::Applied) {
            ApplyResult::Applied
        } else {
            ApplyResult::Failed
        }
    }

    /// Stack ids with `status`, in report order.
    pub fn ids_with(&self, status: ApplyStatus) -> Vec<&str> {
        self.stacks
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.id.as_str())
            .collect()
    }
}

#[cfg(test)]
impl StackReport {
    /// A `plan` stack with no changes or messages, for unit tests.
    pub(crate) fn sample(id: &str, environment: &str, status: StackStatus) -> StackReport {
        StackReport {
            id: id.into(),
            service: id.split('/').next().unwrap_or_default().into(),
            name: id.rsplit('/').next().unwrap_or_default().into(),
            environment: environment.into(),
            action: "plan".into(),
            status,
            changes: Changes::default(),
            violations: vec![],
            warnings: vec![],
            error: None,
            reasons: vec![],
            duration_ms: 0,
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
}

#[cfg(test)]
impl RunReport {
    /// A judged one-wave report of `stacks`, for unit tests.
    pub(crate) fn sample(stacks: Vec<StackReport>, duration_ms: u64) -> RunReport {
        RunReport {
            version: 1,
            result: RunReport::judge(&stacks),
            environment: None,
            waves: vec![stacks.iter().map(|s| s.id.clone()).collect()],
            stacks,
            edges: vec![],
            order: vec![],
            duration_ms,
            locks: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: StackStatus) -> StackReport {
        StackReport::sample("S3/a", "dev", status)
    }

    #[test]
    fn judge_is_passed_only_when_every_stack_passed() {
        assert_eq!(
            RunReport::judge(&[stack(StackStatus::Passed)]),
            RunResult::Passed
        );
        assert_eq!(
            RunReport::judge(&[stack(StackStatus::Passed), stack(StackStatus::Skipped)]),
            RunResult::Failed
        );
        assert_eq!(
            RunReport::judge(&[stack(StackStatus::Cancelled)]),
            RunResult::Error
        );
    }
}
