//! The resume handshake's input: the last `seq` a reconnecting client saw,
//! from the `X-Chat-Last-Seq` header or the `?last_seq=` query parameter
//! (browsers cannot set headers on a WebSocket). A value that is not a
//! non-negative decimal integer counts as absent, so the client gets the
//! normal history frame: a bad hint costs a reload, never the connection.

use axum::http::HeaderMap;

/// The header non-browser clients may resume with.
pub const LAST_SEQ_HEADER: &str = "x-chat-last-seq";

/// The `seq` to resume after: the header when it holds a valid one, else the query parameter.
pub fn last_seq(headers: &HeaderMap, query: Option<&str>) -> Option<i64> {
    let from_header = headers
        .get(LAST_SEQ_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_last_seq);
    from_header.or_else(|| query.and_then(parse_last_seq))
}

/// ASCII digits only (no sign, no space), small enough for an `i64`; `None` otherwise.
pub fn parse_last_seq(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_non_negative_integer_is_a_last_seq() {
        assert_eq!(parse_last_seq("0"), Some(0));
        assert_eq!(parse_last_seq("42"), Some(42));
        assert_eq!(parse_last_seq("007"), Some(7));
        assert_eq!(parse_last_seq("9223372036854775807"), Some(i64::MAX));
    }

    #[test]
    fn anything_else_counts_as_absent() {
        for raw in [
            "",
            "-1",
            "+1",
            " 1",
            "1.0",
            "1e3",
            "abc",
            "9223372036854775808",
        ] {
            assert_eq!(parse_last_seq(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn the_header_wins_over_the_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert(LAST_SEQ_HEADER, HeaderValue::from_static("5"));
        assert_eq!(last_seq(&headers, Some("9")), Some(5));
        assert_eq!(last_seq(&HeaderMap::new(), Some("9")), Some(9));
        assert_eq!(last_seq(&HeaderMap::new(), None), None);
    }

    #[test]
    fn a_malformed_header_falls_back_to_the_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert(LAST_SEQ_HEADER, HeaderValue::from_static("soon"));
        assert_eq!(last_seq(&headers, Some("9")), Some(9));
        assert_eq!(last_seq(&headers, None), None);
    }
}
