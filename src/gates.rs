//! Merge and apply gate decisions (docs/DESIGN.md §2, §4): pure functions
//! from facts gathered by the commands to `Open` or `Blocked(reasons)`.
//!
//! Nothing here reads GitHub; the commands collect PR facts (reviews,
//! evidence verified by [`crate::evidence`], labels) into these structs.
//! Every failed check is its own reason, so the PR says all that is wrong.
//! A label never opens a gate; a label that disagrees with the signed
//! verdict closes it.

use crate::evidence::{self, OverrideComment, Verified};
use crate::render::marker::ApplyMarker;

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

/// A verdict label that contradicts the signed verdict: someone with
/// triage set it, or two validations raced. Either way nothing is decided
/// on it; the gate stays closed until a validation sets labels again.
fn label_disagreement(
    labels: &[String],
    passed: bool,
    passed_label: &str,
    failed_label: &str,
) -> Option<String> {
    let (contradicting, verdict) = if passed {
        (failed_label, "passed")
    } else {
        (passed_label, "failed")
    };
    labels.iter().any(|l| l == contradicting).then(|| {
        format!(
            "label {contradicting} disagrees with the signed validation ({verdict});              labels are for people, re-run the validation to set them again"
        )
    })
}

/// Everything the apply gate looks at.
#[derive(Debug, Clone)]
pub struct ApplyFacts {
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    /// The commit checked out for this apply.
    pub checked_out_sha: String,
    /// The PR head that was merged.
    pub merged_head_sha: String,
    pub labels: Vec<String>,
    /// The verified validation of the merged head, or why there is none.
    pub validation: Result<Verified, String>,
    /// For a failed validation: who excused it (an override re-verified
    /// now), or why nobody did.
    pub override_by: Result<String, String>,
    /// The newest verified apply attestation of this merge, if any.
    pub previous_apply: Option<ApplyMarker>,
    /// Why a later merge into the branch overtook this one, if one did.
    pub overtaken: Option<String>,
    /// The branch being applied (from the trigger).
    pub branch: String,
    /// The branch the PR was merged into, as GitHub says.
    pub base_ref: String,
    /// The merge commit the trigger named (dispatch payload, pushed commit),
    /// when it named one.
    pub trigger_sha: Option<String>,
    /// The PR's head lives in another repository.
    pub from_fork: bool,
}

pub struct ApplyPolicy<'a> {
    pub passed_label: &'a str,
    pub failed_label: &'a str,
    pub branch_for: &'a dyn Fn(&str) -> String,
    /// `github.allow_forks` of tfctl.yaml.
    pub allow_forks: bool,
}

/// `Ok(environment)` when the apply may go ahead, else every reason not to.
pub fn apply_gate(facts: &ApplyFacts, policy: &ApplyPolicy<'_>) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    if !facts.merged {
        reasons.push("the pull request is not merged".to_string());
    }
    match &facts.merge_commit_sha {
        Some(sha) if *sha == facts.checked_out_sha => {}
        Some(sha) => reasons.push(format!(
            "the checked-out commit {} is not the merge commit {}",
            short(&facts.checked_out_sha),
            short(sha)
        )),
        None => reasons.push("the pull request has no merge commit".into()),
    }
    if let (Some(named), Some(merge)) = (&facts.trigger_sha, &facts.merge_commit_sha) {
        if named != merge {
            reasons.push(format!(
                "the trigger names commit {} but the pull request's merge commit is {}",
                short(named),
                short(merge)
            ));
        }
    }
    if facts.base_ref != facts.branch {
        reasons.push(format!(
            "the pull request was merged into {}, not into {}, the branch being applied",
            facts.base_ref, facts.branch
        ));
    }
    if facts.from_fork && !policy.allow_forks {
        reasons.push(
            "the pull request comes from a fork (set github.allow_forks to apply those)".into(),
        );
    }
    if let Some(applied) = facts
        .previous_apply
        .as_ref()
        .and_then(|p| p.applied.as_ref())
    {
        reasons.push(format!(
            "this merge was already applied (run {} at {}): one apply per approval; \
             open a new pull request to change it again",
            applied.run_id, applied.time
        ));
    }
    reasons.extend(facts.overtaken.clone());

    let mut environment = None;
    match &facts.validation {
        Err(why) => reasons.push(why.clone()),
        Ok(v) => {
            if v.marker.head_sha != facts.merged_head_sha {
                reasons.push(format!(
                    "the validation is for {} but the merged head is {} (pushed after validation)",
                    short(&v.marker.head_sha),
                    short(&facts.merged_head_sha)
                ));
            }
            reasons.extend(label_disagreement(
                &facts.labels,
                v.passed(),
                policy.passed_label,
                policy.failed_label,
            ));
            if !v.passed() {
                if let Err(why) = &facts.override_by {
                    reasons.push(format!(
                        "the validation result is {} and no override stands: {why}",
                        v.marker.result.as_str()
                    ));
                }
            }
            match v.environment() {
                Ok(env) => {
                    let branch = (policy.branch_for)(env);
                    if branch != facts.branch {
                        reasons.push(format!(
                            "the change was validated for {env} (branch {branch}), not for branch {}",
                            facts.branch
                        ));
                    } else {
                        environment = Some(env.to_string());
                    }
                }
                Err(why) => reasons.push(why),
            }
        }
    }
    match (reasons.is_empty(), environment) {
        (true, Some(env)) => Ok(env),
        _ => Err(reasons),
    }
}

/// Whether a later merge into the environment branch overtook this one:
/// `status` and `changed` are GitHub's comparison of the merge commit with
/// the branch's tip (`ahead` when later commits exist), `touches` says
/// whether a changed path belongs to one of this merge's stacks, and
/// `complete` whether the file list is whole (GitHub caps it).
pub fn overtaken(
    branch: &str,
    status: &str,
    changed: &[String],
    complete: bool,
    touches: &dyn Fn(&str) -> bool,
) -> Option<String> {
    match status {
        "identical" => None,
        "ahead" => {
            let hit: Vec<&str> = changed
                .iter()
                .map(String::as_str)
                .filter(|p| touches(p))
                .collect();
            if !hit.is_empty() {
                Some(format!(
                    "a later merge into {branch} changed the same stacks ({}): applying this one would undo it",
                    hit.join(", ")
                ))
            } else if !complete {
                Some(format!(
                    "later merges into {branch} changed more files than GitHub lists; cannot tell that they leave this change's stacks alone"
                ))
            } else {
                None
            }
        }
        _ => Some(format!(
            "the merge commit is not on {branch} any more (the branch was reset or rewritten: {status})"
        )),
    }
}

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

/// Whether a stack's re-plan is the one the validation approved
/// (docs/DESIGN.md §4: a stack whose plan digest differs is not applied).
/// `approved` is the digest the validation marker holds for the stack, if
/// any; `environment` the one the gate opened for. `changes_nothing`: the
/// re-plan would change no resource and no output (a re-run after the
/// approved plan was applied): applying it is a no-op, so it may go ahead
/// whatever its digest. `Err` says why not, in words the PR comment shows.
pub fn plan_approval(
    stack_environment: &str,
    environment: &str,
    current_digest: &str,
    approved: Option<&str>,
    changes_nothing: bool,
) -> Result<(), String> {
    if stack_environment != environment {
        return Err(format!(
            "its environment is {stack_environment}, but the approved environment is {environment}"
        ));
    }
    match approved {
        None => Err("not in the approved validation (no plan digest was approved for it)".into()),
        Some(_) if changes_nothing => Ok(()),
        Some(digest) if digest != current_digest => Err(format!(
            "plan changed since approval (approved digest {}, now {})",
            short(digest),
            short(current_digest)
        )),
        Some(_) => Ok(()),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::marker::ApplyState;

    const HEAD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OLD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn validation(result: &str) -> Result<Verified, String> {
        Ok(Verified {
            marker: crate::render::marker::ValidationMarker {
                version: 2,
                repository: "acme/config".into(),
                pr_number: 1,
                head_sha: HEAD.into(),
                base_ref: "main".into(),
                environment: "production".into(),
                environments: vec!["production".into()],
                target_branch: "prod".into(),
                result: if result == "passed" {
                    crate::report::RunResult::Passed
                } else {
                    crate::report::RunResult::Failed
                },
                stacks: Default::default(),
                violations: Vec::new(),
                policy_digest: String::new(),
                time: "2026-11-21T10:00:00Z".into(),
                run_id: "1".into(),
                signature: None,
            },
            comment_updated_at: "2026-11-21T10:00:00Z".into(),
            signed: true,
        })
    }

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

    fn branch(env: &str) -> String {
        match env {
            "production" => "prod".into(),
            "staging" => "stage".into(),
            "development" => "dev".into(),
            _ => "main".into(),
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
            other => panic!("expected blocked, got {other:?}"),
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
            other => panic!("{other:?}"),
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
            other => panic!("{other:?}"),
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
                assert_eq!(overridden_by.as_deref(), Some("sec-lead"))
            }
            other => panic!("{other:?}"),
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
            },
        );
        assert_eq!(allowed, DispatchRoute::ValidatePr);
    }

    #[test]
    fn merge_gate_refuses_forks_unless_allowed() {
        let mut f = facts();
        f.from_fork = true;
        assert!(blocked(&f).contains("comes from a fork"));
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

    fn apply_facts() -> ApplyFacts {
        ApplyFacts {
            merged: true,
            merge_commit_sha: Some("cccccccccccccccccccccccccccccccccccccccc".into()),
            checked_out_sha: "cccccccccccccccccccccccccccccccccccccccc".into(),
            merged_head_sha: HEAD.into(),
            labels: vec!["opa-passed".into()],
            validation: validation("passed"),
            override_by: Err("no OVERRIDE comment".into()),
            previous_apply: None,
            overtaken: None,
            branch: "prod".into(),
            base_ref: "prod".into(),
            trigger_sha: Some("cccccccccccccccccccccccccccccccccccccccc".into()),
            from_fork: false,
        }
    }

    fn gate(f: &ApplyFacts) -> Result<String, Vec<String>> {
        apply_gate(
            f,
            &ApplyPolicy {
                passed_label: "opa-passed",
                failed_label: "opa-failed",
                branch_for: &branch,
                allow_forks: false,
            },
        )
    }

    fn previous(state: ApplyState) -> ApplyMarker {
        ApplyMarker {
            version: 2,
            repository: "acme/config".into(),
            pr_number: Some(1),
            merge_commit_sha: Some("c".repeat(40)),
            environment: Some("production".into()),
            branch: "prod".into(),
            applied: (state == ApplyState::Applied).then(|| crate::render::marker::AppliedRecord {
                run_id: "77".into(),
                time: "2026-11-21T13:00:00Z".into(),
            }),
            state,
            stacks: Default::default(),
            time: "2026-11-21T13:00:00Z".into(),
            run_id: "77".into(),
            signature: None,
        }
    }

    #[test]
    fn apply_gate_opens_for_a_validated_merged_pr() {
        assert_eq!(gate(&apply_facts()), Ok("production".into()));
        // Labels play no part in opening it.
        let mut f = apply_facts();
        f.labels.clear();
        assert_eq!(gate(&f), Ok("production".into()));
        // A failed validation with a re-verified override opens it too, and
        // so does an earlier run that failed or was interrupted (the re-plan
        // decides what may still be applied).
        let mut f = apply_facts();
        f.validation = validation("failed");
        f.labels = vec!["opa-failed".into(), "opa-override".into()];
        f.override_by = Ok("sec-lead".into());
        assert_eq!(gate(&f), Ok("production".into()));
        for state in [
            ApplyState::Failed,
            ApplyState::Applying,
            ApplyState::Cancelled,
        ] {
            let mut f = apply_facts();
            f.previous_apply = Some(previous(state));
            assert_eq!(gate(&f), Ok("production".into()), "{state:?}");
        }
    }

    #[test]
    fn apply_gate_refuses_each_spoof() {
        type Spoil = Box<dyn Fn(&mut ApplyFacts)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("not merged", Box::new(|f| f.merged = false)),
            (
                "is not the merge commit",
                Box::new(|f| f.checked_out_sha = OLD.into()),
            ),
            (
                "no tfctl validation",
                Box::new(|f| f.validation = Err("no tfctl validation by the bot".into())),
            ),
            (
                "no override stands: no OVERRIDE comment",
                Box::new(|f| {
                    f.validation = validation("failed");
                    f.labels = vec!["opa-override".into()];
                }),
            ),
            (
                "label opa-passed disagrees",
                Box::new(|f| {
                    f.validation = validation("failed");
                    f.override_by = Ok("sec-lead".into());
                }),
            ),
            (
                "pushed after validation",
                Box::new(|f| f.merged_head_sha = OLD.into()),
            ),
            (
                "not for branch dev",
                Box::new(|f| {
                    f.branch = "dev".into();
                    f.base_ref = "dev".into();
                }),
            ),
            (
                "merged into dev, not into prod",
                Box::new(|f| f.base_ref = "dev".into()),
            ),
            (
                "the trigger names commit bbbbbbb",
                Box::new(|f| f.trigger_sha = Some(OLD.into())),
            ),
            ("comes from a fork", Box::new(|f| f.from_fork = true)),
            (
                "already applied (run 77",
                Box::new(|f| f.previous_apply = Some(previous(ApplyState::Applied))),
            ),
            (
                "a later merge",
                Box::new(|f| f.overtaken = Some("a later merge into prod changed S3/a".into())),
            ),
        ];
        for (expected, spoil) in cases {
            let mut f = apply_facts();
            spoil(&mut f);
            let reasons = gate(&f).expect_err(expected).join("; ");
            assert!(
                reasons.contains(expected),
                "expected {expected:?} in {reasons:?}"
            );
        }
    }

    #[test]
    fn a_later_merge_overtakes_only_when_it_touches_the_same_stacks() {
        let touches = |p: &str| p.starts_with("S3/a/");
        let files = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(overtaken("prod", "identical", &[], true, &touches), None);
        assert_eq!(
            overtaken("prod", "ahead", &files(&["KMS/k/k.tfvars"]), true, &touches),
            None
        );
        let hit = overtaken("prod", "ahead", &files(&["S3/a/a.tfvars"]), true, &touches).unwrap();
        assert!(hit.contains("S3/a/a.tfvars"), "{hit}");
        assert!(overtaken("prod", "ahead", &[], false, &touches)
            .unwrap()
            .contains("cannot tell"));
        assert!(overtaken("prod", "behind", &[], true, &touches)
            .unwrap()
            .contains("reset"));
        assert!(overtaken("prod", "diverged", &[], true, &touches).is_some());
    }

    #[test]
    fn a_plan_is_approved_only_with_the_same_digest_and_environment() {
        let d = "d".repeat(64);
        let e = "e".repeat(64);
        assert_eq!(
            plan_approval("production", "production", &d, Some(&d), false),
            Ok(())
        );
        let changed = plan_approval("production", "production", &d, Some(&e), false).unwrap_err();
        assert_eq!(
            changed,
            "plan changed since approval (approved digest eeeeeee, now ddddddd)"
        );
        // Nothing left to change (a re-run): a no-op, whatever the digest;
        // but never for a stack that was not approved at all.
        assert_eq!(
            plan_approval("production", "production", &d, Some(&e), true),
            Ok(())
        );
        assert!(plan_approval("production", "production", &d, None, true)
            .unwrap_err()
            .starts_with("not in the approved validation"));
        assert!(
            plan_approval("development", "production", &d, Some(&d), false)
                .unwrap_err()
                .contains("approved environment is production")
        );
    }
}
