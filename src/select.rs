//! Which stacks a run works on: changed files → stack refs → parsed stacks →
//! DAG. The shared front half of every command (context → discovery →
//! graph). Reads the tree and git; the decisions are in `discovery`,
//! `impact`, `tfvars` and `graph`.
//!
//! A changed path selects the stack whose files it is, every stack whose
//! root module tree holds it, or, for a policy file, every stack
//! (docs/DESIGN.md §2); each selected stack carries the paths that selected
//! it. Stacks of a run stay ordered through the unchanged stacks between
//! them, and a deleted stack that others still depend on is a finding.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::change_paths::{self, Roots};
use crate::config::model::{PathParts, TemplateVars};
use crate::config::Config;
use crate::discovery::{self, ChangedFile, FileStatus, StackRef, StackTree};
use crate::error::Error;
use crate::graph::{self, Dag};
use crate::impact::{self, Dependents, ModuleChange};
use crate::module_tree::{self, ModuleFacts, ModuleSource};
use crate::repo::{FsModules, FsTree, Git};
use crate::stack::{Stack, StackAction};
use crate::tfvars;

/// Where the list of changed files comes from.
#[derive(Debug, Clone)]
pub enum ChangeSource {
    /// Given explicitly, relative to the config root (the PR files API of
    /// a config repo). `old_rev`, when known, is where a deleted tfvars's
    /// last contents are read from.
    Files {
        files: Vec<ChangedFile>,
        old_rev: Option<String>,
    },
    /// Changed files relative to the top of checkout `top`: the PR of the
    /// repository that holds tfctl.yaml, the stacks, or both. Paths outside
    /// every root are not tfctl's and are left out.
    Repo {
        top: PathBuf,
        files: Vec<ChangedFile>,
        old_rev: Option<String>,
    },
    /// `--files` as typed, resolved against `cwd` (else the config root);
    /// every path must name something tfctl understands.
    Typed { paths: Vec<String>, cwd: PathBuf },
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
    /// What terraform receives for each stack, by stack id.
    pub inputs: BTreeMap<String, StackInputs>,
    /// docs/DESIGN.md §3: deleted stacks that other stacks still depend on,
    /// with those dependents (sorted): a validation failure, since the
    /// graph would be broken once merged.
    pub broken_dependencies: BTreeMap<String, Vec<String>>,
    /// Things the config says that match nothing (an `order` service with
    /// no stacks), for the command to print.
    pub warnings: Vec<String>,
}

#[cfg(test)]
impl Selection {
    /// A selection of `stacks` with no order rules, inputs or warnings.
    pub(crate) fn sample(stacks: Vec<Stack>) -> Selection {
        Selection {
            dag: graph::build(stacks, &[]).expect("an acyclic sample"),
            changed_files: Vec::new(),
            inputs: BTreeMap::new(),
            broken_dependencies: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

/// Changed paths sorted by what they are to tfctl.
#[derive(Default)]
struct Sorted {
    /// Relative to the config root.
    stack_files: Vec<ChangedFile>,
    modules: Vec<ModuleChange>,
    /// Labels of changed policy files.
    policies: BTreeSet<String>,
}

impl Sorted {
    fn add(&mut self, roots: &Roots, abs: &Path, status: FileStatus) -> bool {
        let c = roots.classify(abs);
        let mut known = c.policy;
        if let Some(path) = c.stack_path {
            self.stack_files.push(ChangedFile { path, status });
            known = true;
        }
        if let Some(path) = c.module_path {
            self.modules.push(ModuleChange {
                path,
                label: c.label.clone(),
            });
            known = true;
        }
        if c.policy {
            self.policies.insert(c.label);
        }
        known
    }
}

/// What terraform receives for a stack besides its root module
/// (docs/DESIGN.md §1): its tfvars minus tfctl's own keys, and the context
/// variables its root module declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackInputs {
    /// The stack's tfvars in the order terraform reads them, as `(path
    /// relative to the config root, text)`: the text tfctl checked (a
    /// deleted file's last contents), so terraform reads what was judged.
    pub var_files: Vec<(String, String)>,
    /// Top-level attributes that are tfctl's and never reach terraform:
    /// `depends_on`, and `environment` unless the module declares it.
    pub withheld: Vec<String>,
    /// `tfctl_stack_id`, `tfctl_stack_dir`, `tfctl_environment`: those the
    /// root module declares, with their values (the directory relative to
    /// the config root here; the job passes it absolute).
    pub context: BTreeMap<String, String>,
}

/// Variables tfctl passes to a root module that declares them; a tfvars
/// may not set one (docs/DESIGN.md §4: inputs cannot choose their own
/// governance, and a stack cannot claim to be another).
pub const CONTEXT_PREFIX: &str = "tfctl_";

/// Selects and parses the stacks under `config_root`: the changed paths
/// sorted → the stacks they choose, each with why → each read and checked
/// → the graph's checks (dependencies exist, no two stacks share a state,
/// a deletion breaks nothing, order through unselected stacks) → the DAG.
pub fn select(cfg: &Config, config_root: &Path, source: ChangeSource) -> Result<Selection, Error> {
    let tree = FsTree::new(config_root);
    let large = is_large(&source);
    let estate = Estate::new(cfg, config_root, large);
    let whole_estate = matches!(source, ChangeSource::All);
    let (sorted, history) = sort_changes(cfg, config_root, &tree, source)?;
    let chosen = choose(cfg, config_root, &tree, &estate, &sorted, whole_estate)?;
    let whole_estate = chosen.whole_estate;
    let destroyed_ids: BTreeSet<String> = chosen
        .refs
        .iter()
        .filter(|r| r.action == StackAction::Destroy)
        .map(|r| r.id.clone())
        .collect();
    let deleted = deleted_tfvars(cfg, &sorted.stack_files);
    let (mut stacks, inputs) = read_stacks(cfg, &tree, chosen, &deleted, history.as_ref())?;

    // The stacks a large change does not select are listed from git's
    // index (read once, by `estate`) rather than one directory at a time; a
    // directory the index has no tfvars in is still read from disk, so an
    // untracked stack a change depends on is found.
    if large {
        tree.use_listing(Arc::clone(estate.files()?));
    }
    check_dependencies(&stacks, &inputs, &tree, &destroyed_ids)?;
    check_shared_state(cfg, config_root, &stacks, &estate, whole_estate)?;
    let broken_dependencies = broken_dependencies(cfg, config_root, &destroyed_ids)?;
    if !whole_estate {
        order_through_unselected(cfg, &tree, &mut stacks)?;
    }
    let warnings = order_warnings(cfg, config_root, &stacks, &estate, whole_estate)?;

    let dag = graph::build(stacks, &cfg.order)?;
    let changed: BTreeSet<String> = sorted.stack_files.into_iter().map(|f| f.path).collect();
    Ok(Selection {
        dag,
        changed_files: changed.into_iter().collect(),
        inputs,
        broken_dependencies,
        warnings,
    })
}

/// A change large enough that listing the whole estate early pays.
fn is_large(source: &ChangeSource) -> bool {
    match source {
        ChangeSource::Typed { paths, .. } => paths.len() >= LARGE_CHANGE,
        ChangeSource::Files { files, .. } | ChangeSource::Repo { files, .. } => {
            files.len() >= LARGE_CHANGE
        }
        ChangeSource::All | ChangeSource::Git { .. } => false,
    }
}

/// A listing of the config root's files under way on another thread.
type Listing = std::thread::JoinHandle<Result<Vec<String>, Error>>;

/// The config root's files and stacks, listed at most once and only when
/// a decision needs the whole estate. For a large change the listing (git's
/// index) starts on another thread while the change's own files are read:
/// the state-key check and the walk upstream need it, and would otherwise
/// wait for it.
struct Estate<'a> {
    cfg: &'a Config,
    root: &'a Path,
    early: RefCell<Option<Listing>>,
    files: OnceCell<Arc<Vec<String>>>,
    stacks: OnceCell<Vec<StackRef>>,
}

impl<'a> Estate<'a> {
    fn new(cfg: &'a Config, root: &'a Path, list_early: bool) -> Estate<'a> {
        let early = list_early.then(|| {
            let root = root.to_path_buf();
            std::thread::spawn(move || crate::repo::tree_files(&root))
        });
        Estate {
            cfg,
            root,
            early: RefCell::new(early),
            files: OnceCell::new(),
            stacks: OnceCell::new(),
        }
    }

    /// Every file under the config root, sorted.
    fn files(&self) -> Result<&Arc<Vec<String>>, Error> {
        if let Some(files) = self.files.get() {
            return Ok(files);
        }
        let early = self.early.borrow_mut().take();
        let files = match early {
            Some(listing) => listing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            None => crate::repo::tree_files(self.root)?,
        };
        Ok(self.files.get_or_init(|| Arc::new(sorted_paths(files))))
    }

    /// Every stack under the config root.
    fn stacks(&self) -> Result<Vec<StackRef>, Error> {
        if let Some(refs) = self.stacks.get() {
            return Ok(refs.clone());
        }
        let refs = discovery::estate_stacks(self.files()?, &self.cfg.stacks, &|_| true);
        Ok(self.stacks.get_or_init(|| refs).clone())
    }
}

/// Where a destroy reads its deleted tfvars' last contents: a repository
/// and the revision before the change.
struct History {
    git: Git,
    rev: String,
}

/// The changed paths of `source`, sorted by what they are to tfctl, and
/// the history deleted tfvars are read from (when there is one).
fn sort_changes(
    cfg: &Config,
    config_root: &Path,
    tree: &FsTree,
    source: ChangeSource,
) -> Result<(Sorted, Option<History>), Error> {
    let mut sorted = Sorted::default();
    if matches!(source, ChangeSource::All) {
        return Ok((sorted, None));
    }
    let roots = roots_of(cfg, config_root);
    let history_at = |old_rev: Option<String>| {
        let rev = old_rev?;
        Git::open(config_root).ok().map(|git| History { git, rev })
    };
    let history = match source {
        ChangeSource::All => None,
        ChangeSource::Files { files, old_rev } => {
            for f in files {
                let rel = discovery::confine(&f.path)?;
                sorted.add(&roots, &roots.config.join(rel), f.status);
            }
            history_at(old_rev)
        }
        ChangeSource::Repo {
            top,
            files,
            old_rev,
        } => {
            let top = change_paths::absolute(&top);
            for f in files {
                let rel = discovery::confine(&f.path)?;
                sorted.add(&roots, &top.join(rel), f.status);
            }
            history_at(old_rev)
        }
        ChangeSource::Typed { paths, cwd } => {
            // Resolved, and each stack directory listed, on several threads:
            // a large `--files` is thousands of small reads.
            let resolved = crate::repo::par_map(&paths, |typed| {
                change_paths::resolve_typed(typed, &cwd, &roots)
            });
            let dirs: BTreeSet<String> = resolved
                .iter()
                .flatten()
                .flat_map(|found| &found.files)
                .filter_map(|file| roots.classify(file).stack_path)
                .filter_map(|rel| rel.rsplit_once('/').map(|(dir, _)| dir.to_string()))
                .collect();
            let dirs: Vec<String> = dirs.into_iter().collect();
            crate::repo::par_map(&dirs, |dir| tree.tfvars_in(dir));
            for found in resolved {
                add_typed(cfg, &roots, tree, &found?, &mut sorted)?;
            }
            None
        }
        ChangeSource::Git { base } => {
            let git = Git::open(config_root)?;
            let merge_base = git.merge_base(&base)?;
            // The whole checkout's changes: modules and policies may be
            // beside the config root rather than under it.
            let whole = Git {
                top: git.top.clone(),
                prefix: String::new(),
            };
            let top = change_paths::absolute(&git.top);
            for f in whole.changes_since(&merge_base)? {
                sorted.add(&roots, &top.join(&f.path), f.status);
            }
            Some(History {
                git,
                rev: merge_base,
            })
        }
    };
    Ok((sorted, history))
}

/// The stacks a run has, sorted, each with why.
struct Chosen {
    refs: Vec<StackRef>,
    /// The changed paths that chose each stack, by stack id.
    reasons: BTreeMap<String, BTreeSet<String>>,
    /// Every stack of the estate is in the run: `--all`, or a policy changed.
    whole_estate: bool,
}

/// The stacks `sorted` chooses: those its stack files name (every stack
/// with `--all`), then every stack a changed policy reaches (the whole
/// estate: a new guardrail is tried against it before it merges) or a
/// changed module reaches.
fn choose(
    cfg: &Config,
    config_root: &Path,
    tree: &FsTree,
    estate: &Estate<'_>,
    sorted: &Sorted,
    whole_estate: bool,
) -> Result<Chosen, Error> {
    let mut refs = if whole_estate {
        let files = crate::repo::list_files(config_root)?;
        tree.remember(&files);
        discovery::all_stacks(&files, &cfg.stacks)?
    } else {
        discovery::stacks_from_changes(&sorted.stack_files, &cfg.stacks, tree)?
    };
    let mut reasons = own_reasons(&refs, &sorted.stack_files);
    let mut whole_estate = whole_estate;
    let impacted = if !sorted.policies.is_empty() {
        whole_estate = true;
        let estate = estate.stacks()?;
        for r in &estate {
            reasons
                .entry(r.id.clone())
                .or_default()
                .extend(sorted.policies.iter().cloned());
        }
        estate
    } else if !sorted.modules.is_empty() {
        let estate = estate.stacks()?;
        let source = FsModules {
            root: cfg.modules_root.clone(),
        };
        let by_module = impact::module_impact(
            &estate,
            &cfg.stacks.layout,
            &cfg.modules,
            &source,
            &sorted.modules,
        )?;
        let hit: Vec<StackRef> = estate
            .into_iter()
            .filter(|r| by_module.contains_key(&r.id))
            .collect();
        for (id, why) in by_module {
            reasons.entry(id).or_default().extend(why);
        }
        hit
    } else {
        Vec::new()
    };
    let known: HashSet<String> = refs.iter().map(|r| r.id.clone()).collect();
    refs.extend(
        impacted
            .into_iter()
            // The index can list a tfvars deleted in the working tree.
            .filter(|r| !known.contains(&r.id) && config_root.join(&r.tfvars).is_file()),
    );
    refs.sort();
    Ok(Chosen {
        refs,
        reasons,
        whole_estate,
    })
}

/// Why each of `refs` is in the run through its own files: the changed
/// files in its directory.
fn own_reasons(
    refs: &[StackRef],
    stack_files: &[ChangedFile],
) -> BTreeMap<String, BTreeSet<String>> {
    let selected: HashSet<&str> = refs.iter().map(|r| r.id.as_str()).collect();
    let mut reasons: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for change in stack_files {
        let dir = change.path.rsplit_once('/').map_or("", |(d, _)| d);
        if selected.contains(dir) {
            reasons
                .entry(dir.to_string())
                .or_default()
                .insert(change.path.clone());
        }
    }
    reasons
}

/// The deleted stack tfvars of `files` by directory: a destroy plans with
/// all of their last contents.
fn deleted_tfvars(cfg: &Config, files: &[ChangedFile]) -> BTreeMap<String, Vec<String>> {
    let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| f.status == FileStatus::Deleted) {
        let Ok(path) = discovery::confine(&file.path) else {
            continue;
        };
        if let Some((dir, name)) = path.rsplit_once('/') {
            if discovery::is_stack_tfvars(&path, &cfg.stacks) {
                by_dir
                    .entry(dir.to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
    }
    by_dir
}

/// Each chosen stack read and checked: a planned one's var files from the
/// tree (on several threads), a destroyed one's from their last contents in
/// `history`; each parsed and checked against its root module (pure, on
/// several threads), kept in order with its reasons.
fn read_stacks(
    cfg: &Config,
    tree: &FsTree,
    chosen: Chosen,
    deleted: &BTreeMap<String, Vec<String>>,
    history: Option<&History>,
) -> Result<(Vec<Stack>, BTreeMap<String, StackInputs>), Error> {
    let Chosen {
        refs, mut reasons, ..
    } = chosen;
    let plan_files = |stack_ref: &StackRef| -> Result<Vec<(String, String)>, Error> {
        let (dir, _) = stack_ref.tfvars.rsplit_once('/').unwrap_or_default();
        let present: Vec<String> = tree
            .tfvars_in(dir)
            .into_iter()
            .filter(|n| discovery::is_stack_tfvars(&format!("{dir}/{n}"), &cfg.stacks))
            .collect();
        let mut files = Vec::new();
        for name in discovery::var_files_in_order(dir, present, &cfg.stacks)? {
            let rel = format!("{dir}/{name}");
            discovery::check_stack_path(&rel)?;
            let text = tree
                .read(&rel)
                .map_err(|e| Error::input(format!("{rel}: {e}")))?;
            files.push((rel, text));
        }
        Ok(files)
    };
    let destroy_files = |stack_ref: &StackRef| -> Result<Vec<(String, String)>, Error> {
        let (dir, _) = stack_ref.tfvars.rsplit_once('/').unwrap_or_default();
        let gone = deleted.get(dir).cloned().unwrap_or_default();
        let mut files = Vec::new();
        for name in discovery::var_files_in_order(dir, gone, &cfg.stacks)? {
            let rel = format!("{dir}/{name}");
            discovery::check_stack_path(&rel)?;
            let text = history.and_then(|h| h.git.file_at(&h.rev, &rel).ok());
            let text = text.ok_or_else(|| {
                Error::input(format!(
                    "{rel}: deleted, and its last contents are needed to plan the destroy: \
                     fetch the base commit (actions/checkout fetch-depth: 0) or pass --base",
                ))
            })?;
            files.push((rel, text));
        }
        Ok(files)
    };
    let planned_files = crate::repo::par_map(&refs, |r| {
        (r.action == StackAction::Plan).then(|| plan_files(r))
    });
    let modules = FsModules {
        root: cfg.modules_root.clone(),
    };
    let mut module_facts: HashMap<String, Option<ModuleFacts>> = HashMap::new();
    let mut gathered = Vec::with_capacity(refs.len());
    for (stack_ref, planned) in refs.into_iter().zip(planned_files) {
        let files = match stack_ref.action {
            StackAction::Plan => planned.expect("read for every planned stack")?,
            StackAction::Destroy => destroy_files(&stack_ref)?,
        };
        let roles = cfg
            .stacks
            .layout
            .roles(&stack_ref.id)
            .map_err(|problem| Error::input(format!("{}: {problem}", stack_ref.id)))?;
        let module_rel = cfg.modules.module_for(roles.service);
        if !module_facts.contains_key(&module_rel) {
            let facts = match modules.module_files(&module_rel)? {
                Some(texts) => Some(module_tree::parse_module(&module_rel, &texts)?),
                None => None,
            };
            module_facts.insert(module_rel.clone(), facts);
        }
        gathered.push((stack_ref, files, module_rel));
    }
    let shown: HashMap<&String, String> = module_facts
        .keys()
        .map(|rel| (rel, module_display(cfg, rel)))
        .collect();
    let parsed = crate::repo::par_map(&gathered, |(stack_ref, files, module_rel)| {
        let module = module_facts[module_rel]
            .as_ref()
            .map(|facts| (shown[module_rel].as_str(), facts));
        stack_from_files(cfg, stack_ref, files.clone(), module)
    });
    drop(gathered);
    let mut stacks = Vec::with_capacity(parsed.len());
    let mut inputs = BTreeMap::new();
    for result in parsed {
        let (mut stack, stack_inputs) = result?;
        inputs.insert(stack.id.clone(), stack_inputs);
        stack.reasons = reasons
            .remove(&stack.id)
            .map(|r| r.into_iter().collect())
            .unwrap_or_default();
        stacks.push(stack);
    }
    Ok((stacks, inputs))
}

/// Every stack a planned one depends on must exist: their directories
/// listed on several threads, then checked in order.
fn check_dependencies(
    stacks: &[Stack],
    inputs: &BTreeMap<String, StackInputs>,
    tree: &FsTree,
    destroyed_ids: &BTreeSet<String>,
) -> Result<(), Error> {
    let deps: BTreeSet<&str> = stacks
        .iter()
        .filter(|s| s.action == StackAction::Plan)
        .flat_map(|s| s.depends_on.iter().map(String::as_str))
        .filter(|dep| discovery::confine(dep).is_ok())
        .collect();
    let deps: Vec<&str> = deps.into_iter().collect();
    crate::repo::par_map(&deps, |dep| tree.tfvars_in(dep));
    for stack in stacks.iter().filter(|s| s.action == StackAction::Plan) {
        let text = &inputs[&stack.id].var_files[0].1;
        check_dependencies_exist(stack, text, tree, destroyed_ids)?;
    }
    Ok(())
}

/// No two stacks, selected or not, share one state ([`check_state_keys`]):
/// the selected stacks are checked against the unselected ones whose state
/// path could be theirs. With `{id}` in the state path, stacks of different
/// ids never share one, and the whole estate is checked within itself.
fn check_shared_state(
    cfg: &Config,
    config_root: &Path,
    stacks: &[Stack],
    estate: &Estate<'_>,
    whole_estate: bool,
) -> Result<(), Error> {
    let parts = cfg.backend.path_parts();
    let others = if whole_estate || stacks.is_empty() || parts.id {
        Vec::new()
    } else {
        let selected: HashSet<&str> = stacks.iter().map(|s| s.id.as_str()).collect();
        let wanted: HashSet<(&str, &str, &str)> = stacks
            .iter()
            .filter_map(|s| path_identity(cfg, parts, &s.id))
            .collect();
        let keep = |dir: &str| {
            !selected.contains(dir)
                && path_identity(cfg, parts, dir).is_some_and(|key| wanted.contains(&key))
        };
        discovery::estate_stacks(estate.files()?, &cfg.stacks, &keep)
    };
    check_state_keys(cfg, stacks, &others, &|tfvars| {
        std::fs::read_to_string(config_root.join(tfvars)).ok()
    })
}

/// docs/DESIGN.md §3: the stacks that still depend on each destroyed one,
/// by destroyed id (the graph stays whole).
fn broken_dependencies(
    cfg: &Config,
    config_root: &Path,
    destroyed_ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>, Error> {
    if destroyed_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let dependents = TreeDependents {
        root: config_root,
        globs: &cfg.stacks,
        tfvars: OnceCell::new(),
    };
    Ok(by_destroyed(dependents.dependents_of(destroyed_ids)?))
}

/// `(dependent, the destroyed stacks it names)` turned around: each
/// destroyed stack with its dependents, sorted.
fn by_destroyed(dependents: Vec<(String, Vec<String>)>) -> BTreeMap<String, Vec<String>> {
    let mut by_destroyed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (dependent, named) in dependents {
        for id in named {
            by_destroyed
                .entry(id)
                .or_default()
                .insert(dependent.clone());
        }
    }
    by_destroyed
        .into_iter()
        .map(|(id, deps)| (id, deps.into_iter().collect()))
        .collect()
}

/// docs/DESIGN.md §3: a selected stack that follows another through
/// unselected ones (A → x → B) is ordered after it, as if it named it.
fn order_through_unselected(
    cfg: &Config,
    tree: &FsTree,
    stacks: &mut [Stack],
) -> Result<(), Error> {
    let planned: BTreeMap<String, Vec<String>> = stacks
        .iter()
        .filter(|s| s.action == StackAction::Plan)
        .map(|s| {
            let named = named_stacks(cfg, &s.id, &s.depends_on, &s.string_values);
            (s.id.clone(), named)
        })
        .collect();
    let upstream = TreeUpstream {
        cfg,
        tree,
        known: Mutex::default(),
    };
    if planned.len() >= 2 {
        upstream.warm(&planned);
    }
    let mut after = impact::order_through_unselected(&planned, &upstream)?;
    for stack in stacks {
        if let Some(first) = after.remove(&stack.id) {
            let new: Vec<String> = first
                .into_iter()
                .filter(|id| !stack.depends_on.contains(id))
                .collect();
            stack.depends_on.extend(new);
        }
    }
    Ok(())
}

/// An `order` service with no stacks, named for the command to print. The
/// selection's own services are asked first: the estate is listed only
/// when the order names a service no selected stack has.
fn order_warnings(
    cfg: &Config,
    config_root: &Path,
    stacks: &[Stack],
    estate: &Estate<'_>,
    whole_estate: bool,
) -> Result<Vec<String>, Error> {
    if cfg.order.is_empty() {
        return Ok(Vec::new());
    }
    let mut services: BTreeSet<&str> = stacks.iter().map(|s| s.service.as_str()).collect();
    let listed;
    if !whole_estate && !impact::unknown_order_services(&cfg.order, &services).is_empty() {
        listed = estate.stacks()?;
        services.extend(listed.iter().filter_map(|r| {
            cfg.stacks
                .layout
                .roles(&r.id)
                .ok()
                .map(|roles| roles.service)
        }));
    }
    Ok(impact::unknown_order_services(&cfg.order, &services)
        .into_iter()
        .map(|service| {
            format!(
                "{}: order names service `{service}`, which has no stacks under {}",
                cfg.file.display(),
                config_root.display()
            )
        })
        .collect())
}

/// `paths` in byte order (git's index already is; a walk of the tree may
/// not be), so a directory's files can be found by binary search.
fn sorted_paths(mut paths: Vec<String>) -> Vec<String> {
    if !paths.is_sorted() {
        paths.sort_unstable();
    }
    paths
}

/// Changed files from which a selection lists the estate ahead of need.
const LARGE_CHANGE: usize = 64;

/// docs/DESIGN.md §2: one `--files` argument, resolved and sorted. It must
/// name something tfctl understands: a stack's file or directory (or a
/// directory of stacks), a module file or directory, a policy.
fn add_typed(
    cfg: &Config,
    roots: &Roots,
    tree: &dyn StackTree,
    found: &change_paths::Typed,
    sorted: &mut Sorted,
) -> Result<(), Error> {
    let typed = &found.typed;
    let mut selects = false;
    for file in &found.files {
        let c = roots.classify(file);
        let stack = c.stack_path.as_ref().is_some_and(|rel| {
            discovery::stacks_from_changes(&[ChangedFile::modified(rel.clone())], &cfg.stacks, tree)
                .is_ok_and(|refs| !refs.is_empty())
        });
        let other = c.module_path.is_some() || c.policy;
        if stack || other {
            sorted.add(roots, file, FileStatus::Modified);
            selects = true;
        }
    }
    if selects {
        return Ok(());
    }
    Err(Error::input(format!(
        "{typed}: names no stack {} under the config root {} (a stack is a directory with \
         a *.tfvars), nor a module or policy file",
        if found.is_dir { "directory" } else { "file" },
        roots.config.display()
    )))
}

/// What a stack's tfvars names that could be a stack: its `depends_on` and
/// the string values shaped like a stack path (`stacks.layout`).
fn named_stacks(cfg: &Config, id: &str, depends_on: &[String], values: &[String]) -> Vec<String> {
    let mut named: Vec<String> = depends_on
        .iter()
        .chain(values)
        .map(|v| v.trim_end_matches('/'))
        .filter(|v| *v != id && cfg.stacks.layout.roles(v).is_ok())
        .map(str::to_string)
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}

/// An unselected stack's dependencies, read from its own tfvars (one
/// directory listing and its tfvars per stack asked), ahead of the walk
/// on several threads ([`TreeUpstream::warm`]) or on demand.
struct TreeUpstream<'a> {
    cfg: &'a Config,
    tree: &'a FsTree,
    /// What [`TreeUpstream::warm`] read, by stack id.
    known: Mutex<HashMap<String, Vec<String>>>,
}

impl TreeUpstream<'_> {
    /// Reads every unselected stack the upstream walk from `selected` (id →
    /// the stacks it names) will ask about, a level at a time, each level
    /// on several threads: the walk then runs from memory.
    fn warm(&self, selected: &BTreeMap<String, Vec<String>>) {
        let mut seen: HashSet<String> = HashSet::new();
        let mut level: Vec<String> = selected
            .values()
            .flatten()
            .filter(|id| !selected.contains_key(*id))
            .cloned()
            .collect();
        while !level.is_empty() {
            level.retain(|id| seen.insert(id.clone()));
            let read = crate::repo::par_map(&level, |id| self.read(id));
            let mut next = Vec::new();
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            for (id, named) in level.iter().zip(read) {
                next.extend(
                    named
                        .iter()
                        .filter(|n| !selected.contains_key(*n) && !seen.contains(*n))
                        .cloned(),
                );
                known.insert(id.clone(), named);
            }
            level = next;
        }
    }

    fn read(&self, id: &str) -> Vec<String> {
        let mut depends_on = Vec::new();
        let mut values = Vec::new();
        for name in self.tree.tfvars_in(id) {
            let rel = format!("{id}/{name}");
            if !discovery::is_stack_tfvars(&rel, &self.cfg.stacks) {
                continue;
            }
            let Ok(text) = self.tree.read(&rel) else {
                continue;
            };
            // A tfvars that does not parse is refused when a change selects it.
            if let Ok(facts) = tfvars::parse(&text, &rel) {
                depends_on.extend(facts.depends_on);
                values.extend(facts.string_values);
            }
        }
        named_stacks(self.cfg, id, &depends_on, &values)
    }
}

impl impact::Upstream for TreeUpstream<'_> {
    fn upstream_of(&self, id: &str) -> Result<Vec<String>, Error> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(named) = known.get(id) {
            Ok(named.clone())
        } else {
            drop(known);
            Ok(self.read(id))
        }
    }
}

/// The estate's dependents, found with one `git grep` per question (only
/// the tfvars that name an asked id are read), or by reading every tfvars
/// once outside a git checkout.
struct TreeDependents<'a> {
    root: &'a Path,
    globs: &'a crate::config::model::StackGlobs,
    /// Every stack tfvars, outside git.
    tfvars: OnceCell<Vec<String>>,
}

impl Dependents for TreeDependents<'_> {
    fn dependents_of(&self, ids: &BTreeSet<String>) -> Result<Vec<(String, Vec<String>)>, Error> {
        let needles: Vec<&str> = ids.iter().map(String::as_str).collect();
        let files = if let Some(files) = crate::repo::grep_files(self.root, &needles, "*.tfvars") {
            files
        } else {
            if self.tfvars.get().is_none() {
                let all = crate::repo::list_files(self.root)?;
                let _ = self.tfvars.set(
                    all.into_iter()
                        .filter(|p| discovery::is_stack_tfvars(p, self.globs))
                        .collect(),
                );
            }
            self.tfvars.get().cloned().unwrap_or_default()
        };
        let mut out = Vec::new();
        for file in files {
            if !discovery::is_stack_tfvars(&file, self.globs) {
                continue;
            }
            let Some((dir, _)) = file.rsplit_once('/') else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(self.root.join(&file)) else {
                continue;
            };
            if !ids.iter().any(|id| text.contains(id.as_str())) {
                continue;
            }
            // A tfvars that does not parse is refused when a change selects it.
            let Ok(facts) = tfvars::parse(&text, &file) else {
                continue;
            };
            let named: BTreeSet<String> = facts
                .depends_on
                .iter()
                .chain(&facts.string_values)
                .map(|v| v.trim_end_matches('/'))
                .filter(|v| *v != dir && ids.contains(*v))
                .map(str::to_string)
                .collect();
            if !named.is_empty() {
                out.push((dir.to_string(), named.into_iter().collect()));
            }
        }
        Ok(out)
    }
}

/// A stack from its ref and its var files `(path, text)` in the order
/// terraform reads them, checked as docs/DESIGN.md §1 and §4 say (pure):
/// its path follows `stacks.layout`; the environment of its path and of
/// each tfvars agree and is declared; no tfvars sets what its environment
/// or tfctl sets; and with its root module known (`module`: its name for
/// messages and what it declares), every key is a variable the module
/// declares. Returns the stack and what terraform receives for it.
pub fn stack_from_files(
    cfg: &Config,
    stack_ref: &StackRef,
    files: Vec<(String, String)>,
    module: Option<(&str, &ModuleFacts)>,
) -> Result<(Stack, StackInputs), Error> {
    let roles = cfg
        .stacks
        .layout
        .roles(&stack_ref.id)
        .map_err(|problem| Error::input(format!("{}: {problem}", stack_ref.id)))?;
    if files.is_empty() {
        return Err(Error::input(format!("{}: no tfvars", stack_ref.id)));
    }
    let mut parsed = Vec::with_capacity(files.len());
    for (path, text) in &files {
        parsed.push(tfvars::parse(text, path)?);
    }

    // One environment: the path's, and every tfvars that names one, agree.
    // `source` says where it came from, for messages.
    let mut environment: Option<(String, String)> = roles.environment.map(|e| {
        (
            e.to_string(),
            format!("the path (stacks.layout `{}`)", cfg.stacks.layout.template),
        )
    });
    for ((path, text), facts) in files.iter().zip(&parsed) {
        let Some(given) = &facts.environment else {
            continue;
        };
        let line = tfvars::attribute_line(text, "environment");
        match &environment {
            Some((first, source)) if first != given => {
                return Err(Error::input_at(
                    path.clone(),
                    line,
                    None,
                    format!("environment {given:?} disagrees with {first:?} from {source}"),
                ))
            }
            Some(_) => {}
            None => environment = Some((given.clone(), format!("{path}:{line}"))),
        }
    }
    let environment = match environment {
        Some((name, source)) => {
            if let Some(problem) = cfg.undeclared_environment(&name) {
                return Err(Error::input(match roles.environment {
                    Some(_) => format!("{}: {problem} (from {source})", stack_ref.id),
                    None => format!("{source}: {problem}"),
                }));
            }
            name
        }
        None => cfg.default_environment.clone(),
    };
    // Every file is judged by the stack's environment, wherever it is named.
    for ((path, text), facts) in files.iter().zip(&parsed) {
        check_inputs(cfg, path, facts, text, Some(&environment))?;
    }

    let declares = |name: &str| module.is_some_and(|(_, m)| m.variables.contains_key(name));
    let mut withheld = vec!["depends_on".to_string()];
    if !declares("environment") {
        withheld.push("environment".to_string());
    }
    if let Some((module_name, facts)) = module {
        for ((path, text), file_facts) in files.iter().zip(&parsed) {
            for key in &file_facts.attributes {
                if withheld.contains(key) || facts.variables.contains_key(key) {
                    continue;
                }
                if stack_ref.action == StackAction::Destroy {
                    // A deleted tfvars cannot be fixed: what the module no
                    // longer declares stays out of the destroy plan.
                    withheld.push(key.clone());
                    continue;
                }
                let hint = module_tree::closest(key, facts.variables.keys().map(String::as_str))
                    .map(|name| format!("; did you mean `{name}`?"))
                    .unwrap_or_default();
                return Err(Error::input(format!(
                    "{path}:{}: `{key}` is not a variable of the root module {module_name} \
                     (it declares no `variable \"{key}\"`){hint}",
                    tfvars::attribute_line(text, key)
                )));
            }
        }
    }

    let mut context = BTreeMap::new();
    for (name, value) in [
        ("tfctl_stack_id", stack_ref.id.as_str()),
        ("tfctl_stack_dir", stack_ref.id.as_str()),
        ("tfctl_environment", environment.as_str()),
    ] {
        if declares(name) {
            context.insert(name.to_string(), value.to_string());
        }
    }

    let mut depends_on = Vec::new();
    let mut string_values = Vec::new();
    for facts in parsed {
        for dep in facts.depends_on {
            if !depends_on.contains(&dep) {
                depends_on.push(dep);
            }
        }
        string_values.extend(facts.string_values);
    }
    let stack = Stack {
        id: stack_ref.id.clone(),
        service: roles.service.to_string(),
        name: roles.name.to_string(),
        tfvars: stack_ref.tfvars.clone().into(),
        environment,
        action: stack_ref.action,
        depends_on,
        string_values,
        reasons: Vec::new(),
    };
    let inputs = StackInputs {
        var_files: files,
        withheld,
        context,
    };
    Ok((stack, inputs))
}

/// How messages name root module `module_rel`: its directory relative to
/// tfctl.yaml's (`modules/s3`).
fn module_display(cfg: &Config, module_rel: &str) -> String {
    let dir = cfg.modules_root.join(module_rel);
    let shown = dir.strip_prefix(&cfg.base_dir).unwrap_or(&dir);
    shown
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// docs/DESIGN.md §4, "inputs cannot choose their own governance": what a tfvars
/// says may not pick the rules it is judged by (pure). Its environment must
/// be declared in tfctl.yaml, spelled exactly, since it picks the branch,
/// the approvals, the credentials and the policies keyed on it. And it may
/// not set a variable its environment's `variables` sets (the account's
/// role, say): those are the platform team's, and whether `-var` or the
/// tfvars wins would depend on argument order, not on who owns the value.
/// `stack_environment` is the stack's environment when known (named by its
/// path or another of its tfvars, and declared). Also refuses a tfvars
/// setting a `tfctl_` variable: tfctl sets those.
fn check_inputs(
    cfg: &Config,
    tfvars: &str,
    facts: &tfvars::TfvarsFacts,
    text: &str,
    stack_environment: Option<&str>,
) -> Result<(), Error> {
    let environment = stack_environment
        .or(facts.environment.as_deref())
        .unwrap_or(&cfg.default_environment);
    if let Some(problem) = cfg.undeclared_environment(environment) {
        return Err(Error::input(
            match (&facts.environment, stack_environment) {
                (_, Some(_)) => format!("{tfvars}: {problem}"),
                (Some(_), None) => format!(
                    "{tfvars}:{}: {problem}",
                    tfvars::attribute_line(text, "environment")
                ),
                (None, None) => format!("{tfvars}: {problem} (it is default_environment)"),
            },
        ));
    }
    let owned = &cfg.environments[environment].variables;
    if let Some(name) = facts.attributes.iter().find(|a| owned.contains_key(*a)) {
        return Err(Error::input(format!(
            "{tfvars}:{}: sets `{name}`, which environment {environment:?} sets in tfctl.yaml \
             (environments.{environment}.variables.{name}); a tfvars may not override it",
            tfvars::attribute_line(text, name)
        )));
    }
    if let Some(name) = facts
        .attributes
        .iter()
        .find(|a| a.starts_with(CONTEXT_PREFIX))
    {
        return Err(Error::input(format!(
            "{tfvars}:{}: sets `{name}`: variables named {CONTEXT_PREFIX}* are set by tfctl \
             (the stack's id, directory and environment), never by a tfvars",
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
        .filter_map(|s| path_identity(cfg, parts, &s.id))
        .collect();
    for other in estate {
        if selected_ids.contains(other.id.as_str())
            || !path_identity(cfg, parts, &other.id).is_some_and(|key| wanted.contains(&key))
        {
            continue;
        }
        let Ok(roles) = cfg.stacks.layout.roles(&other.id) else {
            continue;
        };
        let Some(facts) =
            read_tfvars(&other.tfvars).and_then(|text| tfvars::parse(&text, &other.tfvars).ok())
        else {
            continue;
        };
        let environment = facts
            .environment
            .or(roles.environment.map(str::to_string))
            .unwrap_or_else(|| cfg.default_environment.clone());
        let state = state_of(&other.id, roles.service, roles.name, &environment);
        if let Some(stack) = by_state.get(&state) {
            return Err(collision(&other.id, stack));
        }
    }
    Ok(())
}

/// The parts of stack id `id` that the backend settings use (`""` for the
/// others): stacks that differ in them do not share a state.
fn path_identity<'a>(
    cfg: &Config,
    parts: PathParts,
    id: &'a str,
) -> Option<(&'a str, &'a str, &'a str)> {
    let roles = cfg.stacks.layout.roles(id).ok()?;
    let (service, name) = (roles.service, roles.name);
    let used = |yes: bool, part| if yes { part } else { "" };
    Some((
        used(parts.id, id),
        used(parts.service, service),
        used(parts.name, name),
    ))
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
            return Err(Error::input_at(
                stack.tfvars.display().to_string(),
                line,
                None,
                format!("depends_on names `{dep}`, which is not a stack"),
            ));
        }
    }
    Ok(())
}

/// The roots of `cfg` with `config_root` (IO: made absolute).
fn roots_of(cfg: &Config, config_root: &Path) -> Roots {
    let absolute = change_paths::absolute;
    let mut policies: Vec<PathBuf> = cfg.policy.paths.iter().map(|p| absolute(p)).collect();
    policies.extend(cfg.policy.data.iter().map(|p| absolute(p)));
    Roots {
        config: absolute(config_root),
        modules: absolute(&cfg.modules_root),
        base: absolute(&cfg.base_dir),
        policies,
    }
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
        check_inputs(&cfg(), "S3/a/a.tfvars", &facts, text, None)
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
            reasons: Vec::new(),
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

    fn module(names: &[&str]) -> ModuleFacts {
        let text: String = names
            .iter()
            .map(|n| format!("variable \"{n}\" {{}}\n"))
            .collect();
        module_tree::parse_module("s3", &[("s3/variables.tf".into(), text)]).unwrap()
    }

    fn plan_ref(id: &str) -> StackRef {
        StackRef {
            id: id.into(),
            tfvars: format!("{id}/{}.tfvars", id.rsplit('/').next().unwrap()),
            action: StackAction::Plan,
        }
    }

    fn from_files(
        cfg: &Config,
        id: &str,
        files: &[(&str, &str)],
        module: &ModuleFacts,
    ) -> Result<(Stack, StackInputs), Error> {
        let files = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        stack_from_files(cfg, &plan_ref(id), files, Some(("modules/s3", module)))
    }

    #[test]
    fn a_key_the_module_does_not_declare_is_refused_with_a_suggestion() {
        let module = module(&["name", "replicas"]);
        let text = "environment = \"development\"\nname = \"a\"\nreplcias = 5\n";
        let err = from_files(&cfg(), "S3/a", &[("S3/a/a.tfvars", text)], &module).unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert_eq!(
            err.message,
            "S3/a/a.tfvars:3: `replcias` is not a variable of the root module modules/s3 \
             (it declares no `variable \"replcias\"`); did you mean `replicas`?"
        );
        // Positive control: spelled as declared.
        let text = text.replace("replcias", "replicas");
        from_files(&cfg(), "S3/a", &[("S3/a/a.tfvars", &text)], &module).unwrap();
    }

    #[test]
    fn tfctl_keys_are_withheld_and_context_is_passed_where_declared() {
        let text = "environment = \"production\"\ndepends_on = [\"IAM/r\"]\nname = \"a\"\n";
        let (stack, inputs) = from_files(
            &cfg(),
            "S3/a",
            &[("S3/a/a.tfvars", text)],
            &module(&["name", "tfctl_stack_dir", "tfctl_environment"]),
        )
        .unwrap();
        assert_eq!(stack.depends_on, ["IAM/r"]);
        assert_eq!(inputs.withheld, ["depends_on", "environment"]);
        assert_eq!(
            inputs.context,
            BTreeMap::from([
                ("tfctl_environment".to_string(), "production".to_string()),
                ("tfctl_stack_dir".to_string(), "S3/a".to_string()),
            ])
        );
        // A module declaring `environment` receives it from the tfvars.
        let (_, inputs) = from_files(
            &cfg(),
            "S3/a",
            &[("S3/a/a.tfvars", text)],
            &module(&["name", "environment"]),
        )
        .unwrap();
        assert_eq!(inputs.withheld, ["depends_on"]);
        assert!(inputs.context.is_empty());
    }

    #[test]
    fn attack_tfvars_claiming_a_tfctl_context_variable_is_refused() {
        let module = module(&["name", "tfctl_stack_id"]);
        let text = "name = \"a\"\ntfctl_stack_id = \"prod/x\"\n";
        let err = from_files(&cfg(), "S3/a", &[("S3/a/a.tfvars", text)], &module).unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert!(
            err.message
                .starts_with("S3/a/a.tfvars:2: sets `tfctl_stack_id`: variables named tfctl_*"),
            "{}",
            err.message
        );
        // Positive control: without it, tfctl passes the real id.
        let (_, inputs) = from_files(
            &cfg(),
            "S3/a",
            &[("S3/a/a.tfvars", "name = \"a\"\n")],
            &module,
        )
        .unwrap();
        assert_eq!(inputs.context["tfctl_stack_id"], "S3/a");
    }

    fn env_first() -> Config {
        crate::config::parse(
            "stacks:\n  layout: \"{environment}/{service}/{name}\"\n  var_files: [\"*.tfvars\"]\n\
             environments:\n  development: {}\n  production:\n    variables:\n      region: eu-west-1\n",
            Path::new("/r/tfctl.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn an_environment_first_layout_names_service_name_and_environment() {
        let module = module(&["name", "region"]);
        let (stack, _) = from_files(
            &env_first(),
            "production/S3/lake",
            &[("production/S3/lake/lake.tfvars", "name = \"a\"\n")],
            &module,
        )
        .unwrap();
        assert_eq!(
            (
                stack.service.as_str(),
                stack.name.as_str(),
                stack.environment.as_str()
            ),
            ("S3", "lake", "production")
        );
        // The path's environment owns its variables, as a tfvars' would.
        let err = from_files(
            &env_first(),
            "production/S3/lake",
            &[(
                "production/S3/lake/lake.tfvars",
                "name = \"a\"\nregion = \"x\"\n",
            )],
            &module,
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("sets `region`, which environment \"production\" sets"),
            "{}",
            err.message
        );
        // A tfvars naming another environment disagrees with its path.
        let err = from_files(
            &env_first(),
            "production/S3/lake",
            &[(
                "production/S3/lake/lake.tfvars",
                "name = \"a\"\nenvironment = \"development\"\n",
            )],
            &module,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "production/S3/lake/lake.tfvars:2: environment \"development\" disagrees with \
             \"production\" from the path (stacks.layout `{environment}/{service}/{name}`)"
        );
        // An undeclared environment directory is refused.
        let err = from_files(
            &env_first(),
            "sandbox/S3/lake",
            &[("sandbox/S3/lake/lake.tfvars", "name = \"a\"\n")],
            &module,
        )
        .unwrap_err();
        assert!(
            err.message
                .starts_with("sandbox/S3/lake: environment \"sandbox\" is not declared"),
            "{}",
            err.message
        );
        // Too short for the layout.
        let err = from_files(
            &env_first(),
            "S3/lake",
            &[("S3/lake/lake.tfvars", "name = \"a\"\n")],
            &module,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "S3/lake: does not follow stacks.layout `{environment}/{service}/{name}` (it needs 3 directories)"
        );
    }

    #[test]
    fn several_var_files_agree_on_the_environment_and_each_is_checked() {
        let module = module(&["name", "size"]);
        let common = (
            "production/S3/lake/common.tfvars",
            "environment = \"production\"\nsize = 1\n",
        );
        let (stack, inputs) = from_files(
            &env_first(),
            "production/S3/lake",
            &[
                common,
                (
                    "production/S3/lake/lake.tfvars",
                    "name = \"a\"\ndepends_on = [\"x/y/z\"]\n",
                ),
            ],
            &module,
        )
        .unwrap();
        assert_eq!(stack.depends_on, ["x/y/z"]);
        assert_eq!(inputs.var_files.len(), 2);
        let err = from_files(
            &env_first(),
            "production/S3/lake",
            &[
                common,
                ("production/S3/lake/lake.tfvars", "\nnmae = \"a\"\n"),
            ],
            &module,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "production/S3/lake/lake.tfvars:2: `nmae` is not a variable of the root module \
             modules/s3 (it declares no `variable \"nmae\"`); did you mean `name`?"
        );
    }

    #[test]
    fn attack_second_tfvars_sets_what_the_environment_named_in_the_first_owns() {
        let module = module(&["name", "assume_role_arn"]);
        let first = (
            "S3/a/a.tfvars",
            "environment = \"production\"\nname = \"a\"\n",
        );
        let err = from_files(
            &cfg(),
            "S3/a",
            &[
                first,
                ("S3/a/override.tfvars", "assume_role_arn = \"arn:mine\"\n"),
            ],
            &module,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "S3/a/override.tfvars:1: sets `assume_role_arn`, which environment \"production\" \
             sets in tfctl.yaml (environments.production.variables.assume_role_arn); a tfvars \
             may not override it"
        );
        // Positive control: in development, the same file is the stack's to set.
        let first = (
            "S3/a/a.tfvars",
            "environment = \"development\"\nname = \"a\"\n",
        );
        from_files(
            &cfg(),
            "S3/a",
            &[
                first,
                ("S3/a/override.tfvars", "assume_role_arn = \"arn:mine\"\n"),
            ],
            &module,
        )
        .unwrap();
    }

    #[test]
    fn a_stack_is_in_the_run_for_the_changed_files_of_its_own_directory() {
        let refs = [plan_ref("S3/a"), plan_ref("S3/b")];
        let reasons = own_reasons(
            &refs,
            &[
                ChangedFile::modified("S3/a/a.tfvars"),
                ChangedFile::modified("S3/a/policy.json"),
                // A nested directory is another stack's, not S3/a's.
                ChangedFile::modified("S3/a/sub/x.tfvars"),
                ChangedFile::deleted("S3/c/c.tfvars"),
            ],
        );
        let ids: Vec<&String> = reasons.keys().collect();
        assert_eq!(ids, ["S3/a"]);
        let why: Vec<&String> = reasons["S3/a"].iter().collect();
        assert_eq!(why, ["S3/a/a.tfvars", "S3/a/policy.json"]);
    }

    #[test]
    fn a_destroy_reads_every_deleted_tfvars_of_its_directory_and_nothing_else() {
        let deleted = deleted_tfvars(
            &cfg(),
            &[
                ChangedFile::deleted("S3/a/a.tfvars"),
                ChangedFile::deleted("S3/a/extra.tfvars"),
                ChangedFile::modified("S3/b/b.tfvars"),
                ChangedFile::deleted("S3/c/README.md"),
                ChangedFile::deleted("../outside/x.tfvars"),
            ],
        );
        assert_eq!(
            deleted,
            BTreeMap::from([(
                "S3/a".to_string(),
                vec!["a.tfvars".to_string(), "extra.tfvars".to_string()]
            )])
        );
    }

    #[test]
    fn each_destroyed_stack_lists_the_stacks_that_still_name_it_once() {
        let by = by_destroyed(vec![
            ("S3/z".into(), vec!["IAM/a".into(), "IAM/b".into()]),
            ("S3/y".into(), vec!["IAM/a".into()]),
            ("S3/y".into(), vec!["IAM/a".into()]),
        ]);
        assert_eq!(by["IAM/a"], ["S3/y", "S3/z"]);
        assert_eq!(by["IAM/b"], ["S3/z"]);
        assert_eq!(by.len(), 2);
    }

    #[test]
    fn only_a_change_of_many_files_lists_the_estate_early() {
        let files = |n: usize| ChangeSource::Files {
            files: vec![ChangedFile::modified("S3/a/a.tfvars"); n],
            old_rev: None,
        };
        assert!(!is_large(&files(LARGE_CHANGE - 1)));
        assert!(is_large(&files(LARGE_CHANGE)));
        assert!(!is_large(&ChangeSource::All), "--all lists the tree itself");
    }
}
