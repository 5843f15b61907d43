//! Authorization on every REST path and the WebSocket: each operation tried
//! as a non-member, as the other member, with another room's message id and
//! with identity smuggled in headers, query or body. Only the documented
//! status comes back, the body leaks nothing, and nothing changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, body_json};

/// Two rooms with a message each: alice–bob (`ab`) and carol–dave (`cd`).
struct World {
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    ab: i64,
    cd: i64,
    ab_msg: i64,
    cd_msg: i64,
}

async fn world(app: &TestApp) -> World {
    let (alice, bob, ab) = app.pair().await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let cd = app.room(&carol, dave.id).await;
    let ab_msg = app.seed(&alice, ab, 1).await[0];
    let cd_msg = app.seed(&carol, cd, 1).await[0];
    World {
        alice,
        bob,
        carol,
        dave,
        ab,
        cd,
        ab_msg,
        cd_msg,
    }
}

/// What members can see of both rooms and who they are: must not change.
async fn visible_state(app: &TestApp, w: &World) -> Value {
    let ab = app.messages(&w.alice, w.ab).await;
    let cd = app.messages(&w.dave, w.cd).await;
    let strip = |me: Value| json!([me["id"], me["email"]]);
    json!({
        "ab": ab, "cd": cd,
        "users": [strip(app.me(&w.alice).await), strip(app.me(&w.carol).await)],
    })
}

/// A refusal's body carries no other user's data and no internals.
fn assert_no_leak(body: &Value) {
    let text = body.to_string().to_lowercase();
    for secret in [
        "message 0",
        "@example.com",
        "select",
        "postgres",
        "sql",
        "constraint",
        ".rs:",
        "status {",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked in {body}");
    }
}

/// `user`'s request, with another user's id smuggled in `X-User-Id`
/// (carol is user 3) and `X-Forwarded-User`.
async fn attempt(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut builder = app
        .request(method, path, Some(&user.token))
        .header("X-User-Id", "3")
        .header("X-Forwarded-User", "carol");
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = app.send(builder).await;
    (response.status(), body_json(response).await)
}

/// A name, who tries, the method, path and JSON body, and the documented status.
type Case<'a> = (&'a str, &'a User, Method, String, Option<Value>, StatusCode);

#[tokio::test]
async fn every_rest_operation_refuses_outsiders_and_the_other_member() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let before = visible_state(&app, &w).await;
    let (a, b, c, d) = (w.alice.id, w.bob.id, w.carol.id, w.dave.id);
    let room = |x: i64, y: i64| {
        format!("/en/api/v1/chatrooms/get_or_create_room/?user_id_1={x}&user_id_2={y}")
    };
    let edit = |id: i64| format!("/en/api/v1/messages/{id}/edit");
    let delete = |id: i64| format!("/en/api/v1/messages/{id}/delete");
    let list = |room: i64| format!("/en/api/v1/chatrooms/{room}/messages/");
    let text = Some(json!({"text": "hijacked", "sender_id": c, "room_id": w.cd, "user_id": c}));
    let cases: Vec<Case> = vec![
        (
            "room of two others",
            &w.alice,
            Method::POST,
            room(c, d),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "room of another and a stranger",
            &w.alice,
            Method::POST,
            room(b, c),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "room with smuggled user_id",
            &w.alice,
            Method::POST,
            format!("{}&user_id={c}&sender_id={c}", room(c, d)),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "list a room not in",
            &w.alice,
            Method::GET,
            list(w.cd),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "list with smuggled query",
            &w.alice,
            Method::GET,
            format!("{}?user_id={c}&room_id={}", list(w.cd), w.ab),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "list no room",
            &w.alice,
            Method::GET,
            list(w.cd + 100),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "edit another room's message",
            &w.alice,
            Method::PUT,
            edit(w.cd_msg),
            text.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            "delete another room's message",
            &w.alice,
            Method::DELETE,
            delete(w.cd_msg),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "edit the other member's message",
            &w.bob,
            Method::PUT,
            edit(w.ab_msg),
            text.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "edit the other member's message, smuggled sender",
            &w.bob,
            Method::PUT,
            format!("{}?sender_id={a}&user_id={a}", edit(w.ab_msg)),
            Some(json!({"text": "x", "sender_id": a})),
            StatusCode::FORBIDDEN,
        ),
        (
            "delete the other member's message",
            &w.bob,
            Method::DELETE,
            delete(w.ab_msg),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "edit no message",
            &w.alice,
            Method::PUT,
            edit(w.cd_msg + 100),
            text.clone(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (name, user, method, path, body, expected) in cases {
        let (status, body) = attempt(&app, user, method, &path, body).await;
        assert_eq!(status, expected, "{name}: {body}");
        assert_no_leak(&body);
    }
    assert_eq!(
        visible_state(&app, &w).await,
        before,
        "a refused call changed data"
    );
}

#[tokio::test]
async fn users_me_answers_for_the_token_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let builder = app
        .request(
            Method::GET,
            &format!("/en/api/v1/users/me?user_id={}", w.carol.id),
            Some(&w.alice.token),
        )
        .header("X-User-Id", w.carol.id.to_string());
    let me = body_json(app.send(builder).await).await;
    assert_eq!(me["id"], w.alice.id);
    assert_eq!(me["email"], "alice@example.com");
}

#[tokio::test]
async fn the_websocket_refuses_outsiders_and_ignores_smuggled_identity() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let bearer = format!("Bearer {}", w.alice.token);
    let carol = w.carol.id.to_string();
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-user-id", carol.as_str()),
    ];
    // Into carol's room: 4403 whatever the header or query claims.
    let path = format!("/ws/chat/{}/?user_id={carol}&room_id={}", w.cd, w.ab);
    let mut ws = app.ws_with(&path, &headers).await;
    assert_eq!(ws.closed().await, 4403);
    let mut ws = app
        .ws_with(&format!("/ws/chat/{}/", w.cd + 100), &headers)
        .await;
    assert_eq!(ws.closed().await, 4404);
    // Into alice's room: extra body fields do not change the sender or room.
    let (mut ws, _history) = {
        let mut ws = app.ws_with(&format!("/ws/chat/{}/", w.ab), &headers).await;
        let history = ws.history().await;
        (ws, history)
    };
    ws.send_json(
        json!({"message": "mine", "sender_id": w.carol.id, "room_id": w.cd,
                        "user_id": w.carol.id, "sender_email": "carol@example.com"}),
    )
    .await;
    let frames = ws.until(|f| f["type"] == "mark_message_as_delivered").await;
    let created = &frames.iter().find(|f| f["type"] == "chat_message").unwrap()["message"];
    assert_eq!(created["sender_id"], w.alice.id);
    ws.close().await;
    let cd = app.messages(&w.dave, w.cd).await;
    assert_eq!(cd.len(), 1, "nothing reached carol's room: {cd:?}");
}

#[tokio::test]
async fn room_events_reach_members_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (mut outsider, _) = app.join(&w.carol, w.cd).await;
    let (mut member, _) = app.join(&w.bob, w.ab).await;
    let (mut sender, _) = app.join(&w.alice, w.ab).await;
    sender.say("private").await;
    let frames = member.until(|f| f["type"] == "mark_message_as_read").await;
    let id = frames[0]["message"]["message_id"].as_i64().unwrap();
    app.edit(&w.alice, id, "private, edited").await;
    app.delete(&w.alice, id).await;
    member.until(|f| f["type"] == "message_deleted").await;
    // The outsider's socket stays silent: a frame would arrive by now.
    let next = tokio::time::timeout(std::time::Duration::from_millis(300), outsider.json()).await;
    assert!(next.is_err(), "an outsider got {next:?}");
    let _ = &w.dave;
}
