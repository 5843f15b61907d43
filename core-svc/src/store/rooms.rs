//! Direct rooms: one per unordered pair of users, who are its members
//! (the `room_members` view reads them from the pair). Who may use a room
//! is decided by [`crate::access`].

use super::{Store, rows, violates};
use crate::{
    access::{self, Refusal},
    domain::{Room, RoomId, UserId},
    error::Error,
};

impl Store {
    /// The direct room of `a` and `b`, created on first use. Concurrent
    /// calls for (a, b) and (b, a) meet on the pair's unique constraint and
    /// all get the same room. The caller checked [`access::open_direct`];
    /// a user that does not exist is [`Refusal::UnknownUser`].
    pub async fn get_or_create_direct_room(&self, a: UserId, b: UserId) -> Result<Room, Error> {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let client = self.client().await?;
        let insert = client
            .prepare_cached(&format!(
                "INSERT INTO rooms (user_lo, user_hi) VALUES ($1, $2)
                 ON CONFLICT ON CONSTRAINT rooms_direct_pair_key DO NOTHING
                 RETURNING {}",
                rows::ROOM_COLUMNS
            ))
            .await?;
        let inserted = client
            .query_opt(&insert, &[&lo.get(), &hi.get()])
            .await
            .map_err(|err| {
                if violates(&err, "rooms_user_lo_fkey") || violates(&err, "rooms_user_hi_fkey") {
                    Error::from(Refusal::UnknownUser)
                } else {
                    err.into()
                }
            })?;
        if let Some(row) = inserted {
            return rows::room(&row);
        }
        let select = client
            .prepare_cached(&format!(
                "SELECT {} FROM rooms WHERE user_lo = $1 AND user_hi = $2",
                rows::ROOM_COLUMNS
            ))
            .await?;
        rows::room(&client.query_one(&select, &[&lo.get(), &hi.get()]).await?)
    }

    /// The room `id` if `user` may enter it ([`access::enter`]).
    pub async fn member_room(&self, id: RoomId, user: UserId) -> Result<Room, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!(
                "SELECT {} FROM rooms WHERE id = $1",
                rows::ROOM_COLUMNS
            ))
            .await?;
        let row = client.query_opt(&select, &[&id.get()]).await?;
        Ok(access::enter(
            row.as_ref().map(rows::room).transpose()?,
            user,
        )?)
    }
}

/// Locks the room row for the rest of `tx`; every change of a room holds
/// this lock, which orders the room's events.
pub(super) async fn lock_room(
    tx: &deadpool_postgres::Transaction<'_>,
    id: RoomId,
) -> Result<Option<Room>, Error> {
    let select = tx
        .prepare_cached(&format!(
            "SELECT {} FROM rooms WHERE id = $1 FOR UPDATE",
            rows::ROOM_COLUMNS
        ))
        .await?;
    tx.query_opt(&select, &[&id.get()])
        .await?
        .as_ref()
        .map(rows::room)
        .transpose()
}
