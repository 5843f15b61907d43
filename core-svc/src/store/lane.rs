//! The one read of the user streams' fast lane (`inbox::lane`): after a
//! commit, where the committed events stand in the event feed, and the
//! room's members and their unread counts now.

use super::{
    Store,
    feed::{FeedPosition, unlabel},
    rows,
};
use crate::{
    domain::{RoomId, UserId},
    error::Error,
};

/// A room's place in the feed around some of its events, read after they
/// committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRead {
    /// The room's members, lower id first.
    pub members: [UserId; 2],
    /// Each member's unread count now (in the order of `members`).
    pub unread: [i64; 2],
    /// The feed position of the event before the first one asked for (of
    /// the room's creation when that is the room's first event).
    pub previous: FeedPosition,
    /// The labels of the events asked for, in `seq` order, from the first.
    pub labels: Vec<u64>,
}

/// Labels of the events `$2 - 1 ..= $3` of room `$1` (`$2 - 1` is 0, the
/// room's creation, for a first event), with the room's members and counts.
const LANE_QUERY: &str = "SELECT r.user_lo, r.user_hi, r.unread_lo, r.unread_hi,
            r.tx::text::bigint AS room_label,
            ARRAY(SELECT e.seq FROM room_events e
                  WHERE e.room_id = r.id AND e.seq >= $2::bigint - 1 AND e.seq <= $3::bigint
                  ORDER BY e.seq) AS seqs,
            ARRAY(SELECT e.tx::text::bigint FROM room_events e
                  WHERE e.room_id = r.id AND e.seq >= $2::bigint - 1 AND e.seq <= $3::bigint
                  ORDER BY e.seq) AS labels
     FROM rooms r WHERE r.id = $1";

impl Store {
    /// Where the committed events `first..=last` of `room` stand in the
    /// feed; `None` when the room or one of them is not (yet) visible.
    pub async fn lane_read(
        &self,
        room: RoomId,
        first: i64,
        last: i64,
    ) -> Result<Option<LaneRead>, Error> {
        let client = self.client().await?;
        let select = client.prepare_cached(LANE_QUERY).await?;
        let Some(row) = client
            .query_opt(&select, &[&room.get(), &first, &last])
            .await?
        else {
            return Ok(None);
        };
        let members = [
            rows::id(row.try_get("user_lo")?, UserId::parse)?,
            rows::id(row.try_get("user_hi")?, UserId::parse)?,
        ];
        let unread = [
            i64::from(row.try_get::<_, i32>("unread_lo")?),
            i64::from(row.try_get::<_, i32>("unread_hi")?),
        ];
        let seqs: Vec<i64> = row.try_get("seqs")?;
        let labels = row
            .try_get::<_, Vec<i64>>("labels")?
            .into_iter()
            .map(unlabel)
            .collect::<Result<Vec<u64>, Error>>()?;
        let (previous, from) = match (first, seqs.first(), labels.first()) {
            (1, _, _) => (unlabel(row.try_get("room_label")?)?, 0),
            (_, Some(seq), Some(label)) if *seq == first - 1 => (*label, 1),
            _ => return Ok(None),
        };
        if !seqs[from..].iter().copied().eq(first..=last) {
            return Ok(None);
        }
        let previous = FeedPosition {
            tx: previous,
            room: room.get(),
            seq: first - 1,
        };
        let labels = labels[from..].to_vec();
        Ok(Some(LaneRead {
            members,
            unread,
            previous,
            labels,
        }))
    }
}
