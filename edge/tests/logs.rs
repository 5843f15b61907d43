//! Logs carry request ids but never a token. A test binary of its own: the
//! capturing subscriber is the process's global one, so it sees every task of
//! the edge and the core whatever thread runs them.

#[allow(dead_code, unused_imports)]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, within};

/// Log lines written by the subscriber under test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("capture lock")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_request_ids_but_never_tokens() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let mut socket = app
        .ws_raw(&format!("/ws/chat/{room}/?token={}", bob.token), None)
        .await;
    within(socket.history()).await;
    let response = app
        .send(
            app.request(Method::GET, "/en/api/v1/users/me/", Some(&alice.token))
                .header("x-request-id", "req-from-the-test"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "req-from-the-test");
    drop(socket);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request finished"),
        "logs were captured: {}",
        &logs[..logs.len().min(3000)]
    );
    let core_line = logs
        .lines()
        .find(|line| line.contains("rpc finished") && line.contains("req-from-the-test"));
    assert!(core_line.is_some(), "the core logs the edge's request id");
    for (who, token) in [("alice", &alice.token), ("bob", &bob.token)] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "{who}'s token is in the logs");
    }
}
