//! A user stream's position: a place in the event feed, and the rooms whose
//! events above it the client already has up to some `seq` (they were in
//! the inbox snapshot, or came on the fast lane before the feed reached
//! them). On the wire it is an opaque string,
//! `u1.<tx>.<room>.<seq>[.<room>-<seq>…]`.

use std::collections::BTreeMap;

use crate::{domain::InvalidInput, store::FeedPosition};

/// Rooms a skip set holds at most: a cursor with more was not made here,
/// and a full one takes no fast-lane event of a room it does not hold.
pub const MAX_SKIPPED: usize = 100;

/// Where a user stream is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Every item up to here was delivered (or is older than the stream).
    pub position: FeedPosition,
    /// Room → `seq`: the room's items with that `seq` or lower were
    /// delivered already, even those after `position`.
    skip: BTreeMap<i64, i64>,
}

/// What the stream does with an item after its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New to the client: send it.
    Send,
    /// The client has it already.
    Skip,
}

impl Cursor {
    /// At `position`, with the client holding `skip`'s rooms up to their `seq`.
    pub fn new(position: FeedPosition, skip: impl IntoIterator<Item = (i64, i64)>) -> Self {
        Self {
            position,
            skip: skip.into_iter().collect(),
        }
    }

    /// Whether the item at `at` is behind this cursor (delivered before).
    pub fn passed(&self, at: FeedPosition) -> bool {
        at <= self.position
    }

    /// Moves past the item at `at` (which must be after the position) and
    /// says whether to send it. A skip entry goes once its room's item at
    /// or above its `seq` went by.
    pub fn advance(&mut self, at: FeedPosition) -> Verdict {
        self.position = at;
        let Some(&upto) = self.skip.get(&at.room) else {
            return Verdict::Send;
        };
        if at.seq >= upto {
            self.skip.remove(&at.room);
        }
        if at.seq <= upto {
            Verdict::Skip
        } else {
            Verdict::Send
        }
    }

    /// Whether to send now, ahead of the feed, the event at `at` whose
    /// room's previous event (or creation) is at `previous`; a sent one
    /// joins the skip set, so that the feed's copy is skipped. Sent only
    /// when the client has the room exactly up to the event before: its
    /// skip entry says so, or (with no entry) the position passed that
    /// event. Anything else is left to the feed, which brings it in order.
    pub fn fast(&mut self, at: FeedPosition, previous: FeedPosition) -> Verdict {
        if self.passed(at) {
            return Verdict::Skip;
        }
        let contiguous = match self.skip.get(&at.room) {
            Some(&upto) => upto == at.seq - 1,
            None => self.passed(previous) && self.skip.len() < MAX_SKIPPED,
        };
        if !contiguous {
            return Verdict::Skip;
        }
        self.skip.insert(at.room, at.seq);
        Verdict::Send
    }

    /// Moves the position on to `to` without an item (nothing between was
    /// for this stream).
    pub fn move_to(&mut self, to: FeedPosition) {
        self.position = self.position.max(to);
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        let FeedPosition { tx, room, seq } = self.position;
        let mut raw = format!("u1.{tx}.{room}.{seq}");
        for (room, seq) in &self.skip {
            raw.push_str(&format!(".{room}-{seq}"));
        }
        raw
    }

    /// The inverse of [`Cursor::encode`]; anything it could not have made
    /// is refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        const INVALID: InvalidInput = InvalidInput("not a cursor of this stream");
        let mut parts = raw.split('.');
        if parts.next() != Some("u1") {
            return Err(INVALID);
        }
        let mut number = || parts.next().and_then(|part| part.parse::<u64>().ok());
        let (Some(tx), Some(room), Some(seq)) = (number(), number(), number()) else {
            return Err(INVALID);
        };
        let position = FeedPosition {
            tx,
            room: i64::try_from(room).map_err(|_| INVALID)?,
            seq: i64::try_from(seq).map_err(|_| INVALID)?,
        };
        let mut skip = BTreeMap::new();
        for entry in parts {
            let (room, seq) = entry.split_once('-').ok_or(INVALID)?;
            let room = room.parse::<i64>().ok().filter(|room| *room > 0);
            let seq = seq.parse::<i64>().ok().filter(|seq| *seq >= 0);
            let (Some(room), Some(seq)) = (room, seq) else {
                return Err(INVALID);
            };
            skip.insert(room, seq);
        }
        let cursor = Self { position, skip };
        if cursor.skip.len() > MAX_SKIPPED || cursor.encode() != raw {
            return Err(INVALID);
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tx: u64, room: i64, seq: i64) -> FeedPosition {
        FeedPosition { tx, room, seq }
    }

    #[test]
    fn cursors_round_trip_with_their_skip_set() {
        let cursor = Cursor::new(at(900, 0, 0), [(7, 3), (2, 0)]);
        let raw = cursor.encode();
        assert_eq!(raw, "u1.900.0.0.2-0.7-3");
        assert_eq!(Cursor::parse(&raw), Ok(cursor));
        let plain = Cursor::new(at(u64::MAX, 4, 9), []);
        assert_eq!(Cursor::parse(&plain.encode()), Ok(plain));
    }

    #[test]
    fn strings_no_stream_made_are_not_cursors() {
        for raw in [
            "",
            "x",
            "v1.1.2.3",
            "u1.1.2",
            "u1.-1.2.3",
            "u1.1.2.3.4",
            "u1.1.2.3.0-1",
            "u1.1.2.3.4--1",
            "u1.1.2.3.7-3.2-0",
            "u1.01.2.3",
            "u1.1.2.3.",
        ] {
            assert!(Cursor::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_skipped_room_is_skipped_up_to_its_seq_then_forgotten() {
        let mut cursor = Cursor::new(at(100, 0, 0), [(5, 2)]);
        assert_eq!(cursor.advance(at(100, 5, 1)), Verdict::Skip);
        assert_eq!(cursor.advance(at(101, 6, 1)), Verdict::Send);
        assert_eq!(cursor.encode(), "u1.101.6.1.5-2");
        assert_eq!(cursor.advance(at(102, 5, 2)), Verdict::Skip);
        assert_eq!(cursor.encode(), "u1.102.5.2", "the entry is gone");
        assert_eq!(cursor.advance(at(103, 5, 3)), Verdict::Send);
    }

    #[test]
    fn a_room_past_its_skip_entry_is_sent_and_forgets_it() {
        let mut cursor = Cursor::new(at(100, 0, 0), [(5, 2)]);
        assert_eq!(cursor.advance(at(104, 5, 3)), Verdict::Send);
        assert_eq!(cursor.encode(), "u1.104.5.3");
    }

    #[test]
    fn a_fast_event_right_after_what_the_client_has_is_sent_once() {
        let mut cursor = Cursor::new(at(100, 0, 0), []);
        assert_eq!(cursor.fast(at(120, 5, 3), at(90, 5, 2)), Verdict::Send);
        assert_eq!(cursor.encode(), "u1.100.0.0.5-3");
        assert_eq!(cursor.fast(at(120, 5, 3), at(90, 5, 2)), Verdict::Skip);
        assert_eq!(cursor.fast(at(121, 5, 4), at(120, 5, 3)), Verdict::Send);
        assert_eq!(cursor.encode(), "u1.100.0.0.5-4");
    }

    #[test]
    fn a_fast_event_after_a_gap_is_left_to_the_feed() {
        let mut cursor = Cursor::new(at(100, 0, 0), [(5, 2)]);
        assert_eq!(cursor.fast(at(120, 5, 4), at(110, 5, 3)), Verdict::Skip);
        let mut plain = Cursor::new(at(100, 0, 0), []);
        assert_eq!(
            plain.fast(at(120, 6, 4), at(110, 6, 3)),
            Verdict::Skip,
            "the position has not passed the event before"
        );
        assert_eq!(plain.encode(), "u1.100.0.0");
        assert_eq!(cursor.encode(), "u1.100.0.0.5-2");
    }

    #[test]
    fn a_fast_event_the_client_has_is_skipped() {
        let mut cursor = Cursor::new(at(100, 0, 0), [(5, 4)]);
        assert_eq!(cursor.fast(at(120, 5, 3), at(110, 5, 2)), Verdict::Skip);
        assert_eq!(cursor.fast(at(120, 5, 4), at(110, 5, 3)), Verdict::Skip);
        assert_eq!(
            cursor.fast(at(99, 6, 1), at(98, 6, 0)),
            Verdict::Skip,
            "the position passed it"
        );
        assert_eq!(cursor.encode(), "u1.100.0.0.5-4");
    }

    #[test]
    fn the_feeds_copy_of_a_fast_event_is_skipped_and_forgets_the_entry() {
        let mut cursor = Cursor::new(at(100, 0, 0), []);
        assert_eq!(cursor.fast(at(120, 5, 1), at(90, 5, 0)), Verdict::Send);
        assert_eq!(cursor.fast(at(120, 5, 2), at(120, 5, 1)), Verdict::Send);
        assert_eq!(cursor.advance(at(110, 7, 1)), Verdict::Send);
        assert_eq!(cursor.advance(at(120, 5, 1)), Verdict::Skip);
        assert_eq!(cursor.encode(), "u1.120.5.1.5-2");
        assert_eq!(cursor.advance(at(120, 5, 2)), Verdict::Skip);
        assert_eq!(cursor.encode(), "u1.120.5.2", "the entry is gone");
        assert_eq!(cursor.advance(at(130, 5, 3)), Verdict::Send);
        assert_eq!(cursor.fast(at(130, 5, 3), at(120, 5, 2)), Verdict::Skip);
        assert_eq!(cursor.fast(at(140, 5, 4), at(130, 5, 3)), Verdict::Send);
    }

    #[test]
    fn a_full_skip_set_takes_fast_events_only_of_rooms_it_holds() {
        let full = (1..=MAX_SKIPPED as i64).map(|room| (room, 1));
        let mut cursor = Cursor::new(at(100, 0, 0), full);
        let room = MAX_SKIPPED as i64 + 1;
        assert_eq!(
            cursor.fast(at(120, room, 1), at(90, room, 0)),
            Verdict::Skip
        );
        assert_eq!(cursor.fast(at(120, 1, 2), at(90, 1, 1)), Verdict::Send);
        assert!(Cursor::parse(&cursor.encode()).is_ok());
    }

    #[test]
    fn cursors_with_fast_lane_entries_round_trip() {
        let mut cursor = Cursor::new(at(100, 0, 0), [(2, 7)]);
        assert_eq!(cursor.fast(at(120, 9, 1), at(90, 9, 0)), Verdict::Send);
        assert_eq!(cursor.fast(at(121, 2, 8), at(95, 2, 7)), Verdict::Send);
        let raw = cursor.encode();
        assert_eq!(raw, "u1.100.0.0.2-8.9-1");
        assert_eq!(Cursor::parse(&raw), Ok(cursor));
    }

    #[test]
    fn items_at_or_before_the_position_are_passed_and_moving_never_goes_back() {
        let mut cursor = Cursor::new(at(100, 3, 4), []);
        assert!(cursor.passed(at(100, 3, 4)));
        assert!(cursor.passed(at(99, 9, 9)));
        assert!(!cursor.passed(at(100, 3, 5)));
        cursor.move_to(at(50, 0, 0));
        assert_eq!(cursor.position, at(100, 3, 4));
        cursor.move_to(FeedPosition::before_tx(200));
        assert_eq!(cursor.position, at(200, 0, 0));
    }
}
