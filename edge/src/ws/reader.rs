//! The reader half of a session: client frames → `SendMessage`, one at a
//! time and in order. A bad frame gets an `error` frame and stores nothing;
//! a send that carried a `client_msg_id` is answered with an `ack` frame
//! once the core has stored it (or found the earlier send with that key).

use axum::extract::ws::{Message, WebSocket};
use chat_proto::v1 as pb;
use futures::StreamExt;
use futures::stream::SplitStream;
use serde_json::Value;
use tonic::Code;

use super::limits::{Liveness, RateLimit, Verdict};
use super::protocol::{ClientFrame, ErrorCode, ServerFrame};
use super::session::{CloseReason, End, close_for};
use super::writer::Outbound;
use crate::core_client::{BearerToken, CoreClient, NewMessage, convert};
use crate::error::Error;

/// Most characters (Unicode code points) a message may have after trimming.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Most characters (Unicode code points) a `client_msg_id` may have.
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;

/// Why a client frame is refused: the `error` frame's code and detail.
pub type Refusal = (ErrorCode, &'static str);

/// Sends a member's messages to their room.
pub(super) struct Sender<'a> {
    /// The core.
    pub core: &'a CoreClient,
    /// The member's token.
    pub token: &'a BearerToken,
    /// The room of the socket.
    pub room_id: i64,
}

/// What the reader enforces on one socket.
pub(super) struct ClientLimits {
    /// The message rate.
    pub rate: RateLimit,
    /// Told of every frame the peer sends, so the writer's pings know it lives.
    pub liveness: Liveness,
}

/// Client frames → `SendMessage`, one at a time and in order; bad frames get
/// error frames, frames over the rate `rate_limited` ones.
pub(super) async fn read_client(
    stream: &mut SplitStream<WebSocket>,
    out: &Outbound,
    sender: &Sender<'_>,
    limits: &mut ClientLimits,
) -> End {
    while let Some(next) = stream.next().await {
        let message = match next {
            Ok(message) => message,
            Err(error) => return read_failure(error),
        };
        limits.liveness.heard();
        let outcome = match message {
            Message::Text(text) => match throttle(&mut limits.rate, out).await {
                // Boxed: a send (a gRPC call) is a future of kilobytes,
                // which an idle socket's task should not carry.
                Ok(true) => Box::pin(handle_text(text.as_str(), out, sender)).await,
                Ok(false) => Ok(()),
                Err(end) => Err(end),
            },
            Message::Binary(_) => match throttle(&mut limits.rate, out).await {
                Ok(true) => {
                    reply_error(out, ErrorCode::InvalidJson, "Frames must be JSON text.").await
                }
                Ok(false) => Ok(()),
                Err(end) => Err(end),
            },
            Message::Ping(_) | Message::Pong(_) => Ok(()),
            Message::Close(_) => Err(End::ClientClosed),
        };
        if let Err(end) = outcome {
            return end;
        }
    }
    End::ClientGone
}

/// Whether a data frame is within the rate: `Ok(false)` once its
/// `rate_limited` error frame is queued, `Err` (1008) for sustained abuse.
async fn throttle(rate: &mut RateLimit, out: &Outbound) -> Result<bool, End> {
    match rate.check(tokio::time::Instant::now()) {
        Verdict::Allowed => Ok(true),
        Verdict::Limited => {
            reply_error(out, ErrorCode::RateLimited, "Too many messages; slow down.").await?;
            Ok(false)
        }
        Verdict::Abusive => {
            tracing::warn!("client over its message rate, closing");
            Err(End::Close(CloseReason::ABUSIVE))
        }
    }
}

/// 1009 for a message over the size limit; any other read error means the client is gone.
fn read_failure(error: axum::Error) -> End {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(error) if matches!(*error, tungstenite::Error::Capacity(_)) => {
            End::Close(CloseReason::MESSAGE_TOO_BIG)
        }
        Ok(_) | Err(_) => End::ClientGone,
    }
}

/// One text frame: checked, sent to the core, and answered (`ack` or `error`) when due.
async fn handle_text(text: &str, out: &Outbound, sender: &Sender<'_>) -> Result<(), End> {
    let frame = match parse_client_frame(text) {
        Ok(frame) => frame,
        Err((code, detail)) => return reply_error(out, code, detail).await,
    };
    let client_msg_id = frame.client_msg_id.clone();
    let new = NewMessage {
        room_id: sender.room_id,
        text: frame.message,
        client_msg_id: frame.client_msg_id,
    };
    match sender.core.send_message(sender.token, new).await {
        Ok(sent) => acknowledge(out, client_msg_id, &sent).await,
        Err(error) => send_failure(out, &error).await,
    }
}

/// Queues the `ack` of a send that carried a `client_msg_id`. The message's
/// own frames come from the room stream, like everyone's.
async fn acknowledge(
    out: &Outbound,
    client_msg_id: Option<String>,
    sent: &pb::SendMessageResponse,
) -> Result<(), End> {
    let Some(client_msg_id) = client_msg_id else {
        return Ok(());
    };
    match convert::ack_frame(client_msg_id, sent) {
        Some(frame) => out.push(&frame).await,
        None => {
            tracing::error!("the core answered a send without its message; no ack");
            Ok(())
        }
    }
}

/// A `{"message": "…", "client_msg_id": "…"}` frame with its text trimmed
/// and both fields checked, or why it is refused.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, Refusal> {
    let not_an_object = (ErrorCode::InvalidJson, "Frames must be JSON objects.");
    let value: Value = serde_json::from_str(text).map_err(|_| not_an_object)?;
    let Some(object) = value.as_object() else {
        return Err(not_an_object);
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
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err((ErrorCode::InvalidMessage, "\"message\" is empty."));
    }
    if trimmed.contains('\0') {
        return Err((
            ErrorCode::InvalidMessage,
            "\"message\" must not contain U+0000.",
        ));
    }
    if trimmed.chars().count() > MAX_MESSAGE_CHARS {
        return Err((
            ErrorCode::MessageTooLong,
            "\"message\" is over 4096 characters.",
        ));
    }
    Ok(trimmed.to_owned())
}

/// An idempotency key: 1 to 64 characters, no U+0000, taken as is (not trimmed).
fn client_msg_id(raw: String) -> Result<String, Refusal> {
    if raw.is_empty() {
        return Err((ErrorCode::InvalidMessage, "\"client_msg_id\" is empty."));
    }
    if raw.contains('\0') {
        return Err((
            ErrorCode::InvalidMessage,
            "\"client_msg_id\" must not contain U+0000.",
        ));
    }
    if raw.chars().count() > MAX_CLIENT_MSG_ID_CHARS {
        return Err((
            ErrorCode::InvalidMessage,
            "\"client_msg_id\" is over 64 characters.",
        ));
    }
    Ok(raw)
}

/// The answer to a failed send: an error frame, or a close when the member may no longer send.
async fn send_failure(out: &Outbound, error: &Error) -> Result<(), End> {
    let code = error.code();
    match code {
        Code::InvalidArgument => {
            reply_error(out, ErrorCode::InvalidMessage, "The message was refused.").await
        }
        Code::ResourceExhausted => {
            reply_error(out, ErrorCode::RateLimited, "Too many messages; slow down.").await
        }
        Code::Unauthenticated | Code::PermissionDenied | Code::NotFound => {
            Err(End::Close(close_for(code)))
        }
        Code::Unavailable | Code::DeadlineExceeded => {
            tracing::warn!(?code, "send failed");
            reply_error(
                out,
                ErrorCode::Unavailable,
                "The chat service is unavailable; the message may not have been sent.",
            )
            .await
        }
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss => {
            tracing::warn!(?code, "send failed");
            reply_error(
                out,
                ErrorCode::Internal,
                "The message may not have been sent.",
            )
            .await
        }
    }
}

async fn reply_error(out: &Outbound, code: ErrorCode, detail: &str) -> Result<(), End> {
    let frame = ServerFrame::Error {
        code,
        detail: detail.to_owned(),
    };
    out.push(&frame).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;
    use crate::ws::writer::{Frame, queue};

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
    fn a_nul_character_in_the_text_or_the_key_is_an_invalid_message() {
        for text in [
            r#"{"message": "a\u0000b"}"#,
            r#"{"message": "hi", "client_msg_id": "k\u0000"}"#,
        ] {
            assert_eq!(refusal(text), ErrorCode::InvalidMessage, "{text}");
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

    fn sent(duplicate: bool) -> pb::SendMessageResponse {
        pb::SendMessageResponse {
            message: Some(pb::Message {
                message_id: 12,
                ..Default::default()
            }),
            duplicate,
            seq: 7,
        }
    }

    fn test_queue() -> (Outbound, mpsc::Receiver<Frame>) {
        queue(1, Duration::from_secs(10))
    }

    #[tokio::test]
    async fn a_send_with_a_client_msg_id_is_acknowledged() {
        let (out, mut rx) = test_queue();
        acknowledge(&out, Some("c-1".into()), &sent(true))
            .await
            .expect("queued");
        let frame: Value = serde_json::from_str(&rx.try_recv().expect("an ack")).expect("JSON");
        assert_eq!(
            frame,
            serde_json::json!({
                "type": "ack", "client_msg_id": "c-1", "message_id": 12, "seq": 7, "duplicate": true
            })
        );
    }

    #[tokio::test]
    async fn a_send_without_a_client_msg_id_gets_no_ack() {
        let (out, mut rx) = test_queue();
        acknowledge(&out, None, &sent(false))
            .await
            .expect("nothing to queue");
        assert!(rx.try_recv().is_err());
    }

    /// The error frame `send_failure` queues for a core status, if any.
    async fn failure_frame(code: Code) -> Result<Value, End> {
        let (out, mut rx) = test_queue();
        let error = Error::Core(tonic::Status::new(code, "core says no"));
        send_failure(&out, &error).await?;
        let frame = rx.try_recv().expect("an error frame was queued");
        Ok(serde_json::from_str(&frame).expect("JSON"))
    }

    #[tokio::test]
    async fn a_throttled_send_gets_rate_limited() {
        let frame = failure_frame(Code::ResourceExhausted)
            .await
            .expect("a frame");
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], "rate_limited");
    }

    #[tokio::test]
    async fn an_unreachable_core_gets_unavailable_without_internals() {
        let frame = failure_frame(Code::Unavailable).await.expect("a frame");
        assert_eq!(frame["code"], "unavailable");
        assert!(!frame["detail"].as_str().unwrap().contains("core says no"));
        assert_eq!(
            failure_frame(Code::Internal).await.expect("a frame")["code"],
            "internal"
        );
    }

    #[tokio::test]
    async fn a_revoked_member_is_closed_not_answered() {
        assert_eq!(
            failure_frame(Code::Unauthenticated).await.unwrap_err(),
            End::Close(CloseReason::UNAUTHENTICATED)
        );
        assert_eq!(
            failure_frame(Code::PermissionDenied).await.unwrap_err(),
            End::Close(CloseReason::FORBIDDEN)
        );
    }
}
