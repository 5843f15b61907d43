//! The event feed's reads: every room event and room creation, in the order
//! of their labels (`tx`, the writing transaction's id or more, see
//! `migrations/0006` and `0008`), never past the horizon below which every
//! transaction has ended.

use time::OffsetDateTime;

use super::{Store, rows};
use crate::{
    domain::{Room, RoomEvent, RoomId, UserId},
    error::Error,
};

/// A place in the feed: the writing transaction's label, then the room and
/// the event's `seq` (0 for the room's creation). Items are in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    pub tx: u64,
    pub room: i64,
    pub seq: i64,
}

impl FeedPosition {
    /// Before every item whose label is `tx` or more.
    pub fn before_tx(tx: u64) -> Self {
        Self {
            tx,
            room: 0,
            seq: 0,
        }
    }
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
    /// The room's members, lower id first.
    pub members: [UserId; 2],
    /// Each member's unread count in the room (in the order of `members`),
    /// read in the snapshot that read the item: at least as new as it.
    pub unread: [i64; 2],
}

impl FeedItem {
    /// The unread count of `user` in the item's room; 0 for a non-member.
    pub fn unread_of(&self, user: UserId) -> i64 {
        match self.members.iter().position(|member| *member == user) {
            Some(index) => self.unread[index],
            None => 0,
        }
    }
}

/// Whose items a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFilter {
    /// The rooms of a partition.
    Partition(Partition),
    /// The rooms that `UserId` is a member of.
    Member(UserId),
}

/// One read of the feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// Oldest first.
    pub items: Vec<FeedItem>,
    /// Unless `items` is full, it holds every item after the read's start
    /// with a label below this: the horizon, or the end of the span read.
    pub scanned_to: u64,
    /// The horizon when read: every transaction below it had ended.
    pub horizon: u64,
    /// Whether transactions above the horizon have ended: their items, if
    /// they wrote any, wait for an older transaction to end, which may
    /// announce nothing (it wrote no events: a heartbeat, an `ANALYZE`,
    /// another database's transaction).
    pub held_back: bool,
}

impl FeedPage {
    /// Whether everything below the horizon was read.
    pub fn reached_horizon(&self) -> bool {
        self.scanned_to >= self.horizon
    }
}

/// What the member variant of [`PAGE_QUERY`] adds to its two key scans.
const MEMBER_EVENTS: &str = "
            AND e.room_id IN (SELECT m.id FROM rooms m WHERE m.user_lo = $8 OR m.user_hi = $8)";
const MEMBER_ROOMS: &str = "
            AND (r.user_lo = $8 OR r.user_hi = $8)";

/// The query of [`Store::feed_page`]. Labels are compared as bigints
/// (`tx::text::bigint`), the expression of the BRIN index on room_events:
/// it finds the block ranges of the span [$1, end) and the rows are sorted
/// here. Everything comes from one snapshot, whose running transactions
/// also tell whether ended ones wait above the horizon. `$7` bounds the span, so that a consumer far behind reads a
/// bounded part of the table per page. The member variant keeps only the
/// rooms of user `$8` (a user stream catching up): its own text, so that the
/// plan of the unfiltered feed stays as it was.
const PAGE_QUERY: &str = "WITH bound AS MATERIALIZED (
         SELECT h, least(h, $1 + least($7, 9223372036854775807 - $1)) AS upto,
                pg_snapshot_xmax(s)::text::bigint - h
                    > (SELECT count(*) FROM pg_snapshot_xip(s)) AS held_back
         FROM (SELECT s, pg_snapshot_xmin(s)::text::bigint AS h
               FROM (SELECT pg_current_snapshot() AS s) now) horizon
     ), keys AS (
         (SELECT e.tx::text::bigint AS tx, e.room_id, e.seq FROM room_events e
          WHERE e.tx::text::bigint >= $1 AND e.tx::text::bigint < (SELECT upto FROM bound)
            AND (e.tx::text::bigint, e.room_id, e.seq) > ($1, $2, $3)
            AND ($4::bigint = 0 OR e.room_id % $4 = $5){member_events}
          ORDER BY 1, 2, 3 LIMIT $6)
         UNION ALL
         (SELECT r.tx::text::bigint, r.id, 0::bigint FROM rooms r
          WHERE r.tx >= $1::text::xid8 AND r.tx < (SELECT upto FROM bound)::text::xid8
            AND (r.tx::text::bigint, r.id) > ($1, $2)
            AND ($4::bigint = 0 OR r.id % $4 = $5){member_rooms}
          ORDER BY 1, 2 LIMIT $6)
     ), page AS (
         SELECT e.seq, e.kind, e.occurred_at, {message},
                k.tx AS feed_tx, k.room_id AS feed_room, k.seq AS feed_seq,
                r.user_lo AS feed_user_lo, r.user_hi AS feed_user_hi,
                r.unread_lo AS feed_unread_lo, r.unread_hi AS feed_unread_hi,
                r.created_at AS feed_created_at
         FROM keys k
         JOIN rooms r ON r.id = k.room_id
         LEFT JOIN room_events e ON e.room_id = k.room_id AND e.seq = k.seq
         LEFT JOIN messages m ON m.id = e.message_id
         LEFT JOIN users u ON u.id = m.sender_id
         ORDER BY k.tx, k.room_id, k.seq
         LIMIT $6
     )
     SELECT page.*, b.h AS feed_horizon, b.upto AS feed_upto, b.held_back AS feed_held_back
     FROM bound b LEFT JOIN page ON true
     ORDER BY page.feed_tx, page.feed_room, page.feed_seq";

impl Store {
    /// Up to `limit` items after `after` that pass `filter`, with labels
    /// below this statement's horizon and below `after.tx + span`: once
    /// read, nothing can appear before the last of them any more.
    pub async fn feed_page(
        &self,
        after: FeedPosition,
        filter: FeedFilter,
        limit: i64,
        span: u64,
    ) -> Result<FeedPage, Error> {
        let (partition, member, events, rooms) = match filter {
            FeedFilter::Partition(partition) => (partition, 0, "", ""),
            FeedFilter::Member(user) => (Partition::ALL, user.get(), MEMBER_EVENTS, MEMBER_ROOMS),
        };
        let query = PAGE_QUERY
            .replace("{message}", rows::MESSAGE_COLUMNS)
            .replace("{member_events}", events)
            .replace("{member_rooms}", rooms);
        let client = self.client().await?;
        let select = client.prepare_cached(&query).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &label(after.tx),
            &after.room,
            &after.seq,
            &i64::from(partition.count),
            &i64::from(partition.index),
            &limit,
            &label(span),
            &member,
        ];
        let used = if member == 0 { 7 } else { 8 };
        let rows = client.query(&select, &params[..used]).await?;
        let Some(first) = rows.first() else {
            return Err(Error::Internal("the feed's read answered no row".into()));
        };
        let mut page = FeedPage {
            items: Vec::with_capacity(rows.len()),
            scanned_to: unlabel(first.try_get("feed_upto")?)?,
            horizon: unlabel(first.try_get("feed_horizon")?)?,
            held_back: first.try_get("feed_held_back")?,
        };
        for row in &rows {
            if let Some(item) = feed_item(row)? {
                page.items.push(item);
            }
        }
        Ok(page)
    }

    /// The position after everything below the current horizon.
    pub async fn feed_end(&self) -> Result<FeedPosition, Error> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon",
                &[],
            )
            .await?;
        Ok(FeedPosition::before_tx(unlabel(row.try_get("horizon")?)?))
    }
}

/// A label as PostgreSQL compares it; ids of 2^63 and more (which 64-bit
/// transaction ids do not reach) read as the largest.
pub(super) fn label(tx: u64) -> i64 {
    i64::try_from(tx).unwrap_or(i64::MAX)
}

pub(super) fn unlabel(raw: i64) -> Result<u64, Error> {
    u64::try_from(raw)
        .map_err(|_| Error::Internal(format!("transaction id {raw} is negative").into()))
}

/// The item of a row; `None` for the row of an empty page.
fn feed_item(row: &tokio_postgres::Row) -> Result<Option<FeedItem>, Error> {
    let Some(tx) = row.try_get::<_, Option<i64>>("feed_tx")? else {
        return Ok(None);
    };
    let position = FeedPosition {
        tx: unlabel(tx)?,
        room: row.try_get("feed_room")?,
        seq: row.try_get("feed_seq")?,
    };
    let members = [
        rows::id(row.try_get("feed_user_lo")?, UserId::parse)?,
        rows::id(row.try_get("feed_user_hi")?, UserId::parse)?,
    ];
    let kind = if position.seq == 0 {
        FeedKind::RoomCreated {
            room: Room {
                id: rows::id(position.room, RoomId::parse)?,
                members,
                last_seq: 0,
            },
            created_at: row.try_get("feed_created_at")?,
        }
    } else {
        FeedKind::Event(rows::event(row)?)
    };
    let unread = [
        i64::from(row.try_get::<_, i32>("feed_unread_lo")?),
        i64::from(row.try_get::<_, i32>("feed_unread_hi")?),
    ];
    Ok(Some(FeedItem {
        position,
        kind,
        members,
        unread,
    }))
}
