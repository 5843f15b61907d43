//! The reader half of a session: client frames → `SendMessage`, one at a
//! time and in order. A bad frame gets an `error` frame and stores nothing;
//! a send that carried a `client_msg_id` is answered with an `ack` frame
//! once the core has stored it (or found the earlier send with that key).
//! Frames are parsed in `frames.rs`; an `auth` frame goes to `auth.rs`,
//! which may replace the socket's token, and the reader closes the socket
//! when the current token expires. Every text frame, `auth` included (each
//! costs the core a token check), counts against the socket's message rate,
//! but for `typing` frames: they go up the hub's link (the core throttles
//! them) under a rate of their own, over which they are dropped without a
//! word, and a flood of them closes the socket with 1008.
//!
//! The loop itself ([`read_client`]: the token's expiry, liveness, binary
//! frames, 1009) is shared with the user socket, which handles its text
//! frames its own way ([`TextFrames`], `ws/user/reader.rs`).

use tungstenite::Message;

use super::upgrade::WebSocket;
use futures::StreamExt;
use futures::stream::SplitStream;

use super::auth::{self, Credentials, Expiry};
use super::close::{CloseReason, End};
use super::frames::{Incoming, Refusal, parse_frame};
use super::limits::{Liveness, RateLimit, Verdict};
use super::protocol::{ErrorCode, ServerFrame};
use super::writer::Outbound;
use crate::core_client::{CoreClient, NewMessage, SentMessage};
use crate::error::Error;
use crate::fanout::SocketTicket;

/// Sends a member's messages to their room.
pub(super) struct Sender<'a> {
    /// The core.
    pub core: &'a CoreClient,
    /// The member's token and its expiry; `auth` frames replace them.
    pub credentials: &'a mut Credentials,
    /// The room of the socket.
    pub room_id: i64,
    /// The socket's place in the hub, told of every replaced token.
    pub ticket: &'a SocketTicket,
}

/// `typing` frames a socket may send per second, sustained; more are dropped.
pub(super) const TYPING_PER_SEC: u32 = 20;
/// `typing` frames a socket may send at once; as many refused in a row
/// more is a flood (1008).
pub(super) const TYPING_BURST: u32 = 50;

/// What the reader enforces on one socket.
pub(super) struct ClientLimits {
    /// The message rate.
    pub rate: RateLimit,
    /// The rate of `typing` frames, apart from the message rate.
    pub typing: RateLimit,
    /// Told of every frame the peer sends, so the writer's pings know it lives.
    pub liveness: Liveness,
}

/// What a socket does with its client's text frames.
pub(super) trait TextFrames {
    /// When the socket's current token expires.
    fn expiry(&self) -> Expiry;

    /// One text frame, under the socket's limits; `Err` ends the session.
    fn on_text<'a>(
        &'a mut self,
        text: &'a str,
        out: &'a Outbound,
        limits: &'a mut ClientLimits,
    ) -> impl Future<Output = Result<(), End>> + Send + 'a;
}

impl TextFrames for Sender<'_> {
    fn expiry(&self) -> Expiry {
        self.credentials.expiry
    }

    fn on_text<'a>(
        &'a mut self,
        text: &'a str,
        out: &'a Outbound,
        limits: &'a mut ClientLimits,
    ) -> impl Future<Output = Result<(), End>> + Send + 'a {
        on_text(text, out, self, limits)
    }
}

/// Client frames → `frames`, one at a time and in order; binary frames get
/// `invalid_json` (under the message rate). Ends with 4401 when the
/// socket's token expires.
pub(super) async fn read_client(
    stream: &mut SplitStream<WebSocket>,
    out: &Outbound,
    frames: &mut impl TextFrames,
    limits: &mut ClientLimits,
) -> End {
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = frames.expiry().passed() => {
                return End::Close(CloseReason::TOKEN_EXPIRED);
            }
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => return read_failure(error),
            None => return End::ClientGone,
        };
        limits.liveness.heard();
        let outcome = match message {
            // Boxed: a send (a gRPC call) is a future of kilobytes, which
            // an idle socket's task should not carry.
            Message::Text(text) => Box::pin(frames.on_text(text.as_str(), out, limits)).await,
            Message::Binary(_) => match throttle(&mut limits.rate, out).await {
                Ok(true) => {
                    out.push_error(ErrorCode::InvalidJson, "Frames must be JSON text.")
                        .await
                }
                Ok(false) => Ok(()),
                Err(end) => Err(end),
            },
            // Raw frames are only ever written, never read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
            Message::Close(_) => Err(End::ClientClosed),
        };
        if let Err(end) = outcome {
            return end;
        }
    }
}

/// One text frame: a `typing` under its own rate, anything else under the
/// message rate.
async fn on_text(
    text: &str,
    out: &Outbound,
    sender: &mut Sender<'_>,
    limits: &mut ClientLimits,
) -> Result<(), End> {
    let parsed = parse_frame(text);
    if let Ok(Incoming::Typing) = parsed {
        return typing(&mut limits.typing, sender);
    }
    if throttle(&mut limits.rate, out).await? {
        handle_text(parsed, out, sender).await?;
    }
    Ok(())
}

/// Hands a `typing` to the hub, unless it is over the typing rate (dropped)
/// or part of a flood (1008).
fn typing(rate: &mut RateLimit, sender: &Sender<'_>) -> Result<(), End> {
    match rate.check(tokio::time::Instant::now()) {
        Verdict::Allowed => {
            sender.ticket.typing(sender.room_id);
            Ok(())
        }
        Verdict::Limited => Ok(()),
        Verdict::Abusive => {
            tracing::warn!("client flooding typing frames, closing");
            Err(End::Close(CloseReason::ABUSIVE))
        }
    }
}

/// Whether a data frame is within the rate: `Ok(false)` once its
/// `rate_limited` error frame is queued, `Err` (1008) for sustained abuse.
pub(super) async fn throttle(rate: &mut RateLimit, out: &Outbound) -> Result<bool, End> {
    match rate.check(tokio::time::Instant::now()) {
        Verdict::Allowed => Ok(true),
        Verdict::Limited => {
            out.push_error(ErrorCode::RateLimited, "Too many messages; slow down.")
                .await?;
            Ok(false)
        }
        Verdict::Abusive => {
            tracing::warn!("client over its message rate, closing");
            Err(End::Close(CloseReason::ABUSIVE))
        }
    }
}

/// 1009 for a message over the size limit; any other read error means the client is gone.
fn read_failure(error: tungstenite::Error) -> End {
    match error {
        tungstenite::Error::Capacity(_) => End::Close(CloseReason::MESSAGE_TOO_BIG),
        _ => End::ClientGone,
    }
}

/// One parsed text frame: sent to the core, and answered (`ack` or
/// `error`) when due.
async fn handle_text(
    parsed: Result<Incoming, Refusal>,
    out: &Outbound,
    sender: &mut Sender<'_>,
) -> Result<(), End> {
    let frame = match parsed {
        Ok(Incoming::Message(frame)) => frame,
        // Taken apart before the message rate.
        Ok(Incoming::Typing) => return Ok(()),
        Ok(Incoming::Auth(token)) => {
            let refreshed = auth::refresh(sender.core, sender.credentials, token, out).await;
            // The socket's current token, replaced or not, for later re-links.
            sender.ticket.refresh(sender.credentials.token.clone());
            return refreshed;
        }
        Err((code, detail)) => return out.push_error(code, detail).await,
    };
    let client_msg_id = frame.client_msg_id.clone();
    let new = NewMessage {
        room_id: sender.room_id,
        text: frame.message,
        client_msg_id: frame.client_msg_id,
    };
    match sender
        .core
        .send_message(&sender.credentials.token, new)
        .await
    {
        Ok(sent) => acknowledge(out, client_msg_id, sent).await,
        Err(error) => send_failure(out, &error).await,
    }
}

/// Queues the `ack` of a send that carried a `client_msg_id`. The message's
/// own frames come from the room's fan-out, like everyone's.
async fn acknowledge(
    out: &Outbound,
    client_msg_id: Option<String>,
    sent: Option<SentMessage>,
) -> Result<(), End> {
    let Some(client_msg_id) = client_msg_id else {
        return Ok(());
    };
    let Some(sent) = sent else {
        tracing::error!("the core answered a send without its message; no ack");
        return Ok(());
    };
    let frame = ServerFrame::Ack {
        client_msg_id,
        message_id: sent.message_id,
        seq: sent.seq,
        duplicate: sent.duplicate,
    };
    out.push(&frame).await
}

/// The answer to a failed send (`Failure::on_send`): an error frame, or a
/// close when the member may no longer send.
async fn send_failure(out: &Outbound, error: &Error) -> Result<(), End> {
    out.answer(error.failure().on_send(), "send").await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use tokio::sync::mpsc;
    use tonic::Code;

    use super::*;
    use crate::ws::writer::{Frame, queue};

    fn sent(duplicate: bool) -> Option<SentMessage> {
        Some(SentMessage {
            message_id: 12,
            seq: 7,
            duplicate,
        })
    }

    fn test_queue() -> (Outbound, mpsc::Receiver<Frame>) {
        queue(1, Duration::from_secs(10))
    }

    #[tokio::test]
    async fn a_send_with_a_client_msg_id_is_acknowledged() {
        let (out, mut rx) = test_queue();
        acknowledge(&out, Some("c-1".into()), sent(true))
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
        acknowledge(&out, None, sent(false))
            .await
            .expect("nothing to queue");
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_send_answered_without_its_message_gets_no_ack() {
        let (out, mut rx) = test_queue();
        acknowledge(&out, Some("c-1".into()), None)
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
