//! What a JWKS core refuses: HS256 signed with the public key, key material
//! carried in the header, entries of the wrong type or use, floods of unknown
//! kids, `crit` headers; and failing closed when the document is unreachable
//! or not a key set.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use axum::Router;
use core_svc::config::AuthConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tonic::Code;

use super::{
    jwks::{jwks_server, rs256},
    now,
};
use crate::helpers::{SECRET, TestCore, assert_code};

/// Serves `body` at `/jwks.json` and counts requests; the URL and the count.
async fn counting_server(body: String) -> (String, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reads);
    let app = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = body.clone();
        async move { body }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, reads)
}

fn fixture_jwk(kid: &str) -> serde_json::Value {
    let mut set: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/jwks.json")).unwrap();
    let mut key = set["keys"][0].take();
    key["kid"] = json!(kid);
    key
}

fn jwks_config(url: String) -> AuthConfig {
    AuthConfig {
        jwks_url: Some(url),
        ..AuthConfig::default()
    }
}

fn rs256_with(header: Header) -> String {
    let claims = json!({"sub": "auth0|mallory", "exp": now() + 600});
    let key = EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/rsa_private.pem")).unwrap();
    encode(&header, &claims, &key).unwrap()
}

async fn assert_refused(core: &TestCore, token: &str) -> tonic::Status {
    let client = core.anonymous(Some(format!("Bearer {token}")));
    let status = client.who_am_i().await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    status
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused_by_a_jwks_core() {
    let (url, _) = jwks_server().await;
    let core = TestCore::start_with(jwks_config(url)).await;
    // RS→HS confusion: the attacker knows the public key and uses its PEM
    // (and its JWK modulus) as the HMAC secret, naming the real kid.
    let jwk = fixture_jwk("x");
    let secrets: [&[u8]; 2] = [
        include_bytes!("../../fixtures/rsa_public.pem"),
        jwk["n"].as_str().unwrap().as_bytes(),
    ];
    for secret in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("test-key-1".into());
            let claims = json!({"sub": "auth0|mallory", "exp": now() + 600});
            let token = encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
            let status = assert_refused(&core, &token).await;
            assert_eq!(status.message(), "token algorithm not accepted");
        }
    }
    // The real key still works: the refusals were not an outage.
    let good = core.anonymous(Some(format!("Bearer {}", rs256("test-key-1", "auth0|a"))));
    good.who_am_i().await.unwrap();
}

#[tokio::test]
async fn key_material_in_the_header_is_never_fetched_or_used() {
    let (url, _) = jwks_server().await;
    // The attacker's server offers the signing key under the attacker's kid:
    // honouring `jku`/`x5u` would make the token below verify.
    let attacker_set = json!({"keys": [fixture_jwk("attacker-kid")]}).to_string();
    let (attacker_url, attacker_reads) = counting_server(attacker_set).await;
    let core = TestCore::start_with(jwks_config(url)).await;
    let embedded: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(fixture_jwk("attacker-kid")).unwrap();
    let base = || Header {
        kid: Some("attacker-kid".into()),
        ..Header::new(Algorithm::RS256)
    };
    let variants = [
        Header {
            jku: Some(attacker_url.clone()),
            ..base()
        },
        Header {
            x5u: Some(attacker_url.clone()),
            ..base()
        },
        Header {
            jwk: Some(embedded),
            ..base()
        },
        Header {
            x5c: Some(vec!["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".into()]),
            ..base()
        },
    ];
    for header in variants {
        let status = assert_refused(&core, &rs256_with(header)).await;
        assert_eq!(status.message(), "unknown signing key");
    }
    assert_eq!(
        attacker_reads.load(Ordering::SeqCst),
        0,
        "header URL fetched"
    );
}

#[tokio::test]
async fn jwks_entries_of_the_wrong_type_or_use_are_ignored() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let oct_secret = "an-oct-secret-that-is-long-enough-32b";
    let mut enc = fixture_jwk("enc-key");
    enc["use"] = json!("enc");
    let mut no_kid = fixture_jwk("unused");
    no_kid.as_object_mut().unwrap().remove("kid");
    let oct = json!({"kty": "oct", "kid": "oct-key", "use": "sig",
                     "k": URL_SAFE_NO_PAD.encode(oct_secret)});
    let set = json!({"keys": [enc, oct, no_kid, fixture_jwk("sig-key")]}).to_string();
    let (url, _) = counting_server(set).await;
    let core = TestCore::start_with(jwks_config(url)).await;

    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("enc-key".into());
    assert_eq!(
        assert_refused(&core, &rs256_with(header)).await.message(),
        "unknown signing key"
    );
    for alg in [Algorithm::HS256, Algorithm::RS256] {
        let mut header = Header::new(Algorithm::HS256);
        header.alg = alg;
        header.kid = Some("oct-key".into());
        let claims = json!({"sub": "auth0|mallory", "exp": now() + 600});
        let token = if alg == Algorithm::HS256 {
            encode(
                &header,
                &claims,
                &EncodingKey::from_secret(oct_secret.as_bytes()),
            )
            .unwrap()
        } else {
            rs256_with(header)
        };
        assert_refused(&core, &token).await;
    }
    // The usable key of the same document verifies.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("sig-key".into());
    let client = core.anonymous(Some(format!("Bearer {}", rs256_with(header))));
    client.who_am_i().await.unwrap();
}

#[tokio::test]
async fn a_flood_of_random_kids_reads_the_jwks_at_most_once_per_interval() {
    let (url, reads) = jwks_server().await;
    let core = TestCore::start_with(jwks_config(url)).await;
    let tokens: Vec<String> = (0..200)
        .map(|i| rs256(&format!("random-kid-{i}-{}", now()), "auth0|mallory"))
        .collect();
    let calls = tokens.iter().map(|token| {
        let client = core.anonymous(Some(format!("Bearer {token}")));
        async move { client.who_am_i().await }
    });
    let started = std::time::Instant::now();
    for result in futures::future::join_all(calls).await {
        assert_code(result, Code::Unauthenticated);
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for 200 kids");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Later misses within the interval read nothing either.
    for token in tokens.iter().take(20) {
        assert_refused(&core, token).await;
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}

/// A JWKS URL whose server accepts connections and never answers.
async fn hanging_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_jwks_outage_fails_closed_within_a_bounded_time() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/jwks.json", listener.local_addr().unwrap())
    };
    for (url, bound) in [
        (hanging_server().await, Duration::from_secs(8)),
        (closed_port, Duration::from_secs(3)),
    ] {
        let core = TestCore::start_with(jwks_config(url)).await;
        let token = rs256("test-key-1", "auth0|alice");
        let started = std::time::Instant::now();
        let status = assert_refused(&core, &token).await;
        assert_eq!(status.message(), "signing keys unavailable");
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
        // Within the refresh interval the outage is not retried per call.
        let started = std::time::Instant::now();
        assert_refused(&core, &token).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_jwks_answer_that_is_not_a_key_set_fails_closed() {
    for body in [
        "",
        "not json",
        "{\"keys\": 5}",
        "{\"keys\": [{\"kty\": \"RSA\"}]}",
    ] {
        let (url, _) = counting_server(body.to_string()).await;
        let core = TestCore::start_with(jwks_config(url)).await;
        assert_refused(&core, &rs256("test-key-1", "auth0|alice")).await;
    }
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_refused() {
    let core = TestCore::start().await;
    let claims = json!({"sub": "alice", "exp": now() + 600});
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    for crit in [vec!["b64".to_owned()], vec!["exp".to_owned()], Vec::new()] {
        let mut header = Header {
            crit: Some(crit.clone()),
            ..Header::default()
        };
        header.extras.insert("b64", false);
        let token = encode(&header, &claims, &key).unwrap();
        let status = assert_refused(&core, &token).await;
        assert_eq!(
            status.message(),
            "token header has critical parameters that are not understood",
            "crit {crit:?}"
        );
    }
    let plain = encode(&Header::default(), &claims, &key).unwrap();
    let client = core.anonymous(Some(format!("Bearer {plain}")));
    client
        .who_am_i()
        .await
        .expect("the same token without crit verifies");
}
