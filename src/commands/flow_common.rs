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
use crate::gates::{Signature, Validation};
use crate::github::models::{Comment, CommitSummary};
use crate::github::{Client, GithubError};
use crate::render::marker::{self, MergeMarker, ValidationMarker, VerifyError};
use crate::repo::{FsTree, Git};

/// `<!-- tfctl:merge ` — how the sticky merge comment is found.
pub(crate) const MERGE_MARKER_PREFIX: &str = "<!-- tfctl:merge ";

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
/// git; falls back to the path below the current directory).
pub(crate) fn config_prefix(cfg: &Config) -> String {
    if let Ok(git) = Git::open(&cfg.config_root) {
        return git.prefix;
    }
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            canon(&cfg.config_root)
                .strip_prefix(canon(&cwd))
                .ok()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
        })
        .unwrap_or_default()
}

/// The stacks GitHub's changed files touch, sorted by id (from git when
/// GitHub's list was cut: `pipeline::pr_changes`).
pub(crate) fn stacks_of(
    cfg: &Config,
    files: &crate::pipeline::PrFiles<'_>,
) -> Result<Vec<StackRef>> {
    let changes = crate::pipeline::pr_changes(files, &config_prefix(cfg), &cfg.config_root)?;
    let fs = FsTree {
        root: cfg.config_root.clone(),
    };
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

/// tfctl's validation comment among a PR's comments, as the gate sees it,
/// with its marker and body. Preference: by `bot` for `head`, then by `bot`
/// for another head (the gate says "stale"), then anyone's (the gate says
/// who wrote it); the latest of each.
pub(crate) fn find_validation<'c>(
    comments: &'c [Comment],
    bot: &str,
    head: &str,
    key: Option<&[u8]>,
) -> Option<(Validation, ValidationMarker, &'c Comment)> {
    let mut best: Option<(u8, &str, ValidationMarker, &Comment)> = None;
    for c in comments {
        let Some(m) = c.body.as_deref().and_then(marker::find::<ValidationMarker>) else {
            continue;
        };
        let by_bot = c.author() == Some(bot);
        let rank = match (by_bot, m.head_sha == head) {
            (true, true) => 3,
            (true, false) => 2,
            _ => 1,
        };
        let at = c.updated_at.as_deref().unwrap_or(&c.created_at);
        let better = best
            .as_ref()
            .is_none_or(|(r, t, _, _)| (rank, at) >= (*r, *t));
        if better {
            best = Some((rank, at, m, c));
        }
    }
    let (_, _, m, c) = best?;
    let validation = validation_facts(&m, c, key);
    Some((validation, m, c))
}

/// What the gates need of a validation marker found in `comment`, with its
/// signature checked against `key` (merge and apply read markers alike).
pub(crate) fn validation_facts(
    m: &ValidationMarker,
    comment: &Comment,
    key: Option<&[u8]>,
) -> Validation {
    let signature = match key {
        None => Signature::NotChecked,
        Some(k) => match marker::verify(m, k) {
            Ok(()) => Signature::Valid,
            Err(VerifyError::Unsigned) => Signature::Missing,
            Err(VerifyError::Malformed | VerifyError::Mismatch) => Signature::Invalid,
        },
    };
    let mut environments = m.environments.clone();
    if environments.is_empty() && !m.environment.is_empty() {
        environments.push(m.environment.clone());
    }
    Validation {
        author: comment.author().unwrap_or_default().to_string(),
        updated_at: comment
            .updated_at
            .clone()
            .unwrap_or_else(|| comment.created_at.clone()),
        head_sha: m.head_sha.clone(),
        environment: (!m.environment.is_empty()).then(|| m.environment.clone()),
        environments,
        result: m.result.as_str().to_string(),
        signature,
    }
}

/// The policy violations a validation comment lists (its `#### Policy`
/// section, as `render::markdown` writes it), as `stack: namespace rule: msg`.
pub(crate) fn violations_in(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_policy = false;
    let mut stack = String::new();
    for line in body.lines() {
        let line = line.trim_end();
        if let Some(heading) = line.strip_prefix("#### ") {
            in_policy = heading == "Policy";
            continue;
        }
        if !in_policy {
            continue;
        }
        if let Some(id) = line
            .strip_prefix("**`")
            .and_then(|rest| rest.strip_suffix("`**"))
        {
            stack = id.to_string();
        } else if let Some(v) = line.strip_prefix("- ❌ ") {
            out.push(format!("{stack}: {}", v.replace('`', "")));
        }
    }
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

/// The previous merge history of a PR, from tfctl's sticky merge comment
/// (by `bot`; with a key, only when its signature verifies).
pub(crate) fn previous_merge<'c>(
    comments: &'c [Comment],
    bot: &str,
    key: Option<&[u8]>,
) -> (Option<&'c Comment>, Vec<AuditEvent>) {
    let comment = crate::github::find_marked_comment(comments, MERGE_MARKER_PREFIX, Some(bot));
    let history = comment
        .and_then(|c| c.body.as_deref())
        .and_then(marker::find::<MergeMarker>)
        .filter(|m| key.is_none_or(|k| marker::verify(m, k).is_ok()))
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

pub(crate) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Text for inside single backticks.
fn code(text: &str) -> String {
    crate::render::inline(&text.replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::{CommitDetail, User};
    use crate::report::RunResult;
    use crate::report::{Changes, RunReport, StackReport, StackStatus, Violation};
    use crate::stack::StackAction;
    use std::collections::BTreeMap;

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

    fn comment(id: u64, author: &str, body: &str, at: &str) -> Comment {
        Comment {
            id,
            body: Some(body.into()),
            user: Some(User {
                login: author.into(),
                kind: None,
            }),
            created_at: at.into(),
            updated_at: Some(at.into()),
            html_url: None,
        }
    }

    fn vmarker(head: &str, result: RunResult) -> ValidationMarker {
        ValidationMarker {
            version: 1,
            head_sha: head.into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result,
            stacks: BTreeMap::new(),
            signature: None,
        }
    }

    #[test]
    fn the_bots_validation_for_the_head_wins_and_signatures_are_checked() {
        let bot = "github-actions[bot]";
        let key = b"k".as_slice();
        let comments = vec![
            comment(
                1,
                bot,
                &marker::render(&vmarker("new", RunResult::Passed), Some(key)),
                "2024-01-01T00:00:02Z",
            ),
            comment(
                2,
                bot,
                &marker::render(&vmarker("old", RunResult::Failed), Some(key)),
                "2024-01-01T00:00:03Z",
            ),
            comment(
                3,
                "mallory",
                &marker::render(&vmarker("new", RunResult::Passed), None),
                "2024-01-01T00:00:04Z",
            ),
        ];
        let (v, _, c) = find_validation(&comments, bot, "new", Some(key)).unwrap();
        assert_eq!(
            (c.id, v.signature, v.result.as_str()),
            (1, Signature::Valid, "passed")
        );
        assert_eq!(v.environment.as_deref(), Some("production"));
        let (v, _, c) = find_validation(&comments, bot, "newer", Some(key)).unwrap();
        assert_eq!((c.id, v.head_sha.as_str()), (2, "old"));
        let (v, _, _) = find_validation(&comments, bot, "new", Some(b"other")).unwrap();
        assert_eq!(v.signature, Signature::Invalid);
        let (v, _, c) = find_validation(&comments[2..], bot, "new", Some(key)).unwrap();
        assert_eq!(
            (c.id, v.author.as_str(), v.signature),
            (3, "mallory", Signature::Missing)
        );
        assert!(find_validation(&[], bot, "new", None).is_none());
    }

    #[test]
    fn violations_are_read_from_the_real_validation_comment() {
        let stack = StackReport {
            id: "S3/public-assets".into(),
            service: "S3".into(),
            name: "public-assets".into(),
            environment: "production".into(),
            action: "plan".into(),
            status: StackStatus::Failed,
            changes: Changes::default(),
            violations: vec![Violation {
                namespace: "main".into(),
                rule: "deny".into(),
                msg: "bucket must not be public".into(),
            }],
            warnings: vec![Violation {
                namespace: "main".into(),
                rule: "warn".into(),
                msg: "no tags".into(),
            }],
            error: None,
            duration_ms: 1,
            plan_digest: None,
            plan_summary: None,
        };
        let report = RunReport {
            version: 1,
            result: RunResult::Failed,
            environment: Some("production".into()),
            waves: vec![vec!["S3/public-assets".into()]],
            stacks: vec![stack],
            edges: Vec::new(),
            duration_ms: 1,
        };
        let body = crate::render::markdown::comment(
            &report,
            &crate::render::markdown::CommentContext {
                environment: "production".into(),
                target_branch: "prod".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            violations_in(&body),
            vec!["S3/public-assets: main deny: bucket must not be public".to_string()]
        );
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
