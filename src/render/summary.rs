//! The job summary (`$GITHUB_STEP_SUMMARY`): the comment body without the
//! marker. GitHub allows 1 MiB per step summary, so the body is kept whole
//! unless it exceeds that. Must not: carry a marker (nothing reads it back
//! from a job summary, and a copy there could be mistaken for the real one).

use crate::report::RunReport;

use super::markdown::{comment, CommentContext};
use super::split::fit;

/// GitHub's limit on one step's summary, in bytes.
pub const JOB_SUMMARY_LIMIT: usize = 1024 * 1024;

/// The job summary markdown for `report`.
pub fn job_summary(report: &RunReport, ctx: &CommentContext) -> String {
    let ctx = CommentContext {
        marker: None,
        ..ctx.clone()
    };
    // `fit` counts characters and GitHub bytes here: a character is at most
    // 4 bytes, so a quarter of the limit in characters is always safe.
    fit(
        &comment(report, &ctx),
        JOB_SUMMARY_LIMIT / 4,
        "Output truncated: the job summary is limited to 1 MiB.",
    )
}
