//! Every REST route tfctl calls, as `(method, path template)` data with the
//! templates spelled exactly as GitHub's `OpenAPI` description spells them.
//!
//! The contract test checks [`ROUTES`] against the committed description,
//! and the fake GitHub keys its fault injection by the same strings. Pure:
//! no IO. Calls must use these constants, never ad-hoc paths.

use std::fmt;

/// One REST route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: &'static str,
    /// `OpenAPI` path template, e.g. `/repos/{owner}/{repo}/pulls/{pull_number}`.
    pub template: &'static str,
}

impl Route {
    const fn new(method: &'static str, template: &'static str) -> Route {
        Route { method, template }
    }

    /// Fills the `{…}` placeholders in order with percent-encoded values.
    /// A `{ref}` is a Git ref name (`heads/main`, `tfctl/locks/a`), which
    /// GitHub takes as several path segments: its `/` stay separators.
    ///
    /// # Panics
    /// When the number of values differs from the placeholders: a bug in
    /// the call site, caught by every test that makes the call.
    pub fn path(&self, values: &[&str]) -> String {
        let mut out = String::with_capacity(self.template.len() + 32);
        let mut rest = self.template;
        let mut values = values.iter();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').expect("unclosed placeholder") + open;
            let value = values
                .next()
                .unwrap_or_else(|| panic!("missing value for {}", self.template));
            if &rest[open..=close] == "{ref}" {
                let segments: Vec<String> = value.split('/').map(encode_segment).collect();
                out.push_str(&segments.join("/"));
            } else {
                out.push_str(&encode_segment(value));
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        assert!(values.next().is_none(), "extra value for {}", self.template);
        out
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved
/// characters, so label names with spaces, `:` or `/` stay one segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub const PULLS_GET: Route = Route::new("GET", "/repos/{owner}/{repo}/pulls/{pull_number}");
pub const PULLS_LIST: Route = Route::new("GET", "/repos/{owner}/{repo}/pulls");
pub const PULLS_CREATE: Route = Route::new("POST", "/repos/{owner}/{repo}/pulls");
pub const PULLS_UPDATE: Route = Route::new("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}");
pub const PULLS_LIST_FILES: Route =
    Route::new("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files");
pub const PULLS_LIST_REVIEWS: Route =
    Route::new("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews");
pub const PULLS_MERGE: Route = Route::new("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge");
pub const ISSUES_CREATE: Route = Route::new("POST", "/repos/{owner}/{repo}/issues");
pub const ISSUES_LIST_FOR_REPO: Route = Route::new("GET", "/repos/{owner}/{repo}/issues");
pub const ISSUES_UPDATE: Route = Route::new("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}");
pub const ISSUES_LIST_COMMENTS: Route = Route::new(
    "GET",
    "/repos/{owner}/{repo}/issues/{issue_number}/comments",
);
pub const ISSUES_CREATE_COMMENT: Route = Route::new(
    "POST",
    "/repos/{owner}/{repo}/issues/{issue_number}/comments",
);
pub const ISSUES_UPDATE_COMMENT: Route = Route::new(
    "PATCH",
    "/repos/{owner}/{repo}/issues/comments/{comment_id}",
);
pub const ISSUES_DELETE_COMMENT: Route = Route::new(
    "DELETE",
    "/repos/{owner}/{repo}/issues/comments/{comment_id}",
);
pub const ISSUES_LIST_LABELS: Route =
    Route::new("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels");
pub const ISSUES_ADD_LABELS: Route =
    Route::new("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels");
pub const ISSUES_REMOVE_LABEL: Route = Route::new(
    "DELETE",
    "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
);
pub const STATUSES_CREATE: Route = Route::new("POST", "/repos/{owner}/{repo}/statuses/{sha}");
pub const STATUSES_LIST_FOR_REF: Route =
    Route::new("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses");
pub const REPOS_COMPARE: Route = Route::new("GET", "/repos/{owner}/{repo}/compare/{basehead}");
pub const REPOS_DISPATCH: Route = Route::new("POST", "/repos/{owner}/{repo}/dispatches");
pub const COMMIT_PULLS: Route =
    Route::new("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls");
pub const TEAM_MEMBERSHIP: Route = Route::new(
    "GET",
    "/orgs/{org}/teams/{team_slug}/memberships/{username}",
);
pub const COLLABORATOR_PERMISSION: Route = Route::new(
    "GET",
    "/repos/{owner}/{repo}/collaborators/{username}/permission",
);
pub const GIT_CREATE_COMMIT: Route = Route::new("POST", "/repos/{owner}/{repo}/git/commits");
pub const GIT_GET_COMMIT: Route =
    Route::new("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}");
pub const GIT_GET_REF: Route = Route::new("GET", "/repos/{owner}/{repo}/git/ref/{ref}");
pub const GIT_CREATE_REF: Route = Route::new("POST", "/repos/{owner}/{repo}/git/refs");
pub const GIT_UPDATE_REF: Route = Route::new("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}");
pub const GIT_LIST_MATCHING_REFS: Route =
    Route::new("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}");
pub const USER_AUTHENTICATED: Route = Route::new("GET", "/user");
pub const APP_AUTHENTICATED: Route = Route::new("GET", "/app");
pub const REPO_INSTALLATION: Route = Route::new("GET", "/repos/{owner}/{repo}/installation");
pub const INSTALLATION_TOKEN: Route =
    Route::new("POST", "/app/installations/{installation_id}/access_tokens");

/// Every route the client can call.
pub const ROUTES: &[Route] = &[
    PULLS_GET,
    PULLS_LIST,
    PULLS_CREATE,
    PULLS_UPDATE,
    PULLS_LIST_FILES,
    PULLS_LIST_REVIEWS,
    PULLS_MERGE,
    ISSUES_CREATE,
    ISSUES_LIST_FOR_REPO,
    ISSUES_UPDATE,
    ISSUES_LIST_COMMENTS,
    ISSUES_CREATE_COMMENT,
    ISSUES_UPDATE_COMMENT,
    ISSUES_DELETE_COMMENT,
    ISSUES_LIST_LABELS,
    ISSUES_ADD_LABELS,
    ISSUES_REMOVE_LABEL,
    STATUSES_CREATE,
    STATUSES_LIST_FOR_REF,
    REPOS_COMPARE,
    REPOS_DISPATCH,
    COMMIT_PULLS,
    TEAM_MEMBERSHIP,
    COLLABORATOR_PERMISSION,
    GIT_CREATE_COMMIT,
    GIT_GET_COMMIT,
    GIT_GET_REF,
    GIT_CREATE_REF,
    GIT_UPDATE_REF,
    GIT_LIST_MATCHING_REFS,
    USER_AUTHENTICATED,
    APP_AUTHENTICATED,
    REPO_INSTALLATION,
    INSTALLATION_TOKEN,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_in_order_and_encodes() {
        assert_eq!(
            ISSUES_REMOVE_LABEL.path(&["o", "r", "5", "opa passed: ok/1"]),
            "/repos/o/r/issues/5/labels/opa%20passed%3A%20ok%2F1"
        );
        assert_eq!(
            REPOS_COMPARE.path(&["o", "r", "abc...def"]),
            "/repos/o/r/compare/abc...def"
        );
        // A ref name keeps its slashes; each segment is still encoded.
        assert_eq!(
            GIT_UPDATE_REF.path(&["o", "r", "tfctl/locks/S3 a/x%y"]),
            "/repos/o/r/git/refs/tfctl/locks/S3%20a/x%25y"
        );
        assert_eq!(
            PULLS_GET.to_string(),
            "GET /repos/{owner}/{repo}/pulls/{pull_number}"
        );
    }

    #[test]
    #[should_panic(expected = "missing value")]
    fn too_few_values_panics() {
        PULLS_GET.path(&["o", "r"]);
    }

    #[test]
    fn routes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method, r.template)), "{r}");
        }
    }
}
