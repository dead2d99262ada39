//! Keys and signatures of attestations (docs/DESIGN.md §4, "Attestations").
//!
//! The controller holds an Ed25519 secret key (`TFCTL_SIGNING_KEY`); merge
//! (config repo) and apply (controller) hold only public keys
//! (`trust.public_keys` in tfctl.yaml). A config-repo writer can edit any
//! comment, so whatever a gate believes must carry a signature that only
//! the controller could have made: an HMAC would need the same secret in
//! every repository that verifies, and so in reach of its writers.
//!
//! What is signed: `tfctl:<kind>\n` followed by the canonical JSON (sorted
//! keys, [`crate::plan::canonical_json`]) of the attestation without its
//! signature. The kind is signed, so one kind cannot be replayed as another.
//!
//! Text forms: a secret key is `tfctl-ed25519-secret:<64 hex>` (the 32-byte
//! seed), a public key `tfctl-ed25519:<64 hex>`, a signature
//! `<key id>:<128 hex>` where the key id is the first 16 hex digits of the
//! SHA-256 of the public key (so verifiers with several keys, during a
//! rotation, know which one to try). Must not: read keys from anywhere (they
//! are arguments), or print a secret (its `Debug` is redacted).

use ed25519_dalek::{Signer, Verifier};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::canonical_json;

const SECRET_PREFIX: &str = "tfctl-ed25519-secret:";
const PUBLIC_PREFIX: &str = "tfctl-ed25519:";

/// The controller's secret key.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().id())
    }
}

/// A key that verifies attestations.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

/// Why a key text was not accepted; says what the text should look like,
/// never what it was (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a tfctl secret key: expected `{SECRET_PREFIX}` followed by 64 hex digits (make one with `tfctl key generate`)")]
    Secret,
    #[error("not a tfctl public key: expected `{PUBLIC_PREFIX}` followed by 64 hex digits (print it with `tfctl key public`)")]
    Public,
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> SigningKey {
        use rand::TryRng;
        let mut seed = [0u8; 32];
        rand::rngs::SysRng
            .try_fill_bytes(&mut seed)
            .expect("the operating system's random source answers");
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses `tfctl-ed25519-secret:<hex>`; surrounding whitespace is ignored
    /// (secrets pasted into a UI often end with a newline).
    pub fn parse(text: &str) -> Result<SigningKey, KeyError> {
        let seed = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(KeyError::Secret)?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The text form, for `tfctl key generate` only.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", hex::encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `value` (an attestation without its signature) as `kind`.
    pub fn sign(&self, kind: &str, value: &Value) -> String {
        let signature = self.0.sign(&message(kind, value));
        format!(
            "{}:{}",
            self.public().id(),
            hex::encode(signature.to_bytes())
        )
    }

    /// A key for sealing plan digests (see `pipeline::seal_digest`), derived
    /// from the secret so that only the controller can compute a seal.
    pub fn seal_key(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"tfctl-seal-key/v1\n");
        hasher.update(self.0.to_bytes());
        hasher.finalize().into()
    }
}

impl PublicKey {
    /// Parses `tfctl-ed25519:<hex>`.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(KeyError::Public)?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::Public)
    }

    pub fn to_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", hex::encode(self.0.to_bytes()))
    }

    /// First 16 hex digits of the SHA-256 of the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.to_bytes())[..8])
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("it is not signed")]
    Unsigned,
    #[error("its signature is malformed")]
    Malformed,
    #[error("it is signed by key {0}, which is not in trust.public_keys")]
    UnknownKey(String),
    #[error("its signature does not verify (the attestation was changed after signing)")]
    Mismatch,
}

/// Checks `signature` over `value` as `kind` against `keys`.
pub fn verify(
    kind: &str,
    value: &Value,
    signature: Option<&str>,
    keys: &[PublicKey],
) -> Result<(), VerifyError> {
    let signature = signature.ok_or(VerifyError::Unsigned)?;
    let (id, sig_hex) = signature.split_once(':').ok_or(VerifyError::Malformed)?;
    let bytes = hex::decode(sig_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or(VerifyError::Malformed)?;
    let key = keys
        .iter()
        .find(|k| k.id() == id)
        .ok_or_else(|| VerifyError::UnknownKey(id.chars().take(16).collect()))?;
    key.0
        .verify(
            &message(kind, value),
            &ed25519_dalek::Signature::from_bytes(&bytes),
        )
        .map_err(|_| VerifyError::Mismatch)
}

fn message(kind: &str, value: &Value) -> Vec<u8> {
    let mut out = format!("tfctl:{kind}\n").into_bytes();
    out.extend_from_slice(canonical_json(value).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let key = SigningKey::generate();
        let again = SigningKey::parse(&format!("{}\n", key.to_text())).unwrap();
        assert_eq!(again.public(), key.public());
        let public = PublicKey::parse(&key.public().to_text()).unwrap();
        assert_eq!(public, key.public());
        assert_eq!(public.id().len(), 16);
        assert!(!format!("{key:?}").contains(&key.to_text()[SECRET_PREFIX.len()..]));
    }

    #[test]
    fn bad_key_texts_say_what_is_expected() {
        assert_eq!(SigningKey::parse("hunter2").unwrap_err(), KeyError::Secret);
        let public = SigningKey::generate().public().to_text();
        assert_eq!(SigningKey::parse(&public).unwrap_err(), KeyError::Secret);
        assert_eq!(PublicKey::parse("tfctl-ed25519:abc"), Err(KeyError::Public));
        assert!(KeyError::Secret.to_string().contains("tfctl key generate"));
    }

    #[test]
    fn a_signature_binds_the_value_the_kind_and_the_key() {
        let key = SigningKey::generate();
        let keys = [key.public()];
        let value = json!({"head_sha": "abc", "result": "passed"});
        let sig = key.sign("validation", &value);
        assert_eq!(verify("validation", &value, Some(&sig), &keys), Ok(()));
        // Key order does not matter: the message is canonical JSON.
        let reordered: Value =
            serde_json::from_str(r#"{"result":"passed","head_sha":"abc"}"#).unwrap();
        assert_eq!(verify("validation", &reordered, Some(&sig), &keys), Ok(()));
        let edited = json!({"head_sha": "abc", "result": "failed"});
        assert_eq!(
            verify("validation", &edited, Some(&sig), &keys),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("apply", &value, Some(&sig), &keys),
            Err(VerifyError::Mismatch)
        );
        let other = SigningKey::generate();
        assert!(matches!(
            verify("validation", &value, Some(&sig), &[other.public()]),
            Err(VerifyError::UnknownKey(_))
        ));
        // Rotation: the old key still verifies while it is listed.
        assert_eq!(
            verify(
                "validation",
                &value,
                Some(&sig),
                &[other.public(), key.public()]
            ),
            Ok(())
        );
        assert_eq!(
            verify("validation", &value, None, &keys),
            Err(VerifyError::Unsigned)
        );
        assert_eq!(
            verify("validation", &value, Some("zz"), &keys),
            Err(VerifyError::Malformed)
        );
        // A forged signature made with another key under the listed id.
        let forged =
            other
                .sign("validation", &value)
                .replacen(&other.public().id(), &key.public().id(), 1);
        assert_eq!(
            verify("validation", &value, Some(&forged), &keys),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn seal_keys_depend_on_the_secret() {
        let (a, b) = (SigningKey::generate(), SigningKey::generate());
        assert_eq!(a.seal_key(), a.clone().seal_key());
        assert_ne!(a.seal_key(), b.seal_key());
    }
}
