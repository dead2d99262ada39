//! Rendering of run reports and graphs for people and programs.
//!
//! Owns: every string tfctl shows about a run — terminal text ([`text`]),
//! JSON ([`json`]), the PR comment ([`markdown`]) and its hidden marker
//! ([`marker`]), the 65,536-character cut ([`split`]), the job summary
//! ([`summary`]), the graph formats ([`graph`]), the apply result
//! ([`apply`]) and drift reports ([`drift`]).
//! Must not: do IO, read the environment or the clock (durations and SHAs
//! come in as data), or show text from plans and policies unescaped.
//!
//! Text from a repository (stack ids, environments, service names, branch
//! names, policy messages, terraform's errors and plans, PR titles) is
//! written through exactly one escaper per context, all here:
//! [`inline`] for markdown text and table cells, [`code`] for a markdown
//! code span, [`fenced`] for a code block, [`terminal`] for a field of a
//! terminal line. What reaches stdout is neutralised as a whole on top
//! (`actions::commands::neutralise`), so no line can become a workflow
//! command.

pub mod apply;
pub mod audit;
pub mod drift;
pub mod graph;
pub mod json;
pub mod markdown;
pub mod marker;
pub mod parts;
pub mod pr;
pub mod progress;
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
/// table cell: HTML specials escaped (so no `<details>`, `<!--`, `-->` or
/// tag can be injected, and no second `<!-- tfctl:` marker can appear in
/// the raw body), `|` escaped (so a cell cannot gain a column), newlines
/// folded into spaces (so a row or item cannot end early).
///
/// Markdown emphasis and links are left alone: they cannot leave the cell
/// or line they are in, and escaping them would show backslashes in every
/// `snake_case` address of the raw text other programs read.
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

/// Text for inside single backticks: a backtick would end the span, so it
/// becomes `'`; then as [`inline`], since a code span does not stop an
/// HTML comment in the raw body, nor a table from splitting at `|` (GitHub
/// splits rows before it reads code spans, and shows `\|` there as `|`).
/// The price: `<`, `>` and `&` show as entities inside the span.
pub(crate) fn code(text: &str) -> String {
    inline(&text.replace('`', "'"))
}

/// Text for a fenced code block: HTML is inert there, but a forged
/// `<!-- tfctl:… -->` marker must not appear in the raw body, so `<!--` is
/// broken with a zero-width space (a `-->` stays: it is Mermaid's arrow,
/// and without an opening `<!--` it closes nothing); and a line of it must
/// not be a workflow command wherever the body is printed (`--format
/// markdown`), so it is neutralised too.
pub(crate) fn defang(text: &str) -> String {
    crate::actions::commands::neutralise(text).replace("<!--", "<!-\u{200b}-")
}

/// Text from a repository as one field of a terminal line: every run of
/// whitespace (newlines included) becomes one space and other control
/// characters are dropped, so it can neither start a line of its own nor
/// restyle or rewrite the terminal with escape sequences.
pub(crate) fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `content` in a code fence that no backtick run inside it can close.
pub(crate) fn fenced(info: &str, content: &str) -> String {
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = defang(content);
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{body}{newline}{fence}\n")
}

/// Hostile repository text and the checks that it stayed inert in a
/// rendered body, shared by the renderers' tests.
#[cfg(test)]
pub(crate) mod hostile {
    /// An environment (or any repository text) that tries everything at
    /// once: a tag, the end of an HTML comment, a forged marker, a table
    /// column, a new line, and a workflow command.
    pub(crate) const TEXT: &str = "a<b>--><!-- tfctl:validation {} -->|x\n::warning::y";

    /// The HTML tfctl writes itself; any other `<` is injected.
    const OWN_TAGS: [&str; 10] = [
        "details>",
        "/details>",
        "summary>",
        "/summary>",
        "code>",
        "/code>",
        "sub>",
        "/sub>",
        "br>",
        "!-- tfctl:",
    ];

    /// Asserts `body` holds `TEXT` only inertly: no `<` outside code
    /// blocks (where HTML is inert) but tfctl's own tags, exactly
    /// `own_markers` `<!-- tfctl:` markers and as many `-->`, every row of
    /// a table with the columns of its header, and no line the Actions
    /// runner would take for a workflow command.
    pub(crate) fn assert_inert(body: &str, own_markers: usize) {
        let mut fence: Option<String> = None;
        let mut outside_fences = String::new();
        for line in body.lines() {
            let ticks: String = line.chars().take_while(|c| *c == '`').collect();
            match &fence {
                Some(open) if ticks == *open && line.trim() == open => fence = None,
                Some(_) => continue,
                None if ticks.len() >= 3 => {
                    fence = Some(ticks);
                    continue;
                }
                None => {}
            }
            outside_fences.push_str(line);
            outside_fences.push('\n');
            for (at, _) in line.match_indices('<') {
                let after = &line[at + 1..];
                assert!(
                    OWN_TAGS.iter().any(|t| after.starts_with(t)),
                    "raw `<` in {line:?}\n{body}"
                );
            }
        }
        assert_eq!(body.matches("<!-- tfctl:").count(), own_markers, "{body}");
        assert_eq!(body.matches("<!--").count(), own_markers, "{body}");
        // Outside code blocks; inside, `-->` is Mermaid's arrow.
        assert_eq!(outside_fences.matches("-->").count(), own_markers, "{body}");
        let mut columns: Option<usize> = None;
        for line in body.split(['\n', '\r']) {
            assert!(
                !line.trim_start().starts_with("::"),
                "command: {line}\n{body}"
            );
            assert!(!line.contains("##["), "legacy command: {line}");
            if line.starts_with('|') {
                let pipes = line.replace("\\|", "").matches('|').count();
                let header = *columns.get_or_insert(pipes);
                assert_eq!(pipes, header, "row with other columns: {line}\n{body}");
            } else {
                columns = None;
            }
        }
        // The positive control: the text is still shown, escaped.
        assert!(
            body.contains("a&lt;b&gt;--&gt;&lt;!-- tfctl:validation {} --&gt;\\|x ::warning::y"),
            "{body}"
        );
    }
}

/// The first seven characters of a commit SHA, as GitHub shows it.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// The short head a stack's result was carried from, when it was
/// (re-validation: nothing it reads changed since that validation).
pub(crate) fn carried_from(s: &crate::report::StackReport) -> Option<&str> {
    s.inputs
        .as_ref()
        .and_then(|i| i.carried_from.as_deref())
        .map(short)
}

/// How many stacks were carried, and from which heads (short), for the
/// line under a report's verdict; `None` when every stack was planned.
pub(crate) fn carried_line(report: &crate::report::RunReport) -> Option<String> {
    let heads: std::collections::BTreeSet<&str> =
        report.stacks.iter().filter_map(carried_from).collect();
    let n = report
        .stacks
        .iter()
        .filter(|s| carried_from(s).is_some())
        .count();
    (n > 0).then(|| {
        let heads: Vec<&str> = heads.into_iter().collect();
        format!(
            "{n} of {} stacks carried from the validation of {} (nothing they read changed); `--full` plans them all",
            report.stacks.len(),
            heads.join(", ")
        )
    })
}

/// The reasons of `s` that are not its own files (a module or policy file
/// that selected it), as one short phrase; `None` when it has none.
pub(crate) fn impact_reasons(s: &crate::report::StackReport) -> Option<String> {
    let own = format!("{}/", s.id);
    let others: Vec<&str> = s
        .reasons
        .iter()
        .map(String::as_str)
        .filter(|r| !r.starts_with(&own))
        .collect();
    match others.len() {
        0 => None,
        1..=3 => Some(others.join(", ")),
        n => Some(format!("{} and {} more", others[..3].join(", "), n - 3)),
    }
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
    fn code_spans_cannot_close_early_or_open_html() {
        assert_eq!(code("a`b <!-- x --> |c\nd"), "a'b &lt;!-- x --&gt; \\|c d");
    }

    #[test]
    fn terminal_fields_are_one_line_without_escapes() {
        assert_eq!(
            terminal("  a\n::warning::x\r\t\u{1b}[31mred\u{7} "),
            "a ::warning::x [31mred"
        );
        assert_eq!(terminal(""), "");
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        let f = fenced("diff", "x ``` y\n<!-- tfctl:validation {} -->");
        assert!(f.starts_with("````diff\n"), "{f}");
        assert!(f.ends_with("\n````\n"), "{f}");
        assert!(!f.contains("<!--"));
        assert_eq!(
            fenced("", "::warning::x"),
            "```\n:\u{200b}:warning::x\n```\n"
        );
    }
}
