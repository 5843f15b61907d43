//! Two members sending at once: every socket sees one identical order, with
//! no gaps and no duplicates, and each message's three frames consecutive.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, Ws, types};

const EACH: usize = 50;

async fn send_all(ws: &mut Ws, who: &str) {
    for i in 0..EACH {
        ws.say(&format!("{who} {i}")).await;
    }
}

#[tokio::test]
async fn both_members_sending_at_once_see_one_identical_order() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    let total = 2 * EACH * 3;
    let ((), ()) = tokio::join!(
        send_all(&mut alice_ws, "alice"),
        send_all(&mut bob_ws, "bob")
    );
    let (alice_frames, bob_frames) = tokio::join!(alice_ws.frames(total), bob_ws.frames(total));
    assert_eq!(alice_frames, bob_frames, "both sockets see one order");

    let seqs: Vec<i64> = alice_frames
        .iter()
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    let gapless: Vec<i64> = (seqs[0]..seqs[0] + total as i64).collect();
    assert_eq!(seqs, gapless, "no gaps, no duplicates");

    let expected = [
        "chat_message",
        "mark_message_as_delivered",
        "mark_message_as_read",
    ];
    let mut ids = BTreeSet::new();
    for triple in alice_frames.chunks(3) {
        assert_eq!(types(triple), expected, "{triple:?}");
        let id = &triple[0]["message"]["message_id"];
        assert!(
            triple
                .iter()
                .all(|frame| &frame["message"]["message_id"] == id)
        );
        assert!(ids.insert(id.as_i64().unwrap()), "message {id} seen twice");
    }
    assert_eq!(ids.len(), 2 * EACH);
    assert_eq!(
        per_sender_order(&alice_frames, "alice"),
        (0..EACH).collect::<Vec<_>>()
    );
    assert_eq!(
        per_sender_order(&alice_frames, "bob"),
        (0..EACH).collect::<Vec<_>>()
    );
}

/// The numbers of `who`'s messages in the order their `chat_message` frames came.
fn per_sender_order(frames: &[Value], who: &str) -> Vec<usize> {
    frames
        .iter()
        .filter(|frame| frame["type"] == "chat_message")
        .filter_map(|frame| {
            frame["message"]["text"]
                .as_str()?
                .strip_prefix(&format!("{who} "))
        })
        .map(|number| number.parse().expect("a number"))
        .collect()
}
