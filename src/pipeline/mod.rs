//! The shared middle of `validate` and `apply`: the stacks of a selection →
//! terraform jobs → runs (delegated to `runner`) → a judged
//! [`RunReport`](crate::report::RunReport) (validate) or
//! [`ApplyReport`](crate::report::ApplyReport) (apply) → the attestation a
//! validation publishes.
//!
//! One file per step. Only [`jobs`] and [`pr_files`] touch the disk (var
//! files, module trees, git); the others are pure decisions.

pub mod apply_report;
pub mod attestation;
pub mod jobs;
pub mod judge;
pub mod pr_files;
pub mod shards;

pub use apply_report::{apply_report, blocked_report, judge_apply, ApplyHeader};
pub use attestation::{
    seal_digest, validation_marker, violation_id, violation_records, ValidationContext,
    PROMOTION_RULE,
};
pub use jobs::{build_jobs, input_digests, log_dir, run_options, work_dir};
pub use judge::{empty_report, judge, observe, report, JudgeContext};
pub use pr_files::{
    pr_changed_files, pr_changes, pr_file_list_is_complete, PrCommits, PrFiles, PR_FILES_LIMIT,
};
pub use shards::{merge_shards, Shard};
