//! Client text frames of the user socket, parsed and checked: `send`,
//! `typing` and `read` frames naming their room ([`UserCommand`]), an
//! `auth` frame as on room sockets, or the `error` frame's code and detail
//! for anything else. A `send`'s text and `client_msg_id` are checked
//! exactly as a room socket's message frame (`ws/frames.rs`); a bare
//! `{"message": …}` names no room and means nothing here.

use serde_json::{Map, Value};

use crate::core_client::BearerToken;
use crate::ws::auth::{self, BadToken};
use crate::ws::frames::{Refusal, json_object, message_frame};
use crate::ws::protocol::ErrorCode;
use crate::ws::protocol::user::UserCommand;

/// A client text frame of the user socket, parsed.
pub(super) enum UserIncoming {
    /// A `send`, `typing` or `read` frame, checked.
    Command(UserCommand),
    /// `{"type": "auth", …}`: its token, or why it has none.
    Auth(Result<BearerToken, BadToken>),
}

/// A frame of the user socket, or why it is refused.
pub(super) fn parse_user_frame(text: &str) -> Result<UserIncoming, Refusal> {
    let value = json_object(text)?;
    let Some(object) = value.as_object() else {
        return Err((ErrorCode::InvalidJson, "Frames must be JSON objects."));
    };
    if auth::is_auth_frame(object) {
        return Ok(UserIncoming::Auth(auth::auth_token(value)));
    }
    let kind = object.get("type").and_then(Value::as_str);
    let command = match kind {
        Some("send") => {
            let room_id = room_id(object)?;
            let frame = message_frame(value)?;
            UserCommand::Send {
                room_id,
                message: frame.message,
                client_msg_id: frame.client_msg_id,
            }
        }
        Some("typing") => UserCommand::Typing {
            room_id: room_id(object)?,
        },
        Some("read") => UserCommand::Read {
            room_id: room_id(object)?,
            message_id: message_id(object)?,
        },
        _ => {
            return Err((
                ErrorCode::InvalidMessage,
                "\"type\" must be \"send\", \"typing\", \"read\" or \"auth\".",
            ));
        }
    };
    Ok(UserIncoming::Command(command))
}

/// The frame's `room_id`: a positive integer.
fn room_id(object: &Map<String, Value>) -> Result<i64, Refusal> {
    object
        .get("room_id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or((
            ErrorCode::InvalidMessage,
            "\"room_id\" must be a positive integer.",
        ))
}

/// A `read` frame's optional `message_id`: absent, `null`, or a positive integer.
fn message_id(object: &Map<String, Value>) -> Result<Option<i64>, Refusal> {
    match object.get("message_id") {
        None | Some(Value::Null) => Ok(None),
        Some(id) => id.as_i64().filter(|id| *id > 0).map(Some).ok_or((
            ErrorCode::InvalidMessage,
            "\"message_id\" must be a positive integer.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &str) -> UserCommand {
        match parse_user_frame(text) {
            Ok(UserIncoming::Command(command)) => command,
            Ok(UserIncoming::Auth(_)) => panic!("an auth frame: {text}"),
            Err(refusal) => panic!("refused {text}: {refusal:?}"),
        }
    }

    fn refusal(text: &str) -> ErrorCode {
        match parse_user_frame(text) {
            Err((code, _)) => code,
            Ok(_) => panic!("accepted {text}"),
        }
    }

    #[test]
    fn a_send_frame_is_checked_as_a_room_sockets_message_frame() {
        assert_eq!(
            command(r#"{"type": "send", "room_id": 1, "message": "  hi ", "client_msg_id": "c"}"#),
            UserCommand::Send {
                room_id: 1,
                message: "hi".into(),
                client_msg_id: Some("c".into()),
            }
        );
        let long = format!(
            r#"{{"type": "send", "room_id": 1, "message": "{}"}}"#,
            "a".repeat(4097)
        );
        assert_eq!(refusal(&long), ErrorCode::MessageTooLong);
        for text in [
            r#"{"type": "send", "room_id": 1, "message": "   "}"#,
            r#"{"type": "send", "room_id": 1}"#,
            r#"{"type": "send", "room_id": 1, "message": "hi", "client_msg_id": ""}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
        }
    }

    #[test]
    fn typing_and_read_frames_name_their_room() {
        assert_eq!(
            command(r#"{"type": "typing", "room_id": 2}"#),
            UserCommand::Typing { room_id: 2 }
        );
        assert_eq!(
            command(r#"{"type": "read", "room_id": 2}"#),
            UserCommand::Read {
                room_id: 2,
                message_id: None
            }
        );
        assert_eq!(
            command(r#"{"type": "read", "room_id": 2, "message_id": 9}"#),
            UserCommand::Read {
                room_id: 2,
                message_id: Some(9)
            }
        );
        let bad_id = r#"{"type": "read", "room_id": 2, "message_id": "9"}"#;
        assert_eq!(refusal(bad_id), ErrorCode::InvalidMessage);
    }

    #[test]
    fn a_frame_without_a_valid_room_id_is_an_invalid_message() {
        for text in [
            r#"{"type": "send", "message": "hi"}"#,
            r#"{"type": "send", "room_id": "1", "message": "hi"}"#,
            r#"{"type": "typing", "room_id": 0}"#,
            r#"{"type": "read", "room_id": -3}"#,
            r#"{"type": "read", "room_id": 1.5}"#,
            r#"{"type": "typing", "room_id": null}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
        }
    }

    #[test]
    fn a_bare_message_or_an_unknown_type_means_nothing_here() {
        for text in [
            r#"{"message": "hi"}"#,
            r#"{"type": "chat", "room_id": 1, "message": "hi"}"#,
            r#"{}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
        }
    }

    #[test]
    fn anything_but_a_json_object_is_invalid_json() {
        for text in ["hello", "[1]", "42", "{"] {
            assert_eq!(refusal(text), ErrorCode::InvalidJson, "{text}");
        }
    }

    #[test]
    fn an_auth_frame_is_taken_as_on_room_sockets() {
        let frame = parse_user_frame(r#"{"type": "auth", "token": "a.b.c"}"#);
        assert!(matches!(frame, Ok(UserIncoming::Auth(Ok(_)))));
    }
}
