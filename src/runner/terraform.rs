//! Terraform command lines and the reading of what terraform prints: argv
//! for each step, the short failure reason, the log tail, public outputs.
//!
//! Pure functions only: no processes, no files, no environment reads. The
//! runner decides *when* to run a step; this module decides *what* it is.
//! argv is built as a vector of separate arguments, never a shell string.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Joins `prefix` and a path into one argument (`-out=/tmp/x.tfplan`)
/// without a lossy UTF-8 conversion of the path.
fn flag_path(prefix: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(path.as_os_str());
    arg
}

fn strings(args: &[String]) -> impl Iterator<Item = OsString> + '_ {
    args.iter().map(OsString::from)
}

/// `terraform init`: never prompts, no colour, one `-backend-config=k=v`
/// per pair, then the configured extra arguments.
pub fn init_argv(backend_config: &[(String, String)], extra: &[String]) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["init".into(), "-input=false".into(), "-no-color".into()];
    argv.extend(
        backend_config
            .iter()
            .map(|(k, v)| OsString::from(format!("-backend-config={k}={v}"))),
    );
    argv.extend(strings(extra));
    argv
}

/// `terraform plan` into a saved plan file, with the stack's tfvars (in
/// order: a later one wins) and `-var k=v` per variable (sorted, as the map is).
pub fn plan_argv(
    plan_file: &Path,
    var_files: &[PathBuf],
    variables: &BTreeMap<String, String>,
    destroy: bool,
    extra: &[String],
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![
        "plan".into(),
        "-input=false".into(),
        "-no-color".into(),
        flag_path("-out=", plan_file),
    ];
    argv.extend(var_files.iter().map(|f| flag_path("-var-file=", f)));
    for (k, v) in variables {
        argv.push("-var".into());
        argv.push(format!("{k}={v}").into());
    }
    if destroy {
        argv.push("-destroy".into());
    }
    argv.extend(strings(extra));
    argv
}

/// `terraform show -json PLANFILE`: the plan exactly as policies read it.
pub fn show_argv(plan_file: &Path) -> Vec<OsString> {
    vec![
        "show".into(),
        "-json".into(),
        "-no-color".into(),
        plan_file.as_os_str().to_owned(),
    ]
}

/// `terraform state pull`: the current state on stdout, for the snapshot
/// taken before an apply.
pub fn state_pull_argv() -> Vec<OsString> {
    vec!["state".into(), "pull".into()]
}

/// `terraform apply` of the saved plan (the plan file must come last).
pub fn apply_argv(plan_file: &Path, extra: &[String]) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["apply".into(), "-input=false".into(), "-no-color".into()];
    argv.extend(strings(extra));
    argv.push(plan_file.as_os_str().to_owned());
    argv
}

/// What `terraform state pull` printed, as the identity of that state:
/// `<lineage>:<serial>`, `empty` for no state yet, or a digest of the text
/// when it is not a state document (still a stable identity).
pub fn state_identity(pulled: &[u8]) -> String {
    let text = String::from_utf8_lossy(pulled);
    if text.trim().is_empty() {
        return "empty".into();
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(state) => match (state["lineage"].as_str(), state["serial"].as_u64()) {
            (Some(lineage), Some(serial)) => format!("{lineage}:{serial}"),
            _ => format!("sha256:{}", hex::encode(Sha256::digest(pulled))),
        },
        Err(_) => format!("sha256:{}", hex::encode(Sha256::digest(pulled))),
    }
}

/// `terraform output -json`.
pub fn output_argv() -> Vec<OsString> {
    vec!["output".into(), "-json".into(), "-no-color".into()]
}

/// The outputs of `terraform output -json` without those marked
/// `sensitive`, which must never reach a comment or a log (docs/DESIGN.md §4).
/// Anything that is not an object of outputs yields an empty object.
pub fn public_outputs(outputs: &serde_json::Value) -> serde_json::Value {
    let public = outputs
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(_, o)| {
                    o.get("sensitive").and_then(serde_json::Value::as_bool) != Some(true)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    serde_json::Value::Object(public)
}

/// Environment variables terraform never inherits from tfctl (docs/DESIGN.md §4:
/// "Terraform runs without tfctl's own secrets").
///
/// Terraform runs code tfctl does not control: root modules, the modules
/// they call, providers and `local-exec` provisioners. A config-repo writer
/// can change the inputs of that code, a controller-repo writer the code
/// itself, and anything that runs can read its own environment. So the
/// credentials tfctl itself works with stay with tfctl: the GitHub token
/// (`GITHUB_TOKEN`, and `GH_TOKEN`, which the `gh` CLI and many tools read),
/// the attestation signing key (with it, a module could sign its own
/// approval), the GitHub App credentials (`TFCTL_APP_*`, which mint
/// installation tokens), and the Actions runtime and OIDC request
/// credentials (a cache/artifact write token, and what asks GitHub for
/// an OIDC token in this job's name).
///
/// A provider that really needs one of them (OIDC federation reads
/// `ACTIONS_ID_TOKEN_REQUEST_*`) gets it through `terraform.pass_env` of
/// tfctl.yaml, which only the controller's owners can change. An
/// environment's own `env:` is set explicitly and always applies.
pub const WITHHELD_ENV: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "TFCTL_SIGNING_KEY",
    "TFCTL_APP_ID",
    "TFCTL_APP_PRIVATE_KEY",
    "TFCTL_APP_INSTALLATION_ID",
    "TFCTL_CONTROLLER_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
];

/// The names removed from the environment terraform inherits: every one
/// of [`WITHHELD_ENV`] that `pass_env` does not let through, in that order.
pub fn withheld_env(pass_env: &[String]) -> Vec<&'static str> {
    WITHHELD_ENV
        .iter()
        .copied()
        .filter(|name| !pass_env.iter().any(|p| p == name))
        .collect()
}

/// Whether tfctl must point `TF_CLI_CONFIG_FILE` at an empty file: only
/// when neither the environment nor the job sets one and `~/.terraformrc`
/// is absent — else terraform warns on every command about the missing
/// default file. A user's own configuration always wins.
pub fn needs_empty_cli_config(
    process_env: Option<&OsStr>,
    job_env: &BTreeMap<String, String>,
    home_rc_exists: bool,
) -> bool {
    process_env.is_none() && !job_env.contains_key("TF_CLI_CONFIG_FILE") && !home_rc_exists
}

/// A directory name for one stack's scratch files, unique within a run
/// (the job index) and readable (the stack id with `/` as `__`).
pub fn stack_slug(index: usize, stack_id: &str) -> String {
    let id: String = stack_id
        .chars()
        .map(|c| match c {
            '/' => '_',
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            _ => '-',
        })
        .collect();
    format!("{index:03}-{id}")
}

/// Removes ANSI escape sequences (CSI `ESC [ ... letter` and lone `ESC x`),
/// in case a provider colours its output despite `-no-color`.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // `ESC x` drops x; `ESC [` drops parameters up to the final byte.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// The last `lines` lines of `log`, ANSI removed.
pub fn log_tail(log: &str, lines: usize) -> String {
    let clean = strip_ansi(log);
    let all: Vec<&str> = clean.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How many errors a failure reason names before it says "and N more".
const MAX_ERRORS: usize = 3;
/// Upper bound on a failure reason, in characters.
const MAX_REASON: usize = 400;

/// A one-line reason for a failed terraform step, from what it printed:
/// each `Error: summary` with the first line of its detail (the part people
/// wrote, such as a precondition's `error_message`), or, when terraform
/// printed no diagnostic, its last non-empty line.
pub fn failure_reason(step: &str, output: &str, exit: &str) -> String {
    let clean = strip_ansi(output);
    let errors = diagnostics(&clean);
    let what = if errors.is_empty() {
        clean
            .lines()
            .map(|l| l.trim_matches(|c: char| c.is_whitespace() || "│╷╵".contains(c)))
            .rfind(|l| !l.is_empty())
            .map_or_else(|| "no output".into(), str::to_owned)
    } else {
        let mut shown: Vec<String> = errors.iter().take(MAX_ERRORS).cloned().collect();
        if errors.len() > MAX_ERRORS {
            shown.push(format!("and {} more", errors.len() - MAX_ERRORS));
        }
        shown.join("; ")
    };
    truncate(
        &format!("terraform {step} failed ({exit}): {what}"),
        MAX_REASON,
    )
}

/// The distinct `Error:` diagnostics in terraform's output, each as
/// `summary: first detail line`. Terraform prints a diagnostic as the
/// summary line, an indented source snippet, then unindented detail text;
/// with colour it frames lines with `│`, which is dropped here.
fn diagnostics(output: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    let mut flush = |current: &mut Option<(String, Option<String>)>| {
        if let Some((summary, detail)) = current.take() {
            let text = match detail {
                Some(d) => format!("{summary}: {}", d.trim_end()),
                None => summary,
            };
            if !found.contains(&text) {
                found.push(text);
            }
        }
    };
    for raw in output.lines() {
        let unframed = raw.trim_start_matches(|c: char| "│╷╵".contains(c));
        let line = unframed.strip_prefix(' ').unwrap_or(unframed);
        if let Some(summary) = line.strip_prefix("Error: ") {
            flush(&mut current);
            current = Some((summary.trim().to_owned(), None));
        } else if line.starts_with("Warning: ") {
            flush(&mut current);
        } else if let Some((_, detail)) = current.as_mut() {
            // The first paragraph of unindented text; terraform wraps it.
            let text = !line.trim().is_empty() && !line.starts_with(char::is_whitespace);
            match detail {
                None if text => *detail = Some(line.trim().to_owned()),
                Some(d) if text && !d.ends_with('\n') => {
                    d.push(' ');
                    d.push_str(line.trim());
                }
                // A blank or indented line ends the paragraph.
                Some(d) if !d.ends_with('\n') => d.push('\n'),
                _ => {}
            }
        }
    }
    flush(&mut current);
    found
}

/// Most warnings kept per stack; the log has them all.
const MAX_WARNINGS: usize = 20;

/// Terraform's `Warning:` diagnostics, distinct, in order: each its summary,
/// with ` (on FILE line N)` when terraform says where.
pub fn warnings(output: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    let mut flush = |current: &mut Option<(String, Option<String>)>| {
        if let Some((summary, at)) = current.take() {
            let text = match at {
                Some(at) => format!("{summary} (on {at})"),
                None => summary,
            };
            if !found.contains(&text) && found.len() < MAX_WARNINGS {
                found.push(text);
            }
        }
    };
    for raw in output.lines() {
        let line = raw.trim_start_matches(|c: char| "│╷╵".contains(c)).trim();
        if let Some(summary) = line.strip_prefix("Warning: ") {
            flush(&mut current);
            current = Some((summary.to_owned(), None));
        } else if line.starts_with("Error: ") || raw.starts_with('╵') {
            flush(&mut current);
        } else if let Some((_, at @ None)) = current.as_mut() {
            if let Some(place) = line.strip_prefix("on ").and_then(|l| l.split_once(':')) {
                let (file_line, _) = place.0.split_once(", in ").unwrap_or((place.0, ""));
                *at = Some(file_line.to_owned());
            }
        }
    }
    flush(&mut current);
    found
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_each_summary_with_where() {
        let log = "╷\n│ Warning: Deprecated attribute\n│ \n│   on main.tf line 3, in resource \"x\" \"y\":\n│    3:   a = b\n│ \n│ Use c.\n╵\n\
                   Warning: Value for undeclared variable\n\nThe root module does not declare a variable named \"x\".\n\
                   ╷\n│ Warning: Deprecated attribute\n│ \n│   on main.tf line 3, in resource \"x\" \"y\":\n╵\n\
                   ╷\n│ Error: boom\n╵\n";
        assert_eq!(
            warnings(log),
            [
                "Deprecated attribute (on main.tf line 3)",
                "Value for undeclared variable"
            ]
        );
        assert!(warnings("Plan: 1 to add\n").is_empty());
    }

    #[test]
    fn state_identity_is_lineage_and_serial() {
        assert_eq!(state_identity(b""), "empty");
        assert_eq!(
            state_identity(br#"{"version":4,"serial":7,"lineage":"abc","resources":[]}"#),
            "abc:7"
        );
        assert!(state_identity(b"not json").starts_with("sha256:"));
    }

    use std::path::PathBuf;

    fn strs(argv: &[OsString]) -> Vec<&str> {
        argv.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn init_passes_each_backend_config_as_one_argument() {
        let argv = init_argv(
            &[
                ("path".into(), "/s/a b.tfstate".into()),
                ("key".into(), "S3/dev/x/terraform.tfstate".into()),
            ],
            &["-upgrade".into()],
        );
        assert_eq!(
            strs(&argv),
            [
                "init",
                "-input=false",
                "-no-color",
                "-backend-config=path=/s/a b.tfstate",
                "-backend-config=key=S3/dev/x/terraform.tfstate",
                "-upgrade"
            ]
        );
    }

    #[test]
    fn plan_argv_has_out_var_file_sorted_vars_and_destroy() {
        let vars = BTreeMap::from([
            ("region".to_string(), "eu-west-1".to_string()),
            ("profile".to_string(), "prod admin".to_string()),
        ]);
        let argv = plan_argv(
            &PathBuf::from("/w/p.tfplan"),
            &[PathBuf::from("/c/S3/a/a.tfvars")],
            &vars,
            true,
            &["-lock-timeout=60s".into()],
        );
        assert_eq!(
            strs(&argv),
            [
                "plan",
                "-input=false",
                "-no-color",
                "-out=/w/p.tfplan",
                "-var-file=/c/S3/a/a.tfvars",
                "-var",
                "profile=prod admin",
                "-var",
                "region=eu-west-1",
                "-destroy",
                "-lock-timeout=60s"
            ]
        );
        let argv = plan_argv(
            &PathBuf::from("p"),
            &[PathBuf::from("v")],
            &BTreeMap::new(),
            false,
            &[],
        );
        assert!(!strs(&argv).contains(&"-destroy"));
    }

    #[test]
    fn apply_puts_the_plan_file_last() {
        let argv = apply_argv(&PathBuf::from("/w/p.tfplan"), &["-parallelism=5".into()]);
        assert_eq!(
            strs(&argv),
            [
                "apply",
                "-input=false",
                "-no-color",
                "-parallelism=5",
                "/w/p.tfplan"
            ]
        );
        assert_eq!(
            strs(&show_argv(&PathBuf::from("/w/p"))),
            ["show", "-json", "-no-color", "/w/p"]
        );
        assert_eq!(strs(&state_pull_argv()), ["state", "pull"]);
        assert_eq!(strs(&output_argv()), ["output", "-json", "-no-color"]);
    }

    #[test]
    fn sensitive_outputs_are_dropped() {
        let outputs = serde_json::json!({
            "id": {"sensitive": false, "type": "string", "value": "abc"},
            "password": {"sensitive": true, "type": "string", "value": "hunter2"},
        });
        let public = public_outputs(&outputs);
        assert_eq!(
            public,
            serde_json::json!({"id": {"sensitive": false, "type": "string", "value": "abc"}})
        );
        assert!(!public.to_string().contains("hunter2"));
        assert_eq!(
            public_outputs(&serde_json::json!([1])),
            serde_json::json!({})
        );
    }

    #[test]
    fn every_secret_is_withheld_unless_passed() {
        let all = withheld_env(&[]);
        assert_eq!(all, WITHHELD_ENV);
        for name in [
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "TFCTL_SIGNING_KEY",
            "TFCTL_APP_PRIVATE_KEY",
            "ACTIONS_RUNTIME_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
        ] {
            assert!(all.contains(&name), "{name}");
        }
        let passed = withheld_env(&[
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        ]);
        assert_eq!(passed.len(), WITHHELD_ENV.len() - 2);
        assert!(!passed.contains(&"ACTIONS_ID_TOKEN_REQUEST_URL"));
        assert!(passed.contains(&"GITHUB_TOKEN"));
    }

    #[test]
    fn empty_cli_config_only_when_nothing_is_configured() {
        let none = BTreeMap::new();
        assert!(needs_empty_cli_config(None, &none, false));
        assert!(!needs_empty_cli_config(
            Some(OsStr::new("/x/rc")),
            &none,
            false
        ));
        assert!(!needs_empty_cli_config(None, &none, true));
        let job = BTreeMap::from([("TF_CLI_CONFIG_FILE".to_string(), "/rc".to_string())]);
        assert!(!needs_empty_cli_config(None, &job, false));
    }

    #[test]
    fn slugs_are_unique_and_path_safe() {
        assert_eq!(stack_slug(7, "S3/data-lake-prod"), "007-S3_data-lake-prod");
        assert_eq!(stack_slug(12, "a b/../c"), "012-a-b_.._c");
        assert_ne!(stack_slug(1, "a/b"), stack_slug(2, "a/b"));
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[31mError:\u{1b}[0m bad \u{1b}[1;4mthing\u{1b}[0m"),
            "Error: bad thing"
        );
        assert_eq!(log_tail("a\nb\nc\n\n", 2), "b\nc");
        assert_eq!(log_tail("only", 5), "only");
    }

    /// Verbatim `terraform plan -no-color` output (Terraform 1.15.5) of a
    /// failed precondition.
    const PRECONDITION: &str = "\nError: Resource precondition failed\n\n  on main.tf line 16, in resource \"terraform_data\" \"this\":\n  16:       condition     = !var.fail\n    ├────────────────\n    │ var.fail is true\n\nstack asked to fail (fail = true)\n";

    #[test]
    fn failure_reason_takes_summary_and_written_detail() {
        assert_eq!(
            failure_reason("plan", PRECONDITION, "exit status 1"),
            "terraform plan failed (exit status 1): Resource precondition failed: stack asked to fail (fail = true)"
        );
    }

    #[test]
    fn failure_reason_joins_a_wrapped_detail_paragraph() {
        // Verbatim terraform 1.15.5 init output (paths shortened).
        let wrapped = "- Using hashicorp/null v2.1.2 from the shared cache directory\n\nError: Failed to install provider from shared cache\n\nError while importing hashicorp/null v2.1.2 from the shared cache directory:\nafter linking registry.terraform.io/hashicorp/null from provider cache at\n/tmp/plugin-cache it is still not detected in the target\ndirectory; this is a bug in Terraform.\n\nmore text\n";
        assert_eq!(
            failure_reason("init", wrapped, "exit status 1"),
            "terraform init failed (exit status 1): Failed to install provider from shared cache: Error while importing hashicorp/null v2.1.2 from the shared cache directory: after linking registry.terraform.io/hashicorp/null from provider cache at /tmp/plugin-cache it is still not detected in the target directory; this is a bug in Terraform."
        );
    }

    #[test]
    fn failure_reason_reads_coloured_framed_diagnostics() {
        let framed = "\u{1b}[31m╷\u{1b}[0m\n\u{1b}[31m│\u{1b}[0m \u{1b}[1m\u{1b}[31mError: \u{1b}[0m\u{1b}[1mBackend initialization required\u{1b}[0m\n\u{1b}[31m│\u{1b}[0m \n\u{1b}[31m│\u{1b}[0m Run \"terraform init\".\n\u{1b}[31m╵\u{1b}[0m\n";
        assert_eq!(
            failure_reason("plan", framed, "exit status 1"),
            "terraform plan failed (exit status 1): Backend initialization required: Run \"terraform init\"."
        );
    }

    #[test]
    fn failure_reason_dedups_counts_and_falls_back_to_last_line() {
        let many = "Error: a\n\nError: a\n\nError: b\nWarning: w\nwarning detail\nError: c\nError: d\nError: e\n";
        assert_eq!(
            failure_reason("apply", many, "exit status 1"),
            "terraform apply failed (exit status 1): a; b; c; and 2 more"
        );
        assert_eq!(
            failure_reason("init", "starting\npanic: boom\n\n", "killed by signal 9"),
            "terraform init failed (killed by signal 9): panic: boom"
        );
        assert_eq!(
            failure_reason("init", "", "exit status 3"),
            "terraform init failed (exit status 3): no output"
        );
        let long = format!("Error: {}", "x".repeat(1000));
        assert_eq!(
            failure_reason("plan", &long, "exit status 1")
                .chars()
                .count(),
            MAX_REASON
        );
    }
}
