//! What the controller's `tfctl validate` leaves on a PR, for tests that
//! seed it instead of running it: the validation comment and the
//! `tfctl/validate` status that names its attestation (both by the bot).

use tfctl::render::marker::{self, ValidationMarker};

use super::fake_github::FakeGithub;

/// Seeds `body` as `bot`'s comment on PR `n` of `repo` and, when it carries
/// a validation attestation, the status naming it on that attestation's
/// head. Returns the comment id.
pub fn publish_validation(gh: &FakeGithub, repo: &str, n: u64, bot: &str, body: &str) -> u64 {
    let id = gh.seed_comment(repo, n, bot, body);
    publish_status(gh, repo, bot, body);
    id
}

/// A re-validation: `bot` updates its comment `id` to `body` and sets the
/// status naming the new attestation.
pub fn republish_validation(gh: &FakeGithub, repo: &str, id: u64, bot: &str, body: &str) {
    gh.edit_comment(repo, id, body);
    publish_status(gh, repo, bot, body);
}

fn publish_status(gh: &FakeGithub, repo: &str, bot: &str, body: &str) {
    if let Some(m) = marker::find::<ValidationMarker>(body) {
        let state = if m.result == tfctl::report::RunResult::Passed {
            "success"
        } else {
            "failure"
        };
        let description = marker::status_description("validated", &marker::fingerprint(&m));
        gh.seed_status(
            repo,
            &m.head_sha,
            bot,
            "tfctl/validate",
            state,
            &description,
        );
    }
}
