//! Repository-level calls: commit statuses, compare, repository dispatch,
//! team membership (for special approvers) and a user's permission on a
//! repository (for approvals).
//!
//! Dispatches are checked against GitHub's documented limits before
//! sending (`event_type` ≤ 100 characters, `client_payload` ≤ 10 top-level
//! keys and < 64 KB), so a bad payload fails here with a clear message.

use serde_json::{json, Map, Value};

use super::client::Client;
use super::models::{CollaboratorPermission, CommitStatus, Comparison, TeamMembership};
use super::routes;
use super::{GithubError, GithubErrorKind, RepoRef};

/// GitHub's limit on `event_type`.
pub(crate) const DISPATCH_EVENT_TYPE_LIMIT: usize = 100;
/// GitHub's limit on `client_payload` top-level properties.
pub(crate) const DISPATCH_PAYLOAD_KEY_LIMIT: usize = 10;
/// "The total size of the JSON payload must be less than 64KB."
const DISPATCH_PAYLOAD_BYTES: usize = 64 * 1024;
/// GitHub cuts status descriptions longer than this.
const STATUS_DESCRIPTION_LIMIT: usize = 140;

/// A commit status state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitState {
    Success,
    Failure,
    Error,
}

impl CommitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitState::Success => "success",
            CommitState::Failure => "failure",
            CommitState::Error => "error",
        }
    }
}

/// Why a dispatch would be rejected, or `None` when GitHub would take it.
pub(super) fn dispatch_problem(
    event_type: &str,
    client_payload: &Map<String, Value>,
) -> Option<String> {
    let len = event_type.chars().count();
    if len == 0 || len > DISPATCH_EVENT_TYPE_LIMIT {
        return Some(format!(
            "event_type must be 1 to {DISPATCH_EVENT_TYPE_LIMIT} characters, got {len}"
        ));
    }
    if client_payload.len() > DISPATCH_PAYLOAD_KEY_LIMIT {
        return Some(format!(
            "client_payload has {} top-level keys; GitHub allows {DISPATCH_PAYLOAD_KEY_LIMIT}",
            client_payload.len()
        ));
    }
    let size = Value::Object(client_payload.clone()).to_string().len();
    if size >= DISPATCH_PAYLOAD_BYTES {
        return Some(format!(
            "client_payload is {size} bytes; GitHub allows under 64 KB"
        ));
    }
    None
}

/// Most files a comparison lists; a list this long may be cut.
pub const COMPARE_FILES_LIMIT: usize = 300;

impl Client {
    /// Sets a commit status (`context` e.g. `tfctl/validate`). Descriptions
    /// are cut to GitHub's 140 characters.
    pub async fn create_status(
        &self,
        repo: &RepoRef,
        sha: &str,
        state: CommitState,
        context: &str,
        description: Option<&str>,
        target_url: Option<&str>,
    ) -> Result<CommitStatus, GithubError> {
        let mut payload = json!({"state": state.as_str(), "context": context});
        if let Some(d) = description {
            let cut: String = d.chars().take(STATUS_DESCRIPTION_LIMIT).collect();
            payload["description"] = Value::from(cut);
        }
        if let Some(u) = target_url {
            payload["target_url"] = Value::from(u);
        }
        self.json(
            routes::STATUSES_CREATE,
            &[&repo.owner, &repo.name, sha],
            &[],
            Some(&payload),
        )
        .await
    }

    /// Every status of commit `sha`, newest first (as GitHub lists them).
    pub async fn list_statuses(
        &self,
        repo: &RepoRef,
        sha: &str,
    ) -> Result<Vec<CommitStatus>, GithubError> {
        self.get_all(
            routes::STATUSES_LIST_FOR_REF,
            &[&repo.owner, &repo.name, sha],
            &[],
        )
        .await
    }

    /// `GET /repos/{owner}/{repo}/compare/{base}...{head}`: commits and
    /// files between two refs (first page of commits: up to 250; files: up
    /// to [`COMPARE_FILES_LIMIT`], GitHub's own caps).
    pub async fn compare(
        &self,
        repo: &RepoRef,
        base: &str,
        head: &str,
    ) -> Result<Comparison, GithubError> {
        let basehead = format!("{base}...{head}");
        self.json(
            routes::REPOS_COMPARE,
            &[&repo.owner, &repo.name, &basehead],
            &[],
            None,
        )
        .await
    }

    /// Sends a `repository_dispatch` to `repo`.
    pub async fn dispatch(
        &self,
        repo: &RepoRef,
        event_type: &str,
        client_payload: &Map<String, Value>,
    ) -> Result<(), GithubError> {
        if let Some(problem) = dispatch_problem(event_type, client_payload) {
            return Err(GithubError {
                call: format!("POST /repos/{repo}/dispatches"),
                kind: GithubErrorKind::Invalid,
                message: problem,
                attempts: 1,
            });
        }
        let payload = json!({"event_type": event_type, "client_payload": client_payload});
        self.send(
            routes::REPOS_DISPATCH,
            &[&repo.owner, &repo.name],
            Some(&payload),
        )
        .await
    }

    /// Whether `user` is an active member of `org/team_slug` (a pending
    /// invitation or a 404 is "no").
    pub async fn is_team_member(
        &self,
        org: &str,
        team_slug: &str,
        user: &str,
    ) -> Result<bool, GithubError> {
        let resp = self
            .call(routes::TEAM_MEMBERSHIP, &[org, team_slug, user], &[], None)
            .await?;
        match resp.status {
            404 => Ok(false),
            _ if resp.is_success() => Ok(resp.json::<TeamMembership>()?.state == "active"),
            _ => Err(resp.error()),
        }
    }

    /// `user`'s access to `repo`, from every source of grants. `None` when
    /// GitHub answers 404 (no such user, or one this token cannot see):
    /// no access that could be shown.
    pub async fn collaborator_permission(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<Option<CollaboratorPermission>, GithubError> {
        let resp = self
            .call(
                routes::COLLABORATOR_PERMISSION,
                &[&repo.owner, &repo.name, user],
                &[],
                None,
            )
            .await?;
        match resp.status {
            404 => Ok(None),
            _ if resp.is_success() => Ok(Some(resp.json()?)),
            _ => Err(resp.error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(keys: usize) -> Map<String, Value> {
        (0..keys)
            .map(|i| (format!("k{i}"), Value::from(i)))
            .collect()
    }

    #[test]
    fn dispatch_limits() {
        assert_eq!(dispatch_problem("tfctl-validate", &payload(10)), None);
        assert!(dispatch_problem("tfctl-validate", &payload(11))
            .unwrap()
            .contains("11 top-level keys"));
        assert!(dispatch_problem(&"x".repeat(101), &payload(0)).is_some());
        assert!(dispatch_problem("", &payload(0)).is_some());
        let mut big = Map::new();
        big.insert("blob".into(), Value::from("x".repeat(70_000)));
        assert!(dispatch_problem("e", &big).unwrap().contains("64 KB"));
    }
}
