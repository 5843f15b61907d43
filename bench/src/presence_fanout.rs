//! Presence fan-out: a user with `peers` peers (one room each) goes online
//! and offline `flips` times while every peer holds a user socket, and a
//! pair of other users keeps sending. Reported: how long each change took
//! to reach the last peer, whether every peer saw every change, and the
//! send latency while the changes fan out against the same sends before.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chat_proto::v1::{self as pb, message_service_client::MessageServiceClient};
use core_svc::auth::dev_token;
use futures::{SinkExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::{
    population::{self, authed, channel},
    system::{SECRET, System},
    ws,
};

const OPEN_CONCURRENCY: usize = 32;
/// The background sends per second, and how long they run alone first.
const SEND_RATE: f64 = 100.0;
const BASELINE: Duration = Duration::from_secs(3);
/// The longest a change may take to reach every peer before the run fails.
const FAN_OUT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize)]
pub struct PresenceFanout {
    pub peers: usize,
    pub flips: usize,
    /// `presence` frames about the user the peers received; the target is
    /// every peer once per change: `peers × flips × 2`.
    pub frames: u64,
    pub expected_frames: u64,
    /// From opening (closing) the user's socket to the last peer's frame.
    pub fan_out_p50_ms: f64,
    pub fan_out_max_ms: f64,
    pub send_p99_before_ms: f64,
    pub send_p99_during_ms: f64,
    pub send_max_during_ms: f64,
}

/// Counts the frames about the hub user, by state.
#[derive(Default)]
struct Counts {
    online: AtomicU64,
    offline: AtomicU64,
}

pub async fn run(system: &System, peers: usize, flips: usize) -> anyhow::Result<PresenceFanout> {
    let url = system.database_url();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let hub = fill(&db, peers).await?;
    let edge = system.edges[0].addr;
    let counts = Arc::new(Counts::default());
    let stop = CancellationToken::new();
    let sockets: Vec<ws::Socket> = futures::stream::iter(0..peers)
        .map(|n| async move { ws::open_user(edge, &token(&format!("fan-peer-{n}"))).await })
        .buffer_unordered(OPEN_CONCURRENCY)
        .try_collect()
        .await
        .context("opening the peers' user sockets")?;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(count(socket, hub, counts.clone(), stop.clone())))
        .collect();
    let pair = population::rooms(system.core.addr, "fan-bg", 1)
        .await?
        .remove(0);
    let before = sends(system.core.addr, &pair, BASELINE).await?;
    let sender = {
        let core = system.core.addr;
        let stop = stop.clone();
        tokio::spawn(async move { sends_until(core, &pair, stop).await })
    };
    let fan_out = flip(edge, flips, peers as u64, &counts).await;
    stop.cancel();
    let during = sender.await??;
    for reader in readers {
        reader.await?;
    }
    let fan_out = fan_out?;
    let ms = |us: u64| us as f64 / 1000.0;
    let frames = counts.online.load(Ordering::Relaxed) + counts.offline.load(Ordering::Relaxed);
    Ok(PresenceFanout {
        peers,
        flips,
        frames,
        expected_frames: (peers * flips * 2) as u64,
        fan_out_p50_ms: ms(fan_out.value_at_quantile(0.5)),
        fan_out_max_ms: ms(fan_out.max()),
        send_p99_before_ms: ms(before.value_at_quantile(0.99)),
        send_p99_during_ms: ms(during.value_at_quantile(0.99)),
        send_max_during_ms: ms(during.max()),
    })
}

/// The hub user `fan-hub` in a room with each `fan-peer-<n>`; its id.
async fn fill(db: &tokio_postgres::Client, peers: usize) -> anyhow::Result<i64> {
    db.batch_execute(&format!(
        "INSERT INTO users (sub) VALUES ('fan-hub');
         INSERT INTO users (sub) SELECT 'fan-peer-' || g FROM generate_series(0, {peers} - 1) g;
         INSERT INTO rooms (user_lo, user_hi)
             SELECT h.id, p.id FROM users h, users p
             WHERE h.sub = 'fan-hub' AND p.sub LIKE 'fan-peer-%';
         ANALYZE;"
    ))
    .await?;
    let row = db
        .query_one("SELECT id FROM users WHERE sub = 'fan-hub'", &[])
        .await?;
    Ok(row.get(0))
}

fn token(sub: &str) -> String {
    dev_token(SECRET, sub, "", Duration::from_secs(86_400))
}

/// Opens and closes the hub's user socket `flips` times, each time waiting
/// until every peer saw the change; the time each change took.
async fn flip(
    edge: SocketAddr,
    flips: usize,
    peers: u64,
    counts: &Counts,
) -> anyhow::Result<Histogram<u64>> {
    let mut fan_out = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let hub = token("fan-hub");
    for n in 1..=flips as u64 {
        let started = Instant::now();
        let mut socket = ws::open_user(edge, &hub).await?;
        reach(&counts.online, n * peers, started).await?;
        fan_out.saturating_record(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        socket.close(None).await?;
        drop(socket);
        reach(&counts.offline, n * peers, started).await?;
        fan_out.saturating_record(started.elapsed().as_micros() as u64);
    }
    Ok(fan_out)
}

async fn reach(counter: &AtomicU64, target: u64, started: Instant) -> anyhow::Result<()> {
    while counter.load(Ordering::Relaxed) < target {
        anyhow::ensure!(
            started.elapsed() < FAN_OUT_LIMIT,
            "a presence change reached {} of {target} peer frames in {FAN_OUT_LIMIT:?}",
            counter.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Counts one peer's `presence` frames about `hub` until `stop`.
async fn count(mut socket: ws::Socket, hub: i64, counts: Arc<Counts>, stop: CancellationToken) {
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            frame = socket.next() => frame,
        };
        let Some(Ok(Message::Text(text))) = frame else {
            if matches!(frame, Some(Ok(_))) {
                continue;
            }
            break;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if value["type"] == "presence" && value["user_id"] == hub {
            let counter = if value["is_online"] == true {
                &counts.online
            } else {
                &counts.offline
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Send round trips at [`SEND_RATE`] for `window`.
async fn sends(
    core: SocketAddr,
    pair: &population::Room,
    window: Duration,
) -> anyhow::Result<Histogram<u64>> {
    let stop = CancellationToken::new();
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            stop.cancel();
        })
    };
    let histogram = sends_until(core, pair, stop).await?;
    timer.await?;
    Ok(histogram)
}

async fn sends_until(
    core: SocketAddr,
    pair: &population::Room,
    stop: CancellationToken,
) -> anyhow::Result<Histogram<u64>> {
    let mut client = MessageServiceClient::new(channel(core));
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / SEND_RATE));
    while !stop.is_cancelled() {
        ticks.tick().await;
        let request = pb::SendMessageRequest {
            room_id: pair.id,
            text: "background".into(),
            client_msg_id: String::new(),
        };
        let started = Instant::now();
        client
            .send_message(authed(&pair.tokens[0], request))
            .await?;
        histogram.saturating_record(started.elapsed().as_micros() as u64);
    }
    Ok(histogram)
}
