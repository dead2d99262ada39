//! Git database calls for tfctl's own refs (`refs/tfctl/locks/...`):
//! commits, and refs that move by compare-and-swap. GitHub creates a ref
//! only once (422 "Reference already exists") and, without `force`, moves
//! it only by fast-forward (422 "Update is not a fast forward"), so every
//! write either wins or tells the caller to re-read; these calls turn
//! those answers into outcomes, never errors.
//!
//! Ref names are checked before sending (git's ref-name rules and
//! GitHub's "starts with `refs/`, at least two slashes"), so a bad name
//! fails here with a clear message and never becomes a stray URL.

use serde_json::json;

use super::client::{Client, Response};
use super::models::{ErrorBody, GitCommit, GitRef};
use super::routes::{self, Route};
use super::{GithubError, GithubErrorKind, RepoRef};

/// GitHub's 422 messages that are outcomes, not failures.
const ALREADY_EXISTS: &str = "Reference already exists";
const NOT_FAST_FORWARD: &str = "Update is not a fast forward";
const DOES_NOT_EXIST: &str = "Reference does not exist";

/// What [`Client::create_ref`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefCreated {
    /// The ref is new and points at the commit: this call made it.
    Created,
    /// The ref was already there, maybe made by this call's own attempt
    /// whose answer was lost: read it to learn where it points.
    AlreadyExists,
}

/// What [`Client::update_ref`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefUpdated {
    /// The ref moved to the commit by fast-forward, answered on the first
    /// attempt: this call moved it.
    Updated,
    /// The ref is not at a descendant of where it was (another writer
    /// moved it), or the answer came after a retry and may be to this
    /// call's own earlier write: re-read; if the ref is at the commit, the
    /// write landed.
    NotFastForward,
    /// No such ref.
    Missing,
}

/// Why GitHub (or git) would refuse `name` as a ref, or `None` when it is
/// fine: a full name (`refs/a/b`), at least three components, none empty
/// or starting with `.` or ending with `.lock`, no `..`, `@{`, spaces,
/// control characters or `~^:?*[\`.
pub(crate) fn ref_name_problem(name: &str) -> Option<String> {
    let Some(rest) = name.strip_prefix("refs/") else {
        return Some(format!("`{name}` is not a full ref name (refs/...)"));
    };
    if rest.split('/').count() < 2 {
        return Some(format!(
            "`{name}` needs at least three slash-separated components"
        ));
    }
    components_problem(name, name.split('/'))
}

/// Like [`ref_name_problem`] for the prefix of a list: `refs/` and at least
/// one more character, a trailing `/` allowed, the last component partial.
fn prefix_problem(prefix: &str) -> Option<String> {
    match prefix.strip_prefix("refs/") {
        Some(rest) if !rest.is_empty() => {
            let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
            components_problem(prefix, trimmed.split('/'))
        }
        _ => Some(format!("`{prefix}` is not a ref prefix (refs/...)")),
    }
}

fn components_problem<'a>(name: &str, mut parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let bad_char = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c);
    if name.contains("..") || name.contains("@{") || name.chars().any(bad_char) {
        return Some(format!("`{name}` is not a valid ref name"));
    }
    parts
        .any(|p| p.is_empty() || p.starts_with('.') || p.ends_with(".lock"))
        .then(|| format!("`{name}` is not a valid ref name"))
}

/// `name` without its `refs/`, as the ref routes' `{ref}` takes it.
fn short(name: &str) -> &str {
    name.strip_prefix("refs/").unwrap_or(name)
}

/// The error for a request tfctl refuses to send.
fn not_sent(route: Route, values: &[&str], message: String) -> GithubError {
    GithubError {
        call: format!("{} {}", route.method, route.path(values)),
        kind: GithubErrorKind::Invalid,
        message,
        attempts: 1,
    }
}

/// A 422 whose message is `want` (GitHub's exact words, any case).
fn is_422(resp: &Response, want: &str) -> bool {
    resp.status == 422
        && serde_json::from_slice::<ErrorBody>(&resp.body)
            .ok()
            .and_then(|b| b.message)
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(want))
}

impl Client {
    /// Writes a commit object (no ref moves): `parents` empty for a root
    /// commit. Each lock state is one such commit, its message the record.
    pub async fn create_commit(
        &self,
        repo: &RepoRef,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> Result<GitCommit, GithubError> {
        let body = json!({"message": message, "tree": tree, "parents": parents});
        self.json(
            routes::GIT_CREATE_COMMIT,
            &[&repo.owner, &repo.name],
            &[],
            Some(&body),
        )
        .await
    }

    /// A commit object by SHA (its message is the record it holds).
    pub async fn get_commit(&self, repo: &RepoRef, sha: &str) -> Result<GitCommit, GithubError> {
        self.json(
            routes::GIT_GET_COMMIT,
            &[&repo.owner, &repo.name, sha],
            &[],
            None,
        )
        .await
    }

    /// The ref `name` (full, `refs/...`), or `None` when there is none.
    pub async fn get_ref(&self, repo: &RepoRef, name: &str) -> Result<Option<GitRef>, GithubError> {
        let values = [repo.owner.as_str(), repo.name.as_str(), short(name)];
        if let Some(problem) = ref_name_problem(name) {
            return Err(not_sent(routes::GIT_GET_REF, &values, problem));
        }
        let resp = self.call(routes::GIT_GET_REF, &values, &[], None).await?;
        match resp.status {
            404 => Ok(None),
            _ if resp.is_success() => Ok(Some(resp.json()?)),
            _ => Err(resp.error()),
        }
    }

    /// Creates ref `name` at commit `sha`, unless it exists: the atomic
    /// "take it if free". A retry after a lost answer sees the ref its
    /// first attempt made, so `AlreadyExists` is an answer, not an error.
    pub async fn create_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefCreated, GithubError> {
        let values = [repo.owner.as_str(), repo.name.as_str()];
        if let Some(problem) = ref_name_problem(name) {
            return Err(not_sent(routes::GIT_CREATE_REF, &values, problem));
        }
        let body = json!({"ref": name, "sha": sha});
        let resp = self
            .call(routes::GIT_CREATE_REF, &values, &[], Some(&body))
            .await?;
        if resp.is_success() {
            Ok(RefCreated::Created)
        } else if is_422(&resp, ALREADY_EXISTS) {
            Ok(RefCreated::AlreadyExists)
        } else {
            Err(resp.error())
        }
    }

    /// Moves ref `name` to `sha` only if that is a fast-forward (`force:
    /// false`): compare-and-swap, since `sha`'s parent is the state the
    /// caller read. Of two writers from the same state, one wins.
    pub async fn update_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefUpdated, GithubError> {
        let values = [repo.owner.as_str(), repo.name.as_str(), short(name)];
        if let Some(problem) = ref_name_problem(name) {
            return Err(not_sent(routes::GIT_UPDATE_REF, &values, problem));
        }
        let body = json!({"sha": sha, "force": false});
        let resp = self
            .call(routes::GIT_UPDATE_REF, &values, &[], Some(&body))
            .await?;
        if resp.is_success() {
            // After a retry the 200 may be a no-op on our own lost write or
            // a real move; only a re-read tells the caller which state won.
            Ok(if resp.attempts > 1 {
                RefUpdated::NotFastForward
            } else {
                RefUpdated::Updated
            })
        } else if is_422(&resp, NOT_FAST_FORWARD) {
            Ok(RefUpdated::NotFastForward)
        } else if is_422(&resp, DOES_NOT_EXIST) {
            Ok(RefUpdated::Missing)
        } else {
            Err(resp.error())
        }
    }

    /// Every ref whose full name starts with `prefix` (`refs/tfctl/locks/`),
    /// sorted by name as GitHub lists them, all pages.
    pub async fn matching_refs(
        &self,
        repo: &RepoRef,
        prefix: &str,
    ) -> Result<Vec<GitRef>, GithubError> {
        let values = [repo.owner.as_str(), repo.name.as_str(), short(prefix)];
        if let Some(problem) = prefix_problem(prefix) {
            return Err(not_sent(routes::GIT_LIST_MATCHING_REFS, &values, problem));
        }
        let refs: Vec<GitRef> = self
            .get_all(routes::GIT_LIST_MATCHING_REFS, &values, &[])
            .await?;
        // GitHub matches by string prefix already; this keeps the promise
        // even against a server that answers more.
        Ok(refs
            .into_iter()
            .filter(|r| r.name.starts_with(prefix))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_follow_git_and_github() {
        for ok in [
            "refs/tfctl/locks/S3/a",
            "refs/heads/main",
            "refs/tfctl/locks/S3_a-b.c",
        ] {
            assert_eq!(ref_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "tfctl/locks/a",
            "refs/heads",
            "refs//a",
            "refs/a/",
            "refs/a/.hidden",
            "refs/a/b.lock",
            "refs/a/b..c",
            "refs/a/b c",
            "refs/a/b:c",
            "refs/a/b@{1}",
            "refs/a/b\n",
            "refs/a/..",
        ] {
            assert!(ref_name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn prefixes_may_end_in_a_slash_or_a_partial_component() {
        for ok in ["refs/tfctl/locks/", "refs/tfctl/locks/S3", "refs/tfctl"] {
            assert_eq!(prefix_problem(ok), None, "{ok}");
        }
        for bad in ["refs/", "tfctl/locks/", "refs/a//", "refs/../x", "refs/a b"] {
            assert!(prefix_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn only_githubs_exact_422_messages_are_outcomes() {
        let resp = |status: u16, body: &str| Response {
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
            attempts: 1,
            call: "POST /repos/o/r/git/refs".into(),
        };
        let exists = r#"{"message":"Reference already exists","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"422"}"#;
        assert!(is_422(&resp(422, exists), ALREADY_EXISTS));
        assert!(!is_422(&resp(409, exists), ALREADY_EXISTS));
        assert!(!is_422(
            &resp(422, r#"{"message":"Object does not exist"}"#),
            ALREADY_EXISTS
        ));
        assert!(!is_422(&resp(422, "<html>"), ALREADY_EXISTS));
    }
}
