//! Tokens on long-lived sockets: the `{"type": "auth"}` first frame of a
//! socket opened without a token, the in-band replacement of an open
//! socket's token (`auth_ok` / `invalid_token`), and expiries the edge
//! takes from the core, not from the token: fractional and far-future `exp`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Frame, SECRET, TestApp, Ws, edge_config};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64()
}

/// An HS256 token the test core accepts, with these claims.
fn signed(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::default(), claims, &key).expect("HS256 encoding")
}

/// A token for `sub` whose `exp` is this JSON value.
fn token_with_exp(sub: &str, exp: Value) -> String {
    signed(&json!({"sub": sub, "email": format!("{sub}@example.com"), "exp": exp}))
}

/// A token for `sub` expiring `secs` from now (whole seconds).
fn token_for(sub: &str, secs: u64) -> (String, u64) {
    let exp = now() as u64 + secs;
    (token_with_exp(sub, json!(exp)), exp)
}

/// A socket to `room` opened with no header and no `?token=`.
async fn bare(app: &TestApp, room: i64) -> Ws {
    app.ws_raw(&format!("/ws/chat/{room}/"), None).await
}

fn auth(token: &str) -> Value {
    json!({"type": "auth", "token": token})
}

/// Asserts the very first thing on the socket is a close frame with `code`.
async fn assert_refused(ws: &mut Ws, code: u16) {
    match ws.frame().await {
        Frame::Close(Some(got)) => assert_eq!(got, code),
        other => panic!("expected close {code} and nothing before it, got {other:?}"),
    }
}

/// Sends a message and waits for its `mark_message_as_delivered`: the socket works.
async fn assert_open(ws: &mut Ws, text: &str) {
    ws.say(text).await;
    let frames = ws
        .until(|frame| frame["type"] == "mark_message_as_delivered")
        .await;
    assert_eq!(frames.last().expect("a frame")["message"]["text"], text);
}

#[tokio::test]
async fn ws_a_socket_without_a_token_authenticates_with_its_first_frame() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let mut ws = bare(&app, room).await;
    ws.send_json(auth(&alice.token)).await;
    assert!(ws.history().await.is_empty());
    assert_open(&mut ws, "after first-frame auth").await;
}

#[tokio::test]
async fn ws_an_auth_first_frame_may_resume() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    app.seed(&alice, room, 1).await;
    let mut ws = app
        .ws_raw(&format!("/ws/chat/{room}/?last_seq=1"), None)
        .await;
    ws.send_json(auth(&alice.token)).await;
    assert_eq!(ws.resumed().await, 1);
}

#[tokio::test]
async fn ws_a_bad_or_missing_auth_first_frame_closes_with_4401_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    let firsts = [
        auth("not.a.jwt").to_string(),
        auth(&token_with_exp("alice", json!(now() as u64 - 3600))).to_string(),
        json!({"type": "auth", "token": 5}).to_string(),
        json!({"type": "auth"}).to_string(),
        json!({"message": "hello"}).to_string(),
        json!({"token": alice.token}).to_string(),
        "not json".to_owned(),
    ];
    for first in firsts {
        let mut ws = bare(&app, room).await;
        ws.send_text(&first).await;
        assert_refused(&mut ws, 4401).await;
    }
    let mut binary = bare(&app, room).await;
    binary
        .send_message(Message::binary(alice.token.clone().into_bytes()))
        .await;
    assert_refused(&mut binary, 4401).await;
    // A good token then answers as a header would: 4403 for a stranger.
    let mut stranger = bare(&app, room).await;
    stranger.send_json(auth(&carol.token)).await;
    assert_refused(&mut stranger, 4403).await;
}

#[tokio::test]
async fn ws_five_seconds_of_silence_close_with_4401_and_send_no_events() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let started = Instant::now();
    let mut silent = bare(&app, room).await;
    app.seed(&alice, room, 1).await;
    assert_refused(&mut silent, 4401).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(4_900), "{waited:?}");
    assert!(waited < Duration::from_secs(9), "{waited:?}");
}

#[tokio::test]
async fn ws_an_auth_frame_replaces_the_token_and_the_socket_closes_only_at_the_new_exp() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    let (short, _) = token_for("alice", 2);
    let mut ws = app
        .ws_raw(&format!("/ws/chat/{room}/?token={short}"), None)
        .await;
    ws.history().await;
    let (long, long_exp) = token_for("alice", 600);
    ws.send_json(auth(&long)).await;
    assert_eq!(ws.json().await, json!({"type": "auth_ok", "exp": long_exp}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_open(&mut ws, "past the first token's exp").await;
    // And a shorter replacement moves the close forward.
    let (brief, brief_exp) = token_for("alice", 2);
    ws.send_json(auth(&brief)).await;
    assert_eq!(
        ws.json().await,
        json!({"type": "auth_ok", "exp": brief_exp})
    );
    let started = Instant::now();
    assert_eq!(ws.closed().await, 4401);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn ws_a_refused_or_foreign_token_gets_invalid_token_and_the_old_token_stays() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (short, _) = token_for("alice", 4);
    let mut ws = app
        .ws_raw(
            &format!("/ws/chat/{room}/"),
            Some(format!("Bearer {short}")),
        )
        .await;
    ws.history().await;
    let expired = token_with_exp("alice", json!(now() as u64 - 3600));
    let foreign_sig = alice.token.rsplit_once('.').expect("a JWT").0.to_owned() + ".c2ln";
    for refused in [
        auth(&bob.token),
        auth(&expired),
        auth("not.a.jwt"),
        auth(&foreign_sig),
        json!({"type": "auth", "token": 42}),
    ] {
        ws.send_json(refused.clone()).await;
        let frame = ws.json().await;
        assert_eq!(frame["type"], "error", "{refused}");
        assert_eq!(frame["code"], "invalid_token", "{refused}");
        assert!(frame["detail"].is_string());
    }
    assert_open(&mut ws, "still alice").await;
    // The old token's exp still holds.
    assert_eq!(ws.closed().await, 4401);
}

#[tokio::test]
async fn ws_auth_frames_count_against_the_message_rate() {
    let app = TestApp::spawn_with(|core_url| {
        let mut config = edge_config(core_url);
        config.ws_rate_per_sec = 1;
        config.ws_rate_burst = 1;
        config
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    ws.send_json(auth(&alice.token)).await;
    ws.send_json(auth(&alice.token)).await;
    assert_eq!(ws.json().await["type"], "auth_ok");
    assert_eq!(ws.json().await["code"], "rate_limited");
}

#[tokio::test]
async fn ws_a_far_future_exp_keeps_the_socket_open() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    for exp in [json!(10_000_000_000_000_000_000_u64), json!(1e19)] {
        let token = token_with_exp("alice", exp.clone());
        let (status, body) = app
            .call(Method::GET, "/en/api/v1/users/me", Some(&token))
            .await;
        assert_eq!(status, StatusCode::OK, "{exp}: {body}");
        let mut ws = app
            .ws_raw(&format!("/ws/chat/{room}/?token={token}"), None)
            .await;
        ws.history().await;
        assert_open(&mut ws, &format!("exp {exp}")).await;
        ws.send_json(auth(&token)).await;
        let answer = ws.json().await;
        assert_eq!(answer["type"], "auth_ok", "{exp}: {answer}");
        assert_eq!(answer["exp"], json!(10_000_000_000_000_000_000_u64));
        assert_open(&mut ws, "after the refresh").await;
        ws.close().await;
    }
}

#[tokio::test]
async fn ws_fractional_exp_and_nbf_are_accepted_by_rest_and_websocket_alike() {
    let app = TestApp::spawn().await;
    let (_alice, _bob, room) = app.pair().await;
    let at = now().floor();
    let claims = json!({
        "sub": "alice", "email": "alice@example.com",
        "exp": at + 3600.5, "nbf": at - 10.5,
    });
    let token = signed(&claims);
    let (status, body) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut by_query = app
        .ws_raw(&format!("/ws/chat/{room}/?token={token}"), None)
        .await;
    by_query.history().await;
    assert_open(&mut by_query, "fractional exp").await;
    by_query.send_json(auth(&token)).await;
    // The exp as the core verified it: 0.5 rounds up.
    let exp = at as u64 + 3601;
    assert_eq!(
        by_query.json().await,
        json!({"type": "auth_ok", "exp": exp})
    );
    let mut by_frame = bare(&app, room).await;
    by_frame.send_json(auth(&token)).await;
    by_frame.history().await;

    // A fractional nbf ahead of now is refused by both.
    let early = signed(&json!({"sub": "alice", "exp": at + 600.5, "nbf": at + 300.5}));
    let (status, _) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&early))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut refused = app
        .ws_raw(&format!("/ws/chat/{room}/?token={early}"), None)
        .await;
    assert_refused(&mut refused, 4401).await;
}
