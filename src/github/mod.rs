//! GitHub REST API: the client (auth, pagination, retries), the calls tfctl
//! makes, and the few high-level helpers commands share (sticky comment,
//! exclusive verdict label, who tfctl is, compare-and-swap Git refs).
//!
//! The base URL is plain data (`https://api.github.com`, a GHES
//! `https://host/api/v3`, or a test server on 127.0.0.1). Tokens live in
//! [`Secret`]s, so no `Debug` or error text shows them. Decisions that can
//! be pure are (`retry`, `routes`, `app` JWT claims, `identity`); this module never reads
//! env vars (`actions::env` does) and never decides verdicts.

mod app;
mod client;
mod identity;
mod issues;
pub mod models;
mod pulls;
mod refs;
mod repos;
pub mod retry;
pub mod routes;

use std::fmt;

pub use client::{Client, ClientConfig};
pub use identity::{effective_bot_login, Identity};
pub use issues::{find_marked_comment, IssueState, IssueUpdate, UpsertAction, UpsertOutcome};
pub use pulls::{MergeMethod, MergeOutcome, PrListState, PullUpdate};
pub use refs::{RefCreated, RefUpdated};
pub use repos::{CommitState, COMPARE_FILES_LIMIT};
pub use retry::{Outcome, RetryPolicy};
pub use routes::ROUTES;

/// A value that must never be printed: tokens, private keys, signing keys.
/// `Debug` shows `Secret(***)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A GitHub App: its id and PEM private key; the installation is given or
/// looked up from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub app_id: String,
    pub private_key: Secret,
    pub installation_id: Option<u64>,
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `GITHUB_TOKEN`, a PAT, or an installation token minted elsewhere.
    Token(Secret),
    /// A GitHub App: JWT → installation token, minted on first use and
    /// renewed before its hour is up.
    App(AppCredentials),
}

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    /// Parses `owner/name`; anything else is an input error.
    pub fn parse(s: &str) -> Result<RepoRef, crate::error::Error> {
        let ok = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => Ok(RepoRef {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(crate::error::Error::input(format!(
                "`{s}` is not a repository (expected OWNER/REPO)"
            ))),
        }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubErrorKind {
    /// GitHub answered with this non-success status.
    Status(u16),
    /// No usable answer: connection refused/dropped, timeout, bad body.
    Transport,
    /// tfctl refused to send the request (a GitHub limit would reject it).
    Invalid,
    /// The answer was not the JSON we expected.
    Decode,
}

/// A failed GitHub call, naming the call and quoting GitHub's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubError {
    /// `METHOD /path` with the real values (never a token or query).
    pub call: String,
    pub kind: GithubErrorKind,
    /// GitHub's message (with its `errors[]` details), or ours.
    pub message: String,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

impl GithubError {
    /// The HTTP status, when GitHub answered.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            GithubErrorKind::Status(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl fmt::Display for GithubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.kind == GithubErrorKind::Invalid {
            "not sent"
        } else {
            "failed"
        };
        write!(f, "GitHub: {} {verb}", self.call)?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        match self.kind {
            GithubErrorKind::Status(s) => write!(f, ": {s} {}", self.message),
            _ => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for GithubError {}

impl From<GithubError> for crate::error::Error {
    fn from(e: GithubError) -> crate::error::Error {
        crate::error::Error::runtime(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ref_parses_and_rejects() {
        let r = RepoRef::parse("octo-org/my.repo_1").unwrap();
        assert_eq!(
            (r.owner.as_str(), r.name.as_str()),
            ("octo-org", "my.repo_1")
        );
        assert_eq!(r.to_string(), "octo-org/my.repo_1");
        for bad in ["", "a", "a/", "/b", "a/b/c", "a/..", "a b/c"] {
            let e = RepoRef::parse(bad).unwrap_err();
            assert_eq!(e.exit_status(), crate::error::ExitStatus::BadInput, "{bad}");
        }
    }

    #[test]
    fn secret_debug_redacts() {
        let s = Secret::new("ghp_abc123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let c = Credentials::Token(s);
        assert!(!format!("{c:?}").contains("abc123"));
    }

    #[test]
    fn error_text_names_call_and_quotes_message() {
        let e = GithubError {
            call: "POST /repos/o/r/issues/5/comments".into(),
            kind: GithubErrorKind::Status(422),
            message: "Validation Failed: body is too long (maximum is 65536 characters)".into(),
            attempts: 1,
        };
        assert_eq!(
            e.to_string(),
            "GitHub: POST /repos/o/r/issues/5/comments failed: 422 Validation Failed: body is too long (maximum is 65536 characters)"
        );
        let e = GithubError {
            attempts: 4,
            kind: GithubErrorKind::Status(502),
            message: "Bad Gateway".into(),
            ..e
        };
        assert!(e
            .to_string()
            .contains("failed after 4 attempts: 502 Bad Gateway"));
        let err: crate::error::Error = e.into();
        assert_eq!(err.exit_status(), crate::error::ExitStatus::Unfinished);
    }
}
