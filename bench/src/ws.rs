//! A WebSocket client of the edge's documented protocol.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async_with_config, connect_async,
    tungstenite::{Message, protocol::WebSocketConfig},
};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read and write buffers of a socket that is mostly idle (tungstenite's
/// defaults allocate 128 KiB per socket at once).
const SMALL_BUFFER_BYTES: usize = 4 * 1024;
/// Bound on a small socket's write buffer: a few chat frames.
const MAX_WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Connects to `room` through `edge` and reads the history frame.
pub async fn join(edge: SocketAddr, room: i64, token: &str) -> anyhow::Result<Socket> {
    let url = format!("ws://{edge}/ws/chat/{room}/?token={token}");
    let (socket, _) = connect_async(url).await.context("connecting")?;
    read_history(socket).await
}

/// Like [`join`], from the source address `source` (so that one process
/// per source address gets its own ephemeral ports) and with small buffers.
pub async fn join_from(
    source: IpAddr,
    edge: SocketAddr,
    room: i64,
    token: &str,
) -> anyhow::Result<Socket> {
    let tcp = TcpSocket::new_v4()?;
    tcp.bind(SocketAddr::new(source, 0))
        .with_context(|| format!("binding {source}"))?;
    let stream = tcp.connect(edge).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{edge}/ws/chat/{room}/?token={token}");
    let config = WebSocketConfig::default()
        .read_buffer_size(SMALL_BUFFER_BYTES)
        .write_buffer_size(SMALL_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES);
    let (socket, _) = client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(config))
        .await
        .context("upgrading")?;
    read_history(socket).await
}

async fn read_history(mut socket: Socket) -> anyhow::Result<Socket> {
    match socket.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with('[') => Ok(socket),
        Some(Ok(Message::Close(Some(frame)))) => bail!("close {}", u16::from(frame.code)),
        other => bail!("expected the history frame, got {other:?}"),
    }
}

/// Opens a user socket (`/ws/user/`) through `edge` with small buffers and
/// reads its `inbox` frame.
pub async fn open_user(edge: SocketAddr, token: &str) -> anyhow::Result<Socket> {
    let stream = TcpStream::connect(edge).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{edge}/ws/user/?token={token}");
    let config = WebSocketConfig::default()
        .read_buffer_size(SMALL_BUFFER_BYTES)
        .write_buffer_size(SMALL_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES);
    let (mut socket, _) =
        client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(config))
            .await
            .context("upgrading")?;
    match socket.next().await {
        Some(Ok(Message::Text(text)))
            if serde_json::from_str::<serde_json::Value>(&text)?["type"] == "inbox" =>
        {
            Ok(socket)
        }
        Some(Ok(Message::Close(Some(frame)))) => bail!("close {}", u16::from(frame.code)),
        other => bail!("expected the inbox frame, got {other:?}"),
    }
}
