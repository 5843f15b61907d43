//! User streams (`InboxService.Stream`): every room of a user on one
//! stream, for the edge's user socket.
//!
//! - One [`reader`] per process follows the event feed (every room, in
//!   label order below the horizon) while a user stream is open, and the
//!   [`registry`] hands each item to the local streams of the room's two
//!   members through bounded queues it never waits on: a stream that does
//!   not keep up is ended, and resumes from its cursor.
//! - A [`stream`] starts with an inbox (the first page of the room list,
//!   the horizon and a skip set from one snapshot) or, given a cursor it
//!   can replay, with `resumed`; it reads what lies between its cursor and
//!   the reader's position itself, then takes the reader's items. Its
//!   [`cursor`] (a feed position and the skip set) says exactly what the
//!   client has.
//! - The [`lane`] carries events committed by this process to the
//!   streams of their room's members at once, ahead of the feed; a stream
//!   takes them only when they follow what its client has, and its cursor
//!   records them in the skip set, so the feed's copies are skipped.
//! - Presence and typing reach user streams through [`signals`], which
//!   keeps nothing per stream.
//! - A stream records a session with no room: its user is online, but a
//!   reader of no room.

mod cursor;
mod lane;
mod reader;
mod registry;
mod signals;
mod stream;

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

pub use cursor::Cursor;
pub use lane::Lane;
pub use registry::Registry;
pub use stream::{INBOX_ROOMS, Out, OutItem};

use crate::{cluster::LiveSessions, feed::Feed, ops::Metrics, store::Store};

/// The user streams of this process; cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    store: Store,
    feed: Feed,
    registry: Registry,
    live: LiveSessions,
    metrics: Metrics,
    instance: Uuid,
    /// Held while a reader starts, so that only one does.
    starting: Arc<Mutex<()>>,
    notes: mpsc::Sender<signals::Note>,
    pending: signals::PendingPresence,
}

/// What the user streams need from the running service.
pub struct Parts {
    /// Its store, wake-ups, shutdown and tasks.
    pub feed: Feed,
    pub live: LiveSessions,
    pub metrics: Metrics,
    pub instance: Uuid,
    /// Deliveries queued per stream; a stream with a full queue is ended.
    pub queue: usize,
}

impl Inbox {
    /// The user streams, the task that passes presence to them and that of
    /// their fast lane (spawned on the feed's tasks, until its shutdown),
    /// and the lane's entrance, where this process's commits go to reach
    /// the streams at once (the fan-out hands them on).
    pub fn start(parts: Parts) -> (Self, Lane) {
        let (notes, heard) = mpsc::channel(signals::NOTES);
        let registry = Registry::new(parts.queue);
        let lane = lane::start(
            registry.clone(),
            parts.feed.store.clone(),
            parts.feed.shutdown.clone(),
            &parts.feed.tasks,
        );
        let inbox = Self {
            store: parts.feed.store.clone(),
            registry,
            feed: parts.feed,
            live: parts.live,
            metrics: parts.metrics,
            instance: parts.instance,
            starting: Arc::default(),
            notes,
            pending: signals::PendingPresence::default(),
        };
        let shutdown = inbox.feed.shutdown.clone();
        inbox.feed.tasks.spawn(inbox.clone().hear(heard, shutdown));
        (inbox, lane)
    }

    /// The service's shutdown token (streams end on it).
    pub fn shutdown(&self) -> tokio_util::sync::CancellationToken {
        self.feed.shutdown.clone()
    }
}
