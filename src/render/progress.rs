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
        // Bracketed: a line of terraform's never starts a printed line, so
        // it cannot be a workflow command in Actions.
        Progress::Output { id, line } => {
            // Terraform's indentation is kept; control characters are not.
            let line: String = line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .filter(|c| !c.is_control())
                .collect();
            format!("[{}] {}", super::terminal(id), line.trim_end())
        }
        Progress::Done => String::new(),
    }
}

/// Stacks the live status line names before `+N more`.
const STATUS_NAMES: usize = 4;

/// The live status line on a terminal: how far the run is and what runs,
/// longest-running first: `planning: 3/30 done; S3/a 12s, S3/b 4s`.
pub fn status(op: Operation, running: &[(String, Duration)], ended: usize, total: usize) -> String {
    let (starting, _) = verbs(op);
    let mut longest: Vec<&(String, Duration)> = running.iter().collect();
    longest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut names: Vec<String> = longest
        .iter()
        .take(STATUS_NAMES)
        .map(|(id, for_)| format!("{} {:.0}s", super::terminal(id), for_.as_secs_f64()))
        .collect();
    if longest.len() > STATUS_NAMES {
        names.push(format!("+{} more", longest.len() - STATUS_NAMES));
    }
    let mut text = format!("{starting}: {ended}/{total} done");
    if !names.is_empty() {
        text.push_str("; ");
        text.push_str(&names.join(", "));
    }
    text
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
        let output = Progress::Output {
            id: "S3/logs".into(),
            line: "::error::x \u{1b}]8;;".into(),
        };
        let shown = line(&output, Operation::Plan);
        assert!(shown.starts_with("[S3/logs] "), "{shown}");
        let indented = Progress::Output {
            id: "S3/logs".into(),
            line: "      + id = 1".into(),
        };
        assert_eq!(line(&indented, Operation::Plan), "[S3/logs]       + id = 1");
        assert!(!shown.contains('\u{1b}'), "{shown}");
    }

    #[test]
    fn the_live_line_names_the_longest_running_first() {
        let running: Vec<(String, Duration)> = (1..=6)
            .map(|n| (format!("S3/s{n}"), Duration::from_secs(n)))
            .collect();
        assert_eq!(
            status(Operation::Plan, &running, 3, 30),
            "planning: 3/30 done; S3/s6 6s, S3/s5 5s, S3/s4 4s, S3/s3 3s, +2 more"
        );
        assert_eq!(status(Operation::Apply, &[], 0, 2), "applying: 0/2 done");
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
