//! Audit trail: one structured event per decision of validate, merge and
//! apply (who, what, when, why, head SHA, environment, violations
//! overridden), as JSON lines in a file, in the job summary, and in a
//! collapsed block of the PR comment.
//!
//! Building and rendering are pure; [`append`] is the one effect.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// RFC 3339 UTC.
    pub time: String,
    /// `validation`, `approval`, `merge`, `override`, `blocked`, `apply`, `dispatch`.
    pub action: String,
    /// Who caused it (the event's sender or comment author).
    pub actor: String,
    /// `owner/repo#number`.
    pub pull_request: String,
    pub head_sha: String,
    pub environment: Option<String>,
    /// `passed`, `failed`, `merged`, `blocked`, `applied`, ...
    pub outcome: String,
    /// Reasons (a block, an override's justification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Policy violations a merge overrode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations_overridden: Vec<String>,
    /// The workflow run that made the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

impl AuditEvent {
    /// `action` by `actor` on `pull_request` (`owner/repo#n`) at `head_sha`,
    /// decided now with `outcome`; no environment, reasons or overridden
    /// violations yet (set them with struct update syntax). The one place
    /// an event is made, so every decision records the same fields.
    pub fn new(
        action: &str,
        actor: &str,
        pull_request: String,
        head_sha: &str,
        outcome: &str,
        run_url: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            time: now_rfc3339(),
            action: action.into(),
            actor: actor.into(),
            pull_request,
            head_sha: head_sha.into(),
            environment: None,
            outcome: outcome.into(),
            reasons: Vec::new(),
            violations_overridden: Vec::new(),
            run_url,
        }
    }
}

/// Appends `event` as one JSON line to `path` (created if missing).
pub fn append(path: &Path, event: &AuditEvent) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::runtime(format!("{}: {e}", dir.display())))?;
    }
    let line = serde_json::to_string(event).expect("audit events serialize");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::runtime(format!("{}: {e}", path.display())))?;
    writeln!(file, "{line}").map_err(|e| Error::runtime(format!("{}: {e}", path.display())))
}

/// The current time as RFC 3339 UTC (second precision), without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

pub use crate::clock::{parse_rfc3339, rfc3339};

/// An override event with text in most fields, for tests of the log and
/// of its rendering.
#[cfg(test)]
pub(crate) fn sample() -> AuditEvent {
    AuditEvent {
        time: "2026-11-21T10:00:00Z".into(),
        action: "override".into(),
        actor: "sec-lead".into(),
        pull_request: "o/r#5".into(),
        head_sha: "abcdef0123".into(),
        environment: Some("production".into()),
        outcome: "merged".into(),
        reasons: vec!["INC-1 | hotfix".into()],
        violations_overridden: vec!["bucket must not be public".into()],
        run_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_append_as_json_lines_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/audit.jsonl");
        let event = sample();
        append(&path, &event).unwrap();
        append(&path, &event).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: AuditEvent = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, event);
    }
}
