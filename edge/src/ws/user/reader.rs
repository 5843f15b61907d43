//! The reader half of a user session: client frames → the core, one at a
//! time and in order, in the loop room sockets use (`ws/reader.rs`: expiry,
//! liveness, binary frames). A `send` is `SendMessage` into its room (an
//! `ack` naming the room when it carried a `client_msg_id`), a `read` is
//! `MarkRead`, an `auth` replaces the socket's token as on room sockets;
//! each counts against the message rate. A `typing` goes to
//! `RoomService.Typing` under the typing rate of room sockets (over it,
//! dropped without a word; a flood closes with 1008), and a repeat for the
//! room of the last one forwarded, within the core's 2 s, is dropped here.

use tokio::time::{Duration, Instant};

use super::frames::{UserIncoming, parse_user_frame};
use crate::core_client::{CoreClient, NewMessage, SentMessage};
use crate::error::Error;
use crate::ws::auth::{self, Credentials, Expiry};
use crate::ws::close::{CloseReason, End};
use crate::ws::frames::Refusal;
use crate::ws::limits::{RateLimit, Verdict};
use crate::ws::protocol::ServerFrame;
use crate::ws::protocol::user::{InRoom, UserCommand};
use crate::ws::reader::{ClientLimits, TextFrames, throttle};
use crate::ws::writer::Outbound;

/// How long the core drops a user's further `typing` in a room.
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Acts for the user of a user socket in their rooms.
pub(super) struct UserSender<'a> {
    /// The core.
    pub core: &'a CoreClient,
    /// The user's token and its expiry; `auth` frames replace them.
    pub credentials: &'a mut Credentials,
    /// The room of the last `typing` the core took, and when.
    pub last_typing: Option<(i64, Instant)>,
}

impl TextFrames for UserSender<'_> {
    fn expiry(&self) -> Expiry {
        self.credentials.expiry
    }

    async fn on_text(
        &mut self,
        text: &str,
        out: &Outbound,
        limits: &mut ClientLimits,
    ) -> Result<(), End> {
        let parsed = parse_user_frame(text);
        if let Ok(UserIncoming::Command(UserCommand::Typing { room_id })) = parsed {
            return self.typing(room_id, &mut limits.typing, out).await;
        }
        if throttle(&mut limits.rate, out).await? {
            self.handle(parsed, out).await?;
        }
        Ok(())
    }
}

impl UserSender<'_> {
    /// A `typing` within the typing rate goes to the core, unless it repeats
    /// the last one taken too soon; a flood closes the socket (1008).
    async fn typing(
        &mut self,
        room_id: i64,
        rate: &mut RateLimit,
        out: &Outbound,
    ) -> Result<(), End> {
        let now = Instant::now();
        match rate.check(now) {
            Verdict::Allowed => {}
            Verdict::Limited => return Ok(()),
            Verdict::Abusive => {
                tracing::warn!("client flooding typing frames, closing");
                return Err(End::Close(CloseReason::ABUSIVE));
            }
        }
        if let Some((room, at)) = self.last_typing
            && room == room_id
            && now.saturating_duration_since(at) < TYPING_EVERY
        {
            return Ok(());
        }
        let token = &self.credentials.token;
        match self.core.typing(token, room_id).await {
            Ok(_forwarded) => {
                self.last_typing = Some((room_id, now));
                Ok(())
            }
            Err(error) => answer_failure(out, &error).await,
        }
    }

    /// One parsed frame within the message rate: done by the core, and
    /// answered (`ack` or `error`) when due.
    async fn handle(
        &mut self,
        parsed: Result<UserIncoming, Refusal>,
        out: &Outbound,
    ) -> Result<(), End> {
        let command = match parsed {
            Ok(UserIncoming::Command(command)) => command,
            Ok(UserIncoming::Auth(token)) => {
                return auth::refresh(self.core, self.credentials, token, out).await;
            }
            Err((code, detail)) => return out.push_error(code, detail).await,
        };
        let token = &self.credentials.token;
        match command {
            UserCommand::Send {
                room_id,
                message,
                client_msg_id,
            } => {
                let key = client_msg_id.clone();
                let new = NewMessage {
                    room_id,
                    text: message,
                    client_msg_id,
                };
                match self.core.send_message(token, new).await {
                    Ok(sent) => acknowledge(out, room_id, key, sent).await,
                    Err(error) => answer_failure(out, &error).await,
                }
            }
            UserCommand::Read {
                room_id,
                message_id,
            } => match self.core.mark_read(token, room_id, message_id).await {
                Ok(()) => Ok(()),
                Err(error) => answer_failure(out, &error).await,
            },
            // Taken apart before the message rate.
            UserCommand::Typing { .. } => Ok(()),
        }
    }
}

/// Queues the `ack` (naming its room) of a send that carried a
/// `client_msg_id`. The message's own frames come down the user's stream.
async fn acknowledge(
    out: &Outbound,
    room_id: i64,
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
    let frame = InRoom {
        frame: ServerFrame::Ack {
            client_msg_id,
            message_id: sent.message_id,
            seq: sent.seq,
            duplicate: sent.duplicate,
        },
        room_id,
    };
    out.push(&frame).await
}

/// The answer to a failed call for a frame (`Failure::on_user_frame`).
async fn answer_failure(out: &Outbound, error: &Error) -> Result<(), End> {
    out.answer(error.failure().on_user_frame(), "user-socket frame")
        .await
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tonic::Code;

    use super::*;
    use crate::ws::writer::queue;

    #[tokio::test]
    async fn the_ack_of_a_user_socket_send_names_its_room() {
        let (out, mut rx) = queue(1, std::time::Duration::from_secs(10));
        let sent = SentMessage {
            message_id: 12,
            seq: 7,
            duplicate: false,
        };
        acknowledge(&out, 3, Some("c-1".into()), Some(sent))
            .await
            .expect("queued");
        let frame: Value = serde_json::from_str(&rx.try_recv().expect("an ack")).expect("JSON");
        assert_eq!(
            frame,
            json!({"type": "ack", "client_msg_id": "c-1", "message_id": 12, "seq": 7, "duplicate": false, "room_id": 3})
        );
        acknowledge(&out, 3, None, Some(sent)).await.expect("none");
        assert!(rx.try_recv().is_err(), "no key, no ack");
    }

    #[tokio::test]
    async fn a_missing_room_and_a_foreign_one_get_the_same_forbidden_frame() {
        let mut frames = Vec::new();
        for code in [Code::NotFound, Code::PermissionDenied] {
            let (out, mut rx) = queue(1, std::time::Duration::from_secs(10));
            let error = Error::Core(tonic::Status::new(code, "core says no"));
            answer_failure(&out, &error)
                .await
                .expect("a frame, no close");
            frames.push(rx.try_recv().expect("an error frame"));
        }
        assert_eq!(frames[0], frames[1]);
        let frame: Value = serde_json::from_str(&frames[0]).expect("JSON");
        assert_eq!(frame["code"], "forbidden");
    }
}
