//! A WebSocket client of the edge's documented protocol.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `room` through `edge` and reads the history frame.
pub async fn join(edge: SocketAddr, room: i64, token: &str) -> anyhow::Result<Socket> {
    let url = format!("ws://{edge}/ws/chat/{room}/?token={token}");
    let (mut socket, _) = connect_async(url).await.context("connecting")?;
    match socket.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with('[') => Ok(socket),
        other => bail!("expected the history frame, got {other:?}"),
    }
}
