//! Shared harness of the runner's tests and scheduling benchmark: the real
//! terraform binary, a small root module, and a remote-state HTTP server on
//! 127.0.0.1 whose per-stack delay makes a *plan* take a known time
//! (terraform runs provisioners only on apply, so a sleep cannot).
//!
//! It must not fake terraform: every stack here is planned and applied by
//! the real binary (`TFCTL_TERRAFORM`, else `<repo>/.tools/bin/terraform`).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfctl::runner::{run_stacks, Cancel, Operation, Outcome, RunOptions, StackJob, StackRun};
use tfctl::stack::{Stack, StackAction};

/// The terraform binary the tests run: `TFCTL_TERRAFORM`, else the offline
/// install in the repository.
pub(crate) fn terraform() -> PathBuf {
    let path = match std::env::var_os("TFCTL_TERRAFORM") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/terraform"),
    };
    assert!(
        path.exists(),
        "terraform not found at {}: run scripts/install-terraform.sh, or set TFCTL_TERRAFORM",
        path.display()
    );
    path
}

/// The CLI config written by `scripts/install-terraform.sh` beside its
/// `bin/`: it points provider installation at the offline mirror.
pub(crate) fn offline_cli_config() -> Option<PathBuf> {
    let rc = terraform().parent()?.parent()?.join("terraformrc");
    rc.exists().then_some(rc)
}

/// A root module: reads a remote state over HTTP while planning (the slow
/// part, set by the server's delay), then a `terraform_data` whose
/// precondition fails when `fail = true` and whose `local-exec` provisioner
/// sleeps `sleep` seconds on apply.
pub(crate) const MODULE: &str = r#"
terraform {
  backend "local" {}
}

variable "state_url" {
  type = string
}

variable "fail" {
  type    = bool
  default = false
}

variable "sleep" {
  type    = number
  default = 0
}

data "terraform_remote_state" "upstream" {
  backend = "http"
  config = {
    address = var.state_url
  }
}

resource "terraform_data" "this" {
  input = data.terraform_remote_state.upstream.outputs.token

  lifecycle {
    precondition {
      condition     = !var.fail
      error_message = "this stack was told to fail"
    }
  }

  provisioner "local-exec" {
    command = "sleep ${var.sleep}"
  }
}

output "token" {
  value = terraform_data.this.output
}

output "secret" {
  value     = "s3cr3t-${terraform_data.this.output}"
  sensitive = true
}
"#;

/// One request the state server answered.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub key: String,
    pub received: Instant,
    pub answered: Instant,
}

/// A terraform `http` backend answering GET `/state/<key>` with a minimal
/// valid state (one output, `token`) after that key's delay.
pub(crate) struct StateServer {
    pub addr: SocketAddr,
    delays: Arc<Mutex<HashMap<String, Duration>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl StateServer {
    pub(crate) fn start() -> StateServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let delays: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (d, h) = (Arc::clone(&delays), Arc::clone(&hits));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (d, h) = (Arc::clone(&d), Arc::clone(&h));
                std::thread::spawn(move || serve(stream, &d, &h));
            }
        });
        StateServer { addr, delays, hits }
    }

    pub(crate) fn set_delay(&self, key: &str, delay: Duration) {
        self.delays.lock().unwrap().insert(key.to_owned(), delay);
    }

    pub(crate) fn url(&self, key: &str) -> String {
        format!("http://{}/state/{key}", self.addr)
    }

    /// The first request for `key`.
    pub(crate) fn hit(&self, key: &str) -> Hit {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .find(|h| h.key == key)
            .unwrap_or_else(|| panic!("no request for {key}"))
            .clone()
    }

    /// Whether any request for `key` arrived.
    pub(crate) fn requested(&self, key: &str) -> bool {
        self.hits.lock().unwrap().iter().any(|h| h.key == key)
    }

    pub(crate) fn hit_count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

fn serve(mut stream: TcpStream, delays: &Mutex<HashMap<String, Duration>>, hits: &Mutex<Vec<Hit>>) {
    let received = Instant::now();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Headers up to the blank line; GET has no body.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() != "" {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let Some(key) = path.strip_prefix("/state/") else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let delay = delays.lock().unwrap().get(key).copied().unwrap_or_default();
    std::thread::sleep(delay);
    let body = serde_json::json!({
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": 1,
        "lineage": "tfctl-test-upstream",
        "outputs": {"token": {"value": format!("token-{key}"), "type": "string"}},
        "resources": []
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    hits.lock().unwrap().push(Hit {
        key: key.to_owned(),
        received,
        answered: Instant::now(),
    });
}

/// A temp dir with the module, a state server and helpers to make jobs.
pub(crate) struct Fixture {
    pub tmp: tempfile::TempDir,
    pub module: PathBuf,
    pub server: StateServer,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let module = tmp.path().join("modules/data");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::write(module.join("main.tf"), MODULE).unwrap();
        std::fs::create_dir_all(tmp.path().join("states")).unwrap();
        Fixture {
            tmp,
            module,
            server: StateServer::start(),
        }
    }

    /// A job for stack `id` (`Service/name`) whose tfvars sets the state URL
    /// and `extra` (HCL lines such as `fail = true`), with its own local
    /// state file.
    pub(crate) fn job(&self, id: &str, extra: &str) -> StackJob {
        let (service, name) = Stack::split_id(id).unwrap();
        let dir = self.tmp.path().join("config").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let var_file = dir.join(format!("{name}.tfvars"));
        std::fs::write(
            &var_file,
            format!("state_url = \"{}\"\n{extra}\n", self.server.url(id)),
        )
        .unwrap();
        let mut env = BTreeMap::new();
        if let Some(rc) = offline_cli_config() {
            env.insert("TF_CLI_CONFIG_FILE".into(), rc.display().to_string());
        }
        StackJob {
            stack: Stack {
                id: id.to_owned(),
                service: service.to_owned(),
                name: name.to_owned(),
                tfvars: PathBuf::from(id).join(format!("{name}.tfvars")),
                environment: "test".into(),
                action: StackAction::Plan,
                depends_on: Vec::new(),
                string_values: Vec::new(),
                reasons: Vec::new(),
            },
            module_dir: self.module.clone(),
            var_files: vec![tfctl::runner::VarFile {
                shown_as: format!("{id}/{name}.tfvars"),
                path: var_file,
            }],
            backend_config: vec![("path".into(), self.state_file(id).display().to_string())],
            variables: BTreeMap::new(),
            env,
            destroy: false,
        }
    }

    /// The local backend's state file of stack `id`.
    pub(crate) fn state_file(&self, id: &str) -> PathBuf {
        self.tmp
            .path()
            .join("states")
            .join(format!("{}.tfstate", id.replace('/', "_")))
    }

    /// Options for one run, with a fresh work dir named `run`.
    pub(crate) fn options(&self, run: &str, parallelism: usize) -> RunOptions {
        RunOptions {
            terraform: terraform(),
            work_dir: self.tmp.path().join("work").join(run),
            parallelism,
            plugin_cache_dir: None,
            grace_period: Duration::from_secs(5),
            init_args: Vec::new(),
            plan_args: Vec::new(),
            apply_args: Vec::new(),
            pass_env: Vec::new(),
            watcher: Default::default(),
            heartbeat: std::time::Duration::from_secs(30),
            stream_output: false,
            log_dir: None,
            host: tfctl::context::Context::from_process().host,
        }
    }
}

/// Nodes for a graph of tasks only: node `i` is job `i`.
pub(crate) fn task_nodes(n: usize) -> Vec<Option<usize>> {
    (0..n).map(Some).collect()
}

// The approval callback's type, which says no by returning an error.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn approve_all(_: &StackJob, _: &serde_json::Value) -> Result<(), String> {
    Ok(())
}

/// `run_stacks` over tasks only (node `i` = job `i`), approving every plan,
/// never cancelled.
pub(crate) async fn run_all(
    jobs: &[StackJob],
    preds: &[Vec<usize>],
    op: Operation,
    opts: &RunOptions,
) -> Vec<StackRun> {
    let nodes = task_nodes(jobs.len());
    run_stacks(jobs, &nodes, preds, op, opts, &approve_all, Cancel::new()).await
}

pub(crate) fn assert_succeeded(runs: &[StackRun], jobs: &[StackJob]) {
    for (run, job) in runs.iter().zip(jobs) {
        assert_eq!(
            run.outcome,
            Outcome::Succeeded,
            "{}: {}",
            job.stack.id,
            run.log_tail
        );
    }
}
