//! gRPC fan-out: one publisher, K `Subscribe` streams of the room (the
//! other member on K devices); latency from send to `message_created` on
//! each stream.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chat_proto::v1::{
    self as pb, message_service_client::MessageServiceClient, room_event::Kind,
    room_service_client::RoomServiceClient, subscribe_response::Item,
};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::population::{Room, authed, channel};

#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    pub streams: usize,
    pub messages: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub async fn run(
    core: std::net::SocketAddr,
    room: &Room,
    streams: usize,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Fanout> {
    let channel = channel(core);
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let epoch = Instant::now();
    let mut subscribers = Vec::new();
    for _ in 0..streams {
        let request = pb::SubscribeRequest {
            room_id: room.id,
            history_limit: Some(0),
            after_seq: None,
        };
        let mut stream = RoomServiceClient::new(channel.clone())
            .subscribe(authed(&room.tokens[1], request))
            .await?
            .into_inner();
        stream.message().await?;
        let histogram = Arc::clone(&histogram);
        subscribers.push(tokio::spawn(async move {
            let mut count = 0u64;
            while let Ok(Ok(Some(item))) =
                tokio::time::timeout(Duration::from_secs(3), stream.message()).await
            {
                if let Some(Item::Event(pb::RoomEvent {
                    kind: Some(Kind::MessageCreated(m)),
                    ..
                })) = item.item
                {
                    let stamp: u64 = m.text.parse().unwrap_or(0);
                    let now = epoch.elapsed().as_micros() as u64;
                    histogram
                        .lock()
                        .await
                        .saturating_record(now.saturating_sub(stamp).max(1));
                    count += 1;
                }
            }
            count
        }));
    }
    let mut publisher = MessageServiceClient::new(channel);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut messages = 0u64;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        ticks.tick().await;
        let text = epoch.elapsed().as_micros().to_string();
        let request = pb::SendMessageRequest {
            room_id: room.id,
            text,
            client_msg_id: String::new(),
        };
        publisher
            .send_message(authed(&room.tokens[0], request))
            .await?;
        messages += 1;
    }
    let mut deliveries = 0;
    for subscriber in subscribers {
        deliveries += subscriber.await?;
    }
    let h = histogram.lock().await;
    Ok(Fanout {
        streams,
        messages,
        deliveries,
        deliveries_per_sec: deliveries as f64 / seconds,
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: h.max() as f64 / 1000.0,
    })
}
