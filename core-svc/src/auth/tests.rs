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

/// `header.payload.signature` with the given JSON parts and signature text.
fn raw_token(header: serde_json::Value, payload: serde_json::Value, signature: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let part = |value: serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(payload))
}

fn valid_claims() -> serde_json::Value {
    json!({"sub": "alice", "exp": now() + 600})
}

#[tokio::test]
async fn alg_none_in_any_spelling_is_refused() {
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "JWT"});
        for signature in ["", "AAAA"] {
            let token = raw_token(header.clone(), valid_claims(), signature);
            assert!(
                verify(&config(), &token).await.is_err(),
                "alg {alg:?} with signature {signature:?} was accepted"
            );
        }
    }
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let token = signed(valid_claims());
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged = raw_token(
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"sub": "mallory", "exp": now() + 600}),
        signature,
    );
    let (_, forged_rest) = forged.split_once('.').unwrap();
    let tampered = format!("{header}.{forged_rest}");
    assert_eq!(verify(&config(), &tampered).await, Err(AuthError::Invalid));
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let token = signed(valid_claims());
    let last = token.chars().last().unwrap();
    let flipped = if last == 'A' { 'B' } else { 'A' };
    let tampered = format!("{}{flipped}", &token[..token.len() - 1]);
    assert!(verify(&config(), &tampered).await.is_err());
}

#[tokio::test]
async fn asymmetric_algorithms_are_refused_by_a_secret_configuration() {
    for alg in ["RS256", "ES256", "PS256", "EdDSA", "HS384"] {
        let token = raw_token(json!({"alg": alg}), valid_claims(), "c2lnbmF0dXJl");
        assert!(
            verify(&config(), &token).await.is_err(),
            "{alg} accepted by an HS256 configuration"
        );
    }
}

#[tokio::test]
async fn an_algorithm_can_be_dropped_from_the_allow_list() {
    let mut config = config();
    config.jwt_algorithms = vec!["HS512".into()];
    let token = signed(valid_claims());
    assert_eq!(
        verify(&config, &token).await,
        Err(AuthError::WrongAlgorithm)
    );
}

#[tokio::test]
async fn a_token_whose_nbf_is_a_string_is_refused() {
    let claims = json!({"sub": "alice", "exp": now() + 600, "nbf": now().to_string()});
    assert!(verify(&config(), &signed(claims)).await.is_err());
}

#[tokio::test]
async fn a_token_whose_exp_is_a_far_future_string_is_refused() {
    // The jsonwebtoken < 10.3 bypass: a string `exp` skipped the check.
    let claims = json!({"sub": "alice", "exp": "99999999999"});
    assert!(verify(&config(), &signed(claims)).await.is_err());
    let claims = json!({"sub": "alice", "exp": null});
    assert!(verify(&config(), &signed(claims)).await.is_err());
}

#[tokio::test]
async fn a_token_without_nbf_is_accepted() {
    assert!(verify(&config(), &signed(valid_claims())).await.is_ok());
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted_and_beyond_it_refused() {
    let recent = signed(json!({"sub": "alice", "exp": now() - 10}));
    assert!(verify(&config(), &recent).await.is_ok());
    let mut strict = config();
    strict.jwt_leeway_secs = 0;
    assert_eq!(verify(&strict, &recent).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_missing_or_non_string_sub_is_refused() {
    for claims in [
        json!({"exp": now() + 600}),
        json!({"sub": "", "exp": now() + 600}),
        json!({"sub": 42, "exp": now() + 600}),
        json!({"sub": null, "exp": now() + 600}),
    ] {
        assert!(
            verify(&config(), &signed(claims.clone())).await.is_err(),
            "{claims} accepted"
        );
    }
}

#[tokio::test]
async fn an_audience_list_must_contain_the_configured_audience() {
    let mut config = config();
    config.jwt_audience = Some("chat".into());
    let listed = signed(json!({"sub": "a", "exp": now() + 600, "aud": ["other", "chat"]}));
    assert!(verify(&config, &listed).await.is_ok());
    let unlisted = signed(json!({"sub": "a", "exp": now() + 600, "aud": ["other"]}));
    assert_eq!(
        verify(&config, &unlisted).await,
        Err(AuthError::WrongAudience)
    );
}

#[tokio::test]
async fn header_key_material_does_not_replace_the_configured_secret() {
    // A token signed with the attacker's secret, naming that key in every
    // header field RFC 7515 allows: the configured secret still decides.
    let attacker = "attacker-secret-of-at-least-32-bytes!!";
    let header = Header {
        jku: Some("http://127.0.0.1:1/jwks.json".into()),
        x5u: Some("http://127.0.0.1:1/cert.pem".into()),
        x5c: Some(vec!["MIIB".into()]),
        kid: Some("attacker".into()),
        ..Header::default()
    };
    let token = encode(
        &header,
        &valid_claims(),
        &EncodingKey::from_secret(attacker.as_bytes()),
    )
    .unwrap();
    assert_eq!(verify(&config(), &token).await, Err(AuthError::Invalid));
}

#[test]
fn a_short_secret_is_refused_outside_development_mode() {
    let short = AuthConfig::hs256("only-31-bytes-long-secret-value");
    assert_eq!(short.jwt_secret.as_ref().unwrap().expose().len(), 31);
    assert!(matches!(
        Verifier::new(&short),
        Err(AuthSetupError::WeakSecret)
    ));
    let dev = AuthConfig {
        dev_mode: true,
        ..short
    };
    assert!(Verifier::new(&dev).is_ok());
    assert!(Verifier::new(&AuthConfig::hs256("x".repeat(MIN_SECRET_BYTES))).is_ok());
}

#[test]
fn the_built_in_development_secret_needs_no_flag() {
    assert!(Verifier::new(&AuthConfig::default()).is_ok());
    assert!(DEV_JWT_SECRET.len() >= MIN_SECRET_BYTES);
}

#[test]
fn bearer_extraction_refuses_odd_forms() {
    assert_eq!(bearer_token(Some("Bearer a b")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("Bearer  ")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("Token abc")), Err(AuthError::Malformed));
    assert_eq!(bearer_token(Some("  Bearer abc  ")), Ok("abc"));
}

#[tokio::test]
async fn the_identity_carries_the_exp_the_validation_read() {
    let now = now();
    let whole = signed(json!({"sub": "alice", "exp": now + 600}));
    assert_eq!(verify(&config(), &whole).await.unwrap().exp, now + 600);
    // 0.5 rounds up, as jsonwebtoken's own check rounds it.
    let fractional = signed(json!({"sub": "alice", "exp": now as f64 + 3600.5}));
    assert_eq!(
        verify(&config(), &fractional).await.unwrap().exp,
        now + 3601
    );
}

#[tokio::test]
async fn fractional_exp_and_nbf_are_accepted_like_whole_ones() {
    let claims = json!({"sub": "alice", "exp": now() as f64 + 600.25, "nbf": now() as f64 - 10.75});
    assert!(verify(&config(), &signed(claims)).await.is_ok());
    let early = json!({"sub": "alice", "exp": now() as f64 + 600.5, "nbf": now() as f64 + 300.5});
    assert_eq!(
        verify(&config(), &signed(early)).await,
        Err(AuthError::NotYetValid)
    );
}

#[tokio::test]
async fn a_crit_header_is_refused_whatever_it_names() {
    let header = Header {
        crit: Some(vec!["exp".into()]),
        ..Header::default()
    };
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let token = encode(&header, &json!({"sub": "alice", "exp": now() + 60}), &key).unwrap();
    assert_eq!(
        verify(&config(), &token).await,
        Err(AuthError::UnknownCritical)
    );
}

#[tokio::test]
async fn a_nul_character_in_sub_or_email_is_refused() {
    for claims in [
        json!({"sub": "a\0", "exp": now() + 60}),
        json!({"sub": "alice", "email": "a\0@example.com", "exp": now() + 60}),
    ] {
        let token = signed(claims);
        assert_eq!(verify(&config(), &token).await, Err(AuthError::NulInClaims));
    }
}
