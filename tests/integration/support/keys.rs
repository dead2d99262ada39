//! The controller's signing key in the tests, and one that is not it.
//!
//! Fixed texts, so a failing test can be re-run by hand with the same
//! `TFCTL_SIGNING_KEY`; their public keys come from the library itself.

use tfctl::attest::SigningKey;

/// `TFCTL_SIGNING_KEY` of the controller under test; its public key is in
/// the test repositories' `trust.public_keys`.
pub(crate) const CONTROLLER_KEY: &str =
    "tfctl-ed25519-secret:1111111111111111111111111111111111111111111111111111111111111111";

/// A well-formed secret key that is not the controller's: what a writer
/// who wants to forge an attestation could sign with.
pub(crate) const OTHER_KEY: &str =
    "tfctl-ed25519-secret:2222222222222222222222222222222222222222222222222222222222222222";

pub(crate) fn key(text: &str) -> SigningKey {
    SigningKey::parse(text).expect("a test key")
}

/// The `trust:` section that makes merge and apply believe [`CONTROLLER_KEY`].
pub(crate) fn trust_yaml() -> String {
    format!(
        "trust:\n  public_keys:\n    - {}\n",
        key(CONTROLLER_KEY).public().to_text()
    )
}
