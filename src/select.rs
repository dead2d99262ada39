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
/// the approvals, the credentials and the policies keyed on it.
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
