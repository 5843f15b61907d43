//! The user socket, `/ws/user/`: one socket per user carrying every room of
//! theirs, end to end through the edge and real cores. Here: the `inbox`
//! first frame, the room events of several rooms (the room socket's frames
//! with `room_id`, `cursor` and `unread_count`), `room_created`, refusals
//! and the path variants; the client's frames are in `frames`, resume,
//! presence and the core going away in `resume`.

mod frames;
mod resume;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{Frame, TestApp, User, Ws, seqs, types, within};

/// A socket to `path` on the edge at `addr`, with these request headers.
async fn open(addr: SocketAddr, path: &str, headers: &[(&'static str, String)]) -> Ws {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("a valid request");
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).expect("a header value");
        request.headers_mut().insert(*name, value);
    }
    let (stream, _response) = within(tokio_tungstenite::connect_async(request))
        .await
        .expect("the upgrade is accepted");
    Ws { stream }
}

/// The `Authorization` header of `user`.
fn bearer(user: &User) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {}", user.token))]
}

/// `user`'s user socket on the app's WebSocket address, token in the header.
async fn user_ws(app: &TestApp, user: &User) -> Ws {
    open(app.ws_addr, "/ws/user/", &bearer(user)).await
}

/// The first frame, which must be the `inbox`.
async fn inbox(ws: &mut Ws) -> Value {
    let frame = ws.any_json().await;
    assert_eq!(
        frame["type"], "inbox",
        "expected the inbox first, got {frame}"
    );
    frame
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object, got {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// An event frame of the user socket without the three fields it adds to
/// the room socket's frame (which must be there).
fn as_room_frame(frame: &Value) -> Value {
    let mut frame = frame.clone();
    let object = frame.as_object_mut().expect("an object");
    for key in ["room_id", "cursor", "unread_count"] {
        assert!(object.remove(key).is_some(), "no {key} in {frame}");
    }
    frame
}

/// The frames of one room, in the order they came.
fn of_room(frames: &[Value], room: i64) -> Vec<Value> {
    frames
        .iter()
        .filter(|frame| frame["room_id"] == room)
        .cloned()
        .collect()
}

/// `GET /chatrooms/` as `user`.
async fn room_list(app: &TestApp, user: &User) -> Value {
    let (status, list) = app
        .call(Method::GET, "/en/api/v1/chatrooms/", Some(&user.token))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{list}");
    list
}

/// The `unread_count` of `room` in `user`'s room list.
async fn listed_unread(app: &TestApp, user: &User, room: i64) -> Value {
    let list = room_list(app, user).await;
    let rooms = list["rooms"].as_array().expect("rooms");
    let entry = rooms.iter().find(|entry| entry["room_id"] == room);
    entry.expect("the room is listed")["unread_count"].clone()
}

/// The next `typing` frame, past any `presence`; fails on any other frame.
async fn next_typing(ws: &mut Ws) -> Value {
    loop {
        let frame = ws.any_json().await;
        match frame["type"].as_str() {
            Some("typing") => return frame,
            Some("presence") => {}
            _ => panic!("expected a typing frame, got {frame}"),
        }
    }
}

/// Asserts that no `typing` frame arrives for `quiet` (presence may).
async fn assert_no_typing(ws: &mut Ws, quiet: Duration) {
    let deadline = Instant::now() + quiet;
    while let Ok(frame) = tokio::time::timeout_at(deadline, ws.any_frame()).await {
        match frame {
            Frame::Json(frame) => assert_ne!(frame["type"], "typing", "{frame}"),
            Frame::Close(code) => panic!("the socket closed with {code:?}"),
        }
    }
}

#[tokio::test]
async fn the_inbox_comes_first_then_every_rooms_events_with_room_cursor_and_unread_count() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let carol = app.user("carol").await;
    let ac = app.room(&carol, alice.id).await;
    app.seed(&bob, ab, 1).await;

    let mut ws = user_ws(&app, &alice).await;
    let first = inbox(&mut ws).await;
    assert_eq!(keys(&first), ["cursor", "next", "rooms", "type"]);
    assert!(
        first["cursor"].as_str().is_some_and(|c| !c.is_empty()),
        "{first}"
    );
    assert_eq!(first["next"], Value::Null);
    let list = room_list(&app, &alice).await;
    assert_eq!(
        first["rooms"], list["rooms"],
        "the first page of GET /chatrooms/"
    );
    assert_eq!(first["rooms"][0]["room_id"], ab);
    assert_eq!(first["rooms"][0]["unread_count"], 1);

    let (mut bobs, _) = app.join(&bob, ab).await;
    let (mut carols, _) = app.join(&carol, ac).await;
    bobs.say("from bob").await;
    carols.say("from carol").await;
    let in_ab = bobs.frames(2).await;
    let in_ac = carols.frames(2).await;
    let events = ws.frames(4).await;

    let (got_ab, got_ac) = (of_room(&events, ab), of_room(&events, ac));
    let stripped = |frames: &[Value]| frames.iter().map(as_room_frame).collect::<Vec<_>>();
    assert_eq!(
        stripped(&got_ab),
        in_ab,
        "the room socket's frames, in order"
    );
    assert_eq!(
        stripped(&got_ac),
        in_ac,
        "the room socket's frames, in order"
    );
    assert_eq!(seqs(&got_ab), [3, 4]);
    assert_eq!(seqs(&got_ac), [1, 2]);
    assert_eq!(
        types(&got_ac),
        ["chat_message", "mark_message_as_delivered"]
    );
    assert_eq!(
        got_ab[1]["unread_count"],
        listed_unread(&app, &alice, ab).await
    );
    assert_eq!(
        got_ac[1]["unread_count"],
        listed_unread(&app, &alice, ac).await
    );
    assert_eq!(got_ab[1]["unread_count"], 2);
    let cursors: std::collections::HashSet<&str> = events
        .iter()
        .map(|frame| frame["cursor"].as_str().expect("a string cursor"))
        .collect();
    assert_eq!(
        cursors.len(),
        4,
        "each event has its own position: {events:?}"
    );
}

#[tokio::test]
async fn a_room_created_after_the_socket_opened_arrives_as_room_created_then_its_events() {
    let app = TestApp::spawn().await;
    let (alice, _bob, _ab) = app.pair().await;
    let dave = app.user("dave").await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;

    let ad = app.room(&dave, alice.id).await;
    let created = ws.json().await;
    assert_eq!(keys(&created), ["cursor", "room", "type"], "{created}");
    assert_eq!(created["type"], "room_created");
    assert!(created["cursor"].is_string(), "{created}");
    let list = room_list(&app, &alice).await;
    assert_eq!(
        created["room"], list["rooms"][0],
        "the room as the list shows it"
    );
    assert_eq!(created["room"]["room_id"], ad);
    assert_eq!(created["room"]["peer"]["id"], dave.id);
    assert_eq!(created["room"]["last_seq"], 0);

    app.seed(&dave, ad, 1).await;
    let events = ws.frames(2).await;
    assert_eq!(of_room(&events, ad).len(), 2, "{events:?}");
    assert_eq!(seqs(&events), [1, 2], "the new room's events from seq 1");
    assert_eq!(events[1]["unread_count"], 1);
}

#[tokio::test]
async fn a_refused_token_gets_4401_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (alice, _bob, _room) = app.pair().await;
    let refused = [
        (
            "/ws/user/",
            vec![("authorization", "Bearer not.a.token".to_owned())],
        ),
        ("/ws/user/?token=not.a.token", vec![]),
        ("/en/ws/user?token=", vec![]),
    ];
    for (path, headers) in refused {
        let mut ws = open(app.ws_addr, path, &headers).await;
        if path.ends_with("token=") {
            // No token at all: the first frame must be an `auth` frame.
            ws.send_json(json!({"message": "hi"})).await;
        }
        match ws.any_frame().await {
            Frame::Close(Some(code)) => assert_eq!(code, 4401, "{path}"),
            other => panic!("{path}: expected close 4401 and nothing before, got {other:?}"),
        }
    }
    let mut bad_auth = open(app.ws_addr, "/ws/user/", &[]).await;
    bad_auth
        .send_json(json!({"type": "auth", "token": "not.a.token"}))
        .await;
    assert!(matches!(
        bad_auth.any_frame().await,
        Frame::Close(Some(4401))
    ));

    let mut good_auth = open(app.ws_addr, "/ws/user/", &[]).await;
    good_auth
        .send_json(json!({"type": "auth", "token": alice.token}))
        .await;
    inbox(&mut good_auth).await;
}

#[tokio::test]
async fn a_socket_closes_with_4401_when_its_token_expires() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
        + 2;
    let claims = json!({"sub": "alice", "email": "alice@example.com", "exp": exp});
    let key = jsonwebtoken::EncodingKey::from_secret(crate::helpers::SECRET.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
        .expect("HS256 encoding");
    let short = User { token, ..alice };
    let mut ws = user_ws(&app, &short).await;
    inbox(&mut ws).await;
    assert_eq!(ws.closed().await, 4401);
}

#[tokio::test]
async fn an_auth_frame_replaces_the_token_as_on_room_sockets() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let mut ws = user_ws(&app, &alice).await;
    inbox(&mut ws).await;
    ws.send_json(json!({"type": "auth", "token": app.token("alice")}))
        .await;
    let ok = ws.json().await;
    assert_eq!(ok["type"], "auth_ok", "{ok}");
    assert!(ok["exp"].as_u64().is_some(), "{ok}");
    ws.send_json(json!({"type": "auth", "token": bob.token}))
        .await;
    let refused = ws.json().await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("invalid_token")),
        "another user's token: {refused}"
    );
    ws.send_json(
        json!({"type": "send", "room_id": ab, "message": "still alice", "client_msg_id": "a"}),
    )
    .await;
    let frames = ws.until(|frame| frame["type"] == "ack").await;
    assert_eq!(frames.last().unwrap()["room_id"], ab);
    let stored = app.messages(&alice, ab).await;
    assert_eq!(stored[0]["sender_id"], alice.id, "the socket kept its user");
}

#[tokio::test]
async fn the_user_socket_is_served_on_every_path_variant_on_both_ports() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    for addr in [app.rest_addr, app.ws_addr] {
        for path in ["/ws/user", "/ws/user/", "/en/ws/user", "/pt-br/ws/user/"] {
            let mut ws = open(addr, path, &bearer(&alice)).await;
            let first = inbox(&mut ws).await;
            assert_eq!(first["rooms"][0]["room_id"], room, "{addr}{path}");
        }
    }
    let query = format!("/ws/user?token={}", alice.token);
    inbox(&mut open(app.ws_addr, &query, &[]).await).await;
    let not_a_language = format!("ws://{}/english-long/ws/user/", app.ws_addr);
    let refused = within(tokio_tungstenite::connect_async(not_a_language)).await;
    assert!(refused.is_err(), "no such path");
}
