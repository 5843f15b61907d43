//! The user streams of this process, by user, and the shared reader's
//! place: what the reader dispatches goes to the streams of the users it
//! concerns, each through a bounded queue that is never waited on. A
//! stream whose queue is full is ended (it resumes from its cursor); one
//! that registers learns the position after which everything reaches it.
//! Fast-lane events ([`super::lane`]) take the same queues, but one that
//! finds a queue full is dropped instead: the feed brings it anyway.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError},
};

use tokio::sync::{
    Notify,
    mpsc::{self, error::TrySendError},
};

use super::lane::Fast;
use crate::{
    domain::{Presence, RoomId, UserId},
    store::{FeedItem, FeedPosition},
};

/// What the registry hands a stream.
#[derive(Debug)]
pub enum Delivery {
    /// A feed item of one of the user's rooms.
    Item(FeedItem),
    /// Events of one of the user's rooms just committed here, ahead of
    /// the feed.
    Fast(Fast),
    /// A peer's presence changed.
    Presence(Presence),
    /// A peer is typing in a room.
    Typing { room: RoomId, user: UserId },
    /// Presence changes may have been missed: read the peers' again.
    Resync,
}

/// What a full queue means for its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    /// It did not keep up: it ends.
    End,
    /// Nothing: this delivery was only a shortcut. It is also dropped
    /// once a quarter of the queue is taken (the stream is behind, and the
    /// feed catches it up), so that shortcuts never take the room the
    /// feed's deliveries (which end a stream when they find none) need.
    Drop,
}

/// Shared by the streams of a room's two members; one pointer per queue slot.
pub type Delivered = Arc<Delivery>;

/// Why the registry ended a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its queue was full: it did not keep up.
    Overflow,
    /// The shared reader failed.
    ReaderFailed,
}

struct Entry {
    id: u64,
    queue: mpsc::Sender<Delivered>,
    ended: Arc<OnceLock<Ended>>,
}

#[derive(Default)]
struct State {
    streams: HashMap<UserId, Vec<Entry>>,
    count: usize,
    next_id: u64,
    /// Whether a reader runs, and the position of the last item it
    /// dispatched (or where it started).
    reading: Option<FeedPosition>,
}

/// The registry; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    state: Arc<Mutex<State>>,
    /// Told when the last stream leaves, so an idle reader stops.
    pub(super) emptied: Arc<Notify>,
    capacity: usize,
}

/// A stream's place in the registry; dropping it leaves.
pub struct Registration {
    pub queue: mpsc::Receiver<Delivered>,
    /// Every item after this position comes through `queue`.
    pub from: FeedPosition,
    ended: Arc<OnceLock<Ended>>,
    user: UserId,
    id: u64,
    registry: Registry,
}

impl Registry {
    /// A registry whose streams queue up to `capacity` deliveries each.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Arc::default(),
            emptied: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Registers a stream of `user` if a reader runs.
    pub(super) fn join(&self, user: UserId) -> Option<Registration> {
        let mut state = self.lock();
        let from = state.reading?;
        Some(self.add(&mut state, user, from))
    }

    /// Records a reader starting at `from` and registers a stream of `user`.
    pub(super) fn start_reading(&self, user: UserId, from: FeedPosition) -> Registration {
        let mut state = self.lock();
        state.reading = Some(from);
        self.add(&mut state, user, from)
    }

    fn add(&self, state: &mut State, user: UserId, from: FeedPosition) -> Registration {
        let (queue, rx) = mpsc::channel(self.capacity);
        let ended = Arc::new(OnceLock::new());
        let id = state.next_id;
        state.next_id += 1;
        state.count += 1;
        state.streams.entry(user).or_default().push(Entry {
            id,
            queue,
            ended: Arc::clone(&ended),
        });
        Registration {
            queue: rx,
            from,
            ended,
            user,
            id,
            registry: self.clone(),
        }
    }

    /// Hands a feed item to the streams of its room's members and moves the
    /// reader's position past it.
    pub(super) fn dispatch(&self, item: FeedItem) {
        let mut state = self.lock();
        state.reading = Some(item.position);
        let members = item.members;
        let delivered = Arc::new(Delivery::Item(item));
        for member in members {
            deliver(&mut state, member, &delivered, WhenFull::End);
        }
    }

    /// Hands fast-lane events to the streams of their room's members; a
    /// full queue drops them.
    pub(super) fn dispatch_fast(&self, fast: Fast) {
        let mut state = self.lock();
        let members = fast.members;
        let delivered = Arc::new(Delivery::Fast(fast));
        for member in members {
            deliver(&mut state, member, &delivered, WhenFull::Drop);
        }
    }

    /// Whether `user` has a stream here.
    pub(super) fn has_stream(&self, user: UserId) -> bool {
        self.lock().streams.contains_key(&user)
    }

    /// Hands `delivery` to the streams of `user`.
    pub(super) fn send_to(&self, user: UserId, delivery: Delivery) {
        let mut state = self.lock();
        if state.streams.contains_key(&user) {
            deliver(&mut state, user, &Arc::new(delivery), WhenFull::End);
        }
    }

    /// Hands `delivery` to every stream.
    pub(super) fn broadcast(&self, delivery: Delivery) {
        let mut state = self.lock();
        let delivered = Arc::new(delivery);
        let users: Vec<UserId> = state.streams.keys().copied().collect();
        for user in users {
            deliver(&mut state, user, &delivered, WhenFull::End);
        }
    }

    /// Whether any stream is open here.
    pub fn is_empty(&self) -> bool {
        self.lock().count == 0
    }

    /// Stops reading if no stream is left; true when it stopped.
    pub(super) fn stop_if_idle(&self) -> bool {
        let mut state = self.lock();
        if state.count > 0 {
            return false;
        }
        state.reading = None;
        true
    }

    /// The reader failed: every stream ends.
    pub(super) fn fail_all(&self) {
        let mut state = self.lock();
        for entry in state.streams.drain().flat_map(|(_, entries)| entries) {
            let _ = entry.ended.set(Ended::ReaderFailed);
        }
        state.count = 0;
        state.reading = None;
    }

    /// The state, also after a panic while it was held: each change leaves
    /// it consistent before anything that could panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues `delivered` for every stream of `user`; a full queue ends its
/// stream, or only drops this delivery.
fn deliver(state: &mut State, user: UserId, delivered: &Delivered, full: WhenFull) {
    let Some(entries) = state.streams.get_mut(&user) else {
        return;
    };
    let before = entries.len();
    entries.retain(|entry| {
        // Free slots at most three quarters: the stream is behind already.
        let behind = entry.queue.capacity() * 4 <= entry.queue.max_capacity() * 3;
        if full == WhenFull::Drop && behind {
            return true;
        }
        offer(entry, delivered, full)
    });
    let removed = before - entries.len();
    if entries.is_empty() {
        state.streams.remove(&user);
    }
    state.count -= removed;
}

/// Queues `delivered` for one stream; false when the stream is gone.
fn offer(entry: &Entry, delivered: &Delivered, full: WhenFull) -> bool {
    match entry.queue.try_send(Arc::clone(delivered)) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) if full == WhenFull::Drop => true,
        Err(TrySendError::Full(_)) => {
            let _ = entry.ended.set(Ended::Overflow);
            false
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

impl Registration {
    /// Why the queue closed, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.ended.get().copied()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        if let Some(entries) = state.streams.get_mut(&self.user) {
            let before = entries.len();
            entries.retain(|entry| entry.id != self.id);
            let removed = before - entries.len();
            if entries.is_empty() {
                state.streams.remove(&self.user);
            }
            state.count -= removed;
        }
        // Also when the registry had dropped this stream already (it overflowed).
        if state.count == 0 {
            self.registry.emptied.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{Room, RoomId},
        store::FeedKind,
    };

    fn user(id: i64) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn created(room: i64, members: [i64; 2], tx: u64) -> FeedItem {
        let members = members.map(user);
        FeedItem {
            position: FeedPosition { tx, room, seq: 0 },
            kind: FeedKind::RoomCreated {
                room: Room {
                    id: RoomId::parse(room).unwrap(),
                    members,
                    last_seq: 0,
                },
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            },
            members,
            unread: [0, 0],
        }
    }

    #[test]
    fn an_item_reaches_the_streams_of_both_members_and_moves_the_position() {
        let registry = Registry::new(4);
        let mut first = registry.start_reading(user(1), FeedPosition::before_tx(5));
        let mut second = registry.join(user(2)).expect("a reader runs");
        let mut other = registry.join(user(3)).expect("a reader runs");
        registry.dispatch(created(9, [1, 2], 7));
        assert!(first.queue.try_recv().is_ok());
        assert!(second.queue.try_recv().is_ok());
        assert!(other.queue.try_recv().is_err());
        let late = registry.join(user(1)).expect("a reader runs");
        assert_eq!(late.from.tx, 7, "after the last item dispatched");
    }

    #[test]
    fn a_full_queue_ends_only_its_own_stream() {
        let registry = Registry::new(1);
        let mut slow = registry.start_reading(user(1), FeedPosition::default());
        let mut reading = registry.join(user(1)).unwrap();
        registry.dispatch(created(9, [1, 2], 7));
        assert!(reading.queue.try_recv().is_ok());
        registry.dispatch(created(10, [1, 3], 8));
        assert_eq!(slow.ended(), Some(Ended::Overflow));
        assert_eq!(reading.ended(), None);
        assert!(reading.queue.try_recv().is_ok());
        assert!(slow.queue.try_recv().is_ok(), "what was queued stays");
        assert!(slow.queue.try_recv().is_err());
        assert!(!registry.is_empty());
    }

    fn fast(members: [i64; 2]) -> Fast {
        Fast {
            events: Vec::new(),
            labels: Vec::new(),
            previous: FeedPosition::default(),
            members: members.map(user),
            unread: [0, 0],
        }
    }

    #[test]
    fn a_fast_delivery_that_finds_a_queue_full_is_dropped_and_the_stream_stays() {
        let registry = Registry::new(1);
        let mut stream = registry.start_reading(user(1), FeedPosition::default());
        assert!(registry.has_stream(user(1)));
        assert!(!registry.has_stream(user(2)));
        registry.dispatch_fast(fast([1, 2]));
        registry.dispatch_fast(fast([1, 2]));
        assert_eq!(stream.ended(), None);
        assert!(matches!(
            *stream.queue.try_recv().unwrap(),
            Delivery::Fast(_)
        ));
        assert!(stream.queue.try_recv().is_err(), "the second was dropped");
        registry.dispatch(created(10, [1, 3], 8));
        assert!(stream.queue.try_recv().is_ok(), "the feed still reaches it");
    }

    #[test]
    fn fast_deliveries_leave_three_quarters_of_the_queue_to_the_feed() {
        let registry = Registry::new(4);
        let mut stream = registry.start_reading(user(1), FeedPosition::default());
        for _ in 0..4 {
            registry.dispatch_fast(fast([1, 2]));
        }
        for seq in 0..3 {
            registry.dispatch(created(10 + seq, [1, 3], 8));
        }
        assert_eq!(stream.ended(), None, "the feed found room");
        let kinds: Vec<bool> = std::iter::from_fn(|| stream.queue.try_recv().ok())
            .map(|delivered| matches!(*delivered, Delivery::Fast(_)))
            .collect();
        assert_eq!(kinds, [true, false, false, false]);
    }

    #[test]
    fn the_last_stream_to_leave_lets_the_reader_stop() {
        let registry = Registry::new(4);
        let first = registry.start_reading(user(1), FeedPosition::default());
        let second = registry.join(user(2)).unwrap();
        drop(first);
        assert!(!registry.stop_if_idle());
        drop(second);
        assert!(registry.stop_if_idle());
        assert!(registry.join(user(1)).is_none(), "no reader runs");
    }

    #[test]
    fn a_failed_reader_ends_every_stream() {
        let registry = Registry::new(4);
        let first = registry.start_reading(user(1), FeedPosition::default());
        registry.fail_all();
        assert_eq!(first.ended(), Some(Ended::ReaderFailed));
        assert!(registry.is_empty());
        drop(first);
    }
}
