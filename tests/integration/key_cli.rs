//! `tfctl key generate` and `tfctl key public` as an operator runs them:
//! the secret alone on stdout (to pipe into a secret store), the public key
//! and what to do with it on stderr, and bad keys refused in one line.

use crate::harness::Tfctl;
use tfctl::attest::{PublicKey, SigningKey};

fn tfctl() -> Tfctl {
    Tfctl::new(&std::env::temp_dir())
}

#[test]
fn generate_prints_the_secret_alone_and_public_prints_its_key() {
    let run = tfctl().args(["key", "generate"]).run().expect_code(0);
    let secret = run.stdout();
    assert_eq!(secret.lines().count(), 1, "{secret}");
    let key = SigningKey::parse(&secret).expect("a secret key on stdout");
    let public = key.public().to_text();
    // What to do with it, and the public key to list, on stderr.
    let told = run.stderr();
    assert!(told.contains("TFCTL_SIGNING_KEY"), "{told}");
    assert!(told.contains("trust.public_keys"), "{told}");
    assert!(told.contains(&public), "{told}");
    assert!(!told.contains(secret.trim()), "the secret went to stderr");

    // `key public` of that secret prints the same public key.
    let run = tfctl()
        .args(["key", "public"])
        .env("TFCTL_SIGNING_KEY", secret.trim())
        .run()
        .expect_code(0);
    assert_eq!(run.stdout().trim(), public);
    assert!(PublicKey::parse(&run.stdout()).is_ok());

    // Two runs make two different keys.
    let again = tfctl().args(["key", "generate"]).run().expect_code(0);
    assert_ne!(again.stdout(), secret);
}

#[test]
fn a_missing_or_malformed_key_is_one_line_and_exit_2() {
    let run = tfctl().args(["key", "public"]).run().expect_code(2);
    assert_eq!(run.stderr(), "tfctl: error: TFCTL_SIGNING_KEY is not set\n");
    let run = tfctl()
        .args(["key", "public"])
        .env("TFCTL_SIGNING_KEY", "an-old-hmac-secret")
        .run()
        .expect_code(2);
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("TFCTL_SIGNING_KEY: not a tfctl secret key"),
        "{err}"
    );
    assert!(err.contains("tfctl key generate"), "{err}");
    assert!(
        !err.contains("an-old-hmac-secret"),
        "the bad secret was echoed"
    );
}

#[test]
fn a_bad_public_key_in_tfctl_yaml_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tfctl.yaml"),
        "version: 1\ntrust:\n  public_keys:\n    - tfctl-ed25519:abcd\n",
    )
    .unwrap();
    let run = Tfctl::new(dir.path())
        .args(["graph", "--all"])
        .run()
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("trust.public_keys[0]: not a tfctl public key"),
        "{}",
        run.stderr()
    );
}
