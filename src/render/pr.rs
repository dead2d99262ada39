//! The texts tfctl writes on a pull request besides the validation
//! comment: the title and body of a PR it opens for a push, and the sticky
//! merge comment (pure).

use std::fmt::Write;

use crate::discovery::StackRef;
use crate::github::models::CommitSummary;
use crate::render::marker::MergeMarker;

use super::{inline, short};

/// PR title: the subject of the branch's first commit, else the branch.
pub fn pr_title(commits: &[CommitSummary], branch: &str) -> String {
    commits
        .first()
        .and_then(|c| c.commit.message.lines().next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("tfctl: changes from {branch}"), str::to_string)
}

/// PR body: what tfctl will validate, and the commits.
pub fn pr_body(branch: &str, stacks: &[StackRef], commits: &[CommitSummary]) -> String {
    let mut out = format!(
        "Opened by tfctl for the push to `{}`.\n\n### Stacks\n\n",
        code(branch)
    );
    for s in stacks {
        let _ = writeln!(
            out,
            "- `{}` ({}, `{}`)",
            code(&s.id),
            s.action.as_str(),
            code(&s.tfvars)
        );
    }
    if !commits.is_empty() {
        out.push_str("\n### Commits\n\n");
        for c in commits {
            let subject = c.commit.message.lines().next().unwrap_or_default();
            let _ = writeln!(out, "- `{}` {}", super::short(&c.sha), inline(subject));
        }
    }
    out.push_str(
        "\nValidation is requested from the controller; approve to merge into the stacks' environment branch.\n",
    );
    out
}

/// The sticky merge comment: the decision, its reasons (the latest event),
/// and every merge decision of the PR in a collapsed audit block.
pub fn merge_comment(m: &MergeMarker, rendered_marker: &str, run_url: Option<&str>) -> String {
    let mut out = format!("{rendered_marker}\n");
    let last = m.history.last();
    if m.outcome == "merged" {
        let branch = m.branch.as_deref().unwrap_or_default();
        let _ = writeln!(out, "### ✅ tfctl merge: merged into `{}`\n", code(branch));
        if let (Some(env), Some(sha)) = (&m.environment, &m.merge_commit_sha) {
            let _ = writeln!(
                out,
                "`{}` (environment `{}`) is merged into `{}` as `{}`.\n",
                short(&m.head_sha),
                code(env),
                code(branch),
                short(sha)
            );
        }
    } else {
        out.push_str("### ⛔ tfctl merge: blocked\n\n");
        let _ = writeln!(out, "`{}` cannot be merged yet:\n", short(&m.head_sha));
    }
    if let Some(e) = last {
        for r in &e.reasons {
            let _ = writeln!(out, "- {}", inline(r));
        }
        if !e.violations_overridden.is_empty() {
            out.push_str("\nPolicy violations overridden:\n\n");
            for v in &e.violations_overridden {
                let _ = writeln!(out, "- {}", inline(v));
            }
        }
    }
    out.push('\n');
    out.push_str(&super::audit::trail(&m.history));
    let mut footer = vec![
        "tfctl".to_string(),
        format!("head `{}`", short(&m.head_sha)),
    ];
    if let Some(url) = run_url {
        footer.push(format!(
            "[workflow run]({})",
            url.replace(['(', ')', ' '], "")
        ));
    }
    let _ = writeln!(out, "\n---\n<sub>{}</sub>", footer.join(" · "));
    out
}

/// Text for inside single backticks.
fn code(text: &str) -> String {
    inline(&text.replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditEvent;
    use crate::github::models::CommitDetail;
    use crate::render::marker::{self, push_history};
    use crate::stack::StackAction;

    fn commit(sha: &str, message: &str) -> CommitSummary {
        CommitSummary {
            sha: sha.into(),
            commit: CommitDetail {
                message: message.into(),
                author: None,
            },
        }
    }

    #[test]
    fn title_from_first_commit_and_body_lists_stacks() {
        let commits = [
            commit("1111111aaaa", "Add logs bucket\n\nlong text"),
            commit("2222222bbbb", "Fix <tag> | pipe"),
        ];
        assert_eq!(pr_title(&commits, "feature"), "Add logs bucket");
        assert_eq!(pr_title(&[], "feature"), "tfctl: changes from feature");
        let stacks = [StackRef {
            id: "S3/logs".into(),
            tfvars: "S3/logs/logs.tfvars".into(),
            action: StackAction::Plan,
        }];
        let body = pr_body("feature", &stacks, &commits);
        assert!(
            body.contains("- `S3/logs` (plan, `S3/logs/logs.tfvars`)"),
            "{body}"
        );
        assert!(body.contains("- `1111111` Add logs bucket"), "{body}");
        assert!(!body.contains("<tag>"), "{body}");
    }

    fn event(outcome: &str, reasons: &[&str]) -> AuditEvent {
        AuditEvent {
            time: "2024-01-01T00:00:00Z".into(),
            action: "merge".into(),
            actor: "bob".into(),
            pull_request: "o/r#1".into(),
            head_sha: "abcdef0123".into(),
            environment: Some("production".into()),
            outcome: outcome.into(),
            reasons: reasons
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            violations_overridden: Vec::new(),
            run_url: None,
        }
    }

    #[test]
    fn merge_comment_shows_the_decision_reasons_and_history() {
        let mut history = Vec::new();
        for i in 0..25 {
            push_history(&mut history, event("blocked", &[&format!("reason {i}")]));
        }
        assert_eq!(history.len(), marker::MERGE_HISTORY_LIMIT);
        assert_eq!(history[0].reasons, vec!["reason 5".to_string()]);
        let m = MergeMarker {
            version: 1,
            head_sha: "abcdef0123".into(),
            outcome: "blocked".into(),
            environment: None,
            branch: None,
            merge_commit_sha: None,
            history,
            signature: None,
        };
        let body = merge_comment(&m, &marker::render(&m, None), Some("https://x/run (1)"));
        assert!(body.starts_with("<!-- tfctl:merge "), "{body}");
        assert!(body.contains("### ⛔ tfctl merge: blocked"), "{body}");
        assert!(body.contains("- reason 24\n"), "{body}");
        assert!(
            body.contains("<details><summary>Audit trail</summary>"),
            "{body}"
        );
        assert!(body.contains("[workflow run](https://x/run1)"), "{body}");
        assert_eq!(
            marker::find::<MergeMarker>(&body).unwrap().history.len(),
            marker::MERGE_HISTORY_LIMIT
        );
    }
}
