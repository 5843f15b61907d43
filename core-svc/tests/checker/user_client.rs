//! A user-socket client: `/ws/user/` through an edge, recording every room
//! event frame per room; on any disconnect (or when its plan says so) it
//! reconnects to the next edge with `?cursor=` set to the last cursor it
//! received, as the protocol tells clients to.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::{connect_async, tungstenite::Message};
use tokio_util::sync::CancellationToken;

use crate::client::Observed;

/// What a user socket saw, per room.
#[derive(Debug, Default)]
pub struct UserReport {
    pub name: String,
    /// Room → its events in the order received.
    pub logs: BTreeMap<i64, Vec<Observed>>,
    /// Room → the `seq` the first inbox put it at.
    pub inbox_seq: HashMap<i64, i64>,
    /// Room → the last `unread_count` received.
    pub unread: HashMap<i64, i64>,
    /// Fresh inboxes after the first: a resume that was not honoured.
    pub resets: usize,
    pub resumes: usize,
    pub connections: usize,
    pub closes: Vec<u16>,
    /// Event frames without `room_id`, `seq` or `cursor`.
    pub malformed: usize,
}

pub struct UserClient {
    pub name: String,
    pub token: String,
    pub edges: Vec<SocketAddr>,
    pub first_edge: usize,
    /// Hang up by itself after this many events on one connection.
    pub hang_up_after: Option<usize>,
    /// Room → last `seq` received, for the driver to watch; `None` until
    /// the first inbox.
    pub status: watch::Sender<Option<BTreeMap<i64, i64>>>,
    pub stop: CancellationToken,
}

impl UserClient {
    pub async fn run(self) -> UserReport {
        let mut report = UserReport {
            name: self.name.clone(),
            ..UserReport::default()
        };
        let mut cursor: Option<String> = None;
        let mut edge = self.first_edge;
        while !self.stop.is_cancelled() {
            if let Some(code) = self.session(&mut report, &mut cursor, edge).await {
                report.closes.push(code);
            }
            edge = (edge + 1) % self.edges.len();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        report
    }

    /// One connection; the close code the server sent, if any.
    async fn session(
        &self,
        report: &mut UserReport,
        cursor: &mut Option<String>,
        edge: usize,
    ) -> Option<u16> {
        let resume = cursor
            .as_ref()
            .map(|cursor| format!("&cursor={cursor}"))
            .unwrap_or_default();
        let url = format!(
            "ws://{}/ws/user/?token={}{resume}",
            self.edges[edge], self.token
        );
        let (socket, _) = connect_async(url).await.ok()?;
        report.connections += 1;
        let (mut sink, mut stream) = socket.split();
        let mut events = 0;
        loop {
            let frame = tokio::select! {
                _ = self.stop.cancelled() => {
                    let _ = sink.close().await;
                    return None;
                }
                frame = stream.next() => frame,
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    if self.handle(report, cursor, &text) {
                        events += 1;
                    }
                }
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
            if self.hang_up_after.is_some_and(|after| events >= after) {
                let _ = sink.close().await;
                return None;
            }
        }
    }

    /// Records one frame; true when it was a room event.
    fn handle(&self, report: &mut UserReport, cursor: &mut Option<String>, text: &str) -> bool {
        let value: Value = serde_json::from_str(text).expect("frames are JSON");
        match value["type"].as_str().unwrap_or_default() {
            "inbox" => {
                self.inbox(report, &value);
                *cursor = value["cursor"].as_str().map(str::to_owned);
                false
            }
            "resumed" => {
                report.resumes += 1;
                false
            }
            kind @ ("chat_message"
            | "mark_message_as_delivered"
            | "mark_message_as_read"
            | "message_edited"
            | "message_deleted") => {
                let (Some(room), Some(seq), Some(next)) = (
                    value["room_id"].as_i64(),
                    value["seq"].as_i64(),
                    value["cursor"].as_str(),
                ) else {
                    report.malformed += 1;
                    return false;
                };
                let message_id = match kind {
                    "message_edited" | "message_deleted" => value["message_id"].as_i64(),
                    _ => value["message"]["message_id"].as_i64(),
                };
                report.logs.entry(room).or_default().push(Observed {
                    seq,
                    kind: kind.to_owned(),
                    message_id: message_id.unwrap_or_default(),
                });
                if let Some(unread) = value["unread_count"].as_i64() {
                    report.unread.insert(room, unread);
                }
                *cursor = Some(next.to_owned());
                self.status.send_modify(|status| {
                    status.get_or_insert_default().insert(room, seq);
                });
                true
            }
            "room_created" => {
                *cursor = value["cursor"].as_str().map(str::to_owned);
                false
            }
            // `presence`, `typing`, `ack`, `error` and frames yet to come.
            _ => false,
        }
    }

    fn inbox(&self, report: &mut UserReport, value: &Value) {
        let first = report.inbox_seq.is_empty() && report.logs.is_empty();
        if !first {
            report.resets += 1;
            return;
        }
        let rooms = value["rooms"].as_array().cloned().unwrap_or_default();
        for room in rooms {
            let (Some(id), Some(seq)) = (room["room_id"].as_i64(), room["last_seq"].as_i64())
            else {
                report.malformed += 1;
                continue;
            };
            report.inbox_seq.insert(id, seq);
            if let Some(unread) = room["unread_count"].as_i64() {
                report.unread.insert(id, unread);
            }
        }
        let seqs: BTreeMap<i64, i64> = report
            .inbox_seq
            .iter()
            .map(|(&room, &seq)| (room, seq))
            .collect();
        self.status.send_replace(Some(seqs));
    }
}
