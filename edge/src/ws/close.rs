//! How a session ends ([`End`]) and the close frames it sends
//! ([`CloseReason`]): the vocabulary the session, its reader, its writer and
//! the `auth` frame share, and the one table of close codes. It depends on
//! no other part of the session. Which core failure closes with which code
//! is the table in `failure.rs`.
//!
//! # Close codes
//!
//! | code | reason |
//! | ---- | ------ |
//! | 1000 | the client closed the socket (the echo of its close frame) |
//! | 1009 | a client message over 64 KiB, one frame or several fragments together |
//! | 1011 | the core is unreachable or failed: at connect (nothing else is sent), or mid-session when no core of `CHAT_CORE_URL` has answered for `CHAT_CORE_DEADLINE_MS`, or a user socket's `InboxService.Stream` broke or ended; reconnect later with `?last_seq=` (a user socket: `?cursor=`) |
//! | 1012 | the edge is shutting down; reconnect with `?last_seq=` |
//! | 1008 | the client kept sending over its rate limit after `rate_limited` error frames |
//! | 1013 | the client did not keep up: its outbound queue (`CHAT_WS_QUEUE` frames) stayed full for `CHAT_WS_STALL_MS`, or its room's events overflowed the 4,096 more held for it meanwhile, or the core is overloaded; reconnect with `?last_seq=` and the missed events follow |
//! | 4401 | no token and no `auth` first frame within 5 s (or another first frame), or the core refused the token (at connect, or on a later send once it expired), or the token's `exp` passed while connected (the `exp` of the latest token an `auth` frame replaced it with) |
//! | 4403 | the user is not a member of the room |
//! | 4404 | the room does not exist (or the path holds no room id) |
//! | 4429 | the user already holds `CHAT_WS_MAX_PER_USER` sockets on this edge |

/// A close frame the session sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code (see the module docs).
    pub code: u16,
    /// A short reason for people.
    pub reason: &'static str,
}

impl CloseReason {
    /// 4401: no token, or the core refused it.
    pub const UNAUTHENTICATED: Self = Self::new(4401, "unauthenticated");
    /// 4403: not a member of the room.
    pub const FORBIDDEN: Self = Self::new(4403, "not a member of this room");
    /// 4404: no such room.
    pub const ROOM_NOT_FOUND: Self = Self::new(4404, "room not found");
    /// 1009: a client message over 64 KiB.
    pub const MESSAGE_TOO_BIG: Self = Self::new(1009, "message over 64 KiB");
    /// 1011: the core is unreachable or failed.
    pub const CORE_UNAVAILABLE: Self = Self::new(1011, "chat service unavailable, reconnect later");
    /// 1012: the edge is shutting down.
    pub const RESTARTING: Self = Self::new(1012, "server restarting, reconnect");
    /// 4401: the token's `exp` passed while connected.
    pub const TOKEN_EXPIRED: Self = Self::new(4401, "token expired");
    /// 4429: the user holds as many sockets as this edge allows.
    pub const TOO_MANY_CONNECTIONS: Self = Self::new(4429, "too many connections");
    /// 1008: sustained sending over the rate limit.
    pub const ABUSIVE: Self = Self::new(1008, "too many messages");
    /// 1013: the client could not keep up, or the core is overloaded.
    pub const TOO_SLOW: Self = Self::new(1013, "too far behind, reconnect with last_seq");

    const fn new(code: u16, reason: &'static str) -> Self {
        Self { code, reason }
    }
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The client sent a close frame; tungstenite has queued the echo.
    ClientClosed,
    /// The connection is gone (reset, end of stream, a failed write).
    ClientGone,
    /// The session closes the socket with this frame.
    Close(CloseReason),
}

impl From<CloseReason> for End {
    fn from(reason: CloseReason) -> Self {
        End::Close(reason)
    }
}
