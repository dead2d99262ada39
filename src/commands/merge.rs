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

async fn merge(cfg: &Config, session: &GhSession, trigger: Trigger) -> Result<ExitStatus> {
    let client = &session.client;
    let repo = &session.repo;
    let n = trigger.number;
    let bot = session.bot_login.as_str();

    // ---- reads ----
    let pr = client.get_pull(repo, n).await?;
    if pr.is_merged() {
        // A re-run after the merge: the PR already says so.
        println!("tfctl merge: #{n} is already merged: nothing to do");
        session.leave(RunRecord::outputs(vec![("merged", "true".into())]))?;
        return Ok(ExitStatus::Success);
    }
    let reviews = client.list_reviews(repo, n).await?;
    let comments = client.list_comments(repo, n).await?;
    let repository = repo.to_string();
    let subject = evidence::Subject {
        repository: &repository,
        pr_number: n,
        bot_login: bot,
    };
    let statuses = client.list_statuses(repo, &pr.head.sha).await?;
    let published = evidence::published_fingerprint(&statuses, bot);
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

    // ---- decision ----
    let approvals_for = |env: &str| cfg.approvals_for(env);
    let branch_for = |env: &str| cfg.branch_for(env);
    let decision = gates::merge_gate(
        &facts,
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
        } => match merge_into(session, cfg, &pr, &branch).await? {
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

    // ---- report: label, one comment, audit ----
    // The violations an override excused come from the signed record.
    let violations = match (&outcome, &validation) {
        (
            Outcome::Merged {
                overridden_by: Some(_),
                ..
            },
            Ok(v),
        ) => evidence::overridden_violations(v),
        _ => Vec::new(),
    };
    if let Outcome::Merged {
        overridden_by: Some(_),
        ..
    } = &outcome
    {
        client
            .add_labels(repo, n, &[cfg.labels.overridden.as_str()])
            .await?;
    }
    let environment = match &outcome {
        Outcome::Merged { environment, .. } => Some(environment.clone()),
        Outcome::Blocked(_) => validation
            .as_ref()
            .ok()
            .and_then(|v| v.environment().ok().map(str::to_string)),
    };
    let event = audit_event(
        session,
        &trigger,
        &pr,
        &outcome,
        environment.clone(),
        override_request.as_ref(),
        violations,
    );
    let (previous, mut history) = crate::evidence::previous_merge(&comments, bot);
    crate::render::marker::push_history(&mut history, event.clone());
    let (merged, branch, merge_sha) = match &outcome {
        Outcome::Merged {
            branch,
            merge_commit_sha,
            ..
        } => (true, Some(branch.clone()), Some(merge_commit_sha.clone())),
        Outcome::Blocked(_) => (false, None, None),
    };
    let m = MergeMarker {
        version: 1,
        head_sha: pr.head.sha.clone(),
        outcome: if merged { "merged" } else { "blocked" }.into(),
        environment: environment.clone(),
        branch: branch.clone(),
        merge_commit_sha: merge_sha.clone(),
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
        outputs: vec![
            ("branch", branch.clone().unwrap_or_default()),
            ("environment", environment.unwrap_or_default()),
            ("merge_commit_sha", merge_sha.clone().unwrap_or_default()),
            ("merged", merged.to_string()),
        ],
        event: Some(event),
    })?;
    match &outcome {
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
                short(&pr.head.sha),
                short(merge_commit_sha)
            );
            println!("{}", neutralise(&line));
            Ok(ExitStatus::Success)
        }
        Outcome::Blocked(reasons) => {
            println!("tfctl merge: #{n} is blocked:");
            // Reasons quote repository text (environments, branches).
            for r in reasons {
                println!("  - {}", neutralise(r));
            }
            Ok(ExitStatus::Failure)
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
