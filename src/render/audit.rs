//! The audit trail as people read it under a PR: one collapsed table of
//! the events ([`crate::audit`] keeps them; this only renders).

use super::{code, inline, short};
use crate::audit::AuditEvent;

/// A collapsed markdown block listing events, oldest first. Every cell is
/// escaped as table-cell text ([`super::inline`]; the head as a code
/// span): an event carries text from a repository (the environment of a
/// tfvars, an override's justification, a login), which must not add a
/// column, end the row, open HTML or forge a `<!-- tfctl:` marker.
pub fn trail(events: &[AuditEvent]) -> String {
    let mut out = String::from("<details><summary>Audit trail</summary>\n\n");
    out.push_str("| time | action | actor | outcome | environment | head | why |\n|---|---|---|---|---|---|---|\n");
    for e in events {
        let why: Vec<String> = e
            .reasons
            .iter()
            .chain(&e.violations_overridden)
            .map(|r| inline(r))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | `{}` | {} |\n",
            inline(&e.time),
            inline(&e.action),
            inline(&e.actor),
            inline(&e.outcome),
            inline(e.environment.as_deref().unwrap_or("-")),
            code(short(&e.head_sha)),
            why.join("<br>")
        ));
    }
    out.push_str("\n</details>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hostile;

    #[test]
    fn events_render_as_one_row_each_and_repository_text_stays_in_its_cell() {
        let event = crate::audit::sample();
        let md = trail(std::slice::from_ref(&event));
        assert!(md.contains("| override | sec-lead | merged | production | `abcdef0` | INC-1 \\| hotfix<br>bucket must not be public |"), "{md}");

        // Every cell from a repository stays in its cell.
        let hostile_event = AuditEvent {
            environment: Some(hostile::TEXT.into()),
            actor: hostile::TEXT.into(),
            head_sha: "`<!--`|\n::x".into(),
            reasons: vec![hostile::TEXT.into()],
            ..event
        };
        let md = trail(&[hostile_event]);
        hostile::assert_inert(&md, 0);
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| 2026")).count(),
            1,
            "{md}"
        );
    }
}
