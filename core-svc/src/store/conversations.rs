//! Conversations: a user's rooms, most recent activity first, with what the
//! room list shows (kept on the room row by every write, migrations/0009,
//! so a page reads at most `limit` rooms however many the user has), and
//! explicit read marks.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{Store, events, rooms, rows, sessions, transaction_by};
use crate::{
    access,
    deadline::Deadline,
    domain::{Message, MessageId, RoomEvent, RoomId, User, UserId},
    error::Error,
};

/// A place in a user's room list: rooms after it are older, or as old with
/// a lower id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub activity_at: OffsetDateTime,
    pub room: RoomId,
}

/// One room of a user's list, as that user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub room_id: RoomId,
    /// The other member.
    pub peer: User,
    /// The newest message that is not deleted.
    pub last_message: Option<Message>,
    /// The peer's messages that are neither deleted nor read.
    pub unread_count: i64,
    pub last_seq: i64,
    pub created_at: OffsetDateTime,
    /// The newest message's `created_at`, or the room's while it has none.
    pub activity_at: OffsetDateTime,
}

/// One page of a user's room list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<ListCursor>,
}

/// The user's rooms older than `$2, $3` in list order, at most `$4`, each
/// side of the pair read from its own activity index.
const PAGE_QUERY: &str = "
    WITH mine AS (
        (SELECT r.id AS conv_room, r.user_hi AS conv_peer, r.unread_lo AS conv_unread,
                r.activity_at AS conv_activity, r.last_seq AS conv_last_seq,
                r.created_at AS conv_created, r.last_message_id
         FROM rooms r WHERE r.user_lo = $1 AND (r.activity_at, r.id) < ($2, $3)
         ORDER BY r.activity_at DESC, r.id DESC LIMIT $4)
        UNION ALL
        (SELECT r.id, r.user_lo, r.unread_hi, r.activity_at, r.last_seq, r.created_at,
                r.last_message_id
         FROM rooms r WHERE r.user_hi = $1 AND (r.activity_at, r.id) < ($2, $3)
         ORDER BY r.activity_at DESC, r.id DESC LIMIT $4)
        ORDER BY conv_activity DESC, conv_room DESC LIMIT $4
    )";

impl Store {
    /// Up to `limit` rooms of `user` after `before` (from the most recently
    /// active when `None`), most recent activity first, ties to the higher
    /// room id.
    pub async fn conversations(
        &self,
        user: UserId,
        before: Option<ListCursor>,
        limit: i64,
    ) -> Result<ConversationPage, Error> {
        let client = self.client().await?;
        page(&client, user, before, limit).await
    }

    /// Marks read every message of the other member in `room` that is not
    /// deleted and not yet read (only those up to `up_to` when given), and
    /// appends a `message_read` event for each, oldest first. The unread
    /// count follows in the same transaction (migrations/0009's trigger).
    /// Returns the room's latest `seq` after the marks, and their events.
    pub async fn mark_room_read(
        &self,
        room: RoomId,
        reader: UserId,
        up_to: Option<MessageId>,
        deadline: &Deadline,
    ) -> Result<(i64, Vec<RoomEvent>), Error> {
        let mut client = self.client_by(deadline).await?;
        let tx = transaction_by(&mut client, deadline).await?;
        let room = access::enter(rooms::lock_room(&tx, room).await?, reader)?;
        let read = sessions::mark_read(&tx, &room, reader, up_to).await?;
        let events = events::append(&tx, &room, read).await?;
        deadline.check()?;
        tx.commit().await?;
        Ok((room.last_seq + events.len() as i64, events))
    }
}

/// Up to `limit` rooms of `user` after `before`, as [`Store::conversations`]
/// answers, read on `client` (a transaction's snapshot, for the inbox).
pub(super) async fn page(
    client: &impl GenericClient,
    user: UserId,
    before: Option<ListCursor>,
    limit: i64,
) -> Result<ConversationPage, Error> {
    let select = client
        .prepare_cached(&format!(
            "{PAGE_QUERY}
             SELECT c.*, p.email AS peer_email, p.last_seen AS peer_last_seen,
                    EXISTS (SELECT 1 FROM room_sessions s WHERE s.user_id = p.id)
                        AS peer_online,
                    {}
             FROM mine c
             JOIN users p ON p.id = c.conv_peer
             LEFT JOIN messages m ON m.id = c.last_message_id
             LEFT JOIN users u ON u.id = m.sender_id
             ORDER BY c.conv_activity DESC, c.conv_room DESC",
            rows::MESSAGE_COLUMNS
        ))
        .await?;
    let (activity_at, room) = match before {
        Some(cursor) => (cursor.activity_at, cursor.room.get()),
        None => (far_future(), i64::MAX),
    };
    // One more than asked: whether it exists says if there is a next page.
    let rows = client
        .query(&select, &[&user.get(), &activity_at, &room, &(limit + 1)])
        .await?;
    let mut conversations = rows
        .iter()
        .map(conversation)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if conversations.len() as i64 > limit {
        conversations.truncate(limit as usize);
        conversations.last().map(|last| ListCursor {
            activity_at: last.activity_at,
            room: last.room_id,
        })
    } else {
        None
    };
    Ok(ConversationPage {
        conversations,
        next,
    })
}

/// Later than any activity: the start of the first page.
fn far_future() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59 UTC)
}

/// A conversation: the row has `mine`'s columns, the peer's and
/// [`rows::MESSAGE_COLUMNS`] (NULL without a last message).
fn conversation(row: &Row) -> Result<Conversation, Error> {
    let last_message = match row.try_get::<_, Option<i64>>("last_message_id")? {
        Some(_) => Some(rows::message(row)?),
        None => None,
    };
    Ok(Conversation {
        room_id: rows::id(row.try_get("conv_room")?, RoomId::parse)?,
        peer: User {
            id: rows::id(row.try_get("conv_peer")?, UserId::parse)?,
            email: row.try_get("peer_email")?,
            is_online: row.try_get("peer_online")?,
            last_seen: row.try_get("peer_last_seen")?,
        },
        last_message,
        unread_count: i64::from(row.try_get::<_, i32>("conv_unread")?),
        last_seq: row.try_get("conv_last_seq")?,
        created_at: row.try_get("conv_created")?,
        activity_at: row.try_get("conv_activity")?,
    })
}
