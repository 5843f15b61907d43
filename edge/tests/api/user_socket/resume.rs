//! Resuming a user socket with its last cursor (`?cursor=` or
//! `X-Chat-Cursor`, on the same edge or another edge and core): `resumed`,
//! exactly the missed events, the peers' presence; a cursor the server
//! cannot replay gets a fresh `inbox`. A user socket makes its user online
//! but a reader of no room; a core that goes away closes it with 1011, an
//! edge that shuts down with 1012.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{as_room_frame, bearer, inbox, keys, open, user_ws};
use crate::helpers::{TestApp, User, Ws, is_wire_time, seqs, types};

/// The cursor of the last of `frames`.
fn last_cursor(frames: &[Value]) -> String {
    let last = frames.last().expect("a frame");
    last["cursor"].as_str().expect("a cursor").to_owned()
}

/// After `resumed`: `events` event frames and the presence of `peers`, in
/// any interleaving; returns the events in order.
async fn missed(ws: &mut Ws, events: usize, peers: &[&User]) -> Vec<Value> {
    let mut seen_events = Vec::new();
    let mut presences = Vec::new();
    while seen_events.len() < events || presences.len() < peers.len() {
        let frame = ws.any_json().await;
        match frame["type"].as_str() {
            Some("presence") => presences.push(frame["user_id"].as_i64().expect("an id")),
            Some("typing") => {}
            _ => seen_events.push(frame),
        }
    }
    let mut expected: Vec<i64> = peers.iter().map(|peer| peer.id).collect();
    expected.sort_unstable();
    presences.sort_unstable();
    assert_eq!(presences, expected, "one presence per peer");
    seen_events
}

/// The first frame of a resumed socket; checks its shape.
async fn resumed(ws: &mut Ws) -> Value {
    let first = ws.any_json().await;
    assert_eq!(
        first["type"], "resumed",
        "expected resumed first, got {first}"
    );
    assert_eq!(keys(&first), ["cursor", "type"]);
    assert!(first["cursor"].is_string(), "{first}");
    first
}

#[tokio::test]
async fn a_reconnect_with_its_cursor_gets_resumed_then_exactly_the_missed_events_then_presence() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    bobs.say("one").await;
    let seen = ws.frames(2).await;
    let one = seen[0]["message"]["message_id"].as_i64().expect("an id");
    bobs.frames(2).await;
    ws.close().await;
    app.wait_for_presence(&alice, false).await;

    bobs.say("two").await;
    bobs.say("three").await;
    let mut away = bobs.frames(4).await;
    let (status, _) = app.edit(&bob, one, "one!").await;
    assert_eq!(status, StatusCode::OK);
    away.extend(bobs.frames(1).await);

    let path = format!("/ws/user/?cursor={}", last_cursor(&seen));
    let mut back = open(app.ws_addr, &path, &bearer(&alice)).await;
    resumed(&mut back).await;
    let events = missed(&mut back, away.len(), &[&bob]).await;
    let stripped: Vec<Value> = events.iter().map(as_room_frame).collect();
    assert_eq!(stripped, away, "exactly the missed events, in order");
    assert_eq!(seqs(&events), [3, 4, 5, 6, 7]);
    assert_eq!(events.last().unwrap()["unread_count"], 3);

    bobs.say("four").await;
    let live = back.frames(2).await;
    assert_eq!(
        seqs(&live),
        [8, 9],
        "then live events, no gap, no duplicate"
    );
}

#[tokio::test]
async fn a_resume_by_header_works_on_another_edge_and_core() {
    let app = TestApp::spawn_with_two_cores().await;
    let other = app.second_edge().await;
    let (alice, bob, ab) = app.pair().await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    bobs.say("one").await;
    let seen = ws.frames(2).await;
    bobs.frames(2).await;
    ws.close().await;
    app.wait_for_presence(&alice, false).await;
    bobs.say("two").await;
    let away = bobs.frames(2).await;

    let headers = [
        bearer(&alice)[0].clone(),
        ("x-chat-cursor", last_cursor(&seen)),
    ];
    let mut back = open(other.ws_addr, "/ws/user/", &headers).await;
    resumed(&mut back).await;
    let events = missed(&mut back, away.len(), &[&bob]).await;
    let stripped: Vec<Value> = events.iter().map(as_room_frame).collect();
    assert_eq!(stripped, away);
}

#[tokio::test]
async fn a_cursor_the_server_cannot_replay_gets_a_fresh_inbox() {
    let app = TestApp::spawn().await;
    let (alice, _bob, ab) = app.pair().await;
    let overlong = "c".repeat(300);
    let attempts = [
        ("/ws/user/?cursor=nonsense".to_owned(), None),
        (format!("/ws/user/?cursor={overlong}"), None),
        ("/ws/user/".to_owned(), Some("u1.999999999.garbage")),
    ];
    for (path, header) in attempts {
        let mut headers = bearer(&alice).to_vec();
        if let Some(cursor) = header {
            headers.push(("x-chat-cursor", cursor.to_owned()));
        }
        let mut ws = open(app.ws_addr, &path, &headers).await;
        let first = inbox(&mut ws).await;
        assert_eq!(first["rooms"][0]["room_id"], ab, "{path}");
    }
}

#[tokio::test]
async fn a_user_socket_makes_its_user_online_but_a_message_to_them_stays_delivered() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    assert_eq!(bobs.presence().await["is_online"], false);

    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    let online = bobs.presence().await;
    assert_eq!(
        (online["user_id"].as_i64(), online["is_online"].as_bool()),
        (Some(alice.id), Some(true))
    );
    let path = format!("/en/api/v1/users/{}", alice.id);
    let (status, profile) = app.call(Method::GET, &path, Some(&bob.token)).await;
    assert_eq!(
        (status, &profile["is_online"]),
        (StatusCode::OK, &json!(true))
    );

    bobs.say("are you there?").await;
    let frames = bobs.frames(2).await;
    assert_eq!(
        types(&frames),
        ["chat_message", "mark_message_as_delivered"]
    );
    bobs.assert_silent(Duration::from_millis(700)).await;
    let events = ws.frames(2).await;
    assert_eq!(events[1]["unread_count"], 1, "{events:?}");
    let (_, list) = app
        .call(Method::GET, "/en/api/v1/chatrooms/", Some(&alice.token))
        .await;
    assert_eq!(list["rooms"][0]["last_message"]["status"], "delivered");

    ws.close().await;
    let offline = bobs.presence().await;
    assert_eq!(offline["is_online"], false, "{offline}");
    assert!(is_wire_time(&offline["last_seen"]), "{offline}");
}

#[tokio::test]
async fn a_user_socket_closes_with_1011_when_its_core_goes_away_and_resumes_on_another() {
    let mut app = TestApp::spawn_with_two_cores().await;
    let (alice, bob, ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    let (mut bobs, _) = app.join(&bob, ab).await;
    bobs.say("before").await;
    let seen = ws.frames(2).await;

    app.cut_core().await;
    assert_eq!(ws.closed().await, 1011);

    let path = format!("/ws/user/?cursor={}", last_cursor(&seen));
    let mut back = open(app.ws_addr, &path, &bearer(&alice)).await;
    resumed(&mut back).await;
    let id = "after-the-cut";
    loop {
        bobs.say_with_id("after", id).await;
        let answer = bobs
            .until(|frame| matches!(frame["type"].as_str(), Some("ack" | "error")))
            .await;
        if answer.last().unwrap()["type"] == "ack" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = back
        .until(|frame| frame["type"] == "mark_message_as_delivered")
        .await;
    assert_eq!(seqs(&events), [3, 4], "no gap, no duplicate: {events:?}");
    assert_eq!(events[0]["message"]["text"], "after");
}

#[tokio::test]
async fn a_user_socket_closes_with_1012_when_the_edge_shuts_down() {
    let mut app = TestApp::spawn().await;
    let (alice, _bob, _ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    app.stop_edge().await;
    assert_eq!(ws.closed().await, 1012);
}
