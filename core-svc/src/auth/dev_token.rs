//! Development tokens: HS256, signed with the configured or built-in secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// The secret used when no `CHAT_JWT_SECRET` and no JWKS URL are configured.
/// Public by nature: never run a shared deployment on it.
pub const DEV_JWT_SECRET: &str = "chat-development-secret-do-not-use-in-production";

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    email: &'a str,
    iat: u64,
    exp: u64,
}

/// Mints an HS256 token for `sub`/`email`, valid for `ttl`.
pub fn dev_token(secret: &str, sub: &str, email: &str, ttl: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = DevClaims {
        sub,
        email,
        iat: now,
        exp: now + ttl.as_secs(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}
