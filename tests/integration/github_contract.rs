//! Contract test: what tfctl sends matches GitHub's own REST description
//! (the committed subset in tests/fixtures/github/openapi/, extracted by
//! scripts/extract-github-openapi-subset.py), and GitHub's own response
//! examples decode into tfctl's models.
//!
//! The fake GitHub records every request; an end-to-end exercise drives
//! every write route through the real client, then each recorded body is
//! checked against the spec's requestBody schema (required fields, known
//! properties, types, enums, lengths).

use crate::support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use support::fake_github::{fake_sha, FakeGithub, TOKEN};
use tfctl::github::models::*;
use tfctl::github::{
    Client, ClientConfig, CommitState, Credentials, IssueState, IssueUpdate, MergeMethod,
    PullUpdate, RefCreated, RefUpdated, RepoRef, RetryPolicy, Secret, ROUTES,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github")
}

fn spec() -> Value {
    let text = std::fs::read_to_string(fixtures().join("openapi/api.github.subset.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn operation<'a>(spec: &'a Value, method: &str, template: &str) -> Option<&'a Value> {
    spec["paths"].get(template)?.get(method.to_lowercase())
}

#[test]
fn every_route_the_client_uses_exists_in_the_rest_description() {
    let spec = spec();
    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|r| operation(&spec, r.method, r.template).is_none())
        .map(std::string::ToString::to_string)
        .collect();
    assert!(
        missing.is_empty(),
        "not in GitHub's description: {missing:?}"
    );
}

/// Follows a `$ref` inside the spec.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(
                spec,
                spec.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {r}")),
            )
        }
        None => schema,
    }
}

/// Problems of `value` against `schema` (empty = valid). A deliberately
/// small JSON Schema subset: the keywords GitHub's request bodies use.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let all: Vec<Vec<String>> =
                variants.iter().map(|v| check(spec, v, value, at)).collect();
            if all.iter().any(Vec::is_empty) {
                return Vec::new();
            }
            return vec![format!("{at}: matches no {key} variant ({:?})", all)];
        }
    }
    let mut problems = Vec::new();
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            problems.push(format!("{at}: null not allowed"));
        }
        return problems;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    if !type_ok {
        return vec![format!("{at}: expected {}, got {value}", ty.unwrap())];
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    if let (Some(max), Some(s)) = (
        schema.get("maxLength").and_then(Value::as_u64),
        value.as_str(),
    ) {
        if s.chars().count() as u64 > max {
            problems.push(format!("{at}: longer than {max}"));
        }
    }
    if let Some(obj) = value.as_object() {
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
            if obj.len() as u64 > max {
                problems.push(format!("{at}: more than {max} properties"));
            }
        }
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = req.as_str().unwrap();
            if !obj.contains_key(name) {
                problems.push(format!("{at}: required field `{name}` missing"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let open = schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false));
            for (k, v) in obj {
                match props.get(k) {
                    Some(p) => problems.extend(check(spec, p, v, &format!("{at}.{k}"))),
                    None if !open => problems.push(format!("{at}: unknown field `{k}`")),
                    None => {}
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            problems.extend(check(spec, items, v, &format!("{at}[{i}]")));
        }
    }
    problems
}

fn client(gh: &FakeGithub) -> Client {
    let mut config = ClientConfig::new(gh.url(), Credentials::Token(Secret::new(TOKEN)));
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    Client::new(config).unwrap()
}

/// Drives every call tfctl makes, through the real client, against the fake.
async fn exercise(gh: &FakeGithub) {
    let repo = RepoRef::parse("o/config").unwrap();
    let controller = RepoRef::parse("o/controller").unwrap();
    gh.seed_repo("o/controller");
    let base = fake_sha("base");
    let head = fake_sha("head");
    gh.seed_commit("o/config", &base, &[], "init", &[]);
    gh.seed_commit("o/config", &head, &[&base], "change", &["S3/a/a.tfvars"]);
    gh.seed_branch("o/config", "main", &base);
    gh.seed_branch("o/config", "dev", &base);
    gh.seed_branch("o/config", "feature", &head);
    gh.seed_team_member("o", "platform", "bob", "active");
    let c = client(gh);

    let pr = c
        .create_pull(&repo, "feature", "main", "Change S3/a", "from commits")
        .await
        .unwrap();
    let n = pr.number;
    c.update_pull(
        &repo,
        n,
        &PullUpdate {
            title: Some("t".into()),
            body: Some("b".into()),
            base: Some("dev".into()),
        },
    )
    .await
    .unwrap();
    c.list_pulls(
        &repo,
        Some("o:feature"),
        Some("dev"),
        tfctl::github::PrListState::Open,
    )
    .await
    .unwrap();
    c.get_pull(&repo, n).await.unwrap();
    c.list_pull_files(&repo, n).await.unwrap();
    c.list_reviews(&repo, n).await.unwrap();
    c.create_comment(&repo, n, "a plain comment").await.unwrap();
    // Duplicates left by an earlier run are cleaned up by the next upsert.
    gh.seed_comment(
        "o/config",
        n,
        support::fake_github::BOT_LOGIN,
        "<!-- m --> dup",
    );
    gh.seed_comment(
        "o/config",
        n,
        support::fake_github::BOT_LOGIN,
        "<!-- m --> dup",
    );
    c.upsert_comment(&repo, n, "<!-- m", None, "<!-- m --> one")
        .await
        .unwrap();
    c.upsert_comment(&repo, n, "<!-- m", None, "<!-- m --> two")
        .await
        .unwrap();
    c.set_exclusive_label(&repo, n, None, "opa-failed", &["opa-passed"])
        .await
        .unwrap();
    c.set_exclusive_label(&repo, n, None, "opa-passed", &["opa-failed"])
        .await
        .unwrap();
    c.create_status(
        &repo,
        &head,
        CommitState::Success,
        "tfctl/validate",
        Some("2 stacks passed"),
        Some("https://example/run"),
    )
    .await
    .unwrap();
    c.compare(&repo, "main", "feature").await.unwrap();
    c.list_statuses(&repo, &fake_sha("main")).await.unwrap();
    let payload: Map<String, Value> = serde_json::from_value(json!({
        "source_repo": "o/config", "pr_number": n, "head_sha": head, "base_ref": "dev"
    }))
    .unwrap();
    c.dispatch(&controller, "tfctl-validate", &payload)
        .await
        .unwrap();
    assert!(c.is_team_member("o", "platform", "bob").await.unwrap());
    gh.set_permission("o/config", "bob", "maintain");
    let bob = c.collaborator_permission(&repo, "bob").await.unwrap();
    assert!(bob.is_some_and(|p| p.can_write()));
    // `GET /user` answers a user token (an installation token gets 403).
    gh.add_token("ghp_octocat", "octocat");
    let mut user_config =
        ClientConfig::new(gh.url(), Credentials::Token(Secret::new("ghp_octocat")));
    user_config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let as_user = Client::new(user_config).unwrap();
    assert_eq!(
        as_user.identity(true).await.unwrap(),
        tfctl::github::Identity::User {
            login: "octocat".into()
        }
    );
    c.create_issue(&controller, "Drift: S3/a", "drifted", &["drift"])
        .await
        .unwrap();
    let open = c
        .list_issues(&controller, &["drift"], IssueState::Open)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    c.update_issue(
        &controller,
        open[0].number,
        &IssueUpdate {
            title: Some("Drift: none".into()),
            body: Some("no drift".into()),
            state: Some(IssueState::Closed),
        },
    )
    .await
    .unwrap();
    assert!(c
        .list_issues(&controller, &["drift"], IssueState::Open)
        .await
        .unwrap()
        .is_empty());
    // The Git database: a lock ref's first state, then a fast-forward.
    let lock = "refs/tfctl/locks/S3/a";
    let tree = fake_sha("tree");
    let first = c.create_commit(&repo, "lock 1", &tree, &[]).await.unwrap();
    let created = c.create_ref(&repo, lock, &first.sha).await.unwrap();
    assert_eq!(created, RefCreated::Created);
    let parents = [first.sha.clone()];
    let next = c
        .create_commit(&repo, "lock 2", &tree, &parents)
        .await
        .unwrap();
    assert_eq!(
        c.get_commit(&repo, &next.sha).await.unwrap().parents,
        parents
    );
    let updated = c.update_ref(&repo, lock, &next.sha).await.unwrap();
    assert_eq!(updated, RefUpdated::Updated);
    let at = c.get_ref(&repo, lock).await.unwrap().map(|r| r.sha);
    assert_eq!(at, Some(next.sha));
    let locks = c.matching_refs(&repo, "refs/tfctl/locks/").await.unwrap();
    assert_eq!(locks.len(), 1);
    let merged = c
        .merge_pull(&repo, n, &head, MergeMethod::Merge, Some("Merge #1"))
        .await
        .unwrap();
    let tfctl::github::MergeOutcome::Merged(m) = merged else {
        panic!("{merged:?}")
    };
    c.pulls_for_commit(&repo, &m.sha).await.unwrap();
}

#[tokio::test]
async fn request_bodies_match_the_rest_description() {
    let spec = spec();
    let gh = FakeGithub::start();
    exercise(&gh).await;

    let requests = gh.requests();
    let mut problems = Vec::new();
    let mut with_body = BTreeSet::new();
    for r in &requests {
        assert!(
            (200..300).contains(&r.status),
            "{} {} answered {}",
            r.method,
            r.path,
            r.status
        );
        let (method, template) = r.route.split_once(' ').unwrap();
        let op =
            operation(&spec, method, template).unwrap_or_else(|| panic!("{} not in spec", r.route));
        let Some(body) = &r.body else { continue };
        with_body.insert(r.route.clone());
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "{} sends a body the spec doesn't describe",
            r.route
        );
        problems.extend(check(&spec, schema, body, &r.route));
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // Every route whose spec has a request body was exercised with one, and
    // every route of the client was called at all (App routes: see below).
    let called: BTreeSet<&str> = requests.iter().map(|r| r.route.as_str()).collect();
    for route in ROUTES {
        let key = route.to_string();
        if route.template == "/app"
            || route.template.starts_with("/app/")
            || route.template.ends_with("/installation")
        {
            continue; // covered by github_client's GitHub App test
        }
        assert!(called.contains(key.as_str()), "{key} not exercised");
        let op = operation(&spec, route.method, route.template).unwrap();
        let required = op["requestBody"]["required"] == Value::Bool(true);
        if required {
            assert!(
                with_body.contains(&key),
                "{key} requires a body but none was sent"
            );
        }
    }
}

#[test]
fn the_checker_catches_a_missing_required_field_and_an_unknown_one() {
    let spec = spec();
    let op = operation(&spec, "POST", "/repos/{owner}/{repo}/dispatches").unwrap();
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    assert!(check(&spec, schema, &json!({"event_type": "x"}), "b").is_empty());
    let p = check(&spec, schema, &json!({"client_payload": {}}), "b");
    assert_eq!(p, vec!["b: required field `event_type` missing"]);
    let p = check(
        &spec,
        schema,
        &json!({"event_type": "x", "eventtype": 1}),
        "b",
    );
    assert_eq!(p, vec!["b: unknown field `eventtype`"]);
    let many: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let p = check(
        &spec,
        schema,
        &json!({"event_type": "x", "client_payload": many}),
        "b",
    );
    assert_eq!(p, vec!["b.client_payload: more than 10 properties"]);
}

fn example<T: DeserializeOwned>(name: &str) -> T {
    let p = fixtures().join("api-responses").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn githubs_response_examples_decode_into_the_models() {
    let pr: PullRequest = example("pulls__get.200.json");
    assert_eq!(
        (pr.number, pr.head.git_ref.as_str(), pr.mergeable),
        (1347, "new-topic", Some(true))
    );
    assert_eq!(pr.label_names(), vec!["bug"]);
    let _: PullRequest = example("pulls__update.200.json");
    let list: Vec<PullRequest> = example("pulls__list.200.json");
    assert!(!list.is_empty());
    let assoc: Vec<PullRequest> =
        example("repos__list-pull-requests-associated-with-commit.200.json");
    assert!(!assoc.is_empty());
    let files: Vec<ChangedFile> = example("pulls__list-files.200.json");
    assert_eq!(files[0].filename, "file1.txt");
    let reviews: Vec<Review> = example("pulls__list-reviews.200.json");
    assert_eq!(reviews[0].state, "APPROVED");
    let merged: MergeResult = example("pulls__merge.200.response-if-merge-was-successful.json");
    assert!(merged.merged);
    let comments: Vec<Comment> = example("issues__list-comments.200.json");
    assert_eq!(comments[0].author(), Some("octocat"));
    let _: Comment = example("issues__create-comment.201.json");
    let _: Comment = example("issues__update-comment.200.json");
    let issue: Issue = example("issues__get.200.json");
    assert!(issue.pull_request.is_some());
    let _: Issue = example("issues__create.201.json");
    for f in [
        "issues__add-labels.200.json",
        "issues__list-labels-on-issue.200.json",
        "issues__remove-label.200.json",
    ] {
        let labels: Vec<Label> = example(f);
        assert!(!labels.is_empty(), "{f}");
    }
    let _: Label = example("issues__create-label.201.json");
    let access: CollaboratorPermission =
        example("repos__get-collaborator-permission-level.200.json");
    assert!(access.can_write());
    let app: App = example("apps__get-authenticated.200.json");
    assert_eq!(app.slug, "octoapp");
    let me: User = example("users__get-authenticated.200.json");
    assert_eq!(me.login, "octocat");
    let status: CommitStatus = example("repos__create-commit-status.201.json");
    assert_eq!(status.state, "success");
    for f in [
        "pulls__merge.405.response-if-merge-cannot-be-performed.json",
        "pulls__merge.409.response-if-sha-was-provided-and-pull-request-head-did-not-match.json",
    ] {
        let v: Value = example(f);
        assert!(v["message"].is_string(), "{f}");
    }
}
