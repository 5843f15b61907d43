//! The edge's own service token on its link (`CHAT_EDGE_TOKEN`, scope
//! `chat:edge`): without a good one the core opens no link, so sockets
//! close with 1011 while REST, which carries each user's token, still
//! answers; outside development mode an edge without one does not start.

use std::time::Duration;

use core_svc::auth::dev_token;
use edge::config::{Config as EdgeConfig, Secret};
use reqwest::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Frame, SECRET, TestApp, edge_config, within};

#[tokio::test]
async fn an_edge_linking_with_a_users_token_opens_no_socket_yet_serves_rest() {
    let users_token = dev_token(SECRET, "mallory", "", Duration::from_secs(600));
    let app = TestApp::spawn_with(|core_url| EdgeConfig {
        edge_token: Some(Secret::new(users_token)),
        ..edge_config(core_url)
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let (status, _) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut ws = app.ws(&alice, room).await;
    match ws.frame().await {
        Frame::Close(code) => assert_eq!(code, Some(1011)),
        Frame::Json(frame) => panic!("expected only a close frame, got {frame}"),
    }
}

#[tokio::test]
async fn an_edge_without_a_token_outside_development_mode_does_not_start() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = EdgeConfig::new("http://127.0.0.1:1");
    let started = within(edge::run(vec![listener], config, CancellationToken::new())).await;
    let error = started.expect_err("refused to start");
    assert!(
        format!("{error:#}").contains("CHAT_EDGE_TOKEN"),
        "{error:#}"
    );
}
