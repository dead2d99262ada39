//! What `tfctl dispatch` and `tfctl merge` share: GitHub's changed files →
//! stacks under the config root, tfctl's own validation comment → the
//! gate's [`Validation`], special-approver lookup, audit events, and the
//! texts they write (PR title and body, the sticky merge comment).
//!
//! The text builders and comment readers are pure functions of their
//! arguments (unit-tested below); the few effects (the git prefix, team
//! membership calls) are small and marked. Must not: decide gates (that is
//! `gates`), or print.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use crate::audit::AuditEvent;
use crate::config::Config;
use crate::discovery::{self, ChangedFile, FileStatus, StackRef, StackTree};
use crate::error::Result;
use crate::github::models::{Comment, CommitSummary};
use crate::github::{Client, GithubError};
use crate::render::marker::{self, MergeMarker};
use crate::repo::{FsTree, Git};

/// The tree at the pushed head, as far as stack discovery needs it: the
/// checkout, corrected by the changes (a tfvars the head adds is there
/// even if the checkout is older; one it deletes is gone).
pub(crate) struct HeadTree<'a> {
    pub fs: &'a dyn StackTree,
    pub changes: &'a [ChangedFile],
}

impl StackTree for HeadTree<'_> {
    fn tfvars_in(&self, dir: &str) -> Vec<String> {
        let mut names: BTreeSet<String> = self.fs.tfvars_in(dir).into_iter().collect();
        for change in self.changes {
            let (d, name) = change.path.rsplit_once('/').unwrap_or(("", &change.path));
            if d != dir || !name.ends_with(".tfvars") {
                continue;
            }
            match change.status {
                FileStatus::Modified => names.insert(name.to_string()),
                FileStatus::Deleted => names.remove(name),
            };
        }
        names.into_iter().collect()
    }
}

/// The config root's path inside the repository checkout (effect: asks
/// git; falls back to the path below `cwd`).
pub(crate) fn config_prefix(cfg: &Config, cwd: &Path) -> String {
    if let Ok(git) = Git::open(&cfg.config_root) {
        return git.prefix;
    }
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canon(&cfg.config_root)
        .strip_prefix(canon(cwd))
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

/// The stacks GitHub's changed files touch, sorted by id (from git when
/// GitHub's list was cut: `pipeline::pr_changes`).
pub(crate) fn stacks_of(
    cfg: &Config,
    cwd: &Path,
    files: &crate::pipeline::PrFiles<'_>,
) -> Result<Vec<StackRef>> {
    let changes = crate::pipeline::pr_changes(files, &config_prefix(cfg, cwd), &cfg.config_root)?;
    let fs = FsTree::new(&cfg.config_root);
    let tree = HeadTree {
        fs: &fs,
        changes: &changes,
    };
    discovery::stacks_from_changes(&changes, &cfg.stacks, &tree)
}

/// PR title: the subject of the branch's first commit, else the branch.
pub(crate) fn pr_title(commits: &[CommitSummary], branch: &str) -> String {
    commits
        .first()
        .and_then(|c| c.commit.message.lines().next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("tfctl: changes from {branch}"), str::to_string)
}

/// PR body: what tfctl will validate, and the commits.
pub(crate) fn pr_body(branch: &str, stacks: &[StackRef], commits: &[CommitSummary]) -> String {
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
            let short: String = c.sha.chars().take(7).collect();
            let _ = writeln!(out, "- `{short}` {}", crate::render::inline(subject));
        }
    }
    out.push_str(
        "\nValidation is requested from the controller; approve to merge into the stacks' environment branch.\n",
    );
    out
}

/// Whether `login` is a special approver: listed in `approvers.users`, or
/// an active member of an `approvers.teams` team (effect: membership API,
/// asked only when the user list does not already say yes).
pub(crate) async fn is_special_approver(
    client: &Client,
    cfg: &Config,
    login: &str,
) -> std::result::Result<bool, GithubError> {
    if cfg
        .approvers
        .users
        .iter()
        .any(|u| u.eq_ignore_ascii_case(login))
    {
        return Ok(true);
    }
    for (org, team) in &cfg.approvers.teams {
        if client.is_team_member(org, team, login).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `o` with its author's standing as a special approver, asked now. The PR
/// author's own standing is not asked: their override never counts.
pub(crate) async fn with_standing(
    mut o: crate::evidence::OverrideComment,
    client: &Client,
    cfg: &Config,
    pr_author: &str,
) -> std::result::Result<crate::evidence::OverrideComment, GithubError> {
    o.author_is_special_approver = !o.author.eq_ignore_ascii_case(pr_author)
        && is_special_approver(client, cfg, &o.author).await?;
    Ok(o)
}

/// The previous merge history of a PR, from tfctl's sticky merge comment
/// by `bot`. A record for people (a writer can edit it); no gate reads it.
pub(crate) fn previous_merge<'c>(
    comments: &'c [Comment],
    bot: &str,
) -> (Option<&'c Comment>, Vec<AuditEvent>) {
    let prefix = marker::prefix::<MergeMarker>();
    let comment = crate::github::find_marked_comment(comments, &prefix, Some(bot));
    let history = comment
        .and_then(|c| c.body.as_deref())
        .and_then(marker::find::<MergeMarker>)
        .map(|m| m.history)
        .unwrap_or_default();
    (comment, history)
}

/// The sticky merge comment: the decision, its reasons (the latest event),
/// and every merge decision of the PR in a collapsed audit block.
pub(crate) fn merge_comment(
    m: &MergeMarker,
    rendered_marker: &str,
    run_url: Option<&str>,
) -> String {
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
            let _ = writeln!(out, "- {}", crate::render::inline(r));
        }
        if !e.violations_overridden.is_empty() {
            out.push_str("\nPolicy violations overridden:\n\n");
            for v in &e.violations_overridden {
                let _ = writeln!(out, "- {}", crate::render::inline(v));
            }
        }
    }
    out.push('\n');
    out.push_str(&crate::audit::markdown(&m.history));
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

/// Appends `event` to `history`, keeping the newest [`marker::MERGE_HISTORY_LIMIT`].
pub(crate) fn push_history(history: &mut Vec<AuditEvent>, event: AuditEvent) {
    history.push(event);
    let excess = history.len().saturating_sub(marker::MERGE_HISTORY_LIMIT);
    history.drain(..excess);
}

/// `owner/repo#n`.
pub(crate) fn pr_ref(repo: &crate::github::RepoRef, number: u64) -> String {
    format!("{repo}#{number}")
}

pub(crate) use crate::evidence::short;

/// Text for inside single backticks.
fn code(text: &str) -> String {
    crate::render::inline(&text.replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::CommitDetail;
    use crate::stack::StackAction;

    struct Fixed(Vec<(&'static str, &'static str)>);
    impl StackTree for Fixed {
        fn tfvars_in(&self, dir: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(d, _)| *d == dir)
                .map(|(_, n)| n.to_string())
                .collect()
        }
    }

    #[test]
    fn head_tree_adds_new_and_drops_deleted_tfvars() {
        let fs = Fixed(vec![("S3/a", "old.tfvars")]);
        let changes = vec![
            ChangedFile::modified("S3/a/a.tfvars"),
            ChangedFile::deleted("S3/a/old.tfvars"),
            ChangedFile::modified("S3/a/policy.json"),
        ];
        let tree = HeadTree {
            fs: &fs,
            changes: &changes,
        };
        assert_eq!(tree.tfvars_in("S3/a"), vec!["a.tfvars".to_string()]);
        assert!(tree.tfvars_in("S3/b").is_empty());
    }

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
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
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
