//! Rego policy engine: loads policies once, then judges plans.
//!
//! [`PolicyEngine::load`] parses and compiles every `.rego` file once;
//! [`PolicyEngine::evaluate`] clones the compiled engine (cheap: modules and
//! data are shared behind `Arc`s) and queries `deny`, `violation` and `warn`
//! in each configured namespace, conftest-style, all in one regorus query
//! so rules shared by several policies are computed once per plan. The
//! input is the plan JSON
//! exactly as `terraform show -json` prints it; the run context is
//! `data.tfctl`. Messages come out with the plan's sensitive values
//! redacted, so no caller can forget to.
//!
//! This module owns no process, network or GitHub IO; file reading is
//! confined to [`load`]. `tfctl policy test` lives in [`testing`].

pub mod digest;
pub mod load;
pub mod messages;
pub mod testing;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::error::Error;
use crate::report::Violation;

/// Rule names queried in every namespace, in this order. `deny` and
/// `violation` fail a stack; `warn` only reports.
pub const RULES: [&str; 3] = ["deny", "violation", "warn"];

/// Who and what a plan belongs to; becomes `data.tfctl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyContext {
    pub stack_id: String,
    pub service: String,
    pub name: String,
    pub environment: String,
    /// Files changed by the pull request, relative to the config root.
    pub changed_files: Vec<String>,
    pub pr_author: Option<String>,
    /// Every environment with a changed stack in this run (one-environment-per-PR).
    pub environments_in_change: Vec<String>,
}

impl PolicyContext {
    /// The `data.tfctl` document:
    /// `{stack:{id,service,name,environment}, changed_files, pr_author, environments}`.
    pub fn to_data(&self) -> serde_json::Value {
        serde_json::json!({
            "stack": {
                "id": self.stack_id,
                "service": self.service,
                "name": self.name,
                "environment": self.environment,
            },
            "changed_files": self.changed_files,
            "pr_author": self.pr_author,
            "environments": self.environments_in_change,
        })
    }
}

/// The policy verdict on one plan: `deny`/`violation` messages and `warn`
/// messages, each sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    pub warnings: Vec<Violation>,
}

impl Verdict {
    /// True when no `deny`/`violation` fired.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Compiled policies, ready to judge any number of plans.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    /// Parsed, data-loaded and analysed once; cloned per evaluation.
    engine: regorus::Engine,
    /// `(namespace, rule)` pairs that some loaded module declares; only
    /// these are queried, so absent rules cost nothing and never error.
    queries: Vec<(String, &'static str)>,
}

impl PolicyEngine {
    /// Loads all `*.rego` under `paths` (files or dirs, recursive), leaving
    /// out `*_test.rego`; merges the JSON/YAML `data_files` into `data`;
    /// compiles once. A parse or compile error is `Error::input` with
    /// `<file>:<line>:<col>: <message>`. A namespace that no loaded package
    /// declares is an input error too: a typo there would silently switch
    /// a guardrail off.
    pub fn load(
        paths: &[PathBuf],
        data_files: &[PathBuf],
        namespaces: &[String],
    ) -> Result<PolicyEngine, Error> {
        let files = load::rego_files(paths, load::Tests::Exclude)?;
        if files.is_empty() {
            return Err(Error::input(format!(
                "no .rego policy files found in {}",
                shown_paths(paths)
            )));
        }
        let mut engine = new_engine();
        load::add_policies(&mut engine, &files)?;
        for file in data_files {
            let doc = load::data_document(file)?;
            engine
                .add_data(regorus::Value::from(doc))
                .map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
        }
        load::compile(&mut engine, &shown_paths(paths))?;

        let declared = declared_rules(&mut engine);
        let mut queries = Vec::new();
        for ns in namespaces {
            if !declared.iter().any(|(pkg, _)| pkg == ns) {
                return Err(Error::input(format!(
                    "policy namespace `{ns}` matches no package in {}",
                    shown_paths(paths)
                )));
            }
            for rule in RULES {
                if declared.contains(&(ns.clone(), rule.to_string())) {
                    queries.push((ns.clone(), rule));
                }
            }
        }
        let engine = PolicyEngine { engine, queries };
        // regorus resolves function names only when a rule runs, so a call
        // to a function that does not exist would otherwise surface on the
        // first real plan. One dry run on an empty plan finds it now.
        engine.evaluate(&serde_json::json!({}), &PolicyContext::default())?;
        Ok(engine)
    }

    /// Judges one plan. The plan JSON is the input document as is; `ctx`
    /// is `data.tfctl`. Every sensitive value of the plan is replaced by
    /// `(sensitive)` in the messages (see [`crate::plan::SensitiveValues`]). An evaluation error (a conflict in a complete rule,
    /// say) is an input error naming the policy file and line.
    pub fn evaluate(
        &self,
        plan: &serde_json::Value,
        ctx: &PolicyContext,
    ) -> Result<Verdict, Error> {
        self.evaluate_owned(plan.clone(), ctx)
    }

    /// [`PolicyEngine::evaluate`] of a plan it may consume: the plan's tree
    /// is turned into the engine's own value node by node, each freed once
    /// converted, so the two trees (each several times the JSON's size)
    /// are never held whole at once.
    pub fn evaluate_owned(
        &self,
        plan: serde_json::Value,
        ctx: &PolicyContext,
    ) -> Result<Verdict, Error> {
        // docs/DESIGN.md §4: a sensitive value never reaches a policy
        // message, even when a rule quotes the attribute it judges: known
        // before the plan is consumed, redacted below before the message
        // goes anywhere (report, comment, annotation, log).
        let sensitive = crate::plan::SensitiveValues::of(&plan);
        let mut engine = self.engine.clone();
        engine
            .add_data(regorus::Value::from(
                serde_json::json!({ "tfctl": ctx.to_data() }),
            ))
            .map_err(|e| Error::input(format!("data.tfctl: {e}")))?;
        let input: regorus::Value = serde::Deserialize::deserialize(plan)
            .map_err(|e: serde_json::Error| Error::input(format!("plan JSON: {e}")))?;
        engine.set_input(input);

        // One query for every rule, so rules that several policies share
        // (the library's per-plan facts in `data.terraform.lib`) are computed
        // once per plan: regorus forgets every computed rule between two
        // `eval_rule` calls. If that query fails, the rules are evaluated one
        // by one, which names the failing rule exactly as before.
        let values = match self.eval_together(&mut engine) {
            Some(values) => values,
            None => self.eval_each(&mut engine)?,
        };

        let mut verdict = Verdict::default();
        for ((ns, rule), value) in self.queries.iter().zip(values) {
            let target = if *rule == "warn" {
                &mut verdict.warnings
            } else {
                &mut verdict.violations
            };
            target.extend(messages::messages(&value).into_iter().map(|msg| Violation {
                namespace: ns.clone(),
                rule: (*rule).to_string(),
                msg: sensitive.redact(&msg).into_owned(),
            }));
        }
        for list in [&mut verdict.violations, &mut verdict.warnings] {
            list.sort();
            list.dedup();
        }
        Ok(verdict)
    }

    /// Every queried rule's value in one regorus query, in `queries` order;
    /// `None` on any error. Each rule is wrapped in an array comprehension
    /// so an undefined rule yields `[]` instead of making the whole query
    /// undefined; its value is then the same as `eval_rule` returns
    /// (undefined for `[]`).
    fn eval_together(&self, engine: &mut regorus::Engine) -> Option<Vec<regorus::Value>> {
        if self.queries.is_empty() {
            return Some(Vec::new());
        }
        let query = format!(
            "[{}]",
            self.queries
                .iter()
                .map(|(ns, rule)| format!("[v | v := data.{ns}.{rule}]"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let results = engine.eval_query(query, false).ok()?;
        let [result] = results.result.as_slice() else {
            return None;
        };
        let [expression] = result.expressions.as_slice() else {
            return None;
        };
        let wrapped = expression.value.as_array().ok()?;
        if wrapped.len() != self.queries.len() {
            return None;
        }
        wrapped
            .iter()
            .map(|one| {
                let one = one.as_array().ok()?;
                match one.as_slice() {
                    [] => Some(regorus::Value::Undefined),
                    [value] => Some(value.clone()),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every queried rule's value, one `eval_rule` at a time, in `queries`
    /// order. An error is an input error naming the rule's file and line.
    fn eval_each(&self, engine: &mut regorus::Engine) -> Result<Vec<regorus::Value>, Error> {
        self.queries
            .iter()
            .map(|(ns, rule)| {
                let path = format!("data.{ns}.{rule}");
                engine
                    .eval_rule(path.clone())
                    .map_err(|e| Error::input(load::one_line(&e, &path)))
            })
            .collect()
    }

    /// The `(namespace, rule)` pairs this engine queries.
    pub fn queries(&self) -> &[(String, &'static str)] {
        &self.queries
    }
}

/// A regorus engine configured the way tfctl evaluates Rego: OPA v1 syntax
/// (regorus' default since 0.3), and builtin errors treated as undefined,
/// as OPA and conftest do, so the same policy gives the same verdict in
/// both engines.
pub(crate) fn new_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_strict_builtin_errors(false);
    engine
}

/// Every `(package, top-level rule name)` declared by the loaded modules.
pub(crate) fn declared_rules(engine: &mut regorus::Engine) -> BTreeSet<(String, String)> {
    use regorus::unstable::{Rule, RuleHead};
    let mut out = BTreeSet::new();
    for module in engine.get_modules() {
        let package = module.package.refr.span().text().to_string();
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => refr,
                },
                Rule::Default { refr, .. } => refr,
            };
            out.insert((package.clone(), rule_root(refr.span().text()).to_string()));
        }
    }
    out
}

/// `deny` of `deny`, `deny[msg]` or `deny.x`.
pub(crate) fn rule_root(head: &str) -> &str {
    head.split(['.', '[', ' ', '(']).next().unwrap_or(head)
}

fn shown_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn ctx(env: &str) -> PolicyContext {
        PolicyContext {
            stack_id: "S3/a".into(),
            service: "S3".into(),
            name: "a".into(),
            environment: env.into(),
            changed_files: vec!["S3/a/main.tf".into()],
            pr_author: Some("octocat".into()),
            environments_in_change: vec![env.into()],
        }
    }

    #[test]
    fn deny_warn_and_objects_become_sorted_violations() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.rego",
            r#"package main
deny contains msg if {
  some rc in input.resource_changes
  msg := sprintf("%s in %s", [rc.address, data.tfctl.stack.environment])
}
deny contains {"msg": "object message"} if true
warn contains "careful" if data.tfctl.pr_author == "octocat"
"#,
        );
        write(dir.path(), "p_test.rego", "package main\ntest_x if true\n");
        let engine =
            PolicyEngine::load(&[dir.path().to_path_buf()], &[], &["main".into()]).unwrap();
        assert_eq!(
            engine.queries(),
            &[("main".to_string(), "deny"), ("main".to_string(), "warn")]
        );
        let plan =
            serde_json::json!({"resource_changes": [{"address": "b.x"}, {"address": "a.y"}]});
        let v = engine.evaluate(&plan, &ctx("dev")).unwrap();
        let msgs: Vec<&str> = v.violations.iter().map(|v| v.msg.as_str()).collect();
        assert_eq!(msgs, ["a.y in dev", "b.x in dev", "object message"]);
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].namespace, "main");
        assert_eq!(v.warnings[0].rule, "warn");
        // A second evaluation with another context sees only its own context.
        let v2 = engine.evaluate(&plan, &ctx("prod")).unwrap();
        assert_eq!(v2.violations[0].msg, "a.y in prod");
    }

    #[test]
    fn sensitive_values_are_redacted_in_every_kind_of_message() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.rego",
            r#"package main
deny contains sprintf("deny %s %s", [rc.change.after.password, rc.change.after.name]) if some rc in input.resource_changes
violation contains {"msg": sprintf("violation %v", [rc.change.after])} if some rc in input.resource_changes
warn contains sprintf("warn %s", [rc.change.after.password]) if some rc in input.resource_changes
"#,
        );
        let engine =
            PolicyEngine::load(&[dir.path().to_path_buf()], &[], &["main".into()]).unwrap();
        let plan = serde_json::json!({"resource_changes": [{"address": "db.x", "change": {
            "after": {"password": "hunter2-\"quoted\"", "name": "orders"},
            "after_sensitive": {"password": true}
        }}]});
        let v = engine.evaluate(&plan, &ctx("dev")).unwrap();
        let msgs: Vec<&str> = v
            .violations
            .iter()
            .chain(&v.warnings)
            .map(|v| v.msg.as_str())
            .collect();
        assert_eq!(
            msgs,
            [
                "deny (sensitive) orders",
                r#"violation {"name": "orders", "password": "(sensitive)"}"#,
                "warn (sensitive)"
            ]
        );
    }

    #[test]
    fn one_query_gives_the_values_of_rule_by_rule_evaluation() {
        // Every shape a deny/warn rule can take, including undefined complete
        // rules and rules that read a shared rule of another package.
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "shared.rego",
            "package shared\nnames := [rc.address | some rc in input.resource_changes]\n",
        );
        write(
            dir.path(),
            "a.rego",
            r#"package a
deny contains msg if {
  some name in data.shared.names
  msg := sprintf("a: %s", [name])
}
warn[msg] if {
  some name in data.shared.names
  msg := concat("", ["w ", name])
}
violation := {"msg": "structured"} if count(data.shared.names) > 1
"#,
        );
        write(
            dir.path(),
            "b.rego",
            "package b\ndeny := [\"never\"] if false\nwarn := \"one\" if true\n",
        );
        let namespaces = ["a".to_string(), "b".to_string()];
        let engine = PolicyEngine::load(&[dir.path().to_path_buf()], &[], &namespaces).unwrap();
        let plan =
            serde_json::json!({"resource_changes": [{"address": "b.x"}, {"address": "a.y"}]});
        let mut regorus = engine.engine.clone();
        regorus
            .add_data(regorus::Value::from(
                serde_json::json!({ "tfctl": ctx("dev").to_data() }),
            ))
            .unwrap();
        regorus.set_input(serde::Deserialize::deserialize(&plan).unwrap());
        let together = engine.eval_together(&mut regorus).unwrap();
        let each = engine.eval_each(&mut regorus).unwrap();
        assert_eq!(together, each);
        assert_eq!(together.len(), 5);
        assert_eq!(
            together[3],
            regorus::Value::Undefined,
            "b.deny is undefined"
        );

        let v = engine.evaluate(&plan, &ctx("dev")).unwrap();
        let msgs: Vec<&str> = v.violations.iter().map(|v| v.msg.as_str()).collect();
        assert_eq!(msgs, ["a: a.y", "a: b.x", "structured"]);
        let warns: Vec<&str> = v.warnings.iter().map(|v| v.msg.as_str()).collect();
        // Sorted by namespace, then message.
        assert_eq!(warns, ["w a.y", "w b.x", "one"]);
    }

    #[test]
    fn an_evaluation_error_names_the_rule_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "conflict.rego",
            "package main\n\ndeny := x if {\n  some x in input.values\n}\n",
        );
        let engine = PolicyEngine::load(&[file], &[], &["main".into()]).unwrap();
        let err = engine
            .evaluate(&serde_json::json!({"values": [1, 2]}), &ctx("dev"))
            .unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
        assert!(err.message.contains("conflict.rego:"), "{}", err.message);
    }

    #[test]
    fn syntax_error_is_input_error_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "bad.rego",
            "package main\n\ndeny contains msg if {\n",
        );
        let err =
            PolicyEngine::load(std::slice::from_ref(&file), &[], &["main".into()]).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
        assert!(
            err.message.starts_with(&format!("{}:", file.display())),
            "{}",
            err.message
        );
        assert!(!err.message.contains('\n'), "{}", err.message);
    }

    #[test]
    fn compile_error_surfaces_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "unsafe.rego",
            "package main\n\ndeny contains msg if {\n  x > 1\n  msg := \"m\"\n}\n",
        );
        let err = PolicyEngine::load(&[file], &[], &["main".into()]).unwrap_err();
        assert!(err.message.contains("unsafe.rego:"), "{}", err.message);
    }

    #[test]
    fn unknown_function_is_caught_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "typo.rego",
            "package main\n\ndeny contains msg if {\n  msg := sprnitf(\"%s\", [\"x\"])\n}\n",
        );
        let err = PolicyEngine::load(&[file], &[], &["main".into()]).unwrap_err();
        assert!(err.message.contains("typo.rego:4:"), "{}", err.message);
    }

    #[test]
    fn unknown_namespace_and_reserved_data_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.rego",
            "package main\ndeny contains 1 if false\n",
        );
        let paths = [dir.path().to_path_buf()];
        let err = PolicyEngine::load(&paths, &[], &["mian".into()]).unwrap_err();
        assert!(err.message.contains("`mian`"), "{}", err.message);

        let data = write(dir.path(), "d.yaml", "tfctl:\n  stack: {}\n");
        let err = PolicyEngine::load(&paths, &[data], &["main".into()]).unwrap_err();
        assert!(err.message.contains("reserved"), "{}", err.message);
    }

    #[test]
    fn data_documents_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.rego",
            "package main\ndeny contains data.cfg.word if data.cfg.on\n",
        );
        let data = write(dir.path(), "d.yaml", "cfg:\n  on: true\n  word: hello\n");
        let engine =
            PolicyEngine::load(&[dir.path().to_path_buf()], &[data], &["main".into()]).unwrap();
        let v = engine
            .evaluate(&serde_json::json!({}), &ctx("dev"))
            .unwrap();
        assert_eq!(v.violations[0].msg, "hello");

        let bad = write(dir.path(), "bad.json", "{\n  \"cfg\": [1,\n}");
        let err =
            PolicyEngine::load(&[dir.path().to_path_buf()], &[bad], &["main".into()]).unwrap_err();
        assert!(err.message.contains("bad.json:3:"), "{}", err.message);
    }
}
