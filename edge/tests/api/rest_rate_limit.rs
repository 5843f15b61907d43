//! REST writes over a user's rate get `429` with `Retry-After`; the bucket
//! belongs to the user the core verified, so new tokens of the same user do
//! not dodge it and forged tokens naming another user do not spend theirs.

use std::time::Duration;

use edge::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, User, body_json, edge_config};

/// A write that the core refuses after the limit let it through (no such message).
async fn delete(app: &TestApp, token: &str) -> (StatusCode, Option<String>, Value) {
    let response = app
        .send(app.request(
            Method::DELETE,
            "/en/api/v1/messages/999999/delete",
            Some(token),
        ))
        .await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    (response.status(), retry_after, body_json(response).await)
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(|core_url| Config {
        rest_rate_per_sec: 1,
        rest_rate_burst: 3,
        ..edge_config(core_url)
    })
    .await
}

/// A second valid token of `user` (another lifetime: another signature).
fn second_token(user: &User) -> String {
    let sub = user.email.trim_end_matches("@example.com");
    core_svc::auth::dev_token(
        crate::helpers::SECRET,
        sub,
        &user.email,
        Duration::from_secs(900),
    )
}

#[tokio::test]
async fn writes_over_the_rate_get_429_with_retry_after() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    for _ in 0..3 {
        assert_eq!(delete(&app, &alice.token).await.0, StatusCode::NOT_FOUND);
    }
    let (status, retry_after, body) = delete(&app, &alice.token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body["detail"].is_string(), "{body}");

    let (status, _, _) = delete(&app, &second_token(&alice)).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a new token, the same user"
    );
    let (status, me) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK, "reads are not limited: {me}");

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(delete(&app, &alice.token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn forged_tokens_do_not_spend_another_users_budget() {
    let app = spawn().await;
    let bob = app.user("bob").await;
    let forged = core_svc::auth::dev_token(
        "not-the-secret-of-this-core-at-least-32-bytes",
        "bob",
        &bob.email,
        Duration::from_secs(600),
    );
    for _ in 0..10 {
        assert_eq!(delete(&app, &forged).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(delete(&app, "x").await.0, StatusCode::UNAUTHORIZED);
    for _ in 0..3 {
        assert_eq!(delete(&app, &bob.token).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn every_write_method_is_limited() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, bob.id).await;
    let (status, _) = app.edit(&alice, 999_999, "hi").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = delete(&app, &alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = format!(
        "/en/api/v1/chatrooms/get_or_create_room/?user_id_1={}&user_id_2={}",
        alice.id, bob.id
    );
    let (status, body) = app.call(Method::POST, &path, Some(&alice.token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, body) = app.edit(&alice, 999_999, "hi").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(room > 0);
}
