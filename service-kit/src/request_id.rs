//! Request ids: the `x-request-id` header that names one request in the
//! logs of the edge and the core. A caller's id is kept when it is 1 to
//! [`MAX_LEN`] visible ASCII characters (so one caller's metadata cannot
//! grow the HTTP/2 header block the edge's callers share); otherwise the
//! service numbers the request itself.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, HeaderName};

/// The header (and gRPC metadata key) that carries the id.
pub const HEADER: &str = "x-request-id";
/// [`HEADER`] as a header name.
pub const HEADER_NAME: HeaderName = HeaderName::from_static(HEADER);
/// The longest id that is kept and forwarded, in bytes.
pub const MAX_LEN: usize = 64;

/// Whether `id` may be kept and forwarded: 1 to [`MAX_LEN`] bytes.
pub fn is_acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN
}

/// The ids one service gives requests that come without one:
/// `<prefix>-1`, `<prefix>-2`, …
#[derive(Debug)]
pub struct RequestIds {
    prefix: &'static str,
    next: AtomicU64,
}

impl RequestIds {
    /// Ids `<prefix>-1`, `<prefix>-2`, … (usable in a `static`).
    pub const fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }

    /// The caller's [`HEADER`] when it is acceptable visible ASCII, or the next id of this sequence.
    pub fn of(&self, headers: &HeaderMap) -> String {
        headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_acceptable(id))
            .map_or_else(|| self.fresh(), str::to_owned)
    }

    /// The next id of this sequence.
    pub fn fresh(&self) -> String {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{number}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(id) {
            headers.insert(HEADER_NAME, value);
        }
        headers
    }

    #[test]
    fn a_callers_id_of_up_to_64_characters_is_kept() {
        let ids = RequestIds::new("t");
        assert_eq!(ids.of(&headers("abc-1")), "abc-1");
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(ids.of(&headers(&longest)), longest);
    }

    #[test]
    fn a_missing_empty_or_longer_id_is_replaced_by_a_numbered_one() {
        let ids = RequestIds::new("core");
        assert_eq!(ids.of(&HeaderMap::new()), "core-1");
        assert_eq!(ids.of(&headers("")), "core-2");
        assert_eq!(ids.of(&headers(&"a".repeat(MAX_LEN + 1))), "core-3");
    }

    #[test]
    fn an_id_that_is_not_visible_ascii_is_replaced() {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes("é".as_bytes()) {
            headers.insert(HEADER_NAME, value);
        }
        assert_eq!(RequestIds::new("edge").of(&headers), "edge-1");
    }

    #[test]
    fn acceptable_means_one_to_sixty_four_bytes() {
        assert!(!is_acceptable(""));
        assert!(is_acceptable("x"));
        assert!(!is_acceptable(&"x".repeat(MAX_LEN + 1)));
    }
}
