//! The frames of the user socket, `/ws/user/` (additive): one socket per
//! user carrying every room of theirs. Its room events are the room
//! socket's frames ([`ServerFrame`]) with the room, the stream position and
//! the unread count added ([`RoomEventFrame`]); `presence` and `typing` are
//! the room socket's frames as they are; the `ack` of a send names its room
//! ([`InRoom`]). What only the user socket has is [`UserFrame`], and what
//! its client sends is [`UserCommand`]. No logic lives here.

use serde::{Deserialize, Serialize};

use super::ServerFrame;
use crate::wire::ConversationView;

/// A server frame of the user socket with no room-socket equivalent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserFrame {
    /// The first frame of a fresh socket (or of a resume the server cannot
    /// replay): the first page of the room list and where it stands.
    Inbox {
        /// The first page (50) of `GET /chatrooms/`, most recent activity first.
        rooms: Vec<ConversationView>,
        /// `before` for the next page of `GET /chatrooms/`; `null` on the last page.
        next: Option<String>,
        /// The position of this snapshot in the user's stream.
        cursor: String,
    },
    /// The first frame of a resumed socket: exactly the missed events follow.
    Resumed {
        /// Where the resumed stream starts.
        cursor: String,
    },
    /// A room created with the user; its events follow.
    RoomCreated {
        /// The new room, as `GET /chatrooms/` shows it.
        room: ConversationView,
        /// The stream position just after this frame.
        cursor: String,
    },
}

/// A room event on the user socket: the room socket's frame of the event
/// (`chat_message`, `mark_message_as_*`, `message_edited`,
/// `message_deleted`, with its `seq`) and three fields more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEventFrame {
    /// The room socket's frame.
    #[serde(flatten)]
    pub frame: ServerFrame,
    /// The event's room.
    pub room_id: i64,
    /// The stream position just after this event.
    pub cursor: String,
    /// The user's unread count in the room when the frame is sent.
    pub unread_count: i64,
}

/// A room socket's frame naming its room: the `ack` of a user-socket send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InRoom {
    /// The room socket's frame.
    #[serde(flatten)]
    pub frame: ServerFrame,
    /// The room it is about.
    pub room_id: i64,
}

/// A client frame of the user socket (besides `auth`, as on room sockets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserCommand {
    /// Sends a message into a room, as `{"message": …}` on its room socket.
    Send {
        /// The room.
        room_id: i64,
        /// The text to send.
        message: String,
        /// The client's idempotency key for this message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// The user is typing in a room.
    Typing {
        /// The room.
        room_id: i64,
    },
    /// Marks the other member's messages in a room read, as `POST …/read`.
    Read {
        /// The room.
        room_id: i64,
        /// Only messages up to and including this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<i64>,
    },
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::*;
    use crate::wire::{MessageView, Profile, Status};

    fn round_trip<T>(frame: &T) -> Value
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(frame).expect("serializes");
        let back: T = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(&back, frame);
        serde_json::from_str(&text).expect("is JSON")
    }

    fn conversation() -> ConversationView {
        ConversationView {
            room_id: 1,
            peer: Profile {
                id: 4,
                email: "b@example.com".into(),
                is_online: true,
                last_seen: None,
            },
            last_message: None,
            unread_count: 2,
            last_seq: 17,
            created_at: Some("2025-02-18T18:28:52.258755+00:00".into()),
        }
    }

    fn conversation_json() -> Value {
        json!({
            "room_id": 1,
            "peer": {"id": 4, "email": "b@example.com", "is_online": true, "last_seen": null},
            "last_message": null, "unread_count": 2, "last_seq": 17,
            "created_at": "2025-02-18T18:28:52.258755+00:00"
        })
    }

    #[test]
    fn the_inbox_frame_holds_the_room_list_and_the_cursor() {
        let value = round_trip(&UserFrame::Inbox {
            rooms: vec![conversation()],
            next: None,
            cursor: "u1.9".into(),
        });
        assert_eq!(
            value,
            json!({"type": "inbox", "rooms": [conversation_json()], "next": null, "cursor": "u1.9"})
        );
    }

    #[test]
    fn the_resumed_and_room_created_frames_have_the_documented_shape() {
        let resumed = round_trip(&UserFrame::Resumed {
            cursor: "u1.9".into(),
        });
        assert_eq!(resumed, json!({"type": "resumed", "cursor": "u1.9"}));
        let created = round_trip(&UserFrame::RoomCreated {
            room: conversation(),
            cursor: "u1.10".into(),
        });
        assert_eq!(
            created,
            json!({"type": "room_created", "room": conversation_json(), "cursor": "u1.10"})
        );
    }

    #[test]
    fn a_room_event_is_the_room_sockets_frame_with_three_fields_more() {
        let message = MessageView {
            text: "hi".into(),
            message_id: 5,
            sender_id: 4,
            status: Status::Send,
            created_at: Some("2025-02-18T18:28:52.258755+00:00".into()),
            updated_at: Some("2025-02-18T18:28:52.258755+00:00".into()),
        };
        let frame = ServerFrame::ChatMessage { message, seq: 3 };
        let mut expected = serde_json::to_value(&frame).expect("serializes");
        let value = round_trip(&RoomEventFrame {
            frame,
            room_id: 1,
            cursor: "u1.11".into(),
            unread_count: 1,
        });
        expected["room_id"] = json!(1);
        expected["cursor"] = json!("u1.11");
        expected["unread_count"] = json!(1);
        assert_eq!(value, expected);
        let deleted = round_trip(&RoomEventFrame {
            frame: ServerFrame::MessageDeleted {
                message_id: 5,
                seq: 4,
            },
            room_id: 1,
            cursor: "u1.12".into(),
            unread_count: 0,
        });
        assert_eq!(
            deleted,
            json!({"type": "message_deleted", "message_id": 5, "seq": 4, "room_id": 1, "cursor": "u1.12", "unread_count": 0})
        );
    }

    #[test]
    fn a_user_sockets_ack_names_its_room() {
        let value = round_trip(&InRoom {
            frame: ServerFrame::Ack {
                client_msg_id: "c-1".into(),
                message_id: 12,
                seq: 7,
                duplicate: false,
            },
            room_id: 1,
        });
        assert_eq!(
            value,
            json!({"type": "ack", "client_msg_id": "c-1", "message_id": 12, "seq": 7, "duplicate": false, "room_id": 1})
        );
    }

    #[test]
    fn client_commands_round_trip() {
        let send = round_trip(&UserCommand::Send {
            room_id: 1,
            message: "hi".into(),
            client_msg_id: Some("c-1".into()),
        });
        assert_eq!(
            send,
            json!({"type": "send", "room_id": 1, "message": "hi", "client_msg_id": "c-1"})
        );
        let typing = round_trip(&UserCommand::Typing { room_id: 1 });
        assert_eq!(typing, json!({"type": "typing", "room_id": 1}));
        let read = round_trip(&UserCommand::Read {
            room_id: 1,
            message_id: None,
        });
        assert_eq!(read, json!({"type": "read", "room_id": 1}));
        let up_to = round_trip(&UserCommand::Read {
            room_id: 1,
            message_id: Some(9),
        });
        assert_eq!(
            up_to,
            json!({"type": "read", "room_id": 1, "message_id": 9})
        );
    }
}
