//! The fake GitHub's data: repositories, branches, commits, Git refs, PRs,
//! issues, comments, labels, issue events, reviews, statuses, dispatches, team
//! memberships, repository permissions, App installations, faults, hooks
//! and the request log.
//!
//! Plain data plus the JSON shapes GitHub returns for it; no HTTP here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A deterministic 40-hex "commit SHA" for a seed string.
pub(crate) fn fake_sha(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_owned()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC).
pub(super) fn iso(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The most files GitHub's "list pull request files" returns, over all pages.
pub(super) const PR_FILES_LIMIT: usize = 3000;

/// One changed file, as seeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FileRec {
    pub filename: String,
    /// `added`, `modified`, `removed`, `renamed`.
    pub status: String,
    pub previous_filename: Option<String>,
}

impl FileRec {
    pub(crate) fn json(&self) -> Value {
        json!({
            "sha": fake_sha(&self.filename),
            "filename": self.filename,
            "status": self.status,
            "additions": 1, "deletions": 0, "changes": 1,
            "previous_filename": self.previous_filename,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRec {
    pub sha: String,
    pub parents: Vec<String>,
    pub message: String,
    /// The tree's SHA (the fake keeps no trees: any 40-hex string).
    pub tree: String,
    pub files: Vec<FileRec>,
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PrRec {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` the head lives in (a fork when different).
    pub head_repo: String,
    pub base_ref: String,
    pub state: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<String>,
    pub merge_commit_sha: Option<String>,
    /// `Some(false)` makes a merge answer 405.
    pub mergeable: Option<bool>,
    pub files: Vec<FileRec>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IssueRec {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CommentRec {
    pub id: u64,
    pub issue: u64,
    pub user: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LabelRec {
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EventRec {
    pub id: u64,
    pub issue: u64,
    /// `labeled` / `unlabeled` / `merged` / `closed`.
    pub event: String,
    pub actor: String,
    pub label: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReviewRec {
    pub id: u64,
    pub user: String,
    /// REST spelling: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub commit_id: String,
    pub submitted_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StatusRec {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DispatchRec {
    pub event_type: String,
    pub client_payload: Value,
    pub sender: String,
}

/// One repository's state.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepoState {
    pub full_name: String,
    pub branches: BTreeMap<String, String>,
    pub commits: BTreeMap<String, CommitRec>,
    /// Git refs other than branches (`refs/tfctl/locks/...` → SHA); a
    /// branch is `refs/heads/<branch>` in `branches`.
    pub refs: BTreeMap<String, String>,
    pub next_number: u64,
    pub prs: BTreeMap<u64, PrRec>,
    pub issues: BTreeMap<u64, IssueRec>,
    pub comments: Vec<CommentRec>,
    pub labels: Vec<LabelRec>,
    pub issue_labels: BTreeMap<u64, Vec<String>>,
    pub events: Vec<EventRec>,
    pub reviews: BTreeMap<u64, Vec<ReviewRec>>,
    pub statuses: Vec<StatusRec>,
    pub dispatches: Vec<DispatchRec>,
}

impl RepoState {
    pub(crate) fn new(full_name: &str) -> RepoState {
        RepoState {
            full_name: full_name.to_owned(),
            next_number: 1,
            ..RepoState::default()
        }
    }

    pub(crate) fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    /// Issue or PR with this number exists.
    pub(crate) fn has_issue(&self, n: u64) -> bool {
        self.prs.contains_key(&n) || self.issues.contains_key(&n)
    }

    pub(crate) fn labels_of(&self, n: u64) -> Vec<Value> {
        self.issue_labels
            .get(&n)
            .map(|names| names.iter().map(|name| self.label_json(name)).collect())
            .unwrap_or_default()
    }

    pub(crate) fn label_json(&self, name: &str) -> Value {
        let rec = self
            .labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name));
        json!({
            "id": fake_id(name),
            "name": rec.map_or(name, |l| l.name.as_str()),
            "color": rec.map_or("ededed", |l| l.color.as_str()),
            "description": rec.and_then(|l| l.description.clone()),
            "default": false,
        })
    }

    /// Where the full ref `name` points (`refs/heads/*` are the branches).
    pub(crate) fn git_ref(&self, name: &str) -> Option<&String> {
        match name.strip_prefix("refs/heads/") {
            Some(branch) => self.branches.get(branch),
            None => self.refs.get(name),
        }
    }

    pub(crate) fn set_git_ref(&mut self, name: &str, sha: &str) {
        match name.strip_prefix("refs/heads/") {
            Some(branch) => self.branches.insert(branch.into(), sha.into()),
            None => self.refs.insert(name.into(), sha.into()),
        };
    }

    /// Every ref (branches included), sorted by full name.
    pub(crate) fn git_refs(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .branches
            .iter()
            .map(|(b, sha)| (format!("refs/heads/{b}"), sha.clone()))
            .chain(self.refs.iter().map(|(n, sha)| (n.clone(), sha.clone())))
            .collect();
        all.sort();
        all
    }

    /// A commit the fake knows: seeded or written, or a branch head (the
    /// fake does not model every branch's commit).
    pub(crate) fn has_commit(&self, sha: &str) -> bool {
        self.commits.contains_key(sha) || self.branches.values().any(|b| b == sha)
    }

    /// `ancestor` is `sha` or reachable from it through parents.
    pub(crate) fn is_ancestor(&self, ancestor: &str, sha: &str) -> bool {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![sha.to_owned()];
        while let Some(s) = stack.pop() {
            if s == ancestor {
                return true;
            }
            if seen.insert(s.clone()) {
                if let Some(c) = self.commits.get(&s) {
                    stack.extend(c.parents.iter().cloned());
                }
            }
        }
        false
    }

    /// A ref as `git/get-ref` answers it.
    pub(crate) fn git_ref_json(&self, name: &str, sha: &str, api: &str) -> Value {
        let repo = &self.full_name;
        json!({
            "ref": name,
            "node_id": format!("REF_{}", fake_id(name)),
            "url": format!("{api}/repos/{repo}/git/{}", name),
            "object": {"type": "commit", "sha": sha, "url": format!("{api}/repos/{repo}/git/commits/{sha}")},
        })
    }

    /// A commit as `git/get-commit` answers it.
    pub(crate) fn git_commit_json(&self, c: &CommitRec, api: &str) -> Value {
        let repo = &self.full_name;
        let person = json!({"name": "fake", "email": "fake@github.test", "date": c.date});
        json!({
            "sha": c.sha,
            "node_id": format!("C_{}", fake_id(&c.sha)),
            "url": format!("{api}/repos/{repo}/git/commits/{}", c.sha),
            "html_url": format!("https://github.test/{repo}/commit/{}", c.sha),
            "author": person,
            "committer": person,
            "message": c.message,
            "tree": {"sha": c.tree, "url": format!("{api}/repos/{repo}/git/trees/{}", c.tree)},
            "parents": c.parents.iter().map(|p| json!({
                "sha": p,
                "url": format!("{api}/repos/{repo}/git/commits/{p}"),
                "html_url": format!("https://github.test/{repo}/commit/{p}"),
            })).collect::<Vec<_>>(),
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        })
    }

    /// Resolves a branch name or a SHA.
    pub(crate) fn resolve(&self, r: &str) -> Option<String> {
        if let Some(sha) = self.branches.get(r) {
            return Some(sha.clone());
        }
        self.commits.contains_key(r).then(|| r.to_owned())
    }

    pub(crate) fn pr_json(&self, pr: &PrRec, api: &str) -> Value {
        let repo_json = |name: &str| json!({"full_name": name, "name": name.split('/').nth(1), "owner": {"login": name.split('/').next()}});
        let base_sha = self.branches.get(&pr.base_ref).cloned().unwrap_or_default();
        json!({
            "url": format!("{api}/repos/{}/pulls/{}", self.full_name, pr.number),
            "id": 1000 + pr.number,
            "number": pr.number,
            "state": pr.state,
            "title": pr.title,
            "body": pr.body,
            "html_url": format!("https://github.test/{}/pull/{}", self.full_name, pr.number),
            "user": user_json(&pr.user),
            "draft": pr.draft,
            "labels": self.labels_of(pr.number),
            "created_at": pr.created_at,
            "merged": pr.merged,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "mergeable": pr.mergeable,
            "changed_files": pr.files.len(),
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "label": format!("{}:{}", pr.head_repo.split('/').next().unwrap_or_default(), pr.head_ref), "repo": repo_json(&pr.head_repo)},
            "base": {"ref": pr.base_ref, "sha": base_sha, "label": format!("{}:{}", self.owner(), pr.base_ref), "repo": repo_json(&self.full_name)},
        })
    }

    pub(crate) fn issue_json(&self, n: u64, api: &str) -> Option<Value> {
        let html = format!("https://github.test/{}/issues/{n}", self.full_name);
        if let Some(pr) = self.prs.get(&n) {
            return Some(json!({
                "number": n, "title": pr.title, "state": pr.state, "body": pr.body,
                "user": user_json(&pr.user), "labels": self.labels_of(n), "html_url": html,
                "created_at": pr.created_at,
                "pull_request": {"url": format!("{api}/repos/{}/pulls/{n}", self.full_name), "merged_at": pr.merged_at},
            }));
        }
        let i = self.issues.get(&n)?;
        Some(json!({
            "number": n, "title": i.title, "state": i.state, "body": i.body,
            "user": user_json(&i.user), "labels": self.labels_of(n), "html_url": html,
            "created_at": i.created_at,
        }))
    }
}

pub(super) fn fake_id(seed: &str) -> u64 {
    let d = Sha256::digest(seed.as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) >> 16
}

pub(super) fn user_json(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "id": fake_id(login), "type": kind})
}

impl CommentRec {
    pub(crate) fn json(&self, repo: &str) -> Value {
        json!({
            "id": self.id,
            "body": self.body,
            "user": user_json(&self.user),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "html_url": format!("https://github.test/{repo}/issues/{}#issuecomment-{}", self.issue, self.id),
        })
    }
}

impl ReviewRec {
    pub(crate) fn json(&self) -> Value {
        json!({"id": self.id, "user": user_json(&self.user), "state": self.state,
               "commit_id": self.commit_id, "submitted_at": self.submitted_at, "body": ""})
    }
}

impl EventRec {
    pub(crate) fn json(&self) -> Value {
        json!({"id": self.id, "event": self.event, "actor": user_json(&self.actor),
               "label": self.label.as_ref().map(|l| json!({"name": l, "color": "ededed"})),
               "created_at": self.created_at})
    }
}

impl StatusRec {
    pub(crate) fn json(&self) -> Value {
        json!({"id": self.id, "state": self.state, "context": self.context,
               "description": self.description, "target_url": self.target_url,
               "creator": user_json(&self.creator), "created_at": self.created_at})
    }
}

/// How a route misbehaves, before it touches any state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer with this status (502, 503, 500...) and an HTML body.
    Status(u16),
    /// 403 "secondary rate limit" with `retry-after: secs`.
    SecondaryRateLimit { retry_after: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and a reset `secs` from now.
    PrimaryRateLimit { reset_in: u64 },
    /// The connection drops while the response body is being sent.
    Drop,
    /// The request is carried out, then the connection drops before the
    /// answer arrives: the client can't know the write happened.
    DropAfterWrite,
    /// GitHub is slow: the answer comes after `millis` (then normally).
    /// Use on reads: a client that timed out may retry while this one
    /// still goes on to change state.
    Hang { millis: u64 },
}

/// An injected fault and how many requests per route it still hits.
#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub fault: Fault,
    pub times: u32,
    /// Hits so far, per concrete route (so `POST *` fails every POST route
    /// `times` times).
    pub used: BTreeMap<String, u32>,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RequestRecord {
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    pub query: Option<String>,
    pub body: Option<Value>,
    /// `METHOD /template` as the client's `ROUTES` spell it; empty when no
    /// route matched.
    pub route: String,
    /// Final status (0 for a dropped connection).
    pub status: u16,
}

/// A GitHub App the fake knows.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub app_id: String,
    pub slug: String,
    pub public_key_pem: String,
    pub installation_id: u64,
}

/// A hook's effect on the state.
pub(super) type HookAction = Box<dyn FnOnce(&mut State) + Send>;

/// Something that happens on GitHub between two of tfctl's requests (a
/// push, another run's label): runs once, on the `nth` answered request to
/// `route`, after that request was carried out and before its answer
/// leaves, so the client's next request sees it.
pub(crate) struct Hook {
    pub route: String,
    pub nth: u32,
    pub seen: u32,
    pub action: Option<HookAction>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("route", &self.route)
            .field("nth", &self.nth)
            .field("seen", &self.seen)
            .field("fired", &self.action.is_none())
            .finish()
    }
}

/// Everything the fake holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub api_url: String,
    /// Path prefix the API is served under (`/api/v3` for GHES), or empty.
    pub prefix: String,
    /// token → login.
    pub tokens: BTreeMap<String, String>,
    pub repos: BTreeMap<String, RepoState>,
    /// (org, team slug, user) → `active` | `pending`.
    pub teams: BTreeMap<(String, String, String), String>,
    /// (repo, user) → role: `admin`, `maintain`, `write`, `triage`, `read`.
    pub permissions: BTreeMap<(String, String), String>,
    pub hooks: Vec<Hook>,
    pub app: Option<AppState>,
    pub faults: BTreeMap<String, FaultRule>,
    pub requests: Vec<RequestRecord>,
    pub next_id: u64,
    /// Seconds since the epoch; every write advances it by one.
    pub clock: u64,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            next_id: 1,
            // 2024-01-01T00:00:00Z
            clock: 1_704_067_200,
            ..State::default()
        }
    }

    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn tick(&mut self) -> String {
        self.clock += 1;
        iso(self.clock)
    }

    pub(crate) fn repo_mut(&mut self, full_name: &str) -> &mut RepoState {
        self.repos
            .entry(full_name.to_owned())
            .or_insert_with(|| RepoState::new(full_name))
    }

    /// `actor` adds `label` to issue/PR `number` (with its `labeled` event),
    /// as the web UI or another workflow run would.
    pub(crate) fn label_issue(&mut self, repo: &str, number: u64, label: &str, actor: &str) {
        let now = self.tick();
        let id = self.id();
        let r = self.repo_mut(repo);
        let on = r.issue_labels.entry(number).or_default();
        if !on.iter().any(|l| l == label) {
            on.push(label.into());
        }
        r.events.push(EventRec {
            id,
            issue: number,
            event: "labeled".into(),
            actor: actor.into(),
            label: Some(label.into()),
            created_at: now,
        });
    }

    /// `actor` takes `label` off issue/PR `number` (with its `unlabeled`
    /// event); nothing when it is not on.
    pub(crate) fn unlabel_issue(&mut self, repo: &str, number: u64, label: &str, actor: &str) {
        let now = self.tick();
        let id = self.id();
        let r = self.repo_mut(repo);
        let on = r.issue_labels.entry(number).or_default();
        let Some(pos) = on.iter().position(|l| l.eq_ignore_ascii_case(label)) else {
            return;
        };
        let removed = on.remove(pos);
        r.events.push(EventRec {
            id,
            issue: number,
            event: "unlabeled".into(),
            actor: actor.into(),
            label: Some(removed),
            created_at: now,
        });
    }

    /// A push to PR `number`'s branch: its head is now `sha`.
    pub(crate) fn move_pr_head(&mut self, repo: &str, number: u64, sha: &str) {
        let r = self.repo_mut(repo);
        let pr = r.prs.get_mut(&number).expect("no such PR");
        pr.head_sha = sha.into();
        let head_ref = pr.head_ref.clone();
        r.branches.insert(head_ref, sha.into());
    }

    /// Runs the hooks due now that a request to `route` was answered.
    pub(crate) fn run_hooks(&mut self, route: &str) {
        let mut due = Vec::new();
        for hook in self.hooks.iter_mut().filter(|h| h.route == route) {
            hook.seen += 1;
            if hook.seen == hook.nth {
                due.extend(hook.action.take());
            }
        }
        for action in due {
            action(self);
        }
    }

    /// The fault to apply to `route` now, if any (counting the hit).
    pub(crate) fn take_fault(&mut self, method: &str, route: &str) -> Option<Fault> {
        let keys = [route.to_owned(), format!("{method} *"), "* *".to_owned()];
        for key in keys {
            if let Some(rule) = self.faults.get_mut(&key) {
                let used = rule.used.entry(route.to_owned()).or_insert(0);
                if *used < rule.times {
                    *used += 1;
                    return Some(rule.fault);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_formats_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(iso(951_825_600), "2000-02-29T12:00:00Z");
    }
}
