//! `tfctl validate` inside GitHub Actions: on `repository_dispatch`
//! `tfctl-validate` (controller repo) or `pull_request`. Plans exactly the
//! checked-out PR head, then — only once the verdict is complete, and only
//! while that head is still the PR's — reports: `opa-passed` xor
//! `opa-failed`, one sticky comment, commit status `tfctl/validate`, job
//! summary, annotations, step outputs, audit event.
//! [`open_pr`] and [`publish`] are shared with `tfctl report`, which
//! publishes the merged verdict of a job matrix the same way, once.

use std::path::{Path, PathBuf};

use crate::actions::commands::{self as workflow, Level, Location};
use crate::actions::event::Event;
use crate::audit::{self, AuditEvent};
use crate::cli::{ReportFormat, SelectArgs, ValidateArgs};
use crate::config::{Config, LockMode};
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::github::models::PullRequest;
use crate::github::{CommitState, RepoRef};
use crate::pipeline;
use crate::policy::PolicyEngine;
use crate::render::{markdown, marker, split};
use crate::report::{RunReport, RunResult, StackStatus};
use crate::select::{self, ChangeSource, Selection};

use super::gh::{GhSession, RunRecord};

/// Where the PR is and which commit to validate.
pub(crate) struct Target {
    pub repo: RepoRef,
    pub number: u64,
    pub head_sha: String,
}

/// The status context tfctl writes.
pub const STATUS_CONTEXT: &str = crate::evidence::VALIDATE_STATUS;

/// A checked PR and the stacks its files select: what a run reports on.
pub(crate) struct PrRun {
    pub target: Target,
    pub pr: PullRequest,
    pub git: crate::repo::Git,
    pub config_root: PathBuf,
    pub sel: Selection,
}

pub fn run(
    cfg: &Config,
    args: &ValidateArgs,
    session: GhSession,
    ctx: &Context,
) -> Result<ExitStatus> {
    let run = open_pr(cfg, &args.select, &session)?;
    if run.pr.state != "open" && !run.pr.is_merged() {
        // Closed without merge (`tfctl dispatch` asks on the close): it will
        // never apply, so its locks go now and the PRs that waited on them
        // are validated again. Nothing is planned for a closed PR.
        return release_closed(cfg, &session, &run);
    }
    let engine = PolicyEngine::load(&cfg.policy.paths, &cfg.policy.data, &cfg.policy.namespaces)?;
    let prior = if args.full {
        None
    } else {
        prior_validation(cfg, &session, &run.target)?
    };
    if let Some(prior) = &prior {
        eprintln!(
            "tfctl validate: carrying unchanged stacks' results from the validation of {} (--full plans every stack)",
            crate::evidence::short(&prior.head_sha)
        );
    }
    let planning = super::plan_judge::Planning {
        cfg,
        config_root: &run.config_root,
        sel: &run.sel,
        ctx,
    };
    let report = super::plan_judge::plan_and_judge(
        planning,
        &engine,
        args,
        Some(&run.pr.user.login),
        prior.as_ref(),
    )?;
    publish("validate", cfg, &session, &run, &report, args.format)
}

/// The PR's newest validation of an earlier head whose attestation is
/// signed, verifies, is bound to this PR and is the one its head's status
/// names: the only results a push may carry (docs/DESIGN.md §3,
/// "Re-validation"). `None` without signing keys (an unsigned record could
/// be typed by anyone) or when none verifies.
fn prior_validation(
    cfg: &Config,
    session: &GhSession,
    target: &Target,
) -> Result<Option<crate::render::marker::ValidationMarker>> {
    use crate::evidence::{self, Trust};
    let trust = Trust::of(&cfg.trust);
    if !matches!(trust, Trust::Keys(_)) {
        return Ok(None);
    }
    let runtime = GhSession::runtime()?;
    let client = &session.client;
    let repository = target.repo.to_string();
    let subject = evidence::Subject {
        repository: &repository,
        pr_number: target.number,
        bot_login: &session.bot_login,
    };
    runtime
        .block_on(async {
            let comments = client.list_comments(&target.repo, target.number).await?;
            for head in evidence::validated_heads(&comments, &session.bot_login) {
                if head == target.head_sha {
                    continue;
                }
                let statuses = client.list_statuses(&target.repo, &head).await?;
                let published = evidence::published_fingerprint(&statuses, &session.bot_login);
                if let Ok(v) =
                    evidence::validation(&comments, &subject, &head, published.as_deref(), trust)
                {
                    if v.signed {
                        return Ok(Some(v.marker));
                    }
                }
            }
            Ok::<_, crate::github::GithubError>(None)
        })
        .map_err(Error::from)
}

/// Finds the PR of the event, checks the checkout is its head and that it
/// is not from a fork (unless allowed), and selects the stacks of its files.
/// Shared by `validate` and `report` (the matrix's final job).
pub(crate) fn open_pr(cfg: &Config, select: &SelectArgs, session: &GhSession) -> Result<PrRun> {
    let target = target(session)?;
    let config_root = super::config_root(cfg, select);

    // A plan of anything but the PR head would be vouched for wrongly:
    // refuse before any API call or terraform run.
    let config_git = crate::repo::Git::open(&config_root)?;
    let checked_out = config_git.head()?;
    let controller = if checked_out == target.head_sha {
        None
    } else {
        Some(controller_checkout(cfg, &config_git, &target).ok_or_else(|| {
            Error::input(format!(
                "checked-out commit {checked_out} is not the PR head {} (check out the payload's head_sha)",
                target.head_sha
            ))
        })?)
    };

    let runtime = GhSession::runtime()?;
    let client = &session.client;
    let pr = runtime
        .block_on(client.get_pull(&target.repo, target.number))
        .map_err(Error::from)?;
    if pr.is_from_fork(&target.repo) && !cfg.github.allow_forks {
        return Err(Error::input(format!(
            "{}#{}: the head is a fork; set github.allow_forks to validate PRs from forks",
            target.repo, target.number
        )));
    }
    let files = runtime
        .block_on(client.list_pull_files(&target.repo, target.number))
        .map_err(Error::from)?;

    // The PR's files relative to its checkout: stack files, and module or
    // policy files beside the config root, all select stacks.
    let is_controller_pr = controller.is_some();
    let git = controller.unwrap_or(config_git);
    let changes = pipeline::pr_changes(
        &pipeline::PrFiles {
            number: Some(target.number),
            listed: &files,
            changed_files: pr.changed_files,
            commits: pipeline::PrCommits::Head {
                base_sha: &pr.base.sha,
                head_sha: &target.head_sha,
            },
        },
        "",
        &git.top,
    )?;
    let sel = select::select(
        cfg,
        &config_root,
        ChangeSource::Repo {
            top: git.top.clone(),
            files: changes,
            // A controller PR deletes no stack: the base is not the stacks'.
            old_rev: (!is_controller_pr).then(|| pr.base.sha.clone()),
        },
    )
    .inspect_err(|e| annotate_input_error(e, &config_root, &git.top))?;
    super::print_warnings(&sel);
    Ok(PrRun {
        target,
        pr,
        git,
        config_root,
        sel,
    })
}

/// docs/DESIGN.md §1: the controller's own PR. Its checkout (where tfctl.yaml
/// is) is the PR head, and the config root is another repository (the
/// config repo's default branch checked out beside it): the PR's module and
/// policy changes are planned against the real stacks. `None` when the
/// checkout of tfctl.yaml is not the PR head either.
fn controller_checkout(
    cfg: &Config,
    config_git: &crate::repo::Git,
    target: &Target,
) -> Option<crate::repo::Git> {
    let git = crate::repo::Git::open(&cfg.base_dir).ok()?;
    let same = |a: &std::path::Path, b: &std::path::Path| {
        crate::change_paths::absolute(a) == crate::change_paths::absolute(b)
    };
    (!same(&git.top, &config_git.top) && git.head().ok()? == target.head_sha).then_some(git)
}

/// Reports a complete verdict on the PR, once: `opa-passed` xor
/// `opa-failed`, sticky comment with the (signed) marker, commit status,
/// job summary, annotations, step outputs, audit event; then prints the
/// report. A cancelled run vouches for nothing: it is printed and nothing
/// is written to the PR.
///
/// Only for the current head: the PR is read again before the first write
/// (the stack locks, then labels, comment, status), and when a newer push moved its head while this run planned, the
/// verdict is about a commit nobody will merge; `tfctl <command>` (validate
/// or report) says so, writes nothing and succeeds (the newer head's own
/// run reports). The verdict label is planned from that fresh read, so two
/// overlapping runs never leave `opa-passed` beside `opa-failed`.
pub(crate) fn publish(
    command: &str,
    cfg: &Config,
    session: &GhSession,
    run: &PrRun,
    report: &RunReport,
    format: ReportFormat,
) -> Result<ExitStatus> {
    if report
        .stacks
        .iter()
        .any(|s| s.status == StackStatus::Cancelled)
    {
        super::plan_judge::print_report(report, format)?;
        return Ok(ExitStatus::Cancelled);
    }
    let runtime = GhSession::runtime()?;
    let current = match runtime.block_on(still_current(cfg, session, &run.target))? {
        Ok(current) => current,
        Err(why) => {
            println!("tfctl {command}: {why}: nothing published");
            return Ok(ExitStatus::Success);
        }
    };
    // Locks are part of the verdict: taken (or found held) before anything
    // is written to the PR.
    let mut report = report.clone();
    runtime.block_on(super::promoting::check(cfg, session, &mut report))?;
    if cfg.locks == LockMode::Validate {
        report.locks = runtime.block_on(hold_locks(cfg, session, &run.target, &report))?;
    }
    let report = &report;
    let publication = publication(cfg, session, run, report)?;
    runtime
        .block_on(write(cfg, session, &run.target, &current, &publication))
        .map_err(Error::from)?;
    annotate(report, &run.sel.dag.stacks, &run.git.prefix);
    session.leave(publication.record)?;
    super::plan_judge::print_report(report, format)?;
    Ok(super::plan_judge::exit_status(report))
}

/// The PR as it is now (the plan took minutes) and tfctl's comments on it,
/// when this run's verdict is still the one to publish; else why not.
struct Current {
    labels: Vec<String>,
    comments: Vec<crate::github::models::Comment>,
}

async fn still_current(
    cfg: &Config,
    session: &GhSession,
    target: &Target,
) -> Result<std::result::Result<Current, String>> {
    let client = &session.client;
    // A newer push makes this verdict stale, and the labels are what
    // other runs have left meanwhile.
    let now = client.get_pull(&target.repo, target.number).await?;
    if now.head.sha != target.head_sha {
        return Ok(Err(format!(
            "superseded by {}",
            crate::render::short(&now.head.sha)
        )));
    }
    // A newer run of this PR (a re-run of the same head that overtook this
    // one) published already: its verdict stands, this one writes nothing.
    let comments = client.list_comments(&target.repo, target.number).await?;
    let repository = target.repo.to_string();
    let subject = crate::evidence::Subject {
        repository: &repository,
        pr_number: target.number,
        bot_login: &session.bot_login,
    };
    let run_id = session.env.run_id.clone().unwrap_or_default();
    let trust = crate::evidence::Trust::of(&cfg.trust);
    if let Some(newer) = crate::evidence::newer_run(&comments, &subject, &run_id, trust) {
        return Ok(Err(format!(
            "run {newer} of this pull request published after this run ({run_id}) started"
        )));
    }
    Ok(Ok(Current {
        labels: now.label_names(),
        comments,
    }))
}

/// Everything this run writes, decided before the first write: where the
/// signed attestation goes, the comment, the status, and the run's record
/// (job summary, step outputs, audit event).
struct Publication {
    placement: crate::render::parts::Placement,
    body: String,
    status_description: String,
    passed: bool,
    approvable: bool,
    record: RunRecord,
}

fn publication(
    cfg: &Config,
    session: &GhSession,
    run: &PrRun,
    report: &RunReport,
) -> Result<Publication> {
    let target = &run.target;
    let context = pipeline::ValidationContext {
        repository: target.repo.to_string(),
        pr_number: target.number,
        head_sha: target.head_sha.clone(),
        base_ref: run.pr.base.git_ref.clone(),
        policy_digest: crate::policy::digest::policy_digest(
            &cfg.base_dir,
            &cfg.policy.paths,
            &cfg.policy.data,
        )?,
        run_id: session.env.run_id.clone().unwrap_or_else(|| "local".into()),
        time: audit::now_rfc3339(),
    };
    let marker = pipeline::validation_marker(cfg, report, &context, session.signing_key.as_ref());
    let attestation = marker::signed(&marker, session.signing_key.as_ref());
    // Nothing is written when the attestation cannot be published whole:
    // beside the report, or spread over continuation comments.
    crate::render::parts::apply_record_fits(
        marker.stacks.keys().map(String::as_str),
        split::COMMENT_LIMIT,
    )
    .map_err(Error::input)?;
    let placement =
        crate::render::parts::place(&attestation, split::COMMENT_LIMIT).map_err(Error::input)?;
    // The status names this attestation, so an older one of the same head
    // pasted back into the comment is not believed (`evidence`).
    let mut summary = crate::render::text::summary_line(report);
    if let Some(first) = report.locks.first() {
        summary = format!("locked by {}; {summary}", first.holder);
    }
    let status_description =
        marker::status_description(&summary, &marker::fingerprint(&attestation));
    let run_url = session.env.run_url();
    let event = AuditEvent {
        environment: report.environment.clone(),
        ..AuditEvent::new(
            "validation",
            session.event.sender().map_or("", |u| u.login.as_str()),
            format!("{}#{}", target.repo, target.number),
            &target.head_sha,
            report.result.as_str(),
            run_url.clone(),
        )
    };
    let ctx = markdown::CommentContext {
        head_sha: Some(target.head_sha.clone()),
        environment: display_environment(&marker),
        target_branch: marker.target_branch.clone(),
        run_url: run_url.clone(),
        marker: Some(placement.in_comment.clone()),
        audit_markdown: Some(crate::render::audit::trail(std::slice::from_ref(&event))),
        next_step: None,
    };
    let approval = markdown::Approval {
        approvals: cfg
            .environments
            .get(&ctx.environment)
            .map_or(0, |e| e.approvals),
        special: cfg
            .approvers
            .users
            .iter()
            .cloned()
            .chain(
                cfg.approvers
                    .teams
                    .iter()
                    .map(|(org, team)| format!("{org}/{team}")),
            )
            .collect(),
    };
    let ctx = markdown::CommentContext {
        next_step: Some(markdown::next_step(report, &ctx, &approval)),
        ..ctx
    };
    let mut comment = markdown::comment(report, &ctx);
    if session.signing_key.is_none() {
        comment = marker::with_note(&comment, marker::UNSIGNED_NOTE);
    }
    if !placement.parts.is_empty() {
        comment = marker::with_note(&comment, &crate::render::parts::note(&placement));
    }
    let body = split::fit(
        &comment,
        split::COMMENT_LIMIT,
        &split::pointer(run_url.as_deref()),
    );
    let passed = report.result == RunResult::Passed;
    // The summary's audit row is the one `leave` adds after it.
    let summary_ctx = markdown::CommentContext {
        marker: None,
        audit_markdown: None,
        ..ctx
    };
    Ok(Publication {
        placement,
        body,
        status_description,
        passed,
        approvable: passed && report.locks.is_empty(),
        record: RunRecord {
            summary: Some(crate::render::summary::job_summary(report, &summary_ctx)),
            outputs: outputs(report, &marker),
            event: Some(event),
        },
    })
}

/// The label, the comment, its parts, and last the status that names the
/// attestation.
async fn write(
    cfg: &Config,
    session: &GhSession,
    target: &Target,
    current: &Current,
    p: &Publication,
) -> std::result::Result<(), crate::github::GithubError> {
    let client = &session.client;
    let (add, remove) = if p.passed {
        (cfg.labels.passed.as_str(), cfg.labels.failed.as_str())
    } else {
        (cfg.labels.failed.as_str(), cfg.labels.passed.as_str())
    };
    client
        .set_exclusive_label(
            &target.repo,
            target.number,
            Some(&current.labels),
            add,
            &[remove],
        )
        .await?;
    client
        .upsert_listed_comment(
            &target.repo,
            target.number,
            &current.comments,
            "<!-- tfctl:validation",
            Some(&session.bot_login),
            &p.body,
        )
        .await?;
    // The parts after the comment that names them (they follow it on the
    // PR), and the status that names the attestation last.
    client
        .sync_listed_comments(
            &target.repo,
            target.number,
            &current.comments,
            &crate::render::parts::part_prefix(),
            Some(&session.bot_login),
            &p.placement.parts,
        )
        .await?;
    client
        .create_status(
            &target.repo,
            &target.head_sha,
            if p.approvable {
                CommitState::Success
            } else {
                CommitState::Failure
            },
            STATUS_CONTEXT,
            Some(&p.status_description),
            session.env.run_url().as_deref(),
        )
        .await?;
    Ok(())
}

/// The PR of this run as a lock holder, now.
fn claimant(session: &GhSession, target: &Target) -> crate::locks::Claimant {
    crate::locks::Claimant {
        repository: target.repo.to_string(),
        pr: target.number,
        head_sha: target.head_sha.clone(),
        time: audit::now_rfc3339(),
        by: session
            .env
            .run_url()
            .unwrap_or_else(|| "tfctl validate".into()),
    }
}

/// Frees the stack locks of a PR closed without merge and sends
/// `tfctl-validate` for every open PR that waited on one.
fn release_closed(cfg: &Config, session: &GhSession, run: &PrRun) -> Result<ExitStatus> {
    if cfg.locks == LockMode::Off {
        println!(
            "tfctl validate: #{} is closed: nothing to validate",
            run.target.number
        );
        return Ok(ExitStatus::Success);
    }
    let store = super::locking::LockStore::of(session, cfg);
    let me = claimant(session, &run.target);
    let reason = format!("#{} was closed without merge", me.pr);
    GhSession::runtime()?.block_on(async {
        let mut waiters = std::collections::BTreeSet::new();
        let mut freed = Vec::new();
        for stack in &run.sel.dag.stacks {
            if let Some(waiting) = store.release(&stack.id, &me, &reason).await? {
                freed.push(stack.id.clone());
                waiters.extend(waiting);
            }
        }
        println!(
            "tfctl validate: #{} is closed without merge: {} lock(s) freed{}",
            me.pr,
            freed.len(),
            if freed.is_empty() {
                String::new()
            } else {
                format!(" ({})", freed.join(", "))
            }
        );
        let waiters: Vec<u64> = waiters.into_iter().collect();
        super::locks::revalidate(session, &me.repository, &waiters, &reason).await?;
        Ok(ExitStatus::Success)
    })
}

/// Takes the lock of every stack of the PR, or learns which another open
/// PR holds (docs/DESIGN.md §8): those it returns, and this PR is listed
/// there to be re-validated when they are released.
async fn hold_locks(
    cfg: &Config,
    session: &GhSession,
    target: &Target,
    report: &RunReport,
) -> Result<Vec<crate::locks::StackLock>> {
    let store = super::locking::LockStore::of(session, cfg);
    let me = claimant(session, target);
    let now = audit::parse_rfc3339(&me.time).unwrap_or(0);
    let mut locked = Vec::new();
    for stack in &report.stacks {
        if let super::locking::Outcome::Locked(holder) = store.acquire(&stack.id, &me).await? {
            locked.push(crate::locks::StackLock::of(&holder, &me, now));
        }
    }
    Ok(locked)
}

fn target(session: &GhSession) -> Result<Target> {
    match &session.event {
        Event::RepositoryDispatch(e) if e.action == "tfctl-validate" => {
            let path = session.env.event_path.clone().unwrap_or_default();
            let payload = e.tfctl_payload(&path)?;
            Ok(Target {
                repo: RepoRef::parse(&payload.source_repo).map_err(|err| {
                    Error::input(format!("client_payload.source_repo: {}", err.message))
                })?,
                number: payload.pr_number,
                head_sha: payload.head_sha,
            })
        }
        Event::PullRequest(e) => Ok(Target {
            repo: session.repo.clone(),
            number: e.number,
            head_sha: e.pull_request.head.sha.clone(),
        }),
        other => Err(Error::input(format!(
            "tfctl validate and tfctl report run on repository_dispatch `tfctl-validate` or pull_request, not {}{} (pass --local to validate the checkout without a PR)",
            other.name(),
            match other {
                Event::RepositoryDispatch(e) => format!(" `{}`", e.action),
                _ => String::new(),
            }
        ))),
    }
}

fn display_environment(m: &marker::ValidationMarker) -> String {
    if m.environment.is_empty() {
        m.environments.join(", ")
    } else {
        m.environment.clone()
    }
}

/// Step outputs: `result`, `environment`, `target-branch`, `stacks` (JSON).
fn outputs(report: &RunReport, m: &marker::ValidationMarker) -> Vec<(&'static str, String)> {
    let stacks: Vec<serde_json::Value> = report
        .stacks
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id, "environment": s.environment, "action": s.action,
                "status": s.status, "changes": s.changes,
            })
        })
        .collect();
    vec![
        ("result", report.result.as_str().to_string()),
        ("environment", m.environment.clone()),
        ("target-branch", m.target_branch.clone()),
        ("stacks", serde_json::Value::Array(stacks).to_string()),
    ]
}

/// `::error file=<tfvars>::` for each violation and terraform failure, so
/// they show on the PR's files.
fn annotate(report: &RunReport, stacks: &[crate::stack::Stack], prefix: &str) {
    for s in &report.stacks {
        let Some(stack) = stacks.iter().find(|st| st.id == s.id) else {
            continue;
        };
        let rel = stack.tfvars.to_string_lossy();
        let file = if prefix.is_empty() {
            rel.into_owned()
        } else {
            format!("{prefix}/{rel}")
        };
        let location = Location {
            file: Some(file),
            line: Some(1),
            col: None,
            title: Some(format!("tfctl: {}", s.id)),
        };
        for v in &s.violations {
            println!(
                "{}",
                workflow::annotation(
                    Level::Error,
                    &location,
                    &format!("[{}] {}", v.namespace, v.msg)
                )
            );
        }
        for w in &s.warnings {
            println!(
                "{}",
                workflow::annotation(
                    Level::Warning,
                    &location,
                    &format!("[{}] {}", w.namespace, w.msg)
                )
            );
        }
        if let (StackStatus::Error, Some(why)) = (s.status, &s.error) {
            println!("{}", workflow::annotation(Level::Error, &location, why));
        }
    }
}

/// An input error that names its place, as an annotation there. GitHub
/// pins annotations to paths from the repository's top; the error names a
/// stack's file from the config root, so it is found there first.
fn annotate_input_error(e: &Error, config_root: &Path, top: &Path) {
    let Some(at) = &e.location else {
        return;
    };
    let named = Path::new(&at.file);
    let file = [config_root.join(named), top.join(named)]
        .into_iter()
        .find(|p| p.is_file())
        .and_then(|p| {
            let p = crate::change_paths::absolute(&p);
            p.strip_prefix(crate::change_paths::absolute(top))
                .ok()
                .map(|rel| rel.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| at.file.clone());
    let location = Location {
        file: Some(file),
        line: Some(at.line),
        col: at.col,
        title: Some("tfctl".into()),
    };
    println!(
        "{}",
        workflow::annotation(Level::Error, &location, e.what())
    );
}
