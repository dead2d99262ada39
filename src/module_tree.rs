//! What a root module is made of, read from its `.tf` files with a real HCL
//! parser (hcl-rs), never by regex (docs/DESIGN.md §2).
//!
//! Owns three facts tfctl needs about a module directory: the `variable`
//! blocks it declares (a tfvars key it does not declare is a typo, and the
//! tfctl context variables are passed only where declared), the local
//! `module` calls it makes (`source = "../shared/net"`: a change to the
//! called module changes every stack whose root module calls it, directly
//! or transitively), and a digest of the whole tree (the module directory
//! and every local module it calls), which names "this code" in
//! re-validation and promotion.
//!
//! Pure: takes file texts and answers through a [`ModuleSource`]; the
//! filesystem reader is `repo::FsModules`.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Body, Expression};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Where a variable is declared, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The `.tf` file, relative to the repository root.
    pub file: String,
    pub line: usize,
}

/// What one module directory declares and calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleFacts {
    /// `variable "name"` blocks, by name.
    pub variables: BTreeMap<String, Declared>,
    /// Directories of the local modules it calls (`./` or `../` sources),
    /// resolved against the module directory, `/`-separated, sorted.
    pub local_calls: Vec<String>,
}

/// Read-only questions about the module directories of a repository.
pub trait ModuleSource {
    /// The `.tf` and `.tf.json` files directly in `dir` (relative to the
    /// repository root), as `(path, text)`, sorted by path; `None` when the
    /// directory does not exist.
    fn module_files(&self, dir: &str) -> Result<Option<Vec<(String, String)>>, Error>;
}

/// Parses the files of module directory `dir` (pure).
pub fn parse_module(dir: &str, files: &[(String, String)]) -> Result<ModuleFacts, Error> {
    let mut facts = ModuleFacts::default();
    let mut calls = BTreeSet::new();
    for (path, text) in files {
        let (variables, sources) = if path.ends_with(".tf.json") {
            parse_json_file(path, text)?
        } else {
            parse_hcl_file(path, text)?
        };
        for name in variables {
            let line = declaration_line(text, &name);
            facts.variables.entry(name).or_insert(Declared {
                file: path.clone(),
                line,
            });
        }
        for source in sources {
            if let Some(called) = resolve_local_source(dir, &source) {
                calls.insert(called);
            }
        }
    }
    facts.local_calls = calls.into_iter().collect();
    Ok(facts)
}

/// A module tree: the root module directory and every local module it
/// calls, transitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleTree {
    /// The root module's own facts.
    pub root: ModuleFacts,
    /// Every directory of the tree, the root included, sorted.
    pub dirs: Vec<String>,
    /// sha256 over every file of every directory (path and contents).
    pub digest: String,
}

/// Reads the tree of root module `dir` (cycle-safe: a module reached twice is
/// read once). A called directory that does not exist is an error naming
/// the caller; `Ok(None)` when `dir` itself does not exist.
pub fn read_tree(source: &dyn ModuleSource, dir: &str) -> Result<Option<ModuleTree>, Error> {
    let Some(root_files) = source.module_files(dir)? else {
        return Ok(None);
    };
    let root = parse_module(dir, &root_files)?;
    let mut seen: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut pending: Vec<(String, String)> = root
        .local_calls
        .iter()
        .map(|c| (c.clone(), dir.to_string()))
        .collect();
    seen.insert(dir.to_string(), root_files);
    while let Some((called, caller)) = pending.pop() {
        if seen.contains_key(&called) {
            continue;
        }
        let files = source.module_files(&called)?.ok_or_else(|| {
            Error::input(format!(
                "{caller}: calls the local module {called}, which does not exist"
            ))
        })?;
        let facts = parse_module(&called, &files)?;
        pending.extend(facts.local_calls.into_iter().map(|c| (c, called.clone())));
        seen.insert(called, files);
    }
    let digest = tree_digest(seen.values().flatten());
    Ok(Some(ModuleTree {
        root,
        dirs: seen.into_keys().collect(),
        digest,
    }))
}

/// Whether a changed file `path` is part of a tree of directories `dirs`:
/// a file directly in one of them (a nested directory is its own module).
pub fn tree_contains(dirs: &[String], path: &str) -> bool {
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    dirs.binary_search_by(|d| d.as_str().cmp(parent)).is_ok()
}

/// sha256 of `(path, text)` pairs in the given order, each framed by its
/// lengths so no two different trees hash alike.
fn tree_digest<'a>(files: impl Iterator<Item = &'a (String, String)>) -> String {
    let mut hasher = Sha256::new();
    for (path, text) in files {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `./x` and `../x` sources are local modules; anything else (a registry
/// address, `git::`, a URL) is not part of the repository. The result is
/// confined to the repository: a source that climbs above it is not local.
pub fn resolve_local_source(dir: &str, source: &str) -> Option<String> {
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for component in source.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn parse_hcl_file(path: &str, text: &str) -> Result<(Vec<String>, Vec<String>), Error> {
    let body: Body = hcl::parse(text).map_err(|e| match e {
        hcl::Error::Parse(parse) => {
            let loc = parse.location();
            Error::input_at(
                path,
                loc.line(),
                Some(loc.column()),
                format!("cannot read this Terraform file: {}", parse.message()),
            )
        }
        other => Error::input(format!("{path}: cannot read this Terraform file: {other}")),
    })?;
    let mut variables = Vec::new();
    let mut sources = Vec::new();
    for block in body.blocks() {
        let label = block.labels().first().map(|l| l.as_str().to_string());
        match (block.identifier(), label) {
            ("variable", Some(name)) => variables.push(name),
            ("module", Some(_)) => {
                let source = block
                    .body()
                    .attributes()
                    .find(|a| a.key() == "source")
                    .map(hcl::Attribute::expr);
                if let Some(Expression::String(source)) = source {
                    sources.push(source.clone());
                }
            }
            _ => {}
        }
    }
    Ok((variables, sources))
}

fn parse_json_file(path: &str, text: &str) -> Result<(Vec<String>, Vec<String>), Error> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::input_at(
            path,
            e.line(),
            Some(e.column()),
            format!("cannot read this Terraform file: {e}"),
        )
    })?;
    let names = |key: &str| -> Vec<(String, serde_json::Value)> {
        value
            .get(key)
            .and_then(|v| v.as_object())
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let variables = names("variable").into_iter().map(|(k, _)| k).collect();
    let sources = names("module")
        .into_iter()
        .filter_map(|(_, v)| v.get("source")?.as_str().map(str::to_string))
        .collect();
    Ok((variables, sources))
}

/// The 1-based line of `variable "name"` in `text` (hcl-rs bodies carry no
/// spans); 1 when no line declares it (a `.tf.json` file).
fn declaration_line(text: &str, name: &str) -> usize {
    let wanted = format!("\"{name}\"");
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix("variable")
                .is_some_and(|rest| rest.trim_start().starts_with(&wanted))
        })
        .map_or(1, |i| i + 1)
}

/// The declared name closest to `key` by edit distance, when close enough to
/// be a typo (at most a third of the key's length, and at least 1).
pub fn closest<'a>(key: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(1);
    names
        .map(|n| (edit_distance(key, n), n))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance with adjacent transpositions counted as one edit
/// (`replcias` → `replicas` is one).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(BTreeMap<String, Vec<(String, String)>>);

    impl ModuleSource for Mem {
        fn module_files(&self, dir: &str) -> Result<Option<Vec<(String, String)>>, Error> {
            Ok(self.0.get(dir).cloned())
        }
    }

    fn mem(entries: &[(&str, &str, &str)]) -> Mem {
        let mut map: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (dir, file, text) in entries {
            map.entry(dir.to_string())
                .or_default()
                .push((format!("{dir}/{file}"), text.to_string()));
        }
        Mem(map)
    }

    #[test]
    fn reads_variables_with_their_lines_and_local_calls() {
        let text = "terraform {\n  backend \"local\" {}\n}\n\nvariable \"name\" {\n  type = string\n}\nvariable   \"replicas\" {}\n\nmodule \"net\" {\n  source = \"../shared/net\"\n}\nmodule \"registry\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n}\nmodule \"here\" {\n  source = \"./sub\"\n}\n";
        let facts =
            parse_module("modules/s3", &[("modules/s3/main.tf".into(), text.into())]).unwrap();
        assert_eq!(
            facts.variables.keys().collect::<Vec<_>>(),
            ["name", "replicas"]
        );
        assert_eq!(facts.variables["name"].line, 5);
        assert_eq!(facts.variables["replicas"].line, 8);
        assert_eq!(facts.local_calls, ["modules/s3/sub", "modules/shared/net"]);
    }

    #[test]
    fn reads_tf_json_files() {
        let text = r#"{"variable": {"size": {}}, "module": {"m": {"source": "../m"}}}"#;
        let facts =
            parse_module("modules/a", &[("modules/a/x.tf.json".into(), text.into())]).unwrap();
        assert!(facts.variables.contains_key("size"));
        assert_eq!(facts.local_calls, ["modules/m"]);
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let err = parse_module(
            "modules/a",
            &[(
                "modules/a/main.tf".into(),
                "variable \"x\" {\n  = 1\n}\n".into(),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("modules/a/main.tf:2:"), "{err}");
    }

    #[test]
    fn sources_resolve_inside_the_repository_only() {
        assert_eq!(
            resolve_local_source("modules/s3", "../shared//net/"),
            Some("modules/shared/net".into())
        );
        assert_eq!(resolve_local_source("modules", "../../x"), None);
        assert_eq!(resolve_local_source("modules/s3", "git::https://x"), None);
    }

    #[test]
    fn tree_follows_calls_transitively_and_survives_cycles() {
        let source = mem(&[
            (
                "modules/s3",
                "main.tf",
                "module \"a\" {\n source = \"../shared/a\"\n}\n",
            ),
            (
                "modules/shared/a",
                "main.tf",
                "module \"b\" {\n source = \"../b\"\n}\n",
            ),
            (
                "modules/shared/b",
                "main.tf",
                "module \"a\" {\n source = \"../a\"\n}\n",
            ),
        ]);
        let tree = read_tree(&source, "modules/s3").unwrap().unwrap();
        assert_eq!(
            tree.dirs,
            ["modules/s3", "modules/shared/a", "modules/shared/b"]
        );
        assert!(tree_contains(&tree.dirs, "modules/shared/b/main.tf"));
        assert!(!tree_contains(&tree.dirs, "modules/shared/main.tf"));
        assert!(!tree_contains(&tree.dirs, "modules/shared/b/nested/x.tf"));
    }

    #[test]
    fn digest_changes_with_any_file_of_the_tree() {
        let before = mem(&[
            (
                "modules/s3",
                "main.tf",
                "module \"a\" {\n source = \"../a\"\n}\n",
            ),
            ("modules/a", "main.tf", "# v1\n"),
        ]);
        let after = mem(&[
            (
                "modules/s3",
                "main.tf",
                "module \"a\" {\n source = \"../a\"\n}\n",
            ),
            ("modules/a", "main.tf", "# v2\n"),
        ]);
        let a = read_tree(&before, "modules/s3").unwrap().unwrap();
        let b = read_tree(&after, "modules/s3").unwrap().unwrap();
        assert_ne!(a.digest, b.digest);
        assert_eq!(
            a.digest,
            read_tree(&before, "modules/s3").unwrap().unwrap().digest
        );
    }

    #[test]
    fn a_missing_called_module_names_its_caller() {
        let source = mem(&[(
            "modules/s3",
            "main.tf",
            "module \"a\" {\n source = \"../gone\"\n}\n",
        )]);
        let err = read_tree(&source, "modules/s3").unwrap_err().to_string();
        assert!(
            err.contains("modules/s3: calls the local module modules/gone"),
            "{err}"
        );
        assert_eq!(read_tree(&source, "modules/none").unwrap(), None);
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["replicas", "name", "tags"];
        assert_eq!(closest("replcias", names.iter().copied()), Some("replicas"));
        assert_eq!(closest("nmae", names.iter().copied()), Some("name"));
        assert_eq!(closest("bucket_policy", names.iter().copied()), None);
    }
}
