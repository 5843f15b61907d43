//! Authentication on REST: 401 with `WWW-Authenticate: Bearer` for missing,
//! malformed or refused tokens, checked before anything else; plus the
//! language prefix and the fact that both listen addresses serve every route.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, body_json};

/// Every REST endpoint, with valid parameters.
const ENDPOINTS: [(&str, &str); 5] = [
    ("GET", "/en/api/v1/users/me"),
    (
        "POST",
        "/en/api/v1/chatrooms/get_or_create_room/?user_id_1=1&user_id_2=2",
    ),
    ("PUT", "/en/api/v1/messages/1/edit"),
    ("DELETE", "/en/api/v1/messages/1/delete"),
    ("GET", "/en/api/v1/chatrooms/1/messages/"),
];

async fn assert_unauthorized(app: &TestApp, method: &str, path: &str, authorization: Option<&str>) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = app.request(method, path, None).json(&json!({"text": "hi"}));
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    let response = app.send(builder).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{path} with {authorization:?}"
    );
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body = body_json(response).await;
    assert!(body["detail"].is_string(), "{body}");
}

#[tokio::test]
async fn every_endpoint_needs_a_token() {
    let app = TestApp::spawn().await;
    for (method, path) in ENDPOINTS {
        assert_unauthorized(&app, method, path, None).await;
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let headers = [
        "Basic YWxpY2U6c2VjcmV0".to_owned(),
        token.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {token} extra"),
        format!("Token {token}"),
    ];
    for header in &headers {
        assert_unauthorized(&app, "GET", "/en/api/v1/users/me", Some(header)).await;
    }
}

#[tokio::test]
async fn a_token_the_core_refuses_is_unauthorized_everywhere() {
    let app = TestApp::spawn().await;
    let forged = core_svc::auth::dev_token(
        "another-secret-that-is-at-least-32-bytes",
        "mallory",
        "m@example.com",
        std::time::Duration::from_secs(600),
    );
    let header = format!("Bearer {forged}");
    for (method, path) in ENDPOINTS {
        assert_unauthorized(&app, method, path, Some(&header)).await;
    }
    assert_unauthorized(&app, "GET", "/en/api/v1/users/me", Some("Bearer not.a.jwt")).await;
}

#[tokio::test]
async fn authentication_comes_before_parameter_checks() {
    let app = TestApp::spawn().await;
    let header = "Bearer not.a.jwt";
    let bad_requests = [
        ("POST", "/en/api/v1/chatrooms/get_or_create_room/"),
        (
            "POST",
            "/en/api/v1/chatrooms/get_or_create_room/?user_id_1=x&user_id_2=1",
        ),
        ("PUT", "/en/api/v1/messages/abc/edit"),
        ("DELETE", "/en/api/v1/messages/0/delete"),
        ("GET", "/en/api/v1/chatrooms/1/messages/?limit=0"),
        ("GET", "/en/api/v1/chatrooms/x/messages/"),
    ];
    for (method, path) in bad_requests {
        assert_unauthorized(&app, method, path, Some(header)).await;
    }
    let builder = app
        .request(Method::PUT, "/en/api/v1/messages/1/edit", None)
        .header("authorization", header)
        .body("not json");
    assert_eq!(app.send(builder).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_me_shows_the_caller() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let me = app.me(&alice).await;
    assert_eq!(me["id"], alice.id);
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["is_online"], false);
    assert!(me["last_seen"].is_null(), "never connected: {me}");
    let keys: Vec<&String> = me.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{me}");
}

#[tokio::test]
async fn any_short_language_prefix_is_served() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for lang in ["en", "uk", "pt-br"] {
        let path = format!("/{lang}/api/v1/users/me");
        let (status, _) = app.call(Method::GET, &path, Some(&alice.token)).await;
        assert_eq!(status, StatusCode::OK, "{lang}");
    }
    let (status, body) = app
        .call(
            Method::GET,
            "/not-a-language/api/v1/users/me",
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].is_string());
    let (status, body) = app
        .call(Method::GET, "/en/api/v1/nothing-here", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn both_addresses_serve_rest_and_websocket() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let url = format!("http://{}/en/api/v1/users/me", app.ws_addr);
    let response = app.send(app.http.get(url).bearer_auth(&alice.token)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let url = format!(
        "ws://{}/ws/chat/{room}/?token={}",
        app.rest_addr, alice.token
    );
    let (stream, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let mut ws = crate::helpers::Ws { stream };
    assert!(ws.history().await.is_empty());
}
