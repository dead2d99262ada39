//! Who is a special approver (`approvers` in tfctl.yaml): users listed by
//! login, or active members of the listed teams, asked of GitHub now.

use crate::config::Config;
use crate::github::{Client, GithubError};

/// Whether `login` is a special approver: listed in `approvers.users`, or
/// an active member of an `approvers.teams` team (effect: membership API,
/// asked only when the user list does not already say yes).
pub(crate) async fn is_special_approver(
    client: &Client,
    cfg: &Config,
    login: &str,
) -> std::result::Result<bool, GithubError> {
    if cfg
        .approvers
        .users
        .iter()
        .any(|u| u.eq_ignore_ascii_case(login))
    {
        return Ok(true);
    }
    for (org, team) in &cfg.approvers.teams {
        if client.is_team_member(org, team, login).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `o` with its author's standing as a special approver, asked now. The PR
/// author's own standing is not asked: their override never counts.
pub(crate) async fn with_standing(
    mut o: crate::evidence::OverrideComment,
    client: &Client,
    cfg: &Config,
    pr_author: &str,
) -> std::result::Result<crate::evidence::OverrideComment, GithubError> {
    o.author_is_special_approver = !o.author.eq_ignore_ascii_case(pr_author)
        && is_special_approver(client, cfg, &o.author).await?;
    Ok(o)
}
