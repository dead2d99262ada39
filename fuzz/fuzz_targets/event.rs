//! A GitHub event payload (a workflow's `GITHUB_EVENT_PATH`), under every
//! event name tfctl reads: parsing may fail with an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

const NAMES: [&str; 8] = [
    "push",
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "repository_dispatch",
    "workflow_dispatch",
    "schedule",
    "other",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    if let Ok(event) = tfctl::actions::event::parse(name, text, Path::new("event.json")) {
        let _ = event.name();
        let _ = event.sender();
    }
});
