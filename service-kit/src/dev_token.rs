//! Development tokens: HS256 JWTs for a `sub` and an `email` (or, for a
//! service, a `scope`), signed with the configured secret or the public
//! built-in [`DEV_JWT_SECRET`]. The core prints them (`core-svc dev-token`),
//! the edge serves them in development mode (`POST /dev/token`) and mints
//! its own link token there, and tests sign with them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// The secret the core verifies with when neither `CHAT_JWT_SECRET` nor a
/// JWKS URL is configured, and the edge signs with when it has no secret.
/// Public by nature: never run a shared deployment on it.
pub const DEV_JWT_SECRET: &str = "chat-development-secret-do-not-use-in-production";

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    email: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    iat: u64,
    exp: u64,
}

/// An HS256 token for `sub` and `email` signed with `secret`, issued now
/// and valid for `ttl`.
///
/// HS256 signing of these plain claims cannot fail; should the library ever
/// report an error, the token is empty, which every verifier refuses (a
/// server does not panic over it).
pub fn mint(secret: &str, sub: &str, email: &str, ttl: Duration) -> String {
    sign(secret, sub, email, "", ttl)
}

/// An HS256 token for the service `sub` whose `scope` claim is `scope`
/// (space-separated names, e.g. `chat:edge`), with no `email`: a service
/// token, which creates no user. Signed as [`mint`] signs.
pub fn mint_service(secret: &str, sub: &str, scope: &str, ttl: Duration) -> String {
    sign(secret, sub, "", scope, ttl)
}

fn sign(secret: &str, sub: &str, email: &str, scope: &str, ttl: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub,
        email,
        scope,
        iat: now,
        exp: now.saturating_add(ttl.as_secs()),
    };
    let key = EncodingKey::from_secret(secret.as_bytes());
    encode(&Header::default(), &claims, &key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, decode};
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Read {
        sub: String,
        #[serde(default)]
        email: String,
        #[serde(default)]
        scope: Option<String>,
        iat: u64,
        exp: u64,
    }

    fn read(token: &str, secret: &str) -> Result<Read, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_secret(secret.as_bytes());
        decode::<Read>(token, &key, &Validation::default()).map(|data| data.claims)
    }

    #[test]
    fn a_token_carries_its_claims_and_lifetime() {
        let token = mint(
            DEV_JWT_SECRET,
            "dev-alice",
            "alice@example.com",
            Duration::from_secs(60),
        );
        let claims = read(&token, DEV_JWT_SECRET);
        assert!(claims.as_ref().is_ok_and(|claims| claims.sub == "dev-alice"
            && claims.email == "alice@example.com"
            && claims.exp - claims.iat == 60));
    }

    #[test]
    fn a_service_token_carries_its_scope_and_no_email() {
        let token = mint_service(
            DEV_JWT_SECRET,
            "chat-edge",
            "chat:edge",
            Duration::from_secs(60),
        );
        let claims = read(&token, DEV_JWT_SECRET);
        assert!(claims.as_ref().is_ok_and(|claims| claims.sub == "chat-edge"
            && claims.email.is_empty()
            && claims.scope.as_deref() == Some("chat:edge")));
    }

    #[test]
    fn a_user_token_has_no_scope() {
        let token = mint(DEV_JWT_SECRET, "dev-bob", "", Duration::from_secs(60));
        let claims = read(&token, DEV_JWT_SECRET);
        assert!(claims.is_ok_and(|claims| claims.scope.is_none()));
    }

    #[test]
    fn a_token_does_not_verify_with_another_secret() {
        let token = mint("one-secret", "dev-bob", "", Duration::from_secs(60));
        assert!(read(&token, "another-secret").is_err());
    }
}
