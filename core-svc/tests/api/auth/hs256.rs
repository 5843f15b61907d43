//! HS256 tokens: expiry, signature, audience, and what a refused call leaves behind.

use std::time::Duration;

use core_svc::{auth::dev_token, config::AuthConfig};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;
use tonic::Code;

use super::now;
use crate::helpers::{SECRET, TestCore, assert_code};

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let core = TestCore::start().await;
    let expired = encode(
        &Header::default(),
        &json!({"sub": "alice", "exp": now() - 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let forged = dev_token(
        "some-other-secret-of-enough-length",
        "alice",
        "",
        Duration::from_secs(60),
    );
    let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    let cases = [
        None,
        Some("Basic YWxpY2U6cHc=".to_string()),
        Some("Bearer".to_string()),
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {forged}")),
        Some(format!("Bearer {none}")),
        Some("Bearer not.a.jwt".to_string()),
    ];
    for authorization in cases {
        let client = core.anonymous(authorization.clone());
        let result = client.who_am_i().await;
        assert_code(result, Code::Unauthenticated);
        let send = client.send(1, "hello").await;
        assert_code(send, Code::Unauthenticated);
    }
    // Nothing was created by refused calls.
    let users: i64 = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 0);
}

#[tokio::test]
async fn the_audience_is_checked_when_configured() {
    let mut auth = AuthConfig::hs256(SECRET);
    auth.jwt_audience = Some("chat-api".into());
    let core = TestCore::start_with(auth).await;
    let sign = |aud: &str| {
        let claims = json!({"sub": "alice", "exp": now() + 600, "aud": aud});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let right = core.anonymous(Some(format!("Bearer {}", sign("chat-api"))));
    assert!(right.who_am_i().await.is_ok());
    let wrong = core.anonymous(Some(format!("Bearer {}", sign("another-api"))));
    let status = wrong.who_am_i().await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "token audience not accepted");
}
