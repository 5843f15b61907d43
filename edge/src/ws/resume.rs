//! The resume handshake's input: the last `seq` a reconnecting client saw,
//! from the `X-Chat-Last-Seq` header or the `?last_seq=` query parameter
//! (browsers cannot set headers on a WebSocket). A value that is not a
//! non-negative decimal integer counts as absent, so the client gets the
//! normal history frame: a bad hint costs a reload, never the connection.
//! The user socket's resume point is the last `cursor` it received, from
//! `X-Chat-Cursor` or `?cursor=`: opaque to the edge, which passes on
//! anything short and printable (the core answers a cursor it does not know
//! with a fresh `inbox`) and counts anything else as absent.

use axum::http::HeaderMap;

/// The header non-browser clients may resume with.
pub const LAST_SEQ_HEADER: &str = "x-chat-last-seq";

/// The header non-browser clients may resume a user socket with.
pub const CURSOR_HEADER: &str = "x-chat-cursor";
/// Longer than any cursor the core hands out: counts as absent.
pub const MAX_CURSOR_BYTES: usize = 256;

/// The user socket's resume point: the header when it holds a usable one, else the query parameter.
pub fn cursor(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(CURSOR_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_cursor);
    from_header.or_else(|| query.and_then(parse_cursor))
}

/// 1 to [`MAX_CURSOR_BYTES`] visible ASCII characters; `None` otherwise.
pub fn parse_cursor(raw: &str) -> Option<String> {
    let usable = !raw.is_empty()
        && raw.len() <= MAX_CURSOR_BYTES
        && raw.bytes().all(|byte| byte.is_ascii_graphic());
    usable.then(|| raw.to_owned())
}

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
    fn a_cursor_is_passed_on_as_given_when_short_and_printable() {
        assert_eq!(parse_cursor("u1.42").as_deref(), Some("u1.42"));
        let longest = "c".repeat(MAX_CURSOR_BYTES);
        assert_eq!(parse_cursor(&longest), Some(longest.clone()));
        for raw in ["", "a b", "é", "\0", &format!("{longest}c")] {
            assert_eq!(parse_cursor(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn the_cursor_header_wins_over_the_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert(CURSOR_HEADER, HeaderValue::from_static("from-header"));
        assert_eq!(cursor(&headers, Some("q")).as_deref(), Some("from-header"));
        assert_eq!(cursor(&HeaderMap::new(), Some("q")).as_deref(), Some("q"));
        headers.insert(CURSOR_HEADER, HeaderValue::from_static(""));
        assert_eq!(cursor(&headers, Some("q")).as_deref(), Some("q"));
        assert_eq!(cursor(&HeaderMap::new(), None), None);
    }

    #[test]
    fn a_malformed_header_falls_back_to_the_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert(LAST_SEQ_HEADER, HeaderValue::from_static("soon"));
        assert_eq!(last_seq(&headers, Some("9")), Some(9));
        assert_eq!(last_seq(&headers, None), None);
    }
}
