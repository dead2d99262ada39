//! Child processes and cancellation: each terraform runs in its own process
//! group; on cancel the whole group gets SIGINT, its output keeps being
//! drained for the grace period, then the group gets SIGKILL (docs/DESIGN.md §4,
//! the shape of cargo-nextest's `runner/unix.rs`).
//!
//! Owns [`Cancel`], the signal handlers and [`run`]. It knows nothing of
//! terraform's arguments or stacks, and never builds a shell string.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::watch;

/// How long to keep reading a finished command's pipes: a grandchild that
/// inherited them (a backgrounded provisioner command) could hold them open
/// forever.
const PIPE_DRAIN_AFTER_EXIT: Duration = Duration::from_secs(5);

/// A cancellation handle shared by the caller and every running command.
/// Cloning shares the same flag; triggering it is permanent.
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    /// A handle that has not been triggered.
    pub fn new() -> Cancel {
        Cancel {
            tx: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Cancels the run: running terraform processes get SIGINT, stacks not
    /// started are not started.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`Cancel::trigger`] has been called.
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once the handle is triggered (at once if it already was).
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail.
        let _ = rx.wait_for(|&cancelled| cancelled).await;
    }
}

/// Installs SIGINT and SIGTERM handlers that trigger the returned handle.
/// GitHub cancels a step with SIGINT, then SIGTERM 7.5 s later; both mean
/// "stop", and the first one is forwarded to terraform by [`run`]. Must be
/// called inside a tokio runtime.
pub fn cancel_on_signals() -> io::Result<Cancel> {
    use tokio::signal::unix::{signal, SignalKind};
    let cancel = Cancel::new();
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let handle = cancel.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = sigint.recv() => "SIGINT",
            _ = sigterm.recv() => "SIGTERM",
        };
        eprintln!("tfctl: {name} received; asking terraform to stop");
        handle.trigger();
        // Keep the handlers installed so a second signal does not kill tfctl
        // before terraform has released its state locks.
        loop {
            tokio::select! {
                _ = sigint.recv() => {},
                _ = sigterm.recv() => {},
            }
        }
    });
    Ok(cancel)
}

/// What a finished command left behind.
#[derive(Debug)]
pub(super) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command was still running when the run was cancelled, and got
    /// SIGINT (and SIGKILL after the grace period).
    pub interrupted: bool,
}

impl Finished {
    /// `exit status 1`, `killed by signal 9`: for failure reasons.
    pub(super) fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "unknown exit".into(),
        }
    }
}

/// The environment of a child process: the inherited one without the
/// names in `remove`, then `set` on top (a later pair wins over an earlier
/// one). Removing first means a name can be withheld from the inherited
/// environment and still be set explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChildEnv {
    pub remove: Vec<OsString>,
    pub set: Vec<(OsString, OsString)>,
}

/// Runs `program args` in `cwd` with the environment `env` describes,
/// stdin closed, stdout and stderr captured, in a new process
/// group. When `cancel` triggers while it runs: SIGINT to the group, wait up
/// to `grace`, then SIGKILL to the group. Output is read throughout, so a
/// process that prints while shutting down never blocks on a full pipe.
pub(super) async fn run(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &ChildEnv,
    cancel: &Cancel,
    grace: Duration,
) -> io::Result<Finished> {
    run_watched(program, args, cwd, env, cancel, grace, &Lines::default()).await
}

/// Called with each line a command prints, as it prints it (no line
/// break; a last line without one is passed at the end).
pub(super) type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Who hears each line of a command's stdout and stderr as it arrives
/// (`--verbose`); both are still captured whole in [`Finished`].
#[derive(Clone, Default)]
pub(super) struct Lines {
    pub stdout: Option<LineSink>,
    pub stderr: Option<LineSink>,
}

/// [`run`], telling `lines` every line as it is read.
pub(super) async fn run_watched(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &ChildEnv,
    cancel: &Cancel,
    grace: Duration,
    lines: &Lines,
) -> io::Result<Finished> {
    let mut command = Command::new(program);
    for name in &env.remove {
        command.env_remove(name);
    }
    // SAFETY: the closure runs in the forked child before exec and only
    // calls signal(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // A process started with SIGINT/SIGTERM ignored (a background job
            // of a non-interactive shell, some CI launchers) passes that on,
            // and an ignored signal cannot even be trapped: terraform and its
            // provisioners would never see the signal tfctl forwards.
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command
        .args(args)
        .current_dir(cwd)
        .envs(env.set.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own group: a terminal's Ctrl-C does not reach terraform behind our
        // back, and one signal reaches terraform with its providers and
        // provisioner commands.
        .process_group(0)
        // Last resort if this future is dropped mid-run.
        .kill_on_drop(true)
        .spawn()?;
    let pgid = child
        .id()
        .and_then(|id| libc::pid_t::try_from(id).ok())
        .ok_or_else(|| io::Error::other("spawned child has no pid"))?;
    let stdout = Drain::start(child.stdout.take(), lines.stdout.clone());
    let stderr = Drain::start(child.stderr.take(), lines.stderr.clone());

    let (status, interrupted) = tokio::select! {
        status = child.wait() => (status?, false),
        () = cancel.cancelled() => {
            // The child has not been reaped (we are not past `wait`), so its
            // pid is still ours and the group id cannot have been reused.
            signal_group(pgid, libc::SIGINT);
            let status = if let Ok(status) = tokio::time::timeout(grace, child.wait()).await { status? } else {
                signal_group(pgid, libc::SIGKILL);
                child.wait().await?
            };
            (status, true)
        }
    };
    Ok(Finished {
        status,
        stdout: stdout.finish().await,
        stderr: stderr.finish().await,
        interrupted,
    })
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: killpg has no memory-safety preconditions. ESRCH (the group
    // is already gone) is the expected race and needs no handling.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// A pipe read to its end on a task of its own, into a shared buffer so
/// what was read survives giving up on a pipe that never closes.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drain {
    fn start<R>(pipe: Option<R>, sink: Option<LineSink>) -> Drain
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
    {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let task = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            tokio::spawn(async move {
                let mut chunk = [0u8; 8192];
                // The start of a line not yet ended, for the sink.
                let mut partial: Vec<u8> = Vec::new();
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .extend_from_slice(&chunk[..n]);
                    if let Some(sink) = &sink {
                        partial.extend_from_slice(&chunk[..n]);
                        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = partial.drain(..=end).collect();
                            sink(String::from_utf8_lossy(&line[..end]).trim_end_matches('\r'));
                        }
                    }
                }
                if let Some(sink) = sink.filter(|_| !partial.is_empty()) {
                    sink(&String::from_utf8_lossy(&partial));
                }
            })
        });
        Drain { buf, task }
    }

    async fn finish(mut self) -> Vec<u8> {
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(PIPE_DRAIN_AFTER_EXIT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        std::mem::take(
            &mut *self
                .buf
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_sink_hears_each_line_as_it_is_printed() {
        let heard: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let h = Arc::clone(&heard);
        let lines = Lines {
            stdout: Some(Arc::new(move |line: &str| {
                h.lock().unwrap().push((line.to_string(), Instant::now()));
            })),
            stderr: None,
        };
        let out = run_watched(
            Path::new("/bin/sh"),
            &os(&[
                "-c",
                "echo one; sleep 0.5; printf 'two\\nthree'; echo err >&2",
            ]),
            Path::new("/"),
            &ChildEnv::default(),
            &Cancel::new(),
            Duration::from_secs(1),
            &lines,
        )
        .await
        .unwrap();
        let heard = heard.lock().unwrap().clone();
        let texts: Vec<&str> = heard.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        // `one` was heard while the command slept, not when it ended.
        assert!(
            heard[1].1 - heard[0].1 >= Duration::from_millis(300),
            "{heard:?}"
        );
        // Still captured whole.
        assert_eq!(out.stdout, b"one\ntwo\nthree");
        assert_eq!(out.stderr, b"err\n");
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[tokio::test]
    async fn captures_output_status_and_env_without_a_shell() {
        let env = ChildEnv {
            remove: vec![],
            set: vec![(OsString::from("TFCTL_PROBE"), OsString::from("a b;c"))],
        };
        let out = run(
            Path::new("/bin/sh"),
            &os(&["-c", "printf '%s' \"$TFCTL_PROBE\"; echo err >&2; exit 3"]),
            Path::new("/"),
            &env,
            &Cancel::new(),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, b"a b;c");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.describe_status(), "exit status 3");
        assert!(!out.interrupted);
    }

    #[tokio::test]
    async fn removed_names_are_not_inherited_but_can_be_set_again() {
        // HOME is in every test process's environment.
        let probe = |env: ChildEnv| async move {
            let out = run(
                Path::new("/bin/sh"),
                &os(&["-c", "printf '%s' \"${HOME-unset}\""]),
                Path::new("/"),
                &env,
                &Cancel::new(),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let home: OsString = "HOME".into();
        let removed = ChildEnv {
            remove: vec![home.clone()],
            set: vec![],
        };
        assert_eq!(probe(removed).await, "unset");
        let set_again = ChildEnv {
            remove: vec![home.clone()],
            set: vec![(home, "/set/again".into())],
        };
        assert_eq!(probe(set_again).await, "/set/again");
    }

    /// A handle that triggers once `ready` exists: the child creates it after
    /// setting its traps, so the signal never races the shell's start-up
    /// (a fixed delay did, on a loaded machine).
    fn cancel_when_ready(ready: &Path) -> Cancel {
        let cancel = Cancel::new();
        let trigger = cancel.clone();
        let ready = ready.to_path_buf();
        tokio::spawn(async move {
            while !ready.exists() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            trigger.trigger();
        });
        cancel
    }

    #[tokio::test]
    async fn cancel_sends_sigint_to_the_group_and_keeps_draining() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let cancel = cancel_when_ready(&ready);
        let started = Instant::now();
        // The shell traps INT, prints while shutting down, and exits 7; its
        // foreground `sleep` is in the same group and dies of the SIGINT.
        let script = format!(
            "trap 'echo stopping; exit 7' INT; echo started; touch '{}'; sleep 30; echo never",
            ready.display()
        );
        let out = run(
            Path::new("/bin/sh"),
            &os(&["-c", &script]),
            Path::new("/"),
            &ChildEnv::default(),
            &cancel,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(out.interrupted);
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "started\nstopping\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn sigkill_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let cancel = cancel_when_ready(&ready);
        let started = Instant::now();
        let script = format!("trap '' INT; touch '{}'; sleep 30", ready.display());
        let out = run(
            Path::new("/bin/sh"),
            &os(&["-c", &script]),
            Path::new("/"),
            &ChildEnv::default(),
            &cancel,
            Duration::from_millis(300),
        )
        .await
        .unwrap();
        assert!(out.interrupted);
        assert_eq!(out.describe_status(), "killed by signal 9");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn cancelled_resolves_for_every_clone() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        let other = cancel.clone();
        let waiter = tokio::spawn(async move { other.cancelled().await });
        cancel.trigger();
        waiter.await.unwrap();
        assert!(cancel.is_cancelled());
        // Already triggered: completes at once.
        cancel.cancelled().await;
    }
}
