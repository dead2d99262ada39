//! `tfctl policy test`: finds every `test_*` rule of every package and
//! evaluates it, as `opa test` does.
//!
//! A test passes when its rule evaluates to `true`; `false`, undefined or an
//! evaluation error fail it (the error is reported). Parse and compile errors
//! are input errors (exit 2) with file and line, raised before any test runs.
//! Rendering the results is the command's job, not this module's.

use std::path::PathBuf;

use serde::Serialize;

use super::load;
use crate::error::Error;

/// The outcome of one `test_*` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// Package path without `data.` (`terraform.naming`).
    pub package: String,
    /// Rule name (`test_bucket_without_prefix_is_denied`).
    pub name: String,
    /// The `.rego` file that declares it, as the path was given.
    pub file: String,
    pub passed: bool,
    /// Why it failed: `undefined`, `false`, or the evaluation error.
    pub error: Option<String>,
}

/// Loads every `.rego` under `paths`, tests included, and runs all `test_*`
/// rules in file order, then rule order within the file.
pub fn run(paths: &[PathBuf]) -> Result<Vec<TestResult>, Error> {
    let files = load::rego_files(paths, load::Tests::Include)?;
    let mut engine = super::new_engine();
    load::add_policies(&mut engine, &files)?;
    let what = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    load::compile(&mut engine, &what)?;

    let cases = test_rules(&mut engine);
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        let query = format!("data.{}.{}", case.package, case.name);
        let (passed, error) = match engine.eval_rule(query) {
            Ok(regorus::Value::Bool(true)) => (true, None),
            Ok(regorus::Value::Undefined) => (false, Some("undefined".to_string())),
            Ok(other) => (
                false,
                Some(other.to_json_str().unwrap_or_else(|_| "not true".into())),
            ),
            Err(e) => (false, Some(load::one_line(&e, &case.file))),
        };
        results.push(TestResult {
            package: case.package,
            name: case.name,
            file: case.file,
            passed,
            error,
        });
    }
    Ok(results)
}

struct Case {
    package: String,
    name: String,
    file: String,
}

/// `test_*` rules, one per (package, name) even when a test is defined
/// incrementally, in (file, line) order.
fn test_rules(engine: &mut regorus::Engine) -> Vec<Case> {
    use regorus::unstable::{Rule, RuleHead};
    let mut seen = std::collections::BTreeSet::new();
    let mut found: Vec<(String, u32, Case)> = Vec::new();
    for module in engine.get_modules() {
        let package = module.package.refr.span().text().to_string();
        let file = module.package.span.source.get_path().clone();
        for rule in &module.policy {
            // Tests are plain rules (`test_x if {...}`); functions are not tests.
            let Rule::Spec {
                head: RuleHead::Compr { refr, .. },
                ..
            } = rule.as_ref()
            else {
                continue;
            };
            let name = refr.span().text();
            let is_test = name.starts_with("test_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_test && seen.insert((package.clone(), name.to_string())) {
                found.push((
                    file.clone(),
                    refr.span().line,
                    Case {
                        package: package.clone(),
                        name: name.to_string(),
                        file: file.clone(),
                    },
                ));
            }
        }
    }
    found.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    found.into_iter().map(|(_, _, case)| case).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_failing_undefined_and_erroring_tests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a_test.rego"),
            r#"package a
test_true if true
test_false if false
test_undefined if input.nothing == 1
test_error if {
  x := {"k": 1, "k2": 2}
  x[_] == "y"
  1 / 0 == 1
}
helper(x) := x
test_fn_is_not_a_test(x) := x
not_a_test if true
"#,
        )
        .unwrap();
        let results = run(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<(&str, bool)> = results
            .iter()
            .map(|r| (r.name.as_str(), r.passed))
            .collect();
        assert_eq!(
            names,
            [
                ("test_true", true),
                ("test_false", false),
                ("test_undefined", false),
                ("test_error", false)
            ]
        );
        assert!(results[0].file.ends_with("a_test.rego"));
        assert_eq!(results[0].package, "a");
        assert_eq!(results[2].error.as_deref(), Some("undefined"));
    }
}
