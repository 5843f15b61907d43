//! One crowded room on one edge: `--room-sockets` WebSockets open on one
//! direct room (half of them for each of its two members, as on many
//! devices), a gRPC publisher sending into it. What it shows is the edge's
//! fan-out: the core sends each room event once to the edge (counted by
//! the edge's `chat_edge_link_events_total`), and the edge encodes it once
//! and hands it to every socket. Reported: the CPU per delivered frame
//! (every process of the system), the latency from the send to each
//! socket's `chat_message`, and the p99 of the slowest socket.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use chat_proto::v1::{self as pb, message_service_client::MessageServiceClient};
use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    cpu::CpuSplit,
    population::{Room, authed, channel},
    system::System,
    ws,
};

/// Sockets joining at once.
const JOIN_CONCURRENCY: usize = 32;
/// How long a socket waits for the last frames after the sends stopped.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize)]
pub struct CrowdedRoom {
    pub sockets: usize,
    pub messages: u64,
    /// Room events the edge's link carried while the messages were sent.
    pub link_events: u64,
    /// `link_events` per message: 3 (created, delivered, read) when the core
    /// sends each event once to the edge, whatever the number of sockets.
    pub link_events_per_message: f64,
    /// Frames the sockets received (every event kind).
    pub frames: u64,
    /// `chat_message` frames missing at some socket.
    pub missed: u64,
    /// CPU microseconds per delivered frame, by component.
    pub cpu_us_per_frame: CpuSplit,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The highest p99 of any one socket.
    pub slowest_socket_p99_ms: f64,
}

/// What one socket saw.
struct Seen {
    frames: u64,
    messages: u64,
    latency: Histogram<u64>,
}

/// Opens `sockets` sockets on `room` through the system's first edge, then
/// sends `rate` messages per second for `seconds` through gRPC.
pub async fn run(
    system: &System,
    room: &Room,
    sockets: usize,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<CrowdedRoom> {
    let edge = system.edges[0].addr;
    let joined: Vec<ws::Socket> = futures::stream::iter(0..sockets)
        .map(|n| ws::join(edge, room.id, &room.tokens[n % 2]))
        .buffer_unordered(JOIN_CONCURRENCY)
        .try_collect()
        .await
        .context("joining the crowded room")?;
    let epoch = Instant::now();
    let window = Duration::from_secs_f64(seconds);
    let readers: Vec<_> = joined
        .into_iter()
        .map(|socket| tokio::spawn(read(socket, epoch, epoch + window + DRAIN)))
        .collect();
    let events_before = link_events(edge).await?;
    let cpu_before = CpuSplit::now(system);
    let messages = publish(system.core.addr, room, rate, epoch, window).await?;
    let mut seen = Vec::with_capacity(readers.len());
    for reader in readers {
        seen.push(reader.await??);
    }
    let cpu_after = CpuSplit::now(system);
    let link_events = link_events(edge).await?.saturating_sub(events_before);
    Ok(figures(&seen, messages, link_events, cpu_before, cpu_after))
}

fn figures(
    seen: &[Seen],
    messages: u64,
    link_events: u64,
    cpu_before: CpuSplit,
    cpu_after: CpuSplit,
) -> CrowdedRoom {
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut slowest = 0u64;
    for socket in seen {
        let _ = all.add(&socket.latency);
        slowest = slowest.max(socket.latency.value_at_quantile(0.99));
    }
    let frames: u64 = seen.iter().map(|socket| socket.frames).sum();
    let received: u64 = seen.iter().map(|socket| socket.messages).sum();
    let per_frame = cpu_before.per_message(&cpu_after, frames);
    let ms = |us: u64| us as f64 / 1000.0;
    CrowdedRoom {
        sockets: seen.len(),
        messages,
        link_events,
        link_events_per_message: link_events as f64 / messages.max(1) as f64,
        frames,
        missed: (messages * seen.len() as u64).saturating_sub(received),
        cpu_us_per_frame: CpuSplit {
            core: per_frame.core * 1000.0,
            edge: per_frame.edge * 1000.0,
            postgres: per_frame.postgres * 1000.0,
            load_generator: per_frame.load_generator * 1000.0,
        },
        p50_ms: ms(all.value_at_quantile(0.5)),
        p99_ms: ms(all.value_at_quantile(0.99)),
        max_ms: ms(all.max()),
        slowest_socket_p99_ms: ms(slowest),
    }
}

/// Sends open loop, the send time in each text; returns how many were sent.
async fn publish(
    core: SocketAddr,
    room: &Room,
    rate: f64,
    epoch: Instant,
    window: Duration,
) -> anyhow::Result<u64> {
    let mut publisher = MessageServiceClient::new(channel(core));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    let mut messages = 0u64;
    while epoch.elapsed() < window {
        ticks.tick().await;
        let request = pb::SendMessageRequest {
            room_id: room.id,
            text: epoch.elapsed().as_micros().to_string(),
            client_msg_id: String::new(),
        };
        publisher
            .send_message(authed(&room.tokens[0], request))
            .await?;
        messages += 1;
    }
    Ok(messages)
}

/// Reads one socket until `until`: every frame counted, each
/// `chat_message`'s latency recorded.
async fn read(mut socket: ws::Socket, epoch: Instant, until: Instant) -> anyhow::Result<Seen> {
    let mut seen = Seen {
        frames: 0,
        messages: 0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    let deadline = tokio::time::sleep_until(until.into());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    seen.frames += 1;
                    let value: Value = serde_json::from_str(&text)?;
                    if value["type"] == "chat_message" {
                        let text = value["message"]["text"].as_str().unwrap_or("0");
                        let stamp: u64 = text.parse().unwrap_or(0);
                        let now = epoch.elapsed().as_micros() as u64;
                        seen.latency.saturating_record(now.saturating_sub(stamp).max(1));
                        seen.messages += 1;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = &mut deadline => break,
        }
    }
    let _ = socket.close(None).await;
    Ok(seen)
}

/// The edge's `chat_edge_link_events_total`, read from its `/metrics`.
async fn link_events(edge: SocketAddr) -> anyhow::Result<u64> {
    let events = crate::system::metric(edge, "chat_edge_link_events_total").await?;
    Ok(events as u64)
}
