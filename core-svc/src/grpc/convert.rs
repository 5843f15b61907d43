//! Domain ⇄ protobuf conversions, done once at the boundary.

use chat_proto::v1 as pb;
use time::OffsetDateTime;

use crate::{
    domain::{EventKind, Message, MessageStatus, Presence, Room, RoomEvent, Snapshot, User},
    fanout::Item,
};

pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: at.nanosecond() as i32,
    }
}

impl From<MessageStatus> for pb::MessageStatus {
    fn from(status: MessageStatus) -> Self {
        match status {
            MessageStatus::Send => Self::Send,
            MessageStatus::Delivered => Self::Delivered,
            MessageStatus::Read => Self::Read,
        }
    }
}

impl From<Message> for pb::Message {
    fn from(message: Message) -> Self {
        Self {
            message_id: message.id.get(),
            room_id: message.room_id.get(),
            sender_id: message.sender_id.get(),
            sender_email: message.sender_email,
            text: message.text,
            status: pb::MessageStatus::from(message.status).into(),
            created_at: Some(timestamp(message.created_at)),
            updated_at: Some(timestamp(message.updated_at)),
            deleted: message.deleted,
        }
    }
}

impl From<User> for pb::User {
    fn from(user: User) -> Self {
        Self {
            id: user.id.get(),
            email: user.email,
            is_online: user.is_online,
            last_seen: user.last_seen.map(timestamp),
            token_exp: 0,
        }
    }
}

impl From<Room> for pb::Room {
    fn from(room: Room) -> Self {
        Self {
            room_id: room.id.get(),
            member_ids: room.members.iter().map(|id| id.get()).collect(),
            last_seq: room.last_seq,
        }
    }
}

impl From<RoomEvent> for pb::RoomEvent {
    fn from(event: RoomEvent) -> Self {
        use pb::room_event::Kind;
        let kind = match event.kind {
            EventKind::Created(message) => Kind::MessageCreated(message.into()),
            EventKind::Delivered(message) => Kind::MessageDelivered(message.into()),
            EventKind::Read(message) => Kind::MessageRead(message.into()),
            EventKind::Edited {
                message_id,
                text,
                updated_at,
            } => Kind::MessageEdited(pb::MessageEdited {
                message_id: message_id.get(),
                text,
                updated_at: Some(timestamp(updated_at)),
            }),
            EventKind::Deleted { message_id } => Kind::MessageDeleted(pb::MessageDeleted {
                message_id: message_id.get(),
            }),
        };
        Self {
            room_id: event.room_id.get(),
            seq: event.seq,
            occurred_at: Some(timestamp(event.occurred_at)),
            kind: Some(kind),
        }
    }
}

impl From<Snapshot> for pb::Snapshot {
    fn from(snapshot: Snapshot) -> Self {
        Self {
            room_id: snapshot.room_id.get(),
            seq: snapshot.seq,
            messages: snapshot.messages.into_iter().map(Into::into).collect(),
            resumed: snapshot.resumed,
            user_id: 0,
            token_exp: 0,
        }
    }
}

impl From<Presence> for pb::Presence {
    fn from(presence: Presence) -> Self {
        Self {
            user_id: presence.user.get(),
            is_online: presence.is_online,
            last_seen: presence.last_seen.map(timestamp),
            version: presence.version,
        }
    }
}

impl From<Item> for pb::SubscribeResponse {
    fn from(item: Item) -> Self {
        use pb::subscribe_response::Item as PbItem;
        let item = match item {
            Item::Snapshot(snapshot) => PbItem::Snapshot(snapshot.into()),
            Item::Event(event) => PbItem::Event(event.into()),
            Item::Presence(presence) => PbItem::Presence(presence.into()),
            Item::Typing { room, user } => PbItem::Typing(pb::Typing {
                room_id: room.get(),
                user_id: user.get(),
            }),
        };
        Self { item: Some(item) }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn timestamps_keep_microseconds() {
        let at = datetime!(2025-02-18 18:28:52.258755 UTC);
        let ts = timestamp(at);
        assert_eq!(ts.seconds, at.unix_timestamp());
        assert_eq!(ts.nanos, 258_755_000);
    }
}
