//! The event pump of a session: the frames the hub feeds the socket
//! (`fanout/`, each encoded once for the whole room) → the outbound queue,
//! in the core's order, until the hub closes the socket or the queue refuses
//! (the client is gone or too slow); and the frames of the events a resumed
//! socket missed. An event's message takes the status its frame type stands for.

use super::close::{CloseReason, End};
use super::protocol::ServerFrame;
use super::writer::Outbound;
use crate::core_client::{Change, Presence, RoomEvent};
use crate::fanout::{Feed, FeedReceiver};
use crate::wire::{MessageView, Status, wire_time};

/// The frames of the events a resumed socket `missed`, then the hub's
/// frames → the outbound queue, in the core's order (the writer runs
/// beside it, draining the queue). A feed the hub let go of without a word
/// was full: the socket fell behind (1013).
pub(super) async fn pump_events(
    missed: Vec<RoomEvent>,
    feed: &mut FeedReceiver,
    out: &Outbound,
) -> End {
    if let Err(end) = Box::pin(push_missed(missed, out)).await {
        return end;
    }
    loop {
        match feed.recv().await.map(|item| *item) {
            Some(Feed::Frame(text)) => {
                if let Err(end) = out.push_text(text).await {
                    return end;
                }
            }
            Some(Feed::Close(reason)) => {
                tracing::warn!(code = reason.code, "the hub closed the socket");
                return End::Close(reason);
            }
            None => {
                tracing::warn!("client too slow for its room, closing");
                return End::Close(CloseReason::TOO_SLOW);
            }
        }
    }
}

/// Queues the frames of the events a resumed socket missed, in order.
async fn push_missed(missed: Vec<RoomEvent>, out: &Outbound) -> Result<(), End> {
    for event in missed {
        // The frame is dropped before the await: `push` keeps only its text.
        let pushed = {
            let frame = event_frame(event);
            out.push(&frame)
        };
        pushed.await?;
    }
    Ok(())
}

/// The `presence` frame of a member, as `users/me` would describe them.
pub(crate) fn presence_frame(presence: Presence) -> ServerFrame {
    ServerFrame::Presence {
        user_id: presence.user_id,
        is_online: presence.is_online,
        last_seen: wire_time(presence.last_seen),
    }
}

/// The frame of one room event; a message's status is the one its frame type stands for.
pub(crate) fn event_frame(event: RoomEvent) -> ServerFrame {
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
