//! The composite action's shell halves (`scripts/action/install.sh` and
//! `run.sh`), run for real with bash and curl against a release server on
//! 127.0.0.1: the right asset for the runner is installed only when its
//! SHA-256 matches, a cache hit downloads nothing, a missing release falls
//! back to `cargo build --release --locked` of the action's source, and the
//! `args` input reaches tfctl word by word with nothing evaluated. Also:
//! `tfctl --version` is the version in Cargo.toml, which is also the version
//! the action installs by default.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tfctl() -> &'static str {
    env!("CARGO_BIN_EXE_tfctl")
}

/// `[package] version` read the way install.sh reads it: the first
/// `version = "..."` line (checked against cargo's own view below).
fn cargo_toml_version(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("version = \""))
        .expect("a version line");
    line.trim_start_matches("version = \"")
        .trim_end_matches('"')
        .to_string()
}

#[test]
fn version_matches_cargo_toml() {
    let out = Command::new(tfctl()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = cargo_toml_version(&root().join("Cargo.toml"));
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "first version line is the package's"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("tfctl {version}")
    );
}

/// A static file server on 127.0.0.1 that records the paths asked for.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(files: BTreeMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push(path.clone());
                let (status, body) = match files.get(&path) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Server { base, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A runner-like environment: temp dirs for the tool cache, outputs and PATH file.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        Runner {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, script: &str, action_path: &Path) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("scripts/action").join(script))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTION_PATH", action_path)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", self.path("toolcache"))
            .env("RUNNER_TEMP", self.dir.path())
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_PATH", self.path("path"));
        cmd
    }

    /// `key=value` lines written to $`GITHUB_OUTPUT` so far.
    fn outputs(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.path("output"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs `resolve`, then `install` with resolve's outputs, as action.yml does.
    fn install(&self, action_path: &Path, env: &[(&str, &str)], cache_hit: bool) -> Output {
        let out = self
            .command("install.sh", action_path)
            .arg("resolve")
            .output()
            .unwrap();
        assert!(out.status.success(), "resolve: {}", stderr(&out));
        let o = self.outputs();
        let mut cmd = self.command("install.sh", action_path);
        cmd.arg("install")
            .env("TFCTL_VERSION", &o["version"])
            .env("TFCTL_TARGET", &o["target"])
            .env("TFCTL_REPO", &o["repo"])
            .env("TFCTL_DIR", &o["dir"])
            .env("TFCTL_CACHE_HIT", if cache_hit { "true" } else { "" });
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The release layout release.yml publishes: `v<version>/tfctl-<target>` and its `.sha256`.
fn release(version: &str, binary: &[u8], checksum_of: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let target = "x86_64-unknown-linux-musl";
    let mut files = BTreeMap::new();
    files.insert(format!("/v{version}/tfctl-{target}"), binary.to_vec());
    files.insert(
        format!("/v{version}/tfctl-{target}.sha256"),
        format!("{}  tfctl-{target}\n", sha256_hex(checksum_of)).into_bytes(),
    );
    files
}

#[test]
fn resolve_reads_version_target_and_release_repo() {
    let runner = Runner::new();
    // The runner keeps `uses: owner/repo@ref` actions at _actions/OWNER/REPO/REF.
    let action = runner.path("_actions/acme/tfctl/v9");
    std::fs::create_dir_all(&action).unwrap();
    std::fs::copy(root().join("Cargo.toml"), action.join("Cargo.toml")).unwrap();
    let mut cmd = runner.command("install.sh", &action);
    let out = cmd
        .arg("resolve")
        .env("RUNNER_ARCH", "ARM64")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let o = runner.outputs();
    assert_eq!(o["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(o["target"], "aarch64-unknown-linux-musl");
    assert_eq!(o["repo"], "acme/tfctl");
    assert!(o["cache-key"].starts_with(&format!(
        "tfctl-aarch64-unknown-linux-musl-{}-",
        env!("CARGO_PKG_VERSION")
    )));

    // An explicit `version` input wins, with or without its `v`; junk is refused.
    let out = runner
        .command("install.sh", &action)
        .arg("resolve")
        .env("TFCTL_VERSION_INPUT", "v1.2.3")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(runner.outputs()["version"], "1.2.3");
    let out = runner
        .command("install.sh", &action)
        .arg("resolve")
        .env("TFCTL_VERSION_INPUT", "1.0; rm -rf /")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a version number"),
        "{}",
        stderr(&out)
    );

    let out = runner
        .command("install.sh", &action)
        .arg("resolve")
        .env("RUNNER_OS", "Windows")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no tfctl build for runner Windows/X64"));
}

#[test]
fn install_verifies_the_checksum_and_puts_tfctl_on_path() {
    let binary = std::fs::read(tfctl()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let server = Server::start(release(version, &binary, &binary));
    let runner = Runner::new();
    let out = runner.install(&root(), &[("TFCTL_RELEASE_BASE_URL", &server.base)], false);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = runner.outputs()["dir"].clone();
    let installed = Path::new(&dir).join("tfctl");
    assert_eq!(std::fs::read(&installed).unwrap(), binary);
    assert_eq!(
        std::fs::read_to_string(runner.path("path")).unwrap().trim(),
        dir
    );
    assert_eq!(runner.outputs()["path"], installed.to_string_lossy());
    assert_eq!(
        server.requests(),
        [
            format!("/v{version}/tfctl-x86_64-unknown-linux-musl.sha256"),
            format!("/v{version}/tfctl-x86_64-unknown-linux-musl"),
        ]
    );

    // The cache restored the directory: nothing is downloaded again.
    let out = runner.install(&root(), &[("TFCTL_RELEASE_BASE_URL", &server.base)], true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restored from the cache"));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn install_refuses_a_binary_whose_checksum_differs() {
    let binary = std::fs::read(tfctl()).unwrap();
    let mut tampered = binary.clone();
    tampered[1000] ^= 0xff;
    let server = Server::start(release(env!("CARGO_PKG_VERSION"), &tampered, &binary));
    let runner = Runner::new();
    let out = runner.install(&root(), &[("TFCTL_RELEASE_BASE_URL", &server.base)], false);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("::error title=tfctl install::checksum mismatch"),
        "{err}"
    );
    assert!(err.contains("refusing to install it"), "{err}");
    // Never "fall back" to building: a mismatch is an attack or a broken release.
    assert!(!err.contains("building from source"), "{err}");
    assert!(!Path::new(&runner.outputs()["dir"]).join("tfctl").exists());
    assert!(!runner.path("path").exists());
}

#[test]
fn install_builds_from_source_when_there_is_no_release() {
    // A tiny crate named tfctl stands in for the action's source, so the test
    // runs the real `cargo build --release --locked` in seconds.
    let runner = Runner::new();
    let source = runner.path("action");
    std::fs::create_dir_all(source.join("src")).unwrap();
    std::fs::write(
        source.join("Cargo.toml"),
        "[package]\nname = \"tfctl\"\nversion = \"9.8.7\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        source.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"tfctl\"\nversion = \"9.8.7\"\n",
    )
    .unwrap();
    std::fs::write(
        source.join("src/main.rs"),
        "fn main() { println!(\"tfctl {}\", env!(\"CARGO_PKG_VERSION\")); }\n",
    )
    .unwrap();
    let server = Server::start(BTreeMap::new());
    let out = runner.install(
        &source,
        &[
            ("TFCTL_RELEASE_BASE_URL", &server.base),
            (
                "CARGO_HOME",
                &std::env::var("CARGO_HOME")
                    .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap())),
            ),
            (
                "RUSTUP_HOME",
                &std::env::var("RUSTUP_HOME")
                    .unwrap_or_else(|_| format!("{}/.rustup", std::env::var("HOME").unwrap())),
            ),
        ],
        false,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(
        stdout.contains("no release v9.8.7 for x86_64-unknown-linux-musl; building from source"),
        "{stdout}"
    );
    assert_eq!(
        server.requests(),
        ["/v9.8.7/tfctl-x86_64-unknown-linux-musl.sha256"]
    );
    let installed = Path::new(&runner.outputs()["dir"]).join("tfctl");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        "tfctl 9.8.7"
    );
}

fn run_action(runner: &Runner, env: &[(&str, &str)]) -> Output {
    let mut cmd = runner.command("run.sh", &root());
    cmd.env("TFCTL_BIN", tfctl()).current_dir(runner.dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn run_passes_inputs_as_words_and_evaluates_nothing() {
    let runner = Runner::new();
    let out = run_action(&runner, &[("INPUT_COMMAND", "schema")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "RawConfig");

    // Quotes, `$( )`, globs and variables arrive as literal words: tfctl sees
    // (and rejects) them, and no file is created.
    let marker = runner.path("pwned");
    let args = format!(
        "--format \"a b\"\n$(touch {m}) `touch {m}` * $HOME",
        m = marker.display()
    );
    let out = run_action(
        &runner,
        &[("INPUT_COMMAND", "validate"), ("INPUT_ARGS", &args)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unexpected argument 'b\"'"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());

    let out = run_action(&runner, &[("INPUT_COMMAND", "rm -rf /")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown command 'rm -rf /'"));

    let out = run_action(&runner, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the 'command' input is required"));
}

/// The action runs exactly the commands the binary lists: `run.sh`'s one
/// list against `tfctl --help`, and `drift` and `report` reach tfctl.
#[test]
fn run_knows_every_command_tfctl_lists() {
    let help = Command::new(tfctl()).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    let script = std::fs::read_to_string(root().join("scripts/action/run.sh")).unwrap();
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("COMMANDS=\""))
        .expect("run.sh has one COMMANDS list");
    let known: Vec<&str> = line.trim_end_matches('"').split(' ').collect();
    let (mut a, mut b) = (listed.clone(), known.clone());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(
        a, b,
        "tfctl --help lists {listed:?}; run.sh knows {known:?}"
    );

    let runner = Runner::new();
    for command in ["drift", "report"] {
        let out = run_action(&runner, &[("INPUT_COMMAND", command)]);
        let err = stderr(&out);
        // tfctl itself answered (its usage or its own error), not run.sh.
        assert!(!err.contains("unknown command"), "{command}: {err}");
        assert!(
            err.contains("tfctl") && out.status.code() == Some(2),
            "{command}: {err}"
        );
    }
}

#[test]
fn run_puts_config_and_controller_in_front_of_the_args() {
    let runner = Runner::new();
    // A missing --config file is reported by tfctl itself, naming the path we passed.
    let out = run_action(
        &runner,
        &[
            ("INPUT_COMMAND", "dispatch"),
            ("INPUT_CONFIG", "ci/tfctl.yaml"),
            ("INPUT_CONTROLLER_REPO", "acme/infra-controller"),
            ("INPUT_ARGS", "--repo acme/config"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    // clap accepted every flag where run.sh put it (a misplaced `--controller`
    // or `--config` is a usage error); tfctl itself then reported.
    assert!(err.starts_with("tfctl: error:"), "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
}

/// The action's outputs are exactly the step outputs tfctl writes: each
/// one it declares is one a command writes (`actions::outputs`, which debug
/// builds enforce on every write, so every Actions test below checks the
/// other direction), passed through from the run step unchanged.
#[test]
fn the_action_declares_exactly_the_outputs_tfctl_writes() {
    let action: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("action.yml")).unwrap()).unwrap();
    let declared = action["outputs"].as_mapping().expect("action.yml outputs");
    let names: Vec<&str> = declared.keys().map(|k| k.as_str().unwrap()).collect();
    let written: Vec<&str> = tfctl::actions::outputs::STEP_OUTPUTS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names, written);
    for (name, description) in tfctl::actions::outputs::STEP_OUTPUTS {
        let output = &action["outputs"][*name];
        assert_eq!(
            output["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{name} }}}}").as_str()),
            "{name}"
        );
        assert_eq!(output["description"].as_str(), Some(*description), "{name}");
    }
    // The write guard is real: an undeclared name is refused.
    assert!(!tfctl::actions::outputs::declared("merge-commit"));
    assert!(tfctl::actions::outputs::declared("merge_commit_sha"));
}
