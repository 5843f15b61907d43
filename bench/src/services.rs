//! Internal services under load: the event feed's lag (commit to receipt
//! by a `Follow` consumer) during the steady chat, the steady chat with a
//! webhook receiver that never answers against none, and the send path's
//! pgbench ceiling with and without the feed's and the webhooks' bookkeeping.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use chat_proto::v1::{self as pb, event_feed_client::EventFeedClient};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    population::{self, Room},
    services_pgbench,
    steady::{self, Step},
    system::{SECRET, Shape, System},
};

/// What the scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Services {
    /// The steady rate offered (half the peak when the sweep ran).
    pub rate_per_sec: f64,
    /// Messages per second to offline recipients on top (gRPC sends).
    pub offline_per_sec: f64,
    /// The feed consumer during the steady step without webhooks.
    pub feed: FeedLag,
    pub without_webhook: Step,
    pub silent_webhook: Step,
    /// Deliveries still queued after the step with the silent receiver.
    pub webhooks_pending_after: i64,
    pub pgbench: services_pgbench::Bookkeeping,
}

/// Commit-to-receipt lag of `message_created` items at one consumer.
#[derive(Debug, Clone, Serialize)]
pub struct FeedLag {
    pub messages: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Runs the scenario on `system` (no webhook) and on a second system like
/// it whose core posts webhooks to a receiver that never answers.
pub async fn run(
    system: &System,
    shape: Shape,
    rooms: usize,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Services> {
    let offline_per_sec = (rate / 10.0).max(1.0);
    let (without_webhook, feed) =
        measured_step(system, rooms, rate, offline_per_sec, seconds).await?;
    eprintln!(
        "services {rate}/s without webhook: chat p99 {:.2} ms; feed lag p99 {:.2} ms over {} messages",
        without_webhook.p99_ms, feed.p99_ms, feed.messages
    );
    let silent = silent_receiver().await?;
    let hooked = System::start(Shape {
        webhook: Some(silent),
        ..shape
    })
    .await?;
    let (silent_webhook, _) = measured_step(&hooked, rooms, rate, offline_per_sec, seconds).await?;
    let webhooks_pending_after = pending(&hooked).await?;
    eprintln!(
        "services {rate}/s with a silent webhook: chat p99 {:.2} ms; {webhooks_pending_after} deliveries pending",
        silent_webhook.p99_ms
    );
    drop(hooked);
    let pgbench = services_pgbench::run(system, rooms, shape.db_pool, seconds).await?;
    Ok(Services {
        rate_per_sec: rate,
        offline_per_sec,
        feed,
        without_webhook,
        silent_webhook,
        webhooks_pending_after,
        pgbench,
    })
}

/// One steady step with a feed consumer following and gRPC sends to
/// offline recipients beside it.
async fn measured_step(
    system: &System,
    rooms: usize,
    rate: f64,
    offline_per_sec: f64,
    seconds: f64,
) -> anyhow::Result<(Step, FeedLag)> {
    let online = population::rooms(system.core.addr, "svc", rooms).await?;
    let offline = population::rooms(system.core.addr, "svc-away", rooms).await?;
    let lags = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let consumer = tokio::spawn(follow(system.core.addr, Arc::clone(&lags)));
    let away = tokio::spawn(send_offline(
        system.core.addr,
        offline,
        offline_per_sec,
        seconds,
    ));
    let edges: Vec<_> = system.edges.iter().map(|edge| edge.addr).collect();
    let step = steady::step(&edges, &online, rate, seconds).await?;
    away.await??;
    consumer.abort();
    let h = lags
        .lock()
        .map_err(|_| anyhow::anyhow!("lag histogram poisoned"))?;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let feed = FeedLag {
        messages: h.len(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: h.max() as f64 / 1000.0,
    };
    Ok((step, feed))
}

/// Follows the feed from its end and records each new message's lag.
async fn follow(
    core: std::net::SocketAddr,
    lags: Arc<Mutex<Histogram<u64>>>,
) -> anyhow::Result<()> {
    let mut client = EventFeedClient::new(population::channel(core));
    let request = pb::FollowRequest {
        from_end: true,
        ..Default::default()
    };
    let mut stream = client
        .follow(population::authed(&service_token()?, request))
        .await?
        .into_inner();
    while let Some(item) = stream.message().await? {
        let Some(pb::feed_item::Item::Event(event)) = item.item else {
            continue;
        };
        if !matches!(event.kind, Some(pb::room_event::Kind::MessageCreated(_))) {
            continue;
        }
        let Some(at) = event.occurred_at else {
            continue;
        };
        let happened =
            UNIX_EPOCH + Duration::new(u64::try_from(at.seconds)?, u32::try_from(at.nanos)?);
        let lag = SystemTime::now()
            .duration_since(happened)
            .unwrap_or_default();
        if let Ok(mut h) = lags.lock() {
            h.saturating_record((lag.as_micros() as u64).max(1));
        }
    }
    Ok(())
}

/// Sends at `rate` into rooms whose recipients have no socket open.
async fn send_offline(
    core: std::net::SocketAddr,
    rooms: Vec<Room>,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<()> {
    let mut client =
        pb::message_service_client::MessageServiceClient::new(population::channel(core));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let total = (rate * seconds) as usize;
    for i in 0..total {
        ticks.tick().await;
        let room = &rooms[i % rooms.len()];
        let request = pb::SendMessageRequest {
            room_id: room.id,
            text: format!("while you were away {i}"),
            client_msg_id: String::new(),
        };
        client
            .send_message(population::authed(&room.tokens[0], request))
            .await?;
    }
    Ok(())
}

/// A token with the `chat:events` scope.
fn service_token() -> anyhow::Result<String> {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 86_400;
    let claims = serde_json::json!({"sub": "bench-feed", "exp": exp, "scope": "chat:events"});
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &key,
    )?)
}

/// Accepts connections and never answers on them.
async fn silent_receiver() -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(addr)
}

async fn pending(system: &System) -> anyhow::Result<i64> {
    let (db, connection) =
        tokio_postgres::connect(&system.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(db
        .query_one("SELECT count(*) FROM webhook_deliveries", &[])
        .await?
        .get(0))
}
