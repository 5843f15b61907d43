//! Presence and typing: a user's presence as their profile says it, the
//! moment a user goes online (migrations/0010 announces it, and the end of
//! sessions announces going offline), and the throttled `typing`.

use std::time::Duration;

use super::{Store, rows};
use crate::{
    domain::{Presence, RoomId, UserId},
    error::Error,
};

/// The channel on which transactions announce presence changes.
pub const PRESENCE_CHANNEL: &str = "chat_presence";
/// The channel on which forwarded `typing`s are announced.
pub const TYPING_CHANNEL: &str = "chat_typing";

/// The columns [`presence`] reads from `users u`.
const PRESENCE_COLUMNS: &str = "u.id, u.last_seen, u.presence_version, \
     EXISTS (SELECT 1 FROM room_sessions s WHERE s.user_id = u.id) AS is_online";

impl Store {
    /// The presence of each of `users` that exists.
    pub async fn presence(&self, users: &[UserId]) -> Result<Vec<Presence>, Error> {
        let ids: Vec<i64> = users.iter().map(|user| user.get()).collect();
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "SELECT {PRESENCE_COLUMNS} FROM users u WHERE u.id = ANY($1)"
            ))
            .await?;
        client
            .query(&select, &[&ids])
            .await?
            .iter()
            .map(presence)
            .collect()
    }

    /// The two members of `room`, or `None` when there is no such room.
    pub async fn room_members(&self, room: RoomId) -> Result<Option<[UserId; 2]>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached("SELECT user_lo, user_hi FROM rooms WHERE id = $1")
            .await?;
        let Some(row) = client.query_opt(&select, &[&room.get()]).await? else {
            return Ok(None);
        };
        Ok(Some([
            rows::id(row.try_get("user_lo")?, UserId::parse)?,
            rows::id(row.try_get("user_hi")?, UserId::parse)?,
        ]))
    }

    /// Forwards a `typing` of `user` in `room` unless one was forwarded in
    /// the last `every`, on any instance; true when it was (every instance
    /// then hears of it on [`TYPING_CHANNEL`]). The caller checked that
    /// `user` is a member.
    pub async fn typing(&self, room: RoomId, user: UserId, every: Duration) -> Result<bool, Error> {
        let client = self.client().await?;
        let typing = client
            .prepare_cached("SELECT chat_typing($1, $2, make_interval(secs => $3)) AS forwarded")
            .await?;
        let row = client
            .query_one(&typing, &[&room.get(), &user.get(), &every.as_secs_f64()])
            .await?;
        Ok(row.try_get("forwarded")?)
    }
}

/// Announces `user` online if the session just inserted is their only one
/// (migrations/0010). The insert locked the user's row.
pub(super) async fn session_opened(
    tx: &deadpool_postgres::Transaction<'_>,
    user: UserId,
    session: i64,
) -> Result<(), Error> {
    let opened = tx
        .prepare_cached("SELECT chat_session_opened($1, $2)")
        .await?;
    tx.execute(&opened, &[&user.get(), &session]).await?;
    Ok(())
}

/// The presence of `user` as this transaction sees it.
pub(super) async fn read(
    tx: &deadpool_postgres::Transaction<'_>,
    user: UserId,
) -> Result<Presence, Error> {
    let select = tx
        .prepare_cached(&format!(
            "SELECT {PRESENCE_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .await?;
    presence(&tx.query_one(&select, &[&user.get()]).await?)
}

/// A presence: the row has [`PRESENCE_COLUMNS`].
fn presence(row: &tokio_postgres::Row) -> Result<Presence, Error> {
    Ok(Presence {
        user: rows::id(row.try_get("id")?, UserId::parse)?,
        is_online: row.try_get("is_online")?,
        last_seen: row.try_get("last_seen")?,
        version: row.try_get("presence_version")?,
    })
}
