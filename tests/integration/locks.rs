//! Stack locks end to end (docs/DESIGN.md §8): two PRs change one stack.
//! Real git, real Terraform, real Rego, the real binary against the fake
//! GitHub on 127.0.0.1, whose refs API refuses to create a ref twice and
//! to move one except by fast-forward, as GitHub does.
//!
//! Each attack or failure has its positive control in the same test: the
//! holder validates and holds; the waiting PR passes once the lock is free.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::apply_support::{self, Scenario, REPO};
use crate::flow_support::{fixture, set_pr, CONFIG};
use crate::harness::{self, Repo, Run};
use crate::support::fake_github::{fake_sha, FakeGithub, Fault, PrSeed, BOT_LOGIN};
use crate::support::keys::{key, trust_yaml, CONTROLLER_KEY};
use tfctl::locks::{ref_name, LockRecord, LockState};

pub(crate) const CONTROLLER: &str = "acme/controller";
pub(crate) const STACK: &str = "S3/bucket-00";
const FILE: &str = "config/S3/bucket-00/bucket-00.tfvars";

fn bucket_text(name: &str) -> String {
    format!(
        "environment = \"production\"\nname        = \"production-s3-{name}\"\nencrypted   = true\npublic      = false\ntags = {{\n  Owner      = \"data\"\n  CostCenter = \"cc-200\"\n}}\n"
    )
}

/// The offline example with two PRs, `feature-a` (#a) and `feature-b`
/// (#b), each adding the same stack with its own bucket name.
pub(crate) struct TwoPrs {
    pub gh: FakeGithub,
    pub repo: Repo,
    pub dir: tempfile::TempDir,
    pub a: u64,
    pub b: u64,
}

impl TwoPrs {
    pub(crate) fn new() -> TwoPrs {
        TwoPrs::with_config(str::to_string)
    }

    /// As [`TwoPrs::new`], with the example's tfctl.yaml edited by `edit`
    /// (on `main`, before the PRs branch off).
    pub(crate) fn with_config(edit: impl Fn(&str) -> String) -> TwoPrs {
        let repo = Repo::from_example("offline");
        repo.git(&["checkout", "-q", "main"]);
        let config = edit(&repo.read("tfctl.yaml"));
        repo.write(
            "tfctl.yaml",
            &format!("{config}{}approvers:\n  users: [sam]\n", trust_yaml()),
        );
        repo.commit("trust the controller");
        let gh = FakeGithub::start();
        gh.seed_repo(CONTROLLER);
        let main = repo.git(&["rev-parse", "main"]).trim().to_string();
        gh.seed_branch(CONFIG, "prod", &main);
        let mut numbers = Vec::new();
        for (branch, name) in [("feature-a", "bucket-a"), ("feature-b", "bucket-b")] {
            repo.git(&["checkout", "-q", "-B", branch, "main"]);
            repo.write(FILE, &bucket_text(name));
            repo.commit(name);
            let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
            numbers.push(
                gh.seed_pr(
                    CONFIG,
                    PrSeed::new(branch, "main")
                        .head_sha(&head)
                        .author("alice")
                        .files(&[FILE]),
                ),
            );
        }
        TwoPrs {
            gh,
            repo,
            dir: tempfile::tempdir().unwrap(),
            a: numbers[0],
            b: numbers[1],
        }
    }

    pub(crate) fn branch(&self, pr: u64) -> &'static str {
        if pr == self.a {
            "feature-a"
        } else {
            "feature-b"
        }
    }

    pub(crate) fn head(&self, pr: u64) -> String {
        self.gh.pr(CONFIG, pr).head_sha
    }

    /// `tfctl validate --format json` of PR `pr`, as the controller runs it
    /// on its `tfctl-validate` dispatch.
    pub(crate) fn validate(&self, pr: u64) -> Run {
        self.validate_in_run(pr, "7")
    }

    /// [`TwoPrs::validate`] as Actions run `run_id`.
    pub(crate) fn validate_in_run(&self, pr: u64, run_id: &str) -> Run {
        self.repo.git(&["checkout", "-q", self.branch(pr)]);
        let head = self.head(pr);
        let event = harness::validate_dispatch(self.dir.path(), CONFIG, pr, &head);
        self.repo
            .tfctl()
            .args(["validate", "--format", "json"])
            .in_actions("repository_dispatch", &event, CONTROLLER, self.dir.path())
            .env("TFCTL_SIGNING_KEY", CONTROLLER_KEY)
            .env("GITHUB_RUN_ID", run_id)
            .envs(self.gh.env_vars())
            .run()
    }

    pub(crate) fn lock(&self) -> LockRecord {
        lock_of(&self.gh, CONTROLLER, STACK).expect("the stack has a lock")
    }

    pub(crate) fn comment(&self, pr: u64) -> String {
        self.gh
            .comments(CONFIG, pr)
            .into_iter()
            .map(|c| c.body)
            .find(|b| b.contains("tfctl:validation"))
            .expect("a validation comment")
    }

    /// PR `pr` merged, with `applied` the bot's signed apply attestation of
    /// its merge commit (state `applied`) — and no release ever written.
    pub(crate) fn merged(&self, pr: u64, applied: bool) {
        let merge = fake_sha(&format!("merge-{pr}"));
        let sha = merge.clone();
        self.gh.update_pr(CONFIG, pr, |p| {
            p.merged = true;
            p.state = "closed".into();
            p.merged_at = Some("2026-12-03T10:00:00Z".into());
            p.merge_commit_sha = Some(sha);
        });
        if applied {
            let m = tfctl::render::marker::ApplyMarker {
                version: tfctl::render::marker::ATTESTATION_VERSION,
                repository: CONFIG.into(),
                pr_number: Some(pr),
                merge_commit_sha: Some(merge),
                environment: Some("production".into()),
                branch: "prod".into(),
                state: tfctl::render::marker::ApplyState::Applied,
                applied: None,
                stacks: Default::default(),
                time: "2026-12-03T10:05:00Z".into(),
                run_id: "9".into(),
                signature: None,
            };
            let signed = tfctl::render::marker::signed(&m, Some(&key(CONTROLLER_KEY)));
            self.gh.seed_comment(
                CONFIG,
                pr,
                BOT_LOGIN,
                &tfctl::render::marker::to_comment(&signed),
            );
        }
    }

    /// Two approvals of PR `pr`'s head by writers, and the review payload
    /// of the last one.
    pub(crate) fn approved(&self, pr: u64) -> PathBuf {
        let head = self.head(pr);
        let mut id = 0;
        for user in ["bob", "carol"] {
            self.gh.set_permission(CONFIG, user, "write");
            id = self
                .gh
                .seed_review(CONFIG, pr, user, "APPROVED", Some(&head));
        }
        let mut v = fixture("pull_request_review.submitted.json");
        v["action"] = json!("submitted");
        v["review"]["id"] = json!(id);
        v["review"]["state"] = json!("approved");
        v["review"]["user"]["login"] = json!("carol");
        v["review"]["commit_id"] = json!(head);
        set_pr(&mut v["pull_request"], &self.gh, pr);
        v["repository"]["full_name"] = json!(CONFIG);
        let path = self.dir.path().join("review.json");
        std::fs::write(&path, v.to_string()).unwrap();
        path
    }

    /// `tfctl COMMAND` on a `workflow_dispatch` of the controller started
    /// by `sender` with `inputs`.
    pub(crate) fn dispatched(&self, command: &str, sender: &str, inputs: Value) -> Run {
        let mut v = fixture("workflow_dispatch.json");
        v["inputs"] = inputs;
        v["sender"]["login"] = json!(sender);
        v["repository"]["full_name"] = json!(CONTROLLER);
        let path = self.dir.path().join("dispatch.json");
        std::fs::write(&path, v.to_string()).unwrap();
        self.repo
            .tfctl()
            .args([command])
            .in_actions("workflow_dispatch", &path, CONTROLLER, self.dir.path())
            .envs(self.gh.env_vars())
            .run()
    }

    /// `author` comments `body` on PR `pr`, and `tfctl merge` runs on it
    /// (after two writers approved).
    pub(crate) fn commented(&self, pr: u64, author: &str, body: &str) -> Run {
        self.approved(pr);
        let id = self.gh.seed_comment(CONFIG, pr, author, body);
        let rec = self
            .gh
            .comments(CONFIG, pr)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        let mut v = fixture("issue_comment.created.json");
        v["comment"]["created_at"] = json!(rec.created_at);
        v["comment"]["updated_at"] = json!(rec.updated_at);
        v["issue"]["number"] = json!(pr);
        v["issue"]["user"]["login"] = json!("alice");
        v["issue"]["pull_request"] =
            json!({"url": format!("https://api.github.test/repos/{CONFIG}/pulls/{pr}")});
        v["comment"]["id"] = json!(id);
        v["comment"]["body"] = json!(body);
        v["comment"]["user"]["login"] = json!(author);
        v["repository"]["full_name"] = json!(CONFIG);
        let path = self.dir.path().join("comment.json");
        std::fs::write(&path, v.to_string()).unwrap();
        self.repo
            .tfctl()
            .args(["merge"])
            .in_actions("issue_comment", &path, CONFIG, self.dir.path())
            .envs(self.gh.env_vars())
            .run()
    }

    pub(crate) fn merge(&self, pr: u64) -> Run {
        let event = self.approved(pr);
        self.repo
            .tfctl()
            .args(["merge"])
            .in_actions("pull_request_review", &event, CONFIG, self.dir.path())
            .envs(self.gh.env_vars())
            .run()
    }
}

/// The JSON report on stdout, after the `::add-mask::` lines of Actions.
pub(crate) fn report_of(run: &Run) -> Value {
    let out = run.stdout();
    serde_json::from_str(&out[out.find('{').expect("a JSON report")..]).unwrap()
}

/// The lock record of `stack` in `repo`, as the fake holds it.
fn lock_of(gh: &FakeGithub, repo: &str, stack: &str) -> Option<LockRecord> {
    let sha = gh.git_ref(repo, &ref_name(stack))?;
    let message = gh.git_commit_message(repo, &sha).expect("the lock commit");
    Some(LockRecord::parse(&message).unwrap())
}

fn newest_status(gh: &FakeGithub, sha: &str) -> (String, String) {
    let s = gh
        .statuses(CONFIG, sha)
        .into_iter()
        .filter(|s| s.context == "tfctl/validate")
        .max_by_key(|s| s.id)
        .expect("a tfctl/validate status");
    (s.state, s.description.unwrap_or_default())
}

#[test]
fn a_pr_on_a_locked_stack_is_validated_not_approvable_refused_merge_then_passes_once_the_holder_is_applied(
) {
    let t = TwoPrs::new();

    // The holder: validated, passed, holds the lock.
    t.validate(t.a).expect_code(0);
    let lock = t.lock();
    assert_eq!((lock.state, lock.pr), (LockState::Held, t.a));
    assert_eq!(lock.head_sha, t.head(t.a));

    // The second PR: planned and judged (it passes policy), but locked.
    let run = t.validate(t.b).expect_code(1);
    let report = report_of(&run);
    assert_eq!(report["result"], "passed", "{report}");
    assert_eq!(report["locks"][0]["stack"], STACK, "{report}");
    assert_eq!(report["locks"][0]["holder"], format!("#{}", t.a));
    let comment = t.comment(t.b);
    assert!(
        comment.contains("### 🔒 tfctl validate passed, locked: `production` → `prod`"),
        "{comment}"
    );
    let locked_line = format!("`{STACK}` is locked by #{}, validated 1 min ago", t.a);
    assert!(comment.contains(&locked_line), "{comment}");
    assert!(
        comment.contains(&format!("**Next step:** wait for #{}", t.a)),
        "{comment}"
    );
    let (state, description) = newest_status(&t.gh, &t.head(t.b));
    assert_eq!(state, "failure");
    assert!(
        description.contains(&format!("locked by #{}", t.a)),
        "{description}"
    );
    // Listed as waiting, so the release re-validates it.
    assert_eq!(t.lock().waiters, vec![t.b]);
    assert_eq!(t.lock().pr, t.a, "waiting takes nothing from the holder");

    // Approved twice by writers, the merge is still refused, by the lock.
    let run = t.merge(t.b).expect_code(1);
    let said = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        said.contains(&format!("{STACK} is locked by #{}", t.a)),
        "{said}"
    );
    assert!(!t.gh.pr(CONFIG, t.b).merged);

    // The holder is merged and applied; its release was never written.
    t.merged(t.a, true);
    assert_eq!(t.lock().state, LockState::Held, "nothing released it");
    let run = t.validate(t.b).expect_code(0);
    assert_eq!(report_of(&run)["locks"], json!([]));
    let lock = t.lock();
    assert_eq!((lock.state, lock.pr), (LockState::Held, t.b));
    assert!(
        lock.reason
            .as_deref()
            .is_some_and(|r| r.contains("merged and applied")),
        "{lock:?}"
    );
    assert!(!t.comment(t.b).contains("is locked by"));
    assert_eq!(newest_status(&t.gh, &t.head(t.b)).0, "success");
    // And now the merge goes through.
    t.merge(t.b).expect_code(0);
    assert!(t.gh.pr(CONFIG, t.b).merged);
}

#[test]
fn a_holder_merged_but_not_yet_applied_still_holds_and_one_closed_unmerged_holds_nothing() {
    let t = TwoPrs::new();
    t.validate(t.a).expect_code(0);

    // Merged, apply still to come: the lock stands.
    t.merged(t.a, false);
    t.validate(t.b).expect_code(1);
    assert_eq!(t.lock().pr, t.a);

    // Closed without merge (a fresh estate): free at the next acquisition,
    // with no command run at the close.
    let t = TwoPrs::new();
    t.validate(t.a).expect_code(0);
    t.gh.update_pr(CONFIG, t.a, |p| p.state = "closed".into());
    t.validate(t.b).expect_code(0);
    let lock = t.lock();
    assert_eq!((lock.state, lock.pr), (LockState::Held, t.b));
    assert!(
        lock.reason
            .as_deref()
            .is_some_and(|r| r.contains("closed without merge")),
        "{lock:?}"
    );
}

#[test]
fn an_apply_that_finishes_releases_its_locks_and_revalidates_the_prs_that_waited() {
    let repo = apply_support::repo_with(|_| {});
    repo.touch_tfvars("config/IAM/admin-role/admin-role.tfvars");
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    let waiting = gh.seed_pr(
        REPO,
        PrSeed::new("other", "prod")
            .head_sha(&fake_sha("other"))
            .author("dave"),
    );
    let closed = gh.seed_pr(
        REPO,
        PrSeed::new("gone", "prod").head_sha(&fake_sha("gone")),
    );
    gh.update_pr(REPO, closed, |p| p.state = "closed".into());
    let held = LockRecord {
        stack: "IAM/admin-role".into(),
        state: LockState::Held,
        repository: REPO.into(),
        pr: n,
        head_sha: sc.head.clone(),
        time: "2026-12-03T09:00:00Z".into(),
        by: "run 1".into(),
        reason: None,
        waiters: vec![waiting, closed],
    };
    gh.seed_git_ref(REPO, &ref_name("IAM/admin-role"), &held.message());

    sc.apply(&gh, n).run().expect_code(0);

    let lock = lock_of(&gh, REPO, "IAM/admin-role").unwrap();
    assert_eq!(lock.state, LockState::Free, "{lock:?}");
    assert_eq!(
        lock.reason.as_deref(),
        Some(format!("#{n} was applied").as_str())
    );
    // The open waiter is re-validated at its head; the closed one is not.
    let sent: Vec<(String, Value)> = gh
        .dispatches(REPO)
        .into_iter()
        .map(|d| (d.event_type, d.client_payload))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "tfctl-validate");
    assert_eq!(sent[0].1["pr_number"], waiting);
    assert_eq!(sent[0].1["head_sha"], fake_sha("other"));
}

/// Two PRs' validations race for one stack's lock, through the real client
/// and the fake's compare-and-swap refs, with answers dropped after the
/// write (the client retries): exactly one holds it, the other waits on it.
#[test]
fn two_prs_racing_for_one_lock_exactly_one_holds_it_even_when_answers_are_lost() {
    let gh = FakeGithub::start();
    gh.seed_repo(CONTROLLER);
    let repo = Repo::from_example("offline");
    let cfg = tfctl::config::load(&repo.path().join("tfctl.yaml")).unwrap();
    let config = tfctl::github::RepoRef::parse(CONFIG).unwrap();
    let controller = tfctl::github::RepoRef::parse(CONTROLLER).unwrap();
    let prs: Vec<u64> = (0..2)
        .map(|i| {
            gh.seed_pr(
                CONFIG,
                PrSeed::new(&format!("race-{i}"), "main").head_sha(&fake_sha(&format!("r{i}"))),
            )
        })
        .collect();
    let client = crate::git_refs::client(&gh);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for round in 0..6 {
        let stack = format!("S3/race-{round}");
        if round % 2 == 1 {
            gh.inject_fault(
                "POST /repos/{owner}/{repo}/git/refs",
                Fault::DropAfterWrite,
                1,
            );
            gh.inject_fault(
                "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
                Fault::DropAfterWrite,
                1,
            );
        }
        let store = tfctl::commands::locking::LockStore {
            home: &client,
            repo: &controller,
            client: &client,
            bot_login: BOT_LOGIN,
            cfg: &cfg,
        };
        let claim = |pr: u64| tfctl::locks::Claimant {
            repository: config.to_string(),
            pr,
            head_sha: fake_sha(&format!("h{pr}")),
            time: "2026-12-03T10:00:00Z".into(),
            by: format!("run of #{pr}"),
        };
        let (one, two) = runtime.block_on(async {
            let (a, b) = (claim(prs[0]), claim(prs[1]));
            tokio::join!(store.acquire(&stack, &a), store.acquire(&stack, &b))
        });
        use tfctl::commands::locking::Outcome;
        let outcomes = [one.unwrap(), two.unwrap()];
        let holders: Vec<u64> = outcomes
            .iter()
            .zip(&prs)
            .filter(|(o, _)| **o == Outcome::Held)
            .map(|(_, &pr)| pr)
            .collect();
        assert_eq!(holders.len(), 1, "round {round}: {outcomes:?}");
        let lock = lock_of(&gh, CONTROLLER, &stack).unwrap();
        assert_eq!((lock.state, lock.pr), (LockState::Held, holders[0]));
        let waiter = if holders[0] == prs[0] { prs[1] } else { prs[0] };
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Outcome::Locked(h) if h.pr == holders[0])),
            "round {round}: the other one learns who holds it: {outcomes:?}"
        );
        assert_eq!(lock.waiters, vec![waiter], "round {round}");
    }
}

#[test]
fn attack_unlock_by_a_writer_who_is_no_special_approver_is_refused_and_an_approvers_unlock_frees_and_revalidates(
) {
    let t = TwoPrs::new();
    t.validate(t.a).expect_code(0);
    t.validate(t.b).expect_code(1);
    let inputs = json!({"stack": STACK, "reason": "the apply of #1 will never run"});

    // A writer (not in `approvers`) starts the unlock workflow.
    t.gh.set_permission(CONTROLLER, "mallory", "write");
    let run = t
        .dispatched("unlock", "mallory", inputs.clone())
        .expect_code(2);
    assert!(
        run.stderr().contains("mallory is not a special approver"),
        "{}",
        run.stderr()
    );
    assert_eq!((t.lock().state, t.lock().pr), (LockState::Held, t.a));
    assert!(t.gh.dispatches(CONTROLLER).is_empty());

    // `tfctl locks` names the holder and who waits.
    let listed = t.dispatched("locks", "sam", json!({})).expect_code(0);
    let line = format!("{STACK}  locked by {CONFIG}#{} since", t.a);
    assert!(listed.stdout().contains(&line), "{}", listed.stdout());
    assert!(
        listed.stdout().contains(&format!("waiting: #{}", t.b)),
        "{}",
        listed.stdout()
    );

    // A special approver: freed, audited, the waiting PR re-validated.
    let run = t.dispatched("unlock", "sam", inputs).expect_code(0);
    assert!(run.stdout().contains("freed by sam"), "{}", run.stdout());
    let lock = t.lock();
    assert_eq!(lock.state, LockState::Free);
    assert_eq!(lock.by, "sam");
    assert_eq!(
        lock.reason.as_deref(),
        Some("the apply of #1 will never run")
    );
    let audit = std::fs::read_to_string(t.dir.path().join("tfctl-audit.jsonl")).unwrap();
    let event: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        (event["action"].as_str(), event["actor"].as_str()),
        (Some("unlock"), Some("sam"))
    );
    let sent = t.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_type, "tfctl-validate");
    assert_eq!(sent[0].client_payload["pr_number"], t.b);
    // That re-validation now passes and takes the lock.
    t.validate(t.b).expect_code(0);
    assert_eq!((t.lock().state, t.lock().pr), (LockState::Held, t.b));
}

#[test]
fn a_pr_closed_without_merge_frees_its_locks_when_dispatch_asks_and_its_waiters_are_revalidated() {
    let t = TwoPrs::new();
    t.validate(t.a).expect_code(0);
    t.validate(t.b).expect_code(1);
    let comments_on_a = t.gh.comments(CONFIG, t.a).len();

    // `tfctl dispatch` sends tfctl-validate when #a is closed unmerged.
    t.gh.update_pr(CONFIG, t.a, |p| p.state = "closed".into());
    let run = t.validate(t.a).expect_code(0);
    let said = format!(
        "#{} is closed without merge: 1 lock(s) freed ({STACK})",
        t.a
    );
    assert!(run.stdout().contains(&said), "{}", run.stdout());
    let lock = t.lock();
    assert_eq!((lock.state, lock.pr), (LockState::Free, t.a));
    let reason = format!("#{} was closed without merge", t.a);
    assert_eq!(lock.reason.as_deref(), Some(reason.as_str()));
    // Nothing planned or published on the closed PR; the waiter is asked for.
    assert_eq!(t.gh.comments(CONFIG, t.a).len(), comments_on_a);
    let sent = t.gh.dispatches(CONTROLLER);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            sent[0].event_type.as_str(),
            &sent[0].client_payload["pr_number"]
        ),
        ("tfctl-validate", &json!(t.b))
    );
    t.validate(t.b).expect_code(0);
    assert_eq!((t.lock().state, t.lock().pr), (LockState::Held, t.b));
}
