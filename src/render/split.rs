//! Cutting a comment body to GitHub's 65,536-character limit.
//!
//! The cut is at a line boundary; any code fence, `<details>` or `<summary>`
//! open at that point is closed, every tfctl marker is moved to the top (so
//! it survives and stays the first thing `marker::find` meets), and a
//! pointer to the full report is appended.
//! Must not: return more than `limit` characters, or leave a fence or
//! `<details>` open.

use super::marker::spans;

/// GitHub's limit on an issue comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The pointer line for a cut comment.
pub fn pointer(run_url: Option<&str>) -> String {
    match run_url {
        Some(url) => format!("Output truncated: full report in the job summary of {url}"),
        None => "Output truncated: full report in the job summary.".to_string(),
    }
}

/// `body` if it has at most `limit` characters; otherwise the markers, as
/// much of the rest as fits with its open blocks closed, and `pointer_text`.
/// If markers and pointer do not fit together, the markers alone are
/// returned; if the markers alone do not fit, the pointer (cut to `limit`)
/// without them: a lost marker fails closed, nothing is applied on it.
pub fn fit(body: &str, limit: usize, pointer_text: &str) -> String {
    if chars(body) <= limit {
        return body.to_string();
    }
    let mut head = String::new();
    let mut rest = String::with_capacity(body.len());
    let mut from = 0;
    for (start, end) in spans(body, "") {
        head.push_str(&body[start..end]);
        head.push('\n');
        rest.push_str(&body[from..start]);
        // The marker's own line break goes with it.
        from = if body[end..].starts_with('\n') {
            end + 1
        } else {
            end
        };
    }
    rest.push_str(&body[from..]);
    let tail = format!("\n> {pointer_text}\n");
    match limit.checked_sub(chars(&head) + chars(&tail)) {
        Some(budget) => format!("{head}{}{tail}", cut(&rest, budget)),
        None if chars(&head) <= limit => head,
        None => tail.chars().take(limit).collect(),
    }
}

/// What is open after a prefix of the text.
#[derive(Debug, Clone, Default)]
struct Open {
    /// The fence that opened the current code block (`` ``` ``, `~~~~`…).
    fence: Option<String>,
    details: usize,
    summary: usize,
}

impl Open {
    /// What must follow a prefix ending in `ends_in_newline` to close it all.
    fn closers(&self, ends_in_newline: bool) -> String {
        let mut out = String::new();
        if !ends_in_newline {
            out.push('\n');
        }
        if let Some(fence) = &self.fence {
            out.push_str(fence);
            out.push('\n');
        }
        out.push_str(&"</summary>".repeat(self.summary));
        if self.summary > 0 {
            out.push('\n');
        }
        out.push_str(&"\n</details>\n".repeat(self.details));
        out
    }

    fn after(&self, line: &str) -> Open {
        let mut next = self.clone();
        let fence = fence_of(line);
        match (&self.fence, fence) {
            (Some(open), Some((f, rest))) if closes(open, &f) && rest.trim().is_empty() => {
                next.fence = None;
            }
            (Some(_), _) => {}
            (None, Some((f, _))) => next.fence = Some(f),
            (None, None) => {
                next.details = count_balance(self.details, line, "<details", "</details>");
                next.summary = count_balance(self.summary, line, "<summary", "</summary>");
            }
        }
        next
    }
}

/// The longest prefix of `text`, cut after a whole line, that fits in
/// `budget` characters together with the closers it needs.
fn cut(text: &str, budget: usize) -> String {
    let mut kept = String::new();
    let mut used = 0;
    let mut open = Open::default();
    for line in text.split_inclusive('\n') {
        let next = open.after(line);
        let len = chars(line);
        let ends_nl = line.ends_with('\n');
        if used + len + chars(&next.closers(ends_nl)) > budget {
            break;
        }
        kept.push_str(line);
        used += len;
        open = next;
    }
    let closers = open.closers(kept.is_empty() || kept.ends_with('\n'));
    kept.push_str(&closers);
    kept
}

/// A `CommonMark` fence line: up to 3 spaces, then 3+ backticks or tildes.
/// Returns the fence and the rest of the line.
fn fence_of(line: &str) -> Option<(String, &str)> {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    let indent = trimmed.len() - trimmed.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let body = &trimmed[indent..];
    let ch = body.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = body.len() - body.trim_start_matches(ch).len();
    if n < 3 {
        return None;
    }
    let rest = &body[n..];
    if ch == '`' && rest.contains('`') {
        return None; // a backtick fence's info string cannot hold backticks
    }
    Some((ch.to_string().repeat(n), rest))
}

/// `candidate` closes a block opened by `open`: same character, at least as long.
fn closes(open: &str, candidate: &str) -> bool {
    open.chars().next() == candidate.chars().next() && candidate.len() >= open.len()
}

fn count_balance(depth: usize, line: &str, open: &str, close: &str) -> usize {
    let lower = line.to_ascii_lowercase();
    let opens = lower.matches(open).count();
    let closes = lower.matches(close).count();
    (depth + opens).saturating_sub(closes)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_body_is_untouched() {
        assert_eq!(fit("abc\n", 10, "cut"), "abc\n");
    }

    #[test]
    fn an_open_fence_inside_details_is_closed_in_order() {
        let body = format!(
            "<!-- tfctl:validation {{}} -->\n# title\n<details><summary>x</summary>\n\n```diff\n{}```\n</details>\n",
            "+ line\n".repeat(100)
        );
        let out = fit(&body, 300, "see the job summary");
        assert!(out.chars().count() <= 300, "{out}");
        assert!(
            out.starts_with("<!-- tfctl:validation {} -->\n# title\n"),
            "{out}"
        );
        assert!(
            out.ends_with("+ line\n```\n\n</details>\n\n> see the job summary\n"),
            "{out}"
        );
    }

    #[test]
    fn a_marker_at_the_end_moves_to_the_top() {
        let body = format!("{}<!-- tfctl:apply {{\"a\":1}} -->\n", "text\n".repeat(50));
        let out = fit(&body, 100, "p");
        assert!(out.starts_with("<!-- tfctl:apply {\"a\":1} -->\n"), "{out}");
        assert!(out.chars().count() <= 100);
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        let body = "é".repeat(50);
        assert_eq!(fit(&body, 50, "p"), body);
    }
}
