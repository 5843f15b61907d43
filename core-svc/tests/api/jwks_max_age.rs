//! Keys read from a JWKS are trusted for a bounded time: a key removed from
//! the document stops verifying once the keys are older than the maximum
//! age, and a failed re-read then refuses tokens instead of trusting stale keys.

use std::sync::{
    Arc,
    atomic::{AtomicU8, AtomicUsize, Ordering},
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{Router, http::StatusCode, routing::get};
use core_svc::config::AuthConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tonic::Code;

use crate::helpers::TestCore;

/// What the JWKS server answers.
const SERVES_KEY: u8 = 0;
const SERVES_NO_KEY: u8 = 1;
const FAILS: u8 = 2;

/// A JWKS server whose answer the test switches; the URL, the switch and the read count.
async fn switchable_jwks() -> (String, Arc<AtomicU8>, Arc<AtomicUsize>) {
    let mode = Arc::new(AtomicU8::new(SERVES_KEY));
    let reads = Arc::new(AtomicUsize::new(0));
    let (serving, counter) = (Arc::clone(&mode), Arc::clone(&reads));
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = match serving.load(Ordering::SeqCst) {
                SERVES_KEY => (
                    StatusCode::OK,
                    include_str!("../fixtures/jwks.json").to_owned(),
                ),
                SERVES_NO_KEY => (StatusCode::OK, r#"{"keys": []}"#.to_owned()),
                _ => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
            };
            async move { answer }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, mode, reads)
}

fn rs256_token() -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": "auth0|erin", "exp": exp});
    let key = EncodingKey::from_rsa_pem(include_bytes!("../fixtures/rsa_private.pem")).unwrap();
    encode(&header, &claims, &key).unwrap()
}

/// A JWKS core whose keys live one second and may be re-read at any time.
async fn core_with_short_lived_keys(url: String) -> TestCore {
    TestCore::start_with(AuthConfig {
        jwks_url: Some(url),
        jwks_min_refresh_secs: 0,
        jwks_max_age_secs: 1,
        ..AuthConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_verifying_after_the_maximum_age() {
    let (url, mode, reads) = switchable_jwks().await;
    let core = core_with_short_lived_keys(url).await;
    let client = core.anonymous(Some(format!("Bearer {}", rs256_token())));
    client.who_am_i().await.expect("the key verifies");
    client.who_am_i().await.expect("the cached key verifies");
    assert_eq!(reads.load(Ordering::SeqCst), 1);

    mode.store(SERVES_NO_KEY, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let status = client
        .who_am_i()
        .await
        .expect_err("the removed key is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the old keys made it re-read"
    );
}

#[tokio::test]
async fn a_failed_reread_after_the_maximum_age_refuses_tokens() {
    let (url, mode, _reads) = switchable_jwks().await;
    let core = core_with_short_lived_keys(url).await;
    let client = core.anonymous(Some(format!("Bearer {}", rs256_token())));
    client.who_am_i().await.expect("the key verifies");

    mode.store(FAILS, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let status = client
        .who_am_i()
        .await
        .expect_err("stale keys are not trusted");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "signing keys unavailable");

    mode.store(SERVES_KEY, Ordering::SeqCst);
    client
        .who_am_i()
        .await
        .expect("a good read trusts the key again");
}
