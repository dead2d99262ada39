//! Two runs of tfctl for one PR never interleave their writes (docs/DESIGN.md
//! §8): a validation that finds a newer run's verdict on the PR, or an
//! apply that finds a newer run's apply record of the merge, stops before
//! writing anything. Real git, Terraform and Rego, the fake GitHub.

use crate::apply_support::{self, Scenario, REPO};
use crate::flow_support::CONFIG;
use crate::locks::TwoPrs;

fn validation_comment(t: &TwoPrs) -> (u64, String) {
    t.gh.comments(CONFIG, t.a)
        .into_iter()
        .find(|c| c.body.contains("tfctl:validation"))
        .map(|c| (c.id, c.body))
        .expect("a validation comment")
}

#[test]
fn an_older_run_that_ends_after_a_newer_one_publishes_nothing_and_a_forged_run_id_silences_nobody()
{
    let t = TwoPrs::new();
    // Run 20 (a re-run of the same head) publishes first.
    t.validate_in_run(t.a, "20").expect_code(0);
    let (id, published) = validation_comment(&t);
    assert!(published.contains("\"run_id\":\"20\""), "{published}");
    let writes = |t: &TwoPrs| {
        t.gh.requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    };

    // Run 19 started earlier and ends now: it writes nothing at all.
    t.gh.clear_requests();
    let run = t.validate_in_run(t.a, "19").expect_code(0);
    assert!(
        run.stdout()
            .contains("run 20 of this pull request published after this run (19)"),
        "{}",
        run.stdout()
    );
    assert_eq!(writes(&t), Vec::<String>::new());
    assert_eq!(validation_comment(&t).1, published);

    // Attack: a writer edits the bot's comment to claim run 99999; it no
    // longer verifies, so it stops nobody. Positive control: run 21 publishes.
    let forged = published.replace("\"run_id\":\"20\"", "\"run_id\":\"99999\"");
    t.gh.edit_comment(CONFIG, id, &forged);
    t.validate_in_run(t.a, "21").expect_code(0);
    let (_, now) = validation_comment(&t);
    assert!(now.contains("\"run_id\":\"21\""), "{now}");
}

/// The controller's signed apply record of `sc`'s merge as run `run_id`
/// left it, mid-apply.
fn seed_applying(
    gh: &crate::support::fake_github::FakeGithub,
    sc: &Scenario,
    n: u64,
    run_id: &str,
) {
    let m = tfctl::render::marker::ApplyMarker {
        version: tfctl::render::marker::ATTESTATION_VERSION,
        repository: REPO.into(),
        pr_number: Some(n),
        merge_commit_sha: Some(sc.merge.clone()),
        environment: Some("production".into()),
        branch: "prod".into(),
        state: tfctl::render::marker::ApplyState::Applying,
        applied: None,
        stacks: Default::default(),
        time: "2026-12-03T10:00:00Z".into(),
        run_id: run_id.into(),
        signature: None,
    };
    let signed = tfctl::render::marker::signed(&m, Some(&apply_support::key()));
    gh.seed_comment(
        REPO,
        n,
        crate::support::fake_github::BOT_LOGIN,
        &tfctl::render::marker::to_comment(&signed),
    );
}

#[test]
fn an_apply_run_older_than_one_that_already_recorded_writes_nothing_and_an_older_record_is_carried_on(
) {
    let repo = apply_support::repo_with(|_| {});
    repo.touch_tfvars("config/IAM/admin-role/admin-role.tfvars");
    let digests = apply_support::validate(&repo);
    let sc = Scenario::merge(repo, digests);
    let gh = crate::support::fake_github::FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());

    // Run 78 started after this one (77) and is applying: 77 stops.
    seed_applying(&gh, &sc, n, "78");
    let comments = gh.comments(REPO, n).len();
    gh.clear_requests();
    let run = sc.apply(&gh, n).run().expect_code(0);
    assert!(
        run.stdout()
            .contains("run 78 of this merge started after this run (77)"),
        "{}",
        run.stdout()
    );
    assert!(sc.state("IAM/admin-role").is_none(), "nothing applied");
    assert_eq!(gh.comments(REPO, n).len(), comments);
    assert!(
        gh.requests().iter().all(|r| r.method == "GET"),
        "{:#?}",
        gh.requests()
    );

    // Positive control: a record of an older run (76, interrupted) does not
    // stop run 77, which applies.
    let gh = crate::support::fake_github::FakeGithub::start();
    let (n, _) = sc.seed_validated(&gh, &sc.marker());
    seed_applying(&gh, &sc, n, "76");
    let run = sc.apply(&gh, n).run().expect_code(0);
    assert!(
        run.stderr().contains("was interrupted mid-way"),
        "{}",
        run.stderr()
    );
    assert!(sc.state("IAM/admin-role").is_some(), "applied");
}
