//! Promotion end to end (docs/DESIGN.md §8, "Promotion"):
//! `environments.production.promote_from: staging`. Real git, real
//! Terraform, real Rego, the real binary against the fake GitHub; the
//! "applied in staging" records are refs in the controller repository at
//! commits whose messages the controller signed.

use serde_json::Value;

use crate::apply_support::{self, Scenario, REPO};
use crate::locks::{report_of, TwoPrs, CONTROLLER};
use crate::support::fake_github::FakeGithub;
use crate::support::keys::{key, CONTROLLER_KEY, OTHER_KEY};
use tfctl::promotion::{ref_name, PromotionRecord};
use tfctl::render::marker;

/// The example's environments with a staging that production promotes from.
fn promoted(config: &str) -> String {
    let with = config.replace(
        "  production:\n    branch: prod\n",
        "  staging:\n    branch: stage\n    approvals: 1\n  production:\n    branch: prod\n    promote_from: staging\n",
    );
    assert_ne!(with, config, "the example's environments changed");
    with
}

/// The digest of the root module tree `module` of the checkout `root`.
fn module_digest(root: &std::path::Path, module: &str) -> String {
    let modules = tfctl::repo::FsModules {
        root: root.join("modules"),
    };
    tfctl::module_tree::read_tree(&modules, module)
        .unwrap()
        .expect("the module exists")
        .digest
}

/// "`module` @ `digest` was applied in `environment`", as an apply of the
/// controller writes it, signed with `signer`.
fn seed_record(gh: &FakeGithub, repo: &str, environment: &str, digest: &str, signer: &str) {
    let record = PromotionRecord {
        version: 1,
        environment: environment.into(),
        module: "s3".into(),
        module_digest: digest.into(),
        tfvars_digest: "0".repeat(32),
        stack: "S3/logs-staging".into(),
        pull_request: format!("{repo}#99"),
        merge_commit_sha: "9".repeat(40),
        time: "2026-12-03T09:00:00Z".into(),
        signature: None,
    };
    let signed = marker::signed(&record, Some(&key(signer)));
    gh.seed_git_ref(repo, &ref_name(environment, digest), &signed.message());
}

#[test]
fn a_production_module_never_applied_in_staging_is_refused_forged_records_too_and_passes_once_applied_there(
) {
    let t = TwoPrs::with_config(promoted);
    let digest = module_digest(t.repo.path(), "s3");

    let run = t.validate(t.a).expect_code(1);
    let report = report_of(&run);
    assert_eq!(report["result"], "failed");
    let stack = &report["stacks"][0];
    assert_eq!(
        stack["violations"],
        Value::Array(vec![]),
        "its own reason, no policy violation"
    );
    let why = stack["promotion"].as_str().unwrap();
    let expected = format!(
        "modules/s3 @ {} has not been applied in staging",
        &digest[..7]
    );
    assert!(why.starts_with(&expected), "{why}");
    let comment = t.comment(t.a);
    assert!(comment.contains("#### Promotion"), "{comment}");
    assert!(
        comment.contains("1 stack: 0 passed, 1 not promoted"),
        "{comment}"
    );
    assert!(comment.contains("⛔ not promoted"), "{comment}");
    assert!(
        comment.contains("**Next step:** apply the same module tree"),
        "{comment}"
    );

    // Attack: a record for that digest not signed by the controller (a
    // writer of the controller repo, a leaked old key) is not believed.
    seed_record(&t.gh, CONTROLLER, "staging", &digest, OTHER_KEY);
    t.validate(t.a).expect_code(1);

    // The genuine record: the production PR passes.
    let t = TwoPrs::with_config(promoted);
    seed_record(&t.gh, CONTROLLER, "staging", &digest, CONTROLLER_KEY);
    let run = t.validate(t.a).expect_code(0);
    let report = report_of(&run);
    assert_eq!(report["result"], "passed");
    assert!(report["stacks"][0].get("promotion").is_none(), "{report}");
}

#[test]
fn a_special_approvers_override_waives_promotion_and_is_audited() {
    let t = TwoPrs::with_config(promoted);
    t.validate(t.a).expect_code(1);

    // Approvals alone do not merge it.
    t.merge(t.a).expect_code(1);
    assert!(!t.gh.pr(crate::flow_support::CONFIG, t.a).merged);

    // A special approver's OVERRIDE does, and the audit names the waiver.
    t.commented(t.a, "sam", "OVERRIDE: hotfix, staging is being rebuilt")
        .expect_code(0);
    assert!(t.gh.pr(crate::flow_support::CONFIG, t.a).merged);
    let audit = std::fs::read_to_string(t.dir.path().join("tfctl-audit.jsonl")).unwrap();
    let merged: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(merged["outcome"], "merged", "{merged}");
    assert!(
        merged["violations_overridden"]
            .to_string()
            .contains("tfctl.promote_from"),
        "{merged}"
    );
}

/// The apply gate asks again, and a successful apply records what it put
/// in place for the environments that promote from its own.
#[test]
fn apply_refuses_an_unpromoted_module_and_a_successful_apply_records_its_own() {
    let repo = apply_support::repo_with(|repo| {
        let config = repo.read("tfctl.yaml");
        repo.write("tfctl.yaml", &promoted(&config));
    });
    repo.touch_tfvars("config/S3/data-lake-prod/data-lake-prod.tfvars");
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    let digest = module_digest(sc.repo.path(), "s3");
    let gh = FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());

    // No staging record: blocked, with its reason, nothing applied.
    let run = sc.apply(&gh, n).run().expect_code(1);
    let said = run.stdout();
    assert!(said.contains("has not been applied in staging"), "{said}");
    assert!(sc.state("S3/data-lake-prod").is_none());

    // Applied in staging: the production apply goes through and records
    // its own tree for whatever promotes from production.
    seed_record(&gh, REPO, "staging", &digest, CONTROLLER_KEY);
    sc.apply(&gh, n).run().expect_code(0);
    assert!(sc.state("S3/data-lake-prod").is_some());
    let sha = gh
        .git_ref(REPO, &ref_name("production", &digest))
        .expect("a production record");
    let message = gh.git_commit_message(REPO, &sha).unwrap();
    let record =
        PromotionRecord::verified(&message, &[key(CONTROLLER_KEY).public()]).expect("signed");
    assert_eq!(record.stack, "S3/data-lake-prod");
    assert_eq!(record.pull_request, format!("{REPO}#{n}"));
    assert_eq!(record.merge_commit_sha, sc.merge);
}
