//! The PR files API's paths → changed files, and the change read from
//! git instead when GitHub's list was cut at [`PR_FILES_LIMIT`].

use std::path::Path;

use crate::discovery::ChangedFile;
use crate::error::Error;

/// The PR files API's paths (relative to the repository) → changed files
/// relative to the config root, which is `prefix` inside the repository
/// (`""` when they are the same). Files outside it are dropped; a rename is
/// a delete of the old path and an add of the new one; `removed` is a
/// delete.
pub fn pr_changed_files(
    files: &[crate::github::models::ChangedFile],
    prefix: &str,
) -> Vec<ChangedFile> {
    let relative = |path: &str| -> Option<String> {
        if prefix.is_empty() {
            Some(path.to_string())
        } else {
            path.strip_prefix(&format!("{}/", prefix.trim_end_matches('/')))
                .map(str::to_string)
        }
    };
    let mut out = Vec::new();
    for file in files {
        if let Some(old) = file.previous_filename.as_deref().and_then(relative) {
            out.push(ChangedFile::deleted(old));
        }
        if let Some(path) = relative(&file.filename) {
            out.push(if file.status == "removed" {
                ChangedFile::deleted(path)
            } else {
                ChangedFile::modified(path)
            });
        }
    }
    out
}

/// The most files GitHub's "list pull request files" API returns, over all
/// pages.
pub const PR_FILES_LIMIT: usize = 3000;

/// Which commits of the checkout hold a PR's change, for reading it from
/// git when GitHub's list of its files was cut.
#[derive(Debug, Clone, Copy)]
pub enum PrCommits<'a> {
    /// The PR's head (validate, dispatch): the change is
    /// `merge-base(base, head)..head`.
    Head {
        base_sha: &'a str,
        head_sha: &'a str,
    },
    /// The PR's merge commit (apply): the change is `merge^1..merge`.
    Merge { merge_sha: &'a str },
}

/// What GitHub said about a PR's files, and where git can tell the rest.
#[derive(Debug, Clone, Copy)]
pub struct PrFiles<'a> {
    /// The PR, for messages (`None`: a push not yet in a PR).
    pub number: Option<u64>,
    /// The files API's answer (or a compare's files).
    pub listed: &'a [crate::github::models::ChangedFile],
    /// The PR's `changed_files`; `None` when the payload lacks it.
    pub changed_files: Option<u64>,
    pub commits: PrCommits<'a>,
}

/// Whether a PR's listed files are all of them (pure). GitHub stops listing
/// at [`PR_FILES_LIMIT`] files, silently; the PR's `changed_files` says how
/// many there are. Without a count, a list at the limit may be cut.
pub fn pr_file_list_is_complete(listed: usize, changed_files: Option<u64>) -> bool {
    match changed_files {
        Some(total) => total <= listed as u64,
        None => listed < PR_FILES_LIMIT,
    }
}

/// A PR's changed files relative to the config root (`prefix` inside the
/// repository), for validate, apply and dispatch alike (docs/DESIGN.md §4: a
/// truncated list is never judged as if complete). The files API's list
/// when it is complete; else the diff of the PR's commits in the checkout
/// of `config_root` ([`PrCommits`]), or an input error when the checkout
/// lacks that history (a shallow clone).
pub fn pr_changes(
    files: &PrFiles<'_>,
    prefix: &str,
    config_root: &Path,
) -> Result<Vec<ChangedFile>, Error> {
    if pr_file_list_is_complete(files.listed.len(), files.changed_files) {
        return Ok(pr_changed_files(files.listed, prefix));
    }
    let who = files
        .number
        .map_or_else(|| "the change".to_string(), |n| format!("#{n}"));
    let counted = match files.changed_files {
        Some(total) => format!("{} of its {total} changed files", files.listed.len()),
        None => format!("{} changed files", files.listed.len()),
    };
    let refuse = |missing: String| {
        Error::input(format!(
            "{who}: GitHub listed {counted} (it lists at most 3,000), so the rest must come \
             from git, but {missing}: fetch the full history (actions/checkout fetch-depth: 0)"
        ))
    };
    let git = crate::repo::Git::open(config_root)
        .map_err(|_| refuse(format!("{} is not a git checkout", config_root.display())))?;
    match files.commits {
        PrCommits::Head { base_sha, head_sha } => {
            for (what, sha) in [("base", base_sha), ("head", head_sha)] {
                if !git.has_commit(sha) {
                    return Err(refuse(format!(
                        "the checkout lacks the PR's {what} commit {sha}"
                    )));
                }
            }
            // A cut history can hide the true merge base and yield an older
            // one, whose diff misses a file the PR set back to its old text.
            if git.is_shallow()? {
                return Err(refuse("the checkout is shallow".into()));
            }
            let base = git.merge_base_of(base_sha, head_sha).ok_or_else(|| {
                refuse(format!(
                    "{base_sha} and {head_sha} have no merge base in the checkout"
                ))
            })?;
            git.changes_between(&base, head_sha)
        }
        PrCommits::Merge { merge_sha } => {
            let parent = format!("{merge_sha}^1");
            if !git.has_commit(&parent) {
                return Err(refuse(format!(
                    "the checkout lacks the first parent of the merge commit {merge_sha}"
                )));
            }
            git.changes_between(&parent, merge_sha)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::FileStatus;
    use crate::github::models;

    fn file(name: &str, status: &str, previous: Option<&str>) -> models::ChangedFile {
        models::ChangedFile {
            filename: name.into(),
            status: status.into(),
            previous_filename: previous.map(str::to_string),
        }
    }

    #[test]
    fn pr_files_are_made_relative_to_the_config_root() {
        let files = [
            file("config/S3/a/a.tfvars", "modified", None),
            file("config/S3/b/b.tfvars", "removed", None),
            file(
                "config/KMS/k/k.tfvars",
                "renamed",
                Some("config/KMS/old/old.tfvars"),
            ),
            file("modules/s3/main.tf", "modified", None),
            file("configx/S3/c/c.tfvars", "added", None),
        ];
        let got: Vec<(String, FileStatus)> = pr_changed_files(&files, "config")
            .into_iter()
            .map(|f| (f.path, f.status))
            .collect();
        assert_eq!(
            got,
            [
                ("S3/a/a.tfvars".to_string(), FileStatus::Modified),
                ("S3/b/b.tfvars".to_string(), FileStatus::Deleted),
                ("KMS/old/old.tfvars".to_string(), FileStatus::Deleted),
                ("KMS/k/k.tfvars".to_string(), FileStatus::Modified),
            ]
        );
        assert_eq!(pr_changed_files(&files, "").len(), 6);
    }
    #[test]
    fn a_file_list_is_complete_only_when_it_holds_every_changed_file() {
        assert!(pr_file_list_is_complete(12, Some(12)));
        assert!(pr_file_list_is_complete(3000, Some(3000)));
        assert!(!pr_file_list_is_complete(3000, Some(3001)));
        assert!(!pr_file_list_is_complete(0, Some(1)));
        // No count: a list at GitHub's limit may have been cut.
        assert!(pr_file_list_is_complete(2999, None));
        assert!(!pr_file_list_is_complete(3000, None));
    }

    #[test]
    fn a_cut_list_without_git_history_is_refused_naming_the_fix() {
        let listed = vec![file("docs/a.md", "added", None); 3000];
        let dir = std::env::temp_dir().join(format!("tfctl-no-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = PrFiles {
            number: Some(7),
            listed: &listed,
            changed_files: Some(3001),
            commits: PrCommits::Merge { merge_sha: "abc" },
        };
        let err = pr_changes(&files, "", &dir).unwrap_err();
        let _ = std::fs::remove_dir(&dir);
        assert_eq!(err.exit_status(), crate::ExitStatus::BadInput);
        assert!(
            err.message.starts_with(
                "#7: GitHub listed 3000 of its 3001 changed files (it lists at most 3,000), \
                 so the rest must come from git, but "
            ),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with(": fetch the full history (actions/checkout fetch-depth: 0)"),
            "{}",
            err.message
        );
        // A complete list is used as it is, without git.
        let files = PrFiles {
            changed_files: Some(3000),
            ..files
        };
        assert_eq!(
            pr_changes(&files, "", Path::new("/nonexistent"))
                .unwrap()
                .len(),
            3000
        );
    }
}
