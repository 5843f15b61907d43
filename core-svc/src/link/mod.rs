//! Edge links: the sockets of one edge carried over one stream, each room
//! followed once per link however many of its sockets the edge holds.
//!
//! A link is a control task ([`control`]) that reads the edge's requests and
//! one task per followed room ([`room`]) that registers the room's sockets
//! and forwards its events, from a [`RoomFeed`](crate::fanout::RoomFeed),
//! into the link's bounded outbound queue. A room's openings and its events
//! pass through its one task in turn, so an opening's answer always comes
//! before the room's events after its snapshot; rooms wait for each other
//! only on the queue, and one that waits long catches up from the log.
//!
//! Presence and typing reach a room's task through the fan-out's signals
//! (the task subscribes with the room's members, looked up once): each
//! change of a member goes down the link once per followed room, and the
//! edge hands it to the room's sockets of the other member. A `typing` from
//! the edge names its socket; the link checks it is open in that room and
//! lets the fan-out's throttle decide.
//!
//! Sessions belong to the edge, not to this core: their rows carry the
//! edge's id (and the edge's socket id), and the link keeps the edge's row
//! in `core_instances` fresh. When the link breaks, nothing is ended: the
//! edge links again, here or to another core, and names its sockets, whose
//! rows are found again. When the edge dies, no core keeps its row fresh and
//! the reaper ends its sessions.
//!
//! Tokens and protobuf types stay in `grpc::link`: this module sees
//! authenticated [`Socket`]s and answers in domain types.

mod control;
mod registry;
mod room;
mod signals;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    cluster::LiveSessions,
    domain::{Presence, RoomEvent, RoomId, Snapshot, UserId},
    error::Error,
    fanout::Fanout,
    store::{Start, Store},
};

/// What one link may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rooms followed at once; an opening in one more is refused.
    pub rooms: usize,
    /// Sockets open at once; one more is refused.
    pub sockets: usize,
    /// Items waiting to be sent to the edge; beyond it the rooms wait, and
    /// a room that waited catches up from the log.
    pub queue: usize,
}

/// Everything links need from the running instance; cheap to clone.
#[derive(Clone)]
pub struct Links {
    pub store: Store,
    pub fanout: Fanout,
    /// Ends the sessions of closed sockets, in batches.
    pub live: LiveSessions,
    pub limits: Limits,
    /// How often a link tells the database its edge is alive.
    pub heartbeat: Duration,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

/// A socket the edge opens, with its user's token verified.
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    pub id: u64,
    pub room: RoomId,
    pub user: UserId,
    /// The verified expiry of the user's token, Unix seconds.
    pub token_exp: u64,
    pub start: Start,
}

/// A socket that may not open: what the equivalent `Subscribe` fails with.
#[derive(Debug)]
pub struct Refused {
    pub socket: u64,
    pub error: Error,
}

/// An opening as the link receives it: checked, or already refused.
pub type Opening = Result<Socket, Refused>;

/// The first item of a link.
#[derive(Debug)]
pub struct Hello {
    pub edge: Uuid,
    /// Sockets the edge holds from a broken link, registered again.
    pub sockets: Vec<Opening>,
    /// The last `seq` the edge holds of each room it follows.
    pub rooms: Vec<(RoomId, i64)>,
}

/// A later item from the edge.
#[derive(Debug)]
pub enum Up {
    Open(Opening),
    /// Sockets that closed (one item of the edge may name many).
    Close(Vec<u64>),
    /// The user of socket `socket` is typing in `room` (the socket's room).
    Typing {
        socket: u64,
        room: RoomId,
    },
}

/// An item to the edge.
#[derive(Debug)]
pub enum Down {
    Opened {
        socket: u64,
        user: UserId,
        token_exp: u64,
        snapshot: Snapshot,
        missed: Vec<RoomEvent>,
        /// The other member's presence, sent right after the snapshot.
        peer: Presence,
    },
    Refused(Refused),
    Event(RoomEvent),
    /// A member of a followed room went online or offline.
    Presence {
        room: RoomId,
        presence: Presence,
    },
    /// A member of a followed room is typing.
    Typing {
        room: RoomId,
        user: UserId,
    },
}

/// The link's outbound queue; an error ends the link with its status.
pub type Outbound = mpsc::Sender<Result<Down, Error>>;

impl Links {
    /// Runs a link whose `hello` was read (and its edge's row touched),
    /// in a task of its own, until the edge leaves or the service stops.
    /// The items for the edge come out of the returned queue.
    pub fn start<S>(&self, hello: Hello, inbound: S) -> mpsc::Receiver<Result<Down, Error>>
    where
        S: futures::Stream<Item = Result<Up, Error>> + Send + Unpin + 'static,
    {
        let (outbound, items) = mpsc::channel(self.limits.queue.max(1));
        let span = tracing::info_span!("edge_link", edge = %hello.edge);
        self.tasks
            .spawn(control::run(self.clone(), hello, inbound, outbound).instrument(span));
        items
    }
}
