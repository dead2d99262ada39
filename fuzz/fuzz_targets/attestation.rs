//! A PR comment body, as any writer can make it, through the marker finder
//! and the one evidence reader merge and apply use: no input may panic, and
//! none may verify (no fuzzed text carries the controller's signature).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfctl::attest::SigningKey;
use tfctl::evidence::{self, Subject, Trust};
use tfctl::github::models::{Comment, User};
use tfctl::render::marker::{self, ApplyMarker, MergeMarker, ValidationMarker};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let _ = marker::find::<ValidationMarker>(body);
    let _ = marker::find::<ApplyMarker>(body);
    let _ = marker::find::<MergeMarker>(body);
    let _ = evidence::parse_override(body);

    // A fixed key the fuzzer cannot know the secret of (it is made here).
    let key = SigningKey::parse(
        "tfctl-ed25519-secret:3333333333333333333333333333333333333333333333333333333333333333",
    )
    .unwrap();
    let keys = [key.public()];
    let comment = Comment {
        id: 1,
        body: Some(body.to_string()),
        user: Some(User {
            login: "bot[bot]".into(),
            kind: None,
        }),
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: None,
        html_url: None,
    };
    let subject = Subject {
        repository: "o/r",
        pr_number: 1,
        bot_login: "bot[bot]",
    };
    let comments = [comment];
    // Whatever status the attacker managed to name, nothing verifies.
    let named = marker::fingerprint_in(body).map(str::to_string);
    for published in [None, named.as_deref(), Some("000000000000")] {
        if let Ok(v) =
            evidence::validation(&comments, &subject, "head", published, Trust::Keys(&keys))
        {
            panic!("a fuzzed comment verified: {v:?}");
        }
        let _ = evidence::validation(&comments, &subject, "head", published, Trust::Unsigned);
    }
    let _ = evidence::apply_record(&comments, &subject, "merge", Trust::Keys(&keys));
});
