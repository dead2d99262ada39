//! Which stacks a run works on: changed files → stack refs → parsed stacks →
//! DAG. The shared front half of every command (context → discovery →
//! graph). Reads the tree and git; the decisions are in `discovery`,
//! `tfvars` and `graph`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use crate::config::model::{PathParts, TemplateVars};
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
    // The whole estate is the selection with `--all`; a change is checked
    // against the stacks it does not touch as well.
    let whole_estate = matches!(source, ChangeSource::All);
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

    let estate = if whole_estate || stacks.is_empty() || cfg.backend.path_parts().id {
        // With `{id}` in the state, stacks of different ids never share one.
        Vec::new()
    } else {
        let parts = cfg.backend.path_parts();
        let selected: HashSet<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
        let wanted: HashSet<(&str, &str, &str)> = stacks
            .iter()
            .filter_map(|s| path_identity(parts, &s.id))
            .collect();
        let keep = |dir: &str| {
            !selected.contains(dir)
                && path_identity(parts, dir).is_some_and(|key| wanted.contains(&key))
        };
        discovery::estate_stacks(&crate::repo::tree_files(config_root)?, &cfg.stacks, &keep)
    };
    check_state_keys(cfg, &stacks, &estate, &|tfvars| {
        std::fs::read_to_string(config_root.join(tfvars)).ok()
    })?;

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

/// docs/DESIGN.md §4, "inputs cannot choose their own governance": what a tfvars
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

/// docs/DESIGN.md §4: no two stacks share a state. Two stack directories can
/// render the same backend settings (`S3/sandbox/logs-dev` and
/// `S3/logs-dev` both have the default key
/// `S3/<environment>/logs-dev/terraform.tfstate`), and then a plan of one
/// would see, change or destroy the other's resources. Refused when two
/// stacks of `selected` collide, or one of them collides with a stack of
/// `estate` (the config root's other stacks, unchanged by the run).
///
/// Cheap on a large estate: an estate stack is read (`read_tfvars`, by
/// tfvars path) only when it agrees with a selected stack on the path parts
/// the settings use (service and name for the default key: the settings
/// are taken to keep their parts apart, as its `/` do); an unreadable one
/// is skipped (it is refused when a change selects it).
pub fn check_state_keys(
    cfg: &Config,
    selected: &[Stack],
    estate: &[StackRef],
    read_tfvars: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let state_of = |id: &str, service: &str, name: &str, environment: &str| {
        let vars = TemplateVars {
            id,
            service,
            name,
            environment,
        };
        cfg.backend.settings_for(&vars, &cfg.base_dir)
    };
    let collision = |a: &str, b: &Stack| {
        let vars = TemplateVars {
            id: &b.id,
            service: &b.service,
            name: &b.name,
            environment: &b.environment,
        };
        let (first, second) = if a <= b.id.as_str() {
            (a, b.id.as_str())
        } else {
            (b.id.as_str(), a)
        };
        Error::input(format!(
            "{first} and {second} would share the {} (backend.key {} in {}): each stack needs \
             its own state; rename one, or put {{id}} in backend.key",
            cfg.backend.state_name(&vars, &cfg.base_dir),
            cfg.backend.key_template,
            cfg.file
                .file_name()
                .map_or_else(|| "tfctl.yaml".into(), |n| n.to_string_lossy()),
        ))
    };

    let mut by_state: HashMap<Vec<(String, String)>, &Stack> = HashMap::new();
    for stack in selected {
        let state = state_of(&stack.id, &stack.service, &stack.name, &stack.environment);
        if let Some(other) = by_state.insert(state, stack) {
            return Err(collision(&other.id, stack));
        }
    }

    let parts = cfg.backend.path_parts();
    let selected_ids: HashSet<&str> = selected.iter().map(|s| s.id.as_str()).collect();
    let wanted: HashSet<(&str, &str, &str)> = selected
        .iter()
        .filter_map(|s| path_identity(parts, &s.id))
        .collect();
    for other in estate {
        if selected_ids.contains(other.id.as_str())
            || !path_identity(parts, &other.id).is_some_and(|key| wanted.contains(&key))
        {
            continue;
        }
        let Some((service, name)) = Stack::split_id(&other.id) else {
            continue;
        };
        let Some(facts) =
            read_tfvars(&other.tfvars).and_then(|text| tfvars::parse(&text, &other.tfvars).ok())
        else {
            continue;
        };
        let environment = facts
            .environment
            .unwrap_or_else(|| cfg.default_environment.clone());
        if let Some(stack) = by_state.get(&state_of(&other.id, service, name, &environment)) {
            return Err(collision(&other.id, stack));
        }
    }
    Ok(())
}

/// The parts of stack id `id` that the backend settings use (`""` for the
/// others): stacks that differ in them do not share a state.
fn path_identity(parts: PathParts, id: &str) -> Option<(&str, &str, &str)> {
    let (service, name) = Stack::split_id(id)?;
    let used = |yes: bool, part| if yes { part } else { "" };
    Some((
        used(parts.id, id),
        used(parts.service, service),
        used(parts.name, name),
    ))
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

    fn stack(id: &str, environment: &str) -> Stack {
        let (service, name) = Stack::split_id(id).unwrap();
        Stack {
            id: id.into(),
            service: service.into(),
            name: name.into(),
            tfvars: format!("{id}/{name}.tfvars").into(),
            environment: environment.into(),
            action: StackAction::Plan,
            depends_on: Vec::new(),
            string_values: Vec::new(),
        }
    }

    fn estate(ids: &[&str]) -> Vec<StackRef> {
        ids.iter()
            .map(|id| StackRef {
                id: id.to_string(),
                tfvars: format!("{id}/{}.tfvars", id.rsplit('/').next().unwrap()),
                action: StackAction::Plan,
            })
            .collect()
    }

    /// Tfvars texts by path; counts reads.
    struct Texts(BTreeMap<String, String>, std::cell::Cell<usize>);

    impl Texts {
        fn new(pairs: &[(&str, &str)]) -> Texts {
            Texts(
                pairs
                    .iter()
                    .map(|(p, t)| (p.to_string(), t.to_string()))
                    .collect(),
                std::cell::Cell::new(0),
            )
        }
        fn read(&self, path: &str) -> Option<String> {
            self.1.set(self.1.get() + 1);
            self.0.get(path).cloned()
        }
    }

    const KEY: &str = "state key S3/production/logs-dev/terraform.tfstate";

    #[test]
    fn two_selected_stacks_with_one_state_key_are_refused() {
        let cfg = cfg();
        let none = Texts::new(&[]);
        let err = check_state_keys(
            &cfg,
            &[
                stack("S3/sandbox/logs-dev", "production"),
                stack("S3/logs-dev", "production"),
            ],
            &[],
            &|p| none.read(p),
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            format!(
                "S3/logs-dev and S3/sandbox/logs-dev would share the {KEY} (backend.key \
                 {{service}}/{{environment}}/{{name}}/terraform.tfstate in tfctl.yaml): each stack \
                 needs its own state; rename one, or put {{id}} in backend.key"
            )
        );
        // Other environments, or the id in the key, keep them apart.
        check_state_keys(
            &cfg,
            &[
                stack("S3/sandbox/logs-dev", "development"),
                stack("S3/logs-dev", "production"),
            ],
            &[],
            &|p| none.read(p),
        )
        .unwrap();
        let by_id = crate::config::parse(
            "backend:\n  key: \"{id}/terraform.tfstate\"\n",
            Path::new("/r/tfctl.yaml"),
        )
        .unwrap();
        check_state_keys(
            &by_id,
            &[
                stack("S3/sandbox/logs-dev", "production"),
                stack("S3/logs-dev", "production"),
            ],
            &[],
            &|p| none.read(p),
        )
        .unwrap();
    }

    #[test]
    fn a_selected_stack_colliding_with_an_unchanged_one_is_refused() {
        let cfg = cfg();
        let texts = Texts::new(&[
            (
                "S3/logs-dev/logs-dev.tfvars",
                "environment = \"production\"\n",
            ),
            ("S3/other/other.tfvars", "environment = \"production\"\n"),
        ]);
        let all = estate(&["S3/logs-dev", "S3/other", "S3/sandbox/logs-dev"]);
        let err = check_state_keys(
            &cfg,
            &[stack("S3/sandbox/logs-dev", "production")],
            &all,
            &|p| texts.read(p),
        )
        .unwrap_err();
        assert!(
            err.message.starts_with(&format!(
                "S3/logs-dev and S3/sandbox/logs-dev would share the {KEY}"
            )),
            "{}",
            err.message
        );
        // Only the stack whose path could collide was read.
        assert_eq!(texts.1.get(), 1);

        // The unchanged stack is in development: a different key.
        let texts = Texts::new(&[("S3/logs-dev/logs-dev.tfvars", "name = \"x\"\n")]);
        check_state_keys(
            &cfg,
            &[stack("S3/sandbox/logs-dev", "production")],
            &all,
            &|p| texts.read(p),
        )
        .unwrap();
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
