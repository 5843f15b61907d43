//! Core replies → the edge's own types of [`super::model`], and the edge's
//! inputs → core requests. The one place generated `pb` types are read or
//! built, apart from the calls themselves in `core_client.rs`.

use chat_proto::v1 as pb;
use pb::room_event::Kind;
use prost_types::Timestamp;
use time::OffsetDateTime;

use super::model::{
    Change, HistoryQuery, Message, MessageStatus, NewMessage, Opening, Presence, Room, RoomEvent,
    SentMessage, Snapshot, User,
};

/// A core timestamp as a UTC time; `None` when unset or out of range.
pub fn time(timestamp: Option<&Timestamp>) -> Option<OffsetDateTime> {
    let timestamp = timestamp?;
    let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The core's status enum; an unset status reads as `Send`.
fn status(message: &pb::Message) -> MessageStatus {
    match message.status() {
        pb::MessageStatus::Unspecified | pb::MessageStatus::Send => MessageStatus::Send,
        pb::MessageStatus::Delivered => MessageStatus::Delivered,
        pb::MessageStatus::Read => MessageStatus::Read,
    }
}

impl From<pb::Message> for Message {
    fn from(message: pb::Message) -> Self {
        Self {
            message_id: message.message_id,
            sender_id: message.sender_id,
            status: status(&message),
            created_at: time(message.created_at.as_ref()),
            updated_at: time(message.updated_at.as_ref()),
            sender_email: message.sender_email,
            text: message.text,
        }
    }
}

impl From<pb::User> for User {
    fn from(user: pb::User) -> Self {
        Self {
            id: user.id,
            is_online: user.is_online,
            last_seen: time(user.last_seen.as_ref()),
            token_exp: user.token_exp,
            email: user.email,
        }
    }
}

impl From<pb::Presence> for Presence {
    fn from(presence: pb::Presence) -> Self {
        Self {
            user_id: presence.user_id,
            is_online: presence.is_online,
            last_seen: time(presence.last_seen.as_ref()),
            version: presence.version,
        }
    }
}

impl From<pb::Room> for Room {
    fn from(room: pb::Room) -> Self {
        Self {
            room_id: room.room_id,
        }
    }
}

impl From<pb::Snapshot> for Snapshot {
    fn from(snapshot: pb::Snapshot) -> Self {
        let opening = if snapshot.resumed {
            Opening::Resumed {
                last_seq: snapshot.seq,
            }
        } else {
            let history = snapshot.messages.into_iter().map(Message::from);
            Opening::History(history.collect())
        };
        Self {
            user_id: snapshot.user_id,
            token_exp: snapshot.token_exp,
            seq: snapshot.seq,
            opening,
        }
    }
}

/// A send's answer; `None` when it holds no message (it always should).
pub fn sent_message(sent: &pb::SendMessageResponse) -> Option<SentMessage> {
    let message = sent.message.as_ref()?;
    Some(SentMessage {
        message_id: message.message_id,
        seq: sent.seq,
        duplicate: sent.duplicate,
    })
}

/// One room event; `None` for an event of a kind this edge does not know.
pub fn event(event: pb::RoomEvent) -> Option<RoomEvent> {
    let change = match event.kind? {
        Kind::MessageCreated(message) => Change::Created(message.into()),
        Kind::MessageDelivered(message) => Change::Delivered(message.into()),
        Kind::MessageRead(message) => Change::Read(message.into()),
        Kind::MessageEdited(edited) => Change::Edited {
            message_id: edited.message_id,
            text: edited.text,
        },
        Kind::MessageDeleted(deleted) => Change::Deleted {
            message_id: deleted.message_id,
        },
    };
    Some(RoomEvent {
        seq: event.seq,
        change,
    })
}

impl From<NewMessage> for pb::SendMessageRequest {
    fn from(new: NewMessage) -> Self {
        Self {
            room_id: new.room_id,
            text: new.text,
            client_msg_id: new.client_msg_id.unwrap_or_default(),
        }
    }
}

impl From<HistoryQuery> for pb::ListMessagesRequest {
    fn from(query: HistoryQuery) -> Self {
        Self {
            room_id: query.room_id,
            before_message_id: query.before_message_id.unwrap_or(0),
            limit: query.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> Option<OffsetDateTime> {
        time(Some(&Timestamp { seconds, nanos }))
    }

    #[test]
    fn a_timestamp_keeps_its_nanoseconds() {
        let utc = at(1_739_903_332, 258_755_001).expect("in range");
        assert_eq!(utc.unix_timestamp(), 1_739_903_332);
        assert_eq!(utc.nanosecond(), 258_755_001);
        assert_eq!(utc.offset(), time::UtcOffset::UTC);
    }

    #[test]
    fn an_unset_or_out_of_range_timestamp_is_none() {
        assert!(time(None).is_none());
        assert!(at(i64::MAX, 0).is_none());
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
    fn a_message_keeps_every_field() {
        let converted = Message::from(message(pb::MessageStatus::Read));
        assert_eq!(converted.message_id, 45);
        assert_eq!(converted.sender_id, 3);
        assert_eq!(converted.sender_email, "a@example.com");
        assert_eq!(converted.text, "hello");
        assert_eq!(converted.status, MessageStatus::Read);
        assert_eq!(converted.created_at, at(0, 1_000));
        assert_eq!(converted.updated_at, at(1, 0));
    }

    #[test]
    fn an_unset_status_reads_as_send() {
        let converted = Message::from(message(pb::MessageStatus::Unspecified));
        assert_eq!(converted.status, MessageStatus::Send);
    }

    fn room_event(kind: Option<Kind>) -> pb::RoomEvent {
        pb::RoomEvent {
            room_id: 1,
            seq: 9,
            occurred_at: None,
            kind,
        }
    }

    #[test]
    fn an_event_keeps_its_kind_and_seq() {
        let delivered = Kind::MessageDelivered(message(pb::MessageStatus::Delivered));
        let Some(RoomEvent {
            seq,
            change: Change::Delivered(message),
        }) = event(room_event(Some(delivered)))
        else {
            panic!("expected a delivered event");
        };
        assert_eq!((message.message_id, seq), (45, 9));
        let deleted = Kind::MessageDeleted(pb::MessageDeleted { message_id: 56 });
        assert!(
            event(room_event(Some(deleted)))
                == Some(RoomEvent {
                    seq: 9,
                    change: Change::Deleted { message_id: 56 },
                })
        );
    }

    #[test]
    fn an_event_without_a_kind_is_none() {
        assert!(event(room_event(None)).is_none());
    }

    #[test]
    fn a_send_answer_carries_the_stored_message_and_its_seq() {
        let sent = pb::SendMessageResponse {
            message: Some(message(pb::MessageStatus::Delivered)),
            duplicate: true,
            seq: 7,
        };
        assert_eq!(
            sent_message(&sent),
            Some(SentMessage {
                message_id: 45,
                seq: 7,
                duplicate: true,
            })
        );
        assert_eq!(sent_message(&pb::SendMessageResponse::default()), None);
    }

    fn snapshot(resumed: bool) -> pb::Snapshot {
        pb::Snapshot {
            room_id: 1,
            seq: 9,
            messages: vec![pb::Message {
                message_id: 4,
                ..Default::default()
            }],
            resumed,
            user_id: 3,
            token_exp: 1_700_000_000,
        }
    }

    #[test]
    fn a_resumed_snapshot_opens_with_the_resume_point() {
        let converted = Snapshot::from(snapshot(true));
        assert!(converted.opening == Opening::Resumed { last_seq: 9 });
        assert_eq!((converted.user_id, converted.token_exp), (3, 1_700_000_000));
    }

    #[test]
    fn any_other_snapshot_opens_with_the_history() {
        let Opening::History(history) = Snapshot::from(snapshot(false)).opening else {
            panic!("expected the history");
        };
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].message_id, 4);
    }

    #[test]
    fn a_history_query_without_before_asks_for_the_newest() {
        let query = HistoryQuery {
            room_id: 7,
            before_message_id: None,
            limit: 50,
        };
        let request = pb::ListMessagesRequest::from(query);
        assert_eq!(
            (request.room_id, request.before_message_id, request.limit),
            (7, 0, 50)
        );
    }

    #[test]
    fn a_new_message_without_a_key_sends_an_empty_one() {
        let new = NewMessage {
            room_id: 2,
            text: "hi".into(),
            client_msg_id: None,
        };
        let request = pb::SendMessageRequest::from(new);
        assert_eq!(
            (
                request.room_id,
                request.text.as_str(),
                request.client_msg_id.as_str()
            ),
            (2, "hi", "")
        );
    }
}
