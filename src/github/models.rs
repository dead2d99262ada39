//! Response models of the REST calls tfctl makes: only the fields tfctl
//! reads, unknown fields ignored. Data only; tested against GitHub's own
//! examples in `tests/fixtures/github/api-responses/`.
//!
//! Timestamps stay ISO-8601 strings (`2019-05-15T15:20:38Z`): GitHub always
//! writes them in UTC with `Z`, so they compare correctly as strings.

use serde::{Deserialize, Serialize};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub login: String,
    /// `User`, `Bot`, `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Label {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RepoSummary {
    pub full_name: String,
}

/// A PR's head or base.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PrBranch {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    /// Null when a fork was deleted.
    #[serde(default)]
    pub repo: Option<RepoSummary>,
}

/// A pull request (`pulls/get`, `pulls/list`, `commits/{sha}/pulls`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRequest {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub user: User,
    pub head: PrBranch,
    pub base: PrBranch,
    #[serde(default)]
    pub draft: Option<bool>,
    /// Only in `pulls/get`; list endpoints omit it (use `merged_at`).
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// Only in `pulls/get`; null while GitHub computes it.
    #[serde(default)]
    pub mergeable: Option<bool>,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// How many files the PR changes. Only in `pulls/get` and PR event
    /// payloads; the files API lists at most 3,000 of them, so a count above
    /// the listed files means the list was cut.
    #[serde(default)]
    pub changed_files: Option<u64>,
}

impl PullRequest {
    /// Merged, whichever endpoint the PR came from.
    pub fn is_merged(&self) -> bool {
        self.merged == Some(true) || self.merged_at.is_some()
    }

    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name.clone()).collect()
    }

    /// The head branch lives in another repository than `repo`, the PR's own
    /// (a fork): see [`is_fork`].
    pub fn is_from_fork(&self, repo: &super::RepoRef) -> bool {
        is_fork(
            self.head.repo.as_ref().map(|h| h.full_name.as_str()),
            Some(&repo.to_string()),
        )
    }
}

/// The one definition of "fork": a head whose repository is not the PR's
/// own (`owner/name`, which GitHub compares without case). A head whose
/// repository was deleted, or a PR whose own repository is unknown, counts
/// as a fork: neither can be shown to be the PR's own.
pub fn is_fork(head_repo: Option<&str>, own_repo: Option<&str>) -> bool {
    match (head_repo, own_repo) {
        (Some(head), Some(own)) => !head.eq_ignore_ascii_case(own),
        _ => true,
    }
}

/// One changed file of a PR or a compare.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ChangedFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed`, `unchanged`.
    pub status: String,
    /// Set on renames: the old path (whose stack may need a destroy).
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// A PR review.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Review {
    pub id: u64,
    /// Null for a deleted account.
    #[serde(default)]
    pub user: Option<User>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The head commit the review was made on.
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
}

/// An issue or PR comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl Comment {
    pub fn author(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

/// Present on issues that are pull requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IssuePrLink {
    #[serde(default)]
    pub url: Option<String>,
}

/// An issue (`issues/get`, `issues/create`, search results).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub pull_request: Option<IssuePrLink>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A commit status.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitStatus {
    pub id: u64,
    pub state: String,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
    /// Who set it (a GitHub fact: a writer can add statuses, but as
    /// themselves).
    #[serde(default)]
    pub creator: Option<User>,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GitAuthor {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitDetail {
    pub message: String,
    #[serde(default)]
    pub author: Option<GitAuthor>,
}

/// A commit in a compare.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitSummary {
    pub sha: String,
    pub commit: CommitDetail,
}

/// `repos/compare-commits` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Comparison {
    /// `ahead`, `behind`, `identical`, `diverged`.
    pub status: String,
    pub ahead_by: u64,
    pub behind_by: u64,
    pub total_commits: u64,
    #[serde(default)]
    pub commits: Vec<CommitSummary>,
    #[serde(default)]
    pub files: Vec<ChangedFile>,
}

/// `pulls/merge` success answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MergeResult {
    /// The merge commit.
    pub sha: String,
    pub merged: bool,
    pub message: String,
}

/// `teams/get-membership-for-user-in-org` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamMembership {
    /// `active` or `pending` (invited, not yet a member).
    pub state: String,
    #[serde(default)]
    pub role: Option<String>,
}

/// `repos/get-collaborator-permission-level` answer: a user's access to
/// one repository, from every source of grants (repo, teams, org).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CollaboratorPermission {
    /// Legacy base role: `admin`, `write`, `read` or `none` (`maintain` is
    /// reported as `write`, `triage` as `read`).
    pub permission: String,
    /// The assigned role: `admin`, `maintain`, `write`, `triage`, `read`,
    /// or the name of a custom role (whose base is in `permission`).
    #[serde(default)]
    pub role_name: Option<String>,
}

impl CollaboratorPermission {
    /// Whether this access lets the user push, which is what GitHub's
    /// branch protection asks of an approving reviewer. A built-in
    /// `role_name` decides; a custom or missing one falls back to the base
    /// `permission`. Any answer that is not clearly write is "no".
    pub fn can_write(&self) -> bool {
        match self
            .role_name
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("admin" | "maintain" | "write") => true,
            Some("triage" | "read" | "none") => false,
            _ => matches!(
                self.permission.to_ascii_lowercase().as_str(),
                "admin" | "write"
            ),
        }
    }
}

/// `apps/get-authenticated` answer: the App the JWT belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct App {
    pub id: u64,
    /// URL-friendly name; the App writes as `<slug>[bot]`.
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `apps/get-repo-installation` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Installation {
    pub id: u64,
}

/// `apps/create-installation-access-token` answer (the token is wrapped by
/// the client at once).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct InstallationToken {
    pub token: String,
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationToken(***)")
    }
}

/// A Git ref (`git/get-ref`, `git/list-matching-refs`): its full name and
/// the SHA it points at, flattened from GitHub's `{ref, object: {sha}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawGitRef")]
pub struct GitRef {
    /// Full name, e.g. `refs/tfctl/locks/S3/a`.
    pub name: String,
    pub sha: String,
}

#[derive(Deserialize)]
struct RawGitRef {
    #[serde(rename = "ref")]
    name: String,
    object: ShaOnly,
}

#[derive(Deserialize)]
struct ShaOnly {
    sha: String,
}

impl From<RawGitRef> for GitRef {
    fn from(r: RawGitRef) -> GitRef {
        GitRef {
            name: r.name,
            sha: r.object.sha,
        }
    }
}

/// A Git commit object (`git/get-commit`, `git/create-commit`), flattened
/// from GitHub's `tree: {sha}` and `parents: [{sha}]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawGitCommit")]
pub struct GitCommit {
    pub sha: String,
    pub message: String,
    pub tree_sha: String,
    pub parents: Vec<String>,
}

#[derive(Deserialize)]
struct RawGitCommit {
    sha: String,
    message: String,
    tree: ShaOnly,
    #[serde(default)]
    parents: Vec<ShaOnly>,
}

impl From<RawGitCommit> for GitCommit {
    fn from(c: RawGitCommit) -> GitCommit {
        GitCommit {
            sha: c.sha,
            message: c.message,
            tree_sha: c.tree.sha,
            parents: c.parents.into_iter().map(|p| p.sha).collect(),
        }
    }
}

/// GitHub's error body: `{"message": …, "errors": [...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

/// One `errors[]` item: a message, or a code about a field.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrorDetail {
    Full {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        field: Option<String>,
    },
    Text(String),
}

impl ErrorBody {
    /// `Validation Failed: body is too long (maximum is 65536 characters)`.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut out = self.message.clone()?;
        let details: Vec<String> = self
            .errors
            .iter()
            .filter_map(|e| match e {
                ErrorDetail::Text(t) => Some(t.clone()),
                ErrorDetail::Full {
                    message: Some(m), ..
                } => Some(m.clone()),
                ErrorDetail::Full {
                    code: Some(c),
                    field,
                    ..
                } => Some(match field {
                    Some(f) => format!("{f} {c}"),
                    None => c.clone(),
                }),
                ErrorDetail::Full { .. } => None,
            })
            .collect();
        if !details.is_empty() {
            out.push_str(": ");
            out.push_str(&details.join("; "));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_describes_details() {
        let b: ErrorBody = serde_json::from_str(
            r#"{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"},{"resource":"Label","code":"already_exists","field":"name"},"plain"],"documentation_url":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            b.describe().unwrap(),
            "Validation Failed: body is too long (maximum is 65536 characters); name already_exists; plain"
        );
        let b: ErrorBody = serde_json::from_str(r#"{"message":"Not Found"}"#).unwrap();
        assert_eq!(b.describe().unwrap(), "Not Found");
    }

    #[test]
    fn write_access_follows_the_role_then_the_base_permission() {
        let p = |permission: &str, role: Option<&str>| CollaboratorPermission {
            permission: permission.into(),
            role_name: role.map(str::to_owned),
        };
        for role in ["admin", "maintain", "write", "Write"] {
            assert!(p("write", Some(role)).can_write(), "{role}");
        }
        for role in ["triage", "read", "none"] {
            assert!(!p("read", Some(role)).can_write(), "{role}");
        }
        // A built-in role that says read wins over an odd base permission.
        assert!(!p("write", Some("read")).can_write());
        // Custom roles and old servers without role_name: the base decides.
        assert!(p("write", Some("security-reviewer")).can_write());
        assert!(!p("read", Some("auditor")).can_write());
        assert!(p("admin", None).can_write());
        assert!(!p("none", None).can_write());
    }

    /// GitHub's own examples (`git-ref-items`, cut to one item, and
    /// `git-commit` in the REST description).
    #[test]
    fn git_refs_and_commits_decode_from_githubs_examples() {
        let refs: Vec<GitRef> = serde_json::from_str(
            r#"[{"ref":"refs/heads/feature-a","node_id":"MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlLWE=",
                 "url":"https://api.github.com/repos/octocat/Hello-World/git/refs/heads/feature-a",
                 "object":{"type":"commit","sha":"aa218f56b14c9653891f9e74264a383fa43fefbd",
                           "url":"https://api.github.com/repos/octocat/Hello-World/git/commits/aa218f56b14c9653891f9e74264a383fa43fefbd"}}]"#,
        )
        .unwrap();
        assert_eq!(
            refs,
            vec![GitRef {
                name: "refs/heads/feature-a".into(),
                sha: "aa218f56b14c9653891f9e74264a383fa43fefbd".into()
            }]
        );
        let c: GitCommit = serde_json::from_str(
            r#"{"sha":"7638417db6d59f3c431d3e1f261cc637155684cd","node_id":"MDY6Q29tbWl0NzYzODQxN2RiNmQ1OWYzYzQzMWQzZTFmMjYxY2M2MzcxNTU2ODRjZA==",
                "url":"https://api.github.com/repos/octocat/Hello-World/git/commits/7638417db6d59f3c431d3e1f261cc637155684cd",
                "author":{"date":"2014-11-07T22:01:45Z","name":"Monalisa Octocat","email":"octocat@github.com"},
                "committer":{"date":"2014-11-07T22:01:45Z","name":"Monalisa Octocat","email":"octocat@github.com"},
                "message":"my commit message",
                "tree":{"url":"https://api.github.com/repos/octocat/Hello-World/git/trees/827efc6d56897b048c772eb4087f854f46256132","sha":"827efc6d56897b048c772eb4087f854f46256132"},
                "parents":[{"url":"https://api.github.com/repos/octocat/Hello-World/git/commits/7d1b31e74ee336d15cbd21741bc88a537ed063a0","sha":"7d1b31e74ee336d15cbd21741bc88a537ed063a0","html_url":"https://github.com/octocat/Hello-World/commit/7d1b31e74ee336d15cbd21741bc88a537ed063a0"}],
                "verification":{"verified":false,"reason":"unsigned","signature":null,"payload":null,"verified_at":null},
                "html_url":"https://github.com/octocat/Hello-World/commit/7638417db6d59f3c431d3e1f261cc637155684cd"}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            GitCommit {
                sha: "7638417db6d59f3c431d3e1f261cc637155684cd".into(),
                message: "my commit message".into(),
                tree_sha: "827efc6d56897b048c772eb4087f854f46256132".into(),
                parents: vec!["7d1b31e74ee336d15cbd21741bc88a537ed063a0".into()],
            }
        );
    }

    #[test]
    fn merged_from_either_field() {
        let pr: PullRequest = serde_json::from_str(
            r#"{"number":1,"state":"closed","title":"t","user":{"login":"u"},
                "head":{"ref":"h","sha":"1","repo":null},"base":{"ref":"main","sha":"2"},
                "merged_at":"2020-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(pr.is_merged());
    }
}
