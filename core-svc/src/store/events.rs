//! The room event log: appended in the transaction of each change, read back
//! by subscribers that resume or fall behind.

use time::OffsetDateTime;

use super::{Store, rows};
use crate::{
    domain::{EventKind, MessageId, Room, RoomEvent, RoomId},
    error::Error,
};

/// The most events one log read returns.
pub const LOG_PAGE: i64 = 500;

/// Appends `kinds` to the log of the locked `room`, numbered from
/// `room.last_seq + 1`, and advances the room's counter. Returns the events.
pub(super) async fn append(
    tx: &deadpool_postgres::Transaction<'_>,
    room: &Room,
    kinds: Vec<EventKind>,
) -> Result<Vec<RoomEvent>, Error> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = kinds.iter().map(EventKind::name).collect();
    let message_ids: Vec<i64> = kinds.iter().map(|kind| message_id(kind).get()).collect();
    let append = tx
        .prepare_cached(
            "WITH appended AS (
                 INSERT INTO room_events (room_id, seq, kind, message_id)
                 SELECT $1, $2 + t.ord, t.kind, t.message_id
                 FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS t(kind, message_id, ord)
             )
             UPDATE rooms SET last_seq = $2 + cardinality($3::text[]) WHERE id = $1
             RETURNING now() AS occurred_at",
        )
        .await?;
    let row = tx
        .query_one(
            &append,
            &[&room.id.get(), &room.last_seq, &names, &message_ids],
        )
        .await?;
    let occurred_at: OffsetDateTime = row.try_get("occurred_at")?;
    Ok(kinds
        .into_iter()
        .zip(room.last_seq + 1..)
        .map(|(kind, seq)| RoomEvent {
            room_id: room.id,
            seq,
            occurred_at,
            kind,
        })
        .collect())
}

fn message_id(kind: &EventKind) -> MessageId {
    match kind {
        EventKind::Created(message) | EventKind::Delivered(message) | EventKind::Read(message) => {
            message.id
        }
        EventKind::Edited { message_id, .. } | EventKind::Deleted { message_id } => *message_id,
    }
}

impl Store {
    /// Events of `room` with `after < seq <= up_to`, oldest first, at most
    /// [`LOG_PAGE`]. Replayed events carry the message as it is now: edited
    /// text, and no text once deleted.
    pub async fn events_between(
        &self,
        room: RoomId,
        after: i64,
        up_to: i64,
    ) -> Result<Vec<RoomEvent>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "SELECT {}, {}
                 FROM room_events e
                 JOIN messages m ON m.id = e.message_id
                 JOIN users u ON u.id = m.sender_id
                 WHERE e.room_id = $1 AND e.seq > $2 AND e.seq <= $3
                 ORDER BY e.seq
                 LIMIT $4",
                rows::EVENT_COLUMNS,
                rows::MESSAGE_COLUMNS
            ))
            .await?;
        client
            .query(&select, &[&room.get(), &after, &up_to, &LOG_PAGE])
            .await?
            .iter()
            .map(rows::event)
            .collect()
    }

    /// The sequence number of the room's latest event.
    pub async fn last_seq(&self, room: RoomId) -> Result<i64, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached("SELECT last_seq FROM rooms WHERE id = $1")
            .await?;
        match client.query_opt(&select, &[&room.get()]).await? {
            Some(row) => Ok(row.try_get("last_seq")?),
            None => Err(Error::NotFound("room not found")),
        }
    }
}
