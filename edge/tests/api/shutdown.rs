//! Shutting the edge down: open sockets get a close frame telling clients to
//! reconnect (1012), and `edge::run` returns; a real `edge` process does the
//! same on SIGTERM, exits 0, and every send it acknowledged is stored.

use std::process::Stdio;
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{Frame, TestApp, Ws, edge_token, within};

#[tokio::test]
async fn shutdown_closes_sockets_with_1012_and_returns() {
    let mut app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    let ((), alice_code, bob_code) =
        tokio::join!(app.stop_edge(), alice_ws.closed(), bob_ws.closed());
    assert_eq!((alice_code, bob_code), (1012, 1012));
    let refused = tokio::net::TcpStream::connect(app.rest_addr).await;
    assert!(refused.is_err(), "the edge no longer listens");
}

/// A real `edge` process; killed when dropped.
struct EdgeProcess {
    child: tokio::process::Child,
    addr: std::net::SocketAddr,
}

impl EdgeProcess {
    /// Starts the edge binary on a free port in front of `core_url` and waits until it serves.
    async fn spawn(core_url: &str) -> Self {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_edge"))
            .args(["--http-addrs", &addr.to_string(), "--core-url", core_url])
            .env("CHAT_EDGE_TOKEN", edge_token())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the edge starts");
        let url = format!("http://{addr}/metrics");
        within(async {
            while reqwest::get(&url).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        Self { child, addr }
    }

    /// SIGTERM, then the exit status.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the edge is running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        within(self.child.wait()).await.expect("the exit status")
    }
}

#[tokio::test]
async fn sigterm_to_the_edge_binary_closes_with_1012_and_keeps_every_acked_send() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let mut edge = EdgeProcess::spawn(&app.core_url).await;
    let mut request = format!("ws://{}/ws/chat/{room}/", edge.addr)
        .into_client_request()
        .unwrap();
    let bearer = HeaderValue::from_str(&format!("Bearer {}", alice.token)).unwrap();
    request.headers_mut().insert("authorization", bearer);
    let (stream, _) = within(tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    let mut socket = Ws { stream };
    socket.history().await;
    for i in 0..20 {
        socket
            .say_with_id(&format!("m{i}"), &format!("id-{i}"))
            .await;
    }
    let mut acked = Vec::new();
    while acked.len() < 3 {
        if let Frame::Json(frame) = socket.frame().await
            && frame["type"] == "ack"
        {
            acked.push(frame["message_id"].as_i64().unwrap());
        }
    }

    let (status, code) = tokio::join!(edge.terminate(), async {
        loop {
            match socket.frame().await {
                Frame::Json(frame) if frame["type"] == "ack" => {
                    acked.push(frame["message_id"].as_i64().unwrap());
                }
                Frame::Json(_) => {}
                Frame::Close(code) => return code,
            }
        }
    });
    assert_eq!(code, Some(1012));
    assert!(status.success(), "exit status {status:?}");
    let stored: Vec<i64> = app
        .messages(&alice, room)
        .await
        .iter()
        .map(|item| item["message_id"].as_i64().unwrap())
        .collect();
    for id in acked {
        assert!(stored.contains(&id), "acknowledged message {id} is stored");
    }
}
