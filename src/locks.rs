//! Stack locks (docs/DESIGN.md §8, "Stack locks"): the decisions, no IO.
//!
//! A lock is a Git ref in the repository tfctl runs in,
//! `refs/tfctl/locks/<stack>`, pointing at a commit whose message is a
//! [`LockRecord`]. GitHub refuses to create a ref twice and to move one
//! except by fast-forward (`force: false`), so every change of a lock is a
//! new commit on top of the state it was decided from: two runs that read
//! the same state cannot both win, and a retried request whose answer was
//! lost finds its own record there. The ref is never deleted; a released
//! lock is a `free` record, and the chain of commits is the lock's history.
//!
//! A lock is never believed on its own: whether its holder still holds it
//! is asked of GitHub at each acquisition ([`HolderStanding`]). A holder PR
//! closed without merge, or merged and applied, holds nothing, so a lock
//! cannot outlive its PR even when its release was never written.

use serde::{Deserialize, Serialize};

/// Where the lock refs live.
pub const REF_PREFIX: &str = "refs/tfctl/locks/";

/// Git's empty tree: every lock commit's tree. Git knows this object in
/// every repository, so a lock commit needs no tree to be written first.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The first line of every lock commit's message.
const SUBJECT: &str = "tfctl lock";

/// The ref of a stack's lock. Each path component of the stack id keeps
/// `[A-Za-z0-9_-]` and writes any other byte as `%XX`, so no id can make
/// an invalid ref name (`..`, a leading `.`, `.lock`, spaces, `~^:?*[\`).
pub fn ref_name(stack_id: &str) -> String {
    let parts: Vec<String> = stack_id.split('/').map(ref_component).collect();
    format!("{REF_PREFIX}{}", parts.join("/"))
}

/// One ref path component from any text: `[A-Za-z0-9_-]` kept, any other
/// byte `%XX`, the empty text `%00`.
pub fn ref_component(text: &str) -> String {
    if text.is_empty() {
        return "%00".into();
    }
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The JSON record of a tfctl commit message `<subject>: <line>\n\n{…}`
/// (a commit that is not tfctl's is refused, not ignored).
pub(crate) fn record_json<'a>(message: &'a str, subject: &str) -> Result<&'a str, String> {
    if !message.starts_with(subject) {
        return Err(format!("not a tfctl record (no `{subject}:` subject)"));
    }
    message
        .find('{')
        .map(|i| &message[i..])
        .ok_or_else(|| format!("a `{subject}` commit without its JSON record"))
}

/// Whether a lock is taken or was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockState {
    Held,
    Free,
}

/// One state of a stack's lock, as its commit message records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub stack: String,
    pub state: LockState,
    /// The holder's (or, when free, the last holder's) PR: `owner/name`.
    pub repository: String,
    pub pr: u64,
    /// The head the holder validated when it took the lock.
    pub head_sha: String,
    /// When this state was written (RFC 3339).
    pub time: String,
    /// Who wrote it: a PR's run, `tfctl unlock` by a special approver.
    pub by: String,
    /// Why it was released, or why a stale holder was passed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Other PRs (same repository as the holder) validated while it was
    /// held: re-validated when it is released.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiters: Vec<u64>,
}

impl LockRecord {
    /// The commit message: a line for `git log`, then the record as JSON.
    pub fn message(&self) -> String {
        let what = match self.state {
            LockState::Held => format!("{} held by {}#{}", self.stack, self.repository, self.pr),
            LockState::Free => format!("{} free", self.stack),
        };
        let json = serde_json::to_string_pretty(self).expect("a lock record serializes");
        format!("{SUBJECT}: {what}\n\n{json}\n")
    }

    /// Reads a lock commit's message; an error names what is wrong (a ref
    /// under [`REF_PREFIX`] that is not tfctl's is refused, not ignored).
    pub fn parse(message: &str) -> Result<LockRecord, String> {
        let json = record_json(message, SUBJECT)?;
        serde_json::from_str(json).map_err(|e| format!("the lock record: {e}"))
    }

    /// `#12` for a holder in `repository`, `owner/name#12` otherwise.
    pub fn holder(&self, repository: &str) -> String {
        if self.repository == repository {
            format!("#{}", self.pr)
        } else {
            format!("{}#{}", self.repository, self.pr)
        }
    }
}

/// Who asks for a lock: a PR at a head, in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub repository: String,
    pub pr: u64,
    pub head_sha: String,
    pub time: String,
    pub by: String,
}

impl Claimant {
    fn owns(&self, record: &LockRecord) -> bool {
        record.state == LockState::Held
            && record.repository == self.repository
            && record.pr == self.pr
    }

    fn record(&self, stack: &str) -> LockRecord {
        LockRecord {
            stack: stack.to_string(),
            state: LockState::Held,
            repository: self.repository.clone(),
            pr: self.pr,
            head_sha: self.head_sha.clone(),
            time: self.time.clone(),
            by: self.by.clone(),
            reason: None,
            waiters: Vec::new(),
        }
    }
}

/// What GitHub says of the PR that holds a lock, asked at acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderStanding {
    Open,
    /// Closed without merge: it will never apply.
    Closed,
    /// Merged; `applied` once an apply of its merge commit has finished,
    /// applied or failed (a blocked or cancelled apply is run again).
    Merged {
        applied: bool,
    },
    /// GitHub does not know the PR (deleted repository, transferred).
    Gone,
}

impl HolderStanding {
    /// Why a holder with this standing holds nothing, or None.
    pub fn stale_because(self) -> Option<&'static str> {
        match self {
            HolderStanding::Open | HolderStanding::Merged { applied: false } => None,
            HolderStanding::Closed => Some("its pull request was closed without merge"),
            HolderStanding::Merged { applied: true } => {
                Some("its pull request was merged and applied")
            }
            HolderStanding::Gone => Some("its pull request no longer exists"),
        }
    }
}

/// What an acquisition does with the lock's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// No lock ref yet: create it with this record.
    Create(LockRecord),
    /// Already the claimant's (a re-validation, or a retry whose answer was
    /// lost): nothing to write.
    Held,
    /// Free, or held by a PR that holds nothing: move the ref to this
    /// record (fast-forward from the state it was decided on).
    Take(LockRecord),
    /// Held by another live PR: the claimant waits. `Some` records it as a
    /// waiter (so the release re-validates it); `None` when it is listed.
    Wait {
        holder: LockRecord,
        add_waiter: Option<LockRecord>,
    },
}

/// Decides an acquisition of `stack`'s lock by `me`. `holder` is the
/// holder PR's standing, asked only when another PR holds the lock.
pub fn acquire(
    stack: &str,
    current: Option<&LockRecord>,
    holder: Option<HolderStanding>,
    me: &Claimant,
) -> Acquire {
    let Some(current) = current else {
        return Acquire::Create(me.record(stack));
    };
    if me.owns(current) {
        return Acquire::Held;
    }
    if current.state == LockState::Free {
        return Acquire::Take(me.record(stack));
    }
    if let Some(why) = holder.and_then(HolderStanding::stale_because) {
        let mut record = me.record(stack);
        record.reason = Some(format!(
            "{} was not held: {why}",
            current.holder(&me.repository)
        ));
        // Whoever waited on the stale holder waits on the new one.
        record.waiters = current
            .waiters
            .iter()
            .copied()
            .filter(|&n| !(current.repository == me.repository && n == me.pr))
            .collect();
        return Acquire::Take(record);
    }
    let waiting = current.repository == me.repository && current.waiters.contains(&me.pr);
    let add_waiter = (!waiting && current.repository == me.repository).then(|| {
        let mut record = current.clone();
        record.waiters.push(me.pr);
        record.waiters.sort_unstable();
        record.time.clone_from(&me.time);
        record
    });
    Acquire::Wait {
        holder: current.clone(),
        add_waiter,
    }
}

/// The record that releases `current` when `me` holds it (`None` when it
/// does not: a release never frees another PR's lock).
pub fn release(current: &LockRecord, me: &Claimant, reason: &str) -> Option<LockRecord> {
    me.owns(current).then(|| LockRecord {
        state: LockState::Free,
        time: me.time.clone(),
        by: me.by.clone(),
        reason: Some(reason.to_string()),
        ..current.clone()
    })
}

/// The record of `tfctl unlock` by a special approver: free whoever held it,
/// with the reason, keeping the waiters so they are re-validated.
pub fn unlock(current: &LockRecord, by: &str, time: &str, reason: &str) -> Option<LockRecord> {
    (current.state == LockState::Held).then(|| LockRecord {
        state: LockState::Free,
        time: time.to_string(),
        by: by.to_string(),
        reason: Some(reason.to_string()),
        ..current.clone()
    })
}

/// A stack another PR holds, as a validation reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StackLock {
    pub stack: String,
    /// `#12` (or `owner/name#12` from another repository).
    pub holder: String,
    pub holder_pr: u64,
    /// When the holder took it (RFC 3339).
    pub since: String,
    /// How long it had been held when this PR was validated (`2 h`).
    pub held_for: String,
}

impl StackLock {
    /// `holder`'s lock as seen by `me` at `now` (seconds since the epoch).
    pub fn of(holder: &LockRecord, me: &Claimant, now: u64) -> StackLock {
        let since = crate::clock::parse_rfc3339(&holder.time).unwrap_or(now);
        StackLock {
            stack: holder.stack.clone(),
            holder: holder.holder(&me.repository),
            holder_pr: holder.pr,
            since: holder.time.clone(),
            held_for: age(now, since),
        }
    }

    /// `` `S3/logs` is locked by #12, validated 2 h ago `` as plain text.
    pub fn sentence(&self) -> String {
        format!(
            "{} is locked by {}, validated {} ago",
            self.stack, self.holder, self.held_for
        )
    }
}

/// `2 h`, `5 min`, `3 d`: how long ago `then` was, `now` and `then` in
/// seconds since the epoch.
pub fn age(now: u64, then: u64) -> String {
    let secs = now.saturating_sub(then);
    match secs {
        0..=119 => "1 min".to_string(),
        120..=7_199 => format!("{} min", secs / 60),
        7_200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(pr: u64) -> Claimant {
        Claimant {
            repository: "org/config".into(),
            pr,
            head_sha: format!("{pr:040}"),
            time: "2026-12-03T10:00:00Z".into(),
            by: "run 1".into(),
        }
    }

    fn held_by(pr: u64) -> LockRecord {
        me(pr).record("S3/logs")
    }

    #[test]
    fn ref_names_are_valid_for_any_stack_id() {
        assert_eq!(ref_name("S3/logs"), "refs/tfctl/locks/S3/logs");
        assert_eq!(
            ref_name("a.b/x y/.lock"),
            "refs/tfctl/locks/a%2Eb/x%20y/%2Elock"
        );
        assert_eq!(ref_name("a//b"), "refs/tfctl/locks/a/%00/b");
        assert_ne!(ref_name("a.b"), ref_name("a_b"));
    }

    #[test]
    fn a_record_reads_back_from_its_commit_message() {
        let mut r = held_by(12);
        r.waiters = vec![14, 15];
        let msg = r.message();
        assert!(msg.starts_with("tfctl lock: S3/logs held by org/config#12\n\n{"));
        assert_eq!(LockRecord::parse(&msg).unwrap(), r);
        assert!(LockRecord::parse("Merge branch 'x'")
            .unwrap_err()
            .contains("not a tfctl record"));
        assert!(LockRecord::parse("tfctl lock: x\n\n{\"stack\": 1}")
            .unwrap_err()
            .contains("the lock record"));
    }

    #[test]
    fn a_missing_or_free_lock_is_taken_and_ones_own_is_kept() {
        assert_eq!(
            acquire("S3/logs", None, None, &me(12)),
            Acquire::Create(held_by(12))
        );
        assert_eq!(
            acquire("S3/logs", Some(&held_by(12)), None, &me(12)),
            Acquire::Held
        );
        let freed = release(&held_by(11), &me(11), "applied").unwrap();
        assert_eq!(freed.state, LockState::Free);
        assert_eq!(
            acquire("S3/logs", Some(&freed), None, &me(12)),
            Acquire::Take(held_by(12))
        );
    }

    #[test]
    fn another_live_holder_makes_the_claimant_wait_once() {
        for standing in [
            HolderStanding::Open,
            HolderStanding::Merged { applied: false },
        ] {
            let Acquire::Wait { holder, add_waiter } =
                acquire("S3/logs", Some(&held_by(12)), Some(standing), &me(14))
            else {
                panic!("{standing:?} holds the lock");
            };
            assert_eq!(holder.pr, 12);
            let waiting = add_waiter.unwrap();
            assert_eq!((waiting.pr, waiting.waiters.clone()), (12, vec![14]));
            // Listed already: nothing more to write.
            assert!(matches!(
                acquire("S3/logs", Some(&waiting), Some(standing), &me(14)),
                Acquire::Wait {
                    add_waiter: None,
                    ..
                }
            ));
        }
    }

    #[test]
    fn a_holder_that_holds_nothing_is_passed_over_with_why() {
        let mut stale = held_by(12);
        stale.waiters = vec![14, 15];
        for standing in [
            HolderStanding::Closed,
            HolderStanding::Merged { applied: true },
            HolderStanding::Gone,
        ] {
            let Acquire::Take(taken) = acquire("S3/logs", Some(&stale), Some(standing), &me(14))
            else {
                panic!("{standing:?} holds nothing");
            };
            assert_eq!((taken.pr, taken.state), (14, LockState::Held));
            assert_eq!(taken.waiters, vec![15]);
            assert!(taken
                .reason
                .unwrap()
                .starts_with("#12 was not held: its pull request"));
        }
    }

    #[test]
    fn a_release_frees_only_ones_own_lock() {
        assert_eq!(release(&held_by(12), &me(14), "applied"), None);
        let mut waited = held_by(12);
        waited.waiters = vec![14];
        let freed = release(&waited, &me(12), "applied").unwrap();
        assert_eq!(
            (freed.state, freed.waiters.clone()),
            (LockState::Free, vec![14])
        );
        assert_eq!(release(&freed, &me(12), "again"), None);
        assert!(unlock(&held_by(12), "alice", "t", "stuck").is_some());
        assert!(unlock(&freed, "alice", "t", "stuck").is_none());
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(100, 90), "1 min");
        assert_eq!(age(3_000, 0), "50 min");
        assert_eq!(age(8_000, 0), "2 h");
        assert_eq!(age(200_000, 0), "2 d");
    }
}
