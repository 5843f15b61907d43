//! Connecting to `/ws/chat/<room_id>/`: where the token may come from, which
//! paths are served, and the refusals (4401, 4403, 4404) that send nothing
//! but the close frame.

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Frame, TestApp, Ws};

/// Asserts the very first thing on the socket is a close frame with `code`.
async fn assert_refused(mut ws: Ws, code: u16) {
    match ws.frame().await {
        Frame::Close(Some(got)) => assert_eq!(got, code),
        other => panic!("expected close {code} and nothing before it, got {other:?}"),
    }
}

#[tokio::test]
async fn no_token_closes_with_4401() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    assert_refused(app.ws_raw(&format!("/ws/chat/{room}/"), None).await, 4401).await;
    let basic = Some("Basic YWxpY2U6c2VjcmV0".to_owned());
    assert_refused(app.ws_raw(&format!("/ws/chat/{room}/"), basic).await, 4401).await;
}

#[tokio::test]
async fn a_refused_token_closes_with_4401() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    let header = Some("Bearer not.a.jwt".to_owned());
    assert_refused(app.ws_raw(&format!("/ws/chat/{room}/"), header).await, 4401).await;
    let query = format!("/ws/chat/{room}/?token=not.a.jwt");
    assert_refused(app.ws_raw(&query, None).await, 4401).await;
    // Authentication first: a bad token on a path with no room id is still 4401.
    assert_refused(
        app.ws_raw("/ws/chat/abc/?token=not.a.jwt", None).await,
        4401,
    )
    .await;
}

#[tokio::test]
async fn an_unknown_room_closes_with_4404() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_refused(app.ws(&alice, 999_999).await, 4404).await;
    let header = Some(format!("Bearer {}", alice.token));
    assert_refused(app.ws_raw("/ws/chat/abc/", header.clone()).await, 4404).await;
    assert_refused(app.ws_raw("/ws/chat/0/", header).await, 4404).await;
}

#[tokio::test]
async fn a_stranger_closes_with_4403() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    assert_refused(app.ws(&carol, room).await, 4403).await;
}

#[tokio::test]
async fn a_refused_socket_receives_no_events() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    let stranger = app.ws(&carol, room).await;
    app.seed(&alice, room, 1).await;
    assert_refused(stranger, 4403).await;
}

#[tokio::test]
async fn the_token_may_come_from_the_query_string() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let mut ws = app
        .ws_raw(&format!("/ws/chat/{room}/?token={}", alice.token), None)
        .await;
    assert!(ws.history().await.is_empty());
    ws.say("via query").await;
    assert_eq!(ws.json().await["type"], "chat_message");
}

#[tokio::test]
async fn every_documented_path_form_is_served() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let header = Some(format!("Bearer {}", alice.token));
    for path in [
        format!("/ws/chat/{room}/"),
        format!("/ws/chat/{room}"),
        format!("/en/ws/chat/{room}/"),
        format!("/uk/ws/chat/{room}"),
    ] {
        let mut ws = app.ws_raw(&path, header.clone()).await;
        assert!(ws.history().await.is_empty(), "{path}");
        ws.close().await;
    }
}

#[tokio::test]
async fn a_client_close_is_echoed() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let goodbye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.stream.close(Some(goodbye)).await.expect("close sent");
    assert_eq!(ws.closed().await, Ws::normal());
}

#[tokio::test]
async fn a_request_that_is_no_websocket_handshake_gets_the_documented_refusals() {
    let app = TestApp::spawn().await;
    let url = |path: &str| format!("http://{}{path}", app.ws_addr);
    let plain = app.http.get(url("/ws/chat/1/")).send().await.unwrap();
    assert_eq!(plain.status(), 400);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Connection header did not include 'upgrade'"
    );
    let old = app
        .http
        .get(url("/ws/user/"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "8")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 400);
    let body: serde_json::Value = old.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "`Sec-WebSocket-Version` header did not include '13'"
    );
}
