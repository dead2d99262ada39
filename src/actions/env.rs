//! The GitHub Actions context as environment variables: the only place tfctl
//! reads GitHub-related env vars.
//!
//! [`ActionsEnv::from_env`] takes an injected map so tests never touch the
//! process environment; `context::Context::from_process` is the one call
//! that reads it. CLI flags (`GithubArgs`) override the env values. This module must
//! not talk to the network; it only reads the event file when asked.
//!
//! Variables read (GitHub's defaults unless noted):
//! `GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`,
//! `GITHUB_API_URL` (default `https://api.github.com`), `GITHUB_SERVER_URL`
//! (default `https://github.com`), `GITHUB_SHA`, `GITHUB_REF`, `GITHUB_RUN_ID`,
//! `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP`, and the secrets the
//! workflow passes explicitly: `GITHUB_TOKEN`, `TFCTL_SIGNING_KEY`, and for a
//! GitHub App `TFCTL_APP_ID`, `TFCTL_APP_PRIVATE_KEY` (PEM text) and the
//! optional `TFCTL_APP_INSTALLATION_ID` (else looked up from the repository).
//! `TFCTL_GITHUB_RETRY_BASE_MS` sets the first retry backoff (default 1000;
//! tests use a few milliseconds so injected faults don't slow them down).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::actions::event::{self, Event};
use crate::cli::GithubArgs;
use crate::error::{Error, Result};
use crate::github::{AppCredentials, ClientConfig, Credentials, RepoRef, Secret};

/// Default REST base URL when `GITHUB_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Default web URL when `GITHUB_SERVER_URL` is unset.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";

/// The Actions context tfctl uses, resolved from env vars and flags.
///
/// Secrets are [`Secret`]s, so `{:?}` of this struct never shows them.
#[derive(Clone, Default)]
pub struct ActionsEnv {
    /// `GITHUB_ACTIONS=true`: running inside a workflow.
    pub in_actions: bool,
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    /// `owner/repo` as given (validated by [`ActionsEnv::repo`]).
    pub repository: Option<String>,
    pub api_url: String,
    pub server_url: String,
    pub sha: Option<String>,
    pub git_ref: Option<String>,
    pub run_id: Option<String>,
    pub output_path: Option<PathBuf>,
    pub step_summary_path: Option<PathBuf>,
    pub runner_temp: Option<PathBuf>,
    pub token: Option<Secret>,
    pub signing_key: Option<Secret>,
    pub app_id: Option<String>,
    pub app_private_key: Option<Secret>,
    pub app_installation_id: Option<String>,
    /// `TFCTL_CONTROLLER_TOKEN`: a token for the repository tfctl runs in
    /// (its stack locks, re-validation dispatches) when the main
    /// credentials reach only the config repository.
    pub controller_token: Option<Secret>,
    /// First retry backoff, in milliseconds (`TFCTL_GITHUB_RETRY_BASE_MS`).
    pub retry_base_ms: Option<String>,
}

impl fmt::Debug for ActionsEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret's Debug redacts; listed explicitly so a new field can't leak by default.
        f.debug_struct("ActionsEnv")
            .field("in_actions", &self.in_actions)
            .field("event_name", &self.event_name)
            .field("event_path", &self.event_path)
            .field("repository", &self.repository)
            .field("api_url", &self.api_url)
            .field("server_url", &self.server_url)
            .field("sha", &self.sha)
            .field("git_ref", &self.git_ref)
            .field("run_id", &self.run_id)
            .field("output_path", &self.output_path)
            .field("step_summary_path", &self.step_summary_path)
            .field("runner_temp", &self.runner_temp)
            .field("token", &self.token)
            .field("signing_key", &self.signing_key)
            .field("app_id", &self.app_id)
            .field("app_private_key", &self.app_private_key)
            .field("app_installation_id", &self.app_installation_id)
            .field("controller_token", &self.controller_token)
            .field("retry_base_ms", &self.retry_base_ms)
            .finish()
    }
}

impl ActionsEnv {
    /// Reads the context from a map of env vars. Empty values count as unset
    /// (workflows often pass `${{ secrets.X }}` that expands to nothing).
    pub fn from_env(vars: &BTreeMap<String, String>) -> ActionsEnv {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let string = |k: &str| get(k).map(str::to_owned);
        let path = |k: &str| get(k).map(PathBuf::from);
        // Secrets keep their exact bytes apart from surrounding whitespace (a PEM
        // pasted into a secret often ends with a newline).
        let secret = |k: &str| get(k).map(|v| Secret::new(v.to_owned()));
        ActionsEnv {
            in_actions: get("GITHUB_ACTIONS") == Some("true"),
            event_name: string("GITHUB_EVENT_NAME"),
            event_path: path("GITHUB_EVENT_PATH"),
            repository: string("GITHUB_REPOSITORY"),
            api_url: string("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            server_url: string("GITHUB_SERVER_URL")
                .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned()),
            sha: string("GITHUB_SHA"),
            git_ref: string("GITHUB_REF"),
            run_id: string("GITHUB_RUN_ID"),
            output_path: path("GITHUB_OUTPUT"),
            step_summary_path: path("GITHUB_STEP_SUMMARY"),
            runner_temp: path("RUNNER_TEMP"),
            token: secret("GITHUB_TOKEN"),
            signing_key: secret("TFCTL_SIGNING_KEY"),
            app_id: string("TFCTL_APP_ID"),
            app_private_key: secret("TFCTL_APP_PRIVATE_KEY"),
            controller_token: secret("TFCTL_CONTROLLER_TOKEN"),
            app_installation_id: string("TFCTL_APP_INSTALLATION_ID"),
            retry_base_ms: string("TFCTL_GITHUB_RETRY_BASE_MS"),
        }
    }

    /// Applies the `--event-name`, `--event-path`, `--repo`, `--api-url` flags.
    #[must_use]
    pub fn with_args(mut self, args: &GithubArgs) -> ActionsEnv {
        if let Some(v) = &args.event_name {
            self.event_name = Some(v.clone());
        }
        if let Some(v) = &args.event_path {
            self.event_path = Some(v.clone());
        }
        if let Some(v) = &args.repo {
            self.repository = Some(v.clone());
        }
        if let Some(v) = &args.api_url {
            self.api_url.clone_from(v);
        }
        self
    }

    /// The repository this run is about (`GITHUB_REPOSITORY` / `--repo`).
    pub fn repo(&self) -> Result<RepoRef> {
        let raw = self.repository.as_deref().ok_or_else(|| {
            Error::input("no repository: GITHUB_REPOSITORY is not set; pass --repo OWNER/REPO")
        })?;
        RepoRef::parse(raw)
            .map_err(|e| Error::input(format!("GITHUB_REPOSITORY / --repo: {}", e.message)))
    }

    /// The event name (`GITHUB_EVENT_NAME` / `--event-name`).
    pub fn event_name(&self) -> Result<&str> {
        self.event_name.as_deref().ok_or_else(|| {
            Error::input("no event: GITHUB_EVENT_NAME is not set; pass --event-name NAME")
        })
    }

    /// Reads and parses the event payload file.
    pub fn load_event(&self) -> Result<Event> {
        let name = self.event_name()?;
        let path = self.event_path.as_ref().ok_or_else(|| {
            Error::input("no event payload: GITHUB_EVENT_PATH is not set; pass --event-path FILE")
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!("cannot read event payload {}: {e}", path.display()))
        })?;
        event::parse(name, &text, path)
    }

    /// Link to this workflow run, when running in Actions.
    pub fn run_url(&self) -> Option<String> {
        let repo = self.repository.as_deref()?;
        let run = self.run_id.as_deref()?;
        Some(format!(
            "{}/{repo}/actions/runs/{run}",
            self.server_url.trim_end_matches('/')
        ))
    }

    /// How to authenticate: a GitHub App when `TFCTL_APP_ID` is set (it wins,
    /// because an App token can trigger workflows and `GITHUB_TOKEN` cannot),
    /// else `GITHUB_TOKEN`. Missing both is an input error.
    pub fn credentials(&self) -> Result<Credentials> {
        if let Some(app_id) = &self.app_id {
            let key = self.app_private_key.clone().ok_or_else(|| {
                Error::input("TFCTL_APP_ID is set but TFCTL_APP_PRIVATE_KEY is not")
            })?;
            let installation_id = match &self.app_installation_id {
                None => None,
                Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
                    Error::input(format!(
                        "TFCTL_APP_INSTALLATION_ID: expected a number, got `{raw}`"
                    ))
                })?),
            };
            return Ok(Credentials::App(AppCredentials {
                app_id: app_id.clone(),
                private_key: key,
                installation_id,
            }));
        }
        match &self.token {
            Some(t) => Ok(Credentials::Token(t.clone())),
            None => Err(Error::input(
                "no GitHub credentials: set GITHUB_TOKEN, or TFCTL_APP_ID and TFCTL_APP_PRIVATE_KEY",
            )),
        }
    }

    /// Values that must be masked in the log (`::add-mask::`), in a stable order.
    pub fn secrets(&self) -> Vec<&Secret> {
        [
            &self.token,
            &self.signing_key,
            &self.app_private_key,
            &self.controller_token,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The `::add-mask::` lines for every secret, to print first thing
    /// inside Actions (empty outside, where no runner reads them).
    pub fn mask_commands(&self) -> Vec<String> {
        if !self.in_actions {
            return Vec::new();
        }
        self.secrets()
            .into_iter()
            .flat_map(|s| crate::actions::commands::add_mask(s.expose()))
            .collect()
    }

    /// A REST client configuration for this context: base URL, credentials
    /// (an App looks its installation up on this run's repository when no
    /// id is given), and masking of minted tokens inside Actions.
    /// The client of the repository tfctl runs in: `TFCTL_CONTROLLER_TOKEN`
    /// when set (else None: the main client reaches it), with the same
    /// retry settings as [`ActionsEnv::client_config`].
    pub fn controller_client_config(&self) -> Result<Option<ClientConfig>> {
        let Some(token) = &self.controller_token else {
            return Ok(None);
        };
        let mut config = self.client_config()?;
        config.credentials = Credentials::Token(token.clone());
        config.installation_repo = None;
        Ok(Some(config))
    }

    pub fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig::new(self.api_url.clone(), self.credentials()?);
        config.installation_repo = self.repo().ok();
        if self.in_actions {
            config.on_minted_token = Some(super::commands::print_mask);
        }
        if let Some(raw) = &self.retry_base_ms {
            let ms: u64 = raw.parse().map_err(|_| {
                Error::input(format!(
                    "TFCTL_GITHUB_RETRY_BASE_MS: expected milliseconds, got `{raw}`"
                ))
            })?;
            config.retry.base_delay = std::time::Duration::from_millis(ms);
            config.retry.secondary_min_wait = config
                .retry
                .secondary_min_wait
                .min(std::time::Duration::from_millis(ms.saturating_mul(60)));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ActionsEnv {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ActionsEnv::from_env(&map)
    }

    #[test]
    fn defaults_when_unset() {
        let e = env(&[]);
        assert_eq!(e.api_url, DEFAULT_API_URL);
        assert_eq!(e.server_url, DEFAULT_SERVER_URL);
        assert!(!e.in_actions);
        let err = e.repo().unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert!(err.message.contains("--repo"), "{}", err.message);
        assert!(e.credentials().is_err());
    }

    #[test]
    fn flags_override_env() {
        let e = env(&[
            ("GITHUB_REPOSITORY", "a/b"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
            ("GITHUB_EVENT_NAME", "push"),
        ]);
        let args = GithubArgs {
            repo: Some("c/d".into()),
            api_url: Some("http://127.0.0.1:9".into()),
            ..GithubArgs::default()
        };
        let e = e.with_args(&args);
        assert_eq!(e.repo().unwrap().to_string(), "c/d");
        assert_eq!(e.api_url, "http://127.0.0.1:9");
        assert_eq!(e.event_name().unwrap(), "push");
    }

    #[test]
    fn run_url_from_server_repo_and_run() {
        let e = env(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SERVER_URL", "https://ghe.example/"),
        ]);
        assert_eq!(
            e.run_url().as_deref(),
            Some("https://ghe.example/o/r/actions/runs/42")
        );
    }

    #[test]
    fn app_credentials_win_and_debug_redacts() {
        let e = env(&[
            ("GITHUB_TOKEN", "ghs_supersecret"),
            ("TFCTL_APP_ID", "123"),
            ("TFCTL_APP_PRIVATE_KEY", "-----BEGIN KEY-----\nxyz\n"),
            ("TFCTL_APP_INSTALLATION_ID", "77"),
            ("TFCTL_SIGNING_KEY", "hmac-secret"),
        ]);
        match e.credentials().unwrap() {
            Credentials::App(app) => {
                assert_eq!(app.app_id, "123");
                assert_eq!(app.installation_id, Some(77));
            }
            other @ Credentials::Token(_) => panic!("expected app credentials, got {other:?}"),
        }
        let debug = format!("{e:?}");
        for secret in ["ghs_supersecret", "xyz", "hmac-secret"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert_eq!(e.secrets().len(), 3);
    }

    #[test]
    fn masks_only_inside_actions_and_configures_the_client() {
        let outside = env(&[("GITHUB_TOKEN", "t0k")]);
        assert!(outside.mask_commands().is_empty());
        let inside = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_TOKEN", "t0k"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]);
        assert_eq!(inside.mask_commands(), vec!["::add-mask::t0k"]);
        let config = inside.client_config().unwrap();
        assert_eq!(config.api_url, "https://ghe.example/api/v3");
        assert_eq!(config.installation_repo.unwrap().to_string(), "o/r");
        assert!(config.on_minted_token.is_some());
        assert!(env(&[]).client_config().is_err());
        let fast = env(&[("GITHUB_TOKEN", "t"), ("TFCTL_GITHUB_RETRY_BASE_MS", "5")]);
        let retry = fast.client_config().unwrap().retry;
        assert_eq!(retry.base_delay.as_millis(), 5);
        assert_eq!(retry.secondary_min_wait.as_millis(), 300);
        let bad = env(&[("GITHUB_TOKEN", "t"), ("TFCTL_GITHUB_RETRY_BASE_MS", "x")]);
        assert!(bad
            .client_config()
            .unwrap_err()
            .message
            .contains("TFCTL_GITHUB_RETRY_BASE_MS"));
    }

    #[test]
    fn bad_installation_id_is_input_error() {
        let e = env(&[
            ("TFCTL_APP_ID", "1"),
            ("TFCTL_APP_PRIVATE_KEY", "k"),
            ("TFCTL_APP_INSTALLATION_ID", "abc"),
        ]);
        let err = e.credentials().unwrap_err();
        assert!(err.message.contains("TFCTL_APP_INSTALLATION_ID"));
    }

    #[test]
    fn missing_event_path_names_the_flag() {
        let e = env(&[("GITHUB_EVENT_NAME", "push")]);
        assert!(e.load_event().unwrap_err().message.contains("--event-path"));
    }
}
