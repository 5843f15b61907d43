//! Presence through `/users/me`: online while at least one socket is open,
//! offline with `last_seen` once the last one closes; the `presence` frames
//! of room sockets, across two edges and cores; `typing`.

use std::time::Duration;

use edge::config::Config as EdgeConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, edge_config, is_wire_time};

#[tokio::test]
async fn a_user_is_online_while_a_socket_is_open() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    assert_eq!(app.me(&alice).await["is_online"], false);

    let (first, _) = app.join(&alice, room).await;
    let (second, _) = app.join(&alice, room).await;
    assert_eq!(
        app.me(&alice).await["is_online"],
        true,
        "online once the history arrived"
    );

    first.close().await;
    let me = app.me(&alice).await;
    assert_eq!(me["is_online"], true, "one socket is still open: {me}");

    second.close().await;
    let me = app.wait_for_presence(&alice, false).await;
    assert!(is_wire_time(&me["last_seen"]), "{me}");
}

#[tokio::test]
async fn a_dropped_connection_ends_presence_too() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (ws, _) = app.join(&alice, room).await;
    assert_eq!(app.me(&alice).await["is_online"], true);
    drop(ws);
    let me = app.wait_for_presence(&alice, false).await;
    assert!(is_wire_time(&me["last_seen"]), "{me}");
}

/// The `presence` frame a socket must receive for `peer`.
fn assert_presence(frame: &Value, peer: &User, online: bool) {
    assert_eq!(frame["type"], "presence", "{frame}");
    assert_eq!(frame["user_id"], peer.id, "{frame}");
    assert_eq!(frame["is_online"], online, "{frame}");
    assert!(frame.get("seq").is_none(), "not a room event: {frame}");
}

#[tokio::test]
async fn the_peers_presence_comes_right_after_the_history_or_resumed_before_any_event() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    app.seed(&bob, room, 2).await;
    let mut ws = app.ws(&alice, room).await;
    assert!(ws.any_json().await.is_array(), "the history first");
    let presence = ws.any_json().await;
    assert_presence(&presence, &bob, false);
    assert!(
        is_wire_time(&presence["last_seen"]),
        "bob has left: {presence}"
    );
    ws.close().await;

    let mut resumed = app.resume(&alice, room, 1).await;
    assert_eq!(resumed.any_json().await["type"], "resumed");
    assert_presence(&resumed.any_json().await, &bob, false);
    let events = resumed.any_json().await;
    assert!(
        events["seq"].as_i64().is_some(),
        "then the missed events: {events}"
    );
}

#[tokio::test]
async fn a_peer_on_another_edge_and_core_goes_online_and_offline_once_each() {
    let app = TestApp::spawn_with_two_cores().await;
    let other = app.second_edge().await;
    let (alice, bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    let first = ws.any_json().await;
    assert_presence(&first, &bob, false);
    assert_eq!(first["last_seen"], Value::Null, "bob never connected");

    let mut bobs = other.ws(&bob, room).await;
    bobs.history().await;
    assert_presence(&ws.any_json().await, &bob, true);
    let mut second = other.ws(&bob, room).await;
    second.history().await;
    let (third, _) = app.join(&bob, room).await;
    ws.assert_silent(Duration::from_millis(700)).await;

    bobs.close().await;
    third.close().await;
    ws.assert_silent(Duration::from_millis(700)).await;
    second.close().await;
    let offline = ws.any_json().await;
    assert_presence(&offline, &bob, false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let me = app.me(&bob).await;
    assert_eq!(me["is_online"], offline["is_online"], "the profile: {me}");
    assert_eq!(me["last_seen"], offline["last_seen"], "the profile: {me}");
}

#[tokio::test]
async fn typing_reaches_the_other_members_sockets_only_once_per_two_seconds() {
    let app = TestApp::spawn_with_two_cores().await;
    let other = app.second_edge().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alices, _) = app.join(&alice, room).await;
    alices.presence().await;
    let (mut own, _) = app.join(&alice, room).await;
    own.presence().await;
    let mut bobs = other.ws(&bob, room).await;
    bobs.history().await;
    assert_presence(&bobs.any_json().await, &alice, true);
    alices.presence().await;
    own.presence().await;

    for _ in 0..10 {
        alices.send_json(json!({"type": "typing"})).await;
        own.send_json(json!({"type": "typing"})).await;
    }
    let typing = bobs.any_json().await;
    assert_eq!(
        typing,
        json!({"type": "typing", "room_id": room, "user_id": alice.id})
    );
    let quiet = Duration::from_millis(700);
    bobs.assert_silent(quiet).await;
    alices.assert_silent(quiet).await;
    own.assert_silent(quiet).await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    bobs.send_json(json!({"type": "typing"})).await;
    let typing = alices.any_json().await;
    assert_eq!(typing["user_id"], bob.id, "{typing}");
    assert_eq!(
        own.any_json().await,
        typing,
        "every socket of the other member"
    );
}

#[tokio::test]
async fn typing_is_not_counted_against_the_message_rate() {
    let app = TestApp::spawn_with(|url| EdgeConfig {
        ws_rate_per_sec: 1,
        ws_rate_burst: 2,
        ..edge_config(url)
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    ws.presence().await;
    for _ in 0..30 {
        ws.send_json(json!({"type": "typing"})).await;
    }
    ws.say("one").await;
    ws.say("two").await;
    let frames = ws
        .until(|frame| {
            frame["type"] == "mark_message_as_delivered" && frame["message"]["text"] == "two"
        })
        .await;
    assert!(
        frames.iter().all(|frame| frame["type"] != "error"),
        "no rate_limited: {frames:?}"
    );
    ws.say("three").await;
    ws.say("four").await;
    let refused = ws.until(|frame| frame["type"] == "error").await;
    assert_eq!(
        refused.last().unwrap()["code"],
        "rate_limited",
        "the limit is on"
    );
}

#[tokio::test]
async fn a_flood_of_typing_frames_closes_the_socket_with_1008() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    for _ in 0..200 {
        ws.send_json(json!({"type": "typing"})).await;
    }
    assert_eq!(ws.closed().await, 1008);
}
