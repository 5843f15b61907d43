//! Sending over the socket and the frames every member's sockets receive:
//! `chat_message`, `mark_message_as_delivered` and (when the recipient is
//! connected) `mark_message_as_read`, consecutive and in one order.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, is_wire_time, types};

/// Checks `M` of an event frame.
fn assert_message(frame: &Value, status: &str, text: &str, sender_id: i64) {
    let message = frame["message"].as_object().expect("a message object");
    let keys: BTreeSet<&str> = message.keys().map(String::as_str).collect();
    let documented = [
        "created_at",
        "message_id",
        "sender_id",
        "status",
        "text",
        "updated_at",
    ];
    assert_eq!(keys, BTreeSet::from(documented), "{frame}");
    assert_eq!(message["status"], status, "{frame}");
    assert_eq!(message["text"], text);
    assert_eq!(message["sender_id"], sender_id);
    assert!(message["message_id"].is_i64());
    assert!(is_wire_time(&message["created_at"]), "{frame}");
    assert!(is_wire_time(&message["updated_at"]), "{frame}");
}

#[tokio::test]
async fn with_both_members_connected_both_see_sent_delivered_read() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    alice_ws.say("  Hello, how are you?  ").await;
    let alice_frames = alice_ws.frames(3).await;
    let bob_frames = bob_ws.frames(3).await;
    assert_eq!(
        alice_frames, bob_frames,
        "every socket sees the same frames"
    );
    let expected = [
        "chat_message",
        "mark_message_as_delivered",
        "mark_message_as_read",
    ];
    assert_eq!(types(&alice_frames), expected);
    let statuses = ["send", "delivered", "read"];
    for (frame, status) in alice_frames.iter().zip(statuses) {
        assert_message(frame, status, "Hello, how are you?", alice.id);
    }
    let id = &alice_frames[0]["message"]["message_id"];
    assert!(
        alice_frames
            .iter()
            .all(|frame| &frame["message"]["message_id"] == id)
    );
    let first = &alice_frames[0]["message"];
    assert!(
        alice_frames
            .iter()
            .all(|f| f["message"]["updated_at"] == first["updated_at"]),
        "updated_at does not change on status changes"
    );
    let seqs: Vec<i64> = alice_frames
        .iter()
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
}

#[tokio::test]
async fn with_the_recipient_away_the_read_waits_for_their_connect() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    alice_ws.say("are you there?").await;
    let frames = alice_ws.frames(2).await;
    assert_eq!(
        types(&frames),
        ["chat_message", "mark_message_as_delivered"]
    );
    assert_message(&frames[1], "delivered", "are you there?", alice.id);
    let id = frames[0]["message"]["message_id"].as_i64().unwrap();

    // A later event proves no read came in between.
    let (status, _) = app.edit(&alice, id, "are you there??").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(alice_ws.json().await["type"], "message_edited");

    let (mut bob_ws, history) = app.join(&bob, room).await;
    assert_eq!(history[0]["status"], "delivered");
    for ws in [&mut bob_ws, &mut alice_ws] {
        let read = ws.json().await;
        assert_eq!(read["type"], "mark_message_as_read");
        assert_message(&read, "read", "are you there??", alice.id);
        assert_eq!(read["message"]["message_id"], id);
    }
}

#[tokio::test]
async fn the_recipients_reply_flows_back_the_same_way() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    bob_ws.say("Fine, thanks!").await;
    let frames = alice_ws.frames(3).await;
    assert_eq!(frames, bob_ws.frames(3).await);
    assert_message(&frames[0], "send", "Fine, thanks!", bob.id);
    assert_message(&frames[2], "read", "Fine, thanks!", bob.id);
}

#[tokio::test]
async fn a_second_socket_of_the_same_member_sees_the_same_frames() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut first, _) = app.join(&alice, room).await;
    let (mut second, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    second.say("from the phone").await;
    let seen = first.frames(3).await;
    assert_eq!(seen, second.frames(3).await);
    assert_eq!(seen, bob_ws.frames(3).await);
    assert_message(&seen[0], "send", "from the phone", alice.id);
}
