//! Inputs that cannot lie (DESIGN §4, trust model point 6): a config-repo
//! writer edits tfvars and directories to pick their own governance, and
//! tfctl refuses each attempt with exit 2 and one line naming the file
//! before anything runs or is written to GitHub. Every attack has a
//! positive control beside it (the honest change still validates), so a
//! test cannot pass because everything is broken.

use crate::harness;

use harness::{Repo, Run};

/// An S3 bucket stack of the offline example that passes its policies.
fn bucket(environment: &str, name: &str) -> String {
    format!(
        "environment = \"{environment}\"\nname        = \"{environment}-s3-{name}\"\n\
         encrypted   = true\ntags = {{\n  Owner      = \"platform\"\n  CostCenter = \"cc-100\"\n}}\n"
    )
}

/// `tfctl validate` of the checkout (local mode: the diff from `main`).
fn validate(repo: &Repo) -> Run {
    repo.tfctl().args(["validate", "--format", "json"]).run()
}

/// Asserts an input error: exit 2, one line on stderr, starting with
/// `tfctl: error: ` + `start`; and that no terraform ran.
fn refused(run: Run, repo: &Repo, start: &str) -> String {
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
    stderr
}

fn stack_ids(run: &Run) -> Vec<String> {
    run.json()["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn attack_environment_spelled_production_with_capital_p_is_refused() {
    let repo = Repo::from_example("offline");
    repo.write("config/S3/logs/logs.tfvars", &bucket("Production", "logs"))
        .commit("a bucket in Production");
    let err = refused(
        validate(&repo),
        &repo,
        "S3/logs/logs.tfvars:1: environment \"Production\" is not declared in tfctl.yaml \
         (declared: development, production); did you mean \"production\"?",
    );
    assert!(err.ends_with("?\n"), "{err}");

    // Positive control: spelled as declared, the same stack validates.
    repo.write("config/S3/logs/logs.tfvars", &bucket("production", "logs"))
        .commit("spelled as declared");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/logs"]);
    assert_eq!(run.json()["environment"], "production");
}

#[test]
fn attack_environment_alias_or_trailing_space_is_refused() {
    let repo = Repo::from_example("offline");
    for (given, hint) in [
        ("prod", "; did you mean \"production\"?"),
        ("production ", "; did you mean \"production\"?"),
        ("PRODUCTION", "; did you mean \"production\"?"),
        ("sandbox", ""),
    ] {
        repo.write("config/S3/logs/logs.tfvars", &bucket(given, "logs"))
            .commit(&format!("environment {given:?}"));
        refused(
            validate(&repo),
            &repo,
            &format!(
                "S3/logs/logs.tfvars:1: environment {given:?} is not declared in tfctl.yaml \
                 (declared: development, production){hint}"
            ),
        );
    }
    // An existing stack changed to another spelling is refused the same way.
    let text = repo
        .read("config/S3/logs-dev/logs-dev.tfvars")
        .replace("\"production\"", "\"Production\"");
    repo.remove("config/S3/logs/logs.tfvars")
        .write("config/S3/logs-dev/logs-dev.tfvars", &text)
        .commit("respelled");
    refused(
        validate(&repo),
        &repo,
        "S3/logs-dev/logs-dev.tfvars:1: environment \"Production\" is not declared",
    );
}

#[test]
fn attack_undeclared_default_environment_is_a_config_error() {
    let repo = Repo::from_example("offline");
    let yaml = repo.read("tfctl.yaml").replace(
        "default_environment: development",
        "default_environment: sandbox",
    );
    repo.write("tfctl.yaml", &yaml)
        .write("config/S3/logs/logs.tfvars", &bucket("production", "logs"))
        .commit("sandbox by default");
    let run = validate(&repo).expect_code(2);
    assert!(
        run.stderr().contains(
            "tfctl.yaml: default_environment: \"sandbox\" is not declared in environments \
             (declared: development, production)"
        ),
        "{}",
        run.stderr()
    );
}

/// The offline example with production's `encrypted` set by the platform
/// team (a `-var` for every production stack, as a role ARN would be).
fn with_production_variables(repo: &Repo) {
    let yaml = repo.read("tfctl.yaml").replace(
        "  production:\n    branch: prod\n",
        "  production:\n    branch: prod\n    variables:\n      encrypted: \"true\"\n",
    );
    assert!(yaml.contains("encrypted: \"true\""), "the example moved");
    repo.write("tfctl.yaml", &yaml)
        .commit("production encrypts");
}

#[test]
fn attack_tfvars_overriding_a_variable_its_environment_sets_is_refused() {
    let repo = Repo::from_example("offline");
    with_production_variables(&repo);
    // `bucket` sets `encrypted = true` on line 3: the platform's variable.
    repo.write(
        "config/S3/logs/logs.tfvars",
        &bucket("production", "logs").replace("encrypted   = true", "encrypted   = false"),
    )
    .commit("my bucket, my encryption");
    refused(
        validate(&repo),
        &repo,
        "S3/logs/logs.tfvars:3: sets `encrypted`, which environment \"production\" sets in \
         tfctl.yaml (environments.production.variables.encrypted); a tfvars may not override it",
    );

    // Positive control: without the line, the stack validates with the
    // environment's value.
    let honest: String = bucket("production", "logs")
        .lines()
        .filter(|l| !l.starts_with("encrypted"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("config/S3/logs/logs.tfvars", &honest)
        .commit("leave encryption to the platform");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/logs"]);
}

/// Writes `config/<dir>/<name>.tfvars` for a bucket named `name`.
fn bucket_at(repo: &Repo, dir: &str, name: &str) {
    repo.write(
        &format!("config/{dir}/{name}.tfvars"),
        &bucket("production", name),
    );
}

/// Files anywhere under `root` named `name` (a payload that ran leaves one).
fn found(root: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .any(|e| e.file_name() == name || (e.path().is_dir() && found(&e.path(), name)))
}

#[test]
fn attack_stack_directory_with_command_substitution_is_refused() {
    let repo = Repo::from_example("offline");
    let dir = "S3/x$(touch pwned)";
    bucket_at(&repo, dir, "logs");
    repo.commit("a stack whose id runs a command");
    let expected = format!("\"{dir}\": not a safe stack path: \"x$(touch pwned)\"");
    refused(validate(&repo), &repo, &expected);
    // `--all` discovers it too (graph: no terraform), and nothing ran it.
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert!(!found(repo.path(), "pwned"), "the payload ran");

    // Positive control: the same stack in a plain directory validates.
    repo.git(&["rm", "-q", "-r", "config/S3"]);
    repo.git(&["checkout", "-q", "main", "--", "config/S3"]);
    bucket_at(&repo, "S3/x-cmd", "logs");
    repo.commit("a plain directory");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/x-cmd"]);
}

#[test]
fn attack_stack_directory_with_a_newline_is_refused_on_one_line() {
    let repo = Repo::from_example("offline");
    // The second line would read as a forged status line in a log or comment.
    let dir = "S3/logs\n::notice::all checks passed";
    bucket_at(&repo, dir, "logs");
    repo.commit("a stack whose id has two lines");
    let err = refused(
        validate(&repo),
        &repo,
        "\"S3/logs\\n::notice::all checks passed\": not a safe stack path",
    );
    assert!(!err.contains("\n::notice::"), "{err}");
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());

    // Positive control: `--all` of the untouched estate is fine.
    let clean = Repo::from_example("offline");
    clean.tfctl().args(["graph", "--all"]).run().expect_code(0);
}

#[test]
fn attack_new_stack_sharing_an_unchanged_stacks_state_key_is_refused() {
    let repo = Repo::from_example("offline");
    // `S3/logs-dev` (production, unchanged) has the state key
    // S3/production/logs-dev/terraform.tfstate; a new directory with the
    // same service, name and environment would plan against its state.
    bucket_at(&repo, "S3/sandbox/logs-dev", "logs-dev");
    repo.commit("a bucket that takes over another's state");
    let expected = "S3/logs-dev and S3/sandbox/logs-dev would share the state key \
                    S3/production/logs-dev/terraform.tfstate (backend.key \
                    {service}/{environment}/{name}/terraform.tfstate in tfctl.yaml)";
    refused(validate(&repo), &repo, expected);
    // `--all` sees the same estate.
    let run = repo.tfctl().args(["graph", "--all"]).run().expect_code(2);
    assert!(run.stderr().contains(expected), "{}", run.stderr());

    // Positive control: a name of its own validates, beside the old one.
    repo.git(&["rm", "-q", "-r", "config/S3/sandbox"]);
    bucket_at(&repo, "S3/sandbox/logs-sandbox", "logs-sandbox");
    repo.commit("a bucket with its own state");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/sandbox/logs-sandbox"]);
}

#[test]
fn attack_two_new_stacks_sharing_a_state_key_are_refused() {
    let repo = Repo::from_example("offline");
    bucket_at(&repo, "S3/team-a/shared", "shared");
    bucket_at(&repo, "S3/team-b/shared", "shared");
    repo.commit("two buckets, one state");
    refused(
        validate(&repo),
        &repo,
        "S3/team-a/shared and S3/team-b/shared would share the state key \
         S3/production/shared/terraform.tfstate",
    );
    // Positive control: in different environments they have their own.
    repo.write(
        "config/S3/team-b/shared/shared.tfvars",
        &bucket("development", "shared"),
    )
    .commit("one in development");
    let run = validate(&repo).expect_code(0);
    assert_eq!(stack_ids(&run), ["S3/team-a/shared", "S3/team-b/shared"]);
}
