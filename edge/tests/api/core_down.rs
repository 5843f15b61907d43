//! The core stopped: REST answers 503, open sockets get an `unavailable`
//! error frame or close with 1011, new sockets close with 1011 and nothing else.

use reqwest::{Method, StatusCode};

use crate::helpers::{Frame, TestApp};

#[tokio::test]
async fn a_stopped_core_gives_503_on_rest() {
    let mut app = TestApp::spawn().await;
    let (alice, bob, _room) = app.pair().await;
    app.stop_core().await;
    let path = format!(
        "/en/api/v1/chatrooms/get_or_create_room/?user_id_1={}&user_id_2={}",
        alice.id, bob.id
    );
    for (method, path) in [
        (Method::GET, "/en/api/v1/users/me".to_owned()),
        (Method::POST, path),
    ] {
        let (status, body) = app.call(method, &path, Some(&alice.token)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert!(body["detail"].is_string());
    }
}

#[tokio::test]
async fn a_stopped_core_closes_open_sockets_with_1011() {
    let mut app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _) = app.join(&alice, room).await;
    app.stop_core().await;
    ws.say("is anyone there?").await;
    loop {
        match ws.frame().await {
            Frame::Json(frame) => {
                assert_eq!(frame["type"], "error", "{frame}");
                assert_eq!(frame["code"], "unavailable", "{frame}");
            }
            Frame::Close(code) => {
                assert_eq!(code, Some(1011));
                break;
            }
        }
    }
}

#[tokio::test]
async fn a_socket_opened_while_the_core_is_down_closes_with_1011_and_nothing_else() {
    let mut app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    app.stop_core().await;
    let mut ws = app.ws(&alice, room).await;
    match ws.frame().await {
        Frame::Close(code) => assert_eq!(code, Some(1011)),
        Frame::Json(frame) => panic!("expected only a close frame, got {frame}"),
    }
}
