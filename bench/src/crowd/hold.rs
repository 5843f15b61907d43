//! One held socket: it reads every frame until the socket closes (reading
//! is also what answers the edge's pings). A sending member sends at its
//! rate during the flow window and records the latency of the other
//! member's messages; the counts of all sockets of a worker meet in one
//! [`Tally`].

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::{sync::watch, time::Interval};
use tokio_tungstenite::tungstenite::{Message, protocol::CloseFrame};

use super::wire::Flowed;
use crate::ws::Socket;

/// The flow window, the same for every sending member of a worker.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Messages carry their send time in microseconds since this instant.
    pub epoch: Instant,
    pub until: Instant,
}

/// A member that sends during the window.
#[derive(Debug, Clone, Copy)]
pub struct Sender {
    pub me: i64,
    /// Time between two sends.
    pub every: Duration,
    /// Delay of the first send after the epoch, so senders are spread out.
    pub phase: Duration,
}

/// What the sockets of one worker counted.
#[derive(Debug)]
pub struct Tally {
    latency_us: Mutex<Histogram<u64>>,
    sent: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    dropped: Mutex<BTreeMap<String, u64>>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            ),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Tally {
    /// Everything counted so far.
    pub fn snapshot(&self) -> Flowed {
        let histogram = self.latency_us.lock().expect("tally lock poisoned");
        Flowed {
            sent: self.sent.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency_us: histogram
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            dropped: self.dropped.lock().expect("tally lock poisoned").clone(),
        }
    }

    /// A text frame arrived at member `me` during the flow (epoch `epoch`).
    fn text(&self, text: &str, me: i64, epoch: Instant) {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match frame["type"].as_str() {
            Some("chat_message") if frame["message"]["sender_id"].as_i64() != Some(me) => {
                let text = frame["message"]["text"].as_str().unwrap_or("0");
                let stamp: u64 = text.parse().unwrap_or(0);
                let now = epoch.elapsed().as_micros() as u64;
                self.latency_us
                    .lock()
                    .expect("tally lock poisoned")
                    .saturating_record(now.saturating_sub(stamp).max(1));
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Some("error") => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn dropped(&self, reason: String) {
        *self
            .dropped
            .lock()
            .expect("tally lock poisoned")
            .entry(reason)
            .or_default() += 1;
    }
}

/// A sending member's flow: its window and its send ticks.
struct Flow {
    window: Window,
    ticks: Interval,
}

/// Holds `socket` until it closes; a `sender` also sends once `start`
/// carries the window. Cancelling the task drops the socket.
pub async fn hold(
    socket: Socket,
    sender: Option<Sender>,
    mut start: watch::Receiver<Option<Window>>,
    tally: Arc<Tally>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut waiting = sender.is_some();
    let mut flow: Option<Flow> = None;
    let ending = loop {
        let sending = flow
            .as_ref()
            .is_some_and(|f| Instant::now() < f.window.until);
        tokio::select! {
            started = started(&mut start), if waiting => {
                waiting = false;
                if let (Some(window), Some(sender)) = (started, sender) {
                    flow = Some(Flow {
                        window,
                        ticks: ticks(window, sender),
                    });
                }
            }
            () = next_tick(&mut flow), if sending => {
                let Some(window) = flow.as_ref().map(|f| f.window) else { continue };
                if Instant::now() >= window.until {
                    continue;
                }
                let stamp = window.epoch.elapsed().as_micros().to_string();
                let frame = serde_json::json!({ "message": stamp }).to_string();
                if let Err(err) = sink.send(Message::Text(frame.into())).await {
                    break format!("send failed: {err}");
                }
                tally.sent.fetch_add(1, Ordering::Relaxed);
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let (Some(flow), Some(sender)) = (&flow, sender) {
                        tally.text(&text, sender.me, flow.window.epoch);
                    }
                }
                Some(Ok(Message::Close(frame))) => break close_reason(frame.as_ref()),
                Some(Ok(_)) => {}
                Some(Err(err)) => break format!("read failed: {err}"),
                None => break "end of stream".to_owned(),
            },
        }
    };
    tally.dropped(ending);
}

/// The window, once it started; `None` if it never will.
async fn started(start: &mut watch::Receiver<Option<Window>>) -> Option<Window> {
    start
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|window| *window)
}

/// Open-loop send ticks of `sender` from its phase in `window` on.
fn ticks(window: Window, sender: Sender) -> Interval {
    let first = window.epoch + sender.phase;
    let mut ticks = tokio::time::interval_at(first.into(), sender.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    ticks
}

async fn next_tick(flow: &mut Option<Flow>) {
    match flow {
        Some(flow) => {
            flow.ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn close_reason(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("close {}", u16::from(frame.code)),
        None => "close without a code".to_owned(),
    }
}
