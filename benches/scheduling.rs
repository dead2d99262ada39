//! Scheduling benchmark (BENCHMARKS.md, "Scheduling"): eager DAG execution
//! against its lower bound, wave-by-wave execution and one-at-a-time, on 32
//! real terraform stacks, measured in one run.
//!
//! Run it (it takes about a minute and prints a report):
//!
//! ```text
//! TFCTL_TERRAFORM=/path/to/terraform cargo bench --bench scheduling
//! ```
//!
//! Each stack's plan reads a remote state from a local HTTP server that
//! waits a per-stack delay first, so plans take uneven, known times
//! (terraform runs provisioners only on apply, so a sleep cannot slow a
//! plan). It reports; it does not assert the targets (timing never gates
//! tests).

// The runner tests' harness: the same real terraform and remote-state server.
#[allow(dead_code)]
#[path = "../tests/integration/runner_support/mod.rs"]
mod runner_support;

use std::time::{Duration, Instant};

use runner_support::{approve_all, task_nodes, Fixture};
use tfctl::runner::{run_stacks, Cancel, Operation, Outcome, StackJob, StackRun};

const LANES: usize = 4;
const STAGES: usize = 8;
const PARALLELISM: usize = 4;

/// Stack `lane, stage` as a node index.
fn node(lane: usize, stage: usize) -> usize {
    stage * LANES + lane
}

/// Planned time of a slow stack's remote-state reads (a plan reads the
/// remote state twice: its validate walk and its plan walk).
const SLOW: Duration = Duration::from_millis(1600);

/// The DAG and each stack's delay: 4 lanes of 8 stages; each stage depends
/// on the previous stage of its lane, and some on the previous stage of the
/// next lane too. In every stage one lane is slow (1.6 s) and the others
/// fast (0.2–0.6 s), the slow lane rotating: a wave is as slow as its
/// slowest stack, while eager lanes overlap their slow stacks.
fn dag() -> (Vec<Vec<usize>>, Vec<Duration>) {
    let mut preds = Vec::new();
    let mut delays = Vec::new();
    for stage in 0..STAGES {
        for lane in 0..LANES {
            let mut p = Vec::new();
            if stage > 0 {
                p.push(node(lane, stage - 1));
                if (lane + stage) % 3 == 0 {
                    p.push(node((lane + 1) % LANES, stage - 1));
                }
            }
            preds.push(p);
            delays.push(if stage % LANES == lane {
                SLOW
            } else {
                Duration::from_millis(200 + ((lane * 7 + stage * 13) % 5) as u64 * 100)
            });
        }
    }
    (preds, delays)
}

/// Topological layers (longest path from a root).
fn waves(preds: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut level = vec![0usize; preds.len()];
    // Nodes are numbered in topological order (stage-major).
    for n in 0..preds.len() {
        level[n] = preds[n].iter().map(|&p| level[p] + 1).max().unwrap_or(0);
    }
    let depth = level.iter().max().map_or(0, |d| d + 1);
    (0..depth)
        .map(|d| (0..preds.len()).filter(|&n| level[n] == d).collect())
        .collect()
}

/// The longest path through the DAG, weighting each node by `weight`.
fn critical_path(preds: &[Vec<usize>], weight: &[Duration]) -> Duration {
    let mut finish = vec![Duration::ZERO; preds.len()];
    for n in 0..preds.len() {
        let start = preds[n]
            .iter()
            .map(|&p| finish[p])
            .max()
            .unwrap_or_default();
        finish[n] = start + weight[n];
    }
    finish.into_iter().max().unwrap_or_default()
}

async fn timed(
    fx: &Fixture,
    name: &str,
    jobs: &[StackJob],
    preds: &[Vec<usize>],
    parallelism: usize,
) -> (Duration, Vec<StackRun>) {
    let opts = fx.options(name, parallelism);
    let started = Instant::now();
    let runs = run_stacks(
        jobs,
        &task_nodes(jobs.len()),
        preds,
        Operation::Plan,
        &opts,
        &approve_all,
        Cancel::new(),
    )
    .await;
    let elapsed = started.elapsed();
    for (run, job) in runs.iter().zip(jobs) {
        assert_eq!(
            run.outcome,
            Outcome::Succeeded,
            "{name} {}: {}",
            job.stack.id,
            run.log_tail
        );
    }
    (elapsed, runs)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    check_dag_shape();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(scheduling_benchmark());
}

async fn scheduling_benchmark() {
    let fx = Fixture::new();
    let (preds, delays) = dag();
    let jobs: Vec<StackJob> = (0..preds.len())
        .map(|n| {
            let id = format!("Lane{}/stage-{}", n % LANES, n / LANES);
            // Two reads per plan: each waits half the stack's delay.
            fx.server.set_delay(&id, delays[n] / 2);
            fx.job(&id, "")
        })
        .collect();
    let waves = waves(&preds);

    // Warm-up: the first init of the module dir writes its lock file.
    timed(&fx, "warm-up", &jobs[..1], &[vec![]], 1).await;

    let (eager, runs) = timed(&fx, "eager", &jobs, &preds, PARALLELISM).await;
    let durations: Vec<Duration> = runs.iter().map(|r| r.duration).collect();
    let work: Duration = durations.iter().sum();
    let path = critical_path(&preds, &durations);
    let per_slot = work / PARALLELISM as u32;
    let bound = path.max(per_slot);

    let mut wave_total = Duration::ZERO;
    for (i, wave) in waves.iter().enumerate() {
        let wave_jobs: Vec<StackJob> = wave.iter().map(|&n| jobs[n].clone()).collect();
        let no_preds = vec![Vec::new(); wave_jobs.len()];
        let (took, _) = timed(
            &fx,
            &format!("wave-{i}"),
            &wave_jobs,
            &no_preds,
            PARALLELISM,
        )
        .await;
        wave_total += took;
    }

    let (serial, _) = timed(&fx, "serial", &jobs, &preds, 1).await;

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let verdict = |ok: bool| if ok { "target met" } else { "TARGET MISSED" };
    let (min, max) = (
        durations.iter().min().unwrap(),
        durations.iter().max().unwrap(),
    );
    println!(
        "scheduling benchmark: {} stacks, {} waves, parallelism {PARALLELISM}, real terraform init+plan+show",
        jobs.len(),
        waves.len()
    );
    println!(
        "planned remote-state delays per stack: {} to {}",
        secs(*delays.iter().min().unwrap()),
        secs(*delays.iter().max().unwrap())
    );
    println!(
        "measured stack durations (eager run, init+plan+show): min {}, max {}, total work {}",
        secs(*min),
        secs(*max),
        secs(work)
    );
    println!(
        "lower bound = max(critical path {}, work / parallelism {}) = {}",
        secs(path),
        secs(per_slot),
        secs(bound)
    );
    let vs_bound = ratio(eager, bound);
    let vs_waves = ratio(wave_total, eager);
    println!(
        "eager          {:>8}  = {vs_bound:.2}x lower bound (target <= 1.10x: {})",
        secs(eager),
        verdict(vs_bound <= 1.10)
    );
    println!(
        "wave-by-wave   {:>8}  -> eager {vs_waves:.2}x faster (target >= 1.25x: {})",
        secs(wave_total),
        verdict(vs_waves >= 1.25)
    );
    println!(
        "one-at-a-time  {:>8}  -> eager {:.2}x faster",
        secs(serial),
        ratio(serial, eager)
    );
}

/// The DAG has the shape the report claims: one slow stack per wave.
fn check_dag_shape() {
    let (preds, delays) = dag();
    assert_eq!(preds.len(), LANES * STAGES);
    assert_eq!(waves(&preds).len(), STAGES);
    assert!(delays
        .iter()
        .all(|d| (Duration::from_millis(200)..=SLOW).contains(d)));
    // Every wave holds exactly one slow stack.
    for wave in waves(&preds) {
        let slow = wave.iter().filter(|&&n| delays[n] == SLOW).count();
        assert_eq!(slow, 1);
    }
}
