//! GitHub Actions workflow commands: `::add-mask::`, `::error …::`, step
//! outputs (`$GITHUB_OUTPUT`) and the job summary (`$GITHUB_STEP_SUMMARY`).
//!
//! The builders are pure string functions; the `write_*`/`append_*`
//! functions are thin appenders to the files Actions gives us. Escaping
//! follows GitHub's toolkit (`@actions/core` `command.ts`): message data
//! escapes `%`, `\r`, `\n`; property values also escape `:` and `,`.
//! Everything else tfctl prints goes through [`neutralise`] (or, for JSON,
//! [`neutralise_json`]), so text from a repository can never become a
//! workflow command of its own.
//! This module does not decide *what* to report.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::RngExt;

use crate::error::{Error, Result};

/// GitHub refuses a step summary over 1 MiB (the upload fails).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

const TRUNCATION_NOTE: &str =
    "\n\n> **Note:** summary truncated: GitHub limits a step summary to 1 MiB.\n";

/// Escapes a command's message (the part after `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (`file=…`, `title=…`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// What breaks a would-be workflow command: U+200B ZERO WIDTH SPACE. It
/// is invisible in a log, a terminal and rendered markdown, and it is not
/// whitespace to the runner's `TrimStart` (.NET `char.IsWhiteSpace`), so a
/// line that begins `:\u{200b}:` does not begin with `::`.
const BREAK: char = '\u{200b}';

/// `text` with every workflow command in it made inert, for anything tfctl
/// prints that is not one of its own deliberate commands (reports, errors,
/// warnings): text from a repository (a directory name, an environment, a
/// policy message, terraform's errors) may hold a newline followed by
/// `::warning::…`, `::set-output …`, `::stop-commands::…` or `::add-mask::…`.
///
/// The runner (`ActionCommand.TryParseV2` and `TryParse` of
/// actions/runner) reads the output line by line, splitting at `\n` *and*
/// at a lone `\r` (.NET `ReadLine`), and takes a line as a command when,
/// after trimming leading whitespace, it starts with `::`, or when it
/// contains `##[` anywhere (the legacy form, still parsed). So on every
/// line, split the same way: a leading `::` (after any whitespace) becomes
/// `:\u{200b}:`, and every `##[` becomes `##\u{200b}[`. Prefixing a space
/// would not do, since the runner trims it. Text without either pattern is
/// returned as is; applying it twice changes nothing more.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    let leading = |line: &str| {
        line.trim_start_matches(|c: char| c.is_whitespace() && c != '\n' && c != '\r')
            .starts_with("::")
    };
    let lines = text.split(['\n', '\r']);
    if !text.contains("##[") && !lines.clone().any(leading) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    loop {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        let body_at = line.len() - line.trim_start_matches(|c: char| c.is_whitespace()).len();
        let (indent, body) = line.split_at(body_at);
        out.push_str(indent);
        match body.strip_prefix(':') {
            Some(after) if after.starts_with(':') => {
                out.push(':');
                out.push(BREAK);
                out.push_str(&after.replace("##[", "##\u{200b}["));
            }
            _ => out.push_str(&body.replace("##[", "##\u{200b}[")),
        }
        let Some(sep) = rest[end..].chars().next() else {
            break;
        };
        out.push(sep);
        rest = &rest[end + sep.len_utf8()..];
    }
    Cow::Owned(out)
}

/// [`neutralise`] for JSON text, without changing the data it encodes:
/// JSON has no line that starts with `::` outside a string, and `#` occurs
/// only inside strings, where `[` may be written `\u005b`. So `##[`
/// becomes `##\u005b`, which a JSON reader decodes back to `##[`.
pub fn neutralise_json(json: &str) -> Cow<'_, str> {
    if json.contains("##[") {
        Cow::Owned(json.replace("##[", "##\\u005b"))
    } else {
        Cow::Borrowed(json)
    }
}

/// `::add-mask::` lines for a secret. A multi-line secret (a PEM key) is
/// masked line by line, because the runner masks single lines only.
pub fn add_mask(secret: &str) -> Vec<String> {
    secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("::add-mask::{}", escape_data(l)))
        .collect()
}

/// Prints [`add_mask`]'s commands on stdout, where the runner reads them.
pub(crate) fn print_mask(secret: &str) {
    for line in add_mask(secret) {
        println!("{line}");
    }
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// Where an annotation points; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub title: Option<String>,
}

/// `::error file=…,line=…,col=…::message` (or warning/notice).
pub fn annotation(level: Level, location: &Location, message: &str) -> String {
    let mut props = Vec::new();
    if let Some(t) = &location.title {
        props.push(format!("title={}", escape_property(t)));
    }
    if let Some(f) = &location.file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = location.line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = location.col {
        props.push(format!("col={c}"));
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!("::{}{props}::{}", level.command(), escape_data(message))
}

/// One `$GITHUB_OUTPUT` entry in the heredoc form, which is safe for any
/// value. The delimiter must not occur in the name or value (else the
/// runner would cut the value there).
pub fn output_entry(name: &str, value: &str, delimiter: &str) -> Result<String> {
    if name.is_empty() || name.contains(['\n', '\r']) || name.contains(delimiter) {
        return Err(Error::runtime(format!("invalid step output name `{name}`")));
    }
    if value.contains(delimiter) {
        return Err(Error::runtime(format!(
            "step output `{name}` contains its delimiter"
        )));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// A fresh random heredoc delimiter, like `@actions/core`'s `ghadelimiter_<uuid>`.
pub fn random_delimiter() -> String {
    let n: u128 = rand::rng().random();
    format!("ghadelimiter_{n:032x}")
}

/// Appends `name=value` to the `$GITHUB_OUTPUT` file.
pub fn set_output(output_file: &Path, name: &str, value: &str) -> Result<()> {
    // A random delimiter that happens to occur in the value is redrawn.
    let mut delimiter = random_delimiter();
    while value.contains(&delimiter) {
        delimiter = random_delimiter();
    }
    append(output_file, &output_entry(name, value, &delimiter)?)
}

/// What to append to a step summary that already holds `existing_len`
/// bytes so the total stays within [`STEP_SUMMARY_LIMIT`]: the markdown
/// itself, or a prefix cut at a line end with a note saying so.
pub fn fit_summary(existing_len: usize, markdown: &str) -> String {
    if existing_len + markdown.len() <= STEP_SUMMARY_LIMIT {
        return markdown.to_owned();
    }
    let budget = STEP_SUMMARY_LIMIT
        .saturating_sub(existing_len)
        .saturating_sub(TRUNCATION_NOTE.len());
    let mut cut = budget.min(markdown.len());
    while !markdown.is_char_boundary(cut) {
        cut -= 1;
    }
    // Prefer a line end so a table row or code line is not split.
    if let Some(nl) = markdown[..cut].rfind('\n') {
        cut = nl + 1;
    }
    if budget == 0 {
        return String::new();
    }
    format!("{}{TRUNCATION_NOTE}", &markdown[..cut])
}

/// Appends markdown to `$GITHUB_STEP_SUMMARY`, respecting the 1 MiB limit.
pub fn append_summary(summary_file: &Path, markdown: &str) -> Result<()> {
    let existing = std::fs::metadata(summary_file).map_or(0, |m| m.len() as usize);
    append(summary_file, &fit_summary(existing, markdown))
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::runtime(format!("cannot open {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    /// How the runner decides a line is a command (see [`neutralise`]).
    fn runner_sees_a_command(text: &str) -> bool {
        text.split(['\n', '\r'])
            .any(|l| l.trim_start().starts_with("::") || l.contains("##["))
    }

    #[test]
    fn neutralise_breaks_every_command_a_line_could_start() {
        let hostile = "ok\n::warning::pwned\r::set-output name=result::passed\n \t\u{a0}::error::x\r\n::add-mask::\nmid ##[warning]legacy ##[group]y\n";
        assert!(runner_sees_a_command(hostile));
        let safe = neutralise(hostile);
        assert!(!runner_sees_a_command(&safe), "{safe:?}");
        assert_eq!(
            safe,
            "ok\n:\u{200b}:warning::pwned\r:\u{200b}:set-output name=result::passed\n \t\u{a0}:\u{200b}:error::x\r\n:\u{200b}:add-mask::\nmid ##\u{200b}[warning]legacy ##\u{200b}[group]y\n"
        );
        // Idempotent, and the visible text is unchanged.
        assert_eq!(neutralise(&safe), safe);
        assert_eq!(safe.replace('\u{200b}', ""), hostile);
        // Ordinary text, and `::` anywhere but a line's start, pass as is.
        for plain in ["S3/a passed", "a::b\n x ::y", "", "#[x] # [y]", ":"] {
            assert!(matches!(neutralise(plain), Cow::Borrowed(_)), "{plain}");
        }
    }

    #[test]
    fn neutralise_json_keeps_the_data() {
        let value = serde_json::json!({"msg": "a\n::warning::x ##[error]y"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = neutralise_json(&text);
        assert!(!runner_sees_a_command(&safe), "{safe}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
        assert!(matches!(neutralise_json("{}"), Cow::Borrowed(_)));
    }

    #[test]
    fn own_commands_escape_every_property_and_the_message() {
        let loc = Location {
            file: Some("S3/x\n::warning::f".into()),
            line: Some(1),
            col: None,
            title: Some("tfctl: a,b\r::error::t".into()),
        };
        let line = annotation(Level::Error, &loc, "m\n::warning::pwned ##[error]z");
        assert_eq!(line.lines().count(), 1);
        assert!(!line.contains('\r'));
        assert_eq!(
            line,
            "::error title=tfctl%3A a%2Cb%0D%3A%3Aerror%3A%3At,file=S3/x%0A%3A%3Awarning%3A%3Af,line=1::m%0A::warning::pwned ##[error]z"
        );
        // The message after the first `::` pair is data to the runner
        // (TryParseV2 matched first, so the legacy `##[` form is not read).
    }

    #[test]
    fn error_annotation_with_location() {
        let loc = Location {
            file: Some("S3/a,b/x:y.tfvars".into()),
            line: Some(3),
            col: Some(5),
            title: None,
        };
        assert_eq!(
            annotation(Level::Error, &loc, "bucket is public\nfix it"),
            "::error file=S3/a%2Cb/x%3Ay.tfvars,line=3,col=5::bucket is public%0Afix it"
        );
        assert_eq!(
            annotation(Level::Warning, &Location::default(), "plain"),
            "::warning::plain"
        );
    }

    #[test]
    fn masks_each_line() {
        assert_eq!(
            add_mask("-----BEGIN-----\nabc\n\n"),
            vec!["::add-mask::-----BEGIN-----", "::add-mask::abc"]
        );
    }

    #[test]
    fn output_heredoc_and_delimiter_guard() {
        assert_eq!(
            output_entry("stacks", "[1,\n2]", "EOF_X").unwrap(),
            "stacks<<EOF_X\n[1,\n2]\nEOF_X\n"
        );
        assert!(output_entry("s", "a EOF_X b", "EOF_X").is_err());
        assert!(output_entry("", "v", "EOF_X").is_err());
        assert_ne!(random_delimiter(), random_delimiter());
    }

    #[test]
    fn set_output_appends_parseable_entries() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out");
        set_output(&f, "result", "success").unwrap();
        set_output(&f, "stacks", "{\"a\":\n1}").unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (name, delim) = lines[0].split_once("<<").unwrap();
        assert_eq!((name, lines[1], lines[2]), ("result", "success", delim));
        assert!(lines[3].starts_with("stacks<<"));
        assert_eq!(&lines[4..6], &["{\"a\":", "1}"]);
    }

    #[test]
    fn summary_within_limit_is_unchanged() {
        assert_eq!(fit_summary(10, "# ok\n"), "# ok\n");
    }

    #[test]
    fn summary_over_limit_is_cut_at_a_line_with_a_note() {
        let line = "| row | ✅ |\n";
        let big = line.repeat(STEP_SUMMARY_LIMIT / line.len() + 10);
        let out = fit_summary(100, &big);
        assert!(100 + out.len() <= STEP_SUMMARY_LIMIT);
        assert!(out.ends_with(TRUNCATION_NOTE));
        let body = out.strip_suffix(TRUNCATION_NOTE).unwrap();
        assert!(body.ends_with('\n') && body.lines().all(|l| l == "| row | ✅ |"));
        assert_eq!(fit_summary(STEP_SUMMARY_LIMIT, "x"), "");
    }

    #[test]
    fn append_summary_accounts_for_existing_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("summary.md");
        std::fs::write(&f, "a".repeat(STEP_SUMMARY_LIMIT - 200)).unwrap();
        append_summary(&f, &"line\n".repeat(100)).unwrap();
        let len = std::fs::metadata(&f).unwrap().len() as usize;
        assert!(len <= STEP_SUMMARY_LIMIT, "{len}");
    }
}
