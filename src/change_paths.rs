//! Which root a changed path belongs to (docs/DESIGN.md §2): a stack file
//! under the config root, a module file under `modules_root`, a policy
//! file under `policy.paths` / `policy.data`, or nothing tfctl knows. The
//! roots can be in different checkouts (a controller PR plans the config
//! repo checked out beside it), so paths are compared absolute.
//!
//! [`Roots::classify`] is pure; [`absolute`] and [`resolve_typed`]
//! (`--files` as a person types it) ask the filesystem.

use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// The absolute roots of a run.
#[derive(Debug, Clone)]
pub struct Roots {
    pub config: PathBuf,
    pub modules: PathBuf,
    /// tfctl.yaml's directory: module and policy reasons are relative to it.
    pub base: PathBuf,
    /// `policy.paths` and `policy.data` (files or directories).
    pub policies: Vec<PathBuf>,
}

/// What a changed path is to tfctl.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classified {
    /// Relative to the config root, when under it.
    pub stack_path: Option<String>,
    /// Relative to `modules_root`, when under it.
    pub module_path: Option<String>,
    pub policy: bool,
    /// How reports name it: relative to tfctl.yaml's directory when under
    /// it, else to the config root, else absolute.
    pub label: String,
}

impl Roots {
    /// Classifies absolute path `path` (pure).
    pub fn classify(&self, path: &Path) -> Classified {
        let stack_path = relative(&self.config, path);
        let label = relative(&self.base, path)
            .or_else(|| stack_path.clone())
            .unwrap_or_else(|| path.display().to_string());
        Classified {
            module_path: relative(&self.modules, path),
            policy: self
                .policies
                .iter()
                .any(|p| p == path || path.starts_with(p)),
            stack_path,
            label,
        }
    }
}

/// `path` below `root` as a `/`-separated relative path (`None` outside
/// it, or `root` itself).
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rest
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `path` (absolute: the command line's paths are rooted at the context's
/// cwd in `commands::run`) with `..` and `.` resolved, symlinks resolved
/// for the part that exists: a deleted file still has a place.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = path.to_path_buf();
    let mut lexical = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // The longest existing ancestor, canonical, then the rest as written.
    let mut rest = Vec::new();
    let mut probe = lexical.clone();
    loop {
        if let Ok(canon) = probe.canonicalize() {
            let mut out = canon;
            out.extend(rest.iter().rev());
            return out;
        }
        match (
            probe.file_name().map(std::ffi::OsStr::to_os_string),
            probe.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                probe = parent.to_path_buf();
            }
            _ => return lexical,
        }
    }
}

/// A `--files` argument found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// As the person typed it (for messages).
    pub typed: String,
    /// Absolute files it stands for: itself, or a directory's files.
    pub files: Vec<PathBuf>,
    pub is_dir: bool,
}

/// `--files` as a person types it: relative to the current directory
/// (what tab completion gives), else to the config root (what tfctl printed
/// and the matrix passes), or absolute. A directory stands for the files
/// below it. A path that exists in neither place, or lies outside every
/// root, is an input error naming it and the config root.
pub fn resolve_typed(typed: &str, cwd: &Path, roots: &Roots) -> Result<Typed, Error> {
    let path = Path::new(typed);
    let candidates: Vec<PathBuf> = if path.is_absolute() {
        vec![path.to_path_buf()]
    } else {
        vec![cwd.join(path), roots.config.join(path)]
    };
    // Both can exist (`S3/a` beside tfctl.yaml and under the config root):
    // the one tfctl knows wins, so the first that is inside ends the search.
    let inside = |p: &PathBuf| {
        let c = roots.classify(p);
        c.stack_path.is_some() || c.module_path.is_some() || c.policy
    };
    let mut existing: Vec<(PathBuf, bool)> = Vec::new();
    for candidate in candidates {
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        let found = absolute(&candidate);
        let known = inside(&found);
        existing.push((found, meta.is_dir()));
        if known {
            break;
        }
    }
    let chosen = existing
        .iter()
        .find(|(p, _)| inside(p))
        .or(existing.first())
        .cloned();
    let Some((found, is_dir)) = chosen else {
        return Err(Error::input(format!(
            "{typed}: no such file or directory (looked in the current directory and the \
             config root {})",
            roots.config.display()
        )));
    };
    let c = roots.classify(&found);
    if c.stack_path.is_none() && c.module_path.is_none() && !c.policy && found != roots.config {
        return Err(Error::input(format!(
            "{typed}: path escapes the repository root: it is outside the config root {}, \
             modules_root {} and the policy paths",
            roots.config.display(),
            roots.modules.display()
        )));
    }
    if !is_dir {
        return Ok(Typed {
            typed: typed.to_string(),
            files: vec![found],
            is_dir: false,
        });
    }
    let mut files = Vec::new();
    walk(&found, &mut files);
    files.sort();
    Ok(Typed {
        typed: typed.to_string(),
        files,
        is_dir: true,
    })
}

/// Every file below `dir`, skipping hidden directories (`.terraform`).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && !name.starts_with('.') {
            walk(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Roots {
        Roots {
            config: "/r/live".into(),
            modules: "/r/modules".into(),
            base: "/r".into(),
            policies: vec!["/r/policies".into(), "/r/data/tags.json".into()],
        }
    }

    #[test]
    fn paths_are_classified_by_root() {
        let r = roots();
        let c = r.classify(Path::new("/r/live/network/vpc/vpc.tfvars"));
        assert_eq!(c.stack_path.as_deref(), Some("network/vpc/vpc.tfvars"));
        assert_eq!(c.label, "live/network/vpc/vpc.tfvars");
        assert_eq!(c.module_path, None);
        let c = r.classify(Path::new("/r/modules/net/main.tf"));
        assert_eq!(c.module_path.as_deref(), Some("net/main.tf"));
        assert_eq!(c.label, "modules/net/main.tf");
        assert!(r.classify(Path::new("/r/policies/a/x.rego")).policy);
        assert!(r.classify(Path::new("/r/data/tags.json")).policy);
        assert!(!r.classify(Path::new("/r/data/other.json")).policy);
        let c = r.classify(Path::new("/elsewhere/x"));
        assert_eq!(
            c,
            Classified {
                label: "/elsewhere/x".into(),
                ..Classified::default()
            }
        );
        // A root is not a file below itself.
        assert_eq!(r.classify(Path::new("/r/live")).stack_path, None);
    }

    #[test]
    fn absolute_resolves_dots_and_keeps_missing_tails() {
        let dir = tempfile::tempdir().unwrap();
        let canon = dir.path().canonicalize().unwrap();
        std::fs::create_dir(canon.join("a")).unwrap();
        assert_eq!(
            absolute(&dir.path().join("a/../a/./gone/x.tf")),
            canon.join("a/gone/x.tf")
        );
    }
}
