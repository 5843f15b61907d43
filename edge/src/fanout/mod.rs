//! Fan-out at the edge: one task ([`Hub`]) holds the edge's link to a core
//! (`core_client::link`) and the edge's rooms — each room's last `seq` and
//! its open sockets — and fans every room event out to them.
//!
//! A socket opens with [`Hub::open`]: the hub sends `OpenSocket` on the link
//! and answers with the core's snapshot and missed events ([`Opened`]); from
//! then on the socket's [`Feed`] carries the room's live events after the
//! snapshot's `seq`. Each event is encoded to its JSON frame once per room,
//! and the shared bytes are offered to every socket's bounded feed without
//! waiting: a socket whose feed is full has fallen behind and is closed with
//! 1013 (its session reads `None`), and never holds up the others.
//!
//! Presence and typing come down the link once per room too: the hub
//! encodes each once and offers it to the room's sockets of the other
//! member only (each socket remembers the presence version it has, so a
//! change it already saw in its answer is not sent twice). A socket's
//! `typing` goes up the link naming the socket; while no link is up it is
//! dropped, as the throttle might have dropped it.
//!
//! The link's queue is bounded; what it cannot take yet waits in the hub's
//! outbox (`outbox.rs`): closes as a set of ids, sent many to an item, and
//! openings in turn (their sockets wait for their answer). A burst never
//! breaks the link; a `typing` that finds the queue full is dropped.
//!
//! When the link breaks, the hub opens a new one — to the next core of
//! `CHAT_CORE_URL`, then around the list with a short backoff — whose hello
//! names every open socket with its latest token and the last `seq` held of
//! each room: sockets stay open and lose nothing. A socket the core refuses
//! on re-linking closes with the code its `Subscribe` would have failed with
//! (`failure.rs`). While no core answers, new sockets are refused (1011);
//! when none has answered for the core deadline, open sockets close with 1011.

mod outbox;
mod state;
mod task;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};
use tungstenite::Utf8Bytes;

use crate::core_client::{BearerToken, LinkClient, Presence, RoomEvent, Snapshot, SocketOpening};
use crate::error::Error;
use crate::ws::close::CloseReason;

/// What the hub hands one socket's session.
#[derive(Debug)]
pub enum Feed {
    /// An event's frame, encoded once for the whole room.
    Frame(Utf8Bytes),
    /// The socket must close with this frame (the core refused it on a
    /// re-link, or no core answered for too long).
    Close(CloseReason),
}

/// The most of its room's events the hub holds for a socket whose outbound
/// queue is full: a socket further behind has stopped keeping up (1013).
/// Only a socket that falls behind uses the room: frames are shared by the
/// room's sockets, and the feed's slots are allocated as it fills.
pub const FEED_FRAMES: usize = 4_096;

/// The hub's end of a socket's feed. Items are boxed: the channel's first
/// block of slots is allocated with the socket, and a slot is one pointer.
pub type FeedSender = mpsc::Sender<Box<Feed>>;
/// The session's end of its feed.
pub type FeedReceiver = mpsc::Receiver<Box<Feed>>;

/// A socket's feed, holding at most `capacity` items (a session's: [`FEED_FRAMES`]).
pub fn feed(capacity: usize) -> (FeedSender, FeedReceiver) {
    mpsc::channel(capacity.max(1))
}

/// A socket the core let open.
pub struct Opened {
    /// Who the socket speaks for, and how it starts.
    pub snapshot: Snapshot,
    /// With a resume point: the events missed up to the snapshot's `seq`.
    pub missed: Vec<RoomEvent>,
    /// The other member's presence, the socket's frame after its first.
    pub peer: Option<Presence>,
}

/// What sessions ask of the hub.
enum Command {
    Open {
        socket: SocketOpening,
        feed: FeedSender,
        reply: oneshot::Sender<Result<Opened, Error>>,
    },
    Refresh {
        socket_id: u64,
        token: BearerToken,
    },
    Close {
        socket_id: u64,
    },
    Typing {
        socket_id: u64,
        room_id: i64,
    },
}

/// What the hub counts of its links.
#[derive(Clone, Debug, Default)]
pub struct LinkCounters {
    /// Room events received on the links.
    pub events: Counter,
    /// Links opened: the first, and one after each that broke or failed.
    pub opened: Counter,
}

/// The handle of the edge's fan-out task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    // Unbounded, yet bounded in effect: each socket sends one `Open`, one
    // `Close`, a `Refresh` per `auth` frame its message rate allows, and a
    // `Typing` per `typing` frame its typing rate allows.
    commands: mpsc::UnboundedSender<Command>,
    next_socket: Arc<AtomicU64>,
    deadline: Duration,
}

impl Hub {
    /// Starts the hub's task on the cores of `client`. `deadline` bounds a
    /// socket's opening and a time without any core; `counters` count the
    /// links and the room events they carry. The task ends once every handle and
    /// ticket is gone: at shutdown, after the last session has sent its
    /// close frame (so no socket loses its feed before), and told the core.
    pub fn start(client: LinkClient, deadline: Duration, counters: LinkCounters) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = task::LinkTask::new(client, receiver, deadline, counters);
        tokio::spawn(task.run());
        Self {
            commands,
            next_socket: Arc::new(AtomicU64::new(1)),
            deadline,
        }
    }

    /// Opens a socket on `room_id` for the holder of `token`, resuming after
    /// `after_seq`; its live events then come on `feed`. The ticket closes
    /// the socket on the core when dropped.
    pub async fn open(
        &self,
        room_id: i64,
        token: BearerToken,
        after_seq: Option<i64>,
        feed: FeedSender,
    ) -> Result<(SocketTicket, Opened), Error> {
        let socket_id = self.next_socket.fetch_add(1, Ordering::Relaxed);
        let ticket = SocketTicket {
            socket_id,
            commands: self.commands.clone(),
        };
        let (reply, answer) = oneshot::channel();
        let socket = SocketOpening {
            socket_id,
            room_id,
            token,
            after_seq,
        };
        let open = Command::Open {
            socket,
            feed,
            reply,
        };
        if self.commands.send(open).is_err() {
            return Err(gone());
        }
        match tokio::time::timeout(self.deadline, answer).await {
            Ok(Ok(Ok(opened))) => Ok((ticket, opened)),
            Ok(Ok(Err(error))) => Err(error),
            Ok(Err(_dropped)) => Err(gone()),
            Err(_elapsed) => Err(Error::CoreDeadline(self.deadline)),
        }
    }
}

/// The error of a socket the hub can no longer serve.
fn gone() -> Error {
    Error::Core(tonic::Status::unavailable("the edge's link is gone"))
}

/// A socket's place in the hub: it names the socket's latest token for
/// later re-links, and closes the socket on the core when dropped.
#[derive(Debug)]
pub struct SocketTicket {
    socket_id: u64,
    commands: mpsc::UnboundedSender<Command>,
}

impl SocketTicket {
    /// The socket's token was replaced: later hellos carry `token`.
    pub fn refresh(&self, token: BearerToken) {
        let refresh = Command::Refresh {
            socket_id: self.socket_id,
            token,
        };
        let _ = self.commands.send(refresh);
    }

    /// The socket's user is typing in `room_id`, the socket's room.
    pub fn typing(&self, room_id: i64) {
        let typing = Command::Typing {
            socket_id: self.socket_id,
            room_id,
        };
        let _ = self.commands.send(typing);
    }
}

impl Drop for SocketTicket {
    fn drop(&mut self) {
        let close = Command::Close {
            socket_id: self.socket_id,
        };
        // A hub that is gone has closed its link, and the socket with it.
        let _ = self.commands.send(close);
    }
}
