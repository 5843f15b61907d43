//! Coordination between core instances that share one PostgreSQL.
//!
//! The lower layer of the two that carry events: [`crate::fanout`] uses
//! this module (its [`Notifier`] and [`LiveSessions`]), never the other way
//! round. The listener hands what it hears to a [`LocalRooms`], a trait
//! owned here and implemented by the fan-out's hub.
//!
//! - [`Notifier`]: after commits, announces "room R committed up to seq S"
//!   with batched `NOTIFY`s, off the commit path: many commits share one
//!   notification, and no message transaction ever takes NOTIFY's
//!   cluster-wide lock.
//! - [`listen`]: a dedicated connection `LISTEN`s and turns other
//!   instances' announcements into hints for the [`LocalRooms`];
//!   subscribers then read the events from the log. After a lost connection it re-listens and catches
//!   up; a slow poll of the rooms with local subscribers covers anything a
//!   notification missed (an instance that died between commit and notify).
//!   The local rooms pass on only heads they have not carried yet, so a
//!   poll that finds nothing new wakes no subscriber.
//! - Presence changes and forwarded `typing`s are announced by the
//!   transactions that make them (migrations/0010); the listener hears them
//!   from every instance, this one included, and hands them to the
//!   [`LocalSignals`] (the fan-out's signals and the user streams'),
//!   telling it to read presence again whenever it reconnects.
//! - [`heartbeat`]: keeps this instance's row fresh, clears sessions whose
//!   close was not recorded, and ends the sessions of dead instances.

mod heartbeat;
mod listener;
mod notifier;
mod sessions;
mod signals;

pub use heartbeat::heartbeat;
pub use listener::{Listener, LocalRooms, listen};
pub use notifier::{Notifier, notify};
pub use sessions::LiveSessions;
pub use signals::LocalSignals;

use std::time::Duration;

/// Timing of the cluster tasks.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// An instance whose heartbeat is older than this is dead.
    pub instance_ttl: Duration,
    /// How often rooms with local subscribers are checked for missed events.
    pub poll_interval: Duration,
}

impl Timing {
    /// Heartbeats come three times per time-to-live.
    pub fn heartbeat_interval(&self) -> Duration {
        self.instance_ttl / 3
    }
}
