//! The Git database calls behind stack locks, through the real client
//! against the fake GitHub: refs are created once and move only by
//! fast-forward, so every write is compare-and-swap, and a retry after a
//! lost answer is an outcome, never an error.

use crate::support;

use std::time::Duration;

use support::fake_github::{fake_sha, FakeGithub, Fault, TOKEN};
use tfctl::github::{
    Client, ClientConfig, Credentials, GithubErrorKind, RefCreated, RefUpdated, RepoRef,
    RetryPolicy, Secret,
};

const REPO: &str = "o/controller";
const LOCK: &str = "refs/tfctl/locks/S3/a";
const CREATE_REF: &str = "POST /repos/{owner}/{repo}/git/refs";
const UPDATE_REF: &str = "PATCH /repos/{owner}/{repo}/git/refs/{ref}";
const MATCHING: &str = "GET /repos/{owner}/{repo}/git/matching-refs/{ref}";

pub(crate) fn client(gh: &FakeGithub) -> Client {
    let mut config = ClientConfig::new(gh.url(), Credentials::Token(Secret::new(TOKEN)));
    config.retry = RetryPolicy {
        max_retries: 3,
        max_elapsed: Duration::from_secs(10),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        secondary_min_wait: Duration::from_millis(20),
    };
    config.request_timeout = Duration::from_secs(5);
    Client::new(config).unwrap()
}

fn repo() -> RepoRef {
    RepoRef::parse(REPO).unwrap()
}

fn tree() -> String {
    fake_sha("tree")
}

fn started() -> (FakeGithub, Client) {
    let gh = FakeGithub::start();
    gh.seed_repo(REPO);
    let c = client(&gh);
    (gh, c)
}

fn count(gh: &FakeGithub, route: &str) -> usize {
    gh.requests().iter().filter(|r| r.route == route).count()
}

#[tokio::test]
async fn a_ref_is_created_once_and_the_second_create_changes_nothing() {
    let (gh, c) = started();
    let first = c
        .create_commit(&repo(), "held by #1", &tree(), &[])
        .await
        .unwrap();
    let second = c
        .create_commit(&repo(), "held by #2", &tree(), &[])
        .await
        .unwrap();
    assert_ne!(first.sha, second.sha);

    let a = c.create_ref(&repo(), LOCK, &first.sha).await.unwrap();
    let b = c.create_ref(&repo(), LOCK, &second.sha).await.unwrap();

    assert_eq!((a, b), (RefCreated::Created, RefCreated::AlreadyExists));
    assert_eq!(gh.git_ref(REPO, LOCK), Some(first.sha.clone()));
    let read = c.get_ref(&repo(), LOCK).await.unwrap().unwrap();
    assert_eq!(
        (read.name.as_str(), read.sha.as_str()),
        (LOCK, first.sha.as_str())
    );
    let held = c.get_commit(&repo(), &read.sha).await.unwrap();
    assert_eq!(held.message, "held by #1");
    assert_eq!(held.tree_sha, tree());
    assert!(held.parents.is_empty());
}

#[tokio::test]
async fn of_two_writers_from_the_same_state_exactly_one_wins() {
    let (gh, c) = started();
    let base = gh.seed_git_ref(REPO, LOCK, "free");
    let read = c.get_ref(&repo(), LOCK).await.unwrap().unwrap();
    assert_eq!(read.sha, base);
    let parents = [read.sha.clone()];
    let mine = c
        .create_commit(&repo(), "held by #1", &tree(), &parents)
        .await
        .unwrap();
    let theirs = c
        .create_commit(&repo(), "held by #2", &tree(), &parents)
        .await
        .unwrap();
    assert_eq!(mine.parents, parents);

    let r = repo();
    let (a, b) = tokio::join!(
        c.update_ref(&r, LOCK, &mine.sha),
        c.update_ref(&r, LOCK, &theirs.sha)
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    let winner = match (a, b) {
        (RefUpdated::Updated, RefUpdated::NotFastForward) => &mine,
        (RefUpdated::NotFastForward, RefUpdated::Updated) => &theirs,
        other => panic!("expected exactly one winner, got {other:?}"),
    };
    let at = gh.git_ref(REPO, LOCK).unwrap();
    assert_eq!(at, winner.sha);
    assert_eq!(
        gh.git_commit_message(REPO, &at),
        Some(winner.message.clone())
    );
    // The loser re-reads and writes on top of the winner: a fast-forward.
    let next = c
        .create_commit(&repo(), "waiting: #2", &tree(), std::slice::from_ref(&at))
        .await
        .unwrap();
    let moved = c.update_ref(&repo(), LOCK, &next.sha).await.unwrap();
    assert_eq!(moved, RefUpdated::Updated);
    // Going back to the old state is not a fast-forward.
    let back = c.update_ref(&repo(), LOCK, &base).await.unwrap();
    assert_eq!(back, RefUpdated::NotFastForward);
    assert_eq!(gh.git_ref(REPO, LOCK), Some(next.sha));
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_and_seen_as_already_exists() {
    let (gh, c) = started();
    let commit = c
        .create_commit(&repo(), "held by #1", &tree(), &[])
        .await
        .unwrap();
    gh.inject_fault(CREATE_REF, Fault::DropAfterWrite, 1);

    let got = c.create_ref(&repo(), LOCK, &commit.sha).await.unwrap();

    assert_eq!(got, RefCreated::AlreadyExists);
    assert_eq!(gh.git_ref(REPO, LOCK), Some(commit.sha));
    assert_eq!(count(&gh, CREATE_REF), 2, "one lost answer, one retry");
}

#[tokio::test]
async fn an_update_whose_answer_was_lost_asks_the_caller_to_re_read() {
    let (gh, c) = started();
    let base = gh.seed_git_ref(REPO, LOCK, "free");
    let next = c
        .create_commit(&repo(), "held by #1", &tree(), &[base])
        .await
        .unwrap();
    gh.inject_fault(UPDATE_REF, Fault::DropAfterWrite, 1);

    let got = c.update_ref(&repo(), LOCK, &next.sha).await.unwrap();

    assert_eq!(got, RefUpdated::NotFastForward);
    assert_eq!(count(&gh, UPDATE_REF), 2, "one lost answer, one retry");
    // What the re-read finds: the write landed.
    let read = c.get_ref(&repo(), LOCK).await.unwrap().unwrap();
    assert_eq!(read.sha, next.sha);
}

#[tokio::test]
async fn matching_refs_lists_only_the_prefix_over_several_pages() {
    let (gh, c) = started();
    let mut want: Vec<(String, String)> = (0..150)
        .rev()
        .map(|i| {
            let name = format!("refs/tfctl/locks/S3/s{i:03}");
            let sha = gh.seed_git_ref(REPO, &name, &format!("lock {i}"));
            (name, sha)
        })
        .collect();
    want.sort();
    gh.seed_git_ref(REPO, "refs/tfctl/locksmith/x", "not a lock");
    gh.seed_git_ref(REPO, "refs/tfctl/other/y", "not a lock");
    gh.seed_branch(REPO, "main", &fake_sha("main"));

    let got = c.matching_refs(&repo(), "refs/tfctl/locks/").await.unwrap();

    let got: Vec<(String, String)> = got.into_iter().map(|r| (r.name, r.sha)).collect();
    assert_eq!(got, want);
    let pages: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.route == MATCHING)
        .collect();
    assert_eq!(pages.len(), 2, "100 per page");
    assert_eq!(
        pages[0].path,
        "/repos/o/controller/git/matching-refs/tfctl/locks/"
    );
    assert!(pages[1].query.as_deref().unwrap().contains("page=2"));
    // No ref under the prefix: an empty list, not an error.
    let none = c
        .matching_refs(&repo(), "refs/tfctl/nothing/")
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_missing_ref_reads_as_none_and_updates_as_missing() {
    let (gh, c) = started();
    assert_eq!(c.get_ref(&repo(), LOCK).await.unwrap(), None);
    let commit = c
        .create_commit(&repo(), "held by #1", &tree(), &[])
        .await
        .unwrap();
    let got = c.update_ref(&repo(), LOCK, &commit.sha).await.unwrap();
    assert_eq!(got, RefUpdated::Missing);
    assert_eq!(gh.git_ref(REPO, LOCK), None);
}

#[tokio::test]
async fn ref_names_keep_their_slashes_and_percent_signs() {
    let (gh, c) = started();
    // As locks::ref_name writes a stack id with a `.`: `%2E`.
    let name = "refs/tfctl/locks/S3/my%2Estack";
    let commit = c
        .create_commit(&repo(), "held", &tree(), &[])
        .await
        .unwrap();
    assert_eq!(
        c.create_ref(&repo(), name, &commit.sha).await.unwrap(),
        RefCreated::Created
    );
    let read = c.get_ref(&repo(), name).await.unwrap().unwrap();
    assert_eq!(read.name, name);
    let sent = gh.requests();
    let get = sent.last().unwrap();
    assert_eq!(
        get.path,
        "/repos/o/controller/git/ref/tfctl/locks/S3/my%252Estack"
    );
    assert_eq!(get.route, "GET /repos/{owner}/{repo}/git/ref/{ref}");
    let listed = c
        .matching_refs(&repo(), "refs/tfctl/locks/S3/my%2E")
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(gh.git_ref(REPO, name), Some(commit.sha));
}

#[tokio::test]
async fn what_github_refuses_is_an_error_not_an_outcome() {
    let (gh, c) = started();
    // A commit on an empty tree string, or on a parent GitHub doesn't have.
    let e = c.create_commit(&repo(), "m", "", &[]).await.unwrap_err();
    assert_eq!(e.status(), Some(422), "{e}");
    let e = c
        .create_commit(&repo(), "m", &tree(), &[fake_sha("no such parent")])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "{e}");
    // A ref to an object GitHub doesn't have.
    let e = c
        .create_ref(&repo(), LOCK, &fake_sha("nothing"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.message.contains("Object does not exist"), "{e}");
    assert_eq!(gh.git_ref(REPO, LOCK), None);
    // A name GitHub would refuse is not even sent.
    gh.clear_requests();
    let commit = c.create_commit(&repo(), "m", &tree(), &[]).await.unwrap();
    for bad in ["tfctl/locks/a", "refs/locks", "refs/tfctl/locks/a..b"] {
        let e = c.create_ref(&repo(), bad, &commit.sha).await.unwrap_err();
        assert_eq!(e.kind, GithubErrorKind::Invalid, "{bad}: {e}");
    }
    assert_eq!(count(&gh, CREATE_REF), 0);
    assert!(c
        .get_commit(&repo(), &fake_sha("gone"))
        .await
        .unwrap_err()
        .is_not_found());
}

/// The fake answers bad names as GitHub does, for clients that send them.
#[tokio::test]
async fn the_fake_refuses_names_github_refuses() {
    let (gh, c) = started();
    let commit = c.create_commit(&repo(), "m", &tree(), &[]).await.unwrap();
    let http = reqwest::Client::new();
    for (name, message) in [
        (
            "refs/locks",
            "Reference name must contain at least three slash-separated components.",
        ),
        ("tfctl/locks/a", "tfctl/locks/a is not a valid ref name."),
        ("refs/tfctl/.a", "refs/tfctl/.a is not a valid ref name."),
    ] {
        let resp = http
            .post(format!("{}/repos/{REPO}/git/refs", gh.url()))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"ref": name, "sha": commit.sha}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 422, "{name}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["message"], message, "{name}");
    }
    assert!(gh.git_ref(REPO, "refs/locks").is_none());
}
