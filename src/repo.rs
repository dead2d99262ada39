//! The config repository on disk: git and the file tree (effects only).
//!
//! Answers "what changed" (`git diff` from the merge base plus uncommitted
//! and untracked files), "what did this file say at that revision", and
//! "which tfvars are in this directory". Git runs as argv, never through a
//! shell. Decisions about what the answers mean live in `discovery`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use crate::discovery::{ChangedFile, FileStatus, StackTree};
use crate::error::Error;
use crate::module_tree::ModuleSource;

/// The tree under a config root, read through the filesystem. Each
/// directory is read once per run: selection, the upstream walk and the
/// reference checks all ask about the same stacks. Shared by the reader
/// threads of [`par_map`].
pub struct FsTree {
    root: PathBuf,
    seen: Mutex<HashMap<String, Vec<String>>>,
    /// See [`FsTree::use_listing`].
    listing: Mutex<Option<Arc<Vec<String>>>>,
}

impl FsTree {
    pub fn new(root: &Path) -> FsTree {
        FsTree {
            root: root.to_path_buf(),
            seen: Mutex::default(),
            listing: Mutex::default(),
        }
    }

    /// The text of `rel` (a `/`-path under the root).
    pub fn read(&self, rel: &str) -> std::io::Result<String> {
        read_text(&self.root.join(rel))
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<String>>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers the tfvars of every directory in `files` (a walk of the
    /// whole tree, relative `/`-paths), so `--all` reads each directory once.
    pub fn remember(&self, files: &[String]) {
        let mut seen = self.seen();
        for file in files {
            let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
            let names = seen.entry(dir.to_string()).or_default();
            if name.ends_with(".tfvars") {
                names.push(name.to_string());
            }
        }
    }
}

impl FsTree {
    /// Answers later questions about directories not read yet from
    /// `listing` (every file under the root, relative, sorted: git's index)
    /// instead of reading each directory. A directory the listing has no
    /// tfvars in is still read from disk when asked (it may hold an
    /// untracked stack).
    pub fn use_listing(&self, listing: Arc<Vec<String>>) {
        *self.listing.lock().unwrap_or_else(PoisonError::into_inner) = Some(listing);
    }

    /// The tfvars directly in `dir` by the listing, if it has any.
    fn listed_in(&self, dir: &str) -> Option<Vec<String>> {
        let listing = self
            .listing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let start = listing.partition_point(|p| p.as_str() < prefix.as_str());
        let names: Vec<String> = listing[start..]
            .iter()
            .take_while(|p| p.starts_with(&prefix))
            .map(|p| &p[prefix.len()..])
            .filter(|name| !name.contains('/') && name.ends_with(".tfvars"))
            .map(str::to_string)
            .collect();
        (!names.is_empty()).then_some(names)
    }
}

impl StackTree for FsTree {
    fn tfvars_in(&self, dir: &str) -> Vec<String> {
        if let Some(names) = self.seen().get(dir) {
            return names.clone();
        }
        if let Some(names) = self.listed_in(dir) {
            self.seen().insert(dir.to_string(), names.clone());
            return names;
        }
        let names: Vec<String> = match std::fs::read_dir(self.root.join(dir)) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.ends_with(".tfvars"))
                .collect(),
            Err(_) => Vec::new(),
        };
        self.seen().insert(dir.to_string(), names.clone());
        names
    }
}

/// A file's text in as few system calls as the kernel allows: no size
/// probe (`fs::read_to_string` asks `statx` first) and, for a file under
/// 4 KiB (a tfvars), one read into the stack and the read that sees its
/// end, then one allocation of its exact size.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut first = [0u8; 4_096];
    let mut filled = 0;
    while filled < first.len() {
        match file.read(&mut first[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let mut bytes = first[..filled].to_vec();
    if filled == first.len() {
        file.read_to_end(&mut bytes)?;
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// `f` of every item, in order, on up to eight threads: the reads of a
/// large selection are many small system calls, which overlap well. Fewer
/// than 64 items run on the calling thread.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Module directories under a root (tfctl.yaml's directory), read through
/// the filesystem.
pub struct FsModules {
    pub root: PathBuf,
}

impl ModuleSource for FsModules {
    fn module_files(&self, dir: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        let path = self.root.join(dir);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::input(format!("{dir}: {e}"))),
        };
        let mut files = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file || !(name.ends_with(".tf") || name.ends_with(".tf.json")) {
                continue;
            }
            let rel = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            let text = std::fs::read_to_string(entry.path())
                .map_err(|e| Error::input(format!("{rel}: {e}")))?;
            files.push((rel, text));
        }
        files.sort();
        Ok(Some(files))
    }
}

/// Every file under `root` as relative `/`-paths, skipping hidden
/// directories (`.git`, `.terraform`, `.tfctl`) and symlinks.
pub fn list_files(root: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| Error::input(format!("{}: {e}", dir.display())))?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let child = rel.join(&name);
            if kind.is_dir() && !name.starts_with('.') {
                stack.push(child);
            } else if kind.is_file() {
                out.push(child.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file of the tree under `root` as relative `/`-paths, from git's
/// index when `root` is in a git checkout (one read instead of a walk of
/// every directory: what makes checking a change against the whole estate
/// cheap), else from the filesystem ([`list_files`]). Untracked files are
/// not in the index; in a checkout they are the local changes, which a run
/// selects anyway.
pub fn tree_files(root: &Path) -> Result<Vec<String>, Error> {
    match run_git(root, &["ls-files", "-z", "--cached"]) {
        Ok(out) => Ok(out
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()),
        Err(_) => list_files(root),
    }
}

/// A git checkout containing the config root.
pub struct Git {
    /// The repository's top level.
    pub top: PathBuf,
    /// The config root relative to `top` (`""` when they are the same).
    pub prefix: String,
}

impl Git {
    /// Opens the repository that contains `config_root`.
    pub fn open(config_root: &Path) -> Result<Git, Error> {
        let top = run_git(config_root, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            Error::input(format!(
                "{}: not a git repository ({e}); pass --files or --all",
                config_root.display()
            ))
        })?;
        let top = PathBuf::from(top.trim());
        let canon_root = config_root
            .canonicalize()
            .unwrap_or_else(|_| config_root.to_path_buf());
        let canon_top = top.canonicalize().unwrap_or_else(|_| top.clone());
        let prefix = canon_root
            .strip_prefix(&canon_top)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        Ok(Git { top, prefix })
    }

    /// The merge base of `base` and HEAD.
    pub fn merge_base(&self, base: &str) -> Result<String, Error> {
        run_git(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{base}^{{commit}}"),
            ],
        )
        .map_err(|_| {
            Error::input(format!(
                "base ref `{base}` not found in {} (pass --base REF)",
                self.top.display()
            ))
        })?;
        Ok(run_git(&self.top, &["merge-base", base, "HEAD"])
            .map_err(|e| Error::input(format!("no merge base between `{base}` and HEAD: {e}")))?
            .trim()
            .to_string())
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<String, Error> {
        Ok(run_git(&self.top, &["rev-parse", "HEAD"])?
            .trim()
            .to_string())
    }

    /// Whether `rev` names a commit this checkout has.
    pub fn has_commit(&self, rev: &str) -> bool {
        run_git(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .is_ok()
    }

    /// Whether the checkout is shallow (its history is cut, so merge bases
    /// computed in it may be wrong or missing).
    pub fn is_shallow(&self) -> Result<bool, Error> {
        Ok(run_git(&self.top, &["rev-parse", "--is-shallow-repository"])?.trim() == "true")
    }

    /// The merge base of two commits, if the history has one.
    pub fn merge_base_of(&self, a: &str, b: &str) -> Option<String> {
        run_git(&self.top, &["merge-base", a, b])
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Files changed from commit `from` to commit `to` (committed only),
    /// relative to the config root; files outside it are dropped. Renames
    /// are a delete plus an add.
    pub fn changes_between(&self, from: &str, to: &str) -> Result<Vec<ChangedFile>, Error> {
        let diff = run_git(
            &self.top,
            &[
                "diff",
                "--name-status",
                "--no-renames",
                "-z",
                from,
                to,
                "--",
            ],
        )?;
        Ok(self.name_status(&diff))
    }

    /// `git diff --name-status -z` output → changed files under the root.
    fn name_status(&self, diff: &str) -> Vec<ChangedFile> {
        let mut changes = Vec::new();
        let mut fields = diff.split('\0').filter(|s| !s.is_empty());
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let status = if status.starts_with('D') {
                FileStatus::Deleted
            } else {
                FileStatus::Modified
            };
            if let Some(rel) = self.relative(path) {
                changes.push(ChangedFile { path: rel, status });
            }
        }
        changes
    }

    /// Files changed since `rev`: committed, staged, unstaged and untracked,
    /// relative to the config root (files outside it are dropped). Renames are
    /// a delete plus an add.
    pub fn changes_since(&self, rev: &str) -> Result<Vec<ChangedFile>, Error> {
        let diff = run_git(
            &self.top,
            &["diff", "--name-status", "--no-renames", "-z", rev, "--"],
        )?;
        let mut changes = self.name_status(&diff);
        let untracked = run_git(
            &self.top,
            &["ls-files", "--others", "--exclude-standard", "-z"],
        )?;
        for path in untracked.split('\0').filter(|s| !s.is_empty()) {
            if let Some(rel) = self.relative(path) {
                changes.push(ChangedFile::modified(rel));
            }
        }
        Ok(changes)
    }

    /// Contents of `path` (relative to the config root) at `rev`.
    pub fn file_at(&self, rev: &str, path: &str) -> Result<String, Error> {
        let full = if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.prefix)
        };
        run_git(&self.top, &["show", &format!("{rev}:{full}")])
    }

    fn relative(&self, top_path: &str) -> Option<String> {
        if self.prefix.is_empty() {
            Some(top_path.to_string())
        } else {
            top_path
                .strip_prefix(&format!("{}/", self.prefix))
                .map(str::to_string)
        }
    }
}

/// The files under `root` (tracked or untracked, not ignored) matching
/// `pathspec` whose text contains one of `needles` literally, relative to
/// `root`: one `git grep` instead of a read of every file. `None` when
/// `root` is not in a git checkout (the caller reads the files instead).
pub fn grep_files(root: &Path, needles: &[&str], pathspec: &str) -> Option<Vec<String>> {
    use std::io::Write;
    use std::process::Stdio;
    if needles.is_empty() {
        return Some(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "grep",
            "-l",
            "-z",
            "-F",
            "--untracked",
            "-f",
            "-",
            "--",
            pathspec,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let patterns = needles.join("\n") + "\n";
    // Written from a thread: git may fill its stdout before reading all.
    let writer = std::thread::spawn(move || stdin.write_all(patterns.as_bytes()));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    match out.status.code() {
        Some(0) => Some(
            String::from_utf8_lossy(&out.stdout)
                .split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        // No file matched.
        Some(1) => Some(Vec::new()),
        _ => None,
    }
}

fn run_git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::runtime(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::runtime(format!(
            "git {} failed: {}",
            args.first().unwrap_or(&""),
            stderr.lines().next().unwrap_or("").trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|_| Error::runtime("git printed non-UTF-8 output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_the_order_of_its_items_on_any_number_of_threads() {
        for n in [0, 1, 63, 64, 1_000] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = par_map(&items, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn read_text_reads_small_large_and_refuses_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 1, 4_095, 4_096, 4_097, 100_000] {
            let text: String = "abcdé".chars().cycle().take(size).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_text(&path).unwrap(), text, "{size} chars");
        }
        let bad = dir.path().join("bad");
        std::fs::write(&bad, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text(&bad).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        assert!(read_text(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_listing_answers_only_unread_directories_and_an_unlisted_one_is_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "S3/a/a.tfvars",
            "S3/a/extra.tfvars",
            "S3/b/b.tfvars",
            "S3/new/new.tfvars",
        ] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x = 1\n").unwrap();
        }
        let tree = FsTree::new(dir.path());
        // S3/a was read from disk first (both files); the index lists one.
        let mut a = tree.tfvars_in("S3/a");
        a.sort();
        assert_eq!(a, ["a.tfvars", "extra.tfvars"]);
        tree.use_listing(Arc::new(vec![
            "S3/a/a.tfvars".into(),
            "S3/b/b.tfvars".into(),
            "S3/b/sub/c.tfvars".into(),
            "S3/b/x.tf".into(),
            "S3/ba/ba.tfvars".into(),
        ]));
        let mut a = tree.tfvars_in("S3/a");
        a.sort();
        assert_eq!(a, ["a.tfvars", "extra.tfvars"], "what was read stays");
        assert_eq!(
            tree.tfvars_in("S3/b"),
            ["b.tfvars"],
            "not below, not beside"
        );
        assert_eq!(tree.tfvars_in("S3/ba"), ["ba.tfvars"]);
        // Untracked, so not in the index: still found on disk.
        assert_eq!(tree.tfvars_in("S3/new"), ["new.tfvars"]);
    }

    #[test]
    fn every_example_module_is_readable() {
        use crate::module_tree::read_tree;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let source = FsModules { root: root.clone() };
        let mut read = 0;
        for example in ["offline/modules", "controller-repo/modules"] {
            for entry in std::fs::read_dir(root.join(example)).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                let tree = read_tree(&source, &format!("{example}/{name}"))
                    .unwrap()
                    .unwrap();
                assert!(!tree.root.variables.is_empty(), "{example}/{name}");
                read += 1;
            }
        }
        assert!(read >= 4, "{read}");
    }
}
