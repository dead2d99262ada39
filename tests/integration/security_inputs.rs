//! Inputs that cannot lie (docs/DESIGN.md §4, trust model point 6): a config-repo
//! writer edits tfvars and directories to pick their own governance, and
//! tfctl refuses each attempt with exit 2 and one line naming the file
//! before anything runs or is written to GitHub. Every attack has a
//! positive control beside it (the honest change still validates), so a
//! test cannot pass because everything is broken.

use crate::harness;

use harness::{Repo, Run};

/// An S3 bucket stack of the offline example that passes its policies.
fn bucket(environment: &str, name: &str) -> String {
    format!(
        "environment = \"{environment}\"\nname        = \"{environment}-s3-{name}\"\n\
         encrypted   = true\ntags = {{\n  Owner      = \"platform\"\n  CostCenter = \"cc-100\"\n}}\n"
    )
}

/// `tfctl validate` of the checkout (local mode: the diff from `main`).
fn validate(repo: &Repo) -> Run {
    repo.tfctl().args(["validate", "--format", "json"]).run()
}

/// Asserts an input error: exit 2, one line on stderr, starting with
/// `tfctl: error: ` + `start`; and that no terraform ran.
fn refused(run: Run, repo: &Repo, start: &str) -> String {
    let run = run.expect_code(2);
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "not one line:\n{stderr}");
    assert!(
        stderr.starts_with(&format!("tfctl: error: {start}")),
        "expected `{start}`, got:\n{stderr}"
    );
    assert!(
        !repo.path().join(".tfctl/state").exists(),
        "terraform ran before the input error"
    );
    stderr
}

fn stack_ids(run: &Run) -> Vec<String> {
    run.json()["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn attack_environment_spelled_production_with_capital_p_is_refused() {
    let repo = Repo::from_example("offline");
    repo.write("config/S3/logs/logs.tfvars", &bucket("Production", "logs"))
        .commit("a bucket in Production");
    let err = refused(
        validate(&repo),
        &repo,
        "S3/logs/logs.tfvars:1: environment \"Production\" is not declared in tfctl.yaml \
         (declared: development, production); did you mean \"production\"?",
    );
    assert!(err.ends_with("?\n"), "{err}");

    // Positive control: spelled as declared, the same stack validates.
    repo.write("config/S3/logs/logs.tfvars", &bucket("production", "logs"))
        .commit("spelled as declared");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/logs"]);
    assert_eq!(run.json()["environment"], "production");
}

#[test]
fn attack_environment_alias_or_trailing_space_is_refused() {
    let repo = Repo::from_example("offline");
    for (given, hint) in [
        ("prod", "; did you mean \"production\"?"),
        ("production ", "; did you mean \"production\"?"),
        ("PRODUCTION", "; did you mean \"production\"?"),
        ("sandbox", ""),
    ] {
        repo.write("config/S3/logs/logs.tfvars", &bucket(given, "logs"))
            .commit(&format!("environment {given:?}"));
        refused(
            validate(&repo),
            &repo,
            &format!(
                "S3/logs/logs.tfvars:1: environment {given:?} is not declared in tfctl.yaml \
                 (declared: development, production){hint}"
            ),
        );
    }
    // An existing stack changed to another spelling is refused the same way.
    let text = repo
        .read("config/S3/logs-dev/logs-dev.tfvars")
        .replace("\"production\"", "\"Production\"");
    repo.remove("config/S3/logs/logs.tfvars")
        .write("config/S3/logs-dev/logs-dev.tfvars", &text)
        .commit("respelled");
    refused(
        validate(&repo),
        &repo,
        "S3/logs-dev/logs-dev.tfvars:1: environment \"Production\" is not declared",
    );
}

#[test]
fn attack_undeclared_default_environment_is_a_config_error() {
    let repo = Repo::from_example("offline");
    let yaml = repo.read("tfctl.yaml").replace(
        "default_environment: development",
        "default_environment: sandbox",
    );
    repo.write("tfctl.yaml", &yaml)
        .write("config/S3/logs/logs.tfvars", &bucket("production", "logs"))
        .commit("sandbox by default");
    let run = validate(&repo).expect_code(2);
    assert!(
        run.stderr().contains(
            "tfctl.yaml: default_environment: \"sandbox\" is not declared in environments \
             (declared: development, production)"
        ),
        "{}",
        run.stderr()
    );
}

/// The offline example with production's `encrypted` set by the platform
/// team (a `-var` for every production stack, as a role ARN would be).
fn with_production_variables(repo: &Repo) {
    let yaml = repo.read("tfctl.yaml").replace(
        "  production:\n    branch: prod\n",
        "  production:\n    branch: prod\n    variables:\n      encrypted: \"true\"\n",
    );
    assert!(yaml.contains("encrypted: \"true\""), "the example moved");
    repo.write("tfctl.yaml", &yaml)
        .commit("production encrypts");
}

#[test]
fn attack_tfvars_overriding_a_variable_its_environment_sets_is_refused() {
    let repo = Repo::from_example("offline");
    with_production_variables(&repo);
    // `bucket` sets `encrypted = true` on line 3: the platform's variable.
    repo.write(
        "config/S3/logs/logs.tfvars",
        &bucket("production", "logs").replace("encrypted   = true", "encrypted   = false"),
    )
    .commit("my bucket, my encryption");
    refused(
        validate(&repo),
        &repo,
        "S3/logs/logs.tfvars:3: sets `encrypted`, which environment \"production\" sets in \
         tfctl.yaml (environments.production.variables.encrypted); a tfvars may not override it",
    );

    // Positive control: without the line, the stack validates with the
    // environment's value.
    let honest: String = bucket("production", "logs")
        .lines()
        .filter(|l| !l.starts_with("encrypted"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("config/S3/logs/logs.tfvars", &honest)
        .commit("leave encryption to the platform");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/logs"]);
}

/// Writes `config/<dir>/<name>.tfvars` for a bucket named `name`.
fn bucket_at(repo: &Repo, dir: &str, name: &str) {
    repo.write(
        &format!("config/{dir}/{name}.tfvars"),
        &bucket("production", name),
    );
}

/// Files anywhere under `root` named `name` (a payload that ran leaves one).
fn found(root: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .any(|e| e.file_name() == name || (e.path().is_dir() && found(&e.path(), name)))
}

#[test]
fn attack_stack_directory_with_command_substitution_is_refused() {
    let repo = Repo::from_example("offline");
    let dir = "S3/x$(touch pwned)";
    bucket_at(&repo, dir, "logs");
    repo.commit("a stack whose id runs a command");
    let expected = format!("\"{dir}\": not a safe stack path: \"x$(touch pwned)\"");
    refused(validate(&repo), &repo, &expected);
    // `--all` discovers it too (graph: no terraform), and nothing ran it.
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert!(!found(repo.path(), "pwned"), "the payload ran");

    // Positive control: the same stack in a plain directory validates.
    repo.git(&["rm", "-q", "-r", "config/S3"]);
    repo.git(&["checkout", "-q", "main", "--", "config/S3"]);
    bucket_at(&repo, "S3/x-cmd", "logs");
    repo.commit("a plain directory");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/x-cmd"]);
}

#[test]
fn attack_stack_directory_with_a_newline_is_refused_on_one_line() {
    let repo = Repo::from_example("offline");
    // The second line would read as a forged status line in a log or comment.
    let dir = "S3/logs\n::notice::all checks passed";
    bucket_at(&repo, dir, "logs");
    repo.commit("a stack whose id has two lines");
    let err = refused(
        validate(&repo),
        &repo,
        "\"S3/logs\\n::notice::all checks passed\": not a safe stack path",
    );
    assert!(!err.contains("\n::notice::"), "{err}");
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());

    // Positive control: `--all` of the untouched estate is fine.
    let clean = Repo::from_example("offline");
    clean.tfctl().args(["graph", "--all"]).run().expect_code(0);
}

#[test]
fn attack_new_stack_sharing_an_unchanged_stacks_state_key_is_refused() {
    let repo = Repo::from_example("offline");
    // `S3/logs-dev` (production, unchanged) has the state key
    // S3/production/logs-dev/terraform.tfstate; a new directory with the
    // same service, name and environment would plan against its state.
    bucket_at(&repo, "S3/sandbox/logs-dev", "logs-dev");
    repo.commit("a bucket that takes over another's state");
    let expected = "S3/logs-dev and S3/sandbox/logs-dev would share the state key \
                    S3/production/logs-dev/terraform.tfstate (backend.key \
                    {service}/{environment}/{name}/terraform.tfstate in tfctl.yaml)";
    refused(validate(&repo), &repo, expected);
    // `--all` sees the same estate.
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert!(run.stderr().contains(expected), "{}", run.stderr());

    // Positive control: a name of its own validates, beside the old one.
    repo.git(&["rm", "-q", "-r", "config/S3/sandbox"]);
    bucket_at(&repo, "S3/sandbox/logs-sandbox", "logs-sandbox");
    repo.commit("a bucket with its own state");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/sandbox/logs-sandbox"]);
}

#[test]
fn attack_two_new_stacks_sharing_a_state_key_are_refused() {
    let repo = Repo::from_example("offline");
    bucket_at(&repo, "S3/team-a/shared", "shared");
    bucket_at(&repo, "S3/team-b/shared", "shared");
    repo.commit("two buckets, one state");
    refused(
        validate(&repo),
        &repo,
        "S3/team-a/shared and S3/team-b/shared would share the state key \
         S3/production/shared/terraform.tfstate",
    );
    // Positive control: in different environments they have their own.
    repo.write(
        "config/S3/team-b/shared/shared.tfvars",
        &bucket("development", "shared"),
    )
    .commit("one in development");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/team-a/shared", "S3/team-b/shared"]);
}

// ---- a PR file list that GitHub cut at 3,000 files ------------------------

use crate::support::fake_github::PrSeed;
use crate::support::fake_github::{FakeGithub, BOT_LOGIN};

const CONFIG_REPO: &str = "acme/infra";
/// The stack the PR hides behind 3,000 other files.
const HIDDEN: &str = "config/S3/logs-dev/logs-dev.tfvars";

/// A PR of 3,001 files whose last one changes a stack (GitHub's files API
/// lists the first 3,000), validated on a `repository_dispatch`.
struct BigPr {
    gh: FakeGithub,
    repo: Repo,
    pr: u64,
    head: String,
    dir: tempfile::TempDir,
}

impl BigPr {
    fn new() -> BigPr {
        let repo = Repo::from_example("offline");
        let main = repo.git(&["rev-parse", "main"]).trim().to_string();
        for i in 0..3000 {
            repo.write(&format!("docs/bulk/note-{i:04}.md"), "generated\n");
        }
        repo.touch_tfvars(HIDDEN)
            .commit("3,000 notes and one bucket");
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let mut files: Vec<String> = repo
            .git(&["diff", "--name-only", "main...HEAD"])
            .lines()
            .filter(|f| *f != HIDDEN)
            .map(str::to_string)
            .collect();
        files.push(HIDDEN.to_string());
        assert_eq!(files.len(), 3001);
        let gh = FakeGithub::start();
        // The repository the workflow runs in (its stack locks).
        gh.seed_repo("acme/controller");
        // The PR's base is the checkout's `main`.
        gh.seed_branch(CONFIG_REPO, "main", &main);
        let names: Vec<&str> = files.iter().map(String::as_str).collect();
        let pr = gh.seed_pr(
            CONFIG_REPO,
            PrSeed::new("feature", "main").head_sha(&head).files(&names),
        );
        BigPr {
            gh,
            repo,
            pr,
            head,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `tfctl validate` in `checkout` on the dispatch for this PR's head.
    fn validate_in(&self, checkout: &std::path::Path) -> Run {
        let event = serde_json::json!({
            "action": "tfctl-validate",
            "client_payload": {"source_repo": CONFIG_REPO, "pr_number": self.pr,
                               "head_sha": self.head, "base_ref": "main"},
            "repository": {"full_name": "acme/controller"},
            "sender": {"login": "alice", "type": "User"},
        });
        let path = self.dir.path().join("event.json");
        std::fs::write(&path, event.to_string()).unwrap();
        harness::Tfctl::new(checkout)
            .args(["validate", "--format", "json"])
            .in_actions(
                "repository_dispatch",
                &path,
                "acme/controller",
                self.dir.path(),
            )
            .envs(self.gh.env_vars())
            .run()
    }

    /// Every request that changed something on the fake GitHub.
    fn writes(&self) -> Vec<String> {
        self.gh
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

#[test]
fn attack_stack_change_hidden_past_the_3000th_pr_file_is_planned_from_git() {
    let pr = BigPr::new();
    // The fake, as GitHub, lists 3,000 of the 3,001 files.
    assert_eq!(tfctl_files_listed(&pr), (3000, Some(3001)));
    pr.gh.clear_requests();

    let run = pr.validate_in(pr.repo.path()).expect_code(0);
    let json_start = run.stdout().find('{').unwrap();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()[json_start..]).unwrap();
    let ids: Vec<&str> = report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["S3/logs-dev"], "the hidden stack was not planned");
    assert_eq!(report["stacks"][0]["status"], "passed");
    // Positive control: the genuine flow published its verdict.
    let comments = pr.gh.comments(CONFIG_REPO, pr.pr);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].user, BOT_LOGIN);
    assert!(
        comments[0].body.contains("S3/logs-dev"),
        "{}",
        comments[0].body
    );
    assert_eq!(pr.gh.labels(CONFIG_REPO, pr.pr), ["opa-passed"]);
}

/// What tfctl's GitHub client reads of the PR: the files listed over all
/// pages, and the PR's `changed_files`.
fn tfctl_files_listed(pr: &BigPr) -> (usize, Option<u64>) {
    use tfctl::github::{Client, ClientConfig, Credentials, RepoRef, Secret};
    let client = Client::new(ClientConfig::new(
        pr.gh.url(),
        Credentials::Token(Secret::new(crate::support::fake_github::TOKEN)),
    ))
    .unwrap();
    let repo = RepoRef::parse(CONFIG_REPO).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let files = client.list_pull_files(&repo, pr.pr).await.unwrap();
        let got = client.get_pull(&repo, pr.pr).await.unwrap();
        (files.len(), got.changed_files)
    })
}

#[test]
fn attack_cut_pr_file_list_without_history_is_refused_and_nothing_is_posted() {
    let pr = BigPr::new();
    // actions/checkout's default: the head commit only.
    let shallow = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--branch", "feature"])
        .arg(format!("file://{}", pr.repo.path().display()))
        .arg(shallow.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = pr.validate_in(shallow.path()).expect_code(2);
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "#{}: GitHub listed 3000 of its 3001 changed files (it lists at most 3,000), so the \
             rest must come from git, but the checkout lacks the PR's base commit",
            pr.pr
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("fetch the full history (actions/checkout fetch-depth: 0)"),
        "{stderr}"
    );
    assert!(
        pr.writes().is_empty(),
        "wrote to GitHub: {:#?}",
        pr.writes()
    );
    assert!(pr.gh.comments(CONFIG_REPO, pr.pr).is_empty());
    assert!(pr.gh.labels(CONFIG_REPO, pr.pr).is_empty());
    assert!(pr.gh.statuses(CONFIG_REPO, &pr.head).is_empty());

    // A deeper clone that holds the base is still cut history: refused.
    let deeper = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "2", "--branch", "feature"])
        .arg(format!("file://{}", pr.repo.path().display()))
        .arg(deeper.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let run = pr.validate_in(deeper.path()).expect_code(2);
    assert!(
        run.stderr().contains("the checkout is shallow"),
        "{}",
        run.stderr()
    );
    assert!(
        pr.writes().is_empty(),
        "wrote to GitHub: {:#?}",
        pr.writes()
    );

    // Positive control: the full history validates the same PR.
    pr.validate_in(pr.repo.path()).expect_code(0);
    assert_eq!(pr.gh.comments(CONFIG_REPO, pr.pr).len(), 1);
}

/// A merged PR of 3,001 files whose last one changes a stack, validated
/// (locally, from git) and seeded as the apply gate wants it.
fn big_merged_pr() -> (crate::apply_support::Scenario, FakeGithub, u64) {
    use crate::apply_support::{self, Scenario};
    let repo = apply_support::repo_with(|_| {});
    for i in 0..3000 {
        repo.write(&format!("docs/bulk/note-{i:04}.md"), "generated\n");
    }
    repo.touch_tfvars(HIDDEN);
    let digests = apply_support::validate(&repo);
    assert_eq!(digests.keys().collect::<Vec<_>>(), ["S3/logs-dev"]);
    let mut sc = Scenario::merge(repo, digests);
    assert_eq!(sc.files.len(), 3001);
    // GitHub's order puts the stack last, past the files API's 3,000.
    sc.files.sort_by_key(|f| f.filename == HIDDEN);
    let gh = FakeGithub::start();
    // The repository the workflow runs in (its stack locks).
    gh.seed_repo("acme/controller");
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    (sc, gh, n)
}

#[test]
fn attack_merged_pr_with_a_stack_change_past_the_3000th_file_is_applied_from_git() {
    let (sc, gh, n) = big_merged_pr();
    let run = sc.apply(&gh, n).run().expect_code(0);
    assert!(
        sc.state("S3/logs-dev").is_some(),
        "the hidden stack was not applied\n{}",
        run.stderr()
    );
    let body = crate::apply_support::apply_comment(&gh, n);
    assert!(body.contains("1 stack: 1 applied"), "{body}");
}

#[test]
fn attack_merged_pr_cut_at_3000_files_in_a_shallow_checkout_is_refused() {
    use crate::apply_support::Scenario;
    let (sc, gh, n) = big_merged_pr();
    // actions/checkout's default: the merge commit without its parents.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--branch", "prod"])
        .arg(format!("file://{}", sc.repo.path().display()))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shallow = Scenario {
        repo: Repo { dir },
        out: tempfile::tempdir().unwrap(),
        head: sc.head.clone(),
        merge: sc.merge.clone(),
        digests: sc.digests.clone(),
        files: sc.files.clone(),
    };
    gh.clear_requests();
    let run = shallow.apply(&gh, n).run().expect_code(2);
    assert!(
        run.stderr().contains(&format!(
            "#{n}: GitHub listed 3000 of its 3001 changed files (it lists at most 3,000), so the \
             rest must come from git, but the checkout lacks the first parent of the merge commit"
        )),
        "{}",
        run.stderr()
    );
    let writes: Vec<String> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "wrote to GitHub: {writes:#?}");
    assert!(shallow.state("S3/logs-dev").is_none());
    assert!(crate::apply_support::apply_comments(&gh, n).is_empty());
}

#[test]
fn attack_stack_change_past_the_3000th_file_still_gets_its_validation_dispatched() {
    use crate::flow_support::{set_pr, Flow, CONFIG, CONTROLLER};
    let f = Flow::new("  controller_repo: acme/controller\n  validate_on: pull_request\n");
    let main = f.repo.git(&["rev-parse", "main"]).trim().to_string();
    for i in 0..3000 {
        f.repo
            .write(&format!("docs/bulk/note-{i:04}.md"), "generated\n");
    }
    f.repo
        .touch_tfvars(HIDDEN)
        .commit("3,000 notes and one bucket");
    let head = f.repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let mut files: Vec<String> = f
        .repo
        .git(&["diff", "--name-only", "main...HEAD"])
        .lines()
        .filter(|p| *p != HIDDEN)
        .map(str::to_string)
        .collect();
    files.push(HIDDEN.into());
    // The notes, the flow's tfctl.yaml, and the bucket last.
    assert_eq!(files.len(), 3002);
    f.gh.seed_branch(CONFIG, "main", &main);
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let n = f.gh.seed_pr(
        CONFIG,
        PrSeed::new("feature", "main").head_sha(&head).files(&names),
    );
    let event = f.event("pull_request.opened.json", |v| {
        v["number"] = serde_json::json!(n);
        set_pr(&mut v["pull_request"], &f.gh, n);
        v["pull_request"]["base"]["sha"] = serde_json::json!(main);
    });
    let run = f.run("dispatch", "pull_request", &event).expect_code(0);
    let sent = f.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1, "{}", run.stdout());
    assert!(run.stdout().contains("S3/logs-dev"), "{}", run.stdout());
}
