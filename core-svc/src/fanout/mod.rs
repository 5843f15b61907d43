//! Live delivery of room events to subscribers.
//!
//! The event log in PostgreSQL is the truth; the [`Hub`] only carries
//! committed events quickly to the subscribers of this process. Each
//! subscriber's [`RoomFeed`] delivers events strictly in sequence: anything
//! the hub could not carry (a publish that arrived out of order, a receiver
//! that lagged behind) is read back from the log, so nothing is skipped and
//! nothing is delivered twice.
//!
//! Presence and typing travel beside the events, through [`Signals`]:
//! every instance hears them from PostgreSQL (see `cluster`) and hands them
//! to the rooms followed here whose member changed; [`Typing`] throttles
//! `typing` before it is announced.
//!
//! This module sits above [`crate::cluster`]: it uses the cluster's
//! [`Notifier`] and [`LiveSessions`](crate::cluster::LiveSessions), and the
//! cluster's listener reaches the [`Hub`] only through the
//! [`LocalRooms`](crate::cluster::LocalRooms) trait it implements, so
//! nothing in `cluster` names this module.

mod feed;
mod hub;
mod signals;
mod subscription;
mod typing;

pub use feed::RoomFeed;
pub use hub::{Hub, HubReceiver, Published};
pub use signals::{Heard, SignalReceiver, Signals, hear};
pub use subscription::{Item, Subscriptions};
pub use typing::{TYPING_EVERY, Typing};

use crate::{cluster::Notifier, domain::RoomEvent, feed::Wake, inbox::Lane, ops::Metrics};

/// Where committed events go: to this process's subscribers at once, and
/// (batched) to the other instances.
#[derive(Clone, Default)]
pub struct Fanout {
    pub hub: Hub,
    pub notifier: Notifier,
    /// Presence and typing for this process's subscribers.
    pub signals: Signals,
    /// The `typing` throttle.
    pub typing: Typing,
    /// The instance's metrics; commits count their messages here.
    pub metrics: Metrics,
    /// This instance's event feed streams: a local commit wakes them at
    /// once, without the round trip of an announcement through PostgreSQL.
    pub feed: Wake,
    /// This instance's user streams: a local commit reaches them at once,
    /// ahead of the feed.
    pub lane: Lane,
}

impl Fanout {
    /// Hands events that one transaction committed (all of one room) on.
    pub fn committed(&self, events: &[RoomEvent]) {
        self.metrics.committed(events);
        self.hub.publish(events);
        self.lane.committed(events);
        if let Some(last) = events.last() {
            self.notifier.committed(last.room_id, last.seq);
            self.feed.wake();
        }
    }
}
