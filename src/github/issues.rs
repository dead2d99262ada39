//! Issue-side calls: issues, comments, labels, issue events, search, and
//! the two helpers every reporting command needs: [`Client::upsert_comment`]
//! (one sticky comment, found by a marker) and
//! [`Client::set_exclusive_label`] (a verdict label xor its opposite).
//!
//! The pure parts (which comment carries the marker, which label calls are
//! needed, who added a label) are plain functions so they are tested
//! without a server. Bodies over GitHub's 65,536-character limit are
//! refused before sending; cutting them is the renderer's job.

use serde_json::{json, Value};

use super::client::Client;
use super::models::{Comment, Issue, Label};
use super::routes::{self, Route};
use super::{GithubError, GithubErrorKind, RepoRef};

/// GitHub's maximum comment / issue / PR body, in characters.
pub(crate) const COMMENT_BODY_LIMIT: usize = 65_536;

/// Refuses a body GitHub would reject with 422.
/// [`check_body`] of a new comment on issue or PR `number`: how every
/// comment write (create, upsert, a series of parts) checks its size
/// before any request is sent.
fn check_new_comment(repo: &RepoRef, number: u64, body: &str) -> Result<(), GithubError> {
    check_body(
        routes::ISSUES_CREATE_COMMENT,
        &format!("/repos/{repo}/issues/{number}/comments"),
        body,
    )
}

pub(crate) fn check_body(route: Route, path: &str, body: &str) -> Result<(), GithubError> {
    let chars = body.chars().count();
    if chars > COMMENT_BODY_LIMIT {
        return Err(GithubError {
            call: format!("{} {path}", route.method),
            kind: GithubErrorKind::Invalid,
            message: format!("body is {chars} characters; GitHub allows {COMMENT_BODY_LIMIT}"),
            attempts: 1,
        });
    }
    Ok(())
}

/// An issue's state, as GitHub spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }
}

/// Fields of an issue to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    pub state: Option<IssueState>,
}

/// What [`Client::upsert_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertAction {
    Created,
    Updated,
    /// The comment already had exactly this body: no write.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub action: UpsertAction,
    pub comment: Comment,
}

/// The first (oldest) of [`find_marked_comments`]: the sticky comment.
pub fn find_marked_comment<'a>(
    comments: &'a [Comment],
    marker_prefix: &str,
    author: Option<&str>,
) -> Option<&'a Comment> {
    find_marked_comments(comments, marker_prefix, author)
        .into_iter()
        .next()
}

/// The comments carrying `marker_prefix` (by `author`, when given, so a
/// user quoting the marker can't hijack it), oldest first. A re-run updates
/// the first; any others are duplicates (a create whose answer was lost and
/// was retried) to delete.
pub(crate) fn find_marked_comments<'a>(
    comments: &'a [Comment],
    marker_prefix: &str,
    author: Option<&str>,
) -> Vec<&'a Comment> {
    comments
        .iter()
        .filter(|c| {
            c.body.as_deref().is_some_and(|b| b.contains(marker_prefix))
                && author.is_none_or(|a| c.author() == Some(a))
        })
        .collect()
}

/// Label calls needed to reach "`add` present, every `remove` absent" from
/// `current`: (labels to remove, whether to add).
pub(crate) fn label_plan<'a>(
    current: &[String],
    add: &str,
    remove: &[&'a str],
) -> (Vec<&'a str>, bool) {
    let present = |name: &str| current.iter().any(|c| c.eq_ignore_ascii_case(name));
    let removes = remove
        .iter()
        .copied()
        .filter(|r| !r.eq_ignore_ascii_case(add) && present(r))
        .collect();
    (removes, !present(add))
}

impl Client {
    /// Opens an issue (drift reports).
    pub async fn create_issue(
        &self,
        repo: &RepoRef,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<Issue, GithubError> {
        let route = routes::ISSUES_CREATE;
        check_body(route, &format!("/repos/{repo}/issues"), body)?;
        let payload = json!({"title": title, "body": body, "labels": labels});
        self.json(route, &[&repo.owner, &repo.name], &[], Some(&payload))
            .await
    }

    /// Issues of `repo` in `state` carrying every label of `labels`, all
    /// pages, pull requests left out. Unlike search, this list is never
    /// stale, so a re-run finds the issue the previous run just opened.
    pub async fn list_issues(
        &self,
        repo: &RepoRef,
        labels: &[&str],
        state: IssueState,
    ) -> Result<Vec<Issue>, GithubError> {
        let labels = labels.join(",");
        let issues: Vec<Issue> = self
            .get_all(
                routes::ISSUES_LIST_FOR_REPO,
                &[&repo.owner, &repo.name],
                &[("state", state.as_str()), ("labels", &labels)],
            )
            .await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect())
    }

    /// Changes an issue's title, body or state (drift reports).
    pub async fn update_issue(
        &self,
        repo: &RepoRef,
        number: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GithubError> {
        let route = routes::ISSUES_UPDATE;
        let mut payload = serde_json::Map::new();
        if let Some(t) = &update.title {
            payload.insert("title".into(), Value::from(t.as_str()));
        }
        if let Some(b) = &update.body {
            check_body(route, &format!("/repos/{repo}/issues/{number}"), b)?;
            payload.insert("body".into(), Value::from(b.as_str()));
        }
        if let Some(state) = update.state {
            payload.insert("state".into(), Value::from(state.as_str()));
        }
        let n = number.to_string();
        self.json(
            route,
            &[&repo.owner, &repo.name, &n],
            &[],
            Some(&Value::Object(payload)),
        )
        .await
    }

    /// Every comment of an issue or PR, oldest first.
    pub async fn list_comments(
        &self,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<Comment>, GithubError> {
        let n = number.to_string();
        self.get_all(
            routes::ISSUES_LIST_COMMENTS,
            &[&repo.owner, &repo.name, &n],
            &[],
        )
        .await
    }

    pub async fn create_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        body: &str,
    ) -> Result<Comment, GithubError> {
        let route = routes::ISSUES_CREATE_COMMENT;
        check_new_comment(repo, number, body)?;
        let n = number.to_string();
        self.json(
            route,
            &[&repo.owner, &repo.name, &n],
            &[],
            Some(&json!({"body": body})),
        )
        .await
    }

    pub async fn update_comment(
        &self,
        repo: &RepoRef,
        comment_id: u64,
        body: &str,
    ) -> Result<Comment, GithubError> {
        let route = routes::ISSUES_UPDATE_COMMENT;
        check_body(
            route,
            &format!("/repos/{repo}/issues/comments/{comment_id}"),
            body,
        )?;
        let id = comment_id.to_string();
        self.json(
            route,
            &[&repo.owner, &repo.name, &id],
            &[],
            Some(&json!({"body": body})),
        )
        .await
    }

    /// Creates the comment carrying `marker_prefix`, or updates it in place
    /// when one exists (by `author`, if given): a re-run never duplicates,
    /// and deletes duplicates an earlier run may have left. Costs one list
    /// (all pages) plus at most one write (and one delete per duplicate).
    pub async fn upsert_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        marker_prefix: &str,
        author: Option<&str>,
        body: &str,
    ) -> Result<UpsertOutcome, GithubError> {
        // Check before the list call so an oversized body costs nothing.
        check_new_comment(repo, number, body)?;
        let comments = self.list_comments(repo, number).await?;
        self.upsert_listed_comment(repo, number, &comments, marker_prefix, author, body)
            .await
    }

    /// [`Client::upsert_comment`] on `comments`, the PR's comments as the
    /// caller listed them a moment ago (it read them to decide whether to
    /// write at all): one list call for both.
    pub async fn upsert_listed_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        comments: &[Comment],
        marker_prefix: &str,
        author: Option<&str>,
        body: &str,
    ) -> Result<UpsertOutcome, GithubError> {
        check_new_comment(repo, number, body)?;
        let marked = find_marked_comments(comments, marker_prefix, author);
        for duplicate in marked.iter().skip(1) {
            self.delete_comment(repo, duplicate.id).await?;
        }
        match marked.first() {
            Some(existing) if existing.body.as_deref() == Some(body) => Ok(UpsertOutcome {
                action: UpsertAction::Unchanged,
                comment: (*existing).clone(),
            }),
            Some(existing) => Ok(UpsertOutcome {
                action: UpsertAction::Updated,
                comment: self.update_comment(repo, existing.id, body).await?,
            }),
            None => Ok(UpsertOutcome {
                action: UpsertAction::Created,
                comment: self.create_comment(repo, number, body).await?,
            }),
        }
    }

    /// Makes the comments carrying `marker_prefix` (by `author`, oldest
    /// first, in `comments` as the caller listed them) exactly `bodies`, in
    /// order: each kept one updated where it differs, missing ones created,
    /// surplus ones deleted. How a series of continuation comments (an
    /// attestation in parts) follows a re-run that needs more or fewer.
    pub async fn sync_listed_comments(
        &self,
        repo: &RepoRef,
        number: u64,
        comments: &[Comment],
        marker_prefix: &str,
        author: Option<&str>,
        bodies: &[String],
    ) -> Result<(), GithubError> {
        for body in bodies {
            check_new_comment(repo, number, body)?;
        }
        let mut marked = find_marked_comments(comments, marker_prefix, author);
        marked.sort_by_key(|c| c.id);
        for (i, body) in bodies.iter().enumerate() {
            match marked.get(i) {
                Some(existing) if existing.body.as_deref() == Some(body.as_str()) => {}
                Some(existing) => {
                    self.update_comment(repo, existing.id, body).await?;
                }
                None => {
                    self.create_comment(repo, number, body).await?;
                }
            }
        }
        for surplus in marked.iter().skip(bodies.len()) {
            self.delete_comment(repo, surplus.id).await?;
        }
        Ok(())
    }

    /// Deletes a comment; `Ok(false)` when it was already gone.
    pub async fn delete_comment(
        &self,
        repo: &RepoRef,
        comment_id: u64,
    ) -> Result<bool, GithubError> {
        let id = comment_id.to_string();
        self.delete(
            routes::ISSUES_DELETE_COMMENT,
            &[&repo.owner, &repo.name, &id],
        )
        .await
    }

    /// Labels on an issue or PR (all pages).
    pub async fn list_labels(
        &self,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<Label>, GithubError> {
        let n = number.to_string();
        self.get_all(
            routes::ISSUES_LIST_LABELS,
            &[&repo.owner, &repo.name, &n],
            &[],
        )
        .await
    }

    /// Adds labels (GitHub creates unknown ones); returns all labels now on.
    pub async fn add_labels(
        &self,
        repo: &RepoRef,
        number: u64,
        labels: &[&str],
    ) -> Result<Vec<Label>, GithubError> {
        let n = number.to_string();
        self.json(
            routes::ISSUES_ADD_LABELS,
            &[&repo.owner, &repo.name, &n],
            &[],
            Some(&json!({"labels": labels})),
        )
        .await
    }

    /// Removes a label; `Ok(false)` when it wasn't there (GitHub's 404),
    /// which is the state the caller wanted anyway.
    pub async fn remove_label(
        &self,
        repo: &RepoRef,
        number: u64,
        label: &str,
    ) -> Result<bool, GithubError> {
        let n = number.to_string();
        self.delete(
            routes::ISSUES_REMOVE_LABEL,
            &[&repo.owner, &repo.name, &n, label],
        )
        .await
    }

    /// Ensures `add` is on the issue and every label in `remove` is off.
    /// `known` is the current label set when the caller has it (read just
    /// before, e.g. with the PR), saving a list call; the calls are planned
    /// from it, so it must be fresh: a set read at the start of a long run
    /// misses what another run did since. Removes go first: if a later
    /// call fails, the issue has no verdict label rather than two. The add
    /// answers with every label now on; one of `remove` among them was put
    /// on by someone else meanwhile, and is removed again.
    /// Returns the label names now on the issue.
    pub async fn set_exclusive_label(
        &self,
        repo: &RepoRef,
        number: u64,
        known: Option<&[String]>,
        add: &str,
        remove: &[&str],
    ) -> Result<Vec<String>, GithubError> {
        let mut current: Vec<String> = match known {
            Some(k) => k.to_vec(),
            None => self
                .list_labels(repo, number)
                .await?
                .into_iter()
                .map(|l| l.name)
                .collect(),
        };
        let (removes, needs_add) = label_plan(&current, add, remove);
        for r in removes {
            self.remove_label(repo, number, r).await?;
            current.retain(|c| !c.eq_ignore_ascii_case(r));
        }
        if needs_add {
            current = self
                .add_labels(repo, number, &[add])
                .await?
                .into_iter()
                .map(|l| l.name)
                .collect();
            let (late, _) = label_plan(&current, add, remove);
            for r in late {
                self.remove_label(repo, number, r).await?;
                current.retain(|c| !c.eq_ignore_ascii_case(r));
            }
        }
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::User;

    fn comment(id: u64, login: &str, body: &str) -> Comment {
        Comment {
            id,
            body: Some(body.into()),
            user: Some(User {
                login: login.into(),
                kind: None,
            }),
            created_at: "2024-01-01T00:00:00Z".into(),
            updated_at: None,
            html_url: None,
        }
    }

    #[test]
    fn marked_comment_by_author_only() {
        let cs = vec![
            comment(1, "alice", "quoting <!-- tfctl:validation {} -->"),
            comment(2, "tfctl[bot]", "hello"),
            comment(3, "tfctl[bot]", "x <!-- tfctl:validation {\"a\":1} -->"),
            comment(4, "tfctl[bot]", "<!-- tfctl:validation {} --> newer"),
        ];
        let m = "<!-- tfctl:validation";
        let ids = |v: Vec<&Comment>| v.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(find_marked_comments(&cs, m, Some("tfctl[bot]"))),
            vec![3, 4]
        );
        assert_eq!(ids(find_marked_comments(&cs, m, None)), vec![1, 3, 4]);
        assert!(find_marked_comments(&cs, "<!-- other", None).is_empty());
    }

    #[test]
    fn label_plan_is_minimal() {
        let cur = vec!["opa-failed".to_string(), "team-a".to_string()];
        assert_eq!(
            label_plan(&cur, "opa-passed", &["opa-failed"]),
            (vec!["opa-failed"], true)
        );
        let cur = vec!["OPA-PASSED".to_string()];
        assert_eq!(
            label_plan(&cur, "opa-passed", &["opa-failed"]),
            (vec![], false)
        );
        // Never remove the label being added.
        assert_eq!(label_plan(&[], "a", &["a", "b"]), (vec![], true));
    }

    #[test]
    fn body_guard_counts_characters_not_bytes() {
        let ok = "é".repeat(COMMENT_BODY_LIMIT);
        assert!(check_body(routes::ISSUES_CREATE_COMMENT, "/x", &ok).is_ok());
        let err = check_body(
            routes::ISSUES_CREATE_COMMENT,
            "/repos/o/r/issues/5/comments",
            &format!("{ok}a"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GitHub: POST /repos/o/r/issues/5/comments not sent: body is 65537 characters; GitHub allows 65536"
        );
    }
}
