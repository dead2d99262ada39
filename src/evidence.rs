//! The one reader of tfctl's own evidence on a pull request
//! (docs/DESIGN.md §4, "Comments carry evidence, labels inform people").
//!
//! Merge and apply both ask this module, with one rule each: the validation
//! is the bot's comment for that head whose attestation verifies and is bound
//! to this repository and PR; the apply record is the bot's apply
//! attestation for that merge; an override is an unedited `OVERRIDE:`
//! comment by a special approver who is not the author, posted after that
//! validation. Labels are never read here.
//!
//! Pure: comments and trust settings in, decisions out. Must not: call
//! GitHub (team membership is asked by the caller and passed in), or accept
//! anything that a writer could have typed (a body without a verified
//! attestation, a label, an edited comment).

use crate::attest::PublicKey;
use crate::config::model::TrustConfig;
use crate::github::models::{Comment, CommitStatus};
use crate::render::marker::{self, ApplyMarker, Marker, ValidationMarker};

/// Minimum length of an override justification.
pub const MIN_JUSTIFICATION: usize = 10;

/// Whose signatures count.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Attestations must verify with one of these keys.
    Keys(&'a [PublicKey]),
    /// `trust.allow_unsigned` without keys: the demo mode; nothing is
    /// verified and every comment says "unsigned".
    Unsigned,
    /// No key and no `allow_unsigned`: gates refuse to act.
    Nothing,
}

impl<'a> Trust<'a> {
    pub fn of(cfg: &'a TrustConfig) -> Trust<'a> {
        match (cfg.public_keys.is_empty(), cfg.allow_unsigned) {
            (false, _) => Trust::Keys(&cfg.public_keys),
            (true, true) => Trust::Unsigned,
            (true, false) => Trust::Nothing,
        }
    }

    /// Why nothing can be believed, when nothing can.
    fn refusal(self) -> Option<String> {
        matches!(self, Trust::Nothing).then(|| {
            "trust.public_keys is empty: tfctl does not act on validations it cannot verify \
             (publish the controller's key from `tfctl key public`, or set \
             trust.allow_unsigned: true for a demo)"
                .to_string()
        })
    }

    fn accepts<M: Marker>(self, m: &M) -> Result<(), String> {
        match self {
            Trust::Keys(keys) => marker::verify(m, keys).map_err(|e| e.to_string()),
            Trust::Unsigned => Ok(()),
            Trust::Nothing => Err(self.refusal().unwrap_or_default()),
        }
    }
}

/// What the evidence must be about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The PR's repository, `owner/name`.
    pub repository: &'a str,
    pub pr_number: u64,
    /// Login that writes tfctl's comments.
    pub bot_login: &'a str,
}

/// A validation whose attestation verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub marker: ValidationMarker,
    /// GitHub's time of the comment's last change: an override must come
    /// after it (GitHub's clock, which nobody can set).
    pub comment_updated_at: String,
    /// False in the unsigned demo mode.
    pub signed: bool,
}

impl Verified {
    /// The single environment, or why there is none.
    pub fn environment(&self) -> Result<&str, String> {
        match (
            self.marker.environment.as_str(),
            self.marker.environments.len(),
        ) {
            ("", 0) => Err("the validation names no environment (no stacks changed)".into()),
            ("", _) => Err(format!(
                "more than one environment in one pull request: {}; split it",
                self.marker.environments.join(", ")
            )),
            (env, _) => Ok(env),
        }
    }

    pub fn passed(&self) -> bool {
        self.marker.result == crate::report::RunResult::Passed
    }
}

/// The commit status context validate sets; its newest status by the bot
/// names the current attestation.
pub const VALIDATE_STATUS: &str = "tfctl/validate";

/// The fingerprint of the attestation the controller published last for a
/// commit: from the newest `tfctl/validate` status set by `bot` (statuses
/// are listed newest first; a writer can add one, but as themselves).
pub fn published_fingerprint(statuses: &[CommitStatus], bot: &str) -> Option<String> {
    statuses
        .iter()
        .find(|s| {
            s.context.as_deref() == Some(VALIDATE_STATUS)
                && s.creator.as_ref().is_some_and(|c| c.login == bot)
        })
        .and_then(|s| s.description.as_deref())
        .and_then(marker::fingerprint_in)
        .map(str::to_string)
}

/// The bot's validation for `head_sha`, verified, or the reason there is
/// none that can be believed. `published` is the fingerprint the newest
/// bot status on the head names ([`published_fingerprint`]): only that
/// attestation counts, so an older one of the same head pasted back into
/// the comment (from before a re-validation) does not.
pub fn validation(
    comments: &[Comment],
    subject: &Subject<'_>,
    head_sha: &str,
    published: Option<&str>,
    trust: Trust<'_>,
) -> Result<Verified, String> {
    if let Some(refusal) = trust.refusal() {
        return Err(refusal);
    }
    let mut best: Option<Verified> = None;
    let mut problem: Option<(u8, String)> = None;
    let mut note = |rank: u8, text: String| {
        if problem.as_ref().is_none_or(|(r, _)| rank > *r) {
            problem = Some((rank, text));
        }
    };
    for (updated_at, m) in bot_validations(comments, subject.bot_login) {
        if let Err(why) = bound(&m.repository, m.pr_number, subject) {
            note(1, format!("the validation attestation is {why}"));
            continue;
        }
        if m.head_sha != head_sha {
            note(
                2,
                format!(
                    "validation is stale, re-run: it is for {} but the head is {}",
                    short(&m.head_sha),
                    short(head_sha)
                ),
            );
            continue;
        }
        if let Err(why) = trust.accepts(&m) {
            note(
                4,
                format!(
                    "the validation attestation for {} does not verify: {why}",
                    short(head_sha)
                ),
            );
            continue;
        }
        let fp = marker::fingerprint(&m);
        match published {
            Some(p) if p == fp => {}
            Some(p) => {
                note(
                    3,
                    format!(
                        "the validation comment's attestation {fp} is not the latest the controller published for {} (status {VALIDATE_STATUS} names {p}): re-run the validation",
                        short(head_sha)
                    ),
                );
                continue;
            }
            None => {
                note(
                    3,
                    format!(
                        "no {VALIDATE_STATUS} status by {} on {} names the attestation: re-run the validation",
                        subject.bot_login,
                        short(head_sha)
                    ),
                );
                continue;
            }
        }
        // Several verified ones for one head (markers pasted into the bot's
        // comment): the newest decision wins.
        if best.as_ref().is_none_or(|b| m.time > b.marker.time) {
            best = Some(Verified {
                signed: m.signature.is_some() && matches!(trust, Trust::Keys(_)),
                comment_updated_at: updated_at,
                marker: m,
            });
        }
    }
    best.ok_or_else(|| {
        problem.map_or_else(|| {
            format!(
                "no tfctl validation by {} on this pull request: validate it (re-run the validation)",
                subject.bot_login
            )
        }, |(_, p)| p)
    })
}

/// The heads the bot's validation comments name, newest decision first
/// (unverified: each is then asked of [`validation`] with its own status).
/// What re-validation looks through for an earlier head's results.
pub fn validated_heads(comments: &[Comment], bot_login: &str) -> Vec<String> {
    let mut found: Vec<(String, String)> = bot_validations(comments, bot_login)
        .into_iter()
        .map(|(_, m)| (m.time, m.head_sha))
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    let mut heads: Vec<String> = Vec::new();
    for (_, head) in found {
        if !heads.contains(&head) {
            heads.push(head);
        }
    }
    heads
}

/// The run of this PR's validation comment when it is newer than `run_id`
/// (both `GITHUB_RUN_ID`s, which only grow): that run already published,
/// so this one stops before writing. Only an attestation that verifies
/// counts (a writer may edit the bot's comment, and a forged huge run id
/// would silence every later run).
pub fn newer_run(
    comments: &[Comment],
    subject: &Subject<'_>,
    run_id: &str,
    trust: Trust<'_>,
) -> Option<String> {
    bot_validations(comments, subject.bot_login)
        .into_iter()
        .filter(|(_, m)| bound(&m.repository, m.pr_number, subject).is_ok())
        .filter(|(_, m)| trust.accepts(m).is_ok())
        .filter(|(_, m)| is_newer_run(&m.run_id, run_id))
        .map(|(_, m)| m.run_id)
        .max_by_key(|id| id.parse::<u64>().unwrap_or(0))
}

/// Whether run `theirs` started after run `ours` (`GITHUB_RUN_ID`s only
/// grow; a re-run attempt keeps its id; `local` is never newer).
pub fn is_newer_run(theirs: &str, ours: &str) -> bool {
    match (theirs.parse::<u64>(), ours.parse::<u64>()) {
        (Ok(theirs), Ok(ours)) => theirs > ours,
        _ => false,
    }
}

/// The previous merge history of a PR, from tfctl's sticky merge comment
/// by `bot`. A record for people (a writer can edit it); no gate reads it.
pub fn previous_merge<'c>(
    comments: &'c [Comment],
    bot: &str,
) -> (Option<&'c Comment>, Vec<crate::audit::AuditEvent>) {
    let prefix = marker::prefix::<crate::render::marker::MergeMarker>();
    let comment = crate::github::find_marked_comment(comments, &prefix, Some(bot));
    let history = comment
        .and_then(|c| c.body.as_deref())
        .and_then(marker::find::<crate::render::marker::MergeMarker>)
        .map(|m| m.history)
        .unwrap_or_default();
    (comment, history)
}

/// The bot's newest verified apply attestation for this PR's merge commit.
pub fn apply_record(
    comments: &[Comment],
    subject: &Subject<'_>,
    merge_commit_sha: &str,
    trust: Trust<'_>,
) -> Option<ApplyMarker> {
    bot_markers::<ApplyMarker>(comments, subject.bot_login)
        .filter(|(_, m)| {
            m.pr_number
                .is_some_and(|n| bound(&m.repository, n, subject).is_ok())
                && m.merge_commit_sha.as_deref() == Some(merge_commit_sha)
                && trust.accepts(m).is_ok()
        })
        .map(|(_, m)| m)
        .max_by(|a, b| a.time.cmp(&b.time))
}

/// An `OVERRIDE: <why>` comment, with what the caller learnt of its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideComment {
    pub author: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Text after `OVERRIDE:`, trimmed.
    pub justification: String,
    /// A listed special approver, or an active member of a listed team, as
    /// asked now.
    pub author_is_special_approver: bool,
}

impl OverrideComment {
    /// The override a comment states, if it states one (author not yet
    /// known to be special).
    pub fn of(comment: &Comment) -> Option<OverrideComment> {
        Some(OverrideComment {
            author: comment.author()?.to_string(),
            created_at: comment.created_at.clone(),
            updated_at: comment.updated_at.clone(),
            justification: parse_override(comment.body.as_deref()?)?,
            author_is_special_approver: false,
        })
    }
}

/// Parses an override comment body: `OVERRIDE: <justification>`.
pub fn parse_override(body: &str) -> Option<String> {
    let rest = body.trim_start().strip_prefix("OVERRIDE:")?;
    Some(rest.trim().to_string())
}

/// Why `o` does not excuse the failed validation `v`, if it does not.
/// `merged_at`: for apply, the override must predate the merge.
pub fn override_problem(
    o: &OverrideComment,
    pr_author: &str,
    v: &Verified,
    merged_at: Option<&str>,
) -> Option<String> {
    let who = &o.author;
    if o.updated_at.as_deref().is_some_and(|u| u != o.created_at) {
        return Some(format!(
            "override refused: {who}'s OVERRIDE comment was edited after it was posted; post a new one"
        ));
    }
    if who.eq_ignore_ascii_case(pr_author) {
        return Some(format!(
            "override refused: {who} is the pull request's author"
        ));
    }
    if !o.author_is_special_approver {
        return Some(format!("override refused: {who} is not a special approver"));
    }
    if o.justification.chars().count() < MIN_JUSTIFICATION {
        return Some(format!(
            "override refused: the justification must be at least {MIN_JUSTIFICATION} characters"
        ));
    }
    if o.created_at <= v.comment_updated_at {
        return Some(
            "override refused: it was posted before the validation of the current head; post it again"
                .into(),
        );
    }
    if let Some(merged) = merged_at {
        if o.created_at.as_str() > merged {
            return Some("override refused: it was posted after the merge".into());
        }
    }
    None
}

/// The violations an override excuses, as the audit trail names them.
pub fn overridden_violations(v: &Verified) -> Vec<String> {
    if v.marker.violations.is_empty() {
        return vec![format!(
            "validation result {} (no policy violation recorded)",
            v.marker.result.as_str()
        )];
    }
    v.marker
        .violations
        .iter()
        .map(|x| format!("{}: {} ({})", x.stack, x.rule, x.id))
        .collect()
}

/// The short SHA of every message about evidence (defined with the other
/// display helpers, which render with it too).
pub use crate::render::short;

/// Every marker of kind `M` in comments written by `bot`, with its comment.
/// All of them, not the first: a writer can paste markers into any comment,
/// the bot's included, so each is judged on its own attestation.
fn bot_markers<'c, M: Marker + 'c>(
    comments: &'c [Comment],
    bot: &'c str,
) -> impl Iterator<Item = (&'c Comment, M)> + 'c {
    comments
        .iter()
        .filter(move |c| c.author() == Some(bot))
        .flat_map(|c| {
            let body = c.body.as_deref().unwrap_or_default();
            marker::spans(body, M::KIND)
                .filter_map(|(start, end)| marker::find::<M>(&body[start..end]))
                .map(move |m| (c, m))
                .collect::<Vec<_>>()
        })
}

/// Every validation attestation in `bot`'s comments with the time its
/// comment last changed: the inline ones, and those spread over part
/// comments (`render::parts`), joined, with their latest part's time.
fn bot_validations(comments: &[Comment], bot: &str) -> Vec<(String, ValidationMarker)> {
    let mut found: Vec<(String, ValidationMarker)> = bot_markers(comments, bot)
        .map(|(c, m)| (comment_time(c).to_string(), m))
        .collect();
    found.extend(crate::render::parts::assemble(
        comments
            .iter()
            .filter(|c| c.author() == Some(bot))
            .map(|c| (c.body.as_deref().unwrap_or_default(), comment_time(c))),
    ));
    found
}

fn bound(repository: &str, pr_number: u64, subject: &Subject<'_>) -> Result<(), String> {
    if repository.eq_ignore_ascii_case(subject.repository) && pr_number == subject.pr_number {
        Ok(())
    } else {
        Err(format!(
            "for {repository}#{pr_number}, not {}#{}",
            subject.repository, subject.pr_number
        ))
    }
}

fn comment_time(c: &Comment) -> &str {
    c.updated_at.as_deref().unwrap_or(&c.created_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::SigningKey;
    use crate::github::models::User;
    use crate::render::marker::{ViolationRecord, ATTESTATION_VERSION};
    use crate::report::RunResult;
    use std::collections::BTreeMap;

    const BOT: &str = "tfctl-bot[bot]";

    fn subject() -> Subject<'static> {
        Subject {
            repository: "acme/config",
            pr_number: 7,
            bot_login: BOT,
        }
    }

    fn vm(head: &str, result: RunResult) -> ValidationMarker {
        ValidationMarker {
            version: ATTESTATION_VERSION,
            repository: "acme/config".into(),
            pr_number: 7,
            head_sha: head.into(),
            base_ref: "main".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result,
            stacks: BTreeMap::new(),
            violations: vec![ViolationRecord {
                stack: "S3/a".into(),
                rule: "main.deny".into(),
                id: "v1".into(),
            }],
            results: Default::default(),
            policy_digest: String::new(),
            time: "2026-12-01T10:00:00Z".into(),
            run_id: "1".into(),
            signature: None,
            locked: Vec::new(),
        }
    }

    /// [`validation`] as the controller's status would have it: the newest
    /// attestation in `comments` for `head` is the published one.
    fn check(
        comments: &[Comment],
        subject: &Subject<'_>,
        head: &str,
        trust: Trust<'_>,
    ) -> Result<Verified, String> {
        // The controller publishes only what it signed (or, unsigned, the
        // last thing it wrote).
        let published = comments
            .iter()
            .flat_map(|c| {
                let body = c.body.as_deref().unwrap_or_default();
                marker::spans(body, ValidationMarker::KIND)
                    .filter_map(|(a, b)| marker::find::<ValidationMarker>(&body[a..b]))
                    .collect::<Vec<_>>()
            })
            .filter(|m| m.head_sha == head)
            .filter(|m| m.signature.is_some() || matches!(trust, Trust::Unsigned | Trust::Nothing))
            .max_by(|a, b| a.time.cmp(&b.time))
            .map(|m| marker::fingerprint(&m));
        validation(comments, subject, head, published.as_deref(), trust)
    }

    fn comment(id: u64, author: &str, body: &str, created: &str, updated: &str) -> Comment {
        Comment {
            id,
            body: Some(body.into()),
            user: Some(User {
                login: author.into(),
                kind: None,
            }),
            created_at: created.into(),
            updated_at: Some(updated.into()),
            html_url: None,
        }
    }

    #[test]
    fn only_a_verified_bot_attestation_for_this_pr_and_head_counts() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let trust = Trust::Keys(&keys);
        let t = "2026-12-01T10:00:00Z";
        let good = marker::render(&vm("head", RunResult::Passed), Some(&key));
        let ok = check(&[comment(1, BOT, &good, t, t)], &subject(), "head", trust).unwrap();
        assert!(ok.passed() && ok.signed);
        assert_eq!(ok.environment(), Ok("production"));

        // Written by someone else: ignored.
        let err = check(
            &[comment(1, "mallory", &good, t, t)],
            &subject(),
            "head",
            trust,
        );
        assert!(err.unwrap_err().contains("no tfctl validation"));
        // Unsigned, or the verdict edited after signing.
        let unsigned = marker::render(&vm("head", RunResult::Passed), None);
        let err = check(
            &[comment(1, BOT, &unsigned, t, t)],
            &subject(),
            "head",
            trust,
        );
        assert!(err.unwrap_err().contains("not signed"));
        let failed = marker::render(&vm("head", RunResult::Failed), Some(&key))
            .replace("\"result\":\"failed\"", "\"result\":\"passed\"");
        let err = check(&[comment(1, BOT, &failed, t, t)], &subject(), "head", trust);
        assert!(err.unwrap_err().contains("does not verify"));
        // Another head, another PR, another repository.
        let err = check(&[comment(1, BOT, &good, t, t)], &subject(), "newer", trust);
        assert!(err.unwrap_err().contains("stale"));
        let mut other_pr = vm("head", RunResult::Passed);
        other_pr.pr_number = 8;
        let copied = marker::render(&other_pr, Some(&key));
        let err = check(&[comment(1, BOT, &copied, t, t)], &subject(), "head", trust);
        assert!(err.unwrap_err().contains("acme/config#8"));
        // A forged passed marker pasted above the real failed one in the
        // bot's own comment does not win.
        let real_failed = marker::render(&vm("head", RunResult::Failed), Some(&key));
        let body = format!("{unsigned}\n{real_failed}");
        let v = check(&[comment(1, BOT, &body, t, t)], &subject(), "head", trust).unwrap();
        assert!(!v.passed());
    }

    #[test]
    fn only_the_attestation_the_status_names_counts() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let t = "2026-12-01T10:00:00Z";
        let passed = vm("head", RunResult::Passed);
        let mut failed = vm("head", RunResult::Failed);
        failed.time = "2026-12-01T11:00:00Z".into();
        let (old, new) = (
            marker::signed(&passed, Some(&key)),
            marker::signed(&failed, Some(&key)),
        );
        // The head was re-validated (failed); a writer pastes the older
        // passing attestation back into the bot's comment.
        let restored = [comment(1, BOT, &marker::to_comment(&old), t, t)];
        let latest = marker::fingerprint(&new);
        let err = validation(
            &restored,
            &subject(),
            "head",
            Some(&latest),
            Trust::Keys(&keys),
        )
        .unwrap_err();
        assert!(
            err.contains("is not the latest the controller published"),
            "{err}"
        );
        let err = validation(&restored, &subject(), "head", None, Trust::Keys(&keys)).unwrap_err();
        assert!(err.contains("no tfctl/validate status"), "{err}");
        // The current one verifies.
        let current = [comment(1, BOT, &marker::to_comment(&new), t, t)];
        let v = validation(
            &current,
            &subject(),
            "head",
            Some(&latest),
            Trust::Keys(&keys),
        )
        .unwrap();
        assert!(!v.passed());
    }

    #[test]
    fn the_published_fingerprint_is_the_bots_newest_validate_status() {
        use crate::github::models::CommitStatus;
        let status = |id, who: &str, context: &str, fp: &str| CommitStatus {
            id,
            state: "success".into(),
            context: Some(context.into()),
            description: Some(marker::status_description("1 stack: 1 passed", fp)),
            target_url: None,
            creator: Some(User {
                login: who.into(),
                kind: None,
            }),
            created_at: None,
        };
        // Newest first, as GitHub lists them.
        let statuses = [
            status(4, "mallory", VALIDATE_STATUS, "aaaaaaaaaaaa"),
            status(3, BOT, "tfctl/apply", "bbbbbbbbbbbb"),
            status(2, BOT, VALIDATE_STATUS, "cccccccccccc"),
            status(1, BOT, VALIDATE_STATUS, "dddddddddddd"),
        ];
        assert_eq!(
            published_fingerprint(&statuses, BOT).as_deref(),
            Some("cccccccccccc")
        );
        assert_eq!(published_fingerprint(&statuses[..2], BOT), None);
    }

    #[test]
    fn without_keys_gates_refuse_unless_unsigned_is_allowed() {
        let t = "2026-12-01T10:00:00Z";
        let unsigned = marker::render(&vm("head", RunResult::Passed), None);
        let comments = [comment(1, BOT, &unsigned, t, t)];
        let err = check(&comments, &subject(), "head", Trust::Nothing).unwrap_err();
        assert!(err.contains("trust.public_keys is empty"), "{err}");
        let v = check(&comments, &subject(), "head", Trust::Unsigned).unwrap();
        assert!(!v.signed);
    }

    #[test]
    fn an_override_counts_only_unedited_by_a_special_approver_after_the_validation() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let body = marker::render(&vm("head", RunResult::Failed), Some(&key));
        let v = check(
            &[comment(
                1,
                BOT,
                &body,
                "2026-12-01T10:00:00Z",
                "2026-12-01T10:00:05Z",
            )],
            &subject(),
            "head",
            Trust::Keys(&keys),
        )
        .unwrap();
        let o = OverrideComment {
            author: "carol".into(),
            created_at: "2026-12-01T11:00:00Z".into(),
            updated_at: Some("2026-12-01T11:00:00Z".into()),
            justification: "incident 42: bucket must stay public today".into(),
            author_is_special_approver: true,
        };
        assert_eq!(override_problem(&o, "alice", &v, None), None);
        assert_eq!(
            override_problem(&o, "alice", &v, Some("2026-12-01T12:00:00Z")),
            None
        );
        type Spoil = fn(&mut OverrideComment);
        let cases: [(&str, Spoil); 5] = [
            ("edited", |o| {
                o.updated_at = Some("2026-12-01T11:30:00Z".into());
            }),
            ("author", |o| o.author = "Alice".into()),
            ("not a special approver", |o| {
                o.author_is_special_approver = false;
            }),
            ("at least", |o| o.justification = "ok".into()),
            ("before the validation", |o| {
                o.created_at = "2026-12-01T10:00:05Z".into();
                o.updated_at = None;
            }),
        ];
        for (why, edit) in cases {
            let mut bad = o.clone();
            edit(&mut bad);
            let problem = override_problem(&bad, "alice", &v, None).unwrap();
            assert!(problem.contains(why), "{why}: {problem}");
        }
        let after_merge = override_problem(&o, "alice", &v, Some("2026-12-01T10:30:00Z"));
        assert!(after_merge.unwrap().contains("after the merge"));
        assert_eq!(
            overridden_violations(&v),
            vec!["S3/a: main.deny (v1)".to_string()]
        );
    }

    #[test]
    fn override_bodies_parse() {
        assert_eq!(
            parse_override("  OVERRIDE:  why not "),
            Some("why not".into())
        );
        assert_eq!(parse_override("override: x"), None);
        assert_eq!(parse_override("please OVERRIDE: x"), None);
    }
}
