//! The WebSocket frames of docs/protocol.md as serde types (with the
//! additive `resumed` and `ack` frames of the resume and idempotent-send
//! handshakes, and the `auth` / `auth_ok` frames of tokens on long-lived
//! sockets). The message shapes inside them, which the REST paging endpoint
//! shares, are in `wire.rs`; the user socket's own frames are in [`user`].
//! No logic lives here.

pub mod user;

use serde::{Deserialize, Serialize};

use crate::wire::MessageView;

/// A frame from the server after the history frame. Event frames carry the
/// room's event `seq` (additive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A new message (`status` is `send`).
    ChatMessage {
        /// The message.
        message: MessageView,
        /// The room event's sequence number.
        seq: i64,
    },
    /// The message was stored and handed to the room.
    MarkMessageAsDelivered {
        /// The message.
        message: MessageView,
        /// The room event's sequence number.
        seq: i64,
    },
    /// The recipient has seen the message.
    MarkMessageAsRead {
        /// The message.
        message: MessageView,
        /// The room event's sequence number.
        seq: i64,
    },
    /// A message's text changed.
    MessageEdited {
        /// The message id.
        message_id: i64,
        /// The new text.
        text: String,
        /// The room event's sequence number.
        seq: i64,
    },
    /// A message was deleted.
    MessageDeleted {
        /// The message id.
        message_id: i64,
        /// The room event's sequence number.
        seq: i64,
    },
    /// The first frame of a resumed connection, instead of the history
    /// array: exactly the room events after `last_seq` follow (additive).
    Resumed {
        /// The `seq` the client asked to resume after.
        last_seq: i64,
    },
    /// A message sent with a `client_msg_id` is stored (additive; only for
    /// client frames that carried one).
    Ack {
        /// The client's idempotency key, as sent.
        client_msg_id: String,
        /// The id of the stored message (the original one for a duplicate).
        message_id: i64,
        /// The `seq` of the message's `chat_message` event.
        seq: i64,
        /// True when an earlier send with this key stored the message: nothing new happened.
        duplicate: bool,
    },
    /// The other member's presence (additive): after the first frame, then
    /// on each change. Not a room event: no `seq`, never replayed.
    Presence {
        /// The other member.
        user_id: i64,
        /// True while at least one socket of theirs is open.
        is_online: bool,
        /// When their last socket closed, as `users/me` shows it; `null` if none ever did.
        last_seen: Option<String>,
    },
    /// The other member is typing in the room (additive; no `seq`).
    Typing {
        /// The room.
        room_id: i64,
        /// The member typing.
        user_id: i64,
    },
    /// The token of an in-band `auth` frame replaced the socket's (additive).
    AuthOk {
        /// The new token's `exp` as the core verified it, Unix seconds: the
        /// socket now closes with 4401 then.
        exp: u64,
    },
    /// A client frame was refused; the socket stays open.
    Error {
        /// What was wrong.
        code: ErrorCode,
        /// A human-readable reason.
        detail: String,
    },
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, or a binary frame.
    InvalidJson,
    /// `message` missing, not a string, or empty after trimming; or
    /// `client_msg_id` not a string of 1 to 64 characters.
    InvalidMessage,
    /// `message` over 4096 characters after trimming.
    MessageTooLong,
    /// The core refused the send for sending too fast.
    RateLimited,
    /// The core could not be reached; nothing was stored (additive).
    Unavailable,
    /// The core failed unexpectedly; nothing is known to be stored (additive).
    Internal,
    /// An in-band `auth` frame's token failed verification or names another
    /// user; the socket keeps its token (additive).
    InvalidToken,
    /// A user-socket frame names a room that does not exist or that the
    /// user is not a member of; the two are not told apart (additive).
    Forbidden,
}

/// A client frame with a `type` (additive): `{"type": "auth", "token": "<jwt>"}`,
/// as the first frame of a socket opened without a token, or to replace
/// the token of an open one. Not `Debug`: it holds a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    /// Authenticate the socket with this token.
    Auth {
        /// A JWT, as in `Authorization: Bearer <jwt>`.
        token: String,
    },
}

/// The one frame a client sends: `{"message": "…"}`, optionally with
/// `"client_msg_id": "…"` (additive) to make retries safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// The text to send.
    pub message: String,
    /// The client's idempotency key for this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Status;
    use serde_json::{Value, json};

    fn view(status: Status) -> MessageView {
        MessageView {
            text: "Hello, how are you?".into(),
            message_id: 1,
            sender_id: 3,
            status,
            created_at: Some("2025-02-16T12:34:56.789000+00:00".into()),
            updated_at: Some("2025-02-16T12:34:56.789000+00:00".into()),
        }
    }

    fn round_trip(frame: &ServerFrame) -> Value {
        let text = serde_json::to_string(frame).expect("serializes");
        let back: ServerFrame = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(&back, frame);
        serde_json::from_str(&text).expect("is JSON")
    }

    #[test]
    fn presence_and_typing_frames_have_the_documented_shape() {
        let presence = round_trip(&ServerFrame::Presence {
            user_id: 4,
            is_online: true,
            last_seen: None,
        });
        assert_eq!(
            presence,
            json!({"type": "presence", "user_id": 4, "is_online": true, "last_seen": null})
        );
        let typing = round_trip(&ServerFrame::Typing {
            room_id: 1,
            user_id: 3,
        });
        assert_eq!(
            typing,
            json!({"type": "typing", "room_id": 1, "user_id": 3})
        );
    }

    #[test]
    fn chat_message_frame_has_the_documented_shape() {
        let value = round_trip(&ServerFrame::ChatMessage {
            message: view(Status::Send),
            seq: 7,
        });
        assert_eq!(
            value,
            json!({
                "type": "chat_message",
                "seq": 7,
                "message": {
                    "text": "Hello, how are you?", "message_id": 1, "sender_id": 3,
                    "status": "send",
                    "created_at": "2025-02-16T12:34:56.789000+00:00",
                    "updated_at": "2025-02-16T12:34:56.789000+00:00"
                }
            })
        );
    }

    #[test]
    fn status_frames_are_named_as_the_original_protocol_names_them() {
        let delivered = round_trip(&ServerFrame::MarkMessageAsDelivered {
            message: view(Status::Delivered),
            seq: 8,
        });
        assert_eq!(delivered["type"], "mark_message_as_delivered");
        assert_eq!(delivered["message"]["status"], "delivered");
        let read = round_trip(&ServerFrame::MarkMessageAsRead {
            message: view(Status::Read),
            seq: 9,
        });
        assert_eq!(read["type"], "mark_message_as_read");
        assert_eq!(read["message"]["status"], "read");
    }

    #[test]
    fn edit_and_delete_frames_have_the_documented_shape() {
        let edited = round_trip(&ServerFrame::MessageEdited {
            message_id: 55,
            text: "Updated message text".into(),
            seq: 3,
        });
        assert_eq!(
            edited,
            json!({"type": "message_edited", "message_id": 55, "text": "Updated message text", "seq": 3})
        );
        let deleted = round_trip(&ServerFrame::MessageDeleted {
            message_id: 56,
            seq: 4,
        });
        assert_eq!(
            deleted,
            json!({"type": "message_deleted", "message_id": 56, "seq": 4})
        );
    }

    #[test]
    fn error_frames_have_the_documented_codes() {
        let codes = [
            (ErrorCode::InvalidJson, "invalid_json"),
            (ErrorCode::InvalidMessage, "invalid_message"),
            (ErrorCode::MessageTooLong, "message_too_long"),
            (ErrorCode::RateLimited, "rate_limited"),
            (ErrorCode::Unavailable, "unavailable"),
            (ErrorCode::Internal, "internal"),
            (ErrorCode::InvalidToken, "invalid_token"),
            (ErrorCode::Forbidden, "forbidden"),
        ];
        for (code, name) in codes {
            let value = round_trip(&ServerFrame::Error {
                code,
                detail: "why".into(),
            });
            assert_eq!(
                value,
                json!({"type": "error", "code": name, "detail": "why"})
            );
        }
    }

    #[test]
    fn client_frames_round_trip() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"message": "Hello, how are you?"}"#).expect("parses");
        assert_eq!(frame.message, "Hello, how are you?");
        assert_eq!(frame.client_msg_id, None);
        let text = serde_json::to_string(&frame).expect("serializes");
        assert_eq!(text, r#"{"message":"Hello, how are you?"}"#);
    }

    #[test]
    fn client_frames_may_carry_a_client_msg_id() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"message": "hi", "client_msg_id": "c-1"}"#).expect("parses");
        assert_eq!(frame.client_msg_id.as_deref(), Some("c-1"));
        let value = serde_json::to_value(&frame).expect("serializes");
        assert_eq!(value, json!({"message": "hi", "client_msg_id": "c-1"}));
    }

    #[test]
    fn the_resumed_frame_names_the_seq_it_resumes_after() {
        let value = round_trip(&ServerFrame::Resumed { last_seq: 42 });
        assert_eq!(value, json!({"type": "resumed", "last_seq": 42}));
    }

    #[test]
    fn the_ack_frame_has_the_documented_shape() {
        let value = round_trip(&ServerFrame::Ack {
            client_msg_id: "c-1".into(),
            message_id: 12,
            seq: 7,
            duplicate: false,
        });
        assert_eq!(
            value,
            json!({"type": "ack", "client_msg_id": "c-1", "message_id": 12, "seq": 7, "duplicate": false})
        );
    }

    #[test]
    fn the_auth_ok_frame_names_the_new_exp() {
        let value = round_trip(&ServerFrame::AuthOk { exp: 1_700_003_600 });
        assert_eq!(value, json!({"type": "auth_ok", "exp": 1_700_003_600}));
    }

    #[test]
    fn the_auth_frame_round_trips() {
        let text = r#"{"type": "auth", "token": "a.b.c"}"#;
        let frame: ControlFrame = serde_json::from_str(text).expect("parses");
        assert!(
            frame
                == ControlFrame::Auth {
                    token: "a.b.c".into()
                }
        );
        let value = serde_json::to_value(&frame).expect("serializes");
        assert_eq!(value, json!({"type": "auth", "token": "a.b.c"}));
        let back: ControlFrame = serde_json::from_value(value).expect("parses again");
        assert!(back == frame);
    }

    #[test]
    fn frames_of_other_types_are_no_auth_frames() {
        for text in [
            r#"{"type": "other", "token": "a.b.c"}"#,
            r#"{"token": "a.b.c"}"#,
        ] {
            assert!(
                serde_json::from_str::<ControlFrame>(text).is_err(),
                "{text}"
            );
        }
    }
}
