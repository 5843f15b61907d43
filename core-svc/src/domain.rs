//! The chat domain: identifiers, validated message text and room events.
//! Nothing here knows about protobuf or SQL.

use std::fmt;

use service_kit::limits::{self, TextError};
use time::OffsetDateTime;

/// The most characters (Unicode code points) a message text may have.
pub use service_kit::limits::MAX_TEXT_CHARS;
/// The most characters a client-chosen idempotency key may have.
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// Accepts positive ids only.
            pub fn parse(raw: i64) -> Result<Self, InvalidInput> {
                if raw > 0 {
                    Ok(Self(raw))
                } else {
                    Err(InvalidInput(concat!($what, " must be a positive integer")))
                }
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user's integer id.
    UserId,
    "user id"
);
id_type!(
    /// A room's integer id.
    RoomId,
    "room id"
);
id_type!(
    /// A message's integer id.
    MessageId,
    "message id"
);

/// Input that breaks a rule; the text says which, for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub &'static str);

/// Whether `raw` holds U+0000, which PostgreSQL `text` cannot store.
pub fn has_nul(raw: &str) -> bool {
    raw.contains('\0')
}

/// A message text: trimmed, 1 to 4096 characters, no U+0000 (the
/// contract's rule, `service_kit::limits::message_text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        match limits::message_text(raw) {
            Ok(trimmed) => Ok(Self(trimmed.to_owned())),
            Err(TextError::Empty) => Err(InvalidInput("text must not be empty")),
            Err(TextError::Nul) => Err(InvalidInput("text must not contain U+0000")),
            Err(TextError::TooLong) => Err(InvalidInput("text is longer than 4096 characters")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen idempotency key for sends (at most 64 characters, no
/// U+0000); empty means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidInput> {
        if raw.is_empty() {
            return Ok(None);
        }
        if has_nul(raw) {
            return Err(InvalidInput("client_msg_id must not contain U+0000"));
        }
        if raw.chars().count() > MAX_CLIENT_MSG_ID_CHARS {
            return Err(InvalidInput("client_msg_id is longer than 64 characters"));
        }
        Ok(Some(Self(raw.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a message is on its way to the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Send,
    Delivered,
    Read,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "send" => Some(Self::Send),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A user as the chat sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub is_online: bool,
    pub last_seen: Option<OffsetDateTime>,
}

/// Whether a user is online, as their profile says, at one point of the
/// user's presence changes: `version` counts them (migrations/0010), so a
/// subscriber that holds version N of a user ignores any news up to N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub user: UserId,
    pub is_online: bool,
    /// When the user's last session ended; `None` if none ever did.
    pub last_seen: Option<OffsetDateTime>,
    pub version: i64,
}

/// Live news about a room's members, beside its events: not numbered, not
/// stored, never replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A member went online or offline.
    Presence(Presence),
    /// A member is typing (already throttled).
    Typing(UserId),
}

/// A direct room of two members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: RoomId,
    pub members: [UserId; 2],
    pub last_seq: i64,
}

impl Room {
    pub fn has_member(&self, user: UserId) -> bool {
        self.members.contains(&user)
    }

    /// The member who is not `user`.
    pub fn other_member(&self, user: UserId) -> UserId {
        if self.members[0] == user {
            self.members[1]
        } else {
            self.members[0]
        }
    }
}

/// A message; `text` is empty once `deleted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub room_id: RoomId,
    pub sender_id: UserId,
    pub sender_email: String,
    pub text: String,
    pub status: MessageStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted: bool,
}

impl Message {
    /// The same message as seen with another status.
    pub fn with_status(&self, status: MessageStatus) -> Self {
        Self {
            status,
            ..self.clone()
        }
    }
}

/// One change to a room, numbered by the room's gapless sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    pub room_id: RoomId,
    pub seq: i64,
    pub occurred_at: OffsetDateTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Created(Message),
    Delivered(Message),
    Read(Message),
    Edited {
        message_id: MessageId,
        text: String,
        updated_at: OffsetDateTime,
    },
    Deleted {
        message_id: MessageId,
    },
}

impl EventKind {
    /// The name stored in the event log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created(_) => "message_created",
            Self::Delivered(_) => "message_delivered",
            Self::Read(_) => "message_read",
            Self::Edited { .. } => "message_edited",
            Self::Deleted { .. } => "message_deleted",
        }
    }
}

/// The state a subscriber starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub room_id: RoomId,
    pub seq: i64,
    pub messages: Vec<Message>,
    pub resumed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_before_it_is_stored() {
        let text = MessageText::parse("  hello \n").unwrap();
        assert_eq!(text.as_str(), "hello");
    }

    #[test]
    fn text_of_only_white_space_is_rejected() {
        assert!(MessageText::parse(" \t\n ").is_err());
        assert!(MessageText::parse("").is_err());
    }

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        let exactly = "é".repeat(MAX_TEXT_CHARS);
        assert!(MessageText::parse(&exactly).is_ok());
        let over = "é".repeat(MAX_TEXT_CHARS + 1);
        assert!(MessageText::parse(&over).is_err());
    }

    #[test]
    fn surrounding_white_space_does_not_count_toward_the_limit() {
        let padded = format!("  {}  ", "a".repeat(MAX_TEXT_CHARS));
        assert!(MessageText::parse(&padded).is_ok());
    }

    #[test]
    fn text_with_a_nul_character_is_rejected() {
        assert!(MessageText::parse("a\0b").is_err());
        assert!(MessageText::parse("\0").is_err());
    }

    #[test]
    fn a_client_msg_id_with_a_nul_character_is_rejected() {
        assert!(ClientMsgId::parse("k\0").is_err());
    }

    #[test]
    fn ids_must_be_positive() {
        assert!(UserId::parse(0).is_err());
        assert!(RoomId::parse(-4).is_err());
        assert_eq!(MessageId::parse(7).unwrap().get(), 7);
    }

    #[test]
    fn empty_client_msg_id_means_none() {
        assert_eq!(ClientMsgId::parse("").unwrap(), None);
        assert!(ClientMsgId::parse(&"k".repeat(65)).is_err());
        assert!(ClientMsgId::parse("abc").unwrap().is_some());
    }

    #[test]
    fn status_names_round_trip() {
        for status in [
            MessageStatus::Send,
            MessageStatus::Delivered,
            MessageStatus::Read,
        ] {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn other_member_is_the_one_not_asked_about() {
        let a = UserId::parse(1).unwrap();
        let b = UserId::parse(2).unwrap();
        let room = Room {
            id: RoomId::parse(9).unwrap(),
            members: [a, b],
            last_seq: 0,
        };
        assert_eq!(room.other_member(a), b);
        assert_eq!(room.other_member(b), a);
    }
}
