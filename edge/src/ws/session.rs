//! One session per socket: it joins the room through the core's `Subscribe`
//! stream, sends the history frame, then runs three loops under one
//! `select!` — the reader (client frames → `SendMessage`), the event pump
//! (room events → frames) and the writer, which alone owns the sink and
//! drains a bounded queue. Whichever ends first ends the others; the session
//! then drops the room stream (ending presence) and sends its close frame.
//!
//! # Close codes
//!
//! | code | reason |
//! | ---- | ------ |
//! | 1000 | the client closed the socket (the echo of its close frame) |
//! | 1009 | a client message over 64 KiB, one frame or several fragments together |
//! | 1011 | the core is unreachable or failed: at connect (nothing else is sent) or when the room's event stream breaks mid-session; reconnect later |
//! | 1012 | the edge is shutting down; reconnect |
//! | 1013 | the client did not keep up: its outbound queue (`CHAT_WS_QUEUE` frames) filled, or the core is overloaded; reconnect, and the history frame catches up |
//! | 4401 | no token, or the core refused it (at connect, or on a later send once it expired) |
//! | 4403 | the user is not a member of the room |
//! | 4404 | the room does not exist (or the path holds no room id) |
//!
//! A refused socket receives only its close frame: no history, no events.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chat_proto::v1 as pb;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use pb::subscribe_response::Item;
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Streaming};

use crate::core_client::{BearerToken, CoreClient, convert};
use crate::error::Error;
use crate::ws::protocol::{ClientFrame, ErrorCode, HistoryItem, ServerFrame};

/// Most characters (Unicode code points) a message may have after trimming.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// How long closing may take: flushing queued frames, the close frame, the client's reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a session needs, gathered before the upgrade.
#[derive(Debug)]
pub struct SessionParams {
    /// The core.
    pub core: CoreClient,
    /// The caller's token, from the header or `?token=`; `None` closes with 4401.
    pub token: Option<BearerToken>,
    /// The room id of the path; `None` when it is no positive integer.
    pub room_id: Option<i64>,
    /// Capacity of the outbound frame queue.
    pub queue: usize,
    /// Cancelled when the edge shuts down.
    pub shutdown: CancellationToken,
}

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
    /// 1013: the client could not keep up, or the core is overloaded.
    pub const TOO_SLOW: Self = Self::new(1013, "too far behind, reconnect");

    const fn new(code: u16, reason: &'static str) -> Self {
        Self { code, reason }
    }
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client sent a close frame; tungstenite has queued the echo.
    ClientClosed,
    /// The connection is gone (reset, end of stream, a failed write).
    ClientGone,
    /// The session closes the socket with this frame.
    Close(CloseReason),
}

/// The close frame for a core failure, at connect or mid-session.
pub fn close_for(code: Code) -> CloseReason {
    match code {
        Code::Unauthenticated => CloseReason::UNAUTHENTICATED,
        Code::PermissionDenied => CloseReason::FORBIDDEN,
        Code::NotFound | Code::InvalidArgument => CloseReason::ROOM_NOT_FOUND,
        Code::ResourceExhausted => CloseReason::TOO_SLOW,
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss => CloseReason::CORE_UNAVAILABLE,
    }
}

/// A member who has joined the room.
struct Joined {
    token: BearerToken,
    room_id: i64,
    subscription: Streaming<pb::SubscribeResponse>,
    history: Vec<HistoryItem>,
}

/// Runs one socket from upgrade to close.
pub async fn run(socket: WebSocket, params: SessionParams) {
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel(params.queue.max(1));
    let mut writer = Writer { sink, rx };
    let opened = tokio::select! {
        opened = join(&params) => opened,
        () = params.shutdown.cancelled() => Err(CloseReason::RESTARTING),
    };
    let end = match opened {
        Ok(joined) => {
            tracing::info!("joined");
            serve(&params, joined, &mut writer, &mut stream, tx).await
        }
        Err(reason) => {
            tracing::info!(close_code = reason.code, "refused");
            End::Close(reason)
        }
    };
    tracing::info!(?end, "session over");
    writer.finish(end).await;
    if let End::Close(_) = end {
        await_close_echo(&mut stream).await;
    }
}

/// Checks the token and the room by opening the room's stream, and takes its snapshot.
async fn join(params: &SessionParams) -> Result<Joined, CloseReason> {
    let token = params.token.clone().ok_or(CloseReason::UNAUTHENTICATED)?;
    let Some(room_id) = params.room_id else {
        let error = params.core.after_auth(&token, Error::NotFound).await;
        return Err(close_for(error.code()));
    };
    let mut subscription = params
        .core
        .subscribe(&token, room_id)
        .await
        .map_err(|error| close_for(error.code()))?;
    let first = tokio::time::timeout(params.core.deadline(), subscription.message()).await;
    match first {
        Ok(Ok(Some(pb::SubscribeResponse {
            item: Some(Item::Snapshot(snapshot)),
        }))) => Ok(Joined {
            token,
            room_id,
            subscription,
            history: snapshot
                .messages
                .into_iter()
                .map(HistoryItem::from)
                .collect(),
        }),
        Ok(Err(status)) => Err(close_for(status.code())),
        Ok(Ok(_)) | Err(_) => Err(CloseReason::CORE_UNAVAILABLE),
    }
}

/// Sends the history frame, then runs reader, pump and writer until one ends.
async fn serve(
    params: &SessionParams,
    joined: Joined,
    writer: &mut Writer,
    stream: &mut SplitStream<WebSocket>,
    tx: mpsc::Sender<String>,
) -> End {
    let Joined {
        token,
        room_id,
        mut subscription,
        history,
    } = joined;
    if let Err(end) = enqueue(&tx, &history) {
        return end;
    }
    let sender = Sender {
        core: &params.core,
        token: &token,
        room_id,
    };
    tokio::select! {
        end = writer.run() => end,
        end = read_client(stream, &tx, &sender) => end,
        end = pump_events(&mut subscription, &tx) => end,
        () = params.shutdown.cancelled() => End::Close(CloseReason::RESTARTING),
    }
}

/// Queues one frame; a full queue means the client cannot keep up.
fn enqueue(tx: &mpsc::Sender<String>, frame: &impl Serialize) -> Result<(), End> {
    let text = serde_json::to_string(frame).map_err(|error| {
        tracing::error!(%error, "a frame did not serialize");
        End::Close(CloseReason::CORE_UNAVAILABLE)
    })?;
    match tx.try_send(text) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => {
            tracing::warn!(capacity = tx.max_capacity(), "client too slow, closing");
            Err(End::Close(CloseReason::TOO_SLOW))
        }
        Err(TrySendError::Closed(_)) => Err(End::ClientGone),
    }
}

/// Room events from the core → frames, in the core's order.
async fn pump_events(
    subscription: &mut Streaming<pb::SubscribeResponse>,
    tx: &mpsc::Sender<String>,
) -> End {
    loop {
        let item = match subscription.message().await {
            Ok(Some(response)) => response.item,
            Ok(None) => {
                tracing::warn!("room stream ended");
                return End::Close(CloseReason::CORE_UNAVAILABLE);
            }
            Err(status) => {
                tracing::warn!(code = ?status.code(), "room stream broke");
                return End::Close(close_for(status.code()));
            }
        };
        let Some(Item::Event(event)) = item else {
            tracing::warn!("unexpected item on the room stream");
            return End::Close(CloseReason::CORE_UNAVAILABLE);
        };
        let seq = event.seq;
        match convert::event_frame(event) {
            Some(frame) => {
                if let Err(end) = enqueue(tx, &frame) {
                    return end;
                }
            }
            None => tracing::warn!(seq, "skipped a room event of unknown kind"),
        }
    }
}

/// Sends a member's messages to their room.
struct Sender<'a> {
    core: &'a CoreClient,
    token: &'a BearerToken,
    room_id: i64,
}

/// Client frames → `SendMessage`, one at a time and in order; bad frames get error frames.
async fn read_client(
    stream: &mut SplitStream<WebSocket>,
    tx: &mpsc::Sender<String>,
    sender: &Sender<'_>,
) -> End {
    while let Some(next) = stream.next().await {
        let message = match next {
            Ok(message) => message,
            Err(error) => return read_failure(error),
        };
        let outcome = match message {
            Message::Text(text) => handle_text(text.as_str(), tx, sender).await,
            Message::Binary(_) => {
                reply_error(tx, ErrorCode::InvalidJson, "Frames must be JSON text.")
            }
            Message::Ping(_) | Message::Pong(_) => Ok(()),
            Message::Close(_) => Err(End::ClientClosed),
        };
        if let Err(end) = outcome {
            return end;
        }
    }
    End::ClientGone
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

async fn handle_text(
    text: &str,
    tx: &mpsc::Sender<String>,
    sender: &Sender<'_>,
) -> Result<(), End> {
    let message = match parse_client_frame(text) {
        Ok(message) => message,
        Err((code, detail)) => return reply_error(tx, code, detail),
    };
    match sender
        .core
        .send_message(sender.token, sender.room_id, message)
        .await
    {
        // The frames of the new message come from the room stream, like everyone's.
        Ok(_) => Ok(()),
        Err(error) => send_failure(tx, &error),
    }
}

/// The text of a `{"message": "…"}` frame, trimmed, or the error frame's code and detail.
fn parse_client_frame(text: &str) -> Result<String, (ErrorCode, &'static str)> {
    let not_an_object = (ErrorCode::InvalidJson, "Frames must be JSON objects.");
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| not_an_object)?;
    if !value.is_object() {
        return Err(not_an_object);
    }
    let frame: ClientFrame = serde_json::from_value(value)
        .map_err(|_| (ErrorCode::InvalidMessage, "\"message\" must be a string."))?;
    let trimmed = frame.message.trim();
    if trimmed.is_empty() {
        return Err((ErrorCode::InvalidMessage, "\"message\" is empty."));
    }
    if trimmed.chars().count() > MAX_MESSAGE_CHARS {
        return Err((
            ErrorCode::MessageTooLong,
            "\"message\" is over 4096 characters.",
        ));
    }
    Ok(trimmed.to_owned())
}

/// The answer to a failed send: an error frame, or a close when the member may no longer send.
fn send_failure(tx: &mpsc::Sender<String>, error: &Error) -> Result<(), End> {
    let code = error.code();
    match code {
        Code::InvalidArgument => {
            reply_error(tx, ErrorCode::InvalidMessage, "The message was refused.")
        }
        Code::ResourceExhausted => {
            reply_error(tx, ErrorCode::RateLimited, "Too many messages; slow down.")
        }
        Code::Unauthenticated | Code::PermissionDenied | Code::NotFound => {
            Err(End::Close(close_for(code)))
        }
        Code::Unavailable | Code::DeadlineExceeded => {
            tracing::warn!(?code, "send failed");
            reply_error(
                tx,
                ErrorCode::Unavailable,
                "The chat service is unavailable; the message was not sent.",
            )
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
            reply_error(tx, ErrorCode::Internal, "The message could not be sent.")
        }
    }
}

fn reply_error(tx: &mpsc::Sender<String>, code: ErrorCode, detail: &str) -> Result<(), End> {
    enqueue(
        tx,
        &ServerFrame::Error {
            code,
            detail: detail.to_owned(),
        },
    )
}

/// The one owner of the sink.
struct Writer {
    sink: SplitSink<WebSocket, Message>,
    rx: mpsc::Receiver<String>,
}

impl Writer {
    /// Sends queued frames in order until a write fails.
    async fn run(&mut self) -> End {
        while let Some(frame) = self.rx.recv().await {
            if let Err(error) = self.sink.send(Message::text(frame)).await {
                tracing::debug!(%error, "write failed");
                return End::ClientGone;
            }
        }
        End::ClientGone
    }

    /// Ends the connection as `end` asks, within [`CLOSE_GRACE`]: frames already
    /// queued go out first, except to a client that could not keep up.
    async fn finish(mut self, end: End) {
        let work = async {
            match end {
                End::ClientGone => Ok(()),
                End::ClientClosed => self.sink.flush().await,
                End::Close(reason) => {
                    if reason != CloseReason::TOO_SLOW {
                        while let Ok(frame) = self.rx.try_recv() {
                            self.sink.feed(Message::text(frame)).await?;
                        }
                    }
                    let frame = CloseFrame {
                        code: reason.code,
                        reason: Utf8Bytes::from_static(reason.reason),
                    };
                    self.sink.send(Message::Close(Some(frame))).await
                }
            }
        };
        match tokio::time::timeout(CLOSE_GRACE, work).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "closing failed"),
            Err(_) => tracing::debug!("closing timed out"),
        }
    }
}

/// Waits (a bounded time) for the client to answer our close frame.
async fn await_close_echo(stream: &mut SplitStream<WebSocket>) {
    let echo = async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, echo).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_frame_yields_its_trimmed_text() {
        assert_eq!(
            parse_client_frame(r#"{"message": "  hi  "}"#),
            Ok("hi".to_owned())
        );
    }

    #[test]
    fn extra_fields_are_ignored() {
        assert_eq!(
            parse_client_frame(r#"{"message": "hi", "x": 1}"#),
            Ok("hi".to_owned())
        );
    }

    #[test]
    fn non_json_and_non_objects_are_invalid_json() {
        for text in ["hello", "[1, 2]", "\"message\"", "42", "null", "{"] {
            assert_eq!(
                parse_client_frame(text).unwrap_err().0,
                ErrorCode::InvalidJson,
                "{text}"
            );
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
            assert_eq!(
                parse_client_frame(text).unwrap_err().0,
                ErrorCode::InvalidMessage,
                "{text}"
            );
        }
    }

    #[test]
    fn four_thousand_ninety_six_characters_are_the_limit() {
        let at_limit = format!(r#"{{"message": "{}"}}"#, "é".repeat(MAX_MESSAGE_CHARS));
        assert!(parse_client_frame(&at_limit).is_ok());
        let over = format!(r#"{{"message": "{}"}}"#, "é".repeat(MAX_MESSAGE_CHARS + 1));
        assert_eq!(
            parse_client_frame(&over).unwrap_err().0,
            ErrorCode::MessageTooLong
        );
    }

    /// The error frame `send_failure` queues for a core status, if any.
    fn failure_frame(code: Code) -> Result<serde_json::Value, End> {
        let (tx, mut rx) = mpsc::channel(1);
        send_failure(&tx, &Error::Core(tonic::Status::new(code, "core says no")))?;
        let frame = rx.try_recv().expect("an error frame was queued");
        Ok(serde_json::from_str(&frame).expect("JSON"))
    }

    #[test]
    fn a_throttled_send_gets_rate_limited() {
        let frame = failure_frame(Code::ResourceExhausted).expect("a frame");
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], "rate_limited");
    }

    #[test]
    fn an_unreachable_core_gets_unavailable_without_internals() {
        let frame = failure_frame(Code::Unavailable).expect("a frame");
        assert_eq!(frame["code"], "unavailable");
        assert!(!frame["detail"].as_str().unwrap().contains("core says no"));
        assert_eq!(
            failure_frame(Code::Internal).expect("a frame")["code"],
            "internal"
        );
    }

    #[test]
    fn a_revoked_member_is_closed_not_answered() {
        assert_eq!(
            failure_frame(Code::Unauthenticated).unwrap_err(),
            End::Close(CloseReason::UNAUTHENTICATED)
        );
        assert_eq!(
            failure_frame(Code::PermissionDenied).unwrap_err(),
            End::Close(CloseReason::FORBIDDEN)
        );
    }

    #[test]
    fn a_full_queue_closes_with_1013() {
        let (tx, _rx) = mpsc::channel(1);
        assert_eq!(enqueue(&tx, &"first"), Ok(()));
        assert_eq!(
            enqueue(&tx, &"second"),
            Err(End::Close(CloseReason::TOO_SLOW))
        );
    }

    #[test]
    fn refusals_map_to_the_documented_close_codes() {
        assert_eq!(close_for(Code::Unauthenticated).code, 4401);
        assert_eq!(close_for(Code::PermissionDenied).code, 4403);
        assert_eq!(close_for(Code::NotFound).code, 4404);
        assert_eq!(close_for(Code::Unavailable).code, 1011);
        assert_eq!(close_for(Code::ResourceExhausted).code, 1013);
    }
}
