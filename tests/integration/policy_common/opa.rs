//! Runs `tests/policy_opa.py` (the Go OPA engine from `PyPI`
//! opa-golib-python-bindings) for the policy tests.
//!
//! When Python or the package is missing the caller skips loudly, unless
//! `TFCTL_REQUIRE_OPA=1` (CI), where that is a failure.

use std::path::Path;
use std::process::Command;

/// stdout of `python3 tests/policy_opa.py ARGS...` run in `root`, or `None`
/// (after a loud message) when OPA is not installed here.
pub(crate) fn run_opa(root: &Path, args: &[&std::ffi::OsStr]) -> Option<Vec<u8>> {
    let python = std::env::var("TFCTL_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(root.join("tests/policy_opa.py"))
        .args(args)
        .current_dir(root)
        .output();
    match output {
        Ok(o) if o.status.success() => Some(o.stdout),
        Ok(o) if o.status.code() != Some(3) && o.status.code() != Some(127) => panic!(
            "policy_opa.py failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        _ => {
            let why = "SKIPPED: OPA parity needs Python with opa-golib-python-bindings: \
                       pip install --ignore-requires-python 'opa-golib-python-bindings>=0.4,<0.5'";
            assert!(
                !std::env::var("TFCTL_REQUIRE_OPA").is_ok_and(|v| v == "1"),
                "{why} (TFCTL_REQUIRE_OPA=1)"
            );
            eprintln!("\n!!!!!!!!!!\n{why}\n!!!!!!!!!!\n");
            None
        }
    }
}
