//! The room list, profiles and read marks over REST (`GET /chatrooms/`,
//! `GET /users/{id}`, `POST /chatrooms/{room_id}/read`): their shapes and
//! every documented error, end to end through a real core.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, body_json, seqs, types};

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

async fn rooms_page(app: &TestApp, user: &User, query: &str) -> (StatusCode, Value) {
    let path = format!("/en/api/v1/chatrooms/{query}");
    app.call(Method::GET, &path, Some(&user.token)).await
}

/// `POST /en/api/v1/chatrooms/{target}`, `target` being `<room>/read` or `<room>/read/`.
async fn read(app: &TestApp, user: &User, target: &str, body: Option<&str>) -> (StatusCode, Value) {
    let path = format!("/en/api/v1/chatrooms/{target}");
    let mut builder = app.request(Method::POST, &path, Some(&user.token));
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = app.send(builder).await;
    (response.status(), body_json(response).await)
}

#[tokio::test]
async fn the_room_list_has_the_documented_shape_and_pages_to_its_end() {
    let app = TestApp::spawn().await;
    let (alice, bob, ab) = app.pair().await;
    let carol = app.user("carol").await;
    let ac = app.room(&alice, carol.id).await;
    let ids = app.seed(&bob, ab, 2).await;

    let (status, page) = rooms_page(&app, &alice, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), ["next", "rooms"]);
    assert_eq!(page["next"], Value::Null);
    let rooms = page["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 2);
    let first = &rooms[0];
    assert_eq!(
        keys(first),
        [
            "created_at",
            "last_message",
            "last_seq",
            "peer",
            "room_id",
            "unread_count"
        ]
    );
    assert_eq!(
        first["room_id"], ab,
        "the room with a message is the most recent"
    );
    assert_eq!(first["unread_count"], 2);
    assert_eq!(first["last_seq"], 4);
    assert_eq!(
        keys(&first["peer"]),
        ["email", "id", "is_online", "last_seen"]
    );
    assert_eq!(first["peer"]["id"], bob.id);
    assert_eq!(first["peer"]["email"], "bob@example.com");
    let last = &first["last_message"];
    assert_eq!(last["message_id"], ids[1]);
    assert_eq!(
        (last["status"].as_str(), last["sender_id"].as_i64()),
        (Some("delivered"), Some(bob.id))
    );
    assert_eq!(last["created_at"].as_str().unwrap().len(), 32, "{last}");
    assert_eq!(rooms[1]["room_id"], ac);
    assert_eq!(rooms[1]["last_message"], Value::Null);
    assert_eq!(
        (
            rooms[1]["unread_count"].as_i64(),
            rooms[1]["last_seq"].as_i64()
        ),
        (Some(0), Some(0))
    );

    let (_, one) = rooms_page(&app, &alice, "?limit=1").await;
    assert_eq!(one["rooms"][0]["room_id"], ab);
    let next = one["next"].as_str().expect("a next page").to_owned();
    let path = format!("/pt-br/api/v1/chatrooms?limit=1&before={next}");
    let (status, two) = app.call(Method::GET, &path, Some(&alice.token)).await;
    assert_eq!(status, StatusCode::OK, "{two}");
    assert_eq!(two["rooms"][0]["room_id"], ac);
    assert_eq!(two["next"], Value::Null, "the last page says so");
}

#[tokio::test]
async fn a_bad_limit_or_a_cursor_no_page_gave_is_a_400() {
    let app = TestApp::spawn().await;
    let (alice, _bob, _room) = app.pair().await;
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?before=nope",
        "?before=c1.1.0",
    ] {
        let (status, body) = rooms_page(&app, &alice, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let response = app
        .send(app.request(Method::GET, "/en/api/v1/chatrooms/", None))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn a_profile_is_shown_to_oneself_and_room_peers_and_everyone_else_is_404() {
    let app = TestApp::spawn().await;
    let (alice, bob, _room) = app.pair().await;
    let carol = app.user("carol").await;
    let get = |user: &User, id: String| {
        let path = format!("/en/api/v1/users/{id}");
        let token = user.token.clone();
        let app = &app;
        async move { app.call(Method::GET, &path, Some(&token)).await }
    };
    let (status, me) = get(&alice, alice.id.to_string()).await;
    assert_eq!(
        (status, &me["email"]),
        (StatusCode::OK, &json!("alice@example.com"))
    );
    let (status, peer) = get(&alice, format!("{}/", bob.id)).await;
    assert_eq!(status, StatusCode::OK, "{peer}");
    assert_eq!(keys(&peer), ["email", "id", "is_online", "last_seen"]);
    assert_eq!(
        (peer["id"].as_i64(), peer["is_online"].as_bool()),
        (Some(bob.id), Some(false))
    );
    let (stranger, stranger_body) = get(&alice, carol.id.to_string()).await;
    let (missing, missing_body) = get(&alice, (carol.id + 1000).to_string()).await;
    assert_eq!(
        (stranger, missing),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(
        stranger_body, missing_body,
        "existing or not, nothing tells them apart"
    );
    assert_eq!(get(&alice, "0".into()).await.0, StatusCode::NOT_FOUND);
    let (status, body) = get(&alice, "abc".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let anonymous = app
        .send(app.request(Method::GET, &format!("/en/api/v1/users/{}", bob.id), None))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_read_mark_is_a_204_and_the_room_sees_each_read_oldest_first() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let ids = app.seed(&bob, room, 3).await;
    let (mut watching, _history) = app.join(&bob, room).await;

    let body = format!(r#"{{"message_id": {}}}"#, ids[1]);
    let (status, answer) = read(&app, &alice, &format!("{room}/read"), Some(&body)).await;
    assert_eq!((status, answer), (StatusCode::NO_CONTENT, Value::Null));
    let frames = watching.frames(2).await;
    assert_eq!(
        types(&frames),
        ["mark_message_as_read", "mark_message_as_read"]
    );
    assert_eq!(seqs(&frames), [7, 8]);
    let marked: Vec<Value> = frames
        .iter()
        .map(|f| f["message"]["message_id"].clone())
        .collect();
    assert_eq!(marked, [json!(ids[0]), json!(ids[1])]);
    assert_eq!(frames[0]["message"]["status"], "read");
    assert_eq!(
        rooms_page(&app, &alice, "").await.1["rooms"][0]["unread_count"],
        1
    );

    let (status, _) = read(&app, &alice, &format!("{room}/read/"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rest = watching.frames(1).await;
    assert_eq!(
        (seqs(&rest), &rest[0]["message"]["message_id"]),
        (vec![9], &json!(ids[2]))
    );
    assert_eq!(
        rooms_page(&app, &alice, "").await.1["rooms"][0]["unread_count"],
        0
    );
    assert_eq!(
        rooms_page(&app, &alice, "").await.1["rooms"][0]["last_seq"],
        9
    );
}

#[tokio::test]
async fn a_read_mark_answers_every_documented_error() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    let target = format!("{room}/read");
    for body in [
        "not json",
        "[1]",
        r#"{"message_id": "1"}"#,
        r#"{"message_id": 0}"#,
    ] {
        let (status, answer) = read(&app, &alice, &target, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(
        read(&app, &alice, "abc/read", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        read(&app, &carol, &target, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        read(&app, &alice, "999999/read", None).await.0,
        StatusCode::NOT_FOUND
    );
    let path = format!("/en/api/v1/chatrooms/{room}/read");
    let anonymous = app.send(app.request(Method::POST, &path, None)).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
