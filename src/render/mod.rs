//! Rendering of run reports and graphs for people and programs.
//!
//! Owns: every string tfctl shows about a run — terminal text ([`text`]),
//! JSON ([`json`]), the PR comment ([`markdown`]) and its hidden marker
//! ([`marker`]), the 65,536-character cut ([`split`]), the job summary
//! ([`summary`]), the graph formats ([`graph`]), the apply result
//! ([`apply`]) and drift reports ([`drift`]).
//! Must not: do IO, read the environment or the clock (durations and SHAs
//! come in as data), or show text from plans and policies unescaped.

pub mod apply;
pub mod drift;
pub mod graph;
pub mod json;
pub mod markdown;
pub mod marker;
pub mod split;
pub mod summary;
pub mod text;

pub use json::json;

/// `850ms`, `4.2s`, `1m05s`: short, stable duration text.
pub fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

/// `+1 ~0 -2`.
pub fn changes(c: &crate::report::Changes) -> String {
    format!("+{} ~{} -{}", c.add, c.change, c.destroy)
}

/// Text from plans, policies or terraform made safe for a markdown line or
/// table cell: HTML specials escaped (so no `<details>`, `<!--` or tag can
/// be injected), `|` escaped, newlines folded into spaces.
pub(crate) fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for a fenced code block: HTML is inert there, but a forged
/// `<!-- tfctl:… -->` marker must not appear in the raw body, so `<!--` is
/// broken with a zero-width space.
pub(crate) fn defang(text: &str) -> String {
    text.replace("<!--", "<!-\u{200b}-")
}

/// `content` in a code fence that no backtick run inside it can close.
pub(crate) fn fenced(info: &str, content: &str) -> String {
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = defang(content);
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{body}{newline}{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short_and_stable() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(4_249), "4.2s");
        assert_eq!(duration(65_000), "1m05s");
    }

    #[test]
    fn inline_text_cannot_open_html_or_break_a_table() {
        assert_eq!(
            inline("a|b <details>\n<!-- x -->"),
            "a\\|b &lt;details&gt; &lt;!-- x --&gt;"
        );
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        let f = fenced("diff", "x ``` y\n<!-- tfctl:validation {} -->");
        assert!(f.starts_with("````diff\n"), "{f}");
        assert!(f.ends_with("\n````\n"), "{f}");
        assert!(!f.contains("<!--"));
    }
}
