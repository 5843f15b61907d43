//! The resume handshake: a client reconnecting with the last `seq` it saw
//! (`?last_seq=` or `X-Chat-Last-Seq`) gets `{"type": "resumed"}` and then
//! exactly the room events after it — those of its time away and the read
//! receipts its reconnect causes — in order, with no gap and no duplicate.
//! A resume the log cannot serve gets the normal history array instead.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, Ws, seq, seqs, types};

/// The `seq`s that follow `last_seen` with no gap.
fn after(last_seen: i64, count: usize) -> Vec<i64> {
    (last_seen + 1..).take(count).collect()
}

fn message_id(frame: &Value) -> i64 {
    frame["message"]["message_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no message id in {frame}"))
}

#[tokio::test]
async fn a_reconnect_with_last_seq_gets_exactly_the_missed_events_then_live_ones() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    alice_ws.say("first").await;
    let seen = bob_ws.frames(3).await;
    alice_ws.frames(3).await;
    let last_seen = seq(&seen[2]);
    bob_ws.close().await;
    app.wait_for_presence(&bob, false).await;

    // While Bob is away: two messages, an edit and a delete.
    alice_ws.say("second").await;
    alice_ws.say("third").await;
    let mut away = alice_ws.frames(4).await;
    let (second, third) = (message_id(&away[0]), message_id(&away[2]));
    let (status, _) = app.edit(&alice, message_id(&seen[0]), "first!").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.delete(&alice, second).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    away.extend(alice_ws.frames(2).await);

    let mut bob_ws = app.resume(&bob, room, last_seen).await;
    assert_eq!(bob_ws.resumed().await, last_seen);
    let missed = bob_ws.frames(away.len()).await;
    assert_eq!(types(&missed), types(&away));
    assert_eq!(seqs(&missed), seqs(&away));
    assert_eq!(seqs(&missed), after(last_seen, away.len()));

    // The reconnect itself marks "third" read (the deleted "second" stays as it was).
    let read = bob_ws.json().await;
    assert_eq!(read["type"], "mark_message_as_read", "{read}");
    assert_eq!(message_id(&read), third);
    assert_eq!(alice_ws.json().await, read, "Alice sees the same receipt");

    alice_ws.say("fourth").await;
    let live = bob_ws.frames(3).await;
    let mut all = seqs(&missed);
    all.push(seq(&read));
    all.extend(seqs(&live));
    assert_eq!(all, after(last_seen, all.len()), "no gap, no duplicate");
}

#[tokio::test]
async fn the_resume_point_may_come_with_a_query_token_or_in_a_header() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    app.seed(&alice, room, 1).await; // seq 1 created, 2 delivered

    let path = format!("/ws/chat/{room}/?token={}&last_seq=1", bob.token);
    let mut ws = app.ws_raw(&path, None).await;
    assert_eq!(ws.resumed().await, 1);
    let frames = ws.frames(2).await;
    assert_eq!(
        types(&frames),
        ["mark_message_as_delivered", "mark_message_as_read"]
    );
    assert_eq!(seqs(&frames), [2, 3]);
    ws.close().await;

    let bearer = format!("Bearer {}", bob.token);
    let headers = [("authorization", bearer.as_str()), ("x-chat-last-seq", "3")];
    let mut ws = app.ws_with(&format!("/ws/chat/{room}/"), &headers).await;
    assert_eq!(ws.resumed().await, 3);
    let (mut alice_ws, _) = app.join(&alice, room).await;
    alice_ws.say("anyone?").await;
    let next = ws.json().await;
    assert_eq!(
        next["type"], "chat_message",
        "nothing before the live event"
    );
    assert_eq!(seq(&next), 4);
}

/// Asserts the first frame is the history array and returns it.
async fn history_of(mut ws: Ws) -> (Ws, Vec<Value>) {
    let first = ws.json().await;
    let Value::Array(items) = first else {
        panic!("expected the history array, got {first}");
    };
    (ws, items)
}

#[tokio::test]
async fn a_resume_the_log_cannot_serve_gets_the_normal_history() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    app.seed(&alice, room, 2).await; // seq 1..=4

    let (mut ws, history) = history_of(app.resume(&bob, room, 1_000).await).await;
    assert_eq!(history.len(), 2, "the latest messages, not a resume");
    let reads = ws.frames(2).await;
    assert_eq!(types(&reads), ["mark_message_as_read"; 2]);
    assert_eq!(seqs(&reads), [5, 6]);
    ws.close().await;

    for bad in ["abc", "-1", "1.5", "", "+3", "99999999999999999999"] {
        let path = format!("/ws/chat/{room}/?last_seq={bad}");
        let ws = app
            .ws_raw(&path, Some(format!("Bearer {}", bob.token)))
            .await;
        let (ws, history) = history_of(ws).await;
        assert_eq!(history.len(), 2, "last_seq={bad:?} counts as absent");
        ws.close().await;
    }
}

#[tokio::test]
async fn a_resumed_connection_can_itself_be_resumed() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, history) = app.join(&bob, room).await;
    assert!(history.is_empty());
    alice_ws.say("one").await;
    assert_eq!(seqs(&bob_ws.frames(3).await), [1, 2, 3]);
    bob_ws.close().await;
    app.wait_for_presence(&bob, false).await;

    // Nothing was missed: the resumed frame, then live events only.
    let mut bob_ws = app.resume(&bob, room, 3).await;
    assert_eq!(bob_ws.resumed().await, 3);
    alice_ws.say("two").await;
    assert_eq!(seqs(&bob_ws.frames(3).await), [4, 5, 6]);
    bob_ws.close().await;
    app.wait_for_presence(&bob, false).await;

    alice_ws.say("three").await;
    let mut bob_ws = app.resume(&bob, room, 6).await;
    assert_eq!(bob_ws.resumed().await, 6);
    let missed = bob_ws.frames(3).await;
    assert_eq!(
        types(&missed),
        [
            "chat_message",
            "mark_message_as_delivered",
            "mark_message_as_read"
        ]
    );
    assert_eq!(seqs(&missed), [7, 8, 9]);
}
