//! `tfctl drift`: plan every stack against its real state; a plan with
//! changes is drift (docs/DESIGN.md §2). Locally it prints the drift report; in
//! Actions (`schedule` or `workflow_dispatch`) it also keeps ONE open issue
//! labelled `tfctl-drift` in the workflow's repository: opened on the first
//! drift, rewritten by later runs, closed with a comment once drift is
//! gone. Exit 0 clean, 1 drift or a stack that could not be planned, 2 bad
//! input, 130 cancelled. Wiring only: severity and the issue decision are in
//! `crate::drift`, text in `render::drift`.

use std::path::Path;
use std::time::Instant;

use crate::actions::event::Event;
use crate::cli::{DriftArgs, ReportFormat};
use crate::context::Context;
use crate::drift::{self, DriftReport, IssuePlan};
use crate::error::{Error, ExitStatus, Result};
use crate::github::{GithubError, IssueState, IssueUpdate};
use crate::pipeline;
use crate::render::drift as render;
use crate::select::{self, ChangeSource};

use super::gh::{GhSession, RunRecord};

pub fn run(config: Option<&Path>, args: DriftArgs, ctx: &Context) -> Result<ExitStatus> {
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::if_on_event(ctx, &cfg.github, &args.github, args.local)?;
    if let Some(session) = &session {
        if !matches!(
            session.event,
            Event::Schedule(_) | Event::WorkflowDispatch(_)
        ) {
            return Err(Error::input(format!(
                "tfctl drift runs on schedule or workflow_dispatch, not {} (or pass --local)",
                session.event.name()
            )));
        }
    }

    let config_root = args
        .config_root
        .clone()
        .unwrap_or_else(|| cfg.config_root.clone());
    let sel = select::select(&cfg, &config_root, ChangeSource::All)?;
    let started = Instant::now();
    let planning = super::plan_judge::Planning {
        cfg: &cfg,
        config_root: &config_root,
        sel: &sel,
        ctx,
    };
    let runs = super::plan_judge::plan_runs(
        planning,
        args.terraform.as_deref(),
        args.parallelism,
        "drift",
    )?;
    let report = pipeline::report(&sel, pipeline::observe(&sel, &runs), started.elapsed());
    let found = DriftReport::assess(&report, |env| {
        drift::is_production(env, &cfg.branch_for(env))
    });
    if found.was_cancelled() {
        // A cancelled run proves nothing: leave the issue as it is.
        print(&found, args.format)?;
        return Ok(ExitStatus::Cancelled);
    }
    if let Some(session) = &session {
        publish(session, &found)?;
    }
    print(&found, args.format)?;
    Ok(if found.is_clean() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Brings the drift issue in line with `found` (see `drift::issue_plan`),
/// then writes the job summary and the step outputs `drifted`, `severity`
/// and `issue`.
fn publish(session: &GhSession, found: &DriftReport) -> Result<()> {
    let run_url = session.env.run_url();
    let repo = &session.repo;
    let client = &session.client;
    let title = render::title(found);
    let body = render::issue_body(found, run_url.as_deref());
    let issue = GhSession::runtime()?
        .block_on(async {
            // Only tfctl's own issues: a person's issue with the label is
            // theirs to keep.
            let ours: Vec<u64> = client
                .list_issues(repo, &[render::LABEL], IssueState::Open)
                .await?
                .into_iter()
                .filter(|i| {
                    i.user
                        .as_ref()
                        .is_some_and(|u| u.login == session.bot_login)
                        && i.body
                            .as_deref()
                            .is_some_and(|b| b.contains(render::MARKER))
                })
                .map(|i| i.number)
                .collect();
            match drift::issue_plan(&ours, found.is_clean()) {
                IssuePlan::Nothing => Ok(None),
                IssuePlan::Create => client
                    .create_issue(repo, &title, &body, &[render::LABEL])
                    .await
                    .map(|i| Some(i.number)),
                IssuePlan::Update { number, duplicates } => {
                    let update = IssueUpdate {
                        title: Some(title.clone()),
                        body: Some(body.clone()),
                        state: None,
                    };
                    client.update_issue(repo, number, &update).await?;
                    for dup in duplicates {
                        let note = format!("Duplicate of #{number}.");
                        close(client, repo, dup, &note).await?;
                    }
                    Ok(Some(number))
                }
                IssuePlan::Resolve { numbers } => {
                    let note = render::resolved_comment(found, run_url.as_deref());
                    for n in numbers {
                        close(client, repo, n, &note).await?;
                    }
                    Ok(None)
                }
            }
        })
        .map_err(Error::from)?;
    session.leave(RunRecord {
        summary: Some(render::summary_markdown(found)),
        outputs: vec![
            ("drifted", found.drifted.len().to_string()),
            (
                "severity",
                found
                    .severity
                    .map_or(String::new(), |s| s.as_str().to_string()),
            ),
            ("issue", issue.map_or(String::new(), |n| n.to_string())),
        ],
        event: None,
    })
}

/// Comments `note` on an issue, then closes it.
async fn close(
    client: &crate::github::Client,
    repo: &crate::github::RepoRef,
    number: u64,
    note: &str,
) -> std::result::Result<(), GithubError> {
    client.create_comment(repo, number, note).await?;
    let update = IssueUpdate {
        state: Some(IssueState::Closed),
        ..IssueUpdate::default()
    };
    client.update_issue(repo, number, &update).await.map(|_| ())
}

fn print(found: &DriftReport, format: ReportFormat) -> Result<()> {
    let text = match format {
        ReportFormat::Text => render::text(found),
        ReportFormat::Json => render::json(found),
        ReportFormat::Markdown => render::summary_markdown(found),
    };
    super::print_stdout(&text)
}
