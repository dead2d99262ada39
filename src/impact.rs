//! What a change affects beyond the stacks whose own files it touches
//! (docs/DESIGN.md §2): a changed module file selects every stack whose root
//! module tree contains it, a changed policy selects every stack, and the
//! stacks of a run stay ordered through the unchanged stacks between them
//! (A → B → C with only A and C changed: A before C, B not planned).
//!
//! Pure: module trees are read through [`ModuleSource`], the estate's
//! dependents through [`Dependents`]; the readers are in `select`/`repo`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::config::model::{Layout, ModuleMap};
use crate::discovery::StackRef;
use crate::error::Error;
use crate::module_tree::{self, ModuleSource};

/// Why each selected stack is in the run: stack id → changed paths.
pub type Reasons = BTreeMap<String, BTreeSet<String>>;

/// One changed file under `modules_root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleChange {
    /// Relative to `modules_root`, `/`-separated (what module trees hold).
    pub path: String,
    /// How the reports name it (relative to tfctl.yaml's directory).
    pub label: String,
}

/// The estate stacks whose root module tree contains one of `changes`, with
/// the changes as reasons. Each distinct root module (stacks share them
/// through `modules.default` and `modules.services`) is read once, and only
/// when a module file changed. A change inside a root module directory
/// that no longer exists still selects its stacks (their plan then says the
/// module is missing): a deleted module is never "nothing changed".
pub fn module_impact(
    estate: &[StackRef],
    layout: &Layout,
    modules: &ModuleMap,
    source: &dyn ModuleSource,
    changes: &[ModuleChange],
) -> Result<Reasons, Error> {
    let mut reasons = Reasons::new();
    if changes.is_empty() {
        return Ok(reasons);
    }
    // Root module dir → the changes inside its tree (None: not read yet).
    let mut hits: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for stack in estate {
        // A path off the layout is refused when a change selects it.
        let Ok(roles) = layout.roles(&stack.id) else {
            continue;
        };
        let service = roles.service;
        let dir = clean_dir(&modules.module_for(service));
        if !hits.contains_key(&dir) {
            let dirs = match module_tree::read_tree(source, &dir)? {
                Some(tree) => tree.dirs,
                None => vec![dir.clone()],
            };
            let inside = changes
                .iter()
                .filter(|c| module_tree::tree_contains(&dirs, &c.path))
                .map(|c| c.label.clone())
                .collect();
            hits.insert(dir.clone(), inside);
        }
        let inside = &hits[&dir];
        if !inside.is_empty() {
            reasons
                .entry(stack.id.clone())
                .or_default()
                .extend(inside.iter().cloned());
        }
    }
    Ok(reasons)
}

/// `modules.services` values are written by people: `./s3/` is `s3`.
fn clean_dir(dir: &str) -> String {
    dir.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Who in the estate depends on given stacks (asked about deleted ones).
pub trait Dependents {
    /// The stacks (changed or not) whose tfvars names one of `ids` as a
    /// dependency (`depends_on` or a string value equal to the id), each
    /// with the ids it names; any order.
    fn dependents_of(&self, ids: &BTreeSet<String>) -> Result<Vec<(String, Vec<String>)>, Error>;
}

/// What an estate stack names as its dependencies, read one stack at a time.
pub trait Upstream {
    /// The stacks `id`'s tfvars names (`depends_on`, or a string value that
    /// is a stack id); empty when `id` is not a stack.
    fn upstream_of(&self, id: &str) -> Result<Vec<String>, Error>;
}

/// docs/DESIGN.md §3: ordering edges between selected stacks through
/// unselected ones. `selected` maps each selected stack to the stacks it
/// names. Returns, for each selected stack C, the selected stacks A it must
/// run after because A → B₁ → … → C in the estate with every Bᵢ unselected
/// (direct edges are the graph's own and are left out).
///
/// The walk goes upstream from the selected stacks, so it reads only the
/// unselected stacks they lead to, each once (its result is remembered),
/// and stops at selected stacks: the cost follows the selection's upstream
/// closure, never the size of the estate.
pub fn order_through_unselected(
    selected: &BTreeMap<String, Vec<String>>,
    estate: &dyn Upstream,
) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
    let mut after: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if selected.len() < 2 {
        return Ok(after);
    }
    // Unselected stack → the selected stacks upstream of it.
    let mut reach: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (id, named) in selected {
        let mut found = BTreeSet::new();
        for via in named
            .iter()
            .filter(|n| *n != id && !selected.contains_key(*n))
        {
            found.extend(reach_of(via, selected, estate, &mut reach)?);
        }
        found.remove(id);
        if !found.is_empty() {
            after.insert(id.clone(), found);
        }
    }
    Ok(after)
}

/// The selected stacks upstream of unselected `start`, through unselected
/// stacks only: an iterative depth-first walk (estates have long chains)
/// that fills `reach` for every stack it finishes. A cycle among
/// unselected stacks is the graph's to report; here it just ends the walk.
fn reach_of(
    start: &str,
    selected: &BTreeMap<String, Vec<String>>,
    estate: &dyn Upstream,
    reach: &mut HashMap<String, BTreeSet<String>>,
) -> Result<BTreeSet<String>, Error> {
    if let Some(known) = reach.get(start) {
        return Ok(known.clone());
    }
    let mut on_path: HashSet<String> = HashSet::new();
    // (stack, its upstream, how many of them are done)
    let mut stack: Vec<(String, Vec<String>, usize)> = Vec::new();
    on_path.insert(start.to_string());
    stack.push((start.to_string(), estate.upstream_of(start)?, 0));
    while let Some((id, named, done)) = stack.last_mut() {
        if *done == named.len() {
            let mut found = BTreeSet::new();
            for n in named.iter() {
                if selected.contains_key(n) {
                    found.insert(n.clone());
                } else if let Some(more) = reach.get(n) {
                    found.extend(more.iter().cloned());
                }
            }
            let id = id.clone();
            on_path.remove(&id);
            reach.insert(id, found);
            stack.pop();
            continue;
        }
        let next = named[*done].clone();
        *done += 1;
        if next == *id
            || selected.contains_key(&next)
            || reach.contains_key(&next)
            || on_path.contains(&next)
        {
            continue;
        }
        let upstream = estate.upstream_of(&next)?;
        on_path.insert(next.clone());
        stack.push((next, upstream, 0));
    }
    Ok(reach.get(start).cloned().unwrap_or_default())
}

/// Services that `order` names but no estate stack has: a typo
/// (`[[netwrk]]`) that would otherwise silently order nothing.
pub fn unknown_order_services<'a>(
    order: &'a [Vec<String>],
    services: &BTreeSet<&str>,
) -> Vec<&'a str> {
    let mut unknown: Vec<&str> = order
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| !services.contains(s))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    unknown
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::stack::StackAction;

    struct Mem(BTreeMap<String, Vec<(String, String)>>, Cell<usize>);

    impl ModuleSource for Mem {
        fn module_files(&self, dir: &str) -> Result<Option<Vec<(String, String)>>, Error> {
            self.1.set(self.1.get() + 1);
            Ok(self.0.get(dir).cloned())
        }
    }

    fn modules(entries: &[(&str, &str)]) -> Mem {
        let mut map: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (dir, text) in entries {
            map.entry(dir.to_string())
                .or_default()
                .push((format!("{dir}/main.tf"), text.to_string()));
        }
        Mem(map, Cell::new(0))
    }

    fn estate(ids: &[&str]) -> Vec<StackRef> {
        ids.iter()
            .map(|id| StackRef {
                id: id.to_string(),
                tfvars: format!("{id}/x.tfvars"),
                action: StackAction::Plan,
            })
            .collect()
    }

    fn layout() -> Layout {
        Layout::parse(crate::config::model::DEFAULT_LAYOUT).unwrap()
    }

    fn map(yaml: &str) -> ModuleMap {
        crate::config::parse(yaml, std::path::Path::new("/r/tfctl.yaml"))
            .unwrap()
            .modules
    }

    fn change(path: &str) -> ModuleChange {
        ModuleChange {
            path: path.into(),
            label: format!("modules/{path}"),
        }
    }

    #[test]
    fn a_module_change_selects_the_stacks_of_every_tree_containing_it() {
        let src = modules(&[
            ("s3", "module \"n\" {\n  source = \"../shared/net\"\n}\n"),
            ("kms", "variable \"x\" {}\n"),
            ("shared/net", "module \"t\" {\n  source = \"../tags\"\n}\n"),
            ("shared/tags", "variable \"t\" {}\n"),
        ]);
        let stacks = estate(&["S3/a", "S3/b", "KMS/k", "IAM/r"]);
        let yaml = "modules:\n  default: \"{service_lower}\"\n";
        let got = module_impact(
            &stacks,
            &layout(),
            &map(yaml),
            &src,
            &[change("shared/tags/main.tf")],
        )
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["S3/a", "S3/b"]);
        assert_eq!(
            got["S3/a"].iter().collect::<Vec<_>>(),
            ["modules/shared/tags/main.tf"]
        );
        // s3's tree (3 dirs), kms, and the missing iam: read once each,
        // although two stacks share s3.
        assert_eq!(src.1.get(), 5);

        let got = module_impact(
            &stacks,
            &layout(),
            &map(yaml),
            &src,
            &[change("kms/main.tf")],
        )
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["KMS/k"]);
        // A file in a module nobody calls selects nothing.
        let got = module_impact(
            &stacks,
            &layout(),
            &map(yaml),
            &src,
            &[change("unused/main.tf")],
        )
        .unwrap();
        assert!(got.is_empty());
        // A deleted root module still selects its stacks.
        let got = module_impact(
            &stacks,
            &layout(),
            &map(yaml),
            &src,
            &[change("iam/main.tf")],
        )
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["IAM/r"]);
    }

    #[test]
    fn no_module_change_reads_nothing() {
        let src = modules(&[("s3", "")]);
        let got = module_impact(&estate(&["S3/a"]), &layout(), &map(""), &src, &[]).unwrap();
        assert!(got.is_empty());
        assert_eq!(src.1.get(), 0);
    }

    /// Estate edges `(dependency, dependent)`; counts the stacks read.
    struct Edges(Vec<(&'static str, &'static str)>, Cell<usize>);

    impl Upstream for Edges {
        fn upstream_of(&self, id: &str) -> Result<Vec<String>, Error> {
            self.1.set(self.1.get() + 1);
            Ok(self
                .0
                .iter()
                .filter(|(_, dependent)| *dependent == id)
                .map(|(dep, _)| dep.to_string())
                .collect())
        }
    }

    /// The selected stacks with what each names, as a selection knows them.
    fn selected(ids: &[&str], edges: &Edges) -> BTreeMap<String, Vec<String>> {
        ids.iter()
            .map(|id| {
                let named = edges
                    .0
                    .iter()
                    .filter(|(_, dependent)| dependent == id)
                    .map(|(dep, _)| dep.to_string())
                    .collect();
                (id.to_string(), named)
            })
            .collect()
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn selected_stacks_are_ordered_through_unselected_ones() {
        // a → b → c, c → d → e, a → x (a dead end), f alone.
        let edges = Edges(
            vec![("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("a", "x")],
            Cell::new(0),
        );
        let got =
            order_through_unselected(&selected(&["a", "c", "e", "f"], &edges), &edges).unwrap();
        assert_eq!(
            got,
            BTreeMap::from([
                ("c".to_string(), set(&["a"])),
                ("e".to_string(), set(&["c"])),
            ])
        );
        // Only the unselected stacks upstream of a selection are read (b,
        // d), each once; the dead end x and the walk past a are never read.
        assert_eq!(edges.1.get(), 2);
    }

    #[test]
    fn direct_edges_and_single_selections_add_nothing() {
        let edges = Edges(vec![("a", "c")], Cell::new(0));
        assert!(
            order_through_unselected(&selected(&["a", "c"], &edges), &edges)
                .unwrap()
                .is_empty()
        );
        assert!(order_through_unselected(&selected(&["a"], &edges), &edges)
            .unwrap()
            .is_empty());
        assert_eq!(edges.1.get(), 0);
    }

    #[test]
    fn diamonds_and_new_origins_are_followed_once_each() {
        // a → b, c → b, b → d: d runs after a and c.
        let edges = Edges(vec![("a", "b"), ("c", "b"), ("b", "d")], Cell::new(0));
        let got = order_through_unselected(&selected(&["a", "c", "d"], &edges), &edges).unwrap();
        assert_eq!(got, BTreeMap::from([("d".to_string(), set(&["a", "c"]))]));
        // b is read once for d.
        assert_eq!(edges.1.get(), 1);
    }

    #[test]
    fn long_unselected_chains_and_cycles_end() {
        // a → u0 → u1 → … → u9999 → z, plus a cycle p ⇄ q hanging off z's path.
        let names: Vec<&'static str> = (0..10_000)
            .map(|i| &*Box::leak(format!("u{i}").into_boxed_str()))
            .collect();
        let mut e = vec![("a", names[0])];
        e.extend(names.windows(2).map(|w| (w[0], w[1])));
        e.push((names[9_999], "z"));
        e.extend([("p", "q"), ("q", "p"), ("p", names[5_000])]);
        let edges = Edges(e, Cell::new(0));
        let got = order_through_unselected(&selected(&["a", "z"], &edges), &edges).unwrap();
        assert_eq!(got, BTreeMap::from([("z".to_string(), set(&["a"]))]));
        assert_eq!(edges.1.get(), 10_002);
    }

    #[test]
    fn order_rules_naming_no_service_are_found() {
        let order = vec![
            vec!["IAM".to_string(), "netwrk".to_string()],
            vec!["S3".to_string()],
        ];
        let services = BTreeSet::from(["IAM", "S3", "KMS"]);
        assert_eq!(unknown_order_services(&order, &services), ["netwrk"]);
    }
}
