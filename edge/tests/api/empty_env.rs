//! An environment variable set to the empty string counts as unset: the
//! real edge binary, every optional variable empty, runs on its defaults.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, edge_token, within};

/// Every variable of the edge but the three the test passes as flags.
const OPTIONAL: [&str; 11] = [
    "CHAT_CORE_DEADLINE_MS",
    "CHAT_WS_QUEUE",
    "CHAT_WS_STALL_MS",
    "CHAT_ALLOWED_ORIGINS",
    "CHAT_WS_PING_MS",
    "CHAT_WS_RATE_PER_SEC",
    "CHAT_WS_RATE_BURST",
    "CHAT_WS_MAX_PER_USER",
    "CHAT_LOG_FORMAT",
    "CHAT_DEV_MODE",
    "CHAT_JWT_SECRET",
];

#[tokio::test]
async fn every_optional_variable_set_empty_counts_as_unset() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let _edge = tokio::process::Command::new(env!("CARGO_BIN_EXE_edge"))
        .args([
            "--http-addrs",
            &addr.to_string(),
            "--core-url",
            &app.core_url,
            "--edge-token",
            &edge_token(),
        ])
        .envs(OPTIONAL.iter().map(|name| (*name, "")))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the edge starts");
    let url = format!("http://{addr}/en/api/v1/users/me");
    let client = reqwest::Client::new();
    let response = within(async {
        loop {
            match client.get(&url).bearer_auth(&alice.token).send().await {
                Ok(response) => return response,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}
