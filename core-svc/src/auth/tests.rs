use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;
use crate::config::Secret;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

fn config() -> AuthConfig {
    AuthConfig::hs256(SECRET)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed(claims: serde_json::Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn verify(config: &AuthConfig, token: &str) -> Result<Identity, AuthError> {
    let header = format!("Bearer {token}");
    Verifier::new(config).unwrap().verify(Some(&header)).await
}

#[tokio::test]
async fn a_dev_token_verifies_with_its_secret() {
    let token = dev_token(SECRET, "alice", "a@example.com", Duration::from_secs(60));
    let identity = verify(&config(), &token).await.unwrap();
    assert_eq!(identity.sub, "alice");
    assert_eq!(identity.email, "a@example.com");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_invalid() {
    let token = dev_token("another-secret", "alice", "", Duration::from_secs(60));
    assert_eq!(verify(&config(), &token).await, Err(AuthError::Invalid));
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_leeway() {
    let token = signed(json!({"sub": "alice", "exp": now() - 120}));
    assert_eq!(verify(&config(), &token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    let token = signed(json!({"sub": "alice"}));
    assert_eq!(verify(&config(), &token).await, Err(AuthError::Invalid));
}

#[tokio::test]
async fn a_token_whose_exp_is_a_string_is_refused() {
    let token = signed(json!({"sub": "alice", "exp": (now() + 600).to_string()}));
    assert!(verify(&config(), &token).await.is_err());
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let token = signed(json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300}));
    assert_eq!(verify(&config(), &token).await, Err(AuthError::NotYetValid));
}

#[tokio::test]
async fn an_empty_sub_is_refused() {
    let token = signed(json!({"sub": " ", "exp": now() + 600}));
    assert_eq!(verify(&config(), &token).await, Err(AuthError::Invalid));
}

#[tokio::test]
async fn audience_and_issuer_are_checked_when_configured() {
    let mut config = config();
    config.jwt_audience = Some("chat".into());
    config.jwt_issuer = Some("https://issuer.example/".into());
    let good = signed(
        json!({"sub": "a", "exp": now() + 600, "aud": "chat", "iss": "https://issuer.example/"}),
    );
    assert!(verify(&config, &good).await.is_ok());
    let wrong_aud = signed(
        json!({"sub": "a", "exp": now() + 600, "aud": "other", "iss": "https://issuer.example/"}),
    );
    assert_eq!(
        verify(&config, &wrong_aud).await,
        Err(AuthError::WrongAudience)
    );
    let no_aud = signed(json!({"sub": "a", "exp": now() + 600, "iss": "https://issuer.example/"}));
    assert!(verify(&config, &no_aud).await.is_err());
    let no_iss = signed(json!({"sub": "a", "exp": now() + 600, "aud": "chat"}));
    assert!(verify(&config, &no_iss).await.is_err());
    let wrong_iss = signed(
        json!({"sub": "a", "exp": now() + 600, "aud": "chat", "iss": "https://evil.example/"}),
    );
    assert_eq!(
        verify(&config, &wrong_iss).await,
        Err(AuthError::WrongIssuer)
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    // header {"alg":"none","typ":"JWT"}, payload {"sub":"alice","exp":9999999999}
    let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    assert!(verify(&config(), token).await.is_err());
}

#[tokio::test]
async fn an_algorithm_outside_the_configuration_is_refused() {
    let claims = json!({"sub": "alice", "exp": now() + 600});
    let token = encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        verify(&config(), &token).await,
        Err(AuthError::WrongAlgorithm)
    );
}

#[test]
fn bearer_header_forms() {
    assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
    assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
    assert_eq!(bearer_token(None), Err(AuthError::Missing));
    assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("abc")), Err(AuthError::Malformed));
    assert_eq!(
        bearer_token(Some("Basic dXNlcjpwYXNz")),
        Err(AuthError::Malformed)
    );
}

#[test]
fn hmac_algorithms_cannot_be_used_with_a_jwks() {
    let config = AuthConfig {
        jwks_url: Some("http://127.0.0.1:1/jwks.json".into()),
        jwt_algorithms: vec!["RS256".into(), "HS256".into()],
        ..AuthConfig::default()
    };
    assert!(matches!(
        Verifier::new(&config),
        Err(AuthSetupError::AlgorithmMismatch(Algorithm::HS256))
    ));
}

#[test]
fn the_secret_is_not_in_debug_output() {
    let config = AuthConfig {
        jwt_secret: Some(Secret::new("s3cr3t-value")),
        ..AuthConfig::default()
    };
    assert!(!format!("{config:?}").contains("s3cr3t-value"));
}
