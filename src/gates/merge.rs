//! The merge gate: approvals by writers on the head commit, a verified
//! validation for that head, and for a failed one an override.

use super::label_disagreement;
use crate::evidence::{self, OverrideComment, Verified};

/// State of one review, as GitHub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl ReviewState {
    pub fn parse(state: &str) -> ReviewState {
        match state.to_ascii_uppercase().as_str() {
            "APPROVED" => ReviewState::Approved,
            "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
            "DISMISSED" => ReviewState::Dismissed,
            "PENDING" => ReviewState::Pending,
            _ => ReviewState::Commented,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub user: String,
    pub state: ReviewState,
    pub commit_id: String,
    /// RFC 3339; reviews are compared per user by this time.
    pub submitted_at: String,
    /// The reviewer can push to the repository (admin, maintain or write),
    /// as GitHub reports now. Branch protection counts only such approvals:
    /// anyone who can read may submit an approving review, and a review's
    /// `author_association` (MEMBER for a read-only org member) is no
    /// evidence. Looked up only for [`approvals_to_verify`]; `false` else.
    pub can_write: bool,
}

/// Each user's review that stands: the latest one that approved, requested
/// changes or was dismissed (comments and pending reviews change nothing).
fn latest_reviews(reviews: &[Review]) -> std::collections::BTreeMap<&str, &Review> {
    let mut latest: std::collections::BTreeMap<&str, &Review> = std::collections::BTreeMap::new();
    for review in reviews {
        if matches!(review.state, ReviewState::Commented | ReviewState::Pending) {
            continue;
        }
        let newer = latest
            .get(review.user.as_str())
            .is_none_or(|r| r.submitted_at <= review.submitted_at);
        if newer {
            latest.insert(&review.user, review);
        }
    }
    latest
}

/// The standing approvals of `head_sha` that may count: not the author's,
/// not a deleted account's (no login); whether each counts is then its
/// reviewer's write access.
fn head_approvals<'a>(reviews: &'a [Review], head_sha: &str, pr_author: &str) -> Vec<&'a Review> {
    latest_reviews(reviews)
        .into_values()
        .filter(|r| r.state == ReviewState::Approved && r.commit_id == head_sha)
        .filter(|r| !r.user.is_empty() && !r.user.eq_ignore_ascii_case(pr_author))
        .collect()
}

/// The reviewers whose write access decides whether their approval counts
/// (see [`Review::can_write`]), each once, so each costs one lookup.
pub fn approvals_to_verify(reviews: &[Review], head_sha: &str, pr_author: &str) -> Vec<String> {
    head_approvals(reviews, head_sha, pr_author)
        .into_iter()
        .map(|r| r.user.clone())
        .collect()
}

/// Everything the merge gate looks at.
#[derive(Debug, Clone)]
pub struct MergeFacts {
    pub pr_author: String,
    pub head_sha: String,
    pub open: bool,
    pub labels: Vec<String>,
    pub reviews: Vec<Review>,
    /// The verified validation of the head, or why there is none.
    pub validation: Result<Verified, String>,
    /// The override comment that triggered this run (or a standing one an
    /// approval completes), its author's standing asked now.
    pub override_request: Option<OverrideComment>,
    /// The head branch lives in another repository (a fork).
    pub from_fork: bool,
}

/// Configuration the merge gate needs.
pub struct MergePolicy<'a> {
    pub passed_label: &'a str,
    pub failed_label: &'a str,
    /// Approvals required for an environment.
    pub approvals_for: &'a dyn Fn(&str) -> u32,
    /// Branch of an environment.
    pub branch_for: &'a dyn Fn(&str) -> String,
    /// `github.allow_forks`: PRs from forks may merge.
    pub allow_forks: bool,
}

/// Outcome of the merge gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeDecision {
    Merge {
        environment: String,
        branch: String,
        approvers: Vec<String>,
        /// Merged on an override of failed policies.
        overridden_by: Option<String>,
    },
    Blocked(Vec<String>),
}

/// Decides whether a PR may merge, and where.
pub fn merge_gate(facts: &MergeFacts, policy: &MergePolicy<'_>) -> MergeDecision {
    let mut reasons = Vec::new();
    if !facts.open {
        reasons.push("the pull request is not open".to_string());
    }
    if facts.from_fork && !policy.allow_forks {
        reasons.push(
            "the pull request comes from a fork; set github.allow_forks to accept forks".into(),
        );
    }

    let validation = match &facts.validation {
        Ok(v) => Some(v),
        Err(why) => {
            reasons.push(why.clone());
            None
        }
    };
    let environment = validation.and_then(|v| match v.environment() {
        Ok(env) => Some(env.to_string()),
        Err(why) => {
            reasons.push(why);
            None
        }
    });

    // Approvals: latest review per user, on the head commit, not the
    // author, by someone who can write.
    let latest = latest_reviews(&facts.reviews);
    let on_head = head_approvals(&facts.reviews, &facts.head_sha, &facts.pr_author);
    let approvers: Vec<String> = on_head
        .iter()
        .filter(|r| r.can_write)
        .map(|r| r.user.clone())
        .collect();
    let cannot_write: Vec<&str> = on_head
        .iter()
        .filter(|r| !r.can_write)
        .map(|r| r.user.as_str())
        .collect();
    let changes_requested: Vec<&str> = latest
        .values()
        .filter(|r| r.state == ReviewState::ChangesRequested)
        .map(|r| r.user.as_str())
        .collect();
    if let Some(env) = &environment {
        let needed = (policy.approvals_for)(env);
        if (approvers.len() as u32) < needed {
            let stale = facts
                .reviews
                .iter()
                .any(|r| r.state == ReviewState::Approved && r.commit_id != facts.head_sha);
            let author_only = facts.reviews.iter().any(|r| {
                r.state == ReviewState::Approved && r.user.eq_ignore_ascii_case(&facts.pr_author)
            });
            let mut why = format!(
                "{env} needs {needed} approval(s) on the head commit from someone other than the author; has {}",
                approvers.len()
            );
            if stale {
                why.push_str(" (approvals of older commits do not count)");
            }
            if author_only {
                why.push_str(" (the author's own approval does not count)");
            }
            for user in &cannot_write {
                why.push_str(&format!(
                    " (approval by {user} does not count: {user} cannot write to the repository)"
                ));
            }
            reasons.push(why);
        }
    }
    if !changes_requested.is_empty() {
        reasons.push(format!(
            "changes requested by {}",
            changes_requested.join(", ")
        ));
    }

    // Stacks another PR held at validation: no approval or override waives
    // a lock; its release re-validates this PR.
    if let Some(v) = validation {
        reasons.extend(v.marker.locked.iter().map(|l| {
            format!(
                "{} is locked by {}: this pull request merges after that one is applied or closed (tfctl re-validates it then)",
                l.stack, l.holder
            )
        }));
    }

    // Policy result: passed, or failed with a valid override.
    let mut overridden_by = None;
    if let Some(v) = validation {
        reasons.extend(label_disagreement(
            &facts.labels,
            v.passed(),
            policy.passed_label,
            policy.failed_label,
        ));
        if !v.passed() {
            match &facts.override_request {
                None => reasons.push(format!(
                    "policy checks {} ({}): only an `OVERRIDE: <justification>` comment by a special approver can merge it",
                    v.marker.result.as_str(),
                    policy.failed_label
                )),
                Some(o) => match evidence::override_problem(o, &facts.pr_author, v, None) {
                    Some(problem) => reasons.push(problem),
                    None => overridden_by = Some(o.author.clone()),
                },
            }
        }
    }

    match (reasons.is_empty(), environment) {
        (true, Some(environment)) => MergeDecision::Merge {
            branch: (policy.branch_for)(&environment),
            environment,
            approvers,
            overridden_by,
        },
        _ => MergeDecision::Blocked(reasons),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::testing::{branch, validation, HEAD, OLD};

    fn marker_of(f: &mut MergeFacts) -> &mut crate::render::marker::ValidationMarker {
        &mut f.validation.as_mut().unwrap().marker
    }

    fn approve(user: &str, commit: &str, at: &str) -> Review {
        Review {
            user: user.into(),
            state: ReviewState::Approved,
            commit_id: commit.into(),
            submitted_at: at.into(),
            can_write: true,
        }
    }

    fn facts() -> MergeFacts {
        MergeFacts {
            pr_author: "alice".into(),
            head_sha: HEAD.into(),
            open: true,
            labels: vec!["opa-passed".into()],
            reviews: vec![
                approve("bob", HEAD, "2026-11-21T11:00:00Z"),
                approve("carol", HEAD, "2026-11-21T11:01:00Z"),
            ],
            validation: validation("passed"),
            override_request: None,
            from_fork: false,
        }
    }

    fn approvals(env: &str) -> u32 {
        if env == "production" {
            2
        } else {
            1
        }
    }

    fn decide(f: &MergeFacts) -> MergeDecision {
        merge_gate(
            f,
            &MergePolicy {
                passed_label: "opa-passed",
                failed_label: "opa-failed",
                approvals_for: &approvals,
                branch_for: &branch,
                allow_forks: false,
            },
        )
    }

    fn blocked(f: &MergeFacts) -> String {
        match decide(f) {
            MergeDecision::Blocked(r) => r.join("; "),
            other @ MergeDecision::Merge { .. } => panic!("expected blocked, got {other:?}"),
        }
    }

    #[test]
    fn approved_validated_pr_merges_into_its_environment_branch() {
        assert_eq!(
            decide(&facts()),
            MergeDecision::Merge {
                environment: "production".into(),
                branch: "prod".into(),
                approvers: vec!["bob".into(), "carol".into()],
                overridden_by: None
            }
        );
    }

    #[test]
    fn a_stack_locked_by_another_pr_blocks_the_merge_whatever_the_approvals() {
        let mut f = facts();
        marker_of(&mut f).locked = vec![crate::locks::StackLock {
            stack: "S3/logs".into(),
            holder: "#12".into(),
            holder_pr: 12,
            since: "2026-11-21T10:00:00Z".into(),
            held_for: "1 h".into(),
        }];
        let why = blocked(&f);
        assert!(why.contains("S3/logs is locked by #12"), "{why}");
        assert!(!why.contains("approval"), "only the lock blocks: {why}");
    }

    #[test]
    fn author_and_stale_approvals_do_not_count() {
        let mut f = facts();
        f.reviews = vec![approve("alice", HEAD, "t1"), approve("bob", OLD, "t2")];
        let why = blocked(&f);
        assert!(why.contains("needs 2 approval(s)"), "{why}");
        assert!(why.contains("has 0"), "{why}");
        assert!(why.contains("older commits"), "{why}");
        assert!(why.contains("author's own approval"), "{why}");
    }

    #[test]
    fn latest_review_per_user_wins() {
        let mut f = facts();
        f.reviews.push(Review {
            user: "bob".into(),
            state: ReviewState::ChangesRequested,
            commit_id: HEAD.into(),
            submitted_at: "2026-11-21T12:00:00Z".into(),
            can_write: true,
        });
        let why = blocked(&f);
        assert!(why.contains("changes requested by bob"), "{why}");
        assert!(why.contains("has 1"), "{why}");
    }

    #[test]
    fn only_approvals_by_users_who_can_write_count() {
        let mut f = facts();
        f.reviews[1].can_write = false;
        let why = blocked(&f);
        assert!(why.contains("has 1"), "{why}");
        assert!(
            why.contains("approval by carol does not count: carol cannot write to the repository"),
            "{why}"
        );
        // A writer's approval in its place merges.
        f.reviews
            .push(approve("dave", HEAD, "2026-11-21T11:02:00Z"));
        match decide(&f) {
            MergeDecision::Merge { approvers, .. } => assert_eq!(approvers, ["bob", "dave"]),
            other @ MergeDecision::Blocked(_) => panic!("{other:?}"),
        }
    }

    #[test]
    fn write_access_is_looked_up_for_standing_head_approvals_only() {
        let mut reviews = vec![
            approve("bob", HEAD, "t1"),
            approve("bob", HEAD, "t2"),
            approve("carol", OLD, "t1"),
            approve("alice", HEAD, "t1"),
            approve("", HEAD, "t1"),
            approve("dave", HEAD, "t1"),
        ];
        reviews.push(Review {
            state: ReviewState::Dismissed,
            submitted_at: "t2".into(),
            ..approve("dave", HEAD, "t2")
        });
        reviews.push(Review {
            state: ReviewState::Commented,
            submitted_at: "t3".into(),
            ..approve("bob", HEAD, "t3")
        });
        assert_eq!(approvals_to_verify(&reviews, HEAD, "alice"), ["bob"]);
    }

    #[test]
    fn head_moved_after_validation_is_stale() {
        let mut f = facts();
        f.head_sha = OLD.into();
        f.reviews = vec![approve("bob", OLD, "t"), approve("carol", OLD, "t")];
        f.validation = Err("validation is stale, re-run: it is for aaaaaaa".into());
        assert!(blocked(&f).contains("validation is stale, re-run"));
    }

    #[test]
    fn labels_never_open_the_gate_and_a_contradicting_one_closes_it() {
        // No label at all: a verified pass merges.
        let mut f = facts();
        f.labels.clear();
        assert!(matches!(decide(&f), MergeDecision::Merge { .. }));
        // A failed verdict with `opa-passed` added by hand: still blocked,
        // and the label is named.
        let mut f = facts();
        f.validation = validation("failed");
        let why = blocked(&f);
        assert!(why.contains("label opa-passed disagrees"), "{why}");
        assert!(why.contains("OVERRIDE"), "{why}");
        // A pass with a stray `opa-failed` beside it: blocked.
        let mut f = facts();
        f.labels.push("opa-failed".into());
        assert!(blocked(&f).contains("label opa-failed disagrees"));
    }

    #[test]
    fn several_environments_are_blocked_with_the_list() {
        let mut f = facts();
        let v = marker_of(&mut f);
        v.environment = String::new();
        v.environments = vec!["development".into(), "production".into()];
        assert!(blocked(&f)
            .contains("more than one environment in one pull request: development, production"));
    }

    #[test]
    fn unknown_environment_goes_to_the_default_branch() {
        let mut f = facts();
        marker_of(&mut f).environment = "sandbox".into();
        match decide(&f) {
            MergeDecision::Merge { branch, .. } => assert_eq!(branch, "main"),
            other @ MergeDecision::Blocked(_) => panic!("{other:?}"),
        }
    }

    fn override_by(author: &str, special: bool, why: &str, at: &str) -> OverrideComment {
        OverrideComment {
            author: author.into(),
            created_at: at.into(),
            updated_at: Some(at.into()),
            justification: why.into(),
            author_is_special_approver: special,
        }
    }

    #[test]
    fn failed_policy_needs_a_valid_override() {
        let mut f = facts();
        f.validation = validation("failed");
        f.labels = vec!["opa-failed".into()];
        assert!(blocked(&f).contains("OVERRIDE"));

        let later = "2026-11-21T12:00:00Z";
        f.override_request = Some(override_by(
            "sec-lead",
            true,
            "incident 4711 needs this now",
            later,
        ));
        match decide(&f) {
            MergeDecision::Merge { overridden_by, .. } => {
                assert_eq!(overridden_by.as_deref(), Some("sec-lead"));
            }
            other @ MergeDecision::Blocked(_) => panic!("{other:?}"),
        }

        f.override_request = Some(override_by(
            "alice",
            true,
            "incident 4711 needs this now",
            later,
        ));
        assert!(blocked(&f).contains("is the pull request's author"));
        f.override_request = Some(override_by(
            "dave",
            false,
            "incident 4711 needs this now",
            later,
        ));
        assert!(blocked(&f).contains("is not a special approver"));
        f.override_request = Some(override_by("sec-lead", true, "  ", later));
        assert!(blocked(&f).contains("at least 10 characters"));
        f.override_request = Some(override_by(
            "sec-lead",
            true,
            "incident 4711 needs this now",
            "2026-11-21T09:00:00Z",
        ));
        assert!(blocked(&f).contains("posted before the validation"));
    }

    #[test]
    fn merge_gate_refuses_forks_unless_allowed() {
        let mut f = facts();
        f.from_fork = true;
        assert!(blocked(&f).contains("comes from a fork"));
    }
}
