//! The stacks a pull request changes, from GitHub's list of its files
//! (`tfctl dispatch`): the files made relative to the config root, the
//! tree at the pushed head, and discovery over them.

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::Config;
use crate::discovery::{self, ChangedFile, FileStatus, StackRef, StackTree};
use crate::error::Result;
use crate::repo::{FsTree, Git};

/// The tree at the pushed head, as far as stack discovery needs it: the
/// checkout, corrected by the changes (a tfvars the head adds is there
/// even if the checkout is older; one it deletes is gone).
pub(crate) struct HeadTree<'a> {
    pub fs: &'a dyn StackTree,
    pub changes: &'a [ChangedFile],
}

impl StackTree for HeadTree<'_> {
    fn tfvars_in(&self, dir: &str) -> Vec<String> {
        let mut names: BTreeSet<String> = self.fs.tfvars_in(dir).into_iter().collect();
        for change in self.changes {
            let (d, name) = change.path.rsplit_once('/').unwrap_or(("", &change.path));
            if d != dir || !name.ends_with(".tfvars") {
                continue;
            }
            match change.status {
                FileStatus::Modified => names.insert(name.to_string()),
                FileStatus::Deleted => names.remove(name),
            };
        }
        names.into_iter().collect()
    }
}

/// The config root's path inside the repository checkout (effect: asks
/// git; falls back to the path below `cwd`).
pub(crate) fn config_prefix(cfg: &Config, cwd: &Path) -> String {
    if let Ok(git) = Git::open(&cfg.config_root) {
        return git.prefix;
    }
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canon(&cfg.config_root)
        .strip_prefix(canon(cwd))
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

/// The stacks GitHub's changed files touch, sorted by id (from git when
/// GitHub's list was cut: `pipeline::pr_changes`).
pub(crate) fn stacks_of(
    cfg: &Config,
    cwd: &Path,
    files: &crate::pipeline::PrFiles<'_>,
) -> Result<Vec<StackRef>> {
    let changes = crate::pipeline::pr_changes(files, &config_prefix(cfg, cwd), &cfg.config_root)?;
    let fs = FsTree::new(&cfg.config_root);
    let tree = HeadTree {
        fs: &fs,
        changes: &changes,
    };
    discovery::stacks_from_changes(&changes, &cfg.stacks, &tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<(&'static str, &'static str)>);
    impl StackTree for Fixed {
        fn tfvars_in(&self, dir: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(d, _)| *d == dir)
                .map(|(_, n)| n.to_string())
                .collect()
        }
    }

    #[test]
    fn head_tree_adds_new_and_drops_deleted_tfvars() {
        let fs = Fixed(vec![("S3/a", "old.tfvars")]);
        let changes = vec![
            ChangedFile::modified("S3/a/a.tfvars"),
            ChangedFile::deleted("S3/a/old.tfvars"),
            ChangedFile::modified("S3/a/policy.json"),
        ];
        let tree = HeadTree {
            fs: &fs,
            changes: &changes,
        };
        assert_eq!(tree.tfvars_in("S3/a"), vec!["a.tfvars".to_string()]);
        assert!(tree.tfvars_in("S3/b").is_empty());
    }
}
