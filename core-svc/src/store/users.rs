//! Users: created on first sight of a token's `sub`, email refreshed later.

use tokio_postgres::Row;

use super::{Store, rows};
use crate::{
    domain::{User, UserId},
    error::Error,
};

impl Store {
    /// The id of the user with `sub`, creating them with the next id on
    /// first sight; a non-empty `email` that differs replaces the stored one.
    pub async fn upsert_user(&self, sub: &str, email: &str) -> Result<UserId, Error> {
        let client = self.client().await?;
        let upsert = client
            .prepare_cached(
                "INSERT INTO users (sub, email) VALUES ($1, $2)
                 ON CONFLICT ON CONSTRAINT users_sub_key DO UPDATE SET email = EXCLUDED.email
                 WHERE EXCLUDED.email <> '' AND users.email <> EXCLUDED.email
                 RETURNING id",
            )
            .await?;
        let row = match client.query_opt(&upsert, &[&sub, &email]).await? {
            Some(row) => row,
            None => {
                let select = client
                    .prepare_cached("SELECT id FROM users WHERE sub = $1")
                    .await?;
                client.query_one(&select, &[&sub]).await?
            }
        };
        rows::id(row.try_get("id")?, UserId::parse)
    }

    /// A user with their presence.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
            ))
            .await?;
        client
            .query_opt(&select, &[&id.get()])
            .await?
            .as_ref()
            .map(user)
            .transpose()
    }

    /// The user `id` with their presence, if `viewer` may see them: `viewer`
    /// themself, or someone sharing a room with `viewer`. Anyone else is
    /// `None`, whether or not they exist.
    pub async fn visible_user(&self, id: UserId, viewer: UserId) -> Result<Option<User>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u
                 WHERE u.id = $1 AND ($1 = $2 OR EXISTS (
                     SELECT 1 FROM rooms r
                     WHERE r.user_lo = least($1, $2) AND r.user_hi = greatest($1, $2)
                 ))"
            ))
            .await?;
        client
            .query_opt(&select, &[&id.get(), &viewer.get()])
            .await?
            .as_ref()
            .map(user)
            .transpose()
    }
}

/// The columns [`user`] reads, from `users u`: the profile and presence (a
/// user is online while they have a session anywhere).
pub(super) const USER_COLUMNS: &str = "u.id, u.email, u.last_seen, \
     EXISTS (SELECT 1 FROM room_sessions s WHERE s.user_id = u.id) AS is_online";

/// A user: the row has [`USER_COLUMNS`].
pub(super) fn user(row: &Row) -> Result<User, Error> {
    Ok(User {
        id: rows::id(row.try_get("id")?, UserId::parse)?,
        email: row.try_get("email")?,
        last_seen: row.try_get("last_seen")?,
        is_online: row.try_get("is_online")?,
    })
}
