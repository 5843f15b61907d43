//! Presence and typing for user streams. Nothing is kept per stream: a
//! presence change is looked up in the database (who shares a room with
//! the changed users) only while a user stream is open here, and handed to
//! the streams of those peers; a forwarded `typing` names the room's other
//! member, whose streams get it.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Inbox, registry::Delivery};
use crate::{
    cluster::LocalSignals,
    domain::{Presence, RoomId, UserId},
    error::ErrorChain,
};

/// Announcements waiting for their lookup; beyond it they are dropped
/// (and logged): a lookup per change is the slow part.
pub(super) const NOTES: usize = 256;

/// An announcement that needs the database before it reaches a stream.
#[derive(Debug)]
pub(super) enum Note {
    Presence(Vec<Presence>),
    /// A `typing` whose announcement did not name the peer.
    Typing {
        room: RoomId,
        user: UserId,
    },
}

impl LocalSignals for Inbox {
    fn presence(&self, changes: &[Presence]) {
        if !self.registry.is_empty() {
            self.note(Note::Presence(changes.to_vec()));
        }
    }

    fn typing(&self, room: RoomId, user: UserId, peer: Option<UserId>) {
        match peer {
            Some(peer) => self.registry.send_to(peer, Delivery::Typing { room, user }),
            None if !self.registry.is_empty() => self.note(Note::Typing { room, user }),
            None => {}
        }
    }

    /// Presence is not read again for user streams: a change missed while
    /// the listener reconnected shows on the next one, or on resume.
    fn resync(&self) {}
}

impl Inbox {
    fn note(&self, note: Note) {
        if self.notes.try_send(note).is_err() {
            tracing::warn!("too many presence changes waiting; one is not passed to user streams");
        }
    }

    /// Looks up where each announcement goes, one at a time (so a user's
    /// changes stay in order), until the service stops.
    pub(super) async fn hear(self, mut notes: mpsc::Receiver<Note>, shutdown: CancellationToken) {
        loop {
            let note = tokio::select! {
                _ = shutdown.cancelled() => return,
                note = notes.recv() => note,
            };
            match note {
                Some(Note::Presence(changes)) => self.presence_changed(changes).await,
                Some(Note::Typing { room, user }) => self.typed(room, user).await,
                None => return,
            }
        }
    }

    async fn presence_changed(&self, changes: Vec<Presence>) {
        let users: Vec<UserId> = changes.iter().map(|change| change.user).collect();
        let pairs = match self.store.peers_of(&users).await {
            Ok(pairs) => pairs,
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "could not find who shares a room with changed users");
                return;
            }
        };
        let changes: HashMap<UserId, Presence> = changes
            .into_iter()
            .map(|change| (change.user, change))
            .collect();
        for (member, peer) in pairs {
            if let Some(change) = changes.get(&member) {
                self.registry.send_to(peer, Delivery::Presence(*change));
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
