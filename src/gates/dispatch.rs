//! What `tfctl dispatch` does with an event: which pushes open PRs, which
//! PR events ask for validation or apply, and what is left alone.

/// An event `tfctl dispatch` was started by, reduced to what routing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchEvent<'a> {
    Push {
        /// `refs/heads/<branch>` or `refs/tags/<tag>`.
        git_ref: &'a str,
        deleted: bool,
    },
    PullRequest {
        number: u64,
        action: &'a str,
        /// `closed` with `merged: true`.
        merged: bool,
        from_fork: bool,
    },
    /// Any other event, by name.
    Other(&'a str),
}

/// Configuration routing needs.
pub struct DispatchPolicy<'a> {
    pub default_branch: &'a str,
    /// The environment whose branch this is, if any.
    pub environment_of_branch: &'a dyn Fn(&str) -> Option<String>,
    /// `github.validate_on: push` (else `pull_request`).
    pub validate_on_push: bool,
    pub allow_forks: bool,
    /// `locks.mode: validate`: a PR closed without merge frees its locks.
    pub locks: bool,
}

/// What `tfctl dispatch` does with an event (docs/DESIGN.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchRoute {
    /// Find or open the PR of a pushed feature branch; with `validate`, also
    /// send `tfctl-validate` (else the PR's own events will).
    Push { branch: String, validate: bool },
    /// Send `tfctl-validate` for the PR.
    ValidatePr,
    /// Send `tfctl-apply` for the merged PR.
    ApplyPr,
    /// Send `tfctl-validate` for a PR closed without merge: the controller
    /// frees its stack locks and re-validates the PRs that waited on them.
    ReleasePr,
    /// Nothing to do, and why (exit 0).
    Skip(String),
    /// Refused, and why (exit 1).
    Refuse(String),
}

/// Routes an event: which pushes open PRs, which PR events ask for
/// validation or apply, and what is left alone. One change is validated
/// once: on push or on the PR's events, as `validate_on` says.
pub fn dispatch_route(event: DispatchEvent<'_>, policy: &DispatchPolicy<'_>) -> DispatchRoute {
    match event {
        DispatchEvent::Push { git_ref, deleted } => {
            let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
                return DispatchRoute::Skip(format!("{git_ref} is not a branch: nothing to do"));
            };
            if deleted {
                return DispatchRoute::Skip(format!("branch {branch} was deleted: nothing to do"));
            }
            if branch == policy.default_branch {
                return DispatchRoute::Skip(format!(
                    "push to the default branch {branch}: changes reach it through pull requests, nothing to do"
                ));
            }
            if let Some(env) = (policy.environment_of_branch)(branch) {
                return DispatchRoute::Skip(format!(
                    "push to {branch}, the branch of {env}: merged pull requests are applied through tfctl-apply, nothing to do"
                ));
            }
            DispatchRoute::Push {
                branch: branch.to_string(),
                validate: policy.validate_on_push,
            }
        }
        DispatchEvent::PullRequest {
            number,
            action,
            merged,
            from_fork,
        } => {
            let acts = matches!(action, "opened" | "synchronize" | "reopened")
                || (action == "closed" && merged);
            if acts && from_fork && !policy.allow_forks {
                return DispatchRoute::Refuse(format!(
                    "pull request #{number} comes from a fork; set github.allow_forks to accept forks"
                ));
            }
            match action {
                "opened" | "synchronize" | "reopened" if policy.validate_on_push => {
                    DispatchRoute::Skip(format!(
                        "pull_request {action} of #{number}: github.validate_on is push, so the push already asked for validation"
                    ))
                }
                "opened" | "synchronize" | "reopened" => DispatchRoute::ValidatePr,
                "closed" if merged => DispatchRoute::ApplyPr,
                "closed" if policy.locks => DispatchRoute::ReleasePr,
                "closed" => DispatchRoute::Skip(format!(
                    "pull request #{number} was closed without merging: nothing to apply"
                )),
                other => DispatchRoute::Skip(format!(
                    "pull_request {other} of #{number}: nothing to do"
                )),
            }
        }
        DispatchEvent::Other(name @ ("pull_request_review" | "issue_comment")) => {
            DispatchRoute::Skip(format!("{name} events are handled by `tfctl merge`"))
        }
        DispatchEvent::Other(name) => {
            DispatchRoute::Skip(format!("tfctl dispatch does nothing on {name} events"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(event: DispatchEvent<'_>, validate_on_push: bool) -> DispatchRoute {
        let env_of = |b: &str| match b {
            "prod" => Some("production".to_string()),
            "dev" => Some("development".to_string()),
            _ => None,
        };
        dispatch_route(
            event,
            &DispatchPolicy {
                default_branch: "main",
                environment_of_branch: &env_of,
                validate_on_push,
                allow_forks: false,
                locks: false,
            },
        )
    }

    fn push(git_ref: &str) -> DispatchEvent<'_> {
        DispatchEvent::Push {
            git_ref,
            deleted: false,
        }
    }

    fn pr(action: &str, merged: bool, from_fork: bool) -> DispatchEvent<'_> {
        DispatchEvent::PullRequest {
            number: 7,
            action,
            merged,
            from_fork,
        }
    }

    fn skipped(r: DispatchRoute) -> String {
        match r {
            DispatchRoute::Skip(why) => why,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    #[test]
    fn feature_branch_pushes_open_prs_and_validate_when_configured() {
        assert_eq!(
            route(push("refs/heads/feature/x"), true),
            DispatchRoute::Push {
                branch: "feature/x".into(),
                validate: true
            }
        );
        assert_eq!(
            route(push("refs/heads/feature/x"), false),
            DispatchRoute::Push {
                branch: "feature/x".into(),
                validate: false
            }
        );
    }

    #[test]
    fn pushes_to_default_or_environment_branches_tags_and_deletions_do_nothing() {
        assert!(skipped(route(push("refs/heads/main"), true)).contains("default branch main"));
        assert!(skipped(route(push("refs/heads/prod"), true)).contains("branch of production"));
        assert!(skipped(route(push("refs/tags/v1"), true)).contains("not a branch"));
        let deleted = DispatchEvent::Push {
            git_ref: "refs/heads/feature",
            deleted: true,
        };
        assert!(skipped(route(deleted, true)).contains("deleted"));
    }

    #[test]
    fn pull_request_events_validate_once_and_apply_on_merge() {
        for action in ["opened", "synchronize", "reopened"] {
            assert_eq!(
                route(pr(action, false, false), false),
                DispatchRoute::ValidatePr
            );
            assert!(skipped(route(pr(action, false, false), true)).contains("validate_on is push"));
        }
        assert_eq!(
            route(pr("closed", true, false), true),
            DispatchRoute::ApplyPr
        );
        assert!(skipped(route(pr("closed", false, false), true)).contains("without merging"));
        assert!(skipped(route(pr("labeled", false, false), true)).contains("nothing to do"));
    }

    #[test]
    fn forks_are_refused_unless_allowed() {
        match route(pr("opened", false, true), false) {
            DispatchRoute::Refuse(why) => assert!(why.contains("fork"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            route(pr("closed", true, true), false),
            DispatchRoute::Refuse(_)
        ));
        // A fork's unrelated action is not refused, just ignored.
        assert!(matches!(
            route(pr("labeled", false, true), false),
            DispatchRoute::Skip(_)
        ));
        let env_of = |_: &str| None;
        let allowed = dispatch_route(
            pr("opened", false, true),
            &DispatchPolicy {
                default_branch: "main",
                environment_of_branch: &env_of,
                validate_on_push: false,
                allow_forks: true,
                locks: false,
            },
        );
        assert_eq!(allowed, DispatchRoute::ValidatePr);
    }

    #[test]
    fn review_and_comment_events_belong_to_merge() {
        assert!(
            skipped(route(DispatchEvent::Other("pull_request_review"), true))
                .contains("tfctl merge")
        );
        assert!(
            skipped(route(DispatchEvent::Other("workflow_dispatch"), true))
                .contains("does nothing")
        );
    }

    #[test]
    fn a_pr_closed_without_merge_frees_its_locks_when_locks_are_on() {
        let env_of = |_: &str| None;
        let policy = DispatchPolicy {
            default_branch: "main",
            environment_of_branch: &env_of,
            validate_on_push: true,
            allow_forks: false,
            locks: true,
        };
        let closed = DispatchEvent::PullRequest {
            number: 7,
            action: "closed",
            merged: false,
            from_fork: false,
        };
        assert_eq!(dispatch_route(closed, &policy), DispatchRoute::ReleasePr);
    }
}
