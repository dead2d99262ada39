//! The one test that must own its process: SIGINT sent to the test process
//! itself reaches tfctl's real signal handler, which forwards it to every
//! terraform process group (so it cannot share a binary with other tests).

#[allow(dead_code)] // the integration tests use the rest of it
#[path = "integration/runner_support/mod.rs"]
mod runner_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use runner_support::{assert_succeeded, run_all, task_nodes, Fixture};
use tfctl::runner::{cancel_on_signals, run_stacks, Operation, Outcome, StackJob};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_a_slow_apply_and_the_next_run_gets_the_lock() {
    let fx = Fixture::new();
    let jobs = vec![
        fx.job("IAM/slow", "sleep = 60"),
        fx.job("KMS/slow-too", "sleep = 60"),
        fx.job("S3/after-slow", ""),
    ];
    let preds = vec![vec![], vec![], vec![0]];
    // The real path: SIGINT to this process -> handler -> Cancel -> SIGINT
    // to every terraform process group.
    let cancel = cancel_on_signals().expect("install signal handlers");
    let approvals = Mutex::new(0);
    let approve = |_: &StackJob, _: &serde_json::Value| {
        let mut n = approvals.lock().unwrap();
        *n += 1;
        if *n == 2 {
            // Both applies are about to start; interrupt once both
            // provisioners sleep (polled, not timed: the machine may be slow).
            std::thread::spawn(|| {
                let deadline = Instant::now() + Duration::from_secs(60);
                while sleeping_provisioners() < 2 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                std::thread::sleep(Duration::from_millis(500));
                // SAFETY: kill(2) on our own pid has no memory-safety
                // preconditions; the handler above is installed.
                unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
            });
        }
        Ok(())
    };
    let mut opts = fx.options("apply", 3);
    opts.grace_period = Duration::from_secs(20);
    let started = Instant::now();
    let runs = run_stacks(
        &jobs,
        &task_nodes(3),
        &preds,
        Operation::Apply,
        &opts,
        &approve,
        cancel.clone(),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(cancel.is_cancelled());
    for run in &runs[..2] {
        assert_eq!(run.outcome, Outcome::Cancelled, "{}", run.log_tail);
        // Terraform itself got the SIGINT and shut down gracefully (no
        // SIGKILL: the grace period was far longer than this run).
        assert!(
            run.log_tail.contains("Interrupt received"),
            "{}",
            run.log_tail
        );
        assert!(run.state_snapshot.is_some());
    }
    assert_eq!(runs[2].outcome, Outcome::Cancelled, "never started");
    assert_eq!(runs[2].duration, Duration::ZERO);
    assert!(
        elapsed < Duration::from_secs(30),
        "terraform did not stop: {elapsed:?}"
    );

    // The state locks were released: the same stacks apply now.
    let jobs = vec![fx.job("IAM/slow", ""), fx.job("KMS/slow-too", "")];
    let runs = run_all(
        &jobs,
        &[vec![], vec![]],
        Operation::Apply,
        &fx.options("again", 2),
    )
    .await;
    assert_succeeded(&runs, &jobs);
}

/// How many `sleep 60` provisioner processes run (one per provisioner,
/// whether or not `/bin/sh -c` execs it).
fn sleeping_provisioners() -> usize {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.trim() == "sleep 60")
        .count()
}
