//! Who the core lets in: HS256 tokens signed with the shared secret
//! ([`hs256`]), and RS256/ES256 tokens checked against a JWKS document
//! ([`jwks`]) with its refresh rules, and what a JWKS core refuses
//! ([`jwks_refusals`]).

mod hs256;
mod jwks;
mod jwks_refusals;

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, for `exp` claims.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
