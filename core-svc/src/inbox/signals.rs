//! Presence and typing for user streams. Nothing is kept per stream: a
//! presence change is looked up in the database (who shares a room with
//! the changed users) only while a user stream is open here, and handed to
//! the streams of those peers; a forwarded `typing` names the room's other
//! member, whose streams get it.
//!
//! Changes waiting for their lookup are kept as the latest one per user
//! ([`PendingPresence`]): however many arrive at once (a thousand users
//! coming online together), none is dropped, and a user's newer state
//! replaces an older one still waiting. A lookup that fails is tried
//! again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Inbox, registry::Delivery};
use crate::{
    cluster::LocalSignals,
    domain::{Presence, RoomId, UserId},
    error::ErrorChain,
};

/// Typings of an older core (their announcement does not name the peer)
/// waiting for their lookup; beyond it they are dropped, as a typing may be.
pub(super) const NOTES: usize = 256;
/// Users whose peers one lookup finds at most.
const LOOKUP_USERS: usize = 64;
/// The wait before a failed lookup is tried again.
const RETRY: Duration = Duration::from_millis(200);

/// A `typing` whose announcement did not name the peer.
#[derive(Debug)]
pub(super) struct Note {
    room: RoomId,
    user: UserId,
}

/// Presence changes waiting for their lookup: the latest per user.
#[derive(Clone, Default)]
pub(super) struct PendingPresence {
    changes: Arc<Mutex<HashMap<UserId, Presence>>>,
    wake: Arc<Notify>,
}

impl PendingPresence {
    /// Adds changes; a user's newer version replaces an older one.
    pub(super) fn add(&self, changes: impl IntoIterator<Item = Presence>) {
        let mut pending = self.lock();
        for change in changes {
            let latest = pending.entry(change.user).or_insert(change);
            if change.version > latest.version {
                *latest = change;
            }
        }
        drop(pending);
        self.wake.notify_one();
    }

    /// Everything waiting, once there is something.
    async fn take(&self) -> HashMap<UserId, Presence> {
        loop {
            let taken = std::mem::take(&mut *self.lock());
            if !taken.is_empty() {
                return taken;
            }
            self.wake.notified().await;
        }
    }

    /// The changes, also after a panic while they were held: each change
    /// is one insert or take, never left half made.
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Presence>> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LocalSignals for Inbox {
    fn presence(&self, changes: &[Presence]) {
        if !self.registry.is_empty() {
            self.pending.add(changes.iter().copied());
        }
    }

    fn typing(&self, room: RoomId, user: UserId, peer: Option<UserId>) {
        match peer {
            Some(peer) => self.registry.send_to(peer, Delivery::Typing { room, user }),
            None if !self.registry.is_empty() => self.note(Note { room, user }),
            None => {}
        }
    }

    /// Each stream reads its peers' presence again, as a resume does.
    fn resync(&self) {
        if !self.registry.is_empty() {
            self.registry.broadcast(Delivery::Resync);
        }
    }
}

impl Inbox {
    fn note(&self, note: Note) {
        if self.notes.try_send(note).is_err() {
            tracing::warn!("too many typings of older cores waiting; one is dropped");
        }
    }

    /// Looks up where waiting presence changes and typings go, until the
    /// service stops. One task: a user's changes stay in order.
    pub(super) async fn hear(self, mut notes: mpsc::Receiver<Note>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changes = self.pending.take() => self.presence_changed(changes, &shutdown).await,
                note = notes.recv() => match note {
                    Some(Note { room, user }) => self.typed(room, user).await,
                    None => return,
                },
            }
        }
    }

    /// Hands `changes` to the streams of the changed users' peers, a few
    /// users per lookup; what a failed lookup leaves waits for the next try.
    async fn presence_changed(
        &self,
        mut changes: HashMap<UserId, Presence>,
        shutdown: &CancellationToken,
    ) {
        let users: Vec<UserId> = changes.keys().copied().collect();
        for batch in users.chunks(LOOKUP_USERS) {
            let pairs = match self.store.peers_of(batch).await {
                Ok(pairs) => pairs,
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not find who shares a room with changed users; trying again");
                    self.pending.add(changes.into_values());
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(RETRY) => {}
                    }
                    return;
                }
            };
            for (member, peer) in pairs {
                if let Some(change) = changes.get(&member) {
                    self.registry.send_to(peer, Delivery::Presence(*change));
                }
            }
            for user in batch {
                changes.remove(user);
            }
        }
    }

    async fn typed(&self, room: RoomId, user: UserId) {
        match self.store.room_members(room).await {
            Ok(Some(members)) => {
                for member in members.into_iter().filter(|member| *member != user) {
                    self.registry
                        .send_to(member, Delivery::Typing { room, user });
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "could not find the peer of a typing");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: i64, is_online: bool, version: i64) -> Presence {
        Presence {
            user: UserId::parse(user).unwrap(),
            is_online,
            last_seen: None,
            version,
        }
    }

    #[tokio::test]
    async fn a_users_newest_change_waits_whatever_order_changes_come_in() {
        let pending = PendingPresence::default();
        pending.add([change(1, true, 1), change(1, false, 2)]);
        pending.add([change(1, true, 1)]);
        let taken = pending.take().await;
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[&UserId::parse(1).unwrap()], change(1, false, 2));
    }

    #[tokio::test]
    async fn however_many_users_change_at_once_none_is_dropped() {
        let pending = PendingPresence::default();
        pending.add((1..=5_000).map(|user| change(user, true, 1)));
        assert_eq!(pending.take().await.len(), 5_000);
        pending.add([change(7, false, 2)]);
        assert_eq!(
            pending.take().await.len(),
            1,
            "taken once, then only what came since"
        );
    }
}
