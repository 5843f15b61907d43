//! Bad client frames: the documented `error` frame, the socket stays open and
//! nothing is stored; messages over 64 KiB close the socket with 1009.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::helpers::{TestApp, Ws};

/// Expects an error frame with `code` next.
async fn assert_error(ws: &mut Ws, code: &str, sent: &str) {
    let frame = ws.json().await;
    assert_eq!(frame["type"], "error", "after {sent:.40}: {frame}");
    assert_eq!(frame["code"], code, "after {sent:.40}: {frame}");
    assert!(frame["detail"].is_string());
}

#[tokio::test]
async fn every_bad_frame_gets_its_error_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let too_long = json!({ "message": "é".repeat(4097) }).to_string();
    let cases = [
        ("hello", "invalid_json"),
        ("{\"message\": ", "invalid_json"),
        ("[\"message\"]", "invalid_json"),
        ("\"message\"", "invalid_json"),
        ("42", "invalid_json"),
        ("{}", "invalid_message"),
        ("{\"text\": \"hi\"}", "invalid_message"),
        ("{\"message\": 5}", "invalid_message"),
        ("{\"message\": null}", "invalid_message"),
        ("{\"message\": \"\"}", "invalid_message"),
        ("{\"message\": \"  \\n\\t \"}", "invalid_message"),
        (too_long.as_str(), "message_too_long"),
    ];
    for (sent, code) in cases {
        ws.send_text(sent).await;
        assert_error(&mut ws, code, sent).await;
    }
    ws.send_message(Message::binary(b"{\"message\": \"hi\"}".to_vec()))
        .await;
    assert_error(&mut ws, "invalid_json", "binary").await;

    // Still open, and the first stored message is the good one.
    let at_limit = format!("  {}  ", "é".repeat(4096));
    ws.say(&at_limit).await;
    let frame = ws.json().await;
    assert_eq!(frame["type"], "chat_message");
    assert_eq!(frame["message"]["text"], "é".repeat(4096));
    ws.close().await;
    let (_ws, history) = app.join(&alice, room).await;
    assert_eq!(history.len(), 1, "only the good message was stored");
}

#[tokio::test]
async fn a_frame_just_under_64_kib_is_answered_not_closed() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let big = json!({ "message": "a".repeat(60_000) }).to_string();
    ws.send_text(&big).await;
    assert_error(&mut ws, "message_too_long", "60 000 characters").await;
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let huge = json!({ "message": "a".repeat(64 * 1024) }).to_string();
    ws.send_text(&huge).await;
    assert_eq!(ws.closed().await, 1009);
    let (_ws, history) = app.join(&alice, room).await;
    assert!(history.is_empty());
}

#[tokio::test]
async fn fragments_over_64_kib_together_close_with_1009() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let part = "a".repeat(40 * 1024);
    let first = RawFrame::message(
        format!("{{\"message\": \"{part}"),
        OpCode::Data(Data::Text),
        false,
    );
    let last = RawFrame::message(format!("{part}\"}}"), OpCode::Data(Data::Continue), true);
    ws.send_message(Message::Frame(first)).await;
    ws.send_message(Message::Frame(last)).await;
    assert_eq!(ws.closed().await, 1009);
}
