//! A user stream's reads (`InboxService.Stream`): its session, the inbox
//! snapshot, whether a cursor can still be replayed, and who shares a room
//! with whom (for presence).

use deadpool_postgres::GenericClient;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::{
    ConversationPage, SessionId, Store, conversations,
    feed::{label, unlabel},
    presence, rows,
};
use crate::{
    domain::{RoomId, UserId},
    error::Error,
};

/// How far below the horizon (in transaction ids) a cursor may lie and
/// still be replayed; further back gets a fresh inbox. A catch-up reads at
/// most this stretch of the log.
pub const MAX_CURSOR_LAG: u64 = 1 << 18;

/// The first page of a user's room list and where the stream starts.
#[derive(Debug, Clone)]
pub struct InboxSnapshot {
    pub page: ConversationPage,
    /// Every item with a label below this is in the page (or older).
    pub horizon: u64,
    /// Rooms of the page whose latest event (or creation) has a label at or
    /// above the horizon, with their `last_seq` in the page: the feed from
    /// the horizon on carries those events again.
    pub skip: Vec<(RoomId, i64)>,
}

/// The rooms of `$1` whose last event, or their creation while they have
/// none, is labelled at or above `$2`.
const SKIP_QUERY: &str = "SELECT r.id, r.last_seq FROM rooms r
     LEFT JOIN room_events e ON e.room_id = r.id AND e.seq = r.last_seq
     WHERE r.id = ANY($1) AND coalesce(e.tx, r.tx) >= $2::bigint::text::xid8
     ORDER BY r.id";

impl Store {
    /// Records a user stream's session (a row with no room): the user is
    /// online, and a reader of no room. Their first session announces them.
    pub async fn open_user_session(
        &self,
        user: UserId,
        instance: Uuid,
    ) -> Result<SessionId, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO room_sessions (room_id, user_id, instance_id)
                 SELECT NULL, u.id, $2 FROM users u WHERE u.id = $1 FOR NO KEY UPDATE
                 RETURNING id",
            )
            .await?;
        let row = tx.query_one(&insert, &[&user.get(), &instance]).await?;
        let session = row.try_get("id")?;
        presence::session_opened(&tx, user, session).await?;
        tx.commit().await?;
        Ok(SessionId(session))
    }

    /// The first `limit` rooms of `user`'s list, the horizon and the skip
    /// set, all from one snapshot.
    pub async fn inbox_snapshot(&self, user: UserId, limit: i64) -> Result<InboxSnapshot, Error> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let horizon = horizon(&tx).await?;
        let page = conversations::page(&tx, user, None, limit).await?;
        let rooms: Vec<i64> = page.conversations.iter().map(|c| c.room_id.get()).collect();
        let select = tx.prepare_cached(SKIP_QUERY).await?;
        let skip = tx
            .query(&select, &[&rooms, &label(horizon)])
            .await?
            .iter()
            .map(|row| {
                Ok((
                    rows::id(row.try_get("id")?, RoomId::parse)?,
                    row.try_get("last_seq")?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        tx.commit().await?;
        Ok(InboxSnapshot {
            page,
            horizon,
            skip,
        })
    }

    /// Whether a stream may resume at label `tx`: not above any transaction
    /// id handed out yet, and at most [`MAX_CURSOR_LAG`] below the horizon.
    pub async fn can_replay(&self, tx: u64) -> Result<bool, Error> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin,
                        pg_snapshot_xmax(s)::text::bigint AS xmax
                 FROM pg_current_snapshot() s",
                &[],
            )
            .await?;
        let xmin = unlabel(row.try_get("xmin")?)?;
        let xmax = unlabel(row.try_get("xmax")?)?;
        Ok(replayable(tx, xmin, xmax))
    }

    /// Each of `users` paired with every user they share a room with.
    pub async fn peers_of(&self, users: &[UserId]) -> Result<Vec<(UserId, UserId)>, Error> {
        let ids: Vec<i64> = users.iter().map(|user| user.get()).collect();
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT r.user_lo AS member, r.user_hi AS peer FROM rooms r
                 WHERE r.user_lo = ANY($1)
                 UNION
                 SELECT r.user_hi, r.user_lo FROM rooms r WHERE r.user_hi = ANY($1)",
            )
            .await?;
        client
            .query(&select, &[&ids])
            .await?
            .iter()
            .map(|row| {
                Ok((
                    rows::id(row.try_get("member")?, UserId::parse)?,
                    rows::id(row.try_get("peer")?, UserId::parse)?,
                ))
            })
            .collect()
    }
}

/// The horizon of the transaction's snapshot.
async fn horizon(client: &impl GenericClient) -> Result<u64, Error> {
    let row = client
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon",
            &[],
        )
        .await?;
    unlabel(row.try_get("horizon")?)
}

/// Whether label `tx` can be replayed from a snapshot with this `xmin` (the
/// horizon) and `xmax`.
fn replayable(tx: u64, xmin: u64, xmax: u64) -> bool {
    tx <= xmax && tx.saturating_add(MAX_CURSOR_LAG) >= xmin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_replayed_from_the_lag_limit_below_the_horizon_up_to_the_newest_id() {
        let (xmin, xmax) = (1_000_000, 1_000_010);
        assert!(replayable(xmin, xmin, xmax));
        assert!(replayable(xmax, xmin, xmax));
        assert!(
            !replayable(xmax + 1, xmin, xmax),
            "ahead of every id handed out"
        );
        assert!(replayable(xmin - MAX_CURSOR_LAG, xmin, xmax));
        assert!(
            !replayable(xmin - MAX_CURSOR_LAG - 1, xmin, xmax),
            "too far behind"
        );
        assert!(
            replayable(0, 5, 10),
            "a young cluster replays from the start"
        );
    }
}
