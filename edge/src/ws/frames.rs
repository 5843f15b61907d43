//! Client text frames of a room socket, parsed and checked: a message
//! frame (`{"message": …}`, its text trimmed, 1 to 4096 characters, and an
//! optional `client_msg_id` of 1 to 64), an `auth` frame (`auth.rs`), a
//! `{"type": "typing"}` frame, or the `error` frame's code and detail for
//! anything else.

use serde_json::Value;

use super::auth::{self, BadToken};
use super::protocol::{ClientFrame, ErrorCode};
use crate::core_client::BearerToken;

/// Most characters (Unicode code points) a `client_msg_id` may have.
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;

/// Why a client frame is refused: the `error` frame's code and detail.
pub type Refusal = (ErrorCode, &'static str);

/// A client text frame, parsed.
pub(super) enum Incoming {
    /// `{"message": …}`, checked.
    Message(ClientFrame),
    /// `{"type": "auth", …}`: its token, or why it has none.
    Auth(Result<BearerToken, BadToken>),
    /// `{"type": "typing"}` (other fields are ignored).
    Typing,
}

/// A JSON object, or `invalid_json`.
pub(super) fn json_object(text: &str) -> Result<Value, Refusal> {
    let not_an_object = (ErrorCode::InvalidJson, "Frames must be JSON objects.");
    let value: Value = serde_json::from_str(text).map_err(|_| not_an_object)?;
    if !value.is_object() {
        return Err(not_an_object);
    }
    Ok(value)
}

/// An `auth` frame or a message frame, or why the frame is refused.
pub(super) fn parse_frame(text: &str) -> Result<Incoming, Refusal> {
    let value = json_object(text)?;
    if value.as_object().is_some_and(auth::is_auth_frame) {
        return Ok(Incoming::Auth(auth::auth_token(value)));
    }
    if value.get("type").and_then(Value::as_str) == Some("typing") {
        return Ok(Incoming::Typing);
    }
    message_frame(value).map(Incoming::Message)
}

/// A `{"message": "…", "client_msg_id": "…"}` frame with its text trimmed
/// and both fields checked, or why it is refused.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, Refusal> {
    message_frame(json_object(text)?)
}

/// [`parse_client_frame`] of a JSON object.
pub(super) fn message_frame(value: Value) -> Result<ClientFrame, Refusal> {
    let Some(object) = value.as_object() else {
        return Err((ErrorCode::InvalidJson, "Frames must be JSON objects."));
    };
    let not_a_string = (ErrorCode::InvalidMessage, "\"message\" must be a string.");
    if !object.get("message").is_some_and(Value::is_string) {
        return Err(not_a_string);
    }
    if object
        .get("client_msg_id")
        .is_some_and(|id| !id.is_string())
    {
        return Err((
            ErrorCode::InvalidMessage,
            "\"client_msg_id\" must be a string.",
        ));
    }
    let frame: ClientFrame = serde_json::from_value(value).map_err(|_| not_a_string)?;
    Ok(ClientFrame {
        message: message_text(&frame.message)?,
        client_msg_id: frame.client_msg_id.map(client_msg_id).transpose()?,
    })
}

/// The text to store: trimmed, 1 to 4096 characters, no U+0000.
fn message_text(raw: &str) -> Result<String, Refusal> {
    use service_kit::limits::TextError;
    service_kit::limits::message_text(raw)
        .map(str::to_owned)
        .map_err(|error| match error {
            TextError::Empty => (ErrorCode::InvalidMessage, "\"message\" is empty."),
            TextError::Nul => (
                ErrorCode::InvalidMessage,
                "\"message\" must not contain U+0000.",
            ),
            TextError::TooLong => (
                ErrorCode::MessageTooLong,
                "\"message\" is over 4096 characters.",
            ),
        })
}

/// An idempotency key: 1 to 64 characters, no U+0000, taken as is (not trimmed).
fn client_msg_id(raw: String) -> Result<String, Refusal> {
    if raw.contains('\0') {
        return Err((
            ErrorCode::InvalidMessage,
            "\"client_msg_id\" must not contain U+0000.",
        ));
    }
    if raw.is_empty() {
        return Err((ErrorCode::InvalidMessage, "\"client_msg_id\" is empty."));
    }
    if raw.chars().count() > MAX_CLIENT_MSG_ID_CHARS {
        return Err((
            ErrorCode::InvalidMessage,
            "\"client_msg_id\" is over 64 characters.",
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::limits::MAX_TEXT_CHARS as MAX_MESSAGE_CHARS;

    fn text_of(frame: &str) -> Result<String, Refusal> {
        parse_client_frame(frame).map(|frame| frame.message)
    }

    fn refusal(frame: &str) -> ErrorCode {
        parse_client_frame(frame).expect_err(frame).0
    }

    #[test]
    fn a_message_frame_yields_its_trimmed_text() {
        assert_eq!(text_of(r#"{"message": "  hi  "}"#), Ok("hi".to_owned()));
    }

    #[test]
    fn extra_fields_are_ignored() {
        assert_eq!(text_of(r#"{"message": "hi", "x": 1}"#), Ok("hi".to_owned()));
    }

    #[test]
    fn non_json_and_non_objects_are_invalid_json() {
        for text in ["hello", "[1, 2]", "\"message\"", "42", "null", "{"] {
            assert_eq!(refusal(text), ErrorCode::InvalidJson, "{text}");
        }
    }

    #[test]
    fn missing_non_string_or_blank_messages_are_invalid_messages() {
        for text in [
            r#"{}"#,
            r#"{"message": 5}"#,
            r#"{"message": null}"#,
            r#"{"message": "  \n "}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
        }
    }

    #[test]
    fn four_thousand_ninety_six_characters_are_the_limit() {
        let at_limit = format!(r#"{{"message": "{}"}}"#, "é".repeat(MAX_MESSAGE_CHARS));
        assert!(parse_client_frame(&at_limit).is_ok());
        let over = format!(r#"{{"message": "{}"}}"#, "é".repeat(MAX_MESSAGE_CHARS + 1));
        assert_eq!(refusal(&over), ErrorCode::MessageTooLong);
    }

    #[test]
    fn a_nul_character_in_the_text_or_the_key_is_an_invalid_message() {
        for text in [
            r#"{"message": "a\u0000b"}"#,
            r#"{"message": "hi", "client_msg_id": "k\u0000"}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
        }
    }

    #[test]
    fn a_client_msg_id_is_kept_as_sent() {
        let frame = parse_client_frame(r#"{"message": "hi", "client_msg_id": " c-1 "}"#)
            .expect("a valid frame");
        assert_eq!(frame.client_msg_id.as_deref(), Some(" c-1 "));
        let without = parse_client_frame(r#"{"message": "hi"}"#).expect("a valid frame");
        assert_eq!(without.client_msg_id, None);
    }

    #[test]
    fn a_client_msg_id_that_is_no_string_of_1_to_64_characters_is_an_invalid_message() {
        let over = "é".repeat(MAX_CLIENT_MSG_ID_CHARS + 1);
        for id in [
            "5".to_owned(),
            "null".to_owned(),
            "{}".to_owned(),
            r#""""#.to_owned(),
            format!(r#""{over}""#),
        ] {
            let frame = format!(r#"{{"message": "hi", "client_msg_id": {id}}}"#);
            assert_eq!(refusal(&frame), ErrorCode::InvalidMessage, "{frame}");
        }
    }

    #[test]
    fn sixty_four_characters_are_the_client_msg_id_limit() {
        let id = "é".repeat(MAX_CLIENT_MSG_ID_CHARS);
        let frame = format!(r#"{{"message": "hi", "client_msg_id": "{id}"}}"#);
        let parsed = parse_client_frame(&frame).expect("a valid frame");
        assert_eq!(parsed.client_msg_id, Some(id));
    }

    #[test]
    fn an_object_typed_auth_is_an_auth_frame_whatever_else_it_holds() {
        for text in [
            r#"{"type": "auth", "token": "a.b.c"}"#,
            r#"{"type": "auth", "message": "hi"}"#,
        ] {
            assert!(matches!(parse_frame(text), Ok(Incoming::Auth(_))), "{text}");
        }
        let message = parse_frame(r#"{"type": "note", "message": "hi"}"#);
        assert!(matches!(message, Ok(Incoming::Message(_))));
        assert!(parse_frame("[]").is_err());
    }

    #[test]
    fn a_typing_frame_is_typing_whatever_else_it_holds() {
        for text in [
            r#"{"type": "typing"}"#,
            r#"{"type": "typing", "message": "hi"}"#,
        ] {
            assert!(matches!(parse_frame(text), Ok(Incoming::Typing)), "{text}");
        }
    }
}
