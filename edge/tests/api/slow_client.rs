//! A client that does not read is closed on purpose (1013) once its bounded
//! outbound queue fills, while the other member's session carries on; on
//! reconnecting with the last `seq` it saw, it gets every event it missed.

use edge::config::Config;

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, User, Ws, is_signal, seqs, within};

/// Bound on the messages sent before the stalled socket must have been closed.
const MAX_MESSAGES: usize = 2_000;

/// A core and an edge whose sockets queue at most 8 frames, full for at most 250 ms.
async fn spawn_with_small_queues() -> TestApp {
    TestApp::spawn_with(|core_url| Config {
        ws_queue: 8,
        ws_stall_ms: 250,
        ..crate::helpers::edge_config(core_url)
    })
    .await
}

/// Bob sends the largest messages (4096 four-byte characters) until the
/// network buffers and the queue of the socket `stalled` reads nothing
/// from are full and the edge has dropped it; returns how many he sent.
async fn send_until_stalled_socket_is_dropped(
    app: &TestApp,
    stalled: &User,
    bob_ws: &mut Ws,
) -> usize {
    let text = "𝄞".repeat(4096);
    let mut sent = 0;
    loop {
        bob_ws.say(&text).await;
        while bob_ws.json().await["type"] != "mark_message_as_delivered" {}
        sent += 1;
        if sent % 10 == 0 && app.me(stalled).await["is_online"] == false {
            return sent;
        }
        assert!(sent < MAX_MESSAGES, "the stalled socket was never closed");
    }
}

/// Reads what the network held for a stalled socket: its room frames (not
/// `presence` or `typing`) and the close code.
async fn drain(ws: &mut Ws) -> (Vec<Value>, Option<u16>) {
    let mut frames = Vec::new();
    loop {
        match within(ws.stream.next()).await {
            Some(Ok(Message::Close(close))) => {
                return (frames, close.map(|frame| u16::from(frame.code)));
            }
            Some(Ok(Message::Text(text))) => {
                let frame = serde_json::from_str(&text).expect("a JSON frame");
                if !is_signal(&frame) {
                    frames.push(frame);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (frames, None),
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1013() {
    let app = spawn_with_small_queues().await;
    let (alice, bob, room) = app.pair().await;
    let (mut stalled, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    send_until_stalled_socket_is_dropped(&app, &alice, &mut bob_ws).await;

    let (frames, code) = drain(&mut stalled).await;
    assert_eq!(code, Some(1013), "after {} frames", frames.len());
    bob_ws.say("still here").await;
    while bob_ws.json().await["type"] != "chat_message" {}
    assert_eq!(
        app.me(&bob).await["is_online"],
        true,
        "Bob's session carries on"
    );
}

#[tokio::test]
async fn a_client_closed_with_1013_resumes_from_its_last_seq_without_a_gap() {
    let app = spawn_with_small_queues().await;
    let (alice, bob, room) = app.pair().await;
    let (mut stalled, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    let sent = send_until_stalled_socket_is_dropped(&app, &alice, &mut bob_ws).await;
    let (seen, code) = drain(&mut stalled).await;
    assert_eq!(code, Some(1013));
    let last_seen = i64::try_from(seen.len()).expect("a small count");
    assert!(last_seen > 0, "the network held some frames");
    assert_eq!(seqs(&seen), (1..=last_seen).collect::<Vec<_>>());

    // One more message while Alice is away; her reconnect marks it read last.
    bob_ws.say("still here").await;
    let frames = bob_ws
        .until(|frame| frame["type"] == "chat_message" && frame["message"]["text"] == "still here")
        .await;
    let still_here = frames.last().unwrap()["message"]["message_id"].clone();
    let mut ws = app.resume(&alice, room, last_seen).await;
    assert_eq!(ws.resumed().await, last_seen);
    let missed = ws
        .until(|frame| {
            frame["type"] == "mark_message_as_read" && frame["message"]["message_id"] == still_here
        })
        .await;
    let expected: Vec<i64> = (last_seen + 1..).take(missed.len()).collect();
    assert_eq!(seqs(&missed), expected, "no gap, no duplicate");
    let created_count = seen
        .iter()
        .chain(&missed)
        .filter(|frame| frame["type"] == "chat_message")
        .count();
    assert_eq!(created_count, sent + 1, "every message reached Alice");
}

/// Enough of the largest messages to fill the network buffers, the queues
/// and the HTTP/2 stream windows of sockets that read nothing.
const STALLING_MESSAGES: usize = 300;

#[tokio::test]
async fn stalled_sockets_do_not_hold_up_the_others() {
    // Stalled sockets stay open for the whole test.
    let app = TestApp::spawn_with(|core_url| Config {
        ws_queue: 8,
        ws_stall_ms: 120_000,
        ..crate::helpers::edge_config(core_url)
    })
    .await;
    let (alice, bob, room) = app.pair().await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(app.join(&alice, room).await.0);
    }
    let (mut bob_ws, _) = app.join(&bob, room).await;
    let text = "𝄞".repeat(4096);
    for _ in 0..STALLING_MESSAGES {
        bob_ws.say(&text).await;
        while bob_ws.json().await["type"] != "mark_message_as_delivered" {}
    }

    // The edge's one channel to the core still carries other rooms at once.
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let other_room = app.room(&carol, dave.id).await;
    let (mut carol_ws, _) = app.join(&carol, other_room).await;
    let (mut dave_ws, _) = app.join(&dave, other_room).await;
    carol_ws.say("hi").await;
    assert_eq!(dave_ws.json().await["type"], "chat_message");
    assert_eq!(app.me(&alice).await["is_online"], true, "still open");
}
