//! Hostile WebSocket clients: foreign origins, floods, too many sockets,
//! expiring tokens, dead peers and protocol violations.

use std::time::Duration;

use core_svc::auth::dev_token;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{Frame, SECRET, TestApp, edge_config, within};

/// The status of a handshake to `path` with this `Origin` (and a token).
async fn handshake_status(app: &TestApp, path: &str, token: &str, origin: Option<&str>) -> u16 {
    let mut request = format!("ws://{}{path}?token={token}", app.ws_addr)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        let value = HeaderValue::from_str(origin).unwrap();
        request.headers_mut().insert("origin", value);
    }
    match within(tokio_tungstenite::connect_async(request)).await {
        Ok((_stream, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = edge_config(core_url);
        config.allowed_origins = vec!["https://chat.example.com".parse().unwrap()];
        config
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let path = format!("/ws/chat/{room}/");
    for (origin, status) in [
        (Some("https://chat.example.com"), 101),
        (Some("https://chat.example.com:443"), 101),
        (None, 101),
        (Some("https://evil.example.com"), 403),
        (Some("http://chat.example.com"), 403),
        (Some("https://chat.example.com:8443"), 403),
        (Some("https://chat.example.com.evil.com"), 403),
        (Some("null"), 403),
    ] {
        let got = handshake_status(&app, &path, &alice.token, origin).await;
        assert_eq!(got, status, "origin {origin:?}");
    }
}

#[tokio::test]
async fn the_development_origins_are_allowed_by_default() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let path = format!("/ws/chat/{room}/");
    for origin in ["http://127.0.0.1:8000", "http://localhost:8001"] {
        assert_eq!(
            handshake_status(&app, &path, &alice.token, Some(origin)).await,
            101
        );
    }
    let evil = handshake_status(&app, &path, &alice.token, Some("http://evil.test")).await;
    assert_eq!(evil, 403);
}

#[tokio::test]
async fn a_flood_gets_rate_limited_then_closed_with_1008() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = edge_config(core_url);
        config.ws_rate_per_sec = 1;
        config.ws_rate_burst = 3;
        config
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    for i in 0..10 {
        ws.say(&format!("flood {i}")).await;
    }
    let mut limited = 0;
    let code = loop {
        match ws.frame().await {
            Frame::Json(frame) if frame["code"] == "rate_limited" => limited += 1,
            Frame::Json(_) => {}
            Frame::Close(code) => break code,
        }
    };
    assert_eq!(code, Some(1008));
    assert_eq!(limited, 3, "one error frame per refused message");
    let stored = app.messages(&alice, room).await;
    assert_eq!(stored.len(), 3, "only the burst was stored");
}

#[tokio::test]
async fn a_user_holds_at_most_the_configured_sockets() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = edge_config(core_url);
        config.ws_max_per_user = 2;
        config
    })
    .await;
    let (alice, bob, room) = app.pair().await;
    let (first, _) = app.join(&alice, room).await;
    let (_second, _) = app.join(&alice, room).await;
    let mut third = app.ws(&alice, room).await;
    assert_eq!(third.closed().await, 4429);
    let (_bob_socket, _) = app.join(&bob, room).await;
    first.close().await;
    within(async {
        loop {
            let mut again = app.ws(&alice, room).await;
            if let Frame::Json(_) = again.frame().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_token_that_expires_while_connected_closes_the_socket_with_4401() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let short = dev_token(SECRET, "alice", "alice@example.com", Duration::from_secs(2));
    let mut ws = app
        .ws_raw(
            &format!("/ws/chat/{room}/"),
            Some(format!("Bearer {short}")),
        )
        .await;
    ws.history().await;
    let started = std::time::Instant::now();
    assert_eq!(ws.closed().await, 4401);
    assert!(started.elapsed() < Duration::from_secs(4));
    let _ = alice;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_and_goes_offline() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = edge_config(core_url);
        config.ws_ping_ms = 200;
        config
    })
    .await;
    let (alice, bob, room) = app.pair().await;
    let (_silent, _) = app.join(&alice, room).await;
    let (mut live, _) = app.join(&bob, room).await;
    app.wait_for_presence(&alice, true).await;
    // The silent socket is never read again, so it never answers a ping;
    // the live one is read all along, and its client answers every ping.
    tokio::select! {
        got = live.frame() => panic!("the live socket got {got:?}"),
        _ = app.wait_for_presence(&alice, false) => {}
    }
    let quiet = tokio::time::timeout(Duration::from_millis(1_000), live.frame()).await;
    assert!(quiet.is_err(), "the live socket got {quiet:?}");
    assert_eq!(app.me(&bob).await["is_online"], true);
    live.say("still here").await;
    assert_eq!(live.json().await["type"], "chat_message");
}

#[tokio::test]
async fn json_fields_the_protocol_does_not_know_are_ignored() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    ws.send_json(json!({"message": "hi", "type": "message_deleted", "seq": 1}))
        .await;
    assert_eq!(ws.json().await["type"], "chat_message");
}
