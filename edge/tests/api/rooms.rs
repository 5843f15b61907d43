//! `POST /en/api/v1/chatrooms/get_or_create_room/?user_id_1=&user_id_2=`.

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

fn path(a: impl std::fmt::Display, b: impl std::fmt::Display) -> String {
    format!("/en/api/v1/chatrooms/get_or_create_room/?user_id_1={a}&user_id_2={b}")
}

#[tokio::test]
async fn the_same_room_comes_back_for_either_order_and_either_caller() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (status, body) = app
        .call(Method::POST, &path(alice.id, bob.id), Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let room = body["room_id"].as_i64().expect("an integer room_id");
    assert_eq!(body, serde_json::json!({ "room_id": room }));
    let (_, swapped) = app
        .call(Method::POST, &path(bob.id, alice.id), Some(&alice.token))
        .await;
    let (_, by_bob) = app
        .call(Method::POST, &path(bob.id, alice.id), Some(&bob.token))
        .await;
    assert_eq!(swapped["room_id"], room);
    assert_eq!(by_bob["room_id"], room);
}

#[tokio::test]
async fn concurrent_calls_agree_on_one_room() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let app = &app;
    let calls = (0..10).map(|i| {
        let (caller, a, b) = if i % 2 == 0 {
            (&alice, alice.id, bob.id)
        } else {
            (&bob, bob.id, alice.id)
        };
        let path = path(a, b);
        async move { app.call(Method::POST, &path, Some(&caller.token)).await }
    });
    let answers = futures::future::join_all(calls).await;
    let first = &answers[0].1["room_id"];
    assert!(first.is_i64());
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(&body["room_id"], first);
    }
}

#[tokio::test]
async fn the_trailing_slash_is_optional() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let with = app.room(&alice, bob.id).await;
    let without = format!(
        "/en/api/v1/chatrooms/get_or_create_room?user_id_1={}&user_id_2={}",
        alice.id, bob.id
    );
    let (status, body) = app.call(Method::POST, &without, Some(&alice.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["room_id"], with);
}

#[tokio::test]
async fn missing_non_integer_or_equal_ids_are_bad_requests() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let cases = [
        "/en/api/v1/chatrooms/get_or_create_room/".to_owned(),
        format!(
            "/en/api/v1/chatrooms/get_or_create_room/?user_id_1={}",
            alice.id
        ),
        format!(
            "/en/api/v1/chatrooms/get_or_create_room/?user_id_2={}",
            bob.id
        ),
        path("three", bob.id),
        path(alice.id, "4.5"),
        path(alice.id, alice.id),
    ];
    for case in cases {
        let (status, body) = app.call(Method::POST, &case, Some(&alice.token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert!(body["detail"].is_string(), "{case}: {body}");
    }
}

#[tokio::test]
async fn a_caller_who_is_neither_user_is_forbidden() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let (status, body) = app
        .call(Method::POST, &path(alice.id, bob.id), Some(&carol.token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn an_unknown_user_is_not_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (status, body) = app
        .call(Method::POST, &path(alice.id, 999_999), Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].is_string());
}
