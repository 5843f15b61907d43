//! One chat client: a WebSocket through an edge that sends its messages one
//! at a time with a `client_msg_id`, records every event frame, and on any
//! disconnect reconnects (to the next edge) with `?last_seq=` and resends
//! what was not acknowledged.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async, connect_async, tungstenite::Message,
};
use tokio_util::sync::CancellationToken;

use crate::system::Member;

/// How long an unacknowledged send waits before it is sent again.
const RESEND_AFTER: Duration = Duration::from_secs(2);

/// What a client does.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub sends: usize,
    pub pace: Duration,
    /// After this many acknowledged sends, stop reading for a while.
    pub stall: Option<(usize, Duration)>,
    /// Send every message twice with the same `client_msg_id`.
    pub send_twice: bool,
    /// Characters added to every text, so few sends fill buffers.
    pub padding: usize,
}

/// An event frame as a subscriber saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub seq: i64,
    pub kind: String,
    pub message_id: i64,
}

/// Where a client is, for the driver to watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    pub connected: bool,
    pub acked: usize,
    pub last_seq: i64,
}

/// Everything a client saw.
#[derive(Debug)]
pub struct Report {
    pub member: Member,
    pub log: Vec<Observed>,
    /// client_msg_id → message_id, from `ack` frames.
    pub acked: HashMap<String, i64>,
    /// Acks that named another message for a known client_msg_id.
    pub conflicting_acks: usize,
    /// History frames received after events were seen: a resume that failed.
    pub resets: usize,
    pub resumes: usize,
    pub closes: Vec<u16>,
    /// WebSockets opened.
    pub connections: usize,
    /// WebSockets that ended (closed, failed or were cut off) before the stop.
    pub interruptions: usize,
    /// Error frames received (a send that must be retried).
    pub errors: usize,
}

pub struct Client {
    pub member: Member,
    pub plan: Plan,
    pub edges: Vec<SocketAddr>,
    pub first_edge: usize,
    pub status: watch::Sender<Status>,
    /// Sends start once this is cancelled.
    pub go: CancellationToken,
    pub stop: CancellationToken,
}

struct State {
    report: Report,
    last_seq: Option<i64>,
    next: usize,
    awaiting: Option<(String, Instant)>,
    twice_pending: Option<String>,
    stalled: Option<Duration>,
}

impl Client {
    pub async fn run(self) -> Report {
        let mut state = State {
            report: Report {
                member: self.member.clone(),
                log: Vec::new(),
                acked: HashMap::new(),
                conflicting_acks: 0,
                resets: 0,
                resumes: 0,
                closes: Vec::new(),
                connections: 0,
                interruptions: 0,
                errors: 0,
            },
            last_seq: None,
            next: 0,
            awaiting: None,
            twice_pending: None,
            stalled: None,
        };
        let mut edge = self.first_edge;
        while !self.stop.is_cancelled() {
            if let Some(code) = self.session(&mut state, edge).await {
                state.report.closes.push(code);
            }
            edge = (edge + 1) % self.edges.len();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        state.report
    }

    /// One connection; returns the close code the server sent, if any.
    async fn session(&self, state: &mut State, edge: usize) -> Option<u16> {
        let resume = state
            .last_seq
            .map(|seq| format!("&last_seq={seq}"))
            .unwrap_or_default();
        let url = format!(
            "ws://{}/ws/chat/{}/?token={}{resume}",
            self.edges[edge], self.member.room, self.member.token
        );
        let socket = if self.plan.stall.is_some() {
            // A small receive buffer, so that a stall backs up to the edge
            // instead of vanishing into kernel buffers.
            let tcp = tokio::net::TcpSocket::new_v4().ok()?;
            tcp.set_recv_buffer_size(2048).ok()?;
            let stream = tcp.connect(self.edges[edge]).await.ok()?;
            client_async(url, MaybeTlsStream::Plain(stream))
                .await
                .ok()?
                .0
        } else {
            connect_async(url).await.ok()?.0
        };
        state.report.connections += 1;
        let ended = self.converse(state, socket).await;
        if ended.is_some() {
            state.report.interruptions += 1;
        }
        ended.flatten()
    }

    /// Sends and reads on one open socket until the stop (`None`) or until
    /// the socket ends (`Some` close code, if the server sent one).
    async fn converse(
        &self,
        state: &mut State,
        socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    ) -> Option<Option<u16>> {
        let (mut sink, mut stream) = socket.split();
        // Whatever was in flight is sent again on this connection.
        state.awaiting = None;
        let mut tick = tokio::time::interval(self.plan.pace);
        loop {
            if let Some(pause) = state.stalled.take() {
                tokio::time::sleep(pause).await;
            }
            tokio::select! {
                _ = self.stop.cancelled() => {
                    let _ = sink.close().await;
                    return None;
                }
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.handle(state, &text),
                    Some(Ok(Message::Close(frame))) => return Some(frame.map(|f| f.code.into())),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Some(None),
                },
                // A precondition on this branch would be read only when the
                // select starts; `go` must be noticed while waiting.
                _ = tick.tick() => {
                    if !self.go.is_cancelled() {
                        continue;
                    }
                    if let Some(frame) = state.next_send(&self.member.name, &self.plan)
                        && sink.send(Message::Text(frame.into())).await.is_err()
                    {
                        return Some(None);
                    }
                }
            }
        }
    }

    fn handle(&self, state: &mut State, text: &str) {
        let value: Value = serde_json::from_str(text).expect("frames are JSON");
        if value.is_array() {
            if state.last_seq.is_some_and(|seq| seq > 0) {
                state.report.resets += 1;
            }
            // Rooms start empty: after the first history the client stands at 0.
            state.last_seq.get_or_insert(0);
            self.status.send_modify(|status| status.connected = true);
            return;
        }
        match value["type"].as_str().unwrap_or_default() {
            "resumed" => state.report.resumes += 1,
            "ack" => state.acked(&value, &self.plan, &self.status),
            "error" => {
                state.report.errors += 1;
                // Retry soon: the core may be down for a moment.
                if let Some((_, sent)) = &mut state.awaiting {
                    *sent = Instant::now() - RESEND_AFTER + Duration::from_millis(100);
                }
            }
            kind @ ("chat_message"
            | "mark_message_as_delivered"
            | "mark_message_as_read"
            | "message_edited"
            | "message_deleted") => state.observe(kind, &value, &self.status),
            // `presence`, `typing` and frames yet to come are not room
            // events: a client ignores what it does not know.
            _ => {}
        }
    }
}

impl State {
    fn next_send(&mut self, name: &str, plan: &Plan) -> Option<String> {
        if let Some(id) = self.twice_pending.take() {
            return Some(frame(&id, plan.padding));
        }
        let id = match &self.awaiting {
            Some((id, sent)) if sent.elapsed() >= RESEND_AFTER => id.clone(),
            Some(_) => return None,
            None if self.next < plan.sends => format!("{name}-{}", self.next),
            None => return None,
        };
        self.awaiting = Some((id.clone(), Instant::now()));
        if plan.send_twice {
            self.twice_pending = Some(id.clone());
        }
        Some(frame(&id, plan.padding))
    }

    fn acked(&mut self, value: &Value, plan: &Plan, status: &watch::Sender<Status>) {
        let id = value["client_msg_id"]
            .as_str()
            .expect("acks name their send")
            .to_owned();
        let message_id = value["message_id"]
            .as_i64()
            .expect("acks name their message");
        match self.report.acked.get(&id) {
            Some(&known) if known != message_id => self.report.conflicting_acks += 1,
            Some(_) => {}
            None => {
                self.report.acked.insert(id.clone(), message_id);
            }
        }
        if self
            .awaiting
            .as_ref()
            .is_some_and(|(waiting, _)| *waiting == id)
        {
            self.awaiting = None;
            self.next += 1;
            status.send_modify(|status| status.acked = self.next);
            if let Some((after, pause)) = plan.stall
                && after == self.next
            {
                self.stalled = Some(pause);
            }
        }
    }

    fn observe(&mut self, kind: &str, value: &Value, status: &watch::Sender<Status>) {
        let message_id = match kind {
            "chat_message" | "mark_message_as_delivered" | "mark_message_as_read" => {
                value["message"]["message_id"].as_i64()
            }
            _ => value["message_id"].as_i64(),
        };
        let seq = value["seq"].as_i64().expect("event frames carry seq");
        self.report.log.push(Observed {
            seq,
            kind: kind.to_owned(),
            message_id: message_id.expect("event frames name their message"),
        });
        self.last_seq = Some(seq);
        status.send_modify(|status| status.last_seq = seq);
    }
}

fn frame(client_msg_id: &str, padding: usize) -> String {
    let text = format!("text of {client_msg_id} {}", "x".repeat(padding));
    json!({"message": text, "client_msg_id": client_msg_id}).to_string()
}
