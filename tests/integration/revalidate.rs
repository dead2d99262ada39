//! Incremental re-validation end to end (docs/DESIGN.md §3,
//! "Re-validation"): a second push to a 20-stack PR plans only what it
//! changed and carries the rest from the first push's signed validation;
//! a stack whose state another PR's apply moved is planned again; an
//! attestation a writer edited carries nothing. Real git, real Terraform
//! (through a wrapper that records each call and execs it), real Rego,
//! the fake GitHub on 127.0.0.1.

use std::path::PathBuf;

use crate::harness::{self, Repo, Run};
use crate::support::fake_github::{FakeGithub, PrSeed, BOT_LOGIN};
use crate::support::keys::{key, trust_yaml, CONTROLLER_KEY};
use tfctl::render::marker::{self, ValidationMarker};

const CONFIG_REPO: &str = "acme/infra";
const STACKS: usize = 20;

fn bucket(i: usize) -> String {
    format!("config/S3/bucket-{i:02}/bucket-{i:02}.tfvars")
}

fn bucket_text(i: usize, public: bool) -> String {
    format!(
        "environment = \"production\"\nname        = \"production-s3-bucket-{i:02}\"\nencrypted   = true\npublic      = {public}\ntags = {{\n  Owner      = \"data\"\n  CostCenter = \"cc-200\"\n}}\n"
    )
}

/// A PR of 20 S3 stacks, validated through the fake GitHub with the
/// controller's key; terraform calls are recorded in `calls`.
#[allow(clippy::struct_field_names)] // `pr.pr`: the PR's number
struct Pr {
    gh: FakeGithub,
    repo: Repo,
    pr: u64,
    dir: tempfile::TempDir,
    calls: PathBuf,
    wrapper: PathBuf,
}

impl Pr {
    fn new(violating: Option<usize>) -> Pr {
        let repo = Repo::from_example("offline");
        // The trust settings are the base branch's, not the PR's.
        repo.git(&["checkout", "-q", "main"]);
        let config = repo.read("tfctl.yaml");
        repo.write("tfctl.yaml", &format!("{config}{}", trust_yaml()));
        repo.commit("trust the controller");
        repo.git(&["checkout", "-q", "-B", "feature"]);
        for i in 0..STACKS {
            repo.write(&bucket(i), &bucket_text(i, violating == Some(i)));
        }
        repo.commit("twenty buckets");
        let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let gh = FakeGithub::start();
        // The repository the workflow runs in (its stack locks).
        gh.seed_repo("acme/controller");
        let files: Vec<String> = (0..STACKS).map(bucket).collect();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let pr = gh.seed_pr(
            CONFIG_REPO,
            PrSeed::new("feature", "main")
                .head_sha(&head)
                .author("alice")
                .files(&files),
        );
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("terraform-calls");
        let wrapper = dir.path().join("terraform");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s %s\\n' \"$TF_DATA_DIR\" \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
                calls.display(),
                harness::terraform().display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).unwrap();
        Pr {
            gh,
            repo,
            pr,
            dir,
            calls,
            wrapper,
        }
    }

    fn head(&self) -> String {
        self.repo.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// A new commit on the PR branch, and the PR's head moved to it.
    fn push(&self, change: impl FnOnce(&Repo)) -> String {
        change(&self.repo);
        self.repo.commit("another push");
        let head = self.head();
        self.gh.set_pr_head(CONFIG_REPO, self.pr, &head);
        head
    }

    fn validate(&self, extra: &[&str]) -> Run {
        let _ = std::fs::remove_file(&self.calls);
        let head = self.head();
        let event_path = harness::validate_dispatch(self.dir.path(), CONFIG_REPO, self.pr, &head);
        self.repo
            .tfctl()
            .args(["validate", "--format", "json"])
            .args(extra)
            .in_actions(
                "repository_dispatch",
                &event_path,
                "acme/controller",
                self.dir.path(),
            )
            .env("TFCTL_TERRAFORM", &self.wrapper)
            .env("TFCTL_SIGNING_KEY", CONTROLLER_KEY)
            .envs(self.gh.env_vars())
            .run()
    }

    /// The stacks terraform ran `subcommand` for in the last validation
    /// (the data directory is named after the stack).
    fn ran(&self, subcommand: &str) -> Vec<String> {
        let calls = std::fs::read_to_string(&self.calls).unwrap_or_default();
        let mut stacks: Vec<String> = calls
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, sub)| *sub == subcommand)
            .filter_map(|(dir, _)| dir.split("S3_").nth(1))
            .map(|rest| format!("S3/{}", rest.split('/').next().unwrap()))
            .collect();
        stacks.sort();
        stacks
    }

    fn marker(&self) -> ValidationMarker {
        let bodies: Vec<String> = self
            .gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .filter(|c| c.user == BOT_LOGIN)
            .map(|c| c.body)
            .collect();
        assert_eq!(bodies.len(), 1, "one sticky validation comment");
        marker::find(&bodies[0]).expect("the validation attestation")
    }

    fn comment_id(&self) -> u64 {
        self.gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .find(|c| c.user == BOT_LOGIN)
            .map(|c| c.id)
            .unwrap()
    }

    fn comment(&self) -> String {
        self.gh
            .comments(CONFIG_REPO, self.pr)
            .into_iter()
            .find(|c| c.user == BOT_LOGIN)
            .map(|c| c.body)
            .unwrap()
    }
}

fn report(run: &Run) -> serde_json::Value {
    let out = run.stdout();
    let start = out.find("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&out[start..]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn carried_ids(report: &serde_json::Value) -> Vec<String> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["inputs"]["carried_from"].is_string())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_second_push_that_touches_one_stack_plans_only_that_stack() {
    let pr = Pr::new(None);
    let first_head = pr.head();
    let first = pr.validate(&[]).expect_code(0);
    assert_eq!(
        pr.ran("plan").len(),
        STACKS,
        "the first push plans every stack"
    );
    assert!(carried_ids(&report(&first)).is_empty());
    let first_marker = pr.marker();
    assert_eq!(
        first_marker.results.len(),
        STACKS,
        "every passed stack is recorded"
    );

    let second_head = pr.push(|repo| {
        repo.write(
            &bucket(7),
            &bucket_text(7, false).replace("cc-200", "cc-300"),
        );
    });
    let second = pr.validate(&[]).expect_code(0);
    assert_eq!(
        pr.ran("plan"),
        vec!["S3/bucket-07"],
        "terraform planned the touched stack only"
    );
    // The others' state was read, not planned: nothing else moved them.
    assert_eq!(pr.ran("state").len(), STACKS);
    let json = report(&second);
    let carried = carried_ids(&json);
    assert_eq!(carried.len(), STACKS - 1);
    assert!(!carried.contains(&"S3/bucket-07".to_string()));
    for s in json["stacks"].as_array().unwrap() {
        if s["id"] != "S3/bucket-07" {
            assert_eq!(s["inputs"]["carried_from"], &first_head[..12], "{s}");
        }
    }

    // The new attestation is signed, is for the new head, and binds the
    // carried stacks to the digests the first validation attested.
    let m = pr.marker();
    marker::verify(&m, &[key(CONTROLLER_KEY).public()]).expect("signed by the controller");
    assert_eq!(m.head_sha, second_head);
    assert_eq!(m.stacks.len(), STACKS);
    for id in &carried {
        assert_eq!(m.stacks[id], first_marker.stacks[id], "{id}");
        assert_eq!(
            m.results[id].carried_from.as_deref(),
            Some(&first_head[..12])
        );
    }
    assert_ne!(
        m.stacks["S3/bucket-07"],
        first_marker.stacks["S3/bucket-07"]
    );
    let comment = pr.comment();
    assert!(
        comment.contains(&format!(
            "19 of 20 stacks carried from the validation of {}",
            &first_head[..7]
        )),
        "{comment}"
    );
    assert!(comment.contains(&format!("(carried from `{}`)", &first_head[..7])));

    // A third push carries from the second, still naming where each result
    // was planned; `--full` plans everything again.
    pr.push(|repo| {
        repo.write(&bucket(2), &bucket_text(2, false).replace("data", "lake"));
    });
    let third = report(&pr.validate(&[]).expect_code(0));
    assert_eq!(pr.ran("plan"), vec!["S3/bucket-02"]);
    let origin = |id: &str| {
        third["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["inputs"]["carried_from"]
            .clone()
    };
    assert_eq!(origin("S3/bucket-07"), &second_head[..12]);
    assert_eq!(origin("S3/bucket-11"), &first_head[..12]);
    pr.validate(&["--full"]).expect_code(0);
    assert_eq!(pr.ran("plan").len(), STACKS, "--full plans every stack");
}

#[test]
fn a_carried_stack_whose_state_another_apply_moved_is_planned_again() {
    let pr = Pr::new(None);
    pr.validate(&[]).expect_code(0);
    // Another PR's apply of bucket-03: its state now has a lineage and a
    // serial (the local backend's file, as terraform apply leaves it).
    pr.repo.write(
        ".tfctl/state/S3/production/bucket-03/terraform.tfstate",
        r#"{"version": 4, "terraform_version": "1.15.5", "serial": 3, "lineage": "applied-by-pr-12", "outputs": {}, "resources": [], "check_results": null}"#,
    );
    pr.push(|repo| {
        repo.write(&bucket(7), &bucket_text(7, false).replace("data", "lake"));
    });
    let json = report(&pr.validate(&[]).expect_code(0));
    assert_eq!(pr.ran("plan"), vec!["S3/bucket-03", "S3/bucket-07"]);
    assert_eq!(carried_ids(&json).len(), STACKS - 2);
    let bucket3 = json["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "S3/bucket-03")
        .unwrap()
        .clone();
    assert_eq!(
        bucket3["inputs"]["state"], "applied-by-pr-12:3",
        "{bucket3}"
    );
    assert!(bucket3["inputs"]["carried_from"].is_null());
}

/// Attack: a writer edits the bot's validation comment so its attestation
/// records a failing stack as passed, hoping the next push carries it.
/// The edited attestation does not verify, so nothing is carried: every
/// stack is planned and the violation is found again. Positive control:
/// the genuine attestation carries (the test above).
#[test]
fn attack_an_edited_attestation_carries_nothing() {
    let pr = Pr::new(Some(5));
    pr.validate(&[]).expect_code(1);
    let genuine = pr.marker();
    assert!(genuine.violations.iter().any(|v| v.stack == "S3/bucket-05"));
    assert!(
        !genuine.results.contains_key("S3/bucket-05"),
        "a failed stack is not recorded"
    );

    let mut forged = genuine.clone();
    forged.violations.clear();
    forged.result = tfctl::report::RunResult::Passed;
    let record = forged.results["S3/bucket-04"].clone();
    forged.results.insert("S3/bucket-05".into(), record);
    let body = pr.comment();
    let old = marker::to_comment(&genuine);
    assert!(
        body.contains(&old),
        "the comment carries the marker as rendered"
    );
    pr.gh.edit_comment(
        CONFIG_REPO,
        pr.comment_id(),
        &body.replace(&old, &marker::to_comment(&forged)),
    );

    pr.push(|repo| {
        repo.write(&bucket(7), &bucket_text(7, false).replace("data", "lake"));
    });
    let run = pr.validate(&[]).expect_code(1);
    assert_eq!(
        pr.ran("plan").len(),
        STACKS,
        "nothing carried from an edited attestation"
    );
    let json = report(&run);
    assert!(carried_ids(&json).is_empty());
    let bucket5 = json["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "S3/bucket-05")
        .unwrap()
        .clone();
    assert_eq!(bucket5["status"], "failed", "{bucket5}");
}
