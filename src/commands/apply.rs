//! `tfctl apply` (docs/DESIGN.md §2, §4): trigger → the PR's facts → apply gate →
//! re-plan of each changed stack, compared with the digest the validation
//! approved → state snapshot and apply in DAG order → one report on the PR
//! (sticky comment, commit status `tfctl/apply`), the job summary, step
//! outputs and an audit event.
//!
//! Wiring only: the gate and the plan approval are pure (`gates`), runs are
//! judged in `pipeline`, rendered in `render::apply`. Must not: apply
//! anything before the gate opened, or apply a stack whose re-plan is not
//! the approved one (the runner asks [`gates::plan_approval`] first).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::actions::event::{Event, EVENT_TYPE_APPLY};
use crate::audit::{self, AuditEvent};
use crate::cli::ApplyArgs;
use crate::config::{Config, LockMode};
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::evidence;
use crate::gates::{self, ApplyFacts, ApplyPolicy};
use crate::github::models::{Comment, PullRequest};
use crate::github::{CommitState, RepoRef};
use crate::locks::Claimant;
use crate::pipeline::{self, ApplyHeader};
use crate::render::apply::{self as render_apply, ApplyContext};
use crate::render::marker::{self, AppliedRecord, ApplyMarker, ApplyState};
use crate::render::split;
use crate::repo::Git;
use crate::report::{ApplyReport, ApplyResult, ApplyStatus};
use crate::runner::{self, Cancel, Operation, StackJob};
use crate::select::{self, ChangeSource};

use super::gh::{GhSession, RunRecord};
use super::locking::{self, LockStore};
use super::promoting;

/// Commit status context of the apply.
pub const STATUS_CONTEXT: &str = "tfctl/apply";

/// Runs `tfctl apply` from the GitHub Actions context.
pub fn run(config: Option<&Path>, args: ApplyArgs, ctx: &Context) -> Result<ExitStatus> {
    if !args.select.files.is_empty() || args.select.all || args.select.base.is_some() {
        return Err(Error::input(
            "tfctl apply takes its stacks from the merged pull request's files; \
             --files, --all and --base are not accepted",
        ));
    }
    let cfg = super::load_config(config, ctx)?;
    let session = GhSession::open(ctx, &cfg.github, &args.github)?;
    super::runtime()?.block_on(async {
        // First, so a cancel during the GitHub calls is seen too.
        let cancel = runner::cancel_on_signals()
            .map_err(|e| Error::runtime(format!("cannot install signal handlers: {e}")))?;
        Apply {
            cfg: &cfg,
            ctx,
            session: &session,
            args: &args,
            started: Instant::now(),
            applied: std::cell::RefCell::new(None),
            unsigned: std::cell::Cell::new(false),
        }
        .run(cancel)
        .await
    })
}

/// What started the apply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Trigger {
    /// Where the PR lives (the config repository).
    pr_repo: RepoRef,
    /// Unknown for a push: found from the pushed commit.
    pr_number: Option<u64>,
    /// The merge commit the trigger names.
    sha: Option<String>,
    /// The environment branch being applied.
    branch: String,
}

/// An event that asks for an apply, or one that does not (with why).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Apply(Trigger),
    Nothing(String),
}

/// Reads the trigger from the event (pure). `repo` is the workflow's
/// repository, `event_file` names the payload in errors.
fn trigger(event: &Event, repo: &RepoRef, event_file: &Path, cfg: &Config) -> Result<Start> {
    match event {
        Event::RepositoryDispatch(d) => {
            if d.action != EVENT_TYPE_APPLY {
                return Err(Error::input(format!(
                    "{}: repository_dispatch `{}` is not `{EVENT_TYPE_APPLY}`",
                    event_file.display(),
                    d.action
                )));
            }
            let p = d.apply_payload(event_file)?;
            let pr_repo = RepoRef::parse(&p.source_repo).map_err(|e| {
                Error::input(format!(
                    "{}: client_payload.source_repo: {}",
                    event_file.display(),
                    e.message
                ))
            })?;
            Ok(Start::Apply(Trigger {
                pr_repo,
                pr_number: Some(p.pr_number),
                sha: Some(p.merge_commit_sha),
                branch: p.base_ref,
            }))
        }
        Event::Push(p) => {
            let Some(branch) = p.branch() else {
                return Ok(Start::Nothing(format!(
                    "{} is not a branch: nothing to apply",
                    p.git_ref
                )));
            };
            if p.deleted {
                return Ok(Start::Nothing(format!(
                    "branch {branch} was deleted: nothing to apply"
                )));
            }
            if cfg.environment_for_branch(branch).is_none() {
                return Ok(Start::Nothing(format!(
                    "{branch} is no environment's branch in {}: nothing to apply",
                    cfg.file.display()
                )));
            }
            Ok(Start::Apply(Trigger {
                pr_repo: repo.clone(),
                pr_number: None,
                sha: Some(p.after.clone()),
                branch: branch.to_string(),
            }))
        }
        Event::PullRequest(e) => {
            if !e.is_merged_close() {
                return Ok(Start::Nothing(format!(
                    "pull request #{} was {} without a merge: nothing to apply",
                    e.number, e.action
                )));
            }
            Ok(Start::Apply(Trigger {
                pr_repo: repo.clone(),
                pr_number: Some(e.number),
                sha: e.pull_request.merge_commit_sha.clone(),
                branch: e.pull_request.base.git_ref.clone(),
            }))
        }
        other => Err(Error::input(format!(
            "tfctl apply runs on repository_dispatch `{EVENT_TYPE_APPLY}`, a push to an \
             environment branch or a merged pull_request, not on {}",
            other.name()
        ))),
    }
}

struct Apply<'a> {
    cfg: &'a Config,
    ctx: &'a Context,
    session: &'a GhSession,
    args: &'a ApplyArgs,
    started: Instant,
    /// The run that already applied this merge, as the previous apply
    /// attestation says: every record this run writes carries it on.
    applied: std::cell::RefCell<Option<AppliedRecord>>,
    /// The validation believed was unsigned (`trust.allow_unsigned`).
    unsigned: std::cell::Cell<bool>,
}

impl Apply<'_> {
    async fn run(&self, cancel: Cancel) -> Result<ExitStatus> {
        let event_file = self.session.env.event_path.clone().unwrap_or_default();
        let trigger = match trigger(
            &self.session.event,
            &self.session.repo,
            &event_file,
            self.cfg,
        )? {
            Start::Nothing(why) => {
                // `why` quotes the pushed ref, which a writer names.
                println!("{}", crate::actions::commands::neutralise(&why));
                return Ok(ExitStatus::Success);
            }
            Start::Apply(t) => t,
        };
        let config_root = super::config_root(self.cfg, &self.args.select);
        let git = Git::open(&config_root)?;
        let checked_out = git.head()?;

        let Some(pr) = self.find_pr(&trigger).await? else {
            let sha = trigger.sha.clone().unwrap_or_default();
            let reason = format!(
                "no merged pull request has {} as its merge commit: a direct push to {} is not applied",
                crate::render::short(&sha),
                trigger.branch
            );
            let header = ApplyHeader {
                pull_request: None,
                commit_sha: Some(sha),
                environment: self
                    .cfg
                    .environment_for_branch(&trigger.branch)
                    .map(str::to_string),
                branch: trigger.branch.clone(),
            };
            let report = pipeline::blocked_report(header, vec![reason], self.started.elapsed());
            return self.publish(&trigger.pr_repo, None, &report).await;
        };

        let files = self
            .session
            .client
            .list_pull_files(&trigger.pr_repo, pr.number)
            .await
            .map_err(Error::from)?;
        let facts = self
            .facts(&trigger, &pr, checked_out, &files, &git.prefix)
            .await?;
        // A newer run of this apply wrote its record already (this one
        // started earlier and got here later): it goes on, this one writes
        // nothing, so two runs never interleave their applies or records.
        let our_run = self.session.env.run_id.clone().unwrap_or_default();
        if let Some(newer) = facts
            .previous_apply
            .as_ref()
            .filter(|p| evidence::is_newer_run(&p.run_id, &our_run))
        {
            println!(
                "tfctl apply: run {} of this merge started after this run ({our_run}) and has recorded `{}`: nothing applied or written",
                newer.run_id,
                newer.state.as_str()
            );
            return Ok(ExitStatus::Success);
        }
        self.applied.replace(
            facts
                .previous_apply
                .as_ref()
                .and_then(|p| p.applied.clone()),
        );
        let header = ApplyHeader {
            pull_request: Some(format!("{}#{}", trigger.pr_repo, pr.number)),
            commit_sha: pr.merge_commit_sha.clone().or(trigger.sha.clone()),
            environment: facts
                .validation
                .as_ref()
                .ok()
                .and_then(|v| v.environment().ok().map(str::to_string)),
            branch: trigger.branch.clone(),
        };
        let cfg = self.cfg;
        let environment = match gates::apply_gate(
            &facts,
            &ApplyPolicy {
                passed_label: &cfg.labels.passed,
                failed_label: &cfg.labels.failed,
                branch_for: &|env: &str| cfg.branch_for(env),
                allow_forks: cfg.github.allow_forks,
            },
        ) {
            Ok(environment) => environment,
            Err(reasons) => {
                let report = pipeline::blocked_report(header, reasons, self.started.elapsed());
                return self
                    .publish(&trigger.pr_repo, Some(pr.number), &report)
                    .await;
            }
        };
        if let Some(previous) = facts
            .previous_apply
            .as_ref()
            .filter(|p| p.state == ApplyState::Applying)
        {
            eprintln!(
                "tfctl apply: warning: an earlier apply of this merge (run {}, started {}) was interrupted mid-way; \
                 stacks may be partly applied: each is re-planned against its current state, and one whose plan \
                 changed since approval is not applied",
                previous.run_id, previous.time
            );
        }
        // An override that stands (re-verified above) waives promotion too.
        let overridden = facts.override_by.is_ok();
        // The gate opened: the validation verified and the PR has its merge
        // commit.
        let approved = facts
            .validation
            .map(|v| v.marker.stacks)
            .unwrap_or_default();
        let merge_sha = facts.checked_out_sha.clone();

        let sel = select::select(
            cfg,
            &config_root,
            ChangeSource::Files {
                files: pipeline::pr_changes(
                    &pipeline::PrFiles {
                        number: Some(pr.number),
                        listed: &files,
                        changed_files: pr.changed_files,
                        commits: pipeline::PrCommits::Merge {
                            merge_sha: &merge_sha,
                        },
                    },
                    &git.prefix,
                    &config_root,
                )?,
                // A deleted tfvars's last contents: the base side of the merge.
                old_rev: Some(format!("{merge_sha}^1")),
            },
        )?;
        // Promotion, asked again now: a record may not have been there at
        // validation, but a stack without one is never applied unwaived.
        if !overridden {
            let mut gaps = Vec::new();
            let planned = sel
                .dag
                .stacks
                .iter()
                .filter(|s| s.action == crate::stack::StackAction::Plan);
            let mut known = promoting::Gaps::new(cfg, self.session);
            for stack in planned {
                if let Some(why) = known.of(&stack.service, &stack.environment).await? {
                    gaps.push(format!("{}: {why}", stack.id));
                }
            }
            if !gaps.is_empty() {
                let report = pipeline::blocked_report(header, gaps, self.started.elapsed());
                return self
                    .publish(&trigger.pr_repo, Some(pr.number), &report)
                    .await;
            }
        }
        let claimant = self.claimant(&trigger.pr_repo, &pr);
        if cfg.locks == LockMode::Apply {
            let locked = self.lock_for_apply(&sel, &claimant).await?;
            if !locked.is_empty() {
                let report = pipeline::blocked_report(header, locked, self.started.elapsed());
                return self
                    .publish(&trigger.pr_repo, Some(pr.number), &report)
                    .await;
            }
        }
        // Recorded before the first `terraform apply`, so a run that dies
        // mid-way leaves "applying" behind for the next one to see.
        let started =
            pipeline::apply_report(&sel, Vec::new(), header.clone(), self.started.elapsed());
        self.record(&trigger.pr_repo, pr.number, &started, ApplyState::Applying)
            .await?;
        let report = self
            .apply_stacks(&sel, &approved, &environment, header, &merge_sha, cancel)
            .await?;
        // What is now in place, for the environments promoted from here.
        let pull_request = format!("{}#{}", trigger.pr_repo, pr.number);
        for stack in &sel.dag.stacks {
            let applied = report
                .stacks
                .iter()
                .any(|s| s.id == stack.id && s.status == ApplyStatus::Applied);
            let var_files = sel.inputs.get(&stack.id).map(|i| i.var_files.as_slice());
            if let (true, Some(var_files)) = (
                applied && stack.action == crate::stack::StackAction::Plan,
                var_files,
            ) {
                promoting::record(
                    cfg,
                    self.session,
                    stack,
                    var_files,
                    &pull_request,
                    &merge_sha,
                )
                .await?;
            }
        }
        let status = self
            .publish(&trigger.pr_repo, Some(pr.number), &report)
            .await?;
        if cfg.locks != LockMode::Off && locking::finished(ApplyState::of(report.result)) {
            self.release_locks(&sel, &claimant, &trigger.pr_repo)
                .await?;
        }
        Ok(status)
    }

    /// This merged PR as a lock holder.
    fn claimant(&self, repo: &RepoRef, pr: &PullRequest) -> Claimant {
        Claimant {
            repository: repo.to_string(),
            pr: pr.number,
            head_sha: pr.head.sha.clone(),
            time: crate::audit::now_rfc3339(),
            by: self
                .session
                .env
                .run_url()
                .unwrap_or_else(|| "tfctl apply".into()),
        }
    }

    fn locks(&self) -> LockStore<'_> {
        super::locking::LockStore::of(self.session, self.cfg)
    }

    /// `locks.mode: apply`: takes every stack's lock for this apply; the
    /// reasons it may not run, one per stack another PR holds (the locks
    /// it did take are released again).
    async fn lock_for_apply(&self, sel: &select::Selection, me: &Claimant) -> Result<Vec<String>> {
        let store = self.locks();
        let mut held = Vec::new();
        let mut reasons = Vec::new();
        for stack in &sel.dag.stacks {
            match store.acquire(&stack.id, me).await? {
                locking::Outcome::Held => held.push(stack.id.as_str()),
                locking::Outcome::Locked(holder) => reasons.push(format!(
                    "{} is locked by {} (applying since {}): re-run this apply when it ends",
                    stack.id,
                    holder.holder(&me.repository),
                    holder.time
                )),
            }
        }
        if !reasons.is_empty() {
            for stack in held {
                store
                    .release(stack, me, "another stack of this apply was locked")
                    .await?;
            }
        }
        Ok(reasons)
    }

    /// Frees this PR's stack locks once its apply finished, and asks for a
    /// re-validation of every open PR that waited on one of them.
    async fn release_locks(
        &self,
        sel: &select::Selection,
        me: &Claimant,
        pr_repo: &RepoRef,
    ) -> Result<()> {
        let store = self.locks();
        let mut waiters = std::collections::BTreeSet::new();
        for stack in &sel.dag.stacks {
            let reason = format!("#{} was applied", me.pr);
            waiters.extend(
                store
                    .release(&stack.id, me, &reason)
                    .await?
                    .unwrap_or_default(),
            );
        }
        let waiters: Vec<u64> = waiters.into_iter().collect();
        let what = format!("the stacks of #{}", me.pr);
        super::locks::revalidate(self.session, &pr_repo.to_string(), &waiters, &what).await
    }

    /// The PR of the trigger: by number, or for a push the merged PR whose
    /// merge commit was pushed. `None` when a push is no PR's merge.
    async fn find_pr(&self, trigger: &Trigger) -> Result<Option<PullRequest>> {
        let client = &self.session.client;
        let number = match (trigger.pr_number, &trigger.sha) {
            (Some(n), _) => n,
            (None, Some(sha)) => {
                let prs = client
                    .pulls_for_commit(&trigger.pr_repo, sha)
                    .await
                    .map_err(Error::from)?;
                match prs
                    .iter()
                    .find(|p| p.is_merged() && p.merge_commit_sha.as_deref() == Some(sha.as_str()))
                {
                    Some(p) => p.number,
                    None => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        // `pulls/get` carries `merged`, which list answers omit.
        client
            .get_pull(&trigger.pr_repo, number)
            .await
            .map(Some)
            .map_err(Error::from)
    }

    /// Everything the gate looks at: the PR, its evidence (read by
    /// [`evidence`], never from labels), an override re-verified now, the
    /// previous apply of this merge, and later merges into the branch.
    async fn facts(
        &self,
        trigger: &Trigger,
        pr: &PullRequest,
        checked_out_sha: String,
        files: &[crate::github::models::ChangedFile],
        prefix: &str,
    ) -> Result<ApplyFacts> {
        let client = &self.session.client;
        let cfg = self.cfg;
        let repo = &trigger.pr_repo;
        let comments = client
            .list_comments(repo, pr.number)
            .await
            .map_err(Error::from)?;
        let repository = repo.to_string();
        let subject = evidence::Subject {
            repository: &repository,
            pr_number: pr.number,
            bot_login: &self.session.bot_login,
        };
        let trust = evidence::Trust::of(&cfg.trust);
        let statuses = client
            .list_statuses(repo, &pr.head.sha)
            .await
            .map_err(Error::from)?;
        let published = evidence::published_fingerprint(&statuses, &self.session.bot_login);
        let validation = evidence::validation(
            &comments,
            &subject,
            &pr.head.sha,
            published.as_deref(),
            trust,
        );
        let override_by = match &validation {
            Ok(v) if !v.passed() => self.reverified_override(&comments, pr, v).await?,
            _ => Err("no override needed".into()),
        };
        let merge_commit_sha = pr.merge_commit_sha.clone().filter(|_| pr.is_merged());
        let previous_apply = merge_commit_sha
            .as_deref()
            .and_then(|sha| evidence::apply_record(&comments, &subject, sha, trust));
        let overtaken = match &merge_commit_sha {
            Some(sha) if pr.is_merged() => {
                self.overtaken(repo, sha, &pr.base.git_ref, files, prefix)
                    .await?
            }
            _ => None,
        };
        Ok(ApplyFacts {
            merged: pr.is_merged(),
            merge_commit_sha,
            checked_out_sha,
            merged_head_sha: pr.head.sha.clone(),
            labels: pr.label_names(),
            validation,
            override_by,
            previous_apply,
            overtaken,
            branch: trigger.branch.clone(),
            base_ref: pr.base.git_ref.clone(),
            trigger_sha: trigger.sha.clone(),
            from_fork: pr.is_from_fork(repo),
        })
    }

    /// The override that excuses the failed validation `v`, re-verified by
    /// the merge gate's rules with team membership asked now (a label or
    /// the merge comment saying "overridden" proves nothing), or why none
    /// does.
    async fn reverified_override(
        &self,
        comments: &[Comment],
        pr: &PullRequest,
        v: &evidence::Verified,
    ) -> Result<std::result::Result<String, String>> {
        let mut last_problem = "no `OVERRIDE:` comment on the pull request".to_string();
        for comment in comments {
            let Some(o) = evidence::OverrideComment::of(comment) else {
                continue;
            };
            if o.author == self.session.bot_login {
                continue;
            }
            let o =
                super::approvers::with_standing(o, &self.session.client, self.cfg, &pr.user.login)
                    .await?;
            match evidence::override_problem(&o, &pr.user.login, v, pr.merged_at.as_deref()) {
                None => return Ok(Ok(o.author)),
                Some(problem) => last_problem = problem,
            }
        }
        Ok(Err(last_problem))
    }

    /// Whether a later merge into `branch` overtook `merge_sha` on one of
    /// this PR's stacks (GitHub's comparison of the merge commit with the
    /// branch tip).
    async fn overtaken(
        &self,
        repo: &RepoRef,
        merge_sha: &str,
        branch: &str,
        files: &[crate::github::models::ChangedFile],
        prefix: &str,
    ) -> Result<Option<String>> {
        let comparison = match self.session.client.compare(repo, merge_sha, branch).await {
            Ok(c) => c,
            Err(e) if e.status() == Some(404) => {
                return Ok(Some(format!(
                    "cannot compare the merge commit with {branch} (GitHub: {}); a later merge may have overtaken it",
                    e.message
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let dirs: std::collections::BTreeSet<String> = pipeline::pr_changed_files(files, prefix)
            .into_iter()
            .map(|f| parent_dir(&f.path).to_string())
            .collect();
        let changed: Vec<String> = comparison
            .files
            .iter()
            .map(|f| f.filename.clone())
            .collect();
        let touches = |path: &str| {
            let relative = match prefix {
                "" => Some(path),
                p => path.strip_prefix(p).and_then(|r| r.strip_prefix('/')),
            };
            relative.is_some_and(|r| dirs.contains(parent_dir(r)))
        };
        Ok(gates::overtaken(
            branch,
            &comparison.status,
            &changed,
            changed.len() < crate::github::COMPARE_FILES_LIMIT,
            &touches,
        ))
    }

    /// Writes the signed apply attestation of `report` in `state` to the
    /// sticky apply comment.
    async fn record(
        &self,
        repo: &RepoRef,
        number: u64,
        report: &ApplyReport,
        state: ApplyState,
    ) -> Result<()> {
        let body = self.apply_comment(repo, Some(number), report, state);
        self.session
            .client
            .upsert_comment(
                repo,
                number,
                &marker::prefix::<ApplyMarker>(),
                Some(&self.session.bot_login),
                &body,
            )
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// The sticky apply comment: the signed attestation, then the report.
    fn apply_comment(
        &self,
        repo: &RepoRef,
        number: Option<u64>,
        report: &ApplyReport,
        state: ApplyState,
    ) -> String {
        let session = self.session;
        let run_id = session.env.run_id.clone().unwrap_or_else(|| "local".into());
        let attestation = ApplyMarker::of(
            report,
            &repo.to_string(),
            number,
            state,
            self.applied.borrow().clone(),
            &run_id,
            &audit::now_rfc3339(),
        );
        let run_url = session.env.run_url();
        let mut body = render_apply::comment(
            report,
            &ApplyContext {
                run_url: run_url.clone(),
                marker: Some(marker::render(&attestation, session.signing_key.as_ref())),
            },
        );
        if self.unsigned.get() {
            body = marker::with_note(&body, marker::UNSIGNED_NOTE);
        }
        split::fit(
            &body,
            split::COMMENT_LIMIT,
            &split::pointer(run_url.as_deref()),
        )
    }

    /// Re-plans, checks and applies every stack of `sel`; snapshots are
    /// kept, the rest of the scratch directory removed.
    async fn apply_stacks(
        &self,
        sel: &select::Selection,
        approved: &BTreeMap<String, String>,
        environment: &str,
        header: ApplyHeader,
        merge_sha: &str,
        cancel: Cancel,
    ) -> Result<ApplyReport> {
        let cfg = self.cfg;
        let config_root = super::config_root(cfg, &self.args.select);
        if sel.dag.stacks.is_empty() {
            return Ok(pipeline::apply_report(
                sel,
                Vec::new(),
                header,
                self.started.elapsed(),
            ));
        }
        let work_dir = pipeline::work_dir(cfg, "apply")?;
        let jobs = pipeline::build_jobs(cfg, &config_root, sel, &work_dir)?;
        let mut opts = pipeline::run_options(
            cfg,
            &self.ctx.host,
            self.args.terraform.as_deref(),
            self.args.parallelism,
            &work_dir,
        )?;
        super::progress::attach(
            crate::runner::Operation::Apply,
            &self.args.progress,
            self.ctx,
            &mut opts,
        );
        // The digest of a plan that changes nothing at all.
        // Digests are compared sealed, as the marker publishes them.
        let key = self.session.signing_key.as_ref();
        let no_op = pipeline::seal_digest(&crate::plan::digest(&serde_json::json!({})), key);
        let approve = |job: &StackJob, plan: &serde_json::Value| {
            let current = pipeline::seal_digest(&crate::plan::digest(plan), key);
            gates::plan_approval(
                &job.stack.environment,
                environment,
                &current,
                approved.get(&job.stack.id).map(String::as_str),
                current == no_op,
            )
        };
        let nodes = sel.dag.node_stacks();
        let mut runs = runner::run_stacks(
            &jobs,
            &nodes,
            &sel.dag.preds,
            Operation::Apply,
            &opts,
            &approve,
            cancel,
        )
        .await;
        let snapshot_dir = cfg.base_dir.join(".tfctl").join("snapshots").join(format!(
            "{}-{}",
            scratch_tag(merge_sha),
            std::process::id()
        ));
        for (job, run) in jobs.iter().zip(runs.iter_mut()) {
            if let Some(taken) = run.state_snapshot.take() {
                run.state_snapshot = Some(keep_snapshot(&taken, &snapshot_dir, &job.stack.id)?);
            }
        }
        let _ = std::fs::remove_dir_all(&work_dir);
        let stacks = pipeline::judge_apply(sel, &runs, approved);
        Ok(pipeline::apply_report(
            sel,
            stacks,
            header,
            self.started.elapsed(),
        ))
    }

    /// Reports everywhere: stdout, the PR comment (when there is a PR), the
    /// commit status, the job summary, step outputs and the audit log. A
    /// failed report is an error after everything else was tried, unless
    /// the run was cancelled (130 wins).
    async fn publish(
        &self,
        repo: &RepoRef,
        pr_number: Option<u64>,
        report: &ApplyReport,
    ) -> Result<ExitStatus> {
        print!("{}", render_apply::text(report));
        let session = self.session;
        let run_url = session.env.run_url();
        let mut problems: Vec<String> = Vec::new();

        if let Some(n) = pr_number {
            if let Err(e) = self
                .record(repo, n, report, ApplyState::of(report.result))
                .await
            {
                problems.push(format!("cannot comment on {repo}#{n}: {}", e.message));
            }
        }
        if let Some(sha) = report.commit_sha.as_deref().filter(|s| !s.is_empty()) {
            let state = match report.result {
                ApplyResult::Applied => CommitState::Success,
                ApplyResult::Blocked | ApplyResult::Failed => CommitState::Failure,
                ApplyResult::Cancelled => CommitState::Error,
            };
            let description = render_apply::status_description(report);
            if let Err(e) = session
                .client
                .create_status(
                    repo,
                    sha,
                    state,
                    STATUS_CONTEXT,
                    Some(&description),
                    run_url.as_deref(),
                )
                .await
            {
                problems.push(format!("cannot set status {STATUS_CONTEXT} on {sha}: {e}"));
            }
        }
        let summary = render_apply::comment(
            report,
            &ApplyContext {
                run_url: run_url.clone(),
                marker: None,
            },
        );
        let event = AuditEvent {
            environment: report.environment.clone(),
            reasons: report.blocked.clone(),
            ..AuditEvent::new(
                "apply",
                session
                    .event
                    .sender()
                    .map_or("unknown", |u| u.login.as_str()),
                report
                    .pull_request
                    .clone()
                    .unwrap_or_else(|| repo.to_string()),
                report.commit_sha.as_deref().unwrap_or_default(),
                report.result.as_str(),
                run_url,
            )
        };
        let record = RunRecord {
            summary: Some(summary),
            outputs: step_outputs(report),
            event: Some(event),
        };
        if let Err(e) = session.leave(record) {
            problems.push(e.message);
        }

        let status = match report.result {
            ApplyResult::Applied => ExitStatus::Success,
            ApplyResult::Blocked | ApplyResult::Failed => ExitStatus::Failure,
            ApplyResult::Cancelled => return Ok(ExitStatus::Cancelled),
        };
        if problems.is_empty() {
            Ok(status)
        } else {
            Err(Error::runtime(problems.join("; ")))
        }
    }
}

/// The directory of a path (`""` at the top).
fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Moves a snapshot out of the scratch directory (which is removed) to
/// `dir/<id with / as __>.tfstate`, and returns its new path.
fn keep_snapshot(taken: &Path, dir: &Path, stack_id: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::runtime(format!("{}: {e}", dir.display())))?;
    let kept = dir.join(format!("{}.tfstate", stack_id.replace('/', "__")));
    std::fs::rename(taken, &kept)
        .or_else(|_| std::fs::copy(taken, &kept).map(drop))
        .map_err(|e| {
            Error::runtime(format!(
                "cannot keep state snapshot {}: {e}",
                kept.display()
            ))
        })?;
    Ok(std::path::absolute(&kept).unwrap_or(kept))
}

/// Step outputs: the result, stack ids by status (comma-separated), the
/// snapshots and the non-sensitive outputs (JSON by stack id).
fn step_outputs(report: &ApplyReport) -> Vec<(&'static str, String)> {
    let ids = |status| report.ids_with(status).join(",");
    let snapshots: BTreeMap<&str, &str> = report
        .stacks
        .iter()
        .filter_map(|s| Some((s.id.as_str(), s.state_snapshot.as_deref()?)))
        .collect();
    let outputs: BTreeMap<&str, &BTreeMap<String, serde_json::Value>> = report
        .stacks
        .iter()
        .filter(|s| !s.outputs.is_empty())
        .map(|s| (s.id.as_str(), &s.outputs))
        .collect();
    vec![
        ("result", report.result.as_str().to_string()),
        (
            "environment",
            report.environment.clone().unwrap_or_default(),
        ),
        ("applied", ids(ApplyStatus::Applied)),
        ("failed", ids(ApplyStatus::Failed)),
        ("skipped", ids(ApplyStatus::Skipped)),
        ("not-applied", ids(ApplyStatus::NotApplied)),
        ("cancelled", ids(ApplyStatus::Cancelled)),
        (
            "snapshots",
            serde_json::to_string(&snapshots).unwrap_or_default(),
        ),
        (
            "outputs",
            serde_json::to_string(&outputs).unwrap_or_default(),
        ),
    ]
}

/// Twelve characters of the merge commit: part of a scratch directory's
/// name, longer than [`crate::render::short`] so two merges never share one.
fn scratch_tag(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::event;

    fn cfg() -> Config {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tfctl.yaml");
        std::fs::write(&file, "version: 1\n").unwrap();
        crate::config::load(&file).unwrap()
    }

    fn repo() -> RepoRef {
        RepoRef::parse("o/controller").unwrap()
    }

    fn parse(name: &str, payload: serde_json::Value) -> Event {
        event::parse(name, &payload.to_string(), Path::new("event.json")).unwrap()
    }

    fn repository() -> serde_json::Value {
        serde_json::json!({"full_name": "o/controller"})
    }

    #[test]
    fn a_dispatch_names_the_pr_its_repo_merge_and_branch() {
        let e = parse(
            "repository_dispatch",
            serde_json::json!({"action": "tfctl-apply", "repository": repository(),
                "client_payload": {"source_repo": "o/config", "pr_number": 4,
                    "merge_commit_sha": "m", "base_ref": "prod"}}),
        );
        assert_eq!(
            trigger(&e, &repo(), Path::new("event.json"), &cfg()).unwrap(),
            Start::Apply(Trigger {
                pr_repo: RepoRef::parse("o/config").unwrap(),
                pr_number: Some(4),
                sha: Some("m".into()),
                branch: "prod".into(),
            })
        );
        let other = parse(
            "repository_dispatch",
            serde_json::json!({"action": "tfctl-validate", "repository": repository()}),
        );
        let err = trigger(&other, &repo(), Path::new("event.json"), &cfg()).unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::BadInput);
        let bad = parse(
            "repository_dispatch",
            serde_json::json!({"action": "tfctl-apply", "repository": repository(),
                "client_payload": {"source_repo": "../x", "pr_number": 4,
                    "merge_commit_sha": "m", "base_ref": "prod"}}),
        );
        let err = trigger(&bad, &repo(), Path::new("event.json"), &cfg()).unwrap_err();
        assert!(
            err.message.contains("client_payload.source_repo"),
            "{}",
            err.message
        );
    }

    #[test]
    fn pushes_apply_only_on_environment_branches() {
        let push = |r: &str| {
            parse(
                "push",
                serde_json::json!({"ref": r, "before": "a", "after": "b",
                    "repository": repository()}),
            )
        };
        assert_eq!(
            trigger(&push("refs/heads/prod"), &repo(), Path::new("e"), &cfg()).unwrap(),
            Start::Apply(Trigger {
                pr_repo: repo(),
                pr_number: None,
                sha: Some("b".into()),
                branch: "prod".into(),
            })
        );
        assert!(matches!(
            trigger(&push("refs/heads/feature"), &repo(), Path::new("e"), &cfg()).unwrap(),
            Start::Nothing(why) if why.contains("no environment's branch")
        ));
        assert!(matches!(
            trigger(&push("refs/tags/v1"), &repo(), Path::new("e"), &cfg()).unwrap(),
            Start::Nothing(_)
        ));
    }

    #[test]
    fn a_merged_close_applies_its_base_and_an_unmerged_one_nothing() {
        let pr = |action: &str, merged: bool| {
            parse(
                "pull_request",
                serde_json::json!({"action": action, "number": 9, "repository": repository(),
                    "pull_request": {"number": 9, "state": "closed", "title": "t",
                        "user": {"login": "alice"}, "merged": merged,
                        "merge_commit_sha": "m9",
                        "head": {"ref": "feature", "sha": "h"},
                        "base": {"ref": "prod", "sha": "b"}}}),
            )
        };
        assert_eq!(
            trigger(&pr("closed", true), &repo(), Path::new("e"), &cfg()).unwrap(),
            Start::Apply(Trigger {
                pr_repo: repo(),
                pr_number: Some(9),
                sha: Some("m9".into()),
                branch: "prod".into(),
            })
        );
        assert!(matches!(
            trigger(&pr("closed", false), &repo(), Path::new("e"), &cfg()).unwrap(),
            Start::Nothing(why) if why.contains("without a merge")
        ));
    }
}
