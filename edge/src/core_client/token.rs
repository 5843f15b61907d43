//! [`BearerToken`]: a caller's token as the edge forwards it, checked for
//! shape (never verified: the core does that) and never printed.

use std::fmt;

use tonic::metadata::AsciiMetadataValue;

use super::MAX_TOKEN_BYTES;

/// A syntactically valid bearer token, ready to forward. Never printed.
#[derive(Clone)]
pub struct BearerToken(pub(super) AsciiMetadataValue);

impl BearerToken {
    /// A bare token (`?token=` of a WebSocket URL); `None` when empty, over
    /// [`MAX_TOKEN_BYTES`] or not made of visible ASCII characters. Every way
    /// in (header, query, frame) comes through here.
    pub fn parse(token: &str) -> Option<Self> {
        let valid = !token.is_empty()
            && token.len() <= MAX_TOKEN_BYTES
            && token.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return None;
        }
        let mut value = AsciiMetadataValue::try_from(format!("Bearer {token}")).ok()?;
        value.set_sensitive(true);
        Some(Self(value))
    }

    /// The value of an `Authorization` header: exactly `Bearer <token>`
    /// (scheme case-insensitive). `Basic …`, a bare token or `Bearer` alone give `None`.
    pub fn from_authorization(header: &str) -> Option<Self> {
        let mut parts = header.split_ascii_whitespace();
        let (Some(scheme), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        Self::parse(token)
    }

    /// The bare token, for keying the REST rate limiter's cache by a keyed
    /// hash of it; keep it out of logs.
    pub(crate) fn expose(&self) -> &str {
        let value = self.0.to_str().unwrap_or_default();
        value.strip_prefix("Bearer ").unwrap_or_default()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_header_yields_a_token() {
        let token = BearerToken::from_authorization("Bearer abc.def.ghi").expect("valid");
        assert_eq!(token.0.to_str().unwrap(), "Bearer abc.def.ghi");
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        assert!(BearerToken::from_authorization("bearer abc").is_some());
    }

    #[test]
    fn malformed_headers_yield_nothing() {
        for header in [
            "",
            "Bearer",
            "Bearer ",
            "abc.def.ghi",
            "Basic dXNlcjpwdw==",
            "Bearer a b",
        ] {
            assert!(
                BearerToken::from_authorization(header).is_none(),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_token_with_control_characters_is_refused() {
        assert!(BearerToken::parse("abc\ndef").is_none());
        assert!(BearerToken::parse("").is_none());
    }

    #[test]
    fn a_token_over_the_size_limit_is_refused() {
        assert!(BearerToken::parse(&"a".repeat(MAX_TOKEN_BYTES)).is_some());
        assert!(BearerToken::parse(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_none());
        let header = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert!(BearerToken::from_authorization(&header).is_none());
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = BearerToken::parse("secret-token").expect("valid");
        assert!(!format!("{token:?}").contains("secret"));
    }
}
