//! The event feed's reads: every room event and room creation, in the order
//! of the transactions that wrote them, never past the horizon below which
//! every transaction has ended (see `migrations/0006`).

use time::OffsetDateTime;

use super::{Store, rows};
use crate::{
    domain::{Room, RoomEvent, RoomId, UserId},
    error::Error,
};

/// A place in the feed: the writing transaction's id, then the room and the
/// event's `seq` (0 for the room's creation). Items are in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    pub tx: u64,
    pub room: i64,
    pub seq: i64,
}

/// Which rooms a stream carries: those with `room_id % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// 0: every room.
    pub count: u32,
    pub index: u32,
}

impl Partition {
    /// Every room.
    pub const ALL: Self = Self { count: 0, index: 0 };
}

/// What a feed item says happened.
#[derive(Debug, Clone)]
pub enum FeedKind {
    Event(RoomEvent),
    RoomCreated {
        room: Room,
        created_at: OffsetDateTime,
    },
}

/// One item of the feed and its position.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub position: FeedPosition,
    pub kind: FeedKind,
}

impl Store {
    /// Up to `limit` items after `after` in `partition`, oldest first, all
    /// from transactions below this statement's horizon: once read, nothing
    /// can appear before the last of them any more.
    pub async fn feed_page(
        &self,
        after: FeedPosition,
        partition: Partition,
        limit: i64,
    ) -> Result<Vec<FeedItem>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "WITH horizon AS MATERIALIZED (
                     SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h
                 ), keys AS (
                     (SELECT e.tx, e.room_id, e.seq FROM room_events e
                      WHERE (e.tx, e.room_id, e.seq) > ($1::text::xid8, $2, $3)
                        AND e.tx < (SELECT h FROM horizon)
                        AND ($4::bigint = 0 OR e.room_id % $4 = $5)
                      ORDER BY e.tx, e.room_id, e.seq LIMIT $6)
                     UNION ALL
                     (SELECT r.tx, r.id, 0::bigint FROM rooms r
                      WHERE (r.tx, r.id) > ($1::text::xid8, $2)
                        AND r.tx < (SELECT h FROM horizon)
                        AND ($4::bigint = 0 OR r.id % $4 = $5)
                      ORDER BY r.tx, r.id LIMIT $6)
                 )
                 SELECT e.seq, e.kind, e.occurred_at, {},
                        k.tx::text AS feed_tx, k.room_id AS feed_room, k.seq AS feed_seq,
                        r.user_lo AS feed_user_lo, r.user_hi AS feed_user_hi,
                        r.created_at AS feed_created_at
                 FROM keys k
                 JOIN rooms r ON r.id = k.room_id
                 LEFT JOIN room_events e ON e.room_id = k.room_id AND e.seq = k.seq
                 LEFT JOIN messages m ON m.id = e.message_id
                 LEFT JOIN users u ON u.id = m.sender_id
                 ORDER BY k.tx, k.room_id, k.seq
                 LIMIT $6",
                rows::MESSAGE_COLUMNS
            ))
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &after.tx.to_string(),
            &after.room,
            &after.seq,
            &i64::from(partition.count),
            &i64::from(partition.index),
            &limit,
        ];
        client
            .query(&select, &params)
            .await?
            .iter()
            .map(feed_item)
            .collect()
    }

    /// The position after everything below the current horizon.
    pub async fn feed_end(&self) -> Result<FeedPosition, Error> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon",
                &[],
            )
            .await?;
        Ok(FeedPosition {
            tx: parse_tx(row.try_get("horizon")?)?,
            room: 0,
            seq: 0,
        })
    }
}

fn feed_item(row: &tokio_postgres::Row) -> Result<FeedItem, Error> {
    let position = FeedPosition {
        tx: parse_tx(row.try_get("feed_tx")?)?,
        room: row.try_get("feed_room")?,
        seq: row.try_get("feed_seq")?,
    };
    let kind = if position.seq == 0 {
        FeedKind::RoomCreated {
            room: Room {
                id: rows::id(position.room, RoomId::parse)?,
                members: [
                    rows::id(row.try_get("feed_user_lo")?, UserId::parse)?,
                    rows::id(row.try_get("feed_user_hi")?, UserId::parse)?,
                ],
                last_seq: 0,
            },
            created_at: row.try_get("feed_created_at")?,
        }
    } else {
        FeedKind::Event(rows::event(row)?)
    };
    Ok(FeedItem { position, kind })
}

fn parse_tx(raw: &str) -> Result<u64, Error> {
    raw.parse()
        .map_err(|_| Error::Internal(format!("transaction id {raw:?} is not a number").into()))
}
