//! The REST client against the fake GitHub on 127.0.0.1: pagination,
//! retries and their bounds, rate limits, auth (token and GitHub App),
//! error text, and the high-level helpers (sticky comment, exclusive label).

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use support::fake_github::{fake_sha, FakeGithub, Fault, PrSeed, BOT_LOGIN, TOKEN};
use tfctl::github::{
    AppCredentials, Client, ClientConfig, CommitState, Credentials, MergeMethod, MergeOutcome,
    PrListState, RepoRef, RetryPolicy, Secret, UpsertAction,
};

const COMMENTS: &str = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments";
const MARKER: &str = "<!-- tfctl:validation";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        max_elapsed: Duration::from_secs(10),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        secondary_min_wait: Duration::from_millis(20),
    }
}

fn client_with(gh: &FakeGithub, token: &str, retry: RetryPolicy) -> Client {
    let mut config = ClientConfig::new(gh.url(), Credentials::Token(Secret::new(token)));
    config.retry = retry;
    config.request_timeout = Duration::from_secs(5);
    Client::new(config).unwrap()
}

fn client(gh: &FakeGithub) -> Client {
    client_with(gh, TOKEN, fast_retry())
}

fn repo() -> RepoRef {
    RepoRef::parse("o/r").unwrap()
}

fn count(gh: &FakeGithub, route: &str) -> usize {
    gh.requests().iter().filter(|r| r.route == route).count()
}

#[tokio::test]
async fn pagination_follows_link_across_three_pages() {
    let gh = FakeGithub::start();
    let files: Vec<String> = (0..250).map(|i| format!("S3/s{i:03}/s.tfvars")).collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main").files(&refs));

    let got = client(&gh).list_pull_files(&repo(), n).await.unwrap();

    let names: Vec<&str> = got.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(names, refs);
    let reqs: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.route == "GET /repos/{owner}/{repo}/pulls/{pull_number}/files")
        .collect();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].query.as_deref(), Some("per_page=100"));
    assert!(reqs[1].query.as_deref().unwrap().contains("page=2"));
    assert!(reqs[2].query.as_deref().unwrap().contains("page=3"));
}

#[tokio::test]
async fn fake_caps_per_page_at_100() {
    let gh = FakeGithub::start();
    let files: Vec<String> = (0..150).map(|i| format!("f{i}")).collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    gh.seed_pr("o/r", PrSeed::new("feature", "main").files(&refs));
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/repos/o/r/pulls/1/files?per_page=1000",
            gh.url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_owned();
    let page: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(page.len(), 100);
    assert!(link.contains("rel=\"next\""), "{link}");
}

#[tokio::test]
async fn retries_502_then_succeeds_with_one_write() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(COMMENTS, Fault::Status(502), 2);

    let c = client(&gh)
        .create_comment(&repo(), n, "hello")
        .await
        .unwrap();

    assert_eq!(c.body.as_deref(), Some("hello"));
    assert_eq!(count(&gh, COMMENTS), 3);
    assert_eq!(gh.comments("o/r", n).len(), 1);
}

#[tokio::test]
async fn retries_a_dropped_connection() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        Fault::Drop,
        1,
    );

    let pr = client(&gh).get_pull(&repo(), n).await.unwrap();

    assert_eq!(pr.number, n);
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 200]);
}

#[tokio::test]
async fn honours_retry_after_on_a_secondary_rate_limit() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(COMMENTS, Fault::SecondaryRateLimit { retry_after: 1 }, 1);
    let started = Instant::now();

    client(&gh).create_comment(&repo(), n, "x").await.unwrap();

    // The backoff alone would be ~10 ms; retry-after says a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&gh, COMMENTS), 2);
}

#[tokio::test]
async fn waits_for_the_primary_rate_limit_reset() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        Fault::PrimaryRateLimit { reset_in: 1 },
        1,
    );
    let started = Instant::now();

    client(&gh).get_pull(&repo(), n).await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn gives_up_after_the_retry_bound_naming_the_call() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        Fault::Status(502),
        100,
    );

    let err = client(&gh).get_pull(&repo(), n).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        "GitHub: GET /repos/o/r/pulls/1 failed after 4 attempts: 502 Bad Gateway (server error 502; retry limit reached)"
    );
    assert_eq!(gh.requests().len(), 4);
    let as_tfctl: tfctl::Error = err.into();
    assert_eq!(as_tfctl.exit_status(), tfctl::ExitStatus::Unfinished);
}

#[tokio::test]
async fn gives_up_at_once_when_retry_after_exceeds_the_time_budget() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(COMMENTS, Fault::SecondaryRateLimit { retry_after: 3600 }, 1);
    let started = Instant::now();

    let err = client(&gh)
        .create_comment(&repo(), n, "x")
        .await
        .unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(5));
    let text = err.to_string();
    assert!(text.starts_with("GitHub: POST /repos/o/r/issues/1/comments failed: 403 You have exceeded a secondary rate limit"), "{text}");
    assert!(text.contains("retry budget"), "{text}");
    assert!(gh.comments("o/r", n).is_empty());
}

#[tokio::test]
async fn bad_token_is_401_and_never_printed() {
    let gh = FakeGithub::start();
    gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    let secret = "ghp_DO_NOT_PRINT_ME_123";
    let c = client_with(&gh, secret, fast_retry());

    let err = c.get_pull(&repo(), 1).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        "GitHub: GET /repos/o/r/pulls/1 failed: 401 Bad credentials"
    );
    assert_eq!(err.status(), Some(401));
    for text in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains(secret), "{text}");
    }
    // 401 is final: no retries.
    assert_eq!(gh.requests().len(), 1);
}

#[tokio::test]
async fn unknown_things_are_404_with_the_call_named() {
    let gh = FakeGithub::start();
    gh.seed_repo("o/r");
    let err = client(&gh).get_pull(&repo(), 99).await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        "GitHub: GET /repos/o/r/pulls/99 failed: 404 Not Found"
    );
}

#[tokio::test]
async fn oversized_comment_is_refused_before_sending_and_the_fake_agrees() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    let long = "x".repeat(65_537);

    let err = client(&gh)
        .create_comment(&repo(), n, &long)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not sent: body is 65537 characters"),
        "{err}"
    );
    assert!(gh.requests().is_empty());

    // What GitHub (and the fake) answer when a body that long is sent.
    let resp = reqwest::Client::new()
        .post(format!("{}/repos/o/r/issues/{n}/comments", gh.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"body": long}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "body is too long (maximum is 65536 characters)"
    );
}

/// The sticky comment of run `run`, as the bot.
async fn upsert_run(c: &Client, n: u64, run: u32) -> tfctl::github::UpsertOutcome {
    let body = format!("{MARKER} {{\"run\":{run}}} -->\nv{run}");
    c.upsert_comment(&repo(), n, MARKER, Some(BOT_LOGIN), &body)
        .await
        .unwrap()
}

#[tokio::test]
async fn upsert_comment_creates_once_then_updates_in_place() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    // A person quoting the marker must not be taken for the bot's comment.
    gh.seed_comment("o/r", n, "mallory", &format!("{MARKER} {{}} -->"));
    let c = client(&gh);

    let first = upsert_run(&c, n, 1).await;
    let second = upsert_run(&c, n, 2).await;
    gh.clear_requests();
    let third = upsert_run(&c, n, 2).await;

    assert_eq!(first.action, UpsertAction::Created);
    assert_eq!(second.action, UpsertAction::Updated);
    assert_eq!(third.action, UpsertAction::Unchanged);
    assert_eq!(first.comment.id, second.comment.id);
    let comments = gh.comments("o/r", n);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1].user, BOT_LOGIN);
    assert!(comments[1].body.ends_with("v2"));
    // Unchanged costs one list call, no write.
    assert_eq!(gh.requests().len(), 1);
}

#[tokio::test]
async fn upsert_survives_faults_on_every_write_route() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault("POST *", Fault::Status(502), 2);
    gh.inject_fault("PATCH *", Fault::Drop, 1);
    let c = client(&gh);
    for i in 0..3 {
        c.upsert_comment(
            &repo(),
            n,
            MARKER,
            Some(BOT_LOGIN),
            &format!("{MARKER} {i} -->"),
        )
        .await
        .unwrap();
    }
    let comments = gh.comments("o/r", n);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, format!("{MARKER} 2 -->"));
}

#[tokio::test]
async fn exclusive_label_swaps_and_is_idempotent() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr(
        "o/r",
        PrSeed::new("feature", "main").labels(&["opa-failed", "team-a"]),
    );
    let c = client(&gh);
    let known = c.get_pull(&repo(), n).await.unwrap().label_names();
    gh.clear_requests();

    let now = c
        .set_exclusive_label(&repo(), n, Some(&known), "opa-passed", &["opa-failed"])
        .await
        .unwrap();

    assert_eq!(now, vec!["team-a", "opa-passed"]);
    assert_eq!(gh.labels("o/r", n), vec!["team-a", "opa-passed"]);
    let routes: Vec<String> = gh.requests().iter().map(|r| r.route.clone()).collect();
    assert_eq!(
        routes,
        vec![
            "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        ]
    );
    // Re-run with the labels it now knows: nothing to do, no call.
    gh.clear_requests();
    c.set_exclusive_label(&repo(), n, Some(&now), "opa-passed", &["opa-failed"])
        .await
        .unwrap();
    assert!(gh.requests().is_empty());
    // Without known labels it lists them first, and still writes nothing.
    c.set_exclusive_label(&repo(), n, None, "opa-passed", &["opa-failed"])
        .await
        .unwrap();
    assert_eq!(gh.requests().len(), 1);
}

/// Two validations of one PR overlap: the other run puts `opa-passed` on
/// right after this one read the labels. The add answers with every label,
/// so the stale one is seen and taken off: never both verdicts.
#[tokio::test]
async fn exclusive_label_takes_off_an_opposite_label_added_meanwhile() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.after_request(
        "GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
        1,
        move |s| s.label_issue("o/r", n, "opa-passed", BOT_LOGIN),
    );
    let c = client(&gh);
    let read: Vec<String> = c
        .list_labels(&repo(), n)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(read.is_empty(), "the hook ran before the answer: {read:?}");
    let now = c
        .set_exclusive_label(&repo(), n, Some(&read), "opa-failed", &["opa-passed"])
        .await
        .unwrap();
    assert_eq!(now, vec!["opa-failed"]);
    assert_eq!(gh.labels("o/r", n), vec!["opa-failed"]);
}

#[tokio::test]
async fn removing_an_absent_label_is_fine() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    let removed = client(&gh)
        .remove_label(&repo(), n, "opa-passed")
        .await
        .unwrap();
    assert!(!removed);
    assert_eq!(gh.requests()[0].status, 404);
}

#[tokio::test]
async fn label_names_with_spaces_and_colons_round_trip() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr(
        "o/r",
        PrSeed::new("feature", "main").labels(&["tfctl: passed/ok"]),
    );
    assert!(client(&gh)
        .remove_label(&repo(), n, "tfctl: passed/ok")
        .await
        .unwrap());
    assert!(gh.labels("o/r", n).is_empty());
}

#[tokio::test]
async fn merge_distinguishes_head_moved_not_mergeable_and_success() {
    let gh = FakeGithub::start();
    let head = fake_sha("head");
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "dev").head_sha(&head));
    let c = client(&gh);

    let moved = c
        .merge_pull(&repo(), n, &fake_sha("stale"), MergeMethod::Merge, None)
        .await
        .unwrap();
    assert_eq!(
        moved,
        MergeOutcome::HeadMoved {
            message: "Head branch was modified. Review and try the merge again.".into()
        }
    );

    gh.update_pr("o/r", n, |p| p.mergeable = Some(false));
    let blocked = c
        .merge_pull(&repo(), n, &head, MergeMethod::Merge, None)
        .await
        .unwrap();
    assert_eq!(
        blocked,
        MergeOutcome::NotMergeable {
            message: "Pull Request is not mergeable".into()
        }
    );

    gh.update_pr("o/r", n, |p| p.mergeable = Some(true));
    let MergeOutcome::Merged(result) = c
        .merge_pull(
            &repo(),
            n,
            &head,
            MergeMethod::Squash,
            Some("tfctl: merge #1"),
        )
        .await
        .unwrap()
    else {
        panic!("not merged")
    };
    let pr = c.get_pull(&repo(), n).await.unwrap();
    assert!(pr.is_merged());
    assert_eq!(pr.merge_commit_sha.as_deref(), Some(result.sha.as_str()));
    assert_eq!(
        gh.branch("o/r", "dev").as_deref(),
        Some(result.sha.as_str())
    );
    let prs = c.pulls_for_commit(&repo(), &result.sha).await.unwrap();
    assert_eq!(prs.iter().map(|p| p.number).collect::<Vec<_>>(), vec![n]);
}

#[tokio::test]
async fn pulls_list_create_update_and_reviews() {
    let gh = FakeGithub::start();
    gh.seed_branch("o/r", "main", &fake_sha("base"));
    gh.seed_commit("o/r", &fake_sha("base"), &[], "init", &[]);
    gh.seed_commit(
        "o/r",
        &fake_sha("c1"),
        &[&fake_sha("base")],
        "add s3",
        &["S3/a/a.tfvars"],
    );
    gh.seed_branch("o/r", "feature", &fake_sha("c1"));
    let c = client(&gh);

    assert!(c
        .list_pulls(&repo(), Some("o:feature"), Some("main"), PrListState::Open)
        .await
        .unwrap()
        .is_empty());
    let pr = c
        .create_pull(&repo(), "feature", "main", "Add S3/a", "body")
        .await
        .unwrap();
    assert_eq!(pr.head.sha, fake_sha("c1"));
    assert_eq!(pr.user.login, BOT_LOGIN);
    let dup = c
        .create_pull(&repo(), "feature", "main", "again", "")
        .await
        .unwrap_err();
    assert!(
        dup.to_string()
            .contains("422 Validation Failed: A pull request already exists for o:feature."),
        "{dup}"
    );
    let listed = c
        .list_pulls(&repo(), Some("o:feature"), None, PrListState::Open)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let files = c.list_pull_files(&repo(), pr.number).await.unwrap();
    assert_eq!(files[0].filename, "S3/a/a.tfvars");

    let update = tfctl::github::PullUpdate {
        title: Some("New".into()),
        body: None,
        base: Some("main".into()),
    };
    let updated = c.update_pull(&repo(), pr.number, &update).await.unwrap();
    assert_eq!(updated.title, "New");

    gh.seed_review("o/r", pr.number, "bob", "APPROVED", None);
    gh.seed_review(
        "o/r",
        pr.number,
        "carol",
        "COMMENTED",
        Some(&fake_sha("old")),
    );
    let reviews = c.list_reviews(&repo(), pr.number).await.unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0].state, "APPROVED");
    assert_eq!(
        reviews[0].commit_id.as_deref(),
        Some(fake_sha("c1").as_str())
    );
    assert!(reviews[0].submitted_at < reviews[1].submitted_at);
}

#[tokio::test]
async fn compare_lists_commits_and_files() {
    let gh = FakeGithub::start();
    let (b, c1, c2) = (fake_sha("b"), fake_sha("c1"), fake_sha("c2"));
    gh.seed_commit("o/r", &b, &[], "init", &["README.md"]);
    gh.seed_commit("o/r", &c1, &[&b], "one", &["S3/a/a.tfvars"]);
    gh.seed_commit(
        "o/r",
        &c2,
        &[&c1],
        "two",
        &["KMS/k/k.tfvars", "S3/a/a.tfvars"],
    );
    gh.seed_branch("o/r", "main", &b);
    gh.seed_branch("o/r", "feature", &c2);

    let cmp = client(&gh)
        .compare(&repo(), "main", "feature")
        .await
        .unwrap();

    assert_eq!(
        (cmp.status.as_str(), cmp.ahead_by, cmp.behind_by),
        ("ahead", 2, 0)
    );
    let msgs: Vec<&str> = cmp
        .commits
        .iter()
        .map(|c| c.commit.message.as_str())
        .collect();
    assert_eq!(msgs, vec!["one", "two"]);
    let files: Vec<&str> = cmp.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(files, vec!["KMS/k/k.tfvars", "S3/a/a.tfvars"]);
}

#[tokio::test]
async fn statuses_dispatch_and_teams() {
    let gh = FakeGithub::start();
    gh.seed_repo("o/r");
    gh.seed_repo("o/controller");
    let c = client(&gh);
    let sha = fake_sha("x");

    let long = "d".repeat(300);
    let st = c
        .create_status(
            &repo(),
            &sha,
            CommitState::Success,
            "tfctl/validate",
            Some(&long),
            Some("https://run"),
        )
        .await
        .unwrap();
    assert_eq!(st.state, "success");
    let stored = gh.statuses("o/r", &sha);
    assert_eq!(stored[0].context, "tfctl/validate");
    assert_eq!(stored[0].description.as_ref().unwrap().len(), 140);

    let controller = RepoRef::parse("o/controller").unwrap();
    let payload: Map<String, Value> = serde_json::from_value(
        json!({"source_repo": "o/r", "pr_number": 1, "head_sha": sha, "base_ref": "main"}),
    )
    .unwrap();
    c.dispatch(&controller, "tfctl-validate", &payload)
        .await
        .unwrap();
    let d = gh.dispatches("o/controller");
    assert_eq!(d[0].event_type, "tfctl-validate");
    assert_eq!(d[0].client_payload["pr_number"], 1);

    let too_many: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), Value::from(i))).collect();
    gh.clear_requests();
    let err = c
        .dispatch(&controller, "tfctl-validate", &too_many)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "GitHub: POST /repos/o/controller/dispatches not sent: client_payload has 11 top-level keys; GitHub allows 10");
    assert!(gh.requests().is_empty());
    // The fake enforces the same limit as GitHub for clients that don't check.
    let resp = reqwest::Client::new()
        .post(format!("{}/repos/o/controller/dispatches", gh.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"event_type": "x", "client_payload": too_many}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);

    gh.seed_team_member("o", "platform", "alice", "active");
    gh.seed_team_member("o", "platform", "bob", "pending");
    assert!(c.is_team_member("o", "platform", "alice").await.unwrap());
    assert!(!c.is_team_member("o", "platform", "bob").await.unwrap());
    assert!(!c.is_team_member("o", "platform", "eve").await.unwrap());
}

#[tokio::test]
async fn drift_issues_create_and_list_without_pull_requests() {
    let gh = FakeGithub::start();
    gh.seed_repo("o/r");
    gh.seed_pr(
        "o/r",
        PrSeed::new("feature", "main").title("Drift in S3/a is a PR"),
    );
    let c = client(&gh);
    let issue = c
        .create_issue(&repo(), "Drift: S3/a", "details", &["drift"])
        .await
        .unwrap();
    c.create_issue(&repo(), "Drift: KMS/k", "details", &["drift"])
        .await
        .unwrap();

    // The list leaves the PR out (PRs are issues too) and is never stale.
    let open = c
        .list_issues(&repo(), &["drift"], tfctl::github::IssueState::Open)
        .await
        .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open.iter().filter(|i| i.number == issue.number).count(), 1);
    assert!(open
        .iter()
        .all(|i| i.labels[0].name == "drift" && i.pull_request.is_none()));
}

fn app_fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/github/app/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn github_app_mints_an_installation_token_once() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.enable_app("4242", "tfctl", &app_fixture("test-app-key.pub.pem"), 77);
    let mut config = ClientConfig::new(
        gh.url(),
        Credentials::App(AppCredentials {
            app_id: "4242".into(),
            private_key: Secret::new(app_fixture("test-app-key.pem")),
            installation_id: None,
        }),
    );
    config.installation_repo = Some(repo());
    config.retry = fast_retry();
    let c = Client::new(config).unwrap();

    c.create_comment(&repo(), n, "from the app").await.unwrap();
    c.create_comment(&repo(), n, "again").await.unwrap();

    let routes: Vec<String> = gh.requests().iter().map(|r| r.route.clone()).collect();
    assert_eq!(
        routes,
        vec![
            "GET /repos/{owner}/{repo}/installation",
            "POST /app/installations/{installation_id}/access_tokens",
            COMMENTS,
            COMMENTS,
        ]
    );
    assert_eq!(gh.comments("o/r", n)[0].user, "tfctl[bot]");

    // `GET /app` takes the App's JWT, not the installation token, and names
    // the login the App's comments carry.
    gh.clear_requests();
    let who = c.identity(false).await.unwrap();
    assert_eq!(
        who,
        tfctl::github::Identity::App {
            slug: "tfctl".into()
        }
    );
    assert_eq!(
        tfctl::github::effective_bot_login(&who, None).unwrap(),
        gh.comments("o/r", n)[0].user
    );
    let routes: Vec<(String, u16)> = gh
        .requests()
        .iter()
        .map(|r| (r.route.clone(), r.status))
        .collect();
    assert_eq!(routes, vec![("GET /app".to_string(), 200)]);
}

/// `GET /user` is how a token says whose it is: a user token (PAT) names
/// its user, an installation token (`GITHUB_TOKEN`) is refused with 403,
/// and a client that was not asked to check sends nothing.
#[tokio::test]
async fn identity_of_a_user_token_and_of_an_installation_token() {
    use tfctl::github::Identity;
    let gh = FakeGithub::start();
    gh.add_token("ghp_mallory", "mallory");
    let pat = client_with(&gh, "ghp_mallory", fast_retry());
    assert_eq!(
        pat.identity(true).await.unwrap(),
        Identity::User {
            login: "mallory".into()
        }
    );
    let installation = client(&gh);
    assert_eq!(
        installation.identity(true).await.unwrap(),
        Identity::Installation
    );
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 403]);
    gh.clear_requests();
    assert_eq!(
        installation.identity(false).await.unwrap(),
        Identity::NotAsked
    );
    assert!(gh.requests().is_empty());
}

/// A reviewer's access as GitHub reports it: the role decides, a user with
/// no role reads (as on a public repository), never writes.
#[tokio::test]
async fn collaborator_permission_reports_roles_and_defaults_to_read() {
    let gh = FakeGithub::start();
    gh.seed_repo("o/r");
    for (user, role) in [
        ("ann", "admin"),
        ("max", "maintain"),
        ("wes", "write"),
        ("tri", "triage"),
    ] {
        gh.set_permission("o/r", user, role);
    }
    let c = client(&gh);
    let mut seen = Vec::new();
    for user in ["ann", "max", "wes", "tri", "eve"] {
        let p = c
            .collaborator_permission(&repo(), user)
            .await
            .unwrap()
            .unwrap();
        seen.push((user, p.permission.clone(), p.can_write()));
    }
    assert_eq!(
        seen,
        vec![
            ("ann", "admin".to_string(), true),
            ("max", "write".to_string(), true),
            ("wes", "write".to_string(), true),
            ("tri", "read".to_string(), false),
            ("eve", "read".to_string(), false),
        ]
    );
    let missing = RepoRef::parse("o/missing").unwrap();
    assert_eq!(
        c.collaborator_permission(&missing, "ann").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn github_app_with_a_wrong_key_is_401() {
    let gh = FakeGithub::start();
    gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.enable_app("4242", "tfctl", &app_fixture("test-app-key.pub.pem"), 77);
    let c = Client::new(ClientConfig::new(
        gh.url(),
        Credentials::App(AppCredentials {
            app_id: "9999".into(),
            private_key: Secret::new(app_fixture("test-app-key.pem")),
            installation_id: Some(77),
        }),
    ))
    .unwrap();
    let err = c.get_pull(&repo(), 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitHub: POST /app/installations/77/access_tokens failed: 401 Bad credentials"
    );
}

#[tokio::test]
async fn ghes_base_url_with_a_path_prefix_paginates() {
    let gh = FakeGithub::start_with_prefix("/api/v3");
    assert!(gh.url().ends_with("/api/v3"));
    let files: Vec<String> = (0..130).map(|i| format!("f{i:03}")).collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main").files(&refs));

    let got = client(&gh).list_pull_files(&repo(), n).await.unwrap();

    assert_eq!(got.len(), 130);
    let reqs = gh.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs
        .iter()
        .all(|r| r.path == "/api/v3/repos/o/r/pulls/1/files"));
    assert_eq!(
        reqs[0].route,
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files"
    );
}

#[tokio::test]
async fn a_hung_request_times_out_and_is_retried() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        Fault::Hang { millis: 3_000 },
        1,
    );
    let mut config = ClientConfig::new(gh.url(), Credentials::Token(Secret::new(TOKEN)));
    config.retry = fast_retry();
    config.request_timeout = Duration::from_millis(300);
    let started = Instant::now();

    let pr = Client::new(config)
        .unwrap()
        .get_pull(&repo(), n)
        .await
        .unwrap();

    assert_eq!(pr.number, n);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        count(&gh, "GET /repos/{owner}/{repo}/pulls/{pull_number}"),
        2
    );
}

#[tokio::test]
async fn a_hung_request_that_never_answers_names_the_timeout() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault("* *", Fault::Hang { millis: 2_000 }, 10);
    let mut config = ClientConfig::new(gh.url(), Credentials::Token(Secret::new(TOKEN)));
    config.retry = RetryPolicy {
        max_retries: 1,
        ..fast_retry()
    };
    config.request_timeout = Duration::from_millis(200);

    let err = Client::new(config)
        .unwrap()
        .get_pull(&repo(), n)
        .await
        .unwrap_err();

    assert_eq!(
        err.to_string(),
        "GitHub: GET /repos/o/r/pulls/1 failed after 2 attempts: timed out after 200ms"
    );
}

/// The lead's tests drive the fake from plain (non-async) test code while a
/// separate process talks to it: the server must not need the test's runtime.
#[test]
fn the_fake_serves_sync_tests_and_other_runtimes() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    let env: std::collections::BTreeMap<String, String> = gh
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain([("GITHUB_REPOSITORY".to_owned(), "o/r".to_owned())])
        .collect();
    let config = tfctl::actions::ActionsEnv::from_env(&env)
        .client_config()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pr = rt.block_on(async {
        Client::new(config)
            .unwrap()
            .get_pull(&repo(), n)
            .await
            .unwrap()
    });
    assert_eq!(pr.number, n);
    drop(rt);
    // Still up after that runtime is gone.
    assert_eq!(gh.pr("o/r", n).number, n);
}

#[tokio::test]
async fn a_merge_whose_answer_was_lost_is_confirmed_not_reported_blocked() {
    let gh = FakeGithub::start();
    let head = fake_sha("head");
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "prod").head_sha(&head));
    gh.inject_fault(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        Fault::DropAfterWrite,
        1,
    );

    let outcome = client(&gh)
        .merge_pull(&repo(), n, &head, MergeMethod::Merge, None)
        .await
        .unwrap();

    let MergeOutcome::Merged(result) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(Some(result.sha), gh.pr("o/r", n).merge_commit_sha);
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 405, 200]);
}

#[tokio::test]
async fn a_lost_create_answer_duplicates_once_and_the_next_run_heals_it() {
    let gh = FakeGithub::start();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main"));
    gh.inject_fault(COMMENTS, Fault::DropAfterWrite, 1);
    let c = client(&gh);

    // GitHub created the comment but the answer was lost; the retry creates
    // it again (the client can't know), as any HTTP client would.
    upsert_run(&c, n, 1).await;
    assert_eq!(gh.comments("o/r", n).len(), 2);

    let next = upsert_run(&c, n, 2).await;

    let left = gh.comments("o/r", n);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, next.comment.id);
    assert!(left[0].body.ends_with("v2"));
}

/// The calls `tfctl validate` makes to report on a PR (read PR, files,
/// sticky comment, verdict label, status), counted on a first run and a
/// re-run: the API-economy budget of issue 3 is 8 requests each.
#[tokio::test]
async fn validate_reporting_calls_fit_the_request_budget() {
    let gh = FakeGithub::start();
    let files: Vec<String> = (0..12)
        .map(|i| format!("S3/s{}/f{i}.tfvars", i % 5))
        .collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let n = gh.seed_pr("o/r", PrSeed::new("feature", "main").files(&refs));
    let c = client(&gh);
    let mut counts = Vec::new();
    for run in 1..=2 {
        gh.clear_requests();
        let pr = c.get_pull(&repo(), n).await.unwrap();
        assert_eq!(c.list_pull_files(&repo(), n).await.unwrap().len(), 12);
        let body = format!("{MARKER} {{\"run\":{run}}} -->\nplan took {run}s");
        c.upsert_comment(&repo(), n, MARKER, Some(BOT_LOGIN), &body)
            .await
            .unwrap();
        c.set_exclusive_label(
            &repo(),
            n,
            Some(&pr.label_names()),
            "opa-passed",
            &["opa-failed"],
        )
        .await
        .unwrap();
        c.create_status(
            &repo(),
            &pr.head.sha,
            CommitState::Success,
            "tfctl/validate",
            None,
            None,
        )
        .await
        .unwrap();
        counts.push(gh.requests().len());
    }
    eprintln!("requests: first run {}, re-run {}", counts[0], counts[1]);
    assert_eq!(counts, vec![6, 5]);
    assert_eq!(gh.comments("o/r", n).len(), 1);
}
