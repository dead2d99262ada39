//! GitHub App authentication, step one: the RS256 JWT an App signs with its
//! private key to ask for an installation token.
//!
//! Pure apart from the signature: the clock is an argument. Claims follow
//! GitHub's guide: `iat` 60 s in the past (clock drift), `exp` under the
//! 10-minute maximum, `iss` the App id. Never logs the key or the JWT.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::{GithubError, GithubErrorKind, Secret};

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

/// Signs the App JWT for `app_id` at `now_unix` (seconds since the epoch).
pub(crate) fn app_jwt(
    app_id: &str,
    private_key_pem: &Secret,
    now_unix: u64,
) -> Result<Secret, GithubError> {
    let invalid = |message: String| GithubError {
        call: "GitHub App authentication".into(),
        kind: GithubErrorKind::Invalid,
        message,
        attempts: 1,
    };
    let key = EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes()).map_err(|e| {
        // jsonwebtoken's error names the problem, not the key material.
        invalid(format!(
            "TFCTL_APP_PRIVATE_KEY is not an RSA private key in PEM form ({e})"
        ))
    })?;
    let claims = Claims {
        iat: now_unix.saturating_sub(60),
        exp: now_unix + 540,
        iss: app_id,
    };
    encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map(Secret::new)
        .map_err(|e| invalid(format!("cannot sign the App JWT ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};
    use serde::Deserialize;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/app")
            .join(name);
        std::fs::read_to_string(p).unwrap()
    }

    #[derive(Debug, Deserialize)]
    struct Decoded {
        iat: u64,
        exp: u64,
        iss: String,
    }

    #[test]
    fn jwt_verifies_with_the_public_key_and_has_github_claims() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let jwt = app_jwt("12345", &Secret::new(fixture("test-app-key.pem")), now).unwrap();
        let key = DecodingKey::from_rsa_pem(fixture("test-app-key.pub.pem").as_bytes()).unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&["12345"]);
        let data = decode::<Decoded>(jwt.expose(), &key, &v).unwrap();
        assert_eq!(data.claims.iss, "12345");
        assert_eq!(data.claims.iat, now - 60);
        assert!(data.claims.exp - data.claims.iat <= 600);
    }

    #[test]
    fn bad_key_is_named_without_its_content() {
        let err = app_jwt("1", &Secret::new("not-a-key-SECRETBITS"), 0).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TFCTL_APP_PRIVATE_KEY"), "{text}");
        assert!(!text.contains("SECRETBITS"), "{text}");
    }
}
