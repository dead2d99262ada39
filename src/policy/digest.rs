//! The policy set digest a validation attestation records: which rules
//! judged the plans. Two runs with the same digest ran the same Rego and
//! the same data; a changed policy changes it.
//!
//! Reads the files (an edge); the digest itself is a pure function of
//! names and contents.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

use super::load::{rego_files, Tests};

/// SHA-256 over every evaluated `.rego` file and data document under
/// `paths`/`data`, each as its path relative to `base` and its contents,
/// in load order.
pub fn policy_digest(base: &Path, paths: &[PathBuf], data: &[PathBuf]) -> Result<String, Error> {
    let mut files = rego_files(paths, Tests::Exclude)?;
    files.extend(data.iter().cloned());
    let mut hasher = Sha256::new();
    hasher.update(b"tfctl-policy-digest/v1\n");
    for file in files {
        let contents =
            std::fs::read(&file).map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
        let name = file.strip_prefix(base).unwrap_or(&file);
        hasher.update(name.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&contents));
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_names_and_contents_not_test_files() {
        let dir = tempfile::tempdir().unwrap();
        let rego = dir.path().join("p.rego");
        std::fs::write(&rego, "package main\n").unwrap();
        let paths = [dir.path().to_path_buf()];
        let a = policy_digest(dir.path(), &paths, &[]).unwrap();
        std::fs::write(dir.path().join("p_test.rego"), "package main\n").unwrap();
        assert_eq!(policy_digest(dir.path(), &paths, &[]).unwrap(), a);
        std::fs::write(&rego, "package main\ndeny contains 1\n").unwrap();
        assert_ne!(policy_digest(dir.path(), &paths, &[]).unwrap(), a);
    }
}
