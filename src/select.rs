//! Which stacks a run works on: changed files → stack refs → parsed stacks →
//! DAG. The shared front half of every command (STYLE: context → discovery
//! → graph). Reads the tree and git; the decisions are in `discovery`,
//! `tfvars` and `graph`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::Config;
use crate::discovery::{self, ChangedFile, StackRef, StackTree};
use crate::error::Error;
use crate::graph::{self, Dag};
use crate::repo::{FsTree, Git};
use crate::stack::{Stack, StackAction};
use crate::tfvars;

/// Where the list of changed files comes from.
#[derive(Debug, Clone)]
pub enum ChangeSource {
    /// Given explicitly (`--files`, or the PR files API). `old_rev`, when
    /// known, is where a deleted tfvars's last contents are read from.
    Files {
        files: Vec<ChangedFile>,
        old_rev: Option<String>,
    },
    /// `git diff` from the merge base with `base`, plus uncommitted files.
    Git { base: String },
    /// Every stack in the tree.
    All,
}

/// The stacks of a run and their graph.
#[derive(Debug, Clone)]
pub struct Selection {
    pub dag: Dag,
    /// Changed paths relative to the config root (for `data.tfctl`).
    pub changed_files: Vec<String>,
    /// Last contents of deleted tfvars, by stack id (destroys plan with them).
    pub destroyed_tfvars: BTreeMap<String, String>,
}

/// Selects and parses the stacks under `config_root`.
pub fn select(cfg: &Config, config_root: &Path, source: ChangeSource) -> Result<Selection, Error> {
    let tree = FsTree {
        root: config_root.to_path_buf(),
    };
    let (refs, changed_files, old_rev, git) = match source {
        ChangeSource::All => {
            let files = crate::repo::list_files(config_root)?;
            (
                discovery::all_stacks(&files, &cfg.stacks)?,
                Vec::new(),
                None,
                None,
            )
        }
        ChangeSource::Files { files, old_rev } => {
            let refs = discovery::stacks_from_changes(&files, &cfg.stacks, &tree)?;
            let git = if old_rev.is_some() {
                Git::open(config_root).ok()
            } else {
                None
            };
            (
                refs,
                files.into_iter().map(|f| f.path).collect(),
                old_rev,
                git,
            )
        }
        ChangeSource::Git { base } => {
            let git = Git::open(config_root)?;
            let merge_base = git.merge_base(&base)?;
            let files = git.changes_since(&merge_base)?;
            let refs = discovery::stacks_from_changes(&files, &cfg.stacks, &tree)?;
            (
                refs,
                files.into_iter().map(|f| f.path).collect(),
                Some(merge_base),
                Some(git),
            )
        }
    };

    let destroyed_ids: BTreeSet<String> = refs
        .iter()
        .filter(|r| r.action == StackAction::Destroy)
        .map(|r| r.id.clone())
        .collect();
    let mut stacks = Vec::with_capacity(refs.len());
    let mut destroyed_tfvars = BTreeMap::new();
    for stack_ref in refs {
        let text = match stack_ref.action {
            StackAction::Plan => {
                let path = config_root.join(&stack_ref.tfvars);
                std::fs::read_to_string(&path)
                    .map_err(|e| Error::input(format!("{}: {e}", stack_ref.tfvars)))?
            }
            StackAction::Destroy => {
                let text = match (&git, &old_rev) {
                    (Some(git), Some(rev)) => git.file_at(rev, &stack_ref.tfvars).ok(),
                    _ => None,
                };
                let text = text.ok_or_else(|| {
                    Error::input(format!(
                        "{}: deleted, and its last contents are needed to plan the destroy: \
                         fetch the base commit (actions/checkout fetch-depth: 0) or pass --base",
                        stack_ref.tfvars
                    ))
                })?;
                destroyed_tfvars.insert(stack_ref.id.clone(), text.clone());
                text
            }
        };
        let facts = tfvars::parse(&text, &stack_ref.tfvars)?;
        check_inputs(cfg, &stack_ref.tfvars, &facts, &text)?;
        let stack = stack_of(&stack_ref, facts, &cfg.default_environment)?;
        if stack.action == StackAction::Plan {
            check_dependencies_exist(&stack, &text, &tree, &destroyed_ids)?;
        }
        stacks.push(stack);
    }

    let dag = graph::build(stacks, &cfg.order)?;
    let mut changed: Vec<String> = changed_files
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    changed.shrink_to_fit();
    Ok(Selection {
        dag,
        changed_files: changed,
        destroyed_tfvars,
    })
}

/// Builds a [`Stack`] from its ref and tfvars text (pure).
pub fn parse_stack(
    stack_ref: &StackRef,
    text: &str,
    default_environment: &str,
) -> Result<Stack, Error> {
    let facts = tfvars::parse(text, &stack_ref.tfvars)?;
    stack_of(stack_ref, facts, default_environment)
}

/// DESIGN §4, "inputs cannot choose their own governance": what a tfvars
/// says may not pick the rules it is judged by (pure). Its environment must
/// be declared in tfctl.yaml, spelled exactly, since it picks the branch,
/// the approvals, the credentials and the policies keyed on it. And it may
/// not set a variable its environment's `variables` sets (the account's
/// role, say): those are the platform team's, and whether `-var` or the
/// tfvars wins would depend on argument order, not on who owns the value.
pub fn check_inputs(
    cfg: &Config,
    tfvars: &str,
    facts: &tfvars::TfvarsFacts,
    text: &str,
) -> Result<(), Error> {
    let environment = facts
        .environment
        .as_deref()
        .unwrap_or(&cfg.default_environment);
    if let Some(problem) = cfg.undeclared_environment(environment) {
        return Err(Error::input(match facts.environment {
            Some(_) => format!(
                "{tfvars}:{}: {problem}",
                tfvars::attribute_line(text, "environment")
            ),
            None => format!("{tfvars}: {problem} (it is default_environment)"),
        }));
    }
    let owned = &cfg.environments[environment].variables;
    if let Some(name) = facts.attributes.iter().find(|a| owned.contains_key(*a)) {
        return Err(Error::input(format!(
            "{tfvars}:{}: sets `{name}`, which environment {environment:?} sets in tfctl.yaml \
             (environments.{environment}.variables.{name}); a tfvars may not override it",
            tfvars::attribute_line(text, name)
        )));
    }
    Ok(())
}

fn stack_of(
    stack_ref: &StackRef,
    facts: tfvars::TfvarsFacts,
    default_environment: &str,
) -> Result<Stack, Error> {
    let (service, name) = Stack::split_id(&stack_ref.id)
        .ok_or_else(|| Error::input(format!("{}: not a stack path", stack_ref.tfvars)))?;
    Ok(Stack {
        id: stack_ref.id.clone(),
        service: service.to_string(),
        name: name.to_string(),
        tfvars: stack_ref.tfvars.clone().into(),
        environment: facts
            .environment
            .unwrap_or_else(|| default_environment.to_string()),
        action: stack_ref.action,
        depends_on: facts.depends_on,
        string_values: facts.string_values,
    })
}

/// A `depends_on` naming no stack is a typo to report, not to ignore. A
/// stack destroyed by the same change still counts: its dependents go first.
fn check_dependencies_exist(
    stack: &Stack,
    text: &str,
    tree: &dyn StackTree,
    destroyed: &BTreeSet<String>,
) -> Result<(), Error> {
    for dep in &stack.depends_on {
        let exists = destroyed.contains(dep)
            || (discovery::confine(dep).is_ok() && !tree.tfvars_in(dep).is_empty());
        if !exists {
            let line = text
                .lines()
                .position(|l| l.contains(dep.as_str()))
                .map_or(1, |i| i + 1);
            return Err(Error::input(format!(
                "{}:{line}: depends_on names `{dep}`, which is not a stack",
                stack.tfvars.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cfg() -> Config {
        crate::config::parse(
            "environments:\n  development: {}\n  production:\n    variables:\n      assume_role_arn: arn:prod\n      region: eu-west-1\n",
            Path::new("/r/tfctl.yaml"),
        )
        .unwrap()
    }

    fn check(text: &str) -> Result<(), Error> {
        let facts = tfvars::parse(text, "S3/a/a.tfvars").unwrap();
        check_inputs(&cfg(), "S3/a/a.tfvars", &facts, text)
    }

    #[test]
    fn a_declared_environment_and_its_own_variables_pass() {
        check("environment = \"production\"\nname = \"a\"\n").unwrap();
        // Without the attribute, default_environment applies.
        check("name = \"a\"\n").unwrap();
        // A variable production sets is fine in a development stack.
        check("environment = \"development\"\nassume_role_arn = \"arn:dev\"\n").unwrap();
    }

    #[test]
    fn an_undeclared_environment_names_file_and_line() {
        let err = check("# bucket\nenvironment = \"Production\"\n").unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "S3/a/a.tfvars:2: environment \"Production\" is not declared in tfctl.yaml \
             (declared: development, production); did you mean \"production\"?"
        );
    }

    #[test]
    fn a_variable_the_environment_sets_may_not_be_set_by_the_tfvars() {
        let err =
            check("environment = \"production\"\nname = \"a\"\nassume_role_arn = \"arn:mine\"\n")
                .unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "S3/a/a.tfvars:3: sets `assume_role_arn`, which environment \"production\" sets in \
             tfctl.yaml (environments.production.variables.assume_role_arn); a tfvars may not override it"
        );
    }
}
