//! Policy loading: finding `.rego` files, reading data documents, and
//! turning regorus parse/compile errors into one-line `file:line:col: message`
//! errors.
//!
//! This is the IO edge of the policy module (it reads files). It must not
//! evaluate anything: judging plans lives in [`super::PolicyEngine::evaluate`].

use std::path::{Path, PathBuf};

use crate::error::Error;

/// Which `.rego` files to pick up while walking directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tests {
    /// Leave out `*_test.rego` (the engine that judges plans).
    Exclude,
    /// Keep them (`tfctl policy test`).
    Include,
}

/// Every `.rego` file under `paths` (files or directories, recursive), in a
/// stable order: each argument in turn, directories walked in sorted order.
/// Hidden entries (`.git`, `.terraform`) are skipped. A path that does not
/// exist is an input error.
pub fn rego_files(paths: &[PathBuf], tests: Tests) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            walk(path, tests, &mut out)?;
        } else if wanted(path, tests) {
            out.push(path.clone());
        }
    }
    // The same file named twice (a dir and a file inside it) is loaded once.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

fn walk(dir: &Path, tests: Tests, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::input(format!("{}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, tests, out)?;
        } else if wanted(&path, tests) {
            out.push(path);
        }
    }
    Ok(())
}

fn wanted(path: &Path, tests: Tests) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".rego") && (tests == Tests::Include || !name.ends_with("_test.rego"))
}

/// Reads the `.rego` files into `engine`, each under its path as given (so
/// errors and test results name the file the user knows).
pub fn add_policies(engine: &mut regorus::Engine, files: &[PathBuf]) -> Result<(), Error> {
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
        engine
            .add_policy(file.display().to_string(), text)
            .map_err(|e| Error::input(one_line(&e, &file.display().to_string())))?;
    }
    Ok(())
}

/// Forces regorus to analyse the loaded modules now, so a compile error
/// (unsafe variable, recursion, unknown function) surfaces at load time
/// instead of on the first plan.
pub fn compile(engine: &mut regorus::Engine, what: &str) -> Result<(), Error> {
    engine
        .eval_query("true".into(), false)
        .map(|_| ())
        .map_err(|e| Error::input(one_line(&e, what)))
}

/// Reads a JSON or YAML data document (by extension; anything else is read
/// as JSON). It must be an object; `tfctl` at its top is reserved for the
/// run context.
pub fn data_document(path: &Path) -> Result<serde_json::Value, Error> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(format!("{shown}: {e}")))?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let value: serde_json::Value = if yaml {
        serde_yaml::from_str(&text).map_err(|e| match e.location() {
            Some(l) => Error::input_at(
                shown.to_string(),
                l.line(),
                Some(l.column()),
                strip_location(&e.to_string()),
            ),
            None => Error::input(format!("{shown}: {e}")),
        })?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            Error::input_at(
                shown.to_string(),
                e.line(),
                Some(e.column()),
                strip_location(&e.to_string()),
            )
        })?
    };
    match &value {
        serde_json::Value::Object(map) if map.contains_key("tfctl") => Err(Error::input(format!(
            "{shown}: top-level key `tfctl` is reserved for the run context (data.tfctl)"
        ))),
        serde_json::Value::Object(_) => Ok(value),
        _ => Err(Error::input(format!(
            "{shown}: a policy data document must be an object"
        ))),
    }
}

/// serde's messages end in " at line L column C"; the location goes up front.
fn strip_location(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// regorus reports errors as a multi-line snippet:
///
/// ```text
/// --> policies/x.rego:3:5
///   |
/// 3 | deny contains msg if {
///   |     ^
/// error: expecting ...
/// ```
///
/// tfctl wants `policies/x.rego:3:5: expecting ...`. Errors without a
/// location are prefixed with `fallback` (the file or what was being done).
pub fn one_line(err: &anyhow::Error, fallback: &str) -> String {
    let text = format!("{err:#}");
    let location = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("error: "))
        .map(str::trim);
    match (location, message) {
        (Some(loc), Some(msg)) => format!("{loc}: {msg}"),
        (Some(loc), None) => format!("{loc}: {}", last_line(&text)),
        _ => format!("{fallback}: {}", last_line(&text)),
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regorus_snippet_becomes_file_line_col() {
        let mut engine = regorus::Engine::new();
        let err = engine
            .add_policy(
                "p/bad.rego".into(),
                "package x\n\ndeny contains msg if {\n  msg := \n}\n".into(),
            )
            .unwrap_err();
        let line = one_line(&err, "p/bad.rego");
        assert!(line.starts_with("p/bad.rego:"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        let loc: Vec<&str> = line.splitn(4, ':').collect();
        assert!(
            loc[1].parse::<u32>().is_ok() && loc[2].parse::<u32>().is_ok(),
            "{line}"
        );
    }

    #[test]
    fn locationless_errors_name_the_fallback() {
        let err = anyhow::anyhow!("something broke\n");
        assert_eq!(one_line(&err, "f.rego"), "f.rego: something broke");
    }
}
