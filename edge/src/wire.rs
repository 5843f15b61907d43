//! The JSON shapes REST and WebSocket share, as serde types built from the
//! core client's messages: the message items of `GET …/messages/` and of
//! the history frame, the `M` of event frames, the room list's shapes
//! (`conversation`), and the one time format
//! clients see (RFC 3339 in UTC with exactly six fractional digits and
//! `+00:00`). The WebSocket frames around them are in `ws::protocol`.

mod conversation;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use crate::core_client::{Message, MessageStatus};
pub use conversation::{ConversationView, Profile, RoomList};

/// `2025-02-18T18:28:52.258755+00:00`.
const WIRE_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00");

/// A UTC time as clients see it; `None` when unset (or unprintable).
pub fn wire_time(utc: Option<OffsetDateTime>) -> Option<String> {
    utc?.format(WIRE_TIME).ok()
}

/// A message's delivery status as clients spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Stored, not yet handed to the room.
    Send,
    /// Stored and handed to the room.
    Delivered,
    /// Seen by the recipient.
    Read,
}

impl From<MessageStatus> for Status {
    fn from(status: MessageStatus) -> Self {
        match status {
            MessageStatus::Send => Status::Send,
            MessageStatus::Delivered => Status::Delivered,
            MessageStatus::Read => Status::Read,
        }
    }
}

/// One message of the history frame and of `GET …/messages/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryItem {
    /// The message id.
    pub message_id: i64,
    /// The (trimmed) text.
    pub text: String,
    /// The sender's user id (additive).
    pub sender_id: i64,
    /// The sender's email.
    pub sender_email: String,
    /// Delivery status.
    pub status: Status,
    /// RFC 3339 UTC with microseconds.
    pub created_at: Option<String>,
    /// RFC 3339 UTC with microseconds; changes on edits only.
    pub updated_at: Option<String>,
}

impl From<Message> for HistoryItem {
    fn from(message: Message) -> Self {
        Self {
            message_id: message.message_id,
            sender_id: message.sender_id,
            status: message.status.into(),
            created_at: wire_time(message.created_at),
            updated_at: wire_time(message.updated_at),
            sender_email: message.sender_email,
            text: message.text,
        }
    }
}

/// `M` of the `chat_message` / `mark_message_as_*` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The (trimmed) text.
    pub text: String,
    /// The message id.
    pub message_id: i64,
    /// The sender's user id.
    pub sender_id: i64,
    /// `send`, `delivered` or `read`, matching the frame type.
    pub status: Status,
    /// RFC 3339 UTC with microseconds.
    pub created_at: Option<String>,
    /// RFC 3339 UTC with microseconds.
    pub updated_at: Option<String>,
}

impl MessageView {
    /// The view of `message` in a frame that stands for `status` (whatever
    /// status the message itself carries).
    pub fn with_status(message: Message, status: Status) -> Self {
        Self {
            message_id: message.message_id,
            sender_id: message.sender_id,
            status,
            created_at: wire_time(message.created_at),
            updated_at: wire_time(message.updated_at),
            text: message.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_have_six_fractional_digits_and_a_utc_offset() {
        let utc = datetime!(2025-02-18 18:28:52.258755 UTC);
        assert_eq!(
            wire_time(Some(utc)).as_deref(),
            Some("2025-02-18T18:28:52.258755+00:00")
        );
    }

    #[test]
    fn whole_seconds_still_show_microseconds() {
        assert_eq!(
            wire_time(Some(OffsetDateTime::UNIX_EPOCH)).as_deref(),
            Some("1970-01-01T00:00:00.000000+00:00")
        );
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        let utc = datetime!(1970-01-01 00:00:00.999_999_999 UTC);
        assert_eq!(
            wire_time(Some(utc)).as_deref(),
            Some("1970-01-01T00:00:00.999999+00:00")
        );
    }

    #[test]
    fn an_unset_time_is_none() {
        assert_eq!(wire_time(None), None);
    }

    fn message(status: MessageStatus) -> Message {
        Message {
            message_id: 45,
            sender_id: 3,
            sender_email: "a@example.com".into(),
            text: "hello".into(),
            status,
            created_at: Some(datetime!(1970-01-01 00:00:00.000001 UTC)),
            updated_at: None,
        }
    }

    #[test]
    fn a_history_item_keeps_every_field() {
        let item = HistoryItem::from(message(MessageStatus::Read));
        assert_eq!(item.message_id, 45);
        assert_eq!(item.sender_id, 3);
        assert_eq!(item.sender_email, "a@example.com");
        assert_eq!(item.text, "hello");
        assert_eq!(item.status, Status::Read);
        assert_eq!(
            item.created_at.as_deref(),
            Some("1970-01-01T00:00:00.000001+00:00")
        );
        assert_eq!(item.updated_at, None);
    }

    #[test]
    fn a_message_view_takes_the_status_of_its_frame() {
        let view = MessageView::with_status(message(MessageStatus::Send), Status::Delivered);
        assert_eq!((view.message_id, view.status), (45, Status::Delivered));
    }

    #[test]
    fn history_items_round_trip() {
        let item = HistoryItem {
            message_id: 45,
            text: "hello".into(),
            sender_id: 3,
            sender_email: "a@example.com".into(),
            status: Status::Read,
            created_at: Some("2025-02-18T18:28:52.258755+00:00".into()),
            updated_at: None,
        };
        let text = serde_json::to_string(&vec![item.clone()]).expect("serializes");
        let back: Vec<HistoryItem> = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, vec![item]);
        let value: Value = serde_json::from_str(&text).expect("is JSON");
        assert_eq!(value[0]["status"], "read");
        assert_eq!(value[0]["updated_at"], Value::Null);
    }

    #[test]
    fn a_history_item_serializes_its_fields_in_the_documented_order() {
        let text = serde_json::to_string(&HistoryItem::from(message(MessageStatus::Send)))
            .expect("serializes");
        assert_eq!(
            text,
            r#"{"message_id":45,"text":"hello","sender_id":3,"sender_email":"a@example.com","status":"send","created_at":"1970-01-01T00:00:00.000001+00:00","updated_at":null}"#
        );
    }
}
