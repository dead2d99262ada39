//! Shared set-up of the `tfctl dispatch` / `tfctl merge` end-to-end tests:
//! two repositories on the fake GitHub (config and controller), a real git
//! checkout of the offline example with a tfctl.yaml for the flow, real
//! webhook payloads (octokit/webhooks examples) edited into shape, and a
//! runner that sets the Actions context the way a workflow would.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{Repo, Run};
use crate::support::fake_github::FakeGithub;

pub(crate) const CONFIG: &str = "acme/config";
pub(crate) const CONTROLLER: &str = "acme/controller";
pub(crate) const BOT: &str = "github-actions[bot]";
/// The workflow's `GITHUB_TOKEN`, acting as [`BOT`].
pub(crate) const TOKEN: &str = "ghs_flowtesttoken";
/// The config repository's writers (whose approvals count); anyone else
/// only reads it.
pub(crate) const WRITERS: &[&str] = &["alice", "bob", "carol"];

/// The flow part of tfctl.yaml, appended to the offline example's.
pub(crate) const FLOW_YAML: &str = "
labels:
  passed: opa-passed
  failed: opa-failed
  override: opa-override
approvers:
  users: [sec-lead]
  teams: [acme/platform-leads]
";

/// A fake GitHub with both repositories, and a config checkout.
pub(crate) struct Flow {
    pub gh: FakeGithub,
    pub repo: Repo,
    pub tmp: tempfile::TempDir,
}

impl Flow {
    /// `github_yaml` is the `github:` section's body (indented two spaces).
    pub(crate) fn new(github_yaml: &str) -> Flow {
        let gh = FakeGithub::start();
        gh.add_token(TOKEN, BOT);
        gh.seed_repo(CONFIG);
        gh.seed_repo(CONTROLLER);
        for user in WRITERS {
            gh.set_permission(CONFIG, user, "write");
        }
        let repo = Repo::from_example("offline");
        let yaml = repo.read("tfctl.yaml").replace(
            "  production:\n    branch: prod",
            "  staging:\n    branch: stage\n    approvals: 1\n  production:\n    branch: prod",
        );
        assert!(
            yaml.contains("staging:"),
            "the example's environments moved"
        );
        repo.write(
            "tfctl.yaml",
            &format!(
                "{yaml}{FLOW_YAML}{}github:\n{github_yaml}",
                crate::support::keys::trust_yaml()
            ),
        );
        repo.commit("flow config");
        Flow {
            gh,
            repo,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a payload made from fixture `tests/fixtures/github/events/<file>`
    /// with `edit` applied, and returns its path.
    pub(crate) fn event(&self, file: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut v = fixture(file);
        retarget_repository(&mut v, CONFIG);
        edit(&mut v);
        let path = self.path(&format!("event-{}.json", fake_id()));
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        path
    }

    /// A `pull_request` payload from fixture `file` for PR `number` as the
    /// fake holds it now.
    pub(crate) fn pr_event(&self, file: &str, number: u64) -> PathBuf {
        self.event(file, |v| {
            v["number"] = json!(number);
            set_pr(&mut v["pull_request"], &self.gh, number);
        })
    }

    /// Runs `tfctl <command>` as a workflow step in the config repository.
    pub(crate) fn run(&self, command: &str, event_name: &str, event_path: &Path) -> Run {
        self.run_with(command, &[], event_name, event_path, &[])
    }

    /// As [`Flow::run`], with extra arguments and environment variables.
    pub(crate) fn run_with(
        &self,
        command: &str,
        args: &[&str],
        event_name: &str,
        event_path: &Path,
        extra_env: &[(&str, &str)],
    ) -> Run {
        let mut t = self
            .repo
            .tfctl()
            .args([command, "--audit-log"])
            .args([self.path("audit.jsonl")])
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", event_path)
            .env("GITHUB_REPOSITORY", CONFIG)
            .env("GITHUB_API_URL", self.gh.url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_SERVER_URL", "https://github.test")
            .env("RUNNER_TEMP", self.tmp.path())
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("GITHUB_OUTPUT", self.path("output.txt"));
        for (k, v) in extra_env {
            t = t.env(k, v);
        }
        let run = t.run();
        // `::add-mask::` is how Actions learns to hide it; nothing else may show it.
        let shown = |text: String| {
            text.lines()
                .any(|l| l.contains(TOKEN) && !l.starts_with("::add-mask::"))
        };
        assert!(
            !shown(run.stdout()) && !shown(run.stderr()),
            "the token leaked"
        );
        run
    }

    /// The audit log's events, oldest first.
    pub(crate) fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub(crate) fn summary(&self) -> String {
        std::fs::read_to_string(self.path("summary.md")).unwrap_or_default()
    }

    /// The last value the runs set for step output `name`.
    pub(crate) fn output(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.path("output.txt")).unwrap_or_default();
        let mut lines = text.lines();
        let mut found = None;
        while let Some(line) = lines.next() {
            if let Some((key, delimiter)) = line.split_once("<<") {
                let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
                if key == name {
                    found = Some(value.join("\n"));
                }
            }
        }
        found
    }
}

pub(crate) fn fixture(file: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/events")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// Points every `full_name` of the payload (repository, PR head and base
/// repos) at `full_name`, as the same event in that repository would.
fn retarget_repository(v: &mut Value, full_name: &str) {
    match v {
        Value::Object(map) => {
            if map.contains_key("full_name") && map.contains_key("name") {
                map.insert("full_name".into(), json!(full_name));
                map.insert("name".into(), json!(full_name.split('/').nth(1)));
            }
            for child in map.values_mut() {
                retarget_repository(child, full_name);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| retarget_repository(i, full_name)),
        _ => {}
    }
}

fn fake_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sets a PR object (`pull_request` of PR and review payloads) to the
/// state of PR `number` of the fake.
pub(crate) fn set_pr(pr: &mut Value, gh: &FakeGithub, number: u64) {
    let rec = gh.pr(CONFIG, number);
    pr["number"] = json!(number);
    pr["state"] = json!(rec.state);
    pr["title"] = json!(rec.title);
    pr["user"]["login"] = json!(rec.user);
    pr["head"]["ref"] = json!(rec.head_ref);
    pr["head"]["sha"] = json!(rec.head_sha);
    pr["base"]["ref"] = json!(rec.base_ref);
    pr["merged"] = json!(rec.merged);
    pr["merge_commit_sha"] = json!(rec.merge_commit_sha);
    // As GitHub's payloads: the true count, even past the files API's 3,000.
    pr["changed_files"] = json!(rec.files.len());
}
