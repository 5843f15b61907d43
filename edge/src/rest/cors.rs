//! CORS on every REST path, for browser pages on the allowed origins (the
//! list WebSocket handshakes use): preflights are answered here, before
//! authentication, and every answer to an allowed origin (errors and 429s
//! included) carries `Access-Control-Allow-Origin`. Another origin gets no
//! CORS headers, so its page cannot read the answer. Tokens travel in
//! `Authorization`, never in cookies, so credentials are not allowed.

use std::time::Duration;

use axum::http::header::{
    ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_LANGUAGE, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderName, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::ws::origin::AllowedOrigins;

/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);
/// The request id header clients may send and read.
const X_REQUEST_ID: HeaderName = service_kit::request_id::HEADER_NAME;

/// The CORS layer for `origins`.
pub fn layer(origins: AllowedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _request| {
            origins.allows(Some(origin.as_bytes()), None)
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            ACCEPT,
            ACCEPT_LANGUAGE,
            CONTENT_LANGUAGE,
            X_REQUEST_ID,
        ])
        .expose_headers([RETRY_AFTER, WWW_AUTHENTICATE, X_REQUEST_ID])
        .max_age(PREFLIGHT_MAX_AGE)
}
