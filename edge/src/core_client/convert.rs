//! Core replies → the wire shapes of `ws::protocol` (history items, event
//! and `ack` frames), and the one time format clients see: RFC 3339 in UTC
//! with exactly six fractional digits and `+00:00`.

use chat_proto::v1 as pb;
use pb::room_event::Kind;
use prost_types::Timestamp;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use crate::ws::protocol::{HistoryItem, MessageView, ServerFrame, Status};

/// `2025-02-18T18:28:52.258755+00:00`.
const WIRE_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00");

/// A core timestamp as clients see it; `None` when unset or out of range.
pub fn wire_time(timestamp: Option<&Timestamp>) -> Option<String> {
    let timestamp = timestamp?;
    let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    let utc = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    utc.format(WIRE_TIME).ok()
}

/// The core's status enum; an unset status reads as `send`.
fn status(message: &pb::Message) -> Status {
    match message.status() {
        pb::MessageStatus::Unspecified | pb::MessageStatus::Send => Status::Send,
        pb::MessageStatus::Delivered => Status::Delivered,
        pb::MessageStatus::Read => Status::Read,
    }
}

impl From<pb::Message> for HistoryItem {
    fn from(message: pb::Message) -> Self {
        Self {
            message_id: message.message_id,
            sender_id: message.sender_id,
            status: status(&message),
            created_at: wire_time(message.created_at.as_ref()),
            updated_at: wire_time(message.updated_at.as_ref()),
            sender_email: message.sender_email,
            text: message.text,
        }
    }
}

/// `M` of an event frame; its status is the one the frame type stands for.
fn message_view(message: pb::Message, status: Status) -> MessageView {
    MessageView {
        message_id: message.message_id,
        sender_id: message.sender_id,
        status,
        created_at: wire_time(message.created_at.as_ref()),
        updated_at: wire_time(message.updated_at.as_ref()),
        text: message.text,
    }
}

/// The frame of one room event; `None` for an event of a kind this edge does not know.
pub fn event_frame(event: pb::RoomEvent) -> Option<ServerFrame> {
    let seq = event.seq;
    let frame = match event.kind? {
        Kind::MessageCreated(message) => ServerFrame::ChatMessage {
            message: message_view(message, Status::Send),
            seq,
        },
        Kind::MessageDelivered(message) => ServerFrame::MarkMessageAsDelivered {
            message: message_view(message, Status::Delivered),
            seq,
        },
        Kind::MessageRead(message) => ServerFrame::MarkMessageAsRead {
            message: message_view(message, Status::Read),
            seq,
        },
        Kind::MessageEdited(edited) => ServerFrame::MessageEdited {
            message_id: edited.message_id,
            text: edited.text,
            seq,
        },
        Kind::MessageDeleted(deleted) => ServerFrame::MessageDeleted {
            message_id: deleted.message_id,
            seq,
        },
    };
    Some(frame)
}

/// The `ack` frame of a send that carried `client_msg_id`; `None` when the
/// core's answer holds no message (it always should).
pub fn ack_frame(client_msg_id: String, sent: &pb::SendMessageResponse) -> Option<ServerFrame> {
    let message = sent.message.as_ref()?;
    Some(ServerFrame::Ack {
        client_msg_id,
        message_id: message.message_id,
        seq: sent.seq,
        duplicate: sent.duplicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> Option<String> {
        wire_time(Some(&Timestamp { seconds, nanos }))
    }

    #[test]
    fn times_have_six_fractional_digits_and_a_utc_offset() {
        // 2025-02-18T18:28:52.258755Z
        assert_eq!(
            at(1_739_903_332, 258_755_000).as_deref(),
            Some("2025-02-18T18:28:52.258755+00:00")
        );
    }

    #[test]
    fn whole_seconds_still_show_microseconds() {
        assert_eq!(
            at(0, 0).as_deref(),
            Some("1970-01-01T00:00:00.000000+00:00")
        );
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        assert_eq!(
            at(0, 999_999_999).as_deref(),
            Some("1970-01-01T00:00:00.999999+00:00")
        );
    }

    #[test]
    fn an_unset_time_is_none() {
        assert_eq!(wire_time(None), None);
    }

    fn message(status: pb::MessageStatus) -> pb::Message {
        let mut message = pb::Message {
            message_id: 45,
            room_id: 1,
            sender_id: 3,
            sender_email: "a@example.com".into(),
            text: "hello".into(),
            created_at: Some(Timestamp {
                seconds: 0,
                nanos: 1_000,
            }),
            updated_at: Some(Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        };
        message.set_status(status);
        message
    }

    #[test]
    fn a_history_item_keeps_every_field() {
        let item = HistoryItem::from(message(pb::MessageStatus::Read));
        assert_eq!(item.message_id, 45);
        assert_eq!(item.sender_id, 3);
        assert_eq!(item.sender_email, "a@example.com");
        assert_eq!(item.status, Status::Read);
        assert_eq!(
            item.created_at.as_deref(),
            Some("1970-01-01T00:00:00.000001+00:00")
        );
    }

    #[test]
    fn an_event_frame_takes_its_status_from_the_event_kind() {
        let event = pb::RoomEvent {
            room_id: 1,
            seq: 9,
            occurred_at: None,
            kind: Some(Kind::MessageDelivered(message(
                pb::MessageStatus::Delivered,
            ))),
        };
        let Some(ServerFrame::MarkMessageAsDelivered { message, seq }) = event_frame(event) else {
            panic!("expected a delivered frame");
        };
        assert_eq!((message.status, seq), (Status::Delivered, 9));
    }

    #[test]
    fn an_event_without_a_kind_has_no_frame() {
        let event = pb::RoomEvent {
            room_id: 1,
            seq: 1,
            occurred_at: None,
            kind: None,
        };
        assert_eq!(event_frame(event), None);
    }

    #[test]
    fn an_ack_carries_the_stored_message_and_its_seq() {
        let sent = pb::SendMessageResponse {
            message: Some(message(pb::MessageStatus::Delivered)),
            duplicate: true,
            seq: 7,
        };
        assert_eq!(
            ack_frame("c-1".into(), &sent),
            Some(ServerFrame::Ack {
                client_msg_id: "c-1".into(),
                message_id: 45,
                seq: 7,
                duplicate: true,
            })
        );
        let empty = pb::SendMessageResponse::default();
        assert_eq!(ack_frame("c-1".into(), &empty), None);
    }
}
