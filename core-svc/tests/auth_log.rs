//! A refused token logs why at debug level, and never the token.
//!
//! A binary of its own with one test: the subscriber is the process-wide
//! default, so no other test's thread can make tracing cache a callsite as
//! uninteresting before this test's subscriber sees it.

use std::sync::{Arc, Mutex, PoisonError};

use core_svc::auth::{AuthError, Verifier};
use core_svc::config::AuthConfig;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_token_logs_its_reason_at_debug_level_but_never_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let config = AuthConfig {
        jwt_issuer: Some("https://issuer.test/".into()),
        ..AuthConfig::hs256(SECRET)
    };
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let token = encode(
        &Header::default(),
        &json!({"sub": "alice", "exp": exp}),
        &key,
    )
    .unwrap();

    let verifier = Verifier::new(&config).unwrap();
    let refused = verifier.verify(Some(&format!("Bearer {token}"))).await;

    assert_eq!(refused, Err(AuthError::Invalid));
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token refused"), "{logs}");
    assert!(logs.contains("iss"), "the missing claim is named: {logs}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature), "{logs}");
}
