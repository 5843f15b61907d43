//! Idempotent sends: `{"message": …, "client_msg_id": …}` is acknowledged
//! with an `ack` frame, a retry with the same id (also after a reconnect)
//! stores nothing new and is acknowledged as a duplicate, and a malformed
//! id is refused with `invalid_message`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, seq, types};

/// The one frame of `kind` among `frames`.
fn find<'a>(frames: &'a [Value], kind: &str) -> &'a Value {
    let mut matching = frames.iter().filter(|frame| frame["type"] == kind);
    let found = matching
        .next()
        .unwrap_or_else(|| panic!("no {kind} in {frames:?}"));
    assert!(matching.next().is_none(), "two {kind} in {frames:?}");
    found
}

#[tokio::test]
async fn a_retry_after_a_reconnect_stores_one_message_and_is_acked_as_a_duplicate() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    ws.say_with_id("hello", "msg-1").await;
    // The ack and the message's frames come in either order.
    let frames = ws.frames(3).await;
    let created = find(&frames, "chat_message");
    let delivered = find(&frames, "mark_message_as_delivered");
    let message_id = created["message"]["message_id"].clone();
    let expected_ack = |duplicate| {
        json!({
            "type": "ack", "client_msg_id": "msg-1", "message_id": message_id,
            "seq": seq(created), "duplicate": duplicate,
        })
    };
    assert_eq!(find(&frames, "ack"), &expected_ack(false));
    let last_seen = seq(delivered);
    ws.close().await;

    let mut ws = app.resume(&alice, room, last_seen).await;
    assert_eq!(ws.resumed().await, last_seen);
    ws.say_with_id("hello again", "msg-1").await;
    assert_eq!(ws.json().await, expected_ack(true));

    // The retry appended nothing: the next event continues the sequence.
    ws.say("after").await;
    let next = ws.json().await;
    assert_eq!(next["type"], "chat_message", "no ack without client_msg_id");
    assert_eq!(seq(&next), last_seen + 1);
    let stored = app.messages(&alice, room).await;
    let texts: Vec<&str> = stored.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["after", "hello"], "one message per client_msg_id");
}

#[tokio::test]
async fn the_same_client_msg_id_from_the_other_member_is_another_message() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    alice_ws.say_with_id("from alice", "same").await;
    let frames = alice_ws.until(|frame| frame["type"] == "ack").await;
    assert_eq!(frames.last().unwrap()["duplicate"], false);
    bob_ws.say_with_id("from bob", "same").await;
    let frames = bob_ws.until(|frame| frame["type"] == "ack").await;
    assert_eq!(frames.last().unwrap()["duplicate"], false);
    assert_eq!(app.messages(&alice, room).await.len(), 2);
}

#[tokio::test]
async fn a_malformed_client_msg_id_is_an_invalid_message_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let bad_ids = [
        json!(5),
        json!(null),
        json!(true),
        json!(""),
        json!("é".repeat(65)),
        json!({ "id": 1 }),
        json!(["a"]),
    ];
    for id in bad_ids {
        ws.send_json(json!({ "message": "hi", "client_msg_id": id }))
            .await;
        let frame = ws.json().await;
        assert_eq!(frame["type"], "error", "{id}: {frame}");
        assert_eq!(frame["code"], "invalid_message", "{id}: {frame}");
        assert!(frame["detail"].is_string());
    }
    assert!(
        app.messages(&alice, room).await.is_empty(),
        "nothing stored"
    );

    // Still open; 64 characters are accepted.
    ws.say_with_id("hi", &"é".repeat(64)).await;
    let frames = ws.frames(3).await;
    let mut kinds = types(&frames);
    kinds.sort_unstable();
    assert_eq!(kinds, ["ack", "chat_message", "mark_message_as_delivered"]);
    assert_eq!(app.messages(&alice, room).await.len(), 1);
}
