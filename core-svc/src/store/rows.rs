//! Row shapes shared by the queries, and their conversion to domain types.
//!
//! Every column is read by name: each `*_COLUMNS` list below gives its
//! columns the names its reader asks for, so a query may add, drop or
//! reorder columns without shifting what the others mean. A missing or
//! mistyped column is an internal error, never a panic.

use tokio_postgres::Row;

use crate::{
    domain::{EventKind, Message, MessageId, MessageStatus, Room, RoomEvent, RoomId, UserId},
    error::Error,
};

/// The columns [`message`] reads, from `messages m JOIN users u ON u.id = m.sender_id`.
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.room_id, m.sender_id, \
     u.email AS sender_email, coalesce(m.text, '') AS text, m.status, m.created_at, \
     m.updated_at, m.deleted_at IS NOT NULL AS deleted";

/// The columns [`event`] reads from `room_events e` besides [`MESSAGE_COLUMNS`].
pub(super) const EVENT_COLUMNS: &str = "e.seq, e.kind, e.occurred_at";

/// The columns [`room`] reads from `rooms`.
pub(super) const ROOM_COLUMNS: &str = "id, user_lo, user_hi, last_seq";

/// A message: the row has [`MESSAGE_COLUMNS`].
pub(super) fn message(row: &Row) -> Result<Message, Error> {
    Ok(Message {
        id: id(row.try_get("id")?, MessageId::parse)?,
        room_id: id(row.try_get("room_id")?, RoomId::parse)?,
        sender_id: id(row.try_get("sender_id")?, UserId::parse)?,
        sender_email: row.try_get("sender_email")?,
        text: row.try_get("text")?,
        status: status(row.try_get("status")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        deleted: row.try_get("deleted")?,
    })
}

/// A room: the row has [`ROOM_COLUMNS`].
pub(super) fn room(row: &Row) -> Result<Room, Error> {
    Ok(Room {
        id: id(row.try_get("id")?, RoomId::parse)?,
        members: [
            id(row.try_get("user_lo")?, UserId::parse)?,
            id(row.try_get("user_hi")?, UserId::parse)?,
        ],
        last_seq: row.try_get("last_seq")?,
    })
}

/// An event of the log: the row has [`EVENT_COLUMNS`] and
/// [`MESSAGE_COLUMNS`], the message as it is now. The event carries the
/// message with the status the event's kind stands for.
pub(super) fn event(row: &Row) -> Result<RoomEvent, Error> {
    let message = message(row)?;
    let room_id = message.room_id;
    let kind = match row.try_get::<_, &str>("kind")? {
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
        room_id,
        seq: row.try_get("seq")?,
        occurred_at: row.try_get("occurred_at")?,
        kind,
    })
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
