//! Steady chat: R rooms × 2 members, both sending at a fixed rate; latency
//! is the time from a send to the `chat_message` frame at the other member.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::{pace, population::Room, ws};

/// One step of offered load and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub offered_per_sec: f64,
    pub delivered_per_sec: f64,
    pub sent: u64,
    pub delivered: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// CPU milliseconds per delivered message, by component.
    pub cpu_ms_per_message: Option<crate::cpu::CpuSplit>,
    /// What PostgreSQL ran per message (with `--statements`).
    pub statements: Option<Vec<crate::statements::Statement>>,
}

/// Sends `rate` messages per second in total across `rooms` for `seconds`.
pub async fn step(
    edges: &[std::net::SocketAddr],
    rooms: &[Room],
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Step> {
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let window = Duration::from_secs_f64(seconds);
    let per_member = rate / (rooms.len() * 2) as f64;
    // Everyone joins first: a message sent before its recipient joined
    // would land in the recipient's history, not in a live frame.
    let mut sockets = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        for member in 0..2 {
            let edge = edges[(r * 2 + member) % edges.len()];
            sockets.push((
                ws::join(edge, room.id, &room.tokens[member]).await?,
                room.users[member],
            ));
        }
    }
    let epoch = Instant::now();
    let members = sockets.len();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(index, (socket, me))| {
            let ticks = pace::ticks(epoch, per_member, index, members);
            tokio::spawn(member_task(
                socket,
                me,
                ticks,
                epoch,
                window,
                Arc::clone(&histogram),
            ))
        })
        .collect();
    let (mut sent, mut delivered, mut errors) = (0, 0, 0);
    for task in tasks {
        let (s, d, e) = task.await??;
        (sent, delivered, errors) = (sent + s, delivered + d, errors + e);
    }
    let h = histogram.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(Step {
        offered_per_sec: rate,
        delivered_per_sec: delivered as f64 / seconds,
        sent,
        delivered,
        errors,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: h.max() as f64 / 1000.0,
        cpu_ms_per_message: None,
        statements: None,
    })
}

/// Sends open-loop on `ticks` and records the latency of the other member's
/// messages; returns (sent, received, errors).
async fn member_task(
    socket: ws::Socket,
    me: i64,
    mut ticks: tokio::time::Interval,
    epoch: Instant,
    window: Duration,
    histogram: Arc<Mutex<Histogram<u64>>>,
) -> anyhow::Result<(u64, u64, u64)> {
    let (mut sink, mut stream) = socket.split();
    let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut sent, mut received, mut errors) = (0u64, 0u64, 0u64);
    let drain_until = epoch + window + Duration::from_secs(2);
    loop {
        let sending = Instant::now() < epoch + window;
        tokio::select! {
            _ = ticks.tick(), if sending => {
                let stamp = epoch.elapsed().as_micros();
                let frame = serde_json::json!({"message": stamp.to_string()}).to_string();
                sink.send(Message::Text(frame.into())).await?;
                sent += 1;
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text)?;
                    match value["type"].as_str() {
                        Some("chat_message") if value["message"]["sender_id"].as_i64() != Some(me) => {
                            let stamp: u64 = value["message"]["text"].as_str().unwrap_or("0").parse().unwrap_or(0);
                            let now = epoch.elapsed().as_micros() as u64;
                            local.saturating_record(now.saturating_sub(stamp).max(1));
                            received += 1;
                        }
                        Some("error") => errors += 1,
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => { errors += 1; break; }
            },
            _ = tokio::time::sleep_until(drain_until.into()) => break,
        }
    }
    let _ = sink.close().await;
    histogram.lock().await.add(&local)?;
    Ok((sent, received, errors))
}
