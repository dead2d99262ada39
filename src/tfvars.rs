//! Reading a stack's `*.tfvars` with a real HCL parser (hcl-rs), not regexes.
//!
//! Owns what tfctl needs from a tfvars: `environment`, `depends_on`, the
//! names of its attributes (a tfvars may not set what its environment sets),
//! and every other string value (candidates for implicit edges). Pure: takes
//! the text and the path used in messages. A syntax error names
//! `file:line:col`.

use hcl::{Body, Expression};

use crate::error::Error;

/// What a tfvars declares for tfctl.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TfvarsFacts {
    pub environment: Option<String>,
    pub depends_on: Vec<String>,
    /// Every other string literal, in file order, nested values included.
    pub string_values: Vec<String>,
    /// Every top-level attribute name, in file order (`environment` and
    /// `depends_on` included): the variables this tfvars sets.
    pub attributes: Vec<String>,
}

/// Parses tfvars `text` read from `path` (a display path for messages).
pub fn parse(text: &str, path: &str) -> Result<TfvarsFacts, Error> {
    let body: Body = hcl::parse(text).map_err(|e| syntax_error(path, &e))?;
    let mut facts = TfvarsFacts::default();
    for attr in body.attributes() {
        let key = attr.key();
        let value = attr.expr();
        facts.attributes.push(key.to_string());
        match key {
            "environment" => match value {
                Expression::String(s) if !s.trim().is_empty() => {
                    facts.environment = Some(s.clone());
                }
                _ => {
                    return Err(attribute_error(
                        text,
                        path,
                        key,
                        "must be a non-empty string",
                    ))
                }
            },
            "depends_on" => match value {
                Expression::Array(items) => {
                    for item in items {
                        match item {
                            Expression::String(s) => facts.depends_on.push(normalize_id(s)),
                            _ => {
                                return Err(attribute_error(
                                    text,
                                    path,
                                    key,
                                    "must be a list of stack ids (strings)",
                                ))
                            }
                        }
                    }
                }
                _ => {
                    return Err(attribute_error(
                        text,
                        path,
                        key,
                        "must be a list of stack ids",
                    ))
                }
            },
            _ => collect_strings(value, &mut facts.string_values),
        }
    }
    if body.blocks().next().is_some() {
        return Err(Error::input(format!(
            "{path}: blocks are not allowed in a tfvars file (only `name = value` attributes)"
        )));
    }
    Ok(facts)
}

/// Stack ids are written with `/`; tolerate a trailing slash.
fn normalize_id(id: &str) -> String {
    id.trim().trim_end_matches('/').to_string()
}

fn collect_strings(expr: &Expression, out: &mut Vec<String>) {
    match expr {
        Expression::String(s) => out.push(s.clone()),
        Expression::Array(items) => items.iter().for_each(|e| collect_strings(e, out)),
        Expression::Object(obj) => obj.values().for_each(|e| collect_strings(e, out)),
        _ => {}
    }
}

fn syntax_error(path: &str, e: &hcl::Error) -> Error {
    match e {
        hcl::Error::Parse(parse) => {
            let loc = parse.location();
            Error::input_at(
                path,
                loc.line(),
                Some(loc.column()),
                format!("tfvars syntax error: {}", parse.message()),
            )
        }
        other => Error::input(format!("{path}: tfvars syntax error: {other}")),
    }
}

/// The top-level attributes of tfvars `text` with their byte ranges (from
/// `name` to the end of its value), in file order; empty when the text does
/// not parse (callers parse it with [`parse`] first).
fn attribute_spans(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    use hcl::edit::Span;
    let Ok(body) = hcl::edit::parser::parse_body(text) else {
        return Vec::new();
    };
    body.iter()
        .filter_map(|structure| {
            let attr = structure.as_attribute()?;
            Some((attr.key.as_str().to_string(), attr.span()?))
        })
        .collect()
}

/// `text` with the attributes named in `withheld` blanked out (pure): every
/// character of their definitions but line breaks becomes a space, so the
/// copy terraform reads keeps the line of every other attribute, and
/// terraform's messages about it name the user's line.
pub fn without_attributes(text: &str, withheld: &[String]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (name, span) in attribute_spans(text) {
        if !withheld.contains(&name) {
            continue;
        }
        for b in &mut bytes[span] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    }
    // Only whole UTF-8 sequences were replaced (by ASCII spaces).
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// The 1-based line of attribute `key` in `text`: from the parser's span,
/// else the first line that assigns `key`; 1 when no line does.
pub fn attribute_line(text: &str, key: &str) -> usize {
    if let Some((_, span)) = attribute_spans(text).into_iter().find(|(n, _)| n == key) {
        return text[..span.start].matches('\n').count() + 1;
    }
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn attribute_error(text: &str, path: &str, key: &str, problem: &str) -> Error {
    let line = attribute_line(text, key);
    Error::input_at(path, line, None, format!("`{key}` {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_environment_depends_on_and_strings() {
        let text = r#"
environment = "production"
depends_on  = ["IAM/admin-role", "KMS/encryption-key/"]
bucket_name = "data-lake-prod"
kms_key     = "KMS/encryption-key"
tags = {
  Owner = "data-team"
  ids   = ["a", 3, true]
}
"#;
        let facts = parse(text, "S3/x/x.tfvars").unwrap();
        assert_eq!(facts.environment.as_deref(), Some("production"));
        assert_eq!(
            facts.depends_on,
            vec!["IAM/admin-role", "KMS/encryption-key"]
        );
        assert_eq!(
            facts.string_values,
            vec!["data-lake-prod", "KMS/encryption-key", "data-team", "a"]
        );
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let err = parse("environment = \"dev\"\nname = \n", "S3/x/x.tfvars").unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
        assert!(
            err.message
                .starts_with("S3/x/x.tfvars:2:8: tfvars syntax error: invalid expression"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_type_names_the_attribute_line() {
        let err = parse("a = 1\ndepends_on = \"IAM/x\"\n", "S3/x/x.tfvars").unwrap_err();
        assert_eq!(
            err.message,
            "S3/x/x.tfvars:2: `depends_on` must be a list of stack ids"
        );
        let err = parse("environment = 3\n", "f.tfvars").unwrap_err();
        assert_eq!(
            err.message,
            "f.tfvars:1: `environment` must be a non-empty string"
        );
    }

    #[test]
    fn attributes_are_listed_in_file_order_with_their_lines() {
        let text = "environment = \"production\"\n\n  role_arn = \"x\"\ntags = {}\n";
        let facts = parse(text, "f").unwrap();
        assert_eq!(facts.attributes, ["environment", "role_arn", "tags"]);
        assert_eq!(attribute_line(text, "role_arn"), 3);
        assert_eq!(attribute_line(text, "tags"), 4);
        assert_eq!(attribute_line(text, "missing"), 1);
    }

    #[test]
    fn a_redefined_attribute_is_an_input_error() {
        // tfctl must not read another `environment` than terraform would:
        // hcl-rs, like terraform, refuses the second definition.
        let text = "environment = \"development\"\nenvironment = \"production\"\n";
        let err = parse(text, "S3/x/x.tfvars").unwrap_err();
        assert!(
            err.message.starts_with(
                "S3/x/x.tfvars:2:1: tfvars syntax error: invalid attribute; expected unique attribute key"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn withheld_attributes_are_blanked_and_every_other_line_stays() {
        let text = "environment = \"production\" # prod\ndepends_on = [\n  \"IAM/a\",\n  \"KMS/k\",\n]\nname = \"caf\u{e9}\"\nreplicas = 3\n";
        let copy = without_attributes(text, &["depends_on".into(), "environment".into()]);
        assert_eq!(copy.lines().count(), text.lines().count());
        assert_eq!(copy.len(), text.len());
        let facts = parse(&copy, "copy").unwrap();
        assert_eq!(facts.attributes, ["name", "replicas"]);
        assert_eq!(attribute_line(&copy, "replicas"), 7);
        assert_eq!(attribute_line(text, "replicas"), 7);
        assert!(copy.contains("# prod"), "{copy}");
        assert_eq!(without_attributes(text, &[]), text);
    }

    #[test]
    fn missing_environment_is_none() {
        assert_eq!(parse("x = \"y\"\n", "f").unwrap().environment, None);
    }
}
