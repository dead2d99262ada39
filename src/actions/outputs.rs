//! Every step output a tfctl command writes to `$GITHUB_OUTPUT`, in one
//! list: `action.yml` declares exactly these (`tests/integration/ship_action.rs`
//! checks both ways), and writing a name not listed here is a bug that
//! debug builds, and so the tests, refuse.

/// (name, which commands write it and what it holds), as `action.yml`
/// describes it.
pub const STEP_OUTPUTS: &[(&str, &str)] = &[
    ("result", "validate, apply: `passed`, `failed` or `error`."),
    ("environment", "validate, apply, merge: the environment of the stacks."),
    ("target-branch", "validate: the branch that environment merges into."),
    (
        "stacks",
        "validate: JSON array of `{id, environment, action, status, changes}`; dispatch: the stack ids, space-separated.",
    ),
    ("drifted", "drift: how many stacks drifted."),
    ("severity", "drift: the run's drift severity (`low`, `medium`, `high`; empty without drift)."),
    ("issue", "drift: number of the open drift issue, if any."),
    ("merged", "merge: `true` when the PR was merged."),
    ("branch", "merge: the environment branch merged into."),
    ("merge_commit_sha", "merge: the merge commit."),
    ("applied", "apply: stack ids applied, comma-separated."),
    ("failed", "apply: stack ids whose apply failed, comma-separated."),
    ("skipped", "apply: stack ids skipped because a dependency failed, comma-separated."),
    ("not-applied", "apply: stack ids refused by the apply gate, comma-separated."),
    ("cancelled", "apply: stack ids cancelled, comma-separated."),
    ("snapshots", "apply: JSON object, stack id → state snapshot taken before its apply."),
    ("outputs", "apply: JSON object, stack id → its non-sensitive terraform outputs."),
    ("pr_number", "dispatch: the pull request validated or opened."),
    ("pr_created", "dispatch: `true` when this push opened the pull request."),
    ("dispatched", "dispatch: the `repository_dispatch` event type sent (empty: none)."),
];

/// Whether `name` is one of [`STEP_OUTPUTS`].
pub fn declared(name: &str) -> bool {
    STEP_OUTPUTS.iter().any(|(n, _)| *n == name)
}
