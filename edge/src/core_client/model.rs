//! The edge's own view of the core's data: what [`CoreClient`] takes and
//! answers. Plain Rust types with no serde and no generated code; the
//! client-facing JSON shapes are built from them in `wire.rs`, and
//! `convert.rs` makes them from the core's replies.
//!
//! [`CoreClient`]: super::CoreClient

use time::OffsetDateTime;

/// A message's delivery status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Stored, not yet handed to the room.
    Send,
    /// Stored and handed to the room.
    Delivered,
    /// Seen by the recipient.
    Read,
}

/// A stored message. Not `Debug`: message texts stay out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The message id.
    pub message_id: i64,
    /// The sender's user id.
    pub sender_id: i64,
    /// The sender's email.
    pub sender_email: String,
    /// The (trimmed) text; empty once deleted.
    pub text: String,
    /// Delivery status.
    pub status: MessageStatus,
    /// When it was stored; `None` when the core sent none (or one out of range).
    pub created_at: Option<OffsetDateTime>,
    /// When its text last changed; changes on edits only.
    pub updated_at: Option<OffsetDateTime>,
}

/// A user, as `WhoAmI` describes the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub id: i64,
    /// The user's email.
    pub email: String,
    /// True while at least one socket (or room stream) of the user is open.
    pub is_online: bool,
    /// When the user's last socket closed; `None` if they never connected.
    pub last_seen: Option<OffsetDateTime>,
    /// The `exp` of the caller's token as the core verified it, Unix seconds.
    pub token_exp: u64,
}

/// A room, as `GetOrCreateDirectRoom` answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// The room id.
    pub room_id: i64,
}

/// A message to send. Not `Debug`: message texts stay out of logs.
pub struct NewMessage {
    /// The room to send to.
    pub room_id: i64,
    /// The trimmed text.
    pub text: String,
    /// The client's idempotency key, if it gave one.
    pub client_msg_id: Option<String>,
}

/// A message the core stored (or found stored under the same idempotency key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentMessage {
    /// The id of the stored message (the original one for a duplicate).
    pub message_id: i64,
    /// The `seq` of the message's `message_created` event.
    pub seq: i64,
    /// True when an earlier send with the same key stored the message.
    pub duplicate: bool,
}

/// Which page of a room's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The room.
    pub room_id: i64,
    /// Only messages older than this message id; `None`: the newest.
    pub before_message_id: Option<i64>,
    /// The page size.
    pub limit: u32,
}

/// How a socket opens on a room (a `Subscribe`'s first item, or a link's
/// `SocketOpened`): who subscribed, and how the socket starts.
#[derive(PartialEq, Eq)]
pub struct Snapshot {
    /// The user id the subscriber's token resolved to (positive when set).
    pub user_id: i64,
    /// The `exp` of the subscriber's token as the core verified it (0: unset).
    pub token_exp: u64,
    /// The room's `seq` the snapshot stands at: the subscriber's live events
    /// are the room's events after it.
    pub seq: i64,
    /// The history, or the resume point.
    pub opening: Opening,
}

/// How a socket (or a room stream) starts.
#[derive(PartialEq, Eq)]
pub enum Opening {
    /// The latest messages, newest first: a fresh subscription, or a resume
    /// the core's log cannot serve.
    History(Vec<Message>),
    /// Exactly the events after `last_seq` follow.
    Resumed {
        /// The `seq` the subscription resumes after.
        last_seq: i64,
    },
}

/// One change to a room, numbered by the room's event sequence.
#[derive(PartialEq, Eq)]
pub struct RoomEvent {
    /// The event's sequence number in its room.
    pub seq: i64,
    /// What happened.
    pub change: Change,
}

/// What a room event says happened.
#[derive(PartialEq, Eq)]
pub enum Change {
    /// A new message (status `Send`).
    Created(Message),
    /// The message was stored and handed to the room.
    Delivered(Message),
    /// The recipient has seen the message.
    Read(Message),
    /// A message's text changed.
    Edited {
        /// The message id.
        message_id: i64,
        /// The new text.
        text: String,
    },
    /// A message was deleted.
    Deleted {
        /// The message id.
        message_id: i64,
    },
}

/// Whether a user is online, as their profile says it, at one of the
/// user's presence versions (a later change has a higher one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// The user.
    pub user_id: i64,
    /// True while at least one socket of the user is open.
    pub is_online: bool,
    /// When the user's last socket closed; `None` if none ever did.
    pub last_seen: Option<OffsetDateTime>,
    /// Orders the user's changes.
    pub version: i64,
}

/// A socket the edge opens on the core's link (`OpenSocket`), or names in
/// the hello of a new link. Not `Debug`: it holds a token.
#[derive(Clone)]
pub struct SocketOpening {
    /// The edge's id for the socket, unique for the life of the process.
    pub socket_id: u64,
    /// The socket's room.
    pub room_id: i64,
    /// The socket's latest token.
    pub token: super::BearerToken,
    /// The client's resume point, if it gave one.
    pub after_seq: Option<i64>,
}

/// What an edge tells a core when a link opens: its sockets and the last
/// `seq` it holds of each room they follow.
#[derive(Default)]
pub struct LinkHello {
    /// Sockets held open from an earlier link.
    pub sockets: Vec<SocketOpening>,
    /// `(room_id, seq)`: the last `seq` held of each room.
    pub rooms: Vec<(i64, i64)>,
}

/// What the edge sends up a link after its hello.
pub enum LinkUp {
    /// A socket opens.
    Open(SocketOpening),
    /// Sockets closed (by their ids), in one item.
    Close(Vec<u64>),
    /// The user of a socket is typing in its room.
    Typing {
        /// The socket.
        socket_id: u64,
        /// Its room.
        room_id: i64,
    },
}

/// What a core sends down a link.
pub enum LinkDown {
    /// A socket may open: its snapshot, and the events it missed after its
    /// resume point up to the snapshot's `seq`.
    Opened {
        /// The socket.
        socket_id: u64,
        /// Its snapshot.
        snapshot: Snapshot,
        /// With a resume point: the events it missed, in order.
        missed: Vec<RoomEvent>,
        /// The other member's presence as of the snapshot (`None` from a
        /// core that sends none).
        peer: Option<Presence>,
    },
    /// A socket may not open, or (after a re-link) not stay open.
    Refused {
        /// The socket.
        socket_id: u64,
        /// The failure the equivalent `Subscribe` would have ended in.
        error: crate::error::Error,
    },
    /// An event of a room the link follows.
    Event {
        /// The room.
        room_id: i64,
        /// The event.
        event: RoomEvent,
    },
    /// A member of a room the link follows went online or offline.
    Presence {
        /// The room.
        room_id: i64,
        /// The member's presence.
        presence: Presence,
    },
    /// A member of a room the link follows is typing.
    Typing {
        /// The room.
        room_id: i64,
        /// The member.
        user_id: i64,
    },
}
