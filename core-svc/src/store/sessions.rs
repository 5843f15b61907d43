//! Subscriptions: opening one marks the room read for the subscriber, takes
//! the snapshot, and records the session that makes its user online.

use uuid::Uuid;

use super::{Store, events, messages, presence, rooms, rows};
use crate::{
    access,
    domain::{
        EventKind, Message, MessageId, MessageStatus, Presence, Room, RoomEvent, RoomId, Snapshot,
        UserId,
    },
    error::Error,
};

/// How far behind a resume may start; further back gets a fresh snapshot.
pub const MAX_RESUME_GAP: i64 = 10_000;

/// An open subscription's row in `room_sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub(super) i64);

impl SessionId {
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Where a subscriber starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With the latest `limit` messages.
    Snapshot { limit: i64 },
    /// With the events after `after_seq`.
    Resume { after_seq: i64, fallback_limit: i64 },
}

/// What opening a subscription produced.
#[derive(Debug)]
pub struct Opened {
    pub session: SessionId,
    pub snapshot: Snapshot,
    /// The read receipts this subscription caused, already in the log.
    pub read_events: Vec<RoomEvent>,
    /// The room's latest sequence number once this subscription committed.
    pub head: i64,
    /// The other member's presence as of the snapshot.
    pub peer: Presence,
}

impl Store {
    /// Opens a subscription of `user` to `room` for the core `instance`.
    ///
    /// In one transaction under the room lock: the snapshot is taken, every
    /// message of the other member that is not yet read becomes read (one
    /// event each, after the snapshot), and the session is recorded, so a
    /// concurrent send either sees the session or is marked read here. The
    /// user's first session announces them online; the other member's
    /// presence is read last.
    pub async fn open_session(
        &self,
        room: RoomId,
        user: UserId,
        instance: Uuid,
        start: Start,
    ) -> Result<Opened, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let room = access::enter(rooms::lock_room(&tx, room).await?, user)?;
        let snapshot = take_snapshot(&tx, &room, start).await?;
        let read = mark_read(&tx, &room, user, None).await?;
        let read_events = events::append(&tx, &room, read).await?;
        // The user's row is locked: the end of their other sessions
        // (migrations/0004) waits for this one to be recorded, or this for it.
        let insert = tx
            .prepare_cached(
                "INSERT INTO room_sessions (room_id, user_id, instance_id)
                 SELECT $1, u.id, $3 FROM users u WHERE u.id = $2 FOR NO KEY UPDATE
                 RETURNING id",
            )
            .await?;
        let row = tx
            .query_one(&insert, &[&room.id.get(), &user.get(), &instance])
            .await?;
        let session = row.try_get("id")?;
        presence::session_opened(&tx, user, session).await?;
        let peer = presence::read(&tx, room.other_member(user)).await?;
        tx.commit().await?;
        Ok(Opened {
            session: SessionId(session),
            head: room.last_seq + read_events.len() as i64,
            snapshot,
            read_events,
            peer,
        })
    }

    /// Ends subscriptions, in one statement however many; the users left
    /// with no session go offline (`last_seen` becomes now).
    pub async fn close_sessions(&self, sessions: &[SessionId]) -> Result<(), Error> {
        let ids: Vec<i64> = sessions.iter().map(|session| session.0).collect();
        let client = self.client().await?;
        let end = client
            .prepare_cached("SELECT chat_end_sessions($1)")
            .await?;
        client.execute(&end, &[&ids]).await?;
        Ok(())
    }
}

pub(super) async fn take_snapshot(
    tx: &deadpool_postgres::Transaction<'_>,
    room: &Room,
    start: Start,
) -> Result<Snapshot, Error> {
    let limit = match start {
        Start::Resume { after_seq, .. }
            if (0..=room.last_seq).contains(&after_seq)
                && room.last_seq - after_seq <= MAX_RESUME_GAP =>
        {
            return Ok(Snapshot {
                room_id: room.id,
                seq: after_seq,
                messages: Vec::new(),
                resumed: true,
            });
        }
        Start::Resume { fallback_limit, .. } => fallback_limit,
        Start::Snapshot { limit } => limit,
    };
    Ok(Snapshot {
        room_id: room.id,
        seq: room.last_seq,
        messages: messages::history(tx, room.id, None, limit).await?,
        resumed: false,
    })
}

/// Marks the other member's unread messages read (with ids up to `up_to`
/// when given), oldest first; returns their events' kinds. The room must be
/// locked; its unread count follows (migrations/0009).
pub(super) async fn mark_read(
    tx: &deadpool_postgres::Transaction<'_>,
    room: &Room,
    reader: UserId,
    up_to: Option<MessageId>,
) -> Result<Vec<EventKind>, Error> {
    let update = tx
        .prepare_cached(&format!(
            "WITH m AS (
                 UPDATE messages SET status = 'read'
                 WHERE room_id = $1 AND sender_id = $2 AND status <> 'read' AND deleted_at IS NULL
                   AND id <= $3
                 RETURNING *
             )
             SELECT {} FROM m JOIN users u ON u.id = m.sender_id ORDER BY m.id",
            rows::MESSAGE_COLUMNS
        ))
        .await?;
    let sender = room.other_member(reader);
    let up_to = up_to.map_or(i64::MAX, MessageId::get);
    let read: Vec<Message> = tx
        .query(&update, &[&room.id.get(), &sender.get(), &up_to])
        .await?
        .iter()
        .map(rows::message)
        .collect::<Result<_, _>>()?;
    Ok(read
        .into_iter()
        .map(|message| EventKind::Read(message.with_status(MessageStatus::Read)))
        .collect())
}
