//! Sessions of the sockets an edge carries over its `EdgeLink`: kept under
//! the edge's id and the edge's id of the socket (migrations/0007), so that
//! a socket the edge names again after a broken link finds its row, on
//! whichever core, and its user never goes offline in between.

use uuid::Uuid;

use super::{Store, events, presence, rooms, sessions};
use crate::{
    access,
    domain::{Presence, RoomEvent, RoomId, Snapshot, UserId},
    error::Error,
    store::{SessionId, Start},
};

/// One socket of an edge, as its session row names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSocket {
    /// The edge's instance id: the row's `instance_id`.
    pub edge: Uuid,
    /// The edge's id of the socket.
    pub socket: u64,
    pub room: RoomId,
    pub user: UserId,
}

/// What registering an edge's socket produced.
#[derive(Debug)]
pub struct Registered {
    pub session: SessionId,
    /// With a start: the socket's snapshot, taken before its read receipts.
    pub snapshot: Option<Snapshot>,
    /// The read receipts the socket caused, already in the log.
    pub read_events: Vec<RoomEvent>,
    /// The room's latest sequence number before the receipts.
    pub last_seq: i64,
    /// The other member's presence as of the snapshot.
    pub peer: Presence,
}

impl Registered {
    /// The room's latest sequence number once the registration committed.
    pub fn head(&self) -> i64 {
        self.last_seq + self.read_events.len() as i64
    }
}

impl Store {
    /// Registers the session of an edge's socket, in one transaction under
    /// the room lock as [`Store::open_session`] does: the membership check,
    /// the snapshot when `start` asks for one, the read receipts, and the
    /// row, which is the socket's existing one if it has one (a socket named
    /// again after a broken link). A new row that is the user's first
    /// session announces them online; the other member's presence is read
    /// last.
    pub async fn register_edge_socket(
        &self,
        socket: &EdgeSocket,
        start: Option<Start>,
    ) -> Result<Registered, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let room = access::enter(rooms::lock_room(&tx, socket.room).await?, socket.user)?;
        let snapshot = match start {
            Some(start) => Some(sessions::take_snapshot(&tx, &room, start).await?),
            None => None,
        };
        let read = sessions::mark_read(&tx, &room, socket.user, None).await?;
        let read_events = events::append(&tx, &room, read).await?;
        // The user's row is locked, as in `open_session`.
        let upsert = tx
            .prepare_cached(
                "INSERT INTO room_sessions (room_id, user_id, instance_id, socket_id)
                 SELECT $1, u.id, $3, $4 FROM users u WHERE u.id = $2 FOR NO KEY UPDATE
                 ON CONFLICT (instance_id, socket_id) WHERE socket_id IS NOT NULL
                 DO UPDATE SET room_id = EXCLUDED.room_id, user_id = EXCLUDED.user_id
                 RETURNING id, (xmax = 0) AS inserted",
            )
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &room.id.get(),
            &socket.user.get(),
            &socket.edge,
            &column(socket.socket),
        ];
        let row = tx.query_one(&upsert, &params).await?;
        let session = row.try_get("id")?;
        if row.try_get("inserted")? {
            presence::session_opened(&tx, socket.user, session).await?;
        }
        let peer = presence::read(&tx, room.other_member(socket.user)).await?;
        tx.commit().await?;
        Ok(Registered {
            session: SessionId(session),
            snapshot,
            read_events,
            last_seq: room.last_seq,
            peer,
        })
    }

    /// Ends the sessions of an edge's sockets named by their ids, of those
    /// that have one (sockets that closed while their edge had no link), in
    /// one statement.
    pub async fn close_edge_sockets(&self, edge: Uuid, sockets: &[u64]) -> Result<(), Error> {
        let client = self.client().await?;
        let end = client
            .prepare_cached(
                "SELECT chat_end_sessions(ARRAY(
                     SELECT id FROM room_sessions
                     WHERE instance_id = $1 AND socket_id = ANY($2)
                 ))",
            )
            .await?;
        let sockets: Vec<i64> = sockets.iter().copied().map(column).collect();
        client.execute(&end, &[&edge, &sockets]).await?;
        Ok(())
    }

    /// Records that the instance `id` (an edge, on behalf of its link) is
    /// alive, so that its sessions are not reaped.
    pub async fn touch_instance(&self, id: Uuid) -> Result<(), Error> {
        let client = self.client().await?;
        let beat = client
            .prepare_cached(
                "INSERT INTO core_instances (id) VALUES ($1)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            )
            .await?;
        client.execute(&beat, &[&id]).await?;
        Ok(())
    }
}

/// A socket id as its `BIGINT` column holds it: the same 64 bits.
fn column(socket: u64) -> i64 {
    i64::from_ne_bytes(socket.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_socket_id_has_its_own_column_value() {
        assert_eq!(column(0), 0);
        assert_eq!(column(7), 7);
        assert_eq!(column(u64::MAX), -1);
        assert_ne!(column(u64::MAX), column(u64::MAX - 1));
    }
}
