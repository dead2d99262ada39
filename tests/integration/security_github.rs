//! The trust model against GitHub (DESIGN §4, §5), attack by attack: each
//! test does what a user on GitHub could do, through the fake GitHub, and
//! has a positive control beside it (a writer's approval merges, the
//! current head publishes, tfctl's own login finds its own comment) so it
//! cannot pass because everything is refused.

use crate::flow_merge::{approve, flow, validated_pr};

use std::time::{Duration, Instant};

use tfctl::report::RunResult;

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Production builds its client through `ActionsEnv::client_config`, so the
/// documented `TFCTL_GITHUB_RETRY_BASE_MS` holds: a GitHub that refuses
/// every connection costs the retry bound's attempts at milliseconds each,
/// not the default backoff's 15 s or more, and the error names the call.
#[test]
fn unreachable_github_fails_after_the_retry_bound_naming_the_call() {
    let f = flow();
    let n = validated_pr(&f, "staging", RunResult::Passed, None);
    let event = approve(&f, n, "bob", None);
    let url = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let run = f.run_with(
        "merge",
        &[],
        "pull_request_review",
        &event,
        &[
            ("GITHUB_API_URL", url.as_str()),
            ("TFCTL_GITHUB_RETRY_BASE_MS", "5"),
        ],
    );
    let took = started.elapsed();
    let run = run.expect_code(1);
    let attempts = tfctl::github::RetryPolicy::default().max_retries + 1;
    let expected = format!("GET /repos/acme/config/pulls/{n} failed after {attempts} attempts");
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: the retry base was not applied"
    );
}
