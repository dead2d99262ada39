//! Two runs of tfctl for one PR never interleave their writes (docs/DESIGN.md
//! §8): a validation that finds a newer run's verdict on the PR stops
//! before writing anything. Real git, Terraform and Rego, the fake GitHub.

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
