//! The runner against real terraform: DAG order, eager starts, failure
//! propagation, destroy plans, apply with snapshots and outputs, approval
//! rejection, cancellation, and parallel inits on one shared
//! plugin cache.
//!
//! Every terraform here is the real binary (see `runner_support`); the
//! modules are written into temp dirs by each test.

use crate::runner_support;

use std::sync::Mutex;
use std::time::Duration;

use runner_support::{
    approve_all, assert_succeeded, offline_cli_config, run_all, task_nodes, Fixture,
};
use tfctl::runner::{run_stacks, Cancel, Operation, Outcome, StackJob, StackRun};

/// The actions terraform planned for `terraform_data.this`.
fn planned_actions(run: &StackRun) -> Vec<String> {
    let plan = run.plan_json.as_ref().expect("plan json");
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rc| rc["address"] == "terraform_data.this")
        .map(|rc| {
            rc["change"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dag_order_is_respected_and_starts_are_eager() {
    let fx = Fixture::new();
    // a (slow) -> c ; b (fast) -> d ; c, d -> barrier -> e
    let jobs = vec![
        fx.job("IAM/a", ""),
        fx.job("IAM/b", ""),
        fx.job("S3/c", ""),
        fx.job("S3/d", ""),
        fx.job("Lambda/e", ""),
    ];
    // Long enough that b, then d, finish init and plan on a loaded 2-core
    // machine while a still waits.
    fx.server.set_delay("IAM/a", Duration::from_secs(6));
    fx.server.set_delay("IAM/b", Duration::from_millis(100));
    let nodes = vec![Some(0), Some(1), Some(2), Some(3), None, Some(4)];
    let preds = vec![vec![], vec![], vec![0], vec![1], vec![2, 3], vec![4]];
    let opts = fx.options("plan", 4);
    let runs = run_stacks(
        &jobs,
        &nodes,
        &preds,
        Operation::Plan,
        &opts,
        &approve_all,
        Cancel::new(),
    )
    .await;
    assert_succeeded(&runs, &jobs);

    let hit = |i: usize| fx.server.hit(&jobs[i].stack.id);
    // Each stack's plan read its state only after its dependencies' plans
    // had read theirs (and finished).
    for (after, before) in [(2, 0), (3, 1), (4, 2), (4, 3)] {
        assert!(
            hit(after).received > hit(before).answered,
            "{} started before {} finished",
            jobs[after].stack.id,
            jobs[before].stack.id
        );
    }
    // Eager: d started while a (same wave as b) was still planning; wave
    // by wave it would have waited for a.
    assert!(
        hit(3).received < hit(0).answered,
        "S3/d waited for the whole first wave"
    );

    for run in &runs {
        assert_eq!(planned_actions(run), ["create"]);
        assert!(run.plan_file.as_ref().unwrap().exists());
        assert!(run.log_tail.contains("Plan: 1 to add"), "{}", run.log_tail);
        assert!(run.state_snapshot.is_none() && run.outputs.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_skips_its_dependents_and_nothing_else() {
    let fx = Fixture::new();
    let jobs = vec![
        fx.job("IAM/broken", "fail = true"),
        fx.job("S3/child", ""),
        fx.job("Lambda/grandchild", ""),
        fx.job("KMS/independent", ""),
        fx.job("SNS/after-barrier", ""),
        fx.job("SQS/after-independent", ""),
    ];
    // broken -> child -> grandchild; broken, independent -> barrier ->
    // after-barrier; independent -> after-independent
    let nodes = vec![Some(0), Some(1), Some(2), Some(3), None, Some(4), Some(5)];
    let preds = vec![
        vec![],
        vec![0],
        vec![1],
        vec![],
        vec![0, 3],
        vec![4],
        vec![3],
    ];
    let opts = fx.options("plan", 4);
    let runs = run_stacks(
        &jobs,
        &nodes,
        &preds,
        Operation::Plan,
        &opts,
        &approve_all,
        Cancel::new(),
    )
    .await;

    let Outcome::Failed(reason) = &runs[0].outcome else {
        panic!("broken: {:?}", runs[0].outcome);
    };
    assert_eq!(
        reason,
        "terraform plan failed (exit status 1): Resource precondition failed: this stack was told to fail"
    );
    assert!(!reason.contains('\u{1b}'));
    let skipped = Outcome::Skipped {
        dependency: "IAM/broken".into(),
    };
    assert_eq!(runs[1].outcome, skipped);
    assert_eq!(runs[2].outcome, skipped, "skips are transitive");
    assert_eq!(runs[4].outcome, skipped, "skips pass through barriers");
    assert_eq!(runs[3].outcome, Outcome::Succeeded);
    assert_eq!(runs[5].outcome, Outcome::Succeeded);
    // Skipped stacks never ran terraform at all.
    assert_eq!(runs[1].duration, Duration::ZERO);
    for id in ["S3/child", "Lambda/grandchild", "SNS/after-barrier"] {
        assert!(!fx.server.requested(id), "{id} planned");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_snapshots_state_applies_and_returns_public_outputs_then_destroy_plans() {
    let fx = Fixture::new();
    let jobs = vec![fx.job("IAM/role", ""), fx.job("S3/bucket", "")];
    let nodes = task_nodes(2);
    let preds = vec![vec![], vec![0]];
    let approved = Mutex::new(Vec::new());
    let approve = |job: &StackJob, plan: &serde_json::Value| {
        assert!(plan["resource_changes"].is_array());
        approved.lock().unwrap().push(job.stack.id.clone());
        Ok(())
    };
    let opts = fx.options("apply-1", 2);
    let runs = run_stacks(
        &jobs,
        &nodes,
        &preds,
        Operation::Apply,
        &opts,
        &approve,
        Cancel::new(),
    )
    .await;
    assert_succeeded(&runs, &jobs);
    assert_eq!(*approved.lock().unwrap(), ["IAM/role", "S3/bucket"]);

    for (run, job) in runs.iter().zip(&jobs) {
        // The snapshot was taken before the first apply: no state yet.
        let snapshot = run.state_snapshot.as_ref().expect("snapshot path");
        assert!(snapshot.exists());
        assert!(snapshot.starts_with(&opts.work_dir));
        let state = std::fs::read_to_string(fx.state_file(&job.stack.id)).unwrap();
        assert!(state.contains("\"terraform_data\""), "{state}");
        let outputs = run.outputs.as_ref().unwrap();
        assert_eq!(outputs["token"]["value"], format!("token-{}", job.stack.id));
        assert!(outputs.get("secret").is_none(), "sensitive output leaked");
        assert!(!run.log_tail.contains("s3cr3t"), "{}", run.log_tail);
        assert!(run.log_tail.contains("Apply complete! Resources: 1 added"));
    }

    // Second apply: nothing to change, and the snapshot holds the state
    // as it was before this apply.
    let runs = run_all(&jobs, &preds, Operation::Apply, &fx.options("apply-2", 2)).await;
    assert_succeeded(&runs, &jobs);
    let snapshot = std::fs::read_to_string(runs[0].state_snapshot.as_ref().unwrap()).unwrap();
    assert!(snapshot.contains("\"terraform_data\""), "{snapshot}");
    assert_eq!(planned_actions(&runs[0]), ["no-op"]);

    // Destroy: the caller reverses the order (bucket before role).
    let destroy: Vec<StackJob> = jobs
        .iter()
        .cloned()
        .map(|mut job| {
            job.destroy = true;
            job
        })
        .collect();
    let reversed = vec![vec![1], vec![]];
    let opts = fx.options("destroy", 2);
    let planned = run_all(&destroy, &reversed, Operation::Plan, &opts).await;
    assert_succeeded(&planned, &destroy);
    for run in &planned {
        assert_eq!(planned_actions(run), ["delete"]);
    }
    let applied = run_all(
        &destroy,
        &reversed,
        Operation::Apply,
        &fx.options("destroy-apply", 2),
    )
    .await;
    assert_succeeded(&applied, &destroy);
    let state = std::fs::read_to_string(fx.state_file("IAM/role")).unwrap();
    assert!(!state.contains("\"terraform_data\""), "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_plan_is_not_applied_and_skips_dependents() {
    let fx = Fixture::new();
    let jobs = vec![
        fx.job("IAM/denied", ""),
        fx.job("S3/after-denied", ""),
        fx.job("KMS/allowed", ""),
    ];
    let preds = vec![vec![], vec![0], vec![]];
    let approve = |job: &StackJob, _: &serde_json::Value| {
        if job.stack.id == "IAM/denied" {
            Err("policy deny: buckets must be encrypted".to_string())
        } else {
            Ok(())
        }
    };
    let runs = run_stacks(
        &jobs,
        &task_nodes(3),
        &preds,
        Operation::Apply,
        &fx.options("apply", 3),
        &approve,
        Cancel::new(),
    )
    .await;
    assert_eq!(
        runs[0].outcome,
        Outcome::Rejected("policy deny: buckets must be encrypted".into())
    );
    assert!(runs[0].plan_json.is_some(), "the rejected plan is reported");
    assert!(runs[0].state_snapshot.is_none() && runs[0].outputs.is_none());
    assert!(
        !fx.state_file("IAM/denied").exists()
            || !std::fs::read_to_string(fx.state_file("IAM/denied"))
                .unwrap()
                .contains("\"terraform_data\""),
        "a rejected stack was applied"
    );
    assert_eq!(
        runs[1].outcome,
        Outcome::Skipped {
            dependency: "IAM/denied".into()
        }
    );
    assert_eq!(runs[2].outcome, Outcome::Succeeded);
    assert!(std::fs::read_to_string(fx.state_file("KMS/allowed"))
        .unwrap()
        .contains("\"terraform_data\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_start_runs_nothing() {
    let fx = Fixture::new();
    let jobs = vec![fx.job("IAM/a", ""), fx.job("S3/b", "")];
    let cancel = Cancel::new();
    cancel.trigger();
    let runs = run_stacks(
        &jobs,
        &task_nodes(2),
        &[vec![], vec![0]],
        Operation::Plan,
        &fx.options("plan", 2),
        &approve_all,
        cancel,
    )
    .await;
    assert!(runs.iter().all(|r| r.outcome == Outcome::Cancelled));
    assert_eq!(fx.server.hit_count(), 0);
}

/// A root module that needs the real `hashicorp/null` provider.
const NULL_MODULE: &str = r#"
terraform {
  backend "local" {}
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "2.1.2"
    }
  }
}

resource "null_resource" "this" {}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_inits_share_one_plugin_cache_without_racing() {
    // Without the init gate, 8 parallel first inits on an empty cache fail
    // with "mkdir .../linux_amd64: file exists" in most rounds.
    let rc = offline_cli_config().expect(
        "the offline provider mirror (terraformrc beside terraform's bin/, from \
         scripts/install-terraform.sh) is needed for the hashicorp/null provider",
    );
    for round in 0..3 {
        let fx = Fixture::new();
        let cache = fx.tmp.path().join("plugin-cache");
        // 5 module dirs, 2 stacks each: first inits race on the cache,
        // second inits on each module's lock file.
        let mut jobs = Vec::new();
        for m in 0..5 {
            let module = fx.tmp.path().join(format!("modules/null-{m}"));
            std::fs::create_dir_all(&module).unwrap();
            std::fs::write(module.join("main.tf"), NULL_MODULE).unwrap();
            for s in 0..2 {
                let mut job = fx.job(&format!("Null{m}/stack-{s}"), "");
                job.module_dir = module.clone();
                job.env
                    .insert("TF_CLI_CONFIG_FILE".into(), rc.display().to_string());
                jobs.push(job);
            }
        }
        let mut opts = fx.options("plan", 8);
        opts.plugin_cache_dir = Some(cache.clone());
        let preds = vec![Vec::new(); jobs.len()];
        let runs = run_all(&jobs, &preds, Operation::Plan, &opts).await;
        for (run, job) in runs.iter().zip(&jobs) {
            assert_eq!(
                run.outcome,
                Outcome::Succeeded,
                "round {round}, {}: {}",
                job.stack.id,
                run.log_tail
            );
            let plan = run.plan_json.as_ref().unwrap();
            assert_eq!(
                plan["resource_changes"][0]["address"], "null_resource.this",
                "round {round}"
            );
        }
        assert!(
            cache
                .join("registry.terraform.io/hashicorp/null/2.1.2/linux_amd64")
                .exists(),
            "the shared cache was used"
        );
    }
}
