//! Development tokens for the demo page: HS256, signed with the configured
//! secret or the core's public built-in development secret. The edge keeps
//! its own few lines of minting (it never links the core at run time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// The core's built-in development secret (`core_svc::auth::DEV_JWT_SECRET`;
/// a test keeps the two equal). Public by nature.
pub const DEV_JWT_SECRET: &str = "chat-development-secret-do-not-use-in-production";

/// How long a development token is valid.
pub const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    email: &'a str,
    iat: u64,
    exp: u64,
}

/// Mints an HS256 token for `sub` and `email`, valid for [`DEV_TOKEN_TTL`].
pub fn mint(secret: &str, sub: &str, email: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub,
        email,
        iat: now,
        exp: now + DEV_TOKEN_TTL.as_secs(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}
