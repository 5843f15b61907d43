//! U+0000 cannot be stored: in a message text, a `client_msg_id` or a
//! token's claims it is refused as bad input, never an internal failure.

use std::time::Duration;

use core_svc::auth::dev_token;
use reqwest::{Method, StatusCode};

use crate::helpers::{SECRET, TestApp};

#[tokio::test]
async fn a_nul_character_in_a_websocket_send_is_an_invalid_message() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    ws.say("a\0b").await;
    let frame = ws.json().await;
    assert_eq!(frame["code"], "invalid_message", "{frame}");
    ws.say_with_id("hello", "key\0").await;
    let frame = ws.json().await;
    assert_eq!(frame["code"], "invalid_message", "{frame}");
    assert!(app.messages(&alice, room).await.is_empty());
}

#[tokio::test]
async fn a_nul_character_in_an_edit_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let ids = app.seed(&alice, room, 1).await;
    let (status, body) = app.edit(&alice, ids[0], "a\0b").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(app.messages(&alice, room).await[0]["text"], "message 0");
}

#[tokio::test]
async fn a_token_whose_sub_or_email_holds_a_nul_character_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    for (sub, email) in [
        ("mal\0lory", "m@example.com"),
        ("mallory", "m\0@example.com"),
    ] {
        let token = dev_token(SECRET, sub, email, Duration::from_secs(60));
        let (status, body) = app
            .call(Method::GET, "/en/api/v1/users/me", Some(&token))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let mut ws = app
            .ws_raw(
                &format!("/ws/chat/{room}/"),
                Some(format!("Bearer {token}")),
            )
            .await;
        assert_eq!(ws.closed().await, 4401);
    }
    assert_eq!(app.me(&alice).await["id"], alice.id);
}
