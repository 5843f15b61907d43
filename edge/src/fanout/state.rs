//! The hub's bookkeeping, with no I/O: the sockets (opening or open, each
//! with its room, latest token and feed) and the rooms (last `seq` held,
//! open sockets). It answers openings, fans events, presence and typing
//! out (each encoded once; presence and typing only to the sockets of the
//! other member), and says what the hello of a new link names.

use std::collections::HashMap;

use tokio::sync::oneshot;
use tungstenite::Utf8Bytes;

use super::{Feed, FeedSender, Opened};
use crate::core_client::{BearerToken, LinkHello, Presence, RoomEvent, SocketOpening};
use crate::error::Error;
use crate::ws::close::CloseReason;
use crate::ws::protocol::ServerFrame;

/// One socket of the edge.
struct Socket {
    opening: SocketOpening,
    feed: FeedSender,
    phase: Phase,
    /// The socket's user, once the core named them (0 before).
    user_id: i64,
    /// The latest presence version of the other member the socket has.
    presence_version: i64,
}

enum Phase {
    /// `OpenSocket` sent, no answer yet.
    Opening(oneshot::Sender<Result<Opened, Error>>),
    /// Open: it takes the room's events after `after`.
    Open { after: i64 },
}

/// One room some open socket follows.
struct Room {
    /// The last `seq` held: of the last event fanned out, or of the first
    /// socket's snapshot.
    last_seq: i64,
    sockets: Vec<u64>,
}

/// The edge's sockets and rooms.
#[derive(Default)]
pub(super) struct State {
    sockets: HashMap<u64, Socket>,
    rooms: HashMap<i64, Room>,
}

impl State {
    /// A socket asks to open; it waits for the core's answer.
    pub fn open(
        &mut self,
        opening: SocketOpening,
        feed: FeedSender,
        reply: oneshot::Sender<Result<Opened, Error>>,
    ) {
        let socket = Socket {
            opening,
            feed,
            phase: Phase::Opening(reply),
            user_id: 0,
            presence_version: 0,
        };
        self.sockets.insert(socket.opening.socket_id, socket);
    }

    /// A socket's token was replaced.
    pub fn refresh(&mut self, socket_id: u64, token: BearerToken) {
        if let Some(socket) = self.sockets.get_mut(&socket_id) {
            socket.opening.token = token;
        }
    }

    /// A socket closed; `true` when the core knows of it (it must be told).
    pub fn close(&mut self, socket_id: u64) -> bool {
        let Some(socket) = self.sockets.remove(&socket_id) else {
            return false;
        };
        self.leave_room(socket.opening.room_id, socket_id);
        true
    }

    fn leave_room(&mut self, room_id: i64, socket_id: u64) {
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.sockets.retain(|id| *id != socket_id);
            if room.sockets.is_empty() {
                self.rooms.remove(&room_id);
            }
        }
    }

    /// The core let a socket open; `false` when its session is gone (the
    /// core must be told it closed).
    pub fn opened(&mut self, socket_id: u64, opened: Opened) -> bool {
        let Some(socket) = self.sockets.get_mut(&socket_id) else {
            return true;
        };
        let seq = opened.snapshot.seq;
        let reply = match std::mem::replace(&mut socket.phase, Phase::Open { after: seq }) {
            Phase::Opening(reply) => reply,
            Phase::Open { after } => {
                socket.phase = Phase::Open { after };
                return true;
            }
        };
        socket.user_id = opened.snapshot.user_id;
        socket.presence_version = opened.peer.map_or(0, |peer| peer.version);
        let room_id = socket.opening.room_id;
        let room = self.rooms.entry(room_id).or_insert(Room {
            last_seq: seq,
            sockets: Vec::new(),
        });
        room.sockets.push(socket_id);
        if reply.send(Ok(opened)).is_err() {
            self.close(socket_id);
            return false;
        }
        true
    }

    /// The core refused a socket: an opening one learns why, an open one
    /// (after a re-link) closes with the code the refusal maps to.
    pub fn refused(&mut self, socket_id: u64, error: Error) {
        let Some(socket) = self.sockets.remove(&socket_id) else {
            return;
        };
        match socket.phase {
            Phase::Opening(reply) => {
                let _ = reply.send(Err(error));
            }
            Phase::Open { .. } => {
                tracing::info!(code = ?error.code(), "socket refused on re-link");
                let reason = error.failure().close_reason();
                let _ = socket.feed.try_send(Box::new(Feed::Close(reason)));
                self.leave_room(socket.opening.room_id, socket_id);
            }
        }
    }

    /// Fans a room event out to the room's open sockets, encoded once;
    /// answers the sockets dropped for a full feed (the core must be told
    /// they closed). An event at or before the room's last `seq` is skipped.
    pub fn event(&mut self, room_id: i64, event: RoomEvent) -> Vec<u64> {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return Vec::new();
        };
        if event.seq <= room.last_seq {
            return Vec::new();
        }
        room.last_seq = event.seq;
        let seq = event.seq;
        let frame = crate::ws::event_frame(event);
        self.offer(
            room_id,
            &frame,
            |socket| !matches!(socket.phase, Phase::Open { after } if after >= seq),
        )
    }

    /// Fans a member's presence out to the room's sockets of the other
    /// member that do not have this version (or a later one) yet; answers
    /// the sockets dropped for a full feed.
    pub fn presence(&mut self, room_id: i64, presence: Presence) -> Vec<u64> {
        let frame = crate::ws::presence_frame(presence);
        self.offer(room_id, &frame, |socket| {
            let news =
                socket.user_id != presence.user_id && socket.presence_version < presence.version;
            if news {
                socket.presence_version = presence.version;
            }
            news
        })
    }

    /// Fans a member's `typing` out to the room's sockets of the other
    /// member; answers the sockets dropped for a full feed.
    pub fn typing(&mut self, room_id: i64, user_id: i64) -> Vec<u64> {
        let frame = ServerFrame::Typing { room_id, user_id };
        self.offer(room_id, &frame, |socket| socket.user_id != user_id)
    }

    /// Offers `frame`, encoded once, to the room's open sockets that `wants`
    /// it; closes and answers those whose feed is full.
    fn offer(
        &mut self,
        room_id: i64,
        frame: &ServerFrame,
        mut wants: impl FnMut(&mut Socket) -> bool,
    ) -> Vec<u64> {
        let Some(room) = self.rooms.get(&room_id) else {
            return Vec::new();
        };
        let Some(text) = encode(frame) else {
            return Vec::new();
        };
        let mut dropped = Vec::new();
        for socket_id in &room.sockets {
            let Some(socket) = self.sockets.get_mut(socket_id) else {
                continue;
            };
            if !matches!(socket.phase, Phase::Open { .. }) || !wants(socket) {
                continue;
            }
            if socket
                .feed
                .try_send(Box::new(Feed::Frame(text.clone())))
                .is_err()
            {
                dropped.push(*socket_id);
            }
        }
        for socket_id in &dropped {
            tracing::info!(socket_id, "socket fell behind its room, closing");
            self.close(*socket_id);
        }
        dropped
    }

    /// The hello of a new link (open sockets, rooms' positions), and the
    /// sockets still waiting for an answer, to open again after it.
    pub fn hello(&self) -> (LinkHello, Vec<SocketOpening>) {
        let mut hello = LinkHello::default();
        let mut opening = Vec::new();
        for socket in self.sockets.values() {
            match socket.phase {
                Phase::Open { .. } => hello.sockets.push(socket.opening.clone()),
                Phase::Opening(_) => opening.push(socket.opening.clone()),
            }
        }
        hello.rooms = self
            .rooms
            .iter()
            .map(|(room_id, room)| (*room_id, room.last_seq))
            .collect();
        (hello, opening)
    }

    /// The opening of socket `socket_id`, with its latest token, while it
    /// waits for the core's answer; `None` once it closed or was answered.
    pub fn opening(&self, socket_id: u64) -> Option<SocketOpening> {
        let socket = self.sockets.get(&socket_id)?;
        matches!(socket.phase, Phase::Opening(_)).then(|| socket.opening.clone())
    }

    /// No core answers: every socket waiting to open is refused with `error()`.
    pub fn refuse_openings(&mut self, error: impl Fn() -> Error) {
        let waiting: Vec<u64> = self
            .sockets
            .iter()
            .filter(|(_, socket)| matches!(socket.phase, Phase::Opening(_)))
            .map(|(id, _)| *id)
            .collect();
        for socket_id in waiting {
            if let Some(Socket {
                phase: Phase::Opening(reply),
                ..
            }) = self.sockets.remove(&socket_id)
            {
                let _ = reply.send(Err(error()));
            }
        }
    }

    /// No core has answered for too long: every open socket closes with `reason`.
    pub fn close_all(&mut self, reason: CloseReason) {
        for (_, socket) in self.sockets.drain() {
            let _ = socket.feed.try_send(Box::new(Feed::Close(reason)));
        }
        self.rooms.clear();
    }

    /// How many sockets the hub holds.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }
}

/// A frame's JSON, encoded once for every socket of its room.
fn encode(frame: &ServerFrame) -> Option<Utf8Bytes> {
    match serde_json::to_string(frame) {
        Ok(text) => Some(Utf8Bytes::from(text)),
        Err(error) => {
            tracing::error!(%error, "a frame did not serialize");
            None
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
