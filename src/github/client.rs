//! The HTTP transport to GitHub: base URL, auth headers (token or GitHub
//! App installation token), retries by [`retry::retry_decision`], `Link`
//! pagination, timeouts, and error text that names the call and quotes
//! GitHub's message.
//!
//! Typed calls live in `pulls`, `issues`, `repos` and `identity`; this
//! file knows no endpoint beyond the App-auth ones (and sends the JWT for
//! `GET /app`). The token goes only into the
//! `Authorization` header: never into a URL, a log line or an error.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::RngExt;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK, USER_AGENT};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::models::{ErrorBody, Installation, InstallationToken};
use super::retry::{self, Decision, Outcome, RetryPolicy};
use super::routes::{self, Route};
use super::{app, Credentials, GithubError, GithubErrorKind, RepoRef, Secret};

/// GitHub's recommended page size maximum.
pub(super) const PER_PAGE: &str = "100";
/// Installation tokens live an hour; renew well before.
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(50 * 60);
/// A guard against a server whose `Link: next` never ends.
const MAX_PAGES: usize = 1000;

/// Everything a [`Client`] needs; build with [`ClientConfig::new`] and adjust.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// REST base URL, e.g. `https://api.github.com` or `https://ghe/api/v3`.
    pub api_url: String,
    pub credentials: Credentials,
    /// For an App without an installation id: the repository whose
    /// installation to use (`GET /repos/{owner}/{repo}/installation`).
    pub installation_repo: Option<RepoRef>,
    pub retry: RetryPolicy,
    /// Bound on one request (connect + response + body).
    pub request_timeout: Duration,
    pub user_agent: String,
    /// Called with each installation token the client mints, before its
    /// first use: inside Actions it prints `::add-mask::`, so a stray echo
    /// in the workflow can't show the token. A hook, not a flag: the
    /// workflow-command syntax belongs to `actions`, which sits above this
    /// client (docs/ARCHITECTURE.md).
    pub on_minted_token: Option<fn(&str)>,
}

impl ClientConfig {
    /// Defaults: [`RetryPolicy::default`], 30 s per request, `tfctl/<version>`.
    pub fn new(api_url: impl Into<String>, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            api_url: api_url.into(),
            credentials,
            installation_repo: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            user_agent: format!("tfctl/{}", env!("CARGO_PKG_VERSION")),
            on_minted_token: None,
        }
    }
}

/// A GitHub REST client. Cheap to share by reference; calls are async.
pub struct Client {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    installation_repo: Option<RepoRef>,
    retry: RetryPolicy,
    request_timeout: Duration,
    on_minted_token: Option<fn(&str)>,
    minted: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A complete answer from GitHub.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub call: String,
}

impl Response {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Decodes a success body as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, GithubError> {
        serde_json::from_slice(&self.body).map_err(|e| GithubError {
            call: self.call.clone(),
            kind: GithubErrorKind::Decode,
            message: format!("unexpected response body: {e}"),
            attempts: self.attempts,
        })
    }

    /// The error for a non-success answer, quoting GitHub's message.
    pub(crate) fn error(&self) -> GithubError {
        status_error(&self.call, self.status, &self.body, self.attempts, None)
    }
}

fn status_error(
    call: &str,
    status: u16,
    body: &[u8],
    attempts: u32,
    gave_up: Option<&str>,
) -> GithubError {
    let quoted = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.describe())
        .unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_owned()
        });
    let message = match gave_up {
        Some(reason) => format!("{quoted} ({reason})"),
        None => quoted,
    };
    GithubError {
        call: call.to_owned(),
        kind: GithubErrorKind::Status(status),
        message,
        attempts,
    }
}

/// `reqwest::Error` and its causes on one line (the URL holds no secret).
fn transport_message(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return if timeout < Duration::from_secs(1) {
            format!("timed out after {}ms", timeout.as_millis())
        } else {
            format!("timed out after {}s", timeout.as_secs())
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The App's JWT, signed now.
fn jwt_now(app: &super::AppCredentials) -> Result<Secret, GithubError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    app::app_jwt(&app.app_id, &app.private_key, now)
}

/// The `rel="next"` target of a `Link` header, if any.
pub(super) fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

impl Client {
    /// Builds a client. Fails only on an unusable base URL or TLS setup.
    pub fn new(config: ClientConfig) -> Result<Client, GithubError> {
        let invalid = |message: String| GithubError {
            call: "GitHub client setup".into(),
            kind: GithubErrorKind::Invalid,
            message,
            attempts: 1,
        };
        let base = config.api_url.trim_end_matches('/').to_owned();
        Url::parse(&base).map_err(|e| invalid(format!("bad API URL `{base}`: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        let agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| invalid("bad user agent".into()))?;
        headers.insert(USER_AGENT, agent);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            // Redirects would resend the Authorization header elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            credentials: config.credentials,
            installation_repo: config.installation_repo,
            retry: config.retry,
            request_timeout: config.request_timeout,
            on_minted_token: config.on_minted_token,
            minted: tokio::sync::Mutex::new(None),
        })
    }

    /// How this client authenticates.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Calls an App-level `route` (authenticated as the App itself, with a
    /// fresh JWT, not an installation token) and decodes a success answer.
    pub(crate) async fn app_json<T: DeserializeOwned>(
        &self,
        app: &super::AppCredentials,
        route: Route,
        values: &[&str],
    ) -> Result<T, GithubError> {
        let jwt = jwt_now(app)?;
        let path = route.path(values);
        let call = format!("{} {path}", route.method);
        let resp = self
            .execute(route, &call, self.url(&path, &[])?, None, &jwt)
            .await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        resp.json()
    }

    /// Calls `route` with path `values` and returns GitHub's final answer
    /// (after retries), success or not.
    pub(crate) async fn call(
        &self,
        route: Route,
        values: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, GithubError> {
        let path = route.path(values);
        let url = self.url(&path, query)?;
        let call = format!("{} {path}", route.method);
        let token = self.token().await?;
        self.execute(route, &call, url, body, &token).await
    }

    /// Calls `route` and decodes a success answer as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        route: Route,
        values: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, GithubError> {
        let resp = self.call(route, values, query, body).await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        resp.json()
    }

    /// Calls `route` and expects a success answer whose body is ignored.
    pub(crate) async fn send(
        &self,
        route: Route,
        values: &[&str],
        body: Option<&Value>,
    ) -> Result<(), GithubError> {
        let resp = self.call(route, values, &[], body).await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        Ok(())
    }

    /// A DELETE whose 404 means "already gone", which is what the caller
    /// wanted: `Ok(true)` when it deleted, `Ok(false)` when nothing was there.
    pub(crate) async fn delete(&self, route: Route, values: &[&str]) -> Result<bool, GithubError> {
        let resp = self.call(route, values, &[], None).await?;
        match resp.status {
            404 => Ok(false),
            _ if resp.is_success() => Ok(true),
            _ => Err(resp.error()),
        }
    }

    /// GETs every page of a list route (`per_page=100`, following `Link:
    /// rel="next"`), concatenated in GitHub's order.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        route: Route,
        values: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, GithubError> {
        let path = route.path(values);
        let call = format!("{} {path}", route.method);
        let mut q: Vec<(&str, &str)> = query.to_vec();
        if !q.iter().any(|(k, _)| *k == "per_page") {
            q.push(("per_page", PER_PAGE));
        }
        let mut url = self.url(&path, &q)?;
        let mut items = Vec::new();
        let token = self.token().await?;
        for _ in 0..MAX_PAGES {
            let resp = self.execute(route, &call, url, None, &token).await?;
            if !resp.is_success() {
                return Err(resp.error());
            }
            let page: Vec<T> = resp.json()?;
            items.extend(page);
            let next = resp
                .headers
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            match next {
                None => return Ok(items),
                Some(next) => {
                    // Never send the token to a host the base URL doesn't name.
                    if !next.starts_with(&self.base) {
                        return Err(GithubError {
                            call,
                            kind: GithubErrorKind::Invalid,
                            message: format!(
                                "refusing to follow a pagination link outside {}",
                                self.base
                            ),
                            attempts: 1,
                        });
                    }
                    url = Url::parse(next).map_err(|e| GithubError {
                        call: call.clone(),
                        kind: GithubErrorKind::Decode,
                        message: format!("bad pagination link `{next}`: {e}"),
                        attempts: 1,
                    })?;
                }
            }
        }
        Err(GithubError {
            call,
            kind: GithubErrorKind::Invalid,
            message: format!("more than {MAX_PAGES} pages"),
            attempts: 1,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, GithubError> {
        let mut url = Url::parse(&format!("{}{path}", self.base)).map_err(|e| GithubError {
            call: path.to_owned(),
            kind: GithubErrorKind::Invalid,
            message: format!("bad URL: {e}"),
            attempts: 1,
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// One logical request: attempts until [`retry::retry_decision`] accepts
    /// or gives up.
    async fn execute(
        &self,
        route: Route,
        call: &str,
        url: Url,
        body: Option<&Value>,
        bearer: &Secret,
    ) -> Result<Response, GithubError> {
        let method = Method::from_bytes(route.method.as_bytes()).expect("route methods are valid");
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, format!("Bearer {}", bearer.expose()));
            if let Some(b) = body {
                req = req.json(b);
            }
            // The body is read inside the attempt: a connection dropped
            // mid-body is as retryable as one dropped before the status.
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(b) => Ok((status, headers, b.to_vec())),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok((status, headers, _)) => Outcome::Response {
                    status: *status,
                    headers,
                },
                Err(_) => Outcome::Transport,
            };
            let jitter: f64 = rand::rng().random();
            let decision = retry::retry_decision(
                outcome,
                attempt,
                started.elapsed(),
                SystemTime::now(),
                &self.retry,
                jitter,
            );
            match decision {
                Decision::Accept => {
                    let (status, headers, body) =
                        result.expect("transport failures are never accepted");
                    return Ok(Response {
                        status,
                        headers,
                        body,
                        attempts: attempt + 1,
                        call: call.to_owned(),
                    });
                }
                Decision::Retry { after, .. } => {
                    tokio::time::sleep(after).await;
                    attempt += 1;
                }
                Decision::GiveUp { reason } => {
                    return Err(match result {
                        Ok((status, _, body)) => {
                            status_error(call, status, &body, attempt + 1, Some(&reason))
                        }
                        Err(e) => GithubError {
                            call: call.to_owned(),
                            kind: GithubErrorKind::Transport,
                            message: transport_message(&e, self.request_timeout),
                            attempts: attempt + 1,
                        },
                    });
                }
            }
        }
    }

    /// The bearer token for ordinary calls.
    async fn token(&self) -> Result<Secret, GithubError> {
        match &self.credentials {
            Credentials::Token(t) => Ok(t.clone()),
            Credentials::App(app) => {
                let mut minted = self.minted.lock().await;
                if let Some((token, at)) = minted.as_ref() {
                    if at.elapsed() < TOKEN_RENEW_AFTER {
                        return Ok(token.clone());
                    }
                }
                let token = self.mint(app).await?;
                *minted = Some((token.clone(), Instant::now()));
                Ok(token)
            }
        }
    }

    /// App JWT → (installation id) → installation token.
    async fn mint(&self, app: &super::AppCredentials) -> Result<Secret, GithubError> {
        let jwt = jwt_now(app)?;
        let installation_id = if let Some(id) = app.installation_id {
            id
        } else {
            let repo = self.installation_repo.as_ref().ok_or_else(|| GithubError {
                call: "GitHub App authentication".into(),
                kind: GithubErrorKind::Invalid,
                message: "no installation: set TFCTL_APP_INSTALLATION_ID".into(),
                attempts: 1,
            })?;
            self.app_json::<Installation>(
                app,
                routes::REPO_INSTALLATION,
                &[&repo.owner, &repo.name],
            )
            .await?
            .id
        };
        let route = routes::INSTALLATION_TOKEN;
        let id = installation_id.to_string();
        let path = route.path(&[&id]);
        let call = format!("{} {path}", route.method);
        let resp = self
            .execute(route, &call, self.url(&path, &[])?, None, &jwt)
            .await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        // Not `resp.json()`: a decode error could quote the token.
        let token: InstallationToken =
            serde_json::from_slice(&resp.body).map_err(|_| GithubError {
                call,
                kind: GithubErrorKind::Decode,
                message: "response has no `token`".into(),
                attempts: resp.attempts,
            })?;
        if let Some(hook) = self.on_minted_token {
            hook(&token.token);
        }
        Ok(Secret::new(token.token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_link() {
        let h = r#"<https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=3>; rel="last""#;
        assert_eq!(
            next_link(h),
            Some("https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2")
        );
        let last = r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn status_error_falls_back_to_the_reason_phrase() {
        let e = status_error(
            "GET /x",
            502,
            b"<html>bad gateway</html>",
            3,
            Some("server error 502; retry limit reached"),
        );
        assert_eq!(
            e.to_string(),
            "GitHub: GET /x failed after 3 attempts: 502 Bad Gateway (server error 502; retry limit reached)"
        );
    }

    #[test]
    fn client_debug_hides_the_token() {
        let c = Client::new(ClientConfig::new(
            "https://ghe.example/api/v3/",
            Credentials::Token(Secret::new("ghp_topsecret")),
        ))
        .unwrap();
        assert_eq!(c.base, "https://ghe.example/api/v3");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
    }

    #[test]
    fn bad_base_url_is_refused() {
        let e = Client::new(ClientConfig::new(
            "not a url",
            Credentials::Token(Secret::new("t")),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("bad API URL"));
    }
}
