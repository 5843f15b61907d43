//! Hostile connections against a real edge: slowloris (a request head
//! trickled forever) and silent connections are closed by the header-read
//! timeout while normal clients are served; a request whose body stalls is
//! closed by the idle timeout; WebSockets outlive both; one address gets at
//! most its share of connections.

use std::time::Duration;

use edge::config::Config;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{TestApp, edge_config, within};

/// Attackers of each kind.
const ATTACKERS: usize = 100;

async fn spawn(header_ms: u64, idle_ms: u64, max_per_addr: usize) -> TestApp {
    TestApp::spawn_with(move |core_url| Config {
        http_header_timeout_ms: header_ms,
        http_idle_timeout_ms: idle_ms,
        http_max_conns_per_addr: max_per_addr,
        ws_ping_ms: 60_000,
        ..edge_config(core_url)
    })
    .await
}

/// Writes `opening`, then `drip` one byte every 100 ms (nothing when empty)
/// until the edge closes the connection; how long that took.
async fn time_until_closed(app: &TestApp, opening: &[u8], drip: &'static [u8]) -> Duration {
    let mut stream = TcpStream::connect(app.rest_addr).await.expect("connect");
    let started = Instant::now();
    if stream.write_all(opening).await.is_err() {
        return started.elapsed();
    }
    let mut drip = drip.iter().cycle();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut buf = [0_u8; 1024];
    within(async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return started.elapsed(),
                    Ok(_) => {}
                },
                _ = tick.tick() => {
                    let Some(byte) = drip.next() else { continue };
                    if stream.write_all(&[*byte]).await.is_err() {
                        return started.elapsed();
                    }
                }
            }
        }
    })
    .await
}

async fn healthz(app: &TestApp) -> StatusCode {
    app.send(app.request(Method::GET, "/healthz", None))
        .await
        .status()
}

#[tokio::test]
async fn slowloris_and_silent_connections_are_closed_by_the_header_timeout() {
    let app = std::sync::Arc::new(spawn(1_000, 60_000, 0).await);
    let mut attacks = Vec::new();
    for _ in 0..ATTACKERS {
        let slow = std::sync::Arc::clone(&app);
        attacks.push(tokio::spawn(async move {
            time_until_closed(
                &slow,
                b"GET /healthz HTTP/1.1\r\nHost: a\r\n",
                b"X-a: b\r\n",
            )
            .await
        }));
        let silent = std::sync::Arc::clone(&app);
        attacks.push(tokio::spawn(async move {
            time_until_closed(&silent, b"", b"").await
        }));
    }
    for _ in 0..5 {
        assert_eq!(
            healthz(&app).await,
            StatusCode::OK,
            "served during the attack"
        );
    }
    for attack in attacks {
        let elapsed = attack.await.expect("attack task");
        assert!(
            (Duration::from_millis(900)..Duration::from_secs(8)).contains(&elapsed),
            "closed after {elapsed:?}"
        );
    }
    assert_eq!(healthz(&app).await, StatusCode::OK);
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_closed_by_the_idle_timeout() {
    let app = spawn(30_000, 1_000, 0).await;
    let alice = app.user("alice").await;
    let head = format!(
        "PUT /en/api/v1/messages/1/edit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\":",
        alice.token
    );
    let elapsed = time_until_closed(&app, head.as_bytes(), b"").await;
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(8)).contains(&elapsed),
        "closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn websockets_outlive_the_http_timeouts() {
    let app = spawn(1_000, 1_000, 0).await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _history) = app.join(&alice, room).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    ws.say("still here").await;
    let frame = ws.json().await;
    assert_eq!(frame["type"], "chat_message", "{frame}");
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_of_connections() {
    let app = spawn(30_000, 60_000, 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(app.rest_addr).await.expect("connect"));
    }
    // Accepted connections are counted in order; this one is over the share.
    let elapsed = time_until_closed(&app, b"", b"").await;
    assert!(elapsed < Duration::from_secs(5), "closed after {elapsed:?}");
    drop(held);
    within(async {
        loop {
            let response = app
                .http
                .get(format!("http://{}/healthz", app.rest_addr))
                .send()
                .await;
            if response.is_ok_and(|response| response.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
