//! Progress on stderr while terraform runs (docs/DESIGN.md §3): the effect
//! half of [`crate::render::progress`], which decides every word.
//!
//! - `--quiet`: nothing.
//! - A terminal (not in Actions): each stack's start and end as a line,
//!   above a live status line (indicatif) naming what runs and for how long.
//! - Otherwise (a pipe, a CI log): the same lines, and a heartbeat line
//!   when nothing ended for 30 s. In GitHub Actions each finished stack's
//!   terraform output follows as one `::group::`, whole, so stacks never
//!   interleave.
//! - `--verbose`: every line terraform prints, as it prints it, prefixed
//!   with the stack id (then no groups: the lines are already there).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressArgs;
use crate::context::Context;
use crate::render::progress::{group, line, status};
use crate::runner::{Operation, Progress, RunOptions, Watcher};

/// How often the live line's elapsed times move.
const LIVE_REFRESH: Duration = Duration::from_secs(1);

/// Sets how `opts` reports `op` on stderr, as `args` and the terminal say.
pub(crate) fn attach(op: Operation, args: &ProgressArgs, ctx: &Context, opts: &mut RunOptions) {
    opts.stream_output = args.verbose && !args.quiet;
    if args.quiet {
        opts.watcher = Watcher::default();
        return;
    }
    let in_actions = ctx.actions.in_actions;
    if !in_actions && ctx.stderr_is_terminal {
        // The runner's heartbeat becomes the live line's clock.
        opts.heartbeat = LIVE_REFRESH;
        opts.watcher = live(op);
        return;
    }
    let groups = in_actions && !args.verbose;
    opts.watcher = Watcher::new(move |progress| {
        if matches!(progress, Progress::Done) {
            return;
        }
        let mut err = std::io::stderr().lock();
        match group(&progress, op).filter(|_| groups) {
            Some((title, body)) => {
                let _ = writeln!(err, "::group::{title}");
                let _ = write!(err, "{body}");
                if !body.ends_with('\n') {
                    let _ = writeln!(err);
                }
                let _ = writeln!(err, "::endgroup::");
            }
            None => {
                let _ = writeln!(err, "{}", line(&progress, op));
            }
        }
    });
}

/// Lines above an indicatif status line: `planning 3/30 done · S3/a (12s)`.
fn live(op: Operation) -> Watcher {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    // Stack id → when it started; how many ended; how many in all.
    let state: Mutex<(BTreeMap<String, Instant>, usize, usize)> = Mutex::default();
    Watcher::new(move |progress| {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (running, ended, total) = &mut *state;
        match &progress {
            Progress::Started { id, total: t, .. } => {
                *total = *t;
                running.insert(id.clone(), Instant::now());
                bar.println(line(&progress, op));
            }
            Progress::Finished { id, total: t, .. } => {
                *total = *t;
                *ended += 1;
                running.remove(id);
                bar.println(line(&progress, op));
            }
            Progress::Output { .. } => bar.println(line(&progress, op)),
            Progress::Waiting { .. } => {}
            Progress::Done => {
                bar.finish_and_clear();
                return;
            }
        }
        let now = Instant::now();
        let times: Vec<(String, Duration)> = running
            .iter()
            .map(|(id, at)| (id.clone(), now - *at))
            .collect();
        bar.set_message(status(op, &times, *ended, *total));
    })
}
