//! Per-room broadcast channels, created on the first subscriber and removed
//! with the last. They carry events committed by this process, and hints
//! that another process committed up to some sequence number.
//!
//! Each channel remembers the highest sequence number it carried, so that
//! a hint that tells its subscribers nothing new (the poll of an idle room,
//! a notification of events this process already published) wakes nobody.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::broadcast;

use crate::{
    cluster::LocalRooms,
    domain::{RoomEvent, RoomId},
};

/// Events one room channel holds for its slowest receiver before that
/// receiver lags (and then catches up from the log). The ring is allocated
/// whole for every room with a subscriber, so it is kept small: a lag costs
/// one read of the log, never an event.
pub const ROOM_CHANNEL_CAPACITY: usize = 16;

/// Rooms announced per hold of the hub's lock, so that a poll of many rooms
/// never keeps a publisher waiting for more than a few microseconds.
const ANNOUNCE_CHUNK: usize = 256;

/// What a room channel carries.
#[derive(Debug, Clone)]
pub enum Published {
    /// An event committed by this process.
    Event(Arc<RoomEvent>),
    /// The room's log holds every event up to this sequence number (seen
    /// on another instance's notification, or by polling the database).
    Committed(i64),
}

/// One room's channel.
struct Channel {
    sender: broadcast::Sender<Published>,
    /// The highest sequence number this channel carried, as an event or a
    /// hint. Every receiver learns from the channel (or, having lagged, from
    /// the log) that the log reaches it, so a hint up to here is not sent.
    /// Only sends raise it: a receiver's own read of the log says nothing
    /// about what the others know.
    carried: i64,
}

impl Channel {
    fn new() -> Self {
        Self {
            sender: broadcast::channel(ROOM_CHANNEL_CAPACITY).0,
            carried: 0,
        }
    }

    /// Sends `Committed(seq)` unless the channel carried `seq` already.
    fn announce(&mut self, seq: i64) -> bool {
        if seq <= self.carried {
            return false;
        }
        self.carried = seq;
        // An error only means nobody listens right now.
        let _ = self.sender.send(Published::Committed(seq));
        true
    }
}

type Rooms = HashMap<RoomId, Channel>;

/// The process-wide router of committed events to local subscribers.
#[derive(Clone, Default)]
pub struct Hub {
    rooms: Arc<Mutex<Rooms>>,
}

/// A subscription to one room's channel; leaving removes an unused channel.
pub struct HubReceiver {
    pub(super) rx: broadcast::Receiver<Published>,
    room: RoomId,
    rooms: Arc<Mutex<Rooms>>,
}

impl Hub {
    /// Starts receiving every event published for `room` from now on.
    pub fn subscribe(&self, room: RoomId) -> HubReceiver {
        let mut rooms = self.lock();
        let channel = rooms.entry(room).or_insert_with(Channel::new);
        HubReceiver {
            rx: channel.sender.subscribe(),
            room,
            rooms: Arc::clone(&self.rooms),
        }
    }

    /// Hands committed events to the local subscribers of their rooms.
    pub fn publish(&self, events: &[RoomEvent]) {
        let mut rooms = self.lock();
        for event in events {
            if let Some(channel) = rooms.get_mut(&event.room_id) {
                channel.carried = channel.carried.max(event.seq);
                // An error only means nobody listens right now.
                let _ = channel
                    .sender
                    .send(Published::Event(Arc::new(event.clone())));
            }
        }
    }

    /// Tells the local subscribers of each room that its log reaches the
    /// paired sequence number, skipping what their channel already carried.
    /// Takes the lock per chunk of rooms. Returns how many rooms were told.
    pub fn announce(&self, heads: &[(RoomId, i64)]) -> usize {
        let mut told = 0;
        for chunk in heads.chunks(ANNOUNCE_CHUNK) {
            let mut rooms = self.lock();
            for (room, seq) in chunk {
                if let Some(channel) = rooms.get_mut(room) {
                    told += usize::from(channel.announce(*seq));
                }
            }
        }
        told
    }

    /// The rooms with at least one local subscriber.
    pub fn rooms(&self) -> Vec<RoomId> {
        self.lock().keys().copied().collect()
    }

    /// Rooms with at least one local subscriber.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Rooms> {
        lock(&self.rooms)
    }
}

impl LocalRooms for Hub {
    fn rooms(&self) -> Vec<RoomId> {
        Hub::rooms(self)
    }

    fn announce(&self, heads: &[(RoomId, i64)]) -> usize {
        Hub::announce(self, heads)
    }
}

/// The rooms, also after a panic while they were held: each entry changes
/// in one step, so a panic leaves none half changed.
fn lock(rooms: &Mutex<Rooms>) -> MutexGuard<'_, Rooms> {
    rooms.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for HubReceiver {
    fn drop(&mut self) {
        let mut rooms = lock(&self.rooms);
        if let Some(channel) = rooms.get(&self.room) {
            // This receiver still counts until it is dropped, after this body.
            if channel.sender.receiver_count() <= 1 {
                rooms.remove(&self.room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::{EventKind, MessageId};

    fn deleted(room: RoomId, seq: i64) -> RoomEvent {
        RoomEvent {
            room_id: room,
            seq,
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            kind: EventKind::Deleted {
                message_id: MessageId::parse(1).unwrap(),
            },
        }
    }

    #[tokio::test]
    async fn subscribers_receive_only_their_rooms_events() {
        let hub = Hub::default();
        let a = RoomId::parse(1).unwrap();
        let b = RoomId::parse(2).unwrap();
        let mut rx = hub.subscribe(a);
        hub.publish(&[deleted(b, 1), deleted(a, 1)]);
        match rx.rx.recv().await.unwrap() {
            Published::Event(got) => assert_eq!(got.room_id, a),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn the_last_receiver_to_leave_removes_the_channel() {
        let hub = Hub::default();
        let room = RoomId::parse(1).unwrap();
        let first = hub.subscribe(room);
        let second = hub.subscribe(room);
        drop(first);
        assert_eq!(hub.room_count(), 1);
        drop(second);
        assert_eq!(hub.room_count(), 0);
    }

    fn room(id: i64) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    /// The hints waiting in `rx`, failing on anything else.
    fn hints(rx: &mut HubReceiver) -> Vec<i64> {
        std::iter::from_fn(|| rx.rx.try_recv().ok())
            .map(|item| match item {
                Published::Committed(seq) => seq,
                other => panic!("expected a hint, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_poll_that_finds_no_new_head_wakes_nobody() {
        let hub = Hub::default();
        let mut rx = hub.subscribe(room(1));
        assert_eq!(hub.announce(&[(room(1), 5)]), 1);
        assert_eq!(hints(&mut rx), [5]);
        for _ in 0..3 {
            assert_eq!(hub.announce(&[(room(1), 5)]), 0);
        }
        assert_eq!(hub.announce(&[(room(1), 4)]), 0, "a stale hint");
        assert_eq!(hints(&mut rx), [] as [i64; 0]);
        assert_eq!(hub.announce(&[(room(1), 6)]), 1);
        assert_eq!(hints(&mut rx), [6]);
    }

    #[test]
    fn events_published_here_are_not_announced_again() {
        let hub = Hub::default();
        let mut rx = hub.subscribe(room(1));
        hub.publish(&[deleted(room(1), 1), deleted(room(1), 2)]);
        while rx.rx.try_recv().is_ok() {}
        assert_eq!(hub.announce(&[(room(1), 2)]), 0);
        assert!(rx.rx.try_recv().is_err(), "nothing after an unchanged poll");
        assert_eq!(hub.announce(&[(room(1), 3)]), 1);
    }

    #[test]
    fn a_channel_opened_again_starts_with_nothing_carried() {
        let hub = Hub::default();
        drop(hub.subscribe(room(1)));
        hub.announce(&[(room(1), 5)]);
        let mut rx = hub.subscribe(room(1));
        assert_eq!(hub.announce(&[(room(1), 5)]), 1);
        assert_eq!(hints(&mut rx), [5]);
    }

    #[test]
    fn announcements_cover_every_chunk_and_skip_rooms_without_subscribers() {
        let hub = Hub::default();
        let count = 2 * ANNOUNCE_CHUNK as i64 + 1;
        let mut receivers: Vec<_> = (1..=count).map(|id| hub.subscribe(room(id))).collect();
        let mut heads: Vec<_> = (1..=count).map(|id| (room(id), 1)).collect();
        heads.push((room(count + 1), 1));
        assert_eq!(hub.announce(&heads), receivers.len());
        assert!(receivers.iter_mut().all(|rx| hints(rx) == [1]));
        assert_eq!(hub.announce(&heads), 0);
    }
}
