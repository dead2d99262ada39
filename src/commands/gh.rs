//! The GitHub session shared by `validate` (in Actions), `dispatch`,
//! `merge` and `apply`: Actions context + flags → event, repository, REST
//! client, signing key; and the writers every command reports through (step
//! outputs, job summary, audit log). Effects only; no decisions.

use std::path::PathBuf;

use crate::actions::commands as workflow;
use crate::actions::env::ActionsEnv;
use crate::actions::event::Event;
use crate::audit::{self, AuditEvent};
use crate::cli::GithubArgs;
use crate::error::{Error, Result};
use crate::github::{Client, RepoRef};

/// Everything a GitHub-facing command starts from.
pub struct GhSession {
    pub env: ActionsEnv,
    pub event: Event,
    /// The repository the workflow runs in (`GITHUB_REPOSITORY`).
    pub repo: RepoRef,
    pub client: Client,
    /// `TFCTL_SIGNING_KEY`, for marker signatures.
    pub signing_key: Option<Vec<u8>>,
    pub audit_log: PathBuf,
}

impl GhSession {
    /// Reads the Actions context (process env + flags), masks secrets in the
    /// log when running in Actions, parses the event and builds the client.
    pub fn open(args: &GithubArgs) -> Result<GhSession> {
        Self::from_env(ActionsEnv::from_process().with_args(args), args)
    }

    /// As [`GhSession::open`], from an already-read context. The client
    /// comes from [`ActionsEnv::client_config`], the one tested path from
    /// the env to a client (retry base, installation repo, token masking).
    pub fn from_env(env: ActionsEnv, args: &GithubArgs) -> Result<GhSession> {
        if env.in_actions {
            for secret in env.secrets() {
                for line in workflow::add_mask(secret.expose()) {
                    println!("{line}");
                }
            }
        }
        let event = env.load_event()?;
        let repo = env.repo()?;
        let client = Client::new(env.client_config()?).map_err(Error::from)?;
        let signing_key = env
            .signing_key
            .as_ref()
            .map(|k| k.expose().as_bytes().to_vec());
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
            signing_key,
            audit_log,
        })
    }

    /// Writes step outputs to `$GITHUB_OUTPUT` (nothing outside Actions).
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> Result<()> {
        if let Some(path) = &self.env.output_path {
            for (name, value) in outputs {
                workflow::set_output(path, name, value)?;
            }
        }
        Ok(())
    }

    /// Appends markdown to `$GITHUB_STEP_SUMMARY` (nothing outside Actions).
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        match &self.env.step_summary_path {
            Some(path) => workflow::append_summary(path, markdown),
            None => Ok(()),
        }
    }

    /// Records an audit event: the JSON-lines log and the job summary.
    pub fn audit(&self, event: &AuditEvent) -> Result<()> {
        audit::append(&self.audit_log, event)?;
        self.append_summary(&audit::markdown(std::slice::from_ref(event)))
    }

    /// A runtime for the async client.
    pub fn runtime() -> Result<tokio::runtime::Runtime> {
        super::runtime()
    }
}
