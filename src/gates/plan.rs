//! Whether a stack's re-plan at apply is the plan the validation approved.

use super::short;

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

#[cfg(test)]
mod tests {
    use super::*;

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
