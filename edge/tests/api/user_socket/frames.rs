//! What a user socket's client sends: `send` (as a room socket's message
//! frame, with an `ack` naming the room), `typing` (to the peer's sockets of
//! both kinds, never the typer's own), `read` (as `POST …/read`), and every
//! refusal: `forbidden` for a foreign and a missing room alike,
//! `invalid_message`, `invalid_json`, the message rate.

use std::time::Duration;

use edge::config::Config as EdgeConfig;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{as_room_frame, assert_no_typing, inbox, listed_unread, next_typing, open, user_ws};
use crate::helpers::{TestApp, Ws, edge_config, seqs, types};

/// Frames up to the point where every one of `wanted` types was seen.
async fn until_all(ws: &mut Ws, wanted: &[&str]) -> Vec<Value> {
    let mut frames: Vec<Value> = Vec::new();
    while !wanted
        .iter()
        .all(|kind| frames.iter().any(|frame| frame["type"] == *kind))
    {
        frames.push(ws.json().await);
    }
    frames
}

fn of_type<'a>(frames: &'a [Value], kind: &str) -> &'a Value {
    let found = frames.iter().find(|frame| frame["type"] == kind);
    found.unwrap_or_else(|| panic!("no {kind} in {frames:?}"))
}

#[tokio::test]
async fn a_send_goes_into_its_room_and_is_acknowledged_with_the_room() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;

    let send =
        json!({"type": "send", "room_id": ab, "message": "  hello  ", "client_msg_id": "k-1"});
    ws.send_json(send.clone()).await;
    let frames = until_all(&mut ws, &["ack", "mark_message_as_read"]).await;
    let chat = of_type(&frames, "chat_message");
    let id = chat["message"]["message_id"].as_i64().expect("an id");
    assert_eq!(
        of_type(&frames, "ack"),
        &json!({"type": "ack", "client_msg_id": "k-1", "message_id": id, "seq": 1,
                "duplicate": false, "room_id": ab})
    );
    assert_eq!(
        chat["message"]["text"], "hello",
        "trimmed as on room sockets"
    );
    let events: Vec<Value> = frames.into_iter().filter(|f| f["type"] != "ack").collect();
    assert_eq!(seqs(&events), [1, 2, 3], "bob's room socket makes it read");
    assert!(events.iter().all(|f| f["unread_count"] == 0), "{events:?}");
    let seen_by_bob = bobs.frames(3).await;
    let stripped: Vec<Value> = events.iter().map(as_room_frame).collect();
    assert_eq!(stripped, seen_by_bob);

    ws.send_json(send).await;
    let again = ws.json().await;
    assert_eq!(again["type"], "ack", "{again}");
    assert_eq!(
        (again["message_id"].as_i64(), again["duplicate"].as_bool()),
        (Some(id), Some(true))
    );
    ws.send_json(json!({"type": "send", "room_id": ab, "message": "no key"}))
        .await;
    let plain = ws
        .until(|frame| frame["type"] == "mark_message_as_read")
        .await;
    assert_eq!(
        types(&plain),
        [
            "chat_message",
            "mark_message_as_delivered",
            "mark_message_as_read"
        ]
    );
    assert_eq!(
        app.messages(&bob, ab).await.len(),
        2,
        "the repeat stored nothing"
    );
}

#[tokio::test]
async fn a_frame_naming_a_foreign_or_missing_room_is_forbidden_alike() {
    let app = TestApp::spawn().await;
    let (alice, _bob, ab) = app.pair().await;
    let carol = app.user("carol").await;
    let mut ws = user_ws(&app, &carol).await;
    assert_eq!(inbox(&mut ws).await["rooms"], json!([]));

    let mut answers = Vec::new();
    for room in [ab, 999_999] {
        for frame in [
            json!({"type": "send", "room_id": room, "message": "hi", "client_msg_id": "k"}),
            json!({"type": "typing", "room_id": room}),
            json!({"type": "read", "room_id": room}),
            json!({"type": "read", "room_id": room, "message_id": 1}),
        ] {
            ws.send_json(frame.clone()).await;
            let answer = ws.any_json().await;
            assert_eq!(answer["type"], "error", "{frame}: {answer}");
            assert_eq!(answer["code"], "forbidden", "{frame}: {answer}");
            answers.push(answer);
        }
    }
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
    assert!(app.messages(&alice, ab).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn frames_without_a_valid_room_or_unparseable_ones_get_the_documented_errors() {
    let app = TestApp::spawn().await;
    let (alice, _bob, ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    let long = "é".repeat(4097);
    let cases = [
        (
            json!({"message": "a bare message"}).to_string(),
            "invalid_message",
        ),
        (
            json!({"type": "send", "message": "hi"}).to_string(),
            "invalid_message",
        ),
        (
            json!({"type": "send", "room_id": "1", "message": "hi"}).to_string(),
            "invalid_message",
        ),
        (json!({"type": "typing"}).to_string(), "invalid_message"),
        (
            json!({"type": "read", "room_id": 0}).to_string(),
            "invalid_message",
        ),
        (
            json!({"type": "read", "room_id": ab, "message_id": "x"}).to_string(),
            "invalid_message",
        ),
        (
            json!({"type": "send", "room_id": ab, "message": "  "}).to_string(),
            "invalid_message",
        ),
        (
            json!({"type": "send", "room_id": ab, "message": long}).to_string(),
            "message_too_long",
        ),
        (
            json!({"type": "nonsense", "room_id": ab}).to_string(),
            "invalid_message",
        ),
        ("not json".to_owned(), "invalid_json"),
        ("[1, 2]".to_owned(), "invalid_json"),
    ];
    for (text, code) in cases {
        ws.send_text(&text).await;
        let answer = ws.any_json().await;
        assert_eq!(
            (answer["type"].as_str(), answer["code"].as_str()),
            (Some("error"), Some(code)),
            "{text}"
        );
        assert!(answer["detail"].is_string(), "{answer}");
    }
    ws.send_message(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(ws.any_json().await["code"], "invalid_json");
    assert!(app.messages(&alice, ab).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn sends_have_the_room_sockets_rate_limit_and_typing_does_not_count() {
    let app = TestApp::spawn_with(|url| EdgeConfig {
        ws_rate_per_sec: 1,
        ws_rate_burst: 2,
        ..edge_config(url)
    })
    .await;
    let (alice, _bob, ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    for _ in 0..30 {
        ws.send_json(json!({"type": "typing", "room_id": ab})).await;
    }
    for text in ["one", "two"] {
        ws.send_json(json!({"type": "send", "room_id": ab, "message": text}))
            .await;
    }
    let frames = ws
        .until(|frame| {
            frame["type"] == "mark_message_as_delivered" && frame["message"]["text"] == "two"
        })
        .await;
    assert!(
        frames.iter().all(|frame| frame["type"] != "error"),
        "{frames:?}"
    );
    for text in ["three", "four"] {
        ws.send_json(json!({"type": "send", "room_id": ab, "message": text}))
            .await;
    }
    let refused = ws.until(|frame| frame["type"] == "error").await;
    assert_eq!(refused.last().unwrap()["code"], "rate_limited");
}

#[tokio::test]
async fn a_flood_of_frames_closes_the_user_socket_with_1008() {
    let app = TestApp::spawn().await;
    let (alice, _bob, ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    for _ in 0..200 {
        ws.send_json(json!({"type": "typing", "room_id": ab})).await;
    }
    assert_eq!(ws.closed().await, 1008);
}

#[tokio::test]
async fn typing_reaches_the_peers_room_and_user_sockets_on_another_edge_but_not_the_typers_own() {
    let app = TestApp::spawn_with_two_cores().await;
    let other = app.second_edge().await;
    let (alice, bob, ab) = app.pair().await;
    let mut alices = user_ws(&app, &alice).await;
    inbox(&mut alices).await;
    let (mut alices_room, _) = app.join(&alice, ab).await;
    let mut bobs = open(other.ws_addr, "/ws/user/", &super::bearer(&bob)).await;
    inbox(&mut bobs).await;
    let mut bobs_room = other.ws(&bob, ab).await;
    bobs_room.history().await;

    for _ in 0..10 {
        alices
            .send_json(json!({"type": "typing", "room_id": ab}))
            .await;
    }
    let expected = json!({"type": "typing", "room_id": ab, "user_id": alice.id});
    assert_eq!(next_typing(&mut bobs_room).await, expected);
    assert_eq!(next_typing(&mut bobs).await, expected);
    let quiet = Duration::from_millis(700);
    assert_no_typing(&mut bobs, quiet).await;
    assert_no_typing(&mut alices, quiet).await;
    assert_no_typing(&mut alices_room, quiet).await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    bobs_room.send_json(json!({"type": "typing"})).await;
    let from_bob = json!({"type": "typing", "room_id": ab, "user_id": bob.id});
    assert_eq!(next_typing(&mut alices).await, from_bob);
    assert_eq!(next_typing(&mut alices_room).await, from_bob);
    assert_no_typing(&mut bobs, quiet).await;
}

#[tokio::test]
async fn read_frames_mark_messages_read_and_bring_the_unread_count_to_zero() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let ids = app.seed(&bob, ab, 3).await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    let mut ws = user_ws(&app, &alice).await;
    assert_eq!(inbox(&mut ws).await["rooms"][0]["unread_count"], 3);

    ws.send_json(json!({"type": "read", "room_id": ab, "message_id": ids[1]}))
        .await;
    let reads = ws.frames(2).await;
    assert_eq!(
        types(&reads),
        ["mark_message_as_read", "mark_message_as_read"]
    );
    assert_eq!(seqs(&reads), [7, 8]);
    let marked: Vec<Value> = reads
        .iter()
        .map(|f| f["message"]["message_id"].clone())
        .collect();
    assert_eq!(marked, [json!(ids[0]), json!(ids[1])], "oldest first");
    assert!(reads.iter().all(|f| f["room_id"] == ab), "{reads:?}");
    assert_eq!(reads[1]["unread_count"], 1);
    let stripped: Vec<Value> = reads.iter().map(as_room_frame).collect();
    assert_eq!(
        stripped,
        bobs.frames(2).await,
        "the room sees the same receipts"
    );

    ws.send_json(json!({"type": "read", "room_id": ab})).await;
    let last = ws.json().await;
    assert_eq!(
        (last["seq"].as_i64(), last["unread_count"].as_i64()),
        (Some(9), Some(0))
    );
    assert_eq!(last["message"]["message_id"], ids[2]);
    assert_eq!(listed_unread(&app, &alice, ab).await, 0);
}
