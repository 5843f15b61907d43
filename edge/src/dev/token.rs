//! Development tokens for the demo page: HS256, signed with the configured
//! secret or the core's public built-in development secret. The minting is
//! `service_kit::dev_token`'s, the core's too (the edge never links the core).

use std::time::Duration;

/// The core's built-in development secret. Public by nature.
pub use service_kit::dev_token::DEV_JWT_SECRET;

/// How long a development token is valid.
pub const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Mints an HS256 token for `sub` and `email`, valid for [`DEV_TOKEN_TTL`].
pub fn mint(secret: &str, sub: &str, email: &str) -> String {
    service_kit::dev_token::mint(secret, sub, email, DEV_TOKEN_TTL)
}
