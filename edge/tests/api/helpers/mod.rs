//! Starts a real core (on a fresh PostgreSQL database) and a real edge, both
//! on 127.0.0.1:0, and gives tests HTTP and WebSocket clients of the edge:
//! [`TestApp`] (the processes, `app`), its REST calls (`rest`), its sockets
//! ([`Ws`], `ws`), and small readers of frames.

mod app;
mod proxy;
mod rest;
mod ws;

use std::time::Duration;

use edge::config::{Config as EdgeConfig, Secret};
use serde_json::Value;

pub use app::TestApp;
pub use ws::{Frame, Ws, is_signal};

/// The HS256 secret the test core verifies tokens with.
pub const SECRET: &str = "edge-test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Awaits `future`, failing the test after [`PATIENCE`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("timed out waiting")
}

/// The service token a test edge links with: scope `chat:edge`, signed with
/// the test core's [`SECRET`].
pub fn edge_token() -> String {
    let ttl = Duration::from_secs(3600);
    service_kit::dev_token::mint_service(SECRET, "test-edge", "chat:edge", ttl)
}

/// The edge's defaults with its service token ([`edge_token`]), except
/// message and REST write rates no test of other things hits (tests of the
/// rate limits set their own) and a deadline on the core that a busy test
/// machine does not hit (tests of deadlines set their own).
pub fn edge_config(core_url: String) -> EdgeConfig {
    EdgeConfig {
        edge_token: Some(Secret::new(edge_token())),
        ws_rate_per_sec: 100_000,
        ws_rate_burst: 100_000,
        rest_rate_per_sec: 100_000,
        rest_rate_burst: 100_000,
        core_deadline_ms: 10_000,
        ..EdgeConfig::new(core_url)
    }
}

/// A user with a token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// The JSON body of a response, `Null` when empty.
pub async fn body_json(response: reqwest::Response) -> Value {
    let bytes = within(response.bytes()).await.expect("a body");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    }
}

/// The `seq` of an event frame.
pub fn seq(frame: &Value) -> i64 {
    frame["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

/// The `seq`s of event frames.
pub fn seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(seq).collect()
}

/// The frame types of a list of frames, for order assertions.
pub fn types(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|frame| frame["type"].as_str().unwrap_or("?"))
        .collect()
}

/// `true` for `2025-02-18T18:28:52.258755+00:00`.
pub fn is_wire_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let bytes = text.as_bytes();
    let digit_at = |indexes: &[usize]| indexes.iter().all(|i| bytes[*i].is_ascii_digit());
    bytes.len() == 32
        && digit_at(&[
            0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25,
        ])
        && &text[4..5] == "-"
        && &text[7..8] == "-"
        && &text[10..11] == "T"
        && &text[13..14] == ":"
        && &text[16..17] == ":"
        && &text[19..20] == "."
        && text.ends_with("+00:00")
}
