//! Inputs checked against the root module, end to end with real git and
//! real Terraform (docs/DESIGN.md §1, §4): a tfvars key the module does not
//! declare is refused with the declared name it most likely means; tfctl's
//! own keys never reach terraform, so its remaining warnings are real; a
//! second tfvars is refused unless `stacks.var_files` orders them; an
//! environment-first `stacks.layout` validates; a module reads its
//! companion file through `tfctl_stack_dir`. Every refusal has a positive
//! control beside it.

use crate::harness;

use std::time::Duration;

use harness::{report_stack as stack, Repo, Run};
use serde_json::Value;
use tfctl::runner::{self, Cancel, Operation, RunOptions, StackRun};
use tfctl::select::ChangeSource;

const LOGS: &str = "config/S3/logs-dev/logs-dev.tfvars";
const LAKE: &str = "config/S3/data-lake-prod/data-lake-prod.tfvars";

/// `tfctl validate` of the checkout (local mode: the diff from `main`).
fn validate(repo: &Repo) -> Run {
    repo.tfctl().args(["validate", "--format", "json"]).run()
}

/// Asserts an input error: exit 2, one line on stderr starting with
/// `tfctl: error: ` + `start`, and no state written (no terraform ran).
fn refused(run: Run, repo: &Repo, start: &str) {
    let run = run.expect_code(2);
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "not one line:\n{stderr}");
    assert!(
        stderr.starts_with(&format!("tfctl: error: {start}")),
        "expected `{start}`, got:\n{stderr}"
    );
    assert!(
        !repo.path().join(".tfctl/state").exists(),
        "terraform ran before the input error"
    );
}

/// Forgets what earlier runs wrote, so [`refused`] can tell that the next
/// run started no terraform.
fn fresh(repo: &Repo) {
    let _ = std::fs::remove_dir_all(repo.path().join(".tfctl"));
}

#[test]
fn a_typo_in_a_tfvars_key_is_refused_with_the_declared_name() {
    let repo = Repo::from_example("offline");
    let text = repo.read(LOGS);
    repo.write(LOGS, &text.replace("encrypted   =", "encryptd    ="))
        .commit("typo");
    refused(
        validate(&repo),
        &repo,
        "S3/logs-dev/logs-dev.tfvars:3: `encryptd` is not a variable of the root module \
         modules/s3 (it declares no `variable \"encryptd\"`); did you mean `encrypted`?",
    );
    // A key nothing resembles is refused too, without a guess.
    repo.write(LOGS, &format!("{text}replication_target = \"x\"\n"))
        .commit("unknown");
    let run = validate(&repo).expect_code(2);
    assert!(
        run.stderr()
            .trim_end()
            .ends_with("(it declares no `variable \"replication_target\"`)"),
        "{}",
        run.stderr()
    );

    // Positive control: spelled as declared, the stack validates.
    repo.write(LOGS, &text).commit("spelled as declared");
    repo.touch_tfvars(LOGS).commit("changed");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack(&run.json(), "S3/logs-dev")["status"], "passed");
}

#[test]
fn a_variable_type_error_names_the_tfvars_line() {
    let repo = Repo::from_example("offline");
    let text = repo
        .read(LOGS)
        .replace("encrypted   = true", "encrypted   = \"maybe\"");
    repo.write(LOGS, &text).commit("not a bool");
    let run = validate(&repo).expect_code(1);
    let error = stack(&run.json(), "S3/logs-dev")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("Invalid value for input variable")
            && error.ends_with("(at S3/logs-dev/logs-dev.tfvars:3)"),
        "{error}"
    );
    // tfctl's copy of the tfvars is never what a person is shown.
    assert!(!run.stdout().contains("/inputs/"), "{}", run.stdout());
}

#[test]
fn attack_tfvars_claiming_a_tfctl_context_variable_is_refused() {
    let repo = Repo::from_example("offline");
    let text = repo.read(LOGS);
    // The module declares tfctl_stack_dir: a tfvars pointing it elsewhere
    // would make the stack read another stack's (or the runner's) files.
    for (key, value) in [
        ("tfctl_stack_dir", "/etc"),
        ("tfctl_stack_id", "prod/x"),
        ("tfctl_environment", "development"),
    ] {
        repo.write(LOGS, &format!("{text}{key} = \"{value}\"\n"))
            .commit(key);
        refused(
            validate(&repo),
            &repo,
            &format!(
                "S3/logs-dev/logs-dev.tfvars:8: sets `{key}`: variables named tfctl_* are set \
                 by tfctl"
            ),
        );
    }
    // Positive control: without the claim, tfctl passes the real values.
    repo.write(LOGS, &text).commit("honest");
    repo.touch_tfvars(LOGS).commit("changed");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack(&run.json(), "S3/logs-dev")["status"], "passed");
}

/// Plans the offline example's stacks with the library, as validate does,
/// and returns the runs by stack id. `swap` may change the jobs first.
fn plan_all(repo: &Repo, swap: impl Fn(&mut Vec<runner::StackJob>)) -> Vec<(String, StackRun)> {
    let cfg = tfctl::config::load(&repo.path().join("tfctl.yaml")).unwrap();
    let sel = tfctl::select::select(&cfg, &cfg.config_root, ChangeSource::All).unwrap();
    let work_dir = tfctl::pipeline::work_dir(&cfg, "test-plan").unwrap();
    let mut jobs = tfctl::pipeline::build_jobs(&cfg, &cfg.config_root, &sel, &work_dir).unwrap();
    swap(&mut jobs);
    let opts = RunOptions {
        terraform: harness::terraform(),
        work_dir,
        parallelism: 2,
        plugin_cache_dir: None,
        grace_period: Duration::from_secs(5),
        init_args: vec![],
        plan_args: vec![],
        apply_args: vec![],
        pass_env: vec![],
        watcher: Default::default(),
        heartbeat: std::time::Duration::from_secs(30),
        stream_output: false,
        log_dir: None,
        host: tfctl::context::Context::from_process().host,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime.block_on(runner::run_stacks(
        &jobs,
        &sel.dag.node_stacks(),
        &sel.dag.preds,
        Operation::Plan,
        &opts,
        &|_, _| Ok(()),
        Cancel::new(),
    ));
    jobs.iter().map(|j| j.stack.id.clone()).zip(runs).collect()
}

#[test]
fn depends_on_reaches_no_terraform_while_its_real_warnings_remain() {
    let repo = Repo::from_example("offline");
    // A real warning terraform gives on its own: a failed check assertion.
    repo.write(
        "modules/s3/checks.tf",
        "check \"short_names\" {\n  assert {\n    condition     = length(var.name) < 10\n    \
         error_message = \"${var.name} is a long name\"\n  }\n}\n",
    )
    .commit("a check that warns");
    let lake = "S3/data-lake-prod";
    assert!(repo.read(LAKE).contains("depends_on"), "the example moved");

    let runs = plan_all(&repo, |_| {});
    let (_, run) = runs.iter().find(|(id, _)| id == lake).unwrap();
    assert!(
        run.outcome.is_success(),
        "{:?}\n{}",
        run.outcome,
        run.log_tail
    );
    assert!(
        run.log_tail.contains("Check block assertion failed")
            && run
                .log_tail
                .contains("production-s3-data-lake-prod is a long name"),
        "{}",
        run.log_tail
    );
    for (id, run) in &runs {
        assert!(
            !run.log_tail.contains("undeclared variable"),
            "{id}:\n{}",
            run.log_tail
        );
    }

    // Positive control: terraform given the tfvars itself warns about the
    // undeclared `depends_on`; the test can see that warning.
    let original = repo.path().join(LAKE);
    let runs = plan_all(&repo, |jobs| {
        let job = jobs.iter_mut().find(|j| j.stack.id == lake).unwrap();
        job.var_files[0].path = original.clone();
    });
    let (_, run) = runs.iter().find(|(id, _)| id == lake).unwrap();
    assert!(
        run.log_tail.contains("Value for undeclared variable")
            && run.log_tail.contains("\"depends_on\""),
        "{}",
        run.log_tail
    );
}

#[test]
fn a_second_tfvars_is_refused_unless_var_files_says_how_they_combine() {
    let repo = Repo::from_example("offline");
    // An override that would turn encryption off, if terraform read it last.
    repo.write("config/S3/logs-dev/override.tfvars", "encrypted = false\n")
        .commit("an override");
    refused(
        validate(&repo),
        &repo,
        "S3/logs-dev: several tfvars files (logs-dev.tfvars, override.tfvars): a stack has one \
         tfvars",
    );

    let yaml = repo.read("tfctl.yaml");
    let with_var_files = |order: &str| {
        let text = yaml.replace(
            "  companions: [\"*.json\"]\n",
            &format!("  companions: [\"*.json\"]\n  var_files: {order}\n"),
        );
        assert_ne!(text, yaml, "the example moved");
        text
    };
    // Read last, the override wins: the bucket is unencrypted, and the
    // policy says so.
    repo.write(
        "tfctl.yaml",
        &with_var_files("[\"*.tfvars\", \"override.tfvars\"]"),
    )
    .commit("override last");
    let run = validate(&repo).expect_code(1);
    let logs = stack(&run.json(), "S3/logs-dev").clone();
    assert_eq!(logs["status"], "failed", "{logs}");
    assert!(
        logs["violations"]
            .to_string()
            .contains("must use server-side encryption"),
        "{logs}"
    );
    // Read first, the stack's own tfvars wins.
    repo.write(
        "tfctl.yaml",
        &with_var_files("[\"override.tfvars\", \"*.tfvars\"]"),
    )
    .commit("override first");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack(&run.json(), "S3/logs-dev")["status"], "passed");
    // A file no entry names is refused, never ignored.
    fresh(&repo);
    repo.write("tfctl.yaml", &with_var_files("[\"logs-dev.tfvars\"]"))
        .commit("override unnamed");
    refused(
        validate(&repo),
        &repo,
        "S3/logs-dev/override.tfvars: matches none of stacks.var_files (logs-dev.tfvars)",
    );
}

/// A bucket tfvars of the offline example, without an `environment` line
/// unless `environment` is given.
fn bucket(environment: Option<&str>, name: &str) -> String {
    let env_line = environment.map_or(String::new(), |e| format!("environment = \"{e}\"\n"));
    format!(
        "{env_line}name = \"{name}\"\nencrypted = true\n\
         tags = {{\n  Owner      = \"platform\"\n  CostCenter = \"cc-100\"\n}}\n"
    )
}

#[test]
fn an_environment_first_layout_validates() {
    let repo = Repo::from_example("offline");
    let yaml = repo.read("tfctl.yaml").replace(
        "  companions: [\"*.json\"]\n",
        "  companions: [\"*.json\"]\n  layout: \"{environment}/{service}/{name}\"\n",
    );
    repo.write("tfctl.yaml", &yaml);
    for old in repo.git(&["ls-files", "config"]).lines() {
        repo.remove(old);
    }
    // One name in two environments: two stacks, two states. The module
    // declares tfctl_environment, so tfctl passes the stack's.
    repo.write(
        "modules/s3/environment.tf",
        "output \"tfctl_environment\" {\n  value = var.tfctl_environment\n}\n\
         variable \"tfctl_environment\" {\n  type = string\n}\n",
    )
    .write(
        "config/production/S3/logs/logs.tfvars",
        &bucket(Some("production"), "production-s3-logs"),
    )
    .write(
        "config/development/S3/logs/logs.tfvars",
        &bucket(Some("development"), "development-s3-logs"),
    )
    .commit("environment first");
    let run = repo
        .tfctl()
        .args(["validate", "--all", "--format", "json"])
        .run()
        .expect_code(0);
    let report = run.json();
    for environment in ["development", "production"] {
        let id = format!("{environment}/S3/logs");
        let s = stack(&report, &id);
        assert_eq!(
            (&s["service"], &s["name"], &s["environment"], &s["status"]),
            (
                &Value::from("S3"),
                &Value::from("logs"),
                &Value::from(environment),
                &Value::from("passed")
            ),
            "{s}"
        );
        assert!(
            s["plan_summary"]
                .as_str()
                .unwrap()
                .contains(&format!("tfctl_environment = \"{environment}\"")),
            "{s}"
        );
    }

    // A tfvars naming another environment than its path is refused.
    fresh(&repo);
    repo.write(
        "config/production/S3/logs/logs.tfvars",
        &bucket(Some("development"), "production-s3-logs"),
    )
    .commit("disagrees");
    refused(
        repo.tfctl()
            .args(["validate", "--all", "--format", "json"])
            .run(),
        &repo,
        "production/S3/logs/logs.tfvars:1: environment \"development\" disagrees with \
         \"production\" from the path (stacks.layout `{environment}/{service}/{name}`)",
    );
    // A stack path the layout cannot read is refused, naming the layout.
    repo.write(
        "config/production/S3/logs/logs.tfvars",
        &bucket(Some("production"), "production-s3-logs"),
    )
    .write("config/S3/old/old.tfvars", &bucket(None, "old"))
    .commit("a stack outside the layout");
    refused(
        repo.tfctl()
            .args(["validate", "--all", "--format", "json"])
            .run(),
        &repo,
        "S3/old: does not follow stacks.layout `{environment}/{service}/{name}` (it needs 3 \
         directories)",
    );
}

#[test]
fn a_module_reads_its_companion_file_through_tfctl_stack_dir() {
    let repo = Repo::from_example("offline");
    let companion = "config/S3/data-lake-prod/data-lake-prod.json";
    repo.touch_tfvars(LAKE).commit("changed");
    // From a subdirectory, so no path can be relative to where tfctl runs.
    let run = harness::Tfctl::new(&repo.path().join("modules"))
        .args(["validate", "--format", "json"])
        .run()
        .expect_code(0);
    let summary = stack(&run.json(), "S3/data-lake-prod")["plan_summary"]
        .as_str()
        .unwrap()
        .to_string();
    // Terraform's own text: the policy document under `policy = jsonencode(`.
    assert!(summary.contains("policy    = jsonencode("), "{summary}");
    assert!(summary.contains("2012-10-17"), "{summary}");

    // The companion's own change selects the stack and reaches its plan.
    let text = repo.read(companion).replace("2012-10-17", "2008-10-17");
    repo.write(companion, &text).commit("older policy language");
    let run = validate(&repo).expect_code(0);
    let summary = stack(&run.json(), "S3/data-lake-prod")["plan_summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(summary.contains("2008-10-17"), "{summary}");
}
