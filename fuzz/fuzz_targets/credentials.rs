//! The credential extractors: the core's `Authorization` parser, the edge's
//! header and `?token=` parsers and its `last_seq` parser (the edge reads no
//! token claims: the core reports what it verified). Any input: no panic,
//! and whatever is accepted is well formed.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use core_svc::auth::bearer_token;
use edge::core_client::BearerToken;
use edge::ws::resume::{LAST_SEQ_HEADER, last_seq, parse_last_seq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = bearer_token(Some(&text)) {
        assert!(!token.is_empty() && !token.contains(' '));
    }
    let _ = BearerToken::from_authorization(&text);
    let _ = BearerToken::parse(&text);
    if let Some(seq) = parse_last_seq(&text) {
        assert!(seq >= 0);
    }
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(data) {
        headers.insert(LAST_SEQ_HEADER, value);
    }
    if let Some(seq) = last_seq(&headers, Some(&text)) {
        assert!(seq >= 0);
    }
});
