//! Pull request calls: get, list, create, update, files, reviews, merge,
//! and the PRs of a commit.
//!
//! Thin typed wrappers over [`Client`]; the only interpretation here is
//! GitHub's own: a merge answered 405 is "not mergeable", 409 is "head
//! moved" (the `sha` guard), both typed results rather than errors.

use serde_json::{json, Map, Value};

use super::client::Client;
use super::issues::check_body;
use super::models::{ChangedFile, MergeResult, PullRequest, Review};
use super::routes;
use super::{GithubError, RepoRef};

/// Which PRs `list_pulls` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrListState {
    Open,
}

impl PrListState {
    fn as_str(self) -> &'static str {
        match self {
            PrListState::Open => "open",
        }
    }
}

/// How GitHub merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// The result of a merge attempt GitHub understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    Merged(MergeResult),
    /// 405: conflicts, failing required checks, already merged...
    NotMergeable {
        message: String,
    },
    /// 409: the head is no longer the SHA that was validated and approved.
    HeadMoved {
        message: String,
    },
}

/// Fields of a PR to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    pub base: Option<String>,
}

impl Client {
    /// `GET /repos/{owner}/{repo}/pulls/{pull_number}`.
    pub async fn get_pull(&self, repo: &RepoRef, number: u64) -> Result<PullRequest, GithubError> {
        let n = number.to_string();
        self.json(routes::PULLS_GET, &[&repo.owner, &repo.name, &n], &[], None)
            .await
    }

    /// PRs of `repo` (all pages). `head` is `owner:branch`, as GitHub wants.
    pub async fn list_pulls(
        &self,
        repo: &RepoRef,
        head: Option<&str>,
        base: Option<&str>,
        state: PrListState,
    ) -> Result<Vec<PullRequest>, GithubError> {
        let mut query = vec![("state", state.as_str())];
        if let Some(h) = head {
            query.push(("head", h));
        }
        if let Some(b) = base {
            query.push(("base", b));
        }
        self.get_all(routes::PULLS_LIST, &[&repo.owner, &repo.name], &query)
            .await
    }

    /// Opens a PR from `head` (a branch of `repo`) into `base`.
    pub async fn create_pull(
        &self,
        repo: &RepoRef,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GithubError> {
        let route = routes::PULLS_CREATE;
        check_body(route, &format!("/repos/{repo}/pulls"), body)?;
        let payload = json!({"title": title, "head": head, "base": base, "body": body});
        self.json(route, &[&repo.owner, &repo.name], &[], Some(&payload))
            .await
    }

    /// Changes a PR's title, body or base.
    pub async fn update_pull(
        &self,
        repo: &RepoRef,
        number: u64,
        update: &PullUpdate,
    ) -> Result<PullRequest, GithubError> {
        let route = routes::PULLS_UPDATE;
        let n = number.to_string();
        let mut payload = Map::new();
        if let Some(t) = &update.title {
            payload.insert("title".into(), Value::from(t.as_str()));
        }
        if let Some(b) = &update.body {
            check_body(route, &format!("/repos/{repo}/pulls/{number}"), b)?;
            payload.insert("body".into(), Value::from(b.as_str()));
        }
        if let Some(b) = &update.base {
            payload.insert("base".into(), Value::from(b.as_str()));
        }
        self.json(
            route,
            &[&repo.owner, &repo.name, &n],
            &[],
            Some(&Value::Object(payload)),
        )
        .await
    }

    /// Every changed file of a PR (all pages; GitHub stops at 3000).
    pub async fn list_pull_files(
        &self,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<ChangedFile>, GithubError> {
        let n = number.to_string();
        self.get_all(
            routes::PULLS_LIST_FILES,
            &[&repo.owner, &repo.name, &n],
            &[],
        )
        .await
    }

    /// Every review of a PR, oldest first.
    pub async fn list_reviews(
        &self,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<Review>, GithubError> {
        let n = number.to_string();
        self.get_all(
            routes::PULLS_LIST_REVIEWS,
            &[&repo.owner, &repo.name, &n],
            &[],
        )
        .await
    }

    /// Merges a PR only if its head is still `sha`. A merge whose answer was
    /// lost and retried is confirmed by reading the PR back, so it is
    /// reported `Merged`, not "not mergeable".
    pub async fn merge_pull(
        &self,
        repo: &RepoRef,
        number: u64,
        sha: &str,
        method: MergeMethod,
        commit_title: Option<&str>,
    ) -> Result<MergeOutcome, GithubError> {
        let n = number.to_string();
        let mut payload = json!({"sha": sha, "merge_method": method.as_str()});
        if let Some(t) = commit_title {
            payload["commit_title"] = Value::from(t);
        }
        let resp = self
            .call(
                routes::PULLS_MERGE,
                &[&repo.owner, &repo.name, &n],
                &[],
                Some(&payload),
            )
            .await?;
        let message = || resp.error().message;
        match resp.status {
            // A retried merge whose first attempt went through (the answer was
            // lost) sees 405 "not mergeable": ask the PR what really happened.
            405 if resp.attempts > 1 => {
                let pr = self.get_pull(repo, number).await?;
                match (pr.is_merged(), pr.merge_commit_sha) {
                    (true, Some(merge_sha)) if pr.head.sha == sha => {
                        Ok(MergeOutcome::Merged(MergeResult {
                            sha: merge_sha,
                            merged: true,
                            message: "Pull Request successfully merged (confirmed after a retry)"
                                .into(),
                        }))
                    }
                    _ => Ok(MergeOutcome::NotMergeable { message: message() }),
                }
            }
            405 => Ok(MergeOutcome::NotMergeable { message: message() }),
            409 => Ok(MergeOutcome::HeadMoved { message: message() }),
            _ if resp.is_success() => Ok(MergeOutcome::Merged(resp.json()?)),
            _ => Err(resp.error()),
        }
    }

    /// PRs that contain commit `sha` (for a push to an environment branch:
    /// which PR's merge is this?).
    pub async fn pulls_for_commit(
        &self,
        repo: &RepoRef,
        sha: &str,
    ) -> Result<Vec<PullRequest>, GithubError> {
        self.get_all(routes::COMMIT_PULLS, &[&repo.owner, &repo.name, sha], &[])
            .await
    }
}
