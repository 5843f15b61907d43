//! Row shapes shared by the queries, and their conversion to domain types.

use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::{
    domain::{EventKind, Message, MessageId, MessageStatus, Room, RoomEvent, RoomId, UserId},
    error::Error,
};

/// The columns [`message`] reads, from `messages m JOIN users u ON u.id = m.sender_id`.
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.room_id, m.sender_id, u.email, \
     coalesce(m.text, ''), m.status, m.created_at, m.updated_at, m.deleted_at IS NOT NULL";

/// The columns [`room`] reads from `rooms`.
pub(super) const ROOM_COLUMNS: &str = "id, user_lo, user_hi, last_seq";

pub(super) fn message(row: &Row) -> Result<Message, Error> {
    message_at(row, 0)
}

pub(super) fn room(row: &Row) -> Result<Room, Error> {
    Ok(Room {
        id: id(row.get(0), RoomId::parse)?,
        members: [
            id(row.get(1), UserId::parse)?,
            id(row.get(2), UserId::parse)?,
        ],
        last_seq: row.get(3),
    })
}

/// An event of the log: `seq, kind, occurred_at` followed by [`MESSAGE_COLUMNS`].
pub(super) fn event(row: &Row) -> Result<RoomEvent, Error> {
    let seq: i64 = row.get(0);
    let kind: &str = row.get(1);
    let occurred_at: OffsetDateTime = row.get(2);
    let message = message_at(row, 3)?;
    let kind = match kind {
        "message_created" => EventKind::Created(message.with_status(MessageStatus::Send)),
        "message_delivered" => EventKind::Delivered(message.with_status(MessageStatus::Delivered)),
        "message_read" => EventKind::Read(message.with_status(MessageStatus::Read)),
        "message_edited" => EventKind::Edited {
            message_id: message.id,
            text: message.text,
            updated_at: message.updated_at,
        },
        "message_deleted" => EventKind::Deleted {
            message_id: message.id,
        },
        other => return Err(corrupt(format!("unknown event kind {other:?}"))),
    };
    Ok(RoomEvent {
        room_id: message_room(row, 3)?,
        seq,
        occurred_at,
        kind,
    })
}

pub(super) fn message_at(row: &Row, offset: usize) -> Result<Message, Error> {
    Ok(Message {
        id: id(row.get(offset), MessageId::parse)?,
        room_id: id(row.get(offset + 1), RoomId::parse)?,
        sender_id: id(row.get(offset + 2), UserId::parse)?,
        sender_email: row.get(offset + 3),
        text: row.get(offset + 4),
        status: status(row.get(offset + 5))?,
        created_at: row.get(offset + 6),
        updated_at: row.get(offset + 7),
        deleted: row.get(offset + 8),
    })
}

fn message_room(row: &Row, offset: usize) -> Result<RoomId, Error> {
    id(row.get(offset + 1), RoomId::parse)
}

pub(super) fn status(raw: &str) -> Result<MessageStatus, Error> {
    MessageStatus::parse(raw).ok_or_else(|| corrupt(format!("unknown message status {raw:?}")))
}

pub(super) fn id<T, E>(raw: i64, parse: impl FnOnce(i64) -> Result<T, E>) -> Result<T, Error> {
    parse(raw).map_err(|_| corrupt(format!("stored id {raw} is not positive")))
}

fn corrupt(what: String) -> Error {
    Error::Internal(what.into())
}
