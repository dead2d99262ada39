//! Hidden machine-readable markers in PR comments: `<!-- tfctl:<kind> {json} -->`.
//!
//! The validation comment carries a [`ValidationMarker`]; other comments
//! (apply results, merge decisions) define their own type and implement
//! [`Marker`] with another `KIND`. When a signing key is set the marker is
//! signed: HMAC-SHA256 over `tfctl:<kind>\n` followed by the canonical JSON
//! (sorted keys, see [`crate::plan::canonical_json`]) of the marker without
//! its `signature` field, as lowercase hex. The kind is signed too, so one
//! kind of marker cannot be replayed as another.
//! Must not: read the key from anywhere (it is an argument), or compare
//! signatures in variable time.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::audit::AuditEvent;
use crate::plan::canonical_json;
use crate::report::RunResult;

/// A marker type: its kind (`validation`, `apply`, …) and its signature slot.
pub trait Marker: Serialize + DeserializeOwned {
    /// The `<kind>` of `<!-- tfctl:<kind> … -->`; `[a-z-]+`.
    const KIND: &'static str;
    fn signature(&self) -> Option<&str>;
    fn set_signature(&mut self, signature: Option<String>);
}

/// What the validation comment vouches for; the apply gate reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationMarker {
    /// Marker format version (1).
    pub version: u32,
    pub head_sha: String,
    /// The single environment of the validated stacks; empty when they span
    /// several (then `environments` lists them and merge refuses).
    pub environment: String,
    /// Every environment of the validated stacks, sorted.
    #[serde(default)]
    pub environments: Vec<String>,
    pub target_branch: String,
    pub result: RunResult,
    /// Plan digest (see `plan::digest`) by stack id.
    pub stacks: BTreeMap<String, String>,
    /// Hex HMAC-SHA256, when a signing key was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Marker for ValidationMarker {
    const KIND: &'static str = "validation";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

/// tfctl's sticky merge-decision comment: the last decision and the merge
/// audit trail of the PR, so a re-run updates one comment and keeps the
/// history (capped at [`MERGE_HISTORY_LIMIT`] events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeMarker {
    /// Marker format version (1).
    pub version: u32,
    /// The PR head the decision was about.
    pub head_sha: String,
    /// `merged` or `blocked`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit_sha: Option<String>,
    /// Merge decisions on this PR, oldest first.
    #[serde(default)]
    pub history: Vec<AuditEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Most merge decisions a [`MergeMarker`] keeps.
pub const MERGE_HISTORY_LIMIT: usize = 20;

impl Marker for MergeMarker {
    const KIND: &'static str = "merge";
    fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    fn set_signature(&mut self, signature: Option<String>) {
        self.signature = signature;
    }
}

/// Why a marker's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the marker is not signed")]
    Unsigned,
    #[error("the marker signature is not hex")]
    Malformed,
    #[error("the marker signature does not match")]
    Mismatch,
}

/// `<!-- tfctl:<kind> {json} -->`, signed with `signing_key` when given (any
/// signature already in `marker` is replaced, or dropped without a key).
/// The JSON has `<`, `>` and `&` escaped as `\u003c`, `\u003e`, `\u0026`, so
/// it can never contain `-->` and end the comment early.
pub fn render<M: Marker + Clone>(marker: &M, signing_key: Option<&[u8]>) -> String {
    let mut marker = marker.clone();
    let signature = signing_key.map(|key| hex::encode(mac(&marker, key).finalize().into_bytes()));
    marker.set_signature(signature);
    let json = serde_json::to_string(&marker).expect("markers are plain data");
    format!("<!-- tfctl:{} {} -->", M::KIND, escape_json(&json))
}

/// The first marker of kind `M::KIND` in `body` that parses; text around it
/// is ignored.
pub fn find<M: Marker>(body: &str) -> Option<M> {
    spans(body, M::KIND).find_map(|(start, end)| {
        let inner = &body[start + prefix(M::KIND).len()..end - SUFFIX.len()];
        serde_json::from_str(inner.trim()).ok()
    })
}

/// Checks the marker's signature against `key` in constant time.
pub fn verify<M: Marker>(marker: &M, key: &[u8]) -> Result<(), VerifyError> {
    let signature = marker.signature().ok_or(VerifyError::Unsigned)?;
    let bytes = hex::decode(signature).map_err(|_| VerifyError::Malformed)?;
    mac(marker, key)
        .verify_slice(&bytes)
        .map_err(|_| VerifyError::Mismatch)
}

/// Byte ranges `start..end` of every `<!-- tfctl:<kind> … -->` in `body`,
/// in order; with `kind` empty, of every tfctl marker of any kind.
pub(crate) fn spans<'a>(body: &'a str, kind: &str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let open = prefix(kind);
    let open = if kind.is_empty() {
        open.trim_end().to_string()
    } else {
        open
    };
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + body.get(from..)?.find(&open)?;
        let end = start + body[start..].find(SUFFIX)? + SUFFIX.len();
        from = end;
        Some((start, end))
    })
}

const SUFFIX: &str = "-->";

fn prefix(kind: &str) -> String {
    format!("<!-- tfctl:{kind} ")
}

fn mac<M: Marker>(marker: &M, key: &[u8]) -> Hmac<Sha256> {
    let mut value = serde_json::to_value(marker).expect("markers are plain data");
    if let Some(map) = value.as_object_mut() {
        map.remove("signature");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("tfctl:{}\n", M::KIND).as_bytes());
    mac.update(canonical_json(&value).as_bytes());
    mac
}

/// `<`, `>`, `&` only occur inside JSON strings, where `\uXXXX` means the same.
fn escape_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> ValidationMarker {
        ValidationMarker {
            version: 1,
            head_sha: "0123abc".into(),
            environment: "production".into(),
            environments: vec!["production".into()],
            target_branch: "prod".into(),
            result: RunResult::Passed,
            stacks: BTreeMap::from([("S3/logs".into(), "ab".repeat(32))]),
            signature: None,
        }
    }

    #[test]
    fn rendered_markers_are_found_in_surrounding_text() {
        let m = marker();
        let body = format!("hello\n{}\nworld <!-- other -->", render(&m, None));
        assert_eq!(find::<ValidationMarker>(&body), Some(m));
    }

    #[test]
    fn json_with_arrows_cannot_end_the_comment_early() {
        let mut m = marker();
        m.environment = "a-->b<c&d".into();
        let text = render(&m, Some(b"k"));
        assert_eq!(text.matches("-->").count(), 1, "{text}");
        let found: ValidationMarker = find(&text).unwrap();
        assert_eq!(found.environment, "a-->b<c&d");
        assert_eq!(verify(&found, b"k"), Ok(()));
    }

    #[test]
    fn signatures_bind_every_field_and_the_key() {
        let signed: ValidationMarker = find(&render(&marker(), Some(b"key"))).unwrap();
        assert_eq!(verify(&signed, b"key"), Ok(()));
        assert_eq!(verify(&signed, b"other"), Err(VerifyError::Mismatch));
        let mut tampered = signed.clone();
        tampered.stacks.insert("IAM/x".into(), "00".into());
        assert_eq!(verify(&tampered, b"key"), Err(VerifyError::Mismatch));
        let mut bad = signed.clone();
        bad.signature = Some("zz".into());
        assert_eq!(verify(&bad, b"key"), Err(VerifyError::Malformed));
        assert_eq!(verify(&marker(), b"key"), Err(VerifyError::Unsigned));
    }

    #[test]
    fn merge_markers_round_trip_signed_and_are_not_validation_markers() {
        let m = MergeMarker {
            version: 1,
            head_sha: "0123abc".into(),
            outcome: "merged".into(),
            environment: Some("production".into()),
            branch: Some("prod".into()),
            merge_commit_sha: Some("feed".into()),
            history: vec![AuditEvent {
                time: "2026-11-21T10:00:00Z".into(),
                action: "merge".into(),
                actor: "bob".into(),
                pull_request: "o/r#1".into(),
                head_sha: "0123abc".into(),
                environment: Some("production".into()),
                outcome: "merged".into(),
                reasons: vec!["approved by <b>bob</b> --> x".into()],
                violations_overridden: Vec::new(),
                run_url: None,
            }],
            signature: None,
        };
        let text = render(&m, Some(b"k"));
        assert!(text.starts_with("<!-- tfctl:merge "), "{text}");
        assert_eq!(text.matches("-->").count(), 1, "{text}");
        let back: MergeMarker = find(&text).unwrap();
        assert_eq!(verify(&back, b"k"), Ok(()));
        assert_eq!(back.history, m.history);
        assert_eq!(find::<ValidationMarker>(&text), None);
    }

    #[test]
    fn a_marker_of_another_kind_is_not_found() {
        let body = render(&marker(), None).replace("tfctl:validation", "tfctl:apply");
        assert_eq!(find::<ValidationMarker>(&body), None);
    }
}
