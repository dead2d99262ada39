//! `tfctl policy test [PATH...] [--format text|json]`: wiring only.
//!
//! Chooses the policy paths (arguments, else the config's `policy.paths`,
//! else `policies`), runs [`crate::policy::testing::run`] and prints the
//! results. Decides nothing about Rego itself.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Cli, PolicyCommand, PolicyTestArgs, TestFormat};
use crate::context::Context;
use crate::error::{Error, ExitStatus, Result};
use crate::policy::testing::{self, TestResult};

/// Runs a `tfctl policy` subcommand.
pub fn run(cli: &Cli, command: &PolicyCommand, ctx: &Context) -> Result<ExitStatus> {
    match command {
        PolicyCommand::Test(args) => test(cli, args, ctx),
    }
}

fn test(cli: &Cli, args: &PolicyTestArgs, ctx: &Context) -> Result<ExitStatus> {
    let paths = policy_paths(cli, args, ctx)?;
    let results = testing::run(&paths)?;
    let failed = results.iter().filter(|r| !r.passed).count();
    let text = match args.format {
        TestFormat::Text => render_text(&results),
        TestFormat::Json => render_json(&results),
    };
    let text = crate::actions::commands::neutralise(&text);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .map_err(|e| Error::runtime(format!("writing output: {e}")))?;
    if args.format == TestFormat::Text {
        // Why a test failed goes to stderr so stdout keeps one line per test.
        let mut stderr = std::io::stderr().lock();
        for r in results.iter().filter(|r| !r.passed) {
            if let Some(err) = &r.error {
                let line = format!("  {}.{}: {err}", r.package, r.name);
                let _ = writeln!(stderr, "{}", crate::actions::commands::neutralise(&line));
            }
        }
    }
    Ok(if failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Explicit paths win; then the config's policy paths when a tfctl.yaml is
/// found (an explicit `--config` must exist); then `policies`.
fn policy_paths(cli: &Cli, args: &PolicyTestArgs, ctx: &Context) -> Result<Vec<PathBuf>> {
    if !args.paths.is_empty() {
        return Ok(args.paths.clone());
    }
    match crate::config::locate(cli.config.as_deref(), &ctx.cwd) {
        Ok(file) => Ok(crate::config::load(&file)?.policy.paths),
        Err(e) if cli.config.is_some() => Err(e),
        Err(_) => Ok(vec![PathBuf::from("policies")]),
    }
}

/// `PASS|FAIL <package>.<rule> (<file>)` per test, then `N passed, N failed`.
pub fn render_text(results: &[TestResult]) -> String {
    let mut out = String::new();
    for r in results {
        let word = if r.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!("{word} {}.{} ({})\n", r.package, r.name, r.file));
    }
    let passed = results.iter().filter(|r| r.passed).count();
    out.push_str(&format!(
        "{passed} passed, {} failed\n",
        results.len() - passed
    ));
    out
}

/// `{"tests":[{package,name,file,passed,error}], "passed":N, "failed":N}`.
pub fn render_json(results: &[TestResult]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        tests: &'a [TestResult],
        passed: usize,
        failed: usize,
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let doc = Doc {
        tests: results,
        passed,
        failed: results.len() - passed,
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("test results serialize");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, passed: bool) -> TestResult {
        TestResult {
            package: "terraform.tags".into(),
            name: name.into(),
            file: "policies/tags/tags_test.rego".into(),
            passed,
            error: (!passed).then(|| "undefined".into()),
        }
    }

    #[test]
    fn text_has_one_line_per_test_and_a_summary() {
        let text = render_text(&[result("test_a", true), result("test_b", false)]);
        assert_eq!(
            text,
            "PASS terraform.tags.test_a (policies/tags/tags_test.rego)\n\
             FAIL terraform.tags.test_b (policies/tags/tags_test.rego)\n\
             1 passed, 1 failed\n"
        );
    }

    #[test]
    fn json_carries_counts_and_errors() {
        let doc: serde_json::Value =
            serde_json::from_str(&render_json(&[result("test_b", false)])).unwrap();
        assert_eq!(doc["passed"], 0);
        assert_eq!(doc["failed"], 1);
        assert_eq!(doc["tests"][0]["name"], "test_b");
        assert_eq!(doc["tests"][0]["error"], "undefined");
        assert_eq!(doc["tests"][0]["passed"], false);
    }
}
