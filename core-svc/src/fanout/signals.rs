//! Presence and typing for this process's subscribers: per-room broadcast
//! channels, created with a room's first subscriber and removed with its
//! last, and an index from each member of those rooms to their rooms.
//!
//! Who cares about a user's change is looked up by room membership: the
//! rooms followed here that the user is a member of. Nothing is kept per
//! socket or per peer; a room costs one channel and two index entries
//! however many sockets follow it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::broadcast::{self, error::RecvError};

use crate::{
    cluster::LocalSignals,
    domain::{Presence, RoomId, Signal, UserId},
};

/// Signals one room channel holds for its slowest receiver; one that lags
/// reads its members' presence again (typing lost then is not worth more).
const CHANNEL_CAPACITY: usize = 16;

/// What a room channel carries: a signal, or `None` to say that signals
/// may have been missed (the listener reconnected).
type Carried = Option<Signal>;

struct Channel {
    sender: broadcast::Sender<Carried>,
    members: [UserId; 2],
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomId, Channel>,
    /// The rooms of `rooms` each user is a member of.
    by_member: HashMap<UserId, Vec<RoomId>>,
}

/// The process-wide router of presence and typing; cheap to clone.
#[derive(Clone, Default)]
pub struct Signals {
    state: Arc<Mutex<State>>,
}

/// What a receiver hears next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    Signal(Signal),
    /// Signals may have been missed: read the members' presence again.
    Resync,
}

/// A subscription to one room's signals; dropping the last one removes
/// the room's channel and its index entries.
pub struct SignalReceiver {
    rx: broadcast::Receiver<Carried>,
    room: RoomId,
    /// The room's members.
    pub members: [UserId; 2],
    state: Arc<Mutex<State>>,
}

impl Signals {
    /// Starts receiving the signals of `room`, whose members are `members`.
    pub fn subscribe(&self, room: RoomId, members: [UserId; 2]) -> SignalReceiver {
        let mut state = self.lock();
        let State { rooms, by_member } = &mut *state;
        let channel = rooms.entry(room).or_insert_with(|| {
            for member in members {
                by_member.entry(member).or_default().push(room);
            }
            Channel {
                sender: broadcast::channel(CHANNEL_CAPACITY).0,
                members,
            }
        });
        SignalReceiver {
            rx: channel.sender.subscribe(),
            room,
            members: channel.members,
            state: Arc::clone(&self.state),
        }
    }

    /// Hands presence changes to the followed rooms of each changed user.
    /// Returns how many rooms were told.
    pub fn presence(&self, changes: &[Presence]) -> usize {
        let state = self.lock();
        let mut told = 0;
        for change in changes {
            for room in state.by_member.get(&change.user).into_iter().flatten() {
                if let Some(channel) = state.rooms.get(room) {
                    let _ = channel.sender.send(Some(Signal::Presence(*change)));
                    told += 1;
                }
            }
        }
        told
    }

    /// Hands a forwarded `typing` of `user` to the subscribers of `room`.
    pub fn typing(&self, room: RoomId, user: UserId) {
        if let Some(channel) = self.lock().rooms.get(&room) {
            // An error only means nobody listens right now.
            let _ = channel.sender.send(Some(Signal::Typing(user)));
        }
    }

    /// Tells every subscriber that signals may have been missed.
    pub fn resync(&self) {
        for channel in self.lock().rooms.values() {
            let _ = channel.sender.send(None);
        }
    }

    /// Rooms with at least one subscriber.
    pub fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl LocalSignals for Signals {
    fn presence(&self, changes: &[Presence]) {
        Signals::presence(self, changes);
    }

    fn typing(&self, room: RoomId, user: UserId, _peer: Option<UserId>) {
        Signals::typing(self, room, user);
    }

    fn resync(&self) {
        Signals::resync(self);
    }
}

impl SignalReceiver {
    /// The next signal of the room; a lag reads as [`Heard::Resync`].
    /// Waits forever once the channel is gone (it never is while this
    /// receiver lives).
    pub async fn recv(&mut self) -> Heard {
        match self.rx.recv().await {
            Ok(Some(signal)) => Heard::Signal(signal),
            Ok(None) | Err(RecvError::Lagged(_)) => Heard::Resync,
            Err(RecvError::Closed) => std::future::pending().await,
        }
    }

    /// The member of the room who is not `user`.
    pub fn other_member(&self, user: UserId) -> UserId {
        if self.members[0] == user {
            self.members[1]
        } else {
            self.members[0]
        }
    }
}

/// The next signal of a room, or never when there is no receiver (a
/// subscriber of a room whose members could not be known).
pub async fn hear(signals: &mut Option<SignalReceiver>) -> Heard {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

/// The state, also after a panic while it was held: each change leaves the
/// two maps in step before anything that could panic.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for SignalReceiver {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let State { rooms, by_member } = &mut *state;
        let Some(channel) = rooms.get(&self.room) else {
            return;
        };
        // This receiver still counts until it is dropped, after this body.
        if channel.sender.receiver_count() > 1 {
            return;
        }
        rooms.remove(&self.room);
        for member in self.members {
            if let Some(followed) = by_member.get_mut(&member) {
                followed.retain(|room| *room != self.room);
                if followed.is_empty() {
                    by_member.remove(&member);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn room(id: i64) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn online(id: i64, version: i64) -> Presence {
        Presence {
            user: user(id),
            is_online: true,
            last_seen: None,
            version,
        }
    }

    #[tokio::test]
    async fn a_change_reaches_every_followed_room_of_the_user_and_no_other() {
        let signals = Signals::default();
        let mut shared = signals.subscribe(room(1), [user(1), user(2)]);
        let mut other = signals.subscribe(room(2), [user(1), user(3)]);
        let mut unrelated = signals.subscribe(room(3), [user(3), user(4)]);
        assert_eq!(signals.presence(&[online(1, 1)]), 2);
        let expected = Heard::Signal(Signal::Presence(online(1, 1)));
        assert_eq!(shared.recv().await, expected);
        assert_eq!(other.recv().await, expected);
        assert!(unrelated.rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn typing_reaches_its_room_and_resync_every_room() {
        let signals = Signals::default();
        let mut first = signals.subscribe(room(1), [user(1), user(2)]);
        let mut second = signals.subscribe(room(2), [user(1), user(3)]);
        signals.typing(room(1), user(2));
        assert_eq!(first.recv().await, Heard::Signal(Signal::Typing(user(2))));
        assert!(second.rx.try_recv().is_err());
        signals.resync();
        assert_eq!(first.recv().await, Heard::Resync);
        assert_eq!(second.recv().await, Heard::Resync);
    }

    #[test]
    fn the_last_receiver_to_leave_removes_the_room_and_its_members() {
        let signals = Signals::default();
        let first = signals.subscribe(room(1), [user(1), user(2)]);
        let second = signals.subscribe(room(1), [user(1), user(2)]);
        drop(first);
        assert_eq!(signals.room_count(), 1);
        drop(second);
        assert_eq!(signals.room_count(), 0);
        assert!(signals.lock().by_member.is_empty());
        assert_eq!(signals.presence(&[online(1, 2)]), 0);
    }

    #[test]
    fn the_other_member_is_the_one_who_is_not_asked_about() {
        let signals = Signals::default();
        let receiver = signals.subscribe(room(1), [user(1), user(2)]);
        assert_eq!(receiver.other_member(user(1)), user(2));
        assert_eq!(receiver.other_member(user(2)), user(1));
    }
}
