//! RS256 tokens checked against a JWKS document: key lookup by `kid`, bounded
//! rereads, refused key material in headers, and failing closed when the
//! document is unreachable or malformed.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use axum::{Router, routing::get};
use core_svc::{auth::dev_token, config::AuthConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tonic::Code;

use super::now;
use crate::helpers::{SECRET, TestCore, assert_code};

/// Serves the fixture JWKS and counts how often it is read.
pub(super) async fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reads);
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { include_str!("../../fixtures/jwks.json") }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, reads)
}

pub(super) fn rs256(kid: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let claims = json!({
        "sub": sub, "email": "rsa@example.com", "exp": now() + 600,
        "iss": "https://issuer.test/", "aud": "chat-api",
    });
    let key = EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/rsa_private.pem")).unwrap();
    encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn rs256_tokens_verify_against_a_jwks_and_unknown_kids_reread_it_once() {
    let (url, reads) = jwks_server().await;
    let auth = AuthConfig {
        jwks_url: Some(url),
        jwt_issuer: Some("https://issuer.test/".into()),
        jwt_audience: Some("chat-api".into()),
        ..AuthConfig::default()
    };
    let core = TestCore::start_with(auth).await;

    let known = core.anonymous(Some(format!(
        "Bearer {}",
        rs256("test-key-1", "auth0|alice")
    )));
    let me = known.who_am_i().await.unwrap();
    assert_eq!(me.email, "rsa@example.com");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "the first token reads the JWKS"
    );
    known.who_am_i().await.unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 1, "a known kid needs no read");

    let unknown = core.anonymous(Some(format!(
        "Bearer {}",
        rs256("rotated-key", "auth0|alice")
    )));
    let status = unknown.who_am_i().await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // Within the minute, the first miss was served by the first read.
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    let status = unknown.who_am_i().await.unwrap_err();
    assert_eq!(status.message(), "unknown signing key");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "misses within a minute read nothing"
    );

    // An HS256 token is refused outright in JWKS mode (no key confusion).
    let hs = dev_token(SECRET, "auth0|alice", "", Duration::from_secs(60));
    assert_code(
        core.anonymous(Some(format!("Bearer {hs}")))
            .who_am_i()
            .await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn an_unknown_kid_rereads_the_jwks_when_the_last_read_is_old_enough() {
    let (url, reads) = jwks_server().await;
    let auth = AuthConfig {
        jwks_url: Some(url),
        ..AuthConfig::default()
    };
    let core = TestCore::start_with(auth).await;
    // First sight of a kid that is not in the document: exactly one read.
    let unknown = core.anonymous(Some(format!(
        "Bearer {}",
        rs256("rotated-key", "auth0|bob")
    )));
    assert_code(unknown.who_am_i().await, Code::Unauthenticated);
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // Concurrent misses are coalesced and rate limited: still one read.
    let misses = (0..20).map(|_| {
        let client = unknown.clone();
        async move { client.who_am_i().await }
    });
    for result in futures::future::join_all(misses).await {
        assert_code(result, Code::Unauthenticated);
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_rotated_kid_triggers_exactly_one_reread() {
    // The document names the key `test-key-1` until rotation renames it.
    let rotated = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let (flag, counter) = (Arc::clone(&rotated), Arc::clone(&reads));
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let document = include_str!("../../fixtures/jwks.json");
            let document = if flag.load(Ordering::SeqCst) {
                document.replace("test-key-1", "test-key-2")
            } else {
                document.to_string()
            };
            async move { document }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let auth = AuthConfig {
        jwks_url: Some(url),
        jwks_min_refresh_secs: 0,
        ..AuthConfig::default()
    };
    let core = TestCore::start_with(auth).await;
    let old = core.anonymous(Some(format!(
        "Bearer {}",
        rs256("test-key-1", "auth0|carol")
    )));
    old.who_am_i().await.unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 1);

    rotated.store(true, Ordering::SeqCst);
    let new = core.anonymous(Some(format!(
        "Bearer {}",
        rs256("test-key-2", "auth0|carol")
    )));
    let me = new.who_am_i().await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "one re-read found the new kid"
    );
    new.who_am_i().await.unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 2, "the new kid is cached");
    assert_eq!(me.email, "rsa@example.com");
}
