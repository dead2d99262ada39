//! `tfctl dispatch` (config repository): a push to a feature branch becomes
//! a PR and a `tfctl-validate` request to the controller; PR events ask for
//! validation (when `validate_on: pull_request`) or, once merged, for
//! `tfctl-apply` with the merge commit.
//!
//! Wiring only: routing is [`gates::dispatch_route`], stack discovery is
//! `discovery`, texts are in `render::pr`. Every path is safe to re-run:
//! the PR is found before it is created, and a dispatch only asks the
//! controller to (re)do idempotent work.

use std::collections::BTreeMap;
use std::path::Path;

use super::gh::{GhSession, RunRecord};
use crate::actions::event::{
    DispatchPayload, Event, PullRequestEvent, PushEvent, EVENT_TYPE_APPLY, EVENT_TYPE_VALIDATE,
};
use crate::audit::AuditEvent;
use crate::cli::DispatchArgs;
use crate::config::model::ValidateOn;
use crate::config::Config;
use crate::context::Context;
use crate::discovery::StackRef;
use crate::error::{Error, ExitStatus, Result};
use crate::gates::{self, DispatchEvent, DispatchPolicy, DispatchRoute};
use crate::github::models::PullRequest;
use crate::github::{PrListState, RepoRef};
use crate::render::short;

/// Runs `tfctl dispatch` on the event of the Actions context.
pub fn run(config: Option<&Path>, args: DispatchArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::open(ctx, &cfg.github, &args.github)?;
    let environment_of = |b: &str| cfg.environment_for_branch(b).map(str::to_string);
    let policy = DispatchPolicy {
        default_branch: &cfg.default_branch,
        environment_of_branch: &environment_of,
        validate_on_push: cfg.github.validate_on == ValidateOn::Push,
        allow_forks: cfg.github.allow_forks,
        locks: cfg.locks == crate::config::LockMode::Validate,
    };
    let event = match &session.event {
        Event::Push(p) => DispatchEvent::Push {
            git_ref: &p.git_ref,
            deleted: p.deleted,
        },
        Event::PullRequest(e) => DispatchEvent::PullRequest {
            number: e.number,
            action: &e.action,
            merged: e.is_merged_close(),
            from_fork: e.pull_request.is_from_fork(),
        },
        other => DispatchEvent::Other(other.name()),
    };
    let route = gates::dispatch_route(event, &policy);
    let sends = matches!(
        route,
        DispatchRoute::Push { validate: true, .. }
            | DispatchRoute::ValidatePr
            | DispatchRoute::ApplyPr
            | DispatchRoute::ReleasePr
    );
    // Resolved before anything is created, so a missing controller leaves
    // no PR behind.
    let controller = if sends {
        Some(controller(&cfg, &args)?)
    } else {
        None
    };
    let flow = Flow {
        cfg: &cfg,
        ctx,
        session: &session,
        controller,
    };
    let runtime = GhSession::runtime()?;
    let done = match (route, &session.event) {
        (DispatchRoute::Skip(why), _) => Done::skip(why),
        (DispatchRoute::Refuse(why), _) => Done {
            status: ExitStatus::Failure,
            line: format!("refused: {why}"),
            outputs: BTreeMap::new(),
        },
        (DispatchRoute::Push { branch, validate }, Event::Push(p)) => {
            runtime.block_on(flow.push(p, &branch, validate))?
        }
        (DispatchRoute::ValidatePr | DispatchRoute::ReleasePr, Event::PullRequest(e)) => {
            runtime.block_on(flow.pull_request(e, false))?
        }
        (DispatchRoute::ApplyPr, Event::PullRequest(e)) => {
            runtime.block_on(flow.pull_request(e, true))?
        }
        (route, event) => {
            return Err(Error::runtime(format!(
                "internal: route {route:?} does not fit a {} event",
                event.name()
            )))
        }
    };
    println!(
        "tfctl dispatch: {}",
        crate::actions::commands::neutralise(&done.line)
    );
    session.leave(RunRecord::outputs(done.outputs.into_iter().collect()))?;
    Ok(done.status)
}

/// `--controller`, else `github.controller_repo`.
fn controller(cfg: &Config, args: &DispatchArgs) -> Result<RepoRef> {
    let raw = args
        .controller
        .as_deref()
        .or(cfg.github.controller_repo.as_deref())
        .ok_or_else(|| {
            Error::input(format!(
                "no controller repository: pass --controller OWNER/REPO or set github.controller_repo in {}",
                cfg.file.display()
            ))
        })?;
    RepoRef::parse(raw).map_err(|e| Error::input(format!("controller repository: {}", e.message)))
}

/// What a run did: its exit status, one line for the log, step outputs.
struct Done {
    status: ExitStatus,
    line: String,
    outputs: BTreeMap<&'static str, String>,
}

impl Done {
    fn skip(why: String) -> Done {
        Done {
            status: ExitStatus::Success,
            line: why,
            outputs: BTreeMap::from([("dispatched", String::new())]),
        }
    }
}

struct Flow<'a> {
    cfg: &'a Config,
    ctx: &'a Context,
    session: &'a GhSession,
    controller: Option<RepoRef>,
}

impl Flow<'_> {
    /// A push to a feature branch: changed stacks → PR (found or opened) →
    /// `tfctl-validate` when validation runs on push.
    async fn push(&self, p: &PushEvent, branch: &str, validate: bool) -> Result<Done> {
        let client = &self.session.client;
        let repo = &self.session.repo;
        let existing = self.open_pr(branch).await?;
        // Changed files come from the compare API against the PR's base (or
        // the default branch): Actions push payloads list no files, and a new
        // branch's `before` is 40 zeros.
        let base = existing
            .as_ref()
            .map_or(self.cfg.default_branch.clone(), |pr| {
                pr.base.git_ref.clone()
            });
        let cmp = client.compare(repo, &base, &p.after).await?;
        let stacks = super::pr_stacks::stacks_of(
            self.cfg,
            &self.ctx.cwd,
            &crate::pipeline::PrFiles {
                number: existing.as_ref().map(|pr| pr.number),
                listed: &cmp.files,
                changed_files: None,
                commits: crate::pipeline::PrCommits::Head {
                    base_sha: &base,
                    head_sha: &p.after,
                },
            },
        )?;
        if stacks.is_empty() {
            return Ok(Done::skip(format!(
                "no stack files changed between {base} and {}: nothing to do",
                short(&p.after)
            )));
        }
        let (pr, created) = if let Some(pr) = existing {
            (pr, false)
        } else {
            let title = crate::render::pr::pr_title(&cmp.commits, branch);
            let body = crate::render::pr::pr_body(branch, &stacks, &cmp.commits);
            self.create_pr(branch, &base, &title, &body).await?
        };
        let mut outputs = BTreeMap::from([
            ("pr_number", pr.number.to_string()),
            ("pr_created", created.to_string()),
            ("stacks", stack_ids(&stacks)),
            ("dispatched", String::new()),
        ]);
        let verb = if created { "opened" } else { "found" };
        if !validate {
            return Ok(Done {
                status: ExitStatus::Success,
                line: format!(
                    "{verb} #{} for {branch} ({}); github.validate_on is pull_request, so its events ask for validation",
                    pr.number,
                    stack_ids(&stacks)
                ),
                outputs,
            });
        }
        let payload = DispatchPayload {
            source_repo: repo.to_string(),
            pr_number: pr.number,
            head_sha: p.after.clone(),
            base_ref: pr.base.git_ref.clone(),
            merge_sha: None,
        };
        let actor = p.sender.as_ref().map_or("", |s| s.login.as_str());
        self.send(EVENT_TYPE_VALIDATE, &payload, actor, &stacks)
            .await?;
        outputs.insert("dispatched", EVENT_TYPE_VALIDATE.into());
        Ok(Done {
            status: ExitStatus::Success,
            line: format!(
                "{verb} #{} for {branch}; sent {EVENT_TYPE_VALIDATE} for {} ({}) to {}",
                pr.number,
                short(&p.after),
                stack_ids(&stacks),
                self.controller_name()
            ),
            outputs,
        })
    }

    /// A PR opened/synchronized/reopened (`tfctl-validate`) or merged
    /// (`tfctl-apply` with the merge commit).
    async fn pull_request(&self, e: &PullRequestEvent, apply: bool) -> Result<Done> {
        let pr = &e.pull_request;
        let files = self
            .session
            .client
            .list_pull_files(&self.session.repo, e.number)
            .await?;
        let stacks = super::pr_stacks::stacks_of(
            self.cfg,
            &self.ctx.cwd,
            &crate::pipeline::PrFiles {
                number: Some(e.number),
                listed: &files,
                changed_files: pr.changed_files,
                commits: crate::pipeline::PrCommits::Head {
                    base_sha: &pr.base.sha,
                    head_sha: &pr.head.sha,
                },
            },
        )?;
        if stacks.is_empty() {
            return Ok(Done::skip(format!(
                "no stack files changed in #{}: nothing to do",
                e.number
            )));
        }
        let (event_type, merge_sha) = if apply {
            let sha = pr.merge_commit_sha.clone().ok_or_else(|| {
                Error::input(format!(
                    "pull request #{} is merged but its payload has no pull_request.merge_commit_sha",
                    e.number
                ))
            })?;
            (EVENT_TYPE_APPLY, Some(sha))
        } else {
            (EVENT_TYPE_VALIDATE, None)
        };
        let payload = DispatchPayload {
            source_repo: self.session.repo.to_string(),
            pr_number: e.number,
            head_sha: pr.head.sha.clone(),
            base_ref: pr.base.git_ref.clone(),
            merge_sha: merge_sha.clone(),
        };
        let actor = e.sender.as_ref().map_or("", |s| s.login.as_str());
        self.send(event_type, &payload, actor, &stacks).await?;
        let what = match &merge_sha {
            Some(sha) => format!("merge commit {}", short(sha)),
            None => format!("head {}", short(&pr.head.sha)),
        };
        Ok(Done {
            status: ExitStatus::Success,
            line: format!(
                "sent {event_type} for #{} ({what}, {}) to {}",
                e.number,
                stack_ids(&stacks),
                self.controller_name()
            ),
            outputs: BTreeMap::from([
                ("pr_number", e.number.to_string()),
                ("stacks", stack_ids(&stacks)),
                ("dispatched", event_type.to_string()),
            ]),
        })
    }

    /// The open PR of `branch` in this repository (the oldest, if several).
    async fn open_pr(&self, branch: &str) -> Result<Option<PullRequest>> {
        let head = format!("{}:{branch}", self.session.repo.owner);
        let mut open = self
            .session
            .client
            .list_pulls(&self.session.repo, Some(&head), None, PrListState::Open)
            .await?;
        open.sort_by_key(|pr| pr.number);
        Ok(open.into_iter().next())
    }

    /// Opens the PR; if another run opened it meanwhile (GitHub answers
    /// 422 "already exists"), uses that one.
    async fn create_pr(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, bool)> {
        let client = &self.session.client;
        match client
            .create_pull(&self.session.repo, branch, base, title, body)
            .await
        {
            Ok(pr) => Ok((pr, true)),
            Err(err) if err.status() == Some(422) => match self.open_pr(branch).await? {
                Some(pr) => Ok((pr, false)),
                None => Err(err.into()),
            },
            Err(err) => Err(err.into()),
        }
    }

    async fn send(
        &self,
        event_type: &str,
        payload: &DispatchPayload,
        actor: &str,
        stacks: &[StackRef],
    ) -> Result<()> {
        let controller = self
            .controller
            .as_ref()
            .ok_or_else(|| Error::runtime("internal: no controller resolved"))?;
        let map = payload.to_map();
        self.session
            .client
            .dispatch(controller, event_type, &map)
            .await?;
        self.session.leave(RunRecord::audited(AuditEvent {
            reasons: vec![format!("stacks: {}", stack_ids(stacks))],
            ..AuditEvent::new(
                "dispatch",
                actor,
                format!("{}#{}", &self.session.repo, payload.pr_number),
                &payload.head_sha,
                &format!("{event_type} sent to {controller}"),
                self.session.env.run_url(),
            )
        }))
    }

    fn controller_name(&self) -> String {
        self.controller
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

fn stack_ids(stacks: &[StackRef]) -> String {
    stacks
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
