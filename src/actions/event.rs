//! Typed GitHub Actions event payloads (`$GITHUB_EVENT_PATH`), for the
//! events tfctl handles: push, `pull_request`, `pull_request_review`,
//! `issue_comment`, `repository_dispatch`, `workflow_dispatch` and schedule.
//!
//! Data only, parsed with no IO: unknown fields are ignored (GitHub adds
//! fields all the time), fields tfctl needs are required, and a missing one
//! is an input error naming the file and the field path. Facts the models
//! encode: Actions push payloads carry no `added`/`modified`/`removed`; a PR
//! body can be null; `issue.pull_request` marks a comment on a PR.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// `event_type` of the dispatch that asks the controller to validate a PR.
pub const EVENT_TYPE_VALIDATE: &str = "tfctl-validate";
/// `event_type` of the dispatch that asks the controller to apply a merge.
pub const EVENT_TYPE_APPLY: &str = "tfctl-apply";

/// Event names tfctl understands, for error messages.
pub const SUPPORTED_EVENTS: &[&str] = &[
    "push",
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "repository_dispatch",
    "workflow_dispatch",
    "schedule",
];

/// A GitHub account as payloads show it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// The repository a payload is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Label {
    pub name: String,
}

/// Author of a pushed commit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitAuthor {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// One commit of a push.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PushCommit {
    pub id: String,
    pub message: String,
    pub author: CommitAuthor,
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Absent in Actions payloads (only webhooks carry it): never rely on it
    /// for changed files.
    #[serde(default)]
    pub added: Option<Vec<String>>,
    #[serde(default)]
    pub modified: Option<Vec<String>>,
    #[serde(default)]
    pub removed: Option<Vec<String>>,
}

/// `push`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: String,
    pub after: String,
    #[serde(default)]
    pub created: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub forced: bool,
    /// Null on a branch or tag deletion.
    #[serde(default)]
    pub head_commit: Option<PushCommit>,
    #[serde(default)]
    pub commits: Vec<PushCommit>,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

impl PushEvent {
    /// The branch name when the push is to a branch (`refs/heads/<b>`).
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }
}

/// A PR's head or base.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PrBranch {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    /// Null when the head repository (a fork) was deleted.
    #[serde(default)]
    pub repo: Option<Repository>,
}

/// The `pull_request` object of PR and review payloads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRequestPayload {
    pub number: u64,
    pub state: String,
    pub title: String,
    /// GitHub sends null for an empty description.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub user: User,
    #[serde(default)]
    pub draft: bool,
    /// Absent in review payloads; `true` only on a merged close.
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    pub head: PrBranch,
    pub base: PrBranch,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// How many files the PR changes (the files API lists at most 3,000).
    #[serde(default)]
    pub changed_files: Option<u64>,
}

impl PullRequestPayload {
    /// True when the head lives in another repository than the base
    /// ([`crate::github::models::is_fork`]).
    pub fn is_from_fork(&self) -> bool {
        crate::github::models::is_fork(
            self.head.repo.as_ref().map(|r| r.full_name.as_str()),
            self.base.repo.as_ref().map(|r| r.full_name.as_str()),
        )
    }
}

/// `pull_request`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub number: u64,
    pub pull_request: PullRequestPayload,
    /// Set on `labeled` / `unlabeled`.
    #[serde(default)]
    pub label: Option<Label>,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

impl PullRequestEvent {
    /// `closed` with `merged: true`: the PR was merged (GitHub has no
    /// separate `merged` action).
    pub fn is_merged_close(&self) -> bool {
        self.action == "closed" && self.pull_request.merged == Some(true)
    }
}

/// A review as the `pull_request_review` payload shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReviewPayload {
    pub id: u64,
    pub user: User,
    /// Lowercase in webhooks (`approved`, `commented`, `changes_requested`).
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

impl ReviewPayload {
    /// Webhooks say `approved`, the REST API `APPROVED`.
    pub fn is_approval(&self) -> bool {
        self.state.eq_ignore_ascii_case("approved")
    }
}

/// `pull_request_review`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRequestReviewEvent {
    pub action: String,
    pub review: ReviewPayload,
    pub pull_request: PullRequestPayload,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

/// Present on an issue that is a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IssuePrLink {
    #[serde(default)]
    pub url: Option<String>,
}

/// The `issue` object of an `issue_comment` payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IssuePayload {
    pub number: u64,
    pub title: String,
    pub state: String,
    pub user: User,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Set only when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<IssuePrLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommentPayload {
    pub id: u64,
    pub body: String,
    pub user: User,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `issue_comment`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IssueCommentEvent {
    pub action: String,
    pub issue: IssuePayload,
    pub comment: CommentPayload,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

impl IssueCommentEvent {
    /// The comment was made on a pull request (not a plain issue).
    pub fn is_on_pull_request(&self) -> bool {
        self.issue.pull_request.is_some()
    }
}

/// `repository_dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RepositoryDispatchEvent {
    /// The sender's `event_type`.
    pub action: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub client_payload: Option<Map<String, Value>>,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

/// The `client_payload` tfctl's own dispatches carry (`tfctl-validate`,
/// `tfctl-apply`). At most 10 top-level keys (GitHub's limit).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DispatchPayload {
    /// The config repository, `owner/name`.
    pub source_repo: String,
    pub pr_number: u64,
    pub head_sha: String,
    /// The PR's base branch.
    pub base_ref: String,
    /// Set on `tfctl-apply`: the merge commit to apply. Sent as
    /// `merge_commit_sha` (GitHub's name for it); `merge_sha` is read too.
    #[serde(
        default,
        rename = "merge_commit_sha",
        alias = "merge_sha",
        skip_serializing_if = "Option::is_none"
    )]
    pub merge_sha: Option<String>,
}

impl DispatchPayload {
    /// The payload as the `client_payload` object the dispatch API takes.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("a struct of strings and numbers serializes to an object"),
        }
    }
}

/// The `client_payload` of a `tfctl-apply` dispatch: which merge of which
/// PR to apply. The head is not needed (the apply gate reads it from the
/// PR); `merge_sha` is accepted as another spelling of `merge_commit_sha`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ApplyPayload {
    /// The repository the PR lives in, `owner/name`.
    pub source_repo: String,
    pub pr_number: u64,
    #[serde(alias = "merge_sha")]
    pub merge_commit_sha: String,
    /// The branch the PR merged into (the environment branch).
    pub base_ref: String,
}

impl RepositoryDispatchEvent {
    /// Reads tfctl's payload out of `client_payload`; a missing or mistyped
    /// field is an input error naming `client_payload.<field>`.
    pub fn tfctl_payload(&self, file: &Path) -> Result<DispatchPayload> {
        let value = Value::Object(self.client_payload.clone().unwrap_or_default());
        from_value_with_path(value, file, "client_payload")
    }

    /// Reads a `tfctl-apply` payload, with the same error messages.
    pub fn apply_payload(&self, file: &Path) -> Result<ApplyPayload> {
        let value = Value::Object(self.client_payload.clone().unwrap_or_default());
        from_value_with_path(value, file, "client_payload")
    }
}

/// `workflow_dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct WorkflowDispatchEvent {
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub inputs: Option<Map<String, Value>>,
    #[serde(default)]
    pub workflow: Option<String>,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

/// `schedule`: a cron trigger. Its payload may hold nothing but the cron
/// expression, so everything else is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScheduleEvent {
    /// The cron expression that fired, e.g. `0 6 * * 1-5`.
    pub schedule: String,
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub repository: Option<Repository>,
    #[serde(default)]
    pub sender: Option<User>,
}

/// One parsed event payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Push(Box<PushEvent>),
    PullRequest(Box<PullRequestEvent>),
    PullRequestReview(Box<PullRequestReviewEvent>),
    IssueComment(Box<IssueCommentEvent>),
    RepositoryDispatch(Box<RepositoryDispatchEvent>),
    WorkflowDispatch(Box<WorkflowDispatchEvent>),
    Schedule(Box<ScheduleEvent>),
}

impl Event {
    /// The event name as `GITHUB_EVENT_NAME` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Push(_) => "push",
            Event::PullRequest(_) => "pull_request",
            Event::PullRequestReview(_) => "pull_request_review",
            Event::IssueComment(_) => "issue_comment",
            Event::RepositoryDispatch(_) => "repository_dispatch",
            Event::WorkflowDispatch(_) => "workflow_dispatch",
            Event::Schedule(_) => "schedule",
        }
    }

    /// Who triggered it, when the payload says.
    pub fn sender(&self) -> Option<&User> {
        match self {
            Event::Push(e) => e.sender.as_ref(),
            Event::PullRequest(e) => e.sender.as_ref(),
            Event::PullRequestReview(e) => e.sender.as_ref(),
            Event::IssueComment(e) => e.sender.as_ref(),
            Event::RepositoryDispatch(e) => e.sender.as_ref(),
            Event::WorkflowDispatch(e) => e.sender.as_ref(),
            Event::Schedule(e) => e.sender.as_ref(),
        }
    }
}

/// Parses a payload for `event_name`. `file` only names the payload in errors.
pub fn parse(event_name: &str, json_text: &str, file: &Path) -> Result<Event> {
    let value: Value = serde_json::from_str(json_text)
        .map_err(|e| Error::input(format!("{}: not valid JSON: {e}", file.display())))?;
    Ok(match event_name {
        "push" => Event::Push(Box::new(from_value_with_path(value, file, "")?)),
        "pull_request" => Event::PullRequest(Box::new(from_value_with_path(value, file, "")?)),
        "pull_request_review" => {
            Event::PullRequestReview(Box::new(from_value_with_path(value, file, "")?))
        }
        "issue_comment" => Event::IssueComment(Box::new(from_value_with_path(value, file, "")?)),
        "repository_dispatch" => {
            Event::RepositoryDispatch(Box::new(from_value_with_path(value, file, "")?))
        }
        "workflow_dispatch" => {
            Event::WorkflowDispatch(Box::new(from_value_with_path(value, file, "")?))
        }
        "schedule" => Event::Schedule(Box::new(from_value_with_path(value, file, "")?)),
        other => {
            return Err(Error::input(format!(
                "{}: unsupported event `{other}` (tfctl handles {})",
                file.display(),
                SUPPORTED_EVENTS.join(", ")
            )))
        }
    })
}

/// Deserializes `value`, turning serde's error into
/// `file: prefix.path.field: missing field` (or the type problem).
fn from_value_with_path<T: DeserializeOwned>(value: Value, file: &Path, prefix: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner().to_string();
        let mut segments: Vec<String> = Vec::new();
        if !prefix.is_empty() {
            segments.push(prefix.to_owned());
        }
        if path != "." {
            segments.push(path);
        }
        // serde reports a missing field at its parent; name the field itself.
        let problem = match missing_field_name(&inner) {
            Some(field) => {
                segments.push(field.to_owned());
                "missing field".to_owned()
            }
            None => inner,
        };
        let at = if segments.is_empty() {
            String::new()
        } else {
            format!("{}: ", segments.join("."))
        };
        Error::input(format!("{}: {at}{problem}", file.display()))
    })
}

fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path() -> &'static Path {
        Path::new("event.json")
    }

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/events")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Every fixture payload parses as the event its file name says.
    #[test]
    fn every_fixture_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github/events");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let file = p.file_name().unwrap().to_str().unwrap();
            let event_name = file.split('.').next().unwrap();
            let text = std::fs::read_to_string(&p).unwrap();
            let event = parse(event_name, &text, &p).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(event.name(), event_name);
            count += 1;
        }
        assert!(
            count >= 24,
            "expected the fixture folder, found {count} files"
        );
    }

    #[test]
    fn push_tag_deletion_has_no_head_commit() {
        let Event::Push(p) = parse("push", &fixture("push.json"), path()).unwrap() else {
            panic!("not a push")
        };
        assert!(p.deleted);
        assert!(p.head_commit.is_none());
        assert_eq!(p.branch(), None);
    }

    #[test]
    fn push_without_file_lists_parses() {
        // Actions strips added/modified/removed from commits.
        let mut v: Value = serde_json::from_str(&fixture("push.2.json")).unwrap();
        for c in v["commits"].as_array_mut().unwrap() {
            let c = c.as_object_mut().unwrap();
            c.remove("added");
            c.remove("modified");
            c.remove("removed");
        }
        let Event::Push(p) = parse("push", &v.to_string(), path()).unwrap() else {
            panic!()
        };
        assert!(p.commits.iter().all(|c| c.added.is_none()));
    }

    #[test]
    fn synthesized_merged_close() {
        let mut v: Value = serde_json::from_str(&fixture("pull_request.closed.json")).unwrap();
        v["pull_request"]["merged"] = json!(true);
        v["pull_request"]["merged_at"] = json!("2019-05-15T15:21:00Z");
        v["pull_request"]["body"] = Value::Null;
        let Event::PullRequest(pr) = parse("pull_request", &v.to_string(), path()).unwrap() else {
            panic!()
        };
        assert!(pr.is_merged_close());
        assert_eq!(pr.pull_request.body, None);
        assert!(!pr.pull_request.is_from_fork());
    }

    #[test]
    fn issue_comment_on_pr_is_recognised() {
        let mut v: Value = serde_json::from_str(&fixture("issue_comment.created.json")).unwrap();
        let Event::IssueComment(plain) = parse("issue_comment", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert!(!plain.is_on_pull_request());
        v["issue"]["pull_request"] = json!({"url": "https://api.github.com/repos/o/r/pulls/1"});
        let Event::IssueComment(on_pr) = parse("issue_comment", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert!(on_pr.is_on_pull_request());
        assert_eq!(on_pr.issue.number, 1);
    }

    #[test]
    fn missing_nested_field_is_named() {
        let mut v: Value = serde_json::from_str(&fixture("pull_request.opened.json")).unwrap();
        v["pull_request"]["head"]
            .as_object_mut()
            .unwrap()
            .remove("sha");
        let err = parse("pull_request", &v.to_string(), path()).unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "event.json: pull_request.head.sha: missing field"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let mut v: Value = serde_json::from_str(&fixture("pull_request.opened.json")).unwrap();
        v["number"] = json!("two");
        let err = parse("pull_request", &v.to_string(), path()).unwrap_err();
        assert!(
            err.message.starts_with("event.json: number: invalid type"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unsupported_event_and_bad_json() {
        let err = parse("deployment", "{}", path()).unwrap_err();
        assert!(err.message.contains("unsupported event `deployment`"));
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        let err = parse("push", "{", path()).unwrap_err();
        assert!(err.message.starts_with("event.json: not valid JSON"));
    }

    #[test]
    fn dispatch_payload_round_trip_and_errors() {
        let Event::RepositoryDispatch(d) = parse(
            "repository_dispatch",
            &fixture("repository_dispatch.on-demand-test.json"),
            path(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(d.action, "on-demand-test");
        let err = d.tfctl_payload(path()).unwrap_err();
        assert_eq!(
            err.message,
            "event.json: client_payload.source_repo: missing field"
        );

        let mut v: Value =
            serde_json::from_str(&fixture("repository_dispatch.on-demand-test.json")).unwrap();
        let payload = DispatchPayload {
            source_repo: "o/config".into(),
            pr_number: 7,
            head_sha: "abc".into(),
            base_ref: "main".into(),
            merge_sha: None,
        };
        v["client_payload"] = serde_json::to_value(&payload).unwrap();
        v["action"] = json!(EVENT_TYPE_VALIDATE);
        let Event::RepositoryDispatch(d) =
            parse("repository_dispatch", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.tfctl_payload(path()).unwrap(), payload);
        v["client_payload"]["pr_number"] = json!("seven");
        let Event::RepositoryDispatch(d) =
            parse("repository_dispatch", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        let err = d.tfctl_payload(path()).unwrap_err();
        assert!(
            err.message
                .starts_with("event.json: client_payload.pr_number: invalid type"),
            "{}",
            err.message
        );
    }

    #[test]
    fn apply_payload_takes_either_spelling_of_the_merge_commit() {
        let mut v: Value =
            serde_json::from_str(&fixture("repository_dispatch.on-demand-test.json")).unwrap();
        v["action"] = json!(EVENT_TYPE_APPLY);
        v["client_payload"] = json!({"source_repo": "o/config", "pr_number": 7,
            "merge_commit_sha": "m1", "base_ref": "prod"});
        let Event::RepositoryDispatch(d) =
            parse("repository_dispatch", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.apply_payload(path()).unwrap().merge_commit_sha, "m1");
        v["client_payload"] = json!({"source_repo": "o/config", "pr_number": 7,
            "merge_sha": "m2", "head_sha": "h", "base_ref": "prod"});
        let Event::RepositoryDispatch(d) =
            parse("repository_dispatch", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.apply_payload(path()).unwrap().merge_commit_sha, "m2");
        v["client_payload"] =
            json!({"source_repo": "o/config", "pr_number": 7, "base_ref": "prod"});
        let Event::RepositoryDispatch(d) =
            parse("repository_dispatch", &v.to_string(), path()).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            d.apply_payload(path()).unwrap_err().message,
            "event.json: client_payload.merge_commit_sha: missing field"
        );
    }

    #[test]
    fn schedule_payload_may_be_just_the_cron() {
        let Event::Schedule(e) =
            parse("schedule", r#"{"schedule": "0 6 * * 1-5"}"#, path()).unwrap()
        else {
            panic!("not a schedule")
        };
        assert_eq!(e.schedule, "0 6 * * 1-5");
        let event = Event::Schedule(e);
        assert_eq!(event.name(), "schedule");
        assert!(event.sender().is_none());
        let err = parse("schedule", "{}", path()).unwrap_err();
        assert_eq!(err.message, "event.json: schedule: missing field");
    }

    #[test]
    fn review_state_is_case_insensitive() {
        let Event::PullRequestReview(r) = parse(
            "pull_request_review",
            &fixture("pull_request_review.submitted.json"),
            path(),
        )
        .unwrap() else {
            panic!()
        };
        assert!(!r.review.is_approval());
        let mut review = r.review.clone();
        review.state = "APPROVED".into();
        assert!(review.is_approval());
    }
}
