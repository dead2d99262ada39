//! What a change affects beyond the stacks whose own files it touches
//! (docs/DESIGN.md §2): a changed module file selects every stack whose root
//! module tree contains it, a changed policy selects every stack, and the
//! stacks of a run stay ordered through the unchanged stacks between them
//! (A → B → C with only A and C changed: A before C, B not planned).
//!
//! Pure: module trees are read through [`ModuleSource`], the estate's
//! dependents through [`Dependents`]; the readers are in `select`/`repo`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::model::ModuleMap;
use crate::discovery::StackRef;
use crate::error::Error;
use crate::module_tree::{self, ModuleSource};
use crate::stack::Stack;

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
        let Some((service, _)) = Stack::split_id(&stack.id) else {
            continue;
        };
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

/// Who depends on whom in the estate, asked a frontier at a time.
pub trait Dependents {
    /// The stacks (changed or not) whose tfvars names one of `ids` as a
    /// dependency (`depends_on` or a string value equal to the id), each
    /// with the ids it names; any order.
    fn dependents_of(&self, ids: &BTreeSet<String>) -> Result<Vec<(String, Vec<String>)>, Error>;
}

/// docs/DESIGN.md §3: ordering edges between selected stacks through
/// unselected ones. Returns, for each selected stack C, the selected stacks
/// A it must run after because A → B₁ → … → C in the estate with every Bᵢ
/// unselected (direct edges are the graph's own and are left out). One
/// search from all selected stacks at once, frontier by frontier, that
/// stops at selected stacks: each unselected stack is expanded again only
/// when a new origin reaches it.
pub fn order_through_unselected(
    selected: &BTreeSet<String>,
    estate: &dyn Dependents,
) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
    let mut after: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if selected.len() < 2 {
        return Ok(after);
    }
    // Unselected stack → the selected stacks that reach it.
    let mut reached: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut frontier: BTreeMap<String, BTreeSet<String>> = selected
        .iter()
        .map(|id| (id.clone(), BTreeSet::from([id.clone()])))
        .collect();
    while !frontier.is_empty() {
        let ids: BTreeSet<String> = frontier.keys().cloned().collect();
        let mut next: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (dependent, named) in estate.dependents_of(&ids)? {
            for via in named.iter().filter(|n| **n != dependent) {
                let Some(origins) = frontier.get(via) else {
                    continue;
                };
                if selected.contains(&dependent) {
                    // Through at least one unselected stack only.
                    if !selected.contains(via) {
                        after
                            .entry(dependent.clone())
                            .or_default()
                            .extend(origins.iter().filter(|o| **o != dependent).cloned());
                    }
                    continue;
                }
                let known = reached.entry(dependent.clone()).or_default();
                let new: Vec<String> = origins.difference(known).cloned().collect();
                if !new.is_empty() {
                    known.extend(new.iter().cloned());
                    next.entry(dependent.clone()).or_default().extend(new);
                }
            }
        }
        frontier = next;
    }
    after.retain(|_, v| !v.is_empty());
    Ok(after)
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
        let got =
            module_impact(&stacks, &map(yaml), &src, &[change("shared/tags/main.tf")]).unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["S3/a", "S3/b"]);
        assert_eq!(
            got["S3/a"].iter().collect::<Vec<_>>(),
            ["modules/shared/tags/main.tf"]
        );
        // s3's tree (3 dirs), kms, and the missing iam: read once each,
        // although two stacks share s3.
        assert_eq!(src.1.get(), 5);

        let got = module_impact(&stacks, &map(yaml), &src, &[change("kms/main.tf")]).unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["KMS/k"]);
        // A file in a module nobody calls selects nothing.
        let got = module_impact(&stacks, &map(yaml), &src, &[change("unused/main.tf")]).unwrap();
        assert!(got.is_empty());
        // A deleted root module still selects its stacks.
        let got = module_impact(&stacks, &map(yaml), &src, &[change("iam/main.tf")]).unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["IAM/r"]);
    }

    #[test]
    fn no_module_change_reads_nothing() {
        let src = modules(&[("s3", "")]);
        let got = module_impact(&estate(&["S3/a"]), &map(""), &src, &[]).unwrap();
        assert!(got.is_empty());
        assert_eq!(src.1.get(), 0);
    }

    /// Estate edges `(dependency, dependent)`; counts the questions.
    struct Edges(Vec<(&'static str, &'static str)>, Cell<usize>);

    impl Dependents for Edges {
        fn dependents_of(
            &self,
            ids: &BTreeSet<String>,
        ) -> Result<Vec<(String, Vec<String>)>, Error> {
            self.1.set(self.1.get() + 1);
            let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (dep, dependent) in &self.0 {
                if ids.contains(*dep) {
                    by.entry(dependent.to_string())
                        .or_default()
                        .push(dep.to_string());
                }
            }
            Ok(by.into_iter().collect())
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selected_stacks_are_ordered_through_unselected_ones() {
        // a → b → c, c → d → e, a → x (a dead end), f alone.
        let edges = Edges(
            vec![("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("a", "x")],
            Cell::new(0),
        );
        let got = order_through_unselected(&set(&["a", "c", "e", "f"]), &edges).unwrap();
        assert_eq!(
            got,
            BTreeMap::from([
                ("c".to_string(), set(&["a"])),
                ("e".to_string(), set(&["c"])),
            ])
        );
        // The search stops at selected stacks: a reaches e only through c.
        assert!(edges.1.get() <= 3, "{}", edges.1.get());
    }

    #[test]
    fn direct_edges_and_single_selections_add_nothing() {
        let edges = Edges(vec![("a", "c")], Cell::new(0));
        assert!(order_through_unselected(&set(&["a", "c"]), &edges)
            .unwrap()
            .is_empty());
        assert!(order_through_unselected(&set(&["a"]), &edges)
            .unwrap()
            .is_empty());
        assert_eq!(edges.1.get(), 1);
    }

    #[test]
    fn diamonds_and_new_origins_are_followed_once_each() {
        // a → b, c → b, b → d: d runs after a and c.
        let edges = Edges(vec![("a", "b"), ("c", "b"), ("b", "d")], Cell::new(0));
        let got = order_through_unselected(&set(&["a", "c", "d"]), &edges).unwrap();
        assert_eq!(got, BTreeMap::from([("d".to_string(), set(&["a", "c"]))]));
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
