//! The signals of one room a link follows: its members' presence changes,
//! each sent down the link at most once per version (once however many of
//! the room's sockets care), and forwarded `typing`s. When signals may have
//! been missed (a lag, the listener reconnected, the room followed again
//! after a broken link), the members' presence is read again and what is
//! newer than what the link has is sent.

use std::collections::HashMap;

use super::{Down, Links};
use crate::{
    domain::{Presence, RoomId, Signal, UserId},
    error::ErrorChain,
    fanout::{Heard, SignalReceiver, hear},
};

/// What a room's task keeps of its signals.
#[derive(Default)]
pub(super) struct RoomSignals {
    /// The room's signals, once its members are known.
    receiver: Option<SignalReceiver>,
    /// The latest presence version of each member sent on the link.
    sent: HashMap<UserId, i64>,
}

impl RoomSignals {
    /// Subscribes to the room's signals, before the first registration
    /// reads a presence, so that every later change reaches the task. A
    /// room that does not exist gets none (its registration fails); a
    /// failed look-up is tried again at the next opening.
    pub async fn subscribe(&mut self, links: &Links, room: RoomId) {
        if self.receiver.is_some() {
            return;
        }
        match Box::pin(links.store.room_members(room)).await {
            Ok(Some(members)) => {
                self.receiver = Some(links.fanout.signals.subscribe(room, members))
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "could not look up the room's members");
            }
        }
    }

    /// The room's next signal; never while it has no receiver.
    pub async fn next(&mut self) -> Heard {
        hear(&mut self.receiver).await
    }

    /// What `heard` makes the link send.
    pub async fn downs(&mut self, links: &Links, room: RoomId, heard: Heard) -> Vec<Down> {
        let presences = match heard {
            Heard::Signal(Signal::Typing(user)) => return vec![Down::Typing { room, user }],
            Heard::Signal(Signal::Presence(presence)) => vec![presence],
            Heard::Resync => self.read_again(links).await,
        };
        presences
            .into_iter()
            .filter(|presence| self.news(presence))
            .map(|presence| Down::Presence { room, presence })
            .collect()
    }

    /// The members' presence as the database has it now.
    async fn read_again(&self, links: &Links) -> Vec<Presence> {
        let Some(members) = self.receiver.as_ref().map(|receiver| receiver.members) else {
            return Vec::new();
        };
        match Box::pin(links.store.presence(&members)).await {
            Ok(presences) => presences,
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "could not read presence again");
                Vec::new()
            }
        }
    }

    /// Whether the link lacks `presence`; if so, it is counted as sent.
    fn news(&mut self, presence: &Presence) -> bool {
        let sent = self.sent.entry(presence.user).or_insert(0);
        if presence.version <= *sent {
            return false;
        }
        *sent = presence.version;
        true
    }
}
