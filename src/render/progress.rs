//! Progress lines while a run goes on (stderr): one when each stack
//! starts, one when it ends, a heartbeat naming what still runs.
//!
//! ```text
//! [ 3/30] planning S3/logs
//! [ 3/30] planned  S3/logs  +1 ~0 -0  4.2s
//! [ 4/30] failed   S3/bad  3.1s: plan: Invalid value for variable
//! still running after 30s: S3/big (41s), KMS/key (33s)
//! ```
//!
//! Pure: events in, text out. Must not: print terraform's values (the
//! failure reason is the runner's short one), or reorder anything.

use std::time::Duration;

use crate::runner::{Operation, Outcome, Progress};

/// The words for a stack starting and ending well, by operation.
fn verbs(op: Operation) -> (&'static str, &'static str) {
    match op {
        Operation::Plan => ("planning", "planned"),
        Operation::ReadState => ("reading state of", "state read"),
        Operation::Apply => ("applying", "applied"),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The line for one event.
pub fn line(progress: &Progress, op: Operation) -> String {
    let (starting, done) = verbs(op);
    let at = |position: usize, total: usize| {
        let width = total.to_string().len();
        format!("[{position:>width$}/{total}]")
    };
    match progress {
        Progress::Started {
            id,
            position,
            total,
        } => format!(
            "{} {starting} {}",
            at(*position, *total),
            super::terminal(id)
        ),
        Progress::Finished {
            id,
            position,
            total,
            outcome,
            changes,
            duration,
            ..
        } => {
            let id = super::terminal(id);
            let at = at(*position, *total);
            match outcome {
                Outcome::Succeeded => match changes {
                    Some(c) => format!(
                        "{at} {done:<8} {id}  {}  {}",
                        super::changes(c),
                        seconds(*duration)
                    ),
                    None => format!("{at} {done:<8} {id}  {}", seconds(*duration)),
                },
                Outcome::Failed(why) | Outcome::Rejected(why) => format!(
                    "{at} {:<8} {id}  {}: {}",
                    if matches!(outcome, Outcome::Failed(_)) {
                        "failed"
                    } else {
                        "refused"
                    },
                    seconds(*duration),
                    super::terminal(why)
                ),
                Outcome::Skipped { dependency } => format!(
                    "{at} {:<8} {id}  (dependency {} failed)",
                    "skipped",
                    super::terminal(dependency)
                ),
                Outcome::Cancelled => format!("{at} {:<8} {id}", "cancelled"),
            }
        }
        Progress::Waiting { running } => {
            let names: Vec<String> = running
                .iter()
                .map(|(id, for_)| format!("{} ({:.0}s)", super::terminal(id), for_.as_secs_f64()))
                .collect();
            format!("still running: {}", names.join(", "))
        }
    }
}

/// In GitHub Actions, a finished stack's terraform output as one log
/// group (title, body), printed whole when the stack ends so two stacks'
/// output never interleave. The body is neutralised: a line of terraform
/// output cannot be a workflow command.
pub fn group(progress: &Progress, op: Operation) -> Option<(String, String)> {
    let Progress::Finished { log, .. } = progress else {
        return None;
    };
    if log.trim().is_empty() {
        return None;
    }
    let title = line(progress, op);
    let body = crate::actions::commands::neutralise(log).into_owned();
    Some((title.split_whitespace().collect::<Vec<_>>().join(" "), body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Changes;

    fn finished(outcome: Outcome, log: &str) -> Progress {
        Progress::Finished {
            id: "S3/logs".into(),
            position: 3,
            total: 30,
            outcome,
            changes: Some(Changes {
                add: 1,
                change: 0,
                destroy: 0,
            }),
            duration: Duration::from_millis(4_210),
            log: log.into(),
        }
    }

    #[test]
    fn lines_say_position_stack_verdict_changes_and_time() {
        let started = Progress::Started {
            id: "S3/logs".into(),
            position: 3,
            total: 30,
        };
        assert_eq!(line(&started, Operation::Plan), "[ 3/30] planning S3/logs");
        assert_eq!(
            line(&finished(Outcome::Succeeded, ""), Operation::Plan),
            "[ 3/30] planned  S3/logs  +1 ~0 -0  4.2s"
        );
        assert_eq!(
            line(
                &finished(Outcome::Failed("plan: boom".into()), ""),
                Operation::Plan
            ),
            "[ 3/30] failed   S3/logs  4.2s: plan: boom"
        );
        let skipped = Progress::Finished {
            id: "Lambda/f".into(),
            position: 9,
            total: 9,
            outcome: Outcome::Skipped {
                dependency: "S3/logs".into(),
            },
            changes: None,
            duration: Duration::ZERO,
            log: String::new(),
        };
        assert_eq!(
            line(&skipped, Operation::Plan),
            "[9/9] skipped  Lambda/f  (dependency S3/logs failed)"
        );
        let waiting = Progress::Waiting {
            running: vec![("S3/big".into(), Duration::from_secs(41))],
        };
        assert_eq!(
            line(&waiting, Operation::Apply),
            "still running: S3/big (41s)"
        );
    }

    #[test]
    fn a_group_holds_the_whole_output_and_no_workflow_command() {
        let (title, body) = group(
            &finished(
                Outcome::Succeeded,
                "Plan: 1 to add\n::set-output name=x::y\n",
            ),
            Operation::Plan,
        )
        .unwrap();
        assert_eq!(title, "[ 3/30] planned S3/logs +1 ~0 -0 4.2s");
        assert!(body.contains("Plan: 1 to add"));
        assert!(!body.lines().any(|l| l.starts_with("::")), "{body}");
        assert!(group(&finished(Outcome::Succeeded, "  \n"), Operation::Plan).is_none());
    }
}
