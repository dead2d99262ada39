//! What the controller's `tfctl validate` leaves on a PR, for tests that
//! seed it instead of running it: the validation comment and the
//! `tfctl/validate` status that names its attestation (both by the bot).

use tfctl::render::marker::{self, ValidationMarker};

use super::fake_github::FakeGithub;

/// Seeds `body` as `bot`'s comment on PR `n` of `repo` and, when it carries
/// a validation attestation, the status naming it on that attestation's
/// head. Returns the comment id.
pub(crate) fn publish_validation(
    gh: &FakeGithub,
    repo: &str,
    n: u64,
    bot: &str,
    body: &str,
) -> u64 {
    let id = gh.seed_comment(repo, n, bot, body);
    publish_status(gh, repo, bot, body);
    id
}

/// A re-validation: `bot` updates its comment `id` to `body` and sets the
/// status naming the new attestation.
pub(crate) fn republish_validation(gh: &FakeGithub, repo: &str, id: u64, bot: &str, body: &str) {
    gh.edit_comment(repo, id, body);
    publish_status(gh, repo, bot, body);
}

fn publish_status(gh: &FakeGithub, repo: &str, bot: &str, body: &str) {
    if let Some(m) = marker::find::<ValidationMarker>(body) {
        status_of(gh, repo, bot, &m);
    }
}

fn status_of(gh: &FakeGithub, repo: &str, bot: &str, m: &ValidationMarker) {
    let state = if m.result == tfctl::report::RunResult::Passed {
        "success"
    } else {
        "failure"
    };
    let description = marker::status_description("validated", &marker::fingerprint(m));
    gh.seed_status(
        repo,
        &m.head_sha,
        bot,
        "tfctl/validate",
        state,
        &description,
    );
}

/// [`publish_validation`] of an attestation too large for one comment, as
/// validate publishes it (`render::parts`): the validation comment (`body`,
/// carrying the header), each part as its own comment by `bot`, then the
/// status naming the attestation. Returns the part comments' ids.
pub(crate) fn publish_validation_in_parts(
    gh: &FakeGithub,
    repo: &str,
    n: u64,
    bot: &str,
    body: &str,
    attestation: &ValidationMarker,
) -> Vec<u64> {
    let placed = tfctl::render::parts::place(attestation, tfctl::render::split::COMMENT_LIMIT)
        .expect("placed");
    assert!(
        body.contains(&placed.in_comment),
        "the body carries the header"
    );
    gh.seed_comment(repo, n, bot, body);
    let ids = placed
        .parts
        .iter()
        .map(|part| gh.seed_comment(repo, n, bot, part))
        .collect();
    status_of(gh, repo, bot, attestation);
    ids
}
