//! Development tokens: HS256, signed with the configured or built-in
//! secret. The minting is `service_kit::dev_token`'s, shared with the edge.

use std::time::Duration;

/// The secret used when no `CHAT_JWT_SECRET` and no JWKS URL are configured.
/// Public by nature: never run a shared deployment on it.
pub use service_kit::dev_token::DEV_JWT_SECRET;

/// Mints an HS256 token for `sub`/`email`, valid for `ttl`.
pub fn dev_token(secret: &str, sub: &str, email: &str, ttl: Duration) -> String {
    service_kit::dev_token::mint(secret, sub, email, ttl)
}
