//! Presence changes and typing as the transactions that make them announce
//! them (migrations/0010), parsed for the [`LocalSignals`] of this process.

use time::OffsetDateTime;

use crate::domain::{Presence, RoomId, UserId};

/// This instance's subscribers, as the listener sees them: where presence
/// changes and forwarded `typing`s go. The fan-out's signals implement it.
pub trait LocalSignals: Send + Sync + 'static {
    /// Users went online or offline.
    fn presence(&self, changes: &[Presence]);

    /// `user` is typing in `room` (already throttled); `peer` is the room's
    /// other member when the announcement names them.
    fn typing(&self, room: RoomId, user: UserId, peer: Option<UserId>);

    /// Announcements may have been missed (the listener reconnected).
    fn resync(&self);
}

/// Both hear everything: the room streams' signals and the user streams'.
impl<A: LocalSignals, B: LocalSignals> LocalSignals for (A, B) {
    fn presence(&self, changes: &[Presence]) {
        self.0.presence(changes);
        self.1.presence(changes);
    }

    fn typing(&self, room: RoomId, user: UserId, peer: Option<UserId>) {
        self.0.typing(room, user, peer);
        self.1.typing(room, user, peer);
    }

    fn resync(&self) {
        self.0.resync();
        self.1.resync();
    }
}

/// A `chat_presence` payload: `<user>:<1|0>:<version>:<last_seen µs | ->`
/// items, space-separated; malformed items are skipped.
pub(super) fn parse_presence(payload: &str) -> Vec<Presence> {
    payload.split(' ').filter_map(presence_item).collect()
}

fn presence_item(item: &str) -> Option<Presence> {
    let mut fields = item.split(':');
    let user = UserId::parse(fields.next()?.parse().ok()?).ok()?;
    let is_online = match fields.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let version = fields.next()?.parse().ok()?;
    let last_seen = match fields.next()? {
        "-" => None,
        micros => {
            let micros: i128 = micros.parse().ok()?;
            Some(OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).ok()?)
        }
    };
    Some(Presence {
        user,
        is_online,
        last_seen,
        version,
    })
}

/// A typing announcement: who typed where, and the room's other member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Typed {
    pub room: RoomId,
    pub user: UserId,
    /// Named since migrations/0011; `None` in an older announcement.
    pub peer: Option<UserId>,
}

/// A `chat_typing` payload: `<room>:<user>`, or `<room>:<user>:<peer>`.
pub(super) fn parse_typing(payload: &str) -> Option<Typed> {
    let mut fields = payload.split(':');
    let id = |field: Option<&str>| field?.parse::<i64>().ok();
    let room = RoomId::parse(id(fields.next())?).ok()?;
    let user = UserId::parse(id(fields.next())?).ok()?;
    let peer = match fields.next() {
        None => None,
        Some(peer) => UserId::parse(id(Some(peer))?).ok(),
    };
    if fields.next().is_some() {
        return None;
    }
    Some(Typed { room, user, peer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_items_carry_their_state_version_and_last_seen() {
        let parsed = parse_presence("4:1:7:- 5:0:2:1700000000123456 x:1:1:- 6:2:1:-");
        assert_eq!(parsed.len(), 2, "malformed items are skipped");
        assert_eq!(parsed[0].user, UserId::parse(4).unwrap());
        assert!(parsed[0].is_online && parsed[0].last_seen.is_none());
        assert_eq!(parsed[0].version, 7);
        let last_seen = parsed[1].last_seen.expect("a last_seen");
        assert_eq!(last_seen.unix_timestamp_nanos(), 1_700_000_000_123_456_000);
        assert!(!parsed[1].is_online);
    }

    #[test]
    fn typing_names_a_room_and_a_user() {
        let typed = parse_typing("3:9").expect("valid");
        assert_eq!(
            (typed.room.get(), typed.user.get(), typed.peer),
            (3, 9, None)
        );
        assert!(parse_typing("3").is_none());
        assert!(parse_typing("a:9").is_none());
    }

    #[test]
    fn typing_may_name_the_peer_too_and_a_missing_room_names_none() {
        let typed = parse_typing("3:9:4").expect("valid");
        assert_eq!(typed.peer, UserId::parse(4).ok());
        assert_eq!(parse_typing("3:9:0").expect("valid").peer, None);
        assert!(parse_typing("3:9:x").is_none());
        assert!(parse_typing("3:9:4:1").is_none());
    }
}
