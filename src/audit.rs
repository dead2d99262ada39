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

/// A collapsed markdown block listing events, oldest first. Every cell is
/// escaped as table-cell text ([`crate::render::inline`]; the head as a code
/// span): an event carries text from a repository (the environment of a
/// tfvars, an override's justification, a login), which must not add a
/// column, end the row, open HTML or forge a `<!-- tfctl:` marker.
pub fn markdown(events: &[AuditEvent]) -> String {
    use crate::render::{code, inline};
    let mut out = String::from("<details><summary>Audit trail</summary>\n\n");
    out.push_str("| time | action | actor | outcome | environment | head | why |\n|---|---|---|---|---|---|---|\n");
    for e in events {
        let why: Vec<String> = e
            .reasons
            .iter()
            .chain(&e.violations_overridden)
            .map(|r| inline(r))
            .collect();
        let head: String = e.head_sha.chars().take(7).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | `{}` | {} |\n",
            inline(&e.time),
            inline(&e.action),
            inline(&e.actor),
            inline(&e.outcome),
            inline(e.environment.as_deref().unwrap_or("-")),
            code(&head),
            why.join("<br>")
        ));
    }
    out.push_str("\n</details>\n");
    out
}

/// The current time as RFC 3339 UTC (second precision), without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` (as [`rfc3339`] writes it; a fraction or offset
/// is refused) as seconds since the epoch (days-from-civil).
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_what_it_writes() {
        for secs in [0, 951_782_400, 1_795_219_200, 1_795_305_599, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339("2026-11-21T00:00:00.5Z"), None);
        assert_eq!(parse_rfc3339("2026-13-21T00:00:00Z"), None);
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_219_200), "2026-11-21T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_599), "2026-11-21T23:59:59Z");
    }

    #[test]
    fn events_append_as_json_lines_and_render_as_a_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/audit.jsonl");
        let event = AuditEvent {
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
        };
        append(&path, &event).unwrap();
        append(&path, &event).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: AuditEvent = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, event);
        let md = markdown(std::slice::from_ref(&event));
        assert!(md.contains("| override | sec-lead | merged | production | `abcdef0` | INC-1 \\| hotfix<br>bucket must not be public |"), "{md}");

        // Every cell from a repository stays in its cell.
        use crate::render::hostile;
        let hostile_event = AuditEvent {
            environment: Some(hostile::TEXT.into()),
            actor: hostile::TEXT.into(),
            head_sha: "`<!--`|\n::x".into(),
            reasons: vec![hostile::TEXT.into()],
            ..event
        };
        let md = markdown(&[hostile_event]);
        hostile::assert_inert(&md, 0);
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| 2026")).count(),
            1,
            "{md}"
        );
    }
}
