//! Per-room broadcast channels, created on the first subscriber and removed
//! with the last. They carry events committed by this process, and hints
//! that another process committed up to some sequence number.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::broadcast;

use crate::domain::{RoomEvent, RoomId};

/// Events one room channel holds for its slowest receiver before that
/// receiver lags (and then catches up from the log). The ring is allocated
/// whole for every room with a subscriber, so it is kept small: a lag costs
/// one read of the log, never an event.
pub const ROOM_CHANNEL_CAPACITY: usize = 16;

/// What a room channel carries.
#[derive(Debug, Clone)]
pub enum Published {
    /// An event committed by this process.
    Event(Arc<RoomEvent>),
    /// The room's log holds every event up to this sequence number (seen
    /// on another instance's notification, or by polling the database).
    Committed(i64),
}

type Rooms = HashMap<RoomId, broadcast::Sender<Published>>;

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
        let mut rooms = self.rooms.lock().expect("hub lock poisoned");
        let sender = rooms
            .entry(room)
            .or_insert_with(|| broadcast::channel(ROOM_CHANNEL_CAPACITY).0);
        HubReceiver {
            rx: sender.subscribe(),
            room,
            rooms: Arc::clone(&self.rooms),
        }
    }

    /// Hands committed events to the local subscribers of their rooms.
    pub fn publish(&self, events: &[RoomEvent]) {
        let rooms = self.rooms.lock().expect("hub lock poisoned");
        for event in events {
            if let Some(sender) = rooms.get(&event.room_id) {
                // An error only means nobody listens right now.
                let _ = sender.send(Published::Event(Arc::new(event.clone())));
            }
        }
    }

    /// Tells the local subscribers of `room` that its log reaches `seq`.
    pub fn announce(&self, room: RoomId, seq: i64) {
        let rooms = self.rooms.lock().expect("hub lock poisoned");
        if let Some(sender) = rooms.get(&room) {
            let _ = sender.send(Published::Committed(seq));
        }
    }

    /// The rooms with at least one local subscriber.
    pub fn rooms(&self) -> Vec<RoomId> {
        self.rooms
            .lock()
            .expect("hub lock poisoned")
            .keys()
            .copied()
            .collect()
    }

    /// Rooms with at least one local subscriber.
    pub fn room_count(&self) -> usize {
        self.rooms.lock().expect("hub lock poisoned").len()
    }
}

impl Drop for HubReceiver {
    fn drop(&mut self) {
        let mut rooms = self.rooms.lock().expect("hub lock poisoned");
        if let Some(sender) = rooms.get(&self.room) {
            // This receiver still counts until it is dropped, after this body.
            if sender.receiver_count() <= 1 {
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
}
