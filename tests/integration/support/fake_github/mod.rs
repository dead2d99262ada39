//! A faithful fake of the GitHub REST API on 127.0.0.1, for tests only.
//!
//! It runs on its own thread and Tokio runtime, so a test can drive it from
//! sync code while the tfctl *binary* talks to it (`GITHUB_API_URL=`
//! [`FakeGithub::url`]). Tests seed state with the builder methods, inject
//! faults per route, make things happen between two requests
//! ([`FakeGithub::after_request`]), then read the state and the request
//! log back.
//!
//! ```ignore
//! let gh = FakeGithub::start();
//! gh.seed_pr("o/config", PrSeed::new("feature", "main").files(&["S3/a/a.tfvars"]));
//! gh.inject_fault("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", Fault::Status(502), 2);
//! // ... run tfctl ...
//! assert_eq!(gh.comments("o/config", 1).len(), 1);
//! ```

mod handlers;
mod state;

use std::sync::{Arc, Mutex};

pub(crate) use state::IssueRec;
pub(crate) use state::State;
pub(crate) use state::{
    fake_sha, CommentRec, DispatchRec, Fault, FileRec, PrRec, RequestRecord, ReviewRec, StatusRec,
};
use state::{AppState, CommitRec, EventRec, FaultRule, Hook};

/// The token the fake accepts by default, and whose login it reports.
pub(crate) const TOKEN: &str = "fake-github-token";
/// The login behind [`TOKEN`] (what `GITHUB_TOKEN` acts as in Actions).
pub(crate) const BOT_LOGIN: &str = "github-actions[bot]";

/// A running fake GitHub. Dropping it stops the server.
pub(crate) struct FakeGithub {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A pull request to seed; branches and the head commit are created too.
#[derive(Debug, Clone)]
pub(crate) struct PrSeed {
    pub head_ref: String,
    pub base_ref: String,
    pub head_sha: Option<String>,
    pub title: String,
    pub body: Option<String>,
    pub author: String,
    pub labels: Vec<String>,
    pub files: Vec<FileRec>,
    pub mergeable: Option<bool>,
    /// `owner/name` of a fork the head comes from.
    pub head_repo: Option<String>,
}

impl PrSeed {
    pub(crate) fn new(head_ref: &str, base_ref: &str) -> PrSeed {
        PrSeed {
            head_ref: head_ref.into(),
            base_ref: base_ref.into(),
            head_sha: None,
            title: format!("Change from {head_ref}"),
            body: None,
            author: "alice".into(),
            labels: Vec::new(),
            files: Vec::new(),
            mergeable: Some(true),
            head_repo: None,
        }
    }
    pub(crate) fn head_sha(mut self, sha: &str) -> Self {
        self.head_sha = Some(sha.into());
        self
    }
    pub(crate) fn title(mut self, t: &str) -> Self {
        self.title = t.into();
        self
    }
    pub(crate) fn author(mut self, a: &str) -> Self {
        self.author = a.into();
        self
    }
    pub(crate) fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        self
    }
    /// Changed files, all `modified`.
    pub(crate) fn files(mut self, files: &[&str]) -> Self {
        self.files = files
            .iter()
            .map(|f| FileRec {
                filename: f.to_string(),
                status: "modified".into(),
                previous_filename: None,
            })
            .collect();
        self
    }
    pub(crate) fn file_recs(mut self, files: Vec<FileRec>) -> Self {
        self.files = files;
        self
    }
    pub(crate) fn head_in_fork(mut self, repo: &str) -> Self {
        self.head_repo = Some(repo.into());
        self
    }
}

impl FakeGithub {
    /// Starts the server on 127.0.0.1 with an ephemeral port, accepting
    /// [`TOKEN`]. Blocks until it listens.
    pub(crate) fn start() -> FakeGithub {
        FakeGithub::start_with_prefix("")
    }

    /// Like [`FakeGithub::start`], serving the API under a path prefix, as
    /// GitHub Enterprise Server does (`/api/v3`).
    pub(crate) fn start_with_prefix(prefix: &str) -> FakeGithub {
        let prefix = prefix.trim_end_matches('/').to_owned();
        let state = Arc::new(Mutex::new(State::new()));
        state
            .lock()
            .unwrap()
            .tokens
            .insert(TOKEN.into(), BOT_LOGIN.into());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        state.lock().unwrap().prefix.clone_from(&prefix);
        let shared = state.clone();
        std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake GitHub runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1");
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    let routes = handlers::router(shared);
                    let app = if prefix.is_empty() {
                        routes
                    } else {
                        axum::Router::new().nest(&prefix, routes)
                    };
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stop_rx.await;
                        })
                        .await
                        .expect("fake GitHub server");
                });
            })
            .expect("spawn fake GitHub");
        let addr = addr_rx.recv().expect("fake GitHub did not start");
        let url = format!("http://{addr}{}", state.lock().unwrap().prefix);
        state.lock().unwrap().api_url.clone_from(&url);
        FakeGithub {
            url,
            state,
            shutdown: Some(stop_tx),
        }
    }

    /// API base URL, e.g. `http://127.0.0.1:41234` (with the prefix, if
    /// any; no trailing slash): what `GITHUB_API_URL` should be.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Env vars that point the tfctl binary at this fake: API URL, token,
    /// and millisecond retry backoffs so injected faults cost little time.
    pub(crate) fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_API_URL", self.url.clone()),
            ("GITHUB_TOKEN", TOKEN.to_owned()),
            ("TFCTL_GITHUB_RETRY_BASE_MS", "5".to_owned()),
        ]
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    // ---- seeding -------------------------------------------------------

    /// Accepts another token, acting as `login`.
    pub(crate) fn add_token(&self, token: &str, login: &str) {
        self.with(|s| s.tokens.insert(token.into(), login.into()));
    }

    /// Creates a repository (default branch `main`); seeding anything in a
    /// repo creates it too.
    pub(crate) fn seed_repo(&self, repo: &str) {
        self.with(|s| {
            s.repo_mut(repo);
        });
    }

    /// Points a branch at a SHA.
    pub(crate) fn seed_branch(&self, repo: &str, branch: &str, sha: &str) {
        self.with(|s| {
            s.repo_mut(repo).branches.insert(branch.into(), sha.into());
        });
    }

    /// Adds a commit (for compare and PR creation). Files are `modified`.
    pub(crate) fn seed_commit(
        &self,
        repo: &str,
        sha: &str,
        parents: &[&str],
        message: &str,
        files: &[&str],
    ) {
        self.with(|s| {
            let date = s.tick();
            s.repo_mut(repo).commits.insert(
                sha.into(),
                CommitRec {
                    sha: sha.into(),
                    parents: parents
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect(),
                    message: message.into(),
                    tree: fake_sha(&format!("tree {sha}")),
                    files: files
                        .iter()
                        .map(|f| FileRec {
                            filename: f.to_string(),
                            status: "modified".into(),
                            previous_filename: None,
                        })
                        .collect(),
                    date,
                },
            );
        });
    }

    /// Points the full ref `name` (`refs/tfctl/locks/...`) at a new
    /// parentless commit whose message is `message`; returns its SHA.
    pub(crate) fn seed_git_ref(&self, repo: &str, name: &str, message: &str) -> String {
        self.with(|s| {
            let date = s.tick();
            let sha = fake_sha(&format!("{repo} seeded {name} {message} {date}"));
            let r = s.repo_mut(repo);
            r.commits.insert(
                sha.clone(),
                CommitRec {
                    sha: sha.clone(),
                    parents: Vec::new(),
                    message: message.into(),
                    tree: fake_sha("tree"),
                    files: Vec::new(),
                    date,
                },
            );
            r.set_git_ref(name, &sha);
            sha
        })
    }

    /// Seeds an open PR and returns its number. Creates the base branch
    /// (if absent) and the head branch at the head SHA.
    pub(crate) fn seed_pr(&self, repo: &str, seed: PrSeed) -> u64 {
        self.with(|s| {
            let now = s.tick();
            let head_sha = seed
                .head_sha
                .clone()
                .unwrap_or_else(|| fake_sha(&format!("{repo} {} {now}", seed.head_ref)));
            let event_ids: Vec<u64> = seed.labels.iter().map(|_| s.id()).collect();
            let r = s.repo_mut(repo);
            let number = r.next_number;
            r.next_number += 1;
            r.branches
                .entry(seed.base_ref.clone())
                .or_insert_with(|| fake_sha(&format!("{repo} base {}", seed.base_ref)));
            if seed.head_repo.is_none() {
                r.branches.insert(seed.head_ref.clone(), head_sha.clone());
            }
            for (id, label) in event_ids.into_iter().zip(&seed.labels) {
                if !r.labels.iter().any(|l| l.name.eq_ignore_ascii_case(label)) {
                    r.labels.push(state::LabelRec {
                        name: label.clone(),
                        color: "ededed".into(),
                        description: None,
                    });
                }
                r.events.push(EventRec {
                    id,
                    issue: number,
                    event: "labeled".into(),
                    actor: seed.author.clone(),
                    label: Some(label.clone()),
                    created_at: now.clone(),
                });
            }
            r.issue_labels.insert(number, seed.labels.clone());
            r.prs.insert(
                number,
                PrRec {
                    number,
                    title: seed.title,
                    body: seed.body,
                    user: seed.author,
                    head_ref: seed.head_ref,
                    head_sha,
                    head_repo: seed.head_repo.unwrap_or_else(|| repo.to_owned()),
                    base_ref: seed.base_ref,
                    state: "open".into(),
                    draft: false,
                    merged: false,
                    merged_at: None,
                    merge_commit_sha: None,
                    mergeable: seed.mergeable,
                    files: seed.files,
                    created_at: now,
                },
            );
            number
        })
    }

    /// Moves a PR's head (a new push to its branch).
    pub(crate) fn set_pr_head(&self, repo: &str, number: u64, sha: &str) {
        self.with(|s| s.move_pr_head(repo, number, sha));
    }

    /// Changes a seeded PR in place (mergeable, state, ...).
    pub(crate) fn update_pr(&self, repo: &str, number: u64, f: impl FnOnce(&mut PrRec)) {
        self.with(|s| f(s.repo_mut(repo).prs.get_mut(&number).expect("no such PR")));
    }

    /// Seeds a plain issue; returns its number.
    pub(crate) fn seed_issue(&self, repo: &str, title: &str, labels: &[&str]) -> u64 {
        self.with(|s| {
            let now = s.tick();
            let r = s.repo_mut(repo);
            let number = r.next_number;
            r.next_number += 1;
            r.issues.insert(
                number,
                IssueRec {
                    number,
                    title: title.into(),
                    body: None,
                    user: "alice".into(),
                    state: "open".into(),
                    created_at: now,
                },
            );
            r.issue_labels.insert(
                number,
                labels
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect(),
            );
            number
        })
    }

    /// A review on a PR (`state` in REST spelling, e.g. `APPROVED`), on
    /// `commit_id` (the PR head when `None`). Returns the review id.
    pub(crate) fn seed_review(
        &self,
        repo: &str,
        number: u64,
        user: &str,
        state: &str,
        commit_id: Option<&str>,
    ) -> u64 {
        self.with(|s| {
            let now = s.tick();
            let id = s.id();
            let r = s.repo_mut(repo);
            let head = r.prs.get(&number).expect("no such PR").head_sha.clone();
            r.reviews.entry(number).or_default().push(ReviewRec {
                id,
                user: user.into(),
                state: state.into(),
                commit_id: commit_id.map_or(head, str::to_owned),
                submitted_at: now,
            });
            id
        })
    }

    /// A comment by `user`; returns its id.
    pub(crate) fn seed_comment(&self, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        self.with(|s| {
            let now = s.tick();
            let id = s.id();
            s.repo_mut(repo).comments.push(CommentRec {
                id,
                issue: number,
                user: user.into(),
                body: body.into(),
                created_at: now.clone(),
                updated_at: now,
            });
            id
        })
    }

    /// Rewrites a comment's body as its author editing it would (a sticky
    /// comment updated by a re-run).
    pub(crate) fn edit_comment(&self, repo: &str, id: u64, body: &str) {
        self.with(|s| {
            let now = s.tick();
            let c = s
                .repo_mut(repo)
                .comments
                .iter_mut()
                .find(|c| c.id == id)
                .expect("no such comment");
            c.body = body.into();
            c.updated_at = now;
        });
    }

    /// `actor` removes `label` from an issue/PR (with its `unlabeled` event).
    pub(crate) fn remove_label(&self, repo: &str, number: u64, label: &str, actor: &str) {
        self.with(|s| {
            let now = s.tick();
            let id = s.id();
            let r = s.repo_mut(repo);
            r.issue_labels
                .entry(number)
                .or_default()
                .retain(|l| l != label);
            r.events.push(EventRec {
                id,
                issue: number,
                event: "unlabeled".into(),
                actor: actor.into(),
                label: Some(label.into()),
                created_at: now,
            });
        });
    }

    /// `actor` adds `label` to an issue/PR (with its `labeled` event).
    pub(crate) fn seed_label(&self, repo: &str, number: u64, label: &str, actor: &str) {
        self.with(|s| s.label_issue(repo, number, label, actor));
    }

    /// `actor` takes `label` off an issue/PR (with its `unlabeled` event).
    pub(crate) fn seed_unlabel(&self, repo: &str, number: u64, label: &str, actor: &str) {
        self.with(|s| s.unlabel_issue(repo, number, label, actor));
    }

    /// `user`'s membership in `org/team` (`active` or `pending`).
    pub(crate) fn seed_team_member(&self, org: &str, team_slug: &str, user: &str, state: &str) {
        self.with(|s| {
            s.teams
                .insert((org.into(), team_slug.into(), user.into()), state.into())
        });
    }

    /// `user`'s role on `repo`, as `GET .../collaborators/{username}/permission`
    /// reports it: `admin`, `maintain`, `write`, `triage` or `read`. A user
    /// never given a role is answered as GitHub answers for anyone on a
    /// public repository: `read` (on a private one GitHub says `none`); so
    /// an approval only counts from a user a test made a writer.
    pub(crate) fn set_permission(&self, repo: &str, user: &str, role: &str) {
        assert!(
            ["admin", "maintain", "write", "triage", "read"].contains(&role),
            "not a repository role: {role}"
        );
        self.with(|s| {
            s.repo_mut(repo);
            s.permissions
                .insert((repo.into(), user.into()), role.into())
        });
    }

    /// Runs `action` on the fake's state once, right after the `nth`
    /// (1-based) request to `route` (`METHOD /template`) was carried out
    /// and before its answer is sent: what happens on GitHub between two of
    /// the client's requests (a push, another run's label).
    pub(crate) fn after_request(
        &self,
        route: &str,
        nth: u32,
        action: impl FnOnce(&mut State) + Send + 'static,
    ) {
        self.with(|s| {
            s.hooks.push(Hook {
                route: route.into(),
                nth,
                seen: 0,
                action: Some(Box::new(action)),
            });
        });
    }

    /// Registers a GitHub App (JWTs verified with `public_key_pem`) with one
    /// installation covering every repository; its tokens act as `<slug>[bot]`.
    pub(crate) fn enable_app(
        &self,
        app_id: &str,
        slug: &str,
        public_key_pem: &str,
        installation_id: u64,
    ) {
        self.with(|s| {
            s.app = Some(AppState {
                app_id: app_id.into(),
                slug: slug.into(),
                public_key_pem: public_key_pem.into(),
                installation_id,
            });
        });
    }

    /// Makes the next `times` requests to `route` fail with `fault`, before
    /// they touch any state. `route` is `METHOD /template` as in
    /// `tfctl::github::ROUTES`, or `METHOD *` / `* *` for every route (each
    /// route then fails `times` times).
    pub(crate) fn inject_fault(&self, route: &str, fault: Fault, times: u32) {
        self.with(|s| {
            s.faults.insert(
                route.into(),
                FaultRule {
                    fault,
                    times,
                    used: Default::default(),
                },
            )
        });
    }

    // ---- reading back --------------------------------------------------

    pub(crate) fn pr(&self, repo: &str, number: u64) -> PrRec {
        self.with(|s| {
            s.repo_mut(repo)
                .prs
                .get(&number)
                .cloned()
                .expect("no such PR")
        })
    }

    pub(crate) fn prs(&self, repo: &str) -> Vec<PrRec> {
        self.with(|s| s.repo_mut(repo).prs.values().cloned().collect())
    }

    /// Comments on an issue/PR, oldest first.
    pub(crate) fn comments(&self, repo: &str, number: u64) -> Vec<CommentRec> {
        self.with(|s| {
            s.repo_mut(repo)
                .comments
                .iter()
                .filter(|c| c.issue == number)
                .cloned()
                .collect()
        })
    }

    /// Label names on an issue/PR, in the order they were added.
    pub(crate) fn labels(&self, repo: &str, number: u64) -> Vec<String> {
        self.with(|s| {
            s.repo_mut(repo)
                .issue_labels
                .get(&number)
                .cloned()
                .unwrap_or_default()
        })
    }

    /// Commit statuses set on `sha`, oldest first.
    /// `creator` sets a commit status on `sha` (as its POST would).
    pub(crate) fn seed_status(
        &self,
        repo: &str,
        sha: &str,
        creator: &str,
        context: &str,
        state: &str,
        description: &str,
    ) {
        self.with(|s| {
            let now = s.tick();
            let id = s.id();
            s.repo_mut(repo).statuses.push(StatusRec {
                id,
                sha: sha.into(),
                state: state.into(),
                context: context.into(),
                description: Some(description.into()),
                target_url: None,
                creator: creator.into(),
                created_at: now,
            });
        });
    }

    pub(crate) fn statuses(&self, repo: &str, sha: &str) -> Vec<StatusRec> {
        self.with(|s| {
            s.repo_mut(repo)
                .statuses
                .iter()
                .filter(|st| st.sha == sha)
                .cloned()
                .collect()
        })
    }

    pub(crate) fn dispatches(&self, repo: &str) -> Vec<DispatchRec> {
        self.with(|s| s.repo_mut(repo).dispatches.clone())
    }

    /// `(number, title, labels)` of the plain issues of a repo.
    pub(crate) fn issues(&self, repo: &str) -> Vec<(u64, String, Vec<String>)> {
        self.with(|s| {
            let r = s.repo_mut(repo);
            r.issues
                .values()
                .map(|i| {
                    (
                        i.number,
                        i.title.clone(),
                        r.issue_labels.get(&i.number).cloned().unwrap_or_default(),
                    )
                })
                .collect()
        })
    }

    /// A plain issue (title, body, state, author), if it exists.
    pub(crate) fn issue(&self, repo: &str, number: u64) -> Option<IssueRec> {
        self.with(|s| s.repo_mut(repo).issues.get(&number).cloned())
    }

    pub(crate) fn branch(&self, repo: &str, branch: &str) -> Option<String> {
        self.with(|s| s.repo_mut(repo).branches.get(branch).cloned())
    }

    /// Where the full ref `name` points, if it exists.
    pub(crate) fn git_ref(&self, repo: &str, name: &str) -> Option<String> {
        self.with(|s| s.repo_mut(repo).git_ref(name).cloned())
    }

    /// The message of commit `sha`, if the fake has it.
    pub(crate) fn git_commit_message(&self, repo: &str, sha: &str) -> Option<String> {
        self.with(|s| s.repo_mut(repo).commits.get(sha).map(|c| c.message.clone()))
    }

    /// Every request received, in order.
    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.requests.clone())
    }

    pub(crate) fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
