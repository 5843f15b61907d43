//! Tokens never reach the logs: a whole session of the core and the edge at
//! TRACE level, with the token in the URL, in headers, valid and forged.
//! A binary of its own, so its subscriber can be the global one.

#[allow(dead_code, unused_imports)]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;

use helpers::TestApp;

/// Every log line of the test, at every level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// The only test of this binary: the capturing subscriber is the global one
// and sees every thread of the core, the edge and their libraries.
#[tokio::test]
async fn tokens_appear_in_no_log_line_or_span() {
    let capture = Capture::default();
    let writer = capture.clone();
    // TRACE as the services filter it (the test's own WebSocket client logs
    // its request URL, but it shares the tungstenite target that is capped).
    tracing_subscriber::fmt()
        .with_env_filter(service_kit::logging::filter("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let mut ws = app
        .ws_raw(&format!("/ws/chat/{room}/?token={}", alice.token), None)
        .await;
    ws.history().await;
    ws.say("private-text-zq").await;
    ws.json().await;
    ws.close().await;
    let forged = format!("{}x", bob.token);
    let mut refused = app
        .ws_raw(&format!("/ws/chat/{room}/?token={forged}"), None)
        .await;
    assert_eq!(refused.closed().await, 4401);
    let mut outsider = app
        .ws_raw(
            &format!("/ws/chat/{}/", room + 7),
            Some(format!("Bearer {}", bob.token)),
        )
        .await;
    outsider.closed().await;
    app.call(Method::GET, "/en/api/v1/users/me", Some(&forged))
        .await;
    app.call(
        Method::GET,
        "/en/api/v1/chatrooms/999/messages/",
        Some(&bob.token),
    )
    .await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.len() > 1_000, "the capture caught the logs: {logs}");
    for token in [&alice.token, &bob.token, &forged] {
        let signature = token.rsplit('.').next().unwrap();
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(signature)).collect();
        assert!(leaks.is_empty(), "a token is in the logs: {leaks:#?}");
    }
    let texts: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("private-text-zq"))
        .collect();
    assert!(
        texts.is_empty(),
        "a message text is in the logs: {texts:#?}"
    );
}
