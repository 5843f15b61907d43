//! Editing, deleting and paging messages over REST, and the room events the
//! edits and deletes cause.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, is_wire_time};

#[tokio::test]
async fn an_edit_answers_success_and_the_room_receives_message_edited() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let id = app.seed(&alice, room, 1).await[0];
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    // Bob's connect marks the message read; both sockets see it.
    assert_eq!(alice_ws.json().await["type"], "mark_message_as_read");
    assert_eq!(bob_ws.json().await["type"], "mark_message_as_read");

    let (status, body) = app.edit(&alice, id, "  Updated message text  ").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Message updated successfully"})
    );
    for ws in [&mut alice_ws, &mut bob_ws] {
        let frame = ws.json().await;
        assert_eq!(frame["type"], "message_edited");
        assert_eq!(frame["message_id"], id);
        assert_eq!(
            frame["text"], "Updated message text",
            "the trimmed text is broadcast"
        );
        assert!(frame["seq"].is_i64());
    }
    let (_, history) = app.join(&bob, room).await;
    assert_eq!(history[0]["text"], "Updated message text");
    assert!(is_wire_time(&history[0]["updated_at"]));
    assert_ne!(
        history[0]["updated_at"], history[0]["created_at"],
        "updated_at changes on edits"
    );
}

#[tokio::test]
async fn the_edit_path_takes_an_optional_trailing_slash() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let id = app.seed(&alice, room, 1).await[0];
    let builder = app
        .request(
            Method::PUT,
            &format!("/en/api/v1/messages/{id}/edit/"),
            Some(&alice.token),
        )
        .json(&json!({"text": "again"}));
    assert_eq!(app.send(builder).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_edit_bodies_are_bad_requests_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let id = app.seed(&alice, room, 1).await[0];
    let path = format!("/en/api/v1/messages/{id}/edit");
    let too_long = "x".repeat(4097);
    let bodies = [
        "{}".to_owned(),
        r#"{"text": ""}"#.to_owned(),
        r#"{"text": "   "}"#.to_owned(),
        r#"{"text": 5}"#.to_owned(),
        format!(r#"{{"text": "{too_long}"}}"#),
        "not json".to_owned(),
        String::new(),
    ];
    for body in bodies {
        let builder = app
            .request(Method::PUT, &path, Some(&alice.token))
            .header("content-type", "application/json")
            .body(body.clone());
        let response = app.send(builder).await;
        let status = response.status();
        let answer = crate::helpers::body_json(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.40}: {answer}");
        assert!(answer["detail"].is_string());
    }
    let (_, history) = app.join(&alice, room).await;
    assert_eq!(history[0]["text"], "message 0");
}

#[tokio::test]
async fn exactly_4096_characters_may_be_edited_in() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let id = app.seed(&alice, room, 1).await[0];
    let (status, _) = app.edit(&alice, id, &"é".repeat(4096)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn editing_or_deleting_the_other_members_message_is_forbidden() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let id = app.seed(&alice, room, 1).await[0];
    let (status, body) = app.edit(&bob, id, "mine now").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.delete(&bob, id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn unknown_deleted_or_foreign_messages_are_not_found() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    let ids = app.seed(&alice, room, 2).await;
    let (status, _) = app.delete(&alice, ids[1]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (who, id) in [(&alice, 999_999), (&alice, ids[1]), (&carol, ids[0])] {
        let (status, body) = app.edit(who, id, "text").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "edit {id}: {body}");
        assert!(body["detail"].is_string());
        let (status, body) = app.delete(who, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "delete {id}: {body}");
    }
    let (status, _) = app.edit(&alice, 0, "text").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = "/en/api/v1/messages/abc/edit";
    let builder = app
        .request(Method::PUT, path, Some(&alice.token))
        .json(&json!({"text": "x"}));
    assert_eq!(app.send(builder).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_delete_answers_204_with_no_body_and_the_room_receives_message_deleted() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let ids = app.seed(&alice, room, 2).await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    alice_ws.frames(2).await; // the two reads caused by Bob's connect
    bob_ws.frames(2).await;

    let path = format!("/en/api/v1/messages/{}/delete", ids[0]);
    let response = app
        .send(app.request(Method::DELETE, &path, Some(&alice.token)))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.expect("a body").is_empty());
    for ws in [&mut alice_ws, &mut bob_ws] {
        let frame = ws.json().await;
        assert_eq!(frame["type"], "message_deleted");
        assert_eq!(frame["message_id"], ids[0]);
        assert!(frame["seq"].is_i64());
    }
    let (_, history) = app.join(&bob, room).await;
    let left: Vec<&Value> = history.iter().map(|item| &item["message_id"]).collect();
    assert_eq!(left, [&json!(ids[1])]);
    let slash = format!("/en/api/v1/messages/{}/delete/", ids[1]);
    let (status, body) = app.call(Method::DELETE, &slash, Some(&alice.token)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
}

#[tokio::test]
async fn paging_lists_older_messages_newest_first() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let ids = app.seed(&alice, room, 5).await;
    let base = format!("/en/api/v1/chatrooms/{room}/messages");
    let (status, page) = app
        .call(Method::GET, &format!("{base}/"), Some(&bob.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_i64().unwrap())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let item = &page[0];
    assert_eq!(item["text"], "message 4");
    assert_eq!(item["sender_id"], alice.id);
    assert_eq!(item["sender_email"], alice.email);
    assert!(["send", "delivered", "read"].contains(&item["status"].as_str().unwrap()));
    assert!(is_wire_time(&item["created_at"]) && is_wire_time(&item["updated_at"]));

    let older = format!("{base}?before={}&limit=2", ids[3]);
    let (status, page) = app.call(Method::GET, &older, Some(&bob.token)).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [ids[2], ids[1]]);
}

#[tokio::test]
async fn paging_refuses_bad_parameters_strangers_and_unknown_rooms() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let carol = app.user("carol").await;
    let base = format!("/en/api/v1/chatrooms/{room}/messages/");
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?before=abc",
        "?before=-3",
    ] {
        let (status, body) = app
            .call(Method::GET, &format!("{base}{query}"), Some(&alice.token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    let (status, _) = app
        .call(
            Method::GET,
            &format!("{base}?limit=100"),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(Method::GET, &base, Some(&carol.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let unknown = "/en/api/v1/chatrooms/999999/messages/";
    let (status, body) = app.call(Method::GET, unknown, Some(&alice.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
