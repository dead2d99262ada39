//! Plan facts against real `terraform show -json` fixtures
//! (tests/fixtures/terraform/plans, provenance in tests/fixtures/SOURCES.md):
//! change counts, redaction of sensitive values, digest stability.

use serde_json::{json, Value};
use tfctl::plan::{changes, diff_digest_inputs, digest, summary, summary_from, summary_with_limit};
use tfctl::report::Changes;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/terraform/plans/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn all_fixtures() -> Vec<(String, Value)> {
    let dir = format!(
        "{}/tests/fixtures/terraform/plans",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), fixture(&n)))
        .collect()
}

fn c(add: u32, change: u32, destroy: u32) -> Changes {
    Changes {
        add,
        change,
        destroy,
    }
}

#[test]
fn counts_match_terraforms_plan_line() {
    let cases = [
        ("tf175.update.terraform_data.json", c(0, 1, 0)),
        ("tf175.delete.terraform_data.json", c(0, 0, 1)),
        ("tf175.replace.null_resource.json", c(1, 0, 1)),
        ("tf1150.replace-tainted.null_resource.json", c(1, 0, 1)),
        (
            "aws.tf124.replace-create-before-destroy.secretsmanager.json",
            c(1, 0, 1),
        ),
        ("tf175.no-resource-changes.json", c(0, 0, 0)),
        ("aws.tf012.create-55-kms-s3-iam-rds-eks.json", c(55, 0, 0)),
        // 7 no-op resources count nothing.
        (
            "aws.tf100.mixed-delete-update-create.iam-cloudwatch.json",
            c(5, 1, 2),
        ),
    ];
    for (name, want) in cases {
        assert_eq!(changes(&fixture(name)), want, "{name}");
    }
}

#[test]
fn summary_lines_read_like_terraform() {
    let s = summary(&fixture("tf1150.replace-tainted.null_resource.json"));
    assert!(
        s.starts_with(
            "Replace (1): null_resource.example\n-/+ null_resource.example (replace: tainted)\n"
        ),
        "{s}"
    );
    assert!(
        s.ends_with("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{s}"
    );

    let s = summary(&fixture("tf175.update.terraform_data.json"));
    assert!(s.contains("~     input  = \"foo\" -> \"bar\""), "{s}");
    assert!(s.contains("output = \"foo\" -> (known after apply)"), "{s}");

    let s = summary(&fixture("tf175.delete.terraform_data.json"));
    assert!(
        s.starts_with("Delete (1): terraform_data.foo-bar\n- terraform_data.foo-bar (delete: no resource config)"),
        "{s}"
    );

    let s = summary(&fixture("tf175.replace-sensitive.random_bytes.json"));
    assert!(s.contains("length = 4 -> 8 # forces replacement"), "{s}");

    let s = summary(&fixture("tf175.no-resource-changes.json"));
    assert_eq!(
        s,
        "No changes. Your infrastructure matches the configuration."
    );
}

#[test]
fn summary_is_bounded_and_says_how_much_was_cut() {
    let plan = fixture("aws.tf012.create-55-kms-s3-iam-rds-eks.json");
    let s = summary_with_limit(&plan, 50);
    let lines: Vec<&str> = s.lines().collect();
    // 50 kept, the cut note, a blank line, the Plan line.
    assert_eq!(lines.len(), 53, "{s}");
    assert!(lines[50].starts_with("… ") && lines[50].ends_with(" more lines not shown"));
    assert_eq!(lines[52], "Plan: 55 to add, 0 to change, 0 to destroy.");
    let full = summary_with_limit(&plan, usize::MAX);
    let cut: usize = lines[50]
        .trim_start_matches("… ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(full.lines().count(), 50 + cut + 2);
}

#[test]
fn secrets_of_the_sensitive_fixtures_never_appear() {
    // random_bytes: base64/hex are sensitive in state and plan.
    let plan = fixture("tf175.replace-sensitive.random_bytes.json");
    let s = summary(&plan);
    for secret in ["hxk5iA==", "87193988"] {
        assert!(plan.to_string().contains(secret), "fixture changed");
        assert!(!s.contains(secret), "{secret} leaked:\n{s}");
    }
    assert!(
        s.contains("hex    = (sensitive) -> (known after apply)"),
        "{s}"
    );

    // A sensitive output whose value ("bar") is in the plan JSON.
    let plan = fixture("tf110.modules-count-sensitive-outputs.null_resource.json");
    let s = summary(&plan);
    assert!(s.contains("\n+ foo               = (sensitive)\n"), "{s}");
    assert!(!s
        .lines()
        .any(|l| l.starts_with("+ foo") && l.contains("bar")));
}

/// Writes `value` at `path` (creating objects on the way) in `target`.
fn set_at(target: &mut Value, path: &[Value], value: Value) {
    let mut node = target;
    for seg in path {
        if node.is_null() {
            *node = json!({});
        }
        node = match seg {
            Value::String(k) => node
                .as_object_mut()
                .map(|m| m.entry(k.clone()).or_insert(Value::Null))
                .unwrap(),
            Value::Number(i) => &mut node.as_array_mut().unwrap()[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    *node = value;
}

/// Paths where `mask` is `true`.
fn true_paths(mask: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match mask {
        Value::Bool(true) => out.push(prefix.clone()),
        Value::Object(m) => {
            for (k, v) in m {
                prefix.push(json!(k));
                true_paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                prefix.push(json!(i));
                true_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Puts a unique canary string at every sensitive path of every resource
/// change and sensitive output, in `before` and `after` alike, as terraform
/// would print a real secret there. Returns how many canaries were planted.
fn plant_canaries(plan: &mut Value) -> usize {
    let mut n = 0;
    for rc in plan["resource_changes"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let change = &mut rc["change"];
        for (mask_key, value_key) in [("before_sensitive", "before"), ("after_sensitive", "after")]
        {
            let mut paths = Vec::new();
            true_paths(&change[mask_key].clone(), &mut Vec::new(), &mut paths);
            for path in paths {
                if change[value_key].is_null() {
                    continue; // a create has no before; a delete no after
                }
                n += 1;
                set_at(&mut change[value_key], &path, json!(format!("CANARY-{n}")));
            }
        }
    }
    let sensitive_outputs: Vec<String> = plan["planned_values"]["outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, o)| o["sensitive"] == json!(true))
        .map(|(k, _)| k.clone())
        .collect();
    for name in sensitive_outputs {
        n += 1;
        plan["output_changes"][&name]["after"] = json!(format!("CANARY-{n}"));
        plan["planned_values"]["outputs"][&name]["value"] = json!(format!("CANARY-{n}"));
    }
    n
}

#[test]
fn no_planted_secret_reaches_the_summary_or_digest_diff_of_any_fixture() {
    let mut planted = 0;
    for (name, original) in all_fixtures() {
        let mut plan = original.clone();
        let n = plant_canaries(&mut plan);
        planted += n;
        if n == 0 {
            continue;
        }
        let text = summary_with_limit(&plan, usize::MAX);
        assert!(!text.contains("CANARY"), "{name} leaked:\n{text}");
        assert!(text.contains("(sensitive)"), "{name}:\n{text}");
        let diff = diff_digest_inputs(&original, &plan).join("\n");
        assert!(!diff.contains("CANARY"), "{name}: {diff}");
        // A changed secret still changes the digest.
        assert_ne!(digest(&original), digest(&plan), "{name}");
    }
    assert!(planted >= 6, "only {planted} canaries planted");
}

#[test]
fn nested_sensitive_masks_hide_map_entries_and_list_items() {
    let plan = json!({"resource_changes": [{
        "address": "aws_db_instance.x",
        "change": {
            "actions": ["update"],
            "before": {"tags": {"Name": "db", "token": "old-token-1"}, "pw": ["a", "old-pw-2"]},
            "after": {"tags": {"Name": "db2", "token": "new-token-3"}, "pw": ["a", "new-pw-4"]},
            "after_unknown": {},
            "before_sensitive": {"tags": {"token": true}, "pw": [false, true]},
            "after_sensitive": {"tags": {"token": true}, "pw": [false, true]}
        }
    }]});
    let s = summary(&plan);
    for secret in ["old-token-1", "old-pw-2", "new-token-3", "new-pw-4"] {
        assert!(!s.contains(secret), "{secret}:\n{s}");
    }
    assert!(
        s.contains("~     pw[1]      = (sensitive) -> (sensitive)"),
        "{s}"
    );
    assert!(s.contains("~     tags.Name  = \"db\" -> \"db2\""), "{s}");
    assert!(
        s.contains("~     tags.token = (sensitive) -> (sensitive)"),
        "{s}"
    );
}

#[test]
fn sensitive_values_in_planned_values_alone_still_redact() {
    // Masks missing from the change but present in planned_values.
    let plan = json!({
        "planned_values": {"root_module": {"child_modules": [{"resources": [
            {"address": "module.m.x.y", "sensitive_values": {"secret": true}}
        ]}]}},
        "resource_changes": [{
            "address": "module.m.x.y",
            "change": {"actions": ["create"], "before": null,
                       "after": {"secret": "hunter2", "name": "ok"}, "after_unknown": {}}
        }]
    });
    let s = summary(&plan);
    assert!(!s.contains("hunter2"), "{s}");
    assert!(s.contains("secret = (sensitive)"), "{s}");
}

/// The same JSON with every object's keys in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m.iter().rev() {
                out.insert(k.clone(), reversed(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

#[test]
fn digest_ignores_key_order_layout_and_run_metadata() {
    for (name, plan) in all_fixtures() {
        let d = digest(&plan);
        assert_eq!(d.len(), 64, "{name}");
        let pretty = serde_json::to_string_pretty(&reversed(&plan)).unwrap();
        let reparsed: Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(digest(&reparsed), d, "{name}: key order");

        let mut meta = plan.clone();
        meta["timestamp"] = json!("2099-01-01T00:00:00Z");
        meta["terraform_version"] = json!("9.9.9");
        meta["prior_state"] = json!({"serial": 42});
        meta["variables"] = json!({"z": {"value": 1}, "a": {"value": 2}});
        assert_eq!(digest(&meta), d, "{name}: metadata");
    }
}

#[test]
fn digest_changes_with_values_actions_and_resources() {
    let plan = fixture("tf175.update.terraform_data.json");
    let d = digest(&plan);

    let mut value = plan.clone();
    value["resource_changes"][0]["change"]["after"]["input"] = json!("baz");
    assert_ne!(digest(&value), d);
    assert_eq!(
        diff_digest_inputs(&plan, &value),
        ["resource terraform_data.foo-bar: planned values changed"]
    );

    let mut action = plan.clone();
    action["resource_changes"][0]["change"]["actions"] = json!(["delete", "create"]);
    assert_ne!(digest(&action), d);
    assert_eq!(
        diff_digest_inputs(&plan, &action),
        ["resource terraform_data.foo-bar: actions update -> delete,create"]
    );

    let mut extra = plan.clone();
    let mut second = plan["resource_changes"][0].clone();
    second["address"] = json!("terraform_data.other");
    extra["resource_changes"]
        .as_array_mut()
        .unwrap()
        .push(second);
    assert_ne!(digest(&extra), d);
    assert_eq!(
        diff_digest_inputs(&plan, &extra),
        ["resource terraform_data.other: newly planned (update)"]
    );
    assert_eq!(
        diff_digest_inputs(&extra, &plan),
        ["resource terraform_data.other: no longer planned (was update)"]
    );
    assert!(diff_digest_inputs(&plan, &plan).is_empty());
}

#[test]
fn digests_of_different_fixtures_differ() {
    let mut seen = std::collections::BTreeMap::new();
    for (name, plan) in all_fixtures() {
        if let Some(other) = seen.insert(digest(&plan), name.clone()) {
            panic!("{name} and {other} share a digest");
        }
    }
}

/// Version 1 of a configuration, applied; version 2 plans one change of
/// each kind. The sensitive `input` is copied into `output`, which neither
/// terraform's text nor its JSON marks sensitive.
const BEFORE: &str = r#"
variable "secret" {
  default   = "s3cr3t-before"
  sensitive = true
}
resource "terraform_data" "keep" { input = "a" }
resource "terraform_data" "repl" {
  input            = "a"
  triggers_replace = ["a"]
}
resource "terraform_data" "gone" { input = "x" }
resource "terraform_data" "old" { input = "moved" }
resource "terraform_data" "sens" { input = var.secret }
"#;
const AFTER: &str = r#"
variable "secret" {
  default   = "s3cr3t-after"
  sensitive = true
}
resource "terraform_data" "keep" { input = "b" }
resource "terraform_data" "repl" {
  input            = "b"
  triggers_replace = ["b"]
}
resource "terraform_data" "new" { input = "moved" }
moved {
  from = terraform_data.old
  to   = terraform_data.new
}
resource "terraform_data" "sens" { input = var.secret }
resource "terraform_data" "added" { input = { a = 1 } }
"#;

#[test]
fn a_real_plan_reads_as_terraform_printed_it_grouped_by_action_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let tf = |args: &[&str]| {
        let out = std::process::Command::new(crate::harness::terraform())
            .args(args)
            .current_dir(dir.path())
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    std::fs::write(dir.path().join("main.tf"), BEFORE).unwrap();
    tf(&["init", "-no-color"]);
    tf(&["apply", "-auto-approve", "-no-color"]);
    std::fs::write(dir.path().join("main.tf"), AFTER).unwrap();
    let printed = tf(&["plan", "-no-color", "-out", "p.tfplan"]);
    let plan: Value = serde_json::from_str(&tf(&["show", "-json", "p.tfplan"])).unwrap();
    // The positive control: terraform's own text shows the copied secret.
    assert!(printed.contains("s3cr3t-before"), "{printed}");

    let s = summary_from(&plan, Some(&printed), usize::MAX);
    let titles: Vec<&str> = s
        .lines()
        .filter(|l| l.contains(" (") && l.contains("): "))
        .filter(|l| !l.starts_with(['#', '+', '-', '~', ' ']))
        .collect();
    assert_eq!(
        titles,
        [
            "Create (1): terraform_data.added",
            "Update in place (2): terraform_data.keep, terraform_data.sens",
            "Replace (1): terraform_data.repl",
            "Delete (1): terraform_data.gone",
            "Move (1): terraform_data.new",
        ],
        "{s}"
    );
    // Terraform's words and layout, symbols first for the diff fence.
    assert!(
        s.contains(
            "# terraform_data.repl must be replaced\n-/+ resource \"terraform_data\" \"repl\" {"
        ),
        "{s}"
    );
    assert!(
        s.contains("# terraform_data.old has moved to terraform_data.new"),
        "{s}"
    );
    assert!(
        s.contains("# (because terraform_data.gone is not in configuration)"),
        "{s}"
    );
    assert!(
        s.lines()
            .any(|l| l.starts_with("~ ") && l.contains("input  = \"a\" -> \"b\"")),
        "{s}"
    );
    // No secret, in terraform's text or tfctl's: the copy is masked too.
    assert!(!s.contains("s3cr3t"), "{s}");
    assert!(s.contains("(sensitive)"), "{s}");
    assert!(
        s.ends_with("Plan: 2 to add, 2 to change, 2 to destroy."),
        "{s}"
    );

    // Without the text, the same groups from the JSON alone.
    let json_only = summary_from(&plan, None, usize::MAX);
    assert!(
        json_only.contains("Replace (1): terraform_data.repl"),
        "{json_only}"
    );
    assert!(!json_only.contains("s3cr3t"), "{json_only}");
}
