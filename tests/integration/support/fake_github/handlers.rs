//! The fake GitHub's routes: GitHub's behaviour for every call tfctl makes
//! (status codes, error bodies, pagination, limits, the Git database's
//! create-once and fast-forward-only refs), over [`State`].
//!
//! Route templates are spelled as in GitHub's `OpenAPI` description, so the
//! request log and fault keys match `tfctl::github::ROUTES` exactly.
// Helpers return the finished error `Response` as their `Err`: its size is
// irrelevant in a test server, and it keeps every handler a straight line.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::state::*;

pub(super) type Shared = Arc<Mutex<State>>;
type Q = Query<HashMap<String, String>>;

/// Who is calling (from the token).
#[derive(Debug, Clone)]
pub(super) struct Caller(pub String);

const DOCS: &str = "https://docs.github.com/rest";
const BODY_LIMIT: usize = 65_536;

pub(super) fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    (
        code,
        axum::Json(
            json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
        ),
    )
        .into_response()
}

fn validation(resource: &str, field: &str, code: &str, message: Option<&str>) -> Response {
    let mut e = json!({"resource": resource, "field": field, "code": code});
    if let Some(m) = message {
        e["message"] = Value::from(m);
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"message": "Validation Failed", "errors": [e], "documentation_url": DOCS, "status": "422"})),
    )
        .into_response()
}

fn not_found() -> Response {
    error(404, "Not Found")
}

fn ok(status: u16, v: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(v)).into_response()
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|_| error(400, "Problems parsing JSON"))
}

/// A JSON request body; GitHub answers 400 to one that doesn't parse.
pub(super) struct GhJson(pub Value);

impl<S: Send + Sync> axum::extract::FromRequest<S> for GhJson {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<GhJson, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_body(&bytes).map(GhJson)
    }
}

/// GitHub-style page of `items` with a `Link` header.
fn paginate(st: &State, path: &str, q: &HashMap<String, String>, items: Vec<Value>) -> Response {
    let per_page: usize = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    let mut links = Vec::new();
    let link = |p: usize, rel: &str| {
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("page".into(), p.to_string()));
        let qs: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        format!("<{}{path}?{}>; rel=\"{rel}\"", st.api_url, qs.join("&"))
    };
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let mut resp = ok(200, Value::Array(slice));
    if !links.is_empty() {
        resp.headers_mut()
            .insert("link", HeaderValue::from_str(&links.join(", ")).unwrap());
    }
    resp
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Auth, faults and the request log, around every matched route.
pub(super) async fn middleware(
    AxState(st): AxState<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    // The path as sent (a nested GHES-style router strips its prefix from uri()).
    let uri = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().clone(), |o| o.0.clone());
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    // Under a GHES-style prefix, key routes by GitHub's own template.
    let prefix = st.lock().unwrap().prefix.clone();
    let template = template
        .strip_prefix(prefix.as_str())
        .map(str::to_owned)
        .unwrap_or(template)
        // A multi-segment `{*ref}` is GitHub's `{ref}`.
        .replace("{*", "{");
    let route = format!("{method} {template}");
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body_json = if bytes.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        )
    };
    let record = RequestRecord {
        method: method.clone(),
        path: path.clone(),
        query,
        body: body_json,
        route: route.clone(),
        status: 0,
    };
    let index = {
        let mut s = st.lock().unwrap();
        s.requests.push(record);
        s.requests.len() - 1
    };
    let finish = |resp: Response, status: u16| {
        st.lock().unwrap().requests[index].status = status;
        resp
    };

    // Auth first, like GitHub: a bad token is 401 whatever else is wrong.
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim_start_matches("Bearer ")
                .trim_start_matches("token ")
                .to_owned()
        });
    // App-level routes take the App's JWT, like GitHub; all others a token.
    let app_route =
        template == "/app" || template.starts_with("/app/") || template.ends_with("/installation");
    let caller = {
        let s = st.lock().unwrap();
        match (&auth, app_route) {
            (Some(jwt), true) => verify_jwt(&s, jwt),
            (Some(token), false) => s.tokens.get(token).cloned(),
            (None, _) => None,
        }
    };
    let Some(caller) = caller else {
        return finish(error(401, "Bad credentials"), 401);
    };

    let fault = st.lock().unwrap().take_fault(&method, &route);
    if let Some(Fault::Hang { millis }) = fault {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    } else if let Some(f) = fault.filter(|f| *f != Fault::DropAfterWrite) {
        let resp = fault_response(f, st.lock().unwrap().clock);
        let status = if f == Fault::Drop {
            0
        } else {
            resp.status().as_u16()
        };
        return finish(resp, status);
    }

    req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(Caller(caller));
    let resp = next.run(req).await;
    st.lock().unwrap().run_hooks(&route);
    if fault == Some(Fault::DropAfterWrite) {
        // The work is done; only the answer is lost on the way back.
        return finish(fault_response(Fault::Drop, 0), 0);
    }
    let status = resp.status().as_u16();
    finish(resp, status)
}

fn verify_jwt(s: &State, jwt: &str) -> Option<String> {
    let app = s.app.as_ref()?;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes()).ok()?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[app.app_id.as_str()]);
    v.set_required_spec_claims(&["exp", "iat", "iss"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v).ok()?;
    Some(format!("app/{}", app.slug))
}

/// A body that fails after the headers: the client sees the connection drop.
struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: dropped connection",
        ))))
    }
}

fn fault_response(f: Fault, now: u64) -> Response {
    match f {
        Fault::Status(code) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                format!("<html><body><h1>{code} Server Error</h1></body></html>"),
            )
                .into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/html"));
            r
        }
        Fault::SecondaryRateLimit { retry_after } => {
            let mut r = error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            r
        }
        Fault::PrimaryRateLimit { reset_in } => {
            let mut r = error(403, "API rate limit exceeded for installation.");
            let h = r.headers_mut();
            h.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
            h.insert(
                "x-ratelimit-reset",
                HeaderValue::from(now_unix().max(now) + reset_in),
            );
            r
        }
        Fault::Hang { .. } | Fault::DropAfterWrite => unreachable!("handled around the route"),
        Fault::Drop => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::new(FailingBody))
            .unwrap(),
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(super) fn router(st: Shared) -> Router {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(list_pulls).post(create_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            get(get_pull).patch(update_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{pull_number}/files",
            get(list_files),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            get(list_reviews),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
            put(merge),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_repo_issues).post(create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}",
            get(get_issue).patch(update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            axum::routing::patch(update_comment).delete(delete_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            get(list_issue_labels).post(add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            delete(remove_label),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/events",
            get(list_events),
        )
        .route(
            "/repos/{owner}/{repo}/labels",
            get(list_repo_labels).post(create_label),
        )
        .route("/search/issues", get(search_issues))
        .route("/repos/{owner}/{repo}/statuses/{sha}", post(create_status))
        .route(
            "/repos/{owner}/{repo}/commits/{ref}/statuses",
            get(list_statuses),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{commit_sha}/pulls",
            get(commit_pulls),
        )
        .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare))
        .route("/repos/{owner}/{repo}/dispatches", post(dispatch))
        .route(
            "/orgs/{org}/teams/{team_slug}/memberships/{username}",
            get(team_membership),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            get(collaborator_permission),
        )
        .route("/repos/{owner}/{repo}/git/commits", post(create_git_commit))
        .route(
            "/repos/{owner}/{repo}/git/commits/{commit_sha}",
            get(get_git_commit),
        )
        .route("/repos/{owner}/{repo}/git/ref/{*ref}", get(get_git_ref))
        .route("/repos/{owner}/{repo}/git/refs", post(create_git_ref))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*ref}",
            axum::routing::patch(update_git_ref),
        )
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*ref}",
            get(list_matching_refs),
        )
        .route("/user", get(authenticated_user))
        .route("/app", get(authenticated_app))
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route(
            "/app/installations/{installation_id}/access_tokens",
            post(access_token),
        )
        .route_layer(axum::middleware::from_fn_with_state(st.clone(), middleware))
        .fallback(fallback)
        .with_state(st)
}

async fn fallback(AxState(st): AxState<Shared>, method: Method, uri: axum::http::Uri) -> Response {
    st.lock().unwrap().requests.push(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        body: None,
        route: String::new(),
        status: 404,
    });
    not_found()
}

fn full(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}")
}

/// Runs `f` on an existing repository, else 404.
fn with_repo(
    st: &Shared,
    owner: &str,
    repo: &str,
    f: impl FnOnce(&mut State, String) -> Response,
) -> Response {
    let mut s = st.lock().unwrap();
    let name = full(owner, repo);
    if !s.repos.contains_key(&name) {
        return not_found();
    }
    f(&mut s, name)
}

async fn list_pulls(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let state = q.get("state").map_or("open", String::as_str);
        let items = repo
            .prs
            .values()
            .rev()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| match q.get("head") {
                None => true,
                Some(h) => {
                    let (owner, branch) = h.split_once(':').unwrap_or(("", h));
                    p.head_ref == branch && p.head_repo.split('/').next() == Some(owner)
                }
            })
            .filter(|p| q.get("base").is_none_or(|b| &p.base_ref == b))
            .map(|p| repo.pr_json(p, &s.api_url))
            .collect();
        paginate(s, &format!("/repos/{name}/pulls"), &q, items)
    })
}

async fn create_pull(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let (Some(head), Some(base)) = (b["head"].as_str(), b["base"].as_str()) else {
            return validation("PullRequest", "head", "missing_field", None);
        };
        let title = b["title"].as_str().unwrap_or_default().to_owned();
        if let Some(e) = too_long("PullRequest", &b["body"]) {
            return e;
        }
        let head_branch = head.split_once(':').map_or(head, |(_, b)| b).to_owned();
        let now = s.tick();
        let repo = s.repos.get_mut(&name).unwrap();
        let Some(head_sha) = repo.branches.get(&head_branch).cloned() else {
            return validation("PullRequest", "head", "invalid", None);
        };
        if !repo.branches.contains_key(base) {
            return validation("PullRequest", "base", "invalid", None);
        }
        if repo
            .prs
            .values()
            .any(|p| p.state == "open" && p.head_ref == head_branch && p.base_ref == base)
        {
            return validation(
                "PullRequest",
                "",
                "custom",
                Some(&format!(
                    "A pull request already exists for {}:{head_branch}.",
                    repo.owner()
                )),
            );
        }
        let number = repo.next_number;
        repo.next_number += 1;
        // Files: what the head adds over the base, from the seeded commits.
        let files = compare_commits(repo, &repo.branches[base].clone(), &head_sha)
            .map(|(_, files)| files)
            .unwrap_or_default();
        let pr = PrRec {
            number,
            title,
            body: b["body"].as_str().map(str::to_owned),
            user: who,
            head_ref: head_branch,
            head_sha,
            head_repo: name.clone(),
            base_ref: base.to_owned(),
            state: "open".into(),
            draft: b["draft"].as_bool().unwrap_or(false),
            merged: false,
            merged_at: None,
            merge_commit_sha: None,
            mergeable: Some(true),
            files,
            created_at: now,
        };
        repo.prs.insert(number, pr.clone());
        ok(201, repo.pr_json(&pr, &s.api_url))
    })
}

async fn get_pull(
    AxState(st): AxState<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        match repo.prs.get(&n) {
            Some(pr) => ok(200, repo.pr_json(pr, &s.api_url)),
            None => not_found(),
        }
    })
}

async fn update_pull(
    AxState(st): AxState<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = s.repos.get_mut(&name).unwrap();
        if let Some(base) = b["base"].as_str() {
            if !repo.branches.contains_key(base) {
                return validation("PullRequest", "base", "invalid", None);
            }
        }
        if let Some(e) = too_long("PullRequest", &b["body"]) {
            return e;
        }
        let Some(pr) = repo.prs.get_mut(&n) else {
            return not_found();
        };
        if let Some(t) = b["title"].as_str() {
            t.clone_into(&mut pr.title);
        }
        if let Some(t) = b["body"].as_str() {
            pr.body = Some(t.to_owned());
        }
        if let Some(t) = b["base"].as_str() {
            t.clone_into(&mut pr.base_ref);
        }
        if let Some(t) = b["state"].as_str() {
            t.clone_into(&mut pr.state);
        }
        let pr = pr.clone();
        ok(200, repo.pr_json(&pr, &s.api_url))
    })
}

/// A paginated list under `/repos/{o}/{r}/{kind}/{n}/{what}`, 404 when the
/// issue (or, for `pulls`, the PR) doesn't exist.
fn numbered_list(
    st: &Shared,
    (o, r, n): (String, String, u64),
    q: &HashMap<String, String>,
    kind: &str,
    what: &str,
    items: impl FnOnce(&RepoState, &str) -> Vec<Value>,
) -> Response {
    with_repo(st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let exists = if kind == "pulls" {
            repo.prs.contains_key(&n)
        } else {
            repo.has_issue(n)
        };
        if !exists {
            return not_found();
        }
        let items = items(repo, &name);
        paginate(s, &format!("/repos/{name}/{kind}/{n}/{what}"), q, items)
    })
}

async fn list_files(
    AxState(st): AxState<Shared>,
    Path(p): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let n = p.2;
    // As GitHub: at most 3,000 files over all pages, silently; the PR's
    // `changed_files` keeps the true count.
    numbered_list(&st, p, &q, "pulls", "files", |repo, _| {
        repo.prs[&n]
            .files
            .iter()
            .take(PR_FILES_LIMIT)
            .map(FileRec::json)
            .collect()
    })
}

async fn list_reviews(
    AxState(st): AxState<Shared>,
    Path(p): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let n = p.2;
    numbered_list(&st, p, &q, "pulls", "reviews", |repo, _| {
        repo.reviews
            .get(&n)
            .map(|v| v.iter().map(ReviewRec::json).collect())
            .unwrap_or_default()
    })
}

async fn merge(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r, n)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let now = s.tick();
        let event_id = s.id();
        let repo = s.repos.get_mut(&name).unwrap();
        let Some(pr) = repo.prs.get(&n).cloned() else {
            return not_found();
        };
        if let Some(m) = b.get("merge_method").and_then(Value::as_str) {
            if !["merge", "squash", "rebase"].contains(&m) {
                return validation("PullRequest", "merge_method", "invalid", None);
            }
        }
        if pr.merged || pr.state != "open" || pr.mergeable == Some(false) {
            return error(405, "Pull Request is not mergeable");
        }
        if let Some(sha) = b.get("sha").and_then(Value::as_str) {
            if sha != pr.head_sha {
                return error(
                    409,
                    "Head branch was modified. Review and try the merge again.",
                );
            }
        }
        let base_sha = repo.branches.get(&pr.base_ref).cloned().unwrap_or_default();
        let merge_sha = fake_sha(&format!("merge {} {} {}", name, n, pr.head_sha));
        let message = b
            .get("commit_title")
            .and_then(Value::as_str)
            .map_or_else(|| format!("Merge pull request #{n}"), str::to_owned);
        repo.commits.insert(
            merge_sha.clone(),
            CommitRec {
                sha: merge_sha.clone(),
                parents: vec![base_sha, pr.head_sha.clone()],
                message,
                tree: fake_sha(&format!("tree {merge_sha}")),
                files: pr.files.clone(),
                date: now.clone(),
            },
        );
        repo.branches.insert(pr.base_ref.clone(), merge_sha.clone());
        let p = repo.prs.get_mut(&n).unwrap();
        p.merged = true;
        p.state = "closed".into();
        p.merged_at = Some(now.clone());
        p.merge_commit_sha = Some(merge_sha.clone());
        repo.events.push(EventRec {
            id: event_id,
            issue: n,
            event: "merged".into(),
            actor: who,
            label: None,
            created_at: now,
        });
        ok(
            200,
            json!({"sha": merge_sha, "merged": true, "message": "Pull Request successfully merged"}),
        )
    })
}

async fn create_issue(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(title) = b["title"].as_str().map(str::to_owned) else {
            return validation("Issue", "title", "missing_field", None);
        };
        if let Some(e) = too_long("Issue", &b["body"]) {
            return e;
        }
        let now = s.tick();
        let repo = s.repos.get_mut(&name).unwrap();
        let number = repo.next_number;
        repo.next_number += 1;
        repo.issues.insert(
            number,
            IssueRec {
                number,
                title,
                body: b["body"].as_str().map(str::to_owned),
                user: who,
                state: "open".into(),
                created_at: now,
            },
        );
        let labels: Vec<String> = b["labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for l in &labels {
            ensure_repo_label(repo, l);
        }
        repo.issue_labels.insert(number, labels);
        ok(201, repo.issue_json(number, &s.api_url).unwrap())
    })
}

/// `GET /repos/{o}/{r}/issues`: issues and PRs (as GitHub does), newest
/// first, filtered by `state` (default `open`, or `all`) and by every label
/// of the comma-separated `labels`.
async fn list_repo_issues(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let state = q.get("state").map_or("open", String::as_str);
        if !["open", "closed", "all"].contains(&state) {
            return validation("Issue", "state", "invalid", None);
        }
        let wanted: Vec<String> = q
            .get("labels")
            .map(|l| {
                l.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let mut numbers: Vec<u64> = repo.issues.keys().chain(repo.prs.keys()).copied().collect();
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        let items = numbers
            .into_iter()
            .filter_map(|n| repo.issue_json(n, &s.api_url))
            .filter(|v| state == "all" || v["state"] == state)
            .filter(|v| {
                let on: Vec<String> = v["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["name"].as_str().map(str::to_lowercase))
                    .collect();
                wanted.iter().all(|w| on.contains(w))
            })
            .collect();
        paginate(s, &format!("/repos/{name}/issues"), &q, items)
    })
}

/// `PATCH /repos/{o}/{r}/issues/{n}`: title, body, state of a plain issue.
async fn update_issue(
    AxState(st): AxState<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        if let Some(e) = too_long("Issue", &b["body"]) {
            return e;
        }
        if let Some(state) = b.get("state") {
            if !matches!(state.as_str(), Some("open" | "closed")) {
                return validation("Issue", "state", "invalid", None);
            }
        }
        let repo = s.repos.get_mut(&name).unwrap();
        let Some(issue) = repo.issues.get_mut(&n) else {
            return not_found();
        };
        if let Some(t) = b["title"].as_str() {
            t.clone_into(&mut issue.title);
        }
        if let Some(t) = b["body"].as_str() {
            issue.body = Some(t.to_owned());
        }
        if let Some(t) = b["state"].as_str() {
            t.clone_into(&mut issue.state);
        }
        ok(200, repo.issue_json(n, &s.api_url).unwrap())
    })
}

async fn get_issue(
    AxState(st): AxState<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        match s.repos[&name].issue_json(n, &s.api_url) {
            Some(v) => ok(200, v),
            None => not_found(),
        }
    })
}

async fn list_comments(
    AxState(st): AxState<Shared>,
    Path(p): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let n = p.2;
    numbered_list(&st, p, &q, "issues", "comments", |repo, name| {
        repo.comments
            .iter()
            .filter(|c| c.issue == n)
            .map(|c| c.json(name))
            .collect()
    })
}

/// GitHub's 422 for a body over 65,536 characters.
fn too_long(resource: &str, body: &Value) -> Option<Response> {
    let long = body
        .as_str()
        .is_some_and(|t| t.chars().count() > BODY_LIMIT);
    long.then(|| {
        validation(
            resource,
            "body",
            "custom",
            Some("body is too long (maximum is 65536 characters)"),
        )
    })
}

async fn create_comment(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r, n)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        if !s.repos[&name].has_issue(n) {
            return not_found();
        }
        let Some(text) = b["body"].as_str() else {
            return validation("IssueComment", "body", "missing_field", None);
        };
        if let Some(e) = too_long("IssueComment", &b["body"]) {
            return e;
        }
        let now = s.tick();
        let id = s.id();
        let c = CommentRec {
            id,
            issue: n,
            user: who,
            body: text.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        };
        let repo = s.repos.get_mut(&name).unwrap();
        repo.comments.push(c.clone());
        ok(201, c.json(&name))
    })
}

async fn update_comment(
    AxState(st): AxState<Shared>,
    Path((o, r, id)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(text) = b["body"].as_str() else {
            return validation("IssueComment", "body", "missing_field", None);
        };
        if let Some(e) = too_long("IssueComment", &b["body"]) {
            return e;
        }
        let now = s.tick();
        let repo = s.repos.get_mut(&name).unwrap();
        let Some(c) = repo.comments.iter_mut().find(|c| c.id == id) else {
            return not_found();
        };
        text.clone_into(&mut c.body);
        c.updated_at = now;
        ok(200, c.json(&name))
    })
}

async fn delete_comment(
    AxState(st): AxState<Shared>,
    Path((o, r, id)): Path<(String, String, u64)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = s.repos.get_mut(&name).unwrap();
        let before = repo.comments.len();
        repo.comments.retain(|c| c.id != id);
        if repo.comments.len() == before {
            return not_found();
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn list_issue_labels(
    AxState(st): AxState<Shared>,
    Path(p): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let n = p.2;
    numbered_list(&st, p, &q, "issues", "labels", |repo, _| repo.labels_of(n))
}

fn ensure_repo_label(repo: &mut RepoState, name: &str) {
    if !repo
        .labels
        .iter()
        .any(|l| l.name.eq_ignore_ascii_case(name))
    {
        repo.labels.push(LabelRec {
            name: name.to_owned(),
            color: "ededed".into(),
            description: None,
        });
    }
}

async fn add_labels(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r, n)): Path<(String, String, u64)>,
    GhJson(b): GhJson,
) -> Response {
    // GitHub takes {"labels": [...]} or a bare array, of names or {name}.
    let list = b.get("labels").cloned().unwrap_or(b.clone());
    let Some(items) = list.as_array() else {
        return validation("Label", "labels", "invalid", None);
    };
    let names: Vec<String> = items
        .iter()
        .filter_map(|l| l.as_str().or_else(|| l["name"].as_str()).map(str::to_owned))
        .collect();
    with_repo(&st, &o, &r, |s, name| {
        if !s.repos[&name].has_issue(n) {
            return not_found();
        }
        for label in names {
            let now = s.tick();
            let id = s.id();
            let repo = s.repos.get_mut(&name).unwrap();
            ensure_repo_label(repo, &label);
            let on = repo.issue_labels.entry(n).or_default();
            if !on.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
                on.push(label.clone());
                repo.events.push(EventRec {
                    id,
                    issue: n,
                    event: "labeled".into(),
                    actor: who.clone(),
                    label: Some(label),
                    created_at: now,
                });
            }
        }
        ok(200, Value::Array(s.repos[&name].labels_of(n)))
    })
}

async fn remove_label(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r, n, label)): Path<(String, String, u64, String)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        if !s.repos[&name].has_issue(n) {
            return not_found();
        }
        let now = s.tick();
        let id = s.id();
        let repo = s.repos.get_mut(&name).unwrap();
        let on = repo.issue_labels.entry(n).or_default();
        let Some(pos) = on.iter().position(|l| l.eq_ignore_ascii_case(&label)) else {
            return error(404, "Label does not exist");
        };
        let removed = on.remove(pos);
        repo.events.push(EventRec {
            id,
            issue: n,
            event: "unlabeled".into(),
            actor: who,
            label: Some(removed),
            created_at: now,
        });
        ok(200, Value::Array(repo.labels_of(n)))
    })
}

async fn list_events(
    AxState(st): AxState<Shared>,
    Path(p): Path<(String, String, u64)>,
    Query(q): Q,
) -> Response {
    let n = p.2;
    numbered_list(&st, p, &q, "issues", "events", |repo, _| {
        repo.events
            .iter()
            .filter(|e| e.issue == n)
            .map(EventRec::json)
            .collect()
    })
}

async fn list_repo_labels(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let items = repo
            .labels
            .iter()
            .map(|l| repo.label_json(&l.name))
            .collect();
        paginate(s, &format!("/repos/{name}/labels"), &q, items)
    })
}

async fn create_label(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(label) = b["name"].as_str() else {
            return validation("Label", "name", "missing_field", None);
        };
        let repo = s.repos.get_mut(&name).unwrap();
        if repo
            .labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(label))
        {
            return validation("Label", "name", "already_exists", None);
        }
        repo.labels.push(LabelRec {
            name: label.to_owned(),
            color: b["color"].as_str().unwrap_or("ededed").to_owned(),
            description: b["description"].as_str().map(str::to_owned),
        });
        ok(201, repo.label_json(label))
    })
}

async fn search_issues(AxState(st): AxState<Shared>, Query(q): Q) -> Response {
    let Some(query) = q.get("q") else {
        return validation("Search", "q", "missing", None);
    };
    let s = st.lock().unwrap();
    let mut repo_filter = None;
    let (mut kind, mut state, mut labels, mut words) = (None, None, Vec::new(), Vec::new());
    // Tokens: qualifiers, then free words (quotes group words).
    let mut rest = query.as_str();
    while !rest.trim().is_empty() {
        rest = rest.trim_start();
        let token: String;
        if let Some(stripped) = rest.strip_prefix('"') {
            let end = stripped.find('"').unwrap_or(stripped.len());
            token = stripped[..end].to_owned();
            rest = stripped.get(end + 1..).unwrap_or("");
            words.push(token.to_lowercase());
            continue;
        }
        let end = rest.find(' ').unwrap_or(rest.len());
        token = rest[..end].to_owned();
        rest = &rest[end..];
        match token.split_once(':') {
            Some(("repo", v)) => repo_filter = Some(v.to_owned()),
            Some(("is" | "type", "issue")) => kind = Some("issue"),
            Some(("is" | "type", "pr")) => kind = Some("pr"),
            Some(("is" | "state", v @ ("open" | "closed"))) => {
                state = Some(v.to_owned());
            }
            Some(("label", v)) => labels.push(v.trim_matches('"').to_lowercase()),
            Some(("in", _)) => {}
            _ => words.push(token.to_lowercase()),
        }
    }
    let mut items = Vec::new();
    for (name, repo) in &s.repos {
        if repo_filter.as_ref().is_some_and(|f| f != name) {
            continue;
        }
        let numbers: Vec<u64> = repo.issues.keys().chain(repo.prs.keys()).copied().collect();
        for n in numbers {
            let v = repo.issue_json(n, &s.api_url).unwrap();
            let is_pr = v.get("pull_request").is_some();
            if kind == Some("issue") && is_pr || kind == Some("pr") && !is_pr {
                continue;
            }
            if state.as_ref().is_some_and(|st| v["state"] != st.as_str()) {
                continue;
            }
            let on: Vec<String> = repo
                .issue_labels
                .get(&n)
                .map(|l| l.iter().map(|x| x.to_lowercase()).collect())
                .unwrap_or_default();
            if !labels.iter().all(|l| on.contains(l)) {
                continue;
            }
            let title = v["title"].as_str().unwrap_or_default().to_lowercase();
            if !words.iter().all(|w| title.contains(w.as_str())) {
                continue;
            }
            items.push(v);
        }
    }
    ok(
        200,
        json!({"total_count": items.len(), "incomplete_results": false, "items": items}),
    )
}

async fn create_status(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r, sha)): Path<(String, String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(state) = b["state"]
            .as_str()
            .filter(|v| ["error", "failure", "pending", "success"].contains(v))
        else {
            return validation(
                "Status",
                "state",
                "custom",
                Some("state is not included in the list"),
            );
        };
        let now = s.tick();
        let id = s.id();
        let rec = StatusRec {
            id,
            sha,
            state: state.to_owned(),
            context: b["context"].as_str().unwrap_or("default").to_owned(),
            description: b["description"].as_str().map(str::to_owned),
            target_url: b["target_url"].as_str().map(str::to_owned),
            creator: who,
            created_at: now,
        };
        let v = rec.json();
        s.repos.get_mut(&name).unwrap().statuses.push(rec);
        ok(201, v)
    })
}

/// A commit's statuses, newest first, as GitHub lists them; the ref may
/// be a branch name or a SHA.
async fn list_statuses(
    AxState(st): AxState<Shared>,
    Path((o, r, reference)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let sha = repo.resolve(&reference).unwrap_or(reference.clone());
        let items = repo
            .statuses
            .iter()
            .rev()
            .filter(|st| st.sha == sha)
            .map(StatusRec::json)
            .collect();
        paginate(
            s,
            &format!("/repos/{name}/commits/{reference}/statuses"),
            &q,
            items,
        )
    })
}

async fn commit_pulls(
    AxState(st): AxState<Shared>,
    Path((o, r, sha)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let items = repo
            .prs
            .values()
            .filter(|p| p.head_sha == sha || p.merge_commit_sha.as_deref() == Some(sha.as_str()))
            .map(|p| repo.pr_json(p, &s.api_url))
            .collect();
        paginate(s, &format!("/repos/{name}/commits/{sha}/pulls"), &q, items)
    })
}

/// Commits reachable from `head` but not from `base` (oldest first), and
/// the files they touch (last status wins), or `None` if unrelated.
pub(super) fn compare_commits(
    repo: &RepoState,
    base: &str,
    head: &str,
) -> Option<(Vec<CommitRec>, Vec<FileRec>)> {
    let mut base_side = std::collections::BTreeSet::new();
    let mut stack = vec![base.to_owned()];
    while let Some(sha) = stack.pop() {
        if base_side.insert(sha.clone()) {
            if let Some(c) = repo.commits.get(&sha) {
                stack.extend(c.parents.iter().cloned());
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut commits = Vec::new();
    let mut stack = vec![head.to_owned()];
    while let Some(sha) = stack.pop() {
        if base_side.contains(&sha) || !seen.insert(sha.clone()) {
            continue;
        }
        let c = repo.commits.get(&sha)?;
        stack.extend(c.parents.iter().cloned());
        commits.push(c.clone());
    }
    commits.sort_by(|a, b| a.date.cmp(&b.date).then(a.sha.cmp(&b.sha)));
    let mut files: Vec<FileRec> = Vec::new();
    for c in &commits {
        for f in &c.files {
            files.retain(|x| x.filename != f.filename);
            files.push(f.clone());
        }
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    Some((commits, files))
}

async fn compare(
    AxState(st): AxState<Shared>,
    Path((o, r, basehead)): Path<(String, String, String)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let Some((base, head)) = basehead.split_once("...") else {
            return not_found();
        };
        let (Some(base), Some(head)) = (repo.resolve(base), repo.resolve(head)) else {
            return not_found();
        };
        let Some((ahead, files)) = compare_commits(repo, &base, &head) else {
            return not_found();
        };
        let behind = compare_commits(repo, &head, &base).map_or(0, |(c, _)| c.len());
        let status = match (ahead.len(), behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        let commits: Vec<Value> = ahead
            .iter()
            .map(|c| json!({"sha": c.sha, "commit": {"message": c.message, "author": {"name": "fake", "date": c.date}}, "parents": c.parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>()}))
            .collect();
        ok(
            200,
            json!({
                "status": status, "ahead_by": ahead.len(), "behind_by": behind, "total_commits": ahead.len(),
                "commits": commits, "files": files.iter().map(FileRec::json).collect::<Vec<_>>(),
            }),
        )
    })
}

async fn dispatch(
    AxState(st): AxState<Shared>,
    Extension(Caller(who)): Extension<Caller>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(event_type) = b["event_type"].as_str() else {
            return error(422, "Invalid request.\n\n\"event_type\" wasn't supplied.");
        };
        if event_type.chars().count() > 100 {
            return error(
                422,
                "Invalid request.\n\nevent_type is too long (maximum is 100 characters).",
            );
        }
        let payload = b.get("client_payload").cloned().unwrap_or(json!({}));
        match payload.as_object() {
            Some(m) if m.len() > 10 => {
                return error(422, &format!("Invalid request.\n\nNo more than 10 properties are allowed; {} were supplied.", m.len()));
            }
            Some(_) => {}
            None => {
                return error(
                    422,
                    "Invalid request.\n\nFor 'properties/client_payload', is not an object.",
                )
            }
        }
        s.repos
            .get_mut(&name)
            .unwrap()
            .dispatches
            .push(DispatchRec {
                event_type: event_type.to_owned(),
                client_payload: payload,
                sender: who,
            });
        StatusCode::NO_CONTENT.into_response()
    })
}

/// GitHub's 422 for a missing body field.
fn not_supplied(field: &str) -> Response {
    error(
        422,
        &format!("Invalid request.\n\n\"{field}\" wasn't supplied."),
    )
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// GitHub's answer to a ref name it won't create, if any: `refs/`, at
/// least two slashes, and git's ref-name rules.
fn bad_ref_name(name: &str) -> Option<Response> {
    let invalid = || error(422, &format!("{name} is not a valid ref name."));
    let Some(rest) = name.strip_prefix("refs/") else {
        return Some(invalid());
    };
    if !rest.contains('/') {
        return Some(error(
            422,
            "Reference name must contain at least three slash-separated components.",
        ));
    }
    let bad_part = |p: &str| p.is_empty() || p.starts_with('.') || p.ends_with(".lock");
    let bad_char = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c);
    (name.contains("..")
        || name.contains("@{")
        || name.chars().any(bad_char)
        || name.split('/').any(bad_part))
    .then(invalid)
}

/// `POST .../git/commits`: a commit object; no ref moves. The fake keeps
/// no trees: any 40-hex tree is taken, anything else is GitHub's 422.
async fn create_git_commit(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(message) = b["message"].as_str().map(str::to_owned) else {
            return not_supplied("message");
        };
        let Some(tree) = b["tree"].as_str().map(str::to_owned) else {
            return not_supplied("tree");
        };
        if !is_sha(&tree) {
            return error(422, "Tree SHA does not exist");
        }
        let parents: Vec<String> = match &b["parents"] {
            Value::Null => Vec::new(),
            Value::Array(items) => {
                match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                    Some(p) => p.into_iter().map(str::to_owned).collect(),
                    None => return error(422, "Invalid request.\n\nFor 'items', is not a string."),
                }
            }
            _ => {
                return error(
                    422,
                    "Invalid request.\n\nFor 'properties/parents', is not an array.",
                )
            }
        };
        let repo = &s.repos[&name];
        if parents.iter().any(|p| !repo.has_commit(p)) {
            return error(422, "Parent SHA does not exist or is not a commit object");
        }
        let date = s.tick();
        let sha = fake_sha(&format!(
            "{name} commit {tree} {parents:?} {message} {date}"
        ));
        let rec = CommitRec {
            sha: sha.clone(),
            parents,
            message,
            tree,
            files: Vec::new(),
            date,
        };
        let repo = s.repos.get_mut(&name).unwrap();
        repo.commits.insert(sha, rec.clone());
        ok(201, repo.git_commit_json(&rec, &s.api_url))
    })
}

async fn get_git_commit(
    AxState(st): AxState<Shared>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        match repo.commits.get(&sha) {
            Some(c) => ok(200, repo.git_commit_json(c, &s.api_url)),
            None => not_found(),
        }
    })
}

/// `GET .../git/ref/{ref}`: exactly that ref (`ref` without `refs/`), or 404.
async fn get_git_ref(
    AxState(st): AxState<Shared>,
    Path((o, r, reference)): Path<(String, String, String)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let full = format!("refs/{reference}");
        match repo.git_ref(&full) {
            Some(sha) => ok(200, repo.git_ref_json(&full, sha, &s.api_url)),
            None => not_found(),
        }
    })
}

/// `POST .../git/refs`: creates a ref once; a second create is GitHub's
/// 422 "Reference already exists", which makes it a lock's "take if free".
async fn create_git_ref(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(full) = b["ref"].as_str() else {
            return not_supplied("ref");
        };
        let Some(sha) = b["sha"].as_str() else {
            return not_supplied("sha");
        };
        if let Some(e) = bad_ref_name(full) {
            return e;
        }
        let repo = s.repos.get_mut(&name).unwrap();
        if !repo.has_commit(sha) {
            return error(422, "Object does not exist");
        }
        if repo.git_ref(full).is_some() {
            return error(422, "Reference already exists");
        }
        repo.set_git_ref(full, sha);
        ok(201, repo.git_ref_json(full, sha, &s.api_url))
    })
}

/// `PATCH .../git/refs/{ref}`: moves a ref; without `force`, only to a
/// commit that has the current one among its ancestors (or is it).
async fn update_git_ref(
    AxState(st): AxState<Shared>,
    Path((o, r, reference)): Path<(String, String, String)>,
    GhJson(b): GhJson,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let Some(sha) = b["sha"].as_str() else {
            return not_supplied("sha");
        };
        let force = b["force"].as_bool().unwrap_or(false);
        let full = format!("refs/{reference}");
        let repo = s.repos.get_mut(&name).unwrap();
        let Some(current) = repo.git_ref(&full).cloned() else {
            return error(422, "Reference does not exist");
        };
        if !repo.has_commit(sha) {
            return error(422, "Object does not exist");
        }
        if !force && !repo.is_ancestor(&current, sha) {
            return error(422, "Update is not a fast forward");
        }
        repo.set_git_ref(&full, sha);
        ok(200, repo.git_ref_json(&full, sha, &s.api_url))
    })
}

/// `GET .../git/matching-refs/{ref}`: every ref whose name starts with
/// `refs/{ref}` (a string prefix, as GitHub matches), sorted, paginated.
async fn list_matching_refs(
    AxState(st): AxState<Shared>,
    Path((o, r, reference)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let repo = &s.repos[&name];
        let prefix = format!("refs/{reference}");
        let items = repo
            .git_refs()
            .into_iter()
            .filter(|(n, _)| n.starts_with(&prefix))
            .map(|(n, sha)| repo.git_ref_json(&n, &sha, &s.api_url))
            .collect();
        let encoded: Vec<String> = reference.split('/').map(encode).collect();
        paginate(
            s,
            &format!("/repos/{name}/git/matching-refs/{}", encoded.join("/")),
            &q,
            items,
        )
    })
}

async fn team_membership(
    AxState(st): AxState<Shared>,
    Path((org, slug, user)): Path<(String, String, String)>,
) -> Response {
    let s = st.lock().unwrap();
    match s.teams.get(&(org, slug, user)) {
        Some(state) => ok(200, json!({"state": state, "role": "member"})),
        None => not_found(),
    }
}

/// GitHub's answer for a user's access: the role, and the legacy base
/// permission it maps to (`maintain` → `write`, `triage` → `read`). A user
/// with no role seeded is answered `read`, as GitHub answers anyone on a
/// public repository (see `FakeGithub::set_permission`).
async fn collaborator_permission(
    AxState(st): AxState<Shared>,
    Path((o, r, user)): Path<(String, String, String)>,
) -> Response {
    with_repo(&st, &o, &r, |s, name| {
        let role = s
            .permissions
            .get(&(name, user.clone()))
            .cloned()
            .unwrap_or_else(|| "read".into());
        let permission = match role.as_str() {
            "admin" => "admin",
            "maintain" | "write" => "write",
            _ => "read",
        };
        ok(
            200,
            json!({"permission": permission, "role_name": role, "user": user_json(&user)}),
        )
    })
}

/// `GET /user`: the token's user. An installation token (one acting as an
/// App's `…[bot]`, such as the job's `GITHUB_TOKEN`) is refused with
/// GitHub's 403, since it belongs to no user.
async fn authenticated_user(Extension(Caller(who)): Extension<Caller>) -> Response {
    if who.ends_with("[bot]") {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                "status": "403",
            })),
        )
            .into_response();
    }
    let mut user = user_json(&who);
    user["node_id"] = json!(format!("U_{}", fake_id(&who)));
    user["html_url"] = json!(format!("https://github.test/{who}"));
    user["site_admin"] = json!(false);
    ok(200, user)
}

/// `GET /app` (JWT): the App the JWT was signed for.
async fn authenticated_app(AxState(st): AxState<Shared>) -> Response {
    let s = st.lock().unwrap();
    let Some(app) = &s.app else {
        return not_found();
    };
    ok(
        200,
        json!({
            "id": app.app_id.parse::<u64>().unwrap_or_default(),
            "slug": app.slug,
            "node_id": format!("A_{}", fake_id(&app.slug)),
            "name": app.slug,
            "owner": user_json("acme"),
            "description": null,
            "external_url": "https://github.test",
            "html_url": format!("https://github.test/apps/{}", app.slug),
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {"issues": "write", "pull_requests": "write", "statuses": "write", "contents": "write"},
            "events": [],
        }),
    )
}

async fn repo_installation(
    AxState(st): AxState<Shared>,
    Path((o, r)): Path<(String, String)>,
) -> Response {
    let s = st.lock().unwrap();
    match (&s.app, s.repos.contains_key(&full(&o, &r))) {
        (Some(app), true) => ok(
            200,
            json!({"id": app.installation_id, "app_id": app.app_id, "app_slug": app.slug}),
        ),
        _ => not_found(),
    }
}

async fn access_token(
    AxState(st): AxState<Shared>,
    Path(id): Path<String>,
    _headers: HeaderMap,
) -> Response {
    let mut s = st.lock().unwrap();
    let Some(app) = s.app.clone() else {
        return not_found();
    };
    if id != app.installation_id.to_string() {
        return not_found();
    }
    let n = s.id();
    let token = format!("ghs_fakeinstallation{n:08}");
    s.tokens.insert(token.clone(), format!("{}[bot]", app.slug));
    let expires = iso(now_unix() + 3600);
    ok(
        201,
        json!({"token": token, "expires_at": expires, "permissions": {"pull_requests": "write"}}),
    )
}
