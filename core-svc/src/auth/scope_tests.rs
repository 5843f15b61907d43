//! The `scope` claim: read when it is a string, ignored otherwise.

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

async fn identity(claims: serde_json::Value) -> Identity {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let token = encode(&Header::default(), &claims, &key).unwrap();
    let verifier = Verifier::new(&AuthConfig::hs256(SECRET)).unwrap();
    verifier
        .verify(Some(&format!("Bearer {token}")))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_space_separated_scope_grants_each_of_its_names() {
    let identity = identity(json!({"sub": "indexer", "exp": 9_999_999_999u64,
                                   "scope": "read:x chat:events"}))
    .await;
    assert!(identity.has_scope("chat:events"));
    assert!(identity.has_scope("read:x"));
    assert!(!identity.has_scope("chat"));
}

#[tokio::test]
async fn a_token_without_scope_grants_nothing() {
    let identity = identity(json!({"sub": "alice", "exp": 9_999_999_999u64})).await;
    assert!(!identity.has_scope("chat:events"));
    assert!(!identity.has_scope(""));
}

#[tokio::test]
async fn a_scope_of_another_shape_still_verifies_but_grants_nothing() {
    let identity = identity(json!({"sub": "svc", "exp": 9_999_999_999u64,
                                   "scope": ["chat:events"]}))
    .await;
    assert!(!identity.has_scope("chat:events"));
}
