//! The GitHub session shared by `validate` (in Actions), `report`,
//! `drift`, `dispatch`, `merge` and `apply`: Actions context + flags →
//! event, repository, REST client, signing key, and the login tfctl writes
//! as; and the writers every command reports through (step outputs, job
//! summary, audit log). Effects only: the decisions are
//! `ActionsEnv::client_config` and `github::effective_bot_login`.

use std::path::PathBuf;

use crate::actions::commands as workflow;
use crate::actions::env::ActionsEnv;
use crate::actions::event::Event;
use crate::attest::SigningKey;
use crate::audit::{self, AuditEvent};
use crate::cli::GithubArgs;
use crate::config::model::GithubConfig;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{self, Client, RepoRef};

/// What a command leaves in its own run once its GitHub writes are done,
/// written by [`GhSession::leave`]: the one fan-out of validate, report,
/// apply, merge, dispatch, drift and unlock.
#[derive(Debug, Default)]
pub struct RunRecord {
    /// Markdown for the job summary.
    pub summary: Option<String>,
    /// Step outputs (each declared in `actions::outputs`).
    pub outputs: Vec<(&'static str, String)>,
    /// The audit event: a row under the summary, a line in the audit log.
    pub event: Option<AuditEvent>,
}

impl RunRecord {
    /// Only step outputs.
    pub fn outputs(outputs: Vec<(&'static str, String)>) -> RunRecord {
        RunRecord {
            outputs,
            ..RunRecord::default()
        }
    }

    /// Only an audit event.
    pub fn audited(event: AuditEvent) -> RunRecord {
        RunRecord {
            event: Some(event),
            ..RunRecord::default()
        }
    }
}

/// Everything a GitHub-facing command starts from.
pub struct GhSession {
    pub env: ActionsEnv,
    pub event: Event,
    /// The repository the workflow runs in (`GITHUB_REPOSITORY`).
    pub repo: RepoRef,
    pub client: Client,
    /// The client for `repo` itself (stack locks, re-validation
    /// dispatches): `TFCTL_CONTROLLER_TOKEN`'s when set, else none and
    /// [`GhSession::home`] is `client`.
    pub controller_client: Option<Client>,
    /// The login tfctl's comments are written by, as GitHub knows the
    /// credentials (see `github::identity`): the author every command
    /// looks for when it finds tfctl's comments. Decided once, here.
    pub bot_login: String,
    /// `TFCTL_SIGNING_KEY`: the controller's Ed25519 secret, which signs
    /// attestations (validate, apply) and seals plan digests.
    pub signing_key: Option<SigningKey>,
    pub audit_log: PathBuf,
}

impl GhSession {
    /// Reads the Actions context (process env + flags), masks secrets in the
    /// log when running in Actions, parses the event, builds the client and
    /// settles who tfctl is (`github` is tfctl.yaml's section).
    pub fn open(ctx: &Context, github: &GithubConfig, args: &GithubArgs) -> Result<GhSession> {
        Self::from_env(ctx.actions.clone().with_args(args), github, args)
    }

    /// The session of a command that runs locally or on a PR: Some when
    /// it runs in Actions on an event and `--local` is not given. The one
    /// "local or Actions?" decision of validate, report and drift.
    pub fn if_on_event(
        ctx: &Context,
        github: &GithubConfig,
        args: &GithubArgs,
        local: bool,
    ) -> Result<Option<GhSession>> {
        let actions = ctx.actions.clone().with_args(args);
        if local || actions.event_name.is_none() {
            return Ok(None);
        }
        Self::from_env(actions, github, args).map(Some)
    }

    /// As [`GhSession::open`], from an already-read context.
    ///
    /// The client comes from [`ActionsEnv::client_config`], the one tested
    /// path from env to client (retry base, installation repo, masking).
    /// Then, before anything is read or written, GitHub is asked who the
    /// credentials are (one request with App credentials or a configured
    /// `github.bot_login`, none otherwise); a `github.bot_login` that is
    /// not who tfctl writes as is an input error (exit 2) naming both.
    pub fn from_env(
        env: ActionsEnv,
        github: &GithubConfig,
        args: &GithubArgs,
    ) -> Result<GhSession> {
        for line in env.mask_commands() {
            println!("{line}");
        }
        let event = env.load_event()?;
        let repo = env.repo()?;
        let client = Client::new(env.client_config()?).map_err(Error::from)?;
        let controller_client = env
            .controller_client_config()?
            .map(Client::new)
            .transpose()
            .map_err(Error::from)?;
        let configured = github.bot_login.as_deref();
        let identity = super::runtime()?
            .block_on(client.identity(configured.is_some()))
            .map_err(Error::from)?;
        let bot_login = github::effective_bot_login(&identity, configured).map_err(Error::input)?;
        let signing_key = env
            .signing_key
            .as_ref()
            .map(|k| SigningKey::parse(k.expose()))
            .transpose()
            .map_err(|e| Error::input(format!("TFCTL_SIGNING_KEY: {e}")))?;
        let audit_log = args.audit_log.clone().unwrap_or_else(|| {
            env.runner_temp
                .clone()
                .unwrap_or_else(std::env::temp_dir)
                .join("tfctl-audit.jsonl")
        });
        Ok(GhSession {
            env,
            event,
            repo,
            client,
            controller_client,
            bot_login,
            signing_key,
            audit_log,
        })
    }

    /// The client that writes to the repository tfctl runs in.
    pub fn home(&self) -> &Client {
        self.controller_client.as_ref().unwrap_or(&self.client)
    }

    /// Leaves `record` in this run: the job summary (with the audit
    /// event's row after it), the step outputs, then the event's line in
    /// the audit log. Every part is tried even when one fails; the
    /// failures come back as one error, so nothing is skipped silently.
    pub fn leave(&self, record: RunRecord) -> Result<()> {
        let mut summary = record.summary.unwrap_or_default();
        if let Some(event) = &record.event {
            summary.push_str(&crate::render::audit::trail(std::slice::from_ref(event)));
        }
        let problems: Vec<String> = [
            self.append_summary(&summary),
            self.set_outputs(&record.outputs),
            record
                .event
                .as_ref()
                .map_or(Ok(()), |event| audit::append(&self.audit_log, event)),
        ]
        .into_iter()
        .filter_map(|written| written.err().map(|e| e.to_string()))
        .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::runtime(problems.join("; ")))
        }
    }

    /// Writes step outputs to `$GITHUB_OUTPUT` (nothing outside Actions).
    fn set_outputs(&self, outputs: &[(&str, String)]) -> Result<()> {
        if let Some(path) = &self.env.output_path {
            for (name, value) in outputs {
                debug_assert!(
                    crate::actions::outputs::declared(name),
                    "step output {name} is not in actions::outputs::STEP_OUTPUTS (nor action.yml)"
                );
                workflow::set_output(path, name, value)?;
            }
        }
        Ok(())
    }

    /// Appends markdown to `$GITHUB_STEP_SUMMARY` (nothing outside Actions,
    /// nor when there is nothing to say).
    fn append_summary(&self, markdown: &str) -> Result<()> {
        match &self.env.step_summary_path {
            Some(path) if !markdown.is_empty() => workflow::append_summary(path, markdown),
            _ => Ok(()),
        }
    }

    /// A runtime for the async client.
    pub fn runtime() -> Result<tokio::runtime::Runtime> {
        super::runtime()
    }
}
