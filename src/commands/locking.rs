//! Stack locks on GitHub: the effect half of [`crate::locks`], which decides
//! every step. Each lock is a ref in the repository tfctl runs in; every
//! write is a new commit on the state it was decided from, so a write that
//! lost a race (or whose answer was lost and was retried) is seen as lost,
//! and the lock is read and decided again.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::{self, Subject, Trust};
use crate::github::{Client, GithubError, RefCreated, RefUpdated, RepoRef};
use crate::locks::{self, Acquire, Claimant, HolderStanding, LockRecord, LockState};
use crate::render::marker::ApplyState;

/// Rounds of read → decide → write before giving up: each lost round means
/// another run wrote the lock meanwhile, which happens a few times at most.
const ROUNDS: usize = 8;

/// The locks of one repository, as one bot reads them.
pub struct LockStore<'a> {
    /// Writes the refs: the client of the repository tfctl runs in.
    pub home: &'a Client,
    /// Where the lock refs are: the repository tfctl runs in.
    pub repo: &'a RepoRef,
    /// Asks about holder PRs (the config repository's client).
    pub client: &'a Client,
    pub bot_login: &'a str,
    pub cfg: &'a Config,
}

/// A lock as it stands: the commit it is at and its record.
pub struct Current {
    pub sha: String,
    pub record: LockRecord,
}

/// How an acquisition ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The claimant holds the lock.
    Held,
    /// Another live PR holds it.
    Locked(LockRecord),
}

impl<'a> LockStore<'a> {
    /// The locks of the repository `session` runs in, written with its
    /// home client, holders asked with its main one.
    pub(crate) fn of(session: &'a super::gh::GhSession, cfg: &'a Config) -> LockStore<'a> {
        LockStore {
            home: session.home(),
            repo: &session.repo,
            client: &session.client,
            bot_login: &session.bot_login,
            cfg,
        }
    }
}

impl LockStore<'_> {
    /// The lock of `stack`, or None when it was never taken.
    pub async fn read(&self, stack: &str) -> Result<Option<Current>> {
        let name = locks::ref_name(stack);
        let Some(r) = self.home.get_ref(self.repo, &name).await? else {
            return Ok(None);
        };
        let commit = self.home.get_commit(self.repo, &r.sha).await?;
        let record = LockRecord::parse(&commit.message)
            .map_err(|e| Error::input(format!("{}: {name} at {}: {e}", self.repo, r.sha)))?;
        Ok(Some(Current { sha: r.sha, record }))
    }

    /// Every lock ref, held or free, sorted by stack.
    pub async fn list(&self) -> Result<Vec<Current>> {
        let refs = self
            .home
            .matching_refs(self.repo, locks::REF_PREFIX)
            .await?;
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            let commit = self.home.get_commit(self.repo, &r.sha).await?;
            let record = LockRecord::parse(&commit.message).map_err(|e| {
                Error::input(format!("{}: {} at {}: {e}", self.repo, r.name, r.sha))
            })?;
            out.push(Current { sha: r.sha, record });
        }
        out.sort_by(|a, b| a.record.stack.cmp(&b.record.stack));
        Ok(out)
    }

    /// What GitHub says of a lock's holder now.
    pub async fn standing(&self, record: &LockRecord) -> Result<HolderStanding> {
        let repo = RepoRef::parse(&record.repository).map_err(|e| {
            Error::input(format!(
                "lock of {}: repository `{}`: {}",
                record.stack, record.repository, e.message
            ))
        })?;
        let pr = match self.client.get_pull(&repo, record.pr).await {
            Ok(pr) => pr,
            Err(e) if e.is_not_found() => return Ok(HolderStanding::Gone),
            Err(e) => return Err(e.into()),
        };
        if !pr.is_merged() {
            return Ok(if pr.state == "open" {
                HolderStanding::Open
            } else {
                HolderStanding::Closed
            });
        }
        let Some(merge_sha) = pr.merge_commit_sha.as_deref() else {
            return Ok(HolderStanding::Merged { applied: false });
        };
        let comments = self.client.list_comments(&repo, record.pr).await?;
        let subject = Subject {
            repository: &record.repository,
            pr_number: record.pr,
            bot_login: self.bot_login,
        };
        let applied =
            evidence::apply_record(&comments, &subject, merge_sha, Trust::of(&self.cfg.trust))
                .is_some_and(|m| finished(m.state));
        Ok(HolderStanding::Merged { applied })
    }

    /// Takes `stack`'s lock for `me`, or learns who holds it (and is listed
    /// as a waiter there, to be re-validated when it is released).
    pub async fn acquire(&self, stack: &str, me: &Claimant) -> Result<Outcome> {
        for _ in 0..ROUNDS {
            let current = self.read(stack).await?;
            let holder = match &current {
                Some(c) if c.record.state == LockState::Held && !owned(&c.record, me) => {
                    Some(self.standing(&c.record).await?)
                }
                _ => None,
            };
            let decided = locks::acquire(stack, current.as_ref().map(|c| &c.record), holder, me);
            let parent = current.as_ref().map(|c| c.sha.as_str());
            match decided {
                Acquire::Held => return Ok(Outcome::Held),
                Acquire::Create(record) | Acquire::Take(record) => {
                    if self.write(stack, parent, &record).await? {
                        return Ok(Outcome::Held);
                    }
                }
                Acquire::Wait {
                    holder,
                    add_waiter: None,
                } => return Ok(Outcome::Locked(holder)),
                Acquire::Wait {
                    holder,
                    add_waiter: Some(record),
                } => {
                    if self.write(stack, parent, &record).await? {
                        return Ok(Outcome::Locked(holder));
                    }
                }
            }
        }
        Err(contended(stack))
    }

    /// Frees `stack`'s lock when `me` holds it; returns the PRs that waited
    /// on it (to be re-validated), None when `me` did not hold it.
    pub async fn release(
        &self,
        stack: &str,
        me: &Claimant,
        reason: &str,
    ) -> Result<Option<Vec<u64>>> {
        for _ in 0..ROUNDS {
            let Some(current) = self.read(stack).await? else {
                return Ok(None);
            };
            let Some(freed) = locks::release(&current.record, me, reason) else {
                return Ok(None);
            };
            if self.write(stack, Some(&current.sha), &freed).await? {
                return Ok(Some(freed.waiters));
            }
        }
        Err(contended(stack))
    }

    /// `tfctl unlock`: frees whoever holds `stack`; returns the record it
    /// freed (None when the lock was not held).
    pub async fn unlock(
        &self,
        stack: &str,
        by: &str,
        time: &str,
        reason: &str,
    ) -> Result<Option<LockRecord>> {
        for _ in 0..ROUNDS {
            let Some(current) = self.read(stack).await? else {
                return Ok(None);
            };
            let Some(freed) = locks::unlock(&current.record, by, time, reason) else {
                return Ok(None);
            };
            if self.write(stack, Some(&current.sha), &freed).await? {
                return Ok(Some(current.record));
            }
        }
        Err(contended(stack))
    }

    /// Writes `record` as the lock's next state after `parent` (None: the
    /// lock's first state). False when another write got there first.
    async fn write(&self, stack: &str, parent: Option<&str>, record: &LockRecord) -> Result<bool> {
        let name = locks::ref_name(stack);
        let parents: Vec<String> = parent.map(str::to_string).into_iter().collect();
        let commit = self
            .home
            .create_commit(self.repo, &record.message(), locks::EMPTY_TREE, &parents)
            .await?;
        let won = match parent {
            None => matches!(
                self.home.create_ref(self.repo, &name, &commit.sha).await?,
                RefCreated::Created
            ),
            Some(_) => matches!(
                self.home.update_ref(self.repo, &name, &commit.sha).await?,
                RefUpdated::Updated
            ),
        };
        if won {
            return Ok(true);
        }
        // Refused — or a retry of a write that landed but whose answer was
        // lost: then the ref is at this very commit.
        let now = self.home.get_ref(self.repo, &name).await?;
        Ok(now.is_some_and(|r| r.sha == commit.sha))
    }
}

/// An apply that ended this way has put the change in place (or failed
/// doing so): its PR's locks are released. A blocked or cancelled apply
/// is re-run, so the lock stays.
pub fn finished(state: ApplyState) -> bool {
    matches!(state, ApplyState::Applied | ApplyState::Failed)
}

fn owned(record: &LockRecord, me: &Claimant) -> bool {
    record.repository == me.repository && record.pr == me.pr
}

fn contended(stack: &str) -> Error {
    Error::from(GithubError {
        call: format!("lock {stack}"),
        kind: crate::github::GithubErrorKind::Transport,
        message: format!("the lock changed under every one of {ROUNDS} attempts to write it"),
        attempts: ROUNDS as u32,
    })
}
