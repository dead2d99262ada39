//! Test harness for end-to-end tests: a real git repository made from an
//! example in a temp dir, and a builder that runs the real tfctl binary with
//! real Terraform (`TFCTL_TERRAFORM`, else `.tools/bin/terraform`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The Terraform shim installed by scripts/install-terraform.sh.
pub(crate) fn terraform() -> PathBuf {
    if let Ok(path) = std::env::var("TFCTL_TERRAFORM") {
        return PathBuf::from(path);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/terraform");
    assert!(
        local.exists(),
        "Terraform not installed: run scripts/install-terraform.sh (or set TFCTL_TERRAFORM)"
    );
    local
}

/// Command lines of running processes that contain any of `needles` (to
/// prove a cancelled run left no terraform behind).
pub(crate) fn processes_mentioning(needles: &[&str]) -> Vec<String> {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .map(str::to_string)
        .collect()
}

/// A git repository in a temp dir, on branch `feature` off `main`.
pub(crate) struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// Copies `examples/<name>` into a fresh repo, commits it on `main`, and
    /// checks out `feature`.
    pub(crate) fn from_example(name: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        copy_dir(&src, dir.path());
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "dev@example.com"]);
        repo.git(&["config", "user.name", "Dev"]);
        repo.commit("initial");
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, rel: &str, text: &str) -> &Repo {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// Appends a line to a file (a change that keeps it valid HCL).
    pub(crate) fn touch_tfvars(&self, rel: &str) -> &Repo {
        let text = self.read(rel);
        self.write(rel, &format!("{text}# changed\n"))
    }

    pub(crate) fn remove(&self, rel: &str) -> &Repo {
        std::fs::remove_file(self.path().join(rel)).unwrap();
        self
    }

    pub(crate) fn commit(&self, msg: &str) -> &Repo {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        self
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A tfctl invocation in this repo.
    pub(crate) fn tfctl(&self) -> Tfctl {
        Tfctl::new(self.path())
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".tfctl" || name == ".terraform" {
            continue;
        }
        let target = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `tfctl-validate` `repository_dispatch` a config repo sends for PR
/// `pr` of `source_repo` at `head_sha` (the real payload sample, its
/// action and client payload set), written to `dir/event.json`.
pub(crate) fn validate_dispatch(dir: &Path, source_repo: &str, pr: u64, head_sha: &str) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/events/repository_dispatch.on-demand-test.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    event["action"] = "tfctl-validate".into();
    event["client_payload"] = serde_json::json!({
        "source_repo": source_repo, "pr_number": pr, "head_sha": head_sha, "base_ref": "main",
    });
    let path = dir.join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// Builder for one run of the tfctl binary.
pub(crate) struct Tfctl {
    cmd: Command,
}

impl Tfctl {
    pub(crate) fn new(cwd: &Path) -> Tfctl {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tfctl"));
        cmd.current_dir(cwd)
            .env("TFCTL_TERRAFORM", terraform())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_EVENT_NAME")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("TFCTL_SIGNING_KEY")
            .stdin(Stdio::null());
        Tfctl { cmd }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Tfctl
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Tfctl {
        self.cmd.env(key, value);
        self
    }

    pub(crate) fn env_remove(mut self, key: &str) -> Tfctl {
        self.cmd.env_remove(key);
        self
    }

    /// The environment of a GitHub Actions job on `event_name` (payload at
    /// `event_path`) in `repository`, run 7 on github.example, with step
    /// outputs, job summary and `RUNNER_TEMP` (the audit log) in `dir`.
    /// Pair with the fake GitHub's `env_vars()`.
    pub(crate) fn in_actions(
        self,
        event_name: &str,
        event_path: &Path,
        repository: &str,
        dir: &Path,
    ) -> Tfctl {
        self.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", event_path)
            .env("GITHUB_REPOSITORY", repository)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "7")
            .env("GITHUB_OUTPUT", dir.join("output"))
            .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
            .env("RUNNER_TEMP", dir)
    }

    /// Adds every `(name, value)` to the environment.
    pub(crate) fn envs(mut self, vars: Vec<(&'static str, String)>) -> Tfctl {
        self.cmd.envs(vars);
        self
    }

    pub(crate) fn run(mut self) -> Run {
        Run(self.cmd.output().unwrap())
    }

    pub(crate) fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// A finished run.
pub(crate) struct Run(pub Output);

impl Run {
    pub(crate) fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// stdout parsed as JSON (for `--format json`).
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub(crate) fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// The stack `id` of a `--format json` report (panics naming the report).
pub(crate) fn report_stack<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no stack {id} in {report:#}"))
}

/// The stack ids of a `--format json` report, in report order.
pub(crate) fn report_ids(report: &serde_json::Value) -> Vec<String> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}
