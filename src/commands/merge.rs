//! `tfctl merge` (config repository): on an approving review or an
//! `OVERRIDE: <why>` comment, gathers the PR's facts, asks the merge gate,
//! and merges into the environment's branch with the head-SHA guard — or
//! says why not.
//!
//! Wiring only: the decision is [`gates::merge_gate`]; the comment text is
//! `render::pr`, tfctl's own comments are read back by `evidence`. Order of
//! effects: all reads, the decision, then (when it is "merge") retarget +
//! merge; only once the outcome is final are the
//! label, the one sticky comment and the audit event written, so a failure
//! never leaves half a decision on the PR.

use std::path::Path;

use super::gh::{GhSession, RunRecord};
use crate::actions::commands::neutralise;
use crate::actions::event::Event;
use crate::audit::AuditEvent;
use crate::cli::MergeArgs;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::evidence;
use crate::gates::{self, MergeDecision, MergeFacts, MergePolicy, ReviewState};
use crate::github::models::{Comment, PullRequest};
use crate::github::{MergeOutcome, PullUpdate};
use crate::render::marker::{self, MergeMarker};
use crate::render::short;

/// What started the run.
struct Trigger {
    number: u64,
    /// The reviewer or the comment's author.
    actor: String,
    /// Set when the run is an `OVERRIDE:` comment.
    override_comment: Option<OverrideComment>,
}

/// The `OVERRIDE:` comment of the event, by id: its text and times are
/// read again from GitHub, so an edit made since the event counts.
struct OverrideComment {
    id: u64,
}

/// Runs `tfctl merge` on the event of the Actions context.
pub fn run(config: Option<&Path>, args: MergeArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::open(ctx, &cfg.github, &args.github)?;
    let trigger = match trigger(&session.event)? {
        Ok(t) => t,
        Err(why) => {
            println!("tfctl merge: {}", neutralise(&why));
            session.leave(RunRecord::outputs(vec![("merged", "false".into())]))?;
            return Ok(ExitStatus::Success);
        }
    };
    GhSession::runtime()?.block_on(merge(&cfg, &session, trigger))
}

/// The trigger, `Ok(Err(why))` when the event asks for nothing, or an input
/// error for an event `tfctl merge` is not wired to.
fn trigger(event: &Event) -> Result<std::result::Result<Trigger, String>> {
    Ok(match event {
        Event::PullRequestReview(e) => {
            if e.action != "submitted" || !e.review.is_approval() {
                Err(format!(
                    "review {} ({}) on #{} is not a submitted approval: nothing to do",
                    e.review.id, e.review.state, e.pull_request.number
                ))
            } else {
                Ok(Trigger {
                    number: e.pull_request.number,
                    actor: e.review.user.login.clone(),
                    override_comment: None,
                })
            }
        }
        Event::IssueComment(e) => {
            if e.action != "created" {
                Err(format!("comment {}: nothing to do", e.action))
            } else if !e.is_on_pull_request() {
                Err(format!(
                    "#{} is an issue, not a pull request: nothing to do",
                    e.issue.number
                ))
            } else {
                match evidence::parse_override(&e.comment.body) {
                    None => Err(format!(
                        "comment on #{} is not an `OVERRIDE:`: nothing to do",
                        e.issue.number
                    )),
                    Some(_) => Ok(Trigger {
                        number: e.issue.number,
                        actor: e.comment.user.login.clone(),
                        override_comment: Some(OverrideComment { id: e.comment.id }),
                    }),
                }
            }
        }
        other => {
            return Err(Error::input(format!(
                "tfctl merge runs on pull_request_review and issue_comment events, not {}",
                other.name()
            )))
        }
    })
}

/// The final outcome, before it is reported.
enum Outcome {
    Merged {
        environment: String,
        branch: String,
        approvers: Vec<String>,
        overridden_by: Option<String>,
        merge_commit_sha: String,
    },
    Blocked(Vec<String>),
}

/// What `merge` reads from GitHub before it decides: the PR, its
/// comments, the verified validation and override, and the facts the
/// gate judges.
struct Read {
    pr: PullRequest,
    comments: Vec<Comment>,
    validation: std::result::Result<evidence::Verified, String>,
    override_request: Option<evidence::OverrideComment>,
    facts: MergeFacts,
}

/// Read → decide → report. The decision is `gates::merge_gate` (pure);
/// carrying it out is the one write before the report.
async fn merge(cfg: &Config, session: &GhSession, trigger: Trigger) -> Result<ExitStatus> {
    let Some(read) = read(cfg, session, &trigger).await? else {
        // A re-run after the merge: the PR already says so.
        println!(
            "tfctl merge: #{} is already merged: nothing to do",
            trigger.number
        );
        session.leave(RunRecord::outputs(vec![("merged", "true".into())]))?;
        return Ok(ExitStatus::Success);
    };
    let approvals_for = |env: &str| cfg.approvals_for(env);
    let branch_for = |env: &str| cfg.branch_for(env);
    let decision = gates::merge_gate(
        &read.facts,
        &MergePolicy {
            passed_label: &cfg.labels.passed,
            failed_label: &cfg.labels.failed,
            approvals_for: &approvals_for,
            branch_for: &branch_for,
            allow_forks: cfg.github.allow_forks,
        },
    );
    let outcome = match decision {
        MergeDecision::Blocked(reasons) => Outcome::Blocked(reasons),
        MergeDecision::Merge {
            environment,
            branch,
            approvers,
            overridden_by,
        } => match merge_into(session, cfg, &read.pr, &branch).await? {
            Ok(sha) => Outcome::Merged {
                environment,
                branch,
                approvers,
                overridden_by,
                merge_commit_sha: sha,
            },
            Err(why) => Outcome::Blocked(vec![why]),
        },
    };
    report(cfg, session, &trigger, &read, &outcome).await?;
    let (lines, status) = said(trigger.number, &read.pr.head.sha, &outcome);
    for line in lines {
        // Reasons quote repository text (environments, branches).
        println!("{}", neutralise(&line));
    }
    Ok(status)
}

/// Everything the gate judges, read from GitHub; `None` when the PR is
/// merged already.
async fn read(cfg: &Config, session: &GhSession, trigger: &Trigger) -> Result<Option<Read>> {
    let client = &session.client;
    let repo = &session.repo;
    let n = trigger.number;
    let pr = client.get_pull(repo, n).await?;
    if pr.is_merged() {
        return Ok(None);
    }
    let reviews = client.list_reviews(repo, n).await?;
    let comments = client.list_comments(repo, n).await?;
    let repository = repo.to_string();
    let subject = evidence::Subject {
        repository: &repository,
        pr_number: n,
        bot_login: &session.bot_login,
    };
    let statuses = client.list_statuses(repo, &pr.head.sha).await?;
    let published = evidence::published_fingerprint(&statuses, &session.bot_login);
    let validation = evidence::validation(
        &comments,
        &subject,
        &pr.head.sha,
        published.as_deref(),
        evidence::Trust::of(&cfg.trust),
    );
    let passed = validation.as_ref().is_ok_and(evidence::Verified::passed);
    let override_request = match &trigger.override_comment {
        Some(c) => match comments.iter().find(|x| x.id == c.id) {
            Some(comment) => match evidence::OverrideComment::of(comment) {
                Some(o) => {
                    Some(super::approvers::with_standing(o, client, cfg, &pr.user.login).await?)
                }
                None => None,
            },
            // Deleted since the event: nothing to act on.
            None => None,
        },
        // An approval on a PR whose policies failed may complete an
        // override posted earlier.
        None if !passed && validation.is_ok() => {
            standing_override(session, cfg, &comments, &pr).await?
        }
        None => None,
    };
    let mut facts = MergeFacts {
        pr_author: pr.user.login.clone(),
        head_sha: pr.head.sha.clone(),
        open: pr.state == "open",
        labels: pr.label_names(),
        reviews: reviews
            .iter()
            .map(|r| gates::Review {
                user: r
                    .user
                    .as_ref()
                    .map_or_else(String::new, |u| u.login.clone()),
                state: ReviewState::parse(&r.state),
                commit_id: r.commit_id.clone().unwrap_or_default(),
                submitted_at: r.submitted_at.clone().unwrap_or_default(),
                can_write: false,
            })
            .collect(),
        validation: validation.clone(),
        override_request: override_request.clone(),
        from_fork: pr.is_from_fork(repo),
    };
    // Approvals count only from users who can write, as branch protection
    // counts them: one lookup per reviewer whose approval could count.
    for user in gates::approvals_to_verify(&facts.reviews, &facts.head_sha, &facts.pr_author) {
        let can_write = client
            .collaborator_permission(repo, &user)
            .await?
            .is_some_and(|p| p.can_write());
        for r in facts.reviews.iter_mut().filter(|r| r.user == user) {
            r.can_write = can_write;
        }
    }
    Ok(Some(Read {
        pr,
        comments,
        validation,
        override_request,
        facts,
    }))
}

/// What the merge comment, the audit and the step outputs record of an
/// outcome (pure).
#[derive(Debug, PartialEq, Eq)]
struct Recorded {
    merged: bool,
    environment: Option<String>,
    branch: Option<String>,
    merge_commit_sha: Option<String>,
    /// The violations an override excused: from the signed record only.
    violations_overridden: Vec<String>,
}

impl Recorded {
    fn of(
        outcome: &Outcome,
        validation: &std::result::Result<evidence::Verified, String>,
    ) -> Recorded {
        match outcome {
            Outcome::Merged {
                environment,
                branch,
                overridden_by,
                merge_commit_sha,
                ..
            } => Recorded {
                merged: true,
                environment: Some(environment.clone()),
                branch: Some(branch.clone()),
                merge_commit_sha: Some(merge_commit_sha.clone()),
                violations_overridden: match (overridden_by, validation) {
                    (Some(_), Ok(v)) => evidence::overridden_violations(v),
                    _ => Vec::new(),
                },
            },
            Outcome::Blocked(_) => Recorded {
                merged: false,
                environment: validation
                    .as_ref()
                    .ok()
                    .and_then(|v| v.environment().ok().map(str::to_string)),
                branch: None,
                merge_commit_sha: None,
                violations_overridden: Vec::new(),
            },
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("branch", self.branch.clone().unwrap_or_default()),
            ("environment", self.environment.clone().unwrap_or_default()),
            (
                "merge_commit_sha",
                self.merge_commit_sha.clone().unwrap_or_default(),
            ),
            ("merged", self.merged.to_string()),
        ]
    }
}

/// The PR's record of the outcome: the `overridden` label on an override
/// that merged, the sticky merge comment with its history, and the run's
/// record (audit event and step outputs).
async fn report(
    cfg: &Config,
    session: &GhSession,
    trigger: &Trigger,
    read: &Read,
    outcome: &Outcome,
) -> Result<()> {
    let Read {
        pr,
        comments,
        validation,
        override_request,
        ..
    } = read;
    let n = trigger.number;
    let recorded = Recorded::of(outcome, validation);
    if let Outcome::Merged {
        overridden_by: Some(_),
        ..
    } = outcome
    {
        session
            .client
            .add_labels(&session.repo, n, &[cfg.labels.overridden.as_str()])
            .await?;
    }
    let event = audit_event(
        session,
        trigger,
        pr,
        outcome,
        recorded.environment.clone(),
        override_request.as_ref(),
        recorded.violations_overridden.clone(),
    );
    let (previous, mut history) = crate::evidence::previous_merge(comments, &session.bot_login);
    crate::render::marker::push_history(&mut history, event.clone());
    let m = MergeMarker {
        version: 1,
        head_sha: pr.head.sha.clone(),
        outcome: if recorded.merged { "merged" } else { "blocked" }.into(),
        environment: recorded.environment.clone(),
        branch: recorded.branch.clone(),
        merge_commit_sha: recorded.merge_commit_sha.clone(),
        history,
        signature: None,
    };
    let run_url = session.env.run_url();
    let mut body =
        crate::render::pr::merge_comment(&m, &marker::render(&m, None), run_url.as_deref());
    if validation.as_ref().is_ok_and(|v| !v.signed) {
        body = marker::with_note(&body, marker::UNSIGNED_NOTE);
    }
    // The markers stay whole; a long list of reasons is what gets cut.
    let body = crate::render::split::fit(
        &body,
        crate::render::split::COMMENT_LIMIT,
        &crate::render::split::pointer(run_url.as_deref()),
    );
    upsert(session, n, previous, &body).await?;
    session.leave(RunRecord {
        summary: None,
        outputs: recorded.outputs(),
        event: Some(event),
    })
}

/// What `tfctl merge` prints of an outcome, and its exit status (pure).
fn said(n: u64, head_sha: &str, outcome: &Outcome) -> (Vec<String>, ExitStatus) {
    match outcome {
        Outcome::Merged {
            branch,
            merge_commit_sha,
            overridden_by,
            ..
        } => {
            let how = overridden_by
                .as_ref()
                .map_or(String::new(), |o| format!(" on {o}'s override"));
            let line = format!(
                "tfctl merge: merged #{n} ({}) into {branch} as {}{how}",
                short(head_sha),
                short(merge_commit_sha)
            );
            (vec![line], ExitStatus::Success)
        }
        Outcome::Blocked(reasons) => {
            let mut lines = vec![format!("tfctl merge: #{n} is blocked:")];
            lines.extend(reasons.iter().map(|r| format!("  - {r}")));
            (lines, ExitStatus::Failure)
        }
    }
}

/// The override an approval can complete: the newest `OVERRIDE:` comment
/// by a special approver who is not the author; else the newest one of
/// anyone (so the PR says why it does not count); else none.
async fn standing_override(
    session: &GhSession,
    cfg: &Config,
    comments: &[Comment],
    pr: &PullRequest,
) -> Result<Option<evidence::OverrideComment>> {
    let mut newest = None;
    for c in comments.iter().rev() {
        let Some(o) = evidence::OverrideComment::of(c) else {
            continue;
        };
        if o.author == session.bot_login {
            newest.get_or_insert(o);
            continue;
        }
        let o = super::approvers::with_standing(o, &session.client, cfg, &pr.user.login).await?;
        if o.author_is_special_approver {
            return Ok(Some(o));
        }
        newest.get_or_insert(o);
    }
    Ok(newest)
}

/// Retargets the PR to `branch` when needed, then merges it with the head
/// guard. `Ok(Err(why))` when GitHub refuses (405/409, or a base it
/// rejects); the base is put back then, so a refused merge changes nothing.
async fn merge_into(
    session: &GhSession,
    cfg: &Config,
    pr: &PullRequest,
    branch: &str,
) -> Result<std::result::Result<String, String>> {
    let client = &session.client;
    let repo = &session.repo;
    let retarget = pr.base.git_ref != branch;
    if retarget {
        let update = PullUpdate {
            base: Some(branch.to_string()),
            ..PullUpdate::default()
        };
        if let Err(e) = client.update_pull(repo, pr.number, &update).await {
            return match e.status() {
                Some(422) => Ok(Err(format!(
                    "cannot retarget the pull request to {branch}: {}",
                    e.message
                ))),
                _ => Err(e.into()),
            };
        }
    }
    let method = cfg.github.merge_method;
    let result = client
        .merge_pull(repo, pr.number, &pr.head.sha, method, None)
        .await;
    let refused = match result {
        Ok(MergeOutcome::Merged(r)) => return Ok(Ok(r.sha)),
        Ok(MergeOutcome::NotMergeable { message }) => {
            format!("GitHub refused to merge into {branch}: {message}")
        }
        Ok(MergeOutcome::HeadMoved { message }) => {
            format!("the head moved after validation ({message}); validation is stale, re-run")
        }
        Err(e) => {
            restore_base(session, pr, retarget).await;
            return Err(e.into());
        }
    };
    restore_base(session, pr, retarget).await;
    Ok(Err(refused))
}

/// Best effort: the PR's base as it was before a retarget.
async fn restore_base(session: &GhSession, pr: &PullRequest, retargeted: bool) {
    if !retargeted {
        return;
    }
    let update = PullUpdate {
        base: Some(pr.base.git_ref.clone()),
        ..PullUpdate::default()
    };
    if let Err(e) = session
        .client
        .update_pull(&session.repo, pr.number, &update)
        .await
    {
        let warning = format!(
            "tfctl: warning: could not put the base of #{} back to {}: {e}",
            pr.number, pr.base.git_ref
        );
        eprintln!("{}", neutralise(&warning));
    }
}

fn audit_event(
    session: &GhSession,
    trigger: &Trigger,
    pr: &PullRequest,
    outcome: &Outcome,
    environment: Option<String>,
    override_request: Option<&evidence::OverrideComment>,
    violations_overridden: Vec<String>,
) -> AuditEvent {
    let mut reasons = Vec::new();
    let outcome_text = match outcome {
        Outcome::Merged {
            branch,
            approvers,
            overridden_by,
            merge_commit_sha,
            environment: env,
        } => {
            if let (Some(by), Some(o)) = (overridden_by, override_request) {
                reasons.push(format!("OVERRIDE by {by}: {}", o.justification));
            }
            reasons.push(format!("approved by {}", approvers.join(", ")));
            reasons.push(format!(
                "environment {env} → branch {branch}; merged {} as {}",
                short(&pr.head.sha),
                short(merge_commit_sha)
            ));
            "merged"
        }
        Outcome::Blocked(why) => {
            reasons.extend(why.iter().cloned());
            "blocked"
        }
    };
    // An override that merged, or one that was refused; an `OVERRIDE:` on
    // a PR that passed anyway is a plain merge.
    let action = match outcome {
        Outcome::Merged {
            overridden_by: Some(_),
            ..
        } => "override",
        Outcome::Blocked(_) if trigger.override_comment.is_some() => "override",
        _ => "merge",
    };
    AuditEvent {
        environment,
        reasons,
        violations_overridden,
        ..AuditEvent::new(
            action,
            &trigger.actor,
            format!("{}#{}", &session.repo, pr.number),
            &pr.head.sha,
            outcome_text,
            session.env.run_url(),
        )
    }
}

/// Writes the sticky merge comment: updates tfctl's previous one, else
/// creates it.
async fn upsert(session: &GhSession, n: u64, previous: Option<&Comment>, body: &str) -> Result<()> {
    let client = &session.client;
    debug_assert!(body.contains(&marker::prefix::<MergeMarker>()));
    match previous {
        Some(c) => client.update_comment(&session.repo, c.id, body).await?,
        None => client.create_comment(&session.repo, n, body).await?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::testing::validation;

    fn merged(overridden_by: Option<&str>) -> Outcome {
        Outcome::Merged {
            environment: "production".into(),
            branch: "prod".into(),
            approvers: vec!["bob".into()],
            overridden_by: overridden_by.map(str::to_string),
            merge_commit_sha: "c0ffee0123456789".into(),
        }
    }

    #[test]
    fn a_merge_records_its_branch_and_commit_and_excuses_nothing_unless_overridden() {
        let r = Recorded::of(&merged(None), &validation("passed"));
        assert!(r.merged);
        assert_eq!(r.branch.as_deref(), Some("prod"));
        assert_eq!(r.merge_commit_sha.as_deref(), Some("c0ffee0123456789"));
        assert!(r.violations_overridden.is_empty());
        assert_eq!(
            r.outputs(),
            vec![
                ("branch", "prod".to_string()),
                ("environment", "production".to_string()),
                ("merge_commit_sha", "c0ffee0123456789".to_string()),
                ("merged", "true".to_string()),
            ]
        );
    }

    #[test]
    fn an_override_records_what_the_signed_validation_says_it_excused() {
        let r = Recorded::of(&merged(Some("sec-lead")), &validation("failed"));
        assert_eq!(
            r.violations_overridden,
            vec!["validation result failed (no policy violation recorded)"]
        );
        // Without a verified validation there is nothing to name.
        let r = Recorded::of(&merged(Some("sec-lead")), &Err("no attestation".into()));
        assert!(r.violations_overridden.is_empty());
    }

    #[test]
    fn a_block_records_the_validated_environment_and_no_branch() {
        let blocked = Outcome::Blocked(vec!["needs 2 approvals".into()]);
        let r = Recorded::of(&blocked, &validation("passed"));
        assert!(!r.merged);
        assert_eq!(r.environment.as_deref(), Some("production"));
        assert_eq!((r.branch, r.merge_commit_sha), (None, None));
        let r = Recorded::of(&blocked, &Err("edited".into()));
        assert_eq!(r.environment, None);
    }

    #[test]
    fn what_merge_prints_and_its_exit_status() {
        let (lines, status) = said(7, "abcdef0123", &merged(Some("sec-lead")));
        assert_eq!(
            lines,
            vec!["tfctl merge: merged #7 (abcdef0) into prod as c0ffee0 on sec-lead's override"]
        );
        assert_eq!(status, ExitStatus::Success);
        let blocked = Outcome::Blocked(vec!["a".into(), "b".into()]);
        let (lines, status) = said(7, "abcdef0123", &blocked);
        assert_eq!(lines, vec!["tfctl merge: #7 is blocked:", "  - a", "  - b"]);
        assert_eq!(status, ExitStatus::Failure);
    }
}
