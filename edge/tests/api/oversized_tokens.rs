//! A token too large for the core's HTTP/2 server must not reach it: every
//! caller of an edge shares its one connection to the core, and a header
//! block the core refuses can end that connection for all of them.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, Ws};

/// Visible ASCII of `bytes` bytes, shaped like a JWT.
fn huge_token(bytes: usize) -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", "A".repeat(bytes))
}

/// Reads frames until `bob`'s socket shows the `chat_message` of `text`.
async fn receives(ws: &mut Ws, text: &str) {
    ws.until(|frame: &Value| frame["type"] == "chat_message" && frame["message"]["text"] == text)
        .await;
}

#[tokio::test]
async fn oversized_tokens_are_refused_at_the_edge_and_other_callers_keep_working() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;

    for bytes in [20 * 1024, 120 * 1024] {
        let token = huge_token(bytes);
        let (refused, (others, _)) = tokio::join!(
            app.send(app.request(Method::GET, "/en/api/v1/users/me", Some(&token))),
            async {
                let calls =
                    (0..5).map(|_| app.call(Method::GET, "/en/api/v1/users/me", Some(&bob.token)));
                (futures::future::join_all(calls).await, ())
            },
        );
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{bytes} bytes");
        assert_eq!(refused.headers()["www-authenticate"], "Bearer");
        for (status, body) in others {
            assert_eq!(
                status,
                StatusCode::OK,
                "another caller during {bytes} bytes: {body}"
            );
        }
    }

    let token = huge_token(30 * 1024);
    let mut by_header = app
        .ws_raw(
            &format!("/ws/chat/{room}/"),
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(by_header.closed().await, 4401);
    let mut by_query = app
        .ws_raw(&format!("/ws/chat/{room}/?token={token}"), None)
        .await;
    assert_eq!(by_query.closed().await, 4401);

    alice_ws.say("still connected").await;
    receives(&mut bob_ws, "still connected").await;
    receives(&mut alice_ws, "still connected").await;
    let (status, _) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_request_id_is_not_forwarded_to_the_core() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let request = app
        .request(Method::GET, "/en/api/v1/users/me", Some(&alice.token))
        .header("x-request-id", "r".repeat(100 * 1024));
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK);
}
