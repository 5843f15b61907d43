//! The `typing` throttle: at most one `typing` per user and room every
//! [`TYPING_EVERY`], across instances. The database decides (`chat_typing`,
//! migrations/0010, which also announces a forwarded one to every
//! instance); this process first drops what it forwarded itself within the
//! interval, so a user typing fast costs at most one query per interval.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

use crate::{
    domain::{RoomId, UserId},
    error::Error,
    store::Store,
};

/// At most one `typing` per user and room is forwarded in this interval.
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Entries kept before the old ones are swept out.
const SWEEP_ABOVE: usize = 4_096;

/// The throttle; cheap to clone.
#[derive(Clone, Default)]
pub struct Typing {
    /// When this process last asked the database for each user and room.
    recent: Arc<Mutex<HashMap<(RoomId, UserId), Instant>>>,
}

impl Typing {
    /// Forwards a `typing` of `user` (a member) in `room` unless one was
    /// forwarded within [`TYPING_EVERY`]; true when it was.
    pub async fn typed(&self, store: &Store, room: RoomId, user: UserId) -> Result<bool, Error> {
        if !self.admit(room, user, Instant::now()) {
            return Ok(false);
        }
        store.typing(room, user, TYPING_EVERY).await
    }

    /// Whether this process may ask the database at `now`.
    fn admit(&self, room: RoomId, user: UserId, now: Instant) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() > SWEEP_ABOVE {
            recent.retain(|_, at| now.saturating_duration_since(*at) < TYPING_EVERY);
        }
        match recent.get(&(room, user)) {
            Some(at) if now.saturating_duration_since(*at) < TYPING_EVERY => false,
            _ => {
                recent.insert((room, user), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_typing_per_user_and_room_is_let_through_each_interval() {
        let typing = Typing::default();
        let (room, other_room) = (RoomId::parse(1).unwrap(), RoomId::parse(2).unwrap());
        let (user, other_user) = (UserId::parse(1).unwrap(), UserId::parse(2).unwrap());
        let start = Instant::now();
        assert!(typing.admit(room, user, start));
        assert!(!typing.admit(room, user, start + Duration::from_millis(1999)));
        assert!(typing.admit(other_room, user, start));
        assert!(typing.admit(room, other_user, start));
        assert!(typing.admit(room, user, start + TYPING_EVERY));
    }
}
