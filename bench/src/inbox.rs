//! The user socket (`/ws/user/`): what one idle socket of a user in many
//! rooms costs, and how fast a message into any of those rooms reaches it.
//!
//! 1. `users` users, each in `rooms` rooms (one per peer of a shared pool of
//!    `rooms` peers), made in SQL; `sockets_per_user` user sockets each are
//!    opened through the edge, each read up to its `inbox` frame and then
//!    left idle. Reported: the growth of the core's and the edge's RSS
//!    together, per socket.
//! 2. The first of those users holds one user socket while the peers send
//!    into random rooms of theirs through gRPC, open loop, at `rate` per
//!    second in total (half the steady peak when the sweep found one).
//!    Reported: the latency from each send to its `chat_message` on the
//!    user socket, and whether every message came, each room's `seq`
//!    gapless.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use chat_proto::v1::{self as pb, message_service_client::MessageServiceClient};
use core_svc::auth::dev_token;
use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    pace,
    population::{authed, channel},
    system::{SECRET, System},
    ws,
};

/// Sockets opening at once.
const OPEN_CONCURRENCY: usize = 32;
/// Concurrent senders of the latency run.
const SENDERS: usize = 16;
/// How long the user socket waits for the last frames after the sends.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize)]
pub struct Inbox {
    pub users: usize,
    pub rooms_per_user: usize,
    pub sockets: usize,
    pub core_rss_before: u64,
    pub edge_rss_before: u64,
    pub core_rss_after: u64,
    pub edge_rss_after: u64,
    /// The target is at most 8 KiB.
    pub bytes_per_socket: f64,
    pub rate_per_sec: f64,
    pub messages: u64,
    /// Messages that never reached the user socket.
    pub missed: u64,
    /// Rooms whose `seq` on the user socket skipped or repeated a number.
    pub rooms_out_of_order: u64,
    /// Room events the measured socket received, and how many of them came
    /// on the fast lane (the rest came through the event feed).
    pub events_received: u64,
    pub fast_lane_events: u64,
    pub p50_ms: f64,
    /// The target is at most 10 ms.
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The sizes of a run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: usize,
    pub rooms: usize,
    pub sockets_per_user: usize,
    pub rate: f64,
    pub seconds: f64,
    /// Waited before opening the idle sockets and while holding them.
    pub hold: Duration,
}

pub async fn run(system: &System, sizes: Sizes) -> anyhow::Result<Inbox> {
    let url = system.database_url();
    core_svc::store::Store::connect(&url, 1)?.migrate().await?;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    fill(&db, sizes.users, sizes.rooms).await?;
    let edge = system.edges[0].addr;
    hold(system, sizes.hold, "before opening the idle user sockets").await;
    let (core_rss_before, edge_rss_before) = system.rss();
    let sockets = open_idle(edge, sizes).await?;
    // Let allocators settle after the connect burst.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (core_rss_after, edge_rss_after) = system.rss();
    hold(system, sizes.hold, "holding the idle user sockets").await;
    let count = sockets.len();
    drop(sockets);
    let grown = (core_rss_after + edge_rss_after).saturating_sub(core_rss_before + edge_rss_before);
    let rooms = rooms_of(&db, "inbox-u0").await?;
    let latency = latency(system, edge, &rooms, sizes).await?;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Inbox {
        users: sizes.users,
        rooms_per_user: sizes.rooms,
        sockets: count,
        core_rss_before,
        edge_rss_before,
        core_rss_after,
        edge_rss_after,
        bytes_per_socket: grown as f64 / count.max(1) as f64,
        rate_per_sec: sizes.rate,
        messages: latency.sent,
        missed: latency.sent.saturating_sub(latency.histogram.len()),
        rooms_out_of_order: latency.out_of_order,
        events_received: latency.events,
        fast_lane_events: latency.fast_events,
        p50_ms: ms(latency.histogram.value_at_quantile(0.5)),
        p99_ms: ms(latency.histogram.value_at_quantile(0.99)),
        max_ms: ms(latency.histogram.max()),
    })
}

/// Waits `hold` (when not zero), saying where, for a profiler to attach.
async fn hold(system: &System, hold: Duration, what: &str) {
    if hold.is_zero() {
        return;
    }
    eprintln!(
        "inbox: {what} for {hold:?} (core pid {}, edge pid {})",
        system.core.pid(),
        system.edges[0].pid()
    );
    tokio::time::sleep(hold).await;
}

/// Users `inbox-u<n>`, each in a room with every peer `inbox-peer-<n>`.
async fn fill(db: &tokio_postgres::Client, users: usize, rooms: usize) -> anyhow::Result<()> {
    db.batch_execute(&format!(
        "INSERT INTO users (sub) SELECT 'inbox-u' || g FROM generate_series(0, {users} - 1) g;
         INSERT INTO users (sub) SELECT 'inbox-peer-' || g FROM generate_series(0, {rooms} - 1) g;
         INSERT INTO rooms (user_lo, user_hi)
             SELECT u.id, p.id FROM users u, users p
             WHERE u.sub LIKE 'inbox-u%' AND p.sub LIKE 'inbox-peer-%';
         ANALYZE;"
    ))
    .await?;
    Ok(())
}

/// A room of the measured user: its id and the peer's token.
struct PeerRoom {
    id: i64,
    peer_token: String,
}

async fn rooms_of(db: &tokio_postgres::Client, sub: &str) -> anyhow::Result<Vec<PeerRoom>> {
    let rows = db
        .query(
            "SELECT r.id, p.sub FROM rooms r
             JOIN users u ON u.id = r.user_lo JOIN users p ON p.id = r.user_hi
             WHERE u.sub = $1 ORDER BY r.id",
            &[&sub],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| PeerRoom {
            id: row.get(0),
            peer_token: token(row.get(1)),
        })
        .collect())
}

fn token(sub: &str) -> String {
    dev_token(SECRET, sub, "", Duration::from_secs(86_400))
}

async fn open_idle(edge: SocketAddr, sizes: Sizes) -> anyhow::Result<Vec<ws::Socket>> {
    let tokens: Vec<String> = (0..sizes.users)
        .map(|n| token(&format!("inbox-u{n}")))
        .collect();
    futures::stream::iter(0..sizes.users * sizes.sockets_per_user)
        .map(|n| ws::open_user(edge, &tokens[n % sizes.users]))
        .buffer_unordered(OPEN_CONCURRENCY)
        .try_collect()
        .await
        .context("opening idle user sockets")
}

/// What the latency run saw.
struct Seen {
    sent: u64,
    histogram: Histogram<u64>,
    out_of_order: u64,
    /// Room events the user socket received.
    events: u64,
    /// Of those, the ones the core sent on the fast lane.
    fast_events: u64,
}

/// The core's count of events user streams got on the fast lane.
async fn fast_events(system: &System) -> anyhow::Result<f64> {
    crate::system::metric(system.core_metrics, "chat_user_stream_fast_events_total").await
}

async fn latency(
    system: &System,
    edge: SocketAddr,
    rooms: &[PeerRoom],
    sizes: Sizes,
) -> anyhow::Result<Seen> {
    let socket = ws::open_user(edge, &token("inbox-u0")).await?;
    let fast_before = fast_events(system).await?;
    let epoch = Instant::now();
    let window = Duration::from_secs_f64(sizes.seconds);
    let reader = tokio::spawn(read(socket, epoch, epoch + window + DRAIN));
    let senders: Vec<_> = (0..SENDERS)
        .map(|index| {
            let shard: Vec<(i64, String)> = rooms
                .iter()
                .skip(index)
                .step_by(SENDERS)
                .map(|room| (room.id, room.peer_token.clone()))
                .collect();
            let ticks = pace::ticks(epoch, sizes.rate / SENDERS as f64, index, SENDERS);
            tokio::spawn(send(system.core.addr, shard, ticks, epoch, window))
        })
        .collect();
    let mut sent = 0;
    for sender in senders {
        sent += sender.await??;
    }
    let (histogram, out_of_order, events) = reader.await??;
    let fast = fast_events(system).await? - fast_before;
    Ok(Seen {
        sent,
        histogram,
        out_of_order,
        events,
        fast_events: fast as u64,
    })
}

/// Sends into the shard's rooms in turn, open loop, the send time in each
/// text; returns how many were sent.
async fn send(
    core: SocketAddr,
    shard: Vec<(i64, String)>,
    mut ticks: tokio::time::Interval,
    epoch: Instant,
    window: Duration,
) -> anyhow::Result<u64> {
    let client = MessageServiceClient::new(channel(core));
    let mut inflight = Vec::new();
    let mut n = 0usize;
    while epoch.elapsed() < window && !shard.is_empty() {
        ticks.tick().await;
        let (room_id, peer) = &shard[n % shard.len()];
        n += 1;
        let request = pb::SendMessageRequest {
            room_id: *room_id,
            text: epoch.elapsed().as_micros().to_string(),
            client_msg_id: String::new(),
        };
        let mut client = client.clone();
        let request = authed(peer, request);
        inflight.push(tokio::spawn(
            async move { client.send_message(request).await },
        ));
    }
    for send in inflight {
        send.await??;
    }
    Ok(n as u64)
}

/// Reads the user socket until `until`: each `chat_message`'s latency, and
/// whether each room's `seq` went up by one at a time.
async fn read(
    mut socket: ws::Socket,
    epoch: Instant,
    until: Instant,
) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut last_seq: HashMap<i64, i64> = HashMap::new();
    let (mut out_of_order, mut events) = (0u64, 0u64);
    let deadline = tokio::time::sleep_until(until.into());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text)?;
                    let (Some(room), Some(seq)) = (value["room_id"].as_i64(), value["seq"].as_i64()) else {
                        continue;
                    };
                    events += 1;
                    let previous = last_seq.insert(room, seq);
                    if previous.is_some_and(|previous| previous + 1 != seq) {
                        out_of_order += 1;
                    }
                    if value["type"] == "chat_message" {
                        let stamp: u64 = value["message"]["text"].as_str().unwrap_or("0").parse().unwrap_or(0);
                        let now = epoch.elapsed().as_micros() as u64;
                        histogram.saturating_record(now.saturating_sub(stamp).max(1));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = &mut deadline => break,
        }
    }
    let _ = socket.close(None).await;
    Ok((histogram, out_of_order, events))
}
