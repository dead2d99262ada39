//! Who tfctl is on GitHub: the login its comments are written by, which is
//! also how it tells its own comments from anyone else's (with the marker).
//!
//! GitHub decides the author of a comment from the credentials, not from
//! tfctl.yaml: a GitHub App writes as `<slug>[bot]`, a user token (PAT) as
//! its user, an installation token such as the job's `GITHUB_TOKEN` as its
//! App (`github-actions[bot]`). So the login is asked of GitHub where it
//! can say (`GET /app`, `GET /user`) and `github.bot_login` is checked
//! against it; a mismatch is a configuration error, because a tfctl that
//! looks for comments by someone else duplicates its own comment on every
//! re-run and could trust another account's. The decision
//! ([`effective_bot_login`]) is pure; [`Client::identity`] does the asking.

use super::client::Client;
use super::models::{App, User};
use super::routes;
use super::{Credentials, GithubError};

/// The login tfctl writes as when nothing says otherwise: the job's
/// `GITHUB_TOKEN` (the GitHub Actions App's installation token).
pub(crate) const DEFAULT_BOT_LOGIN: &str = "github-actions[bot]";

/// What GitHub said about the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// App credentials; `GET /app` named the App.
    App { slug: String },
    /// A user token (PAT, OAuth); `GET /user` named the user.
    User { login: String },
    /// An installation token (`GITHUB_TOKEN`, or one minted elsewhere):
    /// `GET /user` answers 403 "Resource not accessible by integration"
    /// and no endpoint names the App, so the configured login is taken.
    Installation,
    /// A token that was not asked about, because no `github.bot_login` is
    /// set to check (saves a request on every run with the default, the
    /// job's `GITHUB_TOKEN`). A PAT should be named in `github.bot_login`,
    /// which is then checked.
    NotAsked,
}

/// The login tfctl's comments are written by, from what GitHub said and
/// `github.bot_login` as set in tfctl.yaml (`None`: not set). GitHub's
/// spelling wins when the two differ only in case (logins are
/// case-insensitive; authors in API answers are spelled GitHub's way).
/// `Err` is the one-line configuration error naming both logins.
pub fn effective_bot_login(
    identity: &Identity,
    configured: Option<&str>,
) -> Result<String, String> {
    let differs = |actual: &str| configured.is_some_and(|c| !c.eq_ignore_ascii_case(actual));
    let configured_login = configured.unwrap_or_default();
    match identity {
        Identity::App { slug } => {
            let actual = format!("{slug}[bot]");
            if differs(&actual) {
                return Err(format!(
                    "github.bot_login is `{configured_login}`, but the GitHub App of TFCTL_APP_ID \
                     writes as `{actual}`: set github.bot_login to `{actual}` or remove it"
                ));
            }
            Ok(actual)
        }
        Identity::User { login } => {
            if differs(login) {
                return Err(format!(
                    "github.bot_login is `{configured_login}`, but GITHUB_TOKEN is a token of the \
                     user `{login}`: use a token of `{configured_login}`, or set github.bot_login \
                     to `{login}`"
                ));
            }
            Ok(login.clone())
        }
        Identity::Installation | Identity::NotAsked => {
            Ok(configured.unwrap_or(DEFAULT_BOT_LOGIN).to_owned())
        }
    }
}

impl Client {
    /// Asks GitHub who the credentials are: `GET /app` (JWT) for an App;
    /// for a token, `GET /user` only when `ask_token` (a configured login
    /// to check). One request at most.
    pub async fn identity(&self, ask_token: bool) -> Result<Identity, GithubError> {
        match self.credentials() {
            Credentials::App(app) => {
                let app: App = self.app_json(app, routes::APP_AUTHENTICATED, &[]).await?;
                Ok(Identity::App { slug: app.slug })
            }
            Credentials::Token(_) if !ask_token => Ok(Identity::NotAsked),
            Credentials::Token(_) => {
                let resp = self
                    .call(routes::USER_AUTHENTICATED, &[], &[], None)
                    .await?;
                match resp.status {
                    403 => Ok(Identity::Installation),
                    _ if resp.is_success() => Ok(Identity::User {
                        login: resp.json::<User>()?.login,
                    }),
                    _ => Err(resp.error()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(slug: &str) -> Identity {
        Identity::App { slug: slug.into() }
    }

    #[test]
    fn an_app_is_its_slug_bot_and_a_different_setting_is_refused() {
        assert_eq!(
            effective_bot_login(&app("acme-tfctl"), None).unwrap(),
            "acme-tfctl[bot]"
        );
        assert_eq!(
            effective_bot_login(&app("acme-tfctl"), Some("Acme-Tfctl[bot]")).unwrap(),
            "acme-tfctl[bot]"
        );
        let err = effective_bot_login(&app("acme-tfctl"), Some("github-actions[bot]")).unwrap_err();
        assert!(
            err.contains("`github-actions[bot]`") && err.contains("`acme-tfctl[bot]`"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn a_user_token_must_be_the_configured_login() {
        let mallory = Identity::User {
            login: "mallory".into(),
        };
        let err = effective_bot_login(&mallory, Some("tfctl-bot")).unwrap_err();
        assert!(
            err.contains("`tfctl-bot`") && err.contains("`mallory`"),
            "{err}"
        );
        assert_eq!(
            effective_bot_login(&mallory, Some("MALLORY")).unwrap(),
            "mallory"
        );
        assert_eq!(effective_bot_login(&mallory, None).unwrap(), "mallory");
    }

    #[test]
    fn an_installation_token_takes_the_configured_login_or_the_default() {
        for who in [Identity::Installation, Identity::NotAsked] {
            assert_eq!(effective_bot_login(&who, None).unwrap(), DEFAULT_BOT_LOGIN);
            assert_eq!(
                effective_bot_login(&who, Some("acme-tfctl[bot]")).unwrap(),
                "acme-tfctl[bot]"
            );
        }
    }
}
