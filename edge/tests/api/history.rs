//! The history frame (first frame: the last 50 messages that are not
//! deleted, newest first) and read-on-connect.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, is_wire_time, types};

fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|item| item["message_id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn history_holds_the_last_fifty_undeleted_messages_newest_first() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let sent = app.seed(&alice, room, 55).await;
    for deleted in [sent[54], sent[20]] {
        let (status, _) = app.delete(&alice, deleted).await;
        assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    }
    let (_ws, history) = app.join(&bob, room).await;
    let expected: Vec<i64> = sent
        .iter()
        .rev()
        .copied()
        .filter(|id| ![sent[54], sent[20]].contains(id))
        .take(50)
        .collect();
    assert_eq!(ids(&history), expected);
}

#[tokio::test]
async fn history_items_have_the_documented_fields_and_time_format() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    app.seed(&alice, room, 1).await;
    let (_ws, history) = app.join(&bob, room).await;
    let item = history[0].as_object().expect("an object");
    let keys: BTreeSet<&str> = item.keys().map(String::as_str).collect();
    let documented = [
        "created_at",
        "message_id",
        "sender_email",
        "sender_id",
        "status",
        "text",
        "updated_at",
    ];
    assert_eq!(keys, BTreeSet::from(documented));
    assert!(item["message_id"].is_i64());
    assert_eq!(item["text"], "message 0");
    assert_eq!(item["sender_id"], alice.id);
    assert_eq!(item["sender_email"], "alice@example.com");
    assert_eq!(item["status"], "delivered", "not read before Bob's connect");
    assert!(is_wire_time(&item["created_at"]), "{}", item["created_at"]);
    assert!(is_wire_time(&item["updated_at"]), "{}", item["updated_at"]);
}

#[tokio::test]
async fn connecting_marks_the_other_members_messages_read_after_the_history() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let sent = app.seed(&alice, room, 3).await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, history) = app.join(&bob, room).await;
    assert_eq!(history.len(), 3);
    for ws in [&mut bob_ws, &mut alice_ws] {
        let frames = ws.frames(3).await;
        assert_eq!(types(&frames), ["mark_message_as_read"; 3]);
        let read: BTreeSet<i64> = frames
            .iter()
            .map(|f| f["message"]["message_id"].as_i64().unwrap())
            .collect();
        assert_eq!(read, sent.iter().copied().collect());
        assert!(frames.iter().all(|f| f["message"]["status"] == "read"));
    }
    let (_again, history) = app.join(&bob, room).await;
    assert!(
        history.iter().all(|item| item["status"] == "read"),
        "{history:?}"
    );
}

#[tokio::test]
async fn connecting_never_marks_ones_own_messages_read() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    app.seed(&alice, room, 2).await;
    let (mut ws, history) = app.join(&alice, room).await;
    assert!(history.iter().all(|item| item["status"] == "delivered"));
    ws.say("marker").await;
    let frame = ws.json().await;
    assert_eq!(
        frame["type"], "chat_message",
        "no read event came before: {frame}"
    );
    assert_eq!(frame["message"]["text"], "marker");
}

#[tokio::test]
async fn an_empty_room_has_an_empty_history() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (_ws, history) = app.join(&alice, room).await;
    assert!(history.is_empty());
}
