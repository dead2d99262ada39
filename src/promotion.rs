//! Promotion (docs/DESIGN.md §8, "Promotion"): the decisions, no IO.
//!
//! `environments.production.promote_from: staging` means a production
//! stack may change only to a root module tree that an apply has already
//! put in place in staging. Every successful apply records, per stack, a
//! [`PromotionRecord`] signed by the controller: the digest of its root
//! module tree (the module directory and every local module it calls) and
//! of its tfvars without the attributes that differ by environment. It is
//! kept as a ref `refs/tfctl/applied/<environment>/<module digest>` in the
//! controller repository, at a commit whose message is the signed record:
//! every runner can read it in one request, no config-repository writer
//! can write there, and nobody without the controller's key can forge one.

use serde::{Deserialize, Serialize};

use crate::attest::PublicKey;
use crate::render::marker::{self, Marker};

/// Where the records live.
pub const REF_PREFIX: &str = "refs/tfctl/applied/";

/// The first line of every record commit's message.
const SUBJECT: &str = "tfctl applied";

/// The ref of "this module tree was applied in `environment`".
pub fn ref_name(environment: &str, module_digest: &str) -> String {
    format!(
        "{REF_PREFIX}{}/{module_digest}",
        crate::locks::ref_component(environment)
    )
}

/// What one successful apply of one stack put in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub version: u32,
    pub environment: String,
    /// The root module, relative to `modules_root` (`s3`).
    pub module: String,
    /// `module_tree::ModuleTree::digest` of the root module tree.
    pub module_digest: String,
    /// [`tfvars_digest`] of the stack's tfvars.
    pub tfvars_digest: String,
    pub stack: String,
    /// The merged PR, `owner/name#12`, and its merge commit.
    pub pull_request: String,
    pub merge_commit_sha: String,
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Marker for PromotionRecord {
    const KIND: &'static str = "promotion";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

impl PromotionRecord {
    /// The commit message: a line for `git log`, then the signed record.
    pub fn message(&self) -> String {
        let json = serde_json::to_string_pretty(self).expect("a record serializes");
        format!(
            "{SUBJECT}: {} @ {} in {}\n\n{json}\n",
            self.module,
            crate::render::short(&self.module_digest),
            self.environment
        )
    }

    /// Reads a record commit's message and checks its signature against
    /// `keys`: a record is believed only when the controller signed it.
    pub fn verified(message: &str, keys: &[PublicKey]) -> Result<PromotionRecord, String> {
        let json = crate::locks::record_json(message, SUBJECT)?;
        let record: PromotionRecord =
            serde_json::from_str(json).map_err(|e| format!("the record: {e}"))?;
        marker::verify(&record, keys).map_err(|e| format!("the record's signature: {e}"))?;
        Ok(record)
    }
}

/// SHA-256 (first 128 bits, hex) over the stack's tfvars in the order
/// terraform reads them, each without the top-level attributes in
/// `ignore_keys` (`tfvars::without_attributes`): equal digests mean the
/// same inputs but for what differs by environment.
pub fn tfvars_digest(var_files: &[(String, String)], ignore_keys: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (_, text) in var_files {
        // The blanked attributes leave spaces of their own length: drop
        // them with the lines they emptied.
        let blanked = crate::tfvars::without_attributes(text, ignore_keys);
        let kept: Vec<&str> = blanked
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        let kept = kept.join("\n");
        hash.update(kept.len().to_le_bytes());
        hash.update(kept.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

/// The reason a stack fails validation (and apply) when its module tree
/// was never applied in `source`.
pub fn gap_reason(module: &str, module_digest: &str, source: &str) -> String {
    format!(
        "modules/{module} @ {} has not been applied in {source} (promote_from: apply it there first, or a special approver may OVERRIDE)",
        crate::render::short(module_digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::SigningKey;

    fn record() -> PromotionRecord {
        PromotionRecord {
            version: 1,
            environment: "staging".into(),
            module: "s3".into(),
            module_digest: "3f2a1c9e".repeat(4),
            tfvars_digest: "ab".repeat(16),
            stack: "S3/logs-staging".into(),
            pull_request: "acme/config#7".into(),
            merge_commit_sha: "c".repeat(40),
            time: "2026-12-03T10:00:00Z".into(),
            signature: None,
        }
    }

    #[test]
    fn a_record_is_believed_only_signed_by_a_trusted_key() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let signed = marker::signed(&record(), Some(&key));
        let msg = signed.message();
        assert!(msg.starts_with("tfctl applied: s3 @ 3f2a1c9 in staging\n\n{"));
        assert_eq!(
            PromotionRecord::verified(&msg, &[key.public()]).unwrap(),
            signed
        );
        assert!(PromotionRecord::verified(&msg, &[other.public()]).is_err());
        // Forged: the environment changed after signing.
        let forged = msg.replace("\"staging\"", "\"production\"");
        assert!(PromotionRecord::verified(&forged, &[key.public()]).is_err());
        assert!(PromotionRecord::verified(&record().message(), &[key.public()]).is_err());
    }

    #[test]
    fn the_tfvars_digest_ignores_only_the_environment_keys() {
        let keys = vec!["environment".to_string(), "name".to_string()];
        let staging = vec![(
            "a.tfvars".to_string(),
            "environment = \"staging\"\nname = \"s-logs\"\nsize = 3\n".to_string(),
        )];
        let production = vec![(
            "a.tfvars".to_string(),
            "environment = \"production\"\nname = \"p-logs\"\nsize = 3\n".to_string(),
        )];
        let bigger = vec![(
            "a.tfvars".to_string(),
            "environment = \"production\"\nname = \"p-logs\"\nsize = 4\n".to_string(),
        )];
        assert_eq!(
            tfvars_digest(&staging, &keys),
            tfvars_digest(&production, &keys)
        );
        assert_ne!(
            tfvars_digest(&staging, &keys),
            tfvars_digest(&bigger, &keys)
        );
    }

    #[test]
    fn refs_and_reasons_name_the_environment_and_the_short_digest() {
        assert_eq!(
            ref_name("staging", "3f2a1c9e"),
            "refs/tfctl/applied/staging/3f2a1c9e"
        );
        assert_eq!(
            gap_reason("s3", "3f2a1c9e00", "staging"),
            "modules/s3 @ 3f2a1c9 has not been applied in staging (promote_from: apply it there first, or a special approver may OVERRIDE)"
        );
    }
}
