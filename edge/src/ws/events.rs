//! The event pump of a session: the room stream's events → frames on the
//! outbound queue, in the core's order, until the stream ends or the queue
//! refuses (the client is gone or too slow). An event's message takes the
//! status its frame type stands for.

use super::close::{CloseReason, End};
use super::protocol::ServerFrame;
use super::writer::Outbound;
use crate::core_client::{Change, RoomEvent, RoomStream, StreamEnd};
use crate::wire::{MessageView, Status};

/// Room events from the core → frames, in the core's order.
pub(super) async fn pump_events(subscription: &mut RoomStream, out: &Outbound) -> End {
    loop {
        let event = match subscription.next_event().await {
            Ok(event) => event,
            Err(StreamEnd::Ended) => {
                tracing::warn!("room stream ended");
                return End::Close(CloseReason::CORE_UNAVAILABLE);
            }
            Err(StreamEnd::Failed(error)) => {
                tracing::warn!(code = ?error.code(), "room stream broke");
                return End::Close(error.failure().close_reason());
            }
            Err(StreamEnd::Unexpected) => {
                tracing::warn!("unexpected item on the room stream");
                return End::Close(CloseReason::CORE_UNAVAILABLE);
            }
        };
        // The frame is dropped before the await: `push` keeps only its text.
        let pushed = {
            let frame = event_frame(event);
            out.push(&frame)
        };
        if let Err(end) = pushed.await {
            return end;
        }
    }
}

/// The frame of one room event; a message's status is the one its frame type stands for.
fn event_frame(event: RoomEvent) -> ServerFrame {
    let seq = event.seq;
    match event.change {
        Change::Created(message) => ServerFrame::ChatMessage {
            message: MessageView::with_status(message, Status::Send),
            seq,
        },
        Change::Delivered(message) => ServerFrame::MarkMessageAsDelivered {
            message: MessageView::with_status(message, Status::Delivered),
            seq,
        },
        Change::Read(message) => ServerFrame::MarkMessageAsRead {
            message: MessageView::with_status(message, Status::Read),
            seq,
        },
        Change::Edited { message_id, text } => ServerFrame::MessageEdited {
            message_id,
            text,
            seq,
        },
        Change::Deleted { message_id } => ServerFrame::MessageDeleted { message_id, seq },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core_client::{Message, MessageStatus};

    fn message() -> Message {
        Message {
            message_id: 4,
            sender_id: 3,
            sender_email: "a@example.com".into(),
            text: "hi".into(),
            status: MessageStatus::Send,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn an_event_frame_takes_its_status_from_the_event_kind() {
        let event = RoomEvent {
            seq: 9,
            change: Change::Delivered(message()),
        };
        let ServerFrame::MarkMessageAsDelivered { message, seq } = event_frame(event) else {
            panic!("expected a delivered frame");
        };
        assert_eq!(
            (message.status, message.message_id, seq),
            (Status::Delivered, 4, 9)
        );
    }

    #[test]
    fn edits_and_deletions_keep_their_seq() {
        let edited = RoomEvent {
            seq: 3,
            change: Change::Edited {
                message_id: 55,
                text: "new".into(),
            },
        };
        assert_eq!(
            event_frame(edited),
            ServerFrame::MessageEdited {
                message_id: 55,
                text: "new".into(),
                seq: 3,
            }
        );
        let deleted = RoomEvent {
            seq: 4,
            change: Change::Deleted { message_id: 56 },
        };
        assert_eq!(
            event_frame(deleted),
            ServerFrame::MessageDeleted {
                message_id: 56,
                seq: 4,
            }
        );
    }
}
